//! `tracedojo-bench`: measures a release build of `tracedojo up` and prints the figures.
//!
//! - start-up: from spawning `tracedojo up` to the first complete checkout trace received by
//!   an OTLP receiver in this process;
//! - memory: total RSS of every service process, idle and under steady traffic;
//! - throughput: checkouts per second at saturation with telemetry on, then with
//!   `OTEL_SDK_DISABLED=true`, in the same run, and their ratio; also with every span sampled
//!   out, the floor under every set-up that keeps its spans.
//!
//! - faults (`--fault-latency`): for each latency distribution, the injected p50 and p99
//!   next to those of the SERVER spans received.
//!
//! - stop (`--stop`, through bench/stop.sh): how long `up` takes to stop after Ctrl-C with a
//!   backend that never answers and with a healthy one (see [`stop`]).
//!
//! - explorer (`--explorer`, through bench/explorer.sh): `tracedojo explore`'s ingest rate
//!   against a decode-and-discard sink (`--null-sink`), memory per stored span, search latency
//!   with a million spans, and its bounds under overload (see [`explorer`]).
//!
//! - report (`--report`, through bench/report.sh): how long `tracedojo report` takes over a
//!   million stored spans, and the explorer's ingest rate while reports run against without
//!   (see [`report`]).
//!
//! - span cost (`--span-cost`, through bench/span_cost.sh): the CPU per span of the telemetry
//!   stack alone, in this process, under several set-ups from no subscriber to the services'
//!   whole pipeline (see [`span_cost`]).
//!
//! - soak (`--soak`, through bench/soak.sh): the showcase played for many loops at a high
//!   speed factor, RSS of every process and the data directory's size per loop, a service
//!   killed and the backend stopped midway (see [`soak`]).
//!
//! - engines (`--engines`, through bench/engines.sh): saturation throughput and latency of the
//!   shop on SQLite and on PostgreSQL in one run, and each service's memory on both (what the
//!   Kubernetes manifests request), see [`engines`].
//!
//! All traffic goes to loopback, is bounded in time, and stops by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod engines;
mod explorer;
mod fault_latency;
mod figures;
mod otlp;
mod pinned;
mod report;
mod soak;
mod span_cost;
mod stop;
mod store_ingest;
mod synth;

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tracedojo_explorer::Receiver;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks `tracedojo up` and prints start-up, memory and throughput figures")]
struct Args {
    /// Only serve a trivial HTTP endpoint on this address (every path answers `{}`), for the
    /// load generator's benchmark in bench/loadgen.sh; runs until killed.
    #[arg(long, value_name = "ADDR")]
    trivial_server: Option<std::net::SocketAddr>,
    /// The tracedojo binary to measure (a release build).
    #[arg(long, default_value = "target/release/tracedojo")]
    binary: PathBuf,
    /// Seconds of saturation traffic per throughput run.
    #[arg(long, default_value = "10")]
    seconds: u64,
    /// Concurrent shoppers during the saturation runs.
    #[arg(long, default_value = "48")]
    concurrency: usize,
    /// Checkouts per second during the steady-traffic memory measurement.
    #[arg(long, default_value = "20")]
    steady_rate: u64,
    /// Rounds of the telemetry on/off comparison (odd, so the median is one of them).
    #[arg(long, default_value = "3")]
    rounds: usize,
    /// Only the saturation runs (skip start-up and memory), e.g. to compare OTEL_* settings.
    #[arg(long)]
    throughput_only: bool,
    /// Only the fault benchmark: injected vs observed latency for each distribution.
    #[arg(long)]
    fault_latency: bool,
    /// Requests per distribution in the fault benchmark.
    #[arg(long, default_value = "10000")]
    fault_requests: usize,
    #[command(flatten)]
    explorer: explorer::ExplorerArgs,
    #[command(flatten)]
    report: report::ReportArgs,
    #[command(flatten)]
    stop: stop::StopArgs,
    #[command(flatten)]
    span_cost: span_cost::SpanCostArgs,
    #[command(flatten)]
    soak: soak::SoakArgs,
    #[command(flatten)]
    engines: engines::EnginesArgs,
}

struct RunningShop {
    child: Child,
    url: String,
    /// Each service's URL, by name.
    services: BTreeMap<String, String>,
    /// Each service's process id, by name.
    service_pids: BTreeMap<String, u32>,
    /// The fault control API.
    control: String,
    pids: Vec<u32>,
    data_dir: PathBuf,
}

impl RunningShop {
    async fn start(binary: &PathBuf, env: &[(&str, String)]) -> anyhow::Result<RunningShop> {
        RunningShop::start_with(binary, env, &[]).await
    }

    /// `up` with extra arguments.
    async fn start_with(
        binary: &PathBuf,
        env: &[(&str, String)],
        args: &[&str],
    ) -> anyhow::Result<RunningShop> {
        let data_dir = std::env::temp_dir().join(format!(
            "tracedojo-bench-{}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() + rand_nanos()
        ));
        let mut command = Command::new(binary);
        command
            .args(["up", "--no-load", "--base-port", "0", "--data-dir"])
            .arg(&data_dir)
            .args(args)
            .env("PAYMENT_MEDIAN_LATENCY_MS", "1")
            // Saturation sells ~1,000 units a second: the supplier must keep up.
            .env("INVENTORY_RESTOCK_INTERVAL_MS", "100")
            .env_remove("OTEL_SDK_DISABLED")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().with_context(|| {
            format!(
                "cannot start {}; build it with `cargo build --release`",
                binary.display()
            )
        })?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut pids = Vec::new();
        let mut services = BTreeMap::new();
        let mut service_pids = BTreeMap::new();
        let (mut url, mut control) = (String::new(), String::new());
        // The summary, up to its last line.
        loop {
            let Some(line) =
                tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await??
            else {
                bail!("tracedojo up exited before it was ready");
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() == 3
                && words[1].starts_with("http://")
                && let Ok(pid) = words[2].parse()
            {
                pids.push(pid);
                services.insert(words[0].to_string(), words[1].to_string());
                service_pids.insert(words[0].to_string(), pid);
            }
            if let Some(shop) = line.trim().strip_prefix("Shop:") {
                url = shop.trim().to_string();
            }
            if let Some(faults) = line.trim().strip_prefix("Faults:") {
                let api = faults.split_whitespace().next().unwrap_or_default();
                control = api
                    .trim_end_matches(';')
                    .trim_end_matches("/api/faults")
                    .to_string();
            }
            if line.contains("Press Ctrl-C") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(RunningShop {
            child,
            url,
            services,
            service_pids,
            control,
            pids,
            data_dir,
        })
    }

    fn rss_kib(&self) -> u64 {
        self.pids
            .iter()
            .map(|pid| proc_kib(*pid, "status", "VmRSS:"))
            .sum()
    }

    /// Proportional set size: shared pages (the one binary all services run) divided among
    /// the processes sharing them, so the sum is what the shop really occupies.
    fn pss_kib(&self) -> u64 {
        self.pids
            .iter()
            .map(|pid| proc_kib(*pid, "smaps_rollup", "Pss:"))
            .sum()
    }

    /// CPU time used so far, in clock ticks: the services together, and `up` itself (the
    /// supervisor and, unless `--no-explorer`, the explorer's ingest).
    fn cpu_ticks(&self) -> (u64, u64) {
        let services = self
            .pids
            .iter()
            .map(|pid| cpu_ticks(&pid.to_string()))
            .sum();
        let up = self
            .child
            .id()
            .map(|pid| cpu_ticks(&pid.to_string()))
            .unwrap_or(0);
        (services, up)
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Runs a benchmark within `deadline`, or until Ctrl-C; the child processes it started die with
/// it either way (they are spawned with `kill_on_drop`).
pub(crate) async fn bounded(
    what: &str,
    deadline: Duration,
    bench: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::select! {
        result = tokio::time::timeout(deadline, bench) => {
            result.map_err(|_| anyhow::anyhow!("{what} took longer than {deadline:?}"))?
        }
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

fn rand_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// User plus system CPU time of one process (`self` for this one) in clock ticks, from
/// /proc/PID/stat (Linux only; 0 elsewhere).
fn cpu_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Clock ticks per second for /proc CPU times: 100 on every Linux configuration in use.
const TICKS_PER_SECOND: f64 = 100.0;

/// One memory figure of one process, from /proc (Linux only; 0 elsewhere).
pub(crate) fn proc_kib(pid: u32, file: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One shopper's purchase: two items into a cart, then checkout. Returns the checkout status.
pub(crate) async fn checkout(
    http: &reqwest::Client,
    url: &str,
    session: &str,
    n: u64,
) -> anyhow::Result<u16> {
    for product in [1 + n % 240, 1 + (n * 7 + 3) % 240] {
        let response = http
            .post(format!("{url}/api/cart/items"))
            .header("x-session-id", session)
            .json(&json!({"product_id": product, "quantity": 1}))
            .send()
            .await?;
        if !response.status().is_success() {
            return Ok(response.status().as_u16());
        }
    }
    let response = http
        .post(format!("{url}/api/checkout"))
        .header("x-session-id", session)
        .json(&json!({"card_number": "4242424242424242", "email": "bench@example.com", "region": "eu-west-1"}))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

/// Closed-loop saturation: `concurrency` shoppers buying as fast as the shop answers.
/// Returns completed checkouts per second and a count of the other outcomes.
async fn saturate(url: &str, concurrency: usize, duration: Duration) -> (f64, String) {
    let http = reqwest::Client::new();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (http, url, ok, failed) = (http.clone(), url.to_string(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker as u64;
            while Instant::now() < deadline {
                let session = format!("bench-{worker}-{n}");
                let outcome = match checkout(&http, &url, &session, n).await {
                    Ok(201) => None,
                    Ok(status) => Some(status.to_string()),
                    Err(err) => Some(format!("error {err}").chars().take(60).collect()),
                };
                match outcome {
                    None => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(outcome) => {
                        let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
                        *failed.entry(outcome).or_default() += 1;
                    }
                }
                n += concurrency as u64;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failed.lock().unwrap_or_else(|p| p.into_inner());
    let failures = if failed.is_empty() {
        "no failures".to_string()
    } else {
        let counts: Vec<String> = failed.iter().map(|(k, v)| format!("{v} x {k}")).collect();
        format!("failed: {}", counts.join(", "))
    };
    (ok.load(Ordering::Relaxed) as f64 / elapsed, failures)
}

/// The cheapest answer an HTTP server can give, so a load generator's own cost is what shows.
async fn trivial_server(address: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let app = axum::Router::new().fallback(|| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{}",
        )
    });
    axum::serve(listener, app).await?;
    Ok(())
}

/// An OTLP/HTTP endpoint that accepts every export and keeps nothing: the throughput runs
/// measure what telemetry costs the shop, not what storing spans costs a backend that would
/// share these two cores.
pub(crate) async fn discarding_sink() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let app = axum::Router::new()
        .route(
            "/v1/{signal}",
            axum::routing::post(|_body: axum::body::Bytes| async {
                // An empty protobuf message is a valid Export*ServiceResponse.
                (
                    [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

/// Start-up to the first complete checkout trace, then memory idle and under steady traffic.
async fn startup_and_memory(
    args: &Args,
    receiver: &Receiver,
    otlp: &[(&str, String)],
) -> anyhow::Result<()> {
    // 1. Start-up to the first complete checkout trace.
    let spawned = Instant::now();
    let shop = RunningShop::start(&args.binary, otlp).await?;
    let ready = spawned.elapsed();
    let http = reqwest::Client::new();
    let status = checkout(&http, &shop.url, "bench-first", 0).await?;
    if status != 201 {
        bail!("the first checkout answered {status}");
    }
    receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans.iter().any(|root| {
                    root.name == "POST /api/checkout"
                        && spans
                            .iter()
                            .filter(|s| s.trace_id == root.trace_id)
                            .map(|s| s.service_name())
                            .collect::<BTreeSet<_>>()
                            .len()
                            >= 7
                })
            },
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let first_trace = spawned.elapsed();
    println!(
        "startup: ready after {:.2} s; first complete checkout trace received after {:.2} s (target <= 2 s)",
        ready.as_secs_f64(),
        first_trace.as_secs_f64()
    );

    // 2. Memory, idle and under steady traffic.
    tokio::time::sleep(Duration::from_secs(2)).await; // let start-up allocations settle before reading idle RSS
    let idle = shop.rss_kib();
    let idle_pss = shop.pss_kib();
    let mut steady_peak = 0;
    let mut steady_pss = 0;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.steady_rate as f64));
    let steady_end = Instant::now() + Duration::from_secs(10);
    let mut n = 0u64;
    let mut in_flight = Vec::new();
    while Instant::now() < steady_end {
        tick.tick().await;
        n += 1;
        let (http, url) = (http.clone(), shop.url.clone());
        in_flight.push(tokio::spawn(async move {
            checkout(&http, &url, &format!("steady-{n}"), n).await
        }));
        if n.is_multiple_of(args.steady_rate) {
            steady_peak = steady_peak.max(shop.rss_kib());
            steady_pss = steady_pss.max(shop.pss_kib());
        }
    }
    for task in in_flight {
        let _ = task.await;
    }
    steady_peak = steady_peak.max(shop.rss_kib());
    println!(
        "memory: {} service processes idle: summed RSS {:.1} MB, PSS {:.1} MB (target <= 100 MB); under {} checkouts/s: summed RSS {:.1} MB, PSS {:.1} MB",
        shop.pids.len(),
        idle as f64 / 1024.0,
        idle_pss as f64 / 1024.0,
        args.steady_rate,
        steady_peak as f64 / 1024.0,
        steady_pss as f64 / 1024.0,
    );
    println!(
        "        (summed RSS counts the one shared tracedojo binary once per process; PSS shares it out)"
    );

    shop.stop().await;

    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(address) = args.trivial_server {
        return trivial_server(address).await;
    }
    if args.explorer.null_sink {
        return otlp::null_sink().await;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    if args.explorer.explorer {
        return explorer::run(&args.binary, &args.explorer).await;
    }
    if args.report.report {
        return report::run(&args.binary, &args.report, &args.explorer).await;
    }
    if args.stop.stop {
        return stop::run(&args.binary, &args.stop).await;
    }
    if args.soak.soak {
        return soak::run(&args.binary, &args.soak).await;
    }
    if args.span_cost.span_cost {
        return span_cost::run(&args.span_cost).await;
    }
    if args.engines.engines {
        return engines::run(&args).await;
    }
    let receiver = Receiver::start_local().await?;
    let otlp = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
    ];

    if args.fault_latency {
        let shop = RunningShop::start_with(&args.binary, &otlp, &["--reveal-faults"]).await?;
        let result = fault_latency::run(&shop, &receiver, args.fault_requests).await;
        shop.stop().await;
        return result;
    }
    if !args.throughput_only {
        startup_and_memory(&args, &receiver, &otlp).await?;
    }

    throughput(&args).await
}

/// One way of running the shop with telemetry on, compared with telemetry off.
struct SetUp {
    name: &'static str,
    /// What its ratio is held to, said after it.
    verdict: &'static str,
    env: Vec<(&'static str, String)>,
    args: &'static [&'static str],
}

/// Saturation throughput with telemetry off (`OTEL_SDK_DISABLED=true`) and on in three set-ups
/// (the default, spans to the built-in explorer only; a backend, here a discarding sink, with
/// the explorer's copy; the same backend with `--no-explorer`), and the floor under them (the
/// default with every span sampled out: what the instrumentation costs before a span is
/// kept), in rotating order over several
/// rounds so that drift in what else the machine is doing falls on every side; each round's
/// ratio is on / off, and the median over the rounds is the figure.
async fn throughput(args: &Args) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.seconds);
    let sink = discarding_sink().await?;
    let backend = || {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
        ]
    };
    let set_ups = [
        SetUp {
            name: "telemetry off",
            verdict: "",
            env: vec![("OTEL_SDK_DISABLED", "true".to_string())],
            args: &[],
        },
        SetUp {
            name: "explorer only (default)",
            verdict: "target >= 0.85",
            env: Vec::new(),
            args: &[],
        },
        SetUp {
            name: "backend + explorer copy",
            verdict: "target >= 0.85",
            env: backend(),
            args: &[],
        },
        SetUp {
            name: "backend, --no-explorer",
            verdict: "target >= 0.85",
            env: backend(),
            args: &["--no-explorer"],
        },
        // Not a way to run the shop but the floor under the three above: the `tracing`
        // subscriber, `tracing-opentelemetry` and the SDK still see every span, metrics and
        // logs still flow, but the sampler drops every span, so none is recorded, encoded,
        // sent or stored. No set-up that keeps the spans can cost less.
        SetUp {
            name: "the stack alone (every span sampled out)",
            verdict: "the most any set-up above can reach",
            env: vec![("OTEL_TRACES_SAMPLER", "always_off".to_string())],
            args: &[],
        },
    ];
    let mut ratios = vec![Vec::new(); set_ups.len()];
    // CPU milliseconds per completed checkout, per round: [services, up, this client].
    let mut cpu: Vec<Vec<[f64; 3]>> = vec![Vec::new(); set_ups.len()];
    for round in 0..args.rounds {
        let mut rates = vec![0.0f64; set_ups.len()];
        // Rotate the order each round, so no set-up always runs first or last.
        for step in 0..set_ups.len() {
            let index = (step + round) % set_ups.len();
            let set_up = &set_ups[index];
            let shop = RunningShop::start_with(&args.binary, &set_up.env, set_up.args).await?;
            let (services_before, up_before) = shop.cpu_ticks();
            let client_before = cpu_ticks("self");
            let (rate, failures) = saturate(&shop.url, args.concurrency, duration).await;
            let (services_after, up_after) = shop.cpu_ticks();
            let client_after = cpu_ticks("self");
            shop.stop().await;
            let checkouts = (rate * duration.as_secs_f64()).max(1.0);
            let per_checkout = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1000.0 / checkouts;
            cpu[index].push([
                per_checkout(services_after.saturating_sub(services_before)),
                per_checkout(up_after.saturating_sub(up_before)),
                per_checkout(client_after.saturating_sub(client_before)),
            ]);
            if failures != "no failures" {
                println!("  round {}: {} run {failures}", round + 1, set_up.name);
            }
            rates[index] = rate;
        }
        let off = rates[0].max(f64::MIN_POSITIVE);
        let line: Vec<String> = set_ups
            .iter()
            .zip(&rates)
            .enumerate()
            .map(|(index, (set_up, rate))| {
                if index > 0 {
                    ratios[index].push(rate / off);
                    format!("{}: {rate:.0} ({:.2})", set_up.name, rate / off)
                } else {
                    format!("{}: {rate:.0}", set_up.name)
                }
            })
            .collect();
        println!("  round {}: checkouts/s, {}", round + 1, line.join(", "));
    }
    for (set_up, ratios) in set_ups.iter().zip(&mut ratios).skip(1) {
        ratios.sort_by(f64::total_cmp);
        println!(
            "throughput: {}: median ratio telemetry on / off {:.2} over {} rounds ({})",
            set_up.name,
            ratios[ratios.len() / 2],
            ratios.len(),
            set_up.verdict
        );
    }
    // Where the CPU goes: what telemetry adds per checkout shows as the difference from the
    // "telemetry off" line, split by process. The last figure is the same ratio as above in
    // CPU rather than checkouts: steadier, since it does not depend on how fully a run kept
    // both cores busy.
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    let total_off = median(cpu[0].iter().map(|r| r.iter().sum()).collect());
    for (set_up, rounds) in set_ups.iter().zip(&cpu) {
        let part = |part: usize| median(rounds.iter().map(|r| r[part]).collect());
        let total = median(rounds.iter().map(|r| r.iter().sum()).collect());
        println!(
            "cpu per checkout: {}: services {:.2} ms, up (supervisor + explorer) {:.2} ms, load client {:.2} ms; off / this {:.2}",
            set_up.name,
            part(0),
            part(1),
            part(2),
            total_off / total.max(f64::MIN_POSITIVE)
        );
    }
    Ok(())
}
