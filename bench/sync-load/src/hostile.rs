//! `--hostile`: what hostile sync clients cost the server's memory (issue #18, section 2).
//!
//! (i) Slow readers: one user with `--hostile-chats` chats (titles of 197 characters, so
//!     `chats:listUserChats({})` returns about 1 MB); `--hostile-clients` connections
//!     authenticate as that user, subscribe to that query, read its first result and then never
//!     read their sockets again, while a writer connection keeps changing the query (renaming
//!     one chat, so the result keeps its size) for `--hostile-secs`. Reports the server's peak
//!     resident memory over the phase (VmHWM, reset at its start, and the highest RssAnon
//!     sampled every 50 ms), the writer's mutation latency meanwhile, and the memory
//!     `--hostile-after-secs` after those clients are gone. With `--hostile-distinct` each
//!     client subscribes with its own arguments (the same rows), so no two share a result.
//! (ii) One `ModifyQuerySet` adding `--flood-queries` queries (`chats:listUserChats` with
//!     `paginationOpts.numItems` = 1, 2, …: distinct arguments) on one connection of a user with
//!     `--flood-chats` chats; then `--flood-mutations` mutations by that user from another
//!     connection, on the flooding connection itself, and by another user, each timed (send →
//!     `MutationResponse`, and → the writer's transition reaching it). Reports how long the
//!     answer to the `ModifyQuerySet` took, how many queries it ran or refused, and the
//!     server's peak memory.
//!
//! If the server's RSS passes `--rss-limit-mib` it is killed (the machine is shared) and the
//! phase reports that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Writer};
use crate::keel::{self, Target};
use crate::users::Emulator;

pub struct Options {
    pub clients: usize,
    pub chats: usize,
    pub write_secs: u64,
    pub after_secs: u64,
    pub flood_queries: usize,
    pub flood_chats: usize,
    pub flood_mutations: usize,
    pub rss_limit_mib: u64,
    pub skip_slow: bool,
    pub skip_flood: bool,
    pub distinct: bool,
}

/// Samples the server's memory every 50 ms; kills it past the limit.
struct Sampler {
    max_rss: Arc<AtomicU64>,
    max_anon: Arc<AtomicU64>,
    killed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Sampler {
    fn start(pid: u32, limit_kib: u64) -> Sampler {
        let sampler = Sampler {
            max_rss: Arc::default(),
            max_anon: Arc::default(),
            killed: Arc::default(),
            stop: Arc::default(),
        };
        let (rss, anon, killed, stop) = (
            Arc::clone(&sampler.max_rss),
            Arc::clone(&sampler.max_anon),
            Arc::clone(&sampler.killed),
            Arc::clone(&sampler.stop),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(m) = keel::memory(pid) {
                    rss.fetch_max(m.rss, Ordering::Relaxed);
                    anon.fetch_max(m.anon, Ordering::Relaxed);
                    if m.rss > limit_kib && !killed.swap(true, Ordering::Relaxed) {
                        eprintln!(
                            "  server RSS {} MiB passed the limit: killing pid {pid}",
                            m.rss / 1024
                        );
                        let _ = std::process::Command::new("kill")
                            .args(["-KILL", &pid.to_string()])
                            .status();
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        sampler
    }

    /// (highest VmRSS, highest RssAnon) sampled, KiB.
    fn finish(self) -> (u64, u64, bool) {
        self.stop.store(true, Ordering::Relaxed);
        (
            self.max_rss.load(Ordering::Relaxed),
            self.max_anon.load(Ordering::Relaxed),
            self.killed.load(Ordering::Relaxed),
        )
    }
}

/// Resets the process's VmHWM to its current RSS (`/proc/PID/clear_refs`, value 5).
fn reset_peak(pid: u32) {
    if let Err(err) = std::fs::write(format!("/proc/{pid}/clear_refs"), "5") {
        eprintln!("  could not reset the peak RSS: {err}");
    }
}

fn mem_line(pid: u32) -> String {
    match keel::memory(pid) {
        Some(m) => format!(
            "VmRSS {:.1} MiB, RssAnon {:.1} MiB, VmHWM {:.1} MiB",
            m.rss as f64 / 1024.0,
            m.anon as f64 / 1024.0,
            keel::status_field(pid, "VmHWM:").unwrap_or(0) as f64 / 1024.0
        ),
        None => "no process".into(),
    }
}

fn mib(kib: Option<u64>) -> Json {
    kib.map_or(Json::Null, |k| {
        json!((k as f64 / 1024.0 * 10.0).round() / 10.0)
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// p50 / max of latencies, ms.
fn summary(values: &[Duration]) -> Json {
    if values.is_empty() {
        return json!({"count": 0});
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let pct = |p: f64| {
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        ms(sorted[rank.clamp(1, sorted.len()) - 1])
    };
    json!({"count": sorted.len(), "p50_ms": pct(50.0), "p99_ms": pct(99.0),
           "max_ms": ms(*sorted.last().expect("not empty"))})
}

fn long_title(k: usize) -> String {
    format!("{k:06} {}", "x".repeat(190))
}

/// Creates `count` chats for the writer's current user; returns the first one's id.
async fn create_chats(writer: &mut Writer, count: usize) -> anyhow::Result<Json> {
    let mut first = Json::Null;
    for k in 0..count {
        writer.send_mutation(&long_title(k)).await?;
        let done = writer.finish_mutation().await?;
        if k == 0 {
            first = done.result;
        }
    }
    Ok(first)
}

pub async fn run(target: &Target, options: &Options) -> anyhow::Result<Json> {
    let pid = target.pid.context("--hostile needs the server's pid")?;
    let ws_url = client::sync_url(&target.url);
    let emulator = Emulator::new(&target.url, &target.secret_key);
    let tag = format!("{:08x}", rand::random::<u32>());
    let limit_kib = options.rss_limit_mib * 1024;
    let mut report = json!({});

    if !options.skip_slow {
        report["slow_readers"] = slow_readers(&ws_url, &emulator, &tag, pid, limit_kib, options)
            .await
            .context("(i) slow readers")?;
    }
    if !options.skip_flood && keel::memory(pid).is_some() {
        report["flood"] = flood(&ws_url, &emulator, &tag, pid, limit_kib, options)
            .await
            .context("(ii) 50,000 queries")?;
    }
    Ok(report)
}

async fn slow_readers(
    ws_url: &str,
    emulator: &Emulator,
    tag: &str,
    pid: u32,
    limit_kib: u64,
    options: &Options,
) -> anyhow::Result<Json> {
    let user = emulator
        .user(&format!("hostile-{tag}-slow@example.com"), 3600)
        .await?;
    let mut writer = Writer::open(ws_url, &format!("hostile-{tag}-writer"), &user.token).await?;
    let started = Instant::now();
    eprintln!("(i) creating {} chats…", options.chats);
    let chat = create_chats(&mut writer, options.chats).await?;
    eprintln!(
        "(i) {} chats in {:.1} s; {}",
        options.chats,
        started.elapsed().as_secs_f64(),
        mem_line(pid)
    );
    let before = keel::memory(pid);

    // The hostile clients: subscribed, first result read, then never read again.
    let mut hostile = Vec::new();
    for i in 0..options.clients {
        // The same query for all (one shared result), or one each (`--hostile-distinct`: the
        // whole list as one page of a different size, so each result is its own).
        let args = if options.distinct {
            json!({"paginationOpts": {"numItems": options.chats + 1 + i, "cursor": null}})
        } else {
            json!({})
        };
        let socket = client::open_with(
            ws_url,
            &format!("hostile-{tag}-{i}"),
            &user.token,
            Some(args),
        )
        .await
        .with_context(|| format!("hostile client {i}"))?;
        hostile.push(socket);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let subscribed = keel::memory(pid);
    eprintln!(
        "(i) {} clients subscribed, no longer reading; {}",
        options.clients,
        mem_line(pid)
    );
    reset_peak(pid);
    let sampler = Sampler::start(pid, limit_kib);

    // The writer renames the first chat, one mutation at a time.
    let mut response = Vec::new();
    let mut visible = Vec::new();
    let mut error = None;
    let deadline = Instant::now() + Duration::from_secs(options.write_secs);
    let mut k = 0usize;
    let mut last_print = Instant::now();
    while Instant::now() < deadline {
        let sent = match writer
            .send_call(
                "chats:update",
                json!({"id": chat, "title": long_title(1_000_000 + k)}),
            )
            .await
        {
            Ok((sent, _)) => sent,
            Err(err) => {
                error = Some(format!("{err:#}"));
                break;
            }
        };
        match writer.finish_mutation().await {
            Ok(done) => {
                response.push(done.response_at - sent);
                visible.push(done.visible_at - sent);
            }
            Err(err) => {
                error = Some(format!("{err:#}"));
                break;
            }
        }
        k += 1;
        if last_print.elapsed() > Duration::from_secs(2) {
            eprintln!("  {k} writes; {}", mem_line(pid));
            last_print = Instant::now();
        }
    }
    let peak_hwm = keel::status_field(pid, "VmHWM:");
    let end = keel::memory(pid);
    let (max_rss, max_anon, killed) = sampler.finish();
    eprintln!(
        "(i) {k} writes in {} s; {}",
        options.write_secs,
        mem_line(pid)
    );

    drop(hostile);
    eprintln!(
        "(i) hostile clients closed; waiting {} s",
        options.after_secs
    );
    tokio::time::sleep(Duration::from_secs(options.after_secs)).await;
    let after = keel::memory(pid);
    eprintln!("(i) after: {}", mem_line(pid));
    // The server still answers: a few more writes.
    let mut after_response = Vec::new();
    if error.is_none() && !killed {
        for j in 0..5 {
            let (sent, _) = writer
                .send_call(
                    "chats:update",
                    json!({"id": chat, "title": long_title(2_000_000 + j)}),
                )
                .await?;
            let done = writer.finish_mutation().await?;
            after_response.push(done.response_at - sent);
        }
    }
    Ok(json!({
        "clients": options.clients,
        "distinct_queries": options.distinct,
        "chats": options.chats,
        "result_bytes_approx": options.chats * 330,
        "write_secs": options.write_secs,
        "writes": k,
        "writer_error": error,
        "killed_at_limit": killed,
        "rss_mib_before_clients": mib(before.map(|m| m.rss)),
        "rss_mib_clients_subscribed": mib(subscribed.map(|m| m.rss)),
        "anon_mib_clients_subscribed": mib(subscribed.map(|m| m.anon)),
        "peak_vmhwm_mib": mib(peak_hwm),
        "peak_rss_sampled_mib": mib(Some(max_rss)),
        "peak_anon_sampled_mib": mib(Some(max_anon)),
        "rss_mib_end_of_writes": mib(end.map(|m| m.rss)),
        "rss_mib_after": mib(after.map(|m| m.rss)),
        "anon_mib_after": mib(after.map(|m| m.anon)),
        "after_secs": options.after_secs,
        "writer_response": summary(&response),
        "writer_visible": summary(&visible),
        "writer_response_after": summary(&after_response),
    }))
}

/// What the flooding connection's reader saw.
enum FloodEvent {
    /// The transition reaching query set 1 (joined from its chunks): when it was complete,
    /// its size, and its modifications by type.
    Answered {
        at: Instant,
        bytes: usize,
        updated: usize,
        failed: usize,
        first_failure: Option<String>,
    },
    Response {
        at: Instant,
        request_id: u64,
    },
    Transition {
        at: Instant,
    },
    Closed(Instant, String),
}

async fn flood_reader(
    mut stream: futures::stream::SplitStream<client::Socket>,
    events: mpsc::UnboundedSender<FloodEvent>,
) {
    let mut chunks = String::new();
    let mut answered = false;
    loop {
        let message = match stream.next().await {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let _ = events.send(FloodEvent::Closed(
                    Instant::now(),
                    format!("close frame {frame:?}"),
                ));
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => {
                let _ = events.send(FloodEvent::Closed(Instant::now(), format!("{err}")));
                return;
            }
            None => {
                let _ = events.send(FloodEvent::Closed(Instant::now(), "ended".into()));
                return;
            }
        };
        let at = Instant::now();
        let text: &str = message.as_str();
        let Ok(mut parsed) = serde_json::from_str::<Json>(text) else {
            continue;
        };
        let mut whole_len = text.len();
        if parsed["type"] == "TransitionChunk" {
            chunks.push_str(parsed["chunk"].as_str().unwrap_or_default());
            if parsed["partNumber"].as_u64().map(|n| n + 1) != parsed["totalParts"].as_u64() {
                continue;
            }
            let whole = std::mem::take(&mut chunks);
            whole_len = whole.len();
            let Ok(joined) = serde_json::from_str::<Json>(&whole) else {
                continue;
            };
            parsed = joined;
        }
        let event = match parsed["type"].as_str() {
            Some("Transition") if !answered && parsed["endVersion"]["querySet"] == 1 => {
                answered = true;
                let mods = parsed["modifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let count = |t: &str| mods.iter().filter(|m| m["type"] == t).count();
                FloodEvent::Answered {
                    at,
                    bytes: whole_len,
                    updated: count("QueryUpdated"),
                    failed: count("QueryFailed"),
                    first_failure: mods
                        .iter()
                        .find(|m| m["type"] == "QueryFailed")
                        .map(|m| m["errorMessage"].to_string()),
                }
            }
            Some("Transition") => FloodEvent::Transition { at },
            Some("MutationResponse") => FloodEvent::Response {
                at,
                request_id: parsed["requestId"].as_u64().unwrap_or(u64::MAX),
            },
            _ => continue,
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

async fn flood(
    ws_url: &str,
    emulator: &Emulator,
    tag: &str,
    pid: u32,
    limit_kib: u64,
    options: &Options,
) -> anyhow::Result<Json> {
    let user = emulator
        .user(&format!("hostile-{tag}-flood@example.com"), 3600)
        .await?;
    let other = emulator
        .user(&format!("hostile-{tag}-other@example.com"), 3600)
        .await?;
    let mut writer = Writer::open(ws_url, &format!("flood-{tag}-writer"), &user.token).await?;
    create_chats(&mut writer, options.flood_chats).await?;
    let mut other_writer =
        Writer::open(ws_url, &format!("flood-{tag}-other"), &other.token).await?;
    // Baseline: the same mutations before the flood.
    let mut baseline = Vec::new();
    for j in 0..options.flood_mutations {
        let (sent, _) = writer.send_mutation(&format!("baseline-{j}")).await?;
        let done = writer.finish_mutation().await?;
        baseline.push(done.visible_at - sent);
    }

    let socket = client::open(ws_url, &format!("flood-{tag}"), &user.token, false).await?;
    let (mut sink, stream) = socket.split();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let reader = tokio::spawn(flood_reader(stream, events_tx));
    let adds: Vec<Json> = (0..options.flood_queries)
        .map(|i| {
            json!({"type": "Add", "queryId": i, "udfPath": client::QUERY,
                   "args": [{"paginationOpts": {"numItems": i + 1, "cursor": null}}]})
        })
        .collect();
    let message = json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
                         "modifications": adds})
    .to_string();
    let message_bytes = message.len();
    let before = keel::memory(pid);
    eprintln!(
        "(ii) sending one ModifyQuerySet with {} Adds ({:.1} MB); {}",
        options.flood_queries,
        message_bytes as f64 / 1e6,
        mem_line(pid)
    );
    reset_peak(pid);
    let sampler = Sampler::start(pid, limit_kib);
    let sent_at = Instant::now();
    sink.send(Message::Text(message.into()))
        .await
        .context("sending the ModifyQuerySet")?;

    // Mutations while the server works through it: from another connection of the same user,
    // on the flooding connection, and by another user. 120 s at most each.
    let limit = Duration::from_secs(120);
    let mut same_user = Vec::new();
    let mut other_user = Vec::new();
    let mut on_flood = Vec::new();
    let mut answered = None;
    let mut closed = None;
    let mut timed_out = Vec::new();
    let handle = |event: FloodEvent, answered: &mut Option<Json>, closed: &mut Option<Json>| {
        match event {
            FloodEvent::Answered {
                at,
                bytes,
                updated,
                failed,
                first_failure,
            } => {
                eprintln!(
                    "(ii) answered after {:.1} ms: {updated} updated, {failed} failed, {:.1} MB",
                    ms(at - sent_at),
                    bytes as f64 / 1e6
                );
                *answered = Some(json!({"ms": ms(at - sent_at), "bytes": bytes,
                    "query_updated": updated, "query_failed": failed, "first_failure": first_failure}));
            }
            FloodEvent::Closed(at, why) => {
                let after = ms(at - sent_at);
                eprintln!("(ii) the flooding connection ended after {after:.1} ms: {why}");
                *closed = Some(json!({"ms": after, "why": why}));
            }
            _ => {}
        }
    };
    for j in 0..options.flood_mutations {
        // Same user, another connection.
        let (sent, _) = writer.send_mutation(&format!("flood-same-{j}")).await?;
        match tokio::time::timeout(limit, writer.finish_mutation()).await {
            Ok(done) => {
                let done = done?;
                same_user.push((done.response_at - sent, done.visible_at - sent));
            }
            Err(_) => {
                timed_out.push(format!("same user, another connection, mutation {j}"));
                break;
            }
        }
        // Another user.
        let (sent, _) = other_writer
            .send_mutation(&format!("flood-other-{j}"))
            .await?;
        match tokio::time::timeout(limit, other_writer.finish_mutation()).await {
            Ok(done) => {
                let done = done?;
                other_user.push((done.response_at - sent, done.visible_at - sent));
            }
            Err(_) => {
                timed_out.push(format!("other user, mutation {j}"));
                break;
            }
        }
        // On the flooding connection itself.
        if closed.is_none() {
            let mutation = json!({"type": "Mutation", "requestId": j, "udfPath": client::MUTATION,
                                  "args": [{"title": format!("flood-self-{j}")}]});
            let sent = Instant::now();
            sink.send(Message::Text(mutation.to_string().into()))
                .await?;
            let wait_until = sent + limit;
            let mut response = None;
            loop {
                let next = tokio::time::timeout_at(wait_until.into(), events.recv()).await;
                match next {
                    Ok(Some(FloodEvent::Response { at, request_id })) if request_id == j as u64 => {
                        response = Some(at - sent);
                    }
                    Ok(Some(FloodEvent::Transition { at })) if response.is_some() => {
                        on_flood.push((response.expect("checked"), at - sent));
                        break;
                    }
                    Ok(Some(event)) => {
                        let was_closed = matches!(event, FloodEvent::Closed(..));
                        handle(event, &mut answered, &mut closed);
                        if was_closed {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        timed_out.push(format!("on the flooding connection, mutation {j}"));
                        break;
                    }
                }
            }
        }
    }
    // The answer, if it has not come yet.
    let answer_deadline = sent_at + limit;
    while answered.is_none() && closed.is_none() {
        match tokio::time::timeout_at(answer_deadline.into(), events.recv()).await {
            Ok(Some(event)) => handle(event, &mut answered, &mut closed),
            Ok(None) => break,
            Err(_) => {
                timed_out.push("the ModifyQuerySet's answer".into());
                break;
            }
        }
    }
    let peak_hwm = keel::status_field(pid, "VmHWM:");
    let (max_rss, max_anon, killed) = sampler.finish();
    eprintln!("(ii) {}", mem_line(pid));
    // Both halves gone: the socket closes.
    drop(sink);
    reader.abort();
    let _ = reader.await;
    tokio::time::sleep(Duration::from_secs(options.after_secs)).await;
    let after = keel::memory(pid);
    eprintln!(
        "(ii) {} s after closing: {}",
        options.after_secs,
        mem_line(pid)
    );
    if killed {
        bail!("the server passed --rss-limit-mib and was killed");
    }
    let pairs = |v: &[(Duration, Duration)]| {
        let response: Vec<_> = v.iter().map(|p| p.0).collect();
        let visible: Vec<_> = v.iter().map(|p| p.1).collect();
        json!({"response": summary(&response), "visible": summary(&visible),
               "response_ms": response.iter().map(|d| ms(*d)).collect::<Vec<_>>()})
    };
    Ok(json!({
        "queries": options.flood_queries,
        "chats": options.flood_chats,
        "message_bytes": message_bytes,
        "answer": answered,
        "connection_closed": closed,
        "timed_out": timed_out,
        "baseline_visible": summary(&baseline),
        "same_user_other_connection": pairs(&same_user),
        "on_the_flooding_connection": pairs(&on_flood),
        "other_user": pairs(&other_user),
        "rss_mib_before": mib(before.map(|m| m.rss)),
        "peak_vmhwm_mib": mib(peak_hwm),
        "peak_rss_sampled_mib": mib(Some(max_rss)),
        "peak_anon_sampled_mib": mib(Some(max_anon)),
        "rss_mib_after": mib(after.map(|m| m.rss)),
        "anon_mib_after": mib(after.map(|m| m.anon)),
    }))
}
