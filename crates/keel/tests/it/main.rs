//! Integration tests: the real server on an ephemeral port, on a temporary SQLite file or a
//! fresh PostgreSQL database (suites that hold on every engine run on both: see
//! `harness::engine_tests!`), with the emulator as the issuer, driven over HTTP and
//! WebSocket. `instances.rs` runs several `keel serve` processes on one PostgreSQL database.

mod admin_clerk;
mod admin_data;
mod admin_users;
mod admin_webhooks;
mod auth;
mod binary;
mod clerk_sync;
mod cli;
mod cli_flags;
mod crash;
mod cross_instance;
mod dev_exposure;
mod fake_issuer;
mod function_logs;
mod harness;
mod http_api;
mod instances;
mod isolation;
mod issuer;
mod limits;
mod logs;
mod metrics;
mod postgres;
mod rotation;
mod runtime;
mod security_doc;
mod seed;
mod snapshot;
mod storage;
mod sync;
mod sync_consistency;
mod sync_limits;
mod web_app;
mod webhooks;
