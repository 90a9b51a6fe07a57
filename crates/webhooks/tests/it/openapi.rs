//! Every example in Clerk's webhook OpenAPI spec parses, under its own type.
//!
//! The spec (`shared/reference/clerk/clerk-webhooks-2025-04-15.yml`) lists each
//! event under `x-webhooks.<type>.post.requestBody.content.application/json`,
//! with either an inline `example` or `examples.<name>` holding a `value` or a
//! `$ref` into `components.examples`.

use std::collections::BTreeMap;

use keel_webhooks::{ClerkEvent, EventPayload};
use serde_norway::Value as Yaml;

use crate::support::read_reference;

const SPEC: &str = "clerk/clerk-webhooks-2025-04-15.yml";

/// The families Keel types; every other type must come out as `Other`.
const TYPED: [&str; 14] = [
    "user.created",
    "user.updated",
    "user.deleted",
    "session.created",
    "session.ended",
    "session.removed",
    "session.revoked",
    "session.pending",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organizationMembership.created",
    "organizationMembership.updated",
    "organizationMembership.deleted",
];

/// `(event type, example name)` → the example as JSON bytes.
fn spec_examples() -> BTreeMap<(String, String), Vec<u8>> {
    let spec: Yaml = serde_norway::from_str(&read_reference(SPEC)).unwrap();
    let webhooks = spec["x-webhooks"].as_mapping().expect("x-webhooks");
    let mut examples = BTreeMap::new();
    for (name, webhook) in webhooks {
        let event_type = name.as_str().unwrap().to_owned();
        let content = &webhook["post"]["requestBody"]["content"]["application/json"];
        if !content["example"].is_null() {
            examples.insert(
                (event_type.clone(), "example".to_owned()),
                to_json(&content["example"]),
            );
        }
        if let Some(named) = content["examples"].as_mapping() {
            for (label, example) in named {
                let value = resolve(&spec, example);
                examples.insert(
                    (event_type.clone(), label.as_str().unwrap().to_owned()),
                    to_json(&value["value"]),
                );
            }
        }
    }
    examples
}

/// Follows a `$ref: '#/components/examples/<name>'`.
fn resolve<'a>(spec: &'a Yaml, example: &'a Yaml) -> &'a Yaml {
    match example["$ref"].as_str() {
        Some(reference) => {
            let path = reference.strip_prefix("#/").expect("local $ref");
            path.split('/').fold(spec, |node, key| &node[key])
        }
        None => example,
    }
}

fn to_json(example: &Yaml) -> Vec<u8> {
    assert!(!example.is_null(), "empty example");
    serde_json::to_vec(example).unwrap()
}

#[test]
fn every_spec_example_parses_under_its_own_type() {
    let examples = spec_examples();
    let spec: Yaml = serde_norway::from_str(&read_reference(SPEC)).unwrap();
    let declared = spec["x-webhooks"].as_mapping().unwrap().len();
    let covered: std::collections::BTreeSet<_> =
        examples.keys().map(|(event_type, _)| event_type).collect();
    // Extraction found an example for every declared event.
    assert_eq!(covered.len(), declared, "types without an example");
    assert!(declared >= 40, "only {declared} webhooks declared");

    for ((event_type, label), body) in &examples {
        let event = ClerkEvent::from_slice(body)
            .unwrap_or_else(|err| panic!("{event_type} ({label}): {err}"));
        assert_eq!(event.event_type(), event_type);
        // Every spec example uses seconds.
        assert_eq!(event.timestamp_ms, 1_716_883_200_000, "{event_type}");
        let typed = !matches!(event.payload, EventPayload::Other { .. });
        assert_eq!(typed, TYPED.contains(&event_type.as_str()), "{event_type}");
        if typed {
            assert!(event.object_id().is_some(), "{event_type}");
        }
    }
}

#[test]
fn typed_spec_examples_hold_the_expected_values() {
    let examples = spec_examples();
    let parse = |event_type: &str| {
        let key = (event_type.to_owned(), "example".to_owned());
        let body = examples
            .get(&key)
            .or_else(|| examples.get(&(event_type.to_owned(), "default".to_owned())))
            .unwrap_or_else(|| panic!("no example for {event_type}"));
        ClerkEvent::from_slice(body).unwrap()
    };

    let EventPayload::UserCreated(user) = parse("user.created").payload else {
        panic!("user.created")
    };
    assert_eq!(user.id, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S");
    assert_eq!(user.username, None);
    assert!(user.email_addresses.is_empty());

    let EventPayload::OrganizationUpdated(org) = parse("organization.updated").payload else {
        panic!("organization.updated")
    };
    assert_eq!(org.name, "Acme Corp Updated");
    assert_eq!(org.slug.as_deref(), Some("acme-corp-updated"));
    assert_eq!(org.public_metadata["department"], "engineering");
    assert_eq!(org.updated_at, 1_716_883_500_000);

    let event = parse("organization.deleted");
    let EventPayload::OrganizationDeleted(deleted) = &event.payload else {
        panic!("organization.deleted")
    };
    assert_eq!(deleted.slug.as_deref(), Some("acme-corp"));
    assert_eq!(event.object_id(), Some("org_2g7np7Hrk0SN6kj5EDMLDaKNL0S"));

    let EventPayload::OrganizationMembershipUpdated(membership) =
        parse("organizationMembership.updated").payload
    else {
        panic!("organizationMembership.updated")
    };
    assert_eq!(membership.role, "org:admin");
    assert_eq!(membership.permissions.len(), 4);

    for (event_type, status) in [
        ("session.pending", "pending"),
        ("session.ended", "ended"),
        ("session.removed", "removed"),
        ("session.revoked", "revoked"),
    ] {
        let event = parse(event_type);
        assert_eq!(event.event_type(), event_type);
        let session = match event.payload {
            EventPayload::SessionPending(session)
            | EventPayload::SessionEnded(session)
            | EventPayload::SessionRemoved(session)
            | EventPayload::SessionRevoked(session) => session,
            other => panic!("{other:?}"),
        };
        assert_eq!(session.status, status);
        // Only the active example names an organization.
        assert_eq!(session.last_active_organization_id, None);
    }
}
