//! Writing the generated files, and checking that written ones are current.

use std::io;
use std::path::{Path, PathBuf};

/// One file of `convex/_generated/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub name: &'static str,
    pub contents: String,
}

impl GeneratedFile {
    pub(crate) fn new(name: &'static str, contents: String) -> Self {
        GeneratedFile { name, contents }
    }
}

/// Writes the files into `dir` (created if missing), leaving unchanged files untouched so
/// watchers and build caches see no change.
pub fn write(dir: &Path, files: &[GeneratedFile]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in files {
        let path = dir.join(file.name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(file.contents.as_str()) {
            std::fs::write(&path, &file.contents)?;
        }
    }
    Ok(())
}

/// The files in `dir` that are missing or differ from `files`.
pub fn check(dir: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|file| (dir.join(file.name), file))
        .filter(|(path, file)| {
            std::fs::read_to_string(path).ok().as_deref() != Some(file.contents.as_str())
        })
        .map(|(path, _)| path)
        .collect()
}
