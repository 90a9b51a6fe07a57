//! `keel webhooks test`: a signed test delivery, as the "Testing" tab of Clerk's dashboard
//! sends one, to a running Keel's `/clerk-webhook` (or any URL), signed with the configured
//! `CLERK_WEBHOOK_SECRET` (in a `keel dev` folder, the one it generated). The event is a
//! made-up user, so trying the endpoint never touches a real one.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use keel_webhooks::WebhookSecrets;
use serde_json::{Value as Json, json};

/// The event types it can send.
pub const TYPES: &[&str] = &["user.created", "user.updated", "user.deleted"];

/// A Clerk event of `event_type` about the test user, at `now` (ms).
fn event(event_type: &str, now_ms: u64) -> anyhow::Result<Json> {
    let data = match event_type {
        "user.created" | "user.updated" => json!({
            "id": "user_webhook_test",
            "object": "user",
            "first_name": "Webhook",
            "last_name": "Test",
            "username": null,
            "image_url": null,
            "email_addresses": [{
                "id": "idn_webhook_test",
                "object": "email_address",
                "email_address": "webhook-test@example.com",
                "verification": {"status": "verified", "strategy": "email_code"}
            }],
            "primary_email_address_id": "idn_webhook_test",
            "public_metadata": {},
            "created_at": now_ms,
            "updated_at": now_ms,
            "last_sign_in_at": null,
        }),
        "user.deleted" => json!({"id": "user_webhook_test", "object": "user", "deleted": true}),
        other => bail!(
            "{other} is not a type `keel webhooks test` sends: one of {}",
            TYPES.join(", ")
        ),
    };
    Ok(json!({
        "type": event_type,
        "object": "event",
        "timestamp": now_ms,
        "data": data,
        "event_attributes": {"http_request": {"client_ip": "127.0.0.1", "user_agent": "keel webhooks test"}},
    }))
}

/// Sends the delivery and returns the status and body Keel answered.
pub async fn send(url: &str, secret: &str, event_type: &str) -> anyhow::Result<(u16, String)> {
    let secrets = WebhookSecrets::parse(secret)
        .map_err(|err| anyhow::anyhow!("CLERK_WEBHOOK_SECRET: {err}"))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let body = serde_json::to_vec(&event(event_type, now.as_millis() as u64)?)?;
    let id = format!("msg_test_{}", uuid::Uuid::new_v4().simple());
    let timestamp = now.as_secs();
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("svix-id", &id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", secrets.sign(&id, timestamp, &body))
        .body(body)
        .send()
        .await
        .with_context(|| format!("sending to {url}: is Keel running there?"))?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.unwrap_or_default()))
}
