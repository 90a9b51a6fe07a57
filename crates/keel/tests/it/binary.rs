//! The `keel` binary as a child process: a clean environment, its address, and its log.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const KEEL: &str = env!("CARGO_BIN_EXE_keel");

/// A clean environment: no variables from the developer's shell or a `.env` leak in.
pub fn keel(dir: &std::path::Path) -> Command {
    let mut command = Command::new(KEEL);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KEEL_DATA_DIR", dir)
        .current_dir(dir);
    command
}

/// A running `keel` child: its address and everything it has logged so far.
pub struct Keel {
    child: Child,
    pub url: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Keel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Keel {
    /// Ends the process at once with SIGKILL, as a crash or an OOM kill would: nothing is
    /// flushed, no connection is closed in order.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until a logged line contains every one of `needles`, and returns that line.
    pub fn log_line(&self, needles: &[&str]) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.stderr.lock().unwrap().clone();
            if let Some(line) = logs
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
            {
                return line.to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needles:?} in:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `command` on a free port (of 127.0.0.1 unless it sets `KEEL_LISTEN`) and waits for
/// its address.
pub fn start_keel(mut command: Command) -> Keel {
    if !command.get_envs().any(|(name, _)| name == "KEEL_LISTEN") {
        command.env("KEEL_LISTEN", "127.0.0.1:0");
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&stderr);
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    });
    let url = crate::harness::listening_url(&mut child);
    Keel { child, url, stderr }
}

pub fn start_dev(dir: &std::path::Path, log: &str) -> Keel {
    let mut command = keel(dir);
    command.args(["dev"]).env("KEEL_LOG", log);
    start_keel(command)
}

/// Runs a finished-in-a-moment `keel` command off the async runtime, so an issuer served
/// by this test process can answer it.
pub async fn output(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// POSTs `body` to `url` with a bearer token; the answer's JSON.
pub async fn post_json(url: &str, bearer: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::Client::new()
        .post(url)
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A new emulator user of the `keel dev` at `url` (its Backend API key is `secret`); its id.
pub async fn emulator_user(url: &str, secret: &str, email: &str) -> String {
    let user = post_json(
        &format!("{url}/_clerk/v1/users"),
        secret,
        serde_json::json!({"email_address": [email]}),
    )
    .await;
    user["id"].as_str().unwrap().to_string()
}
