//! The clock and the randomness that Keel's layers read (document ids and creation times,
//! commit timestamps, webhook timestamp tolerance, the mutation log's retention, retry
//! jitter, request ids, token expiry), behind one injectable [`Runtime`]. Production uses
//! the wall clock and the thread-local CSPRNG; a test sets a [`ManualClock`] and moves it
//! instead of sleeping, and a [`SeededEntropy`] makes ids reproducible.
//!
//! Timers (`tokio::time`) are not here: tokio's paused clock already serves tests for those.

mod clock;
mod entropy;

use std::sync::Arc;
use std::time::SystemTime;

pub use clock::{Clock, ManualClock, SystemClock, unix_millis, unix_nanos, unix_secs};
pub use entropy::{Entropy, SeededEntropy, SystemEntropy};

/// The clock and the randomness one Keel process reads. Cheap to clone (two `Arc`s).
#[derive(Clone)]
pub struct Runtime {
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
}

impl Runtime {
    /// The wall clock and the operating system's randomness.
    pub fn system() -> Self {
        Runtime::new(Arc::new(SystemClock), Arc::new(SystemEntropy))
    }

    pub fn new(clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> Self {
        Runtime { clock, entropy }
    }

    /// This runtime with another clock (the same randomness).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Runtime { clock, ..self }
    }

    /// This runtime with other randomness (the same clock).
    pub fn with_entropy(self, entropy: Arc<dyn Entropy>) -> Self {
        Runtime { entropy, ..self }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Nanoseconds since the Unix epoch (0 before it).
    pub fn now_unix_nanos(&self) -> u64 {
        unix_nanos(self.clock.now())
    }

    /// Whole milliseconds since the Unix epoch, as a float: the unit of Convex's
    /// `_creationTime` and of every `…At` field.
    pub fn now_unix_millis(&self) -> f64 {
        unix_millis(self.clock.now()) as f64
    }

    /// Seconds since the Unix epoch (0 before it).
    pub fn now_unix_secs(&self) -> u64 {
        unix_secs(self.clock.now())
    }

    /// Fills `bytes` with random bytes.
    pub fn fill(&self, bytes: &mut [u8]) {
        self.entropy.fill(bytes);
    }

    pub fn random_u64(&self) -> u64 {
        let mut bytes = [0; 8];
        self.entropy.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    /// A uniformly random fraction in `[0, 1)` (53 bits).
    pub fn random_fraction(&self) -> f64 {
        (self.random_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::system()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_manual_runtime_reads_the_time_it_was_given() {
        let clock = Arc::new(ManualClock::new(1_700_000_000));
        let runtime = Runtime::system().with_clock(clock.clone());
        assert_eq!(runtime.now_unix_secs(), 1_700_000_000);
        assert_eq!(runtime.now_unix_millis(), 1_700_000_000_000.0);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(runtime.now_unix_nanos(), 1_700_000_001_500_000_000);
    }

    #[test]
    fn seeded_randomness_repeats_and_system_randomness_does_not() {
        let a = Runtime::system().with_entropy(Arc::new(SeededEntropy::new(7)));
        let b = Runtime::system().with_entropy(Arc::new(SeededEntropy::new(7)));
        let first: Vec<u64> = (0..4).map(|_| a.random_u64()).collect();
        assert_eq!(first, (0..4).map(|_| b.random_u64()).collect::<Vec<_>>());
        let system = Runtime::system();
        assert_ne!(system.random_u64(), system.random_u64());
        let fraction = a.random_fraction();
        assert!((0.0..1.0).contains(&fraction), "{fraction}");
    }
}
