use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{start_in, verify};

#[tokio::test]
async fn key_users_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_in(dir.path()).await;
    let kid = first.emulator.kid().to_owned();
    let user = first
        .create_user(json!({ "email_address": ["ada@example.com"], "first_name": "Ada" }))
        .await;
    let uid = user["id"].as_str().unwrap().to_owned();
    let sid = first.create_session(&uid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_token = first
        .emulator
        .mint_token(&sid, Some("convex"), Some(3600))
        .await
        .unwrap();
    let old_issuer = first.issuer.clone();
    let user = first
        .call(first.bapi(Method::GET, &format!("/users/{uid}")), 200)
        .await;
    drop(first);

    let files = dir.path().join("clerk-emulator");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["signing-key.pem", "state.json"] {
            let mode = std::fs::metadata(files.join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
    let pem = std::fs::read_to_string(files.join("signing-key.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(files.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 1);
    assert_eq!(state["users"].as_array().unwrap().len(), 1);

    // Same folder, new process-like start (and a new port).
    let second = start_in(dir.path()).await;
    assert_eq!(second.emulator.kid(), kid);
    let jwks = second.jwks().await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].common.key_id.as_deref(), Some(kid.as_str()));

    let data = verify(&jwks, &old_token, &old_issuer, Some("convex"), 0).unwrap();
    assert_eq!(data.claims["sub"], uid.as_str());

    let again = second
        .call(second.bapi(Method::GET, &format!("/users/{uid}")), 200)
        .await;
    assert_eq!(again, user);
    let count = second
        .call(second.bapi(Method::GET, "/users/count"), 200)
        .await;
    assert_eq!(count["total_count"], 1);
    let session = second
        .call(second.bapi(Method::GET, &format!("/sessions/{sid}")), 200)
        .await;
    assert_eq!(session["status"], "active");
    let fresh = second.emulator.mint_token(&sid, None, None).await.unwrap();
    let data = verify(&jwks, &fresh, &second.issuer, None, 0).unwrap();
    assert_eq!(data.claims["sid"], sid.as_str());
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    drop(start_in(dir.path()).await);
    let state = dir.path().join("clerk-emulator").join("state.json");
    std::fs::write(&state, "{ not json").unwrap();
    let opened = keel_clerk_emulator::Emulator::open(keel_clerk_emulator::EmulatorConfig {
        data_dir: dir.path().to_path_buf(),
        issuer: "http://127.0.0.1:1/_clerk".into(),
        secret_key: "sk_test_x".into(),
        authorized_party: None,
    })
    .await;
    assert!(matches!(
        opened,
        Err(keel_clerk_emulator::EmulatorError::CorruptState { .. })
    ));
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "{ not json");
}

#[tokio::test]
async fn concurrent_writes_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let creates = (0..20).map(|i| {
        let emulator = std::sync::Arc::clone(&server.emulator);
        tokio::spawn(async move {
            emulator
                .create_user(keel_clerk_emulator::CreateUser {
                    email_address: vec![format!("user{i}@example.com")],
                    ..Default::default()
                })
                .await
                .unwrap()
        })
    });
    for task in creates.collect::<Vec<_>>() {
        task.await.unwrap();
    }
    assert_eq!(server.emulator.count_users().await, 20);
    drop(server);
    let again = start_in(dir.path()).await;
    assert_eq!(again.emulator.count_users().await, 20);
}
