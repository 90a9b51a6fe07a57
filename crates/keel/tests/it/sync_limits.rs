//! The sync WebSocket under clients that misbehave or are slow: a connection that never says
//! `Connect`, too many queries on one connection, and a mutation whose commit is slow. (A
//! client that keeps sending after a fatal error is tested with `ws` in
//! `tests/node/test/close_handshake.test.mjs`: Rust's client reads what arrived before a reset.)

use std::time::{Duration, Instant};

use keel::functions::{FnResult, MutationCtx, NoArgs, Registry};
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests};
use crate::sync::Client;

async fn a_connection_that_never_connects_is_closed(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.sync.connect_timeout = Duration::from_millis(300).into(),
        keel::AppParts::builtin(),
    )
    .await;
    let url = format!("{}/api/1.48.0/sync", server.url.replace("http://", "ws://"));
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut client = Client { socket };
    let started = Instant::now();
    let error = client.expect("FatalError").await;
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("No Connect message"),
        "{error}"
    );
    assert!(client.next().await.is_none(), "then the server closes");
    assert!(started.elapsed() < Duration::from_secs(3));
}
engine_tests!(a_connection_that_never_connects_is_closed);

async fn queries_past_the_connection_limit_fail_alone(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.sync.max_queries = 3,
        keel::AppParts::builtin(),
    )
    .await;
    let (_, token) = server.user("limit@example.com").await;
    let mut client = Client::connect(&server, "limit").await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;
    let adds: Vec<Json> = (0..5)
        .map(|i| {
            json!({"type": "Add", "queryId": i, "udfPath": "chats:listUserChats",
                "args": [{"paginationOpts": {"numItems": 10 + i, "cursor": null}}]})
        })
        .collect();
    client
        .send(json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": adds}))
        .await;
    let transition = client.expect("Transition").await;
    let modifications = transition["modifications"].as_array().unwrap();
    let kinds: Vec<&str> = modifications
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "QueryUpdated",
            "QueryUpdated",
            "QueryUpdated",
            "QueryFailed",
            "QueryFailed"
        ]
    );
    assert!(
        modifications[4]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("the limit is 3"),
        "{transition}"
    );
    assert_eq!(
        server.running.live_executions(),
        3,
        "refused queries never run"
    );

    // Removing one makes room for a new one.
    client
        .send(
            json!({"type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [
            {"type": "Remove", "queryId": 0},
            {"type": "Add", "queryId": 9, "udfPath": "chats:listUserChats", "args": [{}]}]}),
        )
        .await;
    let transition = client.expect("Transition").await;
    let added = transition["modifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["queryId"] == 9)
        .unwrap();
    assert_eq!(added["type"], "QueryUpdated", "{transition}");
}
engine_tests!(queries_past_the_connection_limit_fail_alone);

/// A mutation that takes its time before it writes.
async fn slow(ctx: MutationCtx, _: NoArgs) -> FnResult<String> {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ctx.db.insert("slowMarks", json!({"slow": true})).await?;
    Ok("done".into())
}

async fn a_slow_mutation_does_not_stall_its_connection(engine: Engine) {
    let mut functions = Registry::new();
    functions.mutation("slow:mutation", slow);
    let parts = keel::AppParts::builtin().with(
        keel::store::Schema::new().table(keel::store::TableDef::new("slowMarks")),
        functions,
    );
    let server = TestServer::dev_on_with(engine, |_| {}, parts).await;
    let (_, token) = server.user("slow@example.com").await;
    let mut client = Client::connect(&server, "slow").await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;

    client
        .send(json!({"type": "Mutation", "requestId": 0, "udfPath": "slow:mutation", "args": [{}]}))
        .await;
    let asked = Instant::now();
    client
        .send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "chats:listUserChats", "args": [{}]}]}),
        )
        .await;
    let first = client.next().await.unwrap();
    assert_eq!(
        first["type"], "Transition",
        "the query set is answered while the mutation runs: {first}"
    );
    assert!(asked.elapsed() < Duration::from_millis(1000));
    let response = client.expect("MutationResponse").await;
    assert_eq!(response["success"], true, "{response}");
}
engine_tests!(
    a_slow_mutation_does_not_stall_its_connection,
    flavor = "multi_thread",
    worker_threads = 2
);

async fn a_message_whose_json_would_cost_too_much_is_refused(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let mut client = Client::connect(&server, "complex").await;
    // 160,000 values in one argument (20 arrays within the per-array bound): ~320 KB of
    // text, over 5 MB once parsed.
    let row = format!("[{}0]", "0,".repeat(7_999));
    let zeros = vec![row; 20].join(",");
    client
        .send_raw(&format!(
            r#"{{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{{"type":"Add","queryId":0,"udfPath":"users:getCurrentUser","args":[{{"x":[{zeros}]}}]}}]}}"#
        ))
        .await;
    let error = client.expect("FatalError").await;
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("has more than 131072 JSON values"),
        "{error}"
    );
}
engine_tests!(a_message_whose_json_would_cost_too_much_is_refused);
