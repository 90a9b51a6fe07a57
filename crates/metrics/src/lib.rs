//! Keel's operational figures, served by `GET /metrics` in Prometheus' text format (0.0.4).
//!
//! A [`Metrics`] handle is cheap to clone and is handed to each layer that records (the HTTP
//! connection, the executor and its group committer, live queries, the commit-log follower,
//! webhooks, the reconcile). A disabled handle ([`Metrics::default`]) records nothing: every
//! call is one branch on `None`, so a server without `/metrics` pays nothing for it.
//!
//! Label values are fixed words (routes, kinds, outcomes) or names Keel itself knows (a
//! registered function's path, a verified webhook's event type), never raw client input, so
//! the number of series stays bounded whatever clients send.

mod figures;
mod outcomes;
mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::registry::Registry;

pub use figures::Sampled;
pub use outcomes::{CallOutcome, HttpRoute, ReconcileOutcome, WebhookOutcome};

use figures::Figures;

/// `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Where Keel's figures go: recorded and rendered when enabled, dropped when not.
#[derive(Clone, Default)]
pub struct Metrics(Option<Arc<Inner>>);

struct Inner {
    registry: Registry,
    figures: Figures,
    /// Read the sampled gauges from their sources just before each scrape.
    samplers: Mutex<Vec<Sampler>>,
}

type Sampler = Box<dyn Fn(&Sampled) + Send + Sync>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metrics").field(&self.is_enabled()).finish()
    }
}

impl Metrics {
    /// A handle that records.
    pub fn enabled() -> Self {
        let mut registry = Registry::with_prefix("keel");
        let figures = Figures::register(&mut registry);
        Metrics(Some(Arc::new(Inner {
            registry,
            figures,
            samplers: Mutex::new(Vec::new()),
        })))
    }

    /// A handle that records nothing (the same as `Metrics::default()`).
    pub fn disabled() -> Self {
        Metrics(None)
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    fn figures(&self) -> Option<&Figures> {
        self.0.as_deref().map(|inner| &inner.figures)
    }

    /// Every figure in Prometheus' text format, after reading the sampled gauges. `None`
    /// when disabled.
    pub fn render(&self) -> Option<String> {
        let inner = self.0.as_deref()?;
        process::sample(&inner.figures.sampled);
        for sampler in inner.samplers.lock().expect("samplers poisoned").iter() {
            sampler(&inner.figures.sampled);
        }
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &inner.registry)
            .expect("writing to a String cannot fail");
        Some(text)
    }

    /// Adds a source for sampled gauges (queued bytes, pool connections…), read at each
    /// scrape. Nothing happens when disabled.
    pub fn sample_with(&self, sampler: impl Fn(&Sampled) + Send + Sync + 'static) {
        if let Some(inner) = self.0.as_deref() {
            inner
                .samplers
                .lock()
                .expect("samplers poisoned")
                .push(Box::new(sampler));
        }
    }

    /// An HTTP request answered: its route, status and time from headers to response.
    pub fn http_request(&self, route: HttpRoute, status: u16, elapsed: Duration) {
        if let Some(figures) = self.figures() {
            figures.http_request(route, status, elapsed);
        }
    }

    /// A function ran: `path` is a registered function's canonical path, `kind` its kind
    /// ("query", "mutation", "action").
    pub fn function_call(
        &self,
        path: &str,
        kind: &'static str,
        outcome: CallOutcome,
        elapsed: Duration,
    ) {
        if let Some(figures) = self.figures() {
            figures.function_call(path, kind, outcome, elapsed);
        }
    }

    /// A webhook delivery's outcome; `event_type` only once its signature verified (else
    /// "unknown").
    pub fn webhook_delivery(&self, event_type: &str, outcome: WebhookOutcome) {
        if let Some(figures) = self.figures() {
            figures.webhook_delivery(event_type, outcome);
        }
    }

    /// A WebSocket sync connection opened; the gauge goes down when the guard drops.
    pub fn sync_connection(&self) -> GaugeGuard {
        GaugeGuard::new(self.figures().map(|f| f.sync_connections.clone()))
    }

    /// One subscribed query on a connection; the gauge goes down when the guard drops.
    pub fn sync_subscription(&self) -> GaugeGuard {
        GaugeGuard::new(self.figures().map(|f| f.sync_subscriptions.clone()))
    }

    /// A transition (or one chunk of one) queued for a client.
    pub fn sync_transition(&self, bytes: usize) {
        if let Some(figures) = self.figures() {
            figures.sync_transitions.inc();
            figures.sync_transition_bytes.inc_by(bytes as u64);
        }
    }

    /// A group-commit batch made durable: how many mutations it carried and how long from
    /// its first mutation's start to durable.
    pub fn commit_batch(&self, mutations: usize, elapsed: Duration) {
        if let Some(figures) = self.figures() {
            figures.commit_batch_size.observe(mutations as f64);
            figures.commit_duration.observe(elapsed.as_secs_f64());
        }
    }

    /// A batch lost to a concurrent writer (another instance) and queued again.
    pub fn commit_conflict(&self) {
        if let Some(figures) = self.figures() {
            figures.commit_conflicts.inc();
        }
    }

    /// A commit read from the database's commit log (another instance's, on PostgreSQL):
    /// `lag` from its timestamp (the database's clock) to this instance publishing it.
    pub fn commit_from_log(&self, lag: Duration) {
        if let Some(figures) = self.figures() {
            figures.log_commits.inc();
            figures.log_lag.observe(lag.as_secs_f64());
        }
    }

    /// A reconcile pass with Clerk ended; `drift` is the records it had to correct.
    pub fn reconcile_run(&self, outcome: ReconcileOutcome, drift: u64) {
        if let Some(figures) = self.figures() {
            figures.reconcile_run(outcome, drift);
        }
    }
}

/// Holds a gauge up by one while it lives.
#[must_use = "the gauge goes down when this is dropped"]
pub struct GaugeGuard(Option<prometheus_client::metrics::gauge::Gauge>);

impl std::fmt::Debug for GaugeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GaugeGuard")
            .field(&self.0.is_some())
            .finish()
    }
}

impl GaugeGuard {
    fn new(gauge: Option<prometheus_client::metrics::gauge::Gauge>) -> Self {
        if let Some(gauge) = &gauge {
            gauge.inc();
        }
        GaugeGuard(gauge)
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}

#[cfg(test)]
mod tests;
