//! The engine contract: one suite every engine must pass, so function code behaves the same on
//! SQLite and PostgreSQL. An engine crate runs it with [`engine_contract_tests!`], giving a
//! factory that opens the same empty database each time it is called within one test.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::json;

use crate::engine::Engine;
use crate::engine::IndexNumber;
use crate::{
    Database, IndexWrite, KeyRange, Order, PaginationOpts, Schema, StoreError, TableDef, WriteSet,
};

pub type OpenEngine =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Engine>> + Send>> + Send + Sync>;

/// Generates one `#[tokio::test]` per contract case. `$factory` is an async expression
/// returning `(guard, OpenEngine)`; the guard (a temp dir, a test schema) lives for the test.
#[macro_export]
macro_rules! engine_contract_tests {
    ($factory:expr) => {
        $crate::engine_contract_tests!(@cases $factory;
            documents_round_trip, index_queries_order_and_bound, pagination_walks_every_page,
            writes_are_visible_to_their_own_transaction_only, snapshots_do_not_see_later_commits,
            commit_timestamps_increase_across_reopen, read_sets_match_the_writes_that_touch_them,
            a_new_index_is_built_from_existing_documents, concurrent_writers_are_serialized,
            commits_are_published_in_timestamp_order, ids_name_their_table, system_tables_are_hidden_from_function_code, a_savepoint_undoes_only_its_own_writes);
    };
    (@cases $factory:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (_guard, open) = $factory.await;
                $crate::testing::$case(open).await;
            }
        )*
    };
}

/// `start..end` (`None`: unbounded), for tests of read and write sets.
pub fn key_range(start: &[u8], end: Option<&[u8]>) -> KeyRange {
    KeyRange {
        start: start.to_vec(),
        end: end.map(<[u8]>::to_vec),
    }
}

/// A write set holding one index write, for tests of read and write sets.
pub fn index_write(index: u32, old: Option<&[u8]>, new: Option<&[u8]>) -> WriteSet {
    WriteSet {
        documents: Default::default(),
        index_writes: vec![IndexWrite {
            index: IndexNumber(index),
            old_key: old.map(<[u8]>::to_vec),
            new_key: new.map(<[u8]>::to_vec),
        }],
    }
}

fn schema() -> Schema {
    Schema::new()
        .table(TableDef::new("notes").index("by_owner", &["owner", "rank"]))
        .table(TableDef::new("tags"))
}

async fn database(open: &OpenEngine, schema: &Schema) -> Database {
    Database::open(open().await, schema)
        .await
        .expect("open database")
}

pub async fn documents_round_trip(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    let id = tx
        .insert("notes", json!({"owner": "a", "rank": 1, "text": "hi"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let doc = db
        .reader()
        .await
        .unwrap()
        .get(id)
        .await
        .unwrap()
        .expect("inserted");
    assert_eq!(doc.get("text"), Some(&json!("hi")));
    assert_eq!(doc.to_json()["_id"], json!(id.encode()));
    assert!(
        doc.creation_time() > 1.6e12,
        "creation time is epoch milliseconds"
    );

    let tx = db.writer().await.unwrap();
    tx.patch(id, json!({"text": "patched", "extra": true}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let doc = db.reader().await.unwrap().get(id).await.unwrap().unwrap();
    assert_eq!(doc.get("text"), Some(&json!("patched")));
    assert_eq!(
        doc.get("owner"),
        Some(&json!("a")),
        "patch keeps other fields"
    );

    let tx = db.writer().await.unwrap();
    tx.replace(id, json!({"owner": "b", "rank": 2}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let doc = db.reader().await.unwrap().get(id).await.unwrap().unwrap();
    assert_eq!(doc.get("text"), None, "replace drops fields");
    assert_eq!(doc.get("owner"), Some(&json!("b")));

    let tx = db.writer().await.unwrap();
    tx.delete(id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(db.reader().await.unwrap().get(id).await.unwrap().is_none());
    let all = db
        .reader()
        .await
        .unwrap()
        .query("notes")
        .collect()
        .await
        .unwrap();
    assert!(all.is_empty(), "a deleted document leaves every index");

    let tx = db.writer().await.unwrap();
    assert!(matches!(tx.delete(id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        tx.insert("notes", json!({"_secret": 1})).await,
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        tx.insert("nope", json!({})).await,
        Err(StoreError::InvalidArgument(_))
    ));
}

pub async fn index_queries_order_and_bound(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    for (owner, rank) in [("a", 3), ("b", 1), ("a", 1), ("a", 2), ("c", 0)] {
        tx.insert("notes", json!({"owner": owner, "rank": rank}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    let ranks = |docs: Vec<crate::Document>| -> Vec<i64> {
        docs.iter()
            .map(|d| d.get("rank").unwrap().as_i64().unwrap())
            .collect()
    };
    let a = r
        .query("notes")
        .with_index("by_owner", |q| q.eq("owner", "a"))
        .collect()
        .await
        .unwrap();
    assert_eq!(ranks(a), vec![1, 2, 3]);
    let desc = r
        .query("notes")
        .with_index("by_owner", |q| q.eq("owner", "a"))
        .order(Order::Desc)
        .collect()
        .await
        .unwrap();
    assert_eq!(ranks(desc), vec![3, 2, 1]);
    let bounded = r
        .query("notes")
        .with_index("by_owner", |q| {
            q.eq("owner", "a").gt("rank", 1).lte("rank", 3)
        })
        .collect()
        .await
        .unwrap();
    assert_eq!(ranks(bounded), vec![2, 3]);
    let top = r
        .query("notes")
        .with_index("by_owner", |q| q.eq("owner", "a"))
        .order(Order::Desc)
        .first()
        .await
        .unwrap();
    assert_eq!(top.unwrap().get("rank"), Some(&json!(3)));
    let two = r.query("notes").take(2).await.unwrap();
    let later = r
        .query("notes")
        .with_index(crate::BY_CREATION_TIME, |q| {
            q.gt("_creationTime", two[1].creation_time())
        })
        .collect()
        .await
        .unwrap();
    assert!(
        later
            .iter()
            .all(|d| d.creation_time() > two[1].creation_time())
    );
    let before_now = r
        .query("notes")
        .with_index(crate::BY_CREATION_TIME, |q| q.lt("_creationTime", 4.0e12))
        .collect()
        .await
        .unwrap();
    assert_eq!(before_now.len(), 5, "_creationTime is usable in ranges");
    assert_eq!(two.len(), 2);
    let unique = r
        .query("notes")
        .with_index("by_owner", |q| q.eq("owner", "c"))
        .unique()
        .await
        .unwrap();
    assert!(unique.is_some());
    assert!(
        r.query("notes")
            .with_index("by_owner", |q| q.eq("owner", "a"))
            .unique()
            .await
            .is_err()
    );
    assert!(
        r.query("notes")
            .with_index("by_owner", |q| q.eq("rank", 1))
            .collect()
            .await
            .is_err(),
        "fields must be used in index order"
    );
    assert!(
        r.query("notes")
            .with_index("nope", |q| q)
            .collect()
            .await
            .is_err()
    );
}

pub async fn pagination_walks_every_page(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    for rank in 0..7 {
        tx.insert("notes", json!({"owner": "a", "rank": rank}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    let mut cursor = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = r
            .query("notes")
            .with_index("by_owner", |q| q.eq("owner", "a"))
            .order(Order::Desc)
            .paginate(PaginationOpts {
                cursor: cursor.clone(),
                ..PaginationOpts::first(3)
            })
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            page.page
                .iter()
                .map(|d| d.get("rank").unwrap().as_i64().unwrap()),
        );
        if page.is_done {
            break;
        }
        cursor = Some(page.continue_cursor);
    }
    assert_eq!(seen, vec![6, 5, 4, 3, 2, 1, 0]);
    assert_eq!(pages, 3);

    // Filtered pages: only matches count toward numItems.
    let tx = db.writer().await.unwrap();
    for rank in 0..600 {
        tx.insert("notes", json!({"owner": "b", "rank": rank}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    let mut cursor = None;
    let mut odd = Vec::new();
    loop {
        let page = r
            .query("notes")
            .with_index("by_owner", |q| q.eq("owner", "b"))
            .filter(|d| {
                d.get("rank")
                    .and_then(|r| r.as_i64())
                    .is_some_and(|r| r % 2 == 1)
            })
            .paginate(PaginationOpts {
                cursor: cursor.clone(),
                ..PaginationOpts::first(100)
            })
            .await
            .unwrap();
        assert!(page.page.len() <= 100);
        odd.extend(
            page.page
                .iter()
                .map(|d| d.get("rank").unwrap().as_i64().unwrap()),
        );
        if page.is_done {
            break;
        }
        cursor = Some(page.continue_cursor);
    }
    assert_eq!(odd, (0..600).filter(|r| r % 2 == 1).collect::<Vec<_>>());
    let bad = r
        .query("notes")
        .paginate(PaginationOpts {
            cursor: Some("%%%".into()),
            ..PaginationOpts::first(3)
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidArgument(_))));

    // A page pinned by its end cursor grows in place when a document lands inside it.
    let query = |r: &crate::Reader| {
        r.query("notes")
            .with_index("by_owner", |q| q.eq("owner", "c"))
            .order(Order::Desc)
    };
    let tx = db.writer().await.unwrap();
    for rank in [10, 20, 30, 40] {
        tx.insert("notes", json!({"owner": "c", "rank": rank}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    let first = query(&r).paginate(PaginationOpts::first(2)).await.unwrap();
    assert_eq!(r.journal(), vec![first.continue_cursor.clone()]);
    let tx = db.writer().await.unwrap();
    tx.insert("notes", json!({"owner": "c", "rank": 50}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rerun = db.reader().await.unwrap().with_journal(r.journal());
    let grown = query(&rerun)
        .paginate(PaginationOpts::first(2))
        .await
        .unwrap();
    let ranks: Vec<i64> = grown
        .page
        .iter()
        .map(|d| d.get("rank").unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(
        ranks,
        vec![50, 40, 30],
        "the newest joins the pinned first page"
    );
    assert_eq!(grown.continue_cursor, first.continue_cursor);
    let rest = query(&rerun)
        .paginate(PaginationOpts {
            cursor: Some(grown.continue_cursor.clone()),
            ..PaginationOpts::first(5)
        })
        .await
        .unwrap();
    assert!(rest.is_done);
    assert_eq!(rest.continue_cursor, crate::END_CURSOR);
    assert_eq!(rest.page.len(), 2);
}

pub async fn writes_are_visible_to_their_own_transaction_only(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    let id = tx.insert("tags", json!({"name": "x"})).await.unwrap();
    assert!(tx.get(id).await.unwrap().is_some(), "reads see own writes");
    assert_eq!(tx.query("tags").collect().await.unwrap().len(), 1);
    tx.rollback().await;
    assert!(
        db.reader().await.unwrap().get(id).await.unwrap().is_none(),
        "rollback discards"
    );
    assert!(matches!(tx.commit().await, Err(StoreError::Finished)));
}

pub async fn snapshots_do_not_see_later_commits(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let before = db.reader().await.unwrap();
    assert!(before.query("tags").collect().await.unwrap().is_empty());
    let tx = db.writer().await.unwrap();
    tx.insert("tags", json!({"name": "late"})).await.unwrap();
    let commit = tx.commit().await.unwrap();
    assert!(
        before.query("tags").collect().await.unwrap().is_empty(),
        "snapshot is stable"
    );
    assert!(before.ts() < commit.ts);
    let after = db.reader().await.unwrap();
    assert_eq!(after.ts(), commit.ts);
    assert_eq!(after.query("tags").collect().await.unwrap().len(), 1);
}

pub async fn commit_timestamps_increase_across_reopen(open: OpenEngine) {
    let mut last = keel_values::Ts::ZERO;
    for _ in 0..2 {
        let db = database(&open, &schema()).await;
        for _ in 0..5 {
            let tx = db.writer().await.unwrap();
            tx.insert("tags", json!({})).await.unwrap();
            let ts = tx.commit().await.unwrap().ts;
            assert!(ts > last, "{ts:?} after {last:?}");
            last = ts;
        }
    }
    let empty = database(&open, &schema()).await.writer().await.unwrap();
    assert_eq!(
        empty.commit().await.unwrap().ts,
        last,
        "an empty commit takes no new timestamp"
    );
}

pub async fn read_sets_match_the_writes_that_touch_them(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    let mine = tx
        .insert("notes", json!({"owner": "a", "rank": 1}))
        .await
        .unwrap();
    let tag = tx.insert("tags", json!({})).await.unwrap();
    tx.commit().await.unwrap();

    let r = db.reader().await.unwrap();
    r.query("notes")
        .with_index("by_owner", |q| q.eq("owner", "a"))
        .collect()
        .await
        .unwrap();
    r.get(tag).await.unwrap();
    let reads = r.finish().await.unwrap();

    let other_owner = insert_and_commit(&db, "notes", json!({"owner": "b", "rank": 1})).await;
    assert!(
        !reads.intersects(&other_owner),
        "another owner's note does not touch the range"
    );
    let same_owner = insert_and_commit(&db, "notes", json!({"owner": "a", "rank": 9})).await;
    assert!(reads.intersects(&same_owner));
    let patched = patch_and_commit(&db, mine, json!({"text": "t"})).await;
    assert!(
        reads.intersects(&patched),
        "a content change inside the range counts"
    );
    let tag_write = patch_and_commit(&db, tag, json!({"n": 1})).await;
    assert!(reads.intersects(&tag_write), "a document read by id");

    // A limited read covers only what it returned.
    let r = db.reader().await.unwrap();
    r.query("notes")
        .with_index("by_owner", |q| q.eq("owner", "a"))
        .first()
        .await
        .unwrap();
    let first_only = r.finish().await.unwrap();
    let beyond = insert_and_commit(&db, "notes", json!({"owner": "a", "rank": 50})).await;
    assert!(
        !first_only.intersects(&beyond),
        "a write past the first result does not change first()"
    );
}

async fn insert_and_commit(db: &Database, table: &str, value: serde_json::Value) -> WriteSet {
    let tx = db.writer().await.unwrap();
    tx.insert(table, value).await.unwrap();
    tx.commit().await.unwrap().writes.clone()
}

async fn patch_and_commit(
    db: &Database,
    id: keel_values::DocumentId,
    value: serde_json::Value,
) -> WriteSet {
    let tx = db.writer().await.unwrap();
    tx.patch(id, value).await.unwrap();
    tx.commit().await.unwrap().writes.clone()
}

pub async fn a_new_index_is_built_from_existing_documents(open: OpenEngine) {
    let before = Schema::new().table(TableDef::new("tags"));
    let db = database(&open, &before).await;
    let tx = db.writer().await.unwrap();
    for name in ["b", "a", "c"] {
        tx.insert("tags", json!({"name": name})).await.unwrap();
    }
    tx.commit().await.unwrap();
    drop(db);
    let after = Schema::new().table(TableDef::new("tags").index("by_name", &["name"]));
    let db = database(&open, &after).await;
    let names: Vec<String> = db
        .reader()
        .await
        .unwrap()
        .query("tags")
        .with_index("by_name", |q| q)
        .collect()
        .await
        .unwrap()
        .iter()
        .map(|d| d.get_str("name").unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["a", "b", "c"]);
}

pub async fn concurrent_writers_are_serialized(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    let counter = tx.insert("tags", json!({"n": 0})).await.unwrap();
    tx.commit().await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                let tx = db.writer().await.unwrap();
                let n = tx
                    .get(counter)
                    .await
                    .unwrap()
                    .unwrap()
                    .get("n")
                    .unwrap()
                    .as_i64()
                    .unwrap();
                tokio::task::yield_now().await;
                tx.patch(counter, json!({"n": n + 1})).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let n = db
        .reader()
        .await
        .unwrap()
        .get(counter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n.get("n"), Some(&json!(20)), "no increment is lost");
}

/// An engine may let the next writer commit while an earlier commit still syncs; live
/// queries must still see every commit, once, in timestamp order.
pub async fn commits_are_published_in_timestamp_order(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let mut feed = db.subscribe();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let tx = db.writer().await.unwrap();
                tx.insert("tags", json!({"n": i})).await.unwrap();
                tx.commit().await.unwrap().ts
            })
        })
        .collect();
    let mut committed = Vec::new();
    for task in tasks {
        committed.push(task.await.unwrap());
    }
    let mut published = Vec::new();
    while published.len() < committed.len() {
        published.push(feed.recv().await.expect("every commit is published").ts);
    }
    assert!(
        published.windows(2).all(|pair| pair[0] < pair[1]),
        "published out of order: {published:?}"
    );
    committed.sort();
    assert_eq!(published, committed, "each commit published once");
}

pub async fn ids_name_their_table(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    let note = tx
        .insert("notes", json!({"owner": "a", "rank": 0}))
        .await
        .unwrap();
    let tag = tx.insert("tags", json!({})).await.unwrap();
    tx.commit().await.unwrap();
    assert_ne!(note.table, tag.table);
    let r = db.reader().await.unwrap();
    assert_eq!(r.normalize_id("notes", &note.encode()), Some(note));
    assert_eq!(r.normalize_id("tags", &note.encode()), None);
    assert_eq!(r.normalize_id("notes", "not-an-id"), None);
    drop(r);
    drop(db);
    let reopened = database(&open, &schema()).await;
    let doc = reopened.reader().await.unwrap().get(note).await.unwrap();
    assert!(doc.is_some(), "table numbers are stable across reopen");
}

pub async fn system_tables_are_hidden_from_function_code(open: OpenEngine) {
    let schema = schema().table(TableDef::system("_bookkeeping"));
    let db = database(&open, &schema).await;
    let tx = db.writer().await.unwrap();
    assert!(tx.insert("_bookkeeping", json!({"n": 1})).await.is_err());
    let id = tx
        .system()
        .insert("_bookkeeping", json!({"n": 1}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    assert!(r.get(id).await.unwrap().is_none(), "not reachable by id");
    assert!(r.query("_bookkeeping").collect().await.is_err());
    assert_eq!(r.normalize_id("_bookkeeping", &id.encode()), None);
    assert_eq!(
        r.system()
            .query("_bookkeeping")
            .collect()
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        Schema::new()
            .table(TableDef::new("_sneaky"))
            .validate()
            .is_err(),
        "user tables cannot take system names"
    );
}

pub async fn a_savepoint_undoes_only_its_own_writes(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    tx.savepoint().await.unwrap();
    let kept = tx.insert("tags", json!({"name": "kept"})).await.unwrap();
    tx.release_savepoint().await.unwrap();
    tx.savepoint().await.unwrap();
    let undone = tx.insert("tags", json!({"name": "undone"})).await.unwrap();
    tx.patch(kept, json!({"name": "changed"})).await.unwrap();
    tx.rollback_to_savepoint().await.unwrap();
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    assert_eq!(
        r.get(kept).await.unwrap().unwrap().get_str("name"),
        Some("kept")
    );
    assert!(r.get(undone).await.unwrap().is_none());
    assert_eq!(
        r.query("tags").collect().await.unwrap().len(),
        1,
        "index entries rolled back too"
    );
}
