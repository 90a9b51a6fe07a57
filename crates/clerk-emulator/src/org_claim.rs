//! The v2 session token's compact organization claim `o` and its companion
//! `fea`, from the session's active organization and the member's role.
//!
//! Encoding: `fea` lists the organization's features (`o:<feature>`);
//! `per` lists the member's distinct action names; `fpm` has one integer per
//! feature whose bit i says "this member has `org:<feature>:<per[i]>`".

use serde_json::{Value, json};

use crate::membership::Membership;
use crate::organization::Organization;
use crate::roles::ORG_FEATURES;

/// The `o` claim and the `fea` value for a membership.
pub(crate) fn encode(organization: &Organization, membership: &Membership) -> (Value, String) {
    let permissions: Vec<(&str, &str)> = membership
        .permissions()
        .iter()
        .filter_map(|p| split(p))
        .collect();
    // Features every organization has, then any a permission names besides.
    let mut features: Vec<&str> = ORG_FEATURES.to_vec();
    let mut actions: Vec<&str> = Vec::new();
    for &(feature, action) in &permissions {
        if !features.contains(&feature) {
            features.push(feature);
        }
        if !actions.contains(&action) {
            actions.push(action);
        }
    }
    let masks: Vec<String> = features
        .iter()
        .map(|&feature| {
            let mask = actions
                .iter()
                .enumerate()
                .fold(0u64, |mask, (bit, &action)| {
                    if permissions.contains(&(feature, action)) {
                        mask | 1 << bit
                    } else {
                        mask
                    }
                });
            mask.to_string()
        })
        .collect();
    let role = membership
        .role
        .strip_prefix("org:")
        .unwrap_or(&membership.role);
    let o = json!({
        "id": organization.id,
        "slg": organization.slug,
        "rol": role,
        "per": actions.join(","),
        "fpm": masks.join(","),
    });
    let fea = features
        .iter()
        .map(|f| format!("o:{f}"))
        .collect::<Vec<_>>()
        .join(",");
    (o, fea)
}

/// `org:feature:action` → `(feature, action)`.
fn split(permission: &str) -> Option<(&str, &str)> {
    let rest = permission.strip_prefix("org:")?;
    rest.split_once(':')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Map;

    use super::*;

    /// The decoding CLERK.md prescribes: `o:`-scoped features of `fea` in
    /// order; bit i of `fpm[j]` means `org:<feature j>:<per[i]>`.
    fn decode(fea: &str, o: &Value) -> (String, BTreeSet<String>) {
        let role = format!("org:{}", o["rol"].as_str().unwrap());
        let features: Vec<&str> = fea
            .split(',')
            .filter_map(|f| f.strip_prefix("o:"))
            .collect();
        let per: Vec<&str> = o["per"].as_str().unwrap_or("").split(',').collect();
        let fpm = o["fpm"].as_str().unwrap_or("");
        let mut permissions = BTreeSet::new();
        for (feature, mask) in features.iter().zip(fpm.split(',')) {
            let mask: u64 = mask.parse().unwrap();
            for (bit, action) in per.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    permissions.insert(format!("org:{feature}:{action}"));
                }
            }
        }
        (role, permissions)
    }

    fn membership(role: &str) -> Membership {
        Membership {
            id: "orgmem_1".into(),
            organization_id: "org_1".into(),
            user_id: "user_1".into(),
            role: role.into(),
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn organization() -> Organization {
        Organization {
            id: "org_1".into(),
            name: "Acme".into(),
            slug: "acme".into(),
            image_url: String::new(),
            created_by: None,
            public_metadata: Map::new(),
            private_metadata: Map::new(),
            max_allowed_memberships: 0,
            admin_delete_enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_decoder_follows_clerks_example() {
        let o = json!({ "rol": "admin", "per": "manage,read", "fpm": "3,2" });
        let (_, permissions) = decode("o:dashboard,o:teams", &o);
        let expected = [
            "org:dashboard:manage",
            "org:dashboard:read",
            "org:teams:read",
        ];
        assert_eq!(permissions, expected.map(String::from).into());
    }

    #[test]
    fn decoding_the_claim_gives_back_the_membership() {
        for role in ["org:admin", "org:member"] {
            let membership = membership(role);
            let (o, fea) = encode(&organization(), &membership);
            assert_eq!(o["id"], "org_1");
            assert_eq!(o["slg"], "acme");
            assert_eq!(fea, "o:sys_profile,o:sys_memberships,o:sys_domains");
            let (decoded_role, permissions) = decode(&fea, &o);
            assert_eq!(decoded_role, role);
            let expected: BTreeSet<String> = membership
                .permissions()
                .iter()
                .map(|p| (*p).to_owned())
                .collect();
            assert_eq!(permissions, expected, "{role}");
        }
        let (o, _) = encode(&organization(), &membership("org:member"));
        assert_eq!(
            o,
            json!({ "id": "org_1", "slg": "acme", "rol": "member", "per": "read", "fpm": "0,1,0" })
        );
    }

    #[test]
    fn a_role_without_permissions_encodes_to_zero_masks() {
        let (o, _) = encode(&organization(), &membership("org:unknown"));
        assert_eq!(o["per"], "");
        assert_eq!(o["fpm"], "0,0,0");
        assert_eq!(
            decode("o:sys_profile,o:sys_memberships,o:sys_domains", &o)
                .1
                .len(),
            0
        );
    }
}
