//! Keel as a library: start the server with the built-in app, or with your own functions
//! beside it (see `examples/`). The `keel` binary is [`cli::main`] with the built-in app.

mod backfill;
mod check;
pub mod cli;
mod dev_secrets;
mod fd_limit;
mod issuer;
mod logging;
mod metrics;
pub mod seed;
mod settings;
mod snapshot;
mod start;
mod token;
mod webhook_test;

pub use keel_runtime as runtime;
pub use settings::{
    AuthArgs, ClerkArgs, ClerkInstanceArgs, DevSettings, EmulatorArgs, HttpArgs, MetricsArgs, Mode,
    OnUserDeletedSetting, PostgresArgs, ServeSettings, ServerArgs, Settings, StorageArgs, SyncArgs,
};
pub use start::{AppParts, Running, start, start_with_runtime};

pub use keel_clerk_emulator as clerk_emulator;
pub use keel_functions as functions;
pub use keel_store as store;
