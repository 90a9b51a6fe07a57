//! Every figure Keel keeps, registered once under the `keel_` prefix.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::{CallOutcome, HttpRoute, ReconcileOutcome, WebhookOutcome};

/// Seconds, from 100 µs to 10 s: a cached query answers in well under a millisecond, a
/// mutation waits for an fsync, an action may call Clerk.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Mutations per group-commit batch (at most 128).
const BATCH_BUCKETS: [f64; 8] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionOutcome {
    path: String,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionOnly {
    path: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivery {
    event_type: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeOnly {
    outcome: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Gauges whose value lives elsewhere (a queue's byte count, a connection pool), set from
/// their sources just before each scrape (see [`crate::Metrics::sample_with`]).
#[derive(Default)]
pub struct Sampled {
    /// Bytes queued for WebSocket clients, all connections together.
    pub sync_queued_bytes: Gauge,
    /// Distinct live query executions (identical subscriptions share one).
    pub live_executions: Gauge,
    /// Database connections open in the pool (PostgreSQL).
    pub db_pool_connections: Gauge,
    /// Of those, idle ones.
    pub db_pool_idle: Gauge,
    /// The pool's limit (`KEEL_PG_POOL_SIZE`).
    pub db_pool_max: Gauge,
    pub resident_memory_bytes: Gauge,
}

pub(crate) struct Figures {
    http_requests: Family<RouteStatus, Counter>,
    http_duration: Histograms<RouteOnly>,
    function_calls: Family<FunctionOutcome, Counter>,
    function_duration: Histograms<FunctionOnly>,
    webhook_deliveries: Family<Delivery, Counter>,
    pub(crate) sync_connections: Gauge,
    pub(crate) sync_subscriptions: Gauge,
    pub(crate) sync_transitions: Counter,
    pub(crate) sync_transition_bytes: Counter,
    pub(crate) commit_batch_size: Histogram,
    pub(crate) commit_duration: Histogram,
    pub(crate) commit_conflicts: Counter,
    pub(crate) log_commits: Counter,
    pub(crate) log_lag: Histogram,
    reconcile_runs: Family<OutcomeOnly, Counter>,
    reconcile_drift: Counter,
    pub(crate) sampled: Sampled,
}

impl Figures {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let figures = Figures {
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency),
            function_calls: Family::default(),
            function_duration: Family::new_with_constructor(latency),
            webhook_deliveries: Family::default(),
            sync_connections: Gauge::default(),
            sync_subscriptions: Gauge::default(),
            sync_transitions: Counter::default(),
            sync_transition_bytes: Counter::default(),
            commit_batch_size: Histogram::new(BATCH_BUCKETS),
            commit_duration: latency(),
            commit_conflicts: Counter::default(),
            log_commits: Counter::default(),
            log_lag: latency(),
            reconcile_runs: Family::default(),
            reconcile_drift: Counter::default(),
            sampled: Sampled::default(),
        };
        let r = registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            figures.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time from a request's headers to its response, by route",
            Unit::Seconds,
            figures.http_duration.clone(),
        );
        r.register(
            "function_calls",
            "Function runs, by path, kind and outcome (queries answered from the live-query cache run once for all who share them)",
            figures.function_calls.clone(),
        );
        r.register_with_unit(
            "function_duration",
            "Function run time, by path and kind (a mutation's includes its batch's commit)",
            Unit::Seconds,
            figures.function_duration.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Clerk webhook deliveries, by event type and outcome (applied, duplicate, stale, rejected, failed)",
            figures.webhook_deliveries.clone(),
        );
        r.register(
            "sync_connections",
            "Open WebSocket sync connections",
            figures.sync_connections.clone(),
        );
        r.register(
            "sync_subscriptions",
            "Queries subscribed over WebSocket connections",
            figures.sync_subscriptions.clone(),
        );
        r.register(
            "sync_transitions",
            "Transitions (or transition chunks) queued for clients",
            figures.sync_transitions.clone(),
        );
        r.register_with_unit(
            "sync_transition",
            "Bytes of transitions queued for clients",
            Unit::Bytes,
            figures.sync_transition_bytes.clone(),
        );
        r.register_with_unit(
            "sync_queued",
            "Bytes queued for WebSocket clients and not yet written, all connections together",
            Unit::Bytes,
            figures.sampled.sync_queued_bytes.clone(),
        );
        r.register(
            "live_query_executions",
            "Distinct live query executions (identical subscriptions share one)",
            figures.sampled.live_executions.clone(),
        );
        r.register(
            "commit_batch_mutations",
            "Mutations per group-commit batch",
            figures.commit_batch_size.clone(),
        );
        r.register_with_unit(
            "commit_duration",
            "Time from a batch's first mutation starting to the batch being durable",
            Unit::Seconds,
            figures.commit_duration.clone(),
        );
        r.register(
            "commit_conflicts",
            "Batches lost to a concurrent writer (another instance) and run again",
            figures.commit_conflicts.clone(),
        );
        r.register(
            "commit_log_commits",
            "Commits read back from the database's commit log (other instances', on PostgreSQL)",
            figures.log_commits.clone(),
        );
        r.register_with_unit(
            "commit_log_lag",
            "Time from a logged commit's timestamp (the database's clock) to this instance publishing it to its live queries: the cross-instance notification lag",
            Unit::Seconds,
            figures.log_lag.clone(),
        );
        r.register(
            "reconcile_runs",
            "Reconcile passes with Clerk's Backend API, by outcome",
            figures.reconcile_runs.clone(),
        );
        r.register(
            "reconcile_drift_records",
            "Records a reconcile pass found out of step with Clerk and corrected",
            figures.reconcile_drift.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database connections open in the pool (PostgreSQL)",
            figures.sampled.db_pool_connections.clone(),
        );
        r.register(
            "db_pool_idle_connections",
            "Idle database connections in the pool (PostgreSQL)",
            figures.sampled.db_pool_idle.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "The database pool's limit (KEEL_PG_POOL_SIZE)",
            figures.sampled.db_pool_max.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the Keel process",
            Unit::Bytes,
            figures.sampled.resident_memory_bytes.clone(),
        );
        figures
    }

    pub(crate) fn http_request(&self, route: HttpRoute, status: u16, elapsed: Duration) {
        let route = route.as_str();
        self.http_requests
            .get_or_create(&RouteStatus { route, status })
            .inc();
        self.http_duration
            .get_or_create(&RouteOnly { route })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn function_call(
        &self,
        path: &str,
        kind: &'static str,
        outcome: CallOutcome,
        elapsed: Duration,
    ) {
        self.function_calls
            .get_or_create(&FunctionOutcome {
                path: path.to_owned(),
                kind,
                outcome: outcome.as_str(),
            })
            .inc();
        self.function_duration
            .get_or_create(&FunctionOnly {
                path: path.to_owned(),
                kind,
            })
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn webhook_delivery(&self, event_type: &str, outcome: WebhookOutcome) {
        self.webhook_deliveries
            .get_or_create(&Delivery {
                event_type: event_type.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub(crate) fn reconcile_run(&self, outcome: ReconcileOutcome, drift: u64) {
        self.reconcile_runs
            .get_or_create(&OutcomeOnly {
                outcome: outcome.as_str(),
            })
            .inc();
        self.reconcile_drift.inc_by(drift);
    }
}
