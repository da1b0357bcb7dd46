//! Trace search: the traces holding one span that meets every condition, newest first.
//!
//! Conditions with an index (service, name, error, attribute values) each give a sorted
//! list of candidate traces; the shortest list drives and the others are checked by binary
//! search. Block zone maps rule out time ranges and durations a block cannot hold; the
//! surviving traces' spans are then checked one by one, so the answer is exact whatever the
//! index says.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use crate::convert::hex_id;
use crate::store::attrs;
use crate::store::index;
use crate::store::intern::Sym;
use crate::store::table::{BLOCK, SpanRow, Status, Table, TraceEntry};

use super::namespace;
use super::params::ms;

/// What one span of a found trace must be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanConditions {
    pub service: Option<String>,
    pub operation: Option<String>,
    pub min_duration: Option<u64>,
    pub max_duration: Option<u64>,
    pub errors_only: bool,
    pub attributes: Vec<(String, String)>,
    /// The span's resource has this `service.namespace` (see [`super::namespace`]).
    pub namespace: Option<String>,
}

/// A search: span conditions, a time range the trace must overlap, whether the trace must
/// hold a failing span (any span, not only the one meeting the conditions), and a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub span: SpanConditions,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub failing: bool,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceCount {
    pub name: String,
    pub span_count: usize,
    pub error_count: usize,
}

/// One found trace, as the result list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: String,
    pub root_name: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub duration_ms: f64,
    pub span_count: usize,
    pub error_count: usize,
    pub services: Vec<ServiceCount>,
    pub matched_span_id: String,
}

/// Span conditions turned into symbols; `None` when some name is not in the store at all,
/// so nothing can match.
#[derive(Debug)]
pub struct Resolved<'q> {
    service: Option<Sym>,
    name: Option<Sym>,
    min_duration: u64,
    max_duration: u64,
    errors_only: bool,
    attributes: Vec<(Sym, &'q str)>,
    namespace: Option<(Sym, &'q str)>,
}

impl SpanConditions {
    pub fn resolve<'q>(&'q self, table: &Table) -> Option<Resolved<'q>> {
        let lookup = |text: &Option<String>| match text {
            None => Some(None),
            Some(text) => table.interner.lookup(text).map(Some),
        };
        Some(Resolved {
            service: lookup(&self.service)?,
            name: lookup(&self.operation)?,
            min_duration: self.min_duration.unwrap_or(0),
            max_duration: self.max_duration.unwrap_or(u64::MAX),
            errors_only: self.errors_only,
            attributes: self
                .attributes
                .iter()
                .map(|(key, value)| Some((table.interner.lookup(key)?, value.as_str())))
                .collect::<Option<Vec<_>>>()?,
            namespace: match &self.namespace {
                None => None,
                Some(wanted) => Some((table.interner.lookup(namespace::KEY)?, wanted.as_str())),
            },
        })
    }
}

impl Resolved<'_> {
    /// Whether `span` meets every condition.
    pub fn matches(&self, table: &Table, span: &SpanRow) -> bool {
        if self.service.is_some_and(|s| s != span.service)
            || self.name.is_some_and(|n| n != span.name)
            || (self.errors_only && span.status != Status::Error)
        {
            return false;
        }
        let duration = span.duration();
        if duration < self.min_duration || duration > self.max_duration {
            return false;
        }
        // The resource's only: a span attribute of that name says nothing of who sent it.
        if let Some((key, wanted)) = self.namespace
            && !namespace::resource_has(table, span.resource, key, wanted)
        {
            return false;
        }
        // API.md: "the span (or its resource) has this attribute with this value". A span's
        // own value of the key does not hide its resource's (the index holds both).
        self.attributes.iter().all(|&(key, wanted)| {
            attrs::get(&span.attrs, key).is_some_and(|value| value.matches(wanted))
                || table
                    .resource(span.resource)
                    .and_then(|r| attrs::get(&r.attrs, key))
                    .is_some_and(|value| value.matches(wanted))
        })
    }

    /// The index keys of the indexed conditions.
    fn index_keys(&self) -> Vec<u64> {
        let mut keys = Vec::new();
        keys.extend(self.service.map(index::service_key));
        keys.extend(self.name.map(index::name_key));
        if self.errors_only {
            keys.push(index::error_key());
        }
        for &(key, value) in self.attributes.iter().chain(&self.namespace) {
            keys.extend(index::attr_filter_key(key, value));
        }
        keys
    }
}

/// Finds traces, newest first.
pub fn search(table: &Table, query: &Search) -> Vec<TraceSummary> {
    let Some(conditions) = query.span.resolve(table) else {
        return Vec::new();
    };
    let start = query.start.unwrap_or(0);
    let end = query.end.unwrap_or(u64::MAX);
    let mut lists: Vec<&VecDeque<u64>> = Vec::new();
    // The error postings list is per trace: it holds exactly the traces with a failing span.
    let trace_keys = query.failing.then(index::error_key);
    for key in conditions.index_keys().into_iter().chain(trace_keys) {
        match table.index.list(key) {
            Some(list) => lists.push(list),
            None => return Vec::new(),
        }
    }
    lists.sort_by_key(|list| list.len());

    let block_can_match = |seq: u64| {
        table.block_of(seq).is_none_or(|block| {
            block.max_end >= start
                && block.min_start <= end
                && block.max_duration >= conditions.min_duration
        })
    };
    let mut found = Vec::new();
    let consider = |seq: u64, found: &mut Vec<TraceSummary>| {
        let Some(trace) = table.trace_by_seq(seq) else {
            return;
        };
        if trace.end < start || trace.start > end || (query.failing && trace.errors == 0) {
            return;
        }
        if let Some(span) = trace.spans.iter().find(|s| conditions.matches(table, s)) {
            found.push(summary(table, trace, span));
        }
    };

    match lists.split_first() {
        Some((driver, others)) => {
            for &seq in driver.iter().rev() {
                if found.len() >= query.limit {
                    break;
                }
                if others.iter().all(|l| l.binary_search(&seq).is_ok()) && block_can_match(seq) {
                    consider(seq, &mut found);
                }
            }
        }
        None => {
            // No indexed condition: walk every trace, a block at a time.
            let first = table.traces().next().map_or(0, |(seq, _)| seq);
            let mut seq = table.end_seq();
            while seq > first && found.len() < query.limit {
                let block_start = ((seq - 1) / BLOCK * BLOCK).max(first);
                if block_can_match(seq - 1) {
                    for s in (block_start..seq).rev() {
                        if found.len() >= query.limit {
                            break;
                        }
                        consider(s, &mut found);
                    }
                }
                seq = block_start;
            }
        }
    }
    found
}

/// The result-list form of a trace; `matched` is the span that met the conditions.
pub fn summary(table: &Table, trace: &TraceEntry, matched: &SpanRow) -> TraceSummary {
    let root = trace.root();
    let text = |sym: Option<Sym>| sym.map_or(String::new(), |s| table.interner.text(s).to_owned());
    // A map, not a list searched per span: a trace whose spans each name their own
    // service made that quadratic.
    let mut by_service: HashMap<Sym, (usize, usize)> = HashMap::new();
    for span in &trace.spans {
        let entry = by_service.entry(span.service).or_default();
        entry.0 += 1;
        entry.1 += usize::from(span.status == Status::Error);
    }
    let mut services: Vec<ServiceCount> = by_service
        .into_iter()
        .map(|(sym, (span_count, error_count))| ServiceCount {
            name: table.interner.text(sym).to_owned(),
            span_count,
            error_count,
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let duration = trace.end.saturating_sub(trace.start);
    TraceSummary {
        trace_id: hex_id(&trace.id),
        root_service: text(root.map(|r| r.service)),
        root_name: text(root.map(|r| r.name)),
        start_unix_nanos: trace.start,
        duration_nanos: duration,
        duration_ms: ms(duration),
        span_count: trace.spans.len(),
        error_count: trace.errors as usize,
        services,
        matched_span_id: hex_id(&matched.span_id),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::*;
    use crate::store::StoredSpan;

    fn span(trace: u64, id: u64, attributes: Value, resource: Value) -> StoredSpan {
        let map = |value: Value| match value {
            Value::Object(map) => map.into_iter().collect::<BTreeMap<_, _>>(),
            _ => panic!("a map"),
        };
        StoredSpan {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{id:016x}"),
            parent_span_id: String::new(),
            name: "op".into(),
            kind: "SERVER".into(),
            start_unix_nanos: 10,
            end_unix_nanos: 20,
            status_code: "UNSET".into(),
            status_message: String::new(),
            attributes: map(attributes),
            events: vec![],
            links: vec![],
            resource: map(resource),
            scope_name: String::new(),
        }
    }

    fn find(table: &Table, key: &str, value: &str) -> Vec<String> {
        let query = Search {
            span: SpanConditions {
                attributes: vec![(key.into(), value.into())],
                ..SpanConditions::default()
            },
            start: None,
            end: None,
            failing: false,
            limit: 10,
        };
        search(table, &query)
            .into_iter()
            .map(|t| t.matched_span_id)
            .collect()
    }

    /// API.md: "the span (or its resource) has this attribute with this value". The span's
    /// own `k` used to hide its resource's, though the index listed the trace under both.
    #[test]
    fn a_span_attribute_does_not_hide_its_resources() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![span(1, 1, json!({"k": 0}), json!({"k": true}))]);
        assert_eq!(find(&table, "k", "0"), [format!("{:016x}", 1)]);
        assert_eq!(find(&table, "k", "true"), [format!("{:016x}", 1)]);
        assert!(find(&table, "k", "false").is_empty());
    }

    /// Integers match as the index writes them: `+5` used to match 5 when some other span of
    /// the trace put the trace in the index under the text `+5`, and not otherwise.
    #[test]
    fn integers_match_only_as_written() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![
            span(1, 1, json!({"n": 5}), json!({})),
            span(1, 2, json!({"n": "+5"}), json!({})),
            span(2, 3, json!({"n": 5}), json!({})),
        ]);
        assert_eq!(find(&table, "n", "+5"), [format!("{:016x}", 2)]);
        assert_eq!(
            find(&table, "n", "5"),
            [format!("{:016x}", 3), format!("{:016x}", 1)]
        );
        assert!(find(&table, "n", "05").is_empty());
    }
}
