//! The admin Users table's query, `users:list`, over HTTP: prefix search on each field in any
//! case, status and role filters, pages and cursors, and records stored before the search
//! fields existed. Also: every admin function refuses non-admins.

use std::collections::HashSet;
use std::sync::Arc;

use keel::AppParts;
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer};
use crate::webhooks::{Delivery, reference, server, user_event};

pub(crate) fn admin_token(server: &TestServer) -> String {
    server.forged_token_with("user_root", json!({"metadata": {"role": "admin"}}))
}

/// Delivers `user.created` for a user with these names (and `role`, when given).
async fn deliver_user(
    server: &TestServer,
    id: &str,
    email: &str,
    first: &str,
    last: &str,
    role: Option<&str>,
) {
    let mut event = user_event("user.created", id, email, first, 1);
    event["data"]["last_name"] = json!(last);
    if let Some(role) = role {
        event["data"]["public_metadata"] = json!({ "role": role });
    }
    let (status, body) = Delivery::new(&event).send(server).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("applied")),
        "{body}"
    );
}

async fn delete_user(server: &TestServer, id: &str) {
    let mut deleted = reference("user.deleted.json");
    deleted["data"]["id"] = json!(id);
    let (status, _) = Delivery::new(&deleted).send(server).await;
    assert_eq!(status, 200);
}

/// One page of `users:list`: the Clerk ids on it, `isDone`, `continueCursor`.
async fn list_page(
    server: &TestServer,
    token: &str,
    mut args: Json,
    num_items: usize,
    cursor: Json,
) -> (Vec<String>, bool, Json) {
    args["paginationOpts"] = json!({"numItems": num_items, "cursor": cursor});
    let page = server.ok("query", "users:list", args, Some(token)).await;
    let ids = page["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["clerkUserId"].as_str().unwrap().to_string())
        .collect();
    (
        ids,
        page["isDone"].as_bool().unwrap(),
        page["continueCursor"].clone(),
    )
}

/// Every page of `users:list`, `num_items` at a time; checks no user comes twice.
async fn list_all(server: &TestServer, token: &str, args: Json, num_items: usize) -> Vec<String> {
    let mut cursor = Json::Null;
    let mut all = Vec::new();
    for _ in 0..100 {
        let (ids, done, next) = list_page(server, token, args.clone(), num_items, cursor).await;
        assert!(ids.len() <= num_items);
        all.extend(ids);
        if done {
            let unique: HashSet<&String> = all.iter().collect();
            assert_eq!(unique.len(), all.len(), "a user came twice: {all:?}");
            return all;
        }
        cursor = next;
    }
    panic!("pages never ended");
}

async fn search(server: &TestServer, token: &str, args: Json) -> Vec<String> {
    list_all(server, token, args, 50).await
}

#[tokio::test]
async fn users_list_finds_prefixes_of_names_and_emails_in_any_case() {
    let server = server(Engine::Sqlite).await;
    let admin = admin_token(&server);
    deliver_user(
        &server,
        "u01",
        "ada@analytical.example",
        "Ada",
        "Lovelace",
        Some("editor"),
    )
    .await;
    deliver_user(
        &server,
        "u02",
        "adam.smith@example.com",
        "Adam",
        "Smith",
        None,
    )
    .await;
    deliver_user(
        &server,
        "u03",
        "grace@navy.example",
        "Grace",
        "Hopper",
        Some("editor"),
    )
    .await;
    deliver_user(
        &server,
        "u04",
        "linus@example.com",
        "Linus",
        "Lovelace",
        None,
    )
    .await;
    deliver_user(&server, "u05", "adele@example.com", "Adele", "Adams", None).await;
    deliver_user(&server, "u06", "bob@example.com", "Bob", "Adaway", None).await;
    deliver_user(&server, "u07", "emile@example.com", "Émile", "Zola", None).await;
    deliver_user(&server, "u08", "adadel@example.com", "Ada", "Deleted", None).await;
    delete_user(&server, "u08").await;

    // The matched text orders the results: "ada lovelace", "adam smith", "adams", "adaway".
    // Ada Lovelace matches by name and by email, and comes once.
    let ada = ["u01", "u02", "u05", "u06"];
    assert_eq!(search(&server, &admin, json!({"search": "ada"})).await, ada);
    assert_eq!(
        search(&server, &admin, json!({"search": "  ADA "})).await,
        ada
    );
    let mut love = search(&server, &admin, json!({"search": "Love"})).await;
    love.sort();
    assert_eq!(love, ["u01", "u04"], "last names");
    assert_eq!(
        search(&server, &admin, json!({"search": "ada   lo"})).await,
        ["u01"],
        "first and last name"
    );
    assert_eq!(
        search(&server, &admin, json!({"search": "grace@"})).await,
        ["u03"],
        "email"
    );
    assert_eq!(
        search(&server, &admin, json!({"search": "ÉMILE"})).await,
        ["u07"]
    );
    assert!(
        search(&server, &admin, json!({"search": "ace"}))
            .await
            .is_empty(),
        "a prefix, not a substring"
    );

    // Status: deleted users only when asked for.
    assert_eq!(
        search(
            &server,
            &admin,
            json!({"search": "ada", "status": "deleted"})
        )
        .await,
        ["u08"]
    );
    assert_eq!(
        search(&server, &admin, json!({"search": "ada", "status": "all"})).await,
        ["u08", "u01", "u02", "u05", "u06"],
        "\"ada deleted\" sorts before \"ada lovelace\""
    );
    assert_eq!(
        search(&server, &admin, json!({"status": "deleted"})).await,
        ["u08"]
    );

    // Role: newest first without a search, by the matched text with one.
    assert_eq!(
        search(&server, &admin, json!({"role": "editor"})).await,
        ["u03", "u01"]
    );
    assert_eq!(
        search(&server, &admin, json!({"role": "editor", "search": "ada"})).await,
        ["u01"]
    );
    assert!(
        search(&server, &admin, json!({"role": "nobody", "status": "all"}))
            .await
            .is_empty()
    );

    let unknown = server
        .error_code(
            "query",
            "users:list",
            json!({"search": "a", "sort": "name", "paginationOpts": {"numItems": 5, "cursor": null}}),
            Some(&admin),
        )
        .await;
    assert_eq!(unknown, "INVALID_ARGUMENT", "unknown arguments are refused");
}

#[tokio::test]
async fn users_list_pages_hold_every_user_once() {
    let server = server(Engine::Sqlite).await;
    let admin = admin_token(&server);
    let mut created = Vec::new();
    for i in 0..23 {
        let id = format!("user_page{i:02}");
        let role = (i % 4 == 0).then_some("editor");
        deliver_user(
            &server,
            &id,
            &format!("filler{i}@example.com"),
            &format!("Filler{i}"),
            "Person",
            role,
        )
        .await;
        created.push(id);
    }
    for i in [3, 8, 15] {
        delete_user(&server, &format!("user_page{i:02}")).await;
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    let active: Vec<String> = newest_first
        .iter()
        .filter(|id| !["user_page03", "user_page08", "user_page15"].contains(&id.as_str()))
        .cloned()
        .collect();

    for size in [1, 4, 7, 23, 50] {
        assert_eq!(
            list_all(&server, &admin, json!({"status": "all"}), size).await,
            newest_first,
            "all, pages of {size}"
        );
        assert_eq!(
            list_all(&server, &admin, json!({}), size).await,
            active,
            "active (the default), pages of {size}"
        );
    }
    // A search pages in the order of the matched text; "filler1 person" < "filler10 person".
    let mut by_name: Vec<(String, String)> = (0..23)
        .filter(|i| ![3, 8, 15].contains(i))
        .map(|i| (format!("filler{i} person"), format!("user_page{i:02}")))
        .collect();
    by_name.sort();
    let expected: Vec<String> = by_name.into_iter().map(|(_, id)| id).collect();
    for size in [1, 3, 5] {
        assert_eq!(
            list_all(&server, &admin, json!({"search": "FILLER"}), size).await,
            expected,
            "search, pages of {size}"
        );
    }
    let editors = list_all(
        &server,
        &admin,
        json!({"status": "all", "role": "editor"}),
        2,
    )
    .await;
    assert_eq!(
        editors,
        [
            "user_page20",
            "user_page16",
            "user_page12",
            "user_page08",
            "user_page04",
            "user_page00"
        ]
    );
    let (first, done, cursor) =
        list_page(&server, &admin, json!({"search": "filler"}), 5, Json::Null).await;
    assert!(!done && first.len() == 5);
    // A cursor from one search does not crash another; a malformed one is refused.
    let bad = server
        .error_code(
            "query",
            "users:list",
            json!({"paginationOpts": {"numItems": 5, "cursor": "!!not a cursor!!"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(bad, "INVALID_ARGUMENT");
    let (next, _, _) = list_page(&server, &admin, json!({"search": "filler"}), 5, cursor).await;
    assert!(next.iter().all(|id| !first.contains(id)));
}

/// A database written by a Keel without the search fields (users as they were stored then):
/// the next start fills them, so searches and filters find every user.
#[tokio::test]
async fn users_stored_before_the_search_fields_are_found_after_a_restart() {
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
        for i in 0..1_203 {
            let active = i % 10 != 0;
            tx.insert(
                "users",
                json!({
                    "clerkUserId": format!("user_old{i:04}"),
                    "email": format!("old{i}@example.com"),
                    "firstName": if i == 7 { "Ada" } else { "Old" },
                    "lastName": format!("Timer{i}"),
                    "isActive": active,
                    "deletedAt": if active { Json::Null } else { json!(1.0) },
                    "role": null,
                    "source": "webhook",
                }),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let server = TestServer::dev_in(dir, |_| {}, AppParts::builtin()).await;
    let admin = admin_token(&server);
    assert_eq!(
        search(&server, &admin, json!({"search": "ada"})).await,
        ["user_old0007"]
    );
    assert_eq!(
        search(&server, &admin, json!({"search": "timer120"})).await,
        ["user_old1201", "user_old1202"],
        "Timer120 and Timer1200 are deleted (every tenth): only with a status"
    );
    assert_eq!(
        list_all(&server, &admin, json!({"status": "deleted"}), 500)
            .await
            .len(),
        121
    );
    assert_eq!(list_all(&server, &admin, json!({}), 500).await.len(), 1_082);
}

/// Every admin function, with arguments that would succeed for an admin.
fn admin_calls() -> Vec<(&'static str, &'static str, Json)> {
    let opts = json!({"numItems": 5, "cursor": null});
    vec![
        ("query", "users:list", json!({"paginationOpts": opts})),
        ("query", "webhooks:recent", json!({"paginationOpts": opts})),
        (
            "query",
            "organizations:list",
            json!({"paginationOpts": opts}),
        ),
        ("query", "data:tables", json!({})),
        (
            "query",
            "data:page",
            json!({"table": "users", "paginationOpts": opts}),
        ),
        ("query", "data:get", json!({"id": "notanid"})),
        (
            "action",
            "users:adminCreate",
            json!({"email": "forbidden.create@example.com"}),
        ),
        (
            "action",
            "users:adminUpdate",
            json!({"userId": "user_x", "firstName": "X"}),
        ),
        ("action", "users:adminDelete", json!({"userId": "user_x"})),
    ]
}

#[tokio::test]
async fn every_admin_function_refuses_non_admins_whatever_they_send() {
    let server = TestServer::dev().await;
    let (member_id, member) = server.user("member@example.com").await;
    let before = server.emulator().count_users().await;
    for (kind, path, args) in admin_calls() {
        assert_eq!(
            server
                .error_code(kind, path, args.clone(), Some(&member))
                .await,
            "FORBIDDEN",
            "{path} for a signed-in user"
        );
        assert_eq!(
            server.error_code(kind, path, args, None).await,
            "UNAUTHENTICATED",
            "{path} signed out"
        );
    }
    // Garbage arguments get the same answer: the role is checked before anything else.
    for (kind, path, _) in admin_calls() {
        assert_eq!(
            server
                .error_code(kind, path, json!({"surprise": [1, 2]}), Some(&member))
                .await,
            "FORBIDDEN",
            "{path} with unknown arguments"
        );
    }
    let delete_self = server
        .error_code(
            "action",
            "users:adminDelete",
            json!({"userId": member_id}),
            Some(&member),
        )
        .await;
    assert_eq!(delete_self, "FORBIDDEN");
    assert_eq!(
        server.emulator().count_users().await,
        before,
        "nothing reached Clerk"
    );
    // The same calls pass the role check for an admin (they may fail later for other reasons,
    // never with FORBIDDEN).
    let admin = admin_token(&server);
    for (kind, path, args) in admin_calls() {
        let (_, body) = server.call(kind, path, args, Some(&admin)).await;
        assert_ne!(body["errorData"]["code"], "FORBIDDEN", "{path}: {body}");
    }
}
