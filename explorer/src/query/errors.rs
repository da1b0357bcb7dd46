//! Error analysis: where failures begin (root-cause spans, grouped) and which attribute
//! values separate failing traces from succeeding ones ("only gold users", "only version
//! 2.1.0"; ranked in [`super::separating`]).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::convert::hex_id;
use crate::store::attrs::{self, ValueRef};
use crate::store::intern::Sym;
use crate::store::table::{SpanRow, Status, Table, TraceEntry};

use super::namespace::Namespace;
use super::separating::{self, Separation};
use super::trace::tree;
use super::window::Window;

pub use super::separating::{SameValue, SeparatingAttribute};

const MAX_CAUSES: usize = 20;
const EXAMPLES: usize = 3;

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
pub struct ErrorAnalysis {
    pub window_seconds: f64,
    pub traces: usize,
    pub failing_traces: usize,
    pub root_causes: Vec<RootCause>,
    pub attributes: Vec<SeparatingAttribute>,
    /// Whether there were too few failing traces to rank any attribute value (then
    /// `attributes` is empty and `note` says why).
    pub too_few_failing_traces: bool,
    /// What a person should know about `attributes`, in plain English; "" when nothing.
    pub note: String,
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

pub fn errors(table: &Table, window: Window, scope: &Scope) -> ErrorAnalysis {
    let lookup = |name: &Option<String>| match name {
        None => Some(None),
        Some(n) => table.interner.lookup(n).map(Some),
    };
    let (Some(service), Some(operation)) = (lookup(&scope.service), lookup(&scope.operation))
    else {
        return analysis(window, &[], Vec::new(), separating::separating(table, &[]));
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
    let traces: Vec<&TraceEntry> = namespace
        .traces(table, &window)
        .into_iter()
        .filter(|t| in_scope(t))
        .collect();
    let keys = ErrorKeys::new(table);
    let mut causes = Causes::default();
    for trace in traces.iter().filter(|t| t.errors > 0) {
        root_causes(trace, &keys, &mut causes);
    }
    let mut causes = causes.groups;
    causes.sort_by_key(|c| std::cmp::Reverse(c.traces));
    causes.truncate(MAX_CAUSES);
    let text = |sym| table.interner.text(sym).to_owned();
    let causes = causes
        .into_iter()
        .map(|c| RootCause {
            service: text(c.service),
            operation: text(c.name),
            error_type: c.error_type,
            message: c.message,
            traces: c.traces,
            example_trace_ids: c.examples,
        })
        .collect();
    analysis(
        window,
        &traces,
        causes,
        separating::separating(table, &traces),
    )
}

/// The answer over `traces` (those in scope).
fn analysis(
    window: Window,
    traces: &[&TraceEntry],
    root_causes: Vec<RootCause>,
    separation: Separation,
) -> ErrorAnalysis {
    ErrorAnalysis {
        window_seconds: window.seconds(traces.iter().map(|t| t.start).min()),
        traces: traces.len(),
        failing_traces: traces.iter().filter(|t| t.errors > 0).count(),
        root_causes,
        attributes: separation.attributes,
        too_few_failing_traces: separation.too_few_failing_traces,
        note: separation.note,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::store::StoredSpan;

    /// Span `n` of checkout `t`: `parent` its parent's number, `at` its start and end in
    /// milliseconds into the trace.
    fn span(
        t: u64,
        (n, parent): (u64, Option<u64>),
        (service, name): (&str, &str),
        attributes: &[(&str, &str)],
        at: (u64, u64),
        failed: bool,
    ) -> StoredSpan {
        let id = |n: u64| format!("{:016x}", (t + 1) * 16 + n);
        let base = 1_000_000_000_000 + t * 1_000_000_000;
        StoredSpan {
            trace_id: format!("{:032x}", t + 1),
            span_id: id(n),
            parent_span_id: parent.map_or_else(String::new, id),
            name: name.into(),
            kind: "SERVER".into(),
            start_unix_nanos: base + at.0 * 1_000_000,
            end_unix_nanos: base + at.1 * 1_000_000,
            status_code: if failed { "ERROR" } else { "UNSET" }.into(),
            status_message: String::new(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect(),
            events: vec![],
            links: vec![],
            resource: BTreeMap::from([("service.name".to_owned(), Value::from(service))]),
            scope_name: String::new(),
        }
    }

    /// 80 checkouts, the gold ones failing at checkout; each failing one then has inventory
    /// release the stock it reserved.
    fn shop() -> Table {
        let tiers = ["free", "silver", "gold", "platinum"];
        let mut spans = Vec::new();
        for t in 0..80 {
            let tier = tiers[(t % 4) as usize];
            let failed = tier == "gold";
            let user = [("tracedojo.user.tier", tier)];
            let front = ("frontend", "POST /api/checkout");
            spans.push(span(t, (0, None), front, &user, (0, 100), failed));
            let checkout = ("checkout", "POST /checkout");
            spans.push(span(t, (1, Some(0)), checkout, &[], (10, 50), failed));
            if failed {
                let release = ("inventory", "POST /reservations/{reservation_id}/release");
                let attributes = [("tracedojo.reservation.outcome", "released")];
                spans.push(span(t, (2, Some(1)), release, &attributes, (60, 70), false));
            }
        }
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(spans);
        table
    }

    #[test]
    fn the_handling_of_a_failure_is_not_a_separating_value() {
        let table = shop();
        let window = Window::last(u64::MAX / 2, 2_000_000_000_000);
        let analysis = errors(&table, window, &Scope::default());
        assert_eq!((analysis.traces, analysis.failing_traces), (80, 20));
        let causes: Vec<(&str, &str, usize)> = analysis
            .root_causes
            .iter()
            .map(|c| (c.service.as_str(), c.operation.as_str(), c.traces))
            .collect();
        assert_eq!(causes, [("checkout", "POST /checkout", 20)]);
        // The ranking reads each failing trace up to its first failure (checkout's, at 50 ms):
        // the release, started at 60 ms, is not counted.
        let rows: Vec<(&str, &str, usize)> = analysis
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str(), a.same_as.len()))
            .collect();
        assert_eq!(rows, [("tracedojo.user.tier", "gold", 0)], "{analysis:#?}");

        // Scoped to inventory: a trace is in scope by any of its spans, the release too (only
        // the ranking stops at the first failure); all 20 fail, so nothing separates them.
        let scope = Scope {
            service: Some("inventory".into()),
            ..Scope::default()
        };
        let analysis = errors(&table, window, &scope);
        assert_eq!((analysis.traces, analysis.failing_traces), (20, 20));
        assert!(analysis.attributes.is_empty(), "{analysis:#?}");
    }
}
