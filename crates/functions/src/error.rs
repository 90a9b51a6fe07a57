//! One error vocabulary for functions. The HTTP API and the sync protocol both turn an
//! [`FnError`] into Convex's `errorMessage` + `errorData`; internal failures are logged with
//! their detail and shown to clients only as "Server Error".

use keel_store::StoreError;
use serde_json::{Value as Json, json};

pub type FnResult<T> = Result<T, FnError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    InvalidArgument,
    Conflict,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Conflict => "CONFLICT",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FnError {
    /// An error the function raised on purpose; clients get it as `ConvexError` data
    /// `{code, message}`.
    #[error("{message}")]
    Coded { code: ErrorCode, message: String },
    /// No public function at that path (also for internal functions called by a client, so
    /// their existence does not leak).
    #[error("Could not find public function for '{0}'. Did you forget to register it?")]
    UnknownFunction(String),
    /// The function exists but is another kind than the endpoint runs.
    #[error("Trying to execute {path} as {requested}, but it is defined as {actual}.")]
    WrongKind {
        path: String,
        requested: &'static str,
        actual: &'static str,
    },
    /// Anything else. The detail is for logs only.
    #[error("Server Error")]
    Internal(String),
}

impl FnError {
    pub fn coded(code: ErrorCode, message: impl Into<String>) -> Self {
        FnError::Coded {
            code,
            message: message.into(),
        }
    }

    pub fn unauthenticated() -> Self {
        FnError::coded(ErrorCode::Unauthenticated, "Not authenticated")
    }

    pub fn forbidden() -> Self {
        FnError::coded(ErrorCode::Forbidden, "Access denied")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        FnError::coded(ErrorCode::NotFound, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        FnError::coded(ErrorCode::InvalidArgument, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        FnError::coded(ErrorCode::Conflict, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        FnError::Internal(detail.to_string())
    }

    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            FnError::Coded { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// `errorMessage` as clients see it.
    pub fn client_message(&self) -> String {
        self.to_string()
    }

    /// `errorData` (makes the official client throw a `ConvexError` with `.data`), present
    /// only for errors a function raised on purpose.
    pub fn error_data(&self) -> Option<Json> {
        match self {
            FnError::Coded { code, message } => {
                Some(json!({ "code": code.as_str(), "message": message }))
            }
            _ => None,
        }
    }
}

impl From<StoreError> for FnError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidArgument(message) => FnError::invalid_argument(message),
            StoreError::NotFound(id) => FnError::not_found(format!("Document {id} not found")),
            other => FnError::Internal(other.to_string()),
        }
    }
}
