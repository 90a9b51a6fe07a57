//! The real reqwest fetcher against a tiny issuer (axum on 127.0.0.1:0) that
//! serves OIDC discovery and a JWKS: discovery, Cache-Control, rotation, and
//! an issuer that hangs or goes away.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keel_auth::testing::{TestKey, jwks, session_claims};
use keel_auth::{
    AuthConfig, AuthErrorCode, Clock, FetchError, ManualClock, ReqwestFetcher, Verifier,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

static K1: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_it_1"));
static K2: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_it_2"));

struct IssuerState {
    base: String,
    jwks: Mutex<Value>,
    hang: AtomicBool,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

struct Issuer {
    state: Arc<IssuerState>,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: &[&TestKey]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IssuerState {
            base,
            jwks: Mutex::new(jwks(keys)),
            hang: AtomicBool::new(false),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks_document))
            .with_state(Arc::clone(&state));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Issuer {
            state,
            shutdown: Some(tx),
            server,
        }
    }

    fn url(&self) -> &str {
        &self.state.base
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.state.jwks.lock().unwrap() = jwks(keys);
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Stops listening and closes idle keep-alive connections.
    async fn stop(mut self) {
        // Hanging handlers would block a graceful shutdown.
        self.state.hang.store(false, Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.await.unwrap();
    }
}

async fn hang_if_asked(state: &IssuerState) {
    if state.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    hang_if_asked(&state).await;
    Json(json!({
        "issuer": state.base,
        "jwks_uri": format!("{}/.well-known/jwks.json", state.base),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks_document(State(state): State<Arc<IssuerState>>) -> impl IntoResponse {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    hang_if_asked(&state).await;
    let body = state.jwks.lock().unwrap().clone();
    ([(header::CACHE_CONTROL, "public, max-age=600")], Json(body))
}

fn verifier(issuer: &Issuer, clock: Arc<ManualClock>) -> Verifier {
    Verifier::with_parts(
        AuthConfig::new(issuer.url()),
        Arc::new(ReqwestFetcher::with_timeout(Duration::from_millis(500))),
        clock,
    )
}

fn token(key: &TestKey, issuer: &Issuer, sub: &str, clock: &ManualClock) -> String {
    key.sign(&session_claims(issuer.url(), sub, clock.now_unix_secs()))
}

#[tokio::test]
async fn discovery_rotation_hang_and_outage() {
    let issuer = Issuer::start(&[&K1]).await;
    let clock = Arc::new(ManualClock::at_system_time());
    let verifier = verifier(&issuer, Arc::clone(&clock));

    // Discovery → JWKS → verify.
    assert_eq!(verifier.refresh_keys().await.unwrap(), 1);
    let identity = verifier
        .verify(&token(&K1, &issuer, "user_1", &clock))
        .await
        .unwrap();
    assert_eq!(
        identity.token_identifier,
        format!("{}|user_1", issuer.url())
    );
    assert_eq!(issuer.state.discovery_hits.load(Ordering::SeqCst), 1);

    // Rotation without restart: the new kid triggers one refetch.
    issuer.publish(&[&K2]);
    clock.advance(Duration::from_secs(11));
    verifier
        .verify(&token(&K2, &issuer, "user_1", &clock))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits(), 2);

    // The issuer hangs: the fetch times out, the known key keeps working.
    issuer.state.hang.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(11));
    let started = Instant::now();
    let err = verifier
        .verify(&token(&K1, &issuer, "user_2", &clock))
        .await
        .unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Unauthenticated);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "fetch must time out"
    );
    verifier
        .verify(&token(&K2, &issuer, "user_3", &clock))
        .await
        .unwrap();

    // The issuer goes away entirely: cached keys still verify new tokens.
    let url = issuer.url().to_owned();
    issuer.stop().await;
    clock.advance(Duration::from_secs(11));
    let err = verifier.refresh_keys().await.unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
    assert!(verifier.keys_loaded());
    let fresh = K2.sign(&session_claims(&url, "user_4", clock.now_unix_secs()));
    verifier.verify(&fresh).await.unwrap();
}

#[tokio::test]
async fn cache_control_max_age_drives_background_refresh() {
    let issuer = Issuer::start(&[&K1]).await;
    let clock = Arc::new(ManualClock::at_system_time());
    let verifier = verifier(&issuer, Arc::clone(&clock));
    verifier
        .verify(&token(&K1, &issuer, "a", &clock))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_hits(), 1);

    clock.advance(Duration::from_secs(599));
    verifier
        .verify(&token(&K1, &issuer, "b", &clock))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(issuer.jwks_hits(), 1, "still fresh under max-age=600");

    clock.advance(Duration::from_secs(2));
    verifier
        .verify(&token(&K1, &issuer, "c", &clock))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while issuer.jwks_hits() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        issuer.jwks_hits(),
        2,
        "stale set refreshed in the background"
    );
    issuer.stop().await;
}

#[tokio::test]
async fn production_constructor_verifies_against_a_live_issuer() {
    let issuer = Issuer::start(&[&K1]).await;
    let verifier = Verifier::new(AuthConfig::new(format!("{}/", issuer.url())));
    assert!(!verifier.keys_loaded());
    let now = keel_auth::SystemClock.now_unix_secs();
    let header = format!(
        "Bearer {}",
        K1.sign(&session_claims(issuer.url(), "user_1", now))
    );
    let identity = verifier
        .verify_authorization_header(Some(&header))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.subject, "user_1");
    assert!(verifier.keys_loaded());
    issuer.stop().await;
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let issuer = Issuer::start(&[&K1]).await;
    // The same server under another name: its document still says 127.0.0.1.
    let configured = issuer.url().replace("127.0.0.1", "localhost");
    let verifier = Verifier::new(AuthConfig::new(&configured));
    let err = verifier.refresh_keys().await.unwrap_err();
    let FetchError::IssuerMismatch(mismatch) = &err else {
        panic!("expected a mismatch, got {err}");
    };
    assert_eq!(mismatch.discovered, issuer.url());
    assert_eq!(mismatch.configured, configured);
    assert!(!verifier.keys_loaded(), "its keys must not be used");
    let now = keel_auth::SystemClock.now_unix_secs();
    let err = verifier
        .verify(&K1.sign(&session_claims(issuer.url(), "user_1", now)))
        .await
        .unwrap_err();
    assert_eq!(err.code, AuthErrorCode::NoAuthProvider);
    issuer.stop().await;
}
