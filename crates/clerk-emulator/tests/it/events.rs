use keel_clerk_emulator::{ChangeKind, UpdateUser};
use reqwest::Method;
use serde_json::json;
use tokio::sync::mpsc::error::TryRecvError;

use crate::common::start;

#[tokio::test]
async fn every_committed_change_is_announced_in_order() {
    let (server, _dir) = start().await;
    let mut events = server.emulator.subscribe();

    let user = server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await;
    let uid = user["id"].as_str().unwrap();
    let created = events.try_recv().unwrap();
    assert_eq!(created.kind, ChangeKind::UserCreated);
    assert_eq!(created.kind.event_type(), "user.created");
    assert_eq!(created.data, user);

    let updated = server
        .emulator
        .update_user(
            uid,
            UpdateUser {
                first_name: Some(Some("Ada".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind, ChangeKind::UserUpdated);
    assert_eq!(event.data, updated);

    let session = server.create_session(uid).await;
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind.event_type(), "session.created");
    // Session events embed the user, as Clerk's do.
    let mut data = event.data.clone();
    let embedded = data.as_object_mut().unwrap().remove("user").unwrap();
    assert_eq!(data, session);
    assert_eq!(embedded["id"], uid);
    assert_eq!(embedded["first_name"], "Ada");

    let sid = session["id"].as_str().unwrap();
    server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/revoke")),
            200,
        )
        .await;
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind, ChangeKind::SessionRevoked);
    assert_eq!(event.data["status"], "revoked");
    assert_eq!(event.data["user"]["id"], uid);
    // Revoking again changes nothing, so announces nothing.
    server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/revoke")),
            200,
        )
        .await;

    // Failed changes announce nothing.
    server
        .call(
            server
                .bapi(Method::POST, "/users")
                .json(&json!({ "email_address": ["ada@example.com"] })),
            422,
        )
        .await;
    server
        .call(server.bapi(Method::DELETE, "/users/user_nobody"), 404)
        .await;
    // Reads announce nothing either.
    server.call(server.bapi(Method::GET, "/users"), 200).await;
    server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/tokens")),
            404,
        )
        .await;

    server
        .call(server.bapi(Method::DELETE, &format!("/users/{uid}")), 200)
        .await;
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind.event_type(), "user.deleted");
    assert_eq!(
        event.data,
        json!({ "object": "user", "id": uid, "deleted": true })
    );
    assert!(event.timestamp_ms >= created.timestamp_ms);
    assert_eq!(events.try_recv(), Err(TryRecvError::Empty));
}
