//! One error vocabulary for functions. The HTTP API and the sync protocol both turn an
//! [`FnError`] into Convex's `errorMessage` + `errorData`; internal failures are logged with
//! their detail and shown to clients only as "Server Error". A storage condition the engine
//! recognised (full, read-only, unavailable) is named to clients as `STORAGE_UNAVAILABLE`:
//! it is not their fault, but they (and their operators) can act on it.

use keel_store::{StorageFault, StoreError};
use serde_json::{Value as Json, json};

pub type FnResult<T> = Result<T, FnError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    InvalidArgument,
    Conflict,
    /// What the call would create exists already (an email address another user has).
    AlreadyExists,
    /// An upstream service (Clerk) asks to slow down; retry later.
    RateLimited,
    /// An upstream service (Clerk) could not be reached or failed; retry later.
    UpstreamUnavailable,
    /// The server is not set up for this call (no `CLERK_SECRET_KEY`, or a refused one).
    NotConfigured,
    StorageUnavailable,
}

impl ErrorCode {
    /// Every code, in the README's order.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::InvalidArgument,
        ErrorCode::Conflict,
        ErrorCode::AlreadyExists,
        ErrorCode::RateLimited,
        ErrorCode::UpstreamUnavailable,
        ErrorCode::NotConfigured,
        ErrorCode::StorageUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::UpstreamUnavailable => "UPSTREAM_UNAVAILABLE",
            ErrorCode::NotConfigured => "NOT_CONFIGURED",
            ErrorCode::StorageUnavailable => "STORAGE_UNAVAILABLE",
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
    #[error("Could not find public function for '{0}'. {hint}", hint = unknown_function_hint(.0))]
    UnknownFunction(String),
    /// The function exists but is another kind than the endpoint runs.
    #[error("Trying to execute {path} as {requested}, but it is defined as {actual}.")]
    WrongKind {
        path: String,
        requested: &'static str,
        actual: &'static str,
    },
    /// Storage refused (the disk is full, the file is read-only, the device failed). Clients
    /// see the condition's words; the detail is for logs only.
    #[error("{}", fault.message())]
    Storage { fault: StorageFault, detail: String },
    /// The mutation's transaction lost to a concurrent one. The group committer runs it again
    /// (a bounded number of times); callers see [`ErrorCode::Conflict`] only when every attempt
    /// lost. The detail is for logs only.
    #[error("Server Error")]
    WriteConflict(String),
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
            FnError::Storage { .. } => Some(ErrorCode::StorageUnavailable),
            _ => None,
        }
    }

    /// What to log beside the function's path, for failures that are not the caller's.
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            FnError::Internal(detail)
            | FnError::WriteConflict(detail)
            | FnError::Storage { detail, .. } => Some(detail),
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
            FnError::Storage { fault, .. } => Some(json!({
                "code": ErrorCode::StorageUnavailable.as_str(),
                "message": fault.message(),
            })),
            _ => None,
        }
    }
}

/// Functions the product brief's Next.js webhook route calls; Keel's `/clerk-webhook` does
/// their work itself.
const BRIEF_WEBHOOK_FUNCTIONS: &[&str] = &[
    "users:createUser",
    "users:updateUser",
    "users:markUserDeleted",
];

fn unknown_function_hint(path: &str) -> &'static str {
    if BRIEF_WEBHOOK_FUNCTIONS.contains(&path) {
        "Keel keeps the users table in step with Clerk itself: point Clerk's webhook at Keel's /clerk-webhook, which replaces the Next.js route that called this function"
    } else {
        "Did you forget to register it?"
    }
}

/// The one place store errors become function errors.
impl From<StoreError> for FnError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidArgument(message) => FnError::invalid_argument(message),
            StoreError::NotFound(id) => FnError::not_found(format!("Document {id} not found")),
            StoreError::Storage { fault, detail } => FnError::Storage { fault, detail },
            StoreError::Conflict(detail) => FnError::WriteConflict(detail),
            other => FnError::Internal(other.to_string()),
        }
    }
}

impl From<&StoreError> for FnError {
    /// For one store error answering many callers (a group commit that failed).
    fn from(err: &StoreError) -> Self {
        match err {
            StoreError::Storage { fault, detail } => FnError::Storage {
                fault: *fault,
                detail: detail.clone(),
            },
            StoreError::Conflict(detail) => FnError::WriteConflict(detail.clone()),
            other => FnError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's `errorData.code` table names exactly these codes, in this order.
    #[test]
    fn the_readme_table_matches_the_codes() {
        let readme = include_str!("../../../README.md");
        let table = readme
            .split("| `errorData.code` | When |")
            .nth(1)
            .expect("the README has the errorData table");
        let documented: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| line.split('`').nth(1).unwrap())
            .collect();
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(documented, codes);
    }

    #[test]
    fn the_briefs_webhook_route_functions_point_to_clerk_webhook() {
        let message = FnError::UnknownFunction("users:createUser".into()).client_message();
        assert!(message.contains("/clerk-webhook"), "{message}");
        let other = FnError::UnknownFunction("users:nope".into()).client_message();
        assert_eq!(
            other,
            "Could not find public function for 'users:nope'. Did you forget to register it?"
        );
    }

    #[test]
    fn storage_faults_are_named_to_clients_with_their_own_code() {
        for (fault, message) in [
            (StorageFault::Full, "Storage is full"),
            (StorageFault::ReadOnly, "Storage is read-only"),
            (StorageFault::Unavailable, "Storage is unavailable"),
        ] {
            let err = FnError::from(StoreError::storage(fault, "SQLITE_FULL at /data/keel.db"));
            assert_eq!(err.client_message(), message);
            assert_eq!(
                err.error_data(),
                Some(json!({"code": "STORAGE_UNAVAILABLE", "message": message}))
            );
            assert_eq!(err.code(), Some(ErrorCode::StorageUnavailable));
            assert_eq!(err.log_detail(), Some("SQLITE_FULL at /data/keel.db"));
            let shared = FnError::from(&StoreError::storage(fault, "x"));
            assert_eq!(shared.client_message(), message);
        }
        let other = FnError::from(StoreError::engine("disk I/O"));
        assert_eq!(other.client_message(), "Server Error");
        assert_eq!(other.error_data(), None);
    }
}
