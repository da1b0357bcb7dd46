//! SQLite against PostgreSQL (`--engines`, through bench/engines.sh): the same shop, the same
//! saturation traffic (concurrent shoppers buying two products each, telemetry on to a
//! discarding sink), once on each engine per round, the order rotating so neither always runs
//! first. Prints checkouts per second and checkout latency (p50, p99) per engine, their ratio
//! PostgreSQL / SQLite, and each service's resident memory idle and right after saturation:
//! the figures the Kubernetes manifests' memory requests and limits come from.
//!
//! PostgreSQL is the server of `TRACEDOJO_BENCH_POSTGRES_URL` (or `--postgres-url`; e.g. what
//! tests/postgres.sh prints): every run gets a database of its own, dropped afterwards.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tracedojo_kit::testing::TestDb;

use crate::{Args, RunningShop, checkout, discarding_sink, proc_kib};

#[derive(Debug, clap::Args)]
pub struct EnginesArgs {
    /// Compare the shop on SQLite and on PostgreSQL (see bench/engines.sh).
    #[arg(long)]
    pub engines: bool,
    /// A PostgreSQL server whose user may create databases, for `--engines`.
    #[arg(long, env = "TRACEDOJO_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

/// What one saturation run measured.
struct Run {
    checkouts_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: u64,
    /// Resident memory per service, KiB: idle (after start) and right after the traffic.
    idle_kib: BTreeMap<String, u64>,
    busy_kib: BTreeMap<String, u64>,
}

const ENGINES: [&str; 2] = ["sqlite", "postgresql"];

pub async fn run(args: &Args) -> anyhow::Result<()> {
    let server = args.engines.postgres_url.clone().context(
        "--engines needs a PostgreSQL server: set TRACEDOJO_BENCH_POSTGRES_URL (bash \
         tests/postgres.sh prints one) or give --postgres-url",
    )?;
    let sink = discarding_sink().await?;
    let duration = Duration::from_secs(args.seconds);
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        for step in 0..ENGINES.len() {
            let engine = (step + round) % ENGINES.len();
            let database = match engine {
                1 => Some(TestDb::postgres(&server, "bench").await),
                _ => None,
            };
            let url = database.as_ref().map(|db| db.url("shop"));
            let mut up_args = Vec::new();
            if let Some(url) = &url {
                up_args.extend(["--database-url", url.as_str()]);
            }
            let env = [
                ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.clone()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
            ];
            let shop = RunningShop::start_with(&args.binary, &env, &up_args).await?;
            let idle_kib = memory(&shop);
            let run = saturate(&shop.url, args.concurrency, duration).await;
            let busy_kib = memory(&shop);
            shop.stop().await;
            drop(database);
            println!(
                "  round {}: {}: {:.0} checkouts/s, p50 {:.1} ms, p99 {:.1} ms{}",
                round + 1,
                ENGINES[engine],
                run.0,
                run.1,
                run.2,
                if run.3 > 0 {
                    format!(", {} failed", run.3)
                } else {
                    String::new()
                }
            );
            runs[engine].push(Run {
                checkouts_per_second: run.0,
                p50_ms: run.1,
                p99_ms: run.2,
                failures: run.3,
                idle_kib,
                busy_kib,
            });
        }
    }
    report(&runs);
    Ok(())
}

fn report(runs: &[Vec<Run>]) {
    let median = |values: Vec<f64>| -> f64 {
        let mut values = values;
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    let mut rates = Vec::new();
    let mut p99s = Vec::new();
    for (engine, runs) in ENGINES.iter().zip(runs) {
        let rate = median(runs.iter().map(|r| r.checkouts_per_second).collect());
        let p50 = median(runs.iter().map(|r| r.p50_ms).collect());
        let p99 = median(runs.iter().map(|r| r.p99_ms).collect());
        let failures: u64 = runs.iter().map(|r| r.failures).sum();
        println!(
            "engines: {engine}: median {rate:.0} checkouts/s, p50 {p50:.1} ms, p99 {p99:.1} ms over {} rounds, {failures} failed",
            runs.len()
        );
        rates.push(rate);
        p99s.push(p99);
    }
    println!(
        "engines: postgresql / sqlite: throughput {:.2}, p99 {:.2}",
        rates[1] / rates[0].max(f64::MIN_POSITIVE),
        p99s[1] / p99s[0].max(f64::MIN_POSITIVE)
    );
    for (engine, runs) in ENGINES.iter().zip(runs) {
        let names: Vec<&String> = runs
            .first()
            .map(|r| r.idle_kib.keys().collect())
            .unwrap_or_default();
        for name in names {
            let most = |pick: fn(&Run) -> &BTreeMap<String, u64>| {
                runs.iter()
                    .filter_map(|r| pick(r).get(name))
                    .copied()
                    .max()
                    .unwrap_or(0)
            };
            println!(
                "memory: {engine}: {name}: {:.1} MiB idle, {:.1} MiB after saturation (largest over rounds)",
                most(|r| &r.idle_kib) as f64 / 1024.0,
                most(|r| &r.busy_kib) as f64 / 1024.0
            );
        }
    }
}

fn memory(shop: &RunningShop) -> BTreeMap<String, u64> {
    shop.service_pids
        .iter()
        .map(|(name, pid)| (name.clone(), proc_kib(*pid, "status", "VmRSS:")))
        .collect()
}

/// Checkouts per second, p50 and p99 of a whole checkout (two cart adds and the checkout),
/// and the failures, with `concurrency` shoppers for `duration`.
async fn saturate(url: &str, concurrency: usize, duration: Duration) -> (f64, f64, f64, u64) {
    let http = reqwest::Client::new();
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let failures = Arc::new(Mutex::new(0u64));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (http, url) = (http.clone(), url.to_string());
        let (latencies, failures) = (latencies.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker as u64;
            while Instant::now() < deadline {
                let session = format!("engines-{worker}-{n}");
                let began = Instant::now();
                match checkout(&http, &url, &session, n).await {
                    Ok(201) => latencies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(began.elapsed().as_secs_f64() * 1000.0),
                    _ => *failures.lock().unwrap_or_else(|p| p.into_inner()) += 1,
                }
                n += concurrency as u64;
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    let failures = *failures.lock().unwrap_or_else(|p| p.into_inner());
    (
        latencies.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
        failures,
    )
}
