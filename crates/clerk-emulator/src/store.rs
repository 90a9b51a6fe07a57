//! Users, sessions, organizations and memberships, kept in memory and persisted as one JSON file.
//!
//! Every change is applied to a copy of the state, written to
//! `state.json` (temp file + rename, mode 0600), and only then made visible
//! and announced to listeners. Emulator data sets are small, so rewriting the
//! whole file per change keeps this simple and crash-safe.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::browser_client::BrowserClient;
use crate::error::EmulatorError;
use crate::events::{ChangeEvent, Listeners};
use crate::files;
use crate::membership::Membership;
use crate::organization::Organization;
use crate::session::Session;
use crate::user::User;

/// Bumped when the file's meaning changes incompatibly (organizations and
/// memberships were added compatibly: older files simply have none).
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub version: u32,
    /// In creation order (list ordering breaks ties with it).
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub memberships: Vec<Membership>,
    /// Browsers signed in through the sign-in page, oldest first.
    #[serde(default)]
    pub browser_clients: Vec<BrowserClient>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            users: Vec::new(),
            sessions: Vec::new(),
            organizations: Vec::new(),
            memberships: Vec::new(),
            browser_clients: Vec::new(),
        }
    }
}

impl State {
    pub(crate) fn user_index(&self, id: &str) -> Result<usize, EmulatorError> {
        self.users
            .iter()
            .position(|u| u.id == id)
            .ok_or_else(|| EmulatorError::not_found(format!("No user was found with id {id}")))
    }

    pub(crate) fn user(&self, id: &str) -> Result<&User, EmulatorError> {
        self.user_index(id).map(|i| &self.users[i])
    }

    pub(crate) fn session_index(&self, id: &str) -> Result<usize, EmulatorError> {
        self.sessions
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| EmulatorError::not_found(format!("No session was found with id {id}")))
    }

    /// By id, or by slug as `GET /v1/organizations/{id_or_slug}` allows.
    pub(crate) fn organization_index(&self, id_or_slug: &str) -> Result<usize, EmulatorError> {
        let by = |f: fn(&Organization) -> &str| {
            self.organizations.iter().position(|o| f(o) == id_or_slug)
        };
        by(|o| o.id.as_str())
            .or_else(|| by(|o| o.slug.as_str()))
            .ok_or_else(|| {
                EmulatorError::not_found(format!("No organization was found with id {id_or_slug}"))
            })
    }

    pub(crate) fn organization(&self, id: &str) -> Result<&Organization, EmulatorError> {
        self.organization_index(id).map(|i| &self.organizations[i])
    }

    pub(crate) fn membership_index(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> Result<usize, EmulatorError> {
        self.memberships
            .iter()
            .position(|m| m.organization_id == organization_id && m.user_id == user_id)
            .ok_or_else(|| {
                EmulatorError::not_found(format!(
                    "No membership was found for user {user_id} in organization {organization_id}"
                ))
            })
    }

    /// A membership as OrganizationMembershipJSON (its organization and user exist).
    pub(crate) fn membership_json(
        &self,
        membership: &Membership,
    ) -> Result<serde_json::Value, EmulatorError> {
        let organization = self.organization(&membership.organization_id)?;
        let user = self.user(&membership.user_id)?;
        Ok(membership.to_json(organization, user))
    }
}

pub(crate) struct Store {
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl Store {
    /// Reads `path`, or starts empty if it does not exist. Blocking.
    pub(crate) fn load(path: PathBuf) -> Result<Self, EmulatorError> {
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State = serde_json::from_slice(&bytes).map_err(|source| {
                    EmulatorError::CorruptState {
                        path: path.clone(),
                        source,
                    }
                })?;
                if state.version != FORMAT_VERSION {
                    return Err(EmulatorError::io(
                        "loading",
                        &path,
                        std::io::Error::other(format!(
                            "unsupported state format version {} (expected {FORMAT_VERSION})",
                            state.version
                        )),
                    ));
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(EmulatorError::io("reading", &path, e)),
        };
        Ok(Self {
            path,
            state: Arc::new(Mutex::new(state)),
        })
    }

    pub(crate) async fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&*self.state.lock().await)
    }

    /// Applies `change` to a copy of the state, persists it, then commits it
    /// and publishes the events `change` recorded. A failed change or write
    /// leaves the state as it was.
    pub(crate) async fn write<R>(
        &self,
        listeners: &Arc<Listeners>,
        change: impl FnOnce(&mut State, &mut Vec<ChangeEvent>) -> Result<R, EmulatorError>,
    ) -> Result<R, EmulatorError> {
        let mut state = Arc::clone(&self.state).lock_owned().await;
        let mut next = state.clone();
        let mut events = Vec::new();
        let out = change(&mut next, &mut events)?;
        let bytes =
            serde_json::to_vec_pretty(&next).map_err(|source| EmulatorError::CorruptState {
                path: self.path.clone(),
                source,
            })?;
        let path = self.path.clone();
        let listeners = Arc::clone(listeners);
        // Write and commit in a task of its own: if the caller is dropped
        // (a client hung up), memory, file and events still agree.
        tokio::spawn(async move {
            tokio::task::spawn_blocking(move || files::write_atomic(&path, &bytes)).await??;
            *state = next;
            // Still under the lock: listeners see changes in commit order.
            listeners.publish(&events);
            Ok::<(), EmulatorError>(())
        })
        .await??;
        Ok(out)
    }
}
