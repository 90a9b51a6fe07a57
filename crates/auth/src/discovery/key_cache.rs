//! `kid` → key cache in front of the [`KeyFetcher`].
//!
//! Policy (why each rule exists):
//! - A known `kid` never waits for the network; when the set is older than its
//!   `max-age` a refresh runs in the background.
//! - An unknown `kid` may trigger a refetch (that is how key rotation works
//!   without a restart), but only one fetch runs at a time and at most one is
//!   started per cooldown, so a flood of made-up `kid`s cannot hammer the issuer.
//! - A failed or empty fetch keeps the old keys: an issuer outage must not log
//!   everybody out.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use jsonwebtoken::DecodingKey;

use super::jwks::{KeyMap, parse_jwks};
use super::{FetchError, KeyFetcher};
use crate::clock::Clock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyCachePolicy {
    /// Minimum time between two fetch attempts triggered by requests.
    pub cooldown: Duration,
    /// Refresh interval when the JWKS response has no `max-age`
    /// (@clerk/backend caches JWKS for 5 minutes).
    pub default_max_age: Duration,
    /// Bounds for a served `max-age`, so `no-cache` does not mean "refetch per
    /// request" and a year-long max-age does not pin a key forever.
    pub min_max_age: Duration,
    pub max_max_age: Duration,
}

impl Default for KeyCachePolicy {
    fn default() -> Self {
        KeyCachePolicy {
            cooldown: Duration::from_secs(10),
            default_max_age: Duration::from_secs(5 * 60),
            min_max_age: Duration::from_secs(60),
            max_max_age: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl KeyCachePolicy {
    fn refresh_interval(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_max_age)
            .clamp(self.min_max_age, self.max_max_age)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// Keys are loaded but none has this `kid` (and refetching is not allowed now
    /// or did not help).
    UnknownKid,
    /// No key has ever been loaded; the last fetch error, if any.
    Unavailable(String),
}

#[derive(Default)]
struct KeyState {
    keys: KeyMap,
    /// When the current set should be refreshed in the background.
    refresh_at: Option<SystemTime>,
    /// Start of the last fetch attempt, successful or not (cooldown after failures).
    last_attempt: Option<SystemTime>,
    /// Start of the last fetch an unknown `kid` triggered (cooldown against kid floods).
    /// Kept apart from `last_attempt` so a key rotated in right after start-up or a
    /// background refresh is picked up at once.
    last_kid_miss_fetch: Option<SystemTime>,
    last_error: Option<String>,
    fetches: u64,
}

pub(crate) struct KeyCache {
    issuer: String,
    fetcher: Arc<dyn KeyFetcher>,
    clock: Arc<dyn Clock>,
    policy: KeyCachePolicy,
    state: RwLock<KeyState>,
    /// Held for the whole duration of a fetch: one fetch in flight.
    fetch_gate: Arc<tokio::sync::Mutex<()>>,
}

impl KeyCache {
    pub(crate) fn new(
        issuer: String,
        fetcher: Arc<dyn KeyFetcher>,
        clock: Arc<dyn Clock>,
        policy: KeyCachePolicy,
    ) -> Self {
        KeyCache {
            issuer,
            fetcher,
            clock,
            policy,
            state: RwLock::new(KeyState::default()),
            fetch_gate: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub(crate) async fn key_for(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Arc<DecodingKey>, KeyLookupError> {
        if let Some(key) = self.cached(kid) {
            self.refresh_in_background_if_stale();
            return Ok(key);
        }
        let _gate = self.fetch_gate.lock().await;
        // Whoever held the gate before us may just have fetched this kid.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let now = self.clock.now();
        {
            let mut state = self.write();
            let healthy = !state.keys.is_empty() && state.last_error.is_none();
            let last = if healthy {
                state.last_kid_miss_fetch
            } else {
                state.last_attempt
            };
            if self.cooling_down(last, now) {
                return Err(self.miss_error_of(&state));
            }
            // The first load is not a miss: a rotation right after it must still be seen.
            if healthy {
                state.last_kid_miss_fetch = Some(now);
            }
        }
        // The error is kept in the state; the miss below reports it.
        if let Err(error) = self.fetch_holding_gate().await {
            self.log_failure(&error);
        }
        self.cached(kid).ok_or_else(|| self.miss_error())
    }

    /// Fetches now regardless of the cooldown (readiness checks, `keel check`),
    /// still one fetch at a time. The caller reports a failure: it is not logged here.
    pub(crate) async fn refresh_now(&self) -> Result<usize, FetchError> {
        let _gate = self.fetch_gate.lock().await;
        self.fetch_holding_gate().await
    }

    pub(crate) fn key_count(&self) -> usize {
        self.read().keys.len()
    }

    pub(crate) fn fetch_count(&self) -> u64 {
        self.read().fetches
    }

    #[cfg(test)]
    pub(crate) fn forget_keys(&self) {
        self.write().keys.clear();
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.read().keys.get(kid).cloned()
    }

    fn miss_error(&self) -> KeyLookupError {
        self.miss_error_of(&self.read())
    }

    fn miss_error_of(&self, state: &KeyState) -> KeyLookupError {
        if state.keys.is_empty() {
            KeyLookupError::Unavailable(
                state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "no signing keys fetched yet".to_owned()),
            )
        } else {
            KeyLookupError::UnknownKid
        }
    }

    fn in_cooldown(&self, state: &KeyState, now: SystemTime) -> bool {
        self.cooling_down(state.last_attempt, now)
    }

    fn cooling_down(&self, last: Option<SystemTime>, now: SystemTime) -> bool {
        last.is_some_and(|last| {
            now.duration_since(last)
                .is_ok_and(|elapsed| elapsed < self.policy.cooldown)
                // A clock that went backwards counts as "just tried".
                || now < last
        })
    }

    fn needs_refresh(&self, now: SystemTime) -> bool {
        let state = self.read();
        state.refresh_at.is_some_and(|at| now >= at) && !self.in_cooldown(&state, now)
    }

    fn refresh_in_background_if_stale(self: &Arc<Self>) {
        if !self.needs_refresh(self.clock.now()) {
            return;
        }
        let Ok(gate) = Arc::clone(&self.fetch_gate).try_lock_owned() else {
            return; // a fetch is already running
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            let _gate = gate;
            // Re-check: a fetch may have finished between the check and the gate.
            if this.needs_refresh(this.clock.now())
                && let Err(error) = this.fetch_holding_gate().await
            {
                this.log_failure(&error);
            }
        });
    }

    /// Callers hold `fetch_gate`.
    async fn fetch_holding_gate(&self) -> Result<usize, FetchError> {
        let started = self.clock.now();
        {
            let mut state = self.write();
            state.last_attempt = Some(started);
            state.fetches += 1;
        }
        let result = self
            .fetcher
            .fetch_jwks(&self.issuer)
            .await
            .and_then(|fetched| {
                parse_jwks(&fetched.jwks)
                    .map(|keys| (keys, fetched.max_age))
                    .map_err(FetchError::Failed)
            });
        let mut state = self.write();
        match result {
            Ok((keys, max_age)) => {
                let count = keys.len();
                let interval = self.policy.refresh_interval(max_age);
                state.keys = keys;
                state.refresh_at = Some(started + interval);
                state.last_error = None;
                tracing::debug!(
                    issuer = %self.issuer,
                    keys = count,
                    refresh_in_secs = interval.as_secs(),
                    "loaded signing keys"
                );
                Ok(count)
            }
            Err(error) => {
                state.last_error = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// For fetches that a token or the refresh timer started. A refused discovery document
    /// is an error: the setting is wrong, and new tokens will not pass until it is fixed.
    fn log_failure(&self, error: &FetchError) {
        let kept_keys = self.key_count();
        match error {
            FetchError::IssuerMismatch(_) => tracing::error!(
                issuer = %self.issuer,
                %error,
                kept_keys,
                "refused the issuer's discovery document; keeping the cached keys"
            ),
            FetchError::Failed(_) => tracing::warn!(
                issuer = %self.issuer,
                %error,
                kept_keys,
                "could not fetch signing keys; keeping the cached ones"
            ),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, KeyState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_interval_is_clamped() {
        let p = KeyCachePolicy::default();
        assert_eq!(p.refresh_interval(None), Duration::from_secs(300));
        assert_eq!(
            p.refresh_interval(Some(Duration::ZERO)),
            Duration::from_secs(60)
        );
        assert_eq!(
            p.refresh_interval(Some(Duration::from_secs(3600))),
            Duration::from_secs(3600)
        );
        assert_eq!(
            p.refresh_interval(Some(Duration::from_secs(10_000_000))),
            Duration::from_secs(86_400)
        );
    }
}
