//! Clerk's example payloads in `shared/reference/clerk/*.json`, each parsed into
//! the right variant with the right values.

use keel_webhooks::{ClerkEvent, EventPayload};

use crate::support::{read_reference, reference};

fn example(name: &str) -> ClerkEvent {
    let body = read_reference(&format!("clerk/{name}"));
    ClerkEvent::from_slice(body.as_bytes()).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The spec examples share one instance, one request and one timestamp (seconds).
fn assert_spec_envelope(event: &ClerkEvent) {
    assert_eq!(event.object.as_deref(), Some("event"));
    assert_eq!(event.timestamp_ms, 1_716_883_200_000);
    assert_eq!(
        event.instance_id.as_deref(),
        Some("ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    let request = event
        .event_attributes
        .as_ref()
        .and_then(|attributes| attributes.http_request.as_ref())
        .expect("http_request");
    assert_eq!(request.client_ip.as_deref(), Some("192.168.1.100"));
    assert!(
        request
            .user_agent
            .as_deref()
            .unwrap()
            .starts_with("Mozilla/5.0")
    );
}

#[test]
fn every_example_file_parses_under_its_own_type() {
    let dir = reference("clerk");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let event = example(name);
        // Files are named `<type>.json`.
        assert_eq!(
            Some(event.event_type()),
            name.strip_suffix(".json"),
            "{name}"
        );
        assert!(event.object_id().is_some(), "{name}");
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} example files in {}", dir.display());
}

#[test]
fn user_created_from_the_docs() {
    // The docs' example: millisecond timestamp, no event_attributes, no has_image.
    let event = example("user.created.json");
    assert_eq!(event.timestamp_ms, 1_654_012_591_835);
    assert_eq!(event.instance_id.as_deref(), Some("ins_123"));
    assert_eq!(event.event_attributes, None);
    let EventPayload::UserCreated(user) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(user.id, "user_29w83sxmDNGwOuEthce5gg56FcC");
    assert_eq!(user.external_id.as_deref(), Some("567772"));
    assert_eq!(user.username, None);
    assert_eq!(user.first_name.as_deref(), Some("Example"));
    assert_eq!(user.last_name.as_deref(), Some("Example"));
    assert_eq!(
        user.image_url.as_deref(),
        Some("https://img.clerk.com/xxxxxx")
    );
    let email = user.primary_email().expect("primary email");
    assert_eq!(email.id, "idn_29w83yL7CwVlJXylYLxcslromF1");
    assert_eq!(email.email_address, "example@example.org");
    let verification = email.verification.as_ref().unwrap();
    assert_eq!(verification.status, "verified");
    assert_eq!(verification.strategy.as_deref(), Some("ticket"));
    assert_eq!(user.email_verified(), Some(true));
    assert!(user.public_metadata.is_empty());
    assert_eq!(user.role(), None);
    assert_eq!(user.created_at, 1_654_012_591_514);
    assert_eq!(user.updated_at, 1_654_012_591_835);
    assert_eq!(user.last_sign_in_at, Some(1_654_012_591_514));
    assert_eq!(user.last_active_at, None);
    assert_eq!(event.object_id(), Some("user_29w83sxmDNGwOuEthce5gg56FcC"));
    assert_eq!(event.updated_at_ms(), Some(1_654_012_591_835));
}

#[test]
fn user_updated_with_null_private_metadata_and_no_emails() {
    let event = example("user.updated.json");
    assert_spec_envelope(&event);
    let EventPayload::UserUpdated(user) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(user.id, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(user.username.as_deref(), Some("johndoe"));
    assert_eq!(user.last_name.as_deref(), Some("Doe Updated"));
    assert_eq!(user.external_id, None);
    assert_eq!(user.public_metadata["department"], "engineering");
    // The primary id names an address the (empty) list does not hold.
    assert_eq!(
        user.primary_email_address_id.as_deref(),
        Some("idn_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert!(user.email_addresses.is_empty());
    assert_eq!(user.primary_email(), None);
    assert_eq!(user.email_verified(), None);
    assert_eq!(user.last_sign_in_at, Some(1_716_883_400_000));
    assert_eq!(user.last_active_at, Some(1_716_883_500_000));
    assert_eq!(user.created_at, 1_716_883_200_000);
    assert_eq!(event.updated_at_ms(), Some(1_716_883_500_000));
}

#[test]
fn user_deleted_carries_only_the_id() {
    let event = example("user.deleted.json");
    assert_spec_envelope(&event);
    let EventPayload::UserDeleted(deleted) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(deleted.object.as_deref(), Some("user"));
    assert_eq!(
        deleted.id.as_deref(),
        Some("user_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert!(deleted.deleted);
    assert_eq!(deleted.external_id.as_deref(), Some("ex_123456789"));
    assert_eq!(event.object_id(), Some("user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"));
    assert_eq!(event.updated_at_ms(), None);
}

#[test]
fn session_created_ignores_the_embedded_user() {
    let event = example("session.created.json");
    assert_spec_envelope(&event);
    let EventPayload::SessionCreated(session) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(session.id, "sess_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(session.user_id, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(session.status, "active");
    assert_eq!(
        session.last_active_organization_id.as_deref(),
        Some("org_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert_eq!(session.last_active_at, Some(1_716_883_200_000));
    assert_eq!(session.created_at, 1_716_883_200_000);
    assert_eq!(session.updated_at, 1_716_883_200_000);
    assert_eq!(event.object_id(), Some("sess_2g7np7Hrk0SN6kj5EDMLDaKNL0S"));
}

#[test]
fn organization_membership_created() {
    let event = example("organizationMembership.created.json");
    assert_spec_envelope(&event);
    let EventPayload::OrganizationMembershipCreated(membership) = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(membership.id, "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(membership.role, "org:member");
    assert_eq!(membership.role_name.as_deref(), Some("Member"));
    assert_eq!(
        membership.permissions,
        ["org:posts:read", "org:posts:write"]
    );
    let org = &membership.organization;
    assert_eq!(org.id, "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(org.name, "Acme Corp");
    assert_eq!(org.slug.as_deref(), Some("acme-corp"));
    assert_eq!(
        org.created_by.as_deref(),
        Some("user_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    let member = membership.public_user_data.as_ref().unwrap();
    assert_eq!(member.user_id, "user_2h8op3Isl1QR7tKu5FGNfaLKEoU");
    assert_eq!(member.first_name.as_deref(), Some("Jane"));
    assert_eq!(member.identifier.as_deref(), Some("jane.doe@acme.com"));
    assert_eq!(
        membership.user_id(),
        Some("user_2h8op3Isl1QR7tKu5FGNfaLKEoU")
    );
    assert_eq!(membership.created_at, 1_716_883_200_000);
    assert_eq!(
        event.object_id(),
        Some("orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert_eq!(event.updated_at_ms(), Some(1_716_883_200_000));
}

#[test]
fn organization_invitation_accepted_is_other_with_its_id() {
    let event = example("organizationInvitation.accepted.json");
    assert_spec_envelope(&event);
    let EventPayload::Other { event_type, data } = &event.payload else {
        panic!("{:?}", event.payload)
    };
    assert_eq!(event_type, "organizationInvitation.accepted");
    assert_eq!(data["email_address"], "jane.doe@acme.com");
    assert_eq!(
        event.object_id(),
        Some("orginv_2g7np7Hrk0SN6kj5EDMLDaKNL0S")
    );
    assert_eq!(event.updated_at_ms(), Some(1_716_883_500_000));
}
