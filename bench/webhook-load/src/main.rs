//! `keel-bench-webhooks`: the Clerk webhook benchmark's load generator.
//!
//! `--senders` tasks (32) each POST Svix-signed Clerk deliveries to `--url` back to back, one in
//! flight per sender, for `--warmup` seconds (not measured) and then `--duration` seconds
//! (measured). Every delivery has a fresh `svix-id` and `svix-timestamp` = now. A sender sends
//! `user.created` for a new user id (always first, then with probability `--create-fraction`)
//! or `user.updated` for one of the users it created, with `updated_at` strictly above the one
//! it sent last for that user, so every event is new to the receiver and is applied, never
//! stale or duplicate. Bodies are shaped like Clerk's `user.created` example
//! (`shared/reference/clerk/user.created.json`).
//!
//! Counted in the measured window: deliveries answered 2xx (acknowledged), any other status
//! and transport errors (both must be 0), the latency of each (p50/p90/p99/max, from writing
//! the request to reading the whole answer), and the receiver's answer (`status` for Keel,
//! `success` for node-seed). With `--server-pid`, the CPU time of that process and its
//! children, and of this generator, per acknowledged event, and the share of the machine's CPU
//! used by anything else (other work on the machine makes a run noisy).
//!
//! `--duplicates` (a diagnosis, not a benchmark) re-sends one applied delivery, so the receiver
//! answers `duplicate` and writes nothing: the cost of everything but the write.
//!
//! The last line of output is `RESULT key=value …` for scripts (bench/webhooks/run.sh,
//! bench/webhooks/diagnose.sh).

mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use hyper::header::HeaderValue;
use keel_webhooks::WebhookSecrets;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};
use transport::{Connection, Target};

#[derive(Parser, Debug)]
#[command(
    about = "Signed Clerk webhook load: N concurrent senders, acknowledged events/s, p50/p99"
)]
struct Args {
    /// The server's base URL, e.g. http://127.0.0.1:3210.
    #[arg(long)]
    url: String,
    /// The webhook path.
    #[arg(long, default_value = "/clerk-webhook")]
    path: String,
    /// The endpoint's signing secret (whsec_…), the same the server was started with.
    #[arg(long, env = "CLERK_WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// Concurrent senders, each with one delivery in flight at a time.
    #[arg(long, default_value_t = 32)]
    senders: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before the measured window (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Probability that a delivery is `user.created` for a new user rather than
    /// `user.updated` for one the sender created before.
    #[arg(long, default_value_t = 0.5)]
    create_fraction: f64,
    /// A name for this run in the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// The server's pid: its CPU time (with its children's) is reported per event.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Per-request timeout in seconds (a timeout counts as an error).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Diagnosis only: every delivery reuses the probe delivery's `svix-id` and body, so the
    /// receiver answers `duplicate` and writes nothing (the cost of everything but the write).
    #[arg(long)]
    duplicates: bool,
    /// Worker threads of the generator's tokio runtime (0: one per CPU).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// What one sender saw in the measured window.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    non_2xx: BTreeMap<u16, u64>,
    transport_errors: u64,
    /// The receiver's answer (`status`, or `success`), per 2xx.
    answers: BTreeMap<String, u64>,
    /// A few error messages, to print.
    samples: Vec<String>,
    created: u64,
    updated: u64,
}

struct Plan {
    /// `--duplicates`: the one delivery every sender repeats.
    replay: Option<(String, Vec<u8>)>,
    target: Target,
    timeout: Duration,
    endpoint: String,
    secrets: WebhookSecrets,
    run_tag: String,
    create_fraction: f64,
    measure_from: Instant,
    end: Instant,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        runtime.worker_threads(args.threads);
    }
    runtime.enable_all().build()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.senders == 0 || args.duration <= 0.0 || args.warmup < 0.0 {
        bail!("--senders and --duration must be positive, --warmup not negative");
    }
    if !(0.0..=1.0).contains(&args.create_fraction) {
        bail!("--create-fraction is a probability (0 to 1)");
    }
    let secrets = WebhookSecrets::parse(&args.secret).context("--secret / CLERK_WEBHOOK_SECRET")?;
    let endpoint = format!("{}{}", args.url.trim_end_matches('/'), args.path);
    let target = Target::parse(&endpoint).context("--url")?;
    let timeout = Duration::from_secs_f64(args.timeout);

    // One signed delivery first: the endpoint answers, and the secret matches.
    let probe_tag = format!("{:08x}", rand::random::<u32>());
    let (body, id) = user_event(
        "user.created",
        &format!("user_probe_{probe_tag}"),
        now_ms(),
        0,
    );
    let probe_id = format!("msg_probe_{probe_tag}");
    let replay = args.duplicates.then(|| (probe_id.clone(), body.clone()));
    let mut probe = Connection::new(target.clone(), timeout);
    let answer = send(&mut probe, &secrets, &probe_id, body)
        .await
        .with_context(|| format!("POST {endpoint}"))?;
    if !(200..300).contains(&answer.0) {
        bail!(
            "the probe delivery for {id} was answered {}: {} (is the secret the server's?)",
            answer.0,
            answer.1
        );
    }
    eprintln!(
        "{}: probe delivery answered {} {}",
        args.label, answer.0, answer.1
    );

    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let plan = Arc::new(Plan {
        replay,
        target,
        timeout,
        endpoint,
        secrets,
        run_tag: format!("{:08x}", rand::random::<u32>()),
        create_fraction: args.create_fraction,
        measure_from,
        end,
    });
    eprintln!(
        "{}: {} senders, {} s warm-up, {} s measured, POST {}",
        args.label, args.senders, args.warmup, args.duration, plan.endpoint
    );

    let tasks: Vec<_> = (0..args.senders)
        .map(|n| tokio::spawn(sender(plan.clone(), n)))
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = CpuSample::take(args.server_pid);
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = CpuSample::take(args.server_pid);
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await?;
        total.latencies_us.extend(tally.latencies_us);
        for (status, n) in tally.non_2xx {
            *total.non_2xx.entry(status).or_default() += n;
        }
        total.transport_errors += tally.transport_errors;
        for (answer, n) in tally.answers {
            *total.answers.entry(answer).or_default() += n;
        }
        total.samples.extend(tally.samples);
        total.created += tally.created;
        total.updated += tally.updated;
    }
    report(&args, total, cpu_before, cpu_after);
    Ok(())
}

async fn sender(plan: Arc<Plan>, n: usize) -> Tally {
    let mut rng = StdRng::seed_from_u64(rand::random());
    let mut tally = Tally::default();
    let mut connection = Connection::new(plan.target.clone(), plan.timeout);
    // The users this sender created, with the `updated_at` it sent last.
    let mut users: Vec<(String, i64)> = Vec::new();
    let mut seq = 0u64;
    loop {
        let t0 = Instant::now();
        if t0 >= plan.end {
            break;
        }
        seq += 1;
        if let Some((svix_id, body)) = &plan.replay {
            let result = send(&mut connection, &plan.secrets, svix_id, body.clone()).await;
            let t1 = Instant::now();
            if t0 >= plan.measure_from && t1 <= plan.end {
                tally.record(result, t1 - t0);
            }
            continue;
        }
        let now = now_ms();
        let (body, kind) = if users.is_empty() || rng.random::<f64>() < plan.create_fraction {
            let id = format!("user_{}_{n}_{}", plan.run_tag, users.len());
            let (body, _) = user_event("user.created", &id, now, users.len());
            users.push((id, now));
            (body, "created")
        } else {
            let pick = rng.random_range(0..users.len());
            let (id, last) = &mut users[pick];
            *last = (*last + 1).max(now);
            let (body, _) = user_event("user.updated", id, *last, pick);
            (body, "updated")
        };
        let svix_id = format!("msg_{}_{n}_{seq}", plan.run_tag);
        let result = send(&mut connection, &plan.secrets, &svix_id, body).await;
        let t1 = Instant::now();
        if t0 < plan.measure_from || t1 > plan.end {
            continue;
        }
        if kind == "created" {
            tally.created += 1;
        } else {
            tally.updated += 1;
        }
        tally.record(result, t1 - t0);
    }
    tally
}

impl Tally {
    fn record(&mut self, result: anyhow::Result<(u16, String)>, latency: Duration) {
        match result {
            Ok((status, text)) if (200..300).contains(&status) => {
                self.latencies_us
                    .push(latency.as_micros().min(u32::MAX as u128) as u32);
                *self.answers.entry(answer_of(&text)).or_default() += 1;
            }
            Ok((status, text)) => {
                *self.non_2xx.entry(status).or_default() += 1;
                if self.samples.len() < 3 {
                    self.samples.push(format!("{status}: {text}"));
                }
            }
            Err(err) => {
                self.transport_errors += 1;
                if self.samples.len() < 3 {
                    self.samples.push(format!("{err:#}"));
                }
            }
        }
    }
}

/// Posts one signed delivery; the status and the answer's text.
async fn send(
    connection: &mut Connection,
    secrets: &WebhookSecrets,
    svix_id: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u16, String)> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let signature = secrets.sign(svix_id, timestamp, &body);
    let headers = [
        ("svix-id", HeaderValue::from_str(svix_id)?),
        ("svix-timestamp", HeaderValue::from(timestamp)),
        ("svix-signature", HeaderValue::from_str(&signature)?),
    ];
    let (status, answer) = connection.post_json(headers, body).await?;
    Ok((status, String::from_utf8_lossy(&answer).into_owned()))
}

/// Keel answers `{"status": "applied" | …}`, node-seed `{"success": true[, "duplicate": true]}`.
fn answer_of(text: &str) -> String {
    match serde_json::from_str::<Json>(text) {
        Ok(v) => {
            if let Some(status) = v.get("status").and_then(Json::as_str) {
                status.to_string()
            } else if v.get("duplicate") == Some(&Json::Bool(true)) {
                "duplicate".into()
            } else if v.get("success") == Some(&Json::Bool(true)) {
                "success".into()
            } else {
                "other".into()
            }
        }
        Err(_) => "not-json".into(),
    }
}

/// A Clerk user event shaped like `user.created.json`; `updated_at` = `updated_ms`.
fn user_event(kind: &str, id: &str, updated_ms: i64, n: usize) -> (Vec<u8>, String) {
    let email_id = format!("idn_{id}");
    let body = json!({
        "data": {
            "birthday": "",
            "created_at": updated_ms,
            "email_addresses": [{
                "email_address": format!("{id}@example.org"),
                "id": email_id,
                "linked_to": [],
                "object": "email_address",
                "verification": { "status": "verified", "strategy": "ticket" }
            }],
            "external_accounts": [],
            "external_id": format!("{n}"),
            "first_name": "Bench",
            "gender": "",
            "id": id,
            "image_url": "https://img.clerk.com/xxxxxx",
            "last_name": format!("User {updated_ms}"),
            "last_sign_in_at": updated_ms,
            "object": "user",
            "password_enabled": true,
            "phone_numbers": [],
            "primary_email_address_id": email_id,
            "primary_phone_number_id": null,
            "primary_web3_wallet_id": null,
            "private_metadata": {},
            "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
            "public_metadata": {},
            "two_factor_enabled": false,
            "unsafe_metadata": {},
            "updated_at": updated_ms,
            "username": null,
            "web3_wallets": []
        },
        "instance_id": "ins_bench",
        "object": "event",
        "timestamp": now_ms(),
        "type": kind
    });
    (
        serde_json::to_vec(&body).expect("a JSON value serializes"),
        id.to_string(),
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// CPU clock ticks (user + system) of the server's process tree, of this process, and of the
/// whole machine (busy and total), at one instant. Linux's USER_HZ is 100.
struct CpuSample {
    server: Option<u64>,
    own: u64,
    machine_busy: u64,
    machine_total: u64,
}

const CLK_TCK: f64 = 100.0;

impl CpuSample {
    fn take(server_pid: Option<u32>) -> CpuSample {
        let (machine_busy, machine_total) = machine_ticks();
        CpuSample {
            server: server_pid.map(tree_ticks),
            own: ticks_of(std::process::id()).unwrap_or(0),
            machine_busy,
            machine_total,
        }
    }
}

/// utime + stime of one process (all its threads), from /proc/PID/stat.
fn ticks_of(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After "pid (comm) ": state is field 0, utime is 11, stime 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The ticks of `root` and every live descendant (node-seed's cluster workers).
fn tree_ticks(root: u32) -> u64 {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
                && let Some(ppid) = parent_of(pid)
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter().filter_map(|pid| ticks_of(*pid)).sum()
}

/// (busy, total) ticks of all CPUs from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
    let total = busy + get(3) + get(4);
    (busy, total)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn report(args: &Args, mut total: Tally, before: CpuSample, after: CpuSample) {
    total.latencies_us.sort_unstable();
    let acked = total.latencies_us.len() as u64;
    let non_2xx: u64 = total.non_2xx.values().sum();
    let errors = non_2xx + total.transport_errors;
    let rate = acked as f64 / args.duration;
    let (p50, p90, p99, max) = (
        percentile(&total.latencies_us, 50.0),
        percentile(&total.latencies_us, 90.0),
        percentile(&total.latencies_us, 99.0),
        percentile(&total.latencies_us, 100.0),
    );
    let per_event_us = |ticks: u64| {
        if acked == 0 {
            f64::NAN
        } else {
            1e6 * ticks as f64 / CLK_TCK / acked as f64
        }
    };
    let server_us = match (before.server, after.server) {
        (Some(a), Some(b)) => per_event_us(b.saturating_sub(a)),
        _ => f64::NAN,
    };
    let own_ticks = after.own.saturating_sub(before.own);
    let own_us = per_event_us(own_ticks);
    let busy = after.machine_busy.saturating_sub(before.machine_busy);
    let all = after
        .machine_total
        .saturating_sub(before.machine_total)
        .max(1);
    let server_ticks = match (before.server, after.server) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    let other_pct = 100.0 * busy.saturating_sub(server_ticks + own_ticks) as f64 / all as f64;
    let busy_pct = 100.0 * busy as f64 / all as f64;
    let answers = total
        .answers
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",");
    let statuses = total
        .non_2xx
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(",");

    println!(
        "{}: {acked} deliveries acknowledged in {} s = {rate:.0} events/s; latency p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        args.label, args.duration
    );
    println!(
        "{}: sent user.created {} / user.updated {}; answers {{{answers}}}; non-2xx {non_2xx} {{{statuses}}}; transport errors {}",
        args.label, total.created, total.updated, total.transport_errors
    );
    println!(
        "{}: CPU per acknowledged event: server {server_us:.0} µs, load generator {own_us:.0} µs; machine busy {busy_pct:.0}%, of which other processes {other_pct:.0}%",
        args.label
    );
    for sample in &total.samples {
        println!("{}: error sample: {sample}", args.label);
    }
    println!(
        "RESULT label={} senders={} duration_s={} acked={acked} events_per_s={rate:.1} p50_ms={p50:.3} p90_ms={p90:.3} p99_ms={p99:.3} max_ms={max:.3} non2xx={non_2xx} transport_errors={} errors={errors} created={} updated={} answers={} server_cpu_us={server_us:.1} gen_cpu_us={own_us:.1} machine_busy_pct={busy_pct:.1} other_cpu_pct={other_pct:.1}",
        args.label,
        args.senders,
        args.duration,
        total.transport_errors,
        total.created,
        total.updated,
        if answers.is_empty() { "-" } else { &answers },
    );
}
