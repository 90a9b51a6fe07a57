//! The log: `KEEL_LOG` (tracing's filter syntax) and `KEEL_LOG_FORMAT`, with two guards so
//! that no token or secret is written, whatever the filter asks for:
//! - [`caps`]: targets that print what crosses the wire are held below the level at which
//!   they do, as a second filter every event must also pass, so no directive in `KEEL_LOG`
//!   (however specific) can lift them;
//! - [`redact`]: every formatted line is scrubbed of JWTs and Clerk secrets before it is
//!   written, for whatever logs one in plain text that nobody has listed yet.

mod caps;
mod redact;

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Log output: human-readable text or one JSON object per line.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

const DEFAULT_FILTER: &str = "info";

/// Installs the process's logger (stderr) and routes the `log` crate's records through it.
/// `quiet`: only errors unless `KEEL_LOG` says otherwise (`keel check`, whose report is its
/// output and must not be interleaved with log lines).
///
/// Both filters apply to the whole subscriber, not as a per-layer filter on the output: with
/// a per-layer `EnvFilter`, a library that asks whether a level is enabled and then logs
/// nothing (sqlx does, for every statement) makes the next event on that thread vanish
/// (tokio-rs/tracing#2519). With `KEEL_LOG=info,keel=debug` on PostgreSQL that swallowed
/// warnings and errors at random; there is one output, so nothing needs a per-layer filter.
pub(crate) fn init(format: LogFormat, quiet: bool) {
    let default = if quiet { "error" } else { DEFAULT_FILTER };
    let stderr = std::io::stderr;
    let layer = fmt::layer()
        .with_writer(move || redact::Redacting::new(stderr()))
        // Colour codes only for a terminal, not in files and log collectors.
        .with_ansi(stderr().is_terminal());
    // Every event must pass both: what the user asked for, and the caps.
    let registry = tracing_subscriber::registry()
        .with(user_filter(default))
        .with(caps::caps());
    match format {
        LogFormat::Text => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json()).init(),
    }
}

/// `KEEL_LOG`, or `default`; a filter that does not parse is said, not silently replaced.
fn user_filter(default: &str) -> EnvFilter {
    let Ok(value) = std::env::var("KEEL_LOG") else {
        return EnvFilter::new(default);
    };
    EnvFilter::try_new(&value).unwrap_or_else(|err| {
        eprintln!("warning: KEEL_LOG={value} is not a log filter ({err}); logging at {default}");
        EnvFilter::new(default)
    })
}
