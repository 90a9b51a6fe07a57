use std::path::Path;
use std::sync::Arc;

use axum::Router;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, TokenData, Validation};
use keel_clerk_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub struct Server {
    pub issuer: String,
    pub emulator: Arc<Emulator>,
    pub http: reqwest::Client,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves a fresh emulator on `dir`, mounted at `/_clerk` as Keel mounts it.
pub async fn start_in(dir: &Path) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/_clerk", listener.local_addr().unwrap());
    let emulator = Emulator::open(EmulatorConfig {
        data_dir: dir.to_path_buf(),
        issuer: issuer.clone(),
        secret_key: "sk_test_integration".into(),
        authorized_party: None,
    })
    .await
    .unwrap();
    let app = Router::new().nest("/_clerk", emulator.router());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        issuer,
        emulator,
        http: reqwest::Client::new(),
        task,
    }
}

pub async fn start() -> (Server, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (start_in(dir.path()).await, dir)
}

impl Server {
    /// A Backend API request with the right secret key.
    pub fn bapi(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/v1{path}", self.issuer))
            .bearer_auth("sk_test_integration")
    }

    /// Sends and expects `status`, returning the JSON body.
    pub async fn call(&self, req: RequestBuilder, status: u16) -> Value {
        let res = req.send().await.unwrap();
        let got = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert_eq!(got, status, "unexpected status, body: {body}");
        body
    }

    pub async fn create_user(&self, body: Value) -> Value {
        self.call(self.bapi(Method::POST, "/users").json(&body), 200)
            .await
    }

    pub async fn create_org(&self, body: Value) -> Value {
        self.call(self.bapi(Method::POST, "/organizations").json(&body), 200)
            .await
    }

    pub async fn add_member(&self, org_id: &str, user_id: &str, role: &str) -> Value {
        self.call(
            self.bapi(
                Method::POST,
                &format!("/organizations/{org_id}/memberships"),
            )
            .json(&json!({ "user_id": user_id, "role": role })),
            200,
        )
        .await
    }

    pub async fn create_session(&self, user_id: &str) -> Value {
        self.call(
            self.bapi(Method::POST, "/sessions")
                .json(&json!({ "user_id": user_id })),
            200,
        )
        .await
    }

    /// The published keys, found the way a verifier finds them: discovery, then jwks_uri.
    pub async fn jwks(&self) -> JwkSet {
        let discovery: Value = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let uri = discovery["jwks_uri"].as_str().unwrap();
        self.http
            .get(uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Verifies `token` against `jwks` like Clerk's SDK does (RS256, issuer,
/// 5 s skew, `nbf` checked), requiring `aud` only when `audience` is given.
pub fn verify(
    jwks: &JwkSet,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
    leeway: u64,
) -> Result<TokenData<Value>, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.expect("token has a kid");
    let jwk = jwks.find(&kid).expect("kid is published");
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.leeway = leeway;
    validation.validate_nbf = true;
    match audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    jsonwebtoken::decode::<Value>(token, &key, &validation)
}
