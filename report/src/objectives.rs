//! Service-level objectives: what each endpoint promises (latency: p95 or p99 under a
//! threshold; errors: a share of requests that succeed), read from a small TOML file and
//! checked with the file, the line and the field in every error. [`SHOP`] is the shop's own.
//!
//! ```toml
//! period = "30d"                   # the period an error budget is counted over (default 30d)
//!
//! [[objective]]                    # every endpoint of a service ...
//! service = "frontend"
//! p95 = "250ms"
//! success = 0.995
//!
//! [[objective]]                    # ... and one endpoint (a SERVER or CONSUMER span's name)
//! service = "frontend"
//! operation = "POST /api/checkout"
//! p95 = "400ms"
//! p99 = "1.5s"
//! success = 0.99
//! ```
//!
//! An endpoint's own objective wins field by field; what it leaves out comes from its
//! service's.

use std::ops::Range;

use crate::parse_duration as duration;
use serde::Deserialize;
use toml::Spanned;
use tracedojo_explorer::query::explain::LatencyObjective;

/// The shop's objectives, used when no file is given.
pub const SHOP: &str = include_str!("../shop-objectives.toml");
/// What [`SHOP`] is called in messages and reports.
pub const SHOP_NAME: &str = "the shop's built-in objectives";

const DEFAULT_PERIOD: u64 = 30 * 86_400 * NANOS_PER_SECOND;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
const FIELDS: &str = "service, operation, p95, p99, success";

/// A file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct ObjectivesError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// One kind of promise an endpoint makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// This share of requests within the threshold: p95 → 95%.
    LatencyP95,
    LatencyP99,
    /// This share of requests not failing.
    Success,
}

impl Indicator {
    pub fn name(self) -> &'static str {
        match self {
            Indicator::LatencyP95 => "p95",
            Indicator::LatencyP99 => "p99",
            Indicator::Success => "success",
        }
    }
}

/// One promise: an indicator, the share of good requests it asks for, and for latency the
/// threshold a good request stays within.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Target {
    pub indicator: Indicator,
    /// The good share asked for, e.g. 0.95 for a p95 objective, 0.995 for 99.5% success.
    pub target: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<f64>,
}

impl Target {
    /// The share of requests allowed to be bad: the error budget.
    pub fn budget(&self) -> f64 {
        1.0 - self.target
    }

    pub fn threshold_nanos(&self) -> Option<u64> {
        self.threshold_ms.map(|ms| (ms * 1e6).round() as u64)
    }
}

/// What one endpoint promises.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EndpointObjective {
    pub targets: Vec<Target>,
}

/// A checked objectives file.
#[derive(Debug, Clone, PartialEq)]
pub struct Objectives {
    /// Where they came from, for reports: a file name or [`SHOP_NAME`].
    pub source: String,
    pub period_nanos: u64,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    service: String,
    operation: Option<String>,
    p95: Option<u64>,
    p99: Option<u64>,
    success: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    period: Option<Spanned<String>>,
    #[serde(default)]
    objective: Vec<Spanned<RawObjective>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    service: Spanned<String>,
    operation: Option<Spanned<String>>,
    p95: Option<Spanned<String>>,
    p99: Option<Spanned<String>>,
    success: Option<Spanned<f64>>,
}

impl Objectives {
    /// The shop's own objectives.
    pub fn shop() -> Objectives {
        Objectives::parse(SHOP_NAME, SHOP).expect("the shop's objectives are checked by a test")
    }

    /// Reads and checks a file.
    pub fn read(path: &std::path::Path) -> Result<Objectives, ObjectivesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ObjectivesError {
            file: file.clone(),
            line: 0,
            field: "file".into(),
            message: format!("cannot read it: {err}"),
        })?;
        Objectives::parse(&file, &text)
    }

    /// Checks `text`, read from `file`.
    pub fn parse(file: &str, text: &str) -> Result<Objectives, ObjectivesError> {
        let fail = |span: Range<usize>, field: &str, message: String| ObjectivesError {
            file: file.to_owned(),
            line: line_at(text, span.start),
            field: field.to_owned(),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            let mut bare = err.clone();
            bare.set_input(None);
            fail(span, &field_of(err.message()), one_line(&bare.to_string()))
        })?;
        let period_nanos = match &raw.period {
            None => DEFAULT_PERIOD,
            Some(period) => {
                let nanos = duration(period.get_ref())
                    .map_err(|message| fail(period.span(), "period", message))?;
                if nanos < 3600 * NANOS_PER_SECOND {
                    return Err(fail(
                        period.span(),
                        "period",
                        format!(
                            "{:?} is shorter than an hour; an error budget is counted over days or weeks, e.g. \"30d\" or \"7d\"",
                            period.get_ref()
                        ),
                    ));
                }
                nanos
            }
        };
        if raw.objective.is_empty() {
            return Err(fail(
                0..0,
                "objective",
                "the file has no [[objective]]; give at least one, e.g. service = \"frontend\" with p95 = \"300ms\"".into(),
            ));
        }
        let mut entries: Vec<Entry> = Vec::new();
        for objective in &raw.objective {
            let at = objective.span();
            let objective = objective.get_ref();
            let service = objective.service.get_ref().trim();
            if service.is_empty() {
                return Err(fail(
                    objective.service.span(),
                    "service",
                    "is empty; give the service.name of the spans".into(),
                ));
            }
            let operation = objective
                .operation
                .as_ref()
                .map(|op| {
                    let name = op.get_ref().trim();
                    if name.is_empty() {
                        Err(fail(op.span(), "operation", "is empty; give a span name such as \"GET /api/products\", or leave it out for every endpoint of the service".into()))
                    } else {
                        Ok(name.to_owned())
                    }
                })
                .transpose()?;
            let latency = |value: &Option<Spanned<String>>, field: &str| {
                value
                    .as_ref()
                    .map(|v| {
                        let nanos = duration(v.get_ref()).map_err(|m| fail(v.span(), field, m))?;
                        if nanos == 0 {
                            return Err(fail(v.span(), field, "must be longer than zero".into()));
                        }
                        Ok(nanos)
                    })
                    .transpose()
            };
            let p95 = latency(&objective.p95, "p95")?;
            let p99 = latency(&objective.p99, "p99")?;
            let success = objective
                .success
                .as_ref()
                .map(|s| {
                    let value = *s.get_ref();
                    if value > 0.0 && value < 1.0 {
                        Ok(value)
                    } else {
                        let hint = if (1.0..100.0).contains(&value) {
                            format!(" (for {value}%, write {})", value / 100.0)
                        } else {
                            String::new()
                        };
                        Err(fail(
                            s.span(),
                            "success",
                            format!(
                                "{value} is not a share between 0 and 1; write e.g. 0.995 for 99.5% of requests succeeding{hint}"
                            ),
                        ))
                    }
                })
                .transpose()?;
            if p95.is_none() && p99.is_none() && success.is_none() {
                return Err(fail(
                    at,
                    "objective",
                    format!("promises nothing; give p95, p99 or success (the fields are {FIELDS})"),
                ));
            }
            let entry = Entry {
                service: service.to_owned(),
                operation,
                p95,
                p99,
                success,
            };
            if entries
                .iter()
                .any(|e| e.service == entry.service && e.operation == entry.operation)
            {
                let what = match &entry.operation {
                    Some(op) => format!("{} {op}", entry.service),
                    None => format!("the service {}", entry.service),
                };
                return Err(fail(
                    objective.service.span(),
                    "objective",
                    format!("{what} has an objective already; give one per endpoint or service"),
                ));
            }
            entries.push(entry);
        }
        Ok(Objectives {
            source: file.to_owned(),
            period_nanos,
            entries,
        })
    }

    /// What the endpoint `operation` of `service` promises: its own objective, with what it
    /// leaves out taken from its service's; `None` when neither has one.
    pub fn of(&self, service: &str, operation: &str) -> Option<EndpointObjective> {
        let own = self
            .entries
            .iter()
            .find(|e| e.service == service && e.operation.as_deref() == Some(operation));
        let whole = self
            .entries
            .iter()
            .find(|e| e.service == service && e.operation.is_none());
        if own.is_none() && whole.is_none() {
            return None;
        }
        let pick = |f: fn(&Entry) -> Option<u64>| own.and_then(f).or_else(|| whole.and_then(f));
        let ms = |nanos: u64| nanos as f64 / 1e6;
        let mut targets = Vec::new();
        if let Some(p95) = pick(|e| e.p95) {
            targets.push(Target {
                indicator: Indicator::LatencyP95,
                target: 0.95,
                threshold_ms: Some(ms(p95)),
            });
        }
        if let Some(p99) = pick(|e| e.p99) {
            targets.push(Target {
                indicator: Indicator::LatencyP99,
                target: 0.99,
                threshold_ms: Some(ms(p99)),
            });
        }
        if let Some(success) = own
            .and_then(|e| e.success)
            .or_else(|| whole.and_then(|e| e.success))
        {
            targets.push(Target {
                indicator: Indicator::Success,
                target: success,
                threshold_ms: None,
            });
        }
        Some(EndpointObjective { targets })
    }

    /// Every latency threshold named, in nanoseconds, each once: what to ask the explorer to
    /// count slower requests against.
    pub fn thresholds(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .entries
            .iter()
            .flat_map(|e| [e.p95, e.p99])
            .flatten()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Each endpoint's and service's latency threshold (p95, else p99), as the explorer's
    /// explanations compare a request with: `explore --objectives` and `up` give it these.
    pub fn latency_objectives(&self) -> Vec<LatencyObjective> {
        self.entries
            .iter()
            .filter_map(|e| {
                let threshold = match &e.operation {
                    Some(op) => {
                        let objective = self.of(&e.service, op)?;
                        objective.targets.iter().find_map(Target::threshold_nanos)?
                    }
                    None => e.p95.or(e.p99)?,
                };
                Some(LatencyObjective {
                    service: e.service.clone(),
                    operation: e.operation.clone(),
                    threshold_nanos: threshold,
                })
            })
            .collect()
    }

    /// The services named, each once.
    pub fn services(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.entries.iter().map(|e| e.service.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The period in days, for people.
    pub fn period_days(&self) -> f64 {
        self.period_nanos as f64 / (86_400.0 * NANOS_PER_SECOND as f64)
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The field a TOML error is about: the key toml names in its message (an unknown or a
/// missing field), else the file's shape.
fn field_of(message: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split(marker).nth(1)
            && let Some(name) = rest.split('`').next()
        {
            return name.to_owned();
        }
    }
    "syntax".into()
}

fn one_line(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.contains("unknown field") {
        format!("{flat} (an objective takes {FIELDS}; the file takes period and [[objective]])")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests;
