//! Keel killed with SIGKILL in the middle of a stream of webhooks: after a restart every
//! acknowledged event is in the database, and the rest are accepted on redelivery.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use keel_webhooks::WebhookSecrets;
use serde_json::{Value as Json, json};

const KEEL: &str = env!("CARGO_BIN_EXE_keel");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn start(dir: &std::path::Path, listen: &str) -> (Child, String) {
    let mut child = Command::new(KEEL)
        .arg("dev")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEEL_DATA_DIR", dir)
        .env("KEEL_LISTEN", listen)
        .env("CLERK_WEBHOOK_SECRET", SECRET)
        .env("KEEL_ADMIN_USER_IDS", "user_root")
        .env("KEEL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = crate::harness::listening_url(&mut child);
    (child, url)
}

fn event(i: usize) -> (String, String) {
    let body = json!({
        "type": "user.created", "object": "event", "timestamp": 1_716_883_200_000i64,
        "data": {
            "id": format!("user_crash{i:04}"), "object": "user", "first_name": "C",
            "email_addresses": [{"id": format!("idn_{i}"), "email_address": format!("c{i}@example.com")}],
            "primary_email_address_id": format!("idn_{i}"),
            "public_metadata": {}, "created_at": 1, "updated_at": 1,
        }
    });
    (format!("msg_crash_{i}"), body.to_string())
}

async fn deliver(http: &reqwest::Client, url: &str, id: &str, body: &str) -> Option<String> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signature = WebhookSecrets::parse(SECRET)
        .unwrap()
        .sign(id, ts, body.as_bytes());
    let response = http
        .post(format!("{url}/clerk-webhook"))
        .header("svix-id", id)
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<Json>().await.ok()?["status"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_webhooks_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(dir.path(), "127.0.0.1:0");
    let http = reqwest::Client::new();
    // More than can be sent before the kill, which comes once `KILL_AFTER` are acknowledged.
    let total = 1_000_000;
    const KILL_AFTER: usize = 150;
    let (progress, mut acked) = tokio::sync::watch::channel(0usize);
    let sender = {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..total {
                let (id, body) = event(i);
                match deliver(&http, &url, &id, &body).await {
                    Some(status) => {
                        assert_eq!(status, "applied");
                        acknowledged.push(i);
                        progress.send_replace(acknowledged.len());
                    }
                    None => break,
                }
            }
            acknowledged
        })
    };
    tokio::time::timeout(
        Duration::from_secs(60),
        acked.wait_for(|n| *n >= KILL_AFTER),
    )
    .await
    .expect("webhooks are acknowledged")
    .unwrap();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let acknowledged = sender.await.unwrap();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < total,
        "killed mid-stream: {} acknowledged",
        acknowledged.len()
    );

    let port = url.rsplit(':').next().unwrap();
    let (mut child, url) = start(dir.path(), &format!("127.0.0.1:{port}"));
    // Every acknowledged event is there: its redelivery is a duplicate.
    for &i in &acknowledged {
        let (id, body) = event(i);
        assert_eq!(
            deliver(&http, &url, &id, &body).await.as_deref(),
            Some("duplicate"),
            "event {i}"
        );
    }
    // The next ones are accepted now (one may have committed without its answer reaching us).
    for i in acknowledged.len()..acknowledged.len() + 50 {
        let (id, body) = event(i);
        let status = deliver(&http, &url, &id, &body).await.unwrap();
        assert!(
            status == "applied" || (status == "duplicate" && i == acknowledged.len()),
            "event {i}: {status}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
