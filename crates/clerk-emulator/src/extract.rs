//! Request extractors that fail in Clerk's error shape instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::EmulatorError;

/// A JSON body; an empty body reads as `{}` (the token endpoints' body is
/// optional, and Clerk's SDKs often send none). No content type is required.
pub(crate) struct ClerkJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ClerkJson<T> {
    type Rejection = EmulatorError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| EmulatorError::malformed(e.body_text()))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map(ClerkJson).map_err(|e| {
            if e.is_data() {
                EmulatorError::invalid_param("body", e.to_string())
            } else {
                EmulatorError::malformed(format!("The request body is not valid JSON: {e}"))
            }
        })
    }
}

/// A query string, deserialized like axum's `Query`.
pub(crate) struct ClerkQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ClerkQuery<T> {
    type Rejection = EmulatorError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ClerkQuery(q.0))
            .map_err(|e| EmulatorError::invalid_param("query", e.body_text()))
    }
}
