//! `keel seed`: the generated data has the shapes the app's functions read, and a second run
//! on the same database is refused.

use std::sync::Arc;

use keel::seed::{SeedOptions, seeded_user_id};
use keel_app::AppRoles;
use keel_functions::{Call, Caller, Executor, FunctionKind, UserIdentity};
use keel_store::Database;
use keel_store_sqlite::SqliteEngine;
use serde_json::{Value as Json, json};

use crate::binary::keel;

async fn query(executor: &Executor, path: &str, args: Json, subject: &str) -> Json {
    let identity = Arc::new(UserIdentity::new("https://seed.invalid", subject, u64::MAX));
    executor
        .call(Call {
            path: path.into(),
            kind: Some(FunctionKind::Query),
            args,
            identity: Some(identity),
            caller: Caller::Client,
        })
        .await
        .unwrap()
        .value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_records_have_the_shapes_the_functions_read() {
    let dir = tempfile::tempdir().unwrap();
    let engine = SqliteEngine::open(&dir.path().join("keel.db").to_string_lossy())
        .await
        .unwrap();
    let schema = keel_app::schema().merge(keel_functions::system_schema());
    let db = Database::open(Arc::new(engine), &schema).await.unwrap();
    let options = SeedOptions {
        users: 250,
        chats_per_user: 3,
        users_per_organization: 100,
        batch: 64,
    };
    let mut progress = Vec::new();
    let report = keel::seed::run(&db, &options, |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!(
        (report.users, report.organizations, report.memberships),
        (250, 2, 10)
    );
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&report.records()));

    let reader = db.reader().await.unwrap();
    let chats = reader.query("chats").count(usize::MAX).await.unwrap();
    reader.finish().await.unwrap();
    assert_eq!(chats, report.chats);
    assert!(chats > 250, "about three a user: {chats}");

    let executor = Executor::new(
        keel_app::functions(),
        db,
        Arc::new(AppRoles::new(Vec::new())),
    );
    // User 7 is an admin by its Clerk metadata, as one in a hundred is.
    let admin = seeded_user_id(7);
    let me = query(&executor, "users:getCurrentUser", json!({}), &admin).await;
    assert_eq!(me["source"], "seed");
    assert_eq!(me["status"], "active");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["publicMetadata"], json!({"role": "admin"}));
    let last_name = me["lastName"].as_str().unwrap().to_lowercase();
    assert_eq!(me["lastNameLower"], last_name.as_str());

    let found = query(
        &executor,
        "users:list",
        json!({"search": me["email"], "paginationOpts": {"numItems": 10, "cursor": null}}),
        &admin,
    )
    .await;
    assert_eq!(found["page"][0]["_id"], me["_id"], "{found}");

    let members = query(
        &executor,
        "organizations:members",
        json!({"clerkOrgId": "org_seed0000000"}),
        &admin,
    )
    .await;
    let members = members.as_array().unwrap();
    assert_eq!(members.len(), 5);
    assert_eq!(
        members.iter().filter(|m| m["role"] == "org:admin").count(),
        1
    );
    assert!(
        members.iter().all(|m| m["email"].is_string()),
        "{members:?}"
    );

    let chats = query(
        &executor,
        "chats:listUserChats",
        json!({}),
        &seeded_user_id(3),
    )
    .await;
    for chat in chats.as_array().unwrap() {
        assert_eq!(chat["userId"], seeded_user_id(3).as_str());
    }
}

#[test]
fn the_command_reports_what_it_wrote_and_refuses_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let first = keel(dir.path())
        .args(["seed", "--users", "120", "--chats-per-user", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("wrote 120 users, 1 organizations, 5 memberships and"),
        "{stdout}"
    );
    assert!(
        stdout.contains("records/s") && stdout.contains("MiB"),
        "{stdout}"
    );

    let again = keel(dir.path())
        .args(["seed", "--users", "10"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already holds users"), "{stderr}");
}
