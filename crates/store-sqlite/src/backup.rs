//! Online backups: a consistent copy of the database while Keel serves. `VACUUM INTO` reads
//! one snapshot through its own connection (readers never block the writer in WAL mode, nor
//! it them) and writes a compact, self-contained database file: no WAL beside it, nothing
//! else needed to restore it.

use std::path::Path;

use keel_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::{blocking, connection, fault};

/// Copies the database at `location` (a `sqlite:` URL or a path) to `destination`, a file
/// that must not exist yet. Returns the copy's size in bytes.
pub async fn backup(location: &str, destination: &Path) -> Result<u64> {
    let source = connection::path_of(location);
    let destination = destination.to_path_buf();
    blocking(move || {
        if !source.exists() {
            return Err(StoreError::InvalidArgument(format!(
                "there is no database at {}",
                source.display()
            )));
        }
        if destination.exists() {
            return Err(StoreError::InvalidArgument(format!(
                "{} exists already: a backup never overwrites a file",
                destination.display()
            )));
        }
        let target = destination.to_str().ok_or_else(|| {
            StoreError::InvalidArgument(format!("{} is not a UTF-8 path", destination.display()))
        })?;
        let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(fault::sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(fault::sqlite)?;
        conn.execute("VACUUM INTO ?1", [target])
            .map_err(|err| fault::sqlite_during("VACUUM INTO", err))?;
        std::fs::metadata(&destination)
            .map(|m| m.len())
            .map_err(fault::io)
    })
    .await
}

/// `PRAGMA integrity_check` of the database file at `path`: `Ok` when SQLite finds nothing
/// wrong, else its first complaint (for checking a backup before relying on it).
pub fn integrity_check(path: &Path) -> Result<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(fault::sqlite)?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(fault::sqlite)?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(StoreError::Engine(format!("integrity check: {verdict}")))
    }
}
