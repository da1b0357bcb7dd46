//! `tracedojo-bench --explorer` (run through `bench/explorer.sh`): the explorer's figures,
//! measured against the real `tracedojo explore` binary.
//!
//! - ingest: spans per second over OTLP/gRPC into an empty explorer until it holds a million
//!   spans, with the explorer pinned to one core and one tokio worker and this sender on
//!   another; the same requests into a decode-and-discard OTLP/gRPC sink (`--null-sink`,
//!   pinned the same way) are the reference, and the ratio is printed;
//! - memory: RSS and PSS of the explorer holding those spans minus its RSS and PSS when empty,
//!   per stored span;
//! - search: a few hundred varied `GET /api/traces` queries with a million spans stored
//!   (p50, p95, max), and `/api/red`, `/api/service-map`, `/api/errors`, `/api/customers`
//!   once each;
//! - overload: a fresh explorer with small bounds gets several times what it may keep, as fast
//!   as it takes it, while `/api/status` and RSS are sampled every 250 ms: the most spans and
//!   bytes stored against the bounds, RSS at the end against RSS when the bounds were first
//!   reached, and the ingest rate while evicting; once with the span bound binding first and
//!   once with the memory bound binding first.
//!
//! Every request goes to 127.0.0.1; the counts are fixed, every call has a timeout, and the
//! child processes are killed on the way out, on error too.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::figures::{Table, kib_to_bytes, load_average, mib, opt, thousands};
use crate::otlp::{self, SendReport, check_sent};
use crate::pinned::{
    Pinned, Status, api_client, clock_ticks, cpu_seconds, own_cpus, require_subcommand, status,
    wait_ready,
};
use crate::proc_kib;
use crate::store_ingest::{self, StoreIngest};
use crate::synth::{self, BATCH_SPANS, Corpus};

/// The explorer benchmark's settings (`tracedojo-bench --explorer ...`).
#[derive(Debug, clap::Args)]
pub struct ExplorerArgs {
    /// Run the explorer benchmark against `--binary`'s `explore` subcommand.
    #[arg(long)]
    pub explorer: bool,
    /// Only serve a decode-and-discard OTLP/gRPC receiver on a free loopback port (the
    /// explorer benchmark's reference); prints its address and runs until killed.
    #[arg(long)]
    pub null_sink: bool,
    /// Spans sent to fill the explorer (and the null sink), in batches of 512.
    #[arg(long, default_value_t = 1_000_000)]
    pub ingest_spans: u64,
    /// Spans sent during the overload run.
    #[arg(long, default_value_t = 3_000_000)]
    pub overload_spans: u64,
    /// `--max-spans` of the explorer in the overload run.
    #[arg(long, default_value_t = 200_000)]
    pub overload_max_spans: u64,
    /// `--max-memory` of the explorer in the overload run.
    #[arg(long, default_value = "128MiB")]
    pub overload_max_memory: String,
    /// `--max-spans` of the explorer in the second overload run, where memory binds first.
    #[arg(long, default_value_t = 1_000_000)]
    pub memory_bound_max_spans: u64,
    /// `--max-memory` of the explorer in the second overload run.
    #[arg(long, default_value = "32MiB")]
    pub memory_bound_max_memory: String,
    /// Search queries timed with a million spans stored.
    #[arg(long, default_value_t = 300)]
    pub search_queries: usize,
    /// Export calls in flight at once.
    #[arg(long, default_value_t = 8)]
    pub export_concurrency: usize,
    /// HTTP/2 connections the export calls share.
    #[arg(long, default_value_t = 2)]
    pub export_connections: usize,
    /// The CPU the receivers (explorer, null sink) are pinned to; run this process on another
    /// (bench/explorer.sh runs it under `taskset -c 1`).
    #[arg(long, default_value_t = 0)]
    pub receiver_cpu: usize,
    /// Distinct pre-encoded 512-span batches; each is sent many times with new ids.
    #[arg(long, default_value_t = 256)]
    pub corpus_batches: usize,
    /// Only the in-process store figure: `--ingest-spans` decoded and stored in this process
    /// on one thread, no network (a quick loop for profiling the store).
    #[arg(long)]
    pub store_ingest: bool,
}

/// Targets the figures are held to.
const INGEST_TARGET: f64 = 50_000.0;
const BYTES_PER_SPAN_TARGET: f64 = 1024.0;
const SEARCH_P95_TARGET_MS: f64 = 100.0;
const RSS_FLAT_TARGET: f64 = 0.10;

/// The whole benchmark's bound, after which everything is killed.
const RUN_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Overload sampling period.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// `512MiB`, `4GiB`, `100MB`... in bytes (only to compare with the bound when the API does not
/// report it; the explorer parses the flag itself).
fn parse_size(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    Some(number.parse::<u64>().ok()? * factor)
}

/// The benchmark, bounded by [`RUN_DEADLINE`] and Ctrl-C; children die with it either way.
pub async fn run(binary: &Path, args: &ExplorerArgs) -> anyhow::Result<()> {
    crate::bounded(
        "the explorer benchmark",
        RUN_DEADLINE,
        run_all(binary, args),
    )
    .await
}

/// The synthetic shop traffic every explorer benchmark sends, said as it is made.
pub fn corpus(bench: &str, args: &ExplorerArgs) -> Arc<Corpus> {
    let started = Instant::now();
    let corpus = Arc::new(Corpus::generate(20261124, args.corpus_batches));
    println!(
        "{bench}: {} distinct batches of {BATCH_SPANS} spans ({} encoded, {:.0} bytes a span) made in {:.1} s; this process on CPUs {}, receivers on CPU {}",
        corpus.batches(),
        mib(corpus.encoded_bytes() as f64),
        corpus.bytes_per_span(),
        started.elapsed().as_secs_f64(),
        own_cpus(),
        args.receiver_cpu
    );
    corpus
}

async fn run_all(binary: &Path, args: &ExplorerArgs) -> anyhow::Result<()> {
    let own_exe = std::env::current_exe().context("cannot find tracedojo-bench itself")?;
    require_subcommand(binary, "explore")?;
    let http = api_client()?;
    let ticks = clock_ticks();
    let batches = args.ingest_spans / BATCH_SPANS as u64;
    let started = Instant::now();
    let corpus = corpus("explorer bench", args);
    let mut table = Table::default();
    if args.store_ingest {
        let own = store_ingest::fill(&corpus, batches)?;
        store_figures(&mut table, &own);
        table.print();
        return Ok(());
    }
    let setup = format!(
        "receivers pinned to CPU {} with TOKIO_WORKER_THREADS=1, the sender on CPUs {}; {} exports in flight on {} HTTP/2 connections; {BATCH_SPANS}-span batches, {:.0} bytes a span encoded; load average at the start {}",
        args.receiver_cpu,
        own_cpus(),
        args.export_concurrency,
        args.export_connections,
        corpus.bytes_per_span(),
        load_average(),
    );

    // a) reference: the decode-and-discard sink.
    let sink = Pinned::start(
        "the null sink",
        &own_exe,
        &["--null-sink"],
        args.receiver_cpu,
        false,
    )
    .await?;
    let channels = otlp::connect(&sink.grpc, args.export_connections).await?;
    let (null_report, null_cpu, sender_cpu) = timed_send(
        &channels,
        &corpus,
        0,
        batches,
        args,
        &sink.pid.to_string(),
        ticks,
        Arc::new(AtomicU64::new(0)),
    )
    .await;
    drop(channels);
    let sink_cpus = sink.cpus();
    sink.stop().await;
    check_sent(&null_report, batches, "the null sink")?;
    println!(
        "explorer bench: null sink (CPUs {}) took {} spans in {:.2} s: {} spans/s; its CPU {:.0} %, the sender's {:.0} %",
        sink_cpus,
        thousands(null_report.spans as f64),
        null_report.elapsed.as_secs_f64(),
        thousands(null_report.spans_per_second()),
        100.0 * null_cpu,
        100.0 * sender_cpu
    );

    // a) + b) the explorer filling up to a million spans.
    // Room for every span sent, so nothing is evicted.
    let mut explorer = Pinned::explorer(
        binary,
        args.ingest_spans.max(1_000),
        "4GiB",
        args.receiver_cpu,
    )
    .await?;
    wait_ready(&http, &mut explorer).await?;
    let empty_rss = explorer.rss_kib();
    let empty_pss = explorer.pss_kib();
    let channels = otlp::connect(&explorer.grpc, args.export_connections).await?;
    let acked = Arc::new(AtomicU64::new(0));
    let stop_watching = Arc::new(AtomicBool::new(false));
    let quarters = watch_quarters(
        acked.clone(),
        batches * BATCH_SPANS as u64,
        stop_watching.clone(),
    );
    let (fill, fill_cpu, fill_sender_cpu) = timed_send(
        &channels,
        &corpus,
        0,
        batches,
        args,
        &explorer.pid.to_string(),
        ticks,
        acked,
    )
    .await;
    stop_watching.store(true, Ordering::Relaxed);
    let mut quarter_times = quarters.await.unwrap_or_default();
    if quarter_times.len() == 3 && fill.spans == batches * BATCH_SPANS as u64 {
        // The last ack came after the watcher's last look.
        quarter_times.push(fill.elapsed.as_secs_f64());
    }
    if let Err(error) = check_sent(&fill, batches, "the explorer") {
        return Err(explorer.failure(&error.to_string()));
    }
    let rate = fill.spans_per_second();
    println!(
        "explorer bench: explorer (CPUs {}) took {} spans in {:.2} s: {} spans/s; its CPU {:.0} %, the sender's {:.0} %",
        explorer.cpus(),
        thousands(fill.spans as f64),
        fill.elapsed.as_secs_f64(),
        thousands(rate),
        100.0 * fill_cpu,
        100.0 * fill_sender_cpu
    );
    table.add(
        "a) ingest over OTLP/gRPC, explorer on 1 core",
        format!("{} spans/s", thousands(rate)),
        ">= 50,000 spans/s",
        Some(rate >= INGEST_TARGET),
    );
    table.info(
        "   decode-and-discard sink on 1 core",
        format!("{} spans/s", thousands(null_report.spans_per_second())),
    );
    table.info(
        "   explorer / sink",
        format!("{:.2}", rate / null_report.spans_per_second()),
    );
    // Under 100 % for the receiver means something else ran on its core (or it waited).
    table.info(
        "   CPU: explorer / sink / sender (of one core)",
        format!(
            "{:.0} % / {:.0} % / {:.0} %",
            100.0 * fill_cpu,
            100.0 * null_cpu,
            100.0 * fill_sender_cpu.max(sender_cpu)
        ),
    );
    if quarter_times.len() == 4 {
        let quarter = (batches * BATCH_SPANS as u64) as f64 / 4.0;
        let mut previous = 0.0;
        let rates: Vec<String> = quarter_times
            .iter()
            .map(|t| {
                let r = quarter / (t - previous).max(f64::MIN_POSITIVE);
                previous = *t;
                thousands(r)
            })
            .collect();
        table.info("   by quarter of the fill (spans/s)", rates.join(" / "));
    }

    // b) memory per stored span.
    let filled = status(&http, explorer.ui()).await?;
    let full_rss = explorer.rss_kib();
    let full_pss = explorer.pss_kib();
    let stored = filled.spans_stored.unwrap_or(0);
    if stored == 0 {
        return Err(explorer.failure("the explorer reports no spans stored after the fill"));
    }
    let per_span_rss = kib_to_bytes(full_rss.saturating_sub(empty_rss)) / stored as f64;
    let per_span_pss = kib_to_bytes(full_pss.saturating_sub(empty_pss)) / stored as f64;
    println!(
        "explorer bench: RSS {} empty, {} with {} spans stored (spans_received {}, spans_evicted {}, bytes_stored {}); PSS {} / {}",
        mib(kib_to_bytes(empty_rss)),
        mib(kib_to_bytes(full_rss)),
        thousands(stored as f64),
        opt(filled.spans_received),
        opt(filled.spans_evicted),
        opt(filled.bytes_stored),
        mib(kib_to_bytes(empty_pss)),
        mib(kib_to_bytes(full_pss)),
    );
    table.add(
        "b) memory per stored span (RSS)",
        format!("{per_span_rss:.0} B"),
        "<= 1 KiB",
        Some(per_span_rss <= BYTES_PER_SPAN_TARGET),
    );
    table.info("   (PSS)", format!("{per_span_pss:.0} B"));
    table.info(
        "   spans stored / RSS empty -> full",
        format!(
            "{} / {} -> {}",
            thousands(stored as f64),
            mib(kib_to_bytes(empty_rss)),
            mib(kib_to_bytes(full_rss))
        ),
    );
    if let Some(bytes) = filled.bytes_stored {
        table.info(
            "   store's own estimate (bytes_stored / span)",
            format!("{:.0} B", bytes as f64 / stored as f64),
        );
    }
    if filled.spans_evicted.unwrap_or(0) > 0 {
        table.info(
            "   WARNING: spans evicted during the fill",
            opt(filled.spans_evicted),
        );
    }

    // c) search with a million spans stored.
    let search = match search(&http, explorer.ui(), args.search_queries).await {
        Ok(search) => search,
        Err(error) => return Err(explorer.failure(&format!("search failed: {error:#}"))),
    };
    table.add(
        &format!(
            "c) search p95 ({} queries, {} spans)",
            search.count,
            thousands(stored as f64)
        ),
        format!("{:.1} ms", search.p95),
        "< 100 ms",
        Some(search.p95 < SEARCH_P95_TARGET_MS),
    );
    table.info(
        "   search p50 / max",
        format!("{:.1} / {:.1} ms", search.p50, search.max),
    );
    table.info(
        "   queries answered 200 / with traces",
        format!("{} / {}", search.ok, search.with_results),
    );
    for (kind, ms) in &search.slowest_by_kind {
        table.info(&format!("   slowest {kind}"), format!("{ms:.1} ms"));
    }
    // The aggregate views, once each over their default 15-minute window (every span).
    for path in [
        "/api/red",
        "/api/service-map",
        "/api/errors",
        "/api/customers",
        "/api/services",
    ] {
        let (ms, code, bytes) = timed_get(&http, explorer.ui(), path, &[]).await?;
        if code != 200 {
            return Err(explorer.failure(&format!("GET {path} answered {code}")));
        }
        table.info(
            &format!("   GET {path} once"),
            format!("{ms:.1} ms ({} KiB)", bytes.div_ceil(1024)),
        );
    }
    drop(channels);
    explorer.stop().await;

    // d) the bounds under sustained overload: the span bound first, then the memory bound.
    let runs = [
        Overload {
            label: "d) overload, span bound",
            max_spans: args.overload_max_spans,
            max_memory: &args.overload_max_memory,
            first_request: 1 << 32,
        },
        Overload {
            label: "e) overload, memory bound",
            max_spans: args.memory_bound_max_spans,
            max_memory: &args.memory_bound_max_memory,
            first_request: 2 << 32,
        },
    ];
    for run in &runs {
        overload(binary, args, run, &http, &corpus, &mut table).await?;
    }
    // f) the store alone, in this process (on the sender's CPU).
    let own = store_ingest::fill(&corpus, batches)?;
    store_figures(&mut table, &own);

    println!(
        "\nexplorer bench: done in {:.0} s; figures:",
        started.elapsed().as_secs_f64()
    );
    println!("({setup})");
    table.print();
    Ok(())
}

/// The in-process store figures (f).
fn store_figures(table: &mut Table, own: &StoreIngest) {
    table.info(
        "f) decode + store in-process, one thread, no network",
        format!("{} spans/s", thousands(own.spans_per_second())),
    );
    table.info(
        "   decode alone / store alone",
        format!(
            "{} / {} spans/s",
            thousands(own.decode_per_second()),
            thousands(own.insert_per_second())
        ),
    );
    table.info(
        "   store by quarter of the fill (spans/s)",
        own.quarter_rates()
            .iter()
            .map(|r| thousands(*r))
            .collect::<Vec<_>>()
            .join(" / "),
    );
}

/// Sends and measures the receiver's and this process's CPU use over the send (each as a
/// share of one core).
#[allow(clippy::too_many_arguments)]
async fn timed_send(
    channels: &[tonic::transport::Channel],
    corpus: &Arc<Corpus>,
    first: u64,
    batches: u64,
    args: &ExplorerArgs,
    receiver_pid: &str,
    ticks: f64,
    acked: Arc<AtomicU64>,
) -> (SendReport, f64, f64) {
    let receiver_before = cpu_seconds(receiver_pid, ticks);
    let sender_before = cpu_seconds("self", ticks);
    let report = otlp::send(
        channels,
        corpus.clone(),
        first,
        batches,
        args.export_concurrency,
        acked,
    )
    .await;
    let seconds = report.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
    let receiver = (cpu_seconds(receiver_pid, ticks) - receiver_before) / seconds;
    let sender = (cpu_seconds("self", ticks) - sender_before) / seconds;
    (report, receiver, sender)
}

/// Seconds from now until `acked` passed each quarter of `total` (checked every 10 ms).
/// Ends when all four are seen or `stop` is set (the send is over, however it went).
fn watch_quarters(
    acked: Arc<AtomicU64>,
    total: u64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<f64>> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut times = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while times.len() < 4 && !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let done = acked.load(Ordering::Relaxed);
            while times.len() < 4 && done >= total * (times.len() as u64 + 1) / 4 {
                times.push(started.elapsed().as_secs_f64());
            }
        }
        times
    })
}

/// GET with query parameters; milliseconds to the whole body, status, body size.
async fn timed_get(
    http: &reqwest::Client,
    ui: &str,
    path: &str,
    query: &[(String, String)],
) -> anyhow::Result<(f64, u16, usize)> {
    let started = Instant::now();
    let response = http.get(url(ui, path, query)).send().await?;
    let code = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((started.elapsed().as_secs_f64() * 1000.0, code, body.len()))
}

/// `ui` + `path` + the query string, percent-encoded (reqwest is built without its `query`
/// feature).
fn url(ui: &str, path: &str, query: &[(String, String)]) -> String {
    fn encode(text: &str, out: &mut String) {
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    let mut url = format!("{ui}{path}");
    for (i, (key, value)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        encode(key, &mut url);
        url.push('=');
        encode(value, &mut url);
    }
    url
}

struct Search {
    count: usize,
    ok: usize,
    with_results: usize,
    p50: f64,
    p95: f64,
    max: f64,
    slowest_by_kind: BTreeMap<&'static str, f64>,
}

/// Varied search queries: what a person types into the UI, and some that find nothing.
fn search_queries(
    count: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<(&'static str, Vec<(String, String)>)> {
    let operations = synth::operations_by_service();
    let services: Vec<&str> = operations.keys().copied().collect();
    let durations = ["1ms", "10ms", "50ms", "100ms", "250ms", "500ms", "1s"];
    let windows = ["10s", "1m", "5m", "15m", "1h"];
    let attrs = [
        "tracedojo.user.tier=gold".to_string(),
        "tracedojo.user.tier=silver".to_string(),
        "tracedojo.user.device=tablet".to_string(),
        "tracedojo.user.company=Initech".to_string(),
        "tracedojo.user.locale=ja-JP".to_string(),
        "http.response.status_code=500".to_string(),
        "db.collection.name=orders".to_string(),
        "service.version=1.4.3".to_string(),
    ];
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let mut out = Vec::new();
    for n in 0..count {
        let service = *services.choose(rng).unwrap_or(&"frontend");
        let operation = operations[service].choose(rng).cloned().unwrap_or_default();
        let duration = *durations.choose(rng).unwrap_or(&"10ms");
        let window = *windows.choose(rng).unwrap_or(&"15m");
        let attr = attrs.choose(rng).cloned().unwrap_or_default();
        let region = format!(
            "tracedojo.user.region={}",
            synth::REGIONS.choose(rng).unwrap_or(&"eu-west-1")
        );
        let tier = format!(
            "tracedojo.user.tier={}",
            synth::TIERS.choose(rng).unwrap_or(&"gold")
        );
        let now_ms = synth::now_unix_nanos() / 1_000_000;
        let query = match n % 12 {
            0 => ("service", vec![p("service", service)]),
            1 => (
                "service+operation",
                vec![p("service", service), p("operation", &operation)],
            ),
            2 => ("min_duration", vec![p("min_duration", duration)]),
            3 => ("errors", vec![p("errors", "true")]),
            4 => ("attr", vec![p("attr", &attr)]),
            5 => (
                "attr+service+duration",
                vec![
                    p("attr", &tier),
                    p("service", service),
                    p("min_duration", duration),
                ],
            ),
            6 => (
                "since+service",
                vec![p("since", window), p("service", service)],
            ),
            7 => (
                "start/end+attrs",
                vec![
                    p(
                        "start",
                        &(now_ms - rng.random_range(5_000..60_000)).to_string(),
                    ),
                    p("end", &now_ms.to_string()),
                    p("attr", &region),
                    p("attr", &tier),
                ],
            ),
            8 => (
                "errors+service+since",
                vec![
                    p("errors", "true"),
                    p("service", service),
                    p("since", window),
                ],
            ),
            9 => (
                "limit=1000",
                vec![p("service", service), p("limit", "1000")],
            ),
            10 => (
                "duration range+operation",
                vec![
                    p("operation", &operation),
                    p("min_duration", "1ms"),
                    p("max_duration", duration),
                ],
            ),
            _ => {
                let nothing = [
                    vec![p("service", "no-such-service")],
                    vec![p("attr", "tracedojo.user.tier=platinum")],
                    vec![p("min_duration", "1h")],
                    vec![p("service", service), p("operation", "GET /nowhere")],
                    vec![p("attr", "user.id=user-99999"), p("errors", "true")],
                ];
                ("matches nothing", nothing[n % nothing.len()].clone())
            }
        };
        out.push(query);
    }
    out
}

async fn search(http: &reqwest::Client, ui: &str, count: usize) -> anyhow::Result<Search> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let queries = search_queries(count, &mut rng);
    let mut latencies = Vec::new();
    let mut slowest_by_kind: BTreeMap<&'static str, f64> = BTreeMap::new();
    let (mut ok, mut with_results) = (0, 0);
    let mut first_error = None;
    for (kind, query) in &queries {
        let started = Instant::now();
        let response = http.get(url(ui, "/api/traces", query)).send().await?;
        let code = response.status();
        let body = response.bytes().await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        latencies.push(ms);
        let slowest = slowest_by_kind.entry(kind).or_default();
        *slowest = slowest.max(ms);
        if code.is_success() {
            ok += 1;
            let found = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("traces").and_then(Value::as_array).map(Vec::len))
                .unwrap_or(0);
            if found > 0 {
                with_results += 1;
            }
        } else if first_error.is_none() {
            first_error = Some(format!(
                "{kind} {query:?}: HTTP {code}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
    }
    if let Some(error) = first_error {
        println!(
            "explorer bench: {} of {} searches failed; the first: {error}",
            queries.len() - ok,
            queries.len()
        );
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    Ok(Search {
        count: queries.len(),
        ok,
        with_results,
        p50: at(0.5),
        p95: at(0.95),
        max: at(1.0),
        slowest_by_kind,
    })
}

/// One overload sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    seconds: f64,
    status: Status,
    rss_kib: u64,
    acked: u64,
}

/// One overload run's bounds.
struct Overload<'a> {
    label: &'static str,
    max_spans: u64,
    max_memory: &'a str,
    /// Requests are numbered from here, past every other run's, so all spans are new.
    first_request: u64,
}

async fn overload(
    binary: &Path,
    args: &ExplorerArgs,
    run: &Overload<'_>,
    http: &reqwest::Client,
    corpus: &Arc<Corpus>,
    table: &mut Table,
) -> anyhow::Result<()> {
    let mut explorer =
        Pinned::explorer(binary, run.max_spans, run.max_memory, args.receiver_cpu).await?;
    let ready = wait_ready(http, &mut explorer).await?;
    let empty_rss = explorer.rss_kib();
    let bound_spans = ready.max_spans.unwrap_or(run.max_spans);
    let bound_bytes = ready
        .max_bytes
        .or_else(|| parse_size(run.max_memory))
        .unwrap_or(0);
    let channels = otlp::connect(&explorer.grpc, args.export_connections).await?;
    let acked = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let started = Instant::now();
    let sampler = {
        let (http, ui, pid) = (http.clone(), explorer.ui().to_string(), explorer.pid);
        let (acked, samples) = (acked.clone(), samples.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Ok(status) = status(&http, &ui).await else {
                    continue;
                };
                let sample = Sample {
                    seconds: started.elapsed().as_secs_f64(),
                    status,
                    rss_kib: proc_kib(pid, "status", "VmRSS:"),
                    acked: acked.load(Ordering::Relaxed),
                };
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(sample);
            }
        })
    };
    let batches = args.overload_spans / BATCH_SPANS as u64;
    let report = otlp::send(
        &channels,
        corpus.clone(),
        run.first_request,
        batches,
        args.export_concurrency,
        acked.clone(),
    )
    .await;
    let sent_at = started.elapsed().as_secs_f64();
    sampler.abort();
    let _ = sampler.await;
    if let Err(error) = check_sent(&report, batches, "the explorer under overload") {
        return Err(explorer.failure(&error.to_string()));
    }
    let last = status(http, explorer.ui()).await?;
    let mut samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    samples.push(Sample {
        seconds: sent_at,
        status: last,
        rss_kib: explorer.rss_kib(),
        acked: acked.load(Ordering::Relaxed),
    });
    drop(channels);
    explorer.stop().await;

    let max_stored = samples
        .iter()
        .filter_map(|s| s.status.spans_stored)
        .max()
        .unwrap_or(0);
    let max_bytes = samples.iter().filter_map(|s| s.status.bytes_stored).max();
    // The bounds are first reached when something is evicted (or, if the API does not say,
    // when the span count reaches its bound).
    let filled = samples.iter().position(|s| {
        s.status.spans_evicted.is_some_and(|e| e > 0)
            || s.status.spans_stored.is_some_and(|n| n >= bound_spans)
    });
    println!(
        "explorer bench: {}: {} spans in {:.1} s ({} spans/s overall), {} samples; last status: stored {}, bytes {}, evicted {}, received {}",
        run.label,
        thousands(report.spans as f64),
        report.elapsed.as_secs_f64(),
        thousands(report.spans_per_second()),
        samples.len(),
        opt(last.spans_stored),
        opt(last.bytes_stored),
        opt(last.spans_evicted),
        opt(last.spans_received)
    );
    table.add(
        &format!(
            "{}: most spans stored ({} sent)",
            run.label,
            thousands(report.spans as f64)
        ),
        format!(
            "{} / {}",
            thousands(max_stored as f64),
            thousands(bound_spans as f64)
        ),
        "<= --max-spans",
        Some(max_stored <= bound_spans),
    );
    table.add(
        "   most bytes_stored / --max-memory",
        format!(
            "{} / {}",
            max_bytes.map_or("n/a".to_string(), |b| mib(b as f64)),
            mib(bound_bytes as f64)
        ),
        "<= --max-memory",
        max_bytes.map(|b| b <= bound_bytes),
    );
    match filled {
        Some(index) => {
            let fill = samples[index];
            let end = samples[samples.len() - 1];
            let peak = samples[index..]
                .iter()
                .map(|s| s.rss_kib)
                .max()
                .unwrap_or(0);
            let growth = end.rss_kib as f64 / fill.rss_kib.max(1) as f64 - 1.0;
            table.add(
                "   RSS at the end vs at the first fill",
                format!(
                    "{} vs {} ({:+.1} %)",
                    mib(kib_to_bytes(end.rss_kib)),
                    mib(kib_to_bytes(fill.rss_kib)),
                    100.0 * growth
                ),
                "within 10 %",
                Some(growth.abs() <= RSS_FLAT_TARGET),
            );
            table.info(
                "   RSS peak after the first fill",
                format!(
                    "{} (first fill at {:.1} s)",
                    mib(kib_to_bytes(peak)),
                    fill.seconds
                ),
            );
            let rate = (end.acked - fill.acked) as f64 / (end.seconds - fill.seconds).max(0.001);
            table.add(
                "   ingest while evicting",
                format!("{} spans/s", thousands(rate)),
                ">= 50,000 spans/s",
                Some(rate >= INGEST_TARGET),
            );
            table.info("   evicted at the end", opt(end.status.spans_evicted));
            if let Some(bytes) = end.status.bytes_stored.filter(|b| *b > 0) {
                table.info(
                    "   (RSS at the end - RSS empty) / bytes_stored",
                    format!(
                        "{:.2}",
                        kib_to_bytes(end.rss_kib.saturating_sub(empty_rss)) / bytes as f64
                    ),
                );
            }
        }
        None => table.add(
            "   bound reached",
            "never".to_string(),
            "reached and held",
            Some(false),
        ),
    }
    Ok(())
}
