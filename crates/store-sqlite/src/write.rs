//! The write transaction, on the one writer connection.

use std::sync::Arc;

use async_trait::async_trait;
use keel_store::engine::{EngineRead, EngineWrite, IndexNumber, StoredCatalog, StoredDoc};
use keel_store::{KeyRange, Order, Result, StorageFault, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use rusqlite::{Connection, params};
use tokio::sync::OwnedMutexGuard;

use crate::checkpoint::Checkpointer;
use crate::wal_sync::WalSync;
use crate::{blocking, fault, read};

type Writer = OwnedMutexGuard<Connection>;

pub(crate) struct SqliteWrite {
    /// `None` once committed (the connection moved to the blocking pool for the commit).
    conn: Option<Writer>,
    ts: Ts,
    catalog_version: u64,
    checkpointer: Arc<Checkpointer>,
    wal: Arc<WalSync>,
    /// Why SQLite rolled the whole transaction back on its own, once it has.
    lost: Option<Option<StorageFault>>,
}

impl SqliteWrite {
    pub async fn begin(
        conn: Writer,
        checkpointer: Arc<Checkpointer>,
        wal: Arc<WalSync>,
    ) -> Result<Self> {
        // IMMEDIATE takes the write lock now, so everything read below is current and stays so.
        // It may wait for another process's commit, hence the blocking pool.
        blocking(move || {
            conn.execute_batch("BEGIN IMMEDIATE")
                .map_err(fault::sqlite)?;
            // Built before reading the clock, so a failed read still rolls back (`Drop`).
            let mut tx = SqliteWrite {
                conn: Some(conn),
                ts: Ts(0),
                catalog_version: 0,
                checkpointer,
                wal,
                lost: None,
            };
            (tx.ts, tx.catalog_version) = read::clock(tx.conn())?;
            Ok(tx)
        })
        .await
    }

    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("present until committed")
    }

    fn execute(&mut self, sql: &str, params: impl rusqlite::Params) -> Result<()> {
        self.still_open()?;
        let result = self
            .conn()
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(params))
            .map_err(fault::sqlite);
        if let Err(err) = &result
            && self.conn().is_autocommit()
        {
            // After SQLITE_FULL, SQLITE_IOERR and a few others SQLite may undo the whole
            // transaction, not just the statement.
            self.lost = Some(err.storage_fault());
        }
        result.map(drop)
    }

    /// Refuses to go on once SQLite has rolled the transaction back: the next statement would
    /// run in a fresh transaction of its own (a `SAVEPOINT` opens one, and its `RELEASE`
    /// commits it), so writes would be kept, or acknowledged, outside the group commit.
    fn still_open(&mut self) -> Result<()> {
        if self.lost.is_none() && self.conn().is_autocommit() {
            self.lost = Some(None);
        }
        match self.lost {
            None => Ok(()),
            Some(fault) => {
                let detail = "SQLite rolled the write transaction back after an earlier error";
                Err(match fault {
                    Some(fault) => StoreError::storage(fault, detail),
                    None => StoreError::Engine(detail.into()),
                })
            }
        }
    }
}

impl Drop for SqliteWrite {
    fn drop(&mut self) {
        // Not committed: undo everything, so the next writer starts from a clean connection.
        if let Some(conn) = &self.conn
            && !conn.is_autocommit()
            && let Err(err) = conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %err, "rolling back an abandoned write transaction failed");
        }
    }
}

#[async_trait]
impl EngineRead for SqliteWrite {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        read::get(self.conn(), id)
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        read::scan(self.conn(), index, range, order, limit)
    }

    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize> {
        read::count(self.conn(), index, range, limit)
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        read::table_documents(self.conn(), table)
    }

    fn catalog_version(&self) -> u64 {
        self.catalog_version
    }

    async fn catalog(&mut self) -> Result<StoredCatalog> {
        crate::catalog::stored(self.conn(), self.catalog_version)
    }
}

#[async_trait]
impl EngineWrite for SqliteWrite {
    async fn put(&mut self, doc: &StoredDoc) -> Result<()> {
        let body = serde_json::to_string(&doc.body).map_err(StoreError::engine)?;
        self.execute(
            "INSERT INTO keel_documents (id, table_number, creation_time, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            params![doc.id.encode(), doc.id.table.0 as i64, doc.creation_time, body],
        )
    }

    async fn remove(&mut self, id: &DocumentId) -> Result<()> {
        self.execute("DELETE FROM keel_documents WHERE id = ?1", [id.encode()])
    }

    async fn put_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
        id: &DocumentId,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO keel_index_entries (index_number, key, id) VALUES (?1, ?2, ?3)",
            params![index.0 as i64, key, id.encode()],
        )
    }

    async fn remove_index_entry(&mut self, index: IndexNumber, key: &[u8]) -> Result<()> {
        self.execute(
            "DELETE FROM keel_index_entries WHERE index_number = ?1 AND key = ?2",
            params![index.0 as i64, key],
        )
    }

    async fn clear_index(&mut self, index: IndexNumber) -> Result<()> {
        self.execute(
            "DELETE FROM keel_index_entries WHERE index_number = ?1",
            [index.0 as i64],
        )
    }

    async fn mark_index_built(&mut self, index: IndexNumber) -> Result<()> {
        self.execute(
            "UPDATE keel_indexes SET built = 1 WHERE number = ?1",
            [index.0 as i64],
        )?;
        self.execute(crate::catalog::BUMP_VERSION, [])
    }

    async fn drop_index(&mut self, index: IndexNumber) -> Result<()> {
        self.clear_index(index).await?;
        self.execute(
            "DELETE FROM keel_indexes WHERE number = ?1",
            [index.0 as i64],
        )?;
        self.execute(crate::catalog::BUMP_VERSION, [])
    }

    async fn savepoint(&mut self) -> Result<()> {
        self.execute("SAVEPOINT keel_mutation", [])
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        self.execute("RELEASE keel_mutation", [])
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.execute("ROLLBACK TO keel_mutation", [])?;
        self.execute("RELEASE keel_mutation", [])
    }

    /// SQLite keeps no commit log (see `SqliteEngine::commit_log`): `_writes` is not stored.
    async fn commit(mut self: Box<Self>, now: Ts, _writes: Option<&[u8]>) -> Result<Ts> {
        self.still_open()?;
        let conn = self.conn.take().expect("present until committed");
        let wal = self.wal.clone();
        // `COMMIT` writes the WAL frames (it may wait on the disk: off the async workers) and
        // the write lock goes with `conn` at the end of the closure; the fsync comes after.
        let (ts, position) = blocking(move || {
            let committed = conn
                .prepare_cached(
                    "UPDATE keel_clock SET last_ts = max(last_ts + 1, ?1) WHERE id = 1
                     RETURNING last_ts",
                )
                .and_then(|mut statement| statement.query_row([now.0 as i64], |row| row.get(0)))
                .and_then(|ts: i64| conn.execute_batch("COMMIT").map(|()| ts));
            match committed {
                Ok(ts) => Ok((Ts(ts as u64), wal.written())),
                Err(err) => {
                    if !conn.is_autocommit() {
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    Err(fault::sqlite(err))
                }
            }
        })
        .await?;
        self.checkpointer.committed();
        self.wal.durable(position).await?;
        Ok(ts)
    }

    async fn finish_unwritten(self: Box<Self>) -> Result<()> {
        // Read under the write lock: every commit this transaction could have seen.
        let position = self.wal.position();
        let wal = self.wal.clone();
        drop(self); // rolls back (nothing to undo) and releases the write lock
        wal.durable(position).await
    }
}

#[cfg(test)]
mod tests {
    use keel_store::engine::{Engine, EngineWrite, StoredDoc};
    use keel_values::{DocumentId, TableNumber};

    use super::*;

    fn doc() -> StoredDoc {
        StoredDoc {
            id: DocumentId::new_random(TableNumber(1)),
            creation_time: 0.0,
            body: serde_json::Map::new(),
        }
    }

    /// After SQLITE_FULL or SQLITE_IOERR, SQLite may roll the whole transaction back on its
    /// own. Whatever runs next on the connection must not start a fresh transaction (the next
    /// mutation's `SAVEPOINT` would, and its `RELEASE` would commit it behind the group
    /// commit's back): every later step fails, the commit too, and nothing is stored.
    #[tokio::test]
    async fn nothing_runs_after_sqlite_rolled_the_transaction_back() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::SqliteEngine::open(dir.path().join("keel.db").to_str().unwrap())
            .await
            .unwrap();
        let conn = engine.writer.clone().lock_owned().await;
        let mut tx = SqliteWrite::begin(conn, engine.checkpointer.clone(), engine.wal.clone())
            .await
            .unwrap();
        let (kept, late) = (doc(), doc());
        tx.put(&kept).await.unwrap();
        // What SQLite does itself after some storage errors.
        tx.conn().execute_batch("ROLLBACK").unwrap();
        assert!(tx.savepoint().await.is_err(), "no new transaction starts");
        assert!(tx.put(&late).await.is_err());
        assert!(tx.release_savepoint().await.is_err());
        assert!(
            Box::new(tx).commit(Ts(1), None).await.is_err(),
            "nothing to acknowledge"
        );

        let mut check = engine.begin_read().await.unwrap();
        assert!(check.get(&kept.id).await.unwrap().is_none());
        assert!(check.get(&late.id).await.unwrap().is_none());
    }
}
