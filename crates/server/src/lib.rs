//! The HTTP face of Keel: the Convex HTTP API, health probes, and whatever extra routes the
//! binary mounts (the Clerk emulator in `keel dev`). Business rules live in functions; this
//! crate only translates between HTTP and [`keel_functions::Executor`].

mod accept;
mod api;
mod body;
mod conn;
mod cors;
mod error;
mod health;
mod json_body;
mod metrics;
mod serve;
mod sync;
mod webhooks;

pub use keel_values::bounded_json::{MAX_ARRAY_LEN, MAX_OBJECT_FIELDS, MAX_VALUES};
pub use metrics::{MetricsAccess, metrics_only_router};
pub use serve::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, HttpLimits, serve,
};
pub use webhooks::{WEBHOOK_PATHS, WebhookConfig};

use std::sync::Arc;

use axum::Router;
use keel_auth::Verifier;
use keel_functions::Executor;
use keel_sync::SyncService;

pub use error::{ApiError, RefusalCode};

/// The default request body limit (8 MiB), overridden by `KEEL_MAX_BODY_BYTES`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// What all request bodies still arriving may buffer together (128 MiB, sixteen bodies at the
/// default limit), overridden by `KEEL_MAX_BUFFERED_BODY_BYTES`.
pub const DEFAULT_MAX_BUFFERED_BODY_BYTES: usize = 128 * 1024 * 1024;

pub struct ServerConfig {
    pub max_body_bytes: usize,
    pub max_buffered_body_bytes: usize,
    pub webhooks: WebhookConfig,
    /// Who may read `GET /metrics` here (the figures are the executor's
    /// [`Executor::metrics`]).
    pub metrics_access: MetricsAccess,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_buffered_body_bytes: DEFAULT_MAX_BUFFERED_BODY_BYTES,
            webhooks: WebhookConfig::default(),
            metrics_access: MetricsAccess::Off,
        }
    }
}

pub(crate) struct AppState {
    pub executor: Executor,
    pub verifier: Verifier,
    pub sync: Arc<SyncService>,
    pub webhooks: WebhookConfig,
    pub bodies: body::BodyLimits,
    pub metrics_access: MetricsAccess,
}

/// Every route Keel serves, with `extra` (for example the emulator under `/_clerk`) merged in.
pub fn router(
    executor: Executor,
    verifier: Verifier,
    sync: Arc<SyncService>,
    config: ServerConfig,
    extra: Router,
) -> Router {
    let state = Arc::new(AppState {
        executor,
        verifier,
        sync,
        webhooks: config.webhooks,
        bodies: body::BodyLimits::new(config.max_body_bytes, config.max_buffered_body_bytes),
        metrics_access: config.metrics_access,
    });
    api::routes()
        .merge(health::routes())
        .merge(sync::routes())
        .merge(webhooks::routes())
        .merge(metrics::routes())
        .with_state(state)
        // A browser app on any origin may call the API with its bearer token.
        // Bodies are limited by our own extractor (`body::read_limited`), which answers 413 in
        // JSON; no route here uses axum's limited extractors, so no `DefaultBodyLimit` layer:
        // each router layer costs boxed services and futures on every request.
        .layer(cors::MirrorCors)
        .merge(extra)
}
