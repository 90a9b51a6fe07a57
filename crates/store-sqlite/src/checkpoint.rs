//! WAL checkpoints on a thread of their own.
//!
//! By default SQLite checkpoints inside the `COMMIT` that crosses 1,000 WAL pages: that commit
//! then copies megabytes into the database file and fsyncs it while every queued mutation
//! waits (27% of commit time under the webhook benchmark). The writer connection turns that
//! off; this thread runs a PASSIVE checkpoint, which never blocks writers or readers, shortly
//! after commits happen. The writer restarts the WAL from its beginning once a checkpoint has
//! caught up, so the file does not grow without bound.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

/// Commits arriving within this window share one checkpoint.
const SETTLE: Duration = Duration::from_millis(50);

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
    pub fn start(path: PathBuf) -> std::io::Result<Checkpointer> {
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("keel-sqlite-checkpoint".into())
            .spawn(move || run(&path, &thread_shared))?;
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

fn run(path: &Path, shared: &(Mutex<State>, Condvar)) {
    let conn = match crate::connection::open_checkpointer(path) {
        Ok(conn) => conn,
        Err(err) => {
            // Without this thread the WAL still works; it only grows until the next open.
            tracing::error!(error = %err, "cannot open the SQLite checkpoint connection");
            return;
        }
    };
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
        checkpoint(&conn);
    }
}

fn checkpoint(conn: &Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((frames, copied)) => tracing::trace!(frames, copied, "WAL checkpoint"),
        Err(err) => {
            tracing::warn!(error = %err, "WAL checkpoint failed; retried after the next commit")
        }
    }
}
