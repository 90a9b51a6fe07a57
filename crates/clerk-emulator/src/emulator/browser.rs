//! Browser sign-in, the emulator's part of Clerk's Frontend API: a browser client (cookie)
//! holds one session, mints that session's tokens and ends it. Nothing here needs the secret
//! key; the cookie is the credential, as Clerk's `__client` cookie is.

use serde_json::{Map, Value, json};

use super::{Emulator, event};
use crate::browser_client::{BrowserClient, MAX_BROWSER_CLIENTS, digest_of};
use crate::error::EmulatorError;
use crate::events::ChangeKind;
use crate::ids::now_ms;
use crate::session::{Session, SessionStatus};
use crate::store::State;

/// What a signed-in browser may know about itself (Clerk's `/v1/client` carries the same
/// facts in its own, larger shape).
#[derive(Debug, Clone, PartialEq)]
pub struct BrowserSession {
    pub session_id: String,
    pub user: Value,
    pub org_id: Option<String>,
    pub org_role: Option<String>,
    pub org_slug: Option<String>,
}

impl BrowserSession {
    pub fn to_json(&self) -> Value {
        json!({
            "object": "client_session",
            "id": self.session_id,
            "user": self.user,
            "org_id": self.org_id,
            "org_role": self.org_role,
            "org_slug": self.org_slug,
        })
    }
}

impl Emulator {
    /// Signs `user_id` in from a browser: a new session (with `active_organization_id` when
    /// given) and a new browser client holding it. Returns the cookie's secret.
    pub async fn sign_in_browser(
        &self,
        user_id: &str,
        active_organization_id: Option<String>,
    ) -> Result<String, EmulatorError> {
        let session = self
            .create_session_with(super::CreateSession {
                user_id: Some(user_id.to_owned()),
                active_organization_id,
            })
            .await?;
        let session_id = session["id"].as_str().unwrap_or_default().to_owned();
        self.store
            .write(&self.listeners, |state, _| {
                let (client, secret) = BrowserClient::new(&session_id, now_ms());
                state.browser_clients.push(client);
                let excess = state
                    .browser_clients
                    .len()
                    .saturating_sub(MAX_BROWSER_CLIENTS);
                state.browser_clients.drain(..excess);
                Ok(secret)
            })
            .await
    }

    /// The browser's session if it is still active; `None` once it ended, was revoked or its
    /// user was deleted (the browser is then signed out).
    pub async fn browser_session(&self, secret: &str) -> Option<BrowserSession> {
        let digest = digest_of(secret);
        self.store
            .read(|state| {
                let session = browser_session(state, &digest)?;
                let user = state.user(&session.user_id).ok()?;
                let (org_id, org_role, org_slug) =
                    match super::organizations::active(state, session) {
                        Some((org, membership)) => (
                            Some(org.id.clone()),
                            Some(membership.role.clone()),
                            Some(org.slug.clone()),
                        ),
                        None => (None, None, None),
                    };
                Some(BrowserSession {
                    session_id: session.id.clone(),
                    user: browser_user_json(user),
                    org_id,
                    org_role,
                    org_slug,
                })
            })
            .await
    }

    /// A token for the browser's session; `session_id` must be that session (Clerk's
    /// `/v1/client/sessions/{id}/tokens/{template}` names it in the path).
    pub async fn browser_token(
        &self,
        secret: &str,
        session_id: &str,
        template: Option<&str>,
    ) -> Result<String, EmulatorError> {
        let digest = digest_of(secret);
        let owns = self
            .store
            .read(|state| browser_session(state, &digest).is_some_and(|s| s.id == session_id))
            .await;
        if !owns {
            return Err(EmulatorError::signed_out());
        }
        self.mint_token(session_id, template, None).await
    }

    /// Ends the browser's session (announced as `session.ended`, as Clerk's sign-out is) and
    /// forgets the client. Ending a client that is already gone changes nothing.
    pub async fn sign_out_browser(&self, secret: &str) -> Result<(), EmulatorError> {
        let digest = digest_of(secret);
        self.store
            .write(&self.listeners, |state, events| {
                let Some(i) = state
                    .browser_clients
                    .iter()
                    .position(|c| c.digest == digest)
                else {
                    return Ok(());
                };
                let client = state.browser_clients.remove(i);
                let now = now_ms();
                if let Ok(s) = state.session_index(&client.session_id)
                    && state.sessions[s].status == SessionStatus::Active
                {
                    let user = state.user(&state.sessions[s].user_id)?.clone();
                    let session = &mut state.sessions[s];
                    session.status = SessionStatus::Ended;
                    session.updated_at = now;
                    let data = session.to_event_json(&user, now);
                    events.push(event(ChangeKind::SessionEnded, data, now));
                }
                Ok(())
            })
            .await
    }
}

fn browser_session<'a>(state: &'a State, digest: &str) -> Option<&'a Session> {
    let client = state.browser_clients.iter().find(|c| c.digest == digest)?;
    let session = &state.sessions[state.session_index(&client.session_id).ok()?];
    session.is_active(now_ms()).then_some(session)
}

/// The few user fields a browser shows about itself.
fn browser_user_json(user: &crate::user::User) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(user.id));
    out.insert("first_name".into(), json!(user.first_name));
    out.insert("last_name".into(), json!(user.last_name));
    out.insert("email_address".into(), json!(user.primary_email()));
    out.insert("image_url".into(), json!(user.image_url));
    out.insert("public_metadata".into(), json!(user.public_metadata));
    Value::Object(out)
}

/// Who the sign-in page offers: the newest users first, and the organizations to join.
#[derive(Debug, Clone, Default)]
pub struct SignInChoices {
    pub users: Vec<ChoiceUser>,
    /// `(id, name)`, by name.
    pub organizations: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct ChoiceUser {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub admin: bool,
}

/// The sign-in page lists at most this many users (the newest).
const MAX_CHOICES: usize = 100;

impl Emulator {
    pub async fn sign_in_choices(&self) -> SignInChoices {
        self.store
            .read(|state| {
                let users = state
                    .users
                    .iter()
                    .rev()
                    .take(MAX_CHOICES)
                    .map(|u| ChoiceUser {
                        id: u.id.clone(),
                        name: [u.first_name.as_deref(), u.last_name.as_deref()]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" "),
                        email: u.primary_email().map(str::to_owned),
                        admin: u.public_metadata.get("role") == Some(&json!("admin")),
                    })
                    .collect();
                let mut organizations: Vec<_> = state
                    .organizations
                    .iter()
                    .map(|o| (o.id.clone(), o.name.clone()))
                    .collect();
                organizations.sort_by(|a, b| a.1.cmp(&b.1));
                SignInChoices {
                    users,
                    organizations,
                }
            })
            .await
    }
}
