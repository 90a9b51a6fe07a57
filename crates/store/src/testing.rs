//! The engine contract: one suite every engine must pass, so function code behaves the same on
//! SQLite and PostgreSQL. An engine crate runs it with [`engine_contract_tests!`], giving a
//! factory that opens the same empty database each time it is called within one test.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::engine::Engine;
use crate::engine::IndexNumber;
use crate::{
    Database, IndexWrite, KeyRange, Order, PaginationOpts, Schema, StoreError, TableDef, WriteSet,
};

pub type OpenEngine =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn Engine>> + Send>> + Send + Sync>;

/// Generates one `#[tokio::test]` per contract case. `$factory` is an async expression
/// returning `(guard, OpenEngine)`; the guard (a temp dir, a test database) lives for the
/// test. Engines it opens may be open at the same time, as two processes would have them.
#[macro_export]
macro_rules! engine_contract_tests {
    ($factory:expr) => {
        $crate::engine_contract_tests!(@cases $factory;
            documents_round_trip, index_queries_order_and_bound, pagination_walks_every_page,
            writes_are_visible_to_their_own_transaction_only, snapshots_do_not_see_later_commits,
            commit_timestamps_increase_across_reopen, read_sets_match_the_writes_that_touch_them,
            a_new_index_is_built_from_existing_documents, concurrent_writers_are_serialized,
            an_index_added_by_a_newer_schema_is_maintained_by_an_older_one,
            an_index_whose_build_did_not_commit_is_built_by_the_next_instance,
            a_redefined_index_is_maintained_with_its_new_fields_and_not_queried_by_the_old,
            an_index_dropped_from_the_schema_is_still_right_when_it_returns,
            undeclared_indexes_are_dropped_on_request,
            commits_are_published_in_timestamp_order, ids_name_their_table,
            ids_and_creation_times_come_from_the_runtime, system_tables_are_hidden_from_function_code, a_savepoint_undoes_only_its_own_writes,
            prefix_ranges_hold_the_strings_that_start_with_the_prefix,
            unions_merge_ranges_in_order_and_return_each_document_once,
            union_pages_hold_with_filters_budgets_and_pinned_ends,
            unions_merge_tables_newest_first, counts_stop_at_their_limit,
            scanning_many_ranges_at_once_matches_scanning_each,
            two_databases_on_one_store_see_each_others_commits,
            a_commit_log_reads_back_every_commit_in_order);
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

fn tags_with(index: Option<(&str, &[&str])>) -> Schema {
    let table = TableDef::new("tags");
    Schema::new().table(match index {
        Some((name, fields)) => table.index(name, fields),
        None => table,
    })
}

async fn names_by(db: &Database, index: &str) -> crate::Result<Vec<String>> {
    Ok(db
        .reader()
        .await?
        .query("tags")
        .with_index(index, |q| q)
        .collect()
        .await?
        .iter()
        .map(|d| d.get_str("name").unwrap().to_string())
        .collect())
}

async fn insert_tags(db: &Database, tags: &[Json]) -> Vec<keel_values::DocumentId> {
    let tx = db.writer().await.unwrap();
    let mut ids = Vec::new();
    for tag in tags {
        ids.push(tx.insert("tags", tag.clone()).await.unwrap());
    }
    tx.commit().await.unwrap();
    ids
}

/// A rolling upgrade: an instance of the new version adds an index while one of the old
/// version keeps writing. The old one learns of the index from the catalog's version and
/// maintains it, so the new one's queries on it miss nothing the old one wrote.
pub async fn an_index_added_by_a_newer_schema_is_maintained_by_an_older_one(open: OpenEngine) {
    let old = database(&open, &tags_with(None)).await;
    let ids = insert_tags(&old, &[json!({"name": "m"}), json!({"name": "x"})]).await;
    let new = database(&open, &tags_with(Some(("by_name", &["name"])))).await;
    assert_eq!(names_by(&new, "by_name").await.unwrap(), ["m", "x"]);

    insert_tags(&old, &[json!({"name": "a"})]).await;
    let tx = old.writer().await.unwrap();
    tx.patch(ids[1], json!({"name": "b"})).await.unwrap();
    tx.delete(ids[0]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        names_by(&new, "by_name").await.unwrap(),
        ["a", "b"],
        "the old version's insert, rename and delete are in the new index"
    );
    let err = names_by(&old, "by_name").await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

/// An instance that recorded a new index but stopped before its build committed (or one still
/// building it) leaves it unbuilt; the next instance to open builds it rather than reading
/// it half-built.
pub async fn an_index_whose_build_did_not_commit_is_built_by_the_next_instance(open: OpenEngine) {
    let old = database(&open, &tags_with(None)).await;
    insert_tags(&old, &[json!({"name": "b"}), json!({"name": "a"})]).await;
    let with_index = tags_with(Some(("by_name", &["name"])));
    let (specs, _) = with_index.validate().unwrap();
    let synced = open().await.sync_catalog(&specs).await.unwrap();
    let index = synced.tables[0]
        .indexes
        .iter()
        .find(|i| i.name == "by_name")
        .unwrap();
    assert!(index.needs_rebuild, "recorded, not built");

    let next = database(&open, &with_index).await;
    assert_eq!(names_by(&next, "by_name").await.unwrap(), ["a", "b"]);
    let again = open().await.sync_catalog(&specs).await.unwrap();
    assert!(
        again.tables[0].indexes.iter().all(|i| !i.needs_rebuild),
        "built once, for every later instance"
    );
}

/// A newer version gives an index other fields. Instances of the old version keep it right
/// with the new fields, and refuse to query it with a clear error rather than reading keys in
/// an order they do not expect.
pub async fn a_redefined_index_is_maintained_with_its_new_fields_and_not_queried_by_the_old(
    open: OpenEngine,
) {
    let old = database(&open, &tags_with(Some(("by_key", &["name"])))).await;
    insert_tags(
        &old,
        &[
            json!({"name": "a", "rank": 2}),
            json!({"name": "b", "rank": 1}),
        ],
    )
    .await;
    assert_eq!(names_by(&old, "by_key").await.unwrap(), ["a", "b"]);
    let new = database(&open, &tags_with(Some(("by_key", &["rank"])))).await;
    assert_eq!(names_by(&new, "by_key").await.unwrap(), ["b", "a"]);

    insert_tags(&old, &[json!({"name": "c", "rank": 0})]).await;
    assert_eq!(names_by(&new, "by_key").await.unwrap(), ["c", "b", "a"]);
    let err = names_by(&old, "by_key").await.unwrap_err().to_string();
    assert!(
        err.contains("tags.by_key was redefined") && err.contains("fields rank"),
        "{err}"
    );
}

/// An index a version no longer declares stays in the catalog and is still maintained (an
/// older instance may be reading it), so declaring it again needs no rebuild and misses
/// nothing written meanwhile.
pub async fn an_index_dropped_from_the_schema_is_still_right_when_it_returns(open: OpenEngine) {
    let with_index = tags_with(Some(("by_name", &["name"])));
    let first = database(&open, &with_index).await;
    insert_tags(&first, &[json!({"name": "b"})]).await;
    drop(first);
    let without = database(&open, &tags_with(None)).await;
    insert_tags(&without, &[json!({"name": "a"})]).await;
    drop(without);
    let back = database(&open, &with_index).await;
    assert_eq!(names_by(&back, "by_name").await.unwrap(), ["a", "b"]);
}

/// Once no instance of a version that declared it is left, an undeclared index can be
/// dropped: it leaves the catalog with its entries, an instance still declaring it finds it
/// gone (queries fail, writes skip it), and a version declaring it again builds it anew.
pub async fn undeclared_indexes_are_dropped_on_request(open: OpenEngine) {
    let with_index = tags_with(Some(("by_name", &["name"])));
    let old = database(&open, &with_index).await;
    insert_tags(&old, &[json!({"name": "b"})]).await;
    let new = database(&open, &tags_with(None)).await;
    assert_eq!(
        new.drop_undeclared_indexes().await.unwrap(),
        [("tags".to_string(), "by_name".to_string())]
    );
    assert!(new.drop_undeclared_indexes().await.unwrap().is_empty());
    let mut read = open().await.begin_read().await.unwrap();
    let stored = read.catalog().await.unwrap();
    assert!(
        stored.indexes.iter().all(|i| i.name != "by_name"),
        "{stored:?}"
    );
    drop(read);

    let err = names_by(&old, "by_name").await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    insert_tags(&old, &[json!({"name": "a"})]).await;
    let back = database(&open, &with_index).await;
    assert_eq!(names_by(&back, "by_name").await.unwrap(), ["a", "b"]);
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
        match feed.recv().await.expect("every commit is published") {
            crate::Change::Commit(commit) => published.push(commit.ts),
            crate::Change::Unknown(ts) => panic!("a commit of this process at {ts:?} went unknown"),
        }
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

/// A document's id (time then random bytes) and `_creationTime` come from the database's
/// injected clock and randomness, so a test can fix them; commit timestamps still increase
/// when that clock is far behind the last commit.
pub async fn ids_and_creation_times_come_from_the_runtime(open: OpenEngine) {
    use keel_runtime::{Entropy, ManualClock, Runtime, SeededEntropy};
    const START_SECS: u64 = 1_700_000_000;
    let clock = Arc::new(ManualClock::new(START_SECS));
    let runtime = Runtime::new(clock.clone(), Arc::new(SeededEntropy::new(42)));
    let before = database(&open, &schema()).await;
    let tx = before.writer().await.unwrap();
    tx.insert("tags", json!({})).await.unwrap();
    let previous = tx.commit().await.unwrap().ts;
    drop(before);

    let db = Database::open_with_runtime(open().await, &schema(), runtime)
        .await
        .expect("open database");
    let tx = db.writer().await.unwrap();
    let first = tx
        .insert("notes", json!({"owner": "a", "rank": 0}))
        .await
        .unwrap();
    clock.advance(std::time::Duration::from_millis(1_500));
    let second = tx
        .insert("notes", json!({"owner": "a", "rank": 1}))
        .await
        .unwrap();
    let commit = tx.commit().await.unwrap();
    assert!(
        commit.ts > previous,
        "timestamps increase whatever the clock says"
    );

    let expected = SeededEntropy::new(42);
    let mut random = [0; 8];
    expected.fill(&mut random);
    assert_eq!(
        first,
        keel_values::DocumentId::new_at(first.table, START_SECS * 1_000_000_000, random)
    );
    expected.fill(&mut random);
    assert_eq!(
        second,
        keel_values::DocumentId::new_at(
            second.table,
            START_SECS * 1_000_000_000 + 1_500_000_000,
            random
        )
    );
    let reader = db.reader().await.unwrap();
    for (id, millis) in [(first, 1_700_000_000_000.0), (second, 1_700_000_001_500.0)] {
        let doc = reader.get(id).await.unwrap().expect("inserted");
        assert_eq!(doc.to_json()["_creationTime"], json!(millis));
    }
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

fn people_schema() -> Schema {
    Schema::new()
        .table(
            TableDef::new("people")
                .index("by_group_first", &["group", "first"])
                .index("by_group_last", &["group", "last"]),
        )
        .table(TableDef::new("notes").index("by_owner", &["owner", "rank"]))
        .table(TableDef::new("tags"))
}

fn firsts(docs: &[crate::Document]) -> Vec<String> {
    docs.iter()
        .map(|d| d.get_str("first").unwrap_or("?").to_string())
        .collect()
}

pub async fn prefix_ranges_hold_the_strings_that_start_with_the_prefix(open: OpenEngine) {
    let db = database(&open, &people_schema()).await;
    let tx = db.writer().await.unwrap();
    for first in [
        json!("ada"),
        json!("Ada"),
        json!("adam"),
        json!("ad"),
        json!("a"),
        json!("b"),
        json!("ad\u{0}x"),
        json!("adé"),
        json!(5),
        Json::Null,
    ] {
        tx.insert("people", json!({"group": "g", "first": first}))
            .await
            .unwrap();
    }
    tx.insert("people", json!({"group": "g"})).await.unwrap();
    tx.insert("people", json!({"group": "h", "first": "adam"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let r = db.reader().await.unwrap();
    let with_prefix = |prefix: &'static str| {
        r.query("people")
            .with_index("by_group_first", move |q| {
                q.eq("group", "g").prefix("first", prefix)
            })
            .collect()
    };
    let ad = with_prefix("ad").await.unwrap();
    assert_eq!(firsts(&ad), ["ad", "ad\u{0}x", "ada", "adam", "adé"]);
    assert_eq!(firsts(&with_prefix("ada").await.unwrap()), ["ada", "adam"]);
    assert_eq!(firsts(&with_prefix("adé").await.unwrap()), ["adé"]);
    assert_eq!(firsts(&with_prefix("ad\u{0}").await.unwrap()), ["ad\u{0}x"]);
    assert!(with_prefix("z").await.unwrap().is_empty());
    let all_strings = with_prefix("").await.unwrap();
    assert_eq!(all_strings.len(), 8, "strings only: not 5, null or missing");
    let descending = r
        .query("people")
        .with_index("by_group_first", |q| {
            q.eq("group", "g").prefix("first", "ad")
        })
        .order(Order::Desc)
        .take(2)
        .await
        .unwrap();
    assert_eq!(firsts(&descending), ["adé", "adam"]);
    let two_bounds = r
        .query("people")
        .with_index("by_group_first", |q| {
            q.eq("group", "g").prefix("first", "a").gt("first", "b")
        })
        .collect()
        .await;
    assert!(
        matches!(&two_bounds, Err(StoreError::InvalidArgument(m)) if m.contains("two lower")),
        "{two_bounds:?}"
    );
    let reads = r.finish().await.unwrap();

    let inside = insert_and_commit(&db, "people", json!({"group": "g", "first": "adz"})).await;
    assert!(reads.intersects(&inside), "a new string with the prefix");
    let outside = insert_and_commit(&db, "people", json!({"group": "g", "first": "ae"})).await;
    let r = db.reader().await.unwrap();
    r.query("people")
        .with_index("by_group_first", |q| {
            q.eq("group", "g").prefix("first", "ad")
        })
        .collect()
        .await
        .unwrap();
    let reads = r.finish().await.unwrap();
    assert!(!reads.intersects(&outside), "a string without the prefix");
}

/// Forty people in two groups with distinct first and last names; some match "a" on both.
async fn seed_people(db: &Database) {
    let tx = db.writer().await.unwrap();
    for i in 0..40 {
        let first = format!("{}{i:02}", ["a", "b", "ab"][i % 3]);
        let last = format!("{}{:02}", ["a", "c"][i % 2], 99 - i);
        let group = ["x", "y"][i % 4 / 3];
        tx.insert(
            "people",
            json!({"group": group, "first": first, "last": last, "i": i}),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// The union the people tests read: names starting with "a", first or last, in both groups.
fn people_union(r: &crate::Reader, order: Order) -> crate::Union {
    let mut union = r.union().order(order);
    for group in ["x", "y"] {
        union = union
            .range("people", "by_group_first", move |q| {
                q.eq("group", group).prefix("first", "a")
            })
            .range("people", "by_group_last", move |q| {
                q.eq("group", group).prefix("last", "a")
            });
    }
    union
}

/// What the union must return: each matching person once, at the first of its matching names
/// in `order`.
fn expected_people(order: Order) -> Vec<i64> {
    let mut keyed: Vec<(String, i64)> = (0..40usize)
        .filter_map(|i| {
            let first = format!("{}{i:02}", ["a", "b", "ab"][i % 3]);
            let last = format!("{}{:02}", ["a", "c"][i % 2], 99 - i);
            let names: Vec<String> = [first, last]
                .into_iter()
                .filter(|n| n.starts_with('a'))
                .collect();
            let pick = match order {
                Order::Asc => names.iter().min(),
                Order::Desc => names.iter().max(),
            };
            pick.map(|name| (name.clone(), i as i64))
        })
        .collect();
    keyed.sort();
    if order == Order::Desc {
        keyed.reverse();
    }
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn numbers(docs: &[crate::Document]) -> Vec<i64> {
    docs.iter()
        .map(|d| d.get("i").and_then(Json::as_i64).unwrap_or(-1))
        .collect()
}

/// Every page of `make()`'s union, `size` at a time; also checks that a pinned end (a live
/// query's re-run) returns each page again exactly.
async fn union_pages(
    make: impl Fn() -> crate::Union,
    size: usize,
) -> (Vec<crate::Document>, usize) {
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = make()
            .paginate(PaginationOpts {
                cursor: cursor.clone(),
                ..PaginationOpts::first(size)
            })
            .await
            .unwrap();
        assert!(page.page.len() <= size);
        let pinned = make()
            .paginate(PaginationOpts {
                cursor: cursor.clone(),
                end_cursor: Some(page.continue_cursor.clone()),
                ..PaginationOpts::first(size)
            })
            .await
            .unwrap();
        assert_eq!(numbers(&pinned.page), numbers(&page.page), "a pinned end");
        pages += 1;
        all.extend(page.page);
        if page.is_done {
            assert_eq!(page.continue_cursor, crate::END_CURSOR);
            return (all, pages);
        }
        assert!(pages < 200, "pages never end");
        cursor = Some(page.continue_cursor);
    }
}

pub async fn unions_merge_ranges_in_order_and_return_each_document_once(open: OpenEngine) {
    let db = database(&open, &people_schema()).await;
    seed_people(&db).await;
    let r = db.reader().await.unwrap();
    for order in [Order::Asc, Order::Desc] {
        let expected = expected_people(order);
        assert!(expected.len() > 20, "{expected:?}");
        let all = people_union(&r, order).collect().await.unwrap();
        assert_eq!(numbers(&all), expected, "{order:?}");
        for size in [1, 3, 7, 100] {
            let (paged, pages) = union_pages(|| people_union(&r, order), size).await;
            assert_eq!(numbers(&paged), expected, "{order:?} pages of {size}");
            assert_eq!(
                pages,
                expected.len().div_ceil(size),
                "{order:?} pages of {size}"
            );
        }
        let first_five = people_union(&r, order).take(5).await.unwrap();
        assert_eq!(numbers(&first_five), expected[..5]);
    }
    let bad = people_union(&r, Order::Asc)
        .paginate(PaginationOpts {
            cursor: Some("AAAA_w".into()),
            ..PaginationOpts::first(3)
        })
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidArgument(_))),
        "{bad:?}"
    );
    assert!(r.union().collect().await.is_err(), "an empty union");

    // A union's read set covers what it read: a new match invalidates it, a non-match not.
    let r = db.reader().await.unwrap();
    people_union(&r, Order::Asc).collect().await.unwrap();
    let reads = r.finish().await.unwrap();
    let other = insert_and_commit(
        &db,
        "people",
        json!({"group": "x", "first": "b", "last": "c"}),
    )
    .await;
    assert!(!reads.intersects(&other));
    let matching = insert_and_commit(
        &db,
        "people",
        json!({"group": "y", "first": "b", "last": "a"}),
    )
    .await;
    assert!(reads.intersects(&matching));
}

pub async fn union_pages_hold_with_filters_budgets_and_pinned_ends(open: OpenEngine) {
    let db = database(&open, &people_schema()).await;
    seed_people(&db).await;
    let r = db.reader().await.unwrap();
    let even = |d: &crate::Document| {
        d.get("i")
            .and_then(Json::as_i64)
            .is_some_and(|i| i % 2 == 0)
    };
    for order in [Order::Asc, Order::Desc] {
        let expected: Vec<i64> = expected_people(order)
            .into_iter()
            .filter(|i| i % 2 == 0)
            .collect();
        let (filtered, _) = union_pages(|| people_union(&r, order).filter(even), 4).await;
        assert_eq!(numbers(&filtered), expected, "{order:?} filtered");
        // A budget of 3 entries per call: short pages, the same documents in the end.
        let (budgeted, pages) =
            union_pages(|| people_union(&r, order).filter(even).max_reads(3), 4).await;
        assert_eq!(numbers(&budgeted), expected, "{order:?} with a read budget");
        assert!(
            pages > expected.len() / 4 + 1,
            "the budget made pages short"
        );
        let page = people_union(&r, order)
            .filter(even)
            .paginate(PaginationOpts {
                maximum_rows_read: Some(1),
                ..PaginationOpts::first(10)
            })
            .await
            .unwrap();
        assert!(!page.is_done && page.page.len() <= 1, "{page:?}");
    }

    // A page pinned to its end grows in place when a document lands inside it.
    let first = people_union(&r, Order::Asc)
        .paginate(PaginationOpts::first(5))
        .await
        .unwrap();
    let end = first.continue_cursor.clone();
    let before = numbers(&first.page);
    insert_and_commit(
        &db,
        "people",
        json!({"group": "x", "first": "a", "last": "z", "i": 100}),
    )
    .await;
    let r = db.reader().await.unwrap();
    let pinned = people_union(&r, Order::Asc)
        .paginate(PaginationOpts {
            end_cursor: Some(end.clone()),
            ..PaginationOpts::first(5)
        })
        .await
        .unwrap();
    assert_eq!(numbers(&pinned.page)[0], 100, "\"a\" sorts first");
    assert_eq!(numbers(&pinned.page)[1..], before);
    assert_eq!(pinned.continue_cursor, end);
}

pub async fn unions_merge_tables_newest_first(open: OpenEngine) {
    let db = database(&open, &people_schema()).await;
    for i in 0..12 {
        let table = if i % 3 == 0 { "tags" } else { "notes" };
        insert_and_commit(&db, table, json!({"i": i})).await;
    }
    let r = db.reader().await.unwrap();
    let union = || {
        r.union()
            .range("notes", crate::BY_CREATION_TIME, |q| q)
            .range("tags", crate::BY_CREATION_TIME, |q| q)
            .order(Order::Desc)
    };
    let (all, _) = union_pages(union, 5).await;
    assert_eq!(numbers(&all), (0..12).rev().collect::<Vec<_>>());
}

pub async fn counts_stop_at_their_limit(open: OpenEngine) {
    let db = database(&open, &schema()).await;
    let tx = db.writer().await.unwrap();
    for rank in 0..30 {
        let owner = if rank < 20 { "a" } else { "b" };
        tx.insert("notes", json!({"owner": owner, "rank": rank}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let r = db.reader().await.unwrap();
    assert_eq!(r.query("notes").count(1000).await.unwrap(), 30);
    assert_eq!(r.query("notes").count(7).await.unwrap(), 7);
    let owner_a = || {
        r.query("notes")
            .with_index("by_owner", |q| q.eq("owner", "a").gte("rank", 5))
    };
    assert_eq!(owner_a().count(100).await.unwrap(), 15);
    assert!(owner_a().filter(|_| true).count(100).await.is_err());
    assert_eq!(r.query("tags").count(10).await.unwrap(), 0);
    assert_eq!(r.table_names(), ["notes", "tags"]);
    let reads = r.finish().await.unwrap();
    let added = insert_and_commit(&db, "notes", json!({"owner": "a", "rank": 50})).await;
    assert!(reads.intersects(&added), "a count reads its whole range");
}

/// [`crate::engine::EngineRead::scan_many`] answers each range exactly as `scan` does: with
/// and without an end, both orders, limits under and over what a range holds, an empty range
/// and an index without entries, from a reader and from a writer (which sees its own writes).
pub async fn scanning_many_ranges_at_once_matches_scanning_each(open: OpenEngine) {
    use crate::engine::{RangeScan, StoredDoc};
    use keel_values::{DocumentId, TableNumber, Ts};
    // Index numbers far from any a schema would be given; entries need no catalog row.
    const A: IndexNumber = IndexNumber(9001);
    const B: IndexNumber = IndexNumber(9002);
    const EMPTY: IndexNumber = IndexNumber(9003);
    let engine = open().await;
    let mut tx = engine.begin_write().await.unwrap();
    for i in 0u8..12 {
        let doc = StoredDoc {
            id: DocumentId::new_random(TableNumber(1)),
            creation_time: f64::from(i),
            body: serde_json::Map::from_iter([("i".to_string(), json!(i))]),
        };
        tx.put(&doc).await.unwrap();
        let index = if i % 3 == 0 { B } else { A };
        tx.put_index_entry(index, &[0x10, i], &doc.id)
            .await
            .unwrap();
    }
    let scans = |limit: usize| {
        vec![
            RangeScan {
                index: A,
                range: key_range(&[0x10, 2], Some(&[0x10, 9])),
                limit,
            },
            RangeScan {
                index: A,
                range: key_range(&[], None),
                limit,
            },
            RangeScan {
                index: B,
                range: key_range(&[0x10, 4], None),
                limit,
            },
            RangeScan {
                index: B,
                range: key_range(&[0x10, 5], Some(&[0x10, 5])),
                limit,
            },
            RangeScan {
                index: EMPTY,
                range: key_range(&[], None),
                limit,
            },
        ]
    };
    let keys = |rows: Vec<(Vec<u8>, StoredDoc)>| -> Vec<(Vec<u8>, Json)> {
        rows.into_iter()
            .map(|(key, doc)| (key, Json::Object(doc.body)))
            .collect()
    };
    for order in [Order::Asc, Order::Desc] {
        for limit in [1, 3, 100] {
            let together = tx.scan_many(&scans(limit), order).await.unwrap();
            assert_eq!(together.len(), 5);
            for (scan, rows) in scans(limit).iter().zip(together) {
                let alone = tx
                    .scan(scan.index, &scan.range, order, Some(limit))
                    .await
                    .unwrap();
                assert_eq!(keys(rows), keys(alone), "{scan:?} {order:?}, in the writer");
            }
        }
    }
    tx.commit(Ts(1), None).await.unwrap();
    let mut reader = engine.begin_read().await.unwrap();
    let together = reader.scan_many(&scans(4), Order::Desc).await.unwrap();
    let counts: Vec<usize> = together.iter().map(Vec::len).collect();
    // A holds 1, 2, 4, 5, 7, 8, 10, 11; B holds 0, 3, 6, 9.
    assert_eq!(counts, [4, 4, 2, 0, 0]);
    assert_eq!(
        together[0][0].0,
        vec![0x10, 8],
        "the first range's last key below its end"
    );
    assert!(reader.scan_many(&[], Order::Asc).await.unwrap().is_empty());
}

/// Two processes on one database (two instances, or `keel backfill` beside `keel serve`):
/// each sees the other's commits, takes them as foreign (so live queries re-check), and
/// commit timestamps keep increasing across both; their writers are serialized together.
pub async fn two_databases_on_one_store_see_each_others_commits(open: OpenEngine) {
    let a = database(&open, &schema()).await;
    let b = database(&open, &schema()).await;

    let tx = a.writer().await.unwrap();
    let note = tx
        .insert("notes", json!({"owner": "a", "rank": 1}))
        .await
        .unwrap();
    let first = tx.commit().await.unwrap();
    assert!(!a.is_foreign_ts(first.ts), "a's own commit");

    let seen_by_b = b.reader().await.unwrap();
    assert_eq!(seen_by_b.ts(), first.ts, "b's snapshot holds a's commit");
    assert!(seen_by_b.get(note).await.unwrap().is_some());
    assert!(
        b.is_foreign_ts(seen_by_b.ts()),
        "and knows it is not its own"
    );

    let tx = b.writer().await.unwrap();
    tx.patch(note, json!({"rank": 2})).await.unwrap();
    let second = tx.commit().await.unwrap();
    assert!(second.ts > first.ts, "{:?} after {:?}", second.ts, first.ts);
    assert_eq!(second.base, first.ts, "b's writer began at a's commit");

    let seen_by_a = a.reader().await.unwrap();
    assert_eq!(seen_by_a.ts(), second.ts);
    let doc = seen_by_a.get(note).await.unwrap().unwrap();
    assert_eq!(doc.get("rank"), Some(&json!(2)), "a reads b's write");
    assert!(a.is_foreign_ts(seen_by_a.ts()));
    assert_eq!(
        seen_by_b.get(note).await.unwrap().unwrap().get("rank"),
        Some(&json!(1)),
        "an older snapshot stays as it was"
    );

    // Read-modify-write through both at once: no increment lost, every timestamp new.
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let db = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let tx = db.writer().await.unwrap();
                let rank = tx
                    .get(note)
                    .await
                    .unwrap()
                    .unwrap()
                    .get("rank")
                    .unwrap()
                    .as_i64();
                tokio::task::yield_now().await;
                tx.patch(note, json!({"rank": rank.unwrap() + 1}))
                    .await
                    .unwrap();
                tx.commit().await.unwrap().ts
            })
        })
        .collect();
    let mut stamps = Vec::new();
    for task in tasks {
        stamps.push(task.await.unwrap());
    }
    let doc = a.reader().await.unwrap().get(note).await.unwrap().unwrap();
    assert_eq!(doc.get("rank"), Some(&json!(18)), "no increment is lost");
    stamps.sort();
    stamps.dedup();
    assert_eq!(stamps.len(), 16, "each commit has a timestamp of its own");
    assert!(stamps[0] > second.ts);
}

/// An engine that keeps a commit log reads back every commit after a timestamp, oldest first,
/// each with the write set it was committed with. One that keeps none says so, and the store
/// then does not claim to follow other processes' commits.
pub async fn a_commit_log_reads_back_every_commit_in_order(open: OpenEngine) {
    let engine = open().await;
    let db = Database::open(Arc::clone(&engine), &schema())
        .await
        .expect("open database");
    let Some(log) = engine.commit_log() else {
        assert!(!db.follows_other_processes());
        return;
    };
    assert!(db.follows_other_processes());
    let start = db.reader().await.unwrap().ts();
    let mut commits = Vec::new();
    let tx = db.writer().await.unwrap();
    let note = tx
        .insert("notes", json!({"owner": "a", "rank": 1}))
        .await
        .unwrap();
    tx.insert("tags", json!({"name": "x"})).await.unwrap();
    commits.push(tx.commit().await.unwrap());
    for rank in 2..5 {
        let tx = db.writer().await.unwrap();
        tx.patch(note, json!({ "rank": rank })).await.unwrap();
        commits.push(tx.commit().await.unwrap());
    }
    let tx = db.writer().await.unwrap();
    tx.delete(note).await.unwrap();
    commits.push(tx.commit().await.unwrap());

    let read = |after, limit| {
        let log = Arc::clone(&log);
        async move {
            match log.commits_after(after, limit).await.unwrap() {
                crate::engine::LogRead::Commits(entries) => entries,
                crate::engine::LogRead::Truncated { latest } => {
                    panic!("nothing was pruned, yet truncated (latest {latest:?})")
                }
            }
        }
    };
    let entries = read(start, 100).await;
    assert_eq!(entries.len(), commits.len());
    for (entry, commit) in entries.iter().zip(&commits) {
        assert_eq!(entry.ts, commit.ts);
        let writes =
            crate::log_codec::decode(entry.writes.as_deref().expect("writes known")).unwrap();
        assert_eq!(writes, commit.writes);
    }
    let first_two = read(start, 2).await;
    assert_eq!(
        first_two.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [commits[0].ts, commits[1].ts]
    );
    let rest = read(commits[1].ts, 100).await;
    assert_eq!(rest.len(), commits.len() - 2, "strictly after");
    assert!(read(commits[4].ts, 100).await.is_empty());
}
