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
//! A failed fsync poisons the engine: which writes the kernel dropped cannot be known, so
//! every later commit fails until Keel restarts (PostgreSQL's rule too).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use keel_store::{Result, StoreError};
use tokio::sync::watch;

#[derive(Clone, Default)]
struct Progress {
    /// Commits known to be on disk (every commit up to this count).
    synced: u64,
    failed: Option<Arc<str>>,
}

#[derive(Default)]
struct State {
    /// Commits written to the WAL so far.
    written: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
}

/// The engine's handle; dropping it stops the thread.
pub(crate) struct WalSync {
    shared: Arc<Shared>,
}

impl WalSync {
    /// Starts syncing the WAL of the database at `db_path`, which the writer connection has
    /// already opened in WAL mode (so the `-wal` file exists).
    pub fn start(db_path: &Path) -> std::io::Result<WalSync> {
        let mut wal_path = db_path.as_os_str().to_owned();
        wal_path.push("-wal");
        let wal_path = PathBuf::from(wal_path);
        let wal = File::open(&wal_path)?;
        // The WAL file is new when the database is: its directory entry must be durable too.
        if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
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

    /// Waits until the commit at `position` is on disk.
    pub async fn durable(&self, position: u64) -> Result<()> {
        let mut progress = self.shared.progress.subscribe();
        let progress = progress
            .wait_for(|p| p.synced >= position || p.failed.is_some())
            .await
            .map_err(|_| StoreError::Engine("the WAL sync thread stopped".into()))?;
        match &progress.failed {
            Some(reason) if progress.synced < position => {
                Err(StoreError::Engine(reason.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Refuses new writes once a sync has failed.
    pub fn check(&self) -> Result<()> {
        match &self.shared.progress.borrow().failed {
            Some(reason) => Err(StoreError::Engine(reason.to_string())),
            None => Ok(()),
        }
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
        if let Err(reason) = sync(wal, wal_path) {
            tracing::error!(error = %reason, "syncing the SQLite WAL failed; writes are refused until Keel restarts");
            shared
                .progress
                .send_modify(|p| p.failed = Some(reason.into()));
            return;
        }
        synced = target;
        shared.progress.send_modify(|p| p.synced = target);
    }
}

fn sync(wal: &File, wal_path: &Path) -> std::result::Result<(), String> {
    wal.sync_data()
        .map_err(|err| format!("fsync of {} failed: {err}", wal_path.display()))?;
    // SQLite deletes the WAL only when the last connection closes, and this process keeps
    // its writer open; a deleted file here would mean durability silently lost, so check.
    match wal.metadata() {
        Ok(meta) if meta.nlink() > 0 => Ok(()),
        Ok(_) => Err(format!("{} was deleted while in use", wal_path.display())),
        Err(err) => Err(format!("cannot stat {}: {err}", wal_path.display())),
    }
}
