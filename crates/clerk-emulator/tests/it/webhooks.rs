//! Webhook delivery over real HTTP to a receiver that verifies every
//! signature with keel-webhooks.

use std::time::Duration;

use keel_clerk_emulator::{ChangeEvent, DeliveryConfig, DeliveryStatus, Emulator, Faults};
use keel_webhooks::ClerkEvent;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common::{Server, start};
use crate::receiver::{Receiver, SECRET, settle};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn deliver(emulator: &Emulator, url: &str, schedule: Vec<Duration>, faults: Faults) {
    emulator
        .start_webhook_delivery(DeliveryConfig {
            endpoint: url.to_owned(),
            secret: SECRET.to_owned(),
            retry_schedule: schedule,
            faults,
        })
        .unwrap();
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn drain(events: &mut UnboundedReceiver<ChangeEvent>) -> Vec<ChangeEvent> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// Users, an organization with members, a session, then everything deleted.
async fn every_kind_of_change(server: &Server) {
    let ada = server
        .create_user(json!({ "email_address": ["ada@example.com"], "first_name": "Ada" }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .call(
            server
                .bapi(Method::PATCH, &format!("/users/{ada}"))
                .json(&json!({ "last_name": "Lovelace" })),
            200,
        )
        .await;
    let bob = server
        .create_user(json!({ "email_address": ["bob@example.com"] }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org = server
        .create_org(json!({ "name": "Acme", "created_by": ada }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.add_member(&org, &bob, "org:member").await;
    server
        .call(
            server
                .bapi(
                    Method::PATCH,
                    &format!("/organizations/{org}/memberships/{bob}"),
                )
                .json(&json!({ "role": "org:admin" })),
            200,
        )
        .await;
    server
        .call(
            server
                .bapi(Method::PATCH, &format!("/organizations/{org}"))
                .json(&json!({ "name": "Acme Inc" })),
            200,
        )
        .await;
    let sid = server
        .call(
            server
                .bapi(Method::POST, "/sessions")
                .json(&json!({ "user_id": bob, "active_organization_id": org })),
            200,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .call(
            server.bapi(Method::POST, &format!("/sessions/{sid}/revoke")),
            200,
        )
        .await;
    server.create_session(&ada).await;
    // Bob's membership goes with him; Ada's with the organization; Ada's
    // session is removed with her.
    server
        .call(server.bapi(Method::DELETE, &format!("/users/{bob}")), 200)
        .await;
    server
        .call(
            server.bapi(Method::DELETE, &format!("/organizations/{org}")),
            200,
        )
        .await;
    server
        .call(server.bapi(Method::DELETE, &format!("/users/{ada}")), 200)
        .await;
}

#[tokio::test]
async fn every_change_is_delivered_once_signed_and_shaped_like_clerks() {
    let (server, _dir) = start().await;
    let receiver = Receiver::ok().await;
    let mut events = server.emulator.subscribe();
    deliver(
        &server.emulator,
        &receiver.url,
        vec![ms(50); 3],
        Faults::default(),
    );

    every_kind_of_change(&server).await;
    let log = settle(&server.emulator, Duration::from_secs(10)).await;
    let events = drain(&mut events);
    let types: Vec<&str> = events.iter().map(|e| e.kind.event_type()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.updated",
            "user.created",
            "organization.created",
            "organizationMembership.created",
            "organizationMembership.created",
            "organizationMembership.updated",
            "organization.updated",
            "session.created",
            "session.revoked",
            "session.created",
            "organizationMembership.deleted",
            "user.deleted",
            "organizationMembership.deleted",
            "organization.deleted",
            "session.removed",
            "user.deleted",
        ]
    );

    let received = receiver.received();
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    // One delivery per change, in change order, each with its own svix-id.
    assert_eq!(received.len(), events.len());
    assert_eq!(log.len(), events.len());
    for ((delivery, event), record) in received.iter().zip(&events).zip(&log) {
        let body = &delivery.body;
        assert_eq!(body["type"], event.kind.event_type());
        assert_eq!(body["object"], "event");
        assert_eq!(body["data"], event.data);
        assert_eq!(body["timestamp"], event.timestamp_ms);
        assert_eq!(body["instance_id"], server.emulator.kid());
        assert_eq!(
            body["event_attributes"],
            json!({ "http_request": { "client_ip": "127.0.0.1", "user_agent": "keel-clerk-emulator" } })
        );
        assert_eq!(delivery.content_type, "application/json");
        // svix-timestamp is the attempt's time, in seconds.
        assert!(delivery.timestamp.abs_diff(now_secs()) < 60);
        assert!(delivery.id.starts_with("msg_"), "{}", delivery.id);
        assert_eq!(record.message_id, delivery.id);
        assert_eq!(record.event_type, event.kind.event_type());
        assert_eq!(
            (
                record.status,
                record.attempts,
                record.sends,
                record.last_status
            ),
            (DeliveryStatus::Delivered, 1, 1, Some(204))
        );
        // Keel's own webhook model accepts every payload.
        let parsed = ClerkEvent::from_slice(&delivery.raw).unwrap();
        assert_eq!(parsed.event_type(), event.kind.event_type());
    }
    let mut ids: Vec<&str> = received.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), received.len());

    // Deletions carry what Clerk's do.
    let data = |i: usize| &received[i].body["data"];
    assert_eq!(
        data(12),
        &json!({ "object": "user", "id": data(2)["id"], "deleted": true })
    );
    assert_eq!(
        data(14),
        &json!({ "object": "organization", "id": data(3)["id"], "slug": "acme", "deleted": true })
    );
    // Memberships embed the organization and the member.
    assert_eq!(data(4)["organization"]["id"], data(3)["id"]);
    assert_eq!(data(4)["public_user_data"]["user_id"], data(0)["id"]);
    assert_eq!(data(4)["role"], "org:admin");
    assert_eq!(data(6)["role"], "org:admin");
    assert_eq!(
        data(13)["public_user_data"]["identifier"],
        "ada@example.com"
    );
    // Sessions embed the user.
    assert_eq!(data(8)["user"]["id"], data(2)["id"]);
    assert_eq!(data(8)["last_active_organization_id"], data(3)["id"]);
    assert_eq!(data(15)["status"], "removed");

    // The debug route shows the same log (and wants the secret key).
    let route = server
        .call(server.bapi(Method::GET, "/webhook_deliveries"), 200)
        .await;
    assert_eq!(route["total_count"], events.len());
    assert_eq!(route["data"][0]["message_id"], log[0].message_id.as_str());
    assert_eq!(route["data"][0]["status"], "delivered");
    assert_eq!(route["data"][0]["faults"], json!([]));
    let anonymous = server
        .http
        .get(format!("{}/v1/webhook_deliveries", server.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_svix_id_and_bytes() {
    let (server, _dir) = start().await;
    // 500 the first time a message is seen, 200 after.
    let receiver = Receiver::start(|_, seen| if seen == 0 { 500 } else { 200 }).await;
    deliver(
        &server.emulator,
        &receiver.url,
        vec![ms(50), ms(50)],
        Faults::default(),
    );
    server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await;

    let log = settle(&server.emulator, Duration::from_secs(10)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].id, received[1].id);
    assert_eq!(received[0].raw, received[1].raw);
    assert_eq!((received[0].answered, received[1].answered), (500, 200));
    assert!(received[1].at - received[0].at >= ms(45));
    assert_eq!(log[0].message_id, received[0].id);
    assert_eq!(
        (log[0].status, log[0].attempts, log[0].last_status),
        (DeliveryStatus::Delivered, 2, Some(200))
    );
}

#[tokio::test]
async fn retries_follow_the_schedule_then_the_message_fails() {
    let (server, _dir) = start().await;
    let receiver = Receiver::start(|_, _| 503).await;
    let schedule = vec![ms(50), ms(100), ms(150)];
    deliver(
        &server.emulator,
        &receiver.url,
        schedule.clone(),
        Faults::default(),
    );
    server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await;

    let log = settle(&server.emulator, Duration::from_secs(10)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 1 + schedule.len());
    assert!(received.iter().all(|r| r.id == received[0].id));
    for (pair, delay) in received.windows(2).zip(&schedule) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= *delay - ms(5), "gap {gap:?} shorter than {delay:?}");
        assert!(gap < *delay + ms(1000), "gap {gap:?} far beyond {delay:?}");
    }
    assert_eq!(
        (
            log[0].status,
            log[0].attempts,
            log[0].sends,
            log[0].last_status
        ),
        (DeliveryStatus::Failed, 4, 4, Some(503))
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_and_never_blocks_the_api() {
    let (server, _dir) = start().await;
    // A port that was just free: connections are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/webhooks", listener.local_addr().unwrap())
    };
    deliver(
        &server.emulator,
        &closed,
        vec![ms(30), ms(30)],
        Faults::default(),
    );
    server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await;
    let log = settle(&server.emulator, Duration::from_secs(10)).await;
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert_eq!(
        (log[0].attempts, log[0].sends, log[0].last_status),
        (3, 3, None)
    );
    assert!(log[0].last_error.is_some());
}

#[tokio::test]
async fn the_api_returns_before_delivery_and_order_is_kept() {
    let (server, _dir) = start().await;
    // An endpoint that holds every request until the test lets it answer.
    let receiver = Receiver::gated().await;
    deliver(
        &server.emulator,
        &receiver.url,
        vec![ms(50)],
        Faults::default(),
    );
    let mut ids = Vec::new();
    for i in 0..3 {
        let user = server
            .create_user(json!({ "email_address": [format!("u{i}@example.com")] }))
            .await;
        ids.push(user["id"].clone());
    }
    // Every call returned while the first delivery was still unanswered;
    // each change was queued (and visible as pending) as it committed.
    let log = server.emulator.delivery_log();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.status == DeliveryStatus::Pending));
    assert!(receiver.received().is_empty());

    receiver.open();
    settle(&server.emulator, Duration::from_secs(10)).await;
    let received: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.body["data"]["id"].clone())
        .collect();
    assert_eq!(received, ids);
}

#[tokio::test]
async fn delivery_configuration_is_checked() {
    let (server, _dir) = start().await;
    let start = |endpoint: &str, secret: &str| {
        server
            .emulator
            .start_webhook_delivery(DeliveryConfig::new(endpoint, secret))
    };
    let err = start("not a url", SECRET).unwrap_err().to_string();
    assert!(err.contains("not an http(s) URL"), "{err}");
    let err = start("ftp://example.com/", SECRET).unwrap_err().to_string();
    assert!(err.contains("not an http(s) URL"), "{err}");
    let err = start("http://127.0.0.1:1/", "sk_test_oops")
        .unwrap_err()
        .to_string();
    assert!(err.contains("whsec_"), "{err}");
    assert!(!err.contains("oops"), "{err}");
    assert!(!server.emulator.delivers_webhooks());
    start("http://127.0.0.1:1/", SECRET).unwrap();
    assert!(server.emulator.delivers_webhooks());
    let err = start("http://127.0.0.1:1/", SECRET)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already started"), "{err}");
    let shown = format!("{:?}", DeliveryConfig::new("http://x/", SECRET));
    assert!(!shown.contains("MfKQ9r8"), "{shown}");
}
