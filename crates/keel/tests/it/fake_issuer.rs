//! A minimal OIDC issuer on loopback (discovery and a JWKS), for `serve` mode: the test signs
//! tokens with its own keys and swaps the published set.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use keel_auth::testing::{TestKey, jwks};
use serde_json::{Value as Json, json};

use crate::harness::now;

pub struct FakeIssuer {
    /// Where it listens: `http://127.0.0.1:{port}`.
    pub addr: String,
    /// The issuer its discovery document names (and tokens should carry).
    pub issuer: String,
    keys: Arc<Mutex<Json>>,
}

impl FakeIssuer {
    /// An issuer whose discovery document names its own address.
    pub async fn start(keys: &[&TestKey]) -> FakeIssuer {
        Self::naming(keys, |addr| addr.to_string()).await
    }

    /// An issuer whose discovery document names `issuer(addr)`, with its JWKS under that
    /// name, as an issuer reached through a proxy or under another host name does.
    pub async fn naming(keys: &[&TestKey], issuer: impl FnOnce(&str) -> String) -> FakeIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let issuer = issuer(&addr);
        let keys = Arc::new(Mutex::new(jwks(keys)));
        let served = Arc::clone(&keys);
        let discovery =
            json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/.well-known/jwks.json") });
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
        FakeIssuer { addr, issuer, keys }
    }

    /// Replaces the published key set (a rotation).
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.keys.lock().unwrap() = jwks(keys);
    }

    /// A `convex`-template-shaped token for `subject`, as this issuer signs it.
    pub fn token(&self, key: &TestKey, subject: &str) -> String {
        let now = now();
        key.sign(&json!({
            "iss": self.issuer, "sub": subject, "aud": "convex",
            "iat": now, "nbf": now - 5, "exp": now + 60,
        }))
    }
}
