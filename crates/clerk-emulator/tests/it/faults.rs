//! Fault injection: dropped, duplicated and reordered first attempts still
//! end with every message received, duplicates sharing their svix-id.

use std::collections::HashMap;
use std::time::Duration;

use keel_clerk_emulator::{DeliveryStatus, Fault, Faults};
use reqwest::Method;
use serde_json::json;

use crate::common::start;
use crate::receiver::{Receiver, settle};
use crate::webhooks::deliver;

#[tokio::test]
async fn faulty_first_attempts_still_deliver_every_message() {
    let (server, _dir) = start().await;
    let receiver = Receiver::ok().await;
    let faults = Faults::parse("drop=0.25,duplicate=0.25,reorder=0.25,seed=7").unwrap();
    let schedule = vec![Duration::from_millis(30), Duration::from_millis(60)];
    deliver(&server.emulator, &receiver.url, schedule, faults);

    for i in 0..20 {
        let user = server
            .create_user(json!({ "email_address": [format!("u{i}@example.com")] }))
            .await;
        let path = format!("/users/{}", user["id"].as_str().unwrap());
        server
            .call(
                server
                    .bapi(Method::PATCH, &path)
                    .json(&json!({ "first_name": "N" })),
                200,
            )
            .await;
    }
    let log = settle(&server.emulator, Duration::from_secs(20)).await;
    assert_eq!(log.len(), 40);
    assert!(receiver.rejected().is_empty());
    let received = receiver.received();

    // Index of each message's first receipt, and how often it came.
    let mut first_seen = HashMap::new();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (i, r) in received.iter().enumerate() {
        first_seen.entry(r.id.as_str()).or_insert(i);
        *count.entry(r.id.as_str()).or_default() += 1;
    }
    let applied = |fault| log.iter().filter(|r| r.faults.contains(&fault)).count();
    // The seed makes every kind of fault happen.
    assert!(applied(Fault::Drop) > 0);
    assert!(applied(Fault::Duplicate) > 0);
    assert!(applied(Fault::Reorder) > 0);

    for (position, record) in log.iter().enumerate() {
        let id = record.message_id.as_str();
        assert_eq!(record.status, DeliveryStatus::Delivered, "{record:?}");
        assert!(
            count.get(id).copied().unwrap_or(0) >= 1,
            "never received: {record:?}"
        );
        if record.faults.contains(&Fault::Drop) {
            // Not sent the first time; a retry delivered it.
            assert_eq!((record.attempts, record.sends), (2, 1), "{record:?}");
        } else if record.faults.contains(&Fault::Duplicate) {
            assert_eq!((record.attempts, record.sends), (1, 2), "{record:?}");
            assert_eq!(count[id], 2, "{record:?}");
        } else {
            assert_eq!(count[id], 1, "{record:?}");
        }
        // A reordered message arrives after the one queued after it.
        if record.faults == [Fault::Reorder]
            && let Some(next) = log.get(position + 1)
            && next.faults.is_empty()
        {
            assert!(
                first_seen[id] > first_seen[next.message_id.as_str()],
                "{record:?}"
            );
        }
    }
    // Copies of a message are the same message: same id, same bytes.
    for r in &received {
        let first = &received[first_seen[r.id.as_str()]];
        assert_eq!(r.raw, first.raw);
    }
}

#[tokio::test]
async fn a_held_back_last_message_is_still_sent() {
    let (server, _dir) = start().await;
    let receiver = Receiver::ok().await;
    // Every message is held back; with nothing after it, it goes out once
    // the first retry delay has passed.
    let faults = Faults::parse("reorder=1").unwrap();
    deliver(
        &server.emulator,
        &receiver.url,
        vec![Duration::from_millis(50)],
        faults,
    );
    server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await;
    let log = settle(&server.emulator, Duration::from_secs(10)).await;
    assert_eq!(log[0].faults, [Fault::Reorder]);
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    assert_eq!(receiver.received().len(), 1);
}
