//! What a report holds: the endpoints that break their objectives fastest, ranked, each with
//! why; the queries that need work; who was hit. This is the JSON output's shape, and what
//! the Markdown, the chat post and the ticket are written from.

use serde::Serialize;
use serde_json::Value;

use crate::burn::Severity;
use crate::objectives::Indicator;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_unix_ms: u64,
    pub explorer: String,
    /// Where the objectives came from: a file, or the shop's built-in ones.
    pub objectives: String,
    pub period_days: f64,
    pub long_window_seconds: u64,
    pub short_window_seconds: u64,
    /// The burn rate at which an endpoint is said to need work (in both windows).
    pub min_burn_rate: f64,
    /// Endpoints with an objective and traffic in the long window.
    pub endpoints_judged: usize,
    /// Each of them, and how fast it burns (the lower of its windows, its fastest objective).
    pub judged: Vec<Judged>,
    pub needs_work: Vec<Item>,
    pub queries: Vec<QueryItem>,
    /// Who was hit, when the explorer can say (`null` otherwise).
    pub customers: Option<Value>,
    /// What the reader should know about the report itself (too little traffic, a part the
    /// explorer could not give).
    pub notes: Vec<String>,
}

impl Report {
    /// Whether anything needs work.
    pub fn is_clean(&self) -> bool {
        self.needs_work.is_empty() && self.queries.is_empty()
    }
}

/// An endpoint judged against its objective.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub service: String,
    pub operation: String,
    pub requests: usize,
    pub short_requests: usize,
    pub burn_rate: f64,
}

/// An endpoint breaking an objective.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub rank: usize,
    pub service: String,
    pub operation: String,
    pub kind: String,
    /// Requests in the long window, and their share of all judged endpoints' requests.
    pub requests: usize,
    pub traffic_share: f64,
    pub short_requests: usize,
    pub error_rate: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub short_p95_ms: f64,
    pub short_p99_ms: f64,
    /// The fastest burn among its objectives (the lower of its two windows).
    pub burn_rate: f64,
    pub severity: Severity,
    /// Every objective of the endpoint, breached or not, the fastest burn first.
    pub objectives: Vec<Burn>,
    pub why: Why,
}

impl Item {
    /// A stable name for the endpoint, to tell reports apart over time.
    pub fn key(&self) -> String {
        format!("{} {}", self.service, self.operation)
    }

    /// The objective burning fastest.
    pub fn worst(&self) -> &Burn {
        &self.objectives[0]
    }
}

/// One objective of an endpoint, over both windows.
#[derive(Debug, Clone, Serialize)]
pub struct Burn {
    pub indicator: Indicator,
    pub target: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
    pub long: WindowBurn,
    pub short: WindowBurn,
    /// The lower of the two windows' burn rates: both burn at least this fast.
    pub burn_rate: f64,
    pub severity: Severity,
    /// The share of the period's budget the long window spent.
    pub budget_spent: f64,
    /// How long a whole budget lasts at the short window's rate, in hours.
    pub budget_lasts_hours: Option<f64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct WindowBurn {
    pub bad: usize,
    pub total: usize,
    pub burn_rate: f64,
}

/// Why an endpoint breaks its objective.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Why {
    pub exemplars: Vec<Exemplar>,
    /// The critical path's time by service, averaged over the exemplars, largest first.
    pub time_by_service: Vec<Share>,
    /// The spans taking most of the critical path.
    pub time_by_span: Vec<Share>,
    /// What the exemplars' database spans show (the same query run many times; one query
    /// taking most of the time; many rows), as the explorer's explain gives them.
    pub db_hints: Vec<Value>,
    /// Where failures began, most traces first.
    pub first_causes: Vec<Cause>,
    /// The attribute values that separate failing requests from the rest.
    pub segment: Vec<Segment>,
    pub code: Option<Code>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exemplar {
    pub trace_id: String,
    pub url: String,
    pub duration_ms: f64,
    pub failed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub share: f64,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub service: String,
    pub operation: String,
    pub error_type: String,
    pub message: String,
    pub traces: usize,
    pub example_trace_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Segment {
    pub key: String,
    pub value: String,
    pub error_rate_with: f64,
    pub error_rate_without: f64,
    /// The share of the failing requests that have this value.
    pub share_of_failures: f64,
}

/// Where the endpoint's handler is.
#[derive(Debug, Clone, Serialize)]
pub struct Code {
    pub function: String,
    pub file: String,
    /// With `--code-base-url`: a link to the file.
    pub url: Option<String>,
}

/// A database query that needs work.
#[derive(Debug, Clone, Serialize)]
pub struct QueryItem {
    pub service: String,
    pub db_system: String,
    pub query: String,
    pub collection: String,
    pub calls: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub total_ms: f64,
    pub hints: Vec<QueryHint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueryHint {
    /// The same query run many times within one request: N+1.
    RepeatedInOneTrace {
        most_in_one_trace: usize,
        calls_per_trace: f64,
    },
    /// Its typical time jumped against the period before, more than the other queries'.
    TimeJumped {
        p50_before_ms: f64,
        p50_now_ms: f64,
        ratio: f64,
    },
}
