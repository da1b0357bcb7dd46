//! `tracedojo load`: plan a run, check the shop answers, send it, show progress and a summary;
//! and `tracedojo load merge`: one summary and report of several load generators' reports.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tracedojo_loadgen::http::{Client, Failure, Request, Target};
use tracedojo_loadgen::instance::Instance;
use tracedojo_loadgen::journeys::{DEFAULT_MIX, JourneyKind, JourneyOptions};
use tracedojo_loadgen::limits::compact;
use tracedojo_loadgen::liveness::{self, Cause, Event, Watch};
use tracedojo_loadgen::plan::plan_instance;
use tracedojo_loadgen::population::Population;
use tracedojo_loadgen::profile_file::ProfileFile;
use tracedojo_loadgen::recorder::{Answers, Recorder};
use tracedojo_loadgen::report::{self, Report, Row, RunInfo};
use tracedojo_loadgen::runner::{RunnerConfig, run as run_plan};
use tracedojo_loadgen::schedule::{Arrivals, Profile, Schedule};

use tracedojo_kit::telemetry::{ServiceIdentity, Telemetry};

use crate::cli::{LoadAction, LoadArgs, LoadMergeArgs};

/// The settings of a run: explicit flags, then the profile file, then the defaults.
struct Settings {
    target: String,
    profile: String,
    rate: f64,
    duration: Duration,
    journeys: Option<u64>,
    poisson: bool,
    seed: u64,
    users: u64,
    max_in_flight: u64,
    think_max_ms: u64,
    declined_per_mille: u32,
    mix: Vec<(JourneyKind, u32)>,
    instance: Instance,
}

fn settings(args: &LoadArgs) -> anyhow::Result<Settings> {
    let file = match &args.file {
        Some(path) => ProfileFile::read(path)?,
        None => ProfileFile::default(),
    };
    let mix = match &args.file {
        Some(path) => file.mix(path)?,
        None => None,
    };
    let users = args.users.or(file.users).unwrap_or(1000);
    let instance = args.instance.or(file.instance).unwrap_or(Instance::WHOLE);
    instance.check_population(users as usize)?;
    Ok(Settings {
        target: args
            .target
            .clone()
            .or(file.target)
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_string()),
        profile: args
            .profile
            .clone()
            .or(file.profile)
            .unwrap_or_else(|| "constant".to_string()),
        rate: args.rate.or(file.rate).unwrap_or(5.0),
        duration: Duration::from_secs(args.duration.or(file.duration_s).unwrap_or(60)),
        journeys: args.journeys.or(file.journeys),
        poisson: args.poisson || file.poisson.unwrap_or(false),
        seed: args.seed.or(file.seed).unwrap_or(1),
        users,
        max_in_flight: args.max_in_flight.or(file.max_in_flight).unwrap_or(1000),
        think_max_ms: args.think_max_ms.or(file.think_max_ms).unwrap_or(2000),
        declined_per_mille: args
            .declined_per_mille
            .or(file.declined_per_mille)
            .unwrap_or(0),
        mix: mix.unwrap_or_else(|| DEFAULT_MIX.to_vec()),
        instance,
    })
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    if let Some(LoadAction::Merge(merge_args)) = &args.action {
        return merge(merge_args);
    }
    let settings = settings(&args)?;
    let instance = settings.instance;
    // The population is the one every instance shares; arrivals and journeys are this
    // instance's own.
    let instance_seed = instance.seed(settings.seed);
    let target = settings.target.trim_end_matches('/').to_string();
    let parsed_target = Target::parse(&target).map_err(|e| anyhow::anyhow!("--target {e}"))?;
    let duration = settings.duration;
    let profile = Profile::from_name(&settings.profile, settings.rate, duration)?;
    let arrivals = if settings.poisson {
        Arrivals::Poisson
    } else {
        Arrivals::Uniform
    };
    let schedule = Schedule::new(
        profile.clone(),
        arrivals,
        (!duration.is_zero()).then_some(duration),
        settings.journeys,
        instance_seed,
    )?
    .with_phase(instance.phase());
    let report_file = args.json.as_deref().map(ReportFile::open).transpose()?;
    check_target(&parsed_target).await?;
    let telemetry = if args.no_trace {
        None
    } else {
        Some(Telemetry::init(ServiceIdentity {
            name: "loadgenerator".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })?)
    };

    let population = Arc::new(Population::new(settings.users as usize, settings.seed));
    let options = JourneyOptions {
        max_think: Duration::from_millis(settings.think_max_ms),
        declined_per_mille: settings.declined_per_mille,
    };
    // Planned lazily, journey by journey: an hour at a thousand a second is never in memory.
    let journeys = plan_instance(
        &schedule,
        &population,
        &settings.mix,
        options,
        instance_seed,
        instance,
    );
    let config = RunnerConfig {
        target: parsed_target,
        max_in_flight: settings.max_in_flight as usize,
        traced: telemetry.as_ref().is_some_and(Telemetry::traces_enabled),
        workers: args
            .workers
            .map_or(RunnerConfig::default().workers, |w| w as usize),
        ..RunnerConfig::default()
    };
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    if !args.quiet {
        let share = if instance == Instance::WHOLE {
            String::new()
        } else {
            format!(
                ", instance {instance}: {} of the {} users",
                instance.share_len(population.len()),
                population.len()
            )
        };
        eprintln!(
            "load: {} profile around {} journeys/s against {target} (seed {}{share}); Ctrl-C \
             stops early",
            settings.profile,
            compact(settings.rate),
            settings.seed
        );
    }
    let started = std::time::Instant::now();
    let started_at = std::time::SystemTime::now();
    let progress =
        (!args.quiet).then(|| tokio::spawn(show_progress(recorder.clone(), profile, started)));
    let request_timeout = config.request_timeout;
    let watch = Arc::new(Mutex::new(Watch::new(started)));
    let watching = (!args.quiet).then(|| {
        tokio::spawn(watch_target(
            recorder.clone(),
            watch.clone(),
            target.clone(),
            request_timeout,
        ))
    });
    let quiet = args.quiet;
    let stop = async move {
        tracedojo_kit::shutdown::signal().await;
        if !quiet {
            eprintln!("\nstopped early");
        }
    };
    run_plan(journeys, population.clone(), config, recorder.clone(), stop).await;
    if let Some(progress) = progress {
        progress.abort();
    }
    if let Some(watching) = watching {
        watching.abort();
    }
    let elapsed = started.elapsed();
    if let Some(telemetry) = telemetry {
        telemetry.shutdown(tracedojo_kit::telemetry::STOP_FLUSH_TIMEOUT);
    }
    let recorder = recorder.lock().unwrap_or_else(|p| p.into_inner());
    let answers = &recorder.answers;
    let silent_since = {
        let mut watch = watch.lock().unwrap_or_else(|p| p.into_inner());
        // The last figures were handed in after the last look.
        let _ = watch.observe(std::time::Instant::now(), answers);
        watch.silent_since()
    };
    let report = Report::of_run(
        &recorder,
        RunInfo {
            target: target.clone(),
            profile: settings.profile.clone(),
            rate: settings.rate,
            seed: settings.seed,
            users: settings.users,
            instance,
            started: started_at,
            elapsed,
        },
    );
    if !args.quiet {
        print_summary(&report);
        if let Some(since) = silent_since.filter(|_| answers.answered > 0) {
            println!(
                "\n{target} stopped answering {:.1} s into the run and did not answer again ({})",
                since.saturating_duration_since(started).as_secs_f64(),
                failures(answers)
            );
        }
    }
    if let Some(report_file) = report_file {
        report_file.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if answers.sent > 0 && answers.answered == 0 {
        bail!(
            "{target} answered none of the {} requests sent ({}); is `tracedojo up` running, and \
             is --target the shop's frontend?",
            answers.sent,
            failures(answers)
        );
    }
    Ok(())
}

/// `12 connection refused, 3 accepted, no answer in time`: why requests got no answer.
fn failures(answers: &Answers) -> String {
    let parts: Vec<String> = answers
        .failed
        .iter()
        .map(|(failure, count)| format!("{count} {}", failure.reason()))
        .collect();
    if parts.is_empty() {
        "none failed".to_string()
    } else {
        parts.join(", ")
    }
}

/// Says once when the shop stops answering during the run, and once when it is back. The run
/// goes on either way: a restart of the shop is something a load test should live through.
async fn watch_target(
    recorder: Arc<Mutex<Recorder>>,
    watch: Arc<Mutex<Watch>>,
    target: String,
    request_timeout: Duration,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let answers = recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .answers
            .clone();
        let event = watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(std::time::Instant::now(), &answers);
        let line = match event {
            None => continue,
            Some(Event::Stopped { cause, lasted, .. }) => {
                let waited = match cause {
                    Cause::Waiting => lasted,
                    Cause::Failing(_) => request_timeout,
                };
                format!(
                    "no answer for {:.0} s: {}; the run goes on and counts what fails",
                    lasted.as_secs_f64(),
                    liveness::describe(cause, &target, waited)
                )
            }
            Some(Event::Back { silent_for }) => format!(
                "{target} answers again, after {:.0} s without an answer",
                silent_for.as_secs_f64()
            ),
        };
        // On a terminal the progress line is rewritten in place: clear it first.
        let clear = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            "\r\x1b[2K"
        } else {
            ""
        };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{clear}{line}");
        let _ = stderr.flush();
    }
}

/// The file `--json` names, opened before the run: a path that cannot be written is found in
/// a moment, not after the whole run. Until the report is in it, a file this run created is
/// removed again when dropped, so a run that fails leaves no empty report behind.
struct ReportFile {
    path: PathBuf,
    file: File,
    created: bool,
    written: bool,
}

impl ReportFile {
    fn open(path: &Path) -> anyhow::Result<ReportFile> {
        let unwritable = |err: std::io::Error| {
            anyhow::anyhow!(
                "--json {}: cannot write the report there ({err}); give --json a file in a \
                 directory you can write to",
                path.display()
            )
        };
        // Not truncated yet: an earlier report at this path stays until this one replaces it.
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => (file, true),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(unwritable)?;
                (file, false)
            }
            Err(err) => return Err(unwritable(err)),
        };
        Ok(ReportFile {
            path: path.to_path_buf(),
            file,
            created,
            written: false,
        })
    }

    fn write(mut self, text: &str) -> anyhow::Result<()> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .with_context(|| {
                format!(
                    "--json {}: cannot write the report there",
                    self.path.display()
                )
            })?;
        self.written = true;
        Ok(())
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How long the check before the run waits for the shop to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Fails early, in one plain line, when nothing answers at the target, saying which of
/// "nothing listens" and "something listens and says nothing" it is: the fixes differ.
async fn check_target(target: &Target) -> anyhow::Result<()> {
    let client = Client::new(Arc::new(target.clone()), CHECK_TIMEOUT);
    let url = target.url("");
    let seconds = CHECK_TIMEOUT.as_secs();
    let failure = match client.send(&Request::get("/health")).await {
        Ok(_) => return Ok(()),
        Err(failure) => failure,
    };
    match failure {
        Failure::Refused => bail!(
            "cannot reach the shop at {url}: connection refused; is `tracedojo up` running? \
             Start it, or point --target at the shop"
        ),
        Failure::NoAnswer => bail!(
            "{url} accepted the connection but answered nothing in {seconds} s; is it the \
             shop's frontend? Point --target at the Shop: URL `tracedojo up` prints"
        ),
        Failure::Timeout => bail!(
            "cannot reach the shop at {url}: nothing accepted a connection within {seconds} s; \
             check the host and port of --target (a firewall may drop the connection)"
        ),
        Failure::Connect => bail!(
            "cannot reach the shop at {url}: could not connect (unknown host, unreachable \
             network or a failed TLS handshake); check --target"
        ),
        Failure::Broken => bail!(
            "{url} accepted the connection and closed it without an answer; is it an HTTP \
             server? (an https server needs https:// in --target)"
        ),
        Failure::Malformed => bail!(
            "{url} answered, but not in HTTP/1.1; is it the shop? (an https server needs \
             https:// in --target)"
        ),
    }
}

/// One line a second: achieved vs planned rate, requests, errors, p99, in flight.
async fn show_progress(
    recorder: Arc<Mutex<Recorder>>,
    profile: Profile,
    started: std::time::Instant,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last_started = 0;
    // On a terminal the line rewrites itself; in a log file each second is its own line.
    let (start, end) = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ("\r", "")
    } else {
        ("", "\n")
    };
    loop {
        tick.tick().await;
        let line = {
            let recorder = recorder.lock().unwrap_or_else(|p| p.into_inner());
            let rate = recorder.journeys_started - last_started;
            last_started = recorder.journeys_started;
            let p99 = recorder.overall().map_or(0.0, |o| o.corrected.p99_ms);
            format!(
                "{start}{:>5.0}s  {rate:>5} journeys/s (planned {:.1})  {} requests  {} errors  p99 {p99:.1} ms  {} in flight  {} late  {} dropped {end}",
                started.elapsed().as_secs_f64(),
                profile.rate_at(started.elapsed().as_secs_f64()),
                recorder.requests(),
                recorder.errors(),
                recorder.journeys_started - recorder.journeys_finished,
                recorder.late,
                recorder.dropped,
            )
        };
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }
}

fn print_summary(report: &Report) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n\n{} journeys started in {:.1} s ({:.1}/s; {} late, {} dropped), {} requests ({:.1}/s), \
         {} errors",
        report.journeys_started,
        report.elapsed_s,
        report.journeys_per_s,
        report.late,
        report.dropped,
        report.requests,
        report.requests_per_s,
        report.errors
    );
    let _ = writeln!(
        out,
        "\nlatency from the intended start (ms); uncorrected p99 from the actual send beside it"
    );
    let endpoints: Vec<Row> = report
        .endpoints
        .iter()
        .chain(&report.overall)
        .cloned()
        .collect();
    print_table(&mut out, "ENDPOINT", &endpoints);
    print_table(&mut out, "JOURNEY STEP", &report.journey_steps);
}

/// One latency table: a row per endpoint or journey step.
fn print_table(out: &mut impl Write, heading: &str, rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.endpoint.len())
        .chain([heading.len()])
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\n  {heading:<width$} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12}",
        "REQUESTS", "ERRORS", "p50", "p90", "p99", "p99.9", "max", "p99 uncorr."
    );
    for row in rows {
        let _ = writeln!(
            out,
            "  {:<width$} {:>8} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>12.1}",
            row.endpoint,
            row.requests,
            row.errors,
            row.corrected.p50_ms,
            row.corrected.p90_ms,
            row.corrected.p99_ms,
            row.corrected.p999_ms,
            row.corrected.max_ms,
            row.uncorrected.p99_ms
        );
    }
}

/// `tracedojo load merge`: reads the reports, merges them, prints the summary of the whole
/// and writes the merged report where `--json` says.
fn merge(args: &LoadMergeArgs) -> anyhow::Result<()> {
    let report_file = args.json.as_deref().map(ReportFile::open).transpose()?;
    let mut reports = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        reports.push((path.display().to_string(), Report::read(path)?));
    }
    let merged = report::merge(&reports)?;
    let missing = merged.missing_instances();
    if !missing.is_empty() {
        let missing: Vec<String> = missing.iter().map(Instance::to_string).collect();
        eprintln!(
            "warning: {} of {} instances given ({}); {} missing, so the figures cover only part \
             of the load",
            merged.instances.len(),
            merged.instance_count(),
            merged.instances_text(),
            missing.join(", ")
        );
    }
    let parts: Vec<String> = reports
        .iter()
        .map(|(name, report)| format!("{name} ({})", report.instances_text()))
        .collect();
    println!(
        "merged {}: seed {}, {} users, {} played",
        parts.join(", "),
        merged.seed,
        merged.users,
        merged.users_played
    );
    print_summary(&merged);
    if let Some(report_file) = report_file {
        report_file.write(&serde_json::to_string_pretty(&merged)?)?;
    }
    Ok(())
}
