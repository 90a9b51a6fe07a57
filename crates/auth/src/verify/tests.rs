//! The verifier against an in-memory issuer and a manual clock: one test per
//! attack, plus caching, rotation and rate limiting.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::testing::{StaticFetcher, TestKey, jwks, session_claims};
use crate::{AuthErrorCode, ManualClock};

const ISS: &str = "https://example.clerk.accounts.dev";
const NOW: u64 = 1_750_000_000;

// Key generation is the slow part of these tests: once per binary.
static K1: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_key1"));
static K2: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_key2"));
static K3: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_key3"));

struct Setup {
    verifier: Verifier,
    fetcher: Arc<StaticFetcher>,
    clock: Arc<ManualClock>,
}

fn setup_with(config: AuthConfig, keys: &[&TestKey]) -> Setup {
    let fetcher = Arc::new(StaticFetcher::new(jwks(keys)));
    let clock = Arc::new(ManualClock::new(NOW));
    let verifier = Verifier::with_parts(config, fetcher.clone(), clock.clone());
    Setup {
        verifier,
        fetcher,
        clock,
    }
}

fn setup() -> Setup {
    setup_with(AuthConfig::new(ISS), &[&K1, &K2])
}

fn claims() -> Value {
    session_claims(ISS, "user_1", NOW)
}

fn set(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn unset(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn rejected(s: &Setup, token: &str) -> AuthError {
    let err = s
        .verifier
        .verify(token)
        .await
        .expect_err("token must be rejected");
    assert!(!err.message.contains(token), "message leaks the token");
    err
}

async fn assert_unauthenticated(s: &Setup, token: &str, reason: &str) {
    let err = rejected(s, token).await;
    assert_eq!(err.code, AuthErrorCode::Unauthenticated, "{}", err.message);
    assert!(err.message.starts_with(crate::UNAUTHENTICATED_MESSAGE));
    assert!(err.message.contains(reason), "{}", err.message);
}

#[tokio::test]
async fn crypto_backend_is_wired_and_a_clerk_token_verifies() {
    // jsonwebtoken panics at first use when its backend features are mixed up.
    let s = setup();
    let identity = s.verifier.verify(&K1.sign(&claims())).await.unwrap();
    assert_eq!(identity.subject, "user_1");
    assert_eq!(identity.issuer, ISS);
    assert_eq!(identity.token_identifier, format!("{ISS}|user_1"));
    assert_eq!(identity.session_id.as_deref(), Some("sess_2abcDEF"));
    assert_eq!(identity.expires_at, NOW + 60);
    assert_eq!(identity.issued_at, Some(NOW));
    assert_eq!(identity.other_claims["v"], 2);
    assert!(s.verifier.keys_loaded());
    assert_eq!(s.fetcher.calls(), 1);
}

#[tokio::test]
async fn rejects_alg_none() {
    let s = setup();
    let header = b64(br#"{"alg":"none","kid":"ins_key1","typ":"JWT"}"#);
    let payload = b64(claims().to_string().as_bytes());
    assert_unauthenticated(&s, &format!("{header}.{payload}."), "only RS256").await;
    // Even with a signature part attached.
    let signed = K1.sign(&claims());
    let sig = signed.rsplit('.').next().unwrap();
    assert_unauthenticated(&s, &format!("{header}.{payload}.{sig}"), "only RS256").await;
}

#[tokio::test]
async fn rejects_hs256_signed_with_the_public_key() {
    let s = setup();
    s.verifier.refresh_keys().await.unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(K1.kid().to_owned());
    for secret in [K1.public_modulus(), K1.jwk().to_string().into_bytes()] {
        let token =
            jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(&secret)).unwrap();
        assert_unauthenticated(&s, &token, "only RS256").await;
    }
    assert_eq!(s.verifier.stats().signature_checks, 0);
}

#[tokio::test]
async fn rejects_a_kid_that_names_another_valid_key() {
    let s = setup();
    let token = K1.sign_with_kid(K2.kid(), &claims());
    assert_unauthenticated(&s, &token, "invalid signature").await;
}

#[tokio::test]
async fn rejects_an_unknown_or_missing_kid() {
    let s = setup();
    assert_unauthenticated(&s, &K3.sign(&claims()), "no signing key matches").await;

    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let signed = K1.sign(&claims());
    let rest = signed.split_once('.').unwrap().1;
    assert_unauthenticated(&s, &format!("{header}.{rest}"), "no kid").await;
}

#[tokio::test]
async fn rejects_a_wrong_issuer_as_no_auth_provider() {
    let s = setup();
    for iss in [
        json!("https://evil.clerk.accounts.dev"),
        json!(null),
        json!(5),
    ] {
        let err = rejected(&s, &K1.sign(&set(claims(), "iss", iss))).await;
        assert_eq!(err.code, AuthErrorCode::NoAuthProvider);
        assert_eq!(
            err.message,
            format!(
                "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [OIDC(domain={ISS}, app_id=convex)]"
            )
        );
    }
    let err = rejected(&s, &K1.sign(&unset(claims(), "iss"))).await;
    assert_eq!(err.code, AuthErrorCode::NoAuthProvider);
    // Routing happens before any key fetch.
    assert_eq!(s.fetcher.calls(), 0);
}

#[tokio::test]
async fn issuer_matching_tolerates_trailing_slash_and_missing_scheme() {
    let s = setup_with(AuthConfig::new("example.clerk.accounts.dev/"), &[&K1]);
    for iss in [format!("{ISS}/"), "example.clerk.accounts.dev".to_owned()] {
        let identity = s
            .verifier
            .verify(&K1.sign(&set(claims(), "iss", json!(iss))))
            .await
            .unwrap();
        // The identity keeps the token's own `iss`, like Convex.
        assert_eq!(identity.issuer, iss);
        assert_eq!(identity.token_identifier, format!("{iss}|user_1"));
    }
}

#[tokio::test]
async fn rejects_a_wrong_or_missing_audience_as_no_auth_provider() {
    let s = setup();
    for token in [
        K1.sign(&set(claims(), "aud", json!("not-convex"))),
        K1.sign(&set(claims(), "aud", json!(["a", "b"]))),
        K1.sign(&unset(claims(), "aud")),
    ] {
        assert_eq!(
            rejected(&s, &token).await.code,
            AuthErrorCode::NoAuthProvider
        );
    }
    let token = K1.sign(&set(claims(), "aud", json!(["other", "convex"])));
    s.verifier.verify(&token).await.unwrap();
}

#[tokio::test]
async fn without_application_id_aud_is_not_required() {
    let s = setup_with(AuthConfig::new(ISS).with_application_id(None), &[&K1]);
    s.verifier
        .verify(&K1.sign(&unset(claims(), "aud")))
        .await
        .unwrap();
    s.verifier
        .verify(&K1.sign(&set(claims(), "aud", json!("anything"))))
        .await
        .unwrap();
}

#[tokio::test]
async fn rejects_expired_beyond_skew_as_token_expired() {
    let s = setup();
    // exp <= now - skew is expired: exp = now - 5 fails, exp = now - 4 passes.
    let token = K1.sign(&set(claims(), "exp", json!(NOW - 5)));
    let err = rejected(&s, &token).await;
    assert_eq!(err.code, AuthErrorCode::TokenExpired);
    assert!(err.message.contains("expired"));
    s.verifier
        .verify(&K1.sign(&set(claims(), "exp", json!(NOW - 4))))
        .await
        .unwrap();
}

#[tokio::test]
async fn rejects_missing_or_malformed_exp() {
    let s = setup();
    assert_unauthenticated(&s, &K1.sign(&unset(claims(), "exp")), "missing exp").await;
    let token = K1.sign(&set(claims(), "exp", json!("tomorrow")));
    assert_unauthenticated(&s, &token, "malformed exp").await;
}

#[tokio::test]
async fn rejects_nbf_in_the_future_beyond_skew() {
    let s = setup();
    let token = K1.sign(&set(claims(), "nbf", json!(NOW + 6)));
    assert_unauthenticated(&s, &token, "nbf").await;
    s.verifier
        .verify(&K1.sign(&set(claims(), "nbf", json!(NOW + 5))))
        .await
        .unwrap();
    let token = K1.sign(&set(claims(), "iat", json!(NOW + 60)));
    assert_unauthenticated(&s, &token, "iat").await;
}

#[tokio::test]
async fn rejects_a_tampered_payload() {
    let s = setup();
    let token = K1.sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(set(claims(), "sub", json!("user_admin"))
        .to_string()
        .as_bytes());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_unauthenticated(&s, &tampered, "invalid signature").await;
    // A flipped signature byte as well.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_unauthenticated(&s, &flipped, "invalid signature").await;
}

#[tokio::test]
async fn authorized_parties_require_a_listed_azp() {
    let config = AuthConfig::new(ISS)
        .with_authorized_parties(["https://app.example.com", "http://localhost:3000"]);
    let s = setup_with(config, &[&K1]);
    assert_unauthenticated(&s, &K1.sign(&unset(claims(), "azp")), "missing azp").await;
    let token = K1.sign(&set(claims(), "azp", json!("https://evil.example.com")));
    assert_unauthenticated(&s, &token, "authorized party").await;
    s.verifier.verify(&K1.sign(&claims())).await.unwrap();

    // Without a list, a missing azp is fine (Clerk may omit it).
    let open = setup_with(AuthConfig::new(ISS), &[&K1]);
    open.verifier
        .verify(&K1.sign(&unset(claims(), "azp")))
        .await
        .unwrap();
}

#[tokio::test]
async fn rejects_a_missing_subject() {
    let s = setup();
    assert_unauthenticated(&s, &K1.sign(&unset(claims(), "sub")), "missing sub").await;
    assert_unauthenticated(
        &s,
        &K1.sign(&set(claims(), "sub", json!(""))),
        "missing sub",
    )
    .await;
}

#[tokio::test]
async fn authorization_header_parsing() {
    let s = setup();
    assert_eq!(
        s.verifier.verify_authorization_header(None).await.unwrap(),
        None
    );
    let token = K1.sign(&claims());
    let identity = s
        .verifier
        .verify_authorization_header(Some(&format!("Bearer {token}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, "user_1");
    for bad in [
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer not-a-jwt",
        "Bearer a.b.c.d",
    ] {
        let err = s
            .verifier
            .verify_authorization_header(Some(bad))
            .await
            .unwrap_err();
        assert_eq!(err.code, AuthErrorCode::InvalidAuthHeader, "{bad:?}");
    }
}

#[tokio::test]
async fn v1_and_template_tokens_decode() {
    let s = setup();
    let v1 = json!({
        "iss": ISS, "sub": "user_1", "aud": "convex", "exp": NOW + 60, "iat": NOW,
        "sid": "sess_1", "org_id": "org_1", "org_slug": "acme", "org_role": "org:admin",
        "org_permissions": ["org:sys_profile:manage"]
    });
    let id = s.verifier.verify(&K1.sign(&v1)).await.unwrap();
    let org = id.org.as_ref().unwrap();
    assert_eq!((org.id.as_str(), org.role.as_str()), ("org_1", "org:admin"));
    assert_eq!(org.permissions, vec!["org:sys_profile:manage"]);

    let template = json!({
        "iss": ISS, "sub": "user_2", "aud": "convex", "exp": NOW + 60, "iat": NOW,
        "nbf": NOW - 5, "azp": "http://localhost:3000", "jti": "j",
        "name": "Ada", "email": "ada@example.com", "email_verified": true,
        "picture": "https://img.example/a.png", "updated_at": 1_700_000_000,
        "metadata": {"role": "admin"}
    });
    let id = s.verifier.verify(&K2.sign(&template)).await.unwrap();
    assert_eq!(id.metadata_role(), Some("admin"));
    assert_eq!(id.session_id, None);
    let json = id.to_convex_json();
    assert_eq!(json["pictureUrl"], "https://img.example/a.png");
    assert_eq!(json["updatedAt"], "2023-11-14T22:13:20+00:00");
    assert!(json.get("azp").is_none() && json.get("jti").is_none());
}

#[tokio::test]
async fn cache_hits_skip_the_signature_check_until_expiry() {
    let s = setup();
    let token = K1.sign(&claims());
    let first = s.verifier.verify(&token).await.unwrap();
    let second = s.verifier.verify(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &second));
    let stats = s.verifier.stats();
    assert_eq!((stats.signature_checks, stats.cache_hits), (1, 1));

    // With every key gone, only the cached token still verifies.
    s.verifier.forget_keys();
    s.fetcher.set_failing(true);
    s.verifier.verify(&token).await.unwrap();
    let other = K1.sign(&set(claims(), "sub", json!("user_2")));
    assert_eq!(
        rejected(&s, &other).await.code,
        AuthErrorCode::Unauthenticated
    );

    // Each hit re-checks exp: within skew still fine, then expired.
    s.clock.set(NOW + 64);
    s.verifier.verify(&token).await.unwrap();
    s.clock.set(NOW + 65);
    assert_eq!(rejected(&s, &token).await.code, AuthErrorCode::TokenExpired);
    assert_eq!(s.verifier.stats().cached_tokens, 0);
}

#[tokio::test]
async fn key_rotation_refetches_on_an_unknown_kid() {
    let s = setup_with(AuthConfig::new(ISS), &[&K1]);
    s.verifier.verify(&K1.sign(&claims())).await.unwrap();
    assert_eq!(s.fetcher.calls(), 1);

    // The issuer rotates to K3.
    s.fetcher.set_jwks(jwks(&[&K3]));
    s.clock.advance(Duration::from_secs(30));
    let now = NOW + 30;
    let rotated = K3.sign(&session_claims(ISS, "user_1", now));
    s.verifier.verify(&rotated).await.unwrap();
    assert_eq!(s.fetcher.calls(), 2);
    // Keys no longer published are dropped after a successful fetch.
    let old = K1.sign(&session_claims(ISS, "user_9", now));
    assert_unauthenticated(&s, &old, "no signing key matches").await;
}

#[tokio::test]
async fn a_rotated_kid_is_fetched_at_once_and_later_misses_wait_for_the_next_window() {
    let s = setup_with(AuthConfig::new(ISS), &[&K1]);
    s.verifier.refresh_keys().await.unwrap();
    // Rotation right after start-up: the new kid is fetched at once.
    s.fetcher.set_jwks(jwks(&[&K1, &K3]));
    s.clock.advance(Duration::from_secs(3));
    s.verifier
        .verify(&K3.sign(&session_claims(ISS, "user_1", NOW + 3)))
        .await
        .unwrap();
    assert_eq!(s.fetcher.calls(), 2);
    // Another unknown kid within the cooldown of that miss-triggered fetch waits.
    s.fetcher.set_jwks(jwks(&[&K1, &K2, &K3]));
    s.clock.advance(Duration::from_secs(3));
    let token = K2.sign(&session_claims(ISS, "user_2", NOW + 6));
    assert_unauthenticated(&s, &token, "no signing key matches").await;
    assert_eq!(s.fetcher.calls(), 2);
    s.clock.advance(Duration::from_secs(10));
    s.verifier.verify(&token).await.unwrap();
    assert_eq!(s.fetcher.calls(), 3);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_at_most_once() {
    let s = setup();
    s.verifier.verify(&K1.sign(&claims())).await.unwrap();
    s.clock.advance(Duration::from_secs(11));
    let now = NOW + 11;
    // Sequential flood.
    for i in 0..100 {
        let token = K3.sign_with_kid(&format!("bogus_{i}"), &session_claims(ISS, "u", now));
        assert_eq!(
            rejected(&s, &token).await.code,
            AuthErrorCode::Unauthenticated
        );
    }
    assert_eq!(s.fetcher.calls(), 2);

    // Concurrent flood while a slow fetch is in flight.
    s.clock.advance(Duration::from_secs(11));
    s.fetcher.set_delay(Duration::from_millis(50));
    let tokens: Vec<String> = (0..100)
        .map(|i| K3.sign_with_kid(&format!("flood_{i}"), &session_claims(ISS, "u", now + 11)))
        .collect();
    let results = futures::future::join_all(tokens.iter().map(|t| s.verifier.verify(t))).await;
    assert!(results.iter().all(Result::is_err));
    assert_eq!(s.fetcher.calls(), 3);
    // Known keys kept working all along.
    s.verifier
        .verify(&K2.sign(&session_claims(ISS, "user_2", now + 11)))
        .await
        .unwrap();
}

#[tokio::test]
async fn issuer_down_keeps_serving_cached_keys() {
    let s = setup();
    s.verifier.refresh_keys().await.unwrap();
    s.fetcher.set_failing(true);
    assert_eq!(
        s.verifier.refresh_keys().await.unwrap_err(),
        FetchError::Failed("issuer unreachable (test)".into())
    );
    assert!(s.verifier.keys_loaded());
    // Long past the refresh interval, background refreshes fail; keys stay.
    s.clock.advance(Duration::from_secs(3600));
    let now = NOW + 3600;
    for sub in ["a", "b", "c"] {
        s.verifier
            .verify(&K1.sign(&session_claims(ISS, sub, now)))
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    // A broken answer (no usable keys) does not wipe the cache either.
    s.fetcher.set_failing(false);
    s.fetcher.set_jwks(json!({"keys": []}));
    assert!(s.verifier.refresh_keys().await.is_err());
    s.verifier
        .verify(&K2.sign(&session_claims(ISS, "d", now)))
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_unavailable_from_the_start() {
    let s = setup();
    s.fetcher.set_failing(true);
    assert_unauthenticated(&s, &K1.sign(&claims()), "unavailable").await;
    rejected(&s, &K1.sign(&set(claims(), "sub", json!("x")))).await;
    assert_eq!(s.fetcher.calls(), 1, "cooldown applies to failures too");
    assert!(!s.verifier.keys_loaded());
    // The issuer comes back; after the cooldown the next request loads keys.
    s.fetcher.set_failing(false);
    s.clock.advance(Duration::from_secs(10));
    s.verifier
        .verify(&K1.sign(&session_claims(ISS, "user_1", NOW + 10)))
        .await
        .unwrap();
}

#[tokio::test]
async fn stale_keys_refresh_in_the_background_per_max_age() {
    let s = setup();
    s.fetcher.set_max_age(Some(Duration::from_secs(120)));
    s.verifier.refresh_keys().await.unwrap();
    s.clock.advance(Duration::from_secs(119));
    s.verifier
        .verify(&K1.sign(&session_claims(ISS, "a", NOW + 119)))
        .await
        .unwrap();
    tokio::task::yield_now().await;
    assert_eq!(s.fetcher.calls(), 1);

    s.clock.advance(Duration::from_secs(2));
    s.verifier
        .verify(&K1.sign(&session_claims(ISS, "b", NOW + 121)))
        .await
        .unwrap();
    for _ in 0..100 {
        if s.fetcher.calls() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(s.fetcher.calls(), 2);
}

#[test]
fn verifier_and_its_futures_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let s = setup();
    assert_send_sync(&s.verifier);
    // Handlers and spawned tasks need `Send` futures.
    assert_send(&s.verifier.verify("a.b.c"));
    assert_send(&s.verifier.verify_authorization_header(None));
    assert_send(&s.verifier.refresh_keys());
}
