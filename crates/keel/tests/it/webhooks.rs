//! Clerk webhooks end to end over HTTP: verification on the raw bytes, the ledger, ordering,
//! deletions that stick, first-login-then-webhook, organizations and memberships.

use keel::{AppParts, Mode, OnUserDeletedSetting};
use keel_webhooks::WebhookSecrets;
use serde_json::{Value as Json, json};

use crate::harness::{Engine, Storage, TestServer, engine_tests, now};

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ROTATED: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub(crate) fn reference(name: &str) -> Json {
    let path = format!(
        "{}/../../../shared/reference/clerk/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `keel dev` on `engine` whose emulator sends its own webhooks nowhere: these tests deliver
/// by hand.
pub(crate) async fn server(engine: Engine) -> TestServer {
    TestServer::dev_on_with(
        engine,
        |s| {
            s.clerk.webhook_secret = Some(SECRET.into());
            s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
        },
        AppParts::builtin(),
    )
    .await
}

pub(crate) struct Delivery {
    pub id: String,
    pub timestamp: u64,
    pub body: String,
    pub secret: &'static str,
    pub path: &'static str,
}

impl Delivery {
    pub fn new(event: &Json) -> Self {
        Delivery {
            id: format!("msg_{}", rand_suffix()),
            timestamp: now(),
            body: event.to_string(),
            secret: SECRET,
            path: "/clerk-webhook",
        }
    }

    pub async fn send(&self, server: &TestServer) -> (u16, Json) {
        self.send_to(&server.http, &server.url).await
    }

    /// Posts this delivery to the Keel at `url`, signed as Svix signs it.
    pub async fn send_to(&self, http: &reqwest::Client, url: &str) -> (u16, Json) {
        let signature = WebhookSecrets::parse(self.secret).unwrap().sign(
            &self.id,
            self.timestamp,
            self.body.as_bytes(),
        );
        let response = http
            .post(format!("{url}{}", self.path))
            .header("svix-id", &self.id)
            .header("svix-timestamp", self.timestamp.to_string())
            .header("svix-signature", signature)
            .body(self.body.clone())
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Json::Null),
        )
    }
}

fn rand_suffix() -> String {
    format!("{:x}", rand::random::<u64>())
}

pub(crate) fn user_event(
    kind: &str,
    id: &str,
    email: &str,
    first_name: &str,
    updated_at: i64,
) -> Json {
    let mut event = reference("user.created.json");
    event["type"] = json!(kind);
    let data = &mut event["data"];
    data["id"] = json!(id);
    data["first_name"] = json!(first_name);
    data["updated_at"] = json!(updated_at);
    data["email_addresses"][0]["email_address"] = json!(email);
    data["primary_email_address_id"] = data["email_addresses"][0]["id"].clone();
    event
}

async fn stored_user(server: &TestServer, clerk_id: &str) -> Json {
    let token = server.forged_token(clerk_id);
    server
        .ok("query", "users:getCurrentUser", json!({}), Some(&token))
        .await
}

async fn the_reference_events_apply_and_redeliveries_change_nothing(engine: Engine) {
    let server = server(engine).await;
    let created = reference("user.created.json");
    let delivery = Delivery::new(&created);
    let (status, body) = delivery.send(&server).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("applied")),
        "{body}"
    );
    let user = stored_user(&server, "user_29w83sxmDNGwOuEthce5gg56FcC").await;
    assert_eq!(user["email"], "example@example.org");
    assert_eq!(user["firstName"], "Example");
    assert_eq!(user["source"], "webhook");
    assert_eq!(user["updatedAt"].as_f64(), Some(1654012591835.0));

    let (status, body) = delivery.send(&server).await;
    assert_eq!((status, &body["status"]), (200, &json!("duplicate")));
    let again = stored_user(&server, "user_29w83sxmDNGwOuEthce5gg56FcC").await;
    assert_eq!(again, user, "a redelivery changes nothing");

    for path in [
        "/api/webhooks/clerk",
        "/clerk-users-webhook",
        "/http/clerk-webhook",
    ] {
        let mut other = Delivery::new(&reference("session.created.json"));
        other.path = path;
        let (status, _) = other.send(&server).await;
        assert_eq!(status, 200, "{path}");
    }
    let mut unknown = reference("organizationInvitation.accepted.json");
    unknown["type"] = json!("something.new");
    let (status, body) = Delivery::new(&unknown).send(&server).await;
    assert_eq!((status, &body["status"]), (200, &json!("ignored")));
}
engine_tests!(the_reference_events_apply_and_redeliveries_change_nothing);

async fn bad_deliveries_are_refused_with_a_reason_and_change_nothing(engine: Engine) {
    let server = server(engine).await;
    let event = user_event("user.created", "user_bad", "bad@example.com", "Bad", 1000);
    let good = Delivery::new(&event);

    let signature =
        WebhookSecrets::parse(SECRET)
            .unwrap()
            .sign(&good.id, good.timestamp, good.body.as_bytes());
    let response = server
        .http
        .post(format!("{}/clerk-webhook", server.url))
        .header("svix-id", &good.id)
        .header("svix-timestamp", good.timestamp.to_string())
        .header("svix-signature", signature)
        .body(good.body.replace("Bad", "Evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Json = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    assert_eq!(body["code"], "WebhookRejected", "the refusal's code");

    let mut stale = Delivery::new(&event);
    stale.timestamp = now() - 301;
    assert_eq!(stale.send(&server).await.0, 400);
    let mut future = Delivery::new(&event);
    future.timestamp = now() + 301;
    assert_eq!(future.send(&server).await.0, 400);
    let mut wrong_secret = Delivery::new(&event);
    wrong_secret.secret = ROTATED;
    assert_eq!(wrong_secret.send(&server).await.0, 400);

    let missing = server
        .http
        .post(format!("{}/clerk-webhook", server.url))
        .body(good.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let body: Json = missing.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("svix-id"),
        "{body}"
    );

    let mut malformed = Delivery::new(&event);
    malformed.body = r#"{"type":"user.created","data":"#.to_string();
    let (status, body) = malformed.send(&server).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    assert_eq!(body["code"], "WebhookRejected");

    let mut huge = Delivery::new(&event);
    huge.body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(9 * 1024 * 1024));
    assert_eq!(huge.send(&server).await.0, 413);

    assert_eq!(
        stored_user(&server, "user_bad").await,
        Json::Null,
        "nothing was stored"
    );
    let (status, _) = good.send(&server).await;
    assert_eq!(status, 200, "the genuine delivery still applies");
}
engine_tests!(bad_deliveries_are_refused_with_a_reason_and_change_nothing);

async fn a_rotated_secret_accepts_both_old_and_new_signatures(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.clerk.webhook_secret = Some(format!("{ROTATED} {SECRET}")),
        AppParts::builtin(),
    )
    .await;
    for (i, secret) in [SECRET, ROTATED].into_iter().enumerate() {
        let mut delivery = Delivery::new(&user_event(
            "user.created",
            &format!("user_rot{i}"),
            "r@example.com",
            "R",
            1,
        ));
        delivery.secret = secret;
        assert_eq!(delivery.send(&server).await.0, 200);
    }
}
engine_tests!(a_rotated_secret_accepts_both_old_and_new_signatures);

async fn events_out_of_order_never_overwrite_newer_data(engine: Engine) {
    let server = server(engine).await;
    let newer = user_event("user.updated", "user_ord", "new@example.com", "Newer", 2000);
    let older = user_event("user.created", "user_ord", "old@example.com", "Older", 1000);
    assert_eq!(
        Delivery::new(&newer).send(&server).await.1["status"],
        "applied"
    );
    assert_eq!(
        Delivery::new(&older).send(&server).await.1["status"],
        "stale"
    );
    let user = stored_user(&server, "user_ord").await;
    assert_eq!(user["firstName"], "Newer");
    assert_eq!(user["email"], "new@example.com");
}
engine_tests!(events_out_of_order_never_overwrite_newer_data);

async fn a_deleted_user_stays_deleted_and_purge_removes_their_data(engine: Engine) {
    let server = server(engine).await;
    Delivery::new(&user_event(
        "user.created",
        "user_del",
        "d@example.com",
        "D",
        1000,
    ))
    .send(&server)
    .await;
    let mut deleted = reference("user.deleted.json");
    deleted["data"]["id"] = json!("user_del");
    assert_eq!(
        Delivery::new(&deleted).send(&server).await.1["status"],
        "applied"
    );
    let late = user_event(
        "user.updated",
        "user_del",
        "d@example.com",
        "Back",
        9_999_999_999_999,
    );
    assert_eq!(
        Delivery::new(&late).send(&server).await.1["status"],
        "stale"
    );
    let user = stored_user(&server, "user_del").await;
    assert_eq!(user["isActive"], false);
    assert!(user["deletedAt"].as_f64().is_some());

    // Deleted before it was ever created: the late user.created does not create it.
    let mut early = reference("user.deleted.json");
    early["data"]["id"] = json!("user_never");
    Delivery::new(&early).send(&server).await;
    Delivery::new(&user_event(
        "user.created",
        "user_never",
        "n@example.com",
        "N",
        1,
    ))
    .send(&server)
    .await;
    assert_eq!(stored_user(&server, "user_never").await, Json::Null);

    let purging = TestServer::dev_on_with(
        engine,
        |s| {
            s.clerk.webhook_secret = Some(SECRET.into());
            s.clerk.on_user_deleted = OnUserDeletedSetting::Purge;
            s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
        },
        AppParts::builtin(),
    )
    .await;
    let (clerk_id, token) = purging.user("purge@example.com").await;
    purging
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    purging
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "mine"}),
            Some(&token),
        )
        .await;
    let mut deleted = reference("user.deleted.json");
    deleted["data"]["id"] = json!(clerk_id);
    Delivery::new(&deleted).send(&purging).await;
    assert_eq!(
        purging
            .ok("query", "users:getCurrentUser", json!({}), Some(&token))
            .await,
        Json::Null
    );
    assert_eq!(
        purging
            .ok("query", "chats:listUserChats", json!({}), Some(&token))
            .await,
        json!([])
    );
}
engine_tests!(a_deleted_user_stays_deleted_and_purge_removes_their_data);

async fn first_login_then_webhook_makes_one_record(engine: Engine) {
    let server = server(engine).await;
    let (clerk_id, token) = server.user("first@example.com").await;
    let id = server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let event = user_event(
        "user.created",
        &clerk_id,
        "first@example.com",
        "FromClerk",
        1,
    );
    assert_eq!(
        Delivery::new(&event).send(&server).await.1["status"],
        "applied"
    );
    let user = server
        .ok("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    assert_eq!(user["_id"], id, "the same record, filled in place");
    assert_eq!(user["firstName"], "FromClerk");
    assert_eq!(user["source"], "webhook");
    // A later first login does not overwrite Clerk's data with token claims.
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let after = server
        .ok("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    assert_eq!(after["firstName"], "FromClerk");
}
engine_tests!(first_login_then_webhook_makes_one_record);

async fn a_restart_between_two_deliveries_of_one_message_applies_it_once(engine: Engine) {
    let storage = Storage::new(engine).await;
    let mut config = storage.settings();
    config.clerk.webhook_secret = Some(SECRET.into());
    let serve = || Mode::Serve {
        issuer: "http://127.0.0.1:9".into(),
    };
    let first = keel::start(&config, serve(), AppParts::builtin(), None)
        .await
        .unwrap();
    let delivery = Delivery::new(&user_event(
        "user.created",
        "user_restart",
        "x@example.com",
        "X",
        1,
    ));
    let post = |url: String| {
        let signature = WebhookSecrets::parse(SECRET).unwrap().sign(
            &delivery.id,
            delivery.timestamp,
            delivery.body.as_bytes(),
        );
        let request = reqwest::Client::new()
            .post(format!("{url}/clerk-webhook"))
            .header("svix-id", delivery.id.clone())
            .header("svix-timestamp", delivery.timestamp.to_string())
            .header("svix-signature", signature)
            .body(delivery.body.clone());
        async move { request.send().await.unwrap().json::<Json>().await.unwrap() }
    };
    assert_eq!(post(first.url.clone()).await["status"], "applied");
    first.stop().await.unwrap();
    let second = keel::start(&config, serve(), AppParts::builtin(), None)
        .await
        .unwrap();
    assert_eq!(post(second.url.clone()).await["status"], "duplicate");
    second.stop().await.unwrap();
}
engine_tests!(a_restart_between_two_deliveries_of_one_message_applies_it_once);

async fn without_a_secret_the_endpoint_answers_503_naming_the_variable(engine: Engine) {
    let storage = Storage::new(engine).await;
    let running = keel::start(
        &storage.settings(),
        Mode::Serve {
            issuer: "http://127.0.0.1:9".into(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/clerk-webhook", running.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Json = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("CLERK_WEBHOOK_SECRET")
    );
    running.stop().await.unwrap();
}
engine_tests!(without_a_secret_the_endpoint_answers_503_naming_the_variable);

async fn sessions_organizations_and_memberships_follow_clerk(engine: Engine) {
    let server = server(engine).await;
    let user_id = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
    assert_eq!(
        Delivery::new(&reference("session.created.json"))
            .send(&server)
            .await
            .1["status"],
        "deferred",
        "unknown user"
    );
    Delivery::new(&user_event(
        "user.created",
        user_id,
        "s@example.com",
        "S",
        1,
    ))
    .send(&server)
    .await;
    assert_eq!(
        Delivery::new(&reference("session.created.json"))
            .send(&server)
            .await
            .1["status"],
        "applied"
    );
    let user = stored_user(&server, user_id).await;
    assert!(user["lastSignInAt"].as_f64().is_some());

    let membership = reference("organizationMembership.created.json");
    assert_eq!(
        Delivery::new(&membership).send(&server).await.1["status"],
        "applied"
    );
    let mut older = membership.clone();
    older["type"] = json!("organizationMembership.updated");
    older["data"]["role"] = json!("org:member");
    older["data"]["updated_at"] = json!(1);
    assert_eq!(
        Delivery::new(&older).send(&server).await.1["status"],
        "stale"
    );
    let mut removed = membership.clone();
    removed["type"] = json!("organizationMembership.deleted");
    assert_eq!(
        Delivery::new(&removed).send(&server).await.1["status"],
        "applied"
    );
    let mut late = membership.clone();
    late["type"] = json!("organizationMembership.updated");
    late["data"]["updated_at"] = json!(9_999_999_999_999i64);
    assert_eq!(
        Delivery::new(&late).send(&server).await.1["status"],
        "stale",
        "a deleted membership stays deleted"
    );
}
engine_tests!(sessions_organizations_and_memberships_follow_clerk);

async fn organization_functions_serve_members_and_admins_only(engine: Engine) {
    let server = server(engine).await;
    let member = "user_2h8op3Isl1QR7tKu5FGNfaLKEoU";
    let org = "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S";
    Delivery::new(&user_event(
        "user.created",
        member,
        "member@example.com",
        "Mem",
        1,
    ))
    .send(&server)
    .await;
    Delivery::new(&reference("organizationMembership.created.json"))
        .send(&server)
        .await;

    let token = server.forged_token(member);
    let mine = server
        .ok("query", "organizations:listMine", json!({}), Some(&token))
        .await;
    assert_eq!(mine[0]["clerkOrgId"], org);
    assert_eq!(mine[0]["role"], "org:member");
    let fetched = server
        .ok(
            "query",
            "organizations:get",
            json!({"clerkOrgId": org}),
            Some(&token),
        )
        .await;
    assert_eq!(fetched["clerkOrgId"], org);
    let members = server
        .ok(
            "query",
            "organizations:members",
            json!({"clerkOrgId": org}),
            Some(&token),
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(members[0]["clerkUserId"], member);
    assert_eq!(members[0]["email"], "member@example.com");
    assert_eq!(
        members[0]["permissions"],
        json!(["org:posts:read", "org:posts:write"])
    );

    let outsider = server.forged_token("user_outsider");
    for path in ["organizations:get", "organizations:members"] {
        assert_eq!(
            server
                .error_code("query", path, json!({"clerkOrgId": org}), Some(&outsider))
                .await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        server
            .ok(
                "query",
                "organizations:listMine",
                json!({}),
                Some(&outsider)
            )
            .await,
        json!([])
    );
    // The token's active-organization claim counts as membership too.
    let claimed = server.forged_token_with(
        "user_claimed",
        json!({"o": {"id": org, "rol": "admin", "slg": "acme"}}),
    );
    server
        .ok(
            "query",
            "organizations:get",
            json!({"clerkOrgId": org}),
            Some(&claimed),
        )
        .await;

    let admin = server.forged_token_with("user_root", json!({"metadata": {"role": "admin"}}));
    server
        .ok(
            "query",
            "organizations:members",
            json!({"clerkOrgId": org}),
            Some(&admin),
        )
        .await;
}
engine_tests!(organization_functions_serve_members_and_admins_only);

async fn admins_list_users_with_search_status_role_and_pages(engine: Engine) {
    let server = server(engine).await;
    for i in 0..25 {
        let id = format!("user_list{i:02}");
        let mut event = user_event(
            "user.created",
            &id,
            &format!("person{i:02}@example.com"),
            &format!("P{i:02}"),
            1,
        );
        if i % 5 == 0 {
            event["data"]["public_metadata"] = json!({"role": "editor"});
        }
        Delivery::new(&event).send(&server).await;
    }
    let mut deleted = reference("user.deleted.json");
    deleted["data"]["id"] = json!("user_list03");
    Delivery::new(&deleted).send(&server).await;

    let plain = server.forged_token("user_list01");
    let opts = json!({"numItems": 10, "cursor": null});
    assert_eq!(
        server
            .error_code(
                "query",
                "users:list",
                json!({"paginationOpts": opts}),
                Some(&plain)
            )
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        server
            .error_code("query", "users:list", json!({"paginationOpts": opts}), None)
            .await,
        "UNAUTHENTICATED"
    );

    let admin = server.forged_token_with("user_root", json!({"metadata": {"role": "admin"}}));
    let mut cursor = Json::Null;
    let mut seen = Vec::new();
    loop {
        let page = server
            .ok(
                "query",
                "users:list",
                json!({"paginationOpts": {"numItems": 10, "cursor": cursor}}),
                Some(&admin),
            )
            .await;
        seen.extend(
            page["page"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["clerkUserId"].as_str().unwrap().to_string()),
        );
        if page["isDone"] == true {
            break;
        }
        cursor = page["continueCursor"].clone();
    }
    assert_eq!(seen.len(), 24, "active users only by default");
    assert_eq!(seen[0], "user_list24", "newest first");
    assert!(!seen.contains(&"user_list03".to_string()));

    let found = server
        .ok(
            "query",
            "users:list",
            json!({"search": "PERSON07", "paginationOpts": opts}),
            Some(&admin),
        )
        .await;
    assert_eq!(found["page"].as_array().unwrap().len(), 1);
    assert_eq!(found["page"][0]["email"], "person07@example.com");
    let gone = server
        .ok(
            "query",
            "users:list",
            json!({"status": "deleted", "paginationOpts": opts}),
            Some(&admin),
        )
        .await;
    assert_eq!(gone["page"][0]["clerkUserId"], "user_list03");
    let editors = server
        .ok(
            "query",
            "users:list",
            json!({"role": "editor", "status": "all", "paginationOpts": opts}),
            Some(&admin),
        )
        .await;
    assert_eq!(editors["page"].as_array().unwrap().len(), 5);
}
engine_tests!(admins_list_users_with_search_status_role_and_pages);

/// Signed events whose object ids are empty, blank or absent: each is refused with 400 and a
/// reason naming the field, and nothing is stored, not even a ledger row (the same `svix-id`
/// with a valid body is then processed, not a duplicate).
async fn signed_events_without_usable_object_ids_are_refused_and_store_nothing(engine: Engine) {
    let server = server(engine).await;
    let membership = reference("organizationMembership.created.json");
    let organization = {
        let mut org = membership.clone();
        org["type"] = json!("organization.created");
        org["data"] = membership["data"]["organization"].clone();
        org
    };
    let session = reference("session.created.json");
    let with = |event: &Json, kind: &str, pointer: &str, value: Option<Json>| {
        let mut event = event.clone();
        event["type"] = json!(kind);
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let parent = event.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(value) => parent.insert(field.to_string(), value),
            None => parent.remove(field),
        };
        event
    };
    let user = user_event("user.created", "user_x", "x@example.com", "X", 1);
    let deleted = reference("user.deleted.json");
    let org_deleted = json!({"type": "organization.deleted", "object": "event", "timestamp": 1_716_883_200,
        "data": {"object": "organization", "id": "org_gone", "deleted": true}});
    let cases = [
        (
            with(&user, "user.created", "/data/id", Some(json!(""))),
            "data.id",
        ),
        (
            with(&user, "user.updated", "/data/id", Some(json!("  "))),
            "data.id",
        ),
        (
            with(&deleted, "user.deleted", "/data/id", Some(json!(""))),
            "data.id",
        ),
        (with(&deleted, "user.deleted", "/data/id", None), "data.id"),
        (
            with(&deleted, "user.deleted", "/data/id", Some(Json::Null)),
            "data.id",
        ),
        (
            with(
                &session,
                "session.created",
                "/data/user_id",
                Some(json!("")),
            ),
            "data.user_id",
        ),
        (
            with(
                &organization,
                "organization.created",
                "/data/id",
                Some(json!("")),
            ),
            "data.id",
        ),
        (
            with(
                &organization,
                "organization.updated",
                "/data/id",
                Some(json!("")),
            ),
            "data.id",
        ),
        (
            with(
                &org_deleted,
                "organization.deleted",
                "/data/id",
                Some(json!("")),
            ),
            "data.id",
        ),
        (
            with(&org_deleted, "organization.deleted", "/data/id", None),
            "data.id",
        ),
        (
            with(
                &membership,
                "organizationMembership.created",
                "/data/id",
                Some(json!("")),
            ),
            "data.id",
        ),
        (
            with(
                &membership,
                "organizationMembership.updated",
                "/data/organization/id",
                Some(json!("")),
            ),
            "data.organization.id",
        ),
        (
            with(
                &membership,
                "organizationMembership.created",
                "/data/public_user_data/user_id",
                Some(json!("")),
            ),
            "data.public_user_data.user_id",
        ),
        (
            with(
                &membership,
                "organizationMembership.deleted",
                "/data/id",
                Some(json!("")),
            ),
            "data.id",
        ),
    ];
    for (event, field) in cases {
        let kind = event["type"].as_str().unwrap().to_string();
        let delivery = Delivery::new(&event);
        let (status, body) = delivery.send(&server).await;
        assert_eq!(status, 400, "{kind} {field}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("`{field}`")), "{kind}: {body}");
        // Nothing was recorded under this svix-id.
        let mut retry = Delivery::new(
            &json!({"type": "something.new", "object": "event", "timestamp": 1, "data": {}}),
        );
        retry.id = delivery.id.clone();
        let (status, body) = retry.send(&server).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("ignored")),
            "{kind}: {body}"
        );
    }

    let admin = server.forged_token_with("user_root", json!({"metadata": {"role": "admin"}}));
    let users = server
        .ok(
            "query",
            "users:list",
            json!({"status": "all", "paginationOpts": {"numItems": 10, "cursor": null}}),
            Some(&admin),
        )
        .await;
    assert_eq!(users["page"], json!([]), "no user was stored");
    for org in ["", "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S"] {
        let code = server
            .error_code(
                "query",
                "organizations:get",
                json!({"clerkOrgId": org}),
                Some(&admin),
            )
            .await;
        assert_eq!(code, "NOT_FOUND", "no organization {org:?} was stored");
    }
}
engine_tests!(signed_events_without_usable_object_ids_are_refused_and_store_nothing);
