//! Commits crossing instances through the commit log: two `Database`s on one PostgreSQL
//! database (as two `keel serve` processes have them), each test on a fresh database.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keel_store::engine::{
    CommitListener, CommitLog, Engine, EngineRead, EngineWrite, LogRead, SyncedCatalog, TableSpec,
};
use keel_store::{Change, Commit, Database, Schema, TableDef, WriteSet};
use keel_store_postgres::PostgresEngine;
use keel_store_postgres::testing::{TestDatabase, admin_url};
use keel_values::Ts;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use tokio::sync::{broadcast, watch};

fn schema() -> Schema {
    Schema::new().table(TableDef::new("notes").index("by_owner", &["owner"]))
}

async fn engine(db: &TestDatabase) -> Arc<PostgresEngine> {
    Arc::new(PostgresEngine::open(&db.settings()).await.unwrap())
}

async fn database(engine: Arc<dyn Engine>) -> Database {
    Database::open(engine, &schema()).await.unwrap()
}

async fn insert(db: &Database, owner: &str) -> Arc<Commit> {
    let tx = db.writer().await.unwrap();
    tx.insert("notes", json!({ "owner": owner })).await.unwrap();
    tx.commit().await.unwrap()
}

/// The next change on a feed, within 5 s.
async fn next(feed: &mut broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("a change within 5 s")
        .expect("the feed is open")
}

/// The next change must be this commit, with its write set.
async fn expect_commit(feed: &mut broadcast::Receiver<Change>, commit: &Commit) {
    match next(feed).await {
        Change::Commit(got) => {
            assert_eq!(got.ts, commit.ts);
            assert_eq!(got.writes, commit.writes, "the write set crossed intact");
        }
        Change::Unknown(ts) => panic!("{ts:?} came as unknown, expected {:?}", commit.ts),
    }
}

/// Nothing more arrives for a while.
async fn expect_quiet(feed: &mut broadcast::Receiver<Change>) {
    if let Ok(change) = tokio::time::timeout(Duration::from_millis(300), feed.recv()).await {
        panic!("unexpected {change:?}");
    }
}

async fn admin() -> PgConnection {
    // The tests' own trust-auth server: no password in this URL.
    PgConnection::connect(&admin_url().to_string())
        .await
        .unwrap()
}

async fn admin_sql(sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin().await)
        .await
        .unwrap();
}

async fn listener_pid(engine: &PostgresEngine) -> i32 {
    for _ in 0..500 {
        if let Some(pid) = engine.listener_pid() {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the engine never listened");
}

/// Ends a server process and waits until it is gone.
async fn terminate(pid: i32) {
    let mut admin = admin().await;
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(ended, "process {pid} was running");
    for _ in 0..500 {
        let alive: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                .bind(pid)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if !alive {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("process {pid} did not end");
}

/// Commits through B reach A's feed in timestamp order, with their write sets, interleaved
/// with A's own; and the other way round. Nothing comes as unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_through_one_instance_reach_the_others_feed_with_their_write_sets() {
    let db = TestDatabase::create().await;
    let a = database(engine(&db).await).await;
    let b = database(engine(&db).await).await;
    assert!(a.follows_other_processes());
    let mut a_feed = a.subscribe();
    let mut b_feed = b.subscribe();

    // One at a time first: B's commit reaches A.
    let first = insert(&b, "bee").await;
    expect_commit(&mut a_feed, &first).await;
    expect_commit(&mut b_feed, &first).await;

    // Then both at once, 20 commits each.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { insert(&db, &format!("owner{i}")).await })
        })
        .collect();
    let mut committed = BTreeMap::new();
    for task in tasks {
        let commit = task.await.unwrap();
        committed.insert(commit.ts, commit.writes.clone());
    }
    for (name, feed) in [("a", &mut a_feed), ("b", &mut b_feed)] {
        let mut seen: Vec<(Ts, WriteSet)> = Vec::new();
        while seen.len() < committed.len() {
            match next(feed).await {
                Change::Commit(commit) => seen.push((commit.ts, commit.writes.clone())),
                Change::Unknown(ts) => panic!("{name}: {ts:?} came as unknown"),
            }
        }
        let expected: Vec<(Ts, WriteSet)> = committed.clone().into_iter().collect();
        assert_eq!(
            seen, expected,
            "{name}: every commit once, in order, with its writes"
        );
        expect_quiet(feed).await;
    }
}

/// The listener's connection is killed and cannot come back for a while: commits made
/// meanwhile still reach the feed, read from the log with their write sets (not re-checked
/// as unknown); once the listener is back, notifications drive the feed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_misses_nothing_the_log_still_holds() {
    let db = TestDatabase::create().await;
    let a_engine = engine(&db).await;
    let a = database(a_engine.clone()).await;
    let b = database(engine(&db).await).await;
    let mut a_feed = a.subscribe();
    let before = insert(&b, "before").await;
    expect_commit(&mut a_feed, &before).await;
    let old_pid = listener_pid(&a_engine).await;

    // No new connection to the database from now on (pooled ones stay), and A's listener
    // gone: its notifications are lost.
    admin_sql(format!(
        r#"ALTER DATABASE "{}" WITH ALLOW_CONNECTIONS false"#,
        db.name()
    ))
    .await;
    terminate(old_pid).await;
    let during = insert(&b, "during").await;
    expect_commit(&mut a_feed, &during).await;

    admin_sql(format!(
        r#"ALTER DATABASE "{}" WITH ALLOW_CONNECTIONS true"#,
        db.name()
    ))
    .await;
    let mut new_pid = old_pid;
    for _ in 0..500 {
        new_pid = a_engine.listener_pid().unwrap();
        if new_pid != old_pid {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_ne!(new_pid, old_pid, "A listens again on a new connection");
    let after = insert(&b, "after").await;
    expect_commit(&mut a_feed, &after).await;
    expect_quiet(&mut a_feed).await;
}

/// An instance that could not read the log while it was pruned past its last commit: the
/// commits it missed come as unknown (every live query re-checks), and later ones precisely
/// again. The instance's engine is the real one behind a gate that holds its log reads and
/// listening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_pruned_past_an_instance_means_unknown_then_precise_again() {
    let db = TestDatabase::create().await;
    let a_engine = engine(&db).await;
    let gate = watch::Sender::new(true);
    let a = database(Arc::new(Gated {
        inner: a_engine.clone(),
        gate: gate.clone(),
    }))
    .await;
    let b_engine = engine(&db).await;
    let b = database(b_engine.clone()).await;
    let mut a_feed = a.subscribe();
    let before = insert(&b, "before").await;
    expect_commit(&mut a_feed, &before).await;

    gate.send_replace(false);
    terminate(listener_pid(&a_engine).await).await;
    insert(&b, "missed").await;
    let last_missed = insert(&b, "missed too").await;
    let pruned = b_engine.prune_commit_log(Duration::ZERO, 0).await.unwrap();
    assert!(pruned >= 2, "pruned {pruned}");
    expect_quiet(&mut a_feed).await;

    gate.send_replace(true);
    match next(&mut a_feed).await {
        Change::Unknown(ts) => assert!(ts >= last_missed.ts, "{ts:?} < {:?}", last_missed.ts),
        Change::Commit(commit) => panic!("a commit the log no longer held: {commit:?}"),
    }
    let after = insert(&b, "after").await;
    expect_commit(&mut a_feed, &after).await;
    expect_quiet(&mut a_feed).await;
}

/// Pruning keeps the newest entries and moves the mark, so a reader at the newest commit is
/// never told the log is truncated, however long nothing was committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_keeps_a_reader_at_the_newest_commit_whole() {
    let db = TestDatabase::create().await;
    let engine = engine(&db).await;
    let database = database(engine.clone()).await;
    let mut commits = Vec::new();
    for i in 0..5 {
        commits.push(insert(&database, &format!("n{i}")).await);
    }
    let log = engine.commit_log().unwrap();
    // The three older inserts, and the index builds of opening.
    let pruned = engine
        .prune_commit_log(Duration::from_secs(60), 2)
        .await
        .unwrap();
    assert!(pruned >= 3, "pruned {pruned}");
    let kept = match log.commits_after(commits[2].ts, 10).await.unwrap() {
        LogRead::Commits(kept) => kept,
        LogRead::Truncated { .. } => panic!("the two newest are kept"),
    };
    assert_eq!(
        kept.iter().map(|c| c.ts).collect::<Vec<_>>(),
        [commits[3].ts, commits[4].ts]
    );
    assert!(matches!(
        log.commits_after(commits[1].ts, 10).await.unwrap(),
        LogRead::Truncated { latest } if latest == commits[4].ts
    ));
    // Everything older than now, as after a quiet spell: the newest reader stays whole.
    engine.prune_commit_log(Duration::ZERO, 0).await.unwrap();
    assert!(matches!(
        log.commits_after(commits[4].ts, 10).await.unwrap(),
        LogRead::Commits(none) if none.is_empty()
    ));
    let next = insert(&database, "next").await;
    match log.commits_after(commits[4].ts, 10).await.unwrap() {
        LogRead::Commits(entries) => {
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].ts, next.ts);
        }
        LogRead::Truncated { .. } => panic!("nothing after the mark was pruned"),
    }
}

/// The real engine, with its log reads and listening held while the gate is closed.
struct Gated {
    inner: Arc<PostgresEngine>,
    gate: watch::Sender<bool>,
}

#[async_trait]
impl Engine for Gated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn sync_catalog(&self, wanted: &[TableSpec]) -> keel_store::Result<SyncedCatalog> {
        self.inner.sync_catalog(wanted).await
    }
    async fn begin_read(&self) -> keel_store::Result<Box<dyn EngineRead>> {
        self.inner.begin_read().await
    }
    async fn begin_write(&self) -> keel_store::Result<Box<dyn EngineWrite>> {
        self.inner.begin_write().await
    }
    async fn ping(&self) -> keel_store::Result<()> {
        self.inner.ping().await
    }
    async fn probe_write(&self) -> keel_store::Result<()> {
        self.inner.probe_write().await
    }
    fn commit_log(&self) -> Option<Arc<dyn CommitLog>> {
        Some(Arc::new(GatedLog {
            inner: self.inner.commit_log()?,
            gate: self.gate.subscribe(),
        }))
    }
}

struct GatedLog {
    inner: Arc<dyn CommitLog>,
    gate: watch::Receiver<bool>,
}

impl GatedLog {
    async fn open(&self) {
        let _ = self.gate.clone().wait_for(|open| *open).await;
    }
}

#[async_trait]
impl CommitLog for GatedLog {
    async fn commits_after(&self, after: Ts, limit: usize) -> keel_store::Result<LogRead> {
        self.open().await;
        self.inner.commits_after(after, limit).await
    }
    async fn listen(&self) -> keel_store::Result<Box<dyn CommitListener>> {
        self.open().await;
        self.inner.listen().await
    }
}
