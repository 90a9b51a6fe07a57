//! `session.*` payloads (Clerk's SessionJSON).

use serde::{Deserialize, Serialize};

/// The data of every `session.*` event. The embedded `user` Clerk sends along
/// is ignored: `user.*` events carry users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a Clerk session object")]
pub struct SessionData {
    /// `sess_…`
    pub id: String,
    pub user_id: String,
    /// `active`, `pending`, `ended`, `removed`, `revoked`, … (kept as text: the
    /// spec's list already lags its own examples).
    pub status: String,
    pub last_active_organization_id: Option<String>,
    /// Milliseconds since the epoch, as are all the times below.
    pub last_active_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}
