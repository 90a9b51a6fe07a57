//! [`ClerkApi`]: the endpoints, and the one request loop they all go through.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use keel_webhooks::{MembershipData, OrganizationData, UserData};
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ClerkApiError, describe_transport, error_code, error_message, redact};
use crate::retry::{RetryPolicy, parse_retry_after};

/// The most a Clerk list endpoint returns per page.
pub const MAX_PAGE_SIZE: u32 = 500;

/// How long one attempt (connect, send, read the whole answer) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every list is walked oldest first, so objects created during a walk land
/// after it rather than shifting the pages still to come.
const OLDEST_FIRST: &str = "+created_at";

/// A client for the part of Clerk's Backend API that Keel uses.
///
/// Cheap to clone (the connection pool is shared). Its `Debug` shows the base
/// URL but never the secret key, and no error or log line carries the key.
#[derive(Clone)]
pub struct ClerkApi {
    base_url: String,
    secret_key: String,
    http: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for ClerkApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkApi")
            .field("base_url", &self.base_url)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/users/count`.
#[derive(Deserialize)]
struct TotalCount {
    total_count: u64,
}

/// `GET /v1/organizations` and the membership lists.
#[derive(Deserialize)]
struct Paginated<T> {
    data: Vec<T>,
    total_count: u64,
}

/// `POST /v1/users`: a user made by an administrator. Clerk marks the address verified, and
/// the user signs in without a password (`skip_password_requirement`): by an email code, a
/// social connection or a password reset, as the instance allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewUser {
    #[serde(rename = "email_address")]
    pub email_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    pub skip_password_requirement: bool,
}

/// `PATCH /v1/users/{id}`: the fields to change (absent ones are left alone, `Some("")` clears
/// a name, as Clerk does). An email address cannot be changed here: Clerk's PATCH only picks
/// the primary one among the user's verified addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UserChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// Whether a request may be sent again after a network error or a 5xx: not when Clerk may
/// have acted on it already and a second one would act again (creating a user).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    Unsafe,
}

/// How one attempt ended.
enum Attempt {
    Success(Vec<u8>),
    /// Final: no retry helps.
    Failed(ClerkApiError),
    /// 429.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// A network error or a 5xx (which may carry a `Retry-After`).
    Transient {
        error: ClerkApiError,
        retry_after: Option<Duration>,
    },
}

impl ClerkApi {
    /// Clerk's production Backend API (`CLERK_API_URL`'s default).
    pub const DEFAULT_BASE_URL: &str = "https://api.clerk.com";

    /// A client for `base_url` (like [`Self::DEFAULT_BASE_URL`], or Keel
    /// dev's emulator `http://127.0.0.1:3210/_clerk`), authenticating with
    /// `secret_key` (`sk_…`). Requests go to `{base_url}/v1/…`; a trailing `/`
    /// on `base_url` is ignored. Each attempt times out after 30 s.
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        let mut base_url = base_url.into();
        let trimmed = base_url.trim_end_matches('/').len();
        base_url.truncate(trimmed);
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // Never follow a redirect: the key stays with the host it was
            // configured for, and Clerk's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keel-clerk-api/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only fails when no TLS backend can initialize; the default
            // client then reports the same problem on first use.
            .unwrap_or_else(|_| reqwest::Client::new());
        ClerkApi {
            base_url,
            secret_key: secret_key.into(),
            http,
            timeout: REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// Replaces the retry policy (tests shorten the waits).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the per-attempt timeout (30 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL requests go to (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One page of users, oldest first: `GET /v1/users?limit=&offset=&order_by=+created_at`.
    /// `limit` is 1–500 (Clerk answers 422 otherwise).
    pub async fn list_users_page(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<UserData>, ClerkApiError> {
        self.get(&["users"], &page_query(limit, offset)).await
    }

    /// Every user, oldest first, `page_size` at a time (clamped to 1–500),
    /// until a page comes back short. `progress` is called after each page
    /// with the number of users so far. A user seen twice (pages shifted by
    /// a concurrent change) is kept once.
    pub async fn all_users(
        &self,
        page_size: u32,
        progress: impl FnMut(usize),
    ) -> Result<Vec<UserData>, ClerkApiError> {
        collect_pages(
            page_size,
            |limit, offset| async move { Ok((self.list_users_page(limit, offset).await?, None)) },
            |user: &UserData| &user.id,
            progress,
        )
        .await
    }

    /// One user: `GET /v1/users/{user_id}`. An unknown (or deleted) user is
    /// [`ClerkApiError::NotFound`].
    pub async fn get_user(&self, user_id: &str) -> Result<UserData, ClerkApiError> {
        self.get(&["users", user_id], &[]).await
    }

    /// One organization: `GET /v1/organizations/{org_id}`. An unknown (or deleted)
    /// organization is [`ClerkApiError::NotFound`].
    pub async fn get_organization(&self, org_id: &str) -> Result<OrganizationData, ClerkApiError> {
        self.get(&["organizations", org_id], &[]).await
    }

    /// The number of users: `GET /v1/users/count`.
    pub async fn count_users(&self) -> Result<u64, ClerkApiError> {
        let count: TotalCount = self.get(&["users", "count"], &[]).await?;
        Ok(count.total_count)
    }

    /// One page of organizations, oldest first, and how many there are in all:
    /// `GET /v1/organizations?limit=&offset=&order_by=+created_at`.
    pub async fn list_organizations_page(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<OrganizationData>, u64), ClerkApiError> {
        let page: Paginated<OrganizationData> = self
            .get(&["organizations"], &page_query(limit, offset))
            .await?;
        Ok((page.data, page.total_count))
    }

    /// Every organization, oldest first, `page_size` at a time (clamped to
    /// 1–500), until a short page or `total_count` is reached.
    pub async fn all_organizations(
        &self,
        page_size: u32,
    ) -> Result<Vec<OrganizationData>, ClerkApiError> {
        collect_pages(
            page_size,
            |limit, offset| async move {
                let (page, total) = self.list_organizations_page(limit, offset).await?;
                Ok((page, Some(total)))
            },
            |org: &OrganizationData| &org.id,
            |_| {},
        )
        .await
    }

    /// Every membership of one organization, oldest first:
    /// `GET /v1/organizations/{org_id}/memberships`, paged like
    /// [`Self::all_organizations`]. An unknown organization is
    /// [`ClerkApiError::NotFound`].
    pub async fn all_memberships(
        &self,
        org_id: &str,
        page_size: u32,
    ) -> Result<Vec<MembershipData>, ClerkApiError> {
        collect_pages(
            page_size,
            |limit, offset| async move {
                let page: Paginated<MembershipData> = self
                    .get(
                        &["organizations", org_id, "memberships"],
                        &page_query(limit, offset),
                    )
                    .await?;
                Ok((page.data, Some(page.total_count)))
            },
            |membership: &MembershipData| &membership.id,
            |_| {},
        )
        .await
    }

    /// Renames an organization: `PATCH /v1/organizations/{org_id}` with
    /// `{"name": name}`. Returns the organization as Clerk now has it.
    pub async fn update_organization(
        &self,
        org_id: &str,
        name: &str,
    ) -> Result<OrganizationData, ClerkApiError> {
        let body = serde_json::json!({ "name": name });
        let url = self.url(&["organizations", org_id], &[])?;
        let bytes = self.send(&Method::PATCH, &url, Some(&body)).await?;
        self.decode(&Method::PATCH, &url, &bytes)
    }

    /// Creates a user: `POST /v1/users`. Returns the user as Clerk made it. Not retried
    /// after a network error or a 5xx (Clerk may have created it); a 429 is waited out as
    /// usual, since Clerk did nothing then.
    pub async fn create_user(&self, user: &NewUser) -> Result<UserData, ClerkApiError> {
        let body = serde_json::to_value(user).map_err(|e| ClerkApiError::Decode(e.to_string()))?;
        let url = self.url(&["users"], &[])?;
        let bytes = self
            .send_with(&Method::POST, &url, Some(&body), Repeat::Unsafe)
            .await?;
        self.decode(&Method::POST, &url, &bytes)
    }

    /// Changes a user's names: `PATCH /v1/users/{user_id}`. An unknown user is
    /// [`ClerkApiError::NotFound`].
    pub async fn update_user(
        &self,
        user_id: &str,
        changes: &UserChanges,
    ) -> Result<UserData, ClerkApiError> {
        let body =
            serde_json::to_value(changes).map_err(|e| ClerkApiError::Decode(e.to_string()))?;
        let url = self.url(&["users", user_id], &[])?;
        let bytes = self.send(&Method::PATCH, &url, Some(&body)).await?;
        self.decode(&Method::PATCH, &url, &bytes)
    }

    /// Deletes a user: `DELETE /v1/users/{user_id}`. An unknown (or already deleted) user is
    /// [`ClerkApiError::NotFound`].
    pub async fn delete_user(&self, user_id: &str) -> Result<(), ClerkApiError> {
        let url = self.url(&["users", user_id], &[])?;
        self.send(&Method::DELETE, &url, None).await?;
        Ok(())
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ClerkApiError> {
        let url = self.url(segments, query)?;
        let bytes = self.send(&Method::GET, &url, None).await?;
        self.decode(&Method::GET, &url, &bytes)
    }

    /// `{base_url}/v1/{segments…}?{query}`, each segment percent-encoded (an
    /// id cannot add path levels).
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Url, ClerkApiError> {
        let unusable = |reason: &dyn fmt::Display| {
            ClerkApiError::Network(format!(
                "the Clerk API URL {:?} is not usable: {reason}",
                self.base_url
            ))
        };
        let mut url = Url::parse(&self.base_url).map_err(|e| unusable(&e))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(unusable(&"it must start with http:// or https://"));
        }
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .map_err(|()| unusable(&"it has no path"))?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends until an answer is final: retries 429s within the rate-limit
    /// budget, and network errors and 5xx with backoff.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, ClerkApiError> {
        self.send_with(method, url, body, Repeat::Safe).await
    }

    async fn send_with(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
    ) -> Result<Vec<u8>, ClerkApiError> {
        let mut transient_retries = 0u32;
        let mut rate_limited = 0u32;
        let mut rate_limit_waited = Duration::ZERO;
        loop {
            let wait = match self.attempt(method, url, body).await {
                Attempt::Success(bytes) => return Ok(bytes),
                Attempt::Failed(error) => return Err(error),
                Attempt::RateLimited { retry_after } => {
                    let wait = self.retry.rate_limit_wait(retry_after, rate_limited);
                    rate_limited += 1;
                    if rate_limit_waited.saturating_add(wait) > self.retry.max_rate_limit_wait {
                        tracing::warn!(
                            %method,
                            path = url.path(),
                            waited_secs = rate_limit_waited.as_secs_f64(),
                            "Clerk is still rate-limiting; giving up"
                        );
                        return Err(ClerkApiError::RateLimitedTooLong);
                    }
                    rate_limit_waited += wait;
                    tracing::info!(
                        %method,
                        path = url.path(),
                        wait_secs = wait.as_secs_f64(),
                        "Clerk rate limit (429); waiting before retrying"
                    );
                    wait
                }
                Attempt::Transient { error, retry_after } => {
                    if repeat == Repeat::Unsafe
                        || transient_retries >= self.retry.max_transient_retries
                    {
                        return Err(error);
                    }
                    let asked = retry_after
                        .unwrap_or_default()
                        .min(self.retry.max_retry_after);
                    let wait = self.retry.backoff(transient_retries).max(asked);
                    transient_retries += 1;
                    tracing::warn!(
                        %method,
                        path = url.path(),
                        %error,
                        retry = transient_retries,
                        wait_secs = wait.as_secs_f64(),
                        "Clerk API request failed; retrying"
                    );
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Attempt {
        // `bearer_auth` marks the header sensitive, so it is never printed.
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.secret_key)
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Attempt::Transient {
                    error: self.network_error(&error),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                return Attempt::Transient {
                    error: self.network_error(&error),
                    retry_after: None,
                };
            }
        };
        tracing::debug!(
            %method,
            path = url.path(),
            status = status.as_u16(),
            bytes = bytes.len(),
            "Clerk API answer"
        );
        if status.is_success() {
            return Attempt::Success(Vec::from(bytes));
        }
        let http_error = || ClerkApiError::Http {
            status: status.as_u16(),
            code: error_code(&bytes),
            message: redact(error_message(status, &bytes), &self.secret_key),
        };
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                // Clerk's reason (a revoked key, organizations not enabled, …)
                // goes to the log; the error itself stays a plain Unauthorized.
                tracing::warn!(
                    %method,
                    path = url.path(),
                    status = status.as_u16(),
                    message = %redact(error_message(status, &bytes), &self.secret_key),
                    "Clerk refused the secret key"
                );
                Attempt::Failed(ClerkApiError::Unauthorized)
            }
            StatusCode::NOT_FOUND => Attempt::Failed(ClerkApiError::NotFound),
            StatusCode::TOO_MANY_REQUESTS => Attempt::RateLimited { retry_after },
            _ if status.is_server_error() => Attempt::Transient {
                error: http_error(),
                retry_after,
            },
            _ => Attempt::Failed(http_error()),
        }
    }

    fn network_error(&self, error: &reqwest::Error) -> ClerkApiError {
        let mut text = describe_transport(error);
        if error.is_timeout() {
            text.push_str(&format!(" (timed out after {:?})", self.timeout));
        }
        ClerkApiError::Network(redact(text, &self.secret_key))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        bytes: &[u8],
    ) -> Result<T, ClerkApiError> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| error.to_string())
            .and_then(|value| {
                deserializer
                    .end()
                    .map(|()| value)
                    .map_err(|error| error.to_string())
            })
            .map_err(|error| {
                ClerkApiError::Decode(redact(
                    format!("{method} {}: {error}", url.path()),
                    &self.secret_key,
                ))
            })
    }
}

fn page_query(limit: u32, offset: u32) -> [(&'static str, String); 3] {
    [
        ("limit", limit.to_string()),
        ("offset", offset.to_string()),
        ("order_by", OLDEST_FIRST.to_owned()),
    ]
}

/// Walks a list by `offset` until a short page, or until `total` (when the
/// endpoint gives one) is reached. Objects seen before are skipped; a full
/// page of nothing new means the server ignores `offset`, which would
/// otherwise never end.
async fn collect_pages<T, Fetch, Page>(
    page_size: u32,
    mut fetch: Fetch,
    id: impl Fn(&T) -> &str,
    mut progress: impl FnMut(usize),
) -> Result<Vec<T>, ClerkApiError>
where
    Fetch: FnMut(u32, u32) -> Page,
    Page: Future<Output = Result<(Vec<T>, Option<u64>), ClerkApiError>>,
{
    let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    let mut offset = 0u32;
    loop {
        let (page, total) = fetch(page_size, offset).await?;
        let len = page.len();
        let before = all.len();
        for item in page {
            if seen.insert(id(&item).to_owned()) {
                all.push(item);
            }
        }
        progress(all.len());
        let end = u64::from(offset) + len as u64;
        if len < page_size as usize || total.is_some_and(|total| end >= total) {
            return Ok(all);
        }
        if all.len() == before {
            return Err(ClerkApiError::Decode(format!(
                "the page at offset {offset} repeated objects already listed; the server seems \
                 to ignore `offset`"
            )));
        }
        offset = u32::try_from(end).map_err(|_| {
            ClerkApiError::Decode(format!("the list is longer than {} objects", u32::MAX))
        })?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(base: &str) -> ClerkApi {
        ClerkApi::new(base, "sk_test_secret")
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_segments() {
        let url = api("http://127.0.0.1:3210/_clerk/")
            .url(&["users"], &page_query(500, 1000))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3210/_clerk/v1/users?limit=500&offset=1000&order_by=%2Bcreated_at"
        );
        let url = api(ClerkApi::DEFAULT_BASE_URL)
            .url(&["organizations", "org_1/../x?y", "memberships"], &[])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.clerk.com/v1/organizations/org_1%2F..%2Fx%3Fy/memberships"
        );
    }

    #[test]
    fn unusable_base_urls_are_errors() {
        for base in ["", "api.clerk.com", "ftp://api.clerk.com", "mailto:x@y.z"] {
            let error = api(base).url(&["users"], &[]).unwrap_err();
            assert!(
                matches!(&error, ClerkApiError::Network(text) if text.contains("not usable")),
                "{base}: {error:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let text = format!("{:?}", api("https://api.clerk.com/"));
        assert!(!text.contains("sk_test_secret"), "{text}");
        assert!(text.contains("https://api.clerk.com\""), "{text}");
    }

    #[tokio::test]
    async fn paging_stops_at_a_short_page_or_the_total() {
        let items: Vec<String> = (0..7).map(|i| format!("obj_{i}")).collect();
        let calls = std::cell::RefCell::new(Vec::new());
        let fetch = |total: Option<u64>| {
            let items = &items;
            let calls = &calls;
            move |limit: u32, offset: u32| {
                calls.borrow_mut().push((limit, offset));
                let page: Vec<String> = items
                    .iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                async move { Ok((page, total)) }
            }
        };
        let mut progress = Vec::new();
        let all = collect_pages(3, fetch(None), |s: &String| s, |n| progress.push(n))
            .await
            .unwrap();
        assert_eq!(all, items);
        assert_eq!(progress, [3, 6, 7]);
        assert_eq!(*calls.borrow(), [(3, 0), (3, 3), (3, 6)]);

        // A full last page: without a total one more (empty) page is asked
        // for; with the total it is not.
        calls.borrow_mut().clear();
        let all = collect_pages(7, fetch(None), |s: &String| s, |_| {})
            .await
            .unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(*calls.borrow(), [(7, 0), (7, 7)]);
        calls.borrow_mut().clear();
        collect_pages(7, fetch(Some(7)), |s: &String| s, |_| {})
            .await
            .unwrap();
        assert_eq!(*calls.borrow(), [(7, 0)]);

        // Page sizes are clamped to 1..=500.
        calls.borrow_mut().clear();
        collect_pages(0, fetch(Some(7)), |s: &String| s, |_| {})
            .await
            .unwrap();
        assert_eq!(calls.borrow()[0], (1, 0));
        calls.borrow_mut().clear();
        collect_pages(10_000, fetch(None), |s: &String| s, |_| {})
            .await
            .unwrap();
        assert_eq!(*calls.borrow(), [(500, 0)]);
    }

    #[tokio::test]
    async fn paging_skips_duplicates_and_stops_on_a_server_ignoring_offset() {
        // A page shifted by one (an object inserted before the cursor).
        let pages = [vec!["a", "b"], vec!["b", "c"], vec!["d"]];
        let all = collect_pages(
            2,
            |_, offset| {
                let page = pages[offset as usize / 2]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                async move { Ok((page, None)) }
            },
            |s: &String| s,
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(all, ["a", "b", "c", "d"]);

        let error = collect_pages(
            2,
            |_, _| async { Ok((vec!["a".to_owned(), "b".to_owned()], None)) },
            |s: &String| s,
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(matches!(error, ClerkApiError::Decode(_)), "{error:?}");
    }
}
