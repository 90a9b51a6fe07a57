use reqwest::Method;
use serde_json::{Value, json};

use crate::common::start;

fn keys(value: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn organizations_are_created_read_updated_and_deleted() {
    let (server, _dir) = start().await;
    let org = server
        .create_org(json!({ "name": "Acme Corp", "public_metadata": { "plan": "pro" } }))
        .await;
    let id = org["id"].as_str().unwrap();
    assert!(id.starts_with("org_"));
    assert_eq!(id.len(), "org_".len() + 27);
    assert_eq!(
        keys(&org),
        [
            "admin_delete_enabled",
            "created_at",
            "created_by",
            "has_image",
            "id",
            "image_url",
            "max_allowed_memberships",
            "name",
            "object",
            "private_metadata",
            "public_metadata",
            "slug",
            "updated_at",
        ]
    );
    assert_eq!(org["object"], "organization");
    assert_eq!(org["name"], "Acme Corp");
    // Derived from the name when not given.
    assert_eq!(org["slug"], "acme-corp");
    assert_eq!(org["public_metadata"], json!({ "plan": "pro" }));
    assert_eq!(org["private_metadata"], json!({}));
    assert_eq!(org["created_by"], Value::Null);
    assert!(
        org["image_url"]
            .as_str()
            .unwrap()
            .starts_with("https://img.clerk.com/")
    );
    assert_eq!(org["created_at"], org["updated_at"]);

    // By id or by slug.
    let path = format!("/organizations/{id}");
    assert_eq!(server.call(server.bapi(Method::GET, &path), 200).await, org);
    let by_slug = server
        .call(server.bapi(Method::GET, "/organizations/acme-corp"), 200)
        .await;
    assert_eq!(by_slug, org);
    let counted = server
        .call(
            server.bapi(Method::GET, &format!("{path}?include_members_count=true")),
            200,
        )
        .await;
    assert_eq!(counted["members_count"], 0);

    let updated = server
        .call(
            server.bapi(Method::PATCH, &path).json(&json!({
                "name": "Acme Inc",
                "slug": "acme",
                "private_metadata": { "tier": 2 },
                "public_metadata": null
            })),
            200,
        )
        .await;
    assert_eq!(updated["name"], "Acme Inc");
    assert_eq!(updated["slug"], "acme");
    assert_eq!(updated["private_metadata"], json!({ "tier": 2 }));
    assert_eq!(updated["public_metadata"], json!({}));
    assert!(updated["updated_at"].as_i64() >= org["updated_at"].as_i64());

    let deleted = server.call(server.bapi(Method::DELETE, &path), 200).await;
    assert_eq!(
        deleted,
        json!({ "object": "organization", "id": id, "slug": "acme", "deleted": true })
    );
    let gone = server.call(server.bapi(Method::GET, &path), 404).await;
    assert_eq!(gone["errors"][0]["code"], "resource_not_found");
    server.call(server.bapi(Method::DELETE, &path), 404).await;
    server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "name": "x" })),
            404,
        )
        .await;
}

#[tokio::test]
async fn names_and_slugs_are_checked() {
    let (server, _dir) = start().await;
    server
        .create_org(json!({ "name": "Acme", "slug": "acme" }))
        .await;
    let post = |body: Value| server.bapi(Method::POST, "/organizations").json(&body);

    let taken = server
        .call(post(json!({ "name": "Other", "slug": "acme" })), 422)
        .await;
    assert_eq!(taken["errors"][0]["code"], "form_identifier_exists");
    assert_eq!(taken["errors"][0]["meta"]["param_name"], "slug");
    let bad = server
        .call(post(json!({ "name": "Other", "slug": "Not OK" })), 422)
        .await;
    assert_eq!(bad["errors"][0]["meta"]["param_name"], "slug");
    let missing = server.call(post(json!({ "slug": "x" })), 422).await;
    assert_eq!(missing["errors"][0]["code"], "form_param_missing");
    let long = "n".repeat(257);
    server.call(post(json!({ "name": long })), 422).await;
    let nobody = server
        .call(
            post(json!({ "name": "X", "created_by": "user_nobody" })),
            422,
        )
        .await;
    assert_eq!(nobody["errors"][0]["meta"]["param_name"], "created_by");

    // A derived slug that is taken gets a number instead of failing.
    let second = server.create_org(json!({ "name": "ACME!" })).await;
    assert_eq!(second["slug"], "acme-2");

    // PATCH checks the slug against the others, not against itself.
    let path = format!("/organizations/{}", second["id"].as_str().unwrap());
    server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "slug": "acme" })),
            422,
        )
        .await;
    server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "slug": "acme-2" })),
            200,
        )
        .await;
    // Nothing failed was stored.
    let list = server
        .call(server.bapi(Method::GET, "/organizations"), 200)
        .await;
    assert_eq!(list["total_count"], 2);
}

#[tokio::test]
async fn organizations_are_listed_newest_first_in_pages() {
    let (server, _dir) = start().await;
    let mut ids = Vec::new();
    for name in ["Bravo", "Alpha", "Charlie"] {
        ids.push(server.create_org(json!({ "name": name })).await["id"].clone());
    }
    let list = server
        .call(server.bapi(Method::GET, "/organizations"), 200)
        .await;
    assert_eq!(keys(&list), ["data", "total_count"]);
    assert_eq!(list["total_count"], 3);
    let listed: Vec<&Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert_eq!(listed, [&ids[2], &ids[1], &ids[0]]);
    assert!(list["data"][0].get("members_count").is_none());

    let page = server
        .call(
            server.bapi(Method::GET, "/organizations?limit=1&offset=1"),
            200,
        )
        .await;
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], ids[1]);

    let by_name = server
        .call(
            server.bapi(
                Method::GET,
                "/organizations?order_by=name&include_members_count=true",
            ),
            200,
        )
        .await;
    let names: Vec<&str> = by_name["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha", "Bravo", "Charlie"]);
    assert_eq!(by_name["data"][0]["members_count"], 0);

    server
        .call(server.bapi(Method::GET, "/organizations?limit=0"), 422)
        .await;
    server
        .call(
            server.bapi(Method::GET, "/organizations?order_by=email"),
            422,
        )
        .await;
}
