//! Getting the issuer's signing keys: the [`KeyFetcher`] seam (network in
//! production, in-memory in tests), JWKS parsing, and the key cache.
//!
//! Cache policy: keys are held by `kid`. A known `kid` never waits on the
//! network; once the set is older than the JWKS `Cache-Control: max-age`
//! (default 5 min, clamped to 1 min–24 h) it is refreshed in the background.
//! An unknown `kid` triggers a refetch (key rotation), but at most one fetch
//! runs at a time and request-triggered fetches start at most once per 10 s.
//! A failed or empty fetch keeps the previous keys.

pub(crate) mod http;
pub(crate) mod issuer;
pub(crate) mod jwks;
pub(crate) mod key_cache;

use std::time::Duration;

pub use http::{ReqwestFetcher, discovery_url};
pub use issuer::IssuerMismatch;

/// A JWKS document as served by the issuer, plus how long it may be cached.
#[derive(Clone, Debug)]
pub struct FetchedJwks {
    /// The JWKS JSON (`{"keys":[…]}`); unusable keys in it are skipped.
    pub jwks: serde_json::Value,
    /// `Cache-Control: max-age` of the JWKS response, if any.
    pub max_age: Option<Duration>,
}

/// Why keys could not be loaded (logged and returned by `refresh_keys`; never
/// contains a token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The issuer could not be reached, or answered with something unusable.
    #[error("{0}")]
    Failed(String),
    /// The discovery document names another issuer: a setting to fix, not an outage.
    #[error(transparent)]
    IssuerMismatch(#[from] IssuerMismatch),
}

/// Fetches an issuer's keys: OIDC discovery (`{issuer}/.well-known/openid-configuration`
/// → `jwks_uri`) then the JWKS. Injected so tests need no network.
#[async_trait::async_trait]
pub trait KeyFetcher: Send + Sync {
    /// `issuer` is normalized: a scheme, no trailing slash. A fetcher that reads a discovery
    /// document refuses one that names another issuer ([`FetchError::IssuerMismatch`]).
    async fn fetch_jwks(&self, issuer: &str) -> Result<FetchedJwks, FetchError>;
}
