//! Users and tokens from the Clerk emulator's Backend API (`{url}/_clerk/v1`), as a Clerk app
//! backend would create them: user, session, `convex` template token.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value as Json, json};

#[derive(Clone, Debug)]
pub struct User {
    pub token: String,
}

pub struct Created {
    pub users: Vec<User>,
    pub elapsed: Duration,
}

pub struct Emulator {
    http: reqwest::Client,
    base: String,
    secret_key: String,
}

impl Emulator {
    pub fn new(url: &str, secret_key: &str) -> Emulator {
        Emulator {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()
                .expect("a plain HTTP client"),
            base: format!("{url}/_clerk/v1"),
            secret_key: secret_key.to_string(),
        }
    }

    async fn post(&self, path: &str, body: Json) -> anyhow::Result<Json> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let body: Json = response
            .json()
            .await
            .with_context(|| format!("POST {path}"))?;
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// One user with a session and a `convex` token valid for `ttl_secs`.
    pub async fn user(&self, email: &str, ttl_secs: u64) -> anyhow::Result<User> {
        let user = self
            .post(
                "/users",
                json!({ "email_address": [email], "first_name": "Bench" }),
            )
            .await?;
        let id = str_field(&user, "id")?;
        let session = self.post("/sessions", json!({ "user_id": id })).await?;
        let session_id = str_field(&session, "id")?;
        let token = self
            .post(
                &format!("/sessions/{session_id}/tokens/convex"),
                json!({ "expires_in_seconds": ttl_secs }),
            )
            .await?;
        Ok(User {
            token: str_field(&token, "jwt")?,
        })
    }

    /// `count` users named `{prefix}-{i}@example.com`, `concurrency` at a time, in order.
    pub async fn users(
        &self,
        prefix: &str,
        count: usize,
        concurrency: usize,
        ttl_secs: u64,
    ) -> anyhow::Result<Created> {
        let started = Instant::now();
        let results: Vec<anyhow::Result<User>> = futures::stream::iter(0..count)
            .map(|i| async move {
                self.user(&format!("{prefix}-{i}@example.com"), ttl_secs)
                    .await
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let users = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Created {
            users,
            elapsed: started.elapsed(),
        })
    }
}

fn str_field(body: &Json, field: &str) -> anyhow::Result<String> {
    body[field]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no `{field}` in {body}"))
}
