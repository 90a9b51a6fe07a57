//! The `keel` binary as a user runs it: start-up messages, fail-fast settings, `check`,
//! `token`, and logs that never contain a token.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

const KEEL: &str = env!("CARGO_BIN_EXE_keel");

/// A clean environment: no variables from the developer's shell or a `.env` leak in.
fn keel(dir: &std::path::Path) -> Command {
    let mut command = Command::new(KEEL);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEEL_DATA_DIR", dir)
        .current_dir(dir);
    command
}

struct Dev {
    child: Child,
    url: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_dev(dir: &std::path::Path, log: &str) -> Dev {
    let mut child = keel(dir)
        .args(["dev"])
        .env("KEEL_LISTEN", "127.0.0.1:0")
        .env("KEEL_LOG", log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&stderr);
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let url = crate::harness::listening_url(&mut child);
    Dev { child, url, stderr }
}

#[test]
fn serve_fails_fast_naming_the_missing_and_the_misnamed_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = keel(dir.path())
        .args(["serve"])
        .env(
            "CLERK_FRONTEND_API_URL",
            "https://example.clerk.accounts.dev",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CLERK_JWT_ISSUER_DOMAIN is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("CLERK_FRONTEND_API_URL is set, but Keel reads CLERK_JWT_ISSUER_DOMAIN"),
        "{stderr}"
    );
}

#[tokio::test]
async fn dev_token_and_check_work_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "trace");
    let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
    let http = reqwest::Client::new();
    let user: Json = http
        .post(format!("{}/_clerk/v1/users", dev.url))
        .bearer_auth(secret.trim())
        .json(&json!({"email_address": ["cli@example.com"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = user["id"].as_str().unwrap();

    let output = keel(dir.path())
        .args(["token", "--user", user_id, "--url", &dev.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_string();
    let body: Json = http
        .post(format!("{}/api/mutation", dev.url))
        .bearer_auth(&token)
        .json(&json!({"path": "users:store", "args": [{}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{body}");
    // Flip one character in the middle of the signature.
    let mut forged = token.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let bad: Json = http
        .post(format!("{}/api/query", dev.url))
        .bearer_auth(&forged)
        .json(&json!({"path": "users:getCurrentUser", "args": [{}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bad["code"], "Unauthenticated");

    // `keel check` against the running emulator as if it were Clerk.
    let issuer = format!("{}/_clerk", dev.url);
    let check_dir = tempfile::tempdir().unwrap();
    let output = keel(check_dir.path())
        .args(["check"])
        .env("CLERK_JWT_ISSUER_DOMAIN", &issuer)
        .env(
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("✓ issuer discovery and JWKS: 1 signing key(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ database (sqlite) opened and migrated"),
        "{stdout}"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = dev.stderr.lock().unwrap().clone();
    assert!(!logs.is_empty(), "trace logging is on");
    assert!(!logs.contains(&token), "a token appeared in the logs");
    assert!(
        !logs.contains(&token[token.len() - 20..]),
        "part of a token appeared in the logs"
    );
    assert!(
        !logs.contains(secret.trim()),
        "the secret key appeared in the logs"
    );
}

#[test]
fn check_fails_with_the_fix_when_the_issuer_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let output = keel(dir.path())
        .args(["check"])
        .env("CLERK_JWT_ISSUER_DOMAIN", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("✗ issuer discovery and JWKS"), "{stdout}");
    assert!(
        stdout.contains("✗ CLERK_WEBHOOK_SECRET is not set"),
        "{stdout}"
    );
    assert!(stdout.contains("CLERK_JWT_ISSUER_DOMAIN"), "{stdout}");
}

#[tokio::test]
async fn token_names_an_unknown_template_and_the_ones_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
    let user: Json = reqwest::Client::new()
        .post(format!("{}/_clerk/v1/users", dev.url))
        .bearer_auth(secret.trim())
        .json(&json!({"email_address": ["template@example.com"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = user["id"].as_str().unwrap();

    let output = keel(dir.path())
        .args(["token", "--user", user_id, "--template", "nope", "--url"])
        .arg(&dev.url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("No JWT template exists with name: nope. The templates are: convex."),
        "{stderr}"
    );
    assert!(!stderr.contains("for url"), "{stderr}");

    // An unknown user is named the same way, in Clerk's words.
    let output = keel(dir.path())
        .args(["token", "--user", "user_nobody", "--url"])
        .arg(&dev.url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("user_nobody"), "{stderr}");
    assert!(!stderr.contains("for url"), "{stderr}");
}
