//! Storage that refuses writes: Keel keeps serving reads, says so in `/readyz`, and names the
//! cause to clients (`STORAGE_UNAVAILABLE`) instead of "Server Error".

use std::fs::{OpenOptions, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use keel::AppParts;
use keel_webhooks::WebhookSecrets;
use serde_json::{Value as Json, json};

use crate::harness::{TestServer, now};

const KEEL: &str = env!("CARGO_BIN_EXE_keel");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A file made read-only for this process, as an operator's `chmod` (or a read-only volume)
/// would; restored when dropped. Root ignores permission bits, so as root the file is also
/// marked immutable (`chattr +i`), which binds root too.
struct ReadOnly {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn make(path: &Path) -> ReadOnly {
        std::fs::set_permissions(path, Permissions::from_mode(0o444)).unwrap();
        let mut file = ReadOnly {
            path: path.to_path_buf(),
            immutable: false,
        };
        if writable(path) {
            let status = Command::new("chattr").arg("+i").arg(path).status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "running as root, and `chattr +i {}` failed: this test needs a file root cannot write",
                path.display()
            );
            file.immutable = true;
        }
        assert!(!writable(path), "{} is still writable", path.display());
        file
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let _ = std::fs::set_permissions(&self.path, Permissions::from_mode(0o644));
    }
}

fn writable(path: &Path) -> bool {
    OpenOptions::new().append(true).open(path).is_ok()
}

/// A database made by a `keel dev` that was then killed, so its WAL is still there.
fn existing_database(parent: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(parent).unwrap();
    let mut child = Command::new(KEEL)
        .arg("dev")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEEL_DATA_DIR", dir.path())
        .env("KEEL_LISTEN", "127.0.0.1:0")
        .env("KEEL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::harness::listening_url(&mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    dir
}

#[tokio::test]
async fn a_read_only_database_is_reported_and_named_to_clients() {
    // The server's folder lies inside `outer`, which is removed last: after the files are
    // writable again, also when an assertion fails.
    let outer = tempfile::tempdir().unwrap();
    let dir = existing_database(outer.path());
    let db = dir.path().join("keel.db");
    let mut locked = vec![ReadOnly::make(&db)];
    let wal = dir.path().join("keel.db-wal");
    if wal.exists() {
        locked.push(ReadOnly::make(&wal));
    }

    let server = TestServer::dev_in(
        dir,
        |s| {
            s.clerk.webhook_secret = Some(SECRET.into());
            s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
        },
        AppParts::builtin(),
    )
    .await;
    let (_, token) = server.user("readonly@example.com").await;

    assert_eq!(server.get("/healthz").await.0, 200, "the process is up");
    let (status, ready) = server.get("/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["database"], true, "reads still work: {ready}");
    assert_eq!(ready["writable"], false, "{ready}");
    assert_eq!(ready["storage"], "Storage is read-only", "{ready}");

    // Reads are served.
    assert_eq!(
        server
            .ok("query", "chats:listUserChats", json!({}), Some(&token))
            .await,
        json!([])
    );
    // A write is refused with the cause, not "Server Error".
    let (status, body) = server
        .call(
            "mutation",
            "chats:createUserChat",
            json!({"title": "nope"}),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(
        body["errorData"],
        json!({"code": "STORAGE_UNAVAILABLE", "message": "Storage is read-only"}),
        "{body}"
    );
    assert_eq!(body["errorMessage"], "Storage is read-only");

    // A webhook is answered 5xx, so Svix retries it later.
    let event = json!({"type": "user.created", "object": "event", "timestamp": now(),
        "data": {"id": "user_ro", "created_at": 1, "updated_at": 1}});
    let body = event.to_string();
    let id = "msg_readonly";
    let ts = now();
    let signature = WebhookSecrets::parse(SECRET)
        .unwrap()
        .sign(id, ts, body.as_bytes());
    let response = server
        .http
        .post(format!("{}/clerk-webhook", server.url))
        .header("svix-id", id)
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let answer: Json = response.json().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("Storage is read-only")),
        "{answer}"
    );
    drop(server);
    drop(locked);
    drop(outer);
}
