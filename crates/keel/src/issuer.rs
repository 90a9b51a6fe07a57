//! The configured issuer (`CLERK_JWT_ISSUER_DOMAIN`) in `keel serve` and `keel check`: read
//! it, warn when its keys would travel in clear, and load its keys at start so a wrong
//! setting shows in the log at once.

use std::net::IpAddr;

use anyhow::bail;
use keel_auth::{Verifier, normalize_issuer};
use reqwest::Url;

use crate::settings::misnamed_variables;

/// The issuer, or the fix: its name, an example, and any look-alike variable that is set.
pub(crate) fn require(issuer: Option<String>) -> anyhow::Result<String> {
    match issuer.filter(|i| !i.trim().is_empty()) {
        Some(issuer) => Ok(issuer.trim().to_string()),
        None => {
            let hints = misnamed_variables(std::env::vars().map(|(k, _)| k));
            let mut message = "CLERK_JWT_ISSUER_DOMAIN is not set: set it to your Clerk Frontend API URL (for example https://your-app.clerk.accounts.dev)".to_string();
            for hint in hints {
                message.push_str("\n  ");
                message.push_str(&hint);
            }
            bail!(message)
        }
    }
}

/// A plain `http://` issuer off this machine: whoever is on the network path can swap the
/// keys fetched from it and sign any token. Loopback (127.0.0.0/8, ::1, `localhost`) never
/// leaves the machine, so a local issuer or a TLS-terminating sidecar gets no warning.
/// A warning, not a refusal: a private network may be trusted on purpose.
pub(crate) fn plain_http_warning(issuer: &str) -> Option<String> {
    let issuer = normalize_issuer(issuer);
    let url = Url::parse(&issuer).ok()?;
    if url.scheme() != "http" || url.host_str().is_none_or(is_loopback) {
        return None;
    }
    Some(format!(
        "CLERK_JWT_ISSUER_DOMAIN is plain http:// ({issuer}): the signing keys travel unencrypted, so anyone on the network path could swap them and sign tokens for any user; use https://"
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
    if let Some(warning) = plain_http_warning(&verifier.config().issuer) {
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

    #[test]
    fn plain_http_off_loopback_is_warned_about() {
        for issuer in [
            "http://clerk.example.com",
            "http://10.0.0.5:3210/_clerk",
            "http://[2001:db8::1]/",
            "http://localhost.example.com",
        ] {
            let warning = plain_http_warning(issuer).unwrap_or_default();
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
            assert_eq!(plain_http_warning(issuer), None, "{issuer}");
        }
    }
}
