//! The Clerk webhook endpoint. The signature is checked on the raw bytes before anything else;
//! the event is applied by the internal mutation `clerk:applyWebhook`, and 2xx is answered only
//! after that commit. Any storage failure is a 5xx, so Svix retries.
//!
//! Answers (JSON `{error, code}` for failures, codes from [`RefusalCode`]): 200 applied/duplicate/stale/ignored; 400 missing
//! headers, bad signature, stale or future timestamp, malformed JSON, an event whose object
//! ids are empty or missing (nothing is stored); 413 over the size limit;
//! 503 when no `CLERK_WEBHOOK_SECRET` is configured, or storage refuses writes (full, read-only);
//! 500 when storing fails otherwise.
//!
//! A delivery answered 4xx is recorded for admins (`webhooks:recent`) through the internal
//! mutation `clerk:recordRejected`: its `svix-id`, its type when the signature checked out,
//! the status and Keel's reason, never the body or the signature; at most a few per second
//! ([`RejectionLog`]), and the app keeps only the newest ones.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use keel_functions::{Call, Caller, FnError, FunctionKind};
use keel_metrics::WebhookOutcome;
use keel_webhooks::{
    ClerkEvent, EventPayload, HeaderLookup, SignatureError, WebhookHeader, WebhookSecrets,
};
use serde_json::json;

use crate::body::read_limited;
use crate::{ApiError, AppState, RefusalCode};

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
    /// Paces the records of refused deliveries.
    pub rejections: Arc<RejectionLog>,
}

/// Refused deliveries come from anyone, so recording each would let any sender turn garbage
/// into a stream of writes: at most [`Self::PER_SECOND`] are recorded (bursts of
/// [`Self::BURST`]), and the next record counts those skipped (`unrecordedBefore`).
pub struct RejectionLog {
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    unrecorded: u64,
}

impl RejectionLog {
    pub const PER_SECOND: f64 = 5.0;
    pub const BURST: f64 = 20.0;

    /// `Some(skipped before)` when this refusal may be recorded now.
    fn admit(&self) -> Option<u64> {
        let mut bucket = self
            .bucket
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(bucket.at).as_secs_f64() * Self::PER_SECOND;
        bucket.tokens = (bucket.tokens + refill).min(Self::BURST);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            bucket.unrecorded += 1;
            return None;
        }
        bucket.tokens -= 1.0;
        Some(std::mem::take(&mut bucket.unrecorded))
    }
}

impl Default for RejectionLog {
    fn default() -> Self {
        RejectionLog {
            bucket: Mutex::new(Bucket {
                tokens: Self::BURST,
                at: Instant::now(),
                unrecorded: 0,
            }),
        }
    }
}

/// Answers a refused delivery, recording it (in the background, so the answer never waits)
/// when the pace allows. `reason` is Keel's own text; `event_type` only from a verified body.
fn refuse(
    state: &AppState,
    headers: &HeaderMap,
    refusal: ApiError,
    reason: &str,
    event_type: Option<&str>,
) -> Response {
    if let Some(unrecorded) = state.webhooks.rejections.admit() {
        let lookup = Headers(headers);
        let svix_id = lookup
            .get(WebhookHeader::Id.svix_name())
            .or_else(|| lookup.get(WebhookHeader::Id.standard_name()))
            .map(|id| id.chars().take(128).collect::<String>());
        let call = Call {
            path: "clerk:recordRejected".into(),
            kind: Some(FunctionKind::Mutation),
            args: json!({
                "svixId": svix_id,
                "type": event_type.map(|t| t.chars().take(128).collect::<String>()),
                "reason": reason,
                "status": refusal.status().as_u16(),
                "unrecorded": unrecorded,
            }),
            identity: None,
            caller: Caller::Server,
        };
        let executor = state.executor.clone();
        tokio::spawn(async move {
            match executor.call(call).await {
                // An embedding app without the built-in sync functions records nothing.
                Ok(_) | Err(FnError::UnknownFunction(_)) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "could not record a refused webhook delivery")
                }
            }
        });
    }
    refusal.webhook_response()
}

/// The `type` of a signed body that is not a valid event, when it has one.
fn declared_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        event_type: String,
    }
    serde_json::from_slice::<Typed>(body)
        .ok()
        .map(|t| t.event_type)
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

/// What a delivery is counted as in `/metrics`, filled in as it is handled.
#[derive(Default)]
struct Tally {
    /// The event's type, once its signature checked out (types Keel does not act on are
    /// `other`, so a sender cannot add label values).
    event_type: Option<&'static str>,
    /// The ledger's `status` of an applied delivery (`applied`, `duplicate`, `stale`…).
    status: Option<String>,
}

impl Tally {
    fn outcome(&self, status: StatusCode) -> WebhookOutcome {
        if status.is_client_error() {
            return WebhookOutcome::Rejected;
        }
        if !status.is_success() {
            return WebhookOutcome::Failed;
        }
        match self.status.as_deref() {
            Some("duplicate") => WebhookOutcome::Duplicate,
            Some("stale") => WebhookOutcome::Stale,
            _ => WebhookOutcome::Applied,
        }
    }
}

fn type_label(event: &ClerkEvent) -> &'static str {
    match &event.payload {
        EventPayload::Other { .. } => "other",
        EventPayload::UserCreated(_) => "user.created",
        EventPayload::UserUpdated(_) => "user.updated",
        EventPayload::UserDeleted(_) => "user.deleted",
        EventPayload::SessionCreated(_) => "session.created",
        EventPayload::SessionEnded(_) => "session.ended",
        EventPayload::SessionRemoved(_) => "session.removed",
        EventPayload::SessionRevoked(_) => "session.revoked",
        EventPayload::SessionPending(_) => "session.pending",
        EventPayload::OrganizationCreated(_) => "organization.created",
        EventPayload::OrganizationUpdated(_) => "organization.updated",
        EventPayload::OrganizationDeleted(_) => "organization.deleted",
        EventPayload::OrganizationMembershipCreated(_) => "organizationMembership.created",
        EventPayload::OrganizationMembershipUpdated(_) => "organizationMembership.updated",
        EventPayload::OrganizationMembershipDeleted(_) => "organizationMembership.deleted",
    }
}

async fn receive(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let mut tally = Tally::default();
    let response = deliver(&state, &headers, body, &mut tally).await;
    let metrics = state.executor.metrics();
    if metrics.is_enabled() {
        let outcome = tally.outcome(response.status());
        metrics.webhook_delivery(tally.event_type.unwrap_or("unknown"), outcome);
    }
    response
}

async fn deliver(state: &AppState, headers: &HeaderMap, body: Body, tally: &mut Tally) -> Response {
    let Some(secrets) = &state.webhooks.secrets else {
        return ApiError::new(
            RefusalCode::WebhooksNotConfigured,
            "Clerk webhooks are not configured: set CLERK_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…)",
        )
        .webhook_response();
    };
    let body = match read_limited(headers, body, &state.bodies).await {
        Ok(body) => body,
        // A 503 is the server's load, not the delivery's fault: not recorded.
        Err(err) if err.status().is_client_error() => {
            let reason = format!("the body could not be read ({})", err.code.as_str());
            return refuse(state, headers, err, &reason, None);
        }
        Err(err) => return err.webhook_response(),
    };
    let now = state.executor.database().runtime().now_unix_secs();
    let delivery = match secrets.verify(&Headers(headers), &body, now) {
        Ok(delivery) => delivery,
        Err(err) => {
            tracing::info!(reason = err.code(), "rejected a webhook delivery");
            // The message is a fixed text: never a secret, a signature or the body. A bare
            // request (the usual first try with curl) learns how to send a real one.
            let message = match err {
                SignatureError::MissingHeader(_) => format!(
                    "{err}: deliveries must be signed by Svix with the endpoint's secret; to try the endpoint, send a signed test event with `keel webhooks test`"
                ),
                _ => err.to_string(),
            };
            let refusal = ApiError::new(RefusalCode::WebhookRejected, message.clone());
            return refuse(state, headers, refusal, &message, None);
        }
    };
    // Parsed here to answer malformed bodies with 400; applied from the same bytes.
    let event = match ClerkEvent::from_slice(&body) {
        Ok(event) => event,
        Err(err) => {
            // Signed, so it came from Clerk or from someone holding the secret: worth a look.
            tracing::warn!(svix_id = %delivery.id, reason = err.message(), "refused a signed webhook that is not a valid Clerk event");
            // Its reason may quote the body, so the record says only what kind of refusal.
            let declared = declared_type(&body);
            return refuse(
                state,
                headers,
                ApiError::new(RefusalCode::WebhookRejected, err.message()),
                "signed, but not a valid Clerk event (the server log has the details)",
                declared.as_deref(),
            );
        }
    };
    tally.event_type = Some(type_label(&event));
    let Ok(text) = std::str::from_utf8(&body) else {
        let message = "the body is not UTF-8".to_string();
        let refusal = ApiError::new(RefusalCode::WebhookRejected, message.clone());
        return refuse(state, headers, refusal, &message, Some(event.event_type()));
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
            tally.status = status.as_str().map(str::to_owned);
            tracing::info!(svix_id = %delivery.id, event = event.event_type(), %status, "webhook processed");
            (StatusCode::OK, axum::Json(json!({ "status": status }))).into_response()
        }
        Err(FnError::Coded { message, .. }) => refuse(
            state,
            headers,
            ApiError::new(RefusalCode::WebhookRejected, message),
            "signed, but could not be applied (the server log has the details)",
            Some(event.event_type()),
        ),
        // Storage refused (full, read-only): 503 names it, and Svix retries later.
        Err(err @ FnError::Storage { .. }) => {
            tracing::error!(svix_id = %delivery.id, error = ?err, "webhook could not be stored");
            ApiError::new(
                RefusalCode::StorageUnavailable,
                format!("{err}; the event will be retried"),
            )
            .webhook_response()
        }
        Err(err) => {
            tracing::error!(svix_id = %delivery.id, error = %err, "webhook could not be stored");
            ApiError::new(
                RefusalCode::StorageFailed,
                "the event could not be stored; it will be retried",
            )
            .webhook_response()
        }
    }
}
