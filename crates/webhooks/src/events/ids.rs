//! The object ids an event is applied by must name something.
//!
//! Clerk's ids (`user_…`, `org_…`, `orgmem_…`, `sess_…`) are never empty and never hold
//! spaces. A signed event with an empty, blank or absent id is a broken or forged payload:
//! applied, it would make a record keyed by `""` that no token can own, or a deletion of
//! nothing that still answers 200. It is refused as unparseable instead, so nothing is stored
//! and the delivery shows as failing in Clerk's dashboard.

use super::{EventPayload, ParseError};

/// Checks every id the event would be applied by; the error names the first bad one.
pub(crate) fn check(payload: &EventPayload) -> Result<(), ParseError> {
    for (path, id) in required_ids(payload) {
        let problem = match id {
            None => "the id is missing",
            Some("") => "the id is empty",
            Some(id) if id.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                "the id holds spaces or control characters"
            }
            Some(_) => continue,
        };
        return Err(ParseError::field(payload.event_type(), path, problem));
    }
    Ok(())
}

fn required_ids(payload: &EventPayload) -> Vec<(&'static str, Option<&str>)> {
    match payload {
        EventPayload::UserCreated(user) | EventPayload::UserUpdated(user) => {
            vec![("id", Some(&user.id))]
        }
        // Clerk's spec leaves a deleted object's id optional; without one there is nothing to
        // delete, and answering 200 would hide a deletion Keel could not apply.
        EventPayload::UserDeleted(deleted) | EventPayload::OrganizationDeleted(deleted) => {
            vec![("id", deleted.id.as_deref())]
        }
        EventPayload::SessionCreated(session)
        | EventPayload::SessionEnded(session)
        | EventPayload::SessionRemoved(session)
        | EventPayload::SessionRevoked(session)
        | EventPayload::SessionPending(session) => {
            vec![
                ("id", Some(&session.id)),
                ("user_id", Some(&session.user_id)),
            ]
        }
        EventPayload::OrganizationCreated(org) | EventPayload::OrganizationUpdated(org) => {
            vec![("id", Some(&org.id))]
        }
        EventPayload::OrganizationMembershipCreated(membership)
        | EventPayload::OrganizationMembershipUpdated(membership)
        | EventPayload::OrganizationMembershipDeleted(membership) => {
            let mut ids = vec![
                ("id", Some(membership.id.as_str())),
                ("organization.id", Some(membership.organization.id.as_str())),
            ];
            // Optional in the spec; when sent, it names the member.
            if let Some(user) = &membership.public_user_data {
                ids.push(("public_user_data.user_id", Some(user.user_id.as_str())));
            }
            ids
        }
        // Keel does not act on other types; their ids are only recorded.
        EventPayload::Other { .. } => Vec::new(),
    }
}
