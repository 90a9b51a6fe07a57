use std::sync::Arc;

use keel_runtime::Runtime;
use keel_values::Ts;
use tokio::sync::broadcast;

use std::collections::HashSet;

use crate::engine::{Engine, EngineRead, SyncedCatalog, TableSpec};
use crate::feed::{Change, CommitFeed};
use crate::health::{Check, WriteHealth};
use crate::readset::{ReadSet, WriteSet};
use crate::schema::{Catalog, field_paths};
use crate::tx::{EngineTx, Reader, Writer, index_key};
use crate::{Result, Schema, StorageFault, StoreError};

/// A committed transaction: its timestamp, what it wrote (to invalidate live queries) and what
/// it read.
#[derive(Clone, Debug)]
pub struct Commit {
    pub ts: Ts,
    /// The last commit this transaction saw when it began. Writers are serialized, so a gap
    /// between it and the previous commit seen here means another process wrote meanwhile.
    /// For another process's commit read from the commit log: the commit before it.
    pub base: Ts,
    pub writes: WriteSet,
    /// Empty for another process's commit.
    pub reads: ReadSet,
}

/// The store: an engine plus the catalog of declared tables and indexes.
#[derive(Clone)]
pub struct Database {
    engine: Arc<dyn Engine>,
    catalog: Arc<CatalogCache>,
    commits: Arc<CommitFeed>,
    health: Arc<WriteHealth>,
    /// The clock and randomness behind ids, creation times and commit timestamps.
    runtime: Runtime,
}

impl Database {
    /// Registers the schema with the engine and rebuilds any index that is new or changed.
    pub async fn open(engine: Arc<dyn Engine>, schema: &Schema) -> Result<Self> {
        Self::open_with_runtime(engine, schema, Runtime::system()).await
    }

    /// As [`Database::open`], reading time and randomness from `runtime` (tests set a manual
    /// clock or seeded randomness).
    pub async fn open_with_runtime(
        engine: Arc<dyn Engine>,
        schema: &Schema,
        runtime: Runtime,
    ) -> Result<Self> {
        let (specs, system) = schema.validate()?;
        let synced = engine.sync_catalog(&specs).await?;
        rebuild_indexes(engine.as_ref(), &synced).await?;
        // The feed starts at the latest commit: live queries read their first snapshot later.
        let mut first = engine.begin_read().await?;
        let start = first.ts();
        let stored = first.catalog().await?;
        let resolved = Catalog::resolve(&specs, &system, &stored)?;
        for (table, index, _) in resolved.undeclared_indexes() {
            tracing::info!(table = %table, index = %index, "an index this version does not declare is kept and maintained for other versions; `keel migrate --drop-undeclared-indexes` removes it");
        }
        let catalog = Arc::new(CatalogCache {
            current: std::sync::RwLock::new(Arc::new(resolved)),
            wanted: specs,
            system,
        });
        let commits = Arc::new(CommitFeed::new(engine.commit_log(), start));
        Ok(Database {
            engine,
            catalog,
            commits,
            health: Arc::default(),
            runtime,
        })
    }

    /// The clock and randomness this database reads.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// Records, from now on, how late other instances' commits reach this one (read back from
    /// the commit log). The first call counts; later ones are ignored.
    pub fn record_metrics(&self, metrics: keel_metrics::Metrics) {
        self.commits.record_metrics(metrics);
    }

    /// Reads the engine's connection pool (`None` without one, or once the database is
    /// gone). It holds the engine weakly, so a metrics sampler built on it keeps nothing
    /// alive.
    pub fn pool_usage_reader(
        &self,
    ) -> impl Fn() -> Option<crate::engine::PoolUsage> + Send + Sync + 'static {
        let engine = Arc::downgrade(&self.engine);
        move || engine.upgrade()?.pool_usage()
    }

    /// A read-only transaction on the latest committed snapshot.
    pub async fn reader(&self) -> Result<Reader> {
        let mut tx = self.engine.begin_read().await?;
        let catalog = self.catalog.at(tx.as_mut()).await?;
        Ok(Reader::new(EngineTx::Read(tx), catalog))
    }

    /// A write transaction; commit it with [`Writer::commit`].
    pub async fn writer(&self) -> Result<Writer> {
        let tx = self.engine.begin_write().await;
        // Only a failure tells: SQLite takes the write lock on a read-only file too.
        if tx.is_err() {
            self.health.observe(&tx);
        }
        let mut tx = tx?;
        // Under the write lock the catalog cannot change, so this is the one every write of
        // the transaction maintains.
        let catalog = self.catalog.at(tx.as_mut()).await?;
        Ok(Writer::new(
            tx,
            catalog,
            Arc::clone(&self.commits),
            Arc::clone(&self.health),
            self.runtime.clone(),
        ))
    }

    /// Commits in timestamp order from now on (see [`Change`]): those made through this
    /// process, and other processes' too when the engine keeps a commit log (the first
    /// subscriber starts following it, on the current tokio runtime).
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.commits.subscribe()
    }

    /// Whether the feed delivers other processes' commits with their write sets (the engine
    /// keeps a commit log). Without that, other processes are found only by their effect on
    /// the clock ([`Self::is_foreign_ts`]).
    pub fn follows_other_processes(&self) -> bool {
        self.commits.log().is_some()
    }

    /// The timestamp of the latest commit made through this process (0 before any).
    pub fn last_commit_ts(&self) -> Ts {
        self.commits.last_local()
    }

    /// The timestamp of the latest change on the feed, local or not.
    pub fn published_ts(&self) -> Ts {
        self.commits.published_ts()
    }

    /// Whether a snapshot at `ts` may hold commits of another process: `ts` is past every
    /// commit this process has published, and none of its own is between `COMMIT` and
    /// publishing (whose data a reader can already see).
    pub fn is_foreign_ts(&self, ts: Ts) -> bool {
        // `landing` first: once it reads 0, every commit that began before is published.
        self.commits.landing_count() == 0 && ts > self.last_commit_ts()
    }

    /// Drops the indexes of this schema's tables that this schema does not declare (kept and
    /// maintained until now for instances of other versions, see `Catalog`), entries and
    /// all, and returns them as (table, index). Run once no instance of a version that
    /// declares them is left: such an instance's queries on them then fail as on an
    /// undeclared index.
    pub async fn drop_undeclared_indexes(&self) -> Result<Vec<(String, String)>> {
        let mut tx = self.engine.begin_write().await?;
        let stored = tx.catalog().await?;
        let catalog = Catalog::resolve(&self.catalog.wanted, &self.catalog.system, &stored)?;
        let mut dropped = Vec::new();
        for (table, index, number) in catalog.undeclared_indexes() {
            tx.drop_index(number).await?;
            dropped.push((table, index));
        }
        if dropped.is_empty() {
            tx.finish_unwritten().await?;
        } else {
            // Logged with its writes unknown: other instances re-check every live query.
            tx.commit(Ts(self.runtime.now_unix_nanos()), None).await?;
        }
        Ok(dropped)
    }

    /// See [`Engine::after_bulk_load`]: run once a bulk load has committed.
    pub async fn after_bulk_load(&self) -> Result<()> {
        self.engine.after_bulk_load().await
    }

    pub async fn ping(&self) -> Result<()> {
        self.engine.ping().await
    }

    /// Whether storage accepts writes: the last write's outcome, re-probed while it failed
    /// (see `health.rs`). `Err` is a `StoreError::Storage` naming the condition.
    pub async fn writable(&self) -> Result<()> {
        match self.health.check() {
            Check::Healthy => Ok(()),
            Check::Failing(err) => Err(err),
            Check::Probe => {
                // A probe that fails otherwise (another process holding the lock past the busy
                // timeout) cannot confirm writes either, and must count against the recheck
                // interval like any failure.
                let probed = self.engine.probe_write().await.map_err(|err| match err {
                    StoreError::Storage { .. } => err,
                    other => StoreError::storage(StorageFault::Unavailable, other),
                });
                self.health.observe(&probed);
                probed
            }
        }
    }
}

/// The catalog as this process last loaded it, and what it needs to load it again.
struct CatalogCache {
    current: std::sync::RwLock<Arc<Catalog>>,
    wanted: Vec<TableSpec>,
    system: HashSet<String>,
}

impl CatalogCache {
    /// The catalog at the transaction's catalog version: the cached one, or, when another
    /// process changed the catalog (a newer version adding an index, say), the catalog read
    /// again in the transaction's own snapshot.
    async fn at(&self, tx: &mut dyn EngineRead) -> Result<Arc<Catalog>> {
        let cached = Arc::clone(&self.current.read().expect("catalog lock"));
        if cached.version == tx.catalog_version() {
            return Ok(cached);
        }
        let stored = tx.catalog().await?;
        let fresh = Arc::new(Catalog::resolve(&self.wanted, &self.system, &stored)?);
        let mut current = self.current.write().expect("catalog lock");
        if current.version < fresh.version {
            tracing::info!(version = fresh.version, "the catalog changed: reloaded it");
            *current = Arc::clone(&fresh);
        }
        Ok(fresh)
    }
}

/// Builds the indexes that are not built yet (new, redefined, or whose build did not commit)
/// from their tables' documents, each table in one write transaction that marks them built.
/// Under the write lock it checks again: an instance starting at the same time may have built
/// them meanwhile, and then this one does not.
async fn rebuild_indexes(engine: &dyn Engine, synced: &SyncedCatalog) -> Result<()> {
    for table in &synced.tables {
        if !table.indexes.iter().any(|i| i.needs_rebuild) {
            continue;
        }
        let mut tx = engine.begin_write().await?;
        let stored = tx.catalog().await?;
        let stale: Vec<_> = table
            .indexes
            .iter()
            .filter(|wanted| {
                stored
                    .indexes
                    .iter()
                    .any(|i| i.number == wanted.number && !i.built && i.fields == wanted.fields)
            })
            .collect();
        if stale.is_empty() {
            tx.finish_unwritten().await?;
            continue;
        }
        let docs = tx.table_documents(table.number).await?;
        for index in stale {
            if docs.is_empty() {
                tracing::debug!(table = %table.name, index = %index.name, "new index on an empty table");
            } else {
                tracing::info!(table = %table.name, index = %index.name, documents = docs.len(), "building index");
            }
            let fields = field_paths(&index.fields);
            tx.clear_index(index.number).await?;
            for doc in &docs {
                tx.put_index_entry(index.number, &index_key(&fields, doc), &doc.id)
                    .await?;
            }
            tx.mark_index_built(index.number).await?;
        }
        // Logged with its writes unknown: other instances re-check every live query (one
        // may have read the index before it was built).
        tx.commit(Ts(0), None).await?;
    }
    Ok(())
}
