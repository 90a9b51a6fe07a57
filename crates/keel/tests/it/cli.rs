//! The `keel` binary as a user runs it: start-up messages, fail-fast settings, `check` and
//! `token`.

use std::time::Duration;

use serde_json::json;

use crate::binary::{emulator_user, keel, output, post_json, start_dev, start_keel};

#[test]
fn serve_fails_fast_naming_the_missing_and_the_misnamed_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = keel(dir.path())
        .args(["serve"])
        .env("CLERK_ISSUER_URL", "https://example.clerk.accounts.dev")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "CLERK_FRONTEND_API_URL is not set: set it (or CLERK_JWT_ISSUER_DOMAIN, its older name)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("CLERK_ISSUER_URL is set, but Keel reads CLERK_FRONTEND_API_URL"),
        "{stderr}"
    );
}

#[test]
fn two_different_issuers_are_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let run = |command: &str| {
        keel(dir.path())
            .args([command])
            .env("CLERK_FRONTEND_API_URL", "https://one.clerk.accounts.dev")
            .env("CLERK_JWT_ISSUER_DOMAIN", "https://two.clerk.accounts.dev")
            .output()
            .unwrap()
    };
    let both = "CLERK_FRONTEND_API_URL (https://one.clerk.accounts.dev) and CLERK_JWT_ISSUER_DOMAIN (https://two.clerk.accounts.dev) are both set and differ";
    let serve = run("serve");
    assert!(!serve.status.success());
    assert!(String::from_utf8_lossy(&serve.stderr).contains(both));
    let check = run("check");
    assert!(!check.status.success());
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(stdout.contains(&format!("✗ {both}")), "{stdout}");
}

#[tokio::test]
async fn dev_token_and_check_work_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "trace");
    let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
    let user_id = &emulator_user(&dev.url, secret.trim(), "cli@example.com").await;

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
    let body = post_json(
        &format!("{}/api/mutation", dev.url),
        &token,
        json!({"path": "users:store", "args": [{}]}),
    )
    .await;
    assert_eq!(body["status"], "success", "{body}");
    // Flip one character in the middle of the signature.
    let mut forged = token.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let bad = post_json(
        &format!("{}/api/query", dev.url),
        &forged,
        json!({"path": "users:getCurrentUser", "args": [{}]}),
    )
    .await;
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
    // A dry run: the empty folder stays empty.
    assert!(
        stdout.contains("does not exist yet; keel serve creates it"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(check_dir.path()).unwrap().count(), 0);
    assert!(
        stdout.contains(
            "✓ CLERK_SECRET_KEY is not set: backfill, reconcile and the admin user actions are off"
        ),
        "{stdout}"
    );
    // Beside an existing database, with the emulator's key as the Backend API's.
    let existing = keel(dir.path())
        .args(["check"])
        .env("CLERK_JWT_ISSUER_DOMAIN", &issuer)
        .env("CLERK_SECRET_KEY", secret.trim())
        .env("CLERK_API_URL", format!("{}/_clerk", dev.url))
        .env(
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&existing.stdout);
    assert!(existing.status.success(), "{stdout}");
    assert!(
        stdout.contains("✓ database (sqlite) opened and migrated"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ CLERK_SECRET_KEY: the Backend API at")
            && stdout.contains("takes it (1 users)"),
        "{stdout}"
    );
    assert!(
        existing.stderr.is_empty(),
        "no log lines among the report: {}",
        String::from_utf8_lossy(&existing.stderr)
    );
    let refused = keel(dir.path())
        .args(["check"])
        .env("CLERK_JWT_ISSUER_DOMAIN", &issuer)
        .env("CLERK_SECRET_KEY", "sk_test_not_this_one")
        .env("CLERK_API_URL", format!("{}/_clerk", dev.url))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success());
    assert!(
        stdout.contains("✗ CLERK_SECRET_KEY: Clerk refused the secret key"),
        "{stdout}"
    );
    assert!(!stdout.contains("sk_test_not_this_one"), "{stdout}");
    assert!(
        !stdout.contains('⚠'),
        "a loopback http issuer is fine: {stdout}"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = dev.logs();
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
    let user_id = &emulator_user(&dev.url, secret.trim(), "template@example.com").await;

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

/// The same server reached as `localhost`, while its discovery document names `127.0.0.1`.
fn as_localhost(issuer: &str) -> String {
    issuer.replace("127.0.0.1", "localhost")
}

#[tokio::test]
async fn check_names_the_issuer_discovery_says_when_it_differs_from_the_setting() {
    let server = crate::harness::TestServer::dev().await;
    let issuer = server.emulator().issuer().to_string();
    let configured = as_localhost(&issuer);
    let dir = tempfile::tempdir().unwrap();
    let check = |value: &str| {
        let mut command = keel(dir.path());
        command
            .args(["check"])
            .env("CLERK_JWT_ISSUER_DOMAIN", value)
            .env(
                "CLERK_WEBHOOK_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            );
        output(command)
    };

    let result = check(&configured).await;
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(!result.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "✗ issuer discovery and JWKS: the discovery document at {configured}/.well-known/openid-configuration says issuer `{issuer}`, but the configured issuer (CLERK_FRONTEND_API_URL or CLERK_JWT_ISSUER_DOMAIN) is `{configured}`: set it to the former"
        )),
        "{stdout}"
    );

    // A trailing slash is no mismatch: verification compares issuers without one.
    let result = check(&format!("{issuer}/")).await;
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(result.status.success(), "{stdout}");
    assert!(
        stdout.contains("✓ issuer discovery and JWKS: 1 signing key(s)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn serve_logs_an_error_at_start_when_discovery_names_another_issuer() {
    let key = keel_auth::testing::TestKey::generate("ins_cli");
    let issuer = crate::fake_issuer::FakeIssuer::start(&[&key]).await;
    let configured = as_localhost(&issuer.issuer);
    let dir = tempfile::tempdir().unwrap();
    let mut command = keel(dir.path());
    command
        .args(["serve"])
        .env("CLERK_JWT_ISSUER_DOMAIN", &configured);
    let expected = format!(
        "says issuer `{}`, but the configured issuer (CLERK_FRONTEND_API_URL or CLERK_JWT_ISSUER_DOMAIN) is `{configured}`: set it to the former",
        issuer.issuer
    );
    let (serve, line) = tokio::task::spawn_blocking(move || {
        let serve = start_keel(command);
        let line = serve.log_line(&["ERROR", &expected]);
        (serve, line)
    })
    .await
    .unwrap();
    assert!(line.contains("/readyz answers 503"), "{line}");
    let ready = reqwest::get(format!("{}/readyz", serve.url)).await.unwrap();
    assert_eq!(ready.status(), 503);
}

/// An issuer named `http://clerk.example.test`, reached through this test's HTTP proxy (the
/// fake issuer answers the proxied requests itself): a plain-http issuer off loopback.
async fn remote_http_issuer() -> crate::fake_issuer::FakeIssuer {
    let key = keel_auth::testing::TestKey::generate("ins_remote");
    crate::fake_issuer::FakeIssuer::naming(&[&key], |_| "http://clerk.example.test".into()).await
}

const PLAIN_HTTP_WARNING: &str = "is plain http:// (http://clerk.example.test): the signing keys travel unencrypted, so anyone on the network path could swap them and sign tokens for any user; use https://";

#[tokio::test]
async fn check_warns_about_a_plain_http_issuer_off_loopback_without_failing() {
    let issuer = remote_http_issuer().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = keel(dir.path());
    command
        .args(["check"])
        // Clerk's current name for the issuer.
        .env("CLERK_FRONTEND_API_URL", &issuer.issuer)
        .env("HTTP_PROXY", &issuer.addr)
        .env(
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        );
    let result = output(command).await;
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        stdout.contains(&format!("⚠ CLERK_FRONTEND_API_URL {PLAIN_HTTP_WARNING}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "✓ CLERK_FRONTEND_API_URL = {} (the issuer)",
            issuer.issuer
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("✓ issuer discovery and JWKS: 1 signing key(s)"),
        "{stdout}"
    );
    assert!(result.status.success(), "a warning does not fail: {stdout}");
}

#[tokio::test]
async fn serve_warns_at_start_about_a_plain_http_issuer_off_loopback() {
    let issuer = remote_http_issuer().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = keel(dir.path());
    command
        .args(["serve"])
        .env("CLERK_JWT_ISSUER_DOMAIN", &issuer.issuer)
        .env("HTTP_PROXY", &issuer.addr);
    let serve = tokio::task::spawn_blocking(move || {
        let serve = start_keel(command);
        serve.log_line(&["WARN", &format!("The issuer {PLAIN_HTTP_WARNING}")]);
        serve
    })
    .await
    .unwrap();
    // The warning does not stop it: the keys load and Keel is ready.
    let ready = reqwest::get(format!("{}/readyz", serve.url)).await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
}

#[test]
fn codegen_writes_the_typed_api_and_check_fails_when_it_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("convex/_generated");
    let run = |args: &[&str]| keel(dir.path()).args(args).output().unwrap();
    let out_arg = out.to_str().unwrap();

    let missing = run(&["codegen", "--out", out_arg, "--check"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("out of date") && stderr.contains("run `keel codegen"),
        "{stderr}"
    );
    assert!(!out.exists(), "--check writes nothing");

    let written = run(&["codegen", "--out", out_arg]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let api = std::fs::read_to_string(out.join("api.d.ts")).unwrap();
    assert!(
        api.contains(r#"update: FunctionReference<"mutation", "public", { id: Id<"chats">, title: string, }, null>;"#),
        "{api}"
    );
    assert!(
        !api.contains("applyWebhook"),
        "internal functions are not in `api`"
    );
    assert!(
        run(&["codegen", "--out", out_arg, "--check"])
            .status
            .success()
    );

    std::fs::write(out.join("dataModel.d.ts"), "// edited by hand\n").unwrap();
    let stale = run(&["codegen", "--out", out_arg, "--check"]);
    assert!(!stale.status.success());
    assert!(String::from_utf8_lossy(&stale.stderr).contains("dataModel.d.ts"));
}

#[tokio::test]
async fn token_by_email_finds_or_creates_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let token = |extra: &[&str]| {
        let mut args = vec!["token", "--url", dev.url.as_str()];
        args.extend_from_slice(extra);
        keel(dir.path()).args(&args).output().unwrap()
    };

    let missing = token(&["--email", "ada@example.com"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no user with the email ada@example.com: add --create"),
        "{stderr}"
    );

    let created = token(&["--email", "ada@example.com", "--create"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let jwt = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    let me = post_json(
        &format!("{}/api/mutation", dev.url),
        &jwt,
        json!({"path": "users:store", "args": [{}]}),
    )
    .await;
    assert_eq!(me["status"], "success", "{me}");
    let profile = post_json(
        &format!("{}/api/query", dev.url),
        &jwt,
        json!({"path": "users:getCurrentUser", "args": [{}], "format": "json"}),
    )
    .await;
    assert_eq!(profile["value"]["email"], "ada@example.com", "{profile}");
    assert_eq!(profile["value"]["firstName"], "Ada", "{profile}");

    // Found by email the next time, the same user.
    let again = token(&["--email", "ADA@example.com "]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let second = String::from_utf8(again.stdout).unwrap().trim().to_string();
    let profile_again = post_json(
        &format!("{}/api/query", dev.url),
        &second,
        json!({"path": "users:getCurrentUser", "args": [{}], "format": "json"}),
    )
    .await;
    assert_eq!(profile_again["value"]["_id"], profile["value"]["_id"]);
}

/// `keel dev`'s stdout up to and including the suggested `keel token` line, then stops it.
fn dev_banner(dir: &std::path::Path) -> String {
    use std::io::{BufRead, BufReader};
    let mut child = keel(dir)
        .args(["dev"])
        .env("KEEL_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.trim_start().starts_with("keel token") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    banner
}

#[test]
fn dev_prints_its_secrets_and_the_next_step_on_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = dev_banner(dir.path());
    let second = dev_banner(dir.path());
    for banner in [&first, &second] {
        assert!(
            banner.contains("Clerk emulator: CLERK_SECRET_KEY=sk_test_"),
            "{banner}"
        );
        assert!(
            banner.contains("Clerk emulator: CLERK_WEBHOOK_SECRET=whsec_"),
            "{banner}"
        );
        assert!(
            banner.contains("Keel listening on http://127.0.0.1:"),
            "{banner}"
        );
        assert!(
            banner.contains(&format!(
                "keel token --email ada@example.com --create --data-dir {}",
                dir.path().canonicalize().unwrap().display()
            )),
            "{banner}"
        );
    }
    assert_eq!(first.matches("generated now").count(), 2, "{first}");
    assert_eq!(second.matches("generated now").count(), 0, "{second}");
    assert_eq!(second.matches("kept in").count(), 2, "{second}");
    // The same secrets both times: they are kept in the data folder.
    let secret = |banner: &str, name: &str| {
        banner
            .lines()
            .find_map(|l| l.split(&format!("{name}=")).nth(1))
            .map(|rest| rest.split(' ').next().unwrap().to_string())
    };
    for name in ["CLERK_SECRET_KEY", "CLERK_WEBHOOK_SECRET"] {
        assert_eq!(secret(&first, name), secret(&second, name), "{name}");
    }
}

/// The README's first session, copied from the README and run by bash against a real
/// `keel dev`, as a newcomer pastes it (only the address and the binary's path differ).
#[test]
fn the_readmes_first_session_runs_as_written() {
    let readme = include_str!("../../../../README.md");
    let section = &readme[readme.find("## A first session").expect("the section")..];
    let start = section.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let script = &section[start..start + section[start..].find("```").unwrap()];
    assert!(script.contains("keel token --email"), "{script}");

    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let script = script
        .replace("URL=http://127.0.0.1:3210", &format!("URL={}", dev.url))
        .replace("./target/release/keel", env!("CARGO_BIN_EXE_keel"));
    let output = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("KEEL_DATA_DIR", dir.path())
        .env("KEEL_URL", &dev.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(r#""status":"success""#), "{stdout}");
    assert!(stdout.contains(r#""title":"Hello""#), "{stdout}");
}

#[tokio::test]
async fn webhooks_test_sends_a_signed_event_that_the_endpoint_applies() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let endpoint = format!("{}/clerk-webhook", dev.url);

    // The brief's first try: an unsigned body, answered with the way to a signed one.
    let bare = reqwest::Client::new()
        .post(&endpoint)
        .body(r#"{"test": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);
    let body: serde_json::Value = bare.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("keel webhooks test"),
        "{body}"
    );

    let send = |event_type: &'static str| {
        let dir = dir.path().to_path_buf();
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            keel(&dir)
                .args(["webhooks", "test", "--type", event_type, "--url", &endpoint])
                .output()
                .unwrap()
        })
    };
    let created = send("user.created").await.unwrap();
    let stdout = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        stdout.contains(r#"answered 200: {"status":"applied"}"#),
        "{stdout}"
    );
    let deleted = send("user.deleted").await.unwrap();
    let stdout = String::from_utf8_lossy(&deleted.stdout);
    assert!(
        stdout.contains(r#"answered 200: {"status":"applied"}"#),
        "{stdout}"
    );

    let unknown = send("user.exploded").await.unwrap();
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("one of user.created, user.updated, user.deleted")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_the_database_while_keel_serves_and_writes() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
    let user = emulator_user(&dev.url, secret.trim(), "backup@example.com").await;
    let token_out = keel(dir.path())
        .args([
            "token",
            "--user",
            &user,
            "--url",
            &dev.url,
            "--expires-in",
            "600",
        ])
        .output()
        .unwrap();
    let token = String::from_utf8(token_out.stdout)
        .unwrap()
        .trim()
        .to_string();
    let url = dev.url.clone();
    let create = move |title: String| {
        let (url, token) = (url.clone(), token.clone());
        async move {
            let body = post_json(
                &format!("{url}/api/mutation"),
                &token,
                json!({"path": "chats:createUserChat", "args": [{"title": title}]}),
            )
            .await;
            assert_eq!(body["status"], "success", "{body}");
        }
    };
    for i in 0..50 {
        create(format!("before {i}")).await;
    }
    // Writes keep coming while the copy is taken.
    let writing = tokio::spawn({
        let create = create.clone();
        async move {
            for i in 0..200 {
                create(format!("during {i}")).await;
            }
        }
    });
    let copy = dir.path().join("copy.db");
    let backup = {
        let (dir, copy) = (dir.path().to_path_buf(), copy.clone());
        tokio::task::spawn_blocking(move || {
            keel(&dir)
                .args(["backup", copy.to_str().unwrap()])
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    writing.await.unwrap();
    let stdout = String::from_utf8_lossy(&backup.stdout);
    assert!(
        backup.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(stdout.contains("integrity check ok"), "{stdout}");

    // The copy is a database of its own: no WAL beside it, every chat from before, and a
    // consistent prefix of the ones written during the copy.
    assert!(!dir.path().join("copy.db-wal").exists());
    let engine = keel_store_sqlite::SqliteEngine::open(copy.to_str().unwrap())
        .await
        .unwrap();
    let schema = keel_app::schema().merge(keel_functions::system_schema());
    let db = keel_store::Database::open(std::sync::Arc::new(engine), &schema)
        .await
        .unwrap();
    let reader = db.reader().await.unwrap();
    let chats = reader.query("chats").collect().await.unwrap();
    let during: Vec<u32> = chats
        .iter()
        .filter_map(|c| c.get_str("title")?.strip_prefix("during ")?.parse().ok())
        .collect();
    assert_eq!(
        chats.len() - during.len(),
        50,
        "every chat from before the copy"
    );
    let mut sorted = during.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..during.len() as u32).collect::<Vec<_>>(),
        "a prefix of the writes"
    );

    // A second backup to the same path is refused, not overwritten.
    let again = keel(dir.path())
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}

#[tokio::test]
async fn dev_logs_a_refused_call_with_its_path_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_dev(dir.path(), "info");
    let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
    let user = emulator_user(&dev.url, secret.trim(), "refused@example.com").await;
    let out = keel(dir.path())
        .args(["token", "--user", &user, "--url", &dev.url])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let body = post_json(
        &format!("{}/api/mutation", dev.url),
        &token,
        json!({"path": "chats:createUserChat", "args": [{"title": "  "}]}),
    )
    .await;
    assert_eq!(body["status"], "error", "{body}");
    let line = tokio::task::spawn_blocking(move || {
        dev.log_line(&[
            "INFO",
            "function refused",
            "chats:createUserChat",
            "INVALID_ARGUMENT",
            "must not be empty",
        ])
    })
    .await
    .unwrap();
    assert!(!line.contains(&token[token.len() - 20..]), "{line}");
}
