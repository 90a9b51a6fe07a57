//! Convex's snapshot export format, for `keel export` and `keel import`.
//!
//! A snapshot is a ZIP (as get-convex/convex-backend `crates/exports` writes it and
//! `crates/application/src/snapshot_import` reads it):
//! - `README.md`;
//! - `_tables/documents.jsonl`: one `{"name": …, "id": <table number>}` line per table;
//! - per table, `<table>/documents.jsonl`: one document per line in the `export_json` form
//!   (`keel_values::Value::to_export_json`), with `_id` and `_creationTime`;
//! - per table, `<table>/generated_schema.jsonl`: the single line `"uniform"`, which tells an
//!   importer the lines are `export_json` (older Convex exports wrote an inferred type there).
//!
//! See `docs/DESIGN.md` ("Export and import") for how ids, table numbers and Keel's own
//! tables are mapped.

mod export;
mod import;

use std::fmt;

pub use export::{CONVEX_TABLE_OFFSET, ExportSummary, IdForm, export};
pub use import::{ImportMode, ImportSummary, import};

/// Where a snapshot's table list is.
pub(crate) const TABLES: &str = "_tables";
pub(crate) const DOCUMENTS: &str = "documents.jsonl";
pub(crate) const GENERATED_SCHEMA: &str = "generated_schema.jsonl";
/// The `generated_schema.jsonl` line of the current format.
pub(crate) const UNIFORM: &str = "uniform";

/// `value` with every string in it (at any depth, object keys aside) replaced by `map`'s
/// answer: how ids inside documents follow their documents, on export and on import.
pub(crate) fn map_strings(
    value: keel_values::Value,
    map: &mut impl FnMut(String) -> String,
) -> keel_values::Value {
    use keel_values::Value;
    match value {
        Value::String(s) => Value::String(map(s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| map_strings(v, map)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, map_strings(v, map)))
                .collect(),
        ),
        other => other,
    }
}

/// Told how an export or import advances (the CLI draws a progress bar from it).
pub trait Progress: Send + Sync {
    /// The total amount of work: documents for an export, bytes of `documents.jsonl` for an
    /// import.
    fn begin(&self, _total: u64) {}
    /// The table now being read or written.
    fn table(&self, _name: &str) {}
    /// `n` more units done.
    fn advance(&self, _n: u64) {}
}

/// No progress reports.
pub struct Quiet;

impl Progress for Quiet {}

/// Why an export or import failed. An import that fails has changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Something in the file: `location` names the file, and the entry and line when known.
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] keel_store::StoreError),
}

/// Where in a snapshot a problem is: the ZIP, an entry of it, a line of an entry.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: String,
    pub entry: Option<String>,
    pub line: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(entry) = &self.entry {
            write!(f, ", {entry}")?;
        }
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        Ok(())
    }
}
