//! The Clerk webhook endpoint. The signature is checked on the raw bytes before anything else;
//! the event is applied by the internal mutation `clerk:applyWebhook`, and 2xx is answered only
//! after that commit. Any storage failure is a 5xx, so Svix retries.
//!
//! Answers (JSON `{error}` for failures): 200 applied/duplicate/stale/ignored; 400 missing
//! headers, bad signature, stale or future timestamp, malformed JSON, an event whose object
//! ids are empty or missing (nothing is stored); 413 over the size limit;
//! 503 when no `CLERK_WEBHOOK_SECRET` is configured, or storage refuses writes (full, read-only);
//! 500 when storing fails otherwise.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use keel_functions::{Call, Caller, FnError, FunctionKind};
use keel_webhooks::{ClerkEvent, HeaderLookup, WebhookSecrets};
use serde_json::json;

use crate::AppState;
use crate::body::read_limited;

/// The paths Clerk's and Convex's guides use, also under `/http` as Convex HTTP actions are.
pub const WEBHOOK_PATHS: &[&str] = &[
    "/clerk-webhook",
    "/api/webhooks/clerk",
    "/clerk-users-webhook",
    "/http/clerk-webhook",
    "/http/api/webhooks/clerk",
    "/http/clerk-users-webhook",
];

/// How the webhook endpoint is configured.
#[derive(Clone, Default)]
pub struct WebhookConfig {
    /// `None`: every delivery is answered 503 naming `CLERK_WEBHOOK_SECRET`.
    pub secrets: Option<WebhookSecrets>,
    /// `mark` (default) or `purge`: what `user.deleted` does (`KEEL_ON_USER_DELETED`).
    pub on_user_deleted: String,
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    WEBHOOK_PATHS.iter().fold(Router::new(), |router, path| {
        router.route(path, post(receive))
    })
}

struct Headers<'a>(&'a HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn receive(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(secrets) = &state.webhooks.secrets else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Clerk webhooks are not configured: set CLERK_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…)",
        );
    };
    let body = match read_limited(&headers, body, &state.bodies).await {
        Ok(body) => body,
        Err(err) => return error(err.status, err.message),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let delivery = match secrets.verify(&Headers(&headers), &body, now) {
        Ok(delivery) => delivery,
        Err(err) => {
            tracing::info!(reason = err.code(), "rejected a webhook delivery");
            return error(StatusCode::BAD_REQUEST, err.to_string());
        }
    };
    // Parsed here to answer malformed bodies with 400; applied from the same bytes.
    let event = match ClerkEvent::from_slice(&body) {
        Ok(event) => event,
        Err(err) => {
            // Signed, so it came from Clerk or from someone holding the secret: worth a look.
            tracing::warn!(svix_id = %delivery.id, reason = err.message(), "refused a signed webhook that is not a valid Clerk event");
            return error(StatusCode::BAD_REQUEST, err.message());
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let call = Call {
        path: "clerk:applyWebhook".into(),
        kind: Some(FunctionKind::Mutation),
        args: json!({
            "svixId": delivery.id,
            "body": text,
            "onUserDeleted": state.webhooks.on_user_deleted,
        }),
        identity: None,
        caller: Caller::Server,
    };
    match state.executor.call(call).await {
        Ok(outcome) => {
            let status = outcome.value["status"].clone();
            tracing::info!(svix_id = %delivery.id, event = event.event_type(), %status, "webhook processed");
            (StatusCode::OK, axum::Json(json!({ "status": status }))).into_response()
        }
        Err(FnError::Coded { message, .. }) => error(StatusCode::BAD_REQUEST, message),
        // Storage refused (full, read-only): 503 names it, and Svix retries later.
        Err(err @ FnError::Storage { .. }) => {
            tracing::error!(svix_id = %delivery.id, error = ?err, "webhook could not be stored");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{err}; the event will be retried"),
            )
        }
        Err(err) => {
            tracing::error!(svix_id = %delivery.id, error = %err, "webhook could not be stored");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the event could not be stored; it will be retried",
            )
        }
    }
}
