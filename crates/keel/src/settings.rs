//! Settings from the environment (or `.env`), with the names Clerk's and Convex's guides use
//! for Clerk's own values and `KEEL_*` for Keel's.
//!
//! The flags come in groups with one job each ([`StorageArgs`], [`HttpArgs`], …); every
//! subcommand takes the groups it uses (see `cli.rs`), and [`Settings`] is the whole set a
//! server starts with.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches, ValueEnum};
use keel_store_postgres::{DatabaseUrl, PostgresSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnUserDeletedSetting {
    Mark,
    Purge,
}

impl OnUserDeletedSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            OnUserDeletedSetting::Mark => "mark",
            OnUserDeletedSetting::Purge => "purge",
        }
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:3210";

/// The data folder when neither `--data-dir` nor `KEEL_DATA_DIR` names one.
pub const DEFAULT_DATA_DIR: &str = ".keel";

/// `dev` mounts the Clerk emulator and trusts it as the issuer; `serve` trusts the configured
/// Clerk instance and never mounts the emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Dev { clerk_secret_key: Option<String> },
    Serve { issuer: String },
}

/// Everything a server starts with. `Default` is what the flags default to, without the
/// environment: tests and embedding crates start from it.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub storage: StorageArgs,
    pub http: HttpArgs,
    pub metrics: MetricsArgs,
    pub sync: SyncArgs,
    pub auth: AuthArgs,
    pub clerk: ClerkArgs,
    /// `keel serve` only (defaults in `keel dev`).
    pub clerk_instance: ClerkInstanceArgs,
    /// `keel dev` only (defaults in `keel serve`).
    pub emulator: EmulatorArgs,
}

/// The groups every command that runs or checks a server takes.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub clerk: ClerkArgs,
}

/// `keel dev`'s settings: [`Settings`] without the real Clerk instance's.
#[derive(Args, Clone, Debug)]
pub struct DevSettings {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// `keel serve`'s and `keel check`'s settings: [`Settings`] without the emulator's.
#[derive(Args, Clone, Debug)]
pub struct ServeSettings {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub clerk_instance: ClerkInstanceArgs,
}

impl Settings {
    /// The server's groups with the two that only one of `keel dev` and `keel serve` takes.
    fn from_groups(
        server: ServerArgs,
        clerk_instance: ClerkInstanceArgs,
        emulator: EmulatorArgs,
    ) -> Settings {
        let ServerArgs {
            storage,
            http,
            metrics,
            sync,
            auth,
            clerk,
        } = server;
        Settings {
            storage,
            http,
            metrics,
            sync,
            auth,
            clerk,
            clerk_instance,
            emulator,
        }
    }
}

impl From<DevSettings> for Settings {
    fn from(dev: DevSettings) -> Settings {
        Settings::from_groups(dev.server, ClerkInstanceArgs::default(), dev.emulator)
    }
}

impl From<ServeSettings> for Settings {
    fn from(serve: ServeSettings) -> Settings {
        Settings::from_groups(serve.server, serve.clerk_instance, EmulatorArgs::default())
    }
}

/// Where the data is: the data folder and the database.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Storage")]
pub struct StorageArgs {
    /// Folder for the dev database, the emulator's key and generated secrets.
    #[arg(long, env = "KEEL_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://path` (default: `keel.db` in the data folder) or
    /// `postgres://user:password@host:5432/database`.
    #[arg(long, env = "KEEL_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    #[command(flatten)]
    pub postgres: PostgresArgs,
}

/// The PostgreSQL engine's settings; only read when `KEEL_DATABASE_URL` is a `postgres://` URL.
#[derive(Args, Clone, Debug)]
pub struct PostgresArgs {
    /// PostgreSQL: the most connections to the database this instance keeps open.
    #[arg(id = "pg_pool_size",
        value_name = "PG_POOL_SIZE", long = "pg-pool-size", env = "KEEL_PG_POOL_SIZE", default_value_t = PostgresSettings::DEFAULT_POOL_SIZE)]
    pub pool_size: u32,

    /// PostgreSQL: how long connecting (or waiting for a free pooled connection) may take.
    #[arg(
        id = "pg_connect_timeout",
        value_name = "PG_CONNECT_TIMEOUT",
        long = "pg-connect-timeout",
        env = "KEEL_PG_CONNECT_TIMEOUT",
        default_value = "10s"
    )]
    pub connect_timeout: humantime::Duration,

    /// PostgreSQL: the server cancels a statement, or a transaction left idle, after this
    /// long (`0s`: never).
    #[arg(
        id = "pg_statement_timeout",
        value_name = "PG_STATEMENT_TIMEOUT",
        long = "pg-statement-timeout",
        env = "KEEL_PG_STATEMENT_TIMEOUT",
        default_value = "30s"
    )]
    pub statement_timeout: humantime::Duration,
}

/// The HTTP listener: its address, body limits, deadlines and connection cap.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "HTTP")]
pub struct HttpArgs {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "KEEL_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,

    /// Request body limit in bytes.
    #[arg(long, env = "KEEL_MAX_BODY_BYTES", default_value_t = keel_server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// What all request bodies still arriving may buffer together, in bytes; a body that would
    /// take it past this is answered 503 (`ServerBusy`) at once.
    #[arg(long, env = "KEEL_MAX_BUFFERED_BODY_BYTES", default_value_t = keel_server::DEFAULT_MAX_BUFFERED_BODY_BYTES)]
    pub max_buffered_body_bytes: usize,

    /// A request's headers must arrive within this (for example `10s`), counted from the
    /// accept for a connection's first request and from the first bytes for later ones.
    #[arg(
        id = "http_header_timeout",
        value_name = "HTTP_HEADER_TIMEOUT",
        long = "http-header-timeout",
        env = "KEEL_HTTP_HEADER_TIMEOUT",
        default_value = "10s"
    )]
    pub header_timeout: humantime::Duration,

    /// A request's whole body must arrive within this of its headers; a late one gets 408.
    #[arg(
        id = "http_body_timeout",
        value_name = "HTTP_BODY_TIMEOUT",
        long = "http-body-timeout",
        env = "KEEL_HTTP_BODY_TIMEOUT",
        default_value = "30s"
    )]
    pub body_timeout: humantime::Duration,

    /// A keep-alive HTTP connection with no request in flight is closed after this.
    /// WebSockets are not affected.
    #[arg(
        id = "http_idle_timeout",
        value_name = "HTTP_IDLE_TIMEOUT",
        long = "http-idle-timeout",
        env = "KEEL_HTTP_IDLE_TIMEOUT",
        default_value = "60s"
    )]
    pub idle_timeout: humantime::Duration,

    /// The most connections (HTTP and WebSocket) open at once; past it new ones get 503.
    /// Default: the open-files limit less a reserve for the database and outgoing requests.
    #[arg(long, env = "KEEL_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
}

/// Who may read `GET /metrics`.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// `keel serve`: serve `GET /metrics` (Prometheus text) on the main address to requests
    /// with `Authorization: Bearer <this token>`. `keel dev` serves it to anyone.
    #[arg(
        id = "metrics_token",
        value_name = "METRICS_TOKEN",
        long = "metrics-token",
        env = "KEEL_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Also serve `GET /metrics`, open, on this separate address (for example
    /// `127.0.0.1:9090`), for a scraper on a private network.
    #[arg(
        id = "metrics_listen",
        value_name = "METRICS_LISTEN",
        long = "metrics-listen",
        env = "KEEL_METRICS_LISTEN"
    )]
    pub listen: Option<String>,
}

/// The sync WebSocket's limits.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Sync")]
pub struct SyncArgs {
    /// Per-connection limit on queued outgoing sync messages, in bytes; a client that falls
    /// further behind is disconnected.
    #[arg(id = "sync_max_queued_bytes",
        value_name = "SYNC_MAX_QUEUED_BYTES", long = "sync-max-queued-bytes", env = "KEEL_SYNC_MAX_QUEUED_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_queued_bytes: usize,

    /// What all sync connections together may hold queued for clients, in bytes; past it, a
    /// client that is behind is disconnected even under its own limit.
    #[arg(id = "sync_max_total_queued_bytes",
        value_name = "SYNC_MAX_TOTAL_QUEUED_BYTES", long = "sync-max-total-queued-bytes", env = "KEEL_SYNC_MAX_TOTAL_QUEUED_BYTES", default_value_t = keel_sync::DEFAULT_MAX_TOTAL_QUEUED_BYTES)]
    pub max_total_queued_bytes: usize,

    /// A sync WebSocket that sends no `Connect` message within this long is closed.
    #[arg(
        id = "sync_connect_timeout",
        value_name = "SYNC_CONNECT_TIMEOUT",
        long = "sync-connect-timeout",
        env = "KEEL_SYNC_CONNECT_TIMEOUT",
        default_value = "10s"
    )]
    pub connect_timeout: humantime::Duration,

    /// Live queries one sync connection may subscribe to; further ones get an error result.
    #[arg(id = "sync_max_queries",
        value_name = "SYNC_MAX_QUERIES", long = "sync-max-queries", env = "KEEL_SYNC_MAX_QUERIES", default_value_t = keel_sync::DEFAULT_MAX_QUERIES)]
    pub max_queries: usize,

    /// A live-query transition longer than this (bytes) is sent as `TransitionChunk`
    /// messages, as Convex's backend does, for proxies that cap WebSocket message sizes.
    #[arg(id = "sync_transition_chunk_bytes",
        value_name = "SYNC_TRANSITION_CHUNK_BYTES", long = "sync-transition-chunk-bytes", env = "KEEL_SYNC_TRANSITION_CHUNK_BYTES", default_value_t = keel_sync::DEFAULT_TRANSITION_CHUNK_BYTES)]
    pub transition_chunk_bytes: usize,
}

/// Which tokens are accepted, and who is an admin.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Auth")]
pub struct AuthArgs {
    /// Required token audience (`aud`); empty means no audience is required.
    #[arg(long, env = "KEEL_APPLICATION_ID", default_value = "convex")]
    pub application_id: String,

    /// Accepted `azp` values (comma list); when set, tokens must carry one of them.
    #[arg(long, env = "KEEL_AUTHORIZED_PARTIES", value_delimiter = ',')]
    pub authorized_parties: Vec<String>,

    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    #[arg(long, env = "KEEL_CLOCK_SKEW_SECS", default_value_t = 5)]
    pub clock_skew_secs: u64,

    /// Clerk user ids that hold the `admin` role (comma list).
    #[arg(long, env = "KEEL_ADMIN_USER_IDS", value_delimiter = ',')]
    pub admin_user_ids: Vec<String>,
}

/// Clerk, in `keel dev` (the emulator) and `keel serve`: its webhooks, its Backend API key,
/// and reconciling.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Clerk")]
pub struct ClerkArgs {
    /// The webhook signing secret(s) (`whsec_…`, several separated by spaces while rotating).
    /// `keel dev` generates one when unset; `keel serve` answers webhooks 503 without it.
    #[arg(
        id = "clerk_webhook_secret",
        value_name = "CLERK_WEBHOOK_SECRET",
        long = "clerk-webhook-secret",
        env = "CLERK_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,

    /// What `user.deleted` does: `mark` the user inactive, or `purge` the user and their data.
    #[arg(long, env = "KEEL_ON_USER_DELETED", default_value = "mark")]
    pub on_user_deleted: OnUserDeletedSetting,

    /// Clerk's Backend API key (`sk_…`). In `keel dev` it is the emulator's key (generated and
    /// kept in the data folder when unset).
    #[arg(
        id = "clerk_secret_key",
        value_name = "CLERK_SECRET_KEY",
        long = "clerk-secret-key",
        env = "CLERK_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

    /// Reconcile with Clerk's Backend API this often (for example `1h`); `keel dev` does so
    /// every 5 minutes against its emulator by default.
    #[arg(long, env = "KEEL_RECONCILE_EVERY")]
    pub reconcile_every: Option<humantime::Duration>,
}

/// `keel serve` only: the real Clerk instance's Backend API and the publishable key the web
/// app signs in with (`keel dev` has its emulator's).
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Clerk")]
pub struct ClerkInstanceArgs {
    /// Clerk's Backend API (for reconcile and the admin actions; default Clerk's).
    #[arg(
        id = "clerk_api_url",
        value_name = "CLERK_API_URL",
        long = "clerk-api-url",
        env = "CLERK_API_URL"
    )]
    pub api_url: Option<String>,

    /// The publishable key (`pk_…`) the web app at `/` signs in with, through Clerk's
    /// components. Without it the app says sign-in is not configured.
    #[arg(
        id = "clerk_publishable_key",
        value_name = "CLERK_PUBLISHABLE_KEY",
        long = "clerk-publishable-key",
        env = "CLERK_PUBLISHABLE_KEY"
    )]
    pub publishable_key: Option<String>,
}

/// `keel dev` only: how the Clerk emulator delivers its webhooks.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Clerk emulator")]
pub struct EmulatorArgs {
    /// Where the emulator delivers its signed webhooks (default: this Keel's own
    /// `/clerk-webhook`), so another app's webhook route can be developed against it.
    #[arg(
        id = "emulator_webhook_url",
        value_name = "EMULATOR_WEBHOOK_URL",
        long = "emulator-webhook-url",
        env = "KEEL_EMULATOR_WEBHOOK_URL"
    )]
    pub webhook_url: Option<String>,

    /// Make the emulator drop, duplicate or reorder first delivery attempts, for example
    /// `drop=0.2,duplicate=0.1,reorder=0.1,seed=7`.
    #[arg(
        id = "emulator_faults",
        value_name = "EMULATOR_FAULTS",
        long = "emulator-faults",
        env = "KEEL_EMULATOR_FAULTS"
    )]
    pub faults: Option<String>,
}

/// A group's values when no flag is given and the environment is ignored: the defaults the
/// flags declare, so they are written once.
fn flag_defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("keel")).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(["keel"])
        .expect("every flag of a settings group is optional");
    T::from_arg_matches(&matches).expect("a settings group's defaults parse")
}

macro_rules! default_from_flags {
    ($($group:ty),*) => {
        $(impl Default for $group {
            fn default() -> Self {
                flag_defaults()
            }
        })*
    };
}

default_from_flags!(
    StorageArgs,
    PostgresArgs,
    HttpArgs,
    MetricsArgs,
    SyncArgs,
    AuthArgs,
    ClerkArgs,
    ClerkInstanceArgs,
    EmulatorArgs
);

/// Which engine `KEEL_DATABASE_URL` names.
#[derive(Clone, Debug)]
pub enum DatabaseChoice {
    /// A `sqlite:` URL or a file path.
    Sqlite(String),
    Postgres(PostgresSettings),
}

impl std::fmt::Display for DatabaseChoice {
    /// Where the database is, safe to print: a PostgreSQL URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseChoice::Sqlite(location) => f.write_str(location),
            DatabaseChoice::Postgres(settings) => write!(f, "{}", settings.url),
        }
    }
}

impl StorageArgs {
    /// The engine and where its data is, chosen by the URL's scheme (SQLite by default).
    pub fn database(&self) -> anyhow::Result<DatabaseChoice> {
        let location = match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_string(),
            _ => self.data_dir.join("keel.db").to_string_lossy().into_owned(),
        };
        if !(location.starts_with("postgres:") || location.starts_with("postgresql:")) {
            return Ok(DatabaseChoice::Sqlite(location));
        }
        // The error never repeats the URL: it may carry a password.
        let url = DatabaseUrl::parse(&location).map_err(|err| {
            anyhow::anyhow!("KEEL_DATABASE_URL is not a usable PostgreSQL URL: {err}")
        })?;
        Ok(DatabaseChoice::Postgres(PostgresSettings {
            url,
            pool_size: self.postgres.pool_size,
            connect_timeout: self.postgres.connect_timeout.into(),
            statement_timeout: self.postgres.statement_timeout.into(),
        }))
    }
}

impl AuthArgs {
    pub fn application_id(&self) -> Option<String> {
        Some(self.application_id.trim().to_string()).filter(|id| !id.is_empty())
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::from_secs(self.clock_skew_secs)
    }

    pub fn authorized_parties(&self) -> Vec<String> {
        self.authorized_parties
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// Variables people set for Clerk that Keel does not read, and what they meant.
const MISNAMED: &[(&str, &str)] = &[
    ("CLERK_ISSUER_URL", "CLERK_FRONTEND_API_URL"),
    ("CLERK_ISSUER", "CLERK_FRONTEND_API_URL"),
    ("CLERK_JWT_ISSUER", "CLERK_FRONTEND_API_URL"),
    ("CLERK_ISSUER_DOMAIN", "CLERK_FRONTEND_API_URL"),
    ("CLERK_DOMAIN", "CLERK_FRONTEND_API_URL"),
    ("CLERK_FRONTEND_API", "CLERK_FRONTEND_API_URL"),
    ("CLERK_API_KEY", "CLERK_SECRET_KEY"),
    ("CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_WEBHOOK_SECRET"),
    ("SVIX_WEBHOOK_SECRET", "CLERK_WEBHOOK_SECRET"),
];

/// Every `KEEL_*` variable Keel reads: each flag's (a test walks the command line to keep
/// this complete), `KEEL_LOG`, the web app build's and the tests' own.
pub const KNOWN_KEEL_VARIABLES: &[&str] = &[
    "KEEL_LISTEN",
    "KEEL_URL",
    "KEEL_DATA_DIR",
    "KEEL_DATABASE_URL",
    "KEEL_PG_POOL_SIZE",
    "KEEL_PG_CONNECT_TIMEOUT",
    "KEEL_PG_STATEMENT_TIMEOUT",
    "KEEL_APPLICATION_ID",
    "KEEL_AUTHORIZED_PARTIES",
    "KEEL_CLOCK_SKEW_SECS",
    "KEEL_ADMIN_USER_IDS",
    "KEEL_MAX_BODY_BYTES",
    "KEEL_MAX_BUFFERED_BODY_BYTES",
    "KEEL_HTTP_HEADER_TIMEOUT",
    "KEEL_HTTP_BODY_TIMEOUT",
    "KEEL_HTTP_IDLE_TIMEOUT",
    "KEEL_MAX_CONNECTIONS",
    "KEEL_METRICS_TOKEN",
    "KEEL_METRICS_LISTEN",
    "KEEL_SYNC_MAX_QUEUED_BYTES",
    "KEEL_SYNC_MAX_TOTAL_QUEUED_BYTES",
    "KEEL_SYNC_CONNECT_TIMEOUT",
    "KEEL_SYNC_MAX_QUERIES",
    "KEEL_SYNC_TRANSITION_CHUNK_BYTES",
    "KEEL_ON_USER_DELETED",
    "KEEL_RECONCILE_EVERY",
    "KEEL_EMULATOR_WEBHOOK_URL",
    "KEEL_EMULATOR_FAULTS",
    "KEEL_LOG",
    "KEEL_LOG_FORMAT",
    "KEEL_TEST_DATABASE_URL",
    "KEEL_TEST_POSTGRES_URL",
    "KEEL_XINST_UPDATES",
    // Read when building the web app (crates/web/build.rs).
    "KEEL_UI_DIST",
];

/// Problems with the environment a user most likely made by mistake: a variable from another
/// guide, or a misspelled `KEEL_*` name. Each line names the variable and the fix.
pub fn misnamed_variables(vars: impl Iterator<Item = String>) -> Vec<String> {
    let mut problems = Vec::new();
    for name in vars {
        if let Some((_, meant)) = MISNAMED.iter().find(|(wrong, _)| *wrong == name) {
            // The issuer has two names; either one set is enough.
            let meant_is_set = std::env::var_os(meant).is_some()
                || (*meant == "CLERK_FRONTEND_API_URL"
                    && std::env::var_os("CLERK_JWT_ISSUER_DOMAIN").is_some());
            if !meant_is_set {
                problems.push(format!(
                    "{name} is set, but Keel reads {meant}: rename it to {meant}"
                ));
            }
        } else if name.starts_with("AUTH_SECRET") || name == "NEXTAUTH_SECRET" {
            problems.push(format!(
                "{name} belongs to another auth library (Auth.js) and does nothing here: Keel verifies Clerk's tokens with the issuer's keys (CLERK_FRONTEND_API_URL)"
            ));
        } else if name.starts_with("KEEL_") && !KNOWN_KEEL_VARIABLES.contains(&name.as_str()) {
            let closest = KNOWN_KEEL_VARIABLES
                .iter()
                .min_by_key(|known| strsim::levenshtein(known, &name))
                .filter(|known| strsim::levenshtein(known, &name) <= 3);
            problems.push(match closest {
                Some(known) => format!("{name} is not a Keel setting: did you mean {known}?"),
                None => format!("{name} is not a Keel setting"),
            });
        }
    }
    problems.sort();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Default` is the flags' defaults, which match the server crates' own.
    #[test]
    fn defaults_are_the_flags_defaults() {
        let settings = Settings::default();
        assert_eq!(settings.http.listen, DEFAULT_LISTEN);
        assert_eq!(settings.storage.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(settings.storage.database_url, None);
        assert_eq!(settings.auth.application_id, "convex");
        assert_eq!(settings.clerk.on_user_deleted, OnUserDeletedSetting::Mark);
        let timeouts: [(Duration, Duration); 4] = [
            (
                settings.http.header_timeout.into(),
                keel_server::DEFAULT_HEADER_TIMEOUT,
            ),
            (
                settings.http.body_timeout.into(),
                keel_server::DEFAULT_BODY_TIMEOUT,
            ),
            (
                settings.http.idle_timeout.into(),
                keel_server::DEFAULT_IDLE_TIMEOUT,
            ),
            (
                settings.sync.connect_timeout.into(),
                keel_sync::DEFAULT_CONNECT_TIMEOUT,
            ),
        ];
        for (flag, server) in timeouts {
            assert_eq!(flag, server);
        }
        assert_eq!(
            settings.storage.postgres.pool_size,
            PostgresSettings::DEFAULT_POOL_SIZE
        );
        assert_eq!(
            Duration::from(settings.storage.postgres.connect_timeout),
            PostgresSettings::DEFAULT_CONNECT_TIMEOUT
        );
        assert_eq!(
            Duration::from(settings.storage.postgres.statement_timeout),
            PostgresSettings::DEFAULT_STATEMENT_TIMEOUT
        );
    }

    #[test]
    fn misnamed_variables_are_named_with_their_fix() {
        let found = misnamed_variables(
            [
                "CLERK_ISSUER_URL",
                "AUTH_SECRET_1",
                "KEEL_LSTEN",
                "KEEL_LISTEN",
                "PATH",
            ]
            .into_iter()
            .map(String::from),
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found
                .iter()
                .any(|p| p.contains("CLERK_ISSUER_URL") && p.contains("CLERK_FRONTEND_API_URL"))
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("AUTH_SECRET_1") && p.contains("another auth library"))
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("KEEL_LSTEN") && p.contains("KEEL_LISTEN"))
        );
    }
}
