//! The clock every layer reads is injected (`keel::start_with_runtime`): token expiry (over
//! HTTP and on a live session) and the webhook timestamp window follow a manual clock that the
//! test moves, with no sleeping.

use std::sync::Arc;
use std::time::Duration;

use keel::AppParts;
use keel::runtime::{ManualClock, Runtime};
use serde_json::json;

use crate::harness::{Engine, Storage, TestServer, engine_tests, now};
use crate::sync::Client;
use crate::webhooks::{Delivery, SECRET, user_event};

async fn server_with_clock(engine: Engine, clock: Arc<ManualClock>) -> TestServer {
    TestServer::dev_with_runtime(
        Storage::new(engine).await,
        |s| {
            s.clerk.webhook_secret = Some(SECRET.into());
            s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
        },
        AppParts::builtin(),
        Runtime::system().with_clock(clock),
    )
    .await
}

async fn a_token_expires_when_the_injected_clock_passes_its_exp(engine: Engine) {
    let clock = Arc::new(ManualClock::at_system_time());
    let server = server_with_clock(engine, clock.clone()).await;
    let (_, token) = server.user("clock@example.com").await;
    let (status, _) = server
        .call("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    assert_eq!(status, 200, "valid at first");
    // The emulator's tokens live 60 s (from the wall clock: it stands in for Clerk); the
    // default skew is 5 s. The manual clock stood still while the test set up.
    clock.set(now());
    clock.advance(Duration::from_secs(67));
    let (status, body) = server
        .call("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "TokenExpired", "{body}");
}
engine_tests!(a_token_expires_when_the_injected_clock_passes_its_exp);

async fn webhook_timestamps_are_judged_by_the_injected_clock(engine: Engine) {
    let an_hour_ago = now() - 3600;
    let clock = Arc::new(ManualClock::new(an_hour_ago));
    let server = server_with_clock(engine, clock).await;
    let event = user_event(
        "user.created",
        "user_clock",
        "clock@example.com",
        "Clock",
        1000,
    );

    let mut on_time = Delivery::new(&event);
    on_time.timestamp = an_hour_ago;
    let (status, body) = on_time.send(&server).await;
    assert_eq!(status, 200, "signed at the server's time: {body}");

    // Signed at the wall clock's time: an hour ahead of the server's, outside the 5-minute
    // window.
    let ahead = Delivery::new(&event);
    let (status, body) = ahead.send(&server).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "WebhookRejected", "{body}");
}
engine_tests!(webhook_timestamps_are_judged_by_the_injected_clock);

/// The session's expiry timer runs on the monotonic clock; a message arriving after the
/// token's `exp` by the verifier's clock (a host that slept, or here a manual clock) ends the
/// identity at once, before anything is served on it.
async fn a_session_notices_an_expired_token_at_the_next_message(engine: Engine) {
    let clock = Arc::new(ManualClock::at_system_time());
    let server = server_with_clock(engine, clock.clone()).await;
    let (_, token) = server.user("session-clock@example.com").await;
    let mut client = Client::connect(&server, "clock").await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;

    clock.set(now());
    clock.advance(Duration::from_secs(67));
    client
        .send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "users:getCurrentUser", "args": [{}]}]}),
        )
        .await;
    let error = client.expect("AuthError").await;
    assert_eq!(
        error,
        json!({"type": "AuthError", "error": "Convex token identity expired", "baseVersion": 0, "authUpdateAttempted": false})
    );
    assert!(client.next().await.is_none(), "then the server closes");
}
engine_tests!(a_session_notices_an_expired_token_at_the_next_message);
