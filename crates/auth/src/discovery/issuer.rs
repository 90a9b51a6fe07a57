//! The issuer a discovery document names must be the configured one. OpenID Connect
//! Discovery §4.3 says a document naming another issuer must not be used, and tokens carry
//! the document's issuer as `iss`: with another value configured, every one of them would be
//! refused (`NoAuthProvider`) even though the keys load.

use crate::config::normalize_issuer;

/// Both names Keel reads the issuer from.
const ISSUER_NAMES: &str = "CLERK_FRONTEND_API_URL or CLERK_JWT_ISSUER_DOMAIN";

/// The configured issuer and the one its discovery document names differ.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the discovery document at {discovery_url} says issuer `{discovered}`, but the configured issuer ({ISSUER_NAMES}) is `{configured}`: set it to the former"
)]
pub struct IssuerMismatch {
    pub discovery_url: String,
    /// As the document writes it: the value to configure.
    pub discovered: String,
    /// Normalized (a scheme, no trailing slash), as tokens are matched against it.
    pub configured: String,
}

/// Compares as verification compares a token's `iss` with the configuration (both through
/// [`normalize_issuer`]), so what passes here is exactly what tokens will be matched
/// against: a trailing slash on either side is no mismatch; another host, port, scheme or
/// path is.
pub(crate) fn check(
    discovery_url: &str,
    configured: &str,
    discovered: &str,
) -> Result<(), IssuerMismatch> {
    if normalize_issuer(discovered) == normalize_issuer(configured) {
        return Ok(());
    }
    Err(IssuerMismatch {
        discovery_url: discovery_url.to_owned(),
        discovered: discovered.to_owned(),
        configured: normalize_issuer(configured),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "http://localhost:3210/_clerk/.well-known/openid-configuration";

    #[test]
    fn another_host_is_a_mismatch_named_with_both_values() {
        let err = check(
            DOC,
            "http://localhost:3210/_clerk",
            "http://127.0.0.1:3210/_clerk",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the discovery document at http://localhost:3210/_clerk/.well-known/openid-configuration says issuer `http://127.0.0.1:3210/_clerk`, but the configured issuer (CLERK_FRONTEND_API_URL or CLERK_JWT_ISSUER_DOMAIN) is `http://localhost:3210/_clerk`: set it to the former"
        );
    }

    #[test]
    fn trailing_slashes_are_normalized_as_in_verification() {
        assert!(
            check(
                DOC,
                "https://a.clerk.accounts.dev/",
                "https://a.clerk.accounts.dev"
            )
            .is_ok()
        );
        assert!(
            check(
                DOC,
                "https://a.clerk.accounts.dev",
                "https://a.clerk.accounts.dev/"
            )
            .is_ok()
        );
        assert!(check(DOC, "a.clerk.accounts.dev", "https://a.clerk.accounts.dev").is_ok());
    }

    #[test]
    fn scheme_port_and_path_differences_are_mismatches() {
        let configured = "https://a.clerk.accounts.dev";
        for other in [
            "http://a.clerk.accounts.dev",
            "https://a.clerk.accounts.dev:8443",
            "https://a.clerk.accounts.dev/v1",
            "https://b.clerk.accounts.dev",
        ] {
            assert!(check(DOC, configured, other).is_err(), "{other}");
        }
    }
}
