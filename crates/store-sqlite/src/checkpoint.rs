//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite checkpoints inside the `COMMIT` that crosses 1,000 WAL pages: that commit
//! then copies megabytes into the database file and fsyncs it while every queued mutation
//! waits (27% of commit time under the webhook benchmark). The writer connection turns that
//! off; this thread runs a PASSIVE checkpoint, which never blocks writers or readers, shortly
//! after commits happen. The writer restarts the WAL from its beginning once a checkpoint has
//! caught up.
//!
//! Under writes that never pause (a bulk load, a long burst), a PASSIVE checkpoint never
//! catches up: the writer appends while it copies, so the WAL only grows (measured: 14 GiB in
//! 90 s of `keel seed`). Once the WAL holds more than the limit, this thread takes the
//! writer connection's lock (so no Keel transaction is open or can start) and runs a
//! TRUNCATE checkpoint, which copies the rest and empties the file. Without the lock SQLite's
//! busy handler, sleeping between tries, loses every race for the write lock to a writer that
//! never pauses. That bounds the WAL at the cost of a pause in writing: the back-pressure the
//! disk needs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Mutex as AsyncMutex;

/// Commits arriving within this window share one checkpoint.
const SETTLE: Duration = Duration::from_millis(50);

/// The WAL size past which a checkpoint makes writers wait to empty it.
pub(crate) const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Default)]
struct State {
    /// Commits since the last checkpoint started.
    pending: bool,
    stop: bool,
}

/// The handle the engine keeps: `committed` after each commit; dropping it stops the thread.
pub(crate) struct Checkpointer {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl Checkpointer {
    /// `writer` is the engine's writer connection, held while the WAL is emptied.
    pub fn start(
        path: PathBuf,
        wal_limit_bytes: u64,
        writer: Arc<AsyncMutex<Connection>>,
    ) -> std::io::Result<Checkpointer> {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("keel-sqlite-checkpoint".into())
            .spawn(move || run(&path, wal_limit_bytes, &writer, &thread_shared))?;
        Ok(Checkpointer { shared })
    }

    pub fn committed(&self) {
        let (state, wake) = &*self.shared;
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.pending {
            state.pending = true;
            wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        wake.notify_one();
    }
}

fn run(
    path: &Path,
    wal_limit_bytes: u64,
    writer: &AsyncMutex<Connection>,
    shared: &(Mutex<State>, Condvar),
) {
    let conn = match crate::connection::open_checkpointer(path) {
        Ok(conn) => conn,
        Err(err) => {
            // Without this thread the WAL still works; it only grows until the next open.
            tracing::error!(error = %err, "cannot open the SQLite checkpoint connection");
            return;
        }
    };
    // A WAL frame is a page plus its 24-byte header.
    let page_size = conn
        .query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0))
        .unwrap_or(4096);
    let limit_frames = (wal_limit_bytes / (page_size as u64 + 24)).max(1) as i64;
    let (state, wake) = shared;
    loop {
        {
            let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
            while !guard.pending && !guard.stop {
                guard = wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
            }
            if guard.stop {
                return;
            }
        }
        std::thread::sleep(SETTLE);
        state.lock().unwrap_or_else(PoisonError::into_inner).pending = false;
        checkpoint(&conn, limit_frames, writer);
    }
}

/// A PASSIVE checkpoint, then a TRUNCATE one, holding the writer, when the WAL is past
/// `limit_frames`.
fn checkpoint(conn: &Connection, limit_frames: i64, writer: &AsyncMutex<Connection>) {
    let run = |mode: &str| {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        })
    };
    match run("PASSIVE") {
        Ok((frames, copied)) if frames > limit_frames => {
            tracing::debug!(frames, copied, "WAL past its limit; emptying it");
            let _no_writer = writer.blocking_lock();
            match run("TRUNCATE") {
                Ok((frames, copied)) => tracing::debug!(frames, copied, "WAL emptied"),
                // Busy past the timeout (a long reader): the next commit tries again.
                Err(err) => {
                    tracing::warn!(error = %err, "emptying the WAL failed; retried after the next commit")
                }
            }
        }
        Ok((frames, copied)) => tracing::trace!(frames, copied, "WAL checkpoint"),
        Err(err) => {
            tracing::warn!(error = %err, "WAL checkpoint failed; retried after the next commit")
        }
    }
}

#[cfg(test)]
mod tests {
    use keel_store::engine::{Engine, StoredDoc};
    use keel_values::{DocumentId, TableNumber, Ts};

    /// Writes that never pause keep the WAL near its limit instead of growing with them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn back_to_back_writes_keep_the_wal_bounded() {
        const LIMIT: u64 = 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keel.db");
        let engine = crate::SqliteEngine::open_with_wal_limit(path.to_str().unwrap(), LIMIT)
            .await
            .unwrap();
        let wal = dir.path().join("keel.db-wal");
        let text = "x".repeat(16 * 1024);
        let mut largest = 0;
        // 24 MiB in transactions of 256 KiB, one right after another.
        for round in 0..96u64 {
            let mut tx = engine.begin_write().await.unwrap();
            for _ in 0..16 {
                let mut body = serde_json::Map::new();
                body.insert("text".into(), serde_json::Value::from(text.as_str()));
                let doc = StoredDoc {
                    id: DocumentId::new_random(TableNumber(1)),
                    creation_time: 0.0,
                    body,
                };
                tx.put(&doc).await.unwrap();
            }
            tx.commit(Ts(round + 1), None).await.unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest < 8 * LIMIT,
            "the WAL reached {largest} bytes with a {LIMIT}-byte limit"
        );
        let mut read = engine.begin_read().await.unwrap();
        let docs = read.table_documents(TableNumber(1)).await.unwrap();
        assert_eq!(docs.len(), 96 * 16, "nothing lost to the truncations");
    }
}
