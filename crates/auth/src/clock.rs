//! Time is injected so expiry, skew and key-refresh cooldowns are testable without sleeping.
//! The clock is the one every layer reads (`keel-runtime`).

pub use keel_runtime::{Clock, ManualClock, SystemClock};
