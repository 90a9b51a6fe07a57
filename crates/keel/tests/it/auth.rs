//! The authentication attack list, one by one, over HTTP against the real server.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keel::AppParts;
use keel::functions::{NoArgs, QueryCtx, Registry};
use keel::store::Schema;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests, now};

/// The built-in app plus `test:whoami`, which returns what `ctx.auth` holds.
fn with_whoami() -> AppParts {
    let mut functions = Registry::new();
    functions.query("test:whoami", |ctx: QueryCtx, _: NoArgs| async move {
        Ok(ctx
            .auth
            .identity()
            .map(|identity| identity.to_convex_json()))
    });
    AppParts::builtin().with(Schema::new(), functions)
}

struct Forge<'a> {
    server: &'a TestServer,
    key: EncodingKey,
}

impl<'a> Forge<'a> {
    fn new(server: &'a TestServer) -> Self {
        Forge {
            key: server.signing_key(),
            server,
        }
    }

    fn claims(&self) -> Json {
        let now = now();
        json!({
            "iss": self.server.emulator().issuer(),
            "sub": "user_forged",
            "aud": "convex",
            "iat": now,
            "nbf": now - 5,
            "exp": now + 60,
            "email": "forged@example.com",
        })
    }

    fn sign(&self, claims: &Json) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.server.emulator().kid().to_string());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn with(&self, change: impl FnOnce(&mut Json)) -> String {
        let mut claims = self.claims();
        change(&mut claims);
        self.sign(&claims)
    }
}

async fn whoami(server: &TestServer, authorization: Option<&str>) -> (StatusCode, Json) {
    let mut request = server
        .http
        .post(format!("{}/api/query", server.url))
        .json(&json!({"path": "test:whoami", "args": [{}], "format": "convex_encoded_json"}));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn rejected(server: &TestServer, token: &str) -> String {
    let (status, body) = whoami(server, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        !body["message"].as_str().unwrap().contains(token),
        "the token never appears in errors"
    );
    body["code"].as_str().unwrap().to_string()
}

async fn a_valid_token_gives_functions_a_convex_identity(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_whoami()).await;
    let forge = Forge::new(&server);
    let (status, body) = whoami(&server, Some(&format!("Bearer {}", forge.with(|_| {})))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let identity = &body["value"];
    let issuer = server.emulator().issuer();
    assert_eq!(identity["tokenIdentifier"], format!("{issuer}|user_forged"));
    assert_eq!(identity["subject"], "user_forged");
    assert_eq!(identity["issuer"], issuer);
    assert_eq!(identity["email"], "forged@example.com");

    let (status, body) = whoami(&server, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["value"], Json::Null, "no header means signed out");
}
engine_tests!(a_valid_token_gives_functions_a_convex_identity);

async fn emulator_tokens_of_both_shapes_verify(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_whoami()).await;
    let (user, template_token) = server.user("shapes@example.com").await;
    let (_, body) = whoami(&server, Some(&format!("Bearer {template_token}"))).await;
    assert_eq!(body["value"]["subject"], user.as_str());
    assert_eq!(body["value"]["email"], "shapes@example.com");

    // A plain session token has no `aud`: rejected while an audience is required…
    let session_token = server.token(&user, None).await;
    assert_eq!(rejected(&server, &session_token).await, "NoAuthProvider");
    // …and accepted when KEEL_APPLICATION_ID is empty.
    let open = TestServer::dev_on_with(
        engine,
        |s| s.auth.application_id = String::new(),
        with_whoami(),
    )
    .await;
    let (user, _) = open.user("session@example.com").await;
    let token = open.token(&user, None).await;
    let (status, body) = whoami(&open, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"]["subject"], user.as_str());
}
engine_tests!(emulator_tokens_of_both_shapes_verify);

async fn malformed_headers_are_invalid_auth_header(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_whoami()).await;
    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer a.b",
    ] {
        let (status, body) = whoami(&server, Some(header)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {body}");
        assert_eq!(body["code"], "InvalidAuthHeader", "{header}");
    }
}
engine_tests!(malformed_headers_are_invalid_auth_header);

async fn every_forgery_is_rejected_with_its_code(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_whoami()).await;
    let forge = Forge::new(&server);

    let wrong_issuer = forge.with(|c| c["iss"] = json!("https://evil.example.com"));
    assert_eq!(rejected(&server, &wrong_issuer).await, "NoAuthProvider");
    let wrong_audience = forge.with(|c| c["aud"] = json!("someone-else"));
    assert_eq!(rejected(&server, &wrong_audience).await, "NoAuthProvider");
    let no_audience = forge.with(|c| {
        c.as_object_mut().unwrap().remove("aud");
    });
    assert_eq!(rejected(&server, &no_audience).await, "NoAuthProvider");

    let expired = forge.with(|c| c["exp"] = json!(now() - 30));
    assert_eq!(rejected(&server, &expired).await, "TokenExpired");
    let future_nbf = forge.with(|c| c["nbf"] = json!(now() + 120));
    assert_eq!(rejected(&server, &future_nbf).await, "Unauthenticated");

    let valid = forge.with(|_| {});
    let mut parts: Vec<String> = valid.split('.').map(String::from).collect();
    let tampered_claims = forge.with(|c| c["sub"] = json!("user_admin"));
    parts[1] = tampered_claims.split('.').nth(1).unwrap().to_string();
    let tampered = parts.join(".");
    assert_eq!(rejected(&server, &tampered).await, "Unauthenticated");

    use base64::Engine as _;
    let b64 = |v: &Json| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&forge.claims())
    );
    assert_eq!(rejected(&server, &alg_none).await, "Unauthenticated");

    // HS256 keyed with public material: the classic algorithm-confusion attack.
    let public = server.emulator().jwks().to_string();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(server.emulator().kid().to_string());
    let hs256 = jsonwebtoken::encode(
        &header,
        &forge.claims(),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_eq!(rejected(&server, &hs256).await, "Unauthenticated");

    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ins_unknown".into());
    let unknown_kid = jsonwebtoken::encode(&header, &forge.claims(), &forge.key).unwrap();
    assert_eq!(rejected(&server, &unknown_kid).await, "Unauthenticated");

    // Within the 5 s skew still passes.
    let barely = forge.with(|c| c["exp"] = json!(now() - 2));
    let (status, _) = whoami(&server, Some(&format!("Bearer {barely}"))).await;
    assert_eq!(status, StatusCode::OK);
}
engine_tests!(every_forgery_is_rejected_with_its_code);

async fn authorized_parties_require_a_listed_azp(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.auth.authorized_parties = vec!["https://app.example.com".into()],
        with_whoami(),
    )
    .await;
    let forge = Forge::new(&server);
    let missing = forge.with(|_| {});
    assert_eq!(rejected(&server, &missing).await, "Unauthenticated");
    let other = forge.with(|c| c["azp"] = json!("https://evil.example.com"));
    assert_eq!(rejected(&server, &other).await, "Unauthenticated");
    let listed = forge.with(|c| c["azp"] = json!("https://app.example.com"));
    let (status, body) = whoami(&server, Some(&format!("Bearer {listed}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
engine_tests!(authorized_parties_require_a_listed_azp);
