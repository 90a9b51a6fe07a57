//! Test helpers (cargo feature `testing`): RSA keys that sign Clerk-shaped
//! tokens, their JWKS, and an in-memory [`KeyFetcher`] whose answers, failures
//! and call count tests control. Not for production use.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::discovery::{FetchError, FetchedJwks, KeyFetcher};

/// An RSA-2048 signing key with a `kid`, like one entry of Clerk's JWKS.
pub struct TestKey {
    kid: String,
    encoding: EncodingKey,
    n: String,
    e: String,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a fresh key (tens of milliseconds; share keys across tests).
    pub fn generate(kid: impl Into<String>) -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA-2048 key generation");
        let pkcs8 = pair.as_der().expect("PKCS#8 encoding of a fresh key");
        // jsonwebtoken's aws-lc signer wants PKCS#1; its PEM reader unwraps PKCS#8.
        let body = STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 PEM");
        let public = pair.public_key();
        TestKey {
            kid: kid.into(),
            encoding,
            n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWKS entry, as Clerk serves it.
    pub fn jwk(&self) -> Value {
        json!({"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256", "n": self.n, "e": self.e})
    }

    /// The JWK's modulus bytes (e.g. as an HMAC secret in algorithm-confusion tests).
    pub fn public_modulus(&self) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(&self.n).expect("own encoding")
    }

    /// RS256 with this key's `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_kid(&self.kid, claims)
    }

    /// RS256 with an arbitrary `kid` header (mismatched-kid tests).
    pub fn sign_with_kid(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing")
    }
}

/// `{"keys": [...]}` for the given keys.
pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// Clerk v2 session-token claims with the native Convex integration
/// (`aud: "convex"`): 60 s lifetime, `nbf = iat - 10`, like Clerk's fixtures.
pub fn session_claims(issuer: &str, subject: &str, now: u64) -> Value {
    json!({
        "azp": "http://localhost:3000",
        "aud": "convex",
        "exp": now + 60,
        "iat": now,
        "nbf": now.saturating_sub(10),
        "iss": issuer,
        "jti": "3f2a1c0b9d8e7f6a5b4c",
        "sid": "sess_2abcDEF",
        "sub": subject,
        "v": 2,
        "fva": [0, -1],
        "sts": "active",
    })
}

#[derive(Default)]
struct FetcherState {
    jwks: Value,
    max_age: Option<Duration>,
    failing: bool,
    delay: Duration,
}

/// An in-memory [`KeyFetcher`].
#[derive(Default)]
pub struct StaticFetcher {
    state: Mutex<FetcherState>,
    calls: AtomicUsize,
}

impl StaticFetcher {
    pub fn new(jwks: Value) -> Self {
        StaticFetcher {
            state: Mutex::new(FetcherState {
                jwks,
                ..FetcherState::default()
            }),
            calls: AtomicUsize::new(0),
        }
    }

    pub fn set_jwks(&self, jwks: Value) {
        self.lock().jwks = jwks;
    }

    /// While failing, every fetch errors (issuer down).
    pub fn set_failing(&self, failing: bool) {
        self.lock().failing = failing;
    }

    pub fn set_max_age(&self, max_age: Option<Duration>) {
        self.lock().max_age = max_age;
    }

    /// Makes each fetch take this long (real time), to overlap requests.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Number of fetches so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FetcherState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl KeyFetcher for StaticFetcher {
    async fn fetch_jwks(&self, _issuer: &str) -> Result<FetchedJwks, FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.lock().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let state = self.lock();
        if state.failing {
            return Err(FetchError::Failed("issuer unreachable (test)".to_owned()));
        }
        Ok(FetchedJwks {
            jwks: state.jwks.clone(),
            max_age: state.max_age,
        })
    }
}
