use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Server, start, verify};

async fn ada(server: &Server) -> Value {
    server
        .create_user(json!({
            "email_address": ["ada@example.com"],
            "phone_number": ["+15555550100"],
            "first_name": "Ada",
            "last_name": "Lovelace",
            "username": "ada",
            "public_metadata": { "role": "admin", "teams": ["core"] }
        }))
        .await
}

async fn mint(server: &Server, sid: &str, template: Option<&str>, body: Option<Value>) -> String {
    let path = match template {
        None => format!("/sessions/{sid}/tokens"),
        Some(t) => format!("/sessions/{sid}/tokens/{t}"),
    };
    let mut req = server.bapi(Method::POST, &path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = server.call(req, 200).await;
    assert_eq!(res["object"], "token");
    res["jwt"].as_str().unwrap().to_owned()
}

fn claim_names(claims: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn sessions_are_created_read_and_revoked() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let uid = user["id"].as_str().unwrap();
    let session = server.create_session(uid).await;
    assert_eq!(session["object"], "session");
    assert!(session["id"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(session["id"].as_str().unwrap().len(), "sess_".len() + 27);
    assert!(
        session["client_id"]
            .as_str()
            .unwrap()
            .starts_with("client_")
    );
    assert_eq!(session["user_id"], uid);
    assert_eq!(session["status"], "active");
    for field in [
        "last_active_at",
        "expire_at",
        "abandon_at",
        "updated_at",
        "created_at",
    ] {
        assert!(session[field].is_i64(), "{field}");
    }
    assert!(session["expire_at"].as_i64() > session["created_at"].as_i64());

    // Signing in is recorded on the user.
    let after = server
        .call(server.bapi(Method::GET, &format!("/users/{uid}")), 200)
        .await;
    assert_eq!(after["last_sign_in_at"], session["created_at"]);

    let sid = session["id"].as_str().unwrap();
    let fetched = server
        .call(server.bapi(Method::GET, &format!("/sessions/{sid}")), 200)
        .await;
    assert_eq!(fetched, session);

    let revoked = server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/revoke")),
            200,
        )
        .await;
    assert_eq!(revoked["status"], "revoked");
    // A revoked session mints nothing.
    for path in ["tokens", "tokens/convex"] {
        let body = server
            .call(
                server.bapi(Method::POST, &format!("/sessions/{sid}/{path}")),
                404,
            )
            .await;
        assert_eq!(body["errors"][0]["code"], "resource_not_found");
    }

    let unknown_user = server
        .call(
            server
                .bapi(Method::POST, "/sessions")
                .json(&json!({ "user_id": "user_nobody" })),
            404,
        )
        .await;
    assert_eq!(unknown_user["errors"][0]["code"], "resource_not_found");
    let missing = server
        .call(server.bapi(Method::POST, "/sessions").json(&json!({})), 422)
        .await;
    assert_eq!(missing["errors"][0]["code"], "form_param_missing");
    server
        .call(server.bapi(Method::GET, "/sessions/sess_nope"), 404)
        .await;
    server
        .call(server.bapi(Method::POST, "/sessions/sess_nope/tokens"), 404)
        .await;
}

#[tokio::test]
async fn session_token_has_clerks_v2_claims() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let uid = user["id"].as_str().unwrap();
    let sid = server.create_session(uid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // No body at all, as SDKs often send.
    let token = mint(&server, &sid, None, None).await;
    let jwks = server.jwks().await;
    let data = verify(&jwks, &token, &server.issuer, None, 0).unwrap();
    let c = &data.claims;
    assert_eq!(
        claim_names(c),
        [
            "azp", "exp", "fva", "iat", "iss", "jti", "metadata", "nbf", "sid", "sts", "sub", "v"
        ]
    );
    assert_eq!(c["iss"], server.issuer.as_str());
    assert_eq!(c["sub"], uid);
    assert_eq!(c["sid"], sid.as_str());
    assert_eq!(c["azp"], "http://localhost:3000");
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(c["exp"].as_i64().unwrap() - iat, 60);
    assert_eq!(c["nbf"].as_i64().unwrap(), iat - 10);
    assert!(!c["jti"].as_str().unwrap().is_empty());
    assert_eq!(c["v"], 2);
    assert_eq!(c["fva"], json!([0, -1]));
    assert_eq!(c["sts"], "active");
    assert_eq!(c["metadata"], json!({ "role": "admin", "teams": ["core"] }));
    assert_eq!(data.header.kid.as_deref(), Some(server.emulator.kid()));

    // Two tokens never share a jti.
    let again = mint(&server, &sid, None, Some(json!({}))).await;
    let again = verify(&jwks, &again, &server.issuer, None, 0).unwrap();
    assert_ne!(again.claims["jti"], c["jti"]);

    // The Rust API mints the same shape.
    let direct = server.emulator.mint_token(&sid, None, None).await.unwrap();
    let direct = verify(&jwks, &direct, &server.issuer, None, 0).unwrap();
    assert_eq!(claim_names(&direct.claims), claim_names(c));
}

#[tokio::test]
async fn convex_template_has_the_convex_preset_claims() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let uid = user["id"].as_str().unwrap();
    let sid = server.create_session(uid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = server
        .call(server.bapi(Method::GET, &format!("/users/{uid}")), 200)
        .await;

    let token = mint(&server, &sid, Some("convex"), None).await;
    let jwks = server.jwks().await;
    // Without the audience the token is refused; with it, accepted.
    let wrong = verify(&jwks, &token, &server.issuer, Some("other"), 0).unwrap_err();
    assert_eq!(wrong.kind(), &ErrorKind::InvalidAudience);
    let data = verify(&jwks, &token, &server.issuer, Some("convex"), 0).unwrap();
    let c = &data.claims;
    assert_eq!(
        claim_names(c),
        [
            "aud",
            "azp",
            "email",
            "email_verified",
            "exp",
            "family_name",
            "given_name",
            "iat",
            "iss",
            "jti",
            "metadata",
            "name",
            "nbf",
            "nickname",
            "phone_number",
            "phone_number_verified",
            "picture",
            "sub",
            "updated_at"
        ]
    );
    assert_eq!(c["aud"], "convex");
    assert_eq!(c["iss"], server.issuer.as_str());
    assert_eq!(c["sub"], uid);
    assert_eq!(c["azp"], "http://localhost:3000");
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(c["exp"].as_i64().unwrap() - iat, 60);
    assert_eq!(c["nbf"].as_i64().unwrap(), iat - 5);
    assert_eq!(c["name"], "Ada Lovelace");
    assert_eq!(c["given_name"], "Ada");
    assert_eq!(c["family_name"], "Lovelace");
    assert_eq!(c["nickname"], "ada");
    assert_eq!(c["email"], "ada@example.com");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["phone_number"], "+15555550100");
    assert_eq!(c["picture"], user["image_url"]);
    assert_eq!(c["updated_at"], user["updated_at"].as_i64().unwrap() / 1000);
    assert_eq!(c["metadata"], json!({ "role": "admin", "teams": ["core"] }));

    // A user with nothing but an id gets only the claims it has.
    let bare = server.create_user(json!({})).await;
    let bare_sid = server
        .emulator
        .create_session(bare["id"].as_str().unwrap())
        .await
        .unwrap();
    let token = server
        .emulator
        .mint_token(&bare_sid, Some("convex"), None)
        .await
        .unwrap();
    let data = verify(&jwks, &token, &server.issuer, Some("convex"), 0).unwrap();
    assert_eq!(
        claim_names(&data.claims),
        [
            "aud",
            "azp",
            "exp",
            "iat",
            "iss",
            "jti",
            "metadata",
            "nbf",
            "picture",
            "sub",
            "updated_at"
        ]
    );

    let unknown = server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/tokens/hasura")),
            404,
        )
        .await;
    assert_eq!(unknown["errors"][0]["code"], "resource_not_found");
}

#[tokio::test]
async fn expires_in_seconds_sets_the_lifetime() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let sid = server.create_session(user["id"].as_str().unwrap()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwks = server.jwks().await;
    let one_second = json!({ "expires_in_seconds": 1 });
    let session_token = mint(&server, &sid, None, Some(one_second.clone())).await;
    let convex_token = mint(&server, &sid, Some("convex"), Some(one_second)).await;
    for (token, aud) in [(&session_token, None), (&convex_token, Some("convex"))] {
        let data = verify(&jwks, token, &server.issuer, aud, 5).unwrap();
        let iat = data.claims["iat"].as_i64().unwrap();
        assert_eq!(data.claims["exp"].as_i64().unwrap() - iat, 1);
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for (token, aud) in [(&session_token, None), (&convex_token, Some("convex"))] {
        let err = verify(&jwks, token, &server.issuer, aud, 0).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ExpiredSignature);
    }

    let long = mint(
        &server,
        &sid,
        None,
        Some(json!({ "expires_in_seconds": 315_360_000 })),
    )
    .await;
    let data = verify(&jwks, &long, &server.issuer, None, 0).unwrap();
    let iat = data.claims["iat"].as_i64().unwrap();
    assert_eq!(data.claims["exp"].as_i64().unwrap() - iat, 315_360_000);
    let null = mint(
        &server,
        &sid,
        None,
        Some(json!({ "expires_in_seconds": null })),
    )
    .await;
    let data = verify(&jwks, &null, &server.issuer, None, 0).unwrap();
    let iat = data.claims["iat"].as_i64().unwrap();
    assert_eq!(data.claims["exp"].as_i64().unwrap() - iat, 60);

    for bad in [json!(0), json!(315_360_001), json!(-5), json!("soon")] {
        let body = server
            .call(
                server
                    .bapi(Method::POST, &format!("/sessions/{sid}/tokens"))
                    .json(&json!({ "expires_in_seconds": bad })),
                422,
            )
            .await;
        assert!(body["errors"][0]["code"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn deleting_the_user_ends_its_sessions() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let uid = user["id"].as_str().unwrap();
    let sid = server.emulator.create_session(uid).await.unwrap();
    server
        .call(server.bapi(Method::DELETE, &format!("/users/{uid}")), 200)
        .await;
    let session = server
        .call(server.bapi(Method::GET, &format!("/sessions/{sid}")), 200)
        .await;
    assert_eq!(session["status"], "removed");
    server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/tokens")),
            404,
        )
        .await;
}

#[tokio::test]
async fn an_unknown_template_is_named_with_the_templates_that_exist() {
    let (server, _dir) = start().await;
    let user = ada(&server).await;
    let uid = user["id"].as_str().unwrap();
    let sid = server.create_session(uid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/tokens/nope")),
            404,
        )
        .await;
    let error = &body["errors"][0];
    assert_eq!(error["code"], "resource_not_found", "{body}");
    assert_eq!(
        error["long_message"], "No JWT template exists with name: nope. The templates are: convex.",
        "{body}"
    );
}
