//! Writes wait in the transaction and go out together (`pending.rs`): reads still see the
//! transaction's own writes, the last write of a key wins, and a savepoint's unsent writes go
//! with its rollback.

use keel_store::engine::{Engine, IndexNumber, StoredDoc};
use keel_store::{KeyRange, Order};
use keel_store_postgres::PostgresEngine;
use keel_store_postgres::testing::TestDatabase;
use keel_values::{DocumentId, TableNumber, Ts};

fn doc(text: &str) -> StoredDoc {
    let mut body = serde_json::Map::new();
    body.insert("text".into(), text.into());
    StoredDoc {
        id: DocumentId::new_random(TableNumber(1)),
        creation_time: 1.0,
        body,
    }
}

fn all() -> KeyRange {
    KeyRange {
        start: Vec::new(),
        end: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_writes_keep_their_meaning() {
    let db = TestDatabase::create().await;
    let engine = PostgresEngine::open(&db.settings()).await.unwrap();
    let index = IndexNumber(1);
    let (kept, gone, undone) = (doc("kept"), doc("gone"), doc("undone"));

    let mut tx = engine.begin_write().await.unwrap();
    tx.put(&kept).await.unwrap();
    tx.put_index_entry(index, b"k", &kept.id).await.unwrap();
    // Read back before anything was sent explicitly.
    assert_eq!(tx.get(&kept.id).await.unwrap().as_ref(), Some(&kept));
    // Written, removed and re-pointed before the next read: the last write wins.
    tx.put(&gone).await.unwrap();
    tx.remove(&gone.id).await.unwrap();
    tx.remove_index_entry(index, b"k").await.unwrap();
    tx.put_index_entry(index, b"k", &gone.id).await.unwrap();
    tx.put_index_entry(index, b"k", &kept.id).await.unwrap();
    assert_eq!(tx.get(&gone.id).await.unwrap(), None);
    let keys: Vec<_> = tx
        .scan(index, &all(), Order::Asc, None)
        .await
        .unwrap()
        .into_iter()
        .map(|(key, doc)| (key, doc.id))
        .collect();
    assert_eq!(keys, vec![(b"k".to_vec(), kept.id)]);

    // A savepoint's unsent writes are dropped by its rollback.
    tx.savepoint().await.unwrap();
    tx.put(&undone).await.unwrap();
    tx.put_index_entry(index, b"u", &undone.id).await.unwrap();
    tx.rollback_to_savepoint().await.unwrap();
    assert_eq!(tx.get(&undone.id).await.unwrap(), None);

    // A key removed and written again in one later transaction replaces the stored row.
    let ts = tx.commit(Ts(1), None).await.unwrap();
    let mut tx = engine.begin_write().await.unwrap();
    tx.remove_index_entry(index, b"k").await.unwrap();
    tx.put_index_entry(index, b"k", &undone.id).await.unwrap();
    tx.put(&undone).await.unwrap();
    assert!(tx.commit(Ts(2), None).await.unwrap() > ts);

    let mut read = engine.begin_read().await.unwrap();
    let stored = read.scan(index, &all(), Order::Asc, None).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.id, undone.id);
    assert_eq!(read.get(&kept.id).await.unwrap().as_ref(), Some(&kept));
}
