//! Wall-clock time, injected.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;

    fn now_unix_secs(&self) -> u64 {
        unix_secs(self.now())
    }
}

/// Seconds since the epoch; a time before 1970 reads as 0.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the epoch; a time before 1970 reads as 0.
pub fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Nanoseconds since the epoch; a time before 1970 reads as 0.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    unix_millis: AtomicU64,
}

impl ManualClock {
    pub fn new(unix_secs: u64) -> Self {
        ManualClock {
            unix_millis: AtomicU64::new(unix_secs.saturating_mul(1000)),
        }
    }

    /// Starts at the current wall-clock second.
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.now_unix_secs())
    }

    pub fn set(&self, unix_secs: u64) {
        self.unix_millis
            .store(unix_secs.saturating_mul(1000), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.unix_millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.unix_millis.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_unix_secs(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_unix_secs(), 1_001);
        clock.set(5);
        assert_eq!(clock.now_unix_secs(), 5);
    }

    #[test]
    fn times_before_the_epoch_read_as_zero() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(
            (unix_secs(before), unix_millis(before), unix_nanos(before)),
            (0, 0, 0)
        );
    }
}
