//! Access to the reference files kept beside the repository in `shared/`.

use std::path::PathBuf;

/// `shared/reference/<relative>`.
pub fn reference(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference")
        .join(relative)
}

pub fn read_reference(relative: &str) -> String {
    let path = reference(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}
