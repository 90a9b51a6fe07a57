use keel_clerk_api::ClerkApiError;

use crate::client;
use crate::fake::{self, Fake};

#[tokio::test]
async fn all_organizations_pages_oldest_first() {
    let fake = Fake::start(fake::organizations(7, 0)).await;
    let orgs = client(&fake).all_organizations(3).await.unwrap();
    let ids: Vec<&str> = orgs.iter().map(|org| org.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "org_000", "org_001", "org_002", "org_003", "org_004", "org_005", "org_006"
        ]
    );
    assert_eq!(orgs[2].name, "Org 2");
    assert_eq!(orgs[2].slug.as_deref(), Some("org-2"));
    assert_eq!(orgs[2].created_by.as_deref(), Some("user_00000"));
    let queries: Vec<String> = fake.seen().into_iter().map(|s| s.query).collect();
    assert_eq!(
        queries,
        [
            "limit=3&offset=0&order_by=%2Bcreated_at",
            "limit=3&offset=3&order_by=%2Bcreated_at",
            "limit=3&offset=6&order_by=%2Bcreated_at",
        ]
    );
}

#[tokio::test]
async fn total_count_saves_the_empty_last_page() {
    let fake = Fake::start(fake::organizations(6, 0)).await;
    let orgs = client(&fake).all_organizations(3).await.unwrap();
    assert_eq!(orgs.len(), 6);
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn list_organizations_page_returns_the_total() {
    let fake = Fake::start(fake::organizations(7, 0)).await;
    let (page, total) = client(&fake).list_organizations_page(2, 4).await.unwrap();
    assert_eq!(total, 7);
    let ids: Vec<&str> = page.iter().map(|org| org.id.as_str()).collect();
    assert_eq!(ids, ["org_004", "org_005"]);
}

#[tokio::test]
async fn all_memberships_pages_one_organizations_members() {
    let fake = Fake::start(fake::organizations(3, 5)).await;
    let members = client(&fake).all_memberships("org_001", 2).await.unwrap();
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "orgmem_001_000",
            "orgmem_001_001",
            "orgmem_001_002",
            "orgmem_001_003",
            "orgmem_001_004"
        ]
    );
    assert_eq!(members[0].role, "org:admin");
    assert_eq!(members[1].role, "org:member");
    assert_eq!(members[3].user_id(), Some("user_00003"));
    assert_eq!(members[3].organization.id, "org_001");
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.path == "/v1/organizations/org_001/memberships")
    );
    assert_eq!(seen[2].query, "limit=2&offset=4&order_by=%2Bcreated_at");
}

#[tokio::test]
async fn memberships_of_an_unknown_organization_are_not_found() {
    let fake = Fake::start(fake::organizations(1, 1)).await;
    let error = client(&fake)
        .all_memberships("org_nope", 100)
        .await
        .unwrap_err();
    assert_eq!(error, ClerkApiError::NotFound);
    // An id cannot reach another path.
    let error = client(&fake)
        .all_memberships("org_000/memberships/../..", 100)
        .await
        .unwrap_err();
    assert_eq!(error, ClerkApiError::NotFound);
    assert_eq!(
        fake.seen()[1].path,
        "/v1/organizations/org_000%2Fmemberships%2F..%2F../memberships"
    );
}

#[tokio::test]
async fn update_organization_patches_the_name() {
    let fake = Fake::start(fake::organizations(2, 0)).await;
    let updated = client(&fake)
        .update_organization("org_001", "Renamed \"Org\" ✓")
        .await
        .unwrap();
    assert_eq!(updated.id, "org_001");
    assert_eq!(updated.name, "Renamed \"Org\" ✓");
    assert_eq!(updated.updated_at, updated.created_at + 1);
    assert_eq!(
        fake.organization("org_001").unwrap()["name"],
        "Renamed \"Org\" ✓"
    );
    assert_eq!(fake.organization("org_000").unwrap()["name"], "Org 0");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].path, "/v1/organizations/org_001");
}

#[tokio::test]
async fn updating_an_unknown_organization_is_not_found() {
    let fake = Fake::start(fake::organizations(1, 0)).await;
    let error = client(&fake)
        .update_organization("org_missing", "x")
        .await
        .unwrap_err();
    assert_eq!(error, ClerkApiError::NotFound);
}

#[tokio::test]
async fn get_organization_reads_one_and_an_unknown_one_is_not_found() {
    let fake = Fake::start(fake::organizations(3, 0)).await;
    let org = client(&fake).get_organization("org_002").await.unwrap();
    assert_eq!(org.name, "Org 2");
    let missing = client(&fake)
        .get_organization("org_gone")
        .await
        .unwrap_err();
    assert_eq!(missing, ClerkApiError::NotFound);
}
