//! The report of a run (`tracedojo load --json`), and the merge of several load generators'
//! reports into one (`tracedojo load merge`).
//!
//! A report carries its latency histograms themselves, as the (value, count) pairs of their
//! recorded buckets. Read back into histograms with the recorder's bounds they are the same
//! histograms, so a merge adds them exactly and takes its percentiles from the sum: the p99
//! of two halves of a load is not the mean of their p99s. A merged report has the same
//! shape, so merges can be merged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::instance::Instance;
use crate::recorder::{Percentiles, Recorder, new_histogram};

/// A latency histogram in microseconds, as the (value, count) pairs of its recorded buckets,
/// each value the highest one its bucket holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Latencies(Vec<(u64, u64)>);

impl Latencies {
    pub fn of(histogram: &Histogram<u64>) -> Latencies {
        Latencies(
            histogram
                .iter_recorded()
                .map(|bucket| (bucket.value_iterated_to(), bucket.count_at_value()))
                .collect(),
        )
    }

    pub fn pairs(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// Adds these counts into `histogram`; an error names a value the recorder's bounds
    /// cannot hold.
    pub fn add_to(&self, histogram: &mut Histogram<u64>) -> Result<(), String> {
        for (value, count) in &self.0 {
            histogram.record_n(*value, *count).map_err(|_| {
                format!("a latency of {value} µs is beyond the histograms' range (1 µs to an hour)")
            })?;
        }
        Ok(())
    }

    /// The histogram these pairs came from.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let mut histogram = new_histogram();
        self.add_to(&mut histogram)?;
        Ok(histogram)
    }
}

/// One endpoint, one journey step, or every request together (`all`): counts, percentiles
/// and the histograms the percentiles come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The endpoint (`GET /api/cart`), the step (`purchase #5 POST /api/checkout`) or `all`.
    pub endpoint: String,
    /// A step's journey and place in it (1 for the first step); absent for other rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub requests: u64,
    pub errors: u64,
    /// Requests by HTTP status (`"200"`), or `"no answer"`.
    pub statuses: BTreeMap<String, u64>,
    /// From the intended start.
    pub corrected: Percentiles,
    /// From the actual send.
    pub uncorrected: Percentiles,
    pub corrected_histogram_us: Latencies,
    pub uncorrected_histogram_us: Latencies,
}

impl Row {
    pub(crate) fn new(
        name: &str,
        step: Option<(&str, usize)>,
        corrected: &Histogram<u64>,
        uncorrected: &Histogram<u64>,
        errors: u64,
        statuses: BTreeMap<String, u64>,
    ) -> Row {
        Row {
            endpoint: name.to_string(),
            journey: step.map(|(journey, _)| journey.to_string()),
            step: step.map(|(_, step)| step),
            requests: corrected.len(),
            errors,
            statuses,
            corrected: Percentiles::of(corrected),
            uncorrected: Percentiles::of(uncorrected),
            corrected_histogram_us: Latencies::of(corrected),
            uncorrected_histogram_us: Latencies::of(uncorrected),
        }
    }

    /// Rows of one report in the recorder's order: by journey, then step, then name.
    fn key(&self) -> (Option<String>, Option<usize>, String) {
        (self.journey.clone(), self.step, self.endpoint.clone())
    }

    /// Checks a row read from a file against its own histograms, and takes its percentiles
    /// from them rather than from the file.
    fn checked(mut self) -> Result<Row, String> {
        let name = &self.endpoint;
        let corrected = self
            .corrected_histogram_us
            .histogram()
            .map_err(|why| format!("row \"{name}\": {why}"))?;
        let uncorrected = self
            .uncorrected_histogram_us
            .histogram()
            .map_err(|why| format!("row \"{name}\": {why}"))?;
        let statuses: u64 = self.statuses.values().sum();
        if corrected.len() != self.requests
            || uncorrected.len() != self.requests
            || statuses != self.requests
        {
            return Err(format!(
                "row \"{name}\" counts {} requests, but its histograms hold {} and {} and its \
                 statuses {statuses}",
                self.requests,
                corrected.len(),
                uncorrected.len()
            ));
        }
        if self.errors > self.requests {
            return Err(format!(
                "row \"{name}\" counts more errors ({}) than requests ({})",
                self.errors, self.requests
            ));
        }
        if self.journey.is_some() != self.step.is_some() {
            return Err(format!(
                "row \"{name}\" has a journey without a step or a step without a journey"
            ));
        }
        self.corrected = Percentiles::of(&corrected);
        self.uncorrected = Percentiles::of(&uncorrected);
        Ok(self)
    }
}

/// What a run was, besides what it measured.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub target: String,
    pub profile: String,
    /// Journeys per second this process was asked for (the profile's peak).
    pub rate: f64,
    pub seed: u64,
    /// The size of the population every instance shares.
    pub users: u64,
    pub instance: Instance,
    /// When the run's clock started (wall clock).
    pub started: SystemTime,
    pub elapsed: Duration,
}

/// Everything a run, or a merge of runs, measured: what `--json` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub target: String,
    pub profile: String,
    /// Journeys per second asked for: one process's `--rate`, or the sum of the merged ones'.
    pub rate: f64,
    pub seed: u64,
    /// The size of the population the instances share.
    pub users: u64,
    /// The instances this report covers, as I/N; a report without them is a single run.
    #[serde(default = "whole")]
    pub instances: Vec<Instance>,
    /// From the first start to the last end, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    pub elapsed_s: f64,
    /// Over `elapsed_s`.
    pub journeys_per_s: f64,
    pub requests_per_s: f64,
    pub journeys_started: u64,
    pub journeys_finished: u64,
    pub late: u64,
    pub dropped: u64,
    pub requests: u64,
    pub errors: u64,
    pub answered: u64,
    /// Requests that got no answer, by why.
    pub no_answer: BTreeMap<String, u64>,
    /// Distinct users whose journeys started (the instances' users are disjoint, so a
    /// merge adds them).
    pub users_played: u64,
    pub overall: Option<Row>,
    pub endpoints: Vec<Row>,
    pub journey_steps: Vec<Row>,
}

fn whole() -> Vec<Instance> {
    vec![Instance::WHOLE]
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Why a file cannot be merged, naming it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {name}: {reason}")]
    Read {
        name: String,
        reason: std::io::Error,
    },
    #[error(
        "{name} is not a load report: {why}; give files that `tracedojo load --json FILE` or \
         `tracedojo load merge --json FILE` wrote"
    )]
    NotAReport { name: String, why: String },
    #[error(
        "{name} is a load report without what a merge needs ({why}); reports written before \
         `tracedojo load` kept its histograms cannot be merged: run it again with --json"
    )]
    Incomplete { name: String, why: String },
}

/// Why reports cannot be merged into one: they are not instances of one run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one report")]
    Nothing,
    #[error(
        "{first} has seed {first_seed} but {second} has seed {second_seed}: merge only the \
         instances of one run (the same --seed)"
    )]
    Seeds {
        first: String,
        first_seed: u64,
        second: String,
        second_seed: u64,
    },
    #[error(
        "{first} plays a population of {first_users} users but {second} one of \
         {second_users}: merge only the instances of one run (the same --users)"
    )]
    Users {
        first: String,
        first_users: u64,
        second: String,
        second_users: u64,
    },
    #[error(
        "{first} is instance {first_instance} but {second} is instance {second_instance}: \
         merge only the instances of one run (the same N in --instance I/N)"
    )]
    Counts {
        first: String,
        first_instance: Instance,
        second: String,
        second_instance: Instance,
    },
    #[error("{first} and {second} are both instance {instance}: give each instance's report once")]
    Twice {
        first: String,
        second: String,
        instance: Instance,
    },
}

impl Report {
    /// The report of a finished run.
    pub fn of_run(recorder: &Recorder, run: RunInfo) -> Report {
        let started_unix_ms = unix_ms(run.started);
        let elapsed_ms = u64::try_from(run.elapsed.as_millis()).unwrap_or(u64::MAX);
        let elapsed_s = run.elapsed.as_secs_f64();
        let requests = recorder.requests();
        Report {
            target: run.target,
            profile: run.profile,
            rate: run.rate,
            seed: run.seed,
            users: run.users,
            instances: vec![run.instance],
            started_unix_ms,
            ended_unix_ms: started_unix_ms.saturating_add(elapsed_ms),
            elapsed_s,
            journeys_per_s: per_second(recorder.journeys_started, elapsed_s),
            requests_per_s: per_second(requests, elapsed_s),
            journeys_started: recorder.journeys_started,
            journeys_finished: recorder.journeys_finished,
            late: recorder.late,
            dropped: recorder.dropped,
            requests,
            errors: recorder.errors(),
            answered: recorder.answers.answered,
            no_answer: recorder
                .answers
                .failed
                .iter()
                .map(|(failure, count)| (failure.name().to_string(), *count))
                .collect(),
            users_played: recorder.users_played.len() as u64,
            overall: recorder.overall_row(),
            endpoints: recorder.endpoint_rows(),
            journey_steps: recorder.step_rows(),
        }
    }

    /// Reads a report from a file; errors name the file.
    pub fn read(path: &Path) -> Result<Report, ReportError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|reason| ReportError::Read {
            name: name.clone(),
            reason,
        })?;
        Report::parse(&name, &text)
    }

    /// Parses a report and checks that its parts agree, so that a merge of it is sound.
    pub fn parse(name: &str, text: &str) -> Result<Report, ReportError> {
        let not_a_report = |why: String| ReportError::NotAReport {
            name: name.to_string(),
            why,
        };
        let report: Report = serde_json::from_str(text).map_err(|err| match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                not_a_report(format!("not JSON ({err})"))
            }
            // What every load report has had: one without the rest is of an older version.
            _ if serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("journeys_started").is_some() && v.get("late").is_some()) =>
            {
                ReportError::Incomplete {
                    name: name.to_string(),
                    why: err.to_string(),
                }
            }
            _ => not_a_report(err.to_string()),
        })?;
        report.checked().map_err(not_a_report)
    }

    fn checked(mut self) -> Result<Report, String> {
        let Some(first) = self.instances.first().copied() else {
            return Err("its instances list is empty".to_string());
        };
        let mut seen = BTreeSet::new();
        for instance in &self.instances {
            if instance.count() != first.count() || !seen.insert(*instance) {
                return Err(format!(
                    "its instances ({}) are not distinct instances of one N",
                    list(&self.instances)
                ));
            }
        }
        self.instances = seen.into_iter().collect();
        if self.instances.len() as u64 > self.users {
            return Err(format!(
                "it covers {} instances of a population of {} users",
                self.instances.len(),
                self.users
            ));
        }
        if self.ended_unix_ms < self.started_unix_ms {
            return Err("it ends before it starts".to_string());
        }
        self.overall = self.overall.map(Row::checked).transpose()?;
        self.endpoints = self
            .endpoints
            .into_iter()
            .map(Row::checked)
            .collect::<Result<_, _>>()?;
        self.journey_steps = self
            .journey_steps
            .into_iter()
            .map(Row::checked)
            .collect::<Result<_, _>>()?;
        let overall = self.overall.as_ref().map_or(0, |o| o.requests);
        if overall != self.requests {
            return Err(format!(
                "it counts {} requests, but its overall histogram holds {overall}",
                self.requests
            ));
        }
        Ok(self)
    }

    /// The number N of instances the run was split into.
    pub fn instance_count(&self) -> u32 {
        self.instances.first().map_or(1, Instance::count)
    }

    /// The instances of the run this report does not cover.
    pub fn missing_instances(&self) -> Vec<Instance> {
        let count = self.instance_count();
        (1..=count)
            .filter_map(|index| Instance::new(index, count).ok())
            .filter(|instance| !self.instances.contains(instance))
            .collect()
    }

    /// The instances this report covers, as `1/3, 3/3`.
    pub fn instances_text(&self) -> String {
        list(&self.instances)
    }
}

fn list(instances: &[Instance]) -> String {
    instances
        .iter()
        .map(Instance::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row being summed up: its histograms added, its counts summed.
struct RowSum {
    endpoint: String,
    journey: Option<String>,
    step: Option<usize>,
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    errors: u64,
    statuses: BTreeMap<String, u64>,
}

impl RowSum {
    fn new(row: &Row) -> RowSum {
        RowSum {
            endpoint: row.endpoint.clone(),
            journey: row.journey.clone(),
            step: row.step,
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            errors: 0,
            statuses: BTreeMap::new(),
        }
    }

    fn add(&mut self, row: &Row) {
        // Rows come checked (`Report::parse`), and both histograms have the recorder's
        // bounds, which hold every value a checked row has.
        let _ = row.corrected_histogram_us.add_to(&mut self.corrected);
        let _ = row.uncorrected_histogram_us.add_to(&mut self.uncorrected);
        self.errors += row.errors;
        for (status, count) in &row.statuses {
            *self.statuses.entry(status.clone()).or_default() += count;
        }
    }

    fn row(&self) -> Row {
        Row::new(
            &self.endpoint,
            self.journey.as_deref().zip(self.step),
            &self.corrected,
            &self.uncorrected,
            self.errors,
            self.statuses.clone(),
        )
    }
}

/// Sums rows that share a name (and journey step) across reports.
fn merge_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<Row> {
    let mut sums: BTreeMap<(Option<String>, Option<usize>, String), RowSum> = BTreeMap::new();
    for row in rows {
        sums.entry(row.key())
            .or_insert_with(|| RowSum::new(row))
            .add(row);
    }
    sums.values().map(RowSum::row).collect()
}

/// The distinct values in order of first appearance, joined: one target when all agree.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(", ")
}

/// Merges the reports of instances of one run (each with the name it is known by, such as
/// its file) into the report of the whole: counts summed, histograms added, percentiles from
/// the sums, the span from the earliest start to the latest end and rates over it.
///
/// Refused: reports of different seeds, populations or instance counts, and an instance in
/// two reports. Instances missing from the lot are allowed ([`Report::missing_instances`]).
pub fn merge(reports: &[(String, Report)]) -> Result<Report, MergeError> {
    let Some((first_name, first)) = reports.first() else {
        return Err(MergeError::Nothing);
    };
    let mut owner: BTreeMap<Instance, &str> = BTreeMap::new();
    for (name, report) in reports {
        if report.seed != first.seed {
            return Err(MergeError::Seeds {
                first: first_name.clone(),
                first_seed: first.seed,
                second: name.clone(),
                second_seed: report.seed,
            });
        }
        if report.users != first.users {
            return Err(MergeError::Users {
                first: first_name.clone(),
                first_users: first.users,
                second: name.clone(),
                second_users: report.users,
            });
        }
        if report.instance_count() != first.instance_count() {
            return Err(MergeError::Counts {
                first: first_name.clone(),
                first_instance: first.instances[0],
                second: name.clone(),
                second_instance: report.instances[0],
            });
        }
        for instance in &report.instances {
            if let Some(earlier) = owner.insert(*instance, name) {
                return Err(MergeError::Twice {
                    first: earlier.to_string(),
                    second: name.clone(),
                    instance: *instance,
                });
            }
        }
    }
    let all = || reports.iter().map(|(_, report)| report);
    let sum = |field: fn(&Report) -> u64| all().map(field).sum::<u64>();
    let started_unix_ms = all().map(|r| r.started_unix_ms).min().unwrap_or(0);
    let ended_unix_ms = all().map(|r| r.ended_unix_ms).max().unwrap_or(0);
    let elapsed_s = ended_unix_ms.saturating_sub(started_unix_ms) as f64 / 1000.0;
    let (journeys_started, requests) = (sum(|r| r.journeys_started), sum(|r| r.requests));
    let mut no_answer: BTreeMap<String, u64> = BTreeMap::new();
    for report in all() {
        for (why, count) in &report.no_answer {
            *no_answer.entry(why.clone()).or_default() += count;
        }
    }
    Ok(Report {
        target: distinct(all().map(|r| r.target.as_str())),
        profile: distinct(all().map(|r| r.profile.as_str())),
        rate: all().map(|r| r.rate).sum(),
        seed: first.seed,
        users: first.users,
        instances: owner.into_keys().collect(),
        started_unix_ms,
        ended_unix_ms,
        elapsed_s,
        journeys_per_s: per_second(journeys_started, elapsed_s),
        requests_per_s: per_second(requests, elapsed_s),
        journeys_started,
        journeys_finished: sum(|r| r.journeys_finished),
        late: sum(|r| r.late),
        dropped: sum(|r| r.dropped),
        requests,
        errors: sum(|r| r.errors),
        answered: sum(|r| r.answered),
        no_answer,
        users_played: sum(|r| r.users_played),
        overall: merge_rows(all().filter_map(|r| r.overall.as_ref()))
            .into_iter()
            .next(),
        endpoints: merge_rows(all().flat_map(|r| &r.endpoints)),
        journey_steps: merge_rows(all().flat_map(|r| &r.journey_steps)),
    })
}

#[cfg(test)]
mod tests;
