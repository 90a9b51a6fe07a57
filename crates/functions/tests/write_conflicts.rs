//! A mutation whose transaction loses to a concurrent writer runs again, and its effects
//! commit once; after `MAX_ATTEMPTS` lost attempts the caller gets `CONFLICT`. The conflicts
//! are injected around a real SQLite engine, at commit and in the middle of a run, as a
//! PostgreSQL engine reports them when another instance wins.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use async_trait::async_trait;
use keel_functions::{
    Call, Caller, ErrorCode, Executor, FnResult, FunctionKind, MutationCtx, NoArgs, NoRoles,
    Registry,
};
use keel_store::engine::{
    Engine, EngineRead, EngineWrite, IndexNumber, StoredCatalog, StoredDoc, SyncedCatalog,
    TableSpec,
};
use keel_store::{Database, KeyRange, Order, Schema, StoreError, TableDef};
use keel_store_sqlite::SqliteEngine;
use keel_values::{DocumentId, TableNumber, Ts};
use serde_json::json;

/// How many of the next commits, and of the next document writes, lose.
#[derive(Default)]
struct Losses {
    commits: AtomicU32,
    puts: AtomicU32,
}

impl Losses {
    fn lose(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

struct Conflicting {
    inner: Arc<dyn Engine>,
    losses: Arc<Losses>,
}

#[async_trait]
impl Engine for Conflicting {
    fn name(&self) -> &'static str {
        "conflicting"
    }
    async fn sync_catalog(&self, wanted: &[TableSpec]) -> keel_store::Result<SyncedCatalog> {
        self.inner.sync_catalog(wanted).await
    }
    async fn begin_read(&self) -> keel_store::Result<Box<dyn EngineRead>> {
        self.inner.begin_read().await
    }
    async fn begin_write(&self) -> keel_store::Result<Box<dyn EngineWrite>> {
        Ok(Box::new(ConflictingWrite {
            inner: self.inner.begin_write().await?,
            losses: Arc::clone(&self.losses),
        }))
    }
    async fn ping(&self) -> keel_store::Result<()> {
        self.inner.ping().await
    }
    async fn probe_write(&self) -> keel_store::Result<()> {
        self.inner.probe_write().await
    }
}

struct ConflictingWrite {
    inner: Box<dyn EngineWrite>,
    losses: Arc<Losses>,
}

#[async_trait]
impl EngineRead for ConflictingWrite {
    fn ts(&self) -> Ts {
        self.inner.ts()
    }
    async fn get(&mut self, id: &DocumentId) -> keel_store::Result<Option<StoredDoc>> {
        self.inner.get(id).await
    }
    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> keel_store::Result<Vec<(Vec<u8>, StoredDoc)>> {
        self.inner.scan(index, range, order, limit).await
    }
    async fn count(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        limit: usize,
    ) -> keel_store::Result<usize> {
        self.inner.count(index, range, limit).await
    }
    async fn table_documents(&mut self, table: TableNumber) -> keel_store::Result<Vec<StoredDoc>> {
        self.inner.table_documents(table).await
    }
    fn catalog_version(&self) -> u64 {
        self.inner.catalog_version()
    }
    async fn catalog(&mut self) -> keel_store::Result<StoredCatalog> {
        self.inner.catalog().await
    }
}

#[async_trait]
impl EngineWrite for ConflictingWrite {
    async fn put(&mut self, doc: &StoredDoc) -> keel_store::Result<()> {
        if Losses::lose(&self.losses.puts) {
            return Err(StoreError::conflict("injected: a concurrent update won"));
        }
        self.inner.put(doc).await
    }
    async fn remove(&mut self, id: &DocumentId) -> keel_store::Result<()> {
        self.inner.remove(id).await
    }
    async fn put_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
        id: &DocumentId,
    ) -> keel_store::Result<()> {
        self.inner.put_index_entry(index, key, id).await
    }
    async fn remove_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
    ) -> keel_store::Result<()> {
        self.inner.remove_index_entry(index, key).await
    }
    async fn clear_index(&mut self, index: IndexNumber) -> keel_store::Result<()> {
        self.inner.clear_index(index).await
    }
    async fn mark_index_built(&mut self, index: IndexNumber) -> keel_store::Result<()> {
        self.inner.mark_index_built(index).await
    }
    async fn drop_index(&mut self, index: IndexNumber) -> keel_store::Result<()> {
        self.inner.drop_index(index).await
    }
    async fn savepoint(&mut self) -> keel_store::Result<()> {
        self.inner.savepoint().await
    }
    async fn release_savepoint(&mut self) -> keel_store::Result<()> {
        self.inner.release_savepoint().await
    }
    async fn rollback_to_savepoint(&mut self) -> keel_store::Result<()> {
        self.inner.rollback_to_savepoint().await
    }
    async fn commit(self: Box<Self>, now: Ts, writes: Option<&[u8]>) -> keel_store::Result<Ts> {
        if Losses::lose(&self.losses.commits) {
            // Dropping the engine's transaction rolls it back.
            return Err(StoreError::conflict("injected: could not serialize access"));
        }
        self.inner.commit(now, writes).await
    }
    async fn finish_unwritten(self: Box<Self>) -> keel_store::Result<()> {
        self.inner.finish_unwritten().await
    }
}

struct Fixture {
    executor: Executor,
    db: Database,
    losses: Arc<Losses>,
    runs: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteEngine::open(&dir.path().join("keel.db").to_string_lossy())
        .await
        .unwrap();
    let losses = Arc::new(Losses::default());
    let engine = Conflicting {
        inner: Arc::new(sqlite),
        losses: Arc::clone(&losses),
    };
    let schema = Schema::new()
        .table(TableDef::new("marks"))
        .merge(keel_functions::system_schema());
    let db = Database::open(Arc::new(engine), &schema).await.unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let counted = Arc::clone(&runs);
    registry.mutation("marks:add", move |ctx: MutationCtx, _: NoArgs| {
        let runs = Arc::clone(&counted);
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            ctx.db.insert("marks", json!({ "at": 1 })).await?;
            let total = ctx.db.query("marks").collect().await?.len();
            FnResult::Ok(total as u64)
        }
    });
    let executor = Executor::new(registry, db.clone(), Arc::new(NoRoles));
    Fixture {
        executor,
        db,
        losses,
        runs,
        _dir: dir,
    }
}

fn add_mark() -> Call {
    Call {
        path: "marks:add".into(),
        kind: Some(FunctionKind::Mutation),
        args: json!({}),
        identity: None,
        caller: Caller::Client,
    }
}

async fn stored_marks(db: &Database) -> usize {
    let reader = db.reader().await.unwrap();
    reader.query("marks").collect().await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_loses_runs_again_and_commits_once() {
    let f = fixture().await;
    f.losses.commits.store(2, Ordering::SeqCst);
    let outcome = f.executor.call(add_mark()).await.unwrap();
    assert_eq!(
        outcome.value,
        json!(1),
        "the third run saw only its own write"
    );
    assert_eq!(
        f.runs.load(Ordering::SeqCst),
        3,
        "two lost runs, then one kept"
    );
    assert_eq!(
        stored_marks(&f.db).await,
        1,
        "the effects of lost runs are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_in_the_middle_of_a_run_runs_it_again() {
    let f = fixture().await;
    f.losses.puts.store(1, Ordering::SeqCst);
    let outcome = f.executor.call(add_mark()).await.unwrap();
    assert_eq!(outcome.value, json!(1));
    assert_eq!(f.runs.load(Ordering::SeqCst), 2);
    assert_eq!(stored_marks(&f.db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_that_always_loses_gets_conflict_and_changes_nothing() {
    let f = fixture().await;
    f.losses.commits.store(u32::MAX, Ordering::SeqCst);
    let err = f.executor.call(add_mark()).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Conflict));
    let data = err.error_data().unwrap();
    assert_eq!(data["code"], "CONFLICT");
    let message = data["message"].as_str().unwrap();
    assert!(
        message.contains("conflicted with concurrent writes 5 times"),
        "{message}"
    );
    assert!(
        !message.contains("injected"),
        "the engine's detail is only logged: {message}"
    );
    assert_eq!(
        f.runs.load(Ordering::SeqCst),
        5,
        "MAX_ATTEMPTS runs, no more"
    );
    f.losses.commits.store(0, Ordering::SeqCst);
    assert_eq!(stored_marks(&f.db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_batch_runs_every_mutation_in_it_again() {
    let f = fixture().await;
    f.losses.commits.store(1, Ordering::SeqCst);
    let calls = (0..20).map(|_| f.executor.call(add_mark()));
    let outcomes = futures::future::join_all(calls).await;
    let mut totals: Vec<u64> = outcomes
        .into_iter()
        .map(|o| o.unwrap().value.as_u64().unwrap())
        .collect();
    totals.sort_unstable();
    assert_eq!(
        totals,
        (1..=20).collect::<Vec<u64>>(),
        "a serial schedule, each once"
    );
    assert_eq!(stored_marks(&f.db).await, 20);
    assert!(
        f.runs.load(Ordering::SeqCst) > 20,
        "the lost batch ran again"
    );
}
