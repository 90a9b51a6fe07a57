//! Opening databases: schema versions, and files written by earlier Keel versions.

use keel_store::engine::Engine;
use keel_store_sqlite::SqliteEngine;

const FIRST_MIGRATION: &str = include_str!("../migrations/0001_documents.sql");

#[tokio::test]
async fn a_new_file_is_created_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db");
    let engine = SqliteEngine::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    engine.ping().await.unwrap();
    drop(engine);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version as usize, keel_store_sqlite::SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Databases made by the sqlx migrator have the schema but `user_version` 0: they are
/// recognised, not migrated again (which would fail on the existing tables).
#[tokio::test]
async fn a_database_from_the_sqlx_migrator_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(FIRST_MIGRATION).unwrap();
        conn.execute("UPDATE keel_clock SET last_ts = 42 WHERE id = 1", [])
            .unwrap();
    }
    let engine = SqliteEngine::open(path.to_str().unwrap()).await.unwrap();
    let read = engine.begin_read().await.unwrap();
    assert_eq!(read.ts().0, 42);
}

#[tokio::test]
async fn a_database_from_a_newer_keel_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(FIRST_MIGRATION).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let err = SqliteEngine::open(path.to_str().unwrap())
        .await
        .err()
        .expect("a newer schema is refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// Commits reach the database file itself through the background checkpoint thread (the
/// writer never checkpoints inside a commit): without it the file would stay at its initial
/// size while the WAL grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_checkpointed_into_the_database_file() {
    use keel_store::engine::StoredDoc;
    use keel_values::{DocumentId, TableNumber, Ts};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.db");
    let engine = SqliteEngine::open(path.to_str().unwrap()).await.unwrap();
    let initial = std::fs::metadata(&path).unwrap().len();
    let filler = "x".repeat(4000);
    for n in 0..200 {
        let mut tx = engine.begin_write().await.unwrap();
        let mut body = serde_json::Map::new();
        body.insert("n".into(), n.into());
        body.insert("filler".into(), filler.clone().into());
        tx.put(&StoredDoc {
            id: DocumentId::new_random(TableNumber(1)),
            creation_time: n as f64,
            body,
        })
        .await
        .unwrap();
        tx.commit(Ts(0), None).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let size = std::fs::metadata(&path).unwrap().len();
        if size > initial + 200 * 4000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {size} bytes (initially {initial}): no checkpoint ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// SQLite follows a symlinked database file and keeps the WAL beside the real file; the WAL
/// that Keel fsyncs must be that one.
#[tokio::test]
async fn a_symlinked_database_file_syncs_the_real_wal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::fs::create_dir(dir.path().join("link")).unwrap();
    let real = dir.path().join("real/keel.db");
    drop(SqliteEngine::open(real.to_str().unwrap()).await.unwrap());
    let link = dir.path().join("link/keel.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let engine = SqliteEngine::open(link.to_str().unwrap()).await.unwrap();
    let tx = engine.begin_write().await.unwrap();
    tx.commit(keel_values::Ts(1), None).await.unwrap();
    assert!(dir.path().join("real/keel.db-wal").exists());
    assert!(!dir.path().join("link/keel.db-wal").exists());
}
