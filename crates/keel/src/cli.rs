//! The `keel` command line: `dev`, `serve`, `check`, `token`, `migrate`, `backfill`, `seed`,
//! `backup`, `export`, `import`, `webhooks`, `codegen`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keel_store_postgres::PostgresEngine;

use crate::dev_secrets::{self, CLERK_SECRET_KEY_FILE};
use crate::logging::LogFormat;
use crate::settings::{DatabaseChoice, misnamed_variables};
use crate::{AppParts, Mode, Settings, start};

#[derive(Parser)]
#[command(
    name = "keel",
    version,
    about = "A Convex-compatible backend with Clerk built in"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Log output: human-readable text or one JSON object per line.
    #[arg(long, global = true, env = "KEEL_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Run locally: SQLite in the data folder and the built-in Clerk emulator as the issuer.
    Dev {
        #[command(flatten)]
        settings: Settings,
    },
    /// Run against a real Clerk instance.
    Serve {
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        issuer: crate::issuer::IssuerArgs,
    },
    /// Check the `serve` settings, the issuer's keys and the database, without serving.
    Check {
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        issuer: crate::issuer::IssuerArgs,
    },
    /// Print a fresh token for a user of a running `keel dev` (for curl and scripts).
    Token {
        /// The Clerk user id (`user_…`).
        #[arg(long, required_unless_present = "email", conflicts_with = "email")]
        user: Option<String>,
        /// The user with this email address instead of an id.
        #[arg(long)]
        email: Option<String>,
        /// With `--email`: create the user in the emulator when there is none.
        #[arg(long, requires = "email")]
        create: bool,
        /// A JWT template name (default `convex`).
        #[arg(long, conflicts_with = "session")]
        template: Option<String>,
        /// The plain session token instead of a template.
        #[arg(long)]
        session: bool,
        /// Lifetime in seconds (default: the emulator's, 60).
        #[arg(long)]
        expires_in: Option<u64>,
        /// The running Keel (default: http:// + KEEL_LISTEN).
        #[arg(long, env = "KEEL_URL")]
        url: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Bring the database up to date (the engine's schema, then the app's tables and indexes)
    /// and exit. `serve` does the same at start; run this first to migrate once before
    /// starting several instances.
    Migrate {
        #[command(flatten)]
        settings: Settings,
    },
    /// Reconcile the synced tables with Clerk's Backend API (users, organizations, memberships).
    Backfill {
        #[command(flatten)]
        settings: Settings,
        /// Print the drift (missing, stale, extra) without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fill an empty database with generated users (as Clerk's webhooks write them),
    /// organizations with members, and chats, for trying things out and for benchmarks.
    Seed {
        #[command(flatten)]
        settings: Settings,
        /// Users to write.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// The mean number of chats per user (each gets 0 to twice this).
        #[arg(long, default_value_t = 5)]
        chats_per_user: usize,
        /// One organization (with 5 members) per this many users.
        #[arg(long, default_value_t = 100)]
        users_per_organization: usize,
        /// Records per transaction.
        #[arg(long, default_value_t = 2000)]
        batch: usize,
    },
    /// Copy the SQLite database, consistently, while Keel serves (PostgreSQL: use pg_dump).
    /// The copy is a complete database file; restore it by putting it in place of keel.db
    /// while Keel is stopped (see the README).
    Backup {
        /// Where to write the copy (a file that does not exist yet).
        path: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Write every app table, as of one snapshot, to a new ZIP in Convex's snapshot export
    /// format (what `npx convex export` downloads). Safe while Keel serves.
    Export {
        /// The ZIP to write (a file that does not exist yet).
        path: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
    /// Load a snapshot ZIP (from `keel export`, or a Convex deployment's export) into the app's
    /// tables, in one transaction: a file that fails changes nothing. Without --replace or
    /// --append, every table in the file must be empty here.
    Import {
        /// The ZIP to read.
        path: PathBuf,
        /// Empty each table in the file first (tables not in it are left alone).
        #[arg(long, conflicts_with = "append")]
        replace: bool,
        /// Add to the documents already there (an id already stored is refused).
        #[arg(long)]
        append: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Clerk webhooks: `keel webhooks test` sends a signed test delivery.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Write the typed client API (`convex/_generated/`: api.d.ts, api.js, dataModel.d.ts)
    /// from the registered functions and tables.
    Codegen {
        /// The folder to write, as in a Convex project.
        #[arg(long, default_value = "convex/_generated")]
        out: PathBuf,
        /// Write nothing; fail when the files there differ from what would be written.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Send a signed test event to the webhook endpoint, as Clerk's dashboard "Testing" tab
    /// does, signed with CLERK_WEBHOOK_SECRET (in a `keel dev` folder, the one it generated).
    /// The event is about a made-up user, `user_webhook_test`.
    Test {
        /// The event type: user.created, user.updated or user.deleted.
        #[arg(long = "type", default_value = "user.created")]
        event_type: String,
        /// The endpoint (default: http:// + KEEL_LISTEN + /clerk-webhook).
        #[arg(long)]
        url: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
}

/// Runs the CLI with the given app (the `keel` binary passes the built-in one).
pub fn main(parts: AppParts) -> ExitCode {
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("warning: .env not loaded: {err}");
    }
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Check { .. });
    crate::logging::init(cli.log_format, quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, parts)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, parts: AppParts) -> anyhow::Result<ExitCode> {
    match command {
        Command::Dev { settings } => {
            warn_misnamed();
            let clerk_secret_key = settings.clerk_secret_key.clone();
            let running = start(&settings, Mode::Dev { clerk_secret_key }, parts, None).await?;
            print!("{}", dev_banner(&settings, &running));
            running.run_until_signal().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { settings, issuer } => {
            let issuer = crate::issuer::require_for_serve(issuer)?;
            tracing::info!(issuer = %issuer.url, from = issuer.from, "the tokens' issuer");
            let issuer = issuer.url;
            warn_misnamed();
            let running = start(&settings, Mode::Serve { issuer }, parts, None).await?;
            println!("Keel listening on {}", running.url);
            running.run_until_signal().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { settings, issuer } => {
            Ok(crate::check::run(&settings, issuer, &parts).await)
        }
        Command::Migrate { settings } => {
            warn_misnamed();
            let database = settings.database()?;
            let applied = match &database {
                DatabaseChoice::Postgres(postgres) => Some(
                    PostgresEngine::migrate(postgres)
                        .await
                        .with_context(|| format!("migrating {database} (KEEL_DATABASE_URL)"))?,
                ),
                DatabaseChoice::Sqlite(_) => {
                    std::fs::create_dir_all(&settings.data_dir)?;
                    None
                }
            };
            let db = crate::start::open_database(&settings, &parts.schema).await?;
            match applied {
                Some(0) => println!(
                    "{database}: already at schema version {}",
                    keel_store_postgres::SCHEMA_VERSION
                ),
                Some(count) => println!(
                    "{database}: applied {count} migration(s), now at schema version {}",
                    keel_store_postgres::SCHEMA_VERSION
                ),
                None => println!("{database}: schema up to date"),
            }
            println!(
                "{database}: tables and indexes up to date ({})",
                db.engine_name()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill { settings, dry_run } => {
            let api = backfill_api(&settings)?;
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = crate::start::open_database(&settings, &parts.schema).await?;
            eprintln!(
                "reconciling {} with Clerk at {}",
                settings.database()?,
                api.base_url()
            );
            let drift = crate::backfill::run_once(&db, &api, dry_run, true).await?;
            print!("{}", crate::backfill::describe(&drift, dry_run));
            Ok(ExitCode::SUCCESS)
        }
        Command::Codegen { out, check } => codegen(&parts, &out, check),
        Command::Export { path, settings } => {
            crate::snapshot::export(&settings, &parts, &path).await
        }
        Command::Import {
            path,
            replace,
            append,
            settings,
        } => {
            let mode = match (replace, append) {
                (true, _) => keel_snapshot::ImportMode::Replace,
                (_, true) => keel_snapshot::ImportMode::Append,
                _ => keel_snapshot::ImportMode::RequireEmpty,
            };
            crate::snapshot::import(&settings, &parts, &path, mode).await
        }
        Command::Backup { path, settings } => {
            let location = match settings.database()? {
                crate::settings::DatabaseChoice::Sqlite(location) => location,
                crate::settings::DatabaseChoice::Postgres(postgres) => anyhow::bail!(
                    "{} is PostgreSQL: back it up with pg_dump (for example `pg_dump -Fc -f keel.dump` with the same connection settings), see the README's Backups",
                    postgres.url
                ),
            };
            let started = std::time::Instant::now();
            let bytes = keel_store_sqlite::backup(&location, &path)
                .await
                .map_err(|err| anyhow::anyhow!("backing up {location}: {err}"))?;
            keel_store_sqlite::integrity_check(&path).map_err(|err| {
                anyhow::anyhow!("the copy at {} failed its check: {err}", path.display())
            })?;
            println!(
                "backed up {location} to {} ({:.1} MiB in {:.1} s; integrity check ok)",
                path.display(),
                bytes as f64 / (1024.0 * 1024.0),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhooks {
            command:
                WebhooksCommand::Test {
                    event_type,
                    url,
                    settings,
                },
        } => {
            let url = url.unwrap_or_else(|| format!("http://{}/clerk-webhook", settings.listen));
            let secret = settings
                .clerk_webhook_secret
                .clone()
                .filter(|s| !s.trim().is_empty())
                .or_else(|| dev_secrets::read(&settings.data_dir, dev_secrets::CLERK_WEBHOOK_SECRET_FILE))
                .with_context(|| {
                    format!(
                        "no webhook secret: set CLERK_WEBHOOK_SECRET, or run this in the folder where `keel dev` runs (it keeps one in {})",
                        settings.data_dir.display()
                    )
                })?;
            let (status, body) =
                crate::webhook_test::send(&url, secret.trim(), &event_type).await?;
            println!("{url} answered {status}: {body}");
            Ok(if (200..300).contains(&status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Seed {
            settings,
            users,
            chats_per_user,
            users_per_organization,
            batch,
        } => {
            let options = crate::seed::SeedOptions {
                users,
                chats_per_user,
                users_per_organization,
                batch: batch.max(1),
            };
            seed(&settings, &parts, &options).await
        }
        Command::Token {
            user,
            email,
            create,
            template,
            session,
            expires_in,
            url,
            settings,
        } => {
            let url = url.unwrap_or_else(|| format!("http://{}", settings.listen));
            let secret = settings
                .clerk_secret_key
                .clone()
                .or_else(|| dev_secrets::read(&settings.data_dir, CLERK_SECRET_KEY_FILE))
                .with_context(|| {
                    format!(
                        "no emulator key in {}: run this in the folder where `keel dev` runs, pass --data-dir with the folder it uses (.keel by default), or set CLERK_SECRET_KEY to the key `keel dev` prints at start",
                        settings.data_dir.display()
                    )
                })?;
            let template = if session {
                None
            } else {
                Some(template.unwrap_or_else(|| "convex".to_string()))
            };
            let user = match (user, email) {
                (Some(user), _) => user,
                (None, Some(email)) => {
                    crate::token::user_by_email(&url, &secret, &email, create).await?
                }
                (None, None) => anyhow::bail!("give --user user_… or --email address"),
            };
            let jwt =
                crate::token::mint(&url, &secret, &user, template.as_deref(), expires_in).await?;
            println!("{jwt}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `keel dev` prints at every start: the emulator's issuer and secrets (where they are
/// kept, and whether this start made them), where Keel listens, and what to do next.
fn dev_banner(settings: &Settings, running: &crate::Running) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
    let origin = |from_environment: bool, generated: bool, file: &str| {
        let kept = settings.data_dir.join(file);
        match (from_environment, generated) {
            (true, _) => "from the environment".to_string(),
            (false, true) => format!("generated now, kept in {}", kept.display()),
            (false, false) => format!("kept in {}", kept.display()),
        }
    };
    if let Some(emulator) = &running.emulator {
        let _ = writeln!(out, "Clerk emulator: issuer {}", emulator.issuer());
        let _ = writeln!(
            out,
            "Clerk emulator: CLERK_SECRET_KEY={} ({})",
            emulator.secret_key(),
            origin(
                set(&settings.clerk_secret_key),
                running.secret_key_generated,
                CLERK_SECRET_KEY_FILE
            )
        );
    }
    let webhook_secret = settings
        .clerk_webhook_secret
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| dev_secrets::read(&settings.data_dir, dev_secrets::CLERK_WEBHOOK_SECRET_FILE));
    if let Some(secret) = webhook_secret {
        let _ = writeln!(
            out,
            "Clerk emulator: CLERK_WEBHOOK_SECRET={secret} ({})",
            origin(
                set(&settings.clerk_webhook_secret),
                running.generated_webhook_secret.is_some(),
                dev_secrets::CLERK_WEBHOOK_SECRET_FILE
            )
        );
    }
    let url = &running.url;
    let _ = writeln!(out, "Keel listening on {url}");
    let _ = writeln!(
        out,
        "Next: open {url}/ to sign in (the emulator's page) and use the app, or get a token for curl and scripts:\n  keel token --email ada@example.com --create --url {url}"
    );
    out
}

/// `keel seed`: refuses a database that already has users (a second run would duplicate the
/// chats), then writes with a progress bar and reports the rate and the database's size.
async fn seed(
    settings: &Settings,
    parts: &AppParts,
    options: &crate::seed::SeedOptions,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = crate::start::open_database(settings, &parts.schema).await?;
    let reader = db.reader().await?;
    let existing = reader.query("users").count(1).await?;
    reader.finish().await?;
    let database = settings.database()?;
    if existing > 0 {
        anyhow::bail!(
            "{database} already holds users; `keel seed` fills an empty database (use a fresh --data-dir or database)"
        );
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} seeding: {pos} records ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let report = crate::seed::run(&db, options, |written| bar.set_position(written as u64)).await?;
    bar.finish_and_clear();
    println!(
        "wrote {} users, {} organizations, {} memberships and {} chats ({} records) in {:.1} s: {:.0} records/s",
        report.users,
        report.organizations,
        report.memberships,
        report.chats,
        report.records(),
        report.elapsed.as_secs_f64(),
        report.records_per_second()
    );
    drop(db);
    if let crate::settings::DatabaseChoice::Sqlite(location) = &database
        && let Some((file, wal)) = sqlite_size(location)
    {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        println!(
            "database: {:.1} MiB, plus {:.1} MiB of write-ahead log that the next checkpoint folds in",
            mib(file),
            mib(wal)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The SQLite file's size and its WAL's, in bytes (`None` for a database that is not a local
/// file).
fn sqlite_size(location: &str) -> Option<(u64, u64)> {
    let path = location.strip_prefix("sqlite://").unwrap_or(location);
    let file = std::fs::metadata(path).ok()?.len();
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    Some((file, wal))
}

/// `keel codegen`: writes the generated API, or with `--check` compares it with what is there.
fn codegen(parts: &AppParts, out: &Path, check: bool) -> anyhow::Result<ExitCode> {
    let files = keel_codegen::generate(&parts.functions, &parts.schema)?;
    if !check {
        keel_codegen::write(out, &files)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote the typed API to {}", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let stale = keel_codegen::check(out, &files);
    if stale.is_empty() {
        println!("{} is current", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    for path in &stale {
        eprintln!("out of date: {}", path.display());
    }
    eprintln!(
        "the functions or tables changed since the API was generated: run `keel codegen --out {}`",
        out.display()
    );
    Ok(ExitCode::FAILURE)
}

/// The Backend API to reconcile with: `CLERK_SECRET_KEY` and `CLERK_API_URL` (default Clerk's),
/// or, in a `keel dev` folder with neither set, the local emulator.
fn backfill_api(settings: &Settings) -> anyhow::Result<keel_clerk_api::ClerkApi> {
    if let Some(key) = settings
        .clerk_secret_key
        .clone()
        .filter(|k| !k.trim().is_empty())
    {
        let url = settings
            .clerk_api_url
            .clone()
            .unwrap_or_else(|| keel_clerk_api::ClerkApi::DEFAULT_BASE_URL.to_string());
        return Ok(keel_clerk_api::ClerkApi::new(url, key.trim()));
    }
    let key = dev_secrets::read(&settings.data_dir, CLERK_SECRET_KEY_FILE).context(
        "CLERK_SECRET_KEY is not set: set it to your Clerk secret key (sk_…), or run in a keel dev folder",
    )?;
    let url = settings
        .clerk_api_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/_clerk", settings.listen));
    Ok(keel_clerk_api::ClerkApi::new(url, key))
}

fn warn_misnamed() {
    for problem in misnamed_variables(std::env::vars().map(|(k, _)| k)) {
        tracing::warn!("{problem}");
    }
}
