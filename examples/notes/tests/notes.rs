//! The example's functions, served by a real Keel next to the built-in ones.

use keel::{Mode, Settings};
use serde_json::{Value as Json, json};

#[tokio::test]
async fn notes_are_served_beside_the_built_in_app() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        database_url: None,
        postgres: Default::default(),
        application_id: "convex".into(),
        authorized_parties: Vec::new(),
        clock_skew_secs: 5,
        max_body_bytes: 1 << 20,
        max_buffered_body_bytes: 128 << 20,
        http_header_timeout: std::time::Duration::from_secs(10).into(),
        http_body_timeout: std::time::Duration::from_secs(30).into(),
        http_idle_timeout: std::time::Duration::from_secs(60).into(),
        max_connections: None,
        admin_user_ids: Vec::new(),
        sync_max_queued_bytes: 64 * 1024 * 1024,
        sync_max_total_queued_bytes: 256 * 1024 * 1024,
        sync_connect_timeout: std::time::Duration::from_secs(10).into(),
        sync_max_queries: 2048,
        sync_transition_chunk_bytes: 5_000_000,
        clerk_webhook_secret: None,
        clerk_secret_key: None,
        clerk_api_url: None,
        clerk_publishable_key: None,
        reconcile_every: None,
        emulator_webhook_url: None,
        emulator_faults: None,
        on_user_deleted: keel::OnUserDeletedSetting::Mark,
        metrics_token: None,
        metrics_listen: None,
    };
    let running = keel::start(
        &settings,
        Mode::Dev {
            clerk_secret_key: None,
        },
        keel_example_notes::app(),
        None,
    )
    .await
    .unwrap();
    let emulator = running.emulator.clone().unwrap();
    let user = emulator
        .create_user(keel::clerk_emulator::CreateUser {
            email_address: vec!["n@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let session = emulator
        .create_session(user["id"].as_str().unwrap())
        .await
        .unwrap();
    let token = emulator
        .mint_token(&session, Some("convex"), None)
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let call = |kind: &'static str, path: &'static str, args: Json| {
        let request = http
            .post(format!("{}/api/{kind}", running.url))
            .bearer_auth(&token)
            .json(&json!({"path": path, "args": [args]}));
        async move { request.send().await.unwrap().json::<Json>().await.unwrap() }
    };
    assert_eq!(
        call("mutation", "notes:add", json!({"text": "remember"})).await["status"],
        "success"
    );
    let listed = call("query", "notes:list", json!({})).await;
    assert_eq!(listed["value"][0]["text"], "remember");
    let chats = call("query", "chats:listUserChats", json!({})).await;
    assert_eq!(
        chats["value"],
        json!([]),
        "built-in functions are still there"
    );
    running.stop().await.unwrap();
}
