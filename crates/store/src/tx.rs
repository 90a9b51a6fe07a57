//! Transactions as function code holds them: cheap, clonable handles over one engine
//! transaction. `Reader` only reads (queries get one); `Writer` also writes (mutations).

use std::ops::Deref;
use std::sync::Arc;

use keel_runtime::Runtime;
use keel_values::{DocumentId, Ts, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use tokio::sync::Mutex;

use crate::document::Document;
use crate::engine::{EngineRead, EngineWrite, IndexNumber, RangeScan, StoredDoc};
use crate::feed::CommitFeed;
use crate::health::WriteHealth;
use crate::query::{Order, Query};
use crate::range::key_after;
use crate::readset::{IndexWrite, ReadSet, WriteSet};
use crate::schema::{Catalog, ResolvedTable};
use crate::union::Union;
use crate::{Commit, KeyRange, Result, StoreError};

/// Convex's limit on one document's encoded size.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

pub(crate) enum EngineTx {
    Read(Box<dyn EngineRead>),
    Write(Box<dyn EngineWrite>),
}

impl EngineTx {
    fn read(&mut self) -> &mut dyn EngineRead {
        match self {
            EngineTx::Read(tx) => tx.as_mut(),
            EngineTx::Write(tx) => tx.as_mut(),
        }
    }
}

pub(crate) struct TxState {
    engine: Option<EngineTx>,
    reads: ReadSet,
    writes: WriteSet,
}

impl TxState {
    fn engine(&mut self) -> Result<&mut EngineTx> {
        self.engine.as_mut().ok_or(StoreError::Finished)
    }

    fn writer(&mut self) -> Result<&mut Box<dyn EngineWrite>> {
        match self.engine()? {
            EngineTx::Write(tx) => Ok(tx),
            EngineTx::Read(_) => Err(StoreError::ReadOnly),
        }
    }
}

/// A read-only view of one consistent snapshot, recording what it reads.
#[derive(Clone)]
pub struct Reader {
    state: Arc<Mutex<TxState>>,
    catalog: Arc<Catalog>,
    ts: Ts,
    /// Whether system tables are reachable (Keel's own code only, never function code).
    system: bool,
    journal: Arc<std::sync::Mutex<Journal>>,
}

/// Where each `paginate` call of a query ended the first time it ran, so a live re-run
/// keeps its pages pinned (Convex's query journal).
#[derive(Default, Debug)]
struct Journal {
    replay: Vec<String>,
    position: usize,
    recorded: Vec<String>,
}

impl Reader {
    pub(crate) fn new(engine: EngineTx, catalog: Arc<Catalog>) -> Self {
        let mut engine = engine;
        let ts = engine.read().ts();
        Reader {
            state: Arc::new(Mutex::new(TxState {
                engine: Some(engine),
                reads: ReadSet::default(),
                writes: WriteSet::default(),
            })),
            catalog,
            ts,
            system: false,
            journal: Arc::default(),
        }
    }

    /// Re-runs a query with the page ends an earlier run recorded.
    pub fn with_journal(self, ends: Vec<String>) -> Reader {
        self.lock_journal().replay = ends;
        self
    }

    /// The page ends this run's `paginate` calls produced, in call order.
    pub fn journal(&self) -> Vec<String> {
        self.lock_journal().recorded.clone()
    }

    fn lock_journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn next_journaled_end_cursor(&self) -> Option<String> {
        let mut journal = self.lock_journal();
        let position = journal.position;
        journal.position += 1;
        journal.replay.get(position).cloned()
    }

    pub(crate) fn record_journal_end(&self, cursor: &str) {
        self.lock_journal().recorded.push(cursor.to_string());
    }

    /// The same transaction with access to system tables, for Keel's own bookkeeping.
    pub fn system(&self) -> Reader {
        Reader {
            system: true,
            ..self.clone()
        }
    }

    pub(crate) fn table(&self, name: &str) -> Result<&Arc<ResolvedTable>> {
        self.catalog.table(name, self.system)
    }

    pub(crate) fn table_by_number(
        &self,
        number: keel_values::TableNumber,
    ) -> Option<&Arc<ResolvedTable>> {
        self.catalog.table_by_number(number, self.system)
    }

    /// The commit timestamp of the snapshot this transaction reads.
    pub fn ts(&self) -> Ts {
        self.ts
    }

    /// Parses `id` as an id of `table`; `None` when it is malformed or names another table.
    pub fn normalize_id(&self, table: &str, id: &str) -> Option<DocumentId> {
        let table = self.table(table).ok()?;
        DocumentId::parse(id)
            .ok()
            .filter(|id| id.table == table.number)
    }

    /// The document with this id, or `None`.
    pub async fn get(&self, id: DocumentId) -> Result<Option<Document>> {
        let mut state = self.state.lock().await;
        state.reads.record_document(id);
        if self.table_by_number(id.table).is_none() {
            return Ok(None);
        }
        let stored = state.engine()?.read().get(&id).await?;
        Ok(stored.map(Document::from_stored))
    }

    /// Starts a query over a table, by default in `by_creation_time` order.
    pub fn query(&self, table: &str) -> Query {
        Query::new(self.clone(), table)
    }

    /// Starts a union of index ranges read as one ordered stream (see [`Union`]).
    pub fn union(&self) -> Union {
        Union::new(self.clone())
    }

    /// The number the engine gave a declared table (the one its ids carry); system tables only
    /// through [`Self::system`].
    pub fn table_number(&self, name: &str) -> Option<keel_values::TableNumber> {
        self.table(name).ok().map(|t| t.number)
    }

    /// The names of the declared tables, sorted; system tables only through [`Self::system`].
    pub fn table_names(&self) -> Vec<String> {
        self.catalog.names(self.system)
    }

    /// Counts the entries of `range` in an index, at most `limit`, and records the range as
    /// read (all of it: a count changes with any entry in it).
    pub(crate) async fn count(
        &self,
        index: IndexNumber,
        range: KeyRange,
        limit: usize,
    ) -> Result<usize> {
        let mut state = self.state.lock().await;
        let counted = state.engine()?.read().count(index, &range, limit).await?;
        state.reads.record_range(index, range);
        Ok(counted)
    }

    /// Reads index entries in `range` and records the part of the range that was read: all of
    /// it, or up to the last entry returned when `limit` cut the scan short.
    pub(crate) async fn scan(
        &self,
        index: IndexNumber,
        range: KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Document)>> {
        let mut state = self.state.lock().await;
        let rows = state
            .engine()?
            .read()
            .scan(index, &range, order, limit)
            .await?;
        state
            .reads
            .record_range(index, extent_read(range, order, limit, &rows));
        Ok(documents(rows))
    }

    /// [`Self::scan`] of several ranges at once (see [`EngineRead::scan_many`]), each
    /// recorded as read up to where its answer ends.
    pub(crate) async fn scan_many(
        &self,
        scans: Vec<RangeScan>,
        order: Order,
    ) -> Result<Vec<Vec<(Vec<u8>, Document)>>> {
        let mut state = self.state.lock().await;
        let results = state.engine()?.read().scan_many(&scans, order).await?;
        for (scan, rows) in scans.into_iter().zip(&results) {
            let read = extent_read(scan.range, order, Some(scan.limit), rows);
            state.reads.record_range(scan.index, read);
        }
        Ok(results.into_iter().map(documents).collect())
    }

    /// Ends a read-only transaction and returns what it read.
    pub async fn finish(&self) -> Result<ReadSet> {
        let mut state = self.state.lock().await;
        state.engine.take().ok_or(StoreError::Finished)?;
        Ok(std::mem::take(&mut state.reads))
    }
}

/// A serializable write transaction: reads see its own writes; nothing is visible to others
/// until [`Writer::commit`].
#[derive(Clone)]
pub struct Writer {
    reader: Reader,
    commits: Arc<CommitFeed>,
    /// Told every write's outcome, for readiness.
    health: Arc<WriteHealth>,
    runtime: Runtime,
}

impl Deref for Writer {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.reader
    }
}

impl Writer {
    /// The same transaction with access to system tables, for Keel's own bookkeeping.
    pub fn system(&self) -> Writer {
        Writer {
            reader: self.reader.system(),
            commits: self.commits.clone(),
            health: self.health.clone(),
            runtime: self.runtime.clone(),
        }
    }

    pub(crate) fn new(
        engine: Box<dyn EngineWrite>,
        catalog: Arc<Catalog>,
        commits: Arc<CommitFeed>,
        health: Arc<WriteHealth>,
        runtime: Runtime,
    ) -> Self {
        Writer {
            reader: Reader::new(EngineTx::Write(engine), catalog),
            commits,
            health,
            runtime,
        }
    }

    /// The time now in whole milliseconds since the epoch, from the database's runtime: what
    /// `_creationTime` and the app's `…At` fields hold. Whole milliseconds keep them readable;
    /// the id breaks ties.
    pub fn now_millis(&self) -> f64 {
        self.runtime.now_unix_millis()
    }

    /// A new id in `table`, from the database's runtime: the time now, then 8 random bytes
    /// (see [`DocumentId::new_at`]).
    pub fn new_id(&self, table: keel_values::TableNumber) -> DocumentId {
        let mut random = [0; 8];
        self.runtime.fill(&mut random);
        DocumentId::new_at(table, self.runtime.now_unix_nanos(), random)
    }

    /// Inserts a new document and returns its id.
    pub async fn insert(&self, table: &str, value: impl Serialize) -> Result<DocumentId> {
        let table = Arc::clone(self.reader.table(table)?);
        let body = document_body(value)?;
        let id = self.new_id(table.number);
        let doc = StoredDoc {
            id,
            creation_time: self.now_millis(),
            body,
        };
        self.write(&table, id, None, Some(doc)).await?;
        Ok(id)
    }

    /// Inserts a document with the id and creation time it had elsewhere (`keel import`): the
    /// id must name `table`, and `body` is checked as [`Writer::insert`] checks it (`_id` and
    /// `_creationTime` in it are ignored). With `check_exists`, an id already stored is
    /// refused; without, the caller knows it is not (a table it emptied, ids it deduplicated),
    /// which saves a read per document.
    pub async fn insert_with_id(
        &self,
        table: &str,
        id: DocumentId,
        creation_time: f64,
        body: Map<String, Json>,
        check_exists: bool,
    ) -> Result<()> {
        let table = Arc::clone(self.reader.table(table)?);
        if id.table != table.number {
            return Err(StoreError::InvalidArgument(format!(
                "id {id} names table number {}, not `{}` (number {})",
                id.table, table.name, table.number
            )));
        }
        if !creation_time.is_finite() || creation_time < 0.0 {
            return Err(StoreError::InvalidArgument(format!(
                "_creationTime {creation_time} is not a time"
            )));
        }
        let body = document_body(Json::Object(body))?;
        if check_exists {
            let mut state = self.reader.state.lock().await;
            if state.engine()?.read().get(&id).await?.is_some() {
                return Err(StoreError::InvalidArgument(format!(
                    "a document with id {id} already exists in `{}`",
                    table.name
                )));
            }
        }
        let doc = StoredDoc {
            id,
            creation_time,
            body,
        };
        self.write(&table, id, None, Some(doc)).await
    }

    /// Deletes every document of a table (with its index entries), returning how many.
    pub async fn clear_table(&self, table: &str) -> Result<usize> {
        let table = Arc::clone(self.reader.table(table)?);
        let docs = {
            let mut state = self.reader.state.lock().await;
            state.engine()?.read().table_documents(table.number).await?
        };
        let count = docs.len();
        for doc in docs {
            self.write(&table, doc.id, Some(doc.clone()), None).await?;
        }
        Ok(count)
    }

    /// Sets the given top-level fields, keeping the others.
    pub async fn patch(&self, id: DocumentId, fields: impl Serialize) -> Result<()> {
        let (table, old) = self.existing(id).await?;
        let mut body = old.body.clone();
        body.extend(document_body(fields)?);
        check_size(&body)?;
        let new = StoredDoc {
            body,
            ..old.clone()
        };
        self.write(&table, id, Some(old), Some(new)).await
    }

    /// Replaces all fields of the document.
    pub async fn replace(&self, id: DocumentId, value: impl Serialize) -> Result<()> {
        let (table, old) = self.existing(id).await?;
        let new = StoredDoc {
            body: document_body(value)?,
            ..old.clone()
        };
        self.write(&table, id, Some(old), Some(new)).await
    }

    pub async fn delete(&self, id: DocumentId) -> Result<()> {
        let (table, old) = self.existing(id).await?;
        self.write(&table, id, Some(old), None).await
    }

    /// Commits, returning the commit timestamp and what was written. A transaction that wrote
    /// nothing commits without taking a new timestamp.
    pub async fn commit(&self) -> Result<Arc<Commit>> {
        self.commit_with(true).await
    }

    /// [`Writer::commit`] for a bulk write (`keel import`): an engine's commit log records it
    /// with its writes unknown, as an index rebuild is, so other instances re-check every
    /// live query once instead of reading a write set as large as the import.
    pub async fn commit_bulk(&self) -> Result<Arc<Commit>> {
        self.commit_with(false).await
    }

    async fn commit_with(&self, log_writes: bool) -> Result<Arc<Commit>> {
        let mut state = self.reader.state.lock().await;
        let engine = match state.engine.take().ok_or(StoreError::Finished)? {
            EngineTx::Write(tx) => tx,
            EngineTx::Read(_) => return Err(StoreError::ReadOnly),
        };
        let writes = std::mem::take(&mut state.writes);
        let reads = std::mem::take(&mut state.reads);
        drop(state);
        if writes.is_empty() {
            engine.finish_unwritten().await?;
            return Ok(Arc::new(Commit {
                ts: self.reader.ts,
                base: self.reader.ts,
                writes,
                reads,
            }));
        }
        // What other processes' live queries need, logged with the commit by an engine that
        // keeps a commit log.
        let logged = self
            .commits
            .log()
            .filter(|_| log_writes)
            .map(|_| crate::log_codec::encode(&writes));
        let landing = self.commits.landing();
        // Taken while the engine transaction still holds the write lock: commit order.
        let ticket = self.commits.order.ticket();
        let ts = engine
            .commit(Ts(self.runtime.now_unix_nanos()), logged.as_deref())
            .await;
        self.health.observe(&ts);
        let ts = ts?;
        ticket.turn().await;
        // Shared, not copied: the write set holds every document the batch wrote.
        let commit = Arc::new(Commit {
            ts,
            base: self.reader.ts,
            writes,
            reads,
        });
        self.commits.publish_local(&commit).await;
        drop(ticket);
        drop(landing);
        Ok(commit)
    }

    /// Starts a unit that can be undone alone (one mutation inside a group commit). Writes
    /// undone by [`Writer::rollback_to_savepoint`] stay in the write set: invalidating a live
    /// query too many is harmless, missing one is not.
    pub async fn savepoint(&self) -> Result<()> {
        self.reader.state.lock().await.writer()?.savepoint().await
    }

    pub async fn release_savepoint(&self) -> Result<()> {
        self.reader
            .state
            .lock()
            .await
            .writer()?
            .release_savepoint()
            .await
    }

    pub async fn rollback_to_savepoint(&self) -> Result<()> {
        self.reader
            .state
            .lock()
            .await
            .writer()?
            .rollback_to_savepoint()
            .await
    }

    /// Abandons every write.
    pub async fn rollback(&self) {
        self.reader.state.lock().await.engine.take();
    }

    async fn existing(&self, id: DocumentId) -> Result<(Arc<ResolvedTable>, StoredDoc)> {
        let table = self
            .reader
            .table_by_number(id.table)
            .cloned()
            .ok_or(StoreError::NotFound(id))?;
        let mut state = self.reader.state.lock().await;
        state.reads.record_document(id);
        let doc = state.engine()?.read().get(&id).await?;
        Ok((table, doc.ok_or(StoreError::NotFound(id))?))
    }

    async fn write(
        &self,
        table: &ResolvedTable,
        id: DocumentId,
        old: Option<StoredDoc>,
        new: Option<StoredDoc>,
    ) -> Result<()> {
        let written = self.write_entries(table, id, old, new).await;
        // A failure can be storage's (a full disk shows here when the page cache spills);
        // success proves nothing until the commit.
        if written.is_err() {
            self.health.observe(&written);
        }
        written
    }

    async fn write_entries(
        &self,
        table: &ResolvedTable,
        id: DocumentId,
        old: Option<StoredDoc>,
        new: Option<StoredDoc>,
    ) -> Result<()> {
        let mut state = self.reader.state.lock().await;
        let engine = state.writer()?;
        let mut index_writes = Vec::with_capacity(table.indexes.len());
        for index in &table.indexes {
            let old_key = old.as_ref().map(|d| index_key(&index.fields, d));
            let new_key = new.as_ref().map(|d| index_key(&index.fields, d));
            if old_key != new_key {
                if let Some(key) = &old_key {
                    engine.remove_index_entry(index.number, key).await?;
                }
                if let Some(key) = &new_key {
                    engine.put_index_entry(index.number, key, &id).await?;
                }
            }
            // Recorded even when the key is unchanged: the document's content changed, and
            // queries that read this key must see it.
            index_writes.push(IndexWrite {
                index: index.number,
                old_key,
                new_key,
            });
        }
        match &new {
            Some(doc) => engine.put(doc).await?,
            None => engine.remove(&id).await?,
        }
        state.writes.documents.insert(id);
        state.writes.index_writes.extend(index_writes);
        Ok(())
    }
}

/// The part of `range` a scan answered with `rows` has read: all of it, unless it stopped at
/// its `limit`, then up to (and including) the last key returned.
fn extent_read(
    mut range: KeyRange,
    order: Order,
    limit: Option<usize>,
    rows: &[(Vec<u8>, StoredDoc)],
) -> KeyRange {
    if let (Some(limit), Some((last, _))) = (limit, rows.last())
        && rows.len() >= limit
    {
        match order {
            Order::Asc => range.end = Some(key_after(last)),
            Order::Desc => range.start = last.clone(),
        }
    }
    range
}

fn documents(rows: Vec<(Vec<u8>, StoredDoc)>) -> Vec<(Vec<u8>, Document)> {
    rows.into_iter()
        .map(|(key, doc)| (key, Document::from_stored(doc)))
        .collect()
}

/// The key of a document in an index: its field values, then `_creationTime` and the id.
pub(crate) fn index_key(fields: &[Vec<String>], doc: &StoredDoc) -> Vec<u8> {
    index_key_of(fields, &doc.body, doc.creation_time, &doc.id)
}

/// [`index_key`] from a document's parts (a [`Document`] read earlier, say).
pub(crate) fn index_key_of(
    fields: &[Vec<String>],
    body: &Map<String, Json>,
    creation_time: f64,
    id: &DocumentId,
) -> Vec<u8> {
    let values: Vec<Option<Value>> = fields
        .iter()
        .map(|path| lookup(body, path).and_then(|j| Value::from_encoded_json(j).ok()))
        .collect();
    let creation = Value::Float64(creation_time);
    let id = Value::Bytes(id.internal.to_vec());
    let mut parts: Vec<Option<&Value>> = values.iter().map(Option::as_ref).collect();
    parts.push(Some(&creation));
    parts.push(Some(&id));
    keel_values::key::index_key(&parts)
}

fn lookup<'a>(body: &'a Map<String, Json>, path: &[String]) -> Option<&'a Json> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(body.get(first)?, |value, part| value.as_object()?.get(part))
}

/// Validates a value as document fields: an object of Convex values with no system fields
/// (`_id` and `_creationTime` are dropped, as they are the store's to set).
fn document_body(value: impl Serialize) -> Result<Map<String, Json>> {
    let json = serde_json::to_value(value)
        .map_err(|e| StoreError::InvalidArgument(format!("document does not serialize: {e}")))?;
    let Json::Object(mut body) = json else {
        return Err(StoreError::InvalidArgument(
            "a document must be an object".into(),
        ));
    };
    body.remove("_id");
    body.remove("_creationTime");
    if let Some(field) = body.keys().find(|k| k.starts_with('_')) {
        return Err(StoreError::InvalidArgument(format!(
            "Field name {field} starts with '_', which is reserved for system fields"
        )));
    }
    let as_value = Json::Object(body);
    Value::from_encoded_json(&as_value).map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
    let Json::Object(body) = as_value else {
        unreachable!("checked above")
    };
    check_size(&body)?;
    Ok(body)
}

fn check_size(body: &Map<String, Json>) -> Result<()> {
    let size = serde_json::to_vec(body)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_DOCUMENT_BYTES {
        return Err(StoreError::InvalidArgument(format!(
            "document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}"
        )));
    }
    Ok(())
}
