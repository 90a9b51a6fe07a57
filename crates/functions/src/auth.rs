use std::sync::Arc;

use async_trait::async_trait;
use keel_auth::UserIdentity;
use keel_store::Reader;

use crate::{FnError, FnResult};

/// Decides whether a signed-in user holds an application role (such as `admin`). The app
/// supplies it, because roles live in its data (a `users` table) as well as in tokens.
#[async_trait]
pub trait RoleResolver: Send + Sync + 'static {
    async fn has_role(&self, db: &Reader, identity: &UserIdentity, role: &str) -> FnResult<bool>;
}

/// Knows no roles: every role check fails. For apps that declare none.
pub struct NoRoles;

#[async_trait]
impl RoleResolver for NoRoles {
    async fn has_role(&self, _: &Reader, _: &UserIdentity, _: &str) -> FnResult<bool> {
        Ok(false)
    }
}

/// `ctx.auth`: who is calling, from the verified token (never from arguments).
#[derive(Clone)]
pub struct Auth {
    identity: Option<Arc<UserIdentity>>,
    roles: Arc<dyn RoleResolver>,
}

impl Auth {
    pub(crate) fn new(identity: Option<Arc<UserIdentity>>, roles: Arc<dyn RoleResolver>) -> Self {
        Auth { identity, roles }
    }

    /// The caller's identity, `None` when signed out (Convex's `getUserIdentity()`).
    pub fn identity(&self) -> Option<&Arc<UserIdentity>> {
        self.identity.as_ref()
    }

    /// The caller's identity, or `UNAUTHENTICATED`.
    pub fn require(&self) -> FnResult<&Arc<UserIdentity>> {
        self.identity.as_ref().ok_or_else(FnError::unauthenticated)
    }

    /// Whether the caller holds `role`; false when signed out.
    pub async fn has_role(&self, db: &Reader, role: &str) -> FnResult<bool> {
        match &self.identity {
            Some(identity) => self.roles.has_role(db, identity, role).await,
            None => Ok(false),
        }
    }
}
