use keel_values::DocumentId;

/// What can go wrong in the store. `InvalidArgument` and `NotFound` are the caller's fault and
/// their messages are safe to show; `Storage` names a condition of the storage itself (its
/// detail is only logged); `Conflict` is another transaction in the way, which a retry may
/// get past; `Engine` is any other internal failure, also only logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("Document {0} not found")]
    NotFound(DocumentId),
    #[error("this transaction has already finished")]
    Finished,
    #[error("a read-only transaction cannot write")]
    ReadOnly,
    /// The engine recognised why storage refused (its own error codes, not message text).
    #[error("{}: {detail}", fault.message())]
    Storage { fault: StorageFault, detail: String },
    /// Another transaction got in the way: a serialization failure, a deadlock, a lock that
    /// could not be had. Nothing was written, and the same work may succeed if run again.
    /// The SQLite engine never reports it (its writers queue on one lock, and a lock still
    /// busy after the timeout stays `Engine`); the PostgreSQL engine does, from SQLSTATE
    /// codes. The detail is only logged.
    /// The group committer runs the batch again (`functions/src/committer.rs`).
    #[error("storage conflict: {0}")]
    Conflict(String),
    #[error("storage engine error: {0}")]
    Engine(String),
}

/// Why storage refused an operation, as the engine classified it. Each is a state of the
/// disk or the file that an operator can fix and after which writes succeed again; clients
/// are told which (`STORAGE_UNAVAILABLE`) instead of "Server Error".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFault {
    /// No space: the disk, a quota or a size limit is full.
    Full,
    /// The file, its folder or the filesystem does not accept writes.
    ReadOnly,
    /// The device failed, or the file cannot be opened or is not a usable database.
    Unavailable,
}

impl StorageFault {
    /// The words clients and `/readyz` get.
    pub fn message(self) -> &'static str {
        match self {
            StorageFault::Full => "Storage is full",
            StorageFault::ReadOnly => "Storage is read-only",
            StorageFault::Unavailable => "Storage is unavailable",
        }
    }
}

impl StoreError {
    pub fn engine(err: impl std::fmt::Display) -> Self {
        StoreError::Engine(err.to_string())
    }

    pub fn storage(fault: StorageFault, detail: impl std::fmt::Display) -> Self {
        StoreError::Storage {
            fault,
            detail: detail.to_string(),
        }
    }

    pub fn conflict(detail: impl std::fmt::Display) -> Self {
        StoreError::Conflict(detail.to_string())
    }

    /// Whether running the same transaction again may succeed ([`StoreError::Conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    /// The storage condition behind this error, if it is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Storage { fault, .. } => Some(*fault),
            _ => None,
        }
    }
}
