//! The `keel` command line: `dev`, `serve`, `check`, `token`, `migrate`, `backfill`, `seed`,
//! `backup`, `export`, `import`, `webhooks`, `codegen`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keel_store_postgres::PostgresEngine;

use crate::dev_secrets::{self, CLERK_SECRET_KEY_FILE};
use crate::logging::LogFormat;
use crate::settings::{
    DEFAULT_DATA_DIR, DatabaseChoice, DevSettings, ServeSettings, StorageArgs, misnamed_variables,
};
use crate::{AppParts, Mode, Settings, start};

/// Each subcommand takes the settings groups it reads and no others, so its `--help` lists
/// only what changes it (and a flag it ignores is an error, not a silent no-op).
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
        settings: DevSettings,
    },
    /// Run against a real Clerk instance.
    Serve {
        #[command(flatten)]
        settings: ServeSettings,
        #[command(flatten)]
        issuer: crate::issuer::IssuerArgs,
    },
    /// Check the `serve` settings, the issuer's keys and the database, without serving.
    Check {
        #[command(flatten)]
        settings: ServeSettings,
        #[command(flatten)]
        issuer: crate::issuer::IssuerArgs,
    },
    /// Print a fresh token for a user of a running `keel dev` (for curl and scripts). It finds
    /// the `keel dev` through the address it notes in its data folder (--data-dir), or --url.
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
        /// The running `keel dev`'s address (default: the one it noted in its data folder).
        #[arg(long, env = "KEEL_URL")]
        url: Option<String>,
        /// The data folder of the running `keel dev`: its address and its emulator's key are
        /// there.
        #[arg(long, env = "KEEL_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The emulator's Backend API key (default: the one kept in the data folder).
        #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
        clerk_secret_key: Option<String>,
    },
    /// Bring the database up to date (the engine's schema, then the app's tables and indexes)
    /// and exit. `serve` does the same at start; run this first to migrate once before
    /// starting several instances.
    Migrate {
        /// Also drop the indexes the app no longer declares, with their entries. They are kept
        /// and maintained until then, for instances of other versions that may still read
        /// them: use this once every instance runs this version.
        #[arg(long)]
        drop_undeclared_indexes: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Reconcile the synced tables with Clerk's Backend API (users, organizations, memberships).
    Backfill {
        /// Clerk's Backend API key (`sk_…`). Unset in a `keel dev` folder: the emulator's.
        #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
        clerk_secret_key: Option<String>,
        /// Clerk's Backend API (default: Clerk's; with the emulator's key, the running
        /// `keel dev`'s emulator).
        #[arg(long, env = "CLERK_API_URL")]
        clerk_api_url: Option<String>,
        /// Print the drift (missing, stale, extra) without writing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Fill an empty database with generated users (as Clerk's webhooks write them),
    /// organizations with members, and chats, for trying things out and for benchmarks.
    Seed {
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
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Copy the SQLite database, consistently, while Keel serves (PostgreSQL: use pg_dump).
    /// The copy is a complete database file; restore it by putting it in place of keel.db
    /// while Keel is stopped (see the README).
    Backup {
        /// Where to write the copy (a file that does not exist yet).
        path: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Write every app table, as of one snapshot, to a new ZIP in Convex's snapshot export
    /// format (what `npx convex export` downloads). Safe while Keel serves.
    Export {
        /// The ZIP to write (a file that does not exist yet).
        path: PathBuf,
        /// Write ids as the app sees them (Keel's strings and table numbers) instead of as
        /// Convex writes them. By default a Convex deployment can import the file with its
        /// ids kept; `keel import` reads either form back to the same ids.
        #[arg(long)]
        keel_ids: bool,
        #[command(flatten)]
        storage: StorageArgs,
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
        storage: StorageArgs,
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
        /// The endpoint (default: the running `keel dev`'s `/clerk-webhook`, found through the
        /// address it notes in its data folder).
        #[arg(long)]
        url: Option<String>,
        /// The webhook signing secret (`whsec_…`; default: the one `keel dev` keeps in its data
        /// folder).
        #[arg(long, env = "CLERK_WEBHOOK_SECRET", hide_env_values = true)]
        clerk_webhook_secret: Option<String>,
        /// The data folder of the `keel dev` to test: its address and webhook secret are there.
        #[arg(long, env = "KEEL_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
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
            let settings = Settings::from(settings);
            warn_misnamed();
            let clerk_secret_key = settings.clerk.secret_key.clone();
            let running = start(&settings, Mode::Dev { clerk_secret_key }, parts, None).await?;
            let data_dir = &settings.storage.data_dir;
            let url = running.url.clone();
            dev_secrets::write_dev_url(data_dir, &url)?;
            print!("{}", dev_banner(&settings, &running));
            let stopped = running.run_until_signal().await;
            dev_secrets::remove_dev_url(data_dir, &url);
            stopped?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { settings, issuer } => {
            let settings = Settings::from(settings);
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
            Ok(crate::check::run(&settings.into(), issuer, &parts).await)
        }
        Command::Migrate {
            storage,
            drop_undeclared_indexes,
        } => {
            warn_misnamed();
            let database = storage.database()?;
            let applied = match &database {
                DatabaseChoice::Postgres(postgres) => Some(
                    PostgresEngine::migrate(postgres)
                        .await
                        .with_context(|| format!("migrating {database} (KEEL_DATABASE_URL)"))?,
                ),
                DatabaseChoice::Sqlite(_) => {
                    std::fs::create_dir_all(&storage.data_dir)?;
                    None
                }
            };
            let db = crate::start::open_database(&storage, &parts.schema).await?;
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
            if drop_undeclared_indexes {
                let dropped = db.drop_undeclared_indexes().await?;
                if dropped.is_empty() {
                    println!("{database}: no undeclared indexes to drop");
                }
                for (table, index) in dropped {
                    println!(
                        "{database}: dropped index {table}.{index}, which the app no longer declares"
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill {
            storage,
            clerk_secret_key,
            clerk_api_url,
            dry_run,
        } => {
            let api = backfill_api(&storage, clerk_secret_key, clerk_api_url)?;
            std::fs::create_dir_all(&storage.data_dir)?;
            let db = crate::start::open_database(&storage, &parts.schema).await?;
            eprintln!(
                "reconciling {} with Clerk at {}",
                storage.database()?,
                api.base_url()
            );
            let drift = crate::backfill::run_once(&db, &api, dry_run, true).await?;
            print!("{}", crate::backfill::describe(&drift, dry_run));
            Ok(ExitCode::SUCCESS)
        }
        Command::Codegen { out, check } => codegen(&parts, &out, check),
        Command::Export {
            path,
            keel_ids,
            storage,
        } => {
            let ids = if keel_ids {
                keel_snapshot::IdForm::Keel
            } else {
                keel_snapshot::IdForm::Convex
            };
            crate::snapshot::export(&storage, &parts, &path, ids).await
        }
        Command::Import {
            path,
            replace,
            append,
            storage,
        } => {
            let mode = match (replace, append) {
                (true, _) => keel_snapshot::ImportMode::Replace,
                (_, true) => keel_snapshot::ImportMode::Append,
                _ => keel_snapshot::ImportMode::RequireEmpty,
            };
            crate::snapshot::import(&storage, &parts, &path, mode).await
        }
        Command::Backup { path, storage } => {
            let location = match storage.database()? {
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
                    clerk_webhook_secret,
                    data_dir,
                },
        } => {
            let url = match url {
                Some(url) => url,
                None => format!(
                    "{}/clerk-webhook",
                    dev_secrets::find_dev(&data_dir, "--url set to the webhook endpoint")?
                ),
            };
            let secret = clerk_webhook_secret
                .filter(|s| !s.trim().is_empty())
                .or_else(|| dev_secrets::read(&data_dir, dev_secrets::CLERK_WEBHOOK_SECRET_FILE))
                .with_context(|| {
                    format!(
                        "no webhook secret: set CLERK_WEBHOOK_SECRET, or pass --data-dir with the folder `keel dev` uses (it keeps one in {})",
                        data_dir.join(dev_secrets::CLERK_WEBHOOK_SECRET_FILE).display()
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
            storage,
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
            seed(&storage, &parts, &options).await
        }
        Command::Token {
            user,
            email,
            create,
            template,
            session,
            expires_in,
            url,
            data_dir,
            clerk_secret_key,
        } => {
            let url = match url.filter(|u| !u.trim().is_empty()) {
                Some(url) => url.trim().trim_end_matches('/').to_string(),
                None => dev_secrets::find_dev(&data_dir, "--url (KEEL_URL) set to its address")?,
            };
            let secret = clerk_secret_key
                .filter(|k| !k.trim().is_empty())
                .or_else(|| dev_secrets::read(&data_dir, CLERK_SECRET_KEY_FILE))
                .with_context(|| {
                    format!(
                        "no emulator key in {}: pass --data-dir with the folder `keel dev` uses ({DEFAULT_DATA_DIR} by default), or set CLERK_SECRET_KEY to the key `keel dev` prints at start",
                        data_dir.display()
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
        let kept = settings.storage.data_dir.join(file);
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
                set(&settings.clerk.secret_key),
                running.secret_key_generated,
                CLERK_SECRET_KEY_FILE
            )
        );
    }
    let webhook_secret = settings
        .clerk
        .webhook_secret
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            dev_secrets::read(
                &settings.storage.data_dir,
                dev_secrets::CLERK_WEBHOOK_SECRET_FILE,
            )
        });
    if let Some(secret) = webhook_secret {
        let _ = writeln!(
            out,
            "Clerk emulator: CLERK_WEBHOOK_SECRET={secret} ({})",
            origin(
                set(&settings.clerk.webhook_secret),
                running.generated_webhook_secret.is_some(),
                dev_secrets::CLERK_WEBHOOK_SECRET_FILE
            )
        );
    }
    let url = &running.url;
    let _ = writeln!(out, "Keel listening on {url}");
    // `keel token` finds this `keel dev` through the address it notes in the data folder.
    let data_dir = &settings.storage.data_dir;
    let absolute = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.clone());
    let data_dir_flag = if data_dir.as_path() == Path::new(DEFAULT_DATA_DIR) {
        String::new()
    } else {
        format!(" --data-dir {}", absolute.display())
    };
    let _ = writeln!(
        out,
        "Next: open {url}/ to sign in (the emulator's page) and use the app, or get a token for curl and scripts (from another folder, add --data-dir {}):\n  keel token --email ada@example.com --create{data_dir_flag}",
        absolute.display()
    );
    out
}

/// `keel seed`: refuses a database that already has users (a second run would duplicate the
/// chats), then writes with a progress bar and reports the rate and the database's size.
async fn seed(
    storage: &StorageArgs,
    parts: &AppParts,
    options: &crate::seed::SeedOptions,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&storage.data_dir)?;
    let db = crate::start::open_database(storage, &parts.schema).await?;
    let reader = db.reader().await?;
    let existing = reader.query("users").count(1).await?;
    reader.finish().await?;
    let database = storage.database()?;
    if existing > 0 {
        anyhow::bail!(
            "{database} already holds users; `keel seed` fills an empty database (use a fresh --data-dir or database)"
        );
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} seeding: {pos} records ({per_sec}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let report = crate::seed::run(&db, options, |written| bar.set_position(written as u64)).await?;
    bar.set_message("analyzing the tables");
    // The records have committed: a failure here leaves slower first queries, not lost data.
    if let Err(err) = db.after_bulk_load().await {
        eprintln!("warning: the seed committed, but analyzing the tables failed: {err}");
    }
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
/// or, in a `keel dev` folder with neither set, the running `keel dev`'s emulator.
fn backfill_api(
    storage: &StorageArgs,
    secret_key: Option<String>,
    api_url: Option<String>,
) -> anyhow::Result<keel_clerk_api::ClerkApi> {
    if let Some(key) = secret_key.filter(|k| !k.trim().is_empty()) {
        let url = api_url.unwrap_or_else(|| keel_clerk_api::ClerkApi::DEFAULT_BASE_URL.to_string());
        return Ok(keel_clerk_api::ClerkApi::new(url, key.trim()));
    }
    let key = dev_secrets::read(&storage.data_dir, CLERK_SECRET_KEY_FILE).context(
        "CLERK_SECRET_KEY is not set: set it to your Clerk secret key (sk_…), or run in a keel dev folder (--data-dir)",
    )?;
    let url = match api_url {
        Some(url) => url,
        None => format!(
            "{}/_clerk",
            dev_secrets::find_dev(
                &storage.data_dir,
                "--clerk-api-url (CLERK_API_URL) set to its emulator's `/_clerk`"
            )?
        ),
    };
    Ok(keel_clerk_api::ClerkApi::new(url, key))
}

fn warn_misnamed() {
    for problem in misnamed_variables(std::env::vars().map(|(k, _)| k)) {
        tracing::warn!("{problem}");
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;
    use crate::settings::KNOWN_KEEL_VARIABLES;

    /// Every command and subcommand with its path (`keel serve`, `keel webhooks test`, …).
    fn commands() -> Vec<(String, clap::Command)> {
        fn walk(path: String, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            out.push((path.clone(), command.clone()));
            for sub in command.get_subcommands() {
                walk(format!("{path} {}", sub.get_name()), sub, out);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut out = Vec::new();
        walk("keel".into(), &command, &mut out);
        out
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// A `KEEL_*` variable a flag reads but the misspelling check does not know would be
    /// reported as "not a Keel setting".
    #[test]
    fn every_keel_variable_a_flag_reads_is_known() {
        let mut checked = 0;
        for (path, command) in commands() {
            for arg in command.get_arguments() {
                let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                    continue;
                };
                checked += 1;
                if env.starts_with("KEEL_") {
                    assert!(
                        KNOWN_KEEL_VARIABLES.contains(&env),
                        "`{path}` --{} reads {env}, which KNOWN_KEEL_VARIABLES lacks",
                        arg.get_id()
                    );
                }
            }
        }
        assert!(checked > 30, "only {checked} variables found");
    }

    /// Every flag of every command says what it does in `--help`.
    #[test]
    fn every_flag_has_a_description() {
        for (path, command) in commands() {
            for arg in command.get_arguments() {
                assert!(
                    arg.get_help().is_some() || arg.get_long_help().is_some(),
                    "`{path}` --{} has no description",
                    arg.get_id()
                );
            }
        }
    }

    /// The emulator's flags belong to `keel dev` alone; the server's flags to the commands that
    /// run or check a server.
    #[test]
    fn each_command_takes_only_its_own_groups() {
        let commands = commands();
        let flags = |name: &str| -> Vec<String> {
            let (_, command) = commands
                .iter()
                .find(|(path, _)| path == name)
                .unwrap_or_else(|| panic!("no {name}"));
            command
                .get_arguments()
                .filter_map(|a| a.get_long().map(String::from))
                .collect()
        };
        let has = |name: &str, flag: &str| flags(name).iter().any(|f| f == flag);
        assert!(has("keel dev", "emulator-faults"));
        assert!(!has("keel dev", "clerk-publishable-key"));
        assert!(!has("keel dev", "clerk-api-url"));
        for name in ["keel serve", "keel check"] {
            assert!(!has(name, "emulator-faults"), "{name}");
            assert!(!has(name, "emulator-webhook-url"), "{name}");
            assert!(
                has(name, "listen") && has(name, "frontend-api-url"),
                "{name}"
            );
            assert!(has(name, "clerk-publishable-key"), "{name}");
        }
        for name in [
            "keel token",
            "keel migrate",
            "keel backfill",
            "keel seed",
            "keel backup",
            "keel export",
            "keel import",
            "keel webhooks test",
        ] {
            for server_flag in [
                "listen",
                "max-body-bytes",
                "sync-max-queries",
                "emulator-faults",
            ] {
                assert!(!has(name, server_flag), "{name} takes --{server_flag}");
            }
            assert!(has(name, "data-dir"), "{name}");
        }
    }
}
