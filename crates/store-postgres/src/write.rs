//! The write transaction. It locks the clock row before anything else, so writers of every
//! instance run one at a time; under READ COMMITTED each later statement then reads the
//! latest commit, which no other writer can change until this one ends: serializable by
//! construction, as SQLite's write lock is. (REPEATABLE READ would take its snapshot before
//! the lock was granted, and fail with a serialization error whenever it had to wait.)
//!
//! Writes wait in [`Pending`] and go out together before the next read, savepoint end or
//! commit (`pending.rs`).

use async_trait::async_trait;
use keel_store::engine::{
    EngineRead, EngineWrite, IndexNumber, RangeScan, StoredCatalog, StoredDoc,
};
use keel_store::{KeyRange, Order, Result, StoreError};
use keel_values::{DocumentId, TableNumber, Ts};
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::OwnedMutexGuard;

use crate::pending::Pending;
use crate::{fault, read};

pub(crate) struct PgWrite {
    /// `None` once committed or ended.
    tx: Option<Transaction<'static, Postgres>>,
    ts: Ts,
    catalog_version: u64,
    pending: Pending,
    /// This process's writers queue here rather than on the clock row, each holding a pooled
    /// connection, so at most one connection per process waits on the lock.
    _turn: OwnedMutexGuard<()>,
}

/// Commits in one statement: the clock moves later than every commit before it, not below the
/// caller's clock (`$1`) nor the server's (so instances whose clocks lag still stamp commits
/// with the database's time); the write set (`$2`) is logged under that timestamp, chained to
/// the commit before (`$3`, the clock this transaction locked); instances listening on
/// `log::CHANNEL` are notified of it when the transaction commits.
pub(crate) const COMMIT: &str = "WITH clock AS (
         UPDATE keel_clock SET last_ts = GREATEST(
             last_ts + 1,
             $1,
             (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000
         ) WHERE id = 1 RETURNING last_ts
     ), logged AS (
         INSERT INTO keel_commit_log (ts, prev, writes) SELECT last_ts, $3, $2 FROM clock
         RETURNING ts
     )
     SELECT ts, pg_notify('keel_commits', ts::text)::text FROM logged";

/// Takes the commit lock and reads the clock (in READ COMMITTED: the latest value, after any
/// commit the lock waited for).
pub(crate) const LOCK_CLOCK: &str =
    "SELECT last_ts, catalog_version FROM keel_clock WHERE id = 1 FOR UPDATE";

impl PgWrite {
    pub async fn begin(pool: &sqlx::PgPool, turn: OwnedMutexGuard<()>) -> Result<Self> {
        // Pooled connections are not pinged before use; one the server closed while it sat
        // idle fails `BEGIN`, and another is tried.
        let mut attempts = pool.size() as usize + 1;
        let mut tx = loop {
            match pool
                .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
                .await
            {
                Ok(tx) => break tx,
                Err(err) if attempts > 1 && fault::lost_connection(&err) => attempts -= 1,
                Err(err) => return Err(fault::sqlx(err)),
            }
        };
        let (ts, catalog_version): (i64, i64) = sqlx::query_as(LOCK_CLOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(fault::sqlx)?;
        Ok(PgWrite {
            tx: Some(tx),
            ts: Ts(ts as u64),
            catalog_version: catalog_version as u64,
            pending: Pending::default(),
            _turn: turn,
        })
    }

    fn conn(&mut self) -> Result<&mut PgConnection> {
        self.tx.as_deref_mut().ok_or(StoreError::Finished)
    }

    /// The connection, with every pending write sent: what reads and savepoints use.
    async fn flushed(&mut self) -> Result<&mut PgConnection> {
        let conn = self.tx.as_deref_mut().ok_or(StoreError::Finished)?;
        self.pending.flush(conn).await?;
        Ok(conn)
    }

    async fn execute(
        &mut self,
        query: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<()> {
        query
            .execute(self.conn()?)
            .await
            .map(drop)
            .map_err(fault::sqlx)
    }
}

#[async_trait]
impl EngineRead for PgWrite {
    fn ts(&self) -> Ts {
        self.ts
    }

    async fn get(&mut self, id: &DocumentId) -> Result<Option<StoredDoc>> {
        read::get(self.flushed().await?, id).await
    }

    async fn scan(
        &mut self,
        index: IndexNumber,
        range: &KeyRange,
        order: Order,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, StoredDoc)>> {
        read::scan(self.flushed().await?, index, range, order, limit).await
    }

    async fn scan_many(
        &mut self,
        scans: &[RangeScan],
        order: Order,
    ) -> Result<Vec<Vec<(Vec<u8>, StoredDoc)>>> {
        read::scan_many(self.flushed().await?, scans, order).await
    }

    async fn count(&mut self, index: IndexNumber, range: &KeyRange, limit: usize) -> Result<usize> {
        read::count(self.flushed().await?, index, range, limit).await
    }

    async fn table_documents(&mut self, table: TableNumber) -> Result<Vec<StoredDoc>> {
        read::table_documents(self.flushed().await?, table).await
    }

    fn catalog_version(&self) -> u64 {
        self.catalog_version
    }

    async fn catalog(&mut self) -> Result<StoredCatalog> {
        let version = self.catalog_version;
        crate::catalog::stored(self.conn()?, version).await
    }
}

#[async_trait]
impl EngineWrite for PgWrite {
    async fn put(&mut self, doc: &StoredDoc) -> Result<()> {
        self.conn()?;
        self.pending.put(doc);
        Ok(())
    }

    async fn remove(&mut self, id: &DocumentId) -> Result<()> {
        self.conn()?;
        self.pending.remove(id);
        Ok(())
    }

    async fn put_index_entry(
        &mut self,
        index: IndexNumber,
        key: &[u8],
        id: &DocumentId,
    ) -> Result<()> {
        self.conn()?;
        self.pending.put_entry(index, key, id);
        Ok(())
    }

    async fn remove_index_entry(&mut self, index: IndexNumber, key: &[u8]) -> Result<()> {
        self.conn()?;
        self.pending.remove_entry(index, key);
        Ok(())
    }

    async fn clear_index(&mut self, index: IndexNumber) -> Result<()> {
        self.flushed().await?;
        self.execute(
            sqlx::query("DELETE FROM keel_index_entries WHERE index_number = $1")
                .bind(index.0 as i32),
        )
        .await
    }

    async fn mark_index_built(&mut self, index: IndexNumber) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE keel_indexes SET built = true WHERE number = $1")
                .bind(index.0 as i32),
        )
        .await?;
        self.execute(sqlx::query(crate::catalog::BUMP_VERSION))
            .await
    }

    async fn drop_index(&mut self, index: IndexNumber) -> Result<()> {
        self.clear_index(index).await?;
        self.execute(
            sqlx::query("DELETE FROM keel_indexes WHERE number = $1").bind(index.0 as i32),
        )
        .await?;
        self.execute(sqlx::query(crate::catalog::BUMP_VERSION))
            .await
    }

    // After a failed statement PostgreSQL refuses every later one until the transaction rolls
    // back to a savepoint, and `COMMIT` of such a transaction rolls it back: a transaction
    // the server gave up on can never be acknowledged (the clock update in `commit` fails).

    async fn savepoint(&mut self) -> Result<()> {
        self.flushed().await?;
        self.execute(sqlx::query("SAVEPOINT keel_mutation")).await
    }

    async fn release_savepoint(&mut self) -> Result<()> {
        // The mutation's writes are sent inside its savepoint: one that fails fails it.
        self.flushed().await?;
        self.execute(sqlx::query("RELEASE SAVEPOINT keel_mutation"))
            .await
    }

    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.pending.discard();
        self.execute(sqlx::query("ROLLBACK TO SAVEPOINT keel_mutation"))
            .await?;
        self.execute(sqlx::query("RELEASE SAVEPOINT keel_mutation"))
            .await
    }

    async fn commit(mut self: Box<Self>, now: Ts, writes: Option<&[u8]>) -> Result<Ts> {
        self.flushed().await?;
        let mut tx = self.tx.take().ok_or(StoreError::Finished)?;
        // One round trip for the clock, the log entry and the notification (see `COMMIT`).
        let ts: i64 = sqlx::query_scalar(COMMIT)
            .bind(i64::try_from(now.0).unwrap_or(i64::MAX))
            .bind(writes)
            .bind(i64::try_from(self.ts.0).unwrap_or(i64::MAX))
            .fetch_one(&mut *tx)
            .await
            .map_err(fault::sqlx)?;
        // Returns once the commit is flushed (synchronous_commit), and the row lock, so the
        // next writer, only after that.
        tx.commit()
            .await
            .map_err(|err| fault::sqlx_during("COMMIT", err))?;
        Ok(Ts(ts as u64))
    }

    async fn finish_unwritten(mut self: Box<Self>) -> Result<()> {
        // Whatever this transaction read was committed, and a PostgreSQL commit is visible
        // only once it is flushed: nothing to wait for.
        let tx = self.tx.take().ok_or(StoreError::Finished)?;
        tx.rollback().await.map_err(fault::sqlx)
    }
}
