use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Server, start};

/// Fields the Backend API spec marks as required on `User`.
const REQUIRED_USER_FIELDS: &[&str] = &[
    "id",
    "object",
    "username",
    "first_name",
    "last_name",
    "has_image",
    "primary_email_address_id",
    "primary_phone_number_id",
    "primary_web3_wallet_id",
    "password_enabled",
    "two_factor_enabled",
    "totp_enabled",
    "backup_code_enabled",
    "email_addresses",
    "phone_numbers",
    "web3_wallets",
    "passkeys",
    "external_accounts",
    "saml_accounts",
    "enterprise_accounts",
    "public_metadata",
    "external_id",
    "last_sign_in_at",
    "banned",
    "locked",
    "lockout_expires_in_seconds",
    "verification_attempts_remaining",
    "created_at",
    "updated_at",
    "delete_self_enabled",
    "create_organization_enabled",
    "last_active_at",
    "mfa_enabled_at",
    "mfa_disabled_at",
    "legal_accepted_at",
];

fn assert_clerk_id(id: &Value, prefix: &str) {
    let id = id.as_str().unwrap();
    let rest = id
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{id} lacks {prefix}"));
    assert_eq!(rest.len(), 27, "{id}");
    assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
}

#[tokio::test]
async fn create_get_update_delete() {
    let (server, _dir) = start().await;
    let created = server
        .create_user(json!({
            "email_address": ["Ada@Example.com"],
            "phone_number": ["+15555550100"],
            "first_name": "Ada",
            "last_name": "Lovelace",
            "username": "ada",
            "external_id": "ext-1",
            "password": "correct horse battery staple",
            "public_metadata": { "role": "admin" },
            "private_metadata": { "plan": "pro" },
            "unsafe_metadata": { "theme": "dark" },
            "skip_password_checks": true
        }))
        .await;

    for field in REQUIRED_USER_FIELDS {
        assert!(created.get(field).is_some(), "UserJSON lacks {field}");
    }
    assert_clerk_id(&created["id"], "user_");
    assert_eq!(created["object"], "user");
    assert_eq!(created["first_name"], "Ada");
    assert_eq!(created["last_name"], "Lovelace");
    assert_eq!(created["username"], "ada");
    assert_eq!(created["external_id"], "ext-1");
    assert_eq!(created["password_enabled"], true);
    assert_eq!(created["public_metadata"], json!({ "role": "admin" }));
    assert_eq!(created["private_metadata"], json!({ "plan": "pro" }));
    assert_eq!(created["unsafe_metadata"], json!({ "theme": "dark" }));
    assert_eq!(created["has_image"], false);
    assert!(
        created["image_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(created["last_sign_in_at"], Value::Null);
    let created_at = created["created_at"].as_i64().unwrap();
    assert!(created_at > 1_600_000_000_000, "milliseconds");
    assert_eq!(created["updated_at"], created_at);

    let email = &created["email_addresses"][0];
    assert_clerk_id(&email["id"], "idn_");
    assert_eq!(email["object"], "email_address");
    assert_eq!(email["email_address"], "ada@example.com");
    assert_eq!(email["verification"]["status"], "verified");
    assert_eq!(email["verification"]["strategy"], "admin");
    assert_eq!(email["linked_to"], json!([]));
    assert_eq!(created["primary_email_address_id"], email["id"]);
    let phone = &created["phone_numbers"][0];
    assert_clerk_id(&phone["id"], "idn_");
    assert_eq!(phone["phone_number"], "+15555550100");
    assert_eq!(created["primary_phone_number_id"], phone["id"]);

    let id = created["id"].as_str().unwrap();
    let fetched = server
        .call(server.bapi(Method::GET, &format!("/users/{id}")), 200)
        .await;
    assert_eq!(fetched, created);

    let updated = server
        .call(
            server
                .bapi(Method::PATCH, &format!("/users/{id}"))
                .json(&json!({
                    "first_name": "Augusta",
                    "username": null,
                    "public_metadata": { "role": "member" }
                })),
            200,
        )
        .await;
    assert_eq!(updated["first_name"], "Augusta");
    assert_eq!(updated["last_name"], "Lovelace", "absent fields are kept");
    assert_eq!(updated["username"], Value::Null, "null clears");
    assert_eq!(updated["public_metadata"], json!({ "role": "member" }));
    assert_eq!(updated["private_metadata"], json!({ "plan": "pro" }));
    assert!(updated["updated_at"].as_i64().unwrap() >= created_at);
    assert_eq!(updated["created_at"], created_at);
    let fetched = server
        .call(server.bapi(Method::GET, &format!("/users/{id}")), 200)
        .await;
    assert_eq!(fetched, updated);

    let deleted = server
        .call(server.bapi(Method::DELETE, &format!("/users/{id}")), 200)
        .await;
    assert_eq!(
        deleted,
        json!({ "object": "user", "id": id, "deleted": true })
    );
    for method in [Method::GET, Method::DELETE, Method::PATCH] {
        let body = server
            .call(
                server
                    .bapi(method, &format!("/users/{id}"))
                    .json(&json!({})),
                404,
            )
            .await;
        assert_eq!(body["errors"][0]["code"], "resource_not_found");
    }
}

#[tokio::test]
async fn rejects_taken_identifiers_and_bad_input() {
    let (server, _dir) = start().await;
    let first = server
        .create_user(json!({ "email_address": ["a@example.com"], "username": "a" }))
        .await;
    let taken = server
        .call(
            server
                .bapi(Method::POST, "/users")
                .json(&json!({ "email_address": ["A@example.com"] })),
            422,
        )
        .await;
    assert_eq!(taken["errors"][0]["code"], "form_identifier_exists");
    assert_eq!(taken["errors"][0]["meta"]["param_name"], "email_address");

    let second = server
        .create_user(json!({ "email_address": ["b@example.com"] }))
        .await;
    let id = second["id"].as_str().unwrap();
    let taken = server
        .call(
            server
                .bapi(Method::PATCH, &format!("/users/{id}"))
                .json(&json!({ "username": "A" })),
            422,
        )
        .await;
    assert_eq!(taken["errors"][0]["meta"]["param_name"], "username");
    // Keeping one's own username is not a conflict.
    let first_id = first["id"].as_str().unwrap();
    server
        .call(
            server
                .bapi(Method::PATCH, &format!("/users/{first_id}"))
                .json(&json!({ "username": "a" })),
            200,
        )
        .await;

    let bad_email = server
        .call(
            server
                .bapi(Method::POST, "/users")
                .json(&json!({ "email_address": ["not-an-email"] })),
            422,
        )
        .await;
    assert_eq!(bad_email["errors"][0]["code"], "form_param_value_invalid");
    let wrong_type = server
        .call(
            server
                .bapi(Method::POST, "/users")
                .json(&json!({ "public_metadata": "not an object" })),
            422,
        )
        .await;
    assert!(wrong_type["errors"][0]["code"].is_string());
    let not_json = server
        .call(server.bapi(Method::POST, "/users").body("{oops"), 400)
        .await;
    assert_eq!(not_json["errors"][0]["code"], "malformed_request");

    // Failed requests changed nothing.
    let count = server
        .call(server.bapi(Method::GET, "/users/count"), 200)
        .await;
    assert_eq!(count, json!({ "object": "total_count", "total_count": 2 }));
}

async fn list(server: &Server, query: &str) -> Vec<String> {
    let body = server
        .call(server.bapi(Method::GET, &format!("/users?{query}")), 200)
        .await;
    body.as_array()
        .expect("a bare JSON array")
        .iter()
        .map(|u| u["first_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_pages_and_orders() {
    let (server, _dir) = start().await;
    // Created in this order; first names and emails sort differently.
    let people = [
        ("Carol", "z@example.com"),
        ("Alice", "y@example.com"),
        ("Eve", "x@example.com"),
        ("Bob", "w@example.com"),
        ("Dan", "v@example.com"),
        ("Frank", "u@example.com"),
        ("Grace", "t@example.com"),
        ("Heidi", "s@example.com"),
        ("Ivan", "r@example.com"),
        ("Judy", "q@example.com"),
        ("Mallory", "p@example.com"),
        ("Niaj", "o@example.com"),
    ];
    for (name, email) in people {
        server
            .create_user(json!({ "first_name": name, "email_address": [email] }))
            .await;
    }
    let newest_first: Vec<String> = people.iter().rev().map(|p| p.0.to_owned()).collect();

    // Default: newest first, 10 per page.
    assert_eq!(list(&server, "").await, newest_first[..10]);
    assert_eq!(
        list(&server, "order_by=-created_at&limit=500").await,
        newest_first
    );
    let oldest_first: Vec<String> = people.iter().map(|p| p.0.to_owned()).collect();
    assert_eq!(
        list(&server, "order_by=%2Bcreated_at&limit=20").await,
        oldest_first
    );
    assert_eq!(
        list(&server, "order_by=created_at&limit=20").await,
        oldest_first
    );
    assert_eq!(list(&server, "limit=2&offset=1").await, newest_first[1..3]);
    assert_eq!(list(&server, "limit=5&offset=10").await, newest_first[10..]);
    assert!(list(&server, "offset=12").await.is_empty());

    assert_eq!(
        list(&server, "order_by=first_name&limit=3").await,
        ["Alice", "Bob", "Carol"]
    );
    assert_eq!(
        list(&server, "order_by=-first_name&limit=2").await,
        ["Niaj", "Mallory"]
    );
    assert_eq!(
        list(&server, "order_by=email_address&limit=2").await,
        ["Niaj", "Mallory"]
    );
    assert_eq!(
        list(&server, "order_by=-email_address&limit=2").await,
        ["Carol", "Alice"]
    );

    // Updating Alice makes her the most recently updated.
    let alice = server
        .call(
            server.bapi(Method::GET, "/users?order_by=first_name&limit=1"),
            200,
        )
        .await;
    let alice_id = alice[0]["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    server
        .call(
            server
                .bapi(Method::PATCH, &format!("/users/{alice_id}"))
                .json(&json!({ "last_name": "Liddell" })),
            200,
        )
        .await;
    assert_eq!(
        list(&server, "order_by=-updated_at&limit=1").await,
        ["Alice"]
    );
    assert_eq!(
        list(&server, "order_by=-last_name&limit=1").await,
        ["Alice"],
        "the only user with a last name"
    );

    // Cursor paging walks the same order as offsets.
    let page = server
        .call(server.bapi(Method::GET, "/users?limit=4"), 200)
        .await;
    let cursor = page[3]["id"].as_str().unwrap();
    assert_eq!(
        list(&server, &format!("limit=4&starting_after={cursor}")).await,
        newest_first[4..8]
    );

    for bad in [
        "limit=0",
        "limit=501",
        "limit=ten",
        "offset=-1",
        "order_by=password",
        "order_by=first_name&starting_after=user_x",
    ] {
        let body = server
            .call(server.bapi(Method::GET, &format!("/users?{bad}")), 422)
            .await;
        assert!(body["errors"][0]["code"].is_string(), "{bad}");
    }

    let count = server
        .call(server.bapi(Method::GET, "/users/count"), 200)
        .await;
    assert_eq!(count, json!({ "object": "total_count", "total_count": 12 }));
    assert_eq!(server.emulator.count_users().await, 12);
}
