//! `keel serve` against an issuer that rotates its signing key: no restart needed.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use keel::{AppParts, Mode};
use keel_auth::testing::{TestKey, jwks};
use serde_json::{Value as Json, json};

use crate::harness::{now, settings};

/// A minimal OIDC issuer on loopback whose JWKS the test swaps.
async fn issuer(initial: Json) -> (String, Arc<Mutex<Json>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(Mutex::new(initial));
    let served = Arc::clone(&keys);
    let discovery = json!({ "issuer": url, "jwks_uri": format!("{url}/.well-known/jwks.json") });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let discovery = discovery.clone();
                async move { axum::Json(discovery) }
            }),
        )
        .route(
            "/.well-known/jwks.json",
            get(move || {
                let keys = served.lock().unwrap().clone();
                async move { axum::Json(keys) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, keys)
}

fn claims(issuer: &str, subject: &str) -> Json {
    let now = now();
    json!({ "iss": issuer, "sub": subject, "aud": "convex", "iat": now, "nbf": now - 5, "exp": now + 60 })
}

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_without_a_restart() {
    let old = TestKey::generate("ins_old");
    let new = TestKey::generate("ins_new");
    let (issuer_url, published) = issuer(jwks(&[&old])).await;
    let dir = tempfile::tempdir().unwrap();
    let running = keel::start(
        &settings(dir.path()),
        Mode::Serve {
            issuer: issuer_url.clone(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap();
    assert!(
        running.emulator.is_none(),
        "serve never mounts the emulator"
    );
    let http = reqwest::Client::new();
    let store = |token: String| {
        let http = http.clone();
        let url = running.url.clone();
        async move {
            http.post(format!("{url}/api/mutation"))
                .bearer_auth(token)
                .json(&json!({"path": "users:store", "args": [{}]}))
                .send()
                .await
                .unwrap()
        }
    };
    let response = store(old.sign(&claims(&issuer_url, "user_a"))).await;
    assert_eq!(response.status(), 200);

    *published.lock().unwrap() = jwks(&[&new]);
    let response = store(new.sign(&claims(&issuer_url, "user_b"))).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Json = store(new.sign(&claims(&issuer_url, "user_b")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{body}");

    let clerk_route = http
        .get(format!("{}/_clerk/.well-known/jwks.json", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(clerk_route.status(), 404, "no emulator in serve mode");
    running.stop().await.unwrap();
}
