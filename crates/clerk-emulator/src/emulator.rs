//! The emulator handle: configuration, signing key, state and change feed,
//! with the operations the HTTP routes (and Keel's own tools) call.
//! Organization operations are in [`organizations`], webhook delivery in
//! [`webhooks`].

mod browser;
mod organizations;
mod webhooks;

pub use browser::{BrowserSession, ChoiceUser, SignInChoices};

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::delivery::DeliveryLog;
use crate::error::EmulatorError;
use crate::events::{ChangeEvent, ChangeKind, ChangeListener, Listeners};
use crate::files;
use crate::ids::{now_ms, random_base62};
use crate::keys::SigningKey;
use crate::session::{Session, SessionStatus};
use crate::store::Store;
use crate::tokens::{self, Template, TokenInput};
use crate::user_input::{CreateUser, UpdateUser};
use crate::user_list::ListUsers;

/// `azp` of minted tokens when none is configured: a local front end's origin.
pub const DEFAULT_AUTHORIZED_PARTY: &str = "http://localhost:3000";

/// The folder under `data_dir` that holds the emulator's files.
pub const DATA_SUBDIR: &str = "clerk-emulator";
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
pub const STATE_FILE: &str = "state.json";

#[derive(Clone)]
pub struct EmulatorConfig {
    /// Keel's data folder; the emulator keeps its files in `{data_dir}/clerk-emulator/`.
    pub data_dir: PathBuf,
    /// Where the emulator is mounted, e.g. `http://127.0.0.1:3210/_clerk`
    /// (a trailing slash is dropped). Tokens carry it as `iss`.
    pub issuer: String,
    /// The Backend API secret key (`sk_test_…`) clients must present.
    pub secret_key: String,
    /// `azp` of minted tokens; [`DEFAULT_AUTHORIZED_PARTY`] when None.
    pub authorized_party: Option<String>,
}

/// Hides the secret key.
impl fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("data_dir", &self.data_dir)
            .field("issuer", &self.issuer)
            .field("secret_key", &"[redacted]")
            .field("authorized_party", &self.authorized_party)
            .finish()
    }
}

/// Body of `POST /v1/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateSession {
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_organization_id: Option<String>,
}

pub struct Emulator {
    issuer: String,
    secret_key: String,
    authorized_party: String,
    key: SigningKey,
    store: Store,
    listeners: Arc<Listeners>,
    /// Set once webhook delivery is started.
    deliveries: OnceLock<Arc<DeliveryLog>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("issuer", &self.issuer)
            .field("kid", &self.key.kid())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Loads the signing key and state from `{data_dir}/clerk-emulator/`,
    /// creating them on first start.
    pub async fn open(config: EmulatorConfig) -> Result<Arc<Emulator>, EmulatorError> {
        let issuer = config.issuer.trim_end_matches('/').to_owned();
        if issuer.is_empty() {
            return Err(EmulatorError::Config("issuer must not be empty".into()));
        }
        if config.secret_key.is_empty() {
            return Err(EmulatorError::Config("secret_key must not be empty".into()));
        }
        let dir = config.data_dir.join(DATA_SUBDIR);
        let (key, store) = tokio::task::spawn_blocking(move || {
            files::create_private_dir(&dir)?;
            let key = SigningKey::load_or_create(&dir.join(SIGNING_KEY_FILE))?;
            let store = Store::load(dir.join(STATE_FILE))?;
            Ok::<_, EmulatorError>((key, store))
        })
        .await??;
        Ok(Arc::new(Emulator {
            issuer,
            secret_key: config.secret_key,
            authorized_party: config
                .authorized_party
                .unwrap_or_else(|| DEFAULT_AUTHORIZED_PARTY.to_owned()),
            key,
            store,
            listeners: Arc::default(),
            deliveries: OnceLock::new(),
        }))
    }

    /// The HTTP service, to be nested at the issuer's path (e.g. `/_clerk`).
    pub fn router(self: &Arc<Self>) -> axum::Router {
        crate::routes::router(Arc::clone(self))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn authorized_party(&self) -> &str {
        &self.authorized_party
    }

    /// The signing key's id, which doubles as the instance id (`ins_…`).
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// A fresh Backend API secret key in Clerk's development format.
    pub fn generate_secret_key() -> String {
        format!("sk_test_{}", random_base62(48))
    }

    /// `{keys:[{use, kty, kid, alg, n, e}]}`.
    pub fn jwks(&self) -> Value {
        self.key.jwks()
    }

    /// The OpenID discovery document. The OAuth endpoints are listed because
    /// Clerk lists them and discovery clients expect them; the emulator only
    /// serves `jwks_uri`.
    pub fn openid_configuration(&self) -> Value {
        let iss = &self.issuer;
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{iss}/oauth/authorize"),
            "token_endpoint": format!("{iss}/oauth/token"),
            "revocation_endpoint": format!("{iss}/oauth/token/revoke"),
            "introspection_endpoint": format!("{iss}/oauth/token_info"),
            "userinfo_endpoint": format!("{iss}/oauth/userinfo"),
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "public_metadata", "private_metadata"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none", "client_secret_post"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "name", "given_name", "family_name",
                "nickname", "email", "email_verified", "picture", "public_metadata", "private_metadata"
            ],
            "code_challenge_methods_supported": ["S256"],
            "backchannel_logout_supported": false,
            "frontchannel_logout_supported": false,
        })
    }

    /// Registers a listener for every later committed change (the webhook seam).
    pub fn add_listener(&self, listener: Arc<dyn ChangeListener>) {
        self.listeners.add(listener);
    }

    /// A channel of every later committed change.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ChangeEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.add_listener(Arc::new(tx));
        rx
    }

    // ----- users -----

    /// `POST /v1/users`: returns the new UserJSON.
    pub async fn create_user(&self, req: CreateUser) -> Result<Value, EmulatorError> {
        let instance_id = self.kid().to_owned();
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let user = req.build(&state.users, &instance_id, now)?;
                let json = user.to_json();
                state.users.push(user);
                events.push(event(ChangeKind::UserCreated, json.clone(), now));
                Ok(json)
            })
            .await
    }

    /// Creates many users in one stored change (tests and seeding: the state file is
    /// rewritten once, not once per user). Each still announces its own `user.created`.
    pub async fn create_users(&self, reqs: Vec<CreateUser>) -> Result<Vec<Value>, EmulatorError> {
        let instance_id = self.kid().to_owned();
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let mut created = Vec::with_capacity(reqs.len());
                for req in reqs {
                    let user = req.build(&state.users, &instance_id, now)?;
                    let json = user.to_json();
                    state.users.push(user);
                    events.push(event(ChangeKind::UserCreated, json.clone(), now));
                    created.push(json);
                }
                Ok(created)
            })
            .await
    }

    /// `GET /v1/users/{id}`.
    pub async fn get_user(&self, user_id: &str) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| state.user(user_id).map(|u| u.to_json()))
            .await
    }

    /// `GET /v1/users`: one page of UserJSON.
    pub async fn list_users(&self, query: &ListUsers) -> Result<Vec<Value>, EmulatorError> {
        self.store
            .read(|state| {
                let page = query.page(&state.users)?;
                Ok(page.into_iter().map(|u| u.to_json()).collect())
            })
            .await
    }

    /// `GET /v1/users/count`.
    pub async fn count_users(&self) -> u64 {
        self.store.read(|state| state.users.len() as u64).await
    }

    /// `PATCH /v1/users/{id}`: returns the updated UserJSON.
    pub async fn update_user(
        &self,
        user_id: &str,
        req: UpdateUser,
    ) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.user_index(user_id)?;
                let mut user = state.users[i].clone();
                req.apply(&mut user, &state.users, now)?;
                let json = user.to_json();
                state.users[i] = user;
                events.push(event(ChangeKind::UserUpdated, json.clone(), now));
                Ok(json)
            })
            .await
    }

    /// `DELETE /v1/users/{id}`: returns `{object:"user", id, deleted:true}`.
    /// First the user's memberships go (`organizationMembership.deleted`
    /// each), then their active sessions become `removed` (`session.removed`
    /// each), then the user (`user.deleted`).
    pub async fn delete_user(&self, user_id: &str) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.user_index(user_id)?;
                let user = state.users[i].clone();
                for membership in
                    organizations::take_memberships(state, now, |m| m.user_id == user.id)
                {
                    let json =
                        membership.to_json(state.organization(&membership.organization_id)?, &user);
                    events.push(event(ChangeKind::OrganizationMembershipDeleted, json, now));
                }
                for session in state.sessions.iter_mut().filter(|s| s.user_id == user.id) {
                    if session.status == SessionStatus::Active {
                        session.status = SessionStatus::Removed;
                        session.updated_at = now;
                        let json = session.to_event_json(&user, now);
                        events.push(event(ChangeKind::SessionRemoved, json, now));
                    }
                }
                state.users.remove(i);
                let json = user.deleted_json();
                events.push(event(ChangeKind::UserDeleted, json.clone(), now));
                Ok(json)
            })
            .await
    }

    // ----- sessions -----

    /// Creates an active session for `user_id` and returns its id.
    pub async fn create_session(&self, user_id: &str) -> Result<String, EmulatorError> {
        let session = self
            .create_session_with(CreateSession {
                user_id: Some(user_id.to_owned()),
                active_organization_id: None,
            })
            .await?;
        Ok(session["id"].as_str().unwrap_or_default().to_owned())
    }

    /// `POST /v1/sessions`: returns the SessionJSON. Signing in sets the
    /// user's `last_sign_in_at` and `last_active_at`; only `session.created`
    /// is announced (no `user.updated`). `active_organization_id` must be
    /// an organization the user is a member of; the active organization is
    /// only set here (the Backend API has no call to change it later), and is
    /// never chosen implicitly.
    pub async fn create_session_with(&self, req: CreateSession) -> Result<Value, EmulatorError> {
        let user_id = req
            .user_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| EmulatorError::missing_param("user_id"))?;
        let org = req.active_organization_id.filter(|id| !id.is_empty());
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.user_index(&user_id)?;
                let mut session = Session::new(&user_id, now);
                if let Some(org) = &org {
                    let org_id = state.organization(org)?.id.clone();
                    state.membership_index(&org_id, &user_id).map_err(|_| {
                        EmulatorError::invalid_param(
                            "active_organization_id",
                            format!("User {user_id} is not a member of organization {org_id}."),
                        )
                    })?;
                    session.last_active_organization_id = Some(org_id);
                }
                let user = &mut state.users[i];
                user.last_sign_in_at = Some(now);
                user.last_active_at = Some(now);
                let json = session.to_json(now);
                events.push(event(
                    ChangeKind::SessionCreated,
                    session.to_event_json(user, now),
                    now,
                ));
                state.sessions.push(session);
                Ok(json)
            })
            .await
    }

    /// `GET /v1/sessions/{id}`.
    pub async fn get_session(&self, session_id: &str) -> Result<Value, EmulatorError> {
        self.store
            .read(|state| {
                let i = state.session_index(session_id)?;
                Ok(state.sessions[i].to_json(now_ms()))
            })
            .await
    }

    /// `POST /v1/sessions/{id}/revoke`: the session can mint no more tokens.
    /// Revoking a session that is no longer active changes nothing.
    pub async fn revoke_session(&self, session_id: &str) -> Result<Value, EmulatorError> {
        self.store
            .write(&self.listeners, |state, events| {
                let now = now_ms();
                let i = state.session_index(session_id)?;
                if state.sessions[i].status == SessionStatus::Active {
                    // Active sessions always have their user.
                    let user = state.user(&state.sessions[i].user_id)?.clone();
                    let session = &mut state.sessions[i];
                    session.status = SessionStatus::Revoked;
                    session.updated_at = now;
                    let data = session.to_event_json(&user, now);
                    events.push(event(ChangeKind::SessionRevoked, data, now));
                }
                Ok(state.sessions[i].to_json(now))
            })
            .await
    }

    // ----- tokens -----

    /// `POST /v1/sessions/{id}/tokens[/{template}]`: a signed JWT for an
    /// active session, the session token when `template` is None. Lifetime
    /// 60 s unless `expires_in_secs` (1 ..= 315360000) says otherwise.
    pub async fn mint_token(
        &self,
        session_id: &str,
        template: Option<&str>,
        expires_in_secs: Option<u64>,
    ) -> Result<String, EmulatorError> {
        let template = template.map(Template::by_name).transpose()?;
        let lifetime_secs = tokens::lifetime(expires_in_secs)?;
        let claims = self
            .store
            .read(|state| {
                let now = now_ms();
                let session = &state.sessions[state.session_index(session_id)?];
                if !session.is_active(now) {
                    return Err(EmulatorError::not_found(format!(
                        "Session {session_id} is not active"
                    )));
                }
                let input = TokenInput {
                    issuer: &self.issuer,
                    authorized_party: &self.authorized_party,
                    user: state.user(&session.user_id)?,
                    organization: organizations::active(state, session),
                    session,
                    now: now / 1000,
                    lifetime_secs,
                };
                Ok(match template {
                    None => tokens::session_claims(&input),
                    Some(t) => tokens::template_claims(t, &input),
                })
            })
            .await?;
        self.key.sign(&claims)
    }
}

fn event(kind: ChangeKind, data: Value, timestamp_ms: i64) -> ChangeEvent {
    ChangeEvent {
        kind,
        data,
        timestamp_ms,
    }
}
