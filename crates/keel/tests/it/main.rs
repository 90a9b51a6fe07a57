//! Integration tests: the real server on an ephemeral port with a temporary SQLite file, and
//! the emulator as the issuer, driven over HTTP.

mod auth;
mod clerk_sync;
mod cli;
mod crash;
mod harness;
mod http_api;
mod isolation;
mod rotation;
mod storage;
mod sync;
mod webhooks;
