//! The fixed words Keel's figures are labelled with.

/// Which of Keel's routes a request took. One word per route template, so a path's own
/// parts (function names after `/api/run/`, asset names) never become label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpRoute {
    Query,
    Mutation,
    Action,
    Run,
    /// The WebSocket upgrade (its status is 101 when it succeeded).
    Sync,
    Webhook,
    Healthz,
    Readyz,
    Metrics,
    /// The Clerk emulator (`keel dev` only).
    ClerkEmulator,
    /// The web app and its assets.
    WebApp,
    /// Anything else (preflights of unknown paths, 404s).
    Other,
}

impl HttpRoute {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpRoute::Query => "/api/query",
            HttpRoute::Mutation => "/api/mutation",
            HttpRoute::Action => "/api/action",
            HttpRoute::Run => "/api/run/{path}",
            HttpRoute::Sync => "/api/sync",
            HttpRoute::Webhook => "/clerk-webhook",
            HttpRoute::Healthz => "/healthz",
            HttpRoute::Readyz => "/readyz",
            HttpRoute::Metrics => "/metrics",
            HttpRoute::ClerkEmulator => "/_clerk",
            HttpRoute::WebApp => "web app",
            HttpRoute::Other => "other",
        }
    }
}

/// How a function call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    Success,
    /// The function refused on purpose (a `ConvexError`, `FORBIDDEN`, bad arguments…).
    Error,
    /// A fault: storage, a panic, an internal error.
    SystemError,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Success => "success",
            CallOutcome::Error => "error",
            CallOutcome::SystemError => "system_error",
        }
    }
}

/// What became of a webhook delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WebhookOutcome {
    /// Its effect is committed (also: deferred until its subject exists, ignored as a type
    /// Keel does not act on, or unchanged: each is `applied` with its own `result`).
    Applied,
    /// This `svix-id` was processed before.
    Duplicate,
    /// Older than the stored record.
    Stale,
    /// Refused with a 4xx: a bad signature, a stale timestamp, a malformed body.
    Rejected,
    /// Could not be stored (a 5xx): Svix retries it.
    Failed,
}

impl WebhookOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Applied => "applied",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::Stale => "stale",
            WebhookOutcome::Rejected => "rejected",
            WebhookOutcome::Failed => "failed",
        }
    }
}

/// How a reconcile pass with Clerk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReconcileOutcome {
    Completed,
    Failed,
}

impl ReconcileOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileOutcome::Completed => "completed",
            ReconcileOutcome::Failed => "failed",
        }
    }
}
