//! The PostgreSQL engine: the store's documents, index entries and commit clock in one
//! PostgreSQL database, shared by any number of Keel instances. The tables have the SQLite
//! engine's shape (`bytea` index keys compare like memcmp), driven through `sqlx` with only
//! its `postgres` feature and a connection pool.
//!
//! - Readers take a REPEATABLE READ, READ ONLY transaction: one snapshot, whose first read is
//!   the commit clock, so `ts()` is exactly the snapshot's last commit.
//! - Writers lock the clock row first (`write.rs`), which serializes the writers of every
//!   instance, and advance it at commit: timestamps come from the database and strictly
//!   increase across instances and restarts.
//! - Every commit logs its write set and notifies the other instances (`log.rs`), so each
//!   re-runs only the live queries a commit touched.
//! - The engine's own schema is migrated on open under an advisory lock (`migrate.rs`).

mod catalog;
mod fault;
mod log;
mod migrate;
mod pending;
mod read;
mod settings;
mod singleton;
mod write;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use keel_store::engine::{
    CommitLog, Engine, EngineRead, EngineWrite, PoolUsage, SyncedCatalog, TableSpec,
};
use keel_store::{Result, StorageFault, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Mutex, watch};

pub use log::{LISTENER_APPLICATION_NAME, LOG_MAX_ENTRIES, LOG_RETENTION, PRUNE_EVERY};
pub use migrate::SCHEMA_VERSION;
pub use settings::{DatabaseUrl, PostgresSettings, UrlError};
pub use singleton::PostgresSingletons;

pub struct PostgresEngine {
    pool: PgPool,
    /// The pool's limit, for `/metrics`.
    max_connections: u32,
    /// This process's writers take turns here before waiting on the clock row.
    writer_turn: Arc<Mutex<()>>,
    log: Arc<log::PgCommitLog>,
    /// Dropped with the engine: stops the log pruner.
    _alive: watch::Sender<()>,
}

impl PostgresEngine {
    /// Connects, applies pending migrations, and opens the pool. A server that cannot be
    /// reached within the connect timeout is an error naming its host (never the password).
    pub async fn open(settings: &PostgresSettings) -> Result<Self> {
        let options = connect_options(settings)?;
        let mut conn = connect(settings, &options).await?;
        migrate::migrate(&mut conn).await?;
        warn_on_async_commit(&mut conn).await;
        // The migrating connection is not kept: the pool opens its own, lazily.
        let _ = conn.close().await;
        let max_connections = settings.pool_size.max(PostgresSettings::MIN_POOL_SIZE);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(settings.connect_timeout)
            // Not pinged before use (that is a round trip per transaction): a transaction
            // whose first statement finds its connection closed (the server restarted) begins
            // again on another (`read.rs`, `write.rs`), and the pool drops the dead one.
            .test_before_acquire(false)
            .connect_lazy_with(options.clone());
        let log = Arc::new(log::PgCommitLog::new(
            pool.clone(),
            options,
            settings.connect_timeout,
        ));
        let alive = watch::Sender::new(());
        log::spawn_pruner(pool.clone(), alive.subscribe());
        Ok(PostgresEngine {
            pool,
            max_connections,
            writer_turn: Arc::default(),
            log,
            _alive: alive,
        })
    }

    /// Prunes the commit log now: entries older than `keep`, and all but the newest
    /// `max_entries`. Returns how many were deleted. (A task does this every
    /// [`PRUNE_EVERY`] with [`LOG_RETENTION`] and [`LOG_MAX_ENTRIES`].)
    pub async fn prune_commit_log(
        &self,
        keep: std::time::Duration,
        max_entries: i64,
    ) -> Result<u64> {
        log::prune(&self.pool, keep, max_entries).await
    }

    /// The server process of the connection listening for commits, once it listens (for
    /// diagnostics and tests: `pg_terminate_backend` on it loses the listener).
    pub fn listener_pid(&self) -> Option<i32> {
        self.log.listener_pid()
    }

    /// Applies pending migrations and returns how many were applied (0 when the database was
    /// up to date), for `keel migrate`.
    pub async fn migrate(settings: &PostgresSettings) -> Result<usize> {
        let options = connect_options(settings)?;
        let mut conn = connect(settings, &options).await?;
        let applied = migrate::migrate(&mut conn).await?;
        let _ = conn.close().await;
        Ok(applied)
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn connect_options(settings: &PostgresSettings) -> Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(settings.url.expose()).map_err(|err| {
        // Never the URL itself: it may carry a password.
        StoreError::Engine(format!(
            "the PostgreSQL URL for {} is not usable: {err}",
            settings.url.host()
        ))
    })?;
    let timeout = settings.statement_timeout.as_millis().to_string();
    // Keel's statements are a fixed set of key lookups, key-range scans stopping at a limit,
    // and `UNNEST` writes by key, prepared once per connection. Their right plan is the same
    // for every argument and every table size (nested loops over the primary keys), so:
    // - generic plans from the first call: left to choose, PostgreSQL planned each call
    //   afresh (100-460 µs per statement, measured with pg_stat_statements);
    // - no sequential scan while an index can serve: a generic plan made while a table was
    //   small stays cached as it grows (the index-entry `DELETE … USING UNNEST` took 2.7 ms
    //   a call through a hash join over the whole table, 20 µs through the key);
    // - no parallel workers and no JIT: a generic plan cannot see bounds or limits and may
    //   expect many rows, and for such an estimate PostgreSQL starts workers (6-7 ms to
    //   launch two, for a 0.3 ms scan) or JIT-compiles (7.6 ms), on every call.
    Ok(options.application_name("keel").options([
        ("statement_timeout", timeout.as_str()),
        ("idle_in_transaction_session_timeout", timeout.as_str()),
        ("plan_cache_mode", "force_generic_plan"),
        ("enable_seqscan", "off"),
        ("max_parallel_workers_per_gather", "0"),
        ("jit", "off"),
    ]))
}

async fn connect(settings: &PostgresSettings, options: &PgConnectOptions) -> Result<PgConnection> {
    let host = settings.url.host();
    let database = settings.url.database();
    match tokio::time::timeout(
        settings.connect_timeout,
        PgConnection::connect_with(options),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(fault::sqlx_during(
            &format!("connecting to PostgreSQL at {host} (database {database})"),
            err,
        )),
        Err(_) => Err(StoreError::storage(
            StorageFault::Unavailable,
            format!(
                "connecting to PostgreSQL at {host} (database {database}): no answer within {:?}",
                settings.connect_timeout
            ),
        )),
    }
}

/// Keel acknowledges a commit when `COMMIT` returns and treats whatever a transaction read as
/// durable; with `synchronous_commit = off` neither holds.
async fn warn_on_async_commit(conn: &mut PgConnection) {
    let setting: std::result::Result<String, _> = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *conn)
        .await;
    if let Ok(setting) = setting
        && setting == "off"
    {
        tracing::warn!(
            "PostgreSQL runs with synchronous_commit = off: acknowledged commits can be lost in a crash"
        );
    }
}

#[async_trait]
impl Engine for PostgresEngine {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn sync_catalog(&self, wanted: &[TableSpec]) -> Result<SyncedCatalog> {
        let _turn = self.writer_turn.lock().await;
        catalog::sync(&self.pool, wanted).await
    }

    async fn begin_read(&self) -> Result<Box<dyn EngineRead>> {
        Ok(Box::new(read::PgRead::begin(&self.pool).await?))
    }

    async fn begin_write(&self) -> Result<Box<dyn EngineWrite>> {
        let turn = self.writer_turn.clone().lock_owned().await;
        Ok(Box::new(write::PgWrite::begin(&self.pool, turn).await?))
    }

    async fn ping(&self) -> Result<()> {
        // As a transaction's first statement: a connection found closed is replaced.
        let mut attempts = self.pool.size() as usize + 1;
        loop {
            match sqlx::query("SELECT 1").execute(&self.pool).await {
                Ok(_) => return Ok(()),
                Err(err) if attempts > 1 && fault::lost_connection(&err) => attempts -= 1,
                Err(err) => return Err(fault::sqlx(err)),
            }
        }
    }

    /// `VACUUM (ANALYZE)` of the tables a load fills: statistics for the planner (autovacuum
    /// would gather them only minutes later), and the visibility map that lets index-only
    /// scans skip the heap. Outside a transaction, as `VACUUM` requires.
    async fn after_bulk_load(&self) -> Result<()> {
        sqlx::query("VACUUM (ANALYZE) keel_documents, keel_index_entries, keel_commit_log")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|err| fault::sqlx_during("analyzing the tables after a bulk load", err))
    }

    fn commit_log(&self) -> Option<Arc<dyn CommitLog>> {
        Some(Arc::clone(&self.log) as Arc<dyn CommitLog>)
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        Some(PoolUsage {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.max_connections,
        })
    }

    async fn probe_write(&self) -> Result<()> {
        // A committed write of the clock row with its own value: a new row version on the
        // same page (vacuumed later), the clock unchanged, nothing published. It waits for
        // the commit lock like any writer.
        let _turn = self.writer_turn.lock().await;
        sqlx::query("UPDATE keel_clock SET last_ts = last_ts WHERE id = 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(fault::sqlx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    async fn connection(db: &TestDatabase) -> PgConnection {
        PgConnection::connect(db.url().expose()).await.unwrap()
    }

    /// A writer begun on `engine` holds the clock row: another connection's `NOWAIT` lock on
    /// it fails, as a `Conflict` (SQLSTATE 55P03).
    async fn assert_a_writer_holds_the_clock_row(db: &TestDatabase, engine: &PostgresEngine) {
        let writer = engine.begin_write().await.unwrap();
        let mut other = connection(db).await;
        let err = sqlx::query("SELECT last_ts FROM keel_clock WHERE id = 1 FOR UPDATE NOWAIT")
            .execute(&mut other)
            .await
            .expect_err("the writer holds the clock row");
        let err = fault::sqlx(err);
        assert!(err.is_conflict(), "{err}");
        assert!(err.to_string().contains("55P03"), "{err}");
        drop(writer);
    }

    /// A real lock conflict from the server is a `Conflict`, which a retry may get past.
    #[tokio::test]
    async fn a_lock_that_cannot_be_had_is_a_conflict() {
        let db = TestDatabase::create().await;
        let engine = PostgresEngine::open(&db.settings()).await.unwrap();
        assert_a_writer_holds_the_clock_row(&db, &engine).await;
    }

    /// Keel's connections use generic plans from the first call, index scans where an index
    /// serves, never parallel workers and never JIT (see `connect_options`).
    #[tokio::test]
    async fn connections_plan_once_without_workers_or_jit() {
        let db = TestDatabase::create().await;
        let engine = PostgresEngine::open(&db.settings()).await.unwrap();
        let mut conn = engine.pool.acquire().await.unwrap();
        for (setting, wanted) in [
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
            ("max_parallel_workers_per_gather", "0"),
            ("jit", "off"),
        ] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(value, wanted, "{setting}");
        }
    }

    /// A reader is not a sqlx transaction (its `BEGIN` and clock read share a round trip):
    /// dropping it still ends its snapshot before its connection serves anyone else, so no
    /// pooled connection stays idle in a transaction, and later writers start clean.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_readers_leave_no_transaction_open() {
        let db = TestDatabase::create().await;
        let engine = PostgresEngine::open(&db.settings()).await.unwrap();
        let mut readers = Vec::new();
        for _ in 0..4 {
            readers.push(engine.begin_read().await.unwrap());
        }
        let ts = readers[0].ts();
        assert!(readers.iter().all(|r| r.ts() == ts));
        drop(readers);
        let mut admin = connection(&db).await;
        let mut waited = 0;
        loop {
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            )
            .fetch_one(&mut admin)
            .await
            .unwrap();
            if open == 0 {
                break;
            }
            waited += 1;
            assert!(waited < 100, "readers left {open} transactions open");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_a_writer_holds_the_clock_row(&db, &engine).await;
    }

    /// A database switched to read-only refuses writes as read-only storage, and the
    /// readiness probe says so; a catalog that needs no change is only read, so it still opens
    /// and serves reads, as the SQLite engine does on a file it cannot write.
    #[tokio::test]
    async fn a_read_only_database_is_read_only_storage() {
        use keel_store::{Database, Schema, TableDef};

        let db = TestDatabase::create().await;
        let schema = Schema::new().table(TableDef::new("tags"));
        let open = || async {
            let engine: Arc<dyn Engine> = Arc::new(PostgresEngine::open(&db.settings()).await?);
            Database::open(engine, &schema).await
        };
        drop(open().await.unwrap());
        let mut admin = PgConnection::connect(testing::admin_url().expose())
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            r#"ALTER DATABASE "{}" SET default_transaction_read_only = on"#,
            db.name()
        )))
        .execute(&mut admin)
        .await
        .unwrap();

        let database = open().await.expect("an unchanged catalog opens read-only");
        let err = database.writable().await.expect_err("read-only");
        assert_eq!(err.storage_fault(), Some(StorageFault::ReadOnly), "{err}");
        let err = database.writer().await.err().expect("the lock is a write");
        assert_eq!(err.storage_fault(), Some(StorageFault::ReadOnly), "{err}");
        let reader = database.reader().await.unwrap();
        assert!(reader.query("tags").collect().await.unwrap().is_empty());

        let engine: Arc<dyn Engine> = Arc::new(PostgresEngine::open(&db.settings()).await.unwrap());
        let more = Schema::new()
            .table(TableDef::new("tags"))
            .table(TableDef::new("notes"));
        let err = Database::open(engine, &more)
            .await
            .err()
            .expect("a new table");
        assert_eq!(err.storage_fault(), Some(StorageFault::ReadOnly), "{err}");
    }
}
