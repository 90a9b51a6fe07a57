//! The configured issuer in `keel serve` and `keel check`: read it from either of its two
//! names, warn when its keys would travel in clear, and load its keys at start so a wrong
//! setting shows in the log at once.
//!
//! Clerk's current Convex guide calls it `CLERK_FRONTEND_API_URL`; older guides, and the
//! `auth.config.ts` of many Convex apps, `CLERK_JWT_ISSUER_DOMAIN`. Both are read: either
//! works alone, and both set to different URLs is an error naming both.

use std::net::IpAddr;

use anyhow::bail;
use keel_auth::{Verifier, normalize_issuer};
use reqwest::Url;

use crate::settings::misnamed_variables;

/// The issuer's two names.
pub(crate) const FRONTEND_API_URL: &str = "CLERK_FRONTEND_API_URL";
pub(crate) const JWT_ISSUER_DOMAIN: &str = "CLERK_JWT_ISSUER_DOMAIN";

/// The issuer as configured, by either name (`keel serve` and `keel check` take these flags).
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Clerk")]
pub struct IssuerArgs {
    /// The Clerk Frontend API URL, which is the tokens' issuer (the name Clerk's Convex guide
    /// uses).
    #[arg(long = "frontend-api-url", env = FRONTEND_API_URL)]
    pub frontend_api_url: Option<String>,
    /// The same URL under its older name (Convex's `auth.config.ts` and older guides).
    #[arg(long = "issuer", env = JWT_ISSUER_DOMAIN)]
    pub jwt_issuer_domain: Option<String>,
}

/// The issuer and the name it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issuer {
    pub url: String,
    pub from: &'static str,
}

/// The issuer, or the fix with any look-alike variable that is set (for `keel serve`, which
/// stops there; `keel check` lists look-alikes itself).
pub(crate) fn require_for_serve(args: IssuerArgs) -> anyhow::Result<Issuer> {
    require(args).map_err(|err| {
        let mut message = err.to_string();
        for hint in misnamed_variables(std::env::vars().map(|(k, _)| k)) {
            message.push_str("\n  ");
            message.push_str(&hint);
        }
        anyhow::anyhow!(message)
    })
}

/// The issuer, or the fix: its names and an example.
pub(crate) fn require(args: IssuerArgs) -> anyhow::Result<Issuer> {
    let set = |value: Option<String>| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match (set(args.frontend_api_url), set(args.jwt_issuer_domain)) {
        (Some(frontend), Some(domain))
            if normalize_issuer(&frontend) != normalize_issuer(&domain) =>
        {
            bail!(
                "{FRONTEND_API_URL} ({frontend}) and {JWT_ISSUER_DOMAIN} ({domain}) are both set and differ: they name the same thing, your Clerk Frontend API URL; keep one"
            )
        }
        (Some(url), _) => Ok(Issuer {
            url,
            from: FRONTEND_API_URL,
        }),
        (None, Some(url)) => Ok(Issuer {
            url,
            from: JWT_ISSUER_DOMAIN,
        }),
        (None, None) => bail!(
            "{FRONTEND_API_URL} is not set: set it (or {JWT_ISSUER_DOMAIN}, its older name) to your Clerk Frontend API URL, for example https://your-app.clerk.accounts.dev"
        ),
    }
}

/// A plain `http://` issuer off this machine: whoever is on the network path can swap the
/// keys fetched from it and sign any token. Loopback (127.0.0.0/8, ::1, `localhost`) never
/// leaves the machine, so a local issuer or a TLS-terminating sidecar gets no warning.
/// A warning, not a refusal: a private network may be trusted on purpose.
/// `from` names the setting in the message.
pub(crate) fn plain_http_warning(issuer: &str, from: &str) -> Option<String> {
    let issuer = normalize_issuer(issuer);
    let url = Url::parse(&issuer).ok()?;
    if url.scheme() != "http" || url.host_str().is_none_or(is_loopback) {
        return None;
    }
    Some(format!(
        "{from} is plain http:// ({issuer}): the signing keys travel unencrypted, so anyone on the network path could swap them and sign tokens for any user; use https://"
    ))
}

/// `host` as the URL parser writes it: IPv4 in dotted form, IPv6 in brackets.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical().is_loopback(),
        Err(_) => bare.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

/// What `keel serve` says about its issuer at start: the plain-http warning now, and the key
/// load's outcome when it finishes.
pub(crate) fn check_at_start(verifier: &Verifier) {
    if let Some(warning) = plain_http_warning(&verifier.config().issuer, "The issuer") {
        tracing::warn!("{warning}");
    }
    load_keys_at_start(verifier.clone());
}

/// Loads the issuer's keys in the background at start: a wrong issuer (unreachable, or one
/// whose discovery document names another) is an error in the log now, not a 401 on the
/// first request. Serving starts regardless: `/readyz` answers 503 until keys load, and an
/// outage of the issuer must not stop the process.
fn load_keys_at_start(verifier: Verifier) {
    tokio::spawn(async move {
        let issuer = verifier.config().issuer.clone();
        match verifier.refresh_keys().await {
            Ok(keys) => tracing::info!(%issuer, keys, "loaded the issuer's signing keys"),
            Err(error) => tracing::error!(
                %issuer,
                %error,
                "no token can be verified until this is fixed; /readyz answers 503"
            ),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(frontend: Option<&str>, domain: Option<&str>) -> IssuerArgs {
        IssuerArgs {
            frontend_api_url: frontend.map(String::from),
            jwt_issuer_domain: domain.map(String::from),
        }
    }

    #[test]
    fn either_name_gives_the_issuer_and_says_which() {
        let url = "https://app.clerk.accounts.dev";
        let by_new = require(args(Some(url), None)).unwrap();
        assert_eq!((by_new.url.as_str(), by_new.from), (url, FRONTEND_API_URL));
        let by_old = require(args(None, Some(url))).unwrap();
        assert_eq!((by_old.url.as_str(), by_old.from), (url, JWT_ISSUER_DOMAIN));
        // The same URL under both names (a trailing slash aside) is fine.
        let both = require(args(Some(url), Some("https://app.clerk.accounts.dev/"))).unwrap();
        assert_eq!(both.url, url);
        // Blank counts as unset.
        assert_eq!(
            require(args(Some("  "), Some(url))).unwrap().from,
            JWT_ISSUER_DOMAIN
        );
    }

    #[test]
    fn two_different_issuers_are_refused_naming_both() {
        let err = require(args(
            Some("https://one.clerk.accounts.dev"),
            Some("https://two.clerk.accounts.dev"),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("CLERK_FRONTEND_API_URL (https://one.clerk.accounts.dev)"),
            "{err}"
        );
        assert!(
            err.contains("CLERK_JWT_ISSUER_DOMAIN (https://two.clerk.accounts.dev)"),
            "{err}"
        );
        assert!(err.contains("keep one"), "{err}");
    }

    #[test]
    fn plain_http_off_loopback_is_warned_about() {
        for issuer in [
            "http://clerk.example.com",
            "http://10.0.0.5:3210/_clerk",
            "http://[2001:db8::1]/",
            "http://localhost.example.com",
        ] {
            let warning = plain_http_warning(issuer, FRONTEND_API_URL).unwrap_or_default();
            assert!(warning.contains("use https://"), "{issuer}");
        }
    }

    #[test]
    fn https_and_loopback_are_not() {
        for issuer in [
            "https://clerk.example.com",
            "clerk.example.com",
            "http://localhost:3210/_clerk",
            "http://LOCALHOST./",
            "http://127.0.0.1:3210",
            "http://127.8.9.10",
            "http://[::1]:3210",
            "http://[::ffff:127.0.0.1]:3210",
        ] {
            assert_eq!(
                plain_http_warning(issuer, FRONTEND_API_URL),
                None,
                "{issuer}"
            );
        }
    }
}
