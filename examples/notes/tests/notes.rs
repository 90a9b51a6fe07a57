//! The example's functions, served by a real Keel next to the built-in ones.

use keel::{Mode, Settings};
use serde_json::{Value as Json, json};

#[tokio::test]
async fn notes_are_served_beside_the_built_in_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.http.listen = "127.0.0.1:0".into();
    settings.storage.data_dir = dir.path().to_path_buf();
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
