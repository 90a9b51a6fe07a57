//! Opening PostgreSQL databases: migrations (once, also when instances start together),
//! unreachable servers and lost connections, and passwords kept out of every message.

use std::time::{Duration, Instant};

use keel_store::StorageFault;
use keel_store::engine::{Engine, StoredDoc};
use keel_store_postgres::testing::{TestDatabase, admin_url};
use keel_store_postgres::{DatabaseUrl, PostgresEngine, PostgresSettings, SCHEMA_VERSION};
use keel_values::{DocumentId, TableNumber, Ts};
use sqlx::{Connection, PgConnection};

const SECRET: &str = "n0t-th1s-s3cr3t";

async fn connect(url: &DatabaseUrl) -> PgConnection {
    // Only the tests' own trust-auth server: no password in these URLs.
    PgConnection::connect(&url.to_string()).await.unwrap()
}

async fn migration_rows(url: &DatabaseUrl) -> Vec<(i32, String)> {
    let mut conn = connect(url).await;
    sqlx::query_as("SELECT version, name FROM keel_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_is_migrated_once() {
    let db = TestDatabase::create().await;
    let engine = PostgresEngine::open(&db.settings()).await.unwrap();
    engine.ping().await.unwrap();
    assert_eq!(engine.begin_read().await.unwrap().ts(), Ts(0));
    let rows = migration_rows(&db.url()).await;
    assert_eq!(rows.len(), SCHEMA_VERSION);
    assert_eq!(rows[0], (1, "0001_documents".to_string()));
    assert_eq!(PostgresEngine::migrate(&db.settings()).await.unwrap(), 0);
    drop(PostgresEngine::open(&db.settings()).await.unwrap());
    assert_eq!(
        migration_rows(&db.url()).await,
        rows,
        "nothing applied twice"
    );
}

/// Instances started at the same moment on an empty database: all succeed, one migrates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_exactly_once() {
    let db = TestDatabase::create().await;
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let settings = db.settings();
            tokio::spawn(async move { PostgresEngine::migrate(&settings).await })
        })
        .collect();
    let mut applied = 0;
    for start in starts {
        applied += start.await.unwrap().expect("every start succeeds");
    }
    assert_eq!(applied, SCHEMA_VERSION, "the migrations ran once in all");
    assert_eq!(migration_rows(&db.url()).await.len(), SCHEMA_VERSION);
    // And engines opened together on another empty database.
    let db = TestDatabase::create().await;
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let settings = db.settings();
            tokio::spawn(async move { PostgresEngine::open(&settings).await.map(drop) })
        })
        .collect();
    for open in opens {
        open.await.unwrap().expect("every open succeeds");
    }
    assert_eq!(migration_rows(&db.url()).await.len(), SCHEMA_VERSION);
}

#[tokio::test]
async fn a_database_from_a_newer_keel_is_refused() {
    let db = TestDatabase::create().await;
    drop(PostgresEngine::open(&db.settings()).await.unwrap());
    let mut conn = connect(&db.url()).await;
    sqlx::query("INSERT INTO keel_migrations (version, name) VALUES (99, 'from the future')")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = PostgresEngine::open(&db.settings())
        .await
        .err()
        .expect("a newer schema is refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// A URL that carries a password, for a server on the tests' host.
fn with_password(url: &DatabaseUrl, port: Option<u16>, database: &str) -> PostgresSettings {
    let admin = url.to_string();
    let parsed = url::Url::parse(&admin).unwrap();
    let user = parsed.username();
    let host = parsed.host_str().unwrap();
    let port = port.or(parsed.port()).unwrap_or(5432);
    let url = DatabaseUrl::parse(&format!(
        "postgres://{user}:{SECRET}@{host}:{port}/{database}"
    ))
    .unwrap();
    PostgresSettings {
        connect_timeout: Duration::from_secs(2),
        ..PostgresSettings::new(url)
    }
}

#[tokio::test]
async fn an_unreachable_server_is_named_by_host_without_the_password() {
    // A port nobody listens on: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let settings = with_password(&admin_url(), Some(port), "keel");
    let started = Instant::now();
    let err = PostgresEngine::open(&settings)
        .await
        .err()
        .expect("nothing listens there");
    assert!(started.elapsed() < Duration::from_secs(5));
    let shown = format!("{err} {err:?} {settings:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(err.to_string().contains(&format!(":{port}")), "{err}");
    assert_eq!(
        err.storage_fault(),
        Some(StorageFault::Unavailable),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_connect_timeout() {
    // Accepts the TCP connection (the kernel does) and never speaks.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let settings = with_password(&admin_url(), Some(port), "keel");
    let started = Instant::now();
    let err = PostgresEngine::open(&settings)
        .await
        .err()
        .expect("no answer");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert!(err.to_string().contains("no answer within"), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");
    drop(silent);
}

#[tokio::test]
async fn a_missing_database_is_named_without_the_password() {
    let settings = with_password(&admin_url(), None, "keel_no_such_database");
    let err = PostgresEngine::open(&settings)
        .await
        .err()
        .expect("no such database");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("keel_no_such_database"), "{shown}");
    assert_eq!(
        err.storage_fault(),
        Some(StorageFault::Unavailable),
        "{err}"
    );
}

fn doc() -> StoredDoc {
    StoredDoc {
        id: DocumentId::new_random(TableNumber(1)),
        creation_time: 0.0,
        body: serde_json::Map::new(),
    }
}

async fn terminate_connections(db: &TestDatabase) -> i64 {
    let mut admin = connect(&admin_url()).await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(db.name())
    .fetch_all(&mut admin)
    .await
    .unwrap();
    ended.len() as i64
}

/// The server ends the engine's connections (a restart, a failover): the transaction in
/// flight fails as unavailable storage, nothing of it is kept, and the next transactions
/// get new connections without a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_fail_in_flight_work_and_are_replaced() {
    let db = TestDatabase::create().await;
    tokio::time::timeout(Duration::from_secs(60), lose_connections(&db))
        .await
        .expect("no step waits for ever");
}

async fn lose_connections(db: &TestDatabase) {
    let engine = PostgresEngine::open(&db.settings()).await.unwrap();
    // Some idle connections in the pool, and one writer in flight.
    for _ in 0..3 {
        engine.begin_read().await.unwrap();
    }
    let mut tx = engine.begin_write().await.unwrap();
    let lost = doc();
    tx.put(&lost).await.unwrap();
    assert!(terminate_connections(db).await >= 1);
    // The next statement fails (or, if the client has not noticed yet, the commit).
    let err = match tx.put(&doc()).await {
        Err(err) => {
            drop(tx); // ends this process's turn to write
            err
        }
        Ok(()) => tx
            .commit(Ts(1), None)
            .await
            .expect_err("the connection is gone"),
    };
    assert_eq!(
        err.storage_fault(),
        Some(StorageFault::Unavailable),
        "{err}"
    );

    for _ in 0..4 {
        engine.ping().await.expect("a new connection");
        let mut read = engine.begin_read().await.expect("a new connection");
        assert!(read.get(&lost.id).await.unwrap().is_none());
    }
    let mut tx = engine.begin_write().await.unwrap();
    let kept = doc();
    tx.put(&kept).await.unwrap();
    let ts = tx.commit(Ts(1), None).await.unwrap();
    let mut read = engine.begin_read().await.unwrap();
    assert_eq!(read.ts(), ts);
    assert!(read.get(&kept.id).await.unwrap().is_some());
}

/// Timestamps come from the database's clock row: never below the caller's clock nor the
/// server's, and one past the last commit when both lag.
#[tokio::test]
async fn commit_timestamps_follow_the_database_clock() {
    let db = TestDatabase::create().await;
    let engine = PostgresEngine::open(&db.settings()).await.unwrap();
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    };
    let before = wall();
    let mut tx = engine.begin_write().await.unwrap();
    tx.put(&doc()).await.unwrap();
    let lagging = tx.commit(Ts(1), None).await.unwrap();
    assert!(
        lagging.0 >= before - 1_000_000_000,
        "the server's clock, not the caller's 1 ns: {lagging:?}"
    );
    let ahead = Ts(wall() + 3_600_000_000_000);
    let mut tx = engine.begin_write().await.unwrap();
    tx.put(&doc()).await.unwrap();
    assert_eq!(
        tx.commit(ahead, None).await.unwrap(),
        ahead,
        "not below the caller's"
    );
    let mut tx = engine.begin_write().await.unwrap();
    tx.put(&doc()).await.unwrap();
    assert_eq!(
        tx.commit(Ts(1), None).await.unwrap(),
        Ts(ahead.0 + 1),
        "strictly after the last"
    );
}
