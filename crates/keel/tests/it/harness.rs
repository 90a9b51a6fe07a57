use std::sync::Arc;

use keel::{AppParts, Mode, Running, Settings};
use keel_clerk_emulator::{CreateUser, Emulator};
use keel_store_postgres::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

/// The storage engine a test's server runs on. A suite that must hold on every engine writes
/// its tests as `async fn name(engine: Engine)` and instantiates each with [`engine_tests!`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A `keel.db` file in the test's temporary folder.
    Sqlite,
    /// A fresh database on the tests' PostgreSQL server (`KEEL_TEST_POSTGRES_URL`, default
    /// `127.0.0.1:5432`), dropped after the test. A server that cannot be reached fails the
    /// test; nothing skips.
    Postgres,
}

/// Instantiates the test `name`, an `async fn(Engine)` in the same module, once per engine:
/// as `name::sqlite` and `name::postgres`. Whatever follows the name goes to
/// `#[tokio::test(…)]`, for example `flavor = "multi_thread", worker_threads = 2`.
/// `cargo nextest run -E 'test(/::postgres$/)'` runs the PostgreSQL half alone.
macro_rules! engine_tests {
    ($name:ident $(, $($arg:tt)+)?) => {
        mod $name {
            #[tokio::test $( ( $($arg)+ ) )?]
            async fn sqlite() {
                super::$name($crate::harness::Engine::Sqlite).await
            }

            #[tokio::test $( ( $($arg)+ ) )?]
            async fn postgres() {
                super::$name($crate::harness::Engine::Postgres).await
            }
        }
    };
}
pub(crate) use engine_tests;

/// Where a test's data lives: a temporary folder (the emulator's state and keys, generated
/// secrets, and SQLite's file) and, on PostgreSQL, a fresh database dropped with this value.
/// Servers started one after the other on the same `Storage` see the same data.
pub struct Storage {
    pub dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
}

impl Storage {
    pub async fn new(engine: Engine) -> Storage {
        let database = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(TestDatabase::create().await),
        };
        Storage {
            dir: tempfile::tempdir().unwrap(),
            database,
        }
    }

    /// `KEEL_DATABASE_URL` for this storage: `None` is SQLite in the data folder.
    pub fn database_url(&self) -> Option<String> {
        self.database.as_ref().map(|db| db.url().to_string())
    }

    /// The tests' settings on this storage.
    pub fn settings(&self) -> Settings {
        let mut settings = settings(self.dir.path());
        settings.storage.database_url = self.database_url();
        settings
    }
}

pub struct TestServer {
    pub running: Running,
    pub url: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database, dropped after the server's handle.
    pub database: Option<TestDatabase>,
}

/// The flags' defaults, on a free port, with the data folder `dir`.
pub fn settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.http.listen = "127.0.0.1:0".into();
    settings.storage.data_dir = dir.to_path_buf();
    settings
}

impl TestServer {
    /// `keel dev` with the built-in app, on SQLite.
    pub async fn dev() -> Self {
        Self::dev_with(|_| {}, AppParts::builtin()).await
    }

    /// `keel dev` on SQLite, configured.
    pub async fn dev_with(configure: impl FnOnce(&mut Settings), parts: AppParts) -> Self {
        Self::dev_on_with(Engine::Sqlite, configure, parts).await
    }

    /// `keel dev` with the built-in app on `engine`.
    pub async fn dev_on(engine: Engine) -> Self {
        Self::dev_on_with(engine, |_| {}, AppParts::builtin()).await
    }

    /// `keel dev` on `engine`, configured.
    pub async fn dev_on_with(
        engine: Engine,
        configure: impl FnOnce(&mut Settings),
        parts: AppParts,
    ) -> Self {
        Self::dev_on_storage(Storage::new(engine).await, configure, parts).await
    }

    /// `keel dev` on a SQLite data folder that may already hold a database.
    pub async fn dev_in(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut Settings),
        parts: AppParts,
    ) -> Self {
        let storage = Storage {
            dir,
            database: None,
        };
        Self::dev_on_storage(storage, configure, parts).await
    }

    /// `keel dev` on `storage`, which may already hold data.
    pub async fn dev_on_storage(
        storage: Storage,
        configure: impl FnOnce(&mut Settings),
        parts: AppParts,
    ) -> Self {
        Self::dev_with_runtime(storage, configure, parts, keel::runtime::Runtime::system()).await
    }

    /// `keel dev` on `storage`, reading time and randomness from `runtime` (a manual clock
    /// that a test moves instead of sleeping).
    pub async fn dev_with_runtime(
        storage: Storage,
        configure: impl FnOnce(&mut Settings),
        parts: AppParts,
        runtime: keel::runtime::Runtime,
    ) -> Self {
        let mut settings = storage.settings();
        configure(&mut settings);
        let running = keel::start_with_runtime(
            &settings,
            Mode::Dev {
                clerk_secret_key: None,
            },
            parts,
            None,
            runtime,
        )
        .await
        .expect("start keel dev");
        let Storage { dir, database } = storage;
        assert_eq!(
            dir.path().join("keel.db").exists(),
            settings.storage.database_url.is_none(),
            "SQLite's file exists exactly when the server runs on SQLite"
        );
        TestServer {
            url: running.url.clone(),
            running,
            http: reqwest::Client::new(),
            dir,
            database,
        }
    }

    /// `KEEL_DATABASE_URL` for a `keel` command on this server's data (`None`: SQLite in
    /// [`Self::dir`]).
    pub fn database_url(&self) -> Option<String> {
        self.database.as_ref().map(|db| db.url().to_string())
    }

    pub fn emulator(&self) -> &Arc<Emulator> {
        self.running
            .emulator
            .as_ref()
            .expect("dev mode has the emulator")
    }

    /// A new emulator user and a `convex` template token for it.
    pub async fn user(&self, email: &str) -> (String, String) {
        let user = self
            .emulator()
            .create_user(CreateUser {
                email_address: vec![email.to_string()],
                first_name: Some("Test".into()),
                last_name: Some(email.split('@').next().unwrap().to_string()),
                ..Default::default()
            })
            .await
            .unwrap();
        let id = user["id"].as_str().unwrap().to_string();
        let token = self.token(&id, Some("convex")).await;
        (id, token)
    }

    /// [`Self::user`], once the emulator's `user.created` webhook has been applied here, so
    /// that its commit cannot land in the middle of what the test does next.
    pub async fn synced_user(&self, email: &str) -> (String, String) {
        let (id, token) = self.user(email).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self
            .ok("query", "users:getCurrentUser", json!({}), Some(&token))
            .await
            .is_null()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{email}'s webhook was not applied within 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        (id, token)
    }

    pub async fn token(&self, user_id: &str, template: Option<&str>) -> String {
        let session = self.emulator().create_session(user_id).await.unwrap();
        self.emulator()
            .mint_token(&session, template, None)
            .await
            .unwrap()
    }

    /// `POST /api/{kind}` as the official client sends it; returns status and body.
    pub async fn call(
        &self,
        kind: &str,
        path: &str,
        args: Json,
        token: Option<&str>,
    ) -> (StatusCode, Json) {
        let mut request = self
            .http
            .post(format!("{}/api/{kind}", self.url))
            .json(&json!({ "path": path, "args": [args], "format": "convex_encoded_json" }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// `GET path`: the status and the JSON body (null when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, Json) {
        let response = self.http.get(format!("{}{path}", self.url)).send().await;
        status_and_json(response.unwrap()).await
    }

    /// `POST path` with `body` as it is (JSON text, possibly malformed on purpose).
    pub async fn post_text(&self, path: &str, body: &str) -> (u16, Json) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        status_and_json(response.unwrap()).await
    }

    /// The value of a successful call; panics with the body otherwise.
    pub async fn ok(&self, kind: &str, path: &str, args: Json, token: Option<&str>) -> Json {
        let (status, body) = self.call(kind, path, args, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["value"].clone()
    }

    /// The `errorData.code` of a failed call.
    pub async fn error_code(
        &self,
        kind: &str,
        path: &str,
        args: Json,
        token: Option<&str>,
    ) -> String {
        let (status, body) = self.call(kind, path, args, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "error", "{path} should fail: {body}");
        body["errorData"]["code"]
            .as_str()
            .unwrap_or("<no errorData>")
            .to_string()
    }

    /// The emulator's private signing key, to forge tokens with chosen claims.
    pub fn signing_key(&self) -> jsonwebtoken::EncodingKey {
        let pem = std::fs::read(self.dir.path().join("clerk-emulator/signing-key.pem")).unwrap();
        jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl TestServer {
    /// A `convex`-template-shaped token for any subject, signed with the emulator's key.
    pub fn forged_token(&self, subject: &str) -> String {
        self.forged_token_with(subject, serde_json::json!({}))
    }

    /// Like [`Self::forged_token`], with extra claims merged in (`metadata`, `o`, …).
    pub fn forged_token_with(&self, subject: &str, extra: Json) -> String {
        let now = now();
        let mut claims = serde_json::json!({
            "iss": self.emulator().issuer(), "sub": subject, "aud": "convex",
            "iat": now, "nbf": now - 5, "exp": now + 60,
        });
        if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.emulator().kid().to_string());
        jsonwebtoken::encode(&header, &claims, &self.signing_key()).unwrap()
    }
}

/// Reads a started `keel` child's stdout up to its `Keel listening on …` line and returns the
/// URL; the rest of its output is drained on a thread so the child never blocks on a full pipe.
pub fn listening_url(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let url = loop {
        let line = lines.next().expect("keel printed its address").unwrap();
        if let Some(url) = line.strip_prefix("Keel listening on ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    url
}

async fn status_and_json(response: reqwest::Response) -> (u16, Json) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Json::Null))
}
