//! Convex values for Keel: the value model, its JSON forms (the lossless
//! `convex_encoded_json` of the wire, the lossy `json` export and the snapshot exports'
//! `export_json`), the order-preserving index
//! key encoding, commit timestamps and document ids.
//!
//! Everything here is pure: no I/O, and randomness only where an id is minted.

mod base64;
pub mod bounded_json;
mod clean_json;
mod encoded_json;
mod error;
mod export_json;
pub mod field_name;
pub mod format;
mod id;
pub mod js_number;
pub mod key;
mod ordering;
mod ts;
mod value;

pub use error::ValueError;
pub use field_name::validate_field_name;
pub use format::ValueFormat;
pub use id::{DocumentId, IdError, TableNumber};
pub use key::{encode_key_part, index_key, prefix_successor};
pub use ts::Ts;
pub use value::Value;

#[cfg(test)]
mod test_vectors {
    /// The official client's value vectors, kept beside the repository in `shared/`.
    pub(crate) fn read() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/convex/values.json"
        );
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {path}: {err}"))
    }
}
