//! Durability off the write lock. The writer connection runs `synchronous=NORMAL`: `COMMIT`
//! appends the transaction's frames to the WAL without waiting for the disk and releases the
//! write lock at once. This thread then fsyncs the WAL file, once for all the commits written
//! since its last sync, and a commit returns only after that, so nothing is acknowledged
//! before it is on disk, while the next group of mutations runs during the fsync instead of
//! after it.
//!
//! The price: a commit is visible to readers from `COMMIT` on, up to one fsync before it is
//! durable, so a power failure in that window can lose a commit a reader saw (never one that
//! was acknowledged). SQLite's own `NORMAL` keeps the file consistent across such a failure.
//!
//! A failed fsync stops the process, as PostgreSQL's PANIC does: which writes the kernel
//! dropped cannot be known, so neither serving what readers see nor retrying is safe. On
//! restart SQLite recovers the WAL as the disk has it; every acknowledged commit had been
//! synced, and senders retry the rest (webhooks by `svix-id`, mutations by `requestId`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use keel_store::{Result, StoreError};
use tokio::sync::watch;

#[derive(Default)]
struct State {
    /// Commits written to the WAL so far.
    written: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Commits known to be on disk (every commit up to this count).
    synced: watch::Sender<u64>,
    /// Tests hold this to keep a sync from finishing.
    #[cfg(test)]
    hold: Mutex<()>,
}

/// The engine's handle; dropping it stops the thread.
pub(crate) struct WalSync {
    shared: Arc<Shared>,
}

impl WalSync {
    /// Starts syncing the WAL of the database file `db_file`: the path SQLite resolved (it
    /// follows symlinks and puts the WAL beside the real file). The writer connection has
    /// already opened it in WAL mode, so the `-wal` file exists.
    pub fn start(db_file: &Path) -> std::io::Result<WalSync> {
        let mut wal_path = db_file.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal_path = PathBuf::from(wal_path);
        let wal = File::open(&wal_path)?;
        // The WAL file is new when the database is: its directory entry must be durable too.
        let dir = match db_file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            synced: watch::Sender::new(0),
            #[cfg(test)]
            hold: Mutex::new(()),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("keel-sqlite-sync".into())
            .spawn(move || run(&wal, &wal_path, &thread_shared))?;
        Ok(WalSync { shared })
    }

    /// Records one more commit written to the WAL and returns its position, to wait on with
    /// [`WalSync::durable`]. Call right after `COMMIT`, still holding the write lock, so
    /// positions follow the order of the WAL.
    pub fn written(&self) -> u64 {
        let mut state = self.lock();
        state.written += 1;
        self.shared.wake.notify_one();
        state.written
    }

    /// The position of the latest commit written: what a transaction that wrote nothing may
    /// have read, and must wait on before it is acknowledged.
    pub fn position(&self) -> u64 {
        self.lock().written
    }

    /// Waits until every commit up to `position` is on disk.
    pub async fn durable(&self, position: u64) -> Result<()> {
        let mut synced = self.shared.synced.subscribe();
        synced
            .wait_for(|synced| *synced >= position)
            .await
            .map(drop)
            .map_err(|_| StoreError::Engine("the WAL sync thread stopped".into()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for WalSync {
    fn drop(&mut self) {
        self.lock().stop = true;
        self.shared.wake.notify_one();
    }
}

fn run(wal: &File, wal_path: &Path, shared: &Shared) {
    let mut synced = 0;
    loop {
        let target = {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            while state.written == synced && !state.stop {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.stop {
                return;
            }
            state.written
        };
        #[cfg(test)]
        let _held = shared.hold.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = wal.sync_data() {
            if shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .stop
            {
                return; // the engine is closing; SQLite checkpoints and syncs on close
            }
            let reason = format!("fsync of {} failed: {err}", wal_path.display());
            tracing::error!(error = %reason, "syncing the SQLite WAL failed; stopping Keel");
            eprintln!("keel: {reason}; stopping (the data on disk is recovered on restart)");
            std::process::exit(1);
        }
        synced = target;
        shared.synced.send_replace(target);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn started() -> (tempfile::TempDir, WalSync) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keel.db");
        std::fs::write(dir.path().join("keel.db-wal"), b"").unwrap();
        let sync = WalSync::start(&db).unwrap();
        (dir, sync)
    }

    // The guard is held across awaits on purpose: it blocks the sync thread, not this task.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test]
    async fn a_commit_is_durable_only_after_a_sync_that_began_after_it() {
        let (_dir, sync) = started();
        let held = sync.shared.hold.lock().unwrap();
        let position = sync.written();
        let waiting = sync.durable(position);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut waiting)
                .await
                .is_err(),
            "durable before its sync finished"
        );
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("durable once synced")
            .unwrap();
    }

    #[tokio::test]
    async fn one_sync_covers_every_commit_written_before_it() {
        let (_dir, sync) = started();
        let positions: Vec<u64> = (0..5).map(|_| sync.written()).collect();
        assert_eq!(positions, [1, 2, 3, 4, 5]);
        assert_eq!(sync.position(), 5);
        tokio::time::timeout(Duration::from_secs(5), sync.durable(5))
            .await
            .expect("synced")
            .unwrap();
        // Nothing new written: an earlier position is already durable.
        sync.durable(3).await.unwrap();
    }

    #[test]
    fn a_database_without_its_wal_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WalSync::start(&dir.path().join("missing.db")).is_err());
    }
}
