//! The persistence interface. An engine stores document bodies by id and opaque index entries
//! ordered by bytes; it knows nothing of values, schemas or functions. SQLite implements it in
//! `keel-store-sqlite`; PostgreSQL implements the same trait.

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
    /// New, or its fields changed: its entries must be rebuilt from the table's documents.
    pub needs_rebuild: bool,
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
    /// given, because document ids embed the table number.
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

    /// How many index entries `range` holds, counting no further than `limit`: the keys
    /// only, without reading a document.
    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize>;

    /// Every document of a table, for index rebuilds.
    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>>;
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
    async fn commit(self: Box<Self>, now: Ts) -> Result<Ts>;

    /// Ends a transaction that wrote nothing, once every commit it could have read is durable:
    /// its caller may acknowledge something on the strength of what it read (a duplicate
    /// webhook, a replayed mutation).
    async fn finish_unwritten(self: Box<Self>) -> Result<()>;
}
