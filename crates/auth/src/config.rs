//! Which tokens this backend accepts: one Clerk issuer (Convex's `auth.config.ts`
//! provider `{ domain: CLERK_JWT_ISSUER_DOMAIN, applicationID: "convex" }`).

use std::time::Duration;

/// The environment variable Convex projects use for the Clerk Frontend API URL.
pub const ISSUER_DOMAIN_ENV: &str = "CLERK_JWT_ISSUER_DOMAIN";
/// Convex's Clerk preset puts `aud: "convex"` into the token.
pub const DEFAULT_APPLICATION_ID: &str = "convex";
/// Clerk's and Convex's default allowed skew.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthConfig {
    /// Clerk Frontend API URL, e.g. `https://example.clerk.accounts.dev`.
    pub issuer: String,
    /// Must be contained in the token's `aud`; `None` or empty: `aud` not required.
    pub application_id: Option<String>,
    /// When non-empty, the token's `azp` must be present and listed (exact origins).
    pub authorized_parties: Vec<String>,
    /// Tolerance for `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
}

impl AuthConfig {
    /// Defaults: application id `"convex"`, no `azp` check, 5 s skew.
    /// The issuer is normalized (see [`normalize_issuer`]).
    pub fn new(issuer: impl Into<String>) -> Self {
        AuthConfig {
            issuer: normalize_issuer(&issuer.into()),
            application_id: Some(DEFAULT_APPLICATION_ID.to_owned()),
            authorized_parties: Vec::new(),
            clock_skew: DEFAULT_CLOCK_SKEW,
        }
    }

    pub fn with_application_id(mut self, application_id: Option<String>) -> Self {
        self.application_id = application_id;
        self
    }

    pub fn with_authorized_parties<I, S>(mut self, parties: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.authorized_parties = parties.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The fields are public, so the verifier re-normalizes whatever it is given.
    pub(crate) fn normalized(mut self) -> Self {
        self.issuer = normalize_issuer(&self.issuer);
        self.application_id = self
            .application_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        self.authorized_parties = self
            .authorized_parties
            .into_iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        self
    }

    /// Convex's matching rule: compare after adding a missing scheme and
    /// dropping trailing slashes on both sides.
    pub(crate) fn issuer_matches(&self, iss: &str) -> bool {
        normalize_issuer(iss) == self.issuer
    }

    pub(crate) fn audience_matches(&self, audiences: &[&str]) -> bool {
        match &self.application_id {
            None => true,
            Some(id) => audiences.iter().any(|aud| aud == id),
        }
    }

    /// How Convex lists a provider in its `NoAuthProvider` message.
    pub fn describe_provider(&self) -> String {
        format!(
            "OIDC(domain={}, app_id={})",
            self.issuer,
            self.application_id.as_deref().unwrap_or("none")
        )
    }
}

/// Adds `https://` when there is no scheme and removes trailing slashes.
pub fn normalize_issuer(raw: &str) -> String {
    let trimmed = raw.trim();
    let lower = trimmed.to_ascii_lowercase();
    let with_scheme = if lower.starts_with("https://") || lower.starts_with("http://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    };
    with_scheme.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = AuthConfig::new("example.clerk.accounts.dev/");
        assert_eq!(c.issuer, "https://example.clerk.accounts.dev");
        assert_eq!(c.application_id.as_deref(), Some("convex"));
        assert!(c.authorized_parties.is_empty());
        assert_eq!(c.clock_skew, Duration::from_secs(5));
    }

    #[test]
    fn issuer_matching_ignores_scheme_and_trailing_slash() {
        let c = AuthConfig::new("https://example.clerk.accounts.dev");
        assert!(c.issuer_matches("https://example.clerk.accounts.dev/"));
        assert!(c.issuer_matches("example.clerk.accounts.dev"));
        assert!(!c.issuer_matches("https://evil.clerk.accounts.dev"));
        assert!(!c.issuer_matches("http://example.clerk.accounts.dev"));
        let local = AuthConfig::new("http://127.0.0.1:8080/");
        assert_eq!(local.issuer, "http://127.0.0.1:8080");
    }

    #[test]
    fn empty_application_id_means_aud_not_required() {
        let c = AuthConfig::new("a.dev")
            .with_application_id(Some(" ".into()))
            .normalized();
        assert_eq!(c.application_id, None);
        assert!(c.audience_matches(&[]));
        let c = AuthConfig::new("a.dev");
        assert!(!c.audience_matches(&[]));
        assert!(c.audience_matches(&["other", "convex"]));
        assert_eq!(
            c.describe_provider(),
            "OIDC(domain=https://a.dev, app_id=convex)"
        );
    }
}
