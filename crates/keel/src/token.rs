//! `keel token`: a session for a user on a running `keel dev`, then a token for it.

use anyhow::Context;
use serde_json::{Value as Json, json};

/// A session for `user` on the emulator at `url`, then its token (`template` None: the
/// plain session token).
pub(crate) async fn mint(
    url: &str,
    secret: &str,
    user: &str,
    template: Option<&str>,
    expires_in: Option<u64>,
) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let base = format!("{}/_clerk/v1", url.trim_end_matches('/'));
    let session = post(
        &client,
        &format!("{base}/sessions"),
        secret,
        json!({ "user_id": user }),
    )
    .await
    .with_context(|| format!("creating a session for {user} on keel dev at {url}"))?;
    let session_id = session["id"].as_str().context("session has no id")?;
    let (path, what) = match template {
        Some(template) => (
            format!("{base}/sessions/{session_id}/tokens/{template}"),
            format!("minting a token from the `{template}` template"),
        ),
        None => (
            format!("{base}/sessions/{session_id}/tokens"),
            "minting a session token".to_string(),
        ),
    };
    let mut body = json!({});
    if let Some(seconds) = expires_in {
        body["expires_in_seconds"] = seconds.into();
    }
    let token = post(&client, &path, secret, body).await.context(what)?;
    Ok(token["jwt"]
        .as_str()
        .context("no jwt in the answer")?
        .to_string())
}

/// The id of the emulator's user with `email`; with `create`, a new user when there is none
/// (named after the address: `ada@example.com` is Ada).
pub(crate) async fn user_by_email(
    url: &str,
    secret: &str,
    email: &str,
    create: bool,
) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let base = format!("{}/_clerk/v1", url.trim_end_matches('/'));
    let email = email.trim();
    let lookup =
        reqwest::Url::parse_with_params(&format!("{base}/users"), [("email_address", email)])
            .with_context(|| format!("{url} is not a URL"))?;
    let found = send(client.get(lookup), secret)
        .await
        .with_context(|| format!("looking up {email} on keel dev at {url}"))?;
    if let Some(id) = found
        .as_array()
        .and_then(|users| users.first())
        .and_then(|user| user["id"].as_str())
    {
        return Ok(id.to_string());
    }
    if !create {
        anyhow::bail!(
            "keel dev at {url} has no user with the email {email}: add --create to create one"
        );
    }
    let local = email.split('@').next().unwrap_or(email);
    let mut first = local
        .split(['.', '_', '-', '+'])
        .next()
        .unwrap_or(local)
        .to_string();
    if let Some(initial) = first.get(..1) {
        first = initial.to_uppercase() + &first[1..];
    }
    let created = post(
        &client,
        &format!("{base}/users"),
        secret,
        json!({ "email_address": [email], "first_name": first }),
    )
    .await
    .with_context(|| format!("creating {email} on keel dev at {url}"))?;
    Ok(created["id"]
        .as_str()
        .context("the created user has no id")?
        .to_string())
}

/// The JSON of a successful answer; otherwise the emulator's own words for what was wrong
/// (Clerk's `errors[0].long_message`, which names the unknown user or template), not a bare
/// status and URL.
async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: Json,
) -> anyhow::Result<Json> {
    send(client.post(url).json(&body), secret).await
}

async fn send(request: reqwest::RequestBuilder, secret: &str) -> anyhow::Result<Json> {
    let response = request
        .bearer_auth(secret)
        .send()
        .await
        .context("is keel dev running there?")?;
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        anyhow::bail!(
            "{} ({status})",
            keel_clerk_api::error_message(status, &bytes)
        );
    }
    serde_json::from_slice(&bytes).context("the answer is not JSON")
}
