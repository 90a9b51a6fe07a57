//! The admin views of organizations (`organizations:list`, `organizations:members`) and the
//! data browser (`data:tables`, `data:page`, `data:get`), over HTTP with the emulator's
//! webhooks filling the tables.

use std::sync::Arc;
use std::time::Duration;

use keel::AppParts;
use keel_clerk_emulator::{CreateMembership, CreateOrganization, CreateUser};
use serde_json::{Value as Json, json};

use crate::admin_users::admin_token;
use crate::harness::TestServer;

/// Waits until `check` holds for the value of a query (webhooks arrive in the background).
async fn until(
    server: &TestServer,
    token: &str,
    path: &str,
    args: Json,
    check: impl Fn(&Json) -> bool,
) -> Json {
    for _ in 0..200 {
        let value = server.ok("query", path, args.clone(), Some(token)).await;
        if check(&value) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never reached the expected state");
}

/// Every page of a paginated admin query, `num_items` at a time.
async fn pages(
    server: &TestServer,
    token: &str,
    path: &str,
    mut args: Json,
    num_items: usize,
) -> Vec<Json> {
    let mut cursor = Json::Null;
    let mut all = Vec::new();
    for _ in 0..200 {
        args["paginationOpts"] = json!({"numItems": num_items, "cursor": cursor});
        let page = server.ok("query", path, args.clone(), Some(token)).await;
        all.extend(page["page"].as_array().unwrap().iter().cloned());
        if page["isDone"] == true {
            return all;
        }
        cursor = page["continueCursor"].clone();
    }
    panic!("pages never ended");
}

fn ids(rows: &[Json], field: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn admins_list_organizations_and_their_members() {
    let server = TestServer::dev().await;
    let admin = admin_token(&server);
    let emulator = server.emulator();
    let ada = emulator
        .create_user(CreateUser {
            email_address: vec!["ada@example.com".into()],
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ada_id = ada["id"].as_str().unwrap();
    let (bob_id, _) = server.user("bob@example.com").await;
    let mut orgs = Vec::new();
    for name in ["First", "Second", "Third"] {
        let org = emulator
            .create_organization(CreateOrganization {
                name: Some(name.into()),
                created_by: Some(ada_id.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        orgs.push(org["id"].as_str().unwrap().to_string());
        // Clerk's `created_at` is in milliseconds: keep them apart.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emulator
        .create_membership(
            &orgs[0],
            CreateMembership {
                user_id: Some(bob_id.clone()),
                role: Some("org:member".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let members_args = json!({"clerkOrgId": orgs[0]});
    let members = until(
        &server,
        &admin,
        "organizations:members",
        members_args,
        |m| m.as_array().is_some_and(|m| m.len() == 2),
    )
    .await;
    let first_member = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clerkUserId"] == ada_id)
        .unwrap();
    assert_eq!(first_member["role"], "org:admin");
    assert_eq!(first_member["email"], "ada@example.com");
    assert_eq!(first_member["firstName"], "Ada");
    assert_eq!(first_member["lastName"], "Lovelace");
    let second = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clerkUserId"] == bob_id.as_str())
        .unwrap();
    assert_eq!(second["role"], "org:member");
    assert_eq!(second["email"], "bob@example.com");

    // Memberships of the organization that goes away, to look up by id afterwards.
    let second_org = orgs[1].clone();
    let memberships = until(
        &server,
        &admin,
        "data:page",
        json!({"table": "memberships", "paginationOpts": {"numItems": 50, "cursor": null}}),
        |page| {
            page["page"]
                .as_array()
                .is_some_and(|p| p.iter().any(|m| m["clerkOrgId"] == second_org.as_str()))
        },
    )
    .await;
    let gone = memberships["page"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["clerkOrgId"] == second_org.as_str())
        .unwrap()["_id"]
        .clone();
    emulator.delete_organization(&orgs[1]).await.unwrap();
    let args = json!({"includeDeleted": false, "paginationOpts": {"numItems": 10, "cursor": null}});
    until(&server, &admin, "organizations:list", args, |page| {
        page["page"].as_array().is_some_and(|p| p.len() == 2)
    })
    .await;

    let active = pages(&server, &admin, "organizations:list", json!({}), 1).await;
    assert_eq!(
        ids(&active, "clerkOrgId"),
        [orgs[2].clone(), orgs[0].clone()],
        "newest first"
    );
    let all = pages(
        &server,
        &admin,
        "organizations:list",
        json!({"includeDeleted": true}),
        2,
    )
    .await;
    assert_eq!(
        ids(&all, "clerkOrgId"),
        [orgs[2].clone(), orgs[1].clone(), orgs[0].clone()]
    );
    assert_eq!(all[1]["isActive"], false);
    assert_eq!(
        server
            .ok("query", "data:get", json!({"id": gone}), Some(&admin))
            .await,
        Json::Null,
        "a removed document is null"
    );
}

#[tokio::test]
async fn the_data_browser_lists_tables_pages_documents_and_gets_any_by_id() {
    let server = TestServer::dev().await;
    let admin = admin_token(&server);
    let (_, token) = server.user("writer@example.com").await;
    server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    for title in ["one", "two", "three"] {
        server
            .ok(
                "mutation",
                "chats:createUserChat",
                json!({"title": title}),
                Some(&token),
            )
            .await;
    }
    let tables = until(&server, &admin, "data:tables", json!({}), |t| {
        t.as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "clerkEvents" && t["count"].as_u64() > Some(0))
    })
    .await;
    let names: Vec<&str> = tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "chats",
            "clerkEvents",
            "clerkWebhookIssues",
            "memberships",
            "organizations",
            "users"
        ],
        "every app table, the ledger included; no system table"
    );
    let chats = &tables[0];
    assert_eq!(
        chats,
        &json!({"name": "chats", "count": 3, "atLeast": false})
    );

    let page = pages(&server, &admin, "data:page", json!({"table": "chats"}), 2).await;
    assert_eq!(ids(&page, "title"), ["three", "two", "one"], "newest first");
    for doc in &page {
        let got = server
            .ok("query", "data:get", json!({"id": doc["_id"]}), Some(&admin))
            .await;
        assert_eq!(&got, doc);
    }
    let users = pages(&server, &admin, "data:page", json!({"table": "users"}), 10).await;
    let user = server
        .ok(
            "query",
            "data:get",
            json!({"id": users[0]["_id"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(user["email"], "writer@example.com");

    for table in ["nope", "_mutation_results"] {
        let (_, body) = server
            .call(
                "query",
                "data:page",
                json!({"table": table, "paginationOpts": {"numItems": 5, "cursor": null}}),
                Some(&admin),
            )
            .await;
        assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT", "{body}");
        assert!(
            body["errorData"]["message"]
                .as_str()
                .unwrap()
                .contains(table),
            "{body}"
        );
    }
    assert_eq!(
        server
            .error_code(
                "query",
                "data:get",
                json!({"id": "not-an-id"}),
                Some(&admin)
            )
            .await,
        "INVALID_ARGUMENT"
    );
}

/// Counting stops at 10,000: a larger table shows "at least".
#[tokio::test]
async fn large_tables_count_at_least_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine =
            keel_store_sqlite::SqliteEngine::open(&dir.path().join("keel.db").to_string_lossy())
                .await
                .unwrap();
        let schema = keel_app::schema().merge(keel_functions::system_schema());
        let db = keel_store::Database::open(Arc::new(engine), &schema)
            .await
            .unwrap();
        let tx = db.writer().await.unwrap();
        for i in 0..10_003 {
            tx.insert(
                "chats",
                json!({"userId": "user_bulk", "title": format!("c{i}"), "createdAt": i}),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let server = TestServer::dev_in(dir, |_| {}, AppParts::builtin()).await;
    let admin = admin_token(&server);
    let tables = server
        .ok("query", "data:tables", json!({}), Some(&admin))
        .await;
    assert_eq!(
        tables[0],
        json!({"name": "chats", "count": 10_000, "atLeast": true})
    );
    let users = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "users")
        .unwrap();
    assert_eq!(
        users,
        &json!({"name": "users", "count": 0, "atLeast": false})
    );
}
