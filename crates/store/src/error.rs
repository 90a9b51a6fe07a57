use keel_values::DocumentId;

/// What can go wrong in the store. `InvalidArgument` and `NotFound` are the caller's fault and
/// their messages are safe to show; `Engine` is an internal failure whose detail is only logged.
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
    #[error("storage engine error: {0}")]
    Engine(String),
}

impl StoreError {
    pub fn engine(err: impl std::fmt::Display) -> Self {
        StoreError::Engine(err.to_string())
    }
}
