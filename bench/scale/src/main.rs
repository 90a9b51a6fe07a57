//! Issue #16, "data at scale", on either engine: `--users` users with their chats and
//! organizations (written by `keel seed`'s generator into `--dir`'s SQLite file, or into the
//! PostgreSQL database at `--database-url`, unless it holds users already), then, through the executor as the HTTP API and the sync protocol run functions
//! (the HTTP query cache bypassed: every call runs the function):
//! - `users:getCurrentUser` and `users:getByEmail` as a random user,
//! - `chats:listUserChats`' first page of 20 as a random user,
//! - `users:list` with a search prefix as an admin (the `[status, email|nameLower|lastNameLower]`
//!   indexes serve it),
//!
//! each `--calls` times, printing p50/p99/max; and the process's resident memory while an
//! admin pages through every user (`users:list`, 1,000 a page).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use keel::seed::{SeedOptions, seeded_user_id};
use keel_app::AppRoles;
use keel_functions::{Call, Caller, Executor, FunctionKind, UserIdentity};
use keel_store::Database;
use keel_store::engine::Engine;
use keel_store_postgres::{DatabaseUrl, PostgresEngine, PostgresSettings};
use keel_store_sqlite::SqliteEngine;
use serde_json::{Value as Json, json};

#[derive(Parser)]
#[command(about = "Times the brief's reads at a million users (SQLite or PostgreSQL)")]
struct Args {
    /// Users to seed (when the folder has no database yet).
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// Mean chats per user.
    #[arg(long, default_value_t = 5)]
    chats_per_user: usize,
    /// Calls per scenario.
    #[arg(long, default_value_t = 2000)]
    calls: usize,
    /// The folder holding (or to hold) `keel.db`, for SQLite.
    #[arg(long, required_unless_present = "database_url")]
    dir: Option<std::path::PathBuf>,
    /// A `postgres://` URL instead of SQLite.
    #[arg(long)]
    database_url: Option<String>,
}

const ADMIN: &str = "user_bench_admin";
const PREFIXES: &[&str] = &[
    "a", "ad", "ada", "l", "lo", "lov", "love", "s", "sm", "smi", "smith", "j", "jo", "joh", "m",
    "ma", "mar", "ada lo", "k", "zz",
];

/// A fixed pseudo-random sequence of user numbers.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn identity(subject: &str) -> Arc<UserIdentity> {
    Arc::new(UserIdentity::new(
        "https://bench.invalid",
        subject,
        u64::MAX,
    ))
}

async fn call(
    executor: &Executor,
    path: &str,
    args: Json,
    who: &Arc<UserIdentity>,
) -> Result<(Json, Duration)> {
    let started = Instant::now();
    let outcome = executor
        .call(Call {
            path: path.into(),
            kind: Some(FunctionKind::Query),
            args,
            identity: Some(Arc::clone(who)),
            caller: Caller::Client,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{path}: {e} {:?}", e.log_detail()))?;
    Ok((outcome.value, started.elapsed()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, mut times: Vec<Duration>, note: &str) {
    times.sort();
    println!(
        "{name:<42} {:>8} {:>8} {:>8}  {note}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO))
    );
}

/// CPU time so far, in clock ticks: the whole machine busy (`/proc/stat`) and this process
/// (`/proc/self/stat`), to say how much of the CPUs other work took while timing.
fn cpu_ticks() -> (u64, u64) {
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            let line = stat.lines().next()?.to_string();
            let fields: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
            Some(fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?)
        })
        .unwrap_or(0);
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(") ")?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    (machine, own)
}

/// Resident memory of this process, in MiB (`VmRSS`).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn open(args: &Args) -> Result<(Database, String)> {
    let (engine, place): (Arc<dyn Engine>, String) = match (&args.database_url, &args.dir) {
        (Some(url), _) => {
            let url = DatabaseUrl::parse(url).map_err(|e| anyhow::anyhow!("{e}"))?;
            let place = url.to_string();
            let settings = PostgresSettings::new(url);
            PostgresEngine::migrate(&settings).await?;
            (Arc::new(PostgresEngine::open(&settings).await?), place)
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)?;
            let path = dir.join("keel.db");
            let place = path.display().to_string();
            (
                Arc::new(SqliteEngine::open(&path.to_string_lossy()).await?),
                place,
            )
        }
        (None, None) => anyhow::bail!("give --dir or --database-url"),
    };
    let schema = keel_app::schema().merge(keel_functions::system_schema());
    Ok((Database::open(engine, &schema).await?, place))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (db, place) = open(&args).await?;
    println!("engine {}, {place}", db.engine_name());
    let reader = db.reader().await?;
    let users = reader.query("users").count(usize::MAX).await?;
    reader.finish().await?;
    let users = if users == 0 {
        let options = SeedOptions {
            users: args.users,
            chats_per_user: args.chats_per_user,
            users_per_organization: 100,
            batch: 2000,
        };
        let report = keel::seed::run(&db, &options, |_| {}).await?;
        println!(
            "seeded {} users, {} organizations, {} memberships, {} chats: {} records in {:.1} s, {:.0} records/s",
            report.users,
            report.organizations,
            report.memberships,
            report.chats,
            report.records(),
            report.elapsed.as_secs_f64(),
            report.records_per_second()
        );
        let analyzing = std::time::Instant::now();
        db.after_bulk_load().await?;
        println!(
            "analyzed after the load (as keel seed does) in {:.1} s",
            analyzing.elapsed().as_secs_f64()
        );
        report.users
    } else {
        println!("{users} users already there");
        users
    };

    let roles = Arc::new(AppRoles::new([ADMIN.to_string()]));
    let executor = Executor::new(keel_app::functions(), db, roles);
    let admin = identity(ADMIN);
    let mut random = Sequence(42);
    let (mut current, mut by_email, mut chats, mut search) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut chat_items = 0usize;
    let mut search_items = 0usize;
    let (machine_before, own_before) = cpu_ticks();
    let timing = Instant::now();
    for i in 0..args.calls {
        let user = identity(&seeded_user_id(random.below(users)));
        let (me, took) = call(&executor, "users:getCurrentUser", json!({}), &user).await?;
        current.push(took);
        let email = me["email"].as_str().context("a seeded user has an email")?;
        let (found, took) = call(
            &executor,
            "users:getByEmail",
            json!({"email": email}),
            &user,
        )
        .await?;
        anyhow::ensure!(found["_id"] == me["_id"], "getByEmail found another user");
        by_email.push(took);
        let page = json!({"paginationOpts": {"numItems": 20, "cursor": null}});
        let (page, took) = call(&executor, "chats:listUserChats", page, &user).await?;
        chat_items += page["page"].as_array().map_or(0, Vec::len);
        chats.push(took);
        let args = json!({"search": PREFIXES[i % PREFIXES.len()], "status": "all",
                          "paginationOpts": {"numItems": 50, "cursor": null}});
        let (page, took) = call(&executor, "users:list", args, &admin).await?;
        search_items += page["page"].as_array().map_or(0, Vec::len);
        search.push(took);
    }
    let (machine_after, own_after) = cpu_ticks();
    // Clock ticks are 100 a second on Linux (CLK_TCK), per CPU.
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let capacity = timing.elapsed().as_secs_f64() * 100.0 * cpus;
    let busy = machine_after.saturating_sub(machine_before) as f64;
    let own = own_after.saturating_sub(own_before) as f64;
    println!(
        "\n{users} users, {} calls each (executor, no HTTP; run on a {cpus}-core machine)",
        args.calls
    );
    println!(
        "while timing: this process {:.0}% of the CPUs, everything else (PostgreSQL's backends included) {:.0}%",
        100.0 * own / capacity,
        100.0 * (busy - own).max(0.0) / capacity
    );
    println!(
        "{:<42} {:>8} {:>8} {:>8}",
        "function", "p50 ms", "p99 ms", "max ms"
    );
    report("users:getCurrentUser", current, "");
    report("users:getByEmail", by_email, "");
    report(
        "chats:listUserChats (first page of 20)",
        chats,
        &format!("{:.1} chats a page", chat_items as f64 / args.calls as f64),
    );
    report(
        "users:list, search prefix (50 a page)",
        search,
        &format!(
            "{:.1} users a page",
            search_items as f64 / args.calls as f64
        ),
    );

    // Memory while an admin pages through every user.
    let start = rss_mib();
    let mut samples = Vec::new();
    let mut cursor = Json::Null;
    let (mut pages, mut seen) = (0usize, 0usize);
    let started = Instant::now();
    loop {
        let args = json!({"status": "all", "paginationOpts": {"numItems": 1000, "cursor": cursor}});
        let (page, _) = call(&executor, "users:list", args, &admin).await?;
        seen += page["page"].as_array().map_or(0, Vec::len);
        pages += 1;
        if pages % 25 == 0 {
            samples.push(rss_mib());
        }
        if page["isDone"] == true {
            break;
        }
        cursor = page["continueCursor"].clone();
    }
    let end = rss_mib();
    // Resident memory at each quarter of the walk: flat means the later quarters add nothing.
    let quarters: Vec<String> = (1..=4)
        .map(|q| {
            let i = (samples.len() * q / 4).saturating_sub(1);
            samples.get(i).map_or("-".into(), |mib| format!("{mib:.0}"))
        })
        .collect();
    println!(
        "\npaged through {seen} users in {pages} pages in {:.1} s; resident memory {start:.0} MiB before, at each quarter {} MiB, {end:.0} MiB after",
        started.elapsed().as_secs_f64(),
        quarters.join(" / ")
    );
    Ok(())
}
