//! Reading Clerk's claim shapes out of a verified claim set: standard JWT
//! times and audiences, and the organization in its v1 (flat `org_*`) and v2
//! (compact `o` + `fea`) forms. Malformed optional claims are ignored, never fatal.

use serde_json::{Map, Value};

use crate::identity::OrgClaims;

pub(crate) type Claims = Map<String, Value>;

pub(crate) fn string<'a>(claims: &'a Claims, key: &str) -> Option<&'a str> {
    claims.get(key).and_then(Value::as_str)
}

/// `aud` may be a string or an array of strings.
pub(crate) fn audiences(claims: &Claims) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A JWT NumericDate: `Ok(None)` when absent, `Err` when present but not a
/// non-negative number (fractions are truncated).
pub(crate) fn numeric_date(claims: &Claims, key: &str) -> Result<Option<u64>, ()> {
    match claims.get(key) {
        None => Ok(None),
        Some(value) => seconds(value).map(Some).ok_or(()),
    }
}

fn seconds(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// OIDC booleans; Clerk templates sometimes render them as strings.
pub(crate) fn boolean(claims: &Claims, key: &str) -> Option<bool> {
    match claims.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// `updated_at` as RFC 3339. Clerk templates give seconds (numbers or numeric
/// strings); values too large to be seconds are taken as milliseconds. Other
/// strings are passed through unchanged.
pub(crate) fn updated_at(claims: &Claims) -> Option<String> {
    let value = claims.get("updated_at")?;
    let raw = match value {
        Value::String(s) => match s.trim().parse::<u64>() {
            Ok(n) => n,
            Err(_) => return Some(s.clone()),
        },
        other => seconds(other)?,
    };
    // 10^11 s is the year 5138: anything above is a millisecond timestamp.
    let secs = if raw >= 100_000_000_000 {
        raw / 1000
    } else {
        raw
    };
    Some(rfc3339(secs))
}

/// `YYYY-MM-DDTHH:MM:SS+00:00`, the shape Convex (chrono's `to_rfc3339`) emits.
pub(crate) fn rfc3339(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The active organization: v2 `o` claim when present, else v1 `org_*` claims.
pub(crate) fn organization(claims: &Claims) -> Option<OrgClaims> {
    match claims.get("o") {
        Some(Value::Object(o)) => org_v2(o, string(claims, "fea")),
        _ => org_v1(claims),
    }
}

fn org_v2(o: &Claims, fea: Option<&str>) -> Option<OrgClaims> {
    let id = string(o, "id")?.to_owned();
    let role = string(o, "rol").map(org_role).unwrap_or_default();
    Some(OrgClaims {
        id,
        role,
        slug: string(o, "slg").map(str::to_owned),
        permissions: v2_permissions(fea, string(o, "per"), string(o, "fpm")),
    })
}

/// v2 roles come without the `org:` prefix that v1 and the Backend API use.
fn org_role(rol: &str) -> String {
    if rol.starts_with("org:") {
        rol.to_owned()
    } else {
        format!("org:{rol}")
    }
}

fn org_v1(claims: &Claims) -> Option<OrgClaims> {
    let id = string(claims, "org_id")?.to_owned();
    let permissions = match claims.get("org_permissions") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(OrgClaims {
        id,
        role: string(claims, "org_role").unwrap_or_default().to_owned(),
        slug: string(claims, "org_slug").map(str::to_owned),
        permissions,
    })
}

/// Clerk's documented `fpm` decoding: the org-scoped features of `fea` in
/// order; for feature j, bit i (least significant first) of `fpm[j]` grants
/// `org:<feature j>:<per[i]>`. Missing or malformed parts grant nothing.
pub(crate) fn v2_permissions(
    fea: Option<&str>,
    per: Option<&str>,
    fpm: Option<&str>,
) -> Vec<String> {
    let (Some(fea), Some(per), Some(fpm)) = (fea, per, fpm) else {
        return Vec::new();
    };
    let permissions: Vec<&str> = split_list(per).collect();
    // Scope `o` (org) or `uo` (both) applies to the organization.
    let org_features = split_list(fea).filter_map(|entry| {
        let (scope, name) = entry.split_once(':')?;
        scope.contains('o').then_some(name)
    });
    let masks = split_list(fpm).map(|mask| mask.parse::<u64>().unwrap_or(0));

    let mut granted = Vec::new();
    for (feature, mask) in org_features.zip(masks) {
        for (bit, permission) in permissions.iter().enumerate().take(64) {
            if mask >> bit & 1 == 1 {
                granted.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    granted
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn clerk_md_permission_example() {
        assert_eq!(
            v2_permissions(
                Some("o:dashboard,o:teams"),
                Some("manage,read"),
                Some("3,2")
            ),
            vec![
                "org:dashboard:manage",
                "org:dashboard:read",
                "org:teams:read"
            ]
        );
    }

    #[test]
    fn permissions_skip_user_features_and_tolerate_garbage() {
        // User-scoped features take no fpm slot; `uo` applies to the org.
        assert_eq!(
            v2_permissions(Some("u:billing,uo:reports"), Some("read,write"), Some("2")),
            vec!["org:reports:write"]
        );
        assert!(v2_permissions(None, Some("read"), Some("1")).is_empty());
        assert!(v2_permissions(Some("o:a"), None, Some("1")).is_empty());
        assert!(v2_permissions(Some("o:a"), Some("read"), None).is_empty());
        assert!(v2_permissions(Some("o:a"), Some(""), Some("1")).is_empty());
        // More features than masks, non-numeric masks, bits beyond `per`.
        assert_eq!(
            v2_permissions(Some("o:a,o:b,o:c"), Some("read"), Some("x,255")),
            vec!["org:b:read"]
        );
        assert!(v2_permissions(Some("nocolon"), Some("read"), Some("1")).is_empty());
    }

    #[test]
    fn v2_org_claim() {
        let c = claims(json!({
            "v": 2,
            "fea": "o:dashboard,o:teams",
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
        }));
        let org = organization(&c).unwrap();
        assert_eq!(org.id, "org_1");
        assert_eq!(org.role, "org:admin");
        assert_eq!(org.slug.as_deref(), Some("acme"));
        assert_eq!(org.permissions.len(), 3);
        assert!(org.has_permission("org:teams:read"));
        assert!(!org.has_permission("org:teams:manage"));
    }

    #[test]
    fn v2_org_claim_without_per_or_fpm() {
        let c = claims(json!({"v": 2, "o": {"id": "org_1", "rol": "member"}}));
        let org = organization(&c).unwrap();
        assert_eq!(org.role, "org:member");
        assert!(org.permissions.is_empty());
        assert_eq!(org.slug, None);
        // An `o` without an id is no organization.
        assert!(organization(&claims(json!({"o": {"rol": "admin"}}))).is_none());
    }

    #[test]
    fn v1_org_claims() {
        let c = claims(json!({
            "org_id": "org_9", "org_slug": "acme", "org_role": "org:admin",
            "org_permissions": ["org:sys_memberships:manage", 3]
        }));
        let org = organization(&c).unwrap();
        assert_eq!(org.id, "org_9");
        assert_eq!(org.role, "org:admin");
        assert_eq!(org.slug.as_deref(), Some("acme"));
        assert_eq!(org.permissions, vec!["org:sys_memberships:manage"]);
        assert!(organization(&claims(json!({"sub": "user_1"}))).is_none());
    }

    #[test]
    fn audiences_string_or_array() {
        assert_eq!(audiences(&claims(json!({"aud": "convex"}))), vec!["convex"]);
        assert_eq!(
            audiences(&claims(json!({"aud": ["a", 1, "convex"]}))),
            vec!["a", "convex"]
        );
        assert!(audiences(&claims(json!({}))).is_empty());
    }

    #[test]
    fn numeric_dates() {
        let c = claims(json!({"a": 5, "b": 5.9, "c": "5", "d": -1}));
        assert_eq!(numeric_date(&c, "a"), Ok(Some(5)));
        assert_eq!(numeric_date(&c, "b"), Ok(Some(5)));
        assert_eq!(numeric_date(&c, "c"), Err(()));
        assert_eq!(numeric_date(&c, "d"), Err(()));
        assert_eq!(numeric_date(&c, "missing"), Ok(None));
    }

    #[test]
    fn updated_at_formats() {
        let at = |v: Value| updated_at(&claims(json!({ "updated_at": v })));
        assert_eq!(at(json!(0)).as_deref(), Some("1970-01-01T00:00:00+00:00"));
        assert_eq!(
            at(json!(1_700_000_000)).as_deref(),
            Some("2023-11-14T22:13:20+00:00")
        );
        assert_eq!(
            at(json!(1_700_000_000_123_u64)).as_deref(),
            Some("2023-11-14T22:13:20+00:00")
        );
        assert_eq!(
            at(json!("1709251199")).as_deref(),
            Some("2024-02-29T23:59:59+00:00")
        );
        assert_eq!(
            at(json!("2024-01-01T00:00:00Z")).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(at(json!(null)), None);
        assert_eq!(updated_at(&claims(json!({}))), None);
    }

    #[test]
    fn booleans() {
        let c = claims(json!({"a": true, "b": "false", "c": 1}));
        assert_eq!(boolean(&c, "a"), Some(true));
        assert_eq!(boolean(&c, "b"), Some(false));
        assert_eq!(boolean(&c, "c"), None);
    }
}
