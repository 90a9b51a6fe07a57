//! The cost of one token verification (issue «Keel foundation» §7).
//!
//! `cargo bench -p keel-auth --bench verify`
//!
//! - `raw/aws_lc_rs_parsed_key`: RSA-2048 PKCS#1 v1.5 SHA-256 verify with aws-lc-rs, the
//!   crypto crate under jsonwebtoken's `aws_lc_rs` backend; key parsed once, signature already
//!   base64-decoded. The physical floor.
//! - `raw/jsonwebtoken_crypto_verify`: `jsonwebtoken::crypto::verify` with a pre-built
//!   `DecodingKey` (from the JWK's n/e, as the key cache holds it): the exact call
//!   `Verifier` makes. Adds base64 decoding of the signature and the backend's per-call
//!   key construction from n/e.
//! - `verifier/cold`: `Verifier::verify` on a token it has not seen (verified-token cache
//!   miss): parse, routing checks, key lookup (keys already loaded), RSA verify, claim checks,
//!   identity, cache insert.
//! - `verifier/cached`: `Verifier::verify` on the same token again: SHA-256 of the token and
//!   a cache lookup.
//!
//! Cold runs use a pool of distinct pre-signed tokens; each pass over the pool uses a fresh
//! `Verifier` whose keys are loaded before the clock starts, so every timed call is a miss.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey};
use keel_auth::testing::{StaticFetcher, TestKey, jwks, session_claims};
use keel_auth::{AuthConfig, SystemClock, Verifier};
use tokio::runtime::Runtime;

const ISSUER: &str = "https://bench.clerk.accounts.dev";
/// Distinct tokens for the cold runs (below the verified-token cache capacity, so a pass
/// never evicts).
const POOL: usize = 2_000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn token(key: &TestKey, subject: &str) -> String {
    let now = now();
    let mut claims = session_claims(ISSUER, subject, now);
    claims["exp"] = (now + 3600).into();
    key.sign(&claims)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A verifier with its keys already fetched (through the in-memory fetcher).
fn loaded_verifier(rt: &Runtime, key: &TestKey) -> Verifier {
    let verifier = Verifier::with_parts(
        AuthConfig::new(ISSUER),
        Arc::new(StaticFetcher::new(jwks(&[key]))),
        Arc::new(SystemClock),
    );
    let loaded = rt.block_on(verifier.refresh_keys()).expect("keys load");
    assert_eq!(loaded, 1);
    verifier
}

fn bench_raw(c: &mut Criterion, key: &TestKey) {
    let token = token(key, "user_bench_raw");
    let (signing_input, signature_b64) = token.rsplit_once('.').expect("three parts");
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).expect("base64url");
    let jwk = key.jwk();
    let n_b64 = jwk["n"].as_str().expect("n");
    let e_b64 = jwk["e"].as_str().expect("e");

    let n = URL_SAFE_NO_PAD.decode(n_b64).expect("n");
    let e = URL_SAFE_NO_PAD.decode(e_b64).expect("e");
    let parsed = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("RSA public key");
    parsed
        .verify_sig(signing_input.as_bytes(), &signature)
        .expect("valid signature");

    let decoding = DecodingKey::from_rsa_components(n_b64, e_b64).expect("DecodingKey");
    assert!(
        jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input.as_bytes(),
            &decoding,
            Algorithm::RS256
        )
        .expect("verify runs")
    );

    let mut group = c.benchmark_group("raw");
    group.bench_function("aws_lc_rs_parsed_key", |b| {
        b.iter(|| {
            black_box(&parsed)
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .is_ok()
        })
    });
    group.bench_function("jsonwebtoken_crypto_verify", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature_b64),
                black_box(signing_input.as_bytes()),
                black_box(&decoding),
                Algorithm::RS256,
            )
            .unwrap_or(false)
        })
    });
    group.finish();
}

fn bench_verifier(c: &mut Criterion, key: &TestKey) {
    let rt = runtime();
    eprintln!("signing {POOL} distinct tokens for the cold runs…");
    let pool: Vec<String> = (0..POOL)
        .map(|i| token(key, &format!("user_bench_{i}")))
        .collect();

    let mut group = c.benchmark_group("verifier");
    group.bench_function("cold", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                // Untimed: a fresh verifier (empty token cache) with its keys loaded.
                let verifier = loaded_verifier(&rt, key);
                let batch = left.min(POOL as u64) as usize;
                let tokens = &pool[..batch];
                let elapsed = rt.block_on(async {
                    let start = Instant::now();
                    for token in tokens {
                        let identity = verifier.verify(black_box(token)).await.expect("valid");
                        black_box(identity);
                    }
                    start.elapsed()
                });
                let stats = verifier.stats();
                assert_eq!(stats.cache_hits, 0, "cold runs must miss the cache");
                assert_eq!(stats.signature_checks, batch as u64);
                total += elapsed;
                left -= batch as u64;
            }
            total
        })
    });

    let verifier = loaded_verifier(&rt, key);
    let token = &pool[0];
    rt.block_on(verifier.verify(token)).expect("valid");
    group.bench_function("cached", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let identity = verifier.verify(black_box(token)).await.expect("valid");
                    black_box(identity);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    assert_eq!(verifier.stats().signature_checks, 1, "cached runs must hit");
}

fn benches(c: &mut Criterion) {
    let key = TestKey::generate("ins_bench_1");
    bench_raw(c, &key);
    bench_verifier(c, &key);
}

criterion_group!(verify, benches);
criterion_main!(verify);
