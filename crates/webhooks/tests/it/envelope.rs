//! The envelope and the variations Clerk's payloads show, built by hand.

use keel_webhooks::{ClerkEvent, EventPayload, ParseError, UserData};
use serde_json::{Value, json};

fn parse(event: &Value) -> Result<ClerkEvent, ParseError> {
    ClerkEvent::from_slice(&serde_json::to_vec(event).unwrap())
}

fn event(event_type: &str, data: Value) -> Value {
    json!({"type": event_type, "object": "event", "timestamp": 1_716_883_200, "data": data})
}

fn user(data: Value) -> UserData {
    match parse(&event("user.updated", data)).unwrap().payload {
        EventPayload::UserUpdated(user) => user,
        other => panic!("{other:?}"),
    }
}

fn minimal_user() -> Value {
    json!({"id": "user_1", "created_at": 1, "updated_at": 2})
}

#[test]
fn timestamps_in_seconds_and_milliseconds_both_become_milliseconds() {
    for (sent, expected) in [
        (1_716_883_200_i64, 1_716_883_200_000_i64),
        (1_716_883_200_123, 1_716_883_200_123),
        (99_999_999_999, 99_999_999_999_000),
        (100_000_000_000, 100_000_000_000),
    ] {
        let mut body = event("user.deleted", json!({"id": "user_1", "deleted": true}));
        body["timestamp"] = json!(sent);
        assert_eq!(parse(&body).unwrap().timestamp_ms, expected, "{sent}");
    }
}

#[test]
fn unknown_types_parse_as_other_with_data_kept() {
    let data = json!({"object": "role", "id": "role_1", "key": "org:editor", "updated_at": 42});
    let parsed = parse(&event("role.created", data.clone())).unwrap();
    assert_eq!(parsed.event_type(), "role.created");
    assert_eq!(parsed.object_id(), Some("role_1"));
    assert_eq!(parsed.updated_at_ms(), Some(42));
    assert_eq!(
        parsed.payload,
        EventPayload::Other {
            event_type: "role.created".into(),
            data
        }
    );

    let brand_new = parse(&event("somethingNew.happened", json!([1, 2]))).unwrap();
    assert_eq!(brand_new.event_type(), "somethingNew.happened");
    assert_eq!(brand_new.object_id(), None);
    assert_eq!(brand_new.updated_at_ms(), None);

    let numeric_id = parse(&event("x.y", json!({"id": 7, "updated_at": "soon"}))).unwrap();
    assert_eq!(numeric_id.object_id(), None);
    assert_eq!(numeric_id.updated_at_ms(), None);
}

#[test]
fn optional_envelope_fields_may_be_missing() {
    let parsed = parse(&json!({
        "type": "user.deleted", "timestamp": 1, "data": {"id": "user_1", "deleted": true}
    }))
    .unwrap();
    assert_eq!(parsed.object, None);
    assert_eq!(parsed.instance_id, None);
    assert_eq!(parsed.event_attributes, None);
    // Unknown envelope fields are ignored.
    let mut extra = event("user.deleted", json!({"id": "u", "deleted": true}));
    extra["api_version"] = json!("2025-04-15");
    extra["event_attributes"] = json!({"http_request": null, "other": 1});
    let parsed = parse(&extra).unwrap();
    assert_eq!(parsed.event_attributes.unwrap().http_request, None);
}

#[test]
fn a_minimal_user_parses_with_empty_defaults() {
    let user = user(minimal_user());
    assert_eq!(user.id, "user_1");
    assert_eq!(user.first_name, None);
    assert_eq!(user.image_url, None);
    assert!(user.email_addresses.is_empty());
    assert!(user.public_metadata.is_empty());
    assert_eq!(user.last_sign_in_at, None);
    assert_eq!(user.primary_email(), None);
    assert_eq!(user.email_verified(), None);
    assert_eq!(user.role(), None);
}

#[test]
fn nulls_where_clerk_sends_them_are_tolerated() {
    let user = user(json!({
        "id": "user_1", "created_at": 1, "updated_at": 2,
        "username": null, "first_name": null, "last_name": null, "image_url": null,
        "primary_email_address_id": null, "email_addresses": null,
        "public_metadata": null, "private_metadata": null, "unsafe_metadata": null,
        "last_sign_in_at": null, "last_active_at": null, "external_id": null,
        "has_image": false, "banned": false
    }));
    assert!(user.public_metadata.is_empty());
    assert!(user.email_addresses.is_empty());

    let membership = parse(&event(
        "organizationMembership.deleted",
        json!({
            "id": "orgmem_1", "role": "org:member", "permissions": null,
            "public_metadata": null, "public_user_data": null,
            "organization": {"id": "org_1", "name": "Acme", "slug": null,
                             "public_metadata": null, "created_at": 1, "updated_at": 2},
            "created_at": 1, "updated_at": 3
        }),
    ))
    .unwrap();
    assert_eq!(membership.object_id(), Some("orgmem_1"));
    assert_eq!(membership.updated_at_ms(), Some(3));
    let EventPayload::OrganizationMembershipDeleted(membership) = membership.payload else {
        panic!()
    };
    assert!(membership.permissions.is_empty());
    assert_eq!(membership.user_id(), None);
    assert_eq!(membership.organization.slug, None);
}

#[test]
fn the_primary_email_is_found_through_its_id() {
    let mut data = minimal_user();
    data["primary_email_address_id"] = json!("idn_2");
    data["email_addresses"] = json!([
        {"id": "idn_1", "email_address": "old@example.com",
         "verification": {"status": "verified", "strategy": "email_code"}},
        {"id": "idn_2", "email_address": "new@example.com",
         "verification": {"status": "unverified", "strategy": "email_code"}},
        {"id": "idn_3", "email_address": "none@example.com", "verification": null}
    ]);
    let found = user(data.clone());
    assert_eq!(
        found.primary_email().unwrap().email_address,
        "new@example.com"
    );
    assert_eq!(found.email_verified(), Some(false));

    data["primary_email_address_id"] = json!("idn_3");
    assert_eq!(user(data.clone()).email_verified(), Some(false));
    data["primary_email_address_id"] = json!("idn_1");
    assert_eq!(user(data.clone()).email_verified(), Some(true));
    // An id naming no address gives none, not the first one.
    data["primary_email_address_id"] = json!("idn_9");
    assert_eq!(user(data.clone()).primary_email(), None);
    data["primary_email_address_id"] = Value::Null;
    assert_eq!(user(data).primary_email(), None);
}

#[test]
fn an_address_without_an_id_never_counts_as_primary() {
    let mut data = minimal_user();
    data["primary_email_address_id"] = json!("");
    data["email_addresses"] = json!([{"email_address": "a@example.com"}]);
    let user = user(data);
    assert_eq!(user.email_addresses[0].id, "");
    assert_eq!(user.primary_email(), None);
}

#[test]
fn role_is_public_metadata_role_when_it_is_a_string() {
    let mut data = minimal_user();
    data["public_metadata"] = json!({"role": "admin"});
    assert_eq!(user(data.clone()).role(), Some("admin"));
    data["public_metadata"] = json!({"role": ["admin"]});
    assert_eq!(user(data.clone()).role(), None);
    data["public_metadata"] = json!({"roles": "admin"});
    assert_eq!(user(data).role(), None);
}

#[test]
fn event_type_round_trips_for_every_typed_family() {
    let user = minimal_user();
    let deleted = json!({"id": "x_1", "deleted": true});
    let session = json!({"id": "sess_1", "user_id": "user_1", "status": "active",
                         "created_at": 1, "updated_at": 2});
    let org = json!({"id": "org_1", "name": "Acme", "created_at": 1, "updated_at": 2});
    let membership = json!({"id": "orgmem_1", "role": "org:admin", "organization": org,
                            "public_user_data": {"user_id": "user_1"},
                            "created_at": 1, "updated_at": 2});
    let cases = [
        ("user.created", &user),
        ("user.updated", &user),
        ("user.deleted", &deleted),
        ("session.created", &session),
        ("session.ended", &session),
        ("session.removed", &session),
        ("session.revoked", &session),
        ("session.pending", &session),
        ("organization.created", &org),
        ("organization.updated", &org),
        ("organization.deleted", &deleted),
        ("organizationMembership.created", &membership),
        ("organizationMembership.updated", &membership),
        ("organizationMembership.deleted", &membership),
    ];
    for (event_type, data) in cases {
        let parsed = parse(&event(event_type, data.clone())).unwrap();
        assert_eq!(parsed.event_type(), event_type);
        assert!(
            !matches!(parsed.payload, EventPayload::Other { .. }),
            "{event_type}"
        );
        assert!(parsed.object_id().is_some(), "{event_type}");
    }
}

#[test]
fn malformed_json_names_the_position() {
    let err = ClerkEvent::from_slice(b"{\"type\" x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed JSON: expected `:` at line 1 column 9"
    );
    let err = ClerkEvent::from_slice(b"").unwrap_err();
    assert!(err.message().starts_with("malformed JSON: EOF"), "{err}");
    let err = ClerkEvent::from_slice(b"{\"type\": \"user.created\"").unwrap_err();
    assert!(err.message().starts_with("malformed JSON: EOF"), "{err}");
}

#[test]
fn missing_envelope_fields_are_named() {
    for missing in ["type", "data", "timestamp"] {
        let mut body = event("user.deleted", json!({"id": "u", "deleted": true}));
        body.as_object_mut().unwrap().remove(missing);
        let err = parse(&body).unwrap_err();
        let expected = format!("invalid event: missing field `{missing}`");
        assert!(err.message().starts_with(&expected), "{err}");
    }
    let err = ClerkEvent::from_slice(b"5").unwrap_err();
    assert!(
        err.message()
            .contains("expected a Clerk webhook event object"),
        "{err}"
    );
}

#[test]
fn bad_typed_data_names_the_field_path() {
    let err = parse(&event(
        "user.created",
        json!({"created_at": 1, "updated_at": 2}),
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid user.created data: missing field `id`"
    );

    let mut data = minimal_user();
    data["email_addresses"] = json!([{"id": "idn_1", "email_address": 5}]);
    let err = parse(&event("user.created", data)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid user.created data at `data.email_addresses[0].email_address`: \
         invalid type: integer `5`, expected a string"
    );

    let err = parse(&event("session.ended", json!("sess_1"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid session.ended data: invalid type: string \"sess_1\", \
         expected a Clerk session object"
    );
}

#[test]
fn errors_never_carry_much_of_the_body() {
    let secretish = "s".repeat(10_000);
    let mut data = minimal_user();
    data["created_at"] = json!(secretish.clone());
    let err = parse(&event("user.updated", data)).unwrap_err();
    assert!(err.message().contains("`data.created_at`"), "{err}");
    assert!(err.message().len() < 400, "{} chars", err.message().len());

    let mut body = event("user.deleted", json!({"id": "u", "deleted": true}));
    body["timestamp"] = json!(secretish);
    let err = parse(&body).unwrap_err();
    assert!(
        err.message()
            .starts_with("invalid event: invalid type: string")
    );
    assert!(err.message().len() < 400, "{} chars", err.message().len());
}

#[test]
fn empty_blank_or_missing_object_ids_are_refused_with_their_path() {
    let org = json!({"id": "org_1", "name": "Acme", "created_at": 1, "updated_at": 2});
    let membership = json!({"id": "orgmem_1", "role": "org:admin", "organization": org,
                            "public_user_data": {"user_id": "user_1"},
                            "created_at": 1, "updated_at": 2});
    let session = json!({"id": "sess_1", "user_id": "user_1", "status": "active",
                         "created_at": 1, "updated_at": 2});
    let deleted = json!({"id": "x_1", "deleted": true});
    // (type, data, JSON pointer to change, new value or None to remove, expected message)
    let cases = [
        (
            "user.created",
            minimal_user(),
            "/id",
            Some(json!("")),
            "`data.id`: the id is empty",
        ),
        (
            "user.updated",
            minimal_user(),
            "/id",
            Some(json!("user 1")),
            "`data.id`: the id holds spaces",
        ),
        (
            "user.deleted",
            deleted.clone(),
            "/id",
            Some(json!("")),
            "`data.id`: the id is empty",
        ),
        (
            "user.deleted",
            deleted.clone(),
            "/id",
            None,
            "`data.id`: the id is missing",
        ),
        (
            "organization.deleted",
            deleted.clone(),
            "/id",
            Some(Value::Null),
            "`data.id`: the id is missing",
        ),
        (
            "organization.created",
            org.clone(),
            "/id",
            Some(json!("\t")),
            "`data.id`: the id holds",
        ),
        (
            "session.ended",
            session.clone(),
            "/id",
            Some(json!("")),
            "`data.id`: the id is empty",
        ),
        (
            "session.created",
            session,
            "/user_id",
            Some(json!("")),
            "`data.user_id`: the id is empty",
        ),
        (
            "organizationMembership.created",
            membership.clone(),
            "/id",
            Some(json!("")),
            "`data.id`",
        ),
        (
            "organizationMembership.updated",
            membership.clone(),
            "/organization/id",
            Some(json!("")),
            "`data.organization.id`",
        ),
        (
            "organizationMembership.deleted",
            membership,
            "/public_user_data/user_id",
            Some(json!(" ")),
            "`data.public_user_data.user_id`",
        ),
    ];
    for (event_type, mut data, pointer, value, expected) in cases {
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let parent = data.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(value) => parent.insert(field.to_string(), value),
            None => parent.remove(field),
        };
        let err = parse(&event(event_type, data)).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("invalid {event_type} data at "))
                && message.contains(expected),
            "{event_type}: {message}"
        );
    }
    // Other types are only recorded: an empty id there is not Keel's to judge.
    assert!(parse(&event("role.created", json!({"id": ""}))).is_ok());
}
