//! What a run measured: latency histograms per endpoint, corrected and uncorrected, and the
//! counts of late, dropped and failed sends.
//!
//! Corrected latency runs from the moment the plan *intended* a request to start; the
//! uncorrected view runs from when it was actually sent. When the shop stalls and sends back
//! up, only the corrected view shows what users waited (coordinated omission).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::http::Failure;
use crate::report::Row;

/// Latencies are kept in microseconds, from 1 µs to one hour, to three significant digits.
/// Reports read back into histograms of these bounds, so their merges are exact.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Sample {
    pub endpoint: &'static str,
    /// The journey this request belongs to and its place in it (1 for the first step).
    pub journey: &'static str,
    pub step: usize,
    /// From intended start to answer.
    pub corrected: Duration,
    /// From actual send to answer.
    pub uncorrected: Duration,
    /// HTTP status, or `None` when no answer came (refused, timed out).
    pub status: Option<u16>,
    /// Why no answer came, when none did.
    pub failure: Option<Failure>,
    /// When the answer (or the failure) came.
    pub at: Instant,
}

/// Whether the target answers at all, apart from how fast or with what status: the run warns
/// when it stops, and fails when it never did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    /// Requests sent, counted as they go out: those still waiting are `sent - answered - failed`.
    pub sent: u64,
    /// Requests that got an HTTP answer, whatever its status.
    pub answered: u64,
    /// Requests that got none, by why.
    pub failed: BTreeMap<Failure, u64>,
    /// When the latest answer came.
    pub last_answer: Option<Instant>,
}

impl Answers {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Requests sent and not yet answered or failed.
    pub fn waiting(&self) -> u64 {
        self.sent
            .saturating_sub(self.answered)
            .saturating_sub(self.failed_total())
    }

    fn drain_into(&mut self, into: &mut Answers) {
        into.sent += std::mem::take(&mut self.sent);
        into.answered += std::mem::take(&mut self.answered);
        for (failure, count) in std::mem::take(&mut self.failed) {
            *into.failed.entry(failure).or_default() += count;
        }
        into.last_answer = into.last_answer.max(self.last_answer.take());
    }
}

#[derive(Debug, Clone)]
struct Endpoint {
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    errors: u64,
    /// By HTTP status; `None` for no answer.
    statuses: BTreeMap<Option<u16>, u64>,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            corrected: new_histogram(),
            uncorrected: new_histogram(),
            errors: 0,
            statuses: BTreeMap::new(),
        }
    }
}

impl Endpoint {
    fn drain_into(&mut self, into: &mut Endpoint) {
        // Both sides share the same bounds, so adding cannot fail.
        let _ = into.corrected.add(&self.corrected);
        let _ = into.uncorrected.add(&self.uncorrected);
        self.corrected.reset();
        self.uncorrected.reset();
        into.errors += std::mem::take(&mut self.errors);
        for (status, count) in std::mem::take(&mut self.statuses) {
            *into.statuses.entry(status).or_default() += count;
        }
    }
}

/// Percentiles of one latency view, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// The summary of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSummary {
    pub endpoint: String,
    pub requests: u64,
    pub errors: u64,
    pub statuses: BTreeMap<String, u64>,
    pub corrected: Percentiles,
    pub uncorrected: Percentiles,
}

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct Recorder {
    endpoints: BTreeMap<&'static str, Endpoint>,
    steps: BTreeMap<(&'static str, usize, &'static str), Endpoint>,
    all: Option<Endpoint>,
    /// Journeys that started later than the lateness threshold after their intended time.
    pub late: u64,
    /// Journeys never started: the in-flight cap stayed full for too long.
    pub dropped: u64,
    pub journeys_started: u64,
    pub journeys_finished: u64,
    pub answers: Answers,
    /// The users (their indexes in the population) whose journeys started.
    pub users_played: HashSet<usize>,
}

impl Recorder {
    pub fn record(&mut self, sample: &Sample) {
        let micros = |d: Duration| (d.as_micros().clamp(1, 3_600_000_000)) as u64;
        let all = self.all.get_or_insert_with(Endpoint::default);
        let step = self
            .steps
            .entry((sample.journey, sample.step, sample.endpoint))
            .or_default();
        for endpoint in [
            self.endpoints.entry(sample.endpoint).or_default(),
            step,
            all,
        ] {
            let _ = endpoint.corrected.record(micros(sample.corrected));
            let _ = endpoint.uncorrected.record(micros(sample.uncorrected));
            if sample.status.is_none_or(|s| s >= 400) {
                endpoint.errors += 1;
            }
            *endpoint.statuses.entry(sample.status).or_default() += 1;
        }
        match (sample.status, sample.failure) {
            (Some(_), _) => {
                self.answers.answered += 1;
                self.answers.last_answer = self.answers.last_answer.max(Some(sample.at));
            }
            (None, failure) => {
                // A sample without a status always has a failure; `NoAnswer` if not.
                *self
                    .answers
                    .failed
                    .entry(failure.unwrap_or(Failure::NoAnswer))
                    .or_default() += 1;
            }
        }
    }

    /// Moves everything recorded here into `into`, leaving this recorder empty (its
    /// histograms keep their memory for the next samples).
    pub fn drain_into(&mut self, into: &mut Recorder) {
        for (name, endpoint) in &mut self.endpoints {
            endpoint.drain_into(into.endpoints.entry(name).or_default());
        }
        for (key, endpoint) in &mut self.steps {
            endpoint.drain_into(into.steps.entry(*key).or_default());
        }
        if let Some(all) = &mut self.all {
            all.drain_into(into.all.get_or_insert_with(Endpoint::default));
        }
        into.late += std::mem::take(&mut self.late);
        into.dropped += std::mem::take(&mut self.dropped);
        into.journeys_started += std::mem::take(&mut self.journeys_started);
        into.journeys_finished += std::mem::take(&mut self.journeys_finished);
        self.answers.drain_into(&mut into.answers);
        into.users_played.extend(self.users_played.drain());
    }

    pub fn requests(&self) -> u64 {
        self.all.as_ref().map_or(0, |a| a.corrected.len())
    }

    pub fn errors(&self) -> u64 {
        self.all.as_ref().map_or(0, |a| a.errors)
    }

    /// Every request together.
    pub fn overall(&self) -> Option<EndpointSummary> {
        self.all.as_ref().map(|e| summarize("all", e))
    }

    /// Per journey step, named like `purchase #5 POST /api/checkout`.
    pub fn steps(&self) -> Vec<EndpointSummary> {
        self.steps
            .iter()
            .map(|((journey, step, endpoint), e)| {
                summarize(&format!("{journey} #{step} {endpoint}"), e)
            })
            .collect()
    }

    pub fn endpoints(&self) -> Vec<EndpointSummary> {
        self.endpoints
            .iter()
            .map(|(name, e)| summarize(name, e))
            .collect()
    }

    /// Every request together, with its histograms, for a report.
    pub(crate) fn overall_row(&self) -> Option<Row> {
        self.all.as_ref().map(|e| row("all", None, e))
    }

    pub(crate) fn endpoint_rows(&self) -> Vec<Row> {
        self.endpoints
            .iter()
            .map(|(name, e)| row(name, None, e))
            .collect()
    }

    pub(crate) fn step_rows(&self) -> Vec<Row> {
        self.steps
            .iter()
            .map(|((journey, step, endpoint), e)| {
                row(
                    &format!("{journey} #{step} {endpoint}"),
                    Some((journey, *step)),
                    e,
                )
            })
            .collect()
    }
}

fn row(name: &str, step: Option<(&str, usize)>, endpoint: &Endpoint) -> Row {
    Row::new(
        name,
        step,
        &endpoint.corrected,
        &endpoint.uncorrected,
        endpoint.errors,
        status_names(&endpoint.statuses),
    )
}

/// `"200"`, `"503"`, `"no answer"`: statuses as a report names them.
fn status_names(statuses: &BTreeMap<Option<u16>, u64>) -> BTreeMap<String, u64> {
    statuses
        .iter()
        .map(|(status, count)| {
            let name = status.map_or_else(|| "no answer".to_string(), |s| s.to_string());
            (name, *count)
        })
        .collect()
}

fn summarize(name: &str, endpoint: &Endpoint) -> EndpointSummary {
    EndpointSummary {
        endpoint: name.to_string(),
        requests: endpoint.corrected.len(),
        errors: endpoint.errors,
        statuses: status_names(&endpoint.statuses),
        corrected: Percentiles::of(&endpoint.corrected),
        uncorrected: Percentiles::of(&endpoint.uncorrected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(endpoint: &'static str, millis: u64, status: Option<u16>) -> Sample {
        Sample {
            endpoint,
            journey: "browse",
            step: 1,
            corrected: Duration::from_millis(millis),
            uncorrected: Duration::from_millis(millis / 2),
            status,
            failure: status.is_none().then_some(Failure::Refused),
            at: Instant::now(),
        }
    }

    #[test]
    fn draining_moves_every_figure_and_leaves_the_worker_empty() {
        let mut shared = Recorder::default();
        shared.record(&sample("GET /a", 10, Some(200)));
        shared.answers.sent += 1;
        let mut worker = Recorder {
            late: 2,
            dropped: 1,
            journeys_started: 3,
            journeys_finished: 3,
            ..Recorder::default()
        };
        worker.record(&sample("GET /a", 30, Some(500)));
        worker.record(&sample("GET /b", 20, None));
        worker.answers.sent += 3;
        worker.users_played.extend([4, 9]);
        shared.users_played.insert(4);
        worker.drain_into(&mut shared);
        assert_eq!(shared.users_played, HashSet::from([4, 9]));
        assert!(worker.users_played.is_empty());
        assert_eq!(shared.answers.answered, 2);
        assert_eq!(shared.answers.failed[&Failure::Refused], 1);
        assert_eq!(
            shared.answers.waiting(),
            1,
            "the third of the worker's is under way"
        );
        assert!(shared.answers.last_answer.is_some());

        assert_eq!((shared.requests(), shared.errors()), (3, 2));
        assert_eq!((shared.late, shared.dropped), (2, 1));
        assert_eq!((shared.journeys_started, shared.journeys_finished), (3, 3));
        let a = &shared.endpoints()[0];
        assert_eq!((a.requests, a.errors), (2, 1));
        assert_eq!(a.statuses["200"] + a.statuses["500"], 2);
        assert!((a.corrected.max_ms - 30.0).abs() < 0.1, "{:?}", a.corrected);
        assert_eq!(shared.endpoints()[1].statuses["no answer"], 1);

        assert_eq!((worker.requests(), worker.late, worker.dropped), (0, 0, 0));
        worker.drain_into(&mut shared);
        assert_eq!(shared.requests(), 3, "draining twice adds nothing");
    }
}
