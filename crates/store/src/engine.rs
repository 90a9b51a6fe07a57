//! The persistence interface. An engine stores document bodies by id and opaque index entries
//! ordered by bytes; it knows nothing of values, schemas or functions. SQLite implements it in
//! `keel-store-sqlite`; PostgreSQL implements the same trait.
//!
//! What every engine guarantees (the contract suite, `crate::testing`, checks it):
//! - **Snapshots.** A read transaction reads one consistent snapshot, and [`EngineRead::ts`]
//!   is the timestamp of the last commit it holds: every commit at or before it, none after.
//! - **Serializable writers.** Write transactions of every process sharing the database run
//!   as if one at a time; a writer that cannot be fitted in fails with
//!   `StoreError::Conflict` and nothing of it is kept.
//! - **Timestamps.** Each commit that wrote something gets a timestamp greater than every
//!   earlier commit's, across processes and restarts; commit order is timestamp order, and a
//!   snapshot holding a commit holds every earlier one.
//! - **Durability before acknowledgement.** `commit` returns once the commit is durable.
//! - **Other processes' commits**, one of two ways:
//!   - an engine with a [`CommitLog`] logs every commit's write set with it, atomically, and
//!     can read the log back in timestamp order and say when it no longer reaches back far
//!     enough; it wakes listeners on new commits. The store hands those commits to live
//!     queries with their write sets;
//!   - an engine without one (SQLite: one node, other processes are occasional tools such as
//!     `keel backfill`) only needs its clock to move: live queries poll it and re-check
//!     everything when another process committed.

use std::sync::Arc;

use async_trait::async_trait;
use keel_values::{DocumentId, TableNumber, Ts};

use crate::{KeyRange, Order, Result};

/// An index's number, assigned by the engine's catalog and stable across restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexNumber(pub u32);

/// A document as persisted: user fields only, in Convex's encoded JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDoc {
    pub id: DocumentId,
    /// Milliseconds since the Unix epoch, as Convex's `_creationTime`.
    pub creation_time: f64,
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// A table the schema wants, with its indexes (name, field paths), `by_creation_time` included.
#[derive(Clone, Debug)]
pub struct TableSpec {
    pub name: String,
    pub indexes: Vec<(String, Vec<String>)>,
}

#[derive(Clone, Debug)]
pub struct SyncedIndex {
    pub name: String,
    pub number: IndexNumber,
    pub fields: Vec<String>,
    /// Not built yet (new, its fields changed, or its build did not commit): its entries
    /// must be rebuilt from the table's documents before it is read.
    pub needs_rebuild: bool,
}

/// Everything the database's catalog holds, whichever version of the app declared it. Writers
/// maintain every index listed here, so an index a newer version added stays right while
/// instances of the older version keep writing beside it.
#[derive(Clone, Debug, Default)]
pub struct StoredCatalog {
    /// See [`EngineRead::catalog_version`].
    pub version: u64,
    pub tables: Vec<(String, TableNumber)>,
    pub indexes: Vec<StoredIndex>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StoredIndex {
    pub table: TableNumber,
    pub name: String,
    pub number: IndexNumber,
    pub fields: Vec<String>,
    /// Its entries were built from the table's documents ([`EngineWrite::mark_index_built`])
    /// and have been maintained since.
    pub built: bool,
}

#[derive(Clone, Debug)]
pub struct SyncedTable {
    pub name: String,
    pub number: TableNumber,
    pub indexes: Vec<SyncedIndex>,
}

#[derive(Clone, Debug, Default)]
pub struct SyncedCatalog {
    pub tables: Vec<SyncedTable>,
}

#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// A short name for logs and `keel check` ("sqlite", "postgres").
    fn name(&self) -> &'static str;

    /// Records the wanted tables and indexes, numbering new ones. Numbers never change once
    /// given, because document ids embed the table number. An index it adds or redefines is
    /// recorded as not built, and the catalog's version moves on.
    async fn sync_catalog(&self, wanted: &[TableSpec]) -> Result<SyncedCatalog>;

    /// A read-only transaction on one consistent snapshot.
    async fn begin_read(&self) -> Result<Box<dyn EngineRead>>;

    /// A serializable write transaction. Engines serialize writers (SQLite's write lock,
    /// PostgreSQL's row lock on the commit clock), so no write is lost to a concurrent one.
    async fn begin_write(&self) -> Result<Box<dyn EngineWrite>>;

    /// Cheap reachability check for readiness probes.
    async fn ping(&self) -> Result<()>;

    /// A committed write that changes no data, to learn whether storage accepts writes now
    /// (readiness, after a write failed). It must not grow what is stored: at most an
    /// existing page rewritten. Storage conditions come back as `StoreError::Storage`.
    async fn probe_write(&self) -> Result<()>;

    /// The log of every process's commits with their write sets, when the engine keeps one
    /// (see [`CommitLog`]). `None` (the default): other processes' commits are found by the
    /// clock alone, and live queries re-check everything when one is seen.
    fn commit_log(&self) -> Option<Arc<dyn CommitLog>> {
        None
    }

    /// Brings the planner's statistics and visibility information up to date after a bulk
    /// load (`keel seed`, `keel import`), so the first queries after it do not run on a
    /// planner's guesses about empty tables. Default: nothing to do (SQLite's queries are
    /// primary-key ranges, whose plan needs no statistics).
    async fn after_bulk_load(&self) -> Result<()> {
        Ok(())
    }

    /// The connection pool's state, for engines that keep one (`None`, the default: an
    /// embedded engine has no pool to watch).
    fn pool_usage(&self) -> Option<PoolUsage> {
        None
    }
}

/// How many connections a pool holds, for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    /// Open, in use or idle.
    pub open: u32,
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

/// Commits of every process sharing the database, read back with their write sets, so that
/// an instance re-runs only the live queries another instance's commit touched.
///
/// An engine with a log guarantees: [`EngineWrite::commit`] records its `writes` in the same
/// transaction as the data, under the commit's timestamp, so a snapshot holding a commit holds
/// its entry; entries leave the log only by pruning, oldest first, and the log knows how far
/// pruning reached.
#[async_trait]
pub trait CommitLog: Send + Sync + 'static {
    /// The commits after `after`, oldest first, at most `limit` of them (fewer: there are no
    /// more now). [`LogRead::Truncated`] when some commit after `after` may have been pruned
    /// (or was not logged): the caller must then assume anything changed.
    async fn commits_after(&self, after: Ts, limit: usize) -> Result<LogRead>;

    /// Starts listening for new commits. Once this returns, every later commit is notified
    /// (the caller reads the log for what came before).
    async fn listen(&self) -> Result<Box<dyn CommitListener>>;
}

/// Wake-ups for new commits, from a connection of its own.
#[async_trait]
pub trait CommitListener: Send {
    /// The timestamp of a newly committed commit (notifications may come in bursts and out of
    /// order; the log is the truth). An error means the listener lost its connection:
    /// notifications may have been lost meanwhile, so listen again and read the log.
    async fn next(&mut self) -> Result<Ts>;
}

/// What [`CommitLog::commits_after`] found.
#[derive(Debug)]
pub enum LogRead {
    Commits(Vec<LoggedCommit>),
    /// The log no longer holds every commit after the timestamp asked for; `latest` is the
    /// latest commit in the same snapshot.
    Truncated {
        latest: Ts,
    },
}

/// One commit as logged.
#[derive(Debug)]
pub struct LoggedCommit {
    pub ts: Ts,
    /// The write set as the store encoded it; `None`: not known (an index rebuild), so
    /// everything may have changed.
    pub writes: Option<Vec<u8>>,
}

/// One range of [`EngineRead::scan_many`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeScan {
    pub index: IndexNumber,
    pub range: KeyRange,
    pub limit: usize,
}

#[async_trait]
pub trait EngineRead: Send {
    /// The timestamp of the last commit visible to this transaction.
    fn ts(&self) -> Ts;

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>>;

    /// Index entries in `range`, in key order (or reverse), with their documents; at most
    /// `limit` when given.
    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>>;

    /// The first `limit` entries of each of several ranges, in `order`, as [`Self::scan`]
    /// gives them for each: one result per scan, in the same order. A union of ranges reads
    /// its first batch of every range this way; an engine across a network (PostgreSQL)
    /// answers all of them in one round trip, and this default one range at a time.
    async fn scan_many(
        &mut self,
        scans: &[RangeScan],
        order: Order,
    ) -> Result<Vec<Vec<(Vec<u8>, StoredDoc)>>> {
        let mut results = Vec::with_capacity(scans.len());
        for scan in scans {
            results.push(
                self.scan(scan.index, &scan.range, order, Some(scan.limit))
                    .await?,
            );
        }
        Ok(results)
    }

    /// How many index entries `range` holds, counting no further than `limit`: the keys
    /// only, without reading a document.
    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize>;

    /// Every document of a table, for index rebuilds.
    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>>;

    /// The catalog's version in this transaction's snapshot, read when it began (with the
    /// clock). Every catalog change moves it on, so a process compares it with the version it
    /// loaded to learn, at no extra cost, that another process changed the catalog.
    fn catalog_version(&self) -> u64;

    /// The whole catalog in this transaction's snapshot.
    async fn catalog(&mut self) -> Result<StoredCatalog>;
}

#[async_trait]
pub trait EngineWrite: EngineRead {
    async fn put(&mut self, doc: &StoredDoc) -> Result<()>;
    async fn remove(&mut self, id: &DocumentId) -> Result<()>;
    async fn put_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
        id: &DocumentId,
    ) -> Result<()>;
    async fn remove_index_entry(&mut self, index: IndexNumber, key: &[u8]) -> Result<()>;
    async fn clear_index(&mut self, index: IndexNumber) -> Result<()>;
    /// Records that the index's entries are built (in this transaction, with the rebuild's
    /// writes), and moves the catalog's version on.
    async fn mark_index_built(&mut self, index: IndexNumber) -> Result<()>;
    /// Removes the index, its entries and its catalog row, and moves the catalog's version on.
    async fn drop_index(&mut self, index: IndexNumber) -> Result<()>;

    /// Marks a point this transaction can roll back to (one level: group commit runs several
    /// mutations in one transaction, each inside its own savepoint).
    async fn savepoint(&mut self) -> Result<()>;
    /// Keeps the writes since the savepoint.
    async fn release_savepoint(&mut self) -> Result<()>;
    /// Undoes the writes since the savepoint and ends it.
    async fn rollback_to_savepoint(&mut self) -> Result<()>;

    /// Makes the writes visible and durable at a timestamp greater than every earlier commit
    /// (of any process sharing the database) and not below `now`, and returns it once they
    /// are durable. An engine may release the write lock before then, so the next writer
    /// runs while this commit syncs; the store publishes commits in commit order regardless.
    ///
    /// An engine with a [`CommitLog`] logs `writes` (the store's encoding of the write set)
    /// in the same transaction; `None` logs the commit with its writes unknown. The store
    /// passes `None` to an engine without a log, which ignores it.
    async fn commit(self: Box<Self>, now: Ts, writes: Option<&[u8]>) -> Result<Ts>;

    /// Ends a transaction that wrote nothing, once every commit it could have read is durable:
    /// its caller may acknowledge something on the strength of what it read (a duplicate
    /// webhook, a replayed mutation).
    async fn finish_unwritten(self: Box<Self>) -> Result<()>;
}
