use std::collections::HashSet;

use async_trait::async_trait;
use keel_functions::{FnResult, Reader, RoleResolver, UserIdentity};

use crate::users::find_by_clerk_id;

/// Application roles. A user is `admin` when the token says so (`metadata.role`, Clerk's
/// documented RBAC pattern), when the stored record's `publicMetadata.role` says so (synced
/// from Clerk), or when the user's id is listed in `KEEL_ADMIN_USER_IDS`.
pub struct AppRoles {
    admin_user_ids: HashSet<String>,
}

impl AppRoles {
    pub fn new(admin_user_ids: impl IntoIterator<Item = String>) -> Self {
        AppRoles {
            admin_user_ids: admin_user_ids.into_iter().collect(),
        }
    }
}

#[async_trait]
impl RoleResolver for AppRoles {
    async fn has_role(&self, db: &Reader, identity: &UserIdentity, role: &str) -> FnResult<bool> {
        if role == "admin" && self.admin_user_ids.contains(&identity.subject) {
            return Ok(true);
        }
        if identity.metadata_role() == Some(role) {
            return Ok(true);
        }
        let stored = find_by_clerk_id(db, &identity.subject).await?;
        Ok(stored.is_some_and(|user| {
            user.get("publicMetadata")
                .and_then(|m| m.get("role"))
                .and_then(|r| r.as_str())
                == Some(role)
        }))
    }
}
