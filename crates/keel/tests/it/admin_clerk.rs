//! `users:adminCreate`, `users:adminUpdate`, `users:adminDelete`: admins change users in Clerk
//! (the emulator in `keel dev`), and the `users` table follows when Clerk's webhook arrives.
//! Clerk's refusals come back coded; without a usable Clerk the error says so.

use std::time::Duration;

use keel::{AppParts, Mode};
use keel_auth::testing::TestKey;
use serde_json::{Value as Json, json};

use crate::admin_users::admin_token;
use crate::fake_issuer::FakeIssuer;
use crate::harness::{TestServer, settings};

/// The first `users:list` match for `search` (any status), once the webhook brought it.
async fn listed(
    server: &TestServer,
    admin: &str,
    search: &str,
    check: impl Fn(&Json) -> bool,
) -> Json {
    for _ in 0..200 {
        let page = server
            .ok(
                "query",
                "users:list",
                json!({"search": search, "status": "all", "paginationOpts": {"numItems": 10, "cursor": null}}),
                Some(admin),
            )
            .await;
        if let Some(user) = page["page"].as_array().unwrap().iter().find(|u| check(u)) {
            return user.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no user matching {search:?} arrived through the webhook");
}

/// The `errorData` of a failed call.
async fn error_data(server: &TestServer, path: &str, args: Json, token: &str) -> Json {
    let (_, body) = server.call("action", path, args, Some(token)).await;
    assert_eq!(body["status"], "error", "{path} should fail: {body}");
    body["errorData"].clone()
}

#[tokio::test]
async fn admins_create_update_and_delete_users_through_clerk() {
    let server = TestServer::dev().await;
    let admin = admin_token(&server);

    let created = server
        .ok(
            "action",
            "users:adminCreate",
            json!({"email": " New.Person@Example.com ", "firstName": "New", "lastName": "Person"}),
            Some(&admin),
        )
        .await;
    let id = created["userId"].as_str().unwrap().to_string();
    assert!(id.starts_with("user_"), "{created}");
    let in_clerk = server.emulator().get_user(&id).await.unwrap();
    assert_eq!(in_clerk["first_name"], "New");
    let user = listed(&server, &admin, "new.person@", |u| {
        u["clerkUserId"] == id.as_str()
    })
    .await;
    assert_eq!(user["email"], "new.person@example.com");
    assert_eq!(
        (user["firstName"].clone(), user["status"].clone()),
        (json!("New"), json!("active"))
    );

    // The same address again: Clerk's 422 form_identifier_exists, with Clerk's words.
    let taken = error_data(
        &server,
        "users:adminCreate",
        json!({"email": "new.person@example.com"}),
        &admin,
    )
    .await;
    assert_eq!(
        taken,
        json!({"code": "ALREADY_EXISTS", "message": "That email address is taken. Please try another."})
    );
    let invalid = error_data(
        &server,
        "users:adminCreate",
        json!({"email": "not-an-email"}),
        &admin,
    )
    .await;
    assert_eq!(invalid["code"], "INVALID_ARGUMENT", "{invalid}");
    let unknown_field = error_data(
        &server,
        "users:adminCreate",
        json!({"email": "x@example.com", "password": "hunter22"}),
        &admin,
    )
    .await;
    assert_eq!(unknown_field["code"], "INVALID_ARGUMENT");

    server
        .ok(
            "action",
            "users:adminUpdate",
            json!({"userId": id, "lastName": "Renamed"}),
            Some(&admin),
        )
        .await;
    let renamed = listed(&server, &admin, "renamed", |u| {
        u["clerkUserId"] == id.as_str()
    })
    .await;
    assert_eq!(renamed["firstName"], "New", "left alone");
    assert_eq!(renamed["nameLower"], "new renamed");
    let nothing = error_data(&server, "users:adminUpdate", json!({"userId": id}), &admin).await;
    assert_eq!(nothing["code"], "INVALID_ARGUMENT");
    let missing = error_data(
        &server,
        "users:adminUpdate",
        json!({"userId": "user_nobody", "firstName": "X"}),
        &admin,
    )
    .await;
    assert_eq!(
        missing,
        json!({"code": "NOT_FOUND", "message": "Clerk has no user user_nobody"})
    );
    let email_change = error_data(
        &server,
        "users:adminUpdate",
        json!({"userId": id, "email": "other@example.com"}),
        &admin,
    )
    .await;
    assert_eq!(
        email_change["code"], "INVALID_ARGUMENT",
        "email is out of scope"
    );

    server
        .ok(
            "action",
            "users:adminDelete",
            json!({"userId": id}),
            Some(&admin),
        )
        .await;
    let deleted = listed(&server, &admin, "new.person@", |u| {
        u["clerkUserId"] == id.as_str() && u["status"] == "deleted"
    })
    .await;
    assert_eq!(deleted["isActive"], false);
    assert!(
        server.emulator().get_user(&id).await.is_err(),
        "gone from Clerk"
    );
    let again = error_data(&server, "users:adminDelete", json!({"userId": id}), &admin).await;
    assert_eq!(again["code"], "NOT_FOUND");
}

#[tokio::test]
async fn admins_cannot_delete_themselves() {
    let server = TestServer::dev().await;
    let (admin_id, _) = server.user("boss@example.com").await;
    let admin = server.forged_token_with(&admin_id, json!({"metadata": {"role": "admin"}}));
    let refused = error_data(
        &server,
        "users:adminDelete",
        json!({"userId": admin_id}),
        &admin,
    )
    .await;
    assert_eq!(refused["code"], "INVALID_ARGUMENT", "{refused}");
    assert!(
        server.emulator().get_user(&admin_id).await.is_ok(),
        "still in Clerk"
    );
}

/// `keel serve` with a loopback issuer, `admin` in `KEEL_ADMIN_USER_IDS`, and `configure`.
async fn serve(
    configure: impl FnOnce(&mut keel::Settings),
) -> (keel::Running, String, tempfile::TempDir) {
    let key = TestKey::generate("ins_admin");
    let issuer = FakeIssuer::start(&[&key]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = settings(dir.path());
    config.auth.admin_user_ids = vec!["user_admin".into()];
    configure(&mut config);
    let running = keel::start(
        &config,
        Mode::Serve {
            issuer: issuer.issuer.clone(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap();
    // The issuer's server task keeps serving its keys after `issuer` is dropped.
    let token = issuer.token(&key, "user_admin");
    (running, token, dir)
}

async fn action_error(running: &keel::Running, token: &str, path: &str, args: Json) -> Json {
    let body: Json = reqwest::Client::new()
        .post(format!("{}/api/action", running.url))
        .bearer_auth(token)
        .json(&json!({"path": path, "args": [args], "format": "convex_encoded_json"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "error", "{body}");
    body["errorData"].clone()
}

#[tokio::test]
async fn without_a_clerk_secret_key_the_actions_say_so() {
    let (running, token, _dir) = serve(|_| {}).await;
    let error = action_error(
        &running,
        &token,
        "users:adminCreate",
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_eq!(error["code"], "NOT_CONFIGURED", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("CLERK_SECRET_KEY"),
        "{error}"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_clerk_is_upstream_unavailable_and_never_shows_the_key() {
    let secret = "sk_test_do_not_show_0123456789";
    let (running, token, _dir) = serve(|s| {
        s.clerk.secret_key = Some(secret.into());
        s.clerk_instance.api_url = Some("http://127.0.0.1:9".into());
    })
    .await;
    for (path, args) in [
        ("users:adminCreate", json!({"email": "a@example.com"})),
        (
            "users:adminUpdate",
            json!({"userId": "user_1", "firstName": "A"}),
        ),
        ("users:adminDelete", json!({"userId": "user_1"})),
    ] {
        let error = action_error(&running, &token, path, args).await;
        assert_eq!(error["code"], "UPSTREAM_UNAVAILABLE", "{path}: {error}");
        assert!(!error.to_string().contains(secret), "{error}");
    }
    running.stop().await.unwrap();
}
