//! `tracedojo-bench --report` (run through `bench/report.sh`): how long `tracedojo report`
//! takes over a million stored spans, and what it costs the explorer's ingest while it runs.
//!
//! - a `tracedojo explore` (pinned to one core and one tokio worker, as in the explorer
//!   benchmark) is filled to its `--max-spans` with the synthetic shop traffic, sent now, so
//!   every span falls in the report's windows (1 h and 5 min);
//! - `tracedojo report --format json` runs several times against it, idle (p50 and max against
//!   the 2 s target), with what it found (endpoints judged, how many need work, how many were
//!   explained), the explorer's CPU per report and its peak RSS; then once as Japanese Markdown;
//! - ingest with the store full (every new span evicts an old one): full speed for a fixed
//!   time with no report running, then as long with reports back to back, in alternating order
//!   over rounds; spans per second of both (acknowledged by the explorer, and the growth of
//!   its `/api/status` `spans_received`) and their ratio.
//!
//! The report processes run on this process's CPUs (bench/report.sh puts it on the sender's
//! core), so the explorer's core carries only the explorer: what the ratio shows is the work
//! the report asks of the explorer, not the report process taking its CPU.
//!
//! Every request goes to 127.0.0.1; the counts and durations are fixed, every call has a
//! timeout, and the child processes are killed on the way out, on error too.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::Command;

use crate::explorer::{self, ExplorerArgs};
use crate::figures::{Table, kib_to_bytes, load_average, mib, opt, thousands};
use crate::otlp::{self, check_sent};
use crate::pinned::{
    Pinned, Status, api_client, clock_ticks, cpu_seconds, own_cpus, require_subcommand, status,
    wait_ready,
};
use crate::proc_kib;
use crate::synth::{BATCH_SPANS, Corpus};

/// The report benchmark's settings (`tracedojo-bench --report ...`); the explorer benchmark's
/// sending settings (`--export-concurrency`, `--receiver-cpu`, ...) apply too.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Run the report benchmark against `--binary`'s `report` and `explore` subcommands.
    #[arg(long)]
    pub report: bool,
    /// The explorer's `--max-spans`, and the spans sent to fill it before the reports.
    #[arg(long, default_value_t = 1_000_000)]
    pub report_spans: u64,
    /// Reports timed on the full, idle explorer.
    #[arg(long, default_value_t = 5)]
    pub report_runs: usize,
    /// Seconds of full-speed ingest with no report running, and as many with reports running
    /// back to back, per round.
    #[arg(long, default_value_t = 15)]
    pub report_ingest_seconds: u64,
    /// Rounds of that comparison; the order alternates, so drift in what else the machine does
    /// falls on both sides.
    #[arg(long, default_value_t = 2)]
    pub report_ingest_rounds: usize,
}

/// What a report may take over a million spans.
const REPORT_TARGET_SECONDS: f64 = 2.0;
/// Ingest while evicting, as the explorer benchmark holds it.
const INGEST_TARGET: f64 = 50_000.0;
/// A report that takes longer is killed and counts as failed.
const REPORT_TIMEOUT: Duration = Duration::from_secs(120);
/// The whole benchmark's bound, after which everything is killed.
const RUN_DEADLINE: Duration = Duration::from_secs(15 * 60);
/// Reports running back to back stop after this many failures (a broken explorer would
/// otherwise have them fail as fast as they start).
const MOST_REPORT_FAILURES: usize = 3;
/// How often the explorer's RSS is read while reports run.
const RSS_EVERY: Duration = Duration::from_millis(100);
/// The explorer's memory bound: high enough that only `--max-spans` binds.
const MAX_MEMORY: &str = "4GiB";
/// Variables `tracedojo report` reads that would change what it does or post it somewhere.
const REPORT_VARIABLES: [&str; 8] = [
    "TRACEDOJO_EXPLORER_URL",
    "TRACEDOJO_DATA_DIR",
    "TRACEDOJO_OBJECTIVES",
    "TRACEDOJO_PARTICIPANT",
    "TRACEDOJO_LANG",
    "TRACEDOJO_WEBHOOK_URL",
    "TRACEDOJO_TICKET_URL",
    "TRACEDOJO_TICKET_AUTHORIZATION",
];

/// The benchmark, bounded by [`RUN_DEADLINE`] and Ctrl-C; children die with it either way.
pub async fn run(binary: &Path, args: &ReportArgs, send: &ExplorerArgs) -> anyhow::Result<()> {
    crate::bounded(
        "the report benchmark",
        RUN_DEADLINE,
        run_all(binary, args, send),
    )
    .await
}

/// One `tracedojo report` against one explorer.
#[derive(Debug, Clone)]
struct Reporter {
    binary: PathBuf,
    explorer: String,
    /// A data directory that does not exist, so no running `up` of this machine lends the
    /// report its participant or explorer.
    data_dir: PathBuf,
}

/// One finished report.
struct Finished {
    seconds: f64,
    stdout: Vec<u8>,
}

impl Reporter {
    /// `tracedojo report --explorer URL ARGS`, within [`REPORT_TIMEOUT`] (killed past it).
    async fn run(&self, args: &[&str]) -> anyhow::Result<Finished> {
        let mut command = Command::new(&self.binary);
        command
            .arg("report")
            .arg("--explorer")
            .arg(&self.explorer)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for variable in REPORT_VARIABLES {
            command.env_remove(variable);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot run {} report", self.binary.display()))?;
        let output = match tokio::time::timeout(REPORT_TIMEOUT, child.wait_with_output()).await {
            Ok(output) => output?,
            Err(_) => bail!(
                "`report {}` took longer than {REPORT_TIMEOUT:?}",
                args.join(" ")
            ),
        };
        let seconds = started.elapsed().as_secs_f64();
        if !output.status.success() {
            bail!(
                "`report {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(Finished {
            seconds,
            stdout: output.stdout,
        })
    }
}

/// What a JSON report found, from the fields the benchmark checks.
#[derive(Debug, Default)]
struct Findings {
    endpoints_judged: u64,
    needs_work: usize,
    /// Endpoints the report looked into (it finds exemplar traces for the first few).
    detailed: usize,
    /// Endpoints whose time was split by service from explained exemplar traces.
    explained: usize,
    exemplars: usize,
    queries: usize,
    notes: usize,
    /// Notes saying an exemplar could not be explained (an explorer without the explain
    /// endpoint makes one for each).
    unexplained_notes: usize,
    first_note: Option<String>,
}

impl Findings {
    /// Reads a JSON report; a field missing or of another type (the report's shape changed)
    /// is an error rather than a zero.
    fn read(json: &[u8]) -> anyhow::Result<Findings> {
        let report: Value = serde_json::from_slice(json).context("the report is not JSON")?;
        let array = |value: &Value, name: &str| -> anyhow::Result<Vec<Value>> {
            value[name]
                .as_array()
                .cloned()
                .with_context(|| format!("the report has no array {name}"))
        };
        let items = array(&report, "needs_work")?;
        let notes: Vec<String> = array(&report, "notes")?
            .iter()
            .filter_map(|note| note.as_str().map(str::to_string))
            .collect();
        let mut findings = Findings {
            endpoints_judged: report["endpoints_judged"]
                .as_u64()
                .context("the report has no endpoints_judged")?,
            needs_work: items.len(),
            queries: array(&report, "queries")?.len(),
            notes: notes.len(),
            unexplained_notes: notes
                .iter()
                .filter(|note| note.contains("could not be explained"))
                .count(),
            first_note: notes.first().cloned(),
            ..Findings::default()
        };
        for item in &items {
            let exemplars = array(&item["why"], "exemplars")?.len();
            findings.exemplars += exemplars;
            findings.detailed += usize::from(exemplars > 0);
            findings.explained += usize::from(!array(&item["why"], "time_by_service")?.is_empty());
        }
        Ok(findings)
    }
}

/// The median and the largest of `values`.
fn p50_max(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.last() {
        Some(max) => (sorted[(sorted.len() - 1) / 2], *max),
        None => (f64::NAN, f64::NAN),
    }
}

async fn run_all(binary: &Path, args: &ReportArgs, send: &ExplorerArgs) -> anyhow::Result<()> {
    require_subcommand(binary, "explore")?;
    require_subcommand(binary, "report")?;
    let http = api_client()?;
    let ticks = clock_ticks();
    let started = Instant::now();
    let load_at_start = load_average();
    let corpus = explorer::corpus("report bench", send);
    let mut table = Table::default();

    let mut explorer =
        Pinned::explorer(binary, args.report_spans, MAX_MEMORY, send.receiver_cpu).await?;
    wait_ready(&http, &mut explorer).await?;
    let reporter = Reporter {
        binary: binary.to_path_buf(),
        explorer: explorer.ui().to_string(),
        data_dir: std::env::temp_dir().join(format!(
            "tracedojo-bench-report-{}-no-data-dir",
            std::process::id()
        )),
    };
    let channels = otlp::connect(&explorer.grpc, send.export_connections).await?;

    // The fill: the store at its bound, every span sent within the last minute or so.
    let batches = args.report_spans.div_ceil(BATCH_SPANS as u64);
    let fill = otlp::send(
        &channels,
        corpus.clone(),
        0,
        batches,
        send.export_concurrency,
        Arc::new(AtomicU64::new(0)),
    )
    .await;
    if let Err(error) = check_sent(&fill, batches, "the explorer") {
        return Err(explorer.failure(&error.to_string()));
    }
    let full = status(&http, explorer.ui()).await?;
    let stored = full.spans_stored.unwrap_or(0);
    println!(
        "report bench: the explorer (CPUs {}) took {} spans in {:.1} s ({} spans/s); stored {}, evicted {}, RSS {}",
        explorer.cpus(),
        thousands(fill.spans as f64),
        fill.elapsed.as_secs_f64(),
        thousands(fill.spans_per_second()),
        opt(full.spans_stored),
        opt(full.spans_evicted),
        mib(kib_to_bytes(explorer.rss_kib())),
    );
    if fill.elapsed > Duration::from_secs(240) {
        println!(
            "report bench: WARNING: the fill took longer than 4 minutes; the first spans are leaving the 5-minute window"
        );
    }

    // The reports on the full, idle explorer.
    let timed = match timed_reports(&reporter, &explorer, args.report_runs, ticks).await {
        Ok(timed) => timed,
        Err(error) => return Err(explorer.failure(&format!("{error:#}"))),
    };
    let (p50, max) = p50_max(&timed.seconds);
    let found = &timed.findings;
    table.add(
        &format!(
            "report --format json over {} spans, p50 of {}",
            thousands(stored as f64),
            timed.seconds.len()
        ),
        format!("{p50:.2} s"),
        "<= 2 s",
        Some(p50 <= REPORT_TARGET_SECONDS),
    );
    table.add(
        "   max",
        format!("{max:.2} s"),
        "<= 2 s",
        Some(max <= REPORT_TARGET_SECONDS),
    );
    table.info(
        "   each run",
        timed
            .seconds
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
            + " s",
    );
    table.info(
        "   endpoints judged / need work / detailed / explained",
        format!(
            "{} / {} / {} / {}",
            found.endpoints_judged, found.needs_work, found.detailed, found.explained
        ),
    );
    table.info(
        "   exemplars / queries needing work / notes",
        format!(
            "{} / {} / {} ({} unexplained exemplars)",
            found.exemplars, found.queries, found.notes, found.unexplained_notes
        ),
    );
    if found.endpoints_judged == 0 || found.needs_work == 0 {
        table.info(
            "   WARNING: the report judged or found nothing",
            "see its first note above".into(),
        );
    }
    if found.unexplained_notes > 0 {
        table.info(
            "   WARNING: exemplars not explained",
            "see its first note above".into(),
        );
    }
    table.info(
        "   explorer CPU per report",
        format!("{:.2} s", timed.explorer_cpu_per_report),
    );
    table.info(
        "   explorer RSS before / peak during the reports",
        format!(
            "{} / {}",
            mib(kib_to_bytes(timed.rss_before_kib)),
            mib(kib_to_bytes(timed.rss_peak_kib))
        ),
    );
    table.add(
        "report --format markdown --lang ja, once",
        format!("{:.2} s", timed.japanese.seconds),
        "<= 2 s",
        Some(timed.japanese.seconds <= REPORT_TARGET_SECONDS),
    );
    table.info(
        "   its length",
        format!(
            "{} lines, {} KiB",
            timed.japanese.stdout.split(|b| *b == b'\n').count(),
            timed.japanese.stdout.len().div_ceil(1024)
        ),
    );

    // Ingest with the store full, without and with reports running.
    let ingest = match ingest_with_and_without(
        &http, &explorer, &reporter, &channels, &corpus, args, send, ticks,
    )
    .await
    {
        Ok(ingest) => ingest,
        Err(error) => return Err(explorer.failure(&format!("{error:#}"))),
    };
    drop(channels);
    explorer.stop().await;
    ingest.figures(&mut table);

    println!(
        "\nreport bench: done in {:.0} s; figures:",
        started.elapsed().as_secs_f64()
    );
    println!(
        "(explorer pinned to CPU {} with TOKIO_WORKER_THREADS=1, --max-spans {} --max-memory {MAX_MEMORY}; the sender and the report processes on CPUs {}; {} exports in flight on {} HTTP/2 connections; load average at the start {load_at_start}, at the end {})",
        send.receiver_cpu,
        thousands(args.report_spans as f64),
        own_cpus(),
        send.export_concurrency,
        send.export_connections,
        load_average(),
    );
    table.print();
    Ok(())
}

/// The reports on the idle explorer.
struct Timed {
    seconds: Vec<f64>,
    findings: Findings,
    japanese: Finished,
    explorer_cpu_per_report: f64,
    rss_before_kib: u64,
    rss_peak_kib: u64,
}

async fn timed_reports(
    reporter: &Reporter,
    explorer: &Pinned,
    runs: usize,
    ticks: f64,
) -> anyhow::Result<Timed> {
    let pid = explorer.pid;
    let rss_before_kib = explorer.rss_kib();
    let rss_peak = Arc::new(AtomicU64::new(rss_before_kib));
    let sampler = {
        let rss_peak = rss_peak.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RSS_EVERY);
            loop {
                tick.tick().await;
                rss_peak.fetch_max(proc_kib(pid, "status", "VmRSS:"), Ordering::Relaxed);
            }
        })
    };
    let cpu_before = cpu_seconds(&pid.to_string(), ticks);
    let mut seconds = Vec::new();
    let mut findings = Findings::default();
    for run in 1..=runs.max(1) {
        let finished = reporter.run(&["--format", "json"]).await;
        let finished = match finished {
            Ok(finished) => finished,
            Err(error) => {
                sampler.abort();
                return Err(error);
            }
        };
        findings = Findings::read(&finished.stdout)?;
        if run == 1
            && let Some(note) = &findings.first_note
        {
            println!("report bench: the report's first note: {note}");
        }
        println!(
            "report bench: report {run}: {:.2} s, {} KiB of JSON; {} endpoints judged, {} need work, {} with exemplars, {} explained, {} exemplars, {} notes",
            finished.seconds,
            finished.stdout.len().div_ceil(1024),
            findings.endpoints_judged,
            findings.needs_work,
            findings.detailed,
            findings.explained,
            findings.exemplars,
            findings.notes
        );
        seconds.push(finished.seconds);
    }
    let explorer_cpu_per_report =
        (cpu_seconds(&pid.to_string(), ticks) - cpu_before) / seconds.len() as f64;
    let japanese = reporter
        .run(&["--format", "markdown", "--lang", "ja"])
        .await;
    sampler.abort();
    let japanese = japanese?;
    println!(
        "report bench: the Japanese Markdown: {:.2} s; its first line: {}",
        japanese.seconds,
        String::from_utf8_lossy(&japanese.stdout)
            .lines()
            .next()
            .unwrap_or_default()
    );
    Ok(Timed {
        seconds,
        findings,
        japanese,
        explorer_cpu_per_report,
        rss_before_kib,
        rss_peak_kib: rss_peak.load(Ordering::Relaxed),
    })
}

/// One phase of the ingest comparison.
#[derive(Debug, Clone, Copy)]
struct Phase {
    with_reports: bool,
    seconds: f64,
    /// Spans the explorer acknowledged.
    acked: u64,
    /// The growth of `/api/status` `spans_received` over the phase.
    received: u64,
    evicted: u64,
    explorer_cpu: f64,
    sender_cpu: f64,
}

/// The ingest comparison's phases, and the reports that ran during them.
struct Ingest {
    phases: Vec<Phase>,
    /// Seconds of each report that finished while spans were coming in.
    reports: Vec<f64>,
    /// The first report that failed, if any did.
    report_error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn ingest_with_and_without(
    http: &reqwest::Client,
    explorer: &Pinned,
    reporter: &Reporter,
    channels: &[tonic::transport::Channel],
    corpus: &Arc<Corpus>,
    args: &ReportArgs,
    send: &ExplorerArgs,
    ticks: f64,
) -> anyhow::Result<Ingest> {
    let duration = Duration::from_secs(args.report_ingest_seconds.max(1));
    let explorer_pid = explorer.pid.to_string();
    let mut ingest = Ingest {
        phases: Vec::new(),
        reports: Vec::new(),
        report_error: None,
    };
    for round in 0..args.report_ingest_rounds.max(1) {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with_reports in order {
            let before = status(http, explorer.ui()).await?;
            let explorer_cpu = cpu_seconds(&explorer_pid, ticks);
            let sender_cpu = cpu_seconds("self", ticks);
            let running = with_reports.then(|| BackToBack::start(reporter));
            // Requests are numbered past the fill's and every other phase's, so all ids are new.
            let first = (ingest.phases.len() as u64 + 1) << 32;
            let sent = otlp::send_for(
                channels,
                corpus.clone(),
                first,
                duration,
                send.export_concurrency,
                Arc::new(AtomicU64::new(0)),
            )
            .await;
            if let Some(running) = running {
                let (finished, error) = running.stop().await;
                ingest.reports.extend(finished);
                if ingest.report_error.is_none() {
                    ingest.report_error = error;
                }
            }
            let seconds = sent.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
            let explorer_cpu = (cpu_seconds(&explorer_pid, ticks) - explorer_cpu) / seconds;
            let sender_cpu = (cpu_seconds("self", ticks) - sender_cpu) / seconds;
            if sent.failed > 0 {
                bail!(
                    "{} exports failed during the ingest {} reports (first: {})",
                    sent.failed,
                    if with_reports { "with" } else { "without" },
                    sent.first_error.as_deref().unwrap_or("?")
                );
            }
            let after = status(http, explorer.ui()).await?;
            let grew = |field: fn(&Status) -> Option<u64>| {
                field(&after)
                    .unwrap_or(0)
                    .saturating_sub(field(&before).unwrap_or(0))
            };
            let phase = Phase {
                with_reports,
                seconds,
                acked: sent.spans,
                received: grew(|s| s.spans_received),
                evicted: grew(|s| s.spans_evicted),
                explorer_cpu,
                sender_cpu,
            };
            println!(
                "report bench: round {}, {} reports: {} spans in {:.1} s ({} spans/s), spans_received +{}, evicted +{}; explorer CPU {:.0} %, sender {:.0} %",
                round + 1,
                if with_reports { "with" } else { "without" },
                thousands(phase.acked as f64),
                phase.seconds,
                thousands(phase.acked as f64 / phase.seconds),
                thousands(phase.received as f64),
                thousands(phase.evicted as f64),
                100.0 * phase.explorer_cpu,
                100.0 * phase.sender_cpu
            );
            ingest.phases.push(phase);
        }
    }
    Ok(ingest)
}

impl Ingest {
    /// Spans per second acknowledged and received, and the explorer's and the sender's CPU,
    /// over every phase with (or without) reports.
    fn totals(&self, with_reports: bool) -> (f64, f64, f64, f64, u64) {
        let phases: Vec<&Phase> = self
            .phases
            .iter()
            .filter(|p| p.with_reports == with_reports)
            .collect();
        let seconds: f64 = phases.iter().map(|p| p.seconds).sum::<f64>().max(1e-9);
        let acked: u64 = phases.iter().map(|p| p.acked).sum();
        let received: u64 = phases.iter().map(|p| p.received).sum();
        let explorer_cpu: f64 = phases.iter().map(|p| p.explorer_cpu * p.seconds).sum();
        let sender_cpu: f64 = phases.iter().map(|p| p.sender_cpu * p.seconds).sum();
        let evicted: u64 = phases.iter().map(|p| p.evicted).sum();
        (
            acked as f64 / seconds,
            received as f64 / seconds,
            explorer_cpu / seconds,
            sender_cpu / seconds,
            evicted,
        )
    }

    fn figures(&self, table: &mut Table) {
        let (without, without_received, without_cpu, without_sender, without_evicted) =
            self.totals(false);
        let (with, with_received, with_cpu, with_sender, with_evicted) = self.totals(true);
        let per_phase = |with_reports: bool| {
            self.phases
                .iter()
                .filter(|p| p.with_reports == with_reports)
                .map(|p| thousands(p.acked as f64 / p.seconds))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let phase_seconds = self.phases.first().map_or(0.0, |p| p.seconds);
        table.add(
            &format!(
                "ingest, store full, no report ({} x {phase_seconds:.0} s)",
                self.phases.len() / 2
            ),
            format!("{} spans/s", thousands(without)),
            ">= 50,000 spans/s",
            Some(without >= INGEST_TARGET),
        );
        table.info(
            "ingest, store full, reports back to back",
            format!("{} spans/s", thousands(with)),
        );
        table.info(
            "   with / without (the report's effect)",
            format!("{:.2}", with / without.max(f64::MIN_POSITIVE)),
        );
        table.info(
            "   each phase without / with (spans/s)",
            format!("{} | {}", per_phase(false), per_phase(true)),
        );
        table.info(
            "   /api/status spans_received per s, without / with",
            format!(
                "{} / {}",
                thousands(without_received),
                thousands(with_received)
            ),
        );
        table.info(
            "   spans evicted, without / with",
            format!(
                "{} / {}",
                thousands(without_evicted as f64),
                thousands(with_evicted as f64)
            ),
        );
        table.info(
            "   CPU of one core, explorer / sender: without, with",
            format!(
                "{:.0} % / {:.0} %, {:.0} % / {:.0} %",
                100.0 * without_cpu,
                100.0 * without_sender,
                100.0 * with_cpu,
                100.0 * with_sender
            ),
        );
        let (p50, max) = p50_max(&self.reports);
        table.info(
            "   reports finished during ingest, p50 / max",
            format!("{} reports, {p50:.2} / {max:.2} s", self.reports.len()),
        );
        if let Some(error) = &self.report_error {
            println!("report bench: a report failed during ingest: {error}");
            table.info(
                "   WARNING: a report failed during ingest",
                "see above".into(),
            );
        }
    }
}

/// Reports running one after another until stopped.
struct BackToBack {
    task: tokio::task::JoinHandle<()>,
    finished: Arc<Mutex<Vec<f64>>>,
    error: Arc<Mutex<Option<String>>>,
    stopping: Arc<AtomicBool>,
}

impl BackToBack {
    fn start(reporter: &Reporter) -> BackToBack {
        let reporter = reporter.clone();
        let finished = Arc::new(Mutex::new(Vec::new()));
        let error = Arc::new(Mutex::new(None));
        let stopping = Arc::new(AtomicBool::new(false));
        let task = {
            let (finished, error, stopping) = (finished.clone(), error.clone(), stopping.clone());
            tokio::spawn(async move {
                let mut failures = 0;
                while !stopping.load(Ordering::Relaxed) && failures < MOST_REPORT_FAILURES {
                    match reporter.run(&["--format", "json"]).await {
                        Ok(done) => finished
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(done.seconds),
                        Err(report_error) => {
                            failures += 1;
                            error
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(format!("{report_error:#}"));
                        }
                    }
                }
            })
        };
        BackToBack {
            task,
            finished,
            error,
            stopping,
        }
    }

    /// Stops at once: the report running now is killed (its time would fall outside the
    /// phase). Returns the seconds of those that finished, and the first failure.
    async fn stop(self) -> (Vec<f64>, Option<String>) {
        self.stopping.store(true, Ordering::Relaxed);
        self.task.abort();
        let _ = self.task.await;
        let finished =
            std::mem::take(&mut *self.finished.lock().unwrap_or_else(|p| p.into_inner()));
        let error = self.error.lock().unwrap_or_else(|p| p.into_inner()).take();
        (finished, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(exemplars: usize, explained: bool) -> Value {
        let share = serde_json::json!({"service": "checkout", "share": 0.7, "ms": 84.0});
        serde_json::json!({
            "service": "frontend",
            "operation": "POST /api/checkout",
            "why": {
                "exemplars": vec![serde_json::json!({"trace_id": "ab"}); exemplars],
                "time_by_service": if explained { vec![share] } else { Vec::new() },
            }
        })
    }

    #[test]
    fn findings_count_what_the_report_judged_detailed_and_explained() {
        let report = serde_json::json!({
            "endpoints_judged": 6,
            "needs_work": [item(3, true), item(2, false), item(0, false)],
            "queries": [{"query": "SELECT 1"}],
            "notes": [
                "frontend GET /api/search: trace ab could not be explained: 404",
                "something else",
            ],
        });
        let found = Findings::read(report.to_string().as_bytes()).expect("reads");
        assert_eq!(found.endpoints_judged, 6);
        assert_eq!(found.needs_work, 3);
        assert_eq!(found.detailed, 2);
        assert_eq!(found.explained, 1);
        assert_eq!(found.exemplars, 5);
        assert_eq!(found.queries, 1);
        assert_eq!((found.notes, found.unexplained_notes), (2, 1));
    }

    #[test]
    fn a_report_of_another_shape_is_an_error_not_zero() {
        let renamed = serde_json::json!({
            "endpoints_judged": 1,
            "needs_work": [{"why": {"exemplars": [], "time_by_services": []}}],
            "queries": [],
            "notes": [],
        });
        let error = Findings::read(renamed.to_string().as_bytes()).expect_err("refused");
        assert!(error.to_string().contains("time_by_service"), "{error}");
        let no_judged = serde_json::json!({"needs_work": [], "queries": [], "notes": []});
        assert!(Findings::read(no_judged.to_string().as_bytes()).is_err());
    }

    #[test]
    fn p50_is_a_measured_value_and_max_the_largest() {
        assert_eq!(p50_max(&[3.0, 1.0, 2.0, 9.0, 4.0]), (3.0, 9.0));
        assert_eq!(p50_max(&[2.0, 1.0]), (1.0, 2.0));
        assert!(p50_max(&[]).0.is_nan());
    }
}
