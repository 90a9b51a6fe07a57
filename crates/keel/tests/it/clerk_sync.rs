//! The whole Clerk loop offline: the emulator delivers signed webhooks to Keel (with faults),
//! and `keel backfill` repairs what webhooks never delivered.

use std::process::Command;
use std::time::Duration;

use keel::AppParts;
use keel_clerk_emulator::{CreateMembership, CreateOrganization, CreateUser, UpdateUser};
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests};

const KEEL: &str = env!("CARGO_BIN_EXE_keel");

/// Waits until the emulator has delivered (or given up on) every message.
async fn deliveries_settled(server: &TestServer) {
    for _ in 0..300 {
        let log = server.emulator().delivery_log();
        if log
            .iter()
            .all(|d| d.status != keel_clerk_emulator::DeliveryStatus::Pending)
        {
            assert!(
                log.iter()
                    .all(|d| d.status == keel_clerk_emulator::DeliveryStatus::Delivered),
                "every message is delivered in the end: {log:?}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("deliveries did not settle in 30 s");
}

/// All users Keel holds, as `users:list` returns them to an admin.
async fn keel_users(server: &TestServer) -> Vec<Json> {
    let admin = server.forged_token_with("user_root", json!({"metadata": {"role": "admin"}}));
    let mut cursor = Json::Null;
    let mut users = Vec::new();
    loop {
        let page = server
            .ok(
                "query",
                "users:list",
                json!({"status": "all", "paginationOpts": {"numItems": 500, "cursor": cursor}}),
                Some(&admin),
            )
            .await;
        users.extend(page["page"].as_array().unwrap().iter().cloned());
        if page["isDone"] == true {
            return users;
        }
        cursor = page["continueCursor"].clone();
    }
}

fn simple_user(i: usize) -> CreateUser {
    CreateUser {
        email_address: vec![format!("sync{i:05}@example.com")],
        first_name: Some(format!("First{i}")),
        ..Default::default()
    }
}

async fn with_faults_on_the_synced_tables_end_up_exactly_as_the_emulator(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.emulator.faults = Some("drop=0.25,duplicate=0.2,reorder=0.2,seed=7".into()),
        AppParts::builtin(),
    )
    .await;
    let emulator = server.emulator();
    let mut ids = Vec::new();
    for i in 0..12 {
        let user = emulator.create_user(simple_user(i)).await.unwrap();
        ids.push(user["id"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for id in ids.iter().take(4) {
        emulator
            .update_user(
                id,
                UpdateUser {
                    first_name: Some(Some("Renamed".into())),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for id in ids.iter().skip(10) {
        emulator.delete_user(id).await.unwrap();
    }
    let org = emulator
        .create_organization(CreateOrganization {
            name: Some("Acme".into()),
            created_by: Some(ids[0].clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let org_id = org["id"].as_str().unwrap().to_string();
    emulator
        .create_membership(
            &org_id,
            CreateMembership {
                user_id: Some(ids[1].clone()),
                role: Some("org:member".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    deliveries_settled(&server).await;
    let faults: usize = emulator.delivery_log().iter().map(|d| d.faults.len()).sum();
    assert!(faults > 0, "faults were injected");

    let users = keel_users(&server).await;
    for (i, id) in ids.iter().enumerate() {
        let user = users
            .iter()
            .find(|u| u["clerkUserId"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} synced"));
        let deleted = i >= 10;
        assert_eq!(user["isActive"], !deleted, "{id}");
        if !deleted {
            let clerk = emulator.get_user(id).await.unwrap();
            assert_eq!(user["firstName"], clerk["first_name"], "{id}");
            assert_eq!(user["email"], format!("sync{i:05}@example.com"));
            assert_eq!(
                user["updatedAt"].as_f64(),
                clerk["updated_at"].as_f64(),
                "{id}"
            );
            assert_eq!(user["source"], "webhook");
        }
    }
    let owner = server.forged_token(&ids[0]);
    let mine = server
        .ok("query", "organizations:listMine", json!({}), Some(&owner))
        .await;
    assert_eq!(mine[0]["clerkOrgId"], org_id.as_str());
    assert_eq!(mine[0]["role"], "org:admin");
    let members = server
        .ok(
            "query",
            "organizations:members",
            json!({"clerkOrgId": org_id}),
            Some(&owner),
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 2);
}
engine_tests!(
    with_faults_on_the_synced_tables_end_up_exactly_as_the_emulator,
    flavor = "multi_thread",
    worker_threads = 2
);

fn backfill(server: &TestServer, dry_run: bool) -> String {
    let mut command = Command::new(KEEL);
    command
        .arg("backfill")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEEL_DATA_DIR", server.dir.path())
        .env("CLERK_SECRET_KEY", server.emulator().secret_key())
        .env("CLERK_API_URL", format!("{}/_clerk", server.url));
    if let Some(url) = server.database_url() {
        command.env("KEEL_DATABASE_URL", url);
    }
    if dry_run {
        command.arg("--dry-run");
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn backfill_repairs_missed_webhooks_for_ten_thousand_users(engine: Engine) {
    // Deliveries go nowhere: every webhook is missed.
    let server = TestServer::dev_on_with(
        engine,
        |s| s.emulator.webhook_url = Some("http://127.0.0.1:9/dead".into()),
        AppParts::builtin(),
    )
    .await;
    let emulator = server.emulator();
    let created = emulator
        .create_users((0..10_000).map(simple_user).collect())
        .await
        .unwrap();
    assert_eq!(created.len(), 10_000);
    // One user Keel knows from first login only, one Keel has that Clerk no longer has.
    let first = created[0]["id"].as_str().unwrap();
    let token = server.token(first, Some("convex")).await;
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let ghost = server.forged_token("user_ghost");
    server
        .ok("mutation", "users:store", json!({}), Some(&ghost))
        .await;

    let report = backfill(&server, true);
    assert!(report.contains("missing: 9999"), "{report}");
    assert!(report.contains("stale: 1"), "{report}");
    assert!(report.contains("extra: 1"), "{report}");
    assert!(report.contains("dry run: nothing was written"), "{report}");
    assert_eq!(
        keel_users(&server).await.len(),
        2,
        "a dry run writes nothing"
    );

    let report = backfill(&server, false);
    assert!(report.contains("written: 10001"), "{report}");
    // Another process wrote: the server notices within its poll interval and re-runs queries.
    let mut users = keel_users(&server).await;
    for _ in 0..40 {
        if users.len() == 10_001 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        users = keel_users(&server).await;
    }
    assert_eq!(
        users.iter().filter(|u| u["isActive"] == true).count(),
        10_000
    );
    let ghost_row = users
        .iter()
        .find(|u| u["clerkUserId"] == "user_ghost")
        .unwrap();
    assert_eq!(
        ghost_row["isActive"], false,
        "gone from Clerk: marked inactive"
    );
    let first_row = users.iter().find(|u| u["clerkUserId"] == first).unwrap();
    assert_eq!(
        first_row["source"], "backfill",
        "first-login data yields to Clerk's"
    );

    let again = backfill(&server, true);
    assert!(
        again.contains("missing: 0\nstale: 0\nextra: 0"),
        "in step now: {again}"
    );
}
engine_tests!(
    backfill_repairs_missed_webhooks_for_ten_thousand_users,
    flavor = "multi_thread",
    worker_threads = 2
);

async fn org_admins_rename_their_organization_through_clerk(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let emulator = server.emulator();
    let admin = emulator.create_user(simple_user(1)).await.unwrap();
    let member = emulator.create_user(simple_user(2)).await.unwrap();
    let (admin_id, member_id) = (
        admin["id"].as_str().unwrap(),
        member["id"].as_str().unwrap(),
    );
    let org = emulator
        .create_organization(CreateOrganization {
            name: Some("Old".into()),
            created_by: Some(admin_id.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let org_id = org["id"].as_str().unwrap();
    emulator
        .create_membership(
            org_id,
            CreateMembership {
                user_id: Some(member_id.into()),
                role: Some("org:member".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    deliveries_settled(&server).await;

    let member_token = server.token(member_id, Some("convex")).await;
    assert_eq!(
        server
            .error_code(
                "action",
                "organizations:update",
                json!({"clerkOrgId": org_id, "name": "Hijacked"}),
                Some(&member_token)
            )
            .await,
        "FORBIDDEN"
    );
    let admin_token = server.token(admin_id, Some("convex")).await;
    let renamed = server
        .ok(
            "action",
            "organizations:update",
            json!({"clerkOrgId": org_id, "name": "New"}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(renamed["name"], "New");
    assert_eq!(
        emulator.get_organization(org_id, false).await.unwrap()["name"],
        "New",
        "changed in Clerk"
    );
    let local = server
        .ok(
            "query",
            "organizations:get",
            json!({"clerkOrgId": org_id}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(local["name"], "New", "and here at once");
    assert_eq!(
        server
            .error_code(
                "action",
                "organizations:update",
                json!({"clerkOrgId": org_id, "name": "x"}),
                None
            )
            .await,
        "UNAUTHENTICATED"
    );
}
engine_tests!(
    org_admins_rename_their_organization_through_clerk,
    flavor = "multi_thread",
    worker_threads = 2
);
