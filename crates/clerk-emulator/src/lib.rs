//! An offline stand-in for Clerk: an HTTP service that publishes a JWKS,
//! mints RS256 tokens shaped like Clerk's, answers a subset of the Backend
//! API (users, sessions, tokens, organizations, memberships) and delivers
//! every change as a Svix-signed Clerk webhook. It knows nothing of Keel:
//! Keel nests [`Emulator::router`] at `/_clerk` and verifies its tokens and
//! webhooks exactly as it verifies Clerk's.
//!
//! Routes (relative to the mount point):
//! - `GET /.well-known/openid-configuration`, `GET /.well-known/jwks.json` (public)
//! - Backend API, each requiring `Authorization: Bearer <secret key>`:
//!   `GET /v1/jwks`; `POST|GET /v1/users`, `GET /v1/users/count`,
//!   `GET|PATCH|DELETE /v1/users/{id}`, `GET /v1/users/{id}/organization_memberships`;
//!   `POST /v1/sessions` (`active_organization_id` optional),
//!   `GET /v1/sessions/{id}`, `POST /v1/sessions/{id}/revoke`,
//!   `POST /v1/sessions/{id}/tokens[/{template}]` (template `convex`);
//!   `POST|GET /v1/organizations`, `GET|PATCH|DELETE /v1/organizations/{id}`,
//!   `POST|GET /v1/organizations/{id}/memberships`,
//!   `PATCH|DELETE /v1/organizations/{id}/memberships/{user_id}`,
//!   `GET /v1/organization_memberships`;
//!   and the emulator's own `GET /v1/webhook_deliveries` (the delivery log).
//! - Browser sign-in, a miniature of Clerk's Frontend API (see `frontend/`), authorized by the
//!   `__keel_client` cookie instead of the secret key: `GET|POST /sign-in` (the page),
//!   `GET /v1/client`, `POST /v1/client/sessions/{id}/tokens[/{template}]`,
//!   `POST /v1/client/sessions/{id}/end`.
//!
//! Organization roles are Clerk's defaults, `org:admin` and `org:member`,
//! with Clerk's system permissions (see `roles.rs`). With an active
//! organization, session tokens carry the v2 `o` claim and `fea`; the
//! `convex` template carries `org_id`, `org_role` and `org_slug`. Real Clerk
//! leaves system permissions out of `o`; the emulator encodes them so
//! permission checks can be exercised without custom permissions.
//!
//! Files, in `{data_dir}/clerk-emulator/` (folder 0700, files 0600):
//! - `signing-key.pem`: the RSA-2048 key, PKCS#8 PEM, made on first start.
//!   The `kid` (`ins_…`) is derived from it, so it survives restarts and so
//!   do the tokens it signed. Delete the file to rotate.
//! - `state.json`: `{"version":1,"users":[…],"sessions":[…],"organizations":[…],
//!   "memberships":[…],"browser_clients":[…]}`, rewritten whole (temp file + rename) after every
//!   change. Delete it to start empty.
//!
//! Changes are announced through [`ChangeListener`] (see [`events`]);
//! [`Emulator::start_webhook_delivery`] adds the listener that delivers them
//! as webhooks (see [`delivery`] for retries and fault injection). The
//! delivery log is in memory only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), keel_clerk_emulator::EmulatorError> {
//! use keel_clerk_emulator::{CreateUser, Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::open(EmulatorConfig {
//!     data_dir: "./data".into(),
//!     issuer: "http://127.0.0.1:3210/_clerk".into(),
//!     // The emulator does not store its secret key: keep it with your config.
//!     secret_key: Emulator::generate_secret_key(),
//!     authorized_party: None,
//! })
//! .await?;
//! let app: axum::Router = axum::Router::new().nest("/_clerk", emulator.router());
//!
//! let user = emulator
//!     .create_user(CreateUser {
//!         email_address: vec!["ada@example.com".into()],
//!         ..Default::default()
//!     })
//!     .await?;
//! let session_id = emulator.create_session(user["id"].as_str().unwrap()).await?;
//! let jwt = emulator.mint_token(&session_id, Some("convex"), None).await?;
//! # let _ = (app, jwt);
//! # Ok(())
//! # }
//! ```

mod auth;
mod browser_client;
pub mod delivery;
mod emulator;
mod error;
pub mod events;
mod extract;
mod files;
mod frontend;
mod ids;
mod keys;
mod membership;
mod org_claim;
mod org_list;
mod organization;
mod organization_input;
mod roles;
mod routes;
mod session;
mod store;
mod tokens;
mod user;
mod user_input;
mod user_list;

pub use delivery::{
    DEVELOPMENT_RETRY_SCHEDULE, DeliveryConfig, DeliveryRecord, DeliveryStatus, Fault, Faults,
    FaultsError, SVIX_RETRY_SCHEDULE,
};
pub use emulator::{
    BrowserSession, CreateSession, DATA_SUBDIR, DEFAULT_AUTHORIZED_PARTY, Emulator, EmulatorConfig,
    SIGNING_KEY_FILE, STATE_FILE,
};
pub use error::{ClerkError, EmulatorError};
pub use events::{ChangeEvent, ChangeKind, ChangeListener};
pub use org_list::{ListMemberships, ListOrganizations};
pub use organization_input::{
    CreateMembership, CreateOrganization, UpdateMembership, UpdateOrganization,
};
pub use user_input::{CreateUser, UpdateUser};
pub use user_list::ListUsers;
