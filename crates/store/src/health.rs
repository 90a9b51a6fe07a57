//! Whether storage accepts writes, for readiness probes.
//!
//! The answer is the outcome of the last write this process attempted: free to read, and
//! nothing is written to find it out while writes succeed. Only while the last write failed
//! for a reason of storage (or before any write) does a check run the engine's probe, at
//! most once per [`RECHECK_AFTER`], so a readiness endpoint polled by anyone cannot turn
//! into a stream of writes, and recovery (space freed, permissions fixed) is noticed
//! without waiting for a client's write. A probe rewrites one existing page and changes no
//! data, so it cannot fill a disk either.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::{Result, StorageFault, StoreError};

/// The shortest time between two probes while storage is failing.
pub const RECHECK_AFTER: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct WriteHealth {
    state: Mutex<State>,
}

#[derive(Default)]
enum State {
    /// No write attempted yet.
    #[default]
    Unknown,
    Healthy,
    Failing {
        fault: StorageFault,
        detail: String,
        checked: Instant,
    },
}

/// What a readiness check should do.
pub(crate) enum Check {
    Healthy,
    /// Still failing, checked recently: this error.
    Failing(StoreError),
    /// Run the probe and record its outcome.
    Probe,
}

impl WriteHealth {
    /// Records a write's outcome. Errors that are not about storage (a bad argument, a
    /// conflict) say nothing about it and are not recorded.
    pub fn observe<T>(&self, result: &Result<T>) {
        match result {
            Ok(_) => *self.lock() = State::Healthy,
            Err(StoreError::Storage { fault, detail }) => {
                *self.lock() = State::Failing {
                    fault: *fault,
                    detail: detail.clone(),
                    checked: Instant::now(),
                }
            }
            Err(_) => {}
        }
    }

    pub fn check(&self) -> Check {
        let mut state = self.lock();
        match &mut *state {
            State::Healthy => Check::Healthy,
            State::Unknown => Check::Probe,
            State::Failing {
                fault,
                detail,
                checked,
            } => {
                if checked.elapsed() < RECHECK_AFTER {
                    Check::Failing(StoreError::storage(*fault, detail.as_str()))
                } else {
                    // Claimed by this caller: concurrent checks get the last answer meanwhile.
                    *checked = Instant::now();
                    Check::Probe
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> Result<()> {
        Err(StoreError::storage(StorageFault::Full, "disk full"))
    }

    #[test]
    fn the_last_write_decides_and_failures_are_probed_at_most_once_a_second() {
        let health = WriteHealth::default();
        assert!(matches!(health.check(), Check::Probe), "unknown at first");
        health.observe(&Ok(()));
        assert!(matches!(health.check(), Check::Healthy));
        health.observe(&Err::<(), _>(StoreError::InvalidArgument("bad".into())));
        assert!(
            matches!(health.check(), Check::Healthy),
            "not a storage error"
        );
        health.observe(&full());
        let Check::Failing(err) = health.check() else {
            panic!("failing")
        };
        assert_eq!(err.storage_fault(), Some(StorageFault::Full));
        // Once the recheck interval has passed, one caller probes and the next is answered.
        if let State::Failing { checked, .. } = &mut *health.lock() {
            *checked -= RECHECK_AFTER;
        }
        assert!(matches!(health.check(), Check::Probe));
        assert!(matches!(health.check(), Check::Failing(_)));
        health.observe(&Ok(()));
        assert!(matches!(health.check(), Check::Healthy), "recovered");
    }
}
