//! The stop benchmark (`tracedojo-bench --stop`, through bench/stop.sh): how long `tracedojo up`
//! takes to stop after Ctrl-C (SIGINT), with a backend that accepts connections and never
//! answers, and with a healthy one (the explorer `up` runs by default).
//!
//! Each round starts `up --base-port 0` on its own data directory, sends a few checkouts a
//! second for a few seconds on top of the background load (so spans are queued), sends SIGINT
//! and times until `up` exits. It also reads what `up` said: how many services were killed at
//! its deadline and how many spans it reports unsent, and checks that no child outlived it.
//!
//! All traffic goes to loopback, is bounded in time, and stops by itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The stop benchmark's settings (`tracedojo-bench --stop ...`).
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Run the stop benchmark against `--binary`'s `up` subcommand.
    #[arg(long)]
    pub stop: bool,
    /// Rounds per backend (odd, so the median is one of them).
    #[arg(long, default_value_t = 5)]
    pub stop_rounds: usize,
    /// Seconds of traffic before each stop.
    #[arg(long, default_value_t = 3)]
    pub stop_traffic_seconds: u64,
    /// Checkouts per second during that traffic (the background load runs as well).
    #[arg(long, default_value_t = 5)]
    pub stop_checkout_rate: u64,
}

/// One kind of run: its name, the environment `up` gets and its extra arguments.
struct Case {
    name: &'static str,
    env: Vec<(&'static str, String)>,
    args: &'static [&'static str],
}

/// What one stop took and what `up` said about it.
struct Stopped {
    seconds: f64,
    /// The children `up` killed at its deadline, by name.
    killed: Vec<String>,
    unsent: u64,
    survivors: usize,
}

pub async fn run(binary: &Path, args: &StopArgs) -> anyhow::Result<()> {
    let black_hole = black_hole().await?;
    let silent = || {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", black_hole.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
        ]
    };
    let cases = [
        Case {
            name: "black-hole backend",
            env: silent(),
            args: &[],
        },
        Case {
            name: "black-hole backend, --no-load",
            env: silent(),
            args: &["--no-load"],
        },
        Case {
            name: "healthy backend (the explorer)",
            env: Vec::new(),
            args: &[],
        },
    ];
    println!(
        "stop: SIGINT to `tracedojo up --base-port 0` after {} s of {} checkouts/s (plus the background load unless --no-load); {} rounds each",
        args.stop_traffic_seconds, args.stop_checkout_rate, args.stop_rounds
    );
    for case in &cases {
        let mut times = Vec::new();
        for round in 1..=args.stop_rounds.max(1) {
            let stopped = stop_once(binary, case, args).await?;
            println!(
                "  {}: round {round}: stopped in {:.2} s; killed at the deadline: {}; {} spans reported unsent{}",
                case.name,
                stopped.seconds,
                if stopped.killed.is_empty() {
                    "none".to_string()
                } else {
                    stopped.killed.join(", ")
                },
                stopped.unsent,
                if stopped.survivors > 0 {
                    format!("; {} children OUTLIVED up", stopped.survivors)
                } else {
                    String::new()
                }
            );
            times.push(stopped.seconds);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "stop: {}: median {:.2} s (min {:.2}, max {:.2}) over {} rounds (target <= 6 s)",
            case.name,
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            times.len()
        );
    }
    Ok(())
}

/// A TCP listener on loopback that accepts every connection and never answers, holding
/// each one open for as long as the benchmark runs.
async fn black_hole() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(format!("http://{address}"))
}

async fn stop_once(binary: &Path, case: &Case, args: &StopArgs) -> anyhow::Result<Stopped> {
    let data_dir = std::env::temp_dir().join(format!(
        "tracedojo-bench-stop-{}-{}",
        std::process::id(),
        crate::rand_nanos()
    ));
    let result = stop_in(binary, case, args, &data_dir).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}

async fn stop_in(
    binary: &Path,
    case: &Case,
    args: &StopArgs,
    data_dir: &PathBuf,
) -> anyhow::Result<Stopped> {
    let mut command = Command::new(binary);
    command
        .args(["up", "--base-port", "0", "--data-dir"])
        .arg(data_dir)
        .args(case.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The shell's own settings must not choose the backend or turn parts off.
    for variable in [
        "OTEL_SDK_DISABLED",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "TRACEDOJO_NO_EXPLORER",
        "TRACEDOJO_NO_LOAD",
        "TRACEDOJO_EXPLORER_ENDPOINT",
    ] {
        command.env_remove(variable);
    }
    for (key, value) in &case.env {
        command.env(key, value);
    }
    let mut child = command.spawn().with_context(|| {
        format!(
            "cannot start {}; build it with `cargo build --release`",
            binary.display()
        )
    })?;
    let stdout = child.stdout.take().context("no stdout")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let said = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let said = said.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                said.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        })
    };
    let mut lines = BufReader::new(stdout).lines();
    let (mut url, mut pids) = (String::new(), Vec::<u32>::new());
    loop {
        let Some(line) = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await??
        else {
            bail!(
                "tracedojo up exited before it was ready:\n{}",
                said.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
            );
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, address, pid] = words.as_slice()
            && address.starts_with("http://")
            && let Ok(pid) = pid.parse()
        {
            pids.push(pid);
        }
        if let Some(shop) = line.trim().strip_prefix("Shop:") {
            url = shop.trim().to_string();
        }
        // The background load's child: `Load:   1 journeys/s ... (pid 1234); ...`.
        if line.trim().starts_with("Load:")
            && let Some(pid) = line
                .split("(pid ")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .and_then(|pid| pid.parse().ok())
        {
            pids.push(pid);
        }
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    traffic(&url, args).await;

    let pid = child.id().context("up has no pid")?;
    let started = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let exited = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
    let seconds = started.elapsed().as_secs_f64();
    if exited.is_err() {
        let _ = child.kill().await;
        bail!("tracedojo up did not stop within 60 s of SIGINT");
    }
    // Its stderr closes with it: the reader ends once it has the last lines.
    let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    let said = said.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let killed = said
        .iter()
        .filter_map(|l| {
            l.split_once(" did not stop within")
                .map(|(name, _)| name.trim().to_string())
        })
        .collect();
    let unsent = said
        .iter()
        .filter(|l| l.contains("before the shop stopped"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    let survivors = pids.iter().filter(|pid| alive(**pid)).count();
    Ok(Stopped {
        seconds,
        killed,
        unsent,
        survivors,
    })
}

/// A few checkouts a second for the configured time, each on its own session.
async fn traffic(url: &str, args: &StopArgs) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(
        1.0 / args.stop_checkout_rate.max(1) as f64,
    ));
    let end = Instant::now() + Duration::from_secs(args.stop_traffic_seconds);
    let mut sent = Vec::new();
    let mut n = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let (http, url) = (http.clone(), url.to_string());
        sent.push(tokio::spawn(async move {
            crate::checkout(&http, &url, &format!("stop-{n}"), n).await
        }));
    }
    for task in sent {
        let _ = task.await;
    }
}

/// Running, and not a zombie waiting to be reaped (Linux; elsewhere, never).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}
