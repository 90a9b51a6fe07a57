//! keel-clerk-api against a fake Clerk Backend API on 127.0.0.1:0 (no
//! internet): one test binary, one module per area.

mod failures;
mod fake;
mod organizations;
mod real_json;
mod user_writes;
mod users;

use std::time::Duration;

use keel_clerk_api::{ClerkApi, RetryPolicy};

/// A client for `fake` with the right key.
fn client(fake: &fake::Fake) -> ClerkApi {
    ClerkApi::new(fake.url.clone(), fake::KEY)
}

/// Retries without the long production waits.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        min_rate_limit_wait: Duration::from_millis(10),
        ..RetryPolicy::default()
    }
}
