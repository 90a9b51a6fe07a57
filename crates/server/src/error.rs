//! Refusals: requests Keel answers before any function runs, each with a [`RefusalCode`] that
//! fixes its code string and HTTP status. The HTTP API answers them as Convex does,
//! `{"code","message"}`; the webhook endpoint as `{"error","code"}` (`error` is what Svix's
//! dashboard and earlier Keel versions show). Function outcomes are not refusals: they are
//! HTTP 200 with `status: "error"` (see `keel_functions::ClientOutcome`). The README's tables
//! are checked against [`RefusalCode::ALL`] by a test.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keel_auth::{AuthError, AuthErrorCode};
use serde_json::json;

/// Why a request was refused before any function ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalCode {
    /// 401: the `Authorization` header is not `Bearer <jwt>`, or the JWT is malformed.
    InvalidAuthHeader,
    /// 401: the token's `iss`/`aud` match no configured provider.
    NoAuthProvider,
    /// 401: `exp` is past, beyond the clock skew.
    TokenExpired,
    /// 401: any other verification failure.
    Unauthenticated,
    /// 400: the body is not JSON.
    BadJsonBody,
    /// 400: the body is JSON past a bound on what one request may cost.
    BodyTooComplex,
    /// 400: `format` is neither `convex_encoded_json` nor `json`.
    BadFormat,
    /// 400: the request is malformed in another way; the message names the field.
    BadRequest,
    /// 408: the body did not arrive within `KEEL_HTTP_BODY_TIMEOUT`.
    RequestTimeout,
    /// 413: the body is over `KEEL_MAX_BODY_BYTES`.
    PayloadTooLarge,
    /// 503: bodies still arriving fill `KEEL_MAX_BUFFERED_BODY_BYTES`.
    ServerBusy,
    /// 503: `KEEL_MAX_CONNECTIONS` connections are open (written by the accept loop).
    TooManyConnections,
    /// 503, webhooks: no `CLERK_WEBHOOK_SECRET` is configured.
    WebhooksNotConfigured,
    /// 400, webhooks: missing headers, a bad signature or timestamp, or a signed body that is
    /// not an event Keel can apply.
    WebhookRejected,
    /// 503, webhooks: storage refuses writes (full, read-only, unavailable); Svix retries.
    StorageUnavailable,
    /// 500, webhooks: storing failed otherwise; Svix retries.
    StorageFailed,
    /// 404, `GET /metrics`: this server keeps no figures here (`keel serve` without
    /// `KEEL_METRICS_TOKEN`, or with them on `KEEL_METRICS_LISTEN`'s address instead).
    MetricsOff,
}

impl RefusalCode {
    /// Every code, in the README's order.
    pub const ALL: [RefusalCode; 17] = [
        RefusalCode::InvalidAuthHeader,
        RefusalCode::NoAuthProvider,
        RefusalCode::TokenExpired,
        RefusalCode::Unauthenticated,
        RefusalCode::BadJsonBody,
        RefusalCode::BodyTooComplex,
        RefusalCode::BadFormat,
        RefusalCode::BadRequest,
        RefusalCode::RequestTimeout,
        RefusalCode::PayloadTooLarge,
        RefusalCode::ServerBusy,
        RefusalCode::TooManyConnections,
        RefusalCode::WebhooksNotConfigured,
        RefusalCode::WebhookRejected,
        RefusalCode::StorageUnavailable,
        RefusalCode::StorageFailed,
        RefusalCode::MetricsOff,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::InvalidAuthHeader => "InvalidAuthHeader",
            RefusalCode::NoAuthProvider => "NoAuthProvider",
            RefusalCode::TokenExpired => "TokenExpired",
            RefusalCode::Unauthenticated => "Unauthenticated",
            RefusalCode::BadJsonBody => "BadJsonBody",
            RefusalCode::BodyTooComplex => "BodyTooComplex",
            RefusalCode::BadFormat => "BadFormat",
            RefusalCode::BadRequest => "BadRequest",
            RefusalCode::RequestTimeout => "RequestTimeout",
            RefusalCode::PayloadTooLarge => "PayloadTooLarge",
            RefusalCode::ServerBusy => "ServerBusy",
            RefusalCode::TooManyConnections => "TooManyConnections",
            RefusalCode::WebhooksNotConfigured => "WebhooksNotConfigured",
            RefusalCode::WebhookRejected => "WebhookRejected",
            RefusalCode::StorageUnavailable => "StorageUnavailable",
            RefusalCode::StorageFailed => "StorageFailed",
            RefusalCode::MetricsOff => "MetricsOff",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            RefusalCode::InvalidAuthHeader
            | RefusalCode::NoAuthProvider
            | RefusalCode::TokenExpired
            | RefusalCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            RefusalCode::BadJsonBody
            | RefusalCode::BodyTooComplex
            | RefusalCode::BadFormat
            | RefusalCode::BadRequest
            | RefusalCode::WebhookRejected => StatusCode::BAD_REQUEST,
            RefusalCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            RefusalCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RefusalCode::ServerBusy
            | RefusalCode::TooManyConnections
            | RefusalCode::WebhooksNotConfigured
            | RefusalCode::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RefusalCode::StorageFailed => StatusCode::INTERNAL_SERVER_ERROR,
            RefusalCode::MetricsOff => StatusCode::NOT_FOUND,
        }
    }
}

impl From<AuthErrorCode> for RefusalCode {
    fn from(code: AuthErrorCode) -> Self {
        match code {
            AuthErrorCode::InvalidAuthHeader => RefusalCode::InvalidAuthHeader,
            AuthErrorCode::NoAuthProvider => RefusalCode::NoAuthProvider,
            AuthErrorCode::TokenExpired => RefusalCode::TokenExpired,
            AuthErrorCode::Unauthenticated => RefusalCode::Unauthenticated,
        }
    }
}

/// A refused request: its code (which fixes the status) and a message for the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: RefusalCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The HTTP API's body, `{"code","message"}` (Convex's shape).
    pub fn api_body(&self) -> serde_json::Value {
        json!({ "code": self.code.as_str(), "message": self.message })
    }

    /// The webhook endpoint's answer, `{"error","code"}`.
    pub fn webhook_response(self) -> Response {
        let body = json!({ "error": self.message, "code": self.code.as_str() });
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::new(err.code.into(), err.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.api_body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's tables of refusals (the API's `Status | code` rows and the webhook
    /// table's `code` column) name exactly the codes of [`RefusalCode::ALL`], with their
    /// statuses.
    #[test]
    fn the_readme_tables_match_the_codes() {
        let readme = include_str!("../../../README.md");
        let mut documented = Vec::new();
        for line in readme.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // `| 401 | `InvalidAuthHeader` | … |` (API) or `| 400 | `WebhookRejected` | {"error"} … |`.
            if cells.len() < 4 || !cells[0].is_empty() {
                continue;
            }
            let (Ok(status), Some(code)) = (
                cells[1].parse::<u16>(),
                cells[2].strip_prefix('`').and_then(|c| c.strip_suffix('`')),
            ) else {
                continue;
            };
            if code.chars().all(|c| c.is_ascii_alphanumeric()) {
                documented.push((status, code.to_string()));
            }
        }
        let mut expected: Vec<(u16, String)> = RefusalCode::ALL
            .iter()
            .map(|code| (code.status().as_u16(), code.as_str().to_string()))
            .collect();
        documented.sort();
        documented.dedup();
        expected.sort();
        assert_eq!(
            documented, expected,
            "README refusal tables against the enum"
        );
    }

    #[test]
    fn auth_codes_keep_their_wire_names() {
        for code in [
            AuthErrorCode::InvalidAuthHeader,
            AuthErrorCode::NoAuthProvider,
            AuthErrorCode::TokenExpired,
            AuthErrorCode::Unauthenticated,
        ] {
            let refusal = RefusalCode::from(code);
            assert_eq!(refusal.as_str(), code.as_str());
            assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        }
    }
}
