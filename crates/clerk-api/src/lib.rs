//! keel-clerk-api: a small client for the part of Clerk's Backend API that
//! Keel's backfill, reconcile and admin actions use: listing and counting
//! users, creating, updating and deleting a user, listing organizations and
//! their memberships, and renaming an organization.
//!
//! The answers are decoded into the same types the webhooks arrive as
//! ([`UserData`], [`OrganizationData`], [`MembershipData`] from
//! `keel-webhooks`), so a backfilled user and a webhook's user are one shape.
//!
//! - Lists are walked oldest first (`order_by=+created_at`) with
//!   `limit`/`offset`, so objects created during a walk come at its end.
//! - 429 answers are waited out (`Retry-After`, seconds or an HTTP-date, each
//!   wait capped at 60 s, all waits of one call at 10 minutes) and the same
//!   request is sent again; network errors and 5xx are retried with
//!   exponential backoff. See [`RetryPolicy`]. Creating a user is the one
//!   request that is not repeated after a network error or a 5xx: Clerk may
//!   have created the user already.
//! - The secret key travels only in `Authorization: Bearer`, is never
//!   followed through a redirect, and never appears in `Debug`, errors or logs.
//!
//! ```no_run
//! # async fn run() -> Result<(), keel_clerk_api::ClerkApiError> {
//! use keel_clerk_api::ClerkApi;
//!
//! let clerk = ClerkApi::new(ClerkApi::DEFAULT_BASE_URL, "sk_live_…");
//! let expected = clerk.count_users().await?;
//! let users = clerk
//!     .all_users(500, |so_far| eprintln!("{so_far}/{expected} users"))
//!     .await?;
//! for org in clerk.all_organizations(500).await? {
//!     let members = clerk.all_memberships(&org.id, 500).await?;
//!     println!("{}: {} members", org.name, members.len());
//! }
//! # let _ = users;
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod retry;

pub use client::{ClerkApi, MAX_PAGE_SIZE, NewUser, UserChanges};
pub use error::{ClerkApiError, error_code, error_message};
pub use keel_webhooks::{MembershipData, OrganizationData, UserData};
pub use retry::RetryPolicy;
