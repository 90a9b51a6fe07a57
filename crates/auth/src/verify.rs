//! Token → [`UserIdentity`]. The order of checks follows Convex: structure
//! (`InvalidAuthHeader`), provider match on the unverified `iss`/`aud`
//! (`NoAuthProvider`), then algorithm, key, signature, and only after a valid
//! signature the times (`TokenExpired`) and `azp` (`Unauthenticated`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jsonwebtoken::Algorithm;

use crate::claims;
use crate::clock::{Clock, SystemClock};
use crate::config::AuthConfig;
use crate::discovery::key_cache::{KeyCache, KeyCachePolicy, KeyLookupError};
use crate::discovery::{FetchError, KeyFetcher, ReqwestFetcher};
use crate::error::AuthError;
use crate::identity::UserIdentity;
use crate::token;
use crate::token_cache::{self, Lookup, TokenCache, is_expired};

/// Verifies Clerk-issued JWTs for one configured issuer. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyCache>,
    tokens: TokenCache,
    cache_hits: AtomicU64,
    signature_checks: AtomicU64,
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Verifications answered from the verified-token cache.
    pub cache_hits: u64,
    /// RSA signature verifications performed.
    pub signature_checks: u64,
    /// Key fetch attempts (discovery + JWKS), successful or not.
    pub key_fetches: u64,
    pub cached_tokens: usize,
    pub keys: usize,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.inner.config)
            .field("keys_loaded", &self.keys_loaded())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Production wiring: the system clock and discovery over HTTPS.
    pub fn new(config: AuthConfig) -> Verifier {
        Self::with_parts(
            config,
            Arc::new(ReqwestFetcher::new()),
            Arc::new(SystemClock),
        )
    }

    /// Discovery over HTTPS, time from `clock` (the process's injected runtime).
    pub fn with_clock(config: AuthConfig, clock: Arc<dyn Clock>) -> Verifier {
        Self::with_parts(config, Arc::new(ReqwestFetcher::new()), clock)
    }

    pub fn with_parts(
        config: AuthConfig,
        fetcher: Arc<dyn KeyFetcher>,
        clock: Arc<dyn Clock>,
    ) -> Verifier {
        let config = config.normalized();
        let keys = KeyCache::new(
            config.issuer.clone(),
            fetcher,
            Arc::clone(&clock),
            KeyCachePolicy::default(),
        );
        Verifier {
            inner: Arc::new(Inner {
                config,
                clock,
                keys: Arc::new(keys),
                tokens: TokenCache::new(token_cache::DEFAULT_CAPACITY),
                cache_hits: AtomicU64::new(0),
                signature_checks: AtomicU64::new(0),
            }),
        }
    }

    /// Whether a verified identity's token has expired since, by this verifier's clock and
    /// skew (the rule verification applies).
    pub fn has_expired(&self, identity: &UserIdentity) -> bool {
        token_cache::is_expired(
            identity.expires_at,
            self.inner.clock.now_unix_secs(),
            self.inner.config.clock_skew.as_secs(),
        )
    }

    /// The clock tokens are judged by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The normalized configuration in use.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub async fn verify(&self, token: &str) -> Result<Arc<UserIdentity>, AuthError> {
        let result = self.verify_cached(token).await;
        if let Err(error) = &result {
            // Only the code and the reason; never the token.
            tracing::debug!(code = error.code.as_str(), message = %error.message, "token rejected");
        }
        result
    }

    /// Parses an `Authorization` header value: `None` → `Ok(None)` (signed
    /// out); `Bearer <jwt>` → verify.
    pub async fn verify_authorization_header(
        &self,
        header: Option<&str>,
    ) -> Result<Option<Arc<UserIdentity>>, AuthError> {
        let Some(header) = header else {
            return Ok(None);
        };
        let token = token::bearer_token(header)?;
        self.verify(token).await.map(Some)
    }

    /// Fetches discovery + JWKS now (`keel check`, start-up), ignoring the
    /// refetch cooldown; returns the number of usable keys. On failure the
    /// previously cached keys stay in use, and the caller reports the error.
    pub async fn refresh_keys(&self) -> Result<usize, FetchError> {
        self.inner.keys.refresh_now().await
    }

    /// Readiness: the number of keys when some are loaded, else a fetch now and
    /// why it failed. No key loaded means no token can pass.
    pub async fn ensure_keys(&self) -> Result<usize, FetchError> {
        match self.inner.keys.key_count() {
            0 => self.refresh_keys().await,
            loaded => Ok(loaded),
        }
    }

    pub fn keys_loaded(&self) -> bool {
        self.inner.keys.key_count() > 0
    }

    pub fn stats(&self) -> VerifierStats {
        let inner = &self.inner;
        VerifierStats {
            cache_hits: inner.cache_hits.load(Ordering::Relaxed),
            signature_checks: inner.signature_checks.load(Ordering::Relaxed),
            key_fetches: inner.keys.fetch_count(),
            cached_tokens: inner.tokens.len(),
            keys: inner.keys.key_count(),
        }
    }

    #[cfg(test)]
    pub(crate) fn forget_keys(&self) {
        self.inner.keys.forget_keys();
    }

    async fn verify_cached(&self, token: &str) -> Result<Arc<UserIdentity>, AuthError> {
        let inner = &self.inner;
        let skew = inner.config.clock_skew.as_secs();
        let key = token_cache::token_key(token);
        match inner.tokens.get(&key, inner.clock.now_unix_secs(), skew) {
            Lookup::Hit(identity) => {
                inner.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(identity);
            }
            Lookup::Expired => return Err(AuthError::token_expired("token expired")),
            Lookup::Miss => {}
        }
        let identity = Arc::new(self.verify_uncached(token).await?);
        inner.tokens.insert(
            key,
            Arc::clone(&identity),
            inner.clock.now_unix_secs(),
            skew,
        );
        Ok(identity)
    }

    async fn verify_uncached(&self, token: &str) -> Result<UserIdentity, AuthError> {
        let inner = &self.inner;
        let config = &inner.config;
        let parsed = token::parse(token)?;
        let claims = &parsed.claims;

        // Route on unverified claims like Convex; a lie here only selects a
        // provider whose key will then fail the signature.
        let issuer = claims::string(claims, "iss").filter(|iss| config.issuer_matches(iss));
        let Some(issuer) = issuer.filter(|_| config.audience_matches(&claims::audiences(claims)))
        else {
            return Err(AuthError::no_auth_provider(&[config.describe_provider()]));
        };

        // The algorithm is fixed, never taken from the header: this is what
        // stops `none` and HS256-with-the-public-key tokens.
        if parsed.header.alg != "RS256" {
            return Err(AuthError::unauthenticated(&format!(
                "unsupported algorithm {}; only RS256 is accepted",
                printable(&parsed.header.alg)
            )));
        }
        let Some(kid) = parsed.header.kid.as_deref().filter(|kid| !kid.is_empty()) else {
            return Err(AuthError::unauthenticated("token header has no kid"));
        };
        let key = inner.keys.key_for(kid).await.map_err(|e| match e {
            KeyLookupError::UnknownKid => {
                AuthError::unauthenticated("no signing key matches the token's kid")
            }
            KeyLookupError::Unavailable(_) => {
                AuthError::unauthenticated("the issuer's signing keys are unavailable")
            }
        })?;
        inner.signature_checks.fetch_add(1, Ordering::Relaxed);
        let valid = jsonwebtoken::crypto::verify(
            parsed.signature,
            parsed.signing_input.as_bytes(),
            &key,
            Algorithm::RS256,
        )
        .unwrap_or(false);
        if !valid {
            return Err(AuthError::unauthenticated("invalid signature"));
        }

        // Read the clock after a possible key fetch.
        let now = inner.clock.now_unix_secs();
        let skew = config.clock_skew.as_secs();
        let expires_at = match claims::numeric_date(claims, "exp") {
            Ok(Some(exp)) => exp,
            Ok(None) => return Err(AuthError::unauthenticated("missing exp")),
            Err(()) => return Err(AuthError::unauthenticated("malformed exp")),
        };
        if is_expired(expires_at, now, skew) {
            return Err(AuthError::token_expired("token expired"));
        }
        check_not_in_future(claims, "nbf", now, skew, "token not active yet (nbf)")?;
        check_not_in_future(claims, "iat", now, skew, "token issued in the future (iat)")?;

        if !config.authorized_parties.is_empty() {
            match claims::string(claims, "azp") {
                None => return Err(AuthError::unauthenticated("missing azp")),
                Some(azp) if !config.authorized_parties.iter().any(|p| p == azp) => {
                    return Err(AuthError::unauthenticated("azp is not an authorized party"));
                }
                Some(_) => {}
            }
        }
        let Some(subject) = claims::string(claims, "sub").filter(|s| !s.is_empty()) else {
            return Err(AuthError::unauthenticated("missing sub"));
        };
        Ok(UserIdentity::from_claims(
            claims, issuer, subject, expires_at,
        ))
    }
}

/// Clerk's rule for `nbf` (and `iat`): invalid when later than `now + skew`.
fn check_not_in_future(
    claims: &claims::Claims,
    key: &str,
    now: u64,
    skew: u64,
    reason: &str,
) -> Result<(), AuthError> {
    match claims::numeric_date(claims, key) {
        Ok(Some(t)) if t > now.saturating_add(skew) => Err(AuthError::unauthenticated(reason)),
        Ok(_) => Ok(()),
        Err(()) => Err(AuthError::unauthenticated(&format!("malformed {key}"))),
    }
}

/// Header values are attacker-controlled: echo only short plain names.
fn printable(alg: &str) -> &str {
    if alg.len() <= 16 && alg.bytes().all(|b| b.is_ascii_alphanumeric()) {
        alg
    } else {
        "(unprintable)"
    }
}

#[cfg(test)]
mod tests;
