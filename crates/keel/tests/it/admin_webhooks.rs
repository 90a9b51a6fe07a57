//! `webhooks:recent`: the deliveries Keel received, newest first, with their outcomes: the
//! ledger's, duplicates, and rejected deliveries (recorded without anything of their body, at
//! a bounded pace).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::admin_users::admin_token;
use crate::harness::{Engine, TestServer};
use crate::webhooks::{Delivery, reference, server, user_event};

/// Every page of `webhooks:recent`, `num_items` at a time.
async fn recent(
    server: &TestServer,
    admin: &str,
    outcome: Option<&str>,
    num_items: usize,
) -> Vec<Json> {
    let mut cursor = Json::Null;
    let mut rows = Vec::new();
    for _ in 0..200 {
        let mut args = json!({"paginationOpts": {"numItems": num_items, "cursor": cursor}});
        if let Some(outcome) = outcome {
            args["outcome"] = json!(outcome);
        }
        let page = server
            .ok("query", "webhooks:recent", args, Some(admin))
            .await;
        let items = page["page"].as_array().unwrap();
        assert!(items.len() <= num_items);
        rows.extend(items.iter().cloned());
        if page["isDone"] == true {
            let ids: HashSet<&str> = rows.iter().map(|r| r["_id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), rows.len(), "a row came twice");
            return rows;
        }
        cursor = page["continueCursor"].clone();
    }
    panic!("pages never ended");
}

/// Waits until `webhooks:recent` holds `n` rows with `outcome` (rejections are recorded in the
/// background, after the answer).
async fn wait_for(server: &TestServer, admin: &str, outcome: &str, n: usize) -> Vec<Json> {
    for _ in 0..200 {
        let rows = recent(server, admin, Some(outcome), 100).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} {outcome} rows never appeared");
}

/// POSTs `body` to the endpoint with these headers, no valid signature.
async fn post_unsigned(server: &TestServer, body: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = server
        .http
        .post(format!("{}/clerk-webhook", server.url))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

const MARKER: &str = "BODY-MARKER-7f3a9c";

#[tokio::test]
async fn recent_deliveries_come_newest_first_with_every_outcome() {
    let server = server(Engine::Sqlite).await;
    let admin = admin_token(&server);

    let created = Delivery::new(&user_event(
        "user.created",
        "user_w1",
        "w1@example.com",
        "W",
        5,
    ));
    assert_eq!(created.send(&server).await.1["status"], "applied");
    assert_eq!(created.send(&server).await.1["status"], "duplicate");
    let older = user_event("user.updated", "user_w1", "w1@example.com", "Old", 1);
    assert_eq!(
        Delivery::new(&older).send(&server).await.1["status"],
        "stale"
    );
    let other = json!({"type": "email.created", "object": "event", "timestamp": 1716883200,
                       "data": {"id": "ema_1", "note": MARKER}});
    assert_eq!(
        Delivery::new(&other).send(&server).await.1["status"],
        "ignored"
    );
    let mut session = reference("session.created.json");
    session["data"]["user_id"] = json!("user_unknown");
    assert_eq!(
        Delivery::new(&session).send(&server).await.1["status"],
        "deferred"
    );

    // Rejected: a forged signature, then a signed event whose object id is empty.
    let forged = post_unsigned(
        &server,
        &json!({"type": "user.created", "data": {"id": MARKER}}).to_string(),
        &[
            ("svix-id", "msg_forged_1"),
            ("svix-timestamp", &crate::harness::now().to_string()),
            ("svix-signature", "v1,c2lnbmF0dXJlLW1hcmtlcg=="),
        ],
    )
    .await;
    assert_eq!(forged, 400);
    wait_for(&server, &admin, "rejected", 1).await;
    let mut empty_id = user_event("user.created", "", "w2@example.com", MARKER, 1);
    empty_id["data"]["last_name"] = json!(MARKER);
    let broken = Delivery::new(&empty_id);
    assert_eq!(broken.send(&server).await.0, 400);
    let rejected = wait_for(&server, &admin, "rejected", 2).await;

    // Newest first across both tables, in pages of two.
    let all = recent(&server, &admin, None, 2).await;
    let outcomes: Vec<&str> = all.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        [
            "rejected",
            "rejected",
            "deferred",
            "ignored",
            "stale",
            "duplicate",
            "applied"
        ]
    );
    let times: Vec<f64> = all
        .iter()
        .map(|r| r["_creationTime"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert_eq!(all[5]["svixId"], created.id.as_str());
    assert_eq!(all[6]["svixId"], created.id.as_str());
    assert_eq!(all[5]["objectId"], "user_w1");
    for outcome in ["applied", "duplicate", "stale", "ignored", "deferred"] {
        let rows = recent(&server, &admin, Some(outcome), 1).await;
        assert_eq!(rows.len(), 1, "{outcome}");
        assert_eq!(rows[0]["outcome"], outcome);
    }
    assert!(
        recent(&server, &admin, Some("unchanged"), 5)
            .await
            .is_empty()
    );

    // What a rejection keeps: the svix-id, the type when signed, the reason, the status.
    let (signed, unsigned) = (&rejected[0], &rejected[1]);
    assert_eq!(unsigned["svixId"], "msg_forged_1");
    assert_eq!(
        unsigned["type"],
        Json::Null,
        "an unverified body is not read"
    );
    assert_eq!(unsigned["reason"], "no valid webhook signature");
    assert_eq!(unsigned["httpStatus"], 400);
    assert_eq!(signed["svixId"], broken.id.as_str());
    assert_eq!(signed["type"], "user.created");
    let kept: HashSet<&str> = signed
        .as_object()
        .unwrap()
        .keys()
        .chain(unsigned.as_object().unwrap().keys())
        .map(String::as_str)
        .collect();
    let allowed: HashSet<&str> = [
        "_id",
        "_creationTime",
        "svixId",
        "type",
        "reason",
        "httpStatus",
        "unrecordedBefore",
        "outcome",
        "seq",
        "slot",
        "receivedAt",
    ]
    .into_iter()
    .collect();
    assert!(kept.is_subset(&allowed), "{kept:?}");
    // Nothing of any body or signature, in any table.
    for row in recent(&server, &admin, None, 100).await {
        let text = row.to_string();
        assert!(!text.contains(MARKER), "{text}");
        assert!(!text.contains("c2lnbmF0dXJlLW1hcmtlcg"), "{text}");
    }
}

#[tokio::test]
async fn rejections_are_recorded_at_a_bounded_pace() {
    let server = server(Engine::Sqlite).await;
    let admin = admin_token(&server);
    let started = Instant::now();
    for i in 0..80 {
        let id = format!("msg_flood_{i}");
        let status = post_unsigned(&server, "{}", &[("svix-id", id.as_str())]).await;
        assert_eq!(status, 400);
    }
    let flood_secs = started.elapsed().as_secs_f64();
    // Recording runs after each answer: wait until the count settles.
    let mut recorded = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = recent(&server, &admin, Some("rejected"), 100).await.len();
        if now == recorded && now > 0 {
            break;
        }
        recorded = now;
    }
    // A burst of 20, then 5 a second.
    let most = 20 + (flood_secs * 5.0).ceil() as usize + 1;
    assert!(
        (1..=most).contains(&recorded),
        "{recorded} recorded of 80 in {flood_secs:.2} s"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        post_unsigned(&server, "{}", &[("svix-id", "msg_after")]).await,
        400
    );
    let rows = wait_for(&server, &admin, "rejected", recorded + 1).await;
    assert_eq!(rows[0]["svixId"], "msg_after");
    let skipped = rows[0]["unrecordedBefore"].as_u64().unwrap();
    assert_eq!(
        skipped as usize,
        80 - recorded,
        "the next record counts those skipped"
    );
    // The svix-id a sender chose is cut to 128 characters.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let long = "x".repeat(5000);
    assert_eq!(
        post_unsigned(&server, "{}", &[("svix-id", long.as_str())]).await,
        400
    );
    let rows = wait_for(&server, &admin, "rejected", recorded + 2).await;
    assert_eq!(rows[0]["svixId"].as_str().unwrap().len(), 128);
}
