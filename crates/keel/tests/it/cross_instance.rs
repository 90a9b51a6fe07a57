//! Live queries across two Keel instances on one PostgreSQL database: a commit through B
//! re-runs, on A, only the live queries its write set touches (through the commit log and
//! `NOTIFY`), and the update's latency from B's mutation to A's transition.

use std::time::{Duration, Instant};

use keel::AppParts;
use keel_store_postgres::testing::TestDatabase;
use serde_json::{Value as Json, json};

use crate::harness::{TestServer, now};
use crate::sync::{Client, ts};

async fn two_instances(database: &TestDatabase) -> (TestServer, TestServer) {
    let url = database.url().to_string();
    let a = TestServer::dev_with(
        |s| s.storage.database_url = Some(url.clone()),
        AppParts::builtin(),
    )
    .await;
    let b = TestServer::dev_with(|s| s.storage.database_url = Some(url), AppParts::builtin()).await;
    (a, b)
}

/// A user of A's emulator, stored, with a token valid for an hour (a long run outlives the
/// emulator's 60-second tokens).
async fn user(server: &TestServer, email: &str) -> (String, String) {
    let (id, token) = server.user(email).await;
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let token = server.forged_token_with(&id, json!({ "exp": now() + 3600 }));
    (id, token)
}

/// A WebSocket session on `server` subscribed to the user's `chats:listUserChats`, after its
/// first result (returned).
async fn subscribe(server: &TestServer, session: &str, token: &str) -> (Client, Json) {
    let mut client = Client::connect(server, session).await;
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
    let first = client.expect("Transition").await;
    (client, first)
}

/// Waits until A starts no query run for a while: the emulator's webhooks for new users and
/// the first runs are over.
async fn settled(server: &TestServer) -> u64 {
    let mut runs = server.running.query_runs();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = server.running.query_runs();
        if now == runs {
            return runs;
        }
        runs = now;
    }
}

/// A chat created through B for user one updates user one's live query on A promptly, and
/// user two's live query on A does not even re-run (before the commit log, every query
/// re-ran for every commit of another instance, within the 250 ms clock poll).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_b_reruns_only_the_live_queries_it_touched_on_a() {
    let database = TestDatabase::create().await;
    let (a, b) = two_instances(&database).await;
    let (one, one_token) = user(&a, "one@example.com").await;
    let (two, two_token) = user(&a, "two@example.com").await;
    let (live_one, first_one) = subscribe(&a, "one", &one_token).await;
    let (live_two, first_two) = subscribe(&a, "two", &two_token).await;
    assert_eq!(first_one["modifications"][0]["value"], json!([]));
    assert_eq!(first_two["modifications"][0]["value"], json!([]));
    let mut last_ts = ts(&first_one["endVersion"]).max(ts(&first_two["endVersion"]));

    let mut sessions = [(one, live_one), (two, live_two)];
    for round in 0..2 {
        let (first, second) = sessions.split_at_mut(1);
        let ((user, live), (_, quiet)) = match round {
            0 => (&mut first[0], &mut second[0]),
            _ => (&mut second[0], &mut first[0]),
        };
        let runs = settled(&a).await;
        let started = Instant::now();
        let title = format!("from B, round {round}");
        b.ok(
            "mutation",
            "chats:createUserChat",
            json!({ "title": title }),
            Some(&b.forged_token(user.as_str())),
        )
        .await;
        let update = live.expect("Transition").await;
        let took = started.elapsed();
        assert_eq!(
            update["modifications"][0]["value"][0]["title"], title,
            "{update}"
        );
        let update_ts = ts(&update["endVersion"]);
        assert!(
            update_ts > last_ts,
            "timestamps only increase across instances"
        );
        last_ts = update_ts;
        assert!(took < Duration::from_secs(2), "{took:?}");
        // Longer than the old clock poll, which re-ran everything.
        assert!(
            quiet.quiet(Duration::from_millis(600)).await,
            "the other user's session got a message"
        );
        assert_eq!(
            a.running.query_runs(),
            runs + 1,
            "round {round}: only the touched query re-ran on A"
        );
    }
}

/// Cross-instance update latency: B renames a chat, A's subscriber sees the new title. Prints
/// percentiles (never asserts on time). `KEEL_XINST_UPDATES` sets the count (default 200);
/// BENCHMARKS.md records a release run of 1,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_instance_update_latency() {
    let updates: usize = std::env::var("KEEL_XINST_UPDATES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let database = TestDatabase::create().await;
    let (a, b) = two_instances(&database).await;
    let (id, token) = user(&a, "latency@example.com").await;
    let chat = a
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({ "title": "start" }),
            Some(&token),
        )
        .await;
    let (mut live, first) = subscribe(&a, "latency", &token).await;
    assert_eq!(first["modifications"][0]["value"][0]["title"], "start");
    let through_b = b.forged_token_with(&id, json!({ "exp": now() + 3600 }));

    let mut end_to_end = Vec::with_capacity(updates);
    let mut after_ack = Vec::with_capacity(updates);
    for i in 0..updates {
        let title = format!("rename {i}");
        let sent = Instant::now();
        let (status, body) = b
            .call(
                "mutation",
                "chats:update",
                json!({ "id": chat, "title": title }),
                Some(&through_b),
            )
            .await;
        let acked = Instant::now();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success", "{body}");
        loop {
            let update = live.expect("Transition").await;
            if update["modifications"][0]["value"][0]["title"] == title {
                break;
            }
        }
        let seen = Instant::now();
        end_to_end.push(seen - sent);
        after_ack.push(seen.saturating_duration_since(acked));
    }
    let report = |name: &str, samples: &mut Vec<Duration>| {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        println!(
            "cross-instance {name} over {} updates: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            samples.len(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.90).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3,
        );
    };
    report("mutation sent on B → transition on A", &mut end_to_end);
    report(
        "mutation acknowledged by B → transition on A",
        &mut after_ack,
    );

    // What crossed: the renames' log entries (write sets, no document bodies).
    use sqlx::Connection;
    // The tests' own trust-auth server: the shown URL carries no password.
    let mut conn = sqlx::PgConnection::connect(&database.url().to_string())
        .await
        .unwrap();
    let bytes: f64 = sqlx::query_scalar(
        "SELECT avg(octet_length(writes))::float8 FROM
         (SELECT writes FROM keel_commit_log ORDER BY ts DESC LIMIT $1) AS renames",
    )
    .bind(updates as i64)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    println!("commit log: {bytes:.0} bytes per rename's write set on average");
}
