//! Opening connections with Keel's settings, the schema migrations, and the reader pool.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keel_store::{Result, StoreError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::fault;

/// Each connection keeps this many prepared statements; Keel uses about twenty distinct ones.
const STATEMENT_CACHE: usize = 64;

/// Idle read connections kept open; more are opened under load and closed when returned.
const IDLE_READERS: usize = 16;

/// How long a statement waits for another process's lock (a `keel backfill` commit) before
/// failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Migrations in order; `PRAGMA user_version` records how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_documents.sql"),
    include_str!("../migrations/0002_catalog_version.sql"),
];

/// The schema version (`PRAGMA user_version`) this build migrates to.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Accepts `sqlite://path`, `sqlite:path` (either with a `?query`, which is ignored) or a
/// plain file path.
pub(crate) fn path_of(location: &str) -> PathBuf {
    let path = location
        .strip_prefix("sqlite://")
        .or_else(|| location.strip_prefix("sqlite:"))
        .unwrap_or(location);
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    PathBuf::from(path)
}

/// Page cache per connection (KiB): index lookups on hot pages should not go to the OS.
const CACHE_KIB: i64 = 32 * 1024;

/// Reads map the file instead of copying each page out of the OS cache.
const MMAP_BYTES: i64 = 256 * 1024 * 1024;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Plans must not depend on bound values: otherwise (SQLite is built with STAT4) every new
    // range bound re-prepares the scan statement, planning included, on each call.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    // Each mutation in a group commit runs in a savepoint, whose undo copies of pages go to
    // the temp store: memory, not a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.query_row(&format!("PRAGMA mmap_size = {MMAP_BYTES}"), [], |_| Ok(()))
}

/// The writer connection: creates the file, switches it to WAL and applies migrations.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(fault::sqlite)?;
    configure(&conn).map_err(fault::sqlite)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(fault::sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Engine(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )));
    }
    // NORMAL: `COMMIT` does not wait for the disk; `wal_sync.rs` fsyncs the WAL after the
    // write lock is released, and a commit returns (is acknowledged) only after that.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(fault::sqlite)?;
    // Checkpoints run on their own thread (`checkpoint.rs`), not inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(fault::sqlite)?;
    // When the writer restarts the WAL, a file grown past this is cut back to it.
    conn.pragma_update(
        None,
        "journal_size_limit",
        crate::checkpoint::WAL_LIMIT_BYTES as i64,
    )
    .map_err(fault::sqlite)?;
    migrate(&conn)?;
    Ok(conn)
}

/// The checkpoint thread's connection (read-write: a checkpoint writes the database file).
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(fault::sqlite)?;
    configure(&conn).map_err(fault::sqlite)?;
    // Not lower: a checkpoint must fsync the WAL before copying frames into the database, and
    // the database before the writer may restart the WAL over them (the writer itself runs
    // NORMAL and leaves syncing to `wal_sync.rs`).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fault::sqlite)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    let applied = conn
        .query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0))
        .map_err(fault::sqlite)? as usize;
    // Databases made before `user_version` was used (by sqlx's migrator) already hold 0001.
    let applied = if applied == 0 && has_table(conn, "keel_clock")? {
        1
    } else {
        applied
    };
    for (number, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let script = format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            number + 1
        );
        conn.execute_batch(&script).map_err(|err| {
            let _ = conn.execute_batch("ROLLBACK");
            fault::sqlite_during(&format!("migration {}", number + 1), err)
        })?;
    }
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Engine(format!(
            "the database is at schema version {applied}, newer than this Keel ({}); upgrade Keel",
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

fn has_table(conn: &Connection, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(fault::sqlite)
}

/// Read-only connections, reused across transactions.
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub fn new(path: PathBuf) -> Self {
        ReaderPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn get(self: &Arc<Self>) -> Result<PooledReader> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(PooledReader {
            conn: Some(conn),
            pool: self.clone(),
        })
    }

    fn open(&self) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(fault::sqlite)?;
        configure(&conn).map_err(fault::sqlite)?;
        Ok(conn)
    }
}

/// A read connection on loan; it goes back to the pool (its transaction ended) when dropped.
pub(crate) struct PooledReader {
    conn: Option<Connection>,
    pool: Arc<ReaderPool>,
}

impl Deref for PooledReader {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for PooledReader {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return; // a connection in an unknown state is closed, not reused
        }
        let mut idle = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}
