//! A receiver (`tracedojo explore`, or the benchmark's own null sink) run as a child process
//! pinned to one CPU with one tokio worker, and what the benchmarks read of it: its addresses,
//! its `/api/status`, its memory and CPU time.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::proc_kib;

/// How long a child gets to print its addresses and answer.
pub const START_DEADLINE: Duration = Duration::from_secs(30);
/// Every API call's bound.
pub const API_TIMEOUT: Duration = Duration::from_secs(20);

/// A receiver running as a child process pinned to one CPU with one tokio worker.
pub struct Pinned {
    child: Child,
    pub pid: u32,
    name: &'static str,
    /// Its OTLP/gRPC endpoint.
    pub grpc: String,
    /// The explorer's UI and API; none for the null sink.
    ui: Option<String>,
    /// The child's last output lines, for error messages.
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Pinned {
    /// Starts `program args` under `taskset -c cpu` with `TOKIO_WORKER_THREADS=1` and reads
    /// its addresses from the lines `tracedojo explore` prints.
    pub async fn start(
        name: &'static str,
        program: &Path,
        args: &[&str],
        cpu: usize,
        wants_ui: bool,
    ) -> anyhow::Result<Pinned> {
        let mut child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(program)
            .args(args)
            .env("TOKIO_WORKER_THREADS", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run taskset -c {cpu} {}", program.display()))?;
        // taskset execs the program, so this is the receiver's own pid.
        let pid = child.id().context("the child has no pid")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (lines_tx, mut lines) = mpsc::unbounded_channel();
        forward_lines(child.stdout.take(), lines_tx.clone(), log.clone());
        forward_lines(child.stderr.take(), lines_tx, log.clone());
        let mut pinned = Pinned {
            child,
            pid,
            name,
            grpc: String::new(),
            ui: None,
            log,
        };
        let deadline = Instant::now() + START_DEADLINE;
        while pinned.grpc.is_empty() || (wants_ui && pinned.ui.is_none()) {
            let line = match tokio::time::timeout_at(deadline.into(), lines.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => bail!("{name} exited before it was ready{}", pinned.log_tail()),
                Err(_) => bail!(
                    "{name} printed no addresses within {START_DEADLINE:?}{}",
                    pinned.log_tail()
                ),
            };
            let line = line.trim();
            if let Some(url) = line.strip_prefix("OTLP/gRPC:") {
                pinned.grpc = url.trim().to_string();
            } else if let Some(url) = line.strip_prefix("UI and API:") {
                pinned.ui = Some(url.trim().to_string());
            }
        }
        Ok(pinned)
    }

    /// `tracedojo explore` on free loopback ports with these bounds, pinned to `cpu`.
    pub async fn explorer(
        binary: &Path,
        max_spans: u64,
        max_memory: &str,
        cpu: usize,
    ) -> anyhow::Result<Pinned> {
        let max_spans = max_spans.to_string();
        let args = [
            "explore",
            "--grpc-address",
            "127.0.0.1:0",
            "--http-address",
            "127.0.0.1:0",
            "--ui-address",
            "127.0.0.1:0",
            "--max-spans",
            &max_spans,
            "--max-memory",
            max_memory,
        ];
        Pinned::start("tracedojo explore", binary, &args, cpu, true).await
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = log.iter().map(String::as_str).collect();
            format!("; its last output:\n  {}", lines.join("\n  "))
        }
    }

    pub fn ui(&self) -> &str {
        self.ui.as_deref().unwrap_or_default()
    }

    pub fn rss_kib(&self) -> u64 {
        proc_kib(self.pid, "status", "VmRSS:")
    }

    pub fn pss_kib(&self) -> u64 {
        proc_kib(self.pid, "smaps_rollup", "Pss:")
    }

    /// The CPUs it may run on.
    pub fn cpus(&self) -> String {
        cpus_allowed(&self.pid.to_string())
    }

    /// Why a run against this child failed: its exit status if it died, and its output.
    pub fn failure(&mut self, what: &str) -> anyhow::Error {
        let exited = match self.child.try_wait() {
            Ok(Some(status)) => format!(" ({} exited: {status})", self.name),
            _ => String::new(),
        };
        anyhow::anyhow!("{what}{exited}{}", self.log_tail())
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 15 s.
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Sends each line of `stream` to `lines` (while anyone listens) and keeps the last 30.
fn forward_lines(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    lines: mpsc::UnboundedSender<String>,
    log: Arc<Mutex<VecDeque<String>>>,
) {
    let Some(stream) = stream else { return };
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            {
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                if log.len() == 30 {
                    log.pop_front();
                }
                log.push_back(line.clone());
            }
            let _ = lines.send(line);
        }
    });
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_seconds(pid: &str, ticks_per_second: f64) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / ticks_per_second)
        })
        .unwrap_or(0.0)
}

/// Clock ticks per second of /proc's CPU times.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The fields of `GET /api/status` the benchmark reads; absent ones stay `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Status {
    pub spans_stored: Option<u64>,
    pub bytes_stored: Option<u64>,
    pub spans_evicted: Option<u64>,
    pub spans_received: Option<u64>,
    pub max_spans: Option<u64>,
    pub max_bytes: Option<u64>,
}

pub async fn status(http: &reqwest::Client, ui: &str) -> anyhow::Result<Status> {
    let response = http
        .get(format!("{ui}/api/status"))
        .timeout(API_TIMEOUT)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("GET /api/status answered {}", response.status());
    }
    let body: Value = response.json().await?;
    let field = |name: &str| body.get(name).and_then(Value::as_u64);
    Ok(Status {
        spans_stored: field("spans_stored"),
        bytes_stored: field("bytes_stored"),
        spans_evicted: field("spans_evicted"),
        spans_received: field("spans_received"),
        max_spans: field("max_spans"),
        max_bytes: field("max_bytes"),
    })
}

/// Polls `/api/status` until it answers (the child is up), within [`START_DEADLINE`].
pub async fn wait_ready(http: &reqwest::Client, explorer: &mut Pinned) -> anyhow::Result<Status> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        match status(http, explorer.ui()).await {
            Ok(status) => return Ok(status),
            Err(error) if Instant::now() > deadline => {
                return Err(explorer.failure(&format!(
                    "the explorer's API did not answer within {START_DEADLINE:?}: {error}"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await, // readiness poll
        }
    }
}

/// The CPUs this process may run on (its children inherit them).
pub fn own_cpus() -> String {
    cpus_allowed("self")
}

/// The CPUs process `pid` (or `self`) may run on, from /proc/PID/status.
fn cpus_allowed(pid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// Fails with what to do unless `binary` has the subcommand `name` (an older build may not).
pub fn require_subcommand(binary: &Path, name: &str) -> anyhow::Result<()> {
    let probe = std::process::Command::new(binary)
        .args([name, "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    if !probe.success() {
        bail!(
            "{} has no `{name}` subcommand; build it with `cargo build --release`",
            binary.display()
        );
    }
    Ok(())
}

/// The HTTP client for a child's API: every call bounded by [`API_TIMEOUT`].
pub fn api_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(API_TIMEOUT)
        .pool_max_idle_per_host(4)
        .build()?)
}
