//! An offline stand-in for Clerk: an HTTP service that publishes a JWKS,
//! mints RS256 tokens shaped like Clerk's, and answers a subset of the
//! Backend API (users, sessions, tokens). It knows nothing of Keel: Keel
//! nests [`Emulator::router`] at `/_clerk` and verifies its tokens exactly
//! as it verifies Clerk's.
//!
//! Routes (relative to the mount point):
//! - `GET /.well-known/openid-configuration`, `GET /.well-known/jwks.json` (public)
//! - Backend API, each requiring `Authorization: Bearer <secret key>`:
//!   `GET /v1/jwks`; `POST|GET /v1/users`, `GET /v1/users/count`,
//!   `GET|PATCH|DELETE /v1/users/{id}`; `POST /v1/sessions`,
//!   `GET /v1/sessions/{id}`, `POST /v1/sessions/{id}/revoke`,
//!   `POST /v1/sessions/{id}/tokens[/{template}]` (template `convex`).
//!
//! Files, in `{data_dir}/clerk-emulator/` (folder 0700, files 0600):
//! - `signing-key.pem`: the RSA-2048 key, PKCS#8 PEM, made on first start.
//!   The `kid` (`ins_…`) is derived from it, so it survives restarts and so
//!   do the tokens it signed. Delete the file to rotate.
//! - `state.json`: `{"version":1,"users":[…],"sessions":[…]}`, rewritten
//!   whole (temp file + rename) after every change. Delete it to start empty.
//!
//! Changes are announced through [`ChangeListener`] (see [`events`]), the
//! seam for Svix-signed webhook delivery.
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
mod emulator;
mod error;
pub mod events;
mod extract;
mod files;
mod ids;
mod keys;
mod routes;
mod session;
mod store;
mod tokens;
mod user;
mod user_input;
mod user_list;

pub use emulator::{
    CreateSession, DATA_SUBDIR, DEFAULT_AUTHORIZED_PARTY, Emulator, EmulatorConfig,
    SIGNING_KEY_FILE, STATE_FILE,
};
pub use error::{ClerkError, EmulatorError};
pub use events::{ChangeEvent, ChangeKind, ChangeListener};
pub use user_input::{CreateUser, UpdateUser};
pub use user_list::ListUsers;
