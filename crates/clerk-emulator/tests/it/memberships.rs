use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Server, start};

async fn user(server: &Server, email: &str, first: &str) -> String {
    server
        .create_user(json!({ "email_address": [email], "first_name": first, "last_name": "Test" }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const ADMIN_PERMISSIONS: [&str; 6] = [
    "org:sys_profile:manage",
    "org:sys_profile:delete",
    "org:sys_memberships:read",
    "org:sys_memberships:manage",
    "org:sys_domains:read",
    "org:sys_domains:manage",
];

#[tokio::test]
async fn memberships_have_clerks_shape_and_role_permissions() {
    let (server, _dir) = start().await;
    let ada = user(&server, "ada@example.com", "Ada").await;
    let org = server.create_org(json!({ "name": "Acme" })).await;
    let org_id = org["id"].as_str().unwrap();

    let membership = server.add_member(org_id, &ada, "org:member").await;
    assert!(membership["id"].as_str().unwrap().starts_with("orgmem_"));
    assert_eq!(membership["object"], "organization_membership");
    assert_eq!(membership["role"], "org:member");
    assert_eq!(membership["role_name"], "Member");
    assert_eq!(
        membership["permissions"],
        json!(["org:sys_memberships:read"])
    );
    assert_eq!(membership["public_metadata"], json!({}));
    assert_eq!(membership["private_metadata"], json!({}));
    assert_eq!(membership["organization"], org);
    let user_json = server
        .call(server.bapi(Method::GET, &format!("/users/{ada}")), 200)
        .await;
    assert_eq!(
        membership["public_user_data"],
        json!({
            "user_id": ada,
            "first_name": "Ada",
            "last_name": "Test",
            "profile_image_url": user_json["image_url"],
            "image_url": user_json["image_url"],
            "has_image": false,
            "identifier": "ada@example.com",
            "username": null,
        })
    );
    assert!(membership["created_at"].is_i64());
    assert_eq!(membership["created_at"], membership["updated_at"]);

    let path = format!("/organizations/{org_id}/memberships/{ada}");
    let promoted = server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "role": "org:admin" })),
            200,
        )
        .await;
    assert_eq!(promoted["id"], membership["id"]);
    assert_eq!(promoted["role"], "org:admin");
    assert_eq!(promoted["role_name"], "Admin");
    assert_eq!(promoted["permissions"], json!(ADMIN_PERMISSIONS));

    let removed = server.call(server.bapi(Method::DELETE, &path), 200).await;
    assert_eq!(removed, promoted);
    server.call(server.bapi(Method::DELETE, &path), 404).await;
    server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "role": "org:member" })),
            404,
        )
        .await;
}

#[tokio::test]
async fn membership_requests_are_checked() {
    let (server, _dir) = start().await;
    let ada = user(&server, "ada@example.com", "Ada").await;
    let org_id = server.create_org(json!({ "name": "Acme" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = format!("/organizations/{org_id}/memberships");
    let post = |body: Value| server.bapi(Method::POST, &members).json(&body);

    let bad_role = server
        .call(post(json!({ "user_id": ada, "role": "admin" })), 422)
        .await;
    assert_eq!(bad_role["errors"][0]["meta"]["param_name"], "role");
    let no_role = server.call(post(json!({ "user_id": ada })), 422).await;
    assert_eq!(no_role["errors"][0]["code"], "form_param_missing");
    server
        .call(post(json!({ "role": "org:member" })), 422)
        .await;
    server
        .call(
            post(json!({ "user_id": "user_nobody", "role": "org:member" })),
            404,
        )
        .await;
    server
        .call(
            server
                .bapi(Method::POST, "/organizations/org_nothing/memberships")
                .json(&json!({ "user_id": ada, "role": "org:member" })),
            404,
        )
        .await;
    server.add_member(&org_id, &ada, "org:member").await;
    let again = server
        .call(post(json!({ "user_id": ada, "role": "org:admin" })), 422)
        .await;
    assert_eq!(
        again["errors"][0]["code"],
        "already_a_member_in_organization"
    );
    let patch = format!("{members}/{ada}");
    server
        .call(
            server
                .bapi(Method::PATCH, &patch)
                .json(&json!({ "role": "org:owner" })),
            422,
        )
        .await;
}

#[tokio::test]
async fn memberships_are_listed_per_organization_per_user_and_instance_wide() {
    let (server, _dir) = start().await;
    let ada = user(&server, "ada@example.com", "Ada").await;
    let bob = user(&server, "bob@example.com", "Bob").await;
    // The creator becomes the first admin.
    let acme = server
        .create_org(json!({ "name": "Acme", "created_by": ada }))
        .await;
    assert_eq!(acme["created_by"], ada.as_str());
    let acme_id = acme["id"].as_str().unwrap();
    let globex = server.create_org(json!({ "name": "Globex" })).await;
    let globex_id = globex["id"].as_str().unwrap();
    server.add_member(acme_id, &bob, "org:member").await;
    server.add_member(globex_id, &bob, "org:admin").await;

    let list = server
        .call(
            server.bapi(
                Method::GET,
                &format!("/organizations/{acme_id}/memberships"),
            ),
            200,
        )
        .await;
    assert_eq!(list["total_count"], 2);
    let roles: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["public_user_data"]["user_id"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first.
    assert_eq!(
        roles,
        [(bob.as_str(), "org:member"), (ada.as_str(), "org:admin")]
    );
    let counted = server
        .call(
            server.bapi(
                Method::GET,
                &format!("/organizations/{acme_id}?include_members_count=true"),
            ),
            200,
        )
        .await;
    assert_eq!(counted["members_count"], 2);

    let page = server
        .call(
            server.bapi(
                Method::GET,
                &format!(
                    "/organizations/{acme_id}/memberships?limit=1&offset=1&order_by=created_at"
                ),
            ),
            200,
        )
        .await;
    assert_eq!(page["total_count"], 2);
    assert_eq!(page["data"][0]["public_user_data"]["user_id"], bob.as_str());

    let all = server
        .call(
            server.bapi(Method::GET, "/organization_memberships?limit=100"),
            200,
        )
        .await;
    assert_eq!(all["total_count"], 3);
    let bobs = server
        .call(
            server.bapi(
                Method::GET,
                &format!("/users/{bob}/organization_memberships"),
            ),
            200,
        )
        .await;
    assert_eq!(bobs["total_count"], 2);
    assert_eq!(bobs["data"][0]["organization"]["id"], globex_id);
    server
        .call(
            server.bapi(Method::GET, "/users/user_nobody/organization_memberships"),
            404,
        )
        .await;

    // Deleting a user removes their memberships; deleting an org removes its own.
    server
        .call(server.bapi(Method::DELETE, &format!("/users/{bob}")), 200)
        .await;
    let all = server
        .call(server.bapi(Method::GET, "/organization_memberships"), 200)
        .await;
    assert_eq!(all["total_count"], 1);
    server
        .call(
            server.bapi(Method::DELETE, &format!("/organizations/{acme_id}")),
            200,
        )
        .await;
    let all = server
        .call(server.bapi(Method::GET, "/organization_memberships"), 200)
        .await;
    assert_eq!(all["total_count"], 0);
}

#[tokio::test]
async fn organizations_and_memberships_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = crate::common::start_in(dir.path()).await;
    let ada = user(&first, "ada@example.com", "Ada").await;
    let org = first
        .create_org(json!({ "name": "Acme", "created_by": ada }))
        .await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let members = format!("/organizations/{org_id}/memberships");
    let before = first.call(first.bapi(Method::GET, &members), 200).await;
    drop(first);

    let second = crate::common::start_in(dir.path()).await;
    let after = second.call(second.bapi(Method::GET, &members), 200).await;
    assert_eq!(after, before);
    let again = second
        .call(
            second.bapi(Method::GET, &format!("/organizations/{org_id}")),
            200,
        )
        .await;
    assert_eq!(again, org);
}
