//! One integration-test binary: every test runs the real router over HTTP
//! on its own 127.0.0.1 port.

mod common;
mod discovery;
mod events;
mod faults;
mod memberships;
mod org_tokens;
mod organizations;
mod receiver;
mod restart;
mod secret_key;
mod sessions;
mod users;
mod webhooks;
