//! `keel-bench-sync`: the live-query benchmark.
//!
//! (a) `--users` clients (1,000), each authenticated as its own emulator user and subscribed to
//!     its own `chats:listUserChats({})`. One writer connection, for each sample, authenticates
//!     as a randomly chosen subscribed user and sends `chats:createUserChat`; the latency is
//!     from writing the `Mutation` frame to that user's subscriber reading the `Transition` with
//!     the new chat. One mutation is in flight at a time. Every update pushed to any other
//!     subscriber is counted: there must be none.
//! (b) `--shared` clients (10,000), all the same user, subscribed to the same query; one
//!     mutation by that user from a separate connection; time until the last of them has read
//!     the update. `--rounds` times.
//! (c) The server's resident memory per idle subscribed connection of (a) and (b): its own
//!     memory (RssAnon, without the database pages SQLite maps from the file), the marginal
//!     cost read between the first fifth of the connections and all of them, so what the
//!     server allocates once on first use is not spread over the connections (the average
//!     over all of them, and the same figures for VmRSS, are printed beside it).
//!
//! The load generator runs on a multi-threaded tokio runtime on the same cores as the server.

mod client;
mod hostile;
mod keel;
mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use rand::seq::SliceRandom;
use tokio::sync::mpsc;

use crate::client::{Health, Update, Writer};

#[derive(Parser, Debug)]
#[command(about = "Live-query benchmark for Keel's sync WebSocket")]
struct Args {
    /// A running `keel dev` to load instead of starting one (then also give --secret-key,
    /// and --pid for memory numbers).
    #[arg(long)]
    url: Option<String>,
    /// The emulator's Backend API key (with --url).
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The server's pid (with --url), for RSS and CPU time.
    #[arg(long)]
    pid: Option<u32>,
    /// The keel binary to start; defaults to `keel` next to this binary (target/release).
    #[arg(long)]
    keel: Option<PathBuf>,
    /// Data folder for the started keel; defaults to a fresh temporary folder.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// (a): subscribed users, one connection each.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// (a): mutations, one at a time, each for a random subscribed user (a permutation, so
    /// every user is written once per `--users` samples).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// (a): pause between samples, in milliseconds (0: the next mutation goes out as soon as
    /// the previous one is visible to its writer).
    #[arg(long, default_value_t = 0)]
    pace_ms: u64,
    /// (b): connections subscribed to one shared query.
    #[arg(long, default_value_t = 10000)]
    shared: usize,
    /// (b): mutations, each waited for by all shared subscribers.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Emulator users created concurrently.
    #[arg(long, default_value_t = 64)]
    user_concurrency: usize,
    /// WebSocket connections being set up concurrently.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Pause before each memory reading, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Keep every connection open this many seconds after the run (to inspect the server).
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
    /// Skip (a) and its memory reading.
    #[arg(long)]
    skip_a: bool,
    /// Skip (b) and its memory reading.
    #[arg(long)]
    skip_b: bool,
    /// Also write the headline figures to this file as JSON (for `compare.sh`).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of (a)–(c): what hostile clients cost the server's memory (issue #18; see
    /// `hostile.rs`): (i) slow readers of a large result, (ii) one huge `ModifyQuerySet`.
    #[arg(long)]
    hostile: bool,
    /// (i): connections that subscribe and then never read.
    #[arg(long, default_value_t = 10)]
    hostile_clients: usize,
    /// (i): chats of the subscribed user (about 330 bytes each in the result).
    #[arg(long, default_value_t = 3000)]
    hostile_chats: usize,
    /// (i): seconds the writer keeps changing the query.
    #[arg(long, default_value_t = 20)]
    hostile_secs: u64,
    /// Seconds after the hostile connections are gone before memory is read again.
    #[arg(long, default_value_t = 10)]
    hostile_after_secs: u64,
    /// (ii): queries added by one `ModifyQuerySet`.
    #[arg(long, default_value_t = 50_000)]
    flood_queries: usize,
    /// (ii): chats of the flooding user.
    #[arg(long, default_value_t = 20)]
    flood_chats: usize,
    /// (ii): mutations timed on each of the three connections.
    #[arg(long, default_value_t = 5)]
    flood_mutations: usize,
    /// Kill the server if its RSS passes this (MiB): the machine is shared.
    #[arg(long, default_value_t = 6144)]
    rss_limit_mib: u64,
    /// (i): each client subscribes to its own query (`paginationOpts.numItems` = chats + 1 + i,
    /// the same rows), so no two share a result.
    #[arg(long)]
    hostile_distinct: bool,
    /// Skip (i) of --hostile.
    #[arg(long)]
    skip_slow: bool,
    /// Skip (ii) of --hostile.
    #[arg(long)]
    skip_flood: bool,
}

/// Where the connection index space is split: `0..users` are (a), the rest (b).
struct Phase {
    updates: mpsc::UnboundedReceiver<Update>,
    sender: mpsc::UnboundedSender<Update>,
    health: Arc<Health>,
    /// Updates pushed to a subscription whose data the current phase did not change.
    foreign: usize,
}

#[derive(Default)]
struct Results {
    users_created: usize,
    users_elapsed: Duration,
    a: Option<LatencyResult>,
    b: Option<FanoutResult>,
    rss_base: Option<keel::Memory>,
    /// After the first fifth of (a)'s connections: the marginal figure starts here, past
    /// what the server allocates once, on first use.
    rss_a_fifth: Option<keel::Memory>,
    rss_after_a_connect: Option<keel::Memory>,
    rss_before_b_connect: Option<keel::Memory>,
    rss_b_fifth: Option<keel::Memory>,
    rss_after_b_connect: Option<keel::Memory>,
    connect_a: Duration,
    connect_b: Duration,
    closed: usize,
}

struct LatencyResult {
    update: Vec<Duration>,
    /// Per sample, ms: send → commit begins; commit begins → the subscriber's transition is
    /// built (`serverTs`); built → read by the subscriber.
    stages: [Vec<f64>; 3],
    response: Vec<Duration>,
    visible: Vec<Duration>,
    missing: usize,
    foreign: usize,
    cpu: keel::CpuUse,
}

struct FanoutResult {
    last: Vec<Duration>,
    first: Vec<Duration>,
    median_arrival: Vec<Duration>,
    response: Vec<Duration>,
    /// Per round, ms: send → commit begins; commit → first transition built; commit → last
    /// transition built; last built → last read.
    stages: [Vec<f64>; 4],
    foreign: usize,
    cpu: keel::CpuUse,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::select! {
            result = run(args) => result,
            // Return (dropping the started keel, which kills it) on Ctrl-C or SIGTERM.
            _ = stop_signal() => bail!("interrupted"),
        }
    })
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let machine = keel::machine();
    eprintln!("machine: {machine}");
    let needed = if args.hostile {
        64
    } else {
        (if args.skip_a { 0 } else { args.users })
            + (if args.skip_b { 0 } else { args.shared })
            + 64
    };
    match keel::open_files_limit() {
        Some(limit) if (limit as usize) < needed => bail!(
            "the open-files limit is {limit}, below the {needed} sockets needed: run `ulimit -n 65536` first (bench/sync-load/run.sh does)"
        ),
        _ => {}
    }

    let target = match &args.url {
        Some(url) => {
            let key = args
                .secret_key
                .clone()
                .context("--url needs --secret-key (or CLERK_SECRET_KEY)")?;
            keel::existing(url.clone(), key, args.pid)
        }
        None => {
            let keel_bin = match &args.keel {
                Some(path) => path.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .context("no folder for this binary")?
                    .join("keel"),
            };
            eprintln!("starting {} dev", keel_bin.display());
            keel::start(&keel_bin, args.data_dir.clone()).await?
        }
    };
    eprintln!("server: {} (pid {:?})", target.url, target.pid);
    if let Some(dir) = &target.data_dir {
        eprintln!("data folder: {}", dir.display());
    }
    if args.hostile {
        let options = hostile::Options {
            clients: args.hostile_clients,
            chats: args.hostile_chats,
            write_secs: args.hostile_secs,
            after_secs: args.hostile_after_secs,
            flood_queries: args.flood_queries,
            flood_chats: args.flood_chats,
            flood_mutations: args.flood_mutations,
            rss_limit_mib: args.rss_limit_mib,
            skip_slow: args.skip_slow,
            skip_flood: args.skip_flood,
            distinct: args.hostile_distinct,
        };
        let mut report = hostile::run(&target, &options).await?;
        report["machine"] = machine.into();
        let text = serde_json::to_string_pretty(&report)?;
        println!("{text}");
        if let Some(path) = &args.json {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }
    let ws_url = client::sync_url(&target.url);
    let emulator = users::Emulator::new(&target.url, &target.secret_key);
    let run_tag = format!("{:08x}", rand::random::<u32>());
    let mut results = Results::default();

    // Users: (a)'s subscribers, and (b)'s single user.
    let a_count = if args.skip_a { 0 } else { args.users };
    eprintln!(
        "creating {} emulator users ({} at a time)…",
        a_count + 1,
        args.user_concurrency
    );
    let created = emulator
        .users(
            &format!("bench-{run_tag}"),
            a_count,
            args.user_concurrency,
            3600,
        )
        .await?;
    let shared_user = emulator
        .user(&format!("bench-{run_tag}-shared@example.com"), 3600)
        .await?;
    results.users_created = created.users.len() + 1;
    results.users_elapsed = created.elapsed;
    eprintln!(
        "created {} users in {:.1} s ({:.0} users/s; each is a user, a session and a token)",
        created.users.len(),
        created.elapsed.as_secs_f64(),
        created.users.len() as f64 / created.elapsed.as_secs_f64().max(1e-9)
    );
    let a_users = created.users;

    let (sender, updates) = mpsc::unbounded_channel();
    let mut phase = Phase {
        updates,
        sender,
        health: Arc::new(Health::default()),
        foreign: 0,
    };
    let pid = target.pid;
    let settle = Duration::from_millis(args.settle_ms);

    if !args.skip_a {
        read_every_users_chats(&target.url, &a_users).await?;
    }
    tokio::time::sleep(settle).await;
    results.rss_base = pid.and_then(keel::memory);

    // Keep the sockets' tasks alive until the end; they hold their own sockets.
    if !args.skip_a {
        eprintln!("(a) connecting {} subscribers…", a_users.len());
        let clients = a_users.iter().map(|u| u.token.as_str()).enumerate();
        (results.connect_a, results.rss_a_fifth) =
            connect_in_two_parts(&ws_url, &run_tag, clients, &args, &phase, pid).await?;
        eprintln!(
            "(a) {} subscribed in {:.1} s",
            a_users.len(),
            results.connect_a.as_secs_f64()
        );
        tokio::time::sleep(settle).await;
        results.rss_after_a_connect = pid.and_then(keel::memory);
        results.a = Some(
            run_latency(
                &ws_url,
                &run_tag,
                &a_users,
                args.samples,
                Duration::from_millis(args.pace_ms),
                pid,
                &mut phase,
            )
            .await?,
        );
    }

    if !args.skip_b {
        tokio::time::sleep(settle).await;
        results.rss_before_b_connect = pid.and_then(keel::memory);
        eprintln!("(b) connecting {} subscribers to one query…", args.shared);
        let offset = a_count;
        let clients = (0..args.shared).map(|i| (offset + i, shared_user.token.as_str()));
        (results.connect_b, results.rss_b_fifth) =
            connect_in_two_parts(&ws_url, &run_tag, clients, &args, &phase, pid).await?;
        eprintln!(
            "(b) {} subscribed in {:.1} s",
            args.shared,
            results.connect_b.as_secs_f64()
        );
        tokio::time::sleep(settle).await;
        results.rss_after_b_connect = pid.and_then(keel::memory);
        results.b = Some(
            run_fanout(
                &ws_url,
                &run_tag,
                &shared_user,
                offset,
                args.shared,
                args.rounds,
                pid,
                &mut phase,
            )
            .await?,
        );
    }
    results.closed = phase.health.closed.load(Ordering::Relaxed);
    if args.hold_secs > 0 {
        eprintln!("holding the connections for {} s", args.hold_secs);
        tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    }

    print_summary(&args, &machine, &results, pid);
    if let Some(path) = &args.json {
        let figures = summary_json(&args, &machine, &results);
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if results.closed > 0 {
        bail!("{} subscriber connections ended early", results.closed);
    }
    Ok(())
}

/// Opens and subscribes `(index, token)` connections, then hands each to a reader task.
async fn connect_subscribers<'a>(
    url: &str,
    run_tag: &str,
    clients: impl Iterator<Item = (usize, &'a str)>,
    concurrency: usize,
    phase: &Phase,
) -> anyhow::Result<()> {
    let mut opened = futures::stream::iter(clients)
        .map(|(conn, token)| async move {
            let session = format!("bench-{run_tag}-{conn}");
            client::open(url, &session, token, true)
                .await
                .map(|socket| (conn, socket))
                .with_context(|| format!("subscriber {conn}"))
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(opened) = opened.next().await {
        let (conn, socket) = opened?;
        client::spawn_subscriber(
            conn,
            socket,
            phase.sender.clone(),
            Arc::clone(&phase.health),
        );
    }
    Ok(())
}

/// Connects the first fifth of `clients`, reads the server's memory after the settle pause,
/// then connects the rest: (c)'s marginal figure starts past what the server allocates once.
/// Returns the time spent connecting and that memory reading.
async fn connect_in_two_parts<'a>(
    url: &str,
    run_tag: &str,
    clients: impl ExactSizeIterator<Item = (usize, &'a str)>,
    args: &Args,
    phase: &Phase,
    pid: Option<u32>,
) -> anyhow::Result<(Duration, Option<keel::Memory>)> {
    let mut clients = clients;
    let fifth = clients.len() / 5;
    let started = Instant::now();
    let first: Vec<_> = clients.by_ref().take(fifth).collect();
    connect_subscribers(
        url,
        run_tag,
        first.into_iter(),
        args.connect_concurrency,
        phase,
    )
    .await?;
    let connecting = started.elapsed();
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let memory = pid.and_then(keel::memory);
    let started = Instant::now();
    connect_subscribers(url, run_tag, clients, args.connect_concurrency, phase).await?;
    Ok((connecting + started.elapsed(), memory))
}

/// Runs each (a) user's query once over HTTP before the first memory reading, so the pages of
/// their data are already in SQLite's caches: (c) counts what a connection costs, not the
/// cache filling up with the data its first query reads.
async fn read_every_users_chats(url: &str, users: &[users::User]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let query = format!("{url}/api/query");
    futures::stream::iter(users)
        .map(|user| {
            let (http, query) = (&http, &query);
            async move {
                let response = http
                    .post(query)
                    .bearer_auth(&user.token)
                    .json(
                        &serde_json::json!({"path": client::QUERY, "args": [{}], "format": "json"}),
                    )
                    .send()
                    .await
                    .context("warming the data caches")?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "warming the data caches: {}",
                    response.status()
                );
                Ok(())
            }
        })
        .buffer_unordered(64)
        .try_collect::<()>()
        .await
}

/// (a): one mutation at a time, each for a random subscribed user, timed to its update.
async fn run_latency(
    url: &str,
    run_tag: &str,
    users: &[users::User],
    samples: usize,
    pace: Duration,
    pid: Option<u32>,
    phase: &mut Phase,
) -> anyhow::Result<LatencyResult> {
    let mut writer =
        Writer::open(url, &format!("bench-{run_tag}-writer-a"), &users[0].token).await?;
    // Targets: whole permutations of the users, so each is written equally often.
    let mut order = Vec::with_capacity(samples);
    let mut rng = rand::rng();
    while order.len() < samples {
        let mut round: Vec<usize> = (0..users.len()).collect();
        round.shuffle(&mut rng);
        order.extend(round);
    }
    order.truncate(samples);

    // Warm-up, not recorded: a few mutations through the whole path.
    for (k, &target) in order.iter().take(20).enumerate() {
        writer.authenticate(&users[target].token).await?;
        let title = format!("warm-{k}");
        writer.send_mutation(&title).await?;
        wait_for_update(phase, target, &title, Instant::now()).await?;
        writer.finish_mutation().await?;
    }

    eprintln!("(a) {samples} samples…");
    let mut update = Vec::with_capacity(samples);
    let mut response = Vec::with_capacity(samples);
    let mut visible = Vec::with_capacity(samples);
    let mut stages: [Vec<f64>; 3] = Default::default();
    let mut missing = 0;
    let cpu = keel::CpuMark::now(pid);
    for (k, &target) in order.iter().enumerate() {
        writer.authenticate(&users[target].token).await?;
        let title = format!("sample-{k}");
        let (sent, sent_wall) = writer.send_mutation(&title).await?;
        let got = wait_for_update(phase, target, &title, sent).await?;
        let done = writer.finish_mutation().await?;
        response.push(done.response_at - sent);
        visible.push(done.visible_at - sent);
        match got {
            Some((at, text)) => {
                update.push(at - sent);
                let read_wall = sent_wall + (at - sent).as_nanos() as u64;
                if let (Some(commit), Some(built)) =
                    (done.commit_ts, client::server_ts(text.as_str()))
                {
                    stages[0].push(ms_between(sent_wall, commit));
                    stages[1].push(ms_between(commit, built));
                    stages[2].push(ms_between(built, read_wall));
                }
            }
            None => missing += 1,
        }
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
        if (k + 1) % 250 == 0 {
            eprintln!("  {} / {samples}", k + 1);
        }
    }
    let cpu = cpu.since(pid);
    // Anything still arriving late is counted too.
    drain(phase, Duration::from_millis(500)).await;
    Ok(LatencyResult {
        update,
        stages,
        response,
        visible,
        missing,
        foreign: phase.foreign,
        cpu,
    })
}

/// Waits for `target`'s update carrying `title`; every other update is foreign. `None` after
/// 10 s without it.
async fn wait_for_update(
    phase: &mut Phase,
    target: usize,
    title: &str,
    sent: Instant,
) -> anyhow::Result<Option<(Instant, tokio_tungstenite::tungstenite::Utf8Bytes)>> {
    let deadline = sent + Duration::from_secs(10);
    loop {
        let next = tokio::time::timeout_at(deadline.into(), phase.updates.recv()).await;
        let Ok(Some(update)) = next else {
            eprintln!("  no update for subscriber {target} within 10 s");
            return Ok(None);
        };
        if update.conn == target && update.text.as_str().contains(title) {
            return Ok(Some((update.at, update.text)));
        }
        phase.foreign += 1;
        eprintln!(
            "  FOREIGN update on subscriber {} while writing for {target}: {:.200}",
            update.conn,
            update.text.as_str()
        );
    }
}

/// Counts, for `wait`, updates that arrive unasked for.
async fn drain(phase: &mut Phase, wait: Duration) {
    tokio::time::sleep(wait).await;
    while let Ok(update) = phase.updates.try_recv() {
        phase.foreign += 1;
        eprintln!(
            "  FOREIGN late update on subscriber {}: {:.200}",
            update.conn,
            update.text.as_str()
        );
    }
}

/// (b): one mutation, then wait for every shared subscriber's update.
#[allow(clippy::too_many_arguments)]
async fn run_fanout(
    url: &str,
    run_tag: &str,
    user: &users::User,
    offset: usize,
    count: usize,
    rounds: usize,
    pid: Option<u32>,
    phase: &mut Phase,
) -> anyhow::Result<FanoutResult> {
    let mut writer = Writer::open(url, &format!("bench-{run_tag}-writer-b"), &user.token).await?;
    let foreign_before = phase.foreign;
    let mut result = FanoutResult {
        last: Vec::new(),
        first: Vec::new(),
        median_arrival: Vec::new(),
        response: Vec::new(),
        stages: Default::default(),
        foreign: 0,
        cpu: keel::CpuUse::default(),
    };
    let mut cpu = None;
    // Round 0 is a warm-up and is not recorded.
    for round in 0..=rounds {
        let title = format!("shared-{round}");
        let (sent, sent_wall) = writer.send_mutation(&title).await?;
        let mut seen = vec![false; count];
        let mut arrivals = Vec::with_capacity(count);
        let deadline = sent + Duration::from_secs(60);
        while arrivals.len() < count {
            let next = tokio::time::timeout_at(deadline.into(), phase.updates.recv()).await;
            let Ok(Some(update)) = next else {
                bail!(
                    "(b) round {round}: only {} of {count} subscribers updated within 60 s",
                    arrivals.len()
                );
            };
            let own = update.conn >= offset
                && update.conn < offset + count
                && !seen[update.conn - offset]
                && update.text.as_str().contains(&title);
            if own {
                seen[update.conn - offset] = true;
                arrivals.push((update.at - sent, update.text));
            } else {
                phase.foreign += 1;
                eprintln!(
                    "  FOREIGN update on subscriber {} in round {round}: {:.200}",
                    update.conn,
                    update.text.as_str()
                );
            }
        }
        let done = writer.finish_mutation().await?;
        arrivals.sort_by_key(|(at, _)| *at);
        let built: Vec<u64> = arrivals
            .iter()
            .filter_map(|(_, text)| client::server_ts(text.as_str()))
            .collect();
        let arrivals: Vec<Duration> = arrivals.into_iter().map(|(at, _)| at).collect();
        let last = *arrivals.last().expect("count > 0");
        if round == 0 {
            eprintln!("(b) warm-up: last of {count} after {:.1} ms", ms(last));
        } else {
            eprintln!(
                "(b) round {round}: first {:.1} ms, median {:.1} ms, last {:.1} ms",
                ms(arrivals[0]),
                ms(arrivals[count / 2]),
                ms(last)
            );
            result.first.push(arrivals[0]);
            result.median_arrival.push(arrivals[count / 2]);
            result.last.push(last);
            result.response.push(done.response_at - sent);
            let first_built = built.iter().min().copied();
            let last_built = built.iter().max().copied();
            if let (Some(commit), Some(first_built), Some(last_built)) =
                (done.commit_ts, first_built, last_built)
            {
                let last_read = sent_wall + last.as_nanos() as u64;
                result.stages[0].push(ms_between(sent_wall, commit));
                result.stages[1].push(ms_between(commit, first_built));
                result.stages[2].push(ms_between(commit, last_built));
                result.stages[3].push(ms_between(last_built, last_read));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if round == 0 {
            // The warm-up's CPU is not counted.
            cpu = Some(keel::CpuMark::now(pid));
        }
    }
    if let Some(cpu) = cpu {
        result.cpu = cpu.since(pid);
    }
    drain(phase, Duration::from_millis(500)).await;
    result.foreign = phase.foreign - foreign_before;
    Ok(result)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `to - from` in ms, for wall-clock nanosecond stamps (may be slightly negative).
fn ms_between(from: u64, to: u64) -> f64 {
    (to as f64 - from as f64) / 1e6
}

/// Nearest-rank percentile of unsorted values.
fn pct(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    percentile(&sorted, 50.0)
}

/// RssAnon growth per connection over the last four fifths of `n` connections, KiB: (c).
fn marginal_kib(n: usize, fifth: Option<keel::Memory>, after: Option<keel::Memory>) -> Option<f64> {
    let (fifth, after) = (fifth?, after?);
    let rest = n - n / 5;
    Some((after.anon as f64 - fifth.anon as f64) / rest.max(1) as f64)
}

/// The figures `print_summary` prints, as JSON (times in ms, memory in KiB, CPU in s).
fn summary_json(args: &Args, machine: &str, r: &Results) -> serde_json::Value {
    use serde_json::json;
    let cpu = |c: &keel::CpuUse| {
        json!({"wall_s": c.seconds, "server_s": c.server, "load_generator_s": c.own,
               "other_processes_s": c.others})
    };
    let a = r.a.as_ref().map(|a| {
        let mut update = a.update.clone();
        update.sort();
        json!({
            "subscribers": args.users,
            "samples": update.len(),
            "p50_ms": ms(percentile(&update, 50.0)),
            "p90_ms": ms(percentile(&update, 90.0)),
            "p99_ms": ms(percentile(&update, 99.0)),
            "max_ms": ms(*update.last().unwrap_or(&Duration::ZERO)),
            "foreign": a.foreign,
            "missing": a.missing,
            "cpu": cpu(&a.cpu),
        })
    });
    let b = r.b.as_ref().map(|b| {
        json!({
            "subscribers": args.shared,
            "last_median_ms": ms(median(&b.last)),
            "last_rounds_ms": b.last.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            "first_median_ms": ms(median(&b.first)),
            "median_median_ms": ms(median(&b.median_arrival)),
            "foreign": b.foreign,
            "cpu": cpu(&b.cpu),
        })
    });
    json!({
        "machine": machine,
        "a": a,
        "b": b,
        "c_own_query_kib": marginal_kib(args.users, r.rss_a_fifth, r.rss_after_a_connect),
        "c_shared_query_kib": marginal_kib(args.shared, r.rss_b_fifth, r.rss_after_b_connect),
        "subscribers_dropped": r.closed,
    })
}

fn print_summary(args: &Args, machine: &str, r: &Results, pid: Option<u32>) {
    println!();
    println!("Machine: {machine}; load generator on the same cores.");
    println!(
        "Users: {} created through the emulator's Backend API in {:.1} s ({:.0}/s, {} at a time).",
        r.users_created,
        r.users_elapsed.as_secs_f64(),
        r.users_created.saturating_sub(1) as f64 / r.users_elapsed.as_secs_f64().max(1e-9),
        args.user_concurrency
    );
    println!();
    println!("| Measure | Result | Target |");
    println!("|---|---|---|");
    if let Some(a) = &r.a {
        let mut update = a.update.clone();
        update.sort();
        let mut response = a.response.clone();
        response.sort();
        let mut visible = a.visible.clone();
        visible.sort();
        println!(
            "| (a) {} subscribers, mutation sent → subscriber's update, p50 / p90 / p99 / max ({} samples) | {:.2} / {:.2} / {:.2} / {:.2} ms | p99 ≤ 3 ms |",
            args.users,
            update.len(),
            ms(percentile(&update, 50.0)),
            ms(percentile(&update, 90.0)),
            ms(percentile(&update, 99.0)),
            ms(*update.last().unwrap_or(&Duration::ZERO)),
        );
        println!(
            "| (a) mutation sent → writer's `MutationResponse`, p50 / p99 (for reference) | {:.2} / {:.2} ms | |",
            ms(percentile(&response, 50.0)),
            ms(percentile(&response, 99.0)),
        );
        println!(
            "| (a) mutation sent → writer's own transition reaching its `ts` (when the official client resolves the mutation), p50 / p99 | {:.2} / {:.2} ms | |",
            ms(percentile(&visible, 50.0)),
            ms(percentile(&visible, 99.0)),
        );
        let [to_commit, to_built, to_read] = &a.stages;
        println!(
            "| (a) stages, p50 / p99: send → commit begins · commit begins → subscriber's transition built · built → read | {:.2} / {:.2} · {:.2} / {:.2} · {:.2} / {:.2} ms | |",
            pct(to_commit, 50.0),
            pct(to_commit, 99.0),
            pct(to_built, 50.0),
            pct(to_built, 99.0),
            pct(to_read, 50.0),
            pct(to_read, 99.0),
        );
        println!(
            "| (a) updates pushed to other users' subscriptions | {} | 0 |",
            a.foreign
        );
        if a.missing > 0 {
            println!(
                "| (a) samples whose update never came | {} | 0 |",
                a.missing
            );
        }
        if let (Some(server), Some(client)) = (a.cpu.server, a.cpu.own) {
            let n = a.update.len().max(1) as f64;
            println!(
                "| (a) CPU per sample: server / load generator | {:.2} / {:.2} ms | |",
                server * 1000.0 / n,
                client * 1000.0 / n
            );
        }
    }
    if let Some(b) = &r.b {
        let list = |values: &[Duration]| {
            values
                .iter()
                .map(|d| format!("{:.0}", ms(*d)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| (b) {} subscribers of one query, mutation sent → last one updated, median of {} (each) | {:.1} ms ({}) | ≤ 100 ms |",
            args.shared,
            b.last.len(),
            ms(median(&b.last)),
            list(&b.last),
        );
        println!(
            "| (b) first / median subscriber updated, median of rounds | {:.1} / {:.1} ms | |",
            ms(median(&b.first)),
            ms(median(&b.median_arrival)),
        );
        println!(
            "| (b) mutation sent → writer's `MutationResponse`, median | {:.2} ms | |",
            ms(median(&b.response))
        );
        let [to_commit, first_built, last_built, last_read] = &b.stages;
        println!(
            "| (b) stages, median of rounds: send → commit begins · commit → first / last transition built · last built → last read | {:.1} · {:.1} / {:.1} · {:.1} ms | |",
            pct(to_commit, 50.0),
            pct(first_built, 50.0),
            pct(last_built, 50.0),
            pct(last_read, 50.0),
        );
        if let (Some(server), Some(client)) = (b.cpu.server, b.cpu.own) {
            let n = b.last.len().max(1) as f64;
            println!(
                "| (b) CPU per round: server / load generator | {:.0} / {:.0} ms | |",
                server * 1000.0 / n,
                client * 1000.0 / n
            );
        }
        println!(
            "| (b) updates pushed to subscriptions the write did not touch | {} | 0 |",
            b.foreign
        );
    }
    if pid.is_some() {
        let per = |before: u64, after: u64, n: usize| (after as f64 - before as f64) / n as f64;
        // The result is the marginal cost of the process's own memory (RssAnon) over the last
        // four fifths of the connections. VmRSS also counts the database pages SQLite maps
        // (they grow with the data the queries read, not with connections); the average over
        // all connections also carries one-time allocations. Both are printed beside it.
        let report = |what: String,
                      n: usize,
                      base: Option<keel::Memory>,
                      fifth: Option<keel::Memory>,
                      after: Option<keel::Memory>| {
            if let (Some(base), Some(fifth), Some(after)) = (base, fifth, after) {
                let rest = n - n / 5;
                let marginal = per(fifth.anon, after.anon, rest);
                println!(
                    "| (c) resident memory per idle subscribed connection, {what}: RssAnon marginal over the last {rest} (RssAnon {} → {} → {} KiB; averaged over all {n}: {:.2} KiB; VmRSS marginal {:.2}, averaged {:.2} KiB) | {marginal:.2} KiB | ≤ 8 KiB |",
                    base.anon,
                    fifth.anon,
                    after.anon,
                    per(base.anon, after.anon, n),
                    per(fifth.rss, after.rss, rest),
                    per(base.rss, after.rss, n),
                );
            }
        };
        report(
            format!("{} users each with its own query", args.users),
            args.users,
            r.rss_base,
            r.rss_a_fifth,
            r.rss_after_a_connect,
        );
        report(
            format!("{} sharing one query", args.shared),
            args.shared,
            r.rss_before_b_connect,
            r.rss_b_fifth,
            r.rss_after_b_connect,
        );
    }
    println!();
    if let Some(a) = &r.a {
        println!("(a) measured run: {}.", a.cpu);
    }
    if let Some(b) = &r.b {
        println!("(b) measured rounds (with 200 ms pauses): {}.", b.cpu);
    }
    println!(
        "Connection setup (Connect, Authenticate, ModifyQuerySet, first result): (a) {} in {:.1} s, (b) {} in {:.1} s, {} at a time. Subscribers dropped: {}.",
        args.users,
        r.connect_a.as_secs_f64(),
        args.shared,
        r.connect_b.as_secs_f64(),
        args.connect_concurrency,
        r.closed
    );
}
