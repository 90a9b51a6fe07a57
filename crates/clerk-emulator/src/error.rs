//! The crate's one error type.
//!
//! `Clerk` errors are what a Backend API client may see, rendered in Clerk's
//! shape `{"errors":[{"message","long_message","code"}]}`. Every other variant
//! is an emulator fault: logged, and answered with a bare 500 in the same shape.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A client-visible error, as Clerk's Backend API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClerkError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub long_message: String,
    /// Clerk names the offending request parameter in `meta.param_name`.
    pub param_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("{} ({}): {}", .0.code, .0.status, .0.long_message)]
    Clerk(ClerkError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {source}")]
    CorruptState {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid emulator configuration: {0}")]
    Config(String),
    #[error("signing key: {0}")]
    SigningKey(String),
    #[error("signing a token: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl EmulatorError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    fn clerk(status: StatusCode, code: &'static str, message: &str, long_message: String) -> Self {
        Self::Clerk(ClerkError {
            status,
            code,
            message: message.to_owned(),
            long_message,
            param_name: None,
        })
    }

    /// Clerk's 404 for any unknown object.
    pub(crate) fn not_found(long_message: impl Into<String>) -> Self {
        Self::clerk(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "not found",
            long_message.into(),
        )
    }

    pub(crate) fn unauthorized() -> Self {
        Self::clerk(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "Invalid authentication",
            "The request is missing a valid secret key in `Authorization: Bearer sk_…`.".into(),
        )
    }

    /// A browser without a live session (Clerk's Frontend API says `signed_out`).
    pub(crate) fn signed_out() -> Self {
        Self::clerk(
            StatusCode::UNAUTHORIZED,
            "signed_out",
            "Signed out",
            "This browser is not signed in, or its session has ended.".into(),
        )
    }

    /// A browser call from another site's page.
    pub(crate) fn cross_origin() -> Self {
        Self::clerk(
            StatusCode::FORBIDDEN,
            "origin_invalid",
            "Invalid origin",
            "This request must come from a page of the same origin.".into(),
        )
    }

    /// A request body that is not JSON at all.
    pub(crate) fn malformed(long_message: impl Into<String>) -> Self {
        Self::clerk(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "malformed request",
            long_message.into(),
        )
    }

    /// A parameter with a wrong value or type (Clerk's 422 form errors).
    pub(crate) fn invalid_param(param: &str, long_message: impl Into<String>) -> Self {
        Self::form(
            "form_param_value_invalid",
            "is invalid",
            param,
            long_message,
        )
    }

    pub(crate) fn missing_param(param: &str) -> Self {
        Self::form(
            "form_param_missing",
            "missing required parameter",
            param,
            format!("{param} must be included."),
        )
    }

    /// A unique identifier (email, username, external id) already in use.
    pub(crate) fn taken(param: &str, long_message: impl Into<String>) -> Self {
        Self::form("form_identifier_exists", "is taken", param, long_message)
    }

    pub(crate) fn form(
        code: &'static str,
        message: &str,
        param: &str,
        long_message: impl Into<String>,
    ) -> Self {
        Self::Clerk(ClerkError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: message.to_owned(),
            long_message: long_message.into(),
            param_name: Some(param.to_owned()),
        })
    }

    /// The Clerk error, if this is one a client may see.
    pub fn as_clerk(&self) -> Option<&ClerkError> {
        match self {
            Self::Clerk(e) => Some(e),
            Self::Io { .. }
            | Self::CorruptState { .. }
            | Self::Config(_)
            | Self::SigningKey(_)
            | Self::Jwt(_)
            | Self::Join(_) => None,
        }
    }
}

impl ClerkError {
    fn body(&self) -> serde_json::Value {
        let mut error = json!({
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
        });
        if let Some(param) = &self.param_name {
            error["meta"] = json!({ "param_name": param });
        }
        json!({ "errors": [error] })
    }
}

impl IntoResponse for EmulatorError {
    fn into_response(self) -> Response {
        if let Self::Clerk(e) = &self {
            return (e.status, Json(e.body())).into_response();
        }
        tracing::error!(error = %self, "clerk emulator internal error");
        let internal = ClerkError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_clerk_error",
            message: "Oops, an unexpected error occurred".into(),
            long_message: "The Clerk emulator failed; see its log.".into(),
            param_name: None,
        };
        (internal.status, Json(internal.body())).into_response()
    }
}
