//! The showcase's soak (`--soak`, through bench/soak.sh): does a booth demo stay flat for days?
//!
//! Plays a built-in scenario with `tracedojo showcase --loops N --speed S` (time compressed:
//! each act's traffic is S times denser, so N loops carry the journeys of N × S loops at a
//! booth), with the services exporting to a separate `tracedojo explore` standing in for the
//! vendor's backend, and after every loop prints the RSS of every process (the showcase, which
//! holds `up`, the explorer, the player and the kiosk; each service; the backend), the data
//! directory's size, what the shop answered and what reached the backend. At the end: the
//! slope of each column from the second loop on and over the second half (what grows beyond
//! the bounds, and whether the growth stops), and how many hours of booth traffic the run
//! represents.
//!
//! Midway, a service is killed (`up` must start it again) and the backend is stopped for a
//! whole loop and started again on the same ports: the shop must keep serving and the export
//! must resume by itself.
//!
//! The explorer's and the shop's bounds are set low (`--soak-max-spans`, `--soak-keep-rows`)
//! so that they bind within the first loop and a short run shows whether anything grows past
//! them; the defaults are the booth's own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Only the showcase's soak: N loops of a scenario, RSS and data size per loop.
    #[arg(long)]
    pub soak: bool,
    /// The built-in scenario to play.
    #[arg(long, default_value = "slow-payment")]
    pub soak_scenario: String,
    /// Loops to play.
    #[arg(long, default_value = "12")]
    pub soak_loops: u64,
    /// The showcase's speed factor.
    #[arg(long, default_value = "6")]
    pub soak_speed: f64,
    /// The explorer's span bound during the soak.
    #[arg(long, default_value = "100000")]
    pub soak_max_spans: u64,
    /// Rows each of the shop's growing tables keeps during the soak.
    #[arg(long, default_value = "2000")]
    pub soak_keep_rows: u64,
}

/// One row of the table: what was measured as a loop ended.
struct LoopRow {
    number: u64,
    seconds: f64,
    requests: u64,
    failed: u64,
    rss_kib: BTreeMap<String, u64>,
    data_bytes: u64,
    backend_spans: Option<u64>,
    note: String,
}

pub async fn run(binary: &Path, args: &SoakArgs) -> anyhow::Result<()> {
    let booth = at_the_booth(&args.soak_scenario)?;
    let data_dir = std::env::temp_dir().join(format!("tracedojo-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let backend_ports = (free_port()?, free_port()?, free_port()?);
    let mut backend = Some(Backend::start(binary, backend_ports).await?);
    let backend_http = format!("http://127.0.0.1:{}", backend_ports.1);

    let mut showcase = Command::new(binary);
    showcase
        .args(["showcase", &args.soak_scenario, "--speed"])
        .arg(args.soak_speed.to_string())
        .arg("--loops")
        .arg(args.soak_loops.to_string())
        .args([
            "--base-port",
            "0",
            "--kiosk-listen",
            "127.0.0.1:0",
            "--lang",
            "en",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--explorer-max-spans")
        .arg(args.soak_max_spans.to_string())
        .env("TRACEDOJO_KEEP_ROWS", args.soak_keep_rows.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &backend_http)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env_remove("OTEL_SDK_DISABLED")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = showcase.spawn().with_context(|| {
        format!(
            "cannot start {}; build it with `cargo build --release`",
            binary.display()
        )
    })?;
    let showcase_pid = child.id().context("the showcase has no pid")?;
    let kiosk = read_kiosk_url(&mut child).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;

    println!(
        "soak: {} × {} loops at speed {} (bounds: explorer {} spans, {} rows per table); backend {backend_http}",
        args.soak_scenario,
        args.soak_loops,
        args.soak_speed,
        args.soak_max_spans,
        args.soak_keep_rows
    );
    let started = Instant::now();
    let mut rows: Vec<LoopRow> = Vec::new();
    let (mut loop_requests, mut loop_failed) = (0u64, 0u64);
    let (mut act_requests, mut act_failed) = (0u64, 0u64);
    let mut shown = (1u64, 0usize);
    let mut loop_started = Instant::now();
    let kill_service_at = (args.soak_loops / 4).max(2);
    let outage_loop = (args.soak_loops / 2).max(3);
    let mut note = String::new();
    let deadline = Duration::from_secs_f64(
        // Generous: the scenario's loop at this speed, times the loops, times four.
        args.soak_loops as f64 * 600.0 / args.soak_speed * 4.0 + 120.0,
    );
    loop {
        if started.elapsed() > deadline {
            bail!("the soak ran past {deadline:?}; the showcase is stuck");
        }
        if let Ok(Some(status)) = child.try_wait() {
            if !status.success() {
                bail!("the showcase exited with {status}");
            }
            break;
        }
        let now = match client.get(format!("{kiosk}api/now")).send().await {
            Ok(response) => response.json::<Value>().await.unwrap_or(Value::Null),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let playing = &now["playing"];
        let here = (
            playing["loop_number"].as_u64().unwrap_or(0),
            playing["act"].as_u64().unwrap_or(0) as usize,
        );
        if here != shown && here.0 > 0 {
            // The act's counts reset as the next starts: the last sample is the act's total.
            loop_requests += act_requests;
            loop_failed += act_failed;
            if here.0 != shown.0 {
                let number = shown.0;
                let row = LoopRow {
                    number,
                    seconds: loop_started.elapsed().as_secs_f64(),
                    requests: loop_requests,
                    failed: loop_failed,
                    rss_kib: rss_by_process(showcase_pid, backend.as_ref().map(|b| b.pid)),
                    data_bytes: dir_bytes(&data_dir),
                    backend_spans: match &backend {
                        Some(backend) => backend.spans_received(&client).await,
                        None => None,
                    },
                    note: std::mem::take(&mut note),
                };
                print_row(&row, rows.is_empty());
                rows.push(row);
                (loop_requests, loop_failed) = (0, 0);
                loop_started = Instant::now();
                if here.0 == kill_service_at
                    && let Some(pid) = service_pids(showcase_pid).get("payment")
                {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                    note = format!("payment (pid {pid}) killed at the loop's start");
                }
                if here.0 == outage_loop
                    && let Some(stopping) = backend.take()
                {
                    stopping.stop().await;
                    note = "backend stopped for this loop".to_string();
                }
                if here.0 == outage_loop + 1 && backend.is_none() {
                    backend = Some(Backend::start(binary, backend_ports).await?);
                    note = "backend started again (empty) at the loop's start".to_string();
                }
            }
            shown = here;
        }
        act_requests = playing["requests"].as_u64().unwrap_or(0);
        act_failed = playing["failed_requests"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stderr = child.stderr.take().map(|mut stderr| async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    if let Some(stderr) = stderr {
        let text = stderr.await;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if !lines.is_empty() {
            println!(
                "\nthe showcase said on stderr ({} lines; the last 8):",
                lines.len()
            );
            for line in lines.iter().rev().take(8).rev() {
                println!("  {line}");
            }
        }
    }
    if let Some(backend) = backend {
        let received = backend.spans_received(&client).await;
        println!(
            "\nbackend after the outage: {} spans received since it came back",
            received.map_or("(no answer)".to_string(), |n| n.to_string())
        );
        backend.stop().await;
    }
    summarise(&rows, args, booth, started.elapsed());
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}

/// A loop's length and journeys at speed 1 (a booth's): each act's rate times its length.
fn at_the_booth(name: &str) -> anyhow::Result<(f64, f64)> {
    let scenario = tracedojo_showcase::find(name)?;
    let journeys = scenario
        .acts
        .iter()
        .map(|act| act.load.get_ref().rate.unwrap_or(1.0) * *act.seconds.get_ref() as f64)
        .sum();
    Ok((scenario.loop_seconds() as f64, journeys))
}

fn print_row(row: &LoopRow, header: bool) {
    let names: Vec<&String> = row.rss_kib.keys().collect();
    if header {
        let mut line = format!("{:>4} {:>7} {:>8} {:>6}", "loop", "s", "requests", "failed");
        for name in &names {
            line.push_str(&format!(" {:>9}", short(name)));
        }
        line.push_str(&format!(" {:>9} {:>9}  note", "data MiB", "backend"));
        println!("\nRSS in MiB per process as each loop ended:\n{line}");
    }
    let mut line = format!(
        "{:>4} {:>7.1} {:>8} {:>6}",
        row.number, row.seconds, row.requests, row.failed
    );
    for name in &names {
        line.push_str(&format!(" {:>9.1}", row.rss_kib[*name] as f64 / 1024.0));
    }
    line.push_str(&format!(
        " {:>9.1} {:>9}  {}",
        row.data_bytes as f64 / 1048576.0,
        row.backend_spans
            .map_or("down".to_string(), |n| n.to_string()),
        row.note
    ));
    println!("{line}");
}

fn short(name: &str) -> String {
    name.chars().take(9).collect()
}

/// Least-squares slope of `values` per step.
fn slope(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = values.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in values.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (y - mean_y);
        den += dx * dx;
    }
    if den == 0.0 { 0.0 } else { num / den }
}

/// One line per process and one for the data directory: the least-squares growth per loop
/// over `rows`, and the last value.
fn print_slopes(title: &str, rows: &[LoopRow]) {
    println!("\n{title}:");
    if rows.len() < 3 {
        println!("  too few loops to tell (give --soak-loops 6 or more)");
        return;
    }
    let names: Vec<String> = rows[0].rss_kib.keys().cloned().collect();
    for name in names {
        let values: Vec<f64> = rows
            .iter()
            .map(|row| row.rss_kib.get(&name).copied().unwrap_or(0) as f64 / 1024.0)
            .collect();
        let last = values.last().copied().unwrap_or(0.0);
        println!(
            "  {name:<16} {:+7.2} MiB/loop  (last {last:.1} MiB; {:+.1} % of it per loop)",
            slope(&values),
            if last > 0.0 {
                100.0 * slope(&values) / last
            } else {
                0.0
            }
        );
    }
    let data: Vec<f64> = rows
        .iter()
        .map(|row| row.data_bytes as f64 / 1048576.0)
        .collect();
    println!(
        "  {:<16} {:+7.2} MiB/loop  (last {:.1} MiB)",
        "data directory",
        slope(&data),
        data.last().copied().unwrap_or(0.0)
    );
}

fn summarise(rows: &[LoopRow], args: &SoakArgs, booth: (f64, f64), took: Duration) {
    // From loop 2 on shows everything that grew, the early fill of caches and pools included;
    // the second half shows whether the growth stopped, which is what a booth of several days
    // depends on.
    print_slopes(
        "slope from loop 2 on (growth per loop)",
        &rows[1.min(rows.len())..],
    );
    let half = rows.len() / 2;
    print_slopes(
        &format!(
            "slope over the second half, loops {}-{} (flat is the target)",
            half + 1,
            rows.len()
        ),
        &rows[half..],
    );
    let requests: u64 = rows.iter().map(|r| r.requests).sum();
    let failed: u64 = rows.iter().map(|r| r.failed).sum();
    let (loop_seconds, loop_journeys) = booth;
    let loops = rows.len() as f64;
    println!(
        "\n{} loops in {:.0} s: {requests} requests, {failed} failed ({:.2} %)",
        rows.len(),
        took.as_secs_f64(),
        if requests == 0 {
            0.0
        } else {
            100.0 * failed as f64 / requests as f64
        },
    );
    println!(
        "at speed {}, the run carried about {:.0} journeys: {:.1} hours of this scenario at a booth (72 h: --soak-loops {:.0} at this speed)",
        args.soak_speed,
        loops * loop_journeys * args.soak_speed,
        loops * loop_seconds * args.soak_speed / 3600.0,
        (72.0 * 3600.0 / (loop_seconds * args.soak_speed)).ceil()
    );
}

/// RSS of the showcase, each of its services (by name) and the backend, in KiB.
fn rss_by_process(showcase: u32, backend: Option<u32>) -> BTreeMap<String, u64> {
    let mut rss = BTreeMap::new();
    rss.insert("showcase".to_string(), rss_kib(showcase));
    for (name, pid) in service_pids(showcase) {
        rss.insert(name, rss_kib(pid));
    }
    rss.insert("backend".to_string(), backend.map_or(0, rss_kib));
    rss
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The showcase's children that run `tracedojo service NAME`, by name.
fn service_pids(parent: u32) -> BTreeMap<String, u32> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let words: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|w| String::from_utf8_lossy(w).to_string())
            .collect();
        if let Some(at) = words.iter().position(|w| w == "service")
            && let Some(name) = words.get(at + 1)
        {
            found.insert(name.clone(), pid);
        }
    }
    found
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Reads the showcase's output until it prints the kiosk's address; the rest is drained.
async fn read_kiosk_url(child: &mut Child) -> anyhow::Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let Some(line) = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("no kiosk address within 120 s")??
        else {
            bail!("the showcase exited before it served the kiosk");
        };
        if let Some(url) = line.strip_prefix("kiosk: ") {
            let url = url.trim().to_string();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(url);
        }
    }
}

/// `tracedojo explore` on fixed ports, standing in for the vendor's backend.
struct Backend {
    child: Child,
    pid: u32,
    ui: String,
}

impl Backend {
    async fn start(binary: &Path, (ui, http, grpc): (u16, u16, u16)) -> anyhow::Result<Backend> {
        let mut child = Command::new(binary)
            .arg("explore")
            .arg("--ui-address")
            .arg(format!("127.0.0.1:{ui}"))
            .arg("--http-address")
            .arg(format!("127.0.0.1:{http}"))
            .arg("--grpc-address")
            .arg(format!("127.0.0.1:{grpc}"))
            .args(["--max-spans", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the backend (tracedojo explore)")?;
        let pid = child.id().context("the backend has no pid")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("the backend did not start within 30 s")??
            else {
                bail!("the backend exited before it listened");
            };
            if line.contains("OTLP/HTTP:") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Backend {
            child,
            pid,
            ui: format!("http://127.0.0.1:{ui}"),
        })
    }

    async fn spans_received(&self, client: &reqwest::Client) -> Option<u64> {
        let status: Value = client
            .get(format!("{}/api/status", self.ui))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        status["spans_received"].as_u64()
    }

    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
