//! Tokens and secrets never reach the log, whatever `KEEL_LOG` asks for: the `keel` binary
//! at `trace`, and with the targets that log WebSocket frames and HTTP traffic named outright,
//! serves a token over HTTP (`Authorization: Bearer`) and over the WebSocket (`Authenticate`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;

use crate::binary::{emulator_user, keel, post_json, start_keel};

/// What a user might set (`KEEL_LOG`, `KEEL_LOG_FORMAT`): everything, and the libraries that
/// see frames and headers by name (more specific directives than a plain `trace`).
const SETTINGS: [(&str, &str); 2] = [
    ("trace", "text"),
    (
        "tungstenite=trace,tungstenite::protocol=trace,tungstenite::protocol::frame=trace,tokio_tungstenite=trace,hyper=trace,hyper_util=trace,reqwest=trace,reqwest::connect::verbose=trace,axum=trace,keel=trace",
        "json",
    ),
];

#[tokio::test]
async fn no_token_or_secret_reaches_the_log_at_any_filter() {
    for (filter, format) in SETTINGS {
        let dir = tempfile::tempdir().unwrap();
        let mut command = keel(dir.path());
        command
            .args(["dev"])
            .env("KEEL_LOG", filter)
            .env("KEEL_LOG_FORMAT", format);
        let dev = start_keel(command);
        let secret = std::fs::read_to_string(dir.path().join("clerk-secret-key")).unwrap();
        let secret = secret.trim();
        let token = token_over_http(&dev.url, secret).await;

        let body = post_json(
            &format!("{}/api/mutation", dev.url),
            &token,
            json!({"path": "users:store", "args": [{}]}),
        )
        .await;
        assert_eq!(body["status"], "success", "{body}");
        authenticate_over_websocket(&dev.url, &token).await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        let logs = dev.logs();
        assert!(
            logs.contains("function call"),
            "{filter}: the log is on at trace: {logs}"
        );
        for (what, needle) in forms_of(&token, secret) {
            let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(&needle)).collect();
            assert!(
                leaks.is_empty(),
                "{filter}: {what} appeared in the log:\n{}",
                leaks.join("\n")
            );
        }
    }
}

/// The token as text, its signature alone, and both hex-encoded (tungstenite prints frame
/// payloads in hex); the secret key the same ways.
fn forms_of(token: &str, secret: &str) -> Vec<(&'static str, String)> {
    let signature = token.rsplit('.').next().unwrap();
    let hex = |text: &str| text.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    vec![
        ("the token", token.to_string()),
        ("the token's signature", signature.to_string()),
        ("the token in hex", hex(token)),
        ("the token's signature in hex", hex(signature)),
        ("the secret key", secret.to_string()),
        ("the secret key in hex", hex(secret)),
    ]
}

/// A user, a session and a `convex` token through the emulator's Backend API, as `keel token`
/// gets one (so the secret key crosses HTTP too).
async fn token_over_http(url: &str, secret: &str) -> String {
    let api = |path: &str| format!("{url}/_clerk/v1{path}");
    let user_id = emulator_user(url, secret, "logs@example.com").await;
    let session = post_json(&api("/sessions"), secret, json!({"user_id": user_id})).await;
    let sid = session["id"].as_str().unwrap();
    let token = post_json(
        &api(&format!("/sessions/{sid}/tokens/convex")),
        secret,
        json!({}),
    )
    .await;
    token["jwt"].as_str().unwrap().to_string()
}

/// `Connect`, `Authenticate` with the token, and a query that needs it, as the official
/// client sends them; waits for the answers so the server has handled every frame.
async fn authenticate_over_websocket(url: &str, token: &str) {
    let ws = format!("{}/api/1.48.0/sync", url.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    for message in [
        json!({"type": "Connect", "sessionId": "5f3ad0f4-1c2b-4d7e-9a0b-6c8d2e4f1a3b", "connectionCount": 0, "lastCloseReason": "InitialConnect", "clientTs": 0}),
        json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "users:getMyProfile", "args": [{}]}
        ]}),
    ] {
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
    // Two transitions: the identity, then the query's result (signed in: the profile).
    let mut transitions = Vec::new();
    while transitions.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            let json: Json = serde_json::from_str(&text).unwrap();
            if json["type"] == "Transition" {
                transitions.push(json);
            } else {
                assert_eq!(json["type"], "Ping", "{json}");
            }
        }
    }
    let result = &transitions[1]["modifications"][0];
    assert_eq!(result["value"]["email"], "logs@example.com", "{result}");
    socket.close(None).await.unwrap();
}

#[test]
fn a_filter_that_does_not_parse_is_named_not_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let output = keel(dir.path())
        .args(["serve"])
        .env("KEEL_LOG", "keel=loud")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: KEEL_LOG=keel=loud is not a log filter"),
        "{stderr}"
    );
    assert!(stderr.contains("logging at info"), "{stderr}");
}
