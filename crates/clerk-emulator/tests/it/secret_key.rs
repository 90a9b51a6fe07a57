use reqwest::Method;
use serde_json::{Value, json};

use crate::common::start;

/// Every Backend API route, with a body where one is needed.
fn backend_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/jwks"),
        (Method::GET, "/users"),
        (Method::POST, "/users"),
        (Method::GET, "/users/count"),
        (Method::GET, "/users/user_x"),
        (Method::PATCH, "/users/user_x"),
        (Method::DELETE, "/users/user_x"),
        (Method::POST, "/sessions"),
        (Method::GET, "/sessions/sess_x"),
        (Method::POST, "/sessions/sess_x/revoke"),
        (Method::POST, "/sessions/sess_x/tokens"),
        (Method::POST, "/sessions/sess_x/tokens/convex"),
    ]
}

async fn assert_401(res: reqwest::Response, what: &str) {
    assert_eq!(res.status().as_u16(), 401, "{what}");
    let body: Value = res.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(error["code"], "authentication_invalid", "{what}");
    assert!(error["message"].is_string() && error["long_message"].is_string());
}

#[tokio::test]
async fn backend_api_requires_the_secret_key() {
    let (server, _dir) = start().await;
    for (method, path) in backend_routes() {
        let url = format!("{}/v1{path}", server.issuer);
        let what = format!("{method} {path}");
        let missing = server
            .http
            .request(method.clone(), &url)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_401(missing, &format!("{what} without a key")).await;

        let wrong = server
            .http
            .request(method.clone(), &url)
            .bearer_auth("sk_test_integratioN")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_401(wrong, &format!("{what} with a wrong key")).await;

        let prefix = server
            .http
            .request(method.clone(), &url)
            .bearer_auth("sk_test_")
            .send()
            .await
            .unwrap();
        assert_401(prefix, &format!("{what} with a prefix of the key")).await;

        let basic = server
            .http
            .request(method.clone(), &url)
            .header("authorization", "Basic sk_test_integration")
            .send()
            .await
            .unwrap();
        assert_401(basic, &format!("{what} with another scheme")).await;
    }

    // With the key, the same requests get past authorization.
    let ok = server
        .http
        .get(format!("{}/v1/users/count", server.issuer))
        .bearer_auth(server.emulator.secret_key())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn discovery_and_jwks_are_public() {
    let (server, _dir) = start().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let res = server
            .http
            .get(format!("{}{path}", server.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
}

#[test]
fn generated_secret_keys_look_like_clerks() {
    let key = keel_clerk_emulator::Emulator::generate_secret_key();
    assert!(key.starts_with("sk_test_"));
    assert!(key.len() >= 40);
    assert_ne!(key, keel_clerk_emulator::Emulator::generate_secret_key());
}
