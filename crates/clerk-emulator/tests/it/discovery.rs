use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{start, verify};

#[tokio::test]
async fn discovery_points_at_a_jwks_that_verifies_minted_tokens() {
    let (server, _dir) = start().await;
    let discovery: Value = server
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            server.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], server.issuer.as_str());
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks.json", server.issuer)
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(discovery["subject_types_supported"], json!(["public"]));

    let raw: Value = server
        .http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = raw["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    let mut fields: Vec<&str> = key.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["kid"], server.emulator.kid());
    assert!(server.emulator.kid().starts_with("ins_"));
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "RSA-2048 modulus");

    // The Backend API serves the same set (behind the secret key).
    let backend = server.call(server.bapi(Method::GET, "/jwks"), 200).await;
    assert_eq!(backend, raw);

    // A token minted through the public Rust API verifies with the published key.
    let user = server
        .emulator
        .create_user(Default::default())
        .await
        .unwrap();
    let sid = server
        .emulator
        .create_session(user["id"].as_str().unwrap())
        .await
        .unwrap();
    let token = server.emulator.mint_token(&sid, None, None).await.unwrap();
    let jwks = server.jwks().await;
    let data = verify(&jwks, &token, &server.issuer, None, 0).unwrap();
    assert_eq!(data.claims["sid"], sid.as_str());

    // The header is exactly {alg, kid, typ}.
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({ "alg": "RS256", "kid": server.emulator.kid(), "typ": "JWT" })
    );
}

#[tokio::test]
async fn unknown_paths_are_404_in_clerks_error_shape() {
    let (server, _dir) = start().await;
    let body = server
        .call(server.bapi(Method::GET, "/invitations"), 404)
        .await;
    assert_eq!(body["errors"][0]["code"], "resource_not_found");
    assert!(body["errors"][0]["message"].is_string());
    assert!(body["errors"][0]["long_message"].is_string());
}
