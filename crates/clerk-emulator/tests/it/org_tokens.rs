//! Sessions with an active organization, and the claims their tokens carry.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Server, start, verify};

async fn mint(server: &Server, sid: &str, template: Option<&str>) -> Value {
    let path = match template {
        None => format!("/sessions/{sid}/tokens"),
        Some(t) => format!("/sessions/{sid}/tokens/{t}"),
    };
    let jwt = server.call(server.bapi(Method::POST, &path), 200).await["jwt"]
        .as_str()
        .unwrap()
        .to_owned();
    let audience = template.map(|_| "convex");
    verify(&server.jwks().await, &jwt, &server.issuer, audience, 0)
        .unwrap()
        .claims
}

/// CLERK.md's decoding of the v2 `o` claim: the role, and the permissions
/// `fea` + `per` + `fpm` stand for.
fn decode(claims: &Value) -> (String, BTreeSet<String>) {
    let o = &claims["o"];
    let role = format!("org:{}", o["rol"].as_str().unwrap());
    let features: Vec<&str> = claims["fea"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .filter_map(|f| f.strip_prefix("o:"))
        .collect();
    let per: Vec<&str> = o["per"].as_str().unwrap_or("").split(',').collect();
    let mut permissions = BTreeSet::new();
    for (feature, mask) in features
        .iter()
        .zip(o["fpm"].as_str().unwrap_or("").split(','))
    {
        let mask: u32 = mask.parse().unwrap();
        for (bit, action) in per.iter().enumerate() {
            if mask & (1 << bit) != 0 {
                permissions.insert(format!("org:{feature}:{action}"));
            }
        }
    }
    (role, permissions)
}

fn set(permissions: &Value) -> BTreeSet<String> {
    permissions
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tokens_carry_the_active_organization() {
    let (server, _dir) = start().await;
    let uid = server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org = server.create_org(json!({ "name": "Acme Corp" })).await;
    let org_id = org["id"].as_str().unwrap();
    let membership = server.add_member(org_id, &uid, "org:member").await;

    let session = server
        .call(
            server
                .bapi(Method::POST, "/sessions")
                .json(&json!({ "user_id": uid, "active_organization_id": org_id })),
            200,
        )
        .await;
    assert_eq!(session["last_active_organization_id"], org_id);
    let sid = session["id"].as_str().unwrap();

    let claims = mint(&server, sid, None).await;
    assert_eq!(claims["o"]["id"], org_id);
    assert_eq!(claims["o"]["slg"], "acme-corp");
    assert_eq!(claims["o"]["rol"], "member");
    let (role, permissions) = decode(&claims);
    assert_eq!(role, membership["role"].as_str().unwrap());
    assert_eq!(permissions, set(&membership["permissions"]));

    // A role change shows in the next token.
    let path = format!("/organizations/{org_id}/memberships/{uid}");
    let admin = server
        .call(
            server
                .bapi(Method::PATCH, &path)
                .json(&json!({ "role": "org:admin" })),
            200,
        )
        .await;
    let claims = mint(&server, sid, None).await;
    let (role, permissions) = decode(&claims);
    assert_eq!(role, "org:admin");
    assert_eq!(permissions, set(&admin["permissions"]));
    assert_eq!(permissions.len(), 6);

    // The convex template carries the organization as flat claims.
    let convex = mint(&server, sid, Some("convex")).await;
    assert_eq!(convex["org_id"], org_id);
    assert_eq!(convex["org_role"], "org:admin");
    assert_eq!(convex["org_slug"], "acme-corp");
    assert!(convex.get("o").is_none());

    // Leaving the organization clears the session's active organization.
    server.call(server.bapi(Method::DELETE, &path), 200).await;
    let claims = mint(&server, sid, None).await;
    assert!(claims.get("o").is_none());
    assert!(claims.get("fea").is_none());
    let convex = mint(&server, sid, Some("convex")).await;
    assert!(convex.get("org_id").is_none());
    let session = server
        .call(server.bapi(Method::GET, &format!("/sessions/{sid}")), 200)
        .await;
    assert_eq!(session["last_active_organization_id"], Value::Null);
}

#[tokio::test]
async fn the_active_organization_must_be_one_of_the_users() {
    let (server, _dir) = start().await;
    let uid = server
        .create_user(json!({ "email_address": ["ada@example.com"] }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let org_id = server.create_org(json!({ "name": "Acme" })).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = |org: &str| {
        server
            .bapi(Method::POST, "/sessions")
            .json(&json!({ "user_id": uid, "active_organization_id": org }))
    };
    let unknown = server.call(create("org_nothing"), 404).await;
    assert_eq!(unknown["errors"][0]["code"], "resource_not_found");
    let outsider = server.call(create(&org_id), 422).await;
    assert_eq!(
        outsider["errors"][0]["meta"]["param_name"],
        "active_organization_id"
    );

    // Deleting the organization clears it from sessions that had it active.
    server.add_member(&org_id, &uid, "org:admin").await;
    let sid = server.call(create(&org_id), 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(mint(&server, &sid, None).await.get("o").is_some());
    server
        .call(
            server.bapi(Method::DELETE, &format!("/organizations/{org_id}")),
            200,
        )
        .await;
    assert!(mint(&server, &sid, None).await.get("o").is_none());
}
