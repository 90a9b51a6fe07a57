//! `keel serve` against an issuer whose discovery document names another issuer than the
//! configured one: no token could pass, so Keel is not ready and says why.

use std::sync::LazyLock;

use keel::{AppParts, Mode, Running};
use keel_auth::testing::TestKey;
use serde_json::{Value as Json, json};

use crate::fake_issuer::FakeIssuer;
use crate::harness::settings;

static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("ins_issuer"));

async fn serve(issuer: &str, dir: &std::path::Path) -> Running {
    keel::start(
        &settings(dir),
        Mode::Serve {
            issuer: issuer.to_string(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap()
}

async fn readyz(running: &Running) -> (u16, Json) {
    let response = reqwest::get(format!("{}/readyz", running.url))
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn store(running: &Running, token: &str) -> (u16, Json) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/mutation", running.url))
        .bearer_auth(token)
        .json(&json!({"path": "users:store", "args": [{}]}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn an_issuer_named_differently_by_its_discovery_keeps_readyz_off_200() {
    let issuer = FakeIssuer::start(&[&KEY]).await;
    // The same server, reached as `localhost`: its discovery names `127.0.0.1`.
    let configured = issuer.issuer.replace("127.0.0.1", "localhost");
    let dir = tempfile::tempdir().unwrap();
    let running = serve(&configured, dir.path()).await;
    let token = issuer.token(&KEY, "user_a");

    let (status, body) = readyz(&running).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["keys"], false, "{body}");
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "the discovery document at {configured}/.well-known/openid-configuration says issuer `{}`, but the configured issuer (CLERK_FRONTEND_API_URL or CLERK_JWT_ISSUER_DOMAIN) is `{configured}`: set it to the former",
            issuer.issuer
        )),
        "{body}"
    );
    let (status, body) = store(&running, &token).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "NoAuthProvider", "{body}");
    running.stop().await.unwrap();

    // Set as the document says, with a trailing slash (normalized, as verification does).
    let dir = tempfile::tempdir().unwrap();
    let running = serve(&format!("{}/", issuer.issuer), dir.path()).await;
    let (status, body) = readyz(&running).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("reason").is_none(), "{body}");
    let (status, body) = store(&running, &token).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("success")),
        "{body}"
    );
    running.stop().await.unwrap();
}
