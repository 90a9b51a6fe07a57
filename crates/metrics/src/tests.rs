use std::time::Duration;

use super::*;

/// The value of the series `name{labels}` (labels as rendered), if present.
fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map(|value| value.parse().expect("a number"))
}

#[test]
fn a_disabled_handle_records_and_renders_nothing() {
    let metrics = Metrics::default();
    metrics.http_request(HttpRoute::Query, 200, Duration::from_millis(1));
    let _connection = metrics.sync_connection();
    assert!(!metrics.is_enabled());
    assert_eq!(metrics.render(), None);
}

#[test]
fn requests_are_counted_by_route_and_status_with_their_latency() {
    let metrics = Metrics::enabled();
    metrics.http_request(HttpRoute::Query, 200, Duration::from_micros(300));
    metrics.http_request(HttpRoute::Query, 200, Duration::from_millis(30));
    metrics.http_request(HttpRoute::Mutation, 400, Duration::from_millis(2));
    let text = metrics.render().unwrap();
    assert_eq!(
        series(
            &text,
            r#"keel_http_requests_total{route="/api/query",status="200"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        series(
            &text,
            r#"keel_http_requests_total{route="/api/mutation",status="400"}"#
        ),
        Some(1.0)
    );
    // Cumulative buckets: one request under 0.5 ms, both under 50 ms.
    assert_eq!(
        series(
            &text,
            r#"keel_http_request_duration_seconds_bucket{route="/api/query",le="0.0005"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        series(
            &text,
            r#"keel_http_request_duration_seconds_bucket{route="/api/query",le="0.05"}"#
        ),
        Some(2.0)
    );
    assert!(text.contains("# TYPE keel_http_request_duration_seconds histogram"));
}

#[test]
fn gauges_follow_their_guards() {
    let metrics = Metrics::enabled();
    let first = metrics.sync_connection();
    let second = metrics.sync_connection();
    let subscription = metrics.sync_subscription();
    drop(first);
    let text = metrics.render().unwrap();
    assert_eq!(series(&text, "keel_sync_connections"), Some(1.0));
    assert_eq!(series(&text, "keel_sync_subscriptions"), Some(1.0));
    drop((second, subscription));
    let text = metrics.render().unwrap();
    assert_eq!(series(&text, "keel_sync_connections"), Some(0.0));
}

#[test]
fn sampled_gauges_are_read_at_each_scrape() {
    let metrics = Metrics::enabled();
    let queued = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(10));
    let source = std::sync::Arc::clone(&queued);
    metrics.sample_with(move |sampled| {
        sampled
            .sync_queued_bytes
            .set(source.load(std::sync::atomic::Ordering::Relaxed));
    });
    assert_eq!(
        series(&metrics.render().unwrap(), "keel_sync_queued_bytes"),
        Some(10.0)
    );
    queued.store(25, std::sync::atomic::Ordering::Relaxed);
    let text = metrics.render().unwrap();
    assert_eq!(series(&text, "keel_sync_queued_bytes"), Some(25.0));
    let memory = series(&text, "keel_process_resident_memory_bytes").unwrap();
    if cfg!(target_os = "linux") {
        assert!(memory > 1_000_000.0, "resident memory {memory}");
    }
}

#[test]
fn functions_webhooks_commits_and_reconciles_are_labelled() {
    let metrics = Metrics::enabled();
    metrics.function_call(
        "chats:update",
        "mutation",
        CallOutcome::Error,
        Duration::from_millis(1),
    );
    metrics.webhook_delivery("user.created", WebhookOutcome::Duplicate);
    metrics.commit_batch(3, Duration::from_millis(2));
    metrics.commit_from_log(Duration::from_millis(4));
    metrics.reconcile_run(ReconcileOutcome::Completed, 2);
    let text = metrics.render().unwrap();
    assert_eq!(
        series(
            &text,
            r#"keel_function_calls_total{path="chats:update",kind="mutation",outcome="error"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        series(
            &text,
            r#"keel_webhook_deliveries_total{event_type="user.created",outcome="duplicate"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        series(&text, r#"keel_commit_batch_mutations_bucket{le="4"}"#),
        Some(1.0)
    );
    assert_eq!(series(&text, "keel_commit_log_commits_total"), Some(1.0));
    assert_eq!(
        series(&text, r#"keel_reconcile_runs_total{outcome="completed"}"#),
        Some(1.0)
    );
    assert_eq!(
        series(&text, "keel_reconcile_drift_records_total"),
        Some(2.0)
    );
}
