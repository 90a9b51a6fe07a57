//! The embedded engine: one SQLite file in WAL mode, driven through `rusqlite`.
//!
//! Readers take a connection from a pool of read-only connections (each transaction one
//! snapshot). Writers share one connection and take SQLite's write lock with
//! `BEGIN IMMEDIATE`, which serializes them with each other and with other processes (such as
//! `keel backfill`) on the same file.
//!
//! Statements run as plain calls on the caller's thread with cached prepared statements: a
//! statement on cached pages costs a few microseconds, far less than a hop to a connection
//! thread would (that hop was ~50 µs with sqlx and bounded group commit to ~1,000 webhooks/s).
//! Only the steps that can wait on the disk or on another process — taking the write lock and
//! committing — move to tokio's blocking pool. The fsync that makes a commit durable runs on
//! a thread of its own after the write lock is released (`wal_sync.rs`).

mod backup;
mod catalog;
mod checkpoint;
mod connection;
mod fault;
mod read;
mod wal_sync;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use keel_store::engine::{Engine, EngineRead, EngineWrite, SyncedCatalog, TableSpec};
use keel_store::{Result, StoreError};
use rusqlite::Connection;
use tokio::sync::Mutex;

pub use crate::backup::{backup, integrity_check};
use crate::checkpoint::Checkpointer;
use crate::connection::ReaderPool;
pub use crate::connection::SCHEMA_VERSION;
use crate::wal_sync::WalSync;

pub struct SqliteEngine {
    readers: Arc<ReaderPool>,
    writer: Arc<Mutex<Connection>>,
    checkpointer: Arc<Checkpointer>,
    wal: Arc<WalSync>,
}

impl SqliteEngine {
    /// Opens (creating if missing) the database at a `sqlite:` URL or a plain file path, and
    /// applies pending migrations.
    pub async fn open(location: &str) -> Result<Self> {
        Self::open_with_wal_limit(location, checkpoint::WAL_LIMIT_BYTES).await
    }

    /// [`SqliteEngine::open`] with another bound on the WAL's size (tests use a small one).
    pub(crate) async fn open_with_wal_limit(location: &str, wal_limit_bytes: u64) -> Result<Self> {
        let path = connection::path_of(location);
        let writer = {
            let path = path.clone();
            blocking(move || connection::open_writer(&path)).await?
        };
        // SQLite's own name for the file (symlinks resolved): its WAL lies beside it.
        let resolved = writer.path().map(std::path::PathBuf::from).ok_or_else(|| {
            StoreError::Engine(format!("{} is not a database file", path.display()))
        })?;
        let readers = Arc::new(ReaderPool::new(path.clone()));
        // Open one reader now, so a file the process cannot read fails here, not on a query.
        drop(readers.get()?);
        let wal = WalSync::start(&resolved).map_err(fault::io)?;
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer = Checkpointer::start(path, wal_limit_bytes, Arc::clone(&writer))
            .map_err(StoreError::engine)?;
        Ok(SqliteEngine {
            readers,
            writer,
            checkpointer: Arc::new(checkpointer),
            wal: Arc::new(wal),
        })
    }
}

/// Runs SQLite work that may wait (on the disk, or on another process's write lock) off the
/// async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(StoreError::engine)?
}

#[async_trait]
impl Engine for SqliteEngine {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn sync_catalog(&self, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
        let writer = self.writer.clone().lock_owned().await;
        let wanted = wanted.to_vec();
        blocking(move || catalog::sync(&writer, &wanted)).await
    }

    async fn begin_read(&self) -> Result<Box<dyn EngineRead>> {
        Ok(Box::new(read::SqliteRead::begin(self.readers.get()?)?))
    }

    async fn begin_write(&self) -> Result<Box<dyn EngineWrite>> {
        let writer = self.writer.clone().lock_owned().await;
        Ok(Box::new(
            write::SqliteWrite::begin(writer, self.checkpointer.clone(), self.wal.clone()).await?,
        ))
    }

    async fn probe_write(&self) -> Result<()> {
        let writer = self.writer.clone().lock_owned().await;
        blocking(move || {
            // Changed and changed back in one transaction: the clock's page is written to the
            // WAL (SQLite skips rewriting identical content, so a no-op UPDATE would write
            // nothing and prove nothing), the clock keeps its value, and no commit is
            // published to live queries or seen by other processes' polls.
            let probed = writer.execute_batch(
                "BEGIN IMMEDIATE;
                 UPDATE keel_clock SET last_ts = last_ts + 1 WHERE id = 1;
                 UPDATE keel_clock SET last_ts = last_ts - 1 WHERE id = 1;
                 COMMIT;",
            );
            if probed.is_err() && !writer.is_autocommit() {
                let _ = writer.execute_batch("ROLLBACK");
            }
            probed.map_err(fault::sqlite)
        })
        .await?;
        // Checkpointed like any commit, so the WAL restarts: probes never make it grow.
        self.checkpointer.committed();
        Ok(())
    }

    /// None: one node writes, and the processes beside it (`keel backfill`, `keel seed`) are
    /// occasional, so live queries find their commits by polling the clock and re-check
    /// everything. A log would cost every commit a write for that rare case.
    fn commit_log(&self) -> Option<std::sync::Arc<dyn keel_store::engine::CommitLog>> {
        None
    }

    async fn ping(&self) -> Result<()> {
        let reader = self.readers.get()?;
        reader
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(fault::sqlite)
    }
}
