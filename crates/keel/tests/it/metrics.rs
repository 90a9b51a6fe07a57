//! `GET /metrics`: scraped and parsed as Prometheus text, its figures moving with HTTP calls,
//! function runs, webhook deliveries, live queries and commits; open in `keel dev`, behind
//! `KEEL_METRICS_TOKEN` or on `KEEL_METRICS_LISTEN` in `keel serve`, off otherwise; and on
//! PostgreSQL, the pool and another instance's commits through the commit log.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use keel::{AppParts, Mode, Running};
use keel_auth::testing::TestKey;
use keel_store_postgres::testing::TestDatabase;
use serde_json::json;

use crate::fake_issuer::FakeIssuer;
use crate::harness::{Engine, TestServer, engine_tests, settings};
use crate::sync::Client;

/// One scrape: every sample line, `name{labels}` as printed → value.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn of(url: &str) -> Scrape {
        let response = reqwest::get(format!("{url}/metrics")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        Scrape::parse(&response.text().await.unwrap())
    }

    /// Prometheus' text format: `# HELP`/`# TYPE` comments, then `series value` lines (label
    /// values here never hold spaces).
    fn parse(text: &str) -> Scrape {
        let mut samples = HashMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{series} twice"
            );
        }
        assert!(
            text.contains("# TYPE keel_sync_connections gauge"),
            "{text}"
        );
        Scrape(samples)
    }

    /// The sample's value; 0 when the series does not exist yet.
    fn value(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    fn has(&self, series: &str) -> bool {
        self.0.contains_key(series)
    }

    fn mentions(&self, text: &str) -> bool {
        self.0.keys().any(|series| series.contains(text))
    }
}

/// Waits until `series` reads `want` (gauges follow connections as their tasks end).
async fn until(url: &str, series: &str, want: f64) -> Scrape {
    for _ in 0..100 {
        let scrape = Scrape::of(url).await;
        if scrape.value(series) == want {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never read {want}");
}

async fn metrics_move_with_traffic(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let before = Scrape::of(&server.url).await;
    // The emulator's `user.created` delivery is applied before this returns.
    let (_, token) = server.synced_user("ada@example.com").await;
    server
        .ok("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    let (status, _) = server.call("query", "nothing:here", json!({}), None).await;
    assert_eq!(status, 200, "an unknown function is a function error");

    let mut client = Client::connect(&server, "metrics-session").await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;
    client
        .send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 1, "udfPath": "chats:listUserChats", "args": [{}]}]}),
        )
        .await;
    client.expect("Transition").await;
    let during = until(&server.url, "keel_sync_subscriptions", 1.0).await;

    let query_200 = r#"keel_http_requests_total{route="/api/query",status="200"}"#;
    assert!(during.value(query_200) >= before.value(query_200) + 2.0);
    assert!(during.value(r#"keel_http_request_duration_seconds_count{route="/api/query"}"#) >= 2.0);
    assert_eq!(
        during.value(r#"keel_http_requests_total{route="/api/sync",status="101"}"#),
        1.0
    );
    assert!(
        during.value(
            r#"keel_function_calls_total{path="users:getCurrentUser",kind="query",outcome="success"}"#
        ) >= 1.0
    );
    assert!(
        during.value(r#"keel_function_calls_total{path="users:store",kind="mutation",outcome="success"}"#)
            + during.value(r#"keel_function_calls_total{path="clerk:applyWebhook",kind="mutation",outcome="success"}"#)
            >= 1.0
    );
    assert!(
        !during.mentions("nothing:here"),
        "a path no function has never becomes a label"
    );
    assert_eq!(
        during
            .value(r#"keel_webhook_deliveries_total{event_type="user.created",outcome="applied"}"#),
        1.0
    );
    assert_eq!(during.value("keel_sync_connections"), 1.0);
    assert!(during.value("keel_sync_transitions_total") >= 2.0);
    assert!(during.value("keel_sync_transition_bytes_total") > 0.0);
    assert!(during.value("keel_live_query_executions") >= 1.0);
    assert!(
        during.value("keel_commit_batch_mutations_count")
            > before.value("keel_commit_batch_mutations_count")
    );
    assert!(during.value("keel_commit_duration_seconds_count") >= 1.0);
    assert!(during.value("keel_process_resident_memory_bytes") > 1e6);

    drop(client);
    let after = until(&server.url, "keel_sync_connections", 0.0).await;
    assert_eq!(after.value("keel_sync_subscriptions"), 0.0);
}
engine_tests!(metrics_move_with_traffic);

static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_metrics"));

async fn serve(
    issuer: &FakeIssuer,
    dir: &std::path::Path,
    configure: impl FnOnce(&mut keel::Settings),
) -> Running {
    let mut settings = settings(dir);
    configure(&mut settings);
    keel::start(
        &settings,
        Mode::Serve {
            issuer: issuer.issuer.clone(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap()
}

async fn get_metrics(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn serve_keeps_metrics_off_unless_asked() {
    let issuer = FakeIssuer::start(&[&KEY]).await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve(&issuer, dir.path(), |_| {}).await;
    let (status, body) = get_metrics(&running.url, None).await;
    assert_eq!(status, 404, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "MetricsOff");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("KEEL_METRICS_TOKEN")
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn serve_answers_metrics_only_with_the_token() {
    let issuer = FakeIssuer::start(&[&KEY]).await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve(&issuer, dir.path(), |s| {
        s.metrics.token = Some("scrape-me-7".into())
    })
    .await;
    for wrong in [None, Some("scrape-me"), Some("scrape-me-77"), Some("")] {
        let (status, body) = get_metrics(&running.url, wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert!(body.contains("Unauthenticated"), "{body}");
        assert!(!body.contains("scrape-me-7"), "the token is never echoed");
    }
    let (status, body) = get_metrics(&running.url, Some("scrape-me-7")).await;
    assert_eq!(status, 200);
    let scrape = Scrape::parse(&body);
    // The refused scrapes above were counted.
    assert_eq!(
        scrape.value(r#"keel_http_requests_total{route="/metrics",status="401"}"#),
        4.0
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn serve_can_answer_metrics_on_a_separate_address() {
    let issuer = FakeIssuer::start(&[&KEY]).await;
    let dir = tempfile::tempdir().unwrap();
    let running = serve(&issuer, dir.path(), |s| {
        s.metrics.listen = Some("127.0.0.1:0".into())
    })
    .await;
    let apart = format!(
        "http://{}",
        running.metrics_addr.expect("a metrics address")
    );
    reqwest::get(format!("{}/healthz", running.url))
        .await
        .unwrap();
    let scrape = Scrape::of(&apart).await;
    assert_eq!(
        scrape.value(r#"keel_http_requests_total{route="/healthz",status="200"}"#),
        1.0,
        "the main address's requests are counted"
    );
    let (status, _) = get_metrics(&running.url, None).await;
    assert_eq!(status, 404, "not on the main address");
    running.stop().await.unwrap();
}

/// On PostgreSQL: the pool's gauges, and another instance's commit read back from the commit
/// log with its lag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_pool_and_commit_log_lag() {
    let database = TestDatabase::create().await;
    let url = database.url().to_string();
    let a = TestServer::dev_with(
        |s| s.storage.database_url = Some(url.clone()),
        AppParts::builtin(),
    )
    .await;
    let b = TestServer::dev_with(|s| s.storage.database_url = Some(url), AppParts::builtin()).await;
    let before = Scrape::of(&a.url).await;
    assert!(before.value("keel_db_pool_max_connections") >= 1.0);
    assert!(before.has("keel_db_pool_idle_connections"));

    // A live query on A makes it follow the commit log; a commit through B lands there.
    let (id, token) = a.synced_user("lag@example.com").await;
    let mut client = Client::connect(&a, "lag-session").await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;
    let logged = Scrape::of(&a.url)
        .await
        .value("keel_commit_log_commits_total");
    b.ok(
        "mutation",
        "chats:createUserChat",
        json!({ "title": "through B" }),
        Some(&b.forged_token(&id)),
    )
    .await;
    let mut after = Scrape::of(&a.url).await;
    for _ in 0..100 {
        if after.value("keel_commit_log_commits_total") > logged {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = Scrape::of(&a.url).await;
    }
    assert!(after.value("keel_commit_log_commits_total") > logged);
    assert!(after.value("keel_commit_log_lag_seconds_count") >= 1.0);
    let lag = after.value("keel_commit_log_lag_seconds_sum")
        / after.value("keel_commit_log_lag_seconds_count");
    assert!((0.0..5.0).contains(&lag), "mean lag {lag} s");
    assert!(
        after.value("keel_db_pool_connections") >= 1.0,
        "A has used its pool"
    );
    drop(client);
}
