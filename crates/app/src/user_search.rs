//! What the admin Users table searches and filters by, kept on every user record so
//! `users:list` reads index ranges and never the whole table:
//! - `status`: `"active"` or `"deleted"` (from `isActive`), for `[status, …]` indexes;
//! - `nameLower`: first and last name, lower-cased, one space apart (`"ada lovelace"`), so
//!   "ada" and "ada lo" find Ada Lovelace;
//! - `lastNameLower`: the last name alone, so "love" finds her too.
//!
//! `email` is stored lower-cased already and is searched as it is. Every writer of `users`
//! goes through [`insert_user`] or [`patch_user`], which derive these fields from the record
//! as written. Records written before the fields existed are filled in once at start-up by
//! `users:backfillSearchFields` (see `docs/DESIGN.md`, App).

use keel_functions::{DocumentId, FnResult, MutationCtx, Writer};
use keel_store::Document;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The users table's indexes for the admin list.
pub(crate) const BY_STATUS: &str = "by_status";
pub(crate) const BY_STATUS_ROLE: &str = "by_status_role";
pub(crate) const BY_STATUS_EMAIL: &str = "by_status_email";
pub(crate) const BY_STATUS_NAME: &str = "by_status_name";
pub(crate) const BY_STATUS_LAST_NAME: &str = "by_status_last_name";

/// The searchable fields, with the index that serves a prefix search on each.
pub(crate) const SEARCHED: [(&str, &str); 3] = [
    (BY_STATUS_EMAIL, "email"),
    (BY_STATUS_NAME, "nameLower"),
    (BY_STATUS_LAST_NAME, "lastNameLower"),
];

pub(crate) const ACTIVE: &str = "active";
pub(crate) const DELETED: &str = "deleted";

/// How search text and names compare: trimmed, lower-cased, runs of whitespace as one space.
pub(crate) fn normalize(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The derived fields of a user record (its fields as they will be stored).
pub(crate) fn derived(record: &Map<String, Json>) -> Map<String, Json> {
    let text = |field: &str| {
        record
            .get(field)
            .and_then(Json::as_str)
            .map(normalize)
            .filter(|s| !s.is_empty())
    };
    let name = [text("firstName"), text("lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let active = record.get("isActive") != Some(&Json::Bool(false));
    let mut fields = Map::new();
    fields.insert(
        "status".into(),
        Json::from(if active { ACTIVE } else { DELETED }),
    );
    fields.insert(
        "nameLower".into(),
        Some(name)
            .filter(|n| !n.is_empty())
            .map_or(Json::Null, Json::from),
    );
    fields.insert(
        "lastNameLower".into(),
        text("lastName").map_or(Json::Null, Json::from),
    );
    fields
}

/// Inserts a user record with its derived fields.
pub(crate) async fn insert_user(
    db: &Writer,
    mut record: Map<String, Json>,
) -> FnResult<DocumentId> {
    let extra = derived(&record);
    record.extend(extra);
    Ok(db.insert("users", record).await?)
}

/// Patches a user record, with its derived fields as they follow from the result.
pub(crate) async fn patch_user(
    db: &Writer,
    user: &Document,
    mut changes: Map<String, Json>,
) -> FnResult<()> {
    let mut merged = user.fields().clone();
    merged.extend(changes.clone());
    for (field, value) in derived(&merged) {
        if merged.get(&field) != Some(&value) {
            changes.insert(field, value);
        }
    }
    Ok(db.patch(user.id(), changes).await?)
}

/// How many records one backfill transaction fills.
const BACKFILL_BATCH: usize = 500;

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackfillArgs {}

/// What one backfill call did.
#[derive(Deserialize, Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BackfillResult {
    /// Records filled in by this call.
    pub filled: usize,
    /// Whether records without the fields may remain (call again).
    pub more: bool,
}

/// `users:backfillSearchFields` (internal): fills the derived fields of up to 500 records
/// written before they existed. A record without `status` sorts first in `by_status` (a
/// missing field is below every value), so they are found by index, not by a scan.
pub(crate) async fn backfill(ctx: MutationCtx, _: BackfillArgs) -> FnResult<BackfillResult> {
    let missing = ctx
        .db
        .query("users")
        .with_index(BY_STATUS, |r| r.lt("status", Json::Null))
        .take(BACKFILL_BATCH)
        .await?;
    for user in &missing {
        patch_user(&ctx.db, user, Map::new()).await?;
    }
    Ok(BackfillResult {
        filled: missing.len(),
        more: missing.len() == BACKFILL_BATCH,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn derive(record: Json) -> Json {
        Json::Object(derived(record.as_object().unwrap()))
    }

    #[test]
    fn names_are_lower_cased_and_joined() {
        assert_eq!(
            derive(json!({"firstName": " Ada ", "lastName": "Lovelace  King", "isActive": true})),
            json!({"status": "active", "nameLower": "ada lovelace king", "lastNameLower": "lovelace king"})
        );
        assert_eq!(
            derive(json!({"firstName": null, "lastName": "Ür", "isActive": false})),
            json!({"status": "deleted", "nameLower": "ür", "lastNameLower": "ür"})
        );
        assert_eq!(
            derive(json!({"firstName": "  "})),
            json!({"status": "active", "nameLower": null, "lastNameLower": null})
        );
        assert_eq!(normalize("  Ada \t LO "), "ada lo");
    }
}
