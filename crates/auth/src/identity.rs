//! The verified user, shaped like Convex's `UserIdentity` (what
//! `ctx.auth.getUserIdentity()` returns), plus the Clerk organization and the
//! token times Keel needs to expire live sessions.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::claims::{self, Claims};

/// Claims with a typed field, or that Convex drops (`jti`, `nbf`, `fva` change
/// on every refresh and would bust query caches); everything else ends up in
/// [`UserIdentity::other_claims`]. Mirrors what Convex's OIDC path consumes.
const NOT_OTHER_CLAIMS: &[&str] = &[
    // JWT / OIDC ID-token housekeeping
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "azp",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "c_hash",
    "fva",
    // OIDC standard profile claims
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The active Clerk organization of the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OrgClaims {
    /// `org_…`
    pub id: String,
    /// Always with the `org:` prefix, e.g. `org:admin`; empty if the token had none.
    pub role: String,
    pub slug: Option<String>,
    /// Full permission keys, e.g. `org:dashboard:manage`.
    pub permissions: Vec<String>,
}

impl OrgClaims {
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

/// A verified identity. Serializes as [`UserIdentity::to_convex_json`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserIdentity {
    /// `iss|sub`, Convex's stable user key.
    pub token_identifier: String,
    pub subject: String,
    pub issuer: String,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub preferred_username: Option<String>,
    pub profile_url: Option<String>,
    /// From `picture`.
    pub picture_url: Option<String>,
    pub website_url: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub gender: Option<String>,
    /// From `birthdate`.
    pub birthday: Option<String>,
    /// From `zoneinfo`.
    pub timezone: Option<String>,
    /// From `locale`.
    pub language: Option<String>,
    pub phone_number: Option<String>,
    pub phone_number_verified: Option<bool>,
    /// The `formatted` part of an OIDC address (or a plain string address).
    pub address: Option<String>,
    /// RFC 3339.
    pub updated_at: Option<String>,
    /// Decoded from v2 `o` + `fea` or v1 `org_*`; those raw claims stay in
    /// `other_claims` too, as in Convex.
    pub org: Option<OrgClaims>,
    /// `sid` (also kept in `other_claims`, as Convex does).
    pub session_id: Option<String>,
    /// `exp`, unix seconds.
    pub expires_at: u64,
    /// `iat`, unix seconds.
    pub issued_at: Option<u64>,
    /// Every claim not listed above (custom template claims, `metadata`, `sid`,
    /// `v`, `o`, `fea`, `sts`, `act`, …), values unchanged.
    pub other_claims: Map<String, Value>,
}

impl UserIdentity {
    /// A bare identity (tests, admin impersonation); fill the rest with struct
    /// update syntax.
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>, expires_at: u64) -> Self {
        let issuer = issuer.into();
        let subject = subject.into();
        UserIdentity {
            token_identifier: format!("{issuer}|{subject}"),
            subject,
            issuer,
            expires_at,
            ..UserIdentity::default()
        }
    }

    /// From verified claims; `iss`, `sub` and `exp` were checked by the caller.
    pub(crate) fn from_claims(
        claims: &Claims,
        issuer: &str,
        subject: &str,
        expires_at: u64,
    ) -> Self {
        let text = |key: &str| claims::string(claims, key).map(str::to_owned);
        let address = match claims.get("address") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(a)) => claims::string(a, "formatted").map(str::to_owned),
            _ => None,
        };
        let other_claims = claims
            .iter()
            .filter(|(key, _)| !NOT_OTHER_CLAIMS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        UserIdentity {
            token_identifier: format!("{issuer}|{subject}"),
            subject: subject.to_owned(),
            issuer: issuer.to_owned(),
            name: text("name"),
            given_name: text("given_name"),
            family_name: text("family_name"),
            nickname: text("nickname"),
            preferred_username: text("preferred_username"),
            profile_url: text("profile"),
            picture_url: text("picture"),
            website_url: text("website"),
            email: text("email"),
            email_verified: claims::boolean(claims, "email_verified"),
            gender: text("gender"),
            birthday: text("birthdate"),
            timezone: text("zoneinfo"),
            language: text("locale"),
            phone_number: text("phone_number"),
            phone_number_verified: claims::boolean(claims, "phone_number_verified"),
            address,
            updated_at: claims::updated_at(claims),
            org: claims::organization(claims),
            session_id: text("sid"),
            expires_at,
            issued_at: claims::numeric_date(claims, "iat").ok().flatten(),
            other_claims,
        }
    }

    /// What Convex's `ctx.auth.getUserIdentity()` returns: camelCase keys, only
    /// present fields, other claims at top level.
    ///
    /// Keel additions and precedence: the decoded organization is added as
    /// `org` (`{id, role, slug?, permissions}`) unless the token itself has an
    /// `org` claim, which then wins (Convex compatibility). The typed fields
    /// always win over a same-named custom claim, so a template cannot spoof
    /// `tokenIdentifier`, `subject` or `issuer`. `expires_at`, `issued_at`
    /// and `session_id` are not added (Convex does not expose `exp`/`iat`;
    /// `sid` is already among the other claims).
    /// SHA-256 of [`Self::to_convex_json`]: equal exactly when functions would see the same
    /// identity, for keys that should not hold the whole JSON.
    pub fn fingerprint(&self) -> [u8; 32] {
        let digest = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            self.to_convex_json().to_string().as_bytes(),
        );
        let mut key = [0; 32];
        key.copy_from_slice(digest.as_ref());
        key
    }

    pub fn to_convex_json(&self) -> Value {
        let mut out = self.other_claims.clone();
        if let Some(org) = &self.org
            && !out.contains_key("org")
        {
            out.insert(
                "org".to_owned(),
                serde_json::to_value(org).unwrap_or(Value::Null),
            );
        }
        let strings = [
            ("tokenIdentifier", Some(&self.token_identifier)),
            ("subject", Some(&self.subject)),
            ("issuer", Some(&self.issuer)),
            ("name", self.name.as_ref()),
            ("givenName", self.given_name.as_ref()),
            ("familyName", self.family_name.as_ref()),
            ("nickname", self.nickname.as_ref()),
            ("preferredUsername", self.preferred_username.as_ref()),
            ("profileUrl", self.profile_url.as_ref()),
            ("pictureUrl", self.picture_url.as_ref()),
            ("websiteUrl", self.website_url.as_ref()),
            ("email", self.email.as_ref()),
            ("gender", self.gender.as_ref()),
            ("birthday", self.birthday.as_ref()),
            ("timezone", self.timezone.as_ref()),
            ("language", self.language.as_ref()),
            ("phoneNumber", self.phone_number.as_ref()),
            ("address", self.address.as_ref()),
            ("updatedAt", self.updated_at.as_ref()),
        ];
        for (key, value) in strings {
            if let Some(value) = value {
                out.insert(key.to_owned(), Value::String(value.clone()));
            }
        }
        let bools = [
            ("emailVerified", self.email_verified),
            ("phoneNumberVerified", self.phone_number_verified),
        ];
        for (key, value) in bools {
            if let Some(value) = value {
                out.insert(key.to_owned(), Value::Bool(value));
            }
        }
        Value::Object(out)
    }

    /// `metadata.role` (Clerk public metadata customized into the token as
    /// `"metadata": "{{user.public_metadata}}"`), used for admin checks.
    pub fn metadata_role(&self) -> Option<&str> {
        self.other_claims.get("metadata")?.get("role")?.as_str()
    }

    /// Convex's rule for live sessions: expired once `now >= exp`.
    pub fn is_expired_at(&self, now_unix_secs: u64) -> bool {
        now_unix_secs >= self.expires_at
    }
}

impl Serialize for UserIdentity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_convex_json().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://example.clerk.accounts.dev";

    fn identity(claims: Value) -> UserIdentity {
        let claims = claims.as_object().unwrap().clone();
        UserIdentity::from_claims(&claims, ISS, "user_1", 1_700_000_060)
    }

    #[test]
    fn fingerprints_are_equal_exactly_when_functions_see_the_same_identity() {
        let one = identity(json!({"email": "a@example.com", "name": "A"}));
        let same = identity(json!({"name": "A", "email": "a@example.com"}));
        let other = identity(json!({"email": "b@example.com", "name": "A"}));
        assert_eq!(one.fingerprint(), same.fingerprint());
        assert_ne!(one.fingerprint(), other.fingerprint());
    }

    #[test]
    fn convex_template_claims() {
        let id = identity(json!({
            "iss": ISS, "sub": "user_1", "aud": "convex", "azp": "https://app.example",
            "exp": 1_700_000_060, "iat": 1_700_000_000, "nbf": 1_699_999_990, "jti": "abc",
            "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "nickname": "ada", "email": "ada@example.com", "email_verified": true,
            "picture": "https://img.example/ada.png", "updated_at": 1_700_000_000,
            "phone_number": "+15550100", "phone_number_verified": false,
            "metadata": {"role": "admin"}
        }));
        assert_eq!(id.token_identifier, format!("{ISS}|user_1"));
        assert_eq!(id.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(
            id.picture_url.as_deref(),
            Some("https://img.example/ada.png")
        );
        assert_eq!(id.email_verified, Some(true));
        assert_eq!(id.phone_number_verified, Some(false));
        assert_eq!(id.updated_at.as_deref(), Some("2023-11-14T22:13:20+00:00"));
        assert_eq!(id.issued_at, Some(1_700_000_000));
        assert_eq!(id.expires_at, 1_700_000_060);
        assert_eq!(id.session_id, None);
        assert_eq!(id.org, None);
        assert_eq!(id.metadata_role(), Some("admin"));
        assert_eq!(id.other_claims.keys().collect::<Vec<_>>(), vec!["metadata"]);

        assert_eq!(
            id.to_convex_json(),
            json!({
                "tokenIdentifier": format!("{ISS}|user_1"),
                "subject": "user_1",
                "issuer": ISS,
                "name": "Ada Lovelace",
                "givenName": "Ada",
                "familyName": "Lovelace",
                "nickname": "ada",
                "pictureUrl": "https://img.example/ada.png",
                "email": "ada@example.com",
                "emailVerified": true,
                "phoneNumber": "+15550100",
                "phoneNumberVerified": false,
                "updatedAt": "2023-11-14T22:13:20+00:00",
                "metadata": {"role": "admin"}
            })
        );
        assert_eq!(serde_json::to_value(&id).unwrap(), id.to_convex_json());
    }

    #[test]
    fn session_token_v2_claims() {
        let id = identity(json!({
            "iss": ISS, "sub": "user_1", "sid": "sess_1", "v": 2,
            "exp": 1_700_000_060, "iat": 1_700_000_000, "fva": [3, -1],
            "pla": "o:pro", "fea": "o:dashboard,o:teams", "sts": "active",
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
        }));
        assert_eq!(id.session_id.as_deref(), Some("sess_1"));
        let org = id.org.clone().unwrap();
        assert_eq!(org.role, "org:admin");
        assert_eq!(
            org.permissions,
            vec![
                "org:dashboard:manage",
                "org:dashboard:read",
                "org:teams:read"
            ]
        );
        let json = id.to_convex_json();
        // Raw Clerk claims stay visible like in Convex; `fva` is dropped.
        assert_eq!(json["sid"], "sess_1");
        assert_eq!(json["o"]["rol"], "admin");
        assert_eq!(json["v"], 2);
        assert!(json.get("fva").is_none());
        assert!(json.get("iat").is_none());
        assert_eq!(
            json["org"],
            json!({"id": "org_1", "role": "org:admin", "slug": "acme",
                   "permissions": ["org:dashboard:manage", "org:dashboard:read", "org:teams:read"]})
        );
    }

    #[test]
    fn session_token_v1_claims() {
        let id = identity(json!({
            "sub": "user_1", "sid": "sess_1", "org_id": "org_2", "org_slug": "beta",
            "org_role": "org:member", "org_permissions": ["org:posts:read"]
        }));
        let org = id.org.unwrap();
        assert_eq!(org.id, "org_2");
        assert_eq!(org.role, "org:member");
        assert_eq!(org.slug.as_deref(), Some("beta"));
        assert_eq!(org.permissions, vec!["org:posts:read"]);
        assert_eq!(id.other_claims["org_id"], "org_2");
    }

    #[test]
    fn custom_claims_cannot_spoof_typed_fields() {
        let id = identity(json!({
            "tokenIdentifier": "evil|admin", "subject": "admin", "org": "custom",
            "o": {"id": "org_1", "rol": "admin"}
        }));
        let json = id.to_convex_json();
        assert_eq!(json["tokenIdentifier"], format!("{ISS}|user_1"));
        assert_eq!(json["subject"], "user_1");
        // A token's own `org` claim wins over the decoded organization.
        assert_eq!(json["org"], "custom");
    }

    #[test]
    fn odd_claim_types_are_ignored_not_fatal() {
        let id = identity(json!({
            "name": 5, "email_verified": "yes", "picture": null, "updated_at": [1],
            "address": {"formatted": "1 Main St"}, "metadata": "not an object", "iat": "x"
        }));
        assert_eq!(id.name, None);
        assert_eq!(id.email_verified, None);
        assert_eq!(id.picture_url, None);
        assert_eq!(id.updated_at, None);
        assert_eq!(id.issued_at, None);
        assert_eq!(id.address.as_deref(), Some("1 Main St"));
        assert_eq!(id.metadata_role(), None);
        assert_eq!(id.other_claims.keys().collect::<Vec<_>>(), vec!["metadata"]);
    }

    #[test]
    fn new_and_expiry() {
        let id = UserIdentity::new(ISS, "user_1", 100);
        assert_eq!(id.token_identifier, format!("{ISS}|user_1"));
        assert!(!id.is_expired_at(99));
        assert!(id.is_expired_at(100));
    }
}
