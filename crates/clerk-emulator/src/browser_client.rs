//! A browser signed in through the emulator's sign-in page, as Clerk's Frontend API knows it
//! by its `__client` cookie. The cookie holds a random secret; only its SHA-256 digest is
//! stored, so `state.json` cannot be replayed as a cookie.

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};

use crate::ids::random_base62;

/// The most browser clients kept; signing in past it forgets the oldest (its tab signs out).
pub(crate) const MAX_BROWSER_CLIENTS: usize = 256;

/// 43 base62 characters: about 256 bits.
const SECRET_LEN: usize = 43;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BrowserClient {
    /// Hex SHA-256 of the cookie's secret.
    pub digest: String,
    pub session_id: String,
    pub created_at: i64,
}

impl BrowserClient {
    /// A new client for `session_id`, and the secret its cookie carries.
    pub(crate) fn new(session_id: &str, now: i64) -> (Self, String) {
        let secret = random_base62(SECRET_LEN);
        let client = BrowserClient {
            digest: digest_of(&secret),
            session_id: session_id.to_owned(),
            created_at: now,
        };
        (client, secret)
    }
}

pub(crate) fn digest_of(secret: &str) -> String {
    digest(&SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
