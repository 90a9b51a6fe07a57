//! The driver's errors, classified by kind and SQLSTATE code (never by message text): a lost
//! or refused connection and the server's storage conditions become [`StorageFault`]s, a
//! serialization failure or deadlock a [`StoreError::Conflict`], everything else stays an
//! internal engine error. Details name the server by host, never by its full URL.

use keel_store::{StorageFault, StoreError};

/// What an error means to the store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Storage(StorageFault),
    Conflict,
    Other,
}

/// A driver error as a `StoreError`.
pub(crate) fn sqlx(err: sqlx::Error) -> StoreError {
    let detail = describe(&err);
    match classify(&err) {
        Class::Storage(fault) => StoreError::storage(fault, detail),
        Class::Conflict => StoreError::Conflict(detail),
        Class::Other => StoreError::Engine(detail),
    }
}

/// Like [`sqlx`], saying what was being done.
pub(crate) fn sqlx_during(what: &str, err: sqlx::Error) -> StoreError {
    match sqlx(err) {
        StoreError::Storage { fault, detail } => {
            StoreError::storage(fault, format!("{what}: {detail}"))
        }
        StoreError::Conflict(detail) => StoreError::Conflict(format!("{what}: {detail}")),
        other => StoreError::Engine(format!("{what}: {other}")),
    }
}

/// The error with its SQLSTATE, when the server sent one.
fn describe(err: &sqlx::Error) -> String {
    match err.as_database_error().and_then(|db| db.code()) {
        Some(code) => format!("{err} (SQLSTATE {code})"),
        None => err.to_string(),
    }
}

pub(crate) fn classify(err: &sqlx::Error) -> Class {
    match err {
        // The connection broke or could not be made (refused, reset, TLS, timed out).
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Storage(StorageFault::Unavailable),
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => classify_sqlstate(&code),
            None => Class::Other,
        },
        _ => Class::Other,
    }
}

/// Whether `err` says the connection itself is gone (the server closed it, or the socket
/// broke), so that the same work on another connection may succeed. Pooled connections are not
/// pinged before use: a transaction whose first statement finds its connection gone is begun
/// again on another one (`crate::begin_on_live_connection`).
pub(crate) fn lost_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        // admin_shutdown, crash_shutdown (the server ended the backend); class 08.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code == "57P01" || code == "57P02" || code.starts_with("08")),
        _ => false,
    }
}

/// PostgreSQL's error codes (Appendix A of its manual).
pub(crate) fn classify_sqlstate(code: &str) -> Class {
    match code {
        // serialization_failure, deadlock_detected, lock_not_available
        "40001" | "40P01" | "55P03" => Class::Conflict,
        // disk_full
        "53100" => Class::Storage(StorageFault::Full),
        // read_only_sql_transaction (a standby, or default_transaction_read_only),
        // insufficient_privilege
        "25006" | "42501" => Class::Storage(StorageFault::ReadOnly),
        // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or recovering),
        // database_dropped, invalid_catalog_name (no such database), io_error,
        // data_corrupted, index_corrupted
        "57P01" | "57P02" | "57P03" | "57P04" | "3D000" | "58030" | "XX001" | "XX002" => {
            Class::Storage(StorageFault::Unavailable)
        }
        // Class 08: connection exceptions; 28: invalid authorization (a wrong password);
        // 53: insufficient resources (too many connections, out of memory).
        _ if code.starts_with("08") || code.starts_with("28") || code.starts_with("53") => {
            Class::Storage(StorageFault::Unavailable)
        }
        _ => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_classes() {
        for (code, class) in [
            ("40001", Class::Conflict),
            ("40P01", Class::Conflict),
            ("55P03", Class::Conflict),
            ("53100", Class::Storage(StorageFault::Full)),
            ("25006", Class::Storage(StorageFault::ReadOnly)),
            ("42501", Class::Storage(StorageFault::ReadOnly)),
            ("57P01", Class::Storage(StorageFault::Unavailable)),
            ("08006", Class::Storage(StorageFault::Unavailable)),
            ("28P01", Class::Storage(StorageFault::Unavailable)),
            ("53300", Class::Storage(StorageFault::Unavailable)),
            ("3D000", Class::Storage(StorageFault::Unavailable)),
            ("23505", Class::Other),
            ("42P01", Class::Other),
            ("57014", Class::Other),
        ] {
            assert_eq!(classify_sqlstate(code), class, "{code}");
        }
    }

    #[test]
    fn a_lost_connection_is_unavailable_storage() {
        let lost = sqlx(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(
            lost.storage_fault(),
            Some(StorageFault::Unavailable),
            "{lost}"
        );
        assert!(
            lost.to_string().starts_with("Storage is unavailable: "),
            "{lost}"
        );
        let timed_out = sqlx(sqlx::Error::PoolTimedOut);
        assert_eq!(timed_out.storage_fault(), Some(StorageFault::Unavailable));
        let other = sqlx(sqlx::Error::RowNotFound);
        assert!(matches!(other, StoreError::Engine(_)), "{other}");
        assert!(!other.is_conflict());
    }
}
