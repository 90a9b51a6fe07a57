//! Randomness, injected.

use std::sync::Mutex;

use rand::{RngCore, SeedableRng, rngs::StdRng};

pub trait Entropy: Send + Sync {
    fn fill(&self, bytes: &mut [u8]);
}

/// The thread-local generator, seeded from the operating system (a CSPRNG): what ids and
/// request ids are drawn from in production.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        rand::rng().fill_bytes(bytes);
    }
}

/// A generator from a fixed seed: the same seed gives the same bytes (tests).
#[derive(Debug)]
pub struct SeededEntropy(Mutex<StdRng>);

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        SeededEntropy(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, bytes: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .fill_bytes(bytes);
    }
}
