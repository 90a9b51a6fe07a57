//! The server under test: a `keel dev` started here (release binary, fresh data folder, port 0)
//! or one given with `--url`; and what `/proc` says about its process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub struct Target {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub secret_key: String,
    /// The server's pid, for RSS and CPU time.
    pub pid: Option<u32>,
    pub data_dir: Option<PathBuf>,
    _child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

/// Starts `keel dev` on port 0 in `data_dir` (a fresh temporary folder when `None`).
pub async fn start(keel: &Path, data_dir: Option<PathBuf>) -> anyhow::Result<Target> {
    let (dir, path) = match data_dir {
        Some(path) => {
            std::fs::create_dir_all(&path)?;
            (None, path)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("keel-bench-sync-")
                .tempdir()?;
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    };
    let mut child = Command::new(keel)
        .arg("dev")
        .env("KEEL_DATA_DIR", &path)
        .env("KEEL_LISTEN", "127.0.0.1:0")
        .env_remove("CLERK_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", keel.display()))?;
    let pid = child.id();
    let log_path = path.join("keel.log");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // Both streams go to keel.log; the listening line is also sent back here.
    let (found_tx, mut found_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let log = std::sync::Arc::new(tokio::sync::Mutex::new(
        tokio::fs::File::create(&log_path).await?,
    ));
    for stream in [
        Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(stderr),
    ] {
        let found = found_tx.clone();
        let log = std::sync::Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("Keel listening on ") {
                    let _ = found.send(url.trim().to_string());
                }
                let mut file = log.lock().await;
                let _ = file.write_all(line.as_bytes()).await;
                let _ = file.write_all(b"\n").await;
            }
        });
    }
    drop(found_tx);
    let url = match tokio::time::timeout(Duration::from_secs(60), found_rx.recv()).await {
        Ok(Some(url)) => url,
        _ => bail!(
            "keel did not print its listening line within 60 s; see {}",
            log_path.display()
        ),
    };
    let secret_key = std::fs::read_to_string(path.join("clerk-secret-key"))
        .context("reading the emulator's secret key")?
        .trim()
        .to_string();
    Ok(Target {
        url,
        secret_key,
        pid,
        data_dir: Some(path),
        _child: Some(child),
        _dir: dir,
    })
}

pub fn existing(url: String, secret_key: String, pid: Option<u32>) -> Target {
    Target {
        url: url.trim_end_matches('/').to_string(),
        secret_key,
        pid,
        data_dir: None,
        _child: None,
        _dir: None,
    }
}

/// Resident memory of a process, in KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// `VmRSS`: everything resident, file-backed pages included.
    pub rss: u64,
    /// `RssAnon`: the process's own memory (heap, stacks), without the database file's
    /// pages that SQLite maps and the OS can drop (they grow with the data read, not with
    /// connections).
    pub anon: u64,
}

pub fn memory(pid: u32) -> Option<Memory> {
    Some(Memory {
        rss: status_field(pid, "VmRSS:")?,
        anon: status_field(pid, "RssAnon:")?,
    })
}

pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// User plus system CPU time of a process, in clock ticks (100 per second on Linux).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after `state`.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub fn own_cpu_ticks() -> Option<u64> {
    cpu_ticks(std::process::id())
}

pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// `nproc` and the CPU model, for the record.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kib| format!(", {} GiB RAM", (kib + (1 << 19)) >> 20))
        .unwrap_or_default();
    format!("{cpus} cores ({model}){mem}")
}

/// Busy CPU time of the whole machine (all cores), in clock ticks: user, nice, system, irq,
/// softirq and steal from the `cpu` line of `/proc/stat`.
pub fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0))
}

/// CPU time over an interval: the server's, the load generator's, and everything else's.
#[derive(Clone, Copy)]
pub struct CpuMark {
    at: std::time::Instant,
    server: Option<u64>,
    own: Option<u64>,
    machine: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    pub seconds: f64,
    /// CPU seconds.
    pub server: Option<f64>,
    pub own: Option<f64>,
    /// Other processes on the machine, CPU seconds: a busy neighbour disturbs the numbers.
    pub others: Option<f64>,
}

impl CpuMark {
    pub fn now(server_pid: Option<u32>) -> CpuMark {
        CpuMark {
            at: std::time::Instant::now(),
            server: server_pid.and_then(cpu_ticks),
            own: own_cpu_ticks(),
            machine: machine_busy_ticks(),
        }
    }

    pub fn since(&self, server_pid: Option<u32>) -> CpuUse {
        let now = CpuMark::now(server_pid);
        let d = |a: Option<u64>, b: Option<u64>| {
            a.zip(b).map(|(a, b)| b.saturating_sub(a) as f64 / 100.0)
        };
        let server = d(self.server, now.server);
        let own = d(self.own, now.own);
        let machine = d(self.machine, now.machine);
        CpuUse {
            seconds: (now.at - self.at).as_secs_f64(),
            server,
            own,
            others: machine.map(|m| (m - server.unwrap_or(0.0) - own.unwrap_or(0.0)).max(0.0)),
        }
    }
}

impl std::fmt::Display for CpuUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.1}"));
        write!(
            f,
            "{:.1} s wall; CPU s: server {}, load generator {}, other processes {}",
            self.seconds,
            show(self.server),
            show(self.own),
            show(self.others)
        )
    }
}
