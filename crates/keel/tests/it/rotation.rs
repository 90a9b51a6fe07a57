//! `keel serve` against an issuer that rotates its signing key: no restart needed.

use keel::{AppParts, Mode};
use keel_auth::testing::TestKey;
use serde_json::{Value as Json, json};

use crate::fake_issuer::FakeIssuer;
use crate::harness::settings;

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_without_a_restart() {
    let old = TestKey::generate("ins_old");
    let new = TestKey::generate("ins_new");
    let issuer = FakeIssuer::start(&[&old]).await;
    let dir = tempfile::tempdir().unwrap();
    let running = keel::start(
        &settings(dir.path()),
        Mode::Serve {
            issuer: issuer.issuer.clone(),
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
    let response = store(issuer.token(&old, "user_a")).await;
    assert_eq!(response.status(), 200);

    issuer.publish(&[&new]);
    let response = store(issuer.token(&new, "user_b")).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let body: Json = store(issuer.token(&new, "user_b"))
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
