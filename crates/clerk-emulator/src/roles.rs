//! The organization roles the emulator knows: Clerk's two default roles with
//! the system permissions Clerk gives them in a new instance.
//!
//! Admin: `org:sys_profile:manage`, `org:sys_profile:delete`,
//! `org:sys_memberships:read`, `org:sys_memberships:manage`,
//! `org:sys_domains:read`, `org:sys_domains:manage`.
//! Member: `org:sys_memberships:read`.
//!
//! Custom roles and permissions are not emulated: any other role is refused.

use crate::error::EmulatorError;

#[derive(Debug)]
pub(crate) struct Role {
    /// With its prefix, as the Backend API takes it: `org:admin`.
    pub key: &'static str,
    pub name: &'static str,
    pub permissions: &'static [&'static str],
}

const ROLES: &[Role] = &[
    Role {
        key: "org:admin",
        name: "Admin",
        permissions: &[
            "org:sys_profile:manage",
            "org:sys_profile:delete",
            "org:sys_memberships:read",
            "org:sys_memberships:manage",
            "org:sys_domains:read",
            "org:sys_domains:manage",
        ],
    },
    Role {
        key: "org:member",
        name: "Member",
        permissions: &["org:sys_memberships:read"],
    },
];

/// The organization features (the middle part of `org:<feature>:<action>`)
/// every organization has: what session tokens list, `o:`-scoped, in `fea`.
pub(crate) const ORG_FEATURES: &[&str] = &["sys_profile", "sys_memberships", "sys_domains"];

/// The role named `key`, or Clerk-style 422 naming the known ones.
pub(crate) fn by_key(key: &str) -> Result<&'static Role, EmulatorError> {
    ROLES.iter().find(|r| r.key == key).ok_or_else(|| {
        let known: Vec<&str> = ROLES.iter().map(|r| r.key).collect();
        EmulatorError::invalid_param(
            "role",
            format!(
                "role `{key}` does not exist; the emulator knows {}.",
                known.join(" and ")
            ),
        )
    })
}

/// Name and permissions of a stored role; an unknown one (from a state file
/// written by a later version) has no permissions rather than failing reads.
pub(crate) fn describe(key: &str) -> (&'static str, &'static [&'static str]) {
    by_key(key).map_or(("", &[]), |r| (r.name, r.permissions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_belongs_to_a_known_feature() {
        for role in ROLES {
            for permission in role.permissions {
                let feature = permission.split(':').nth(1).unwrap();
                assert!(ORG_FEATURES.contains(&feature), "{permission}");
            }
        }
    }

    #[test]
    fn unknown_roles_are_refused() {
        assert_eq!(by_key("org:member").unwrap().name, "Member");
        let err = by_key("admin").unwrap_err();
        assert_eq!(err.as_clerk().unwrap().status.as_u16(), 422);
        assert_eq!(describe("org:owner"), ("", &[][..]));
    }
}
