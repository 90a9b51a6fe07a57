//! Clerk's own example objects, through the client and the shared types.

use std::path::Path;

use keel_clerk_api::{MembershipData, OrganizationData, UserData};
use serde_json::{Value, json};

use crate::client;
use crate::fake::{Data, Fake};

/// A file of `shared/reference/clerk/`.
fn reference(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/clerk")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn clerks_examples_decode_into_the_shared_types() {
    let user: UserData =
        serde_json::from_value(reference("user.created.json")["data"].clone()).unwrap();
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    let membership = reference("organizationMembership.created.json")["data"].clone();
    let org: OrganizationData = serde_json::from_value(membership["organization"].clone()).unwrap();
    assert_eq!(org.name, "Acme Corp");
    let membership: MembershipData = serde_json::from_value(membership).unwrap();
    assert_eq!(membership.organization, org);
}

#[tokio::test]
async fn clerks_examples_come_through_the_client() {
    let user = reference("user.created.json")["data"].clone();
    let membership = reference("organizationMembership.created.json")["data"].clone();
    let org = membership["organization"].clone();
    let org_id = org["id"].as_str().unwrap().to_owned();
    let fake = Fake::start(Data {
        users: vec![user],
        organizations: vec![org],
        memberships: [(org_id.clone(), vec![membership])].into(),
    })
    .await;
    let api = client(&fake);

    let users = api.all_users(500, |_| {}).await.unwrap();
    assert_eq!(users.len(), 1);
    let user = &users[0];
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(user.external_id.as_deref(), Some("567772"));
    assert_eq!(user.first_name.as_deref(), Some("Example"));
    assert_eq!(user.last_name.as_deref(), Some("Example"));
    assert_eq!(user.username, None);
    assert_eq!(
        user.image_url.as_deref(),
        Some("https://img.clerk.com/xxxxxx")
    );
    let email = user.primary_email().unwrap();
    assert_eq!(email.email_address, "example@example.org");
    assert_eq!(user.email_verified(), Some(true));
    assert!(user.public_metadata.is_empty());
    assert_eq!(user.created_at, 1_654_012_591_514);
    assert_eq!(user.updated_at, 1_654_012_591_835);
    assert_eq!(user.last_sign_in_at, Some(1_654_012_591_514));
    assert_eq!(user.last_active_at, None);

    let (orgs, total) = api.list_organizations_page(10, 0).await.unwrap();
    assert_eq!(total, 1);
    let org = &orgs[0];
    assert_eq!(org.id, "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(org.name, "Acme Corp");
    assert_eq!(org.slug.as_deref(), Some("acme-corp"));
    assert_eq!(
        org.created_by.as_deref(),
        Some("user_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert_eq!(org.created_at, 1_716_883_200_000);

    let members = api.all_memberships(&org_id, 100).await.unwrap();
    assert_eq!(members.len(), 1);
    let member = &members[0];
    assert_eq!(member.id, "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(member.role, "org:member");
    assert_eq!(member.role_name.as_deref(), Some("Member"));
    assert_eq!(member.permissions, ["org:posts:read", "org:posts:write"]);
    assert_eq!(member.user_id(), Some("user_2h8op3Isl1QR7tKu5FGNfaLKEoU"));
    assert_eq!(&member.organization, org);

    let renamed = api.update_organization(&org_id, "Acme Inc").await.unwrap();
    assert_eq!(renamed.name, "Acme Inc");
    assert_eq!(renamed.slug.as_deref(), Some("acme-corp"));
    assert_eq!(
        fake.organization(&org_id).unwrap()["name"],
        json!("Acme Inc")
    );
}
