//! What the product brief's `UserChatList` sends to `users:syncUserProfile`:
//! `{ email, firstName, lastName, imageUrl }` from Clerk's `useUser()` in the browser, each a
//! string or null. Nothing here is verified, so none of it is identity:
//! - `email` is accepted and never stored: an address is an identity claim (`getByEmail`
//!   answers a user their own record by it), set only by a verified token or by Clerk.
//! - `imageUrl` is accepted and never stored: other people's browsers (admins, fellow
//!   members) would fetch a URL the client chose; Clerk's own arrives with the token or the
//!   webhook.
//! - `firstName` and `lastName` only fill what is still empty on a record first login made:
//!   a user edits their own names in Clerk anyway, and a session token without name claims
//!   would otherwise leave them blank until a webhook arrives. A token claim or Clerk's data
//!   replaces them.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use keel_functions::{FnError, FnResult, TS};

/// Clerk's own limit on a first or last name is in this range; anything longer is not a name.
const MAX_NAME_CHARS: usize = 256;

#[derive(Deserialize, Default, TS)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub(crate) struct ProfileHints {
    #[serde(default, rename = "email")]
    _email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default, rename = "imageUrl")]
    _image_url: Option<String>,
}

impl ProfileHints {
    /// The names a client may fill in, trimmed, without empty ones; `Err` names a name that is
    /// too long.
    pub fn names(&self) -> FnResult<Vec<(&'static str, String)>> {
        let mut names = Vec::new();
        for (field, value) in [
            ("firstName", &self.first_name),
            ("lastName", &self.last_name),
        ] {
            let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            if value.chars().count() > MAX_NAME_CHARS {
                return Err(FnError::invalid_argument(format!(
                    "Invalid argument `{field}`: at most {MAX_NAME_CHARS} characters"
                )));
            }
            names.push((field, value.to_string()));
        }
        Ok(names)
    }
}

/// Adds each name to `changes` where the stored record (`None` for a new one) and `changes`
/// both leave the field empty: a value from the token or Clerk is never replaced.
pub(crate) fn fill_names(
    names: Vec<(&'static str, String)>,
    stored: Option<&Map<String, Json>>,
    changes: &mut Map<String, Json>,
) {
    let empty = |value: Option<&Json>| value.is_none_or(Json::is_null);
    for (field, value) in names {
        if empty(stored.and_then(|s| s.get(field))) && empty(changes.get(field)) {
            changes.insert(field.to_string(), Json::String(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn hints(args: Json) -> ProfileHints {
        serde_json::from_value(args).unwrap()
    }

    #[test]
    fn only_names_are_offered_and_blank_ones_are_dropped() {
        let args = hints(
            json!({"email": "x@example.com", "firstName": " Ada ", "lastName": "  ",
                                "imageUrl": "https://evil.example/p.png"}),
        );
        assert_eq!(
            args.names().unwrap(),
            vec![("firstName", "Ada".to_string())]
        );
        assert!(
            hints(json!({"firstName": null}))
                .names()
                .unwrap()
                .is_empty()
        );
        let long = hints(json!({"lastName": "x".repeat(MAX_NAME_CHARS + 1)}));
        assert!(long.names().unwrap_err().to_string().contains("`lastName`"));
    }

    #[test]
    fn names_fill_only_what_neither_the_record_nor_the_token_has() {
        let names = || {
            vec![
                ("firstName", "Client".to_string()),
                ("lastName", "Client".to_string()),
            ]
        };
        let stored = json!({"firstName": "Stored", "lastName": null});
        let mut changes = Map::new();
        fill_names(names(), stored.as_object(), &mut changes);
        assert_eq!(Json::Object(changes), json!({"lastName": "Client"}));

        let mut from_token = json!({"firstName": null, "lastName": "Token"})
            .as_object()
            .unwrap()
            .clone();
        fill_names(names(), None, &mut from_token);
        assert_eq!(
            Json::Object(from_token),
            json!({"firstName": "Client", "lastName": "Token"})
        );
    }
}
