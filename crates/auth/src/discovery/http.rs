//! The production [`KeyFetcher`]: OIDC discovery and JWKS over reqwest.

use std::time::Duration;

use reqwest::header::CACHE_CONTROL;
use serde::Deserialize;

use super::{FetchError, FetchedJwks, KeyFetcher};

/// Short enough that a hung issuer cannot stall token checks for long
/// (requests with unknown `kid`s wait for the fetch).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn discovery_url(issuer: &str) -> String {
    format!("{issuer}/.well-known/openid-configuration")
}

#[derive(Clone, Debug)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
}

impl ReqwestFetcher {
    pub fn new() -> Self {
        Self::with_timeout(REQUEST_TIMEOUT)
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .user_agent(concat!("keel-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only fails when no TLS backend can initialize; the default client
            // then reports the same problem on first use.
            .unwrap_or_else(|_| reqwest::Client::new());
        ReqwestFetcher { client }
    }

    /// Uses a caller-configured client (its timeouts apply).
    pub fn with_client(client: reqwest::Client) -> Self {
        ReqwestFetcher { client }
    }

    async fn get(&self, url: &str) -> Result<reqwest::Response, FetchError> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Failed(format!("GET {url} failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Failed(format!(
                "GET {url} returned HTTP {status}"
            )));
        }
        Ok(response)
    }
}

impl Default for ReqwestFetcher {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
pub(crate) struct DiscoveryDocument {
    /// Required by OIDC Discovery; read as optional to say so plainly when it is missing.
    pub(crate) issuer: Option<String>,
    pub(crate) jwks_uri: String,
}

#[async_trait::async_trait]
impl KeyFetcher for ReqwestFetcher {
    async fn fetch_jwks(&self, issuer: &str) -> Result<FetchedJwks, FetchError> {
        let url = discovery_url(issuer);
        let discovery: DiscoveryDocument = self
            .get(&url)
            .await?
            .json()
            .await
            .map_err(|e| FetchError::Failed(format!("bad discovery document at {url}: {e}")))?;
        let Some(named) = discovery.issuer else {
            return Err(FetchError::Failed(format!(
                "the discovery document at {url} names no issuer"
            )));
        };
        super::issuer::check(&url, issuer, &named)?;

        let jwks_uri = discovery.jwks_uri;
        let response = self.get(&jwks_uri).await?;
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let jwks = response
            .json()
            .await
            .map_err(|e| FetchError::Failed(format!("bad JWKS at {jwks_uri}: {e}")))?;
        Ok(FetchedJwks { jwks, max_age })
    }
}

/// `max-age=N` from a Cache-Control value; `no-cache`/`no-store` count as 0
/// (the cache clamps to its minimum refresh interval).
pub(crate) fn parse_max_age(cache_control: &str) -> Option<Duration> {
    let mut result = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(value) = directive.strip_prefix("max-age=") {
            result = value
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            parse_max_age("public, max-age=600, must-revalidate"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("Max-Age=60"), Some(Duration::from_secs(60)));
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }

    #[test]
    fn discovery_url_is_under_the_issuer() {
        assert_eq!(
            discovery_url("https://a.clerk.accounts.dev"),
            "https://a.clerk.accounts.dev/.well-known/openid-configuration"
        );
    }
}
