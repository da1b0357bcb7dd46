//! `tracedojo doctor`: is the backend fed? Sends one test span, metric point and log record
//! where the `OTEL_*` settings (or `--to VENDOR`) point, and says in one line per signal what
//! happened, in words a presenter can act on. `up` runs the same check before it starts the
//! shop and says the result in one line.

use std::time::Duration;

use tracedojo_kit::export::check::{self, DOCTOR_SERVICE, Outcome, Report};
use tracedojo_kit::otel_env::Signal;

pub struct DoctorArgs {
    pub timeout: Duration,
    /// No backend was set: the local default (the explorer `up` would use) is checked.
    pub checking_explorer: bool,
}

pub async fn run(args: DoctorArgs) -> anyhow::Result<()> {
    if args.checking_explorer {
        println!(
            "no backend is set (OTEL_EXPORTER_OTLP_ENDPOINT or --to): `tracedojo up` would send to its built-in explorer; checking that instead"
        );
    }
    // The participant's namespace, when the variable gives one that is valid.
    let participant = std::env::var(tracedojo_kit::participant::ENV)
        .ok()
        .and_then(|name| tracedojo_kit::participant::parse(&name).ok());
    let report = check::run(args.timeout, participant.as_ref().map(|p| p.as_str())).await?;
    for line in lines(&report) {
        println!("{line}");
    }
    let failed = report.checks.iter().filter(|c| !c.passed()).count();
    if failed == 0 {
        println!(
            "look for trace {} (service {DOCTOR_SERVICE}) in the backend",
            report.trace_id
        );
    }
    if failed > 0 {
        anyhow::bail!("{failed} of 3 signals did not reach the backend (see above)");
    }
    if args.checking_explorer {
        anyhow::bail!(
            "no backend is set, so only the local explorer was checked; set OTEL_EXPORTER_OTLP_ENDPOINT, or --to VENDOR (see `tracedojo doctor --help`), to check your own"
        );
    }
    Ok(())
}

/// One line per signal: `traces   delivered in 212 ms to https://… (OTLP http/protobuf)`.
pub fn lines(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        .map(|check| {
            let name = signal_name(check.signal);
            let via = check
                .proxy
                .as_deref()
                .map(|proxy| format!(" through the proxy {proxy}"))
                .unwrap_or_default();
            match &check.outcome {
                Outcome::Delivered(delivered) => format!(
                    "{name:<8} delivered in {} ms to {}{via}",
                    delivered.took.as_millis(),
                    check.destination
                ),
                Outcome::Failed(failure) => {
                    format!("{name:<8} {failure} [{}{via}]", check.destination)
                }
                Outcome::Off(why) => format!("{name:<8} not sent: turned off by {why}"),
            }
        })
        .collect()
}

/// `up`'s one line: every signal delivered, or the first failure in words.
pub fn summary(report: &Report) -> String {
    let failures: Vec<String> = report
        .checks
        .iter()
        .filter_map(|check| match &check.outcome {
            Outcome::Failed(failure) => Some(format!("{}: {failure}", signal_name(check.signal))),
            _ => None,
        })
        .collect();
    if failures.is_empty() {
        let destination = report
            .checks
            .iter()
            .find(|c| c.signal == Signal::Traces && !c.destination.is_empty())
            .or_else(|| report.checks.iter().find(|c| !c.destination.is_empty()))
            .map(|c| c.destination.as_str())
            .unwrap_or("the backend");
        format!("doctor: the backend takes traces, metrics and logs ({destination})")
    } else {
        format!(
            "doctor: {}; the shop starts anyway, and `tracedojo doctor` checks again once it is fixed",
            failures.join("; ")
        )
    }
}

fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    }
}
