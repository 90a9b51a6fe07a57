//! Verified tokens, so a client sending the same token on every request pays
//! for the RSA check once. Keyed by SHA-256 of the token (the token itself is a
//! credential and is not kept); bounded; every hit re-checks `exp`.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::digest;

use crate::identity::UserIdentity;

/// Clerk tokens live 60 s, so even a busy server holds a few thousand at once.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &str) -> TokenKey {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    key
}

pub(crate) enum Lookup {
    Hit(Arc<UserIdentity>),
    /// Cached but past `exp` (beyond skew); the entry was removed.
    Expired,
    Miss,
}

pub(crate) struct TokenCache {
    entries: RwLock<HashMap<TokenKey, Arc<UserIdentity>>>,
    capacity: usize,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &TokenKey, now: u64, skew_secs: u64) -> Lookup {
        let hit = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned();
        match hit {
            None => Lookup::Miss,
            Some(identity) if !is_expired(identity.expires_at, now, skew_secs) => {
                Lookup::Hit(identity)
            }
            Some(_) => {
                self.entries
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                Lookup::Expired
            }
        }
    }

    /// When full: drop expired entries; if still full, drop the entry that
    /// expires first (it has the least useful life left).
    pub(crate) fn insert(
        &self,
        key: TokenKey,
        identity: Arc<UserIdentity>,
        now: u64,
        skew_secs: u64,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, id| !is_expired(id.expires_at, now, skew_secs));
            if entries.len() >= self.capacity
                && let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, id)| id.expires_at)
                    .map(|(k, _)| *k)
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(key, identity);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Clerk's rule: expired when `exp <= now - skew`.
pub(crate) fn is_expired(exp: u64, now: u64, skew_secs: u64) -> bool {
    exp.saturating_add(skew_secs) <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(exp: u64) -> Arc<UserIdentity> {
        Arc::new(UserIdentity::new("https://i.dev", "user_1", exp))
    }

    #[test]
    fn expiry_rule_matches_clerk() {
        assert!(!is_expired(100, 104, 5));
        assert!(is_expired(100, 105, 5));
        assert!(!is_expired(100, 0, 5));
        assert!(!is_expired(u64::MAX, u64::MAX - 1, 5));
    }

    #[test]
    fn hits_until_expired_then_evicts() {
        let cache = TokenCache::new(10);
        let key = token_key("a.b.c");
        cache.insert(key, id(100), 50, 5);
        assert!(matches!(cache.get(&key, 104, 5), Lookup::Hit(_)));
        assert!(matches!(cache.get(&key, 105, 5), Lookup::Expired));
        assert!(matches!(cache.get(&key, 105, 5), Lookup::Miss));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_evicting_expired_then_soonest() {
        let cache = TokenCache::new(3);
        cache.insert(token_key("1"), id(10), 0, 0);
        cache.insert(token_key("2"), id(200), 0, 0);
        cache.insert(token_key("3"), id(300), 0, 0);
        // At t=50 entry 1 is expired and goes first.
        cache.insert(token_key("4"), id(400), 50, 0);
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.get(&token_key("1"), 50, 0), Lookup::Miss));
        // Nothing expired: the soonest-expiring (2) makes room.
        cache.insert(token_key("5"), id(500), 50, 0);
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.get(&token_key("2"), 50, 0), Lookup::Miss));
        assert!(matches!(cache.get(&token_key("5"), 50, 0), Lookup::Hit(_)));
    }

    #[test]
    fn keys_are_sha256() {
        assert_ne!(token_key("a"), token_key("b"));
        assert_eq!(token_key("a"), token_key("a"));
    }
}
