use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use keel_values::Ts;
use tokio::sync::broadcast;

use crate::commit_order::CommitOrder;
use crate::engine::Engine;
use crate::health::{Check, WriteHealth};
use crate::readset::{ReadSet, WriteSet};
use crate::schema::Catalog;
use crate::tx::{EngineTx, Reader, Writer, index_key};
use crate::{Result, Schema, StorageFault, StoreError};

/// A committed transaction: its timestamp, what it wrote (to invalidate live queries) and what
/// it read.
#[derive(Clone, Debug)]
pub struct Commit {
    pub ts: Ts,
    /// The last commit this transaction saw when it began. Writers are serialized, so a gap
    /// between it and the previous commit seen here means another process wrote meanwhile.
    pub base: Ts,
    pub writes: WriteSet,
    pub reads: ReadSet,
}

/// Commits made through this process, in order, and the latest one's timestamp.
pub(crate) struct CommitFeed {
    sender: broadcast::Sender<Arc<Commit>>,
    last: AtomicU64,
    /// Commits of this process between `COMMIT` (their data visible to readers) and
    /// `publish` (their timestamp in `last`).
    landing: AtomicUsize,
    /// Publication follows commit order even when durability waits end out of order.
    pub(crate) order: CommitOrder,
}

impl CommitFeed {
    /// Marks a commit as landing until the returned guard is dropped (after `publish`).
    pub(crate) fn landing(&self) -> Landing<'_> {
        self.landing.fetch_add(1, Ordering::AcqRel);
        Landing(self)
    }

    pub(crate) fn publish(&self, commit: &Arc<Commit>) {
        self.last.fetch_max(commit.ts.0, Ordering::AcqRel);
        // Nobody listening is fine: live queries subscribe only when the server runs them.
        let _ = self.sender.send(Arc::clone(commit));
    }
}

pub(crate) struct Landing<'a>(&'a CommitFeed);

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        self.0.landing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The store: an engine plus the catalog of declared tables and indexes.
#[derive(Clone)]
pub struct Database {
    engine: Arc<dyn Engine>,
    catalog: Arc<Catalog>,
    commits: Arc<CommitFeed>,
    health: Arc<WriteHealth>,
}

impl Database {
    /// Registers the schema with the engine and rebuilds any index that is new or changed.
    pub async fn open(engine: Arc<dyn Engine>, schema: &Schema) -> Result<Self> {
        let (specs, system) = schema.validate()?;
        let synced = engine.sync_catalog(&specs).await?;
        let catalog = Arc::new(Catalog::from_synced(&synced, &system));
        let (sender, _) = broadcast::channel(1024);
        let commits = Arc::new(CommitFeed {
            sender,
            last: AtomicU64::new(0),
            landing: AtomicUsize::new(0),
            order: CommitOrder::new(),
        });
        let database = Database {
            engine,
            catalog,
            commits,
            health: Arc::default(),
        };
        database.rebuild_indexes(&synced).await?;
        Ok(database)
    }

    async fn rebuild_indexes(&self, synced: &crate::engine::SyncedCatalog) -> Result<()> {
        for table in &synced.tables {
            let stale: Vec<_> = table.indexes.iter().filter(|i| i.needs_rebuild).collect();
            if stale.is_empty() {
                continue;
            }
            let resolved = self.catalog.table(&table.name, true)?;
            let mut tx = self.engine.begin_write().await?;
            let docs = tx.table_documents(table.number).await?;
            for index in stale {
                if docs.is_empty() {
                    tracing::debug!(table = %table.name, index = %index.name, "new index on an empty table");
                } else {
                    tracing::info!(table = %table.name, index = %index.name, documents = docs.len(), "building index");
                }
                let fields = &resolved.index(&index.name)?.fields;
                tx.clear_index(index.number).await?;
                for doc in &docs {
                    tx.put_index_entry(index.number, &index_key(fields, doc), &doc.id)
                        .await?;
                }
            }
            tx.commit(Ts(0)).await?;
        }
        Ok(())
    }

    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// A read-only transaction on the latest committed snapshot.
    pub async fn reader(&self) -> Result<Reader> {
        let tx = self.engine.begin_read().await?;
        Ok(Reader::new(EngineTx::Read(tx), Arc::clone(&self.catalog)))
    }

    /// A write transaction; commit it with [`Writer::commit`].
    pub async fn writer(&self) -> Result<Writer> {
        let tx = self.engine.begin_write().await;
        // Only a failure tells: SQLite takes the write lock on a read-only file too.
        if tx.is_err() {
            self.health.observe(&tx);
        }
        Ok(Writer::new(
            tx?,
            Arc::clone(&self.catalog),
            Arc::clone(&self.commits),
            Arc::clone(&self.health),
        ))
    }

    /// Every commit made through this process, in commit order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Commit>> {
        self.commits.sender.subscribe()
    }

    /// The timestamp of the latest commit made through this process (0 before any).
    pub fn last_commit_ts(&self) -> Ts {
        Ts(self.commits.last.load(Ordering::Acquire))
    }

    /// Whether a snapshot at `ts` may hold commits of another process: `ts` is past every
    /// commit this process has published, and none of its own is between `COMMIT` and
    /// publishing (whose data a reader can already see).
    pub fn is_foreign_ts(&self, ts: Ts) -> bool {
        // `landing` first: once it reads 0, every commit that began before is published.
        self.commits.landing.load(Ordering::Acquire) == 0 && ts > self.last_commit_ts()
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
