//! Claims of the tokens the emulator mints: Clerk's v2 session token and the
//! `convex` JWT template. Signing is [`crate::keys::SigningKey::sign`].

use serde_json::{Map, Value, json};

use crate::error::EmulatorError;
use crate::ids::random_base62;
use crate::membership::Membership;
use crate::org_claim;
use crate::organization::Organization;
use crate::session::Session;
use crate::user::User;

/// Clerk's default lifetime for both kinds of token.
pub(crate) const DEFAULT_LIFETIME_SECS: u64 = 60;
/// Clerk allows at most ten years. Its minimum is 30 s; the emulator accepts
/// 1 s so expiry can be tested without waiting.
pub(crate) const MAX_LIFETIME_SECS: u64 = 315_360_000;
/// Session tokens are valid from 10 s before issue (Clerk's fixtures show it).
const SESSION_NBF_SKEW_SECS: i64 = 10;
/// Templates use their "allowed clock skew", 5 s by default.
const TEMPLATE_NBF_SKEW_SECS: i64 = 5;

/// The JWT templates the emulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Template {
    Convex,
}

impl Template {
    const ALL: [Template; 1] = [Template::Convex];

    fn name(self) -> &'static str {
        match self {
            Template::Convex => "convex",
        }
    }

    /// Clerk's 404 for an unknown name, which also lists the templates that exist: in
    /// Clerk they are on the dashboard, in the emulator this answer is the only place.
    pub(crate) fn by_name(name: &str) -> Result<Self, EmulatorError> {
        if let Some(template) = Self::ALL.into_iter().find(|t| t.name() == name) {
            return Ok(template);
        }
        let known: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
        Err(EmulatorError::not_found(format!(
            "No JWT template exists with name: {name}. The templates are: {}.",
            known.join(", ")
        )))
    }
}

/// What every token is made from.
pub(crate) struct TokenInput<'a> {
    pub issuer: &'a str,
    pub authorized_party: &'a str,
    pub user: &'a User,
    pub session: &'a Session,
    /// The session's active organization and the user's membership in it.
    pub organization: Option<(&'a Organization, &'a Membership)>,
    /// Unix seconds.
    pub now: i64,
    pub lifetime_secs: u64,
}

impl TokenInput<'_> {
    fn exp(&self) -> i64 {
        self.now + i64::try_from(self.lifetime_secs).unwrap_or(i64::MAX / 2)
    }
}

/// Validates a requested `expires_in_seconds`.
pub(crate) fn lifetime(expires_in_secs: Option<u64>) -> Result<u64, EmulatorError> {
    match expires_in_secs {
        None => Ok(DEFAULT_LIFETIME_SECS),
        Some(n) if (1..=MAX_LIFETIME_SECS).contains(&n) => Ok(n),
        Some(_) => Err(EmulatorError::invalid_param(
            "expires_in_seconds",
            format!("expires_in_seconds must be between 1 and {MAX_LIFETIME_SECS}."),
        )),
    }
}

/// Clerk's v2 session token.
pub(crate) fn session_claims(input: &TokenInput<'_>) -> Value {
    // fva = minutes since the first factor was verified (sign-in, i.e. session
    // creation here), and -1 for a second factor that never was.
    let first_factor_age = (input.now * 1000 - input.session.created_at).max(0) / 60_000;
    let mut claims = json!({
        "azp": input.authorized_party,
        "exp": input.exp(),
        "fva": [first_factor_age, -1],
        "iat": input.now,
        "iss": input.issuer,
        "jti": random_base62(20),
        "nbf": input.now - SESSION_NBF_SKEW_SECS,
        "sid": input.session.id,
        "sts": "active",
        "sub": input.user.id,
        "v": 2,
        // Clerk's documented RBAC recipe customizes the session token with
        // `"metadata": "{{user.public_metadata}}"`; the emulator always does.
        "metadata": input.user.public_metadata,
    });
    // With an active organization: `o` and the features its `fpm` indexes.
    if let Some((organization, membership)) = input.organization {
        let (o, fea) = org_claim::encode(organization, membership);
        claims["o"] = o;
        claims["fea"] = json!(fea);
    }
    claims
}

/// A token from a JWT template.
pub(crate) fn template_claims(template: Template, input: &TokenInput<'_>) -> Value {
    match template {
        Template::Convex => convex_claims(input),
    }
}

/// Clerk's Convex preset. Claims whose value is missing (no email, no
/// names …) are left out, as Clerk does for shortcodes that resolve to null.
/// `updated_at` is in Unix seconds, like OIDC's standard claim of that name.
/// `org_id`, `org_role` (`org:admin`) and `org_slug` are the claims Convex
/// apps commonly add (`{{org.id}}`, `{{org.role}}`, `{{org.slug}}`); they are
/// present only while the session has an active organization.
fn convex_claims(input: &TokenInput<'_>) -> Value {
    let user = input.user;
    let mut claims = Map::new();
    let mut put = |name: &str, value: Value| {
        if !value.is_null() {
            claims.insert(name.to_owned(), value);
        }
    };
    put("aud", json!("convex"));
    put("azp", json!(input.authorized_party));
    put("exp", json!(input.exp()));
    put("iat", json!(input.now));
    put("iss", json!(input.issuer));
    put("jti", json!(random_base62(20)));
    put("nbf", json!(input.now - TEMPLATE_NBF_SKEW_SECS));
    put("sub", json!(user.id));
    put("name", json!(user.full_name()));
    put("given_name", json!(user.first_name));
    put("family_name", json!(user.last_name));
    put("nickname", json!(user.username));
    put("email", json!(user.primary_email()));
    // Admin-created identifications are always verified.
    put("email_verified", json!(user.primary_email().map(|_| true)));
    put("phone_number", json!(user.primary_phone()));
    put(
        "phone_number_verified",
        json!(user.primary_phone().map(|_| true)),
    );
    put("picture", json!(user.image_url));
    put("updated_at", json!(user.updated_at / 1000));
    put("metadata", json!(user.public_metadata));
    if let Some((organization, membership)) = input.organization {
        put("org_id", json!(organization.id));
        put("org_role", json!(membership.role));
        put("org_slug", json!(organization.slug));
    }
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_bounds() {
        assert_eq!(lifetime(None).unwrap(), 60);
        assert_eq!(lifetime(Some(1)).unwrap(), 1);
        assert_eq!(
            lifetime(Some(MAX_LIFETIME_SECS)).unwrap(),
            MAX_LIFETIME_SECS
        );
        assert!(lifetime(Some(0)).is_err());
        assert!(lifetime(Some(MAX_LIFETIME_SECS + 1)).is_err());
    }

    #[test]
    fn unknown_template_is_not_found() {
        let err = Template::by_name("hasura").unwrap_err();
        assert_eq!(err.as_clerk().unwrap().status.as_u16(), 404);
        assert_eq!(Template::by_name("convex").unwrap(), Template::Convex);
    }
}
