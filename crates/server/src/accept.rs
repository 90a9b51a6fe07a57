//! Accepting a connection without spinning when `accept` fails.
//!
//! An error about one connection (the client reset it while it waited in the backlog) is
//! skipped. Any other error (EMFILE or ENFILE when file descriptors run out, ENOBUFS, ENOMEM)
//! would fail again at once, so the loop waits before retrying: 10 ms, doubling to 1 s while
//! the errors go on. axum's `serve` sleeps 1 s on every such error; a shorter first wait
//! resumes sooner once a connection closes and frees a descriptor.

use std::io;
use std::time::Duration;

use tokio::time::Instant;

const FIRST_WAIT: Duration = Duration::from_millis(10);
const LONGEST_WAIT: Duration = Duration::from_secs(1);
/// At most one log line per this long while errors go on.
const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct Backoff {
    wait: Option<Duration>,
    logged: Option<Instant>,
    since_log: u64,
}

impl Backoff {
    /// Calls `accept` until it gives a connection, waiting after errors that would repeat.
    pub(crate) async fn accept<T, F, Fut>(&mut self, mut accept: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = io::Result<T>>,
    {
        loop {
            match accept().await {
                Ok(accepted) => {
                    self.wait = None;
                    return accepted;
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => self.after_error(&err).await,
            }
        }
    }

    async fn after_error(&mut self, err: &io::Error) {
        let wait = self
            .wait
            .map_or(FIRST_WAIT, |wait| (wait * 2).min(LONGEST_WAIT));
        self.wait = Some(wait);
        self.since_log += 1;
        let now = Instant::now();
        if self.logged.is_none_or(|at| now - at >= LOG_EVERY) {
            tracing::error!(
                %err,
                errors = self.since_log,
                "accepting connections failed; retrying with a back-off (out of file descriptors? see KEEL_MAX_CONNECTIONS)"
            );
            self.logged = Some(now);
            self.since_log = 0;
        }
        tokio::time::sleep(wait).await;
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMFILE: i32 = 24;

    /// Out of file descriptors for one (virtual) second: a handful of retries, not a spin.
    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let started = Instant::now();
        let mut calls = 0u32;
        let accepted = Backoff::default()
            .accept(|| {
                calls += 1;
                // A spinning loop makes 1,000 calls without time passing, then is let through.
                let out_of_files = started.elapsed() < Duration::from_secs(1) && calls < 1_000;
                async move {
                    if out_of_files {
                        Err(io::Error::from_raw_os_error(EMFILE))
                    } else {
                        Ok("connection")
                    }
                }
            })
            .await;
        assert_eq!(accepted, "connection");
        // 10, 20, 40, …, 640 ms: 7 waits reach 1.27 s.
        assert!(calls <= 10, "{calls} accept calls in one second");
        assert!(started.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_aborted_connection_is_skipped_without_waiting() {
        let started = Instant::now();
        let mut results = vec![
            Ok("next"),
            Err(io::Error::from(io::ErrorKind::ConnectionAborted)),
        ];
        let accepted = Backoff::default()
            .accept(|| std::future::ready(results.pop().unwrap()))
            .await;
        assert_eq!(accepted, "next");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_wait() {
        let mut backoff = Backoff::default();
        let mut results = vec![
            Ok(()),
            Err(io::Error::from_raw_os_error(EMFILE)),
            Err(io::Error::from_raw_os_error(EMFILE)),
        ];
        backoff
            .accept(|| std::future::ready(results.pop().unwrap()))
            .await;
        let started = Instant::now();
        let mut results = vec![Ok(()), Err(io::Error::from_raw_os_error(EMFILE))];
        backoff
            .accept(|| std::future::ready(results.pop().unwrap()))
            .await;
        assert_eq!(started.elapsed(), FIRST_WAIT);
    }
}
