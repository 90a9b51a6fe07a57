//! `users:list` at scale, as the admin Users table calls it.
//!
//! Seeds `--users` Clerk users into a fresh SQLite database through the app's own writers
//! (`keel_app::reconcile`, which upserts each user exactly as a webhook does, in transactions
//! of 200), marks a tenth of them deleted the same way (a second reconcile without them), and
//! gives one in a hundred the `admin` role. Then it runs each scenario `--calls` times through
//! the executor (`Executor::call`, as the HTTP API and the sync protocol do, with an admin's
//! identity: the role check is part of every call) and prints p50/p95/max per scenario.
//!
//! The HTTP query cache is bypassed on purpose: each keystroke of a search is a new query, so
//! what matters is the cost of running the function, not of answering a cached result.
//!
//! `--seed-only --dir D` writes the users to `D/keel.db` and stops: a `keel dev` started with
//! `KEEL_DATA_DIR=D` then serves them (`bench/ui-users` drives the web app against it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use keel_app::{AppRoles, ClerkSnapshot, ListingIsComplete};
use keel_functions::{Call, Caller, Executor, FunctionKind, UserIdentity};
use keel_store::Database;
use keel_store_sqlite::SqliteEngine;
use keel_webhooks::UserData;
use serde_json::{Value as Json, json};

#[derive(Parser)]
#[command(about = "Times users:list against N seeded users (SQLite)")]
struct Args {
    /// Users to seed.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Calls per scenario.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// `paginationOpts.numItems` of every call.
    #[arg(long, default_value_t = 50)]
    page: usize,
    /// Where the database goes (a fresh temporary folder when unset).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Seed `--dir` and stop, without timing anything.
    #[arg(long, requires = "dir")]
    seed_only: bool,
}

const FIRST: &[&str] = &[
    "Ada", "Adam", "Adele", "Adrian", "Aiden", "Alan", "Alice", "Amara", "Amir", "Ana", "Andre",
    "Anna", "Ava", "Ben", "Bianca", "Boris", "Carla", "Carlos", "Chen", "Chloe", "Dan", "Daria",
    "David", "Elena", "Eli", "Emma", "Eric", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ian",
    "Ines", "Ivan", "Jack", "James", "Jana", "John", "Jose", "Julia", "Kai", "Karin", "Kenji",
    "Lara", "Leo", "Lina", "Lucas", "Maria", "Mark", "Marta", "Mei", "Mia", "Nadia", "Noah",
    "Nora", "Olga", "Omar", "Paul", "Priya", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tom",
    "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe",
];

const LAST: &[&str] = &[
    "Abbott", "Adams", "Alvarez", "Baker", "Bauer", "Becker", "Brown", "Castro", "Chen", "Clark",
    "Cohen", "Costa", "Cruz", "Davis", "Diaz", "Dubois", "Evans", "Fischer", "Garcia", "Gomez",
    "Green", "Hall", "Hansen", "Hill", "Ito", "Jansen", "Johnson", "Jones", "Kim", "King", "Klein",
    "Kowalski", "Lee", "Lewis", "Lopez", "Lovelace", "Martin", "Meyer", "Miller", "Moreau",
    "Muller", "Nakamura", "Nguyen", "Novak", "Olsen", "Park", "Patel", "Perez", "Petrov", "Reyes",
    "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Taylor", "Thomas", "Wagner",
    "Walker", "Wang", "Weber", "White", "Wilson", "Wright", "Yamamoto", "Young", "Zhang",
];

/// A fixed sequence, so every run seeds the same users.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

fn clerk_user(i: usize, random: &mut Lcg) -> Result<UserData> {
    let first = FIRST[random.next(FIRST.len())];
    let last = LAST[random.next(LAST.len())];
    let email = format!(
        "{}.{}{i}@{}",
        first.to_lowercase(),
        last.to_lowercase(),
        ["example.com", "mail.test", "corp.example"][random.next(3)]
    );
    let role = (i % 100 == 7).then_some("admin");
    let created = 1_700_000_000_000i64 + i as i64 * 1000;
    let user = json!({
        "id": format!("user_{i:07}"),
        "first_name": first,
        "last_name": last,
        "email_addresses": [{"id": format!("idn_{i}"), "email_address": email,
                             "verification": {"status": "verified"}}],
        "primary_email_address_id": format!("idn_{i}"),
        "public_metadata": role.map_or(json!({}), |r| json!({"role": r})),
        "image_url": null,
        "created_at": created,
        "updated_at": created,
        "last_sign_in_at": null,
    });
    serde_json::from_value(user).context("a seeded user")
}

async fn seed(db: &Database, users: usize) -> Result<()> {
    let mut random = Lcg(15);
    let all: Vec<UserData> = (0..users)
        .map(|i| clerk_user(i, &mut random))
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let snapshot = ClerkSnapshot {
        users: all.clone(),
        ..ClerkSnapshot::default()
    };
    let local = keel_app::LocalRecords::read(db)
        .await
        .map_err(|e| anyhow::anyhow!("reading users: {e}"))?;
    let drift = keel_app::reconcile(db, local, &snapshot, &ListingIsComplete, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("seeding: {e}"))?;
    eprintln!(
        "seeded {} users in {:.1} s",
        drift.written,
        started.elapsed().as_secs_f64()
    );
    // A tenth gone from Clerk: the next reconcile marks them deleted.
    let started = Instant::now();
    let remaining = ClerkSnapshot {
        users: all.into_iter().filter(|u| !u.id.ends_with('3')).collect(),
        ..ClerkSnapshot::default()
    };
    let local = keel_app::LocalRecords::read(db)
        .await
        .map_err(|e| anyhow::anyhow!("reading users: {e}"))?;
    let drift = keel_app::reconcile(db, local, &remaining, &ListingIsComplete, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("marking users deleted: {e}"))?;
    eprintln!(
        "marked {} users deleted in {:.1} s",
        drift.extra.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

struct Scenario {
    name: &'static str,
    /// The arguments of call `i` (without `paginationOpts`, added per call).
    args: Box<dyn Fn(usize) -> Json>,
    /// Asks for the second page (the first page's cursor) instead of the first.
    second_page: bool,
}

const PREFIXES: &[&str] = &[
    "a", "ad", "ada", "l", "lo", "lov", "love", "s", "sm", "smi", "smith", "j", "jo", "joh", "m",
    "ma", "mar", "ada lo", "k", "zz",
];

fn scenarios() -> Vec<Scenario> {
    let search = |status: &'static str| move |i: usize| json!({"search": PREFIXES[i % PREFIXES.len()], "status": status});
    vec![
        Scenario {
            name: "none (all users, newest first)",
            args: Box::new(|_| json!({"status": "all"})),
            second_page: false,
        },
        Scenario {
            name: "status active",
            args: Box::new(|_| json!({"status": "active"})),
            second_page: false,
        },
        Scenario {
            name: "status deleted",
            args: Box::new(|_| json!({"status": "deleted"})),
            second_page: false,
        },
        Scenario {
            name: "role admin, all statuses",
            args: Box::new(|_| json!({"status": "all", "role": "admin"})),
            second_page: false,
        },
        Scenario {
            name: "search prefix, active",
            args: Box::new(search("active")),
            second_page: false,
        },
        Scenario {
            name: "search prefix, all statuses",
            args: Box::new(search("all")),
            second_page: false,
        },
        Scenario {
            name: "search prefix, 2nd page",
            args: Box::new(search("active")),
            second_page: true,
        },
        Scenario {
            name: "search prefix + role admin",
            args: Box::new(
                |i| json!({"search": PREFIXES[i % PREFIXES.len()], "status": "all", "role": "admin"}),
            ),
            second_page: false,
        },
    ]
}

async fn list(
    executor: &Executor,
    admin: &Arc<UserIdentity>,
    mut args: Json,
    page: usize,
    cursor: Json,
) -> Result<Json> {
    args["paginationOpts"] = json!({"numItems": page, "cursor": cursor});
    let outcome = executor
        .call(Call {
            path: "users:list".into(),
            kind: Some(FunctionKind::Query),
            args,
            identity: Some(Arc::clone(admin)),
            caller: Caller::Client,
        })
        .await
        .map_err(|e| anyhow::anyhow!("users:list: {e} {:?}", e.log_detail()))?;
    Ok(outcome.value)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("keel.db");
    if path.exists() {
        bail!(
            "{} exists: give a folder without a database",
            path.display()
        );
    }
    let engine = SqliteEngine::open(&path.to_string_lossy()).await?;
    let schema = keel_app::schema().merge(keel_functions::system_schema());
    let db = Database::open(Arc::new(engine), &schema).await?;
    seed(&db, args.users).await?;
    if args.seed_only {
        return Ok(());
    }

    let roles = Arc::new(AppRoles::new(["user_bench_admin".to_string()]));
    let executor = Executor::new(keel_app::functions(), db, roles);
    let admin = Arc::new(UserIdentity::new(
        "https://bench.invalid",
        "user_bench_admin",
        u64::MAX,
    ));
    // Warm the page cache and the prepared statements once per scenario.
    for scenario in scenarios() {
        list(&executor, &admin, (scenario.args)(0), args.page, Json::Null).await?;
    }
    println!(
        "users:list, {} users, {} calls per scenario, numItems {}",
        args.users, args.calls, args.page
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "p50 ms", "p95 ms", "max ms", "avg items"
    );
    for scenario in scenarios() {
        let mut times = Vec::with_capacity(args.calls);
        let mut items = 0usize;
        for i in 0..args.calls {
            let call_args = (scenario.args)(i);
            let cursor = if scenario.second_page {
                let first =
                    list(&executor, &admin, call_args.clone(), args.page, Json::Null).await?;
                first["continueCursor"].clone()
            } else {
                Json::Null
            };
            let started = Instant::now();
            let page = list(&executor, &admin, call_args, args.page, cursor).await?;
            times.push(started.elapsed());
            items += page["page"].as_array().map_or(0, Vec::len);
        }
        times.sort();
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>10.1}",
            scenario.name,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(*times.last().unwrap_or(&Duration::ZERO)),
            items as f64 / args.calls as f64
        );
    }
    Ok(())
}
