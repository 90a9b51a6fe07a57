//! A function's own log lines, as Convex gives them: what a function writes with `ctx.log`
//! goes back to its caller in `logLines` (the official client prints each line in the console
//! as `[CONVEX Q(path)] [LEVEL] message`) and into Keel's own log (target `function`, with
//! the function's path and the call's request id).
//!
//! A line on the wire is `[LEVEL] message`, the level one of Convex's `DEBUG`, `LOG`, `INFO`,
//! `WARN`, `ERROR` (the client splits the level off at the first `] `). One call keeps at most
//! [`MAX_LOG_LINES`] lines (the last of them an `[ERROR] Log overflow …` line), each message
//! at most [`MAX_LOG_LINE_BYTES`] bytes (longer ones end in ` (truncated due to length)`), and
//! at most [`MAX_LOG_BYTES`] bytes in all; these are Convex's limits. Lines past a bound are
//! dropped from both destinations.

use std::fmt::{self, Display, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

/// The lines one call wrote, as sent to its caller.
pub type LogLines = Vec<String>;

/// The most lines one call returns, the overflow notice included (Convex's `MAX_LOG_LINES`).
pub const MAX_LOG_LINES: usize = 256;
/// The longest message kept whole, in bytes (Convex's `MAX_LOG_LINE_LENGTH`).
pub const MAX_LOG_LINE_BYTES: usize = 32_768;
/// All of one call's lines together, in bytes (Convex allows one million characters).
pub const MAX_LOG_BYTES: usize = 1_000_000;
/// What a message cut at [`MAX_LOG_LINE_BYTES`] ends with (Convex's suffix).
pub const TRUNCATED_SUFFIX: &str = " (truncated due to length)";

/// Convex's log levels: `LOG` is what `console.log` writes, the others their namesakes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Log,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Log => "LOG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Which call a log belongs to, for Keel's own log.
#[derive(Clone, Debug)]
pub(crate) struct CallTag {
    pub path: Arc<str>,
    pub request_id: Arc<str>,
}

impl CallTag {
    pub fn new(path: &str, runtime: &keel_runtime::Runtime) -> Self {
        CallTag {
            path: path.into(),
            request_id: format!("{:016x}", runtime.random_u64()).into(),
        }
    }
}

/// `ctx.log`: write lines that the caller gets back in `logLines` and that Keel logs.
///
/// ```ignore
/// ctx.log.info(format_args!("{} chats for {}", chats.len(), me.subject));
/// ctx.log.warn("no title given; using the default");
/// ```
///
/// Every method takes anything `Display` (a `&str`, a `String`, `format_args!(…)`). Writing
/// never fails and never blocks on I/O; past the bounds (see the module) lines are dropped.
#[derive(Clone)]
pub struct FunctionLog {
    tag: CallTag,
    lines: Arc<Mutex<Buffer>>,
}

#[derive(Default)]
struct Buffer {
    lines: LogLines,
    bytes: usize,
    /// The overflow notice was written: nothing more is kept.
    closed: bool,
}

impl FunctionLog {
    pub(crate) fn new(tag: CallTag) -> Self {
        FunctionLog {
            tag,
            lines: Arc::default(),
        }
    }

    /// `[DEBUG]`: detail for a developer (Keel's own log shows it at `debug`).
    pub fn debug(&self, message: impl Display) {
        self.write(LogLevel::Debug, message);
    }

    /// `[LOG]`: what Convex's `console.log` writes.
    pub fn log(&self, message: impl Display) {
        self.write(LogLevel::Log, message);
    }

    /// `[INFO]`.
    pub fn info(&self, message: impl Display) {
        self.write(LogLevel::Info, message);
    }

    /// `[WARN]`.
    pub fn warn(&self, message: impl Display) {
        self.write(LogLevel::Warn, message);
    }

    /// `[ERROR]`: the function's own error report (returning `Err` is what fails the call).
    pub fn error(&self, message: impl Display) {
        self.write(LogLevel::Error, message);
    }

    /// Writes one line at `level`.
    pub fn write(&self, level: LogLevel, message: impl Display) {
        let mut text = String::new();
        let mut out = Bounded {
            out: &mut text,
            limit: MAX_LOG_LINE_BYTES,
            cut: false,
        };
        let _ = write!(out, "{message}");
        if out.cut {
            text.push_str(TRUNCATED_SUFFIX);
        }
        self.push(level, format!("[{}] {text}", level.as_str()));
    }

    /// Adds lines another call wrote (a function an action ran), within this call's bounds.
    pub(crate) fn append(&self, lines: LogLines) {
        let mut buffer = self.buffer();
        for line in lines {
            if !buffer.keep(line, &self.tag) {
                break;
            }
        }
    }

    pub(crate) fn tag(&self) -> &CallTag {
        &self.tag
    }

    /// The lines written so far.
    pub(crate) fn lines(&self) -> LogLines {
        self.buffer().lines.clone()
    }

    fn push(&self, level: LogLevel, line: String) {
        let mut buffer = self.buffer();
        if buffer.closed {
            return;
        }
        let message = &line[level.as_str().len() + 3..];
        emit(level, &self.tag, message);
        buffer.keep(line, &self.tag);
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Buffer {
    /// Keeps `line` if the bounds allow, else closes the log with the overflow notice.
    /// `false` once closed.
    fn keep(&mut self, line: String, tag: &CallTag) -> bool {
        if self.closed {
            return false;
        }
        let overflow = if self.lines.len() + 1 >= MAX_LOG_LINES {
            Some(format!(
                "Log overflow (maximum {MAX_LOG_LINES}). Remaining log lines omitted."
            ))
        } else if self.bytes + line.len() > MAX_LOG_BYTES {
            Some("Log overflow (maximum 1M characters). Remaining log lines omitted.".to_string())
        } else {
            None
        };
        match overflow {
            None => {
                self.bytes += line.len();
                self.lines.push(line);
                true
            }
            Some(notice) => {
                emit(LogLevel::Warn, tag, &notice);
                self.lines
                    .push(format!("[{}] {notice}", LogLevel::Error.as_str()));
                self.closed = true;
                false
            }
        }
    }
}

/// One line into Keel's own log, at the matching `tracing` level (`LOG` at `info`).
fn emit(level: LogLevel, tag: &CallTag, message: &str) {
    macro_rules! at {
        ($level:expr) => {
            tracing::event!(
                target: "function",
                $level,
                function = %tag.path,
                request_id = %tag.request_id,
                level = level.as_str(),
                "{message}"
            )
        };
    }
    match level {
        LogLevel::Debug => at!(tracing::Level::DEBUG),
        LogLevel::Log | LogLevel::Info => at!(tracing::Level::INFO),
        LogLevel::Warn => at!(tracing::Level::WARN),
        LogLevel::Error => at!(tracing::Level::ERROR),
    }
}

/// A `fmt::Write` that keeps at most `limit` bytes (on a character boundary) and then stops
/// the formatting, so a huge `Display` is never rendered whole.
struct Bounded<'a> {
    out: &'a mut String,
    limit: usize,
    /// Something was left out.
    cut: bool,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit - self.out.len();
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.push_str(&s[..end]);
        self.cut = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> FunctionLog {
        FunctionLog::new(CallTag::new("test:fn", &keel_runtime::Runtime::system()))
    }

    #[test]
    fn lines_carry_convex_level_prefixes() {
        let log = log();
        log.log("plain");
        log.info(format_args!("{} chats", 3));
        log.debug("d");
        log.warn(String::from("w"));
        log.error("e");
        assert_eq!(
            log.lines(),
            [
                "[LOG] plain",
                "[INFO] 3 chats",
                "[DEBUG] d",
                "[WARN] w",
                "[ERROR] e"
            ]
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary_with_a_marker() {
        let log = log();
        let exact = "x".repeat(MAX_LOG_LINE_BYTES);
        log.log(&exact);
        let long = "é".repeat(MAX_LOG_LINE_BYTES);
        log.log(&long);
        let lines = log.lines();
        assert_eq!(
            lines[0],
            format!("[LOG] {exact}"),
            "exactly at the bound: whole"
        );
        let cut = lines[1]
            .strip_prefix("[LOG] ")
            .unwrap()
            .strip_suffix(TRUNCATED_SUFFIX)
            .unwrap();
        assert!(cut.len() <= MAX_LOG_LINE_BYTES && cut.len() > MAX_LOG_LINE_BYTES - 2);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn too_many_lines_end_with_one_overflow_notice() {
        let log = log();
        for i in 0..1000 {
            log.log(i);
        }
        let lines = log.lines();
        assert_eq!(lines.len(), MAX_LOG_LINES);
        assert_eq!(
            lines[MAX_LOG_LINES - 2],
            format!("[LOG] {}", MAX_LOG_LINES - 2)
        );
        assert_eq!(
            lines[MAX_LOG_LINES - 1],
            "[ERROR] Log overflow (maximum 256). Remaining log lines omitted."
        );
    }

    #[test]
    fn all_lines_together_are_bounded() {
        let log = log();
        let big = "y".repeat(MAX_LOG_LINE_BYTES);
        for _ in 0..100 {
            log.log(&big);
        }
        let lines = log.lines();
        let total: usize = lines.iter().map(String::len).sum();
        assert!(total <= MAX_LOG_BYTES + 100, "{total}");
        assert_eq!(
            lines.last().unwrap(),
            "[ERROR] Log overflow (maximum 1M characters). Remaining log lines omitted."
        );
        // Appending after the notice keeps nothing.
        log.append(vec!["[LOG] later".into()]);
        assert_eq!(log.lines().len(), lines.len());
    }

    #[test]
    fn lines_reach_keels_log_with_the_path_and_request_id() {
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let log = log();
        tracing::subscriber::with_default(subscriber, || {
            log.info("hello from a function");
            log.debug("not at info");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains(" INFO function: hello from a function"),
            "{text}"
        );
        assert!(text.contains("function=test:fn"), "{text}");
        assert!(
            text.contains(&format!("request_id={}", log.tag().request_id)),
            "{text}"
        );
        assert!(!text.contains("not at info"), "{text}");
        assert_eq!(log.lines().len(), 2, "the caller gets every level");
    }

    #[test]
    fn nested_lines_share_the_bounds() {
        let parent = log();
        parent.log("before");
        parent.append(vec!["[INFO] nested".into()]);
        parent.log("after");
        assert_eq!(
            parent.lines(),
            ["[LOG] before", "[INFO] nested", "[LOG] after"]
        );
    }
}
