//! Identifiers and timestamps in Clerk's formats.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;

/// Clerk ids are a prefix plus 27 base62 characters (a KSUID). Ours are random
/// base62 of the same length, so anything parsing Clerk ids accepts them.
const ID_LEN: usize = 27;

pub(crate) fn random_base62(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base62(ID_LEN))
}

/// A base62 rendering of hash bytes (one byte per character, so it is stable
/// but slightly biased: fine for an identifier, not for key material).
pub(crate) fn base62_of(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    bytes
        .iter()
        .take(len)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Clerk's JSON objects carry milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_clerks() {
        let id = new_id("user");
        assert_eq!(id.len(), "user_".len() + 27);
        assert!(
            id["user_".len()..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(new_id("user"), id);
    }

    #[test]
    fn base62_is_stable() {
        assert_eq!(base62_of(&[0, 61, 62, 255], 3), "0z0");
    }
}
