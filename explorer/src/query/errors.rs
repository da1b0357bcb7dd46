//! Error analysis: where failures begin (root-cause spans, grouped) and which attribute
//! values separate failing traces from succeeding ones ("only gold users", "only version
//! 2.1.0").

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::convert::hex_id;
use crate::store::attrs::{self, ValueRef};
use crate::store::index;
use crate::store::intern::Sym;
use crate::store::table::{SpanRow, Status, Table, TraceEntry};

use super::namespace::Namespace;
use super::trace::tree;
use super::window::Window;

/// Values seen in fewer traces than this are left out of the separating attributes.
const MIN_TRACES: usize = 3;
/// Attribute values longer than this are ids or texts, not segments.
const MAX_VALUE_LEN: usize = 64;
const MAX_ATTRIBUTES: usize = 20;
const MAX_CAUSES: usize = 20;
const EXAMPLES: usize = 3;
/// Attributes that describe the outcome rather than the request: of course failing traces
/// have `error.type` or a 5xx status; what separates them must be something about who or
/// what was asked (tier, region, version, route).
const OUTCOME_KEYS: &[&str] = &[
    "error.type",
    "http.response.status_code",
    "rpc.grpc.status_code",
    "otel.status_code",
    "otel.status_description",
    "exception.type",
    "exception.message",
];

#[derive(Debug, Clone, Serialize)]
pub struct RootCause {
    pub service: String,
    pub operation: String,
    pub error_type: String,
    pub message: String,
    pub traces: usize,
    pub example_trace_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeparatingAttribute {
    pub key: String,
    pub value: String,
    pub failing_with: usize,
    pub total_with: usize,
    pub error_rate_with: f64,
    pub failing_without: usize,
    pub total_without: usize,
    pub error_rate_without: f64,
    /// How much higher the error rate is with the value, times the share of all failing
    /// traces that have it: high for a value that explains most failures.
    pub score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorAnalysis {
    pub window_seconds: f64,
    pub traces: usize,
    pub failing_traces: usize,
    pub root_causes: Vec<RootCause>,
    pub attributes: Vec<SeparatingAttribute>,
}

/// Which traces to look at: those holding a span of `service` (and `operation`, and whose
/// resource has `service.namespace` = `namespace`), or all. A trace in scope is read whole:
/// where its failure began is its root cause even in another namespace's service.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub service: Option<String>,
    pub operation: Option<String>,
    pub namespace: Option<String>,
}

struct CauseGroup {
    service: Sym,
    name: Sym,
    error_type: String,
    message: String,
    traces: usize,
    examples: Vec<String>,
}

struct ValueCount {
    key: Sym,
    value: String,
    total: usize,
    failing: usize,
}

pub fn errors(table: &Table, window: Window, scope: &Scope) -> ErrorAnalysis {
    let lookup = |name: &Option<String>| match name {
        None => Some(None),
        Some(n) => table.interner.lookup(n).map(Some),
    };
    let (Some(service), Some(operation)) = (lookup(&scope.service), lookup(&scope.operation))
    else {
        return ErrorAnalysis {
            window_seconds: window.seconds(None),
            traces: 0,
            failing_traces: 0,
            root_causes: Vec::new(),
            attributes: Vec::new(),
        };
    };
    let namespace = Namespace::new(table, scope.namespace.as_deref());
    let everything = matches!(namespace, Namespace::All);
    let in_scope = |trace: &TraceEntry| {
        (service.is_none() && operation.is_none() && everything)
            || trace.spans.iter().any(|s| {
                service.is_none_or(|x| x == s.service)
                    && operation.is_none_or(|x| x == s.name)
                    && namespace.holds(table, s)
            })
    };
    let keys = ErrorKeys::new(table);
    let outcome: Vec<Sym> = OUTCOME_KEYS
        .iter()
        .filter_map(|k| table.interner.lookup(k))
        .collect();

    let mut traces = 0;
    let mut failing = 0;
    let mut earliest: Option<u64> = None;
    let mut causes = Causes::default();
    let mut values: HashMap<u64, ValueCount> = HashMap::new();
    // Sets, not lists searched per value: a trace of many distinct values (or resources)
    // made those searches quadratic in the trace.
    let mut seen: HashSet<u64> = HashSet::new();
    let mut resources: HashSet<u32> = HashSet::new();
    for trace in namespace
        .traces(table, &window)
        .into_iter()
        .filter(|t| in_scope(t))
    {
        traces += 1;
        earliest = Some(earliest.map_or(trace.start, |e| e.min(trace.start)));
        let failed = trace.errors > 0;
        if failed {
            failing += 1;
            root_causes(trace, &keys, &mut causes);
        }
        // Each distinct attribute value of the trace counts once.
        seen.clear();
        let mut note = |key: Sym, value: ValueRef<'_>, values: &mut HashMap<u64, ValueCount>| {
            let short = match value {
                ValueRef::Str(s) => s.len() <= MAX_VALUE_LEN,
                ValueRef::Int(_) | ValueRef::Bool(_) => true,
                _ => false,
            };
            if !short || outcome.contains(&key) {
                return;
            }
            let Some(k) = index::attr_key(key, value) else {
                return;
            };
            if !seen.insert(k) {
                return;
            }
            let count = values.entry(k).or_insert_with(|| ValueCount {
                key,
                value: match value {
                    ValueRef::Str(s) => s.to_owned(),
                    other => other.to_json().to_string(),
                },
                total: 0,
                failing: 0,
            });
            count.total += 1;
            count.failing += usize::from(failed);
        };
        resources.clear();
        for span in &trace.spans {
            for (key, value) in attrs::iter(&span.attrs) {
                note(key, value, &mut values);
            }
            if resources.insert(span.resource)
                && let Some(resource) = table.resource(span.resource)
            {
                for (key, value) in attrs::iter(&resource.attrs) {
                    note(key, value, &mut values);
                }
            }
        }
    }

    let mut attributes: Vec<SeparatingAttribute> = values
        .into_values()
        .filter(|v| v.total >= MIN_TRACES && v.failing > 0 && v.total < traces)
        .map(|v| {
            let rate_with = v.failing as f64 / v.total as f64;
            let failing_without = failing - v.failing;
            let total_without = traces - v.total;
            let rate_without = failing_without as f64 / total_without as f64;
            let coverage = v.failing as f64 / failing.max(1) as f64;
            SeparatingAttribute {
                key: table.interner.text(v.key).to_owned(),
                value: v.value,
                failing_with: v.failing,
                total_with: v.total,
                error_rate_with: rate_with,
                failing_without,
                total_without,
                error_rate_without: rate_without,
                score: (rate_with - rate_without) * coverage,
            }
        })
        .filter(|a| a.score > 0.0)
        .collect();
    attributes.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.failing_with.cmp(&a.failing_with))
            .then(a.key.cmp(&b.key))
            .then(a.value.cmp(&b.value))
    });
    attributes.truncate(MAX_ATTRIBUTES);
    let mut causes = causes.groups;
    causes.sort_by_key(|c| std::cmp::Reverse(c.traces));
    causes.truncate(MAX_CAUSES);
    let text = |sym| table.interner.text(sym).to_owned();
    ErrorAnalysis {
        window_seconds: window.seconds(earliest),
        traces,
        failing_traces: failing,
        root_causes: causes
            .into_iter()
            .map(|c| RootCause {
                service: text(c.service),
                operation: text(c.name),
                error_type: c.error_type,
                message: c.message,
                traces: c.traces,
                example_trace_ids: c.examples,
            })
            .collect(),
        attributes,
    }
}

/// The symbols the error views read, looked up once.
struct ErrorKeys {
    error_type: Option<Sym>,
    exception_type: Option<Sym>,
    exception_message: Option<Sym>,
    exception: Option<Sym>,
}

impl ErrorKeys {
    fn new(table: &Table) -> ErrorKeys {
        let key = |k: &str| table.interner.lookup(k);
        ErrorKeys {
            error_type: key("error.type"),
            exception_type: key("exception.type"),
            exception_message: key("exception.message"),
            exception: key("exception"),
        }
    }

    fn event_attr<'s>(&self, span: &'s SpanRow, key: Option<Sym>) -> Option<ValueRef<'s>> {
        let key = key?;
        span.events()
            .iter()
            .filter(|e| self.exception.is_none_or(|x| x == e.name))
            .find_map(|e| attrs::get(&e.attrs, key))
    }

    fn error_type(&self, span: &SpanRow) -> String {
        let value = self
            .error_type
            .and_then(|k| attrs::get(&span.attrs, k))
            .or_else(|| self.event_attr(span, self.exception_type));
        match value {
            None => String::new(),
            Some(ValueRef::Str(s)) => s.to_owned(),
            Some(other) => other.to_json().to_string(),
        }
    }

    fn message(&self, span: &SpanRow) -> String {
        if !span.status_message().is_empty() {
            return span.status_message().to_owned();
        }
        match self.event_attr(span, self.exception_message) {
            Some(ValueRef::Str(s)) => s.to_owned(),
            _ => String::new(),
        }
    }
}

/// Root-cause groups, found by (service, name, error type) through a map: searching the
/// list per error span was quadratic in the number of distinct causes.
#[derive(Default)]
struct Causes {
    groups: Vec<CauseGroup>,
    by_key: HashMap<(Sym, Sym, String), usize>,
}

/// Adds the trace's root-cause spans (error spans none of whose descendants failed) to
/// `causes`, counting the trace once per group.
///
/// Descendants, not children: a declined card fails the payment call, the checkout server
/// answers 402 without being in error itself (a 4xx is the caller's), and the frontend's
/// call to checkout then fails. Looking one level down named that frontend call as a second
/// cause; the failure began at the payment call.
fn root_causes(trace: &TraceEntry, keys: &ErrorKeys, causes: &mut Causes) {
    let spans = &trace.spans;
    let tree = tree(spans);
    // Waterfall order lists every parent before its descendants, so walking it backwards
    // settles each subtree before its parent.
    let mut failed_below = vec![false; spans.len()];
    for &(i, _, _) in tree.order.iter().rev() {
        if let Some(p) = tree.parent[i] {
            failed_below[p] |= failed_below[i] || spans[i].status == Status::Error;
        }
    }
    let groups = &mut causes.groups;
    let mut counted: HashSet<usize> = HashSet::new();
    for (i, span) in spans.iter().enumerate() {
        if span.status != Status::Error || failed_below[i] {
            continue;
        }
        let error_type = keys.error_type(span);
        let at = *causes
            .by_key
            .entry((span.service, span.name, error_type))
            .or_insert_with_key(|(service, name, error_type)| {
                groups.push(CauseGroup {
                    service: *service,
                    name: *name,
                    error_type: error_type.clone(),
                    message: keys.message(span),
                    traces: 0,
                    examples: Vec::new(),
                });
                groups.len() - 1
            });
        if !counted.insert(at) {
            continue;
        }
        let group = &mut groups[at];
        group.traces += 1;
        if group.examples.len() < EXAMPLES {
            group.examples.push(hex_id(&trace.id));
        }
    }
}
