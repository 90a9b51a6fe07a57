//! The webhook issues table keeps the newest 1,000 rows of each outcome however many
//! deliveries are refused: checked through the executor on a real SQLite file.

use std::sync::Arc;

use keel_app::{AppRoles, ISSUES_KEPT};
use keel_functions::{Call, Caller, Executor, FunctionKind};
use keel_store::{Database, Order};
use keel_store_sqlite::SqliteEngine;
use serde_json::{Value as Json, json};

async fn executor(dir: &std::path::Path) -> (Executor, Database) {
    let engine = SqliteEngine::open(&dir.join("keel.db").to_string_lossy())
        .await
        .unwrap();
    let schema = keel_app::schema().merge(keel_functions::system_schema());
    let db = Database::open(Arc::new(engine), &schema).await.unwrap();
    let roles = Arc::new(AppRoles::new(Vec::new()));
    (Executor::new(keel_app::functions(), db.clone(), roles), db)
}

fn reject(i: u64) -> Call {
    Call {
        path: "clerk:recordRejected".into(),
        kind: Some(FunctionKind::Mutation),
        args: json!({"svixId": format!("msg_{i}"), "reason": "no valid webhook signature",
                     "status": 400, "unrecorded": 0}),
        identity: None,
        caller: Caller::Server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_stay_within_their_ring() {
    let dir = tempfile::tempdir().unwrap();
    let (executor, db) = executor(dir.path()).await;
    let total = ISSUES_KEPT + 37;
    // In waves of 64 concurrent calls, so group commits carry many at once; each call still
    // runs alone in its own savepoint, in order within the committer.
    for wave in (0..total).collect::<Vec<_>>().chunks(64) {
        let calls = wave.iter().map(|&i| executor.call(reject(i)));
        for outcome in futures::future::join_all(calls).await {
            outcome.unwrap();
        }
    }
    let reader = db.reader().await.unwrap();
    let rows = reader
        .query("clerkWebhookIssues")
        .order(Order::Desc)
        .collect()
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, ISSUES_KEPT, "never more than the ring");
    let seqs: Vec<u64> = rows
        .iter()
        .map(|r| r.get("seq").and_then(Json::as_u64).unwrap())
        .collect();
    let expected: Vec<u64> = (total - ISSUES_KEPT..total).rev().collect();
    assert_eq!(seqs, expected, "the newest, newest first");
    let mut slots: Vec<u64> = rows
        .iter()
        .map(|r| r.get("slot").and_then(Json::as_u64).unwrap())
        .collect();
    slots.sort_unstable();
    assert_eq!(
        slots,
        (0..ISSUES_KEPT).collect::<Vec<_>>(),
        "one row per slot"
    );
}

/// Duplicates have their own ring: a flood of rejections never pushes them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_do_not_push_out_other_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let (executor, db) = executor(dir.path()).await;
    let tx = db.writer().await.unwrap();
    tx.insert(
        "clerkWebhookIssues",
        json!({"outcome": "duplicate", "seq": 0, "slot": 0, "svixId": "msg_dup"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for wave in (0..ISSUES_KEPT + 5).collect::<Vec<_>>().chunks(64) {
        let calls = wave.iter().map(|&i| executor.call(reject(i)));
        for outcome in futures::future::join_all(calls).await {
            outcome.unwrap();
        }
    }
    let reader = db.reader().await.unwrap();
    let duplicate = reader
        .query("clerkWebhookIssues")
        .with_index("by_outcome", |r| r.eq("outcome", "duplicate"))
        .collect()
        .await
        .unwrap();
    assert_eq!(duplicate.len(), 1);
}
