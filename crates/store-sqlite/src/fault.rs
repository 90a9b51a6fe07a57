//! SQLite's errors, classified by their result codes (never by message text): the ones that
//! describe the disk or the file become [`StorageFault`]s, everything else stays an internal
//! engine error.

use keel_store::{StorageFault, StoreError};
use rusqlite::ErrorCode;

/// A `rusqlite` error as a `StoreError`.
pub(crate) fn sqlite(err: rusqlite::Error) -> StoreError {
    match classify(&err) {
        Some(fault) => StoreError::storage(fault, err),
        None => StoreError::engine(err),
    }
}

/// Like [`sqlite`], saying what was being done.
pub(crate) fn sqlite_during(what: &str, err: rusqlite::Error) -> StoreError {
    match classify(&err) {
        Some(fault) => StoreError::storage(fault, format!("{what}: {err}")),
        None => StoreError::Engine(format!("{what}: {err}")),
    }
}

/// A file-system error (the WAL file, its folder) as a `StoreError`.
pub(crate) fn io(err: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    let fault = match err.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            Some(StorageFault::Full)
        }
        ErrorKind::ReadOnlyFilesystem => Some(StorageFault::ReadOnly),
        ErrorKind::PermissionDenied | ErrorKind::NotFound => Some(StorageFault::Unavailable),
        _ => None,
    };
    match fault {
        Some(fault) => StoreError::storage(fault, err),
        None => StoreError::engine(err),
    }
}

fn classify(err: &rusqlite::Error) -> Option<StorageFault> {
    Some(match err.sqlite_error_code()? {
        // SQLITE_FULL: the disk (ENOSPC while writing) or `max_page_count`.
        ErrorCode::DiskFull => StorageFault::Full,
        // SQLITE_READONLY and its extended codes (a file opened read-only because the OS
        // refused write access, a database moved or deleted while open, a WAL index that
        // cannot be written), and SQLITE_PERM.
        ErrorCode::ReadOnly | ErrorCode::PermissionDenied => StorageFault::ReadOnly,
        // SQLITE_IOERR_* (a failed read, write or sync; SQLite reports EROFS and EIO alike
        // here), SQLITE_CANTOPEN, SQLITE_CORRUPT, SQLITE_NOTADB.
        ErrorCode::SystemIoFailure
        | ErrorCode::CannotOpen
        | ErrorCode::DatabaseCorrupt
        | ErrorCode::NotADatabase => StorageFault::Unavailable,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::ffi;

    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn result_codes_map_to_faults() {
        for (code, fault) in [
            (ffi::SQLITE_FULL, Some(StorageFault::Full)),
            (ffi::SQLITE_READONLY, Some(StorageFault::ReadOnly)),
            (ffi::SQLITE_READONLY_DBMOVED, Some(StorageFault::ReadOnly)),
            (ffi::SQLITE_READONLY_CANTINIT, Some(StorageFault::ReadOnly)),
            (ffi::SQLITE_IOERR_WRITE, Some(StorageFault::Unavailable)),
            (ffi::SQLITE_IOERR_FSYNC, Some(StorageFault::Unavailable)),
            (ffi::SQLITE_CANTOPEN, Some(StorageFault::Unavailable)),
            (ffi::SQLITE_CORRUPT, Some(StorageFault::Unavailable)),
            (ffi::SQLITE_BUSY, None),
            (ffi::SQLITE_CONSTRAINT_PRIMARYKEY, None),
            (ffi::SQLITE_MISUSE, None),
        ] {
            let err = sqlite(failure(code));
            assert_eq!(err.storage_fault(), fault, "code {code}: {err}");
        }
        let full = sqlite(failure(ffi::SQLITE_FULL));
        assert!(full.to_string().starts_with("Storage is full: "), "{full}");
        assert_eq!(sqlite(rusqlite::Error::InvalidQuery).storage_fault(), None);
    }

    #[test]
    fn file_system_errors_map_to_faults() {
        use std::io::{Error, ErrorKind};
        assert_eq!(
            io(Error::from(ErrorKind::StorageFull)).storage_fault(),
            Some(StorageFault::Full)
        );
        assert_eq!(
            io(Error::from(ErrorKind::ReadOnlyFilesystem)).storage_fault(),
            Some(StorageFault::ReadOnly)
        );
        assert_eq!(
            io(Error::from(ErrorKind::Interrupted)).storage_fault(),
            None
        );
    }

    /// A real SQLITE_FULL: the file is capped at its current size (`max_page_count`), so a
    /// write that needs a new page fails exactly as it does when the disk is full.
    #[tokio::test]
    async fn a_full_database_is_a_full_storage_fault() {
        use keel_store::engine::{Engine, StoredDoc};
        use keel_values::{DocumentId, TableNumber};

        let dir = tempfile::tempdir().unwrap();
        let engine = crate::SqliteEngine::open(dir.path().join("keel.db").to_str().unwrap())
            .await
            .unwrap();
        {
            let writer = engine.writer.lock().await;
            let pages: i64 = writer
                .query_row("PRAGMA page_count", [], |row| row.get(0))
                .unwrap();
            writer
                .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
                .unwrap();
        }
        let mut tx = engine.begin_write().await.unwrap();
        let body: serde_json::Map<String, serde_json::Value> =
            [("pad".to_string(), "x".repeat(64 * 1024).into())]
                .into_iter()
                .collect();
        let mut refused = None;
        for _ in 0..64 {
            let doc = StoredDoc {
                id: DocumentId::new_random(TableNumber(1)),
                creation_time: 0.0,
                body: body.clone(),
            };
            if let Err(err) = tx.put(&doc).await {
                refused = Some(err);
                break;
            }
        }
        let err = refused.expect("a capped file refuses new pages");
        assert_eq!(err.storage_fault(), Some(StorageFault::Full), "{err}");
    }

    /// The readiness probe commits a real change (another connection sees a new version)
    /// and leaves the data as it was.
    #[tokio::test]
    async fn the_write_probe_commits_and_changes_nothing() {
        use keel_store::engine::Engine;

        let dir = tempfile::tempdir().unwrap();
        let engine = crate::SqliteEngine::open(dir.path().join("keel.db").to_str().unwrap())
            .await
            .unwrap();
        let reader = engine.readers.get().unwrap();
        let version = |conn: &rusqlite::Connection| -> i64 {
            conn.query_row("PRAGMA data_version", [], |row| row.get(0))
                .unwrap()
        };
        let clock = |conn: &rusqlite::Connection| -> i64 {
            conn.query_row("SELECT last_ts FROM keel_clock", [], |row| row.get(0))
                .unwrap()
        };
        let (before, ts) = (version(&reader), clock(&reader));
        engine.probe_write().await.unwrap();
        assert_ne!(version(&reader), before, "the probe wrote and committed");
        assert_eq!(clock(&reader), ts, "and changed nothing");
    }
}
