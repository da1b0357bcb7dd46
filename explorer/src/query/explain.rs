//! One trace in plain words, the facts: which request it was (the entry span), how long it
//! took against an objective, where the time went on the critical path, where the failure
//! began (`failure`), who the user was and what the database did (`db`). The sentences
//! that say it, in English and Japanese, are in [`words`]: these files decide what is true,
//! that one how to say it, so a client can also render the facts in its own way.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::hex_id;
use crate::store::attrs::{self, ValueRef};
use crate::store::intern::Sym;
use crate::store::table::{Kind, SpanId, SpanRow, Status, Table, TraceEntry};

use super::params::{BadParameter, ms};
use super::separating::id_named;
use super::trace;

mod db;
mod failure;
pub mod words;

/// The language of the sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// `lang`: `en` (the default) or `ja`.
    pub fn parse(text: Option<&str>) -> Result<Lang, BadParameter> {
        match text.map(str::trim) {
            None | Some("en") => Ok(Lang::En),
            Some("ja") => Ok(Lang::Ja),
            Some(other) => Err(BadParameter::new(
                "lang",
                format!("{other:?} is not a language of the explanation; give en or ja"),
            )),
        }
    }
}

/// What to explain in a trace.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The span whose subtree to explain; the trace's entry span when `None`.
    pub span: Option<SpanId>,
    /// The latency objective, in nanoseconds; when `None`, the one `objectives` gives the
    /// explained span's endpoint, if any.
    pub objective: Option<u64>,
    pub objectives: std::sync::Arc<Vec<LatencyObjective>>,
}

/// How long an endpoint's requests should take, as whoever runs the explorer says (`tracedojo
/// explore --objectives FILE`): one endpoint's (a span name of a service), or every endpoint
/// of a service (`operation: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyObjective {
    pub service: String,
    pub operation: Option<String>,
    pub threshold_nanos: u64,
}

/// The objective of `operation` of `service`: its own, else its service's.
pub fn objective_of(
    objectives: &[LatencyObjective],
    service: &str,
    operation: &str,
) -> Option<u64> {
    let find = |own: bool| {
        objectives.iter().find(|o| {
            o.service == service
                && match &o.operation {
                    Some(op) => own && op == operation,
                    None => !own,
                }
        })
    };
    find(true)
        .or_else(|| find(false))
        .map(|o| o.threshold_nanos)
}

/// Why there is nothing to explain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotInTrace {
    #[error("span {0} is not in this trace")]
    Span(String),
    #[error("the trace has no spans")]
    Empty,
}

/// The whole answer: the facts and the sentences that say them.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub trace_id: String,
    pub lang: Lang,
    pub summary: Vec<String>,
    #[serde(flatten)]
    pub facts: Facts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub entry: Entry,
    /// The entry span's duration: what the user waited.
    pub duration_ms: f64,
    /// The whole trace's, which may be longer (work done after the answer, a queue's consumer).
    pub trace_duration_ms: f64,
    pub objective: Option<Objective>,
    pub critical_path: CriticalPath,
    pub first_failure: Option<Failure>,
    pub outcome: Outcome,
    pub segment: Vec<SegmentValue>,
    pub db_hints: Vec<DbHint>,
}

/// How the request ended for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    /// The span's status is `ERROR`, or it answered a 5xx.
    Error,
    /// It answered a 4xx: not an error of the server's (semantic conventions leave a SERVER
    /// span's status unset then), but the user did not get what they asked for.
    Refused,
}

/// How the scope's top span was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chosen {
    /// The first SERVER span from the top: where the request entered the traced services.
    Server,
    /// The trace's main root, in a trace without SERVER spans.
    Root,
    /// The span the request named.
    Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub service: String,
    pub operation: String,
    pub span_id: String,
    pub kind: &'static str,
    pub http_method: Option<String>,
    pub http_route: Option<String>,
    pub http_status_code: Option<i64>,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub chosen_as: Chosen,
}

#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    pub threshold_ms: f64,
    pub met: bool,
    /// How far the duration went past the threshold; 0 when it was met.
    pub over_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CriticalPath {
    /// Each service's time on the path, largest first.
    pub services: Vec<ServiceTime>,
    /// The spans with the most time on the path, largest first (at most [`TOP_SPANS`]).
    pub spans: Vec<SpanTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceTime {
    pub service: String,
    pub ms: f64,
    /// Of the entry's duration.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpanTime {
    pub service: String,
    pub operation: String,
    pub span_id: String,
    pub ms: f64,
    pub share: f64,
}

/// Where the failure began.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub service: String,
    pub operation: String,
    pub span_id: String,
    pub kind: &'static str,
    pub status_code: &'static str,
    pub error_type: Option<String>,
    pub status_message: Option<String>,
    pub http_status_code: Option<i64>,
    pub exception: Option<Exception>,
    /// The span's last event that is not an exception (what it noted before it answered:
    /// "payment declined").
    pub last_event: Option<String>,
    /// The span answered a client error (4xx) and is not in error itself.
    pub refused: bool,
    /// The failing call whose callee this span is, when the failure began with the callee's
    /// answer rather than in the call.
    pub caller: Option<Caller>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exception {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    pub service: String,
    pub operation: String,
    pub span_id: String,
    pub error_type: Option<String>,
    pub http_status_code: Option<i64>,
}

/// An attribute that says who the user was, or the version a service ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentValue {
    pub key: String,
    pub value: String,
    /// The service whose resource holds the value (`service.version` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DbHint {
    /// The same query run [`REPEATED_QUERY`] times or more: the N+1 pattern.
    RepeatedQuery {
        service: String,
        query: String,
        count: usize,
        total_ms: f64,
    },
    /// A query (its runs summed) taking [`SLOW_QUERY_SHARE`] of the critical path or more.
    SlowQuery {
        service: String,
        query: String,
        count: usize,
        ms: f64,
        share: f64,
    },
    /// A query returning [`MANY_ROWS`] rows or more (`db.response.returned_rows`).
    ManyRows {
        service: String,
        query: String,
        span_id: String,
        rows: i64,
    },
}

pub const TOP_SPANS: usize = 5;
pub const REPEATED_QUERY: usize = 3;
pub const SLOW_QUERY_SHARE: f64 = 0.3;
pub const MANY_ROWS: i64 = 1000;
/// Longer segment values are not a segment (free text, a payload).
const SEGMENT_VALUE_MAX: usize = 64;

/// The explanation of `trace` in `lang`.
pub fn explain(
    table: &Table,
    trace: &TraceEntry,
    request: &Request,
    lang: Lang,
) -> Result<Explanation, NotInTrace> {
    let facts = facts(table, trace, request)?;
    Ok(Explanation {
        trace_id: hex_id(&trace.id),
        lang,
        summary: words::summary(&facts, lang),
        facts,
    })
}

/// The keys the facts read, looked up once (`None`: no stored span has the key).
struct Keys {
    http_method: [Option<Sym>; 2],
    http_route: [Option<Sym>; 1],
    http_status: [Option<Sym>; 2],
    db_system: [Option<Sym>; 2],
    db_query: [Option<Sym>; 2],
    db_rows: [Option<Sym>; 1],
    error_type: [Option<Sym>; 1],
    exception_type: [Option<Sym>; 1],
    exception_message: [Option<Sym>; 1],
    exception: Option<Sym>,
    service_version: [Option<Sym>; 1],
}

impl Keys {
    fn new(table: &Table) -> Keys {
        let key = |k: &str| table.interner.lookup(k);
        Keys {
            // The stable names first, then the older ones many applications still send.
            http_method: [key("http.request.method"), key("http.method")],
            http_route: [key("http.route")],
            http_status: [key("http.response.status_code"), key("http.status_code")],
            db_system: [key("db.system.name"), key("db.system")],
            db_query: [key("db.query.text"), key("db.statement")],
            db_rows: [key("db.response.returned_rows")],
            error_type: [key("error.type")],
            exception_type: [key("exception.type")],
            exception_message: [key("exception.message")],
            exception: key("exception"),
            service_version: [key("service.version")],
        }
    }
}

/// The first of `keys` that `buffer` holds.
fn first<'b>(buffer: &'b [u8], keys: &[Option<Sym>]) -> Option<ValueRef<'b>> {
    keys.iter()
        .flatten()
        .find_map(|&key| attrs::get(buffer, key))
}

fn text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Str(s) => s.to_owned(),
        other => other.to_json().to_string(),
    }
}

fn number(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Int(i) => Some(i),
        ValueRef::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One trace's spans with what the facts need of them.
struct Reader<'t> {
    table: &'t Table,
    spans: &'t [SpanRow],
    tree: trace::Tree,
    keys: Keys,
}

impl Reader<'_> {
    fn service(&self, i: usize) -> String {
        self.table.interner.text(self.spans[i].service).to_owned()
    }

    fn operation(&self, i: usize) -> String {
        self.table.interner.text(self.spans[i].name).to_owned()
    }

    fn attr(&self, i: usize, keys: &[Option<Sym>]) -> Option<ValueRef<'_>> {
        first(&self.spans[i].attrs, keys)
    }

    fn http_status(&self, i: usize) -> Option<i64> {
        self.attr(i, &self.keys.http_status).and_then(number)
    }

    /// The span's end, or its start when it "ended" before it began (clock skew).
    fn end(&self, i: usize) -> u64 {
        self.spans[i].end.max(self.spans[i].start)
    }

    /// The earliest to end, then to start, then to arrive.
    fn earliest(&self, candidates: impl Iterator<Item = usize>) -> Option<usize> {
        candidates.min_by_key(|&i| (self.end(i), self.spans[i].start, self.spans[i].seq))
    }

    fn resource_value(&self, i: usize, keys: &[Option<Sym>]) -> Option<String> {
        let resource = self.table.resource(self.spans[i].resource)?;
        first(&resource.attrs, keys).map(text)
    }

    /// For each span, whether a span below it satisfies `marks`.
    fn marked_below(&self, marks: impl Fn(usize) -> bool) -> Vec<bool> {
        let mut below = vec![false; self.spans.len()];
        // Waterfall order lists every parent before its descendants: walking it backwards
        // settles each subtree before its parent.
        for &(i, _, _) in self.tree.order.iter().rev() {
            if let Some(p) = self.tree.parent[i] {
                below[p] |= below[i] || marks(i);
            }
        }
        below
    }
}

/// The facts of `trace` for `request`.
pub fn facts(table: &Table, trace: &TraceEntry, request: &Request) -> Result<Facts, NotInTrace> {
    let spans = &trace.spans;
    let reader = Reader {
        table,
        spans,
        tree: trace::tree(spans),
        keys: Keys::new(table),
    };
    let (root, chosen_as) = match request.span {
        Some(id) => {
            let at = spans
                .iter()
                .position(|s| s.span_id == id)
                .ok_or_else(|| NotInTrace::Span(hex_id(&id)))?;
            (at, Chosen::Span)
        }
        None => match entry_server_span(&reader) {
            Some(at) => (at, Chosen::Server),
            None => (
                trace::main_root(spans, &reader.tree).ok_or(NotInTrace::Empty)?,
                Chosen::Root,
            ),
        },
    };
    let scope = subtree(&reader.tree, root);
    let duration = spans[root].duration();
    let share = |nanos: u64| {
        if duration == 0 {
            0.0
        } else {
            nanos as f64 / duration as f64
        }
    };

    let mut on_path = vec![0u64; spans.len()];
    for segment in trace::critical_path(spans, &reader.tree, root) {
        on_path[segment.span] += segment.end_unix_nanos - segment.start_unix_nanos;
    }
    let critical_path = critical_path(&reader, &scope, &on_path, &share);

    let outcome = outcome(&reader, root);
    let (version_of, first_failure) = match failure::first_failure(&reader, &scope, root, outcome) {
        Some((at, failure)) => (at, Some(failure)),
        None => (root, None),
    };
    let entry = Entry {
        service: reader.service(root),
        operation: reader.operation(root),
        span_id: hex_id(&spans[root].span_id),
        kind: spans[root].kind.name(),
        http_method: reader.attr(root, &reader.keys.http_method).map(text),
        http_route: reader.attr(root, &reader.keys.http_route).map(text),
        http_status_code: reader.http_status(root),
        duration_ms: ms(duration),
        outcome,
        chosen_as,
    };
    let objective = request
        .objective
        .or_else(|| objective_of(&request.objectives, &entry.service, &entry.operation));
    Ok(Facts {
        entry,
        duration_ms: ms(duration),
        trace_duration_ms: ms(trace.end.saturating_sub(trace.start)),
        objective: objective.map(|threshold| Objective {
            threshold_ms: ms(threshold),
            met: duration <= threshold,
            over_ms: ms(duration.saturating_sub(threshold)),
        }),
        critical_path,
        first_failure,
        outcome,
        segment: segment(&reader, root, version_of),
        db_hints: db::db_hints(&reader, &scope, &on_path, &share),
    })
}

/// The first SERVER span from the top: of the SERVER spans with no SERVER span above them,
/// the earliest. A request often starts at a client (a browser, a load generator, a job)
/// whose span is the root; the user's request is what the first service was asked.
fn entry_server_span(reader: &Reader<'_>) -> Option<usize> {
    let spans = reader.spans;
    let mut server_above = vec![false; spans.len()];
    for &(i, _, _) in &reader.tree.order {
        if let Some(p) = reader.tree.parent[i] {
            server_above[i] = server_above[p] || spans[p].kind == Kind::Server;
        }
    }
    (0..spans.len())
        .filter(|&i| spans[i].kind == Kind::Server && !server_above[i])
        .min_by_key(|&i| (spans[i].start, spans[i].seq))
}

/// `root` and every span below it.
fn subtree(tree: &trace::Tree, root: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    let mut seen = vec![false; tree.parent.len()];
    while let Some(span) = stack.pop() {
        if std::mem::replace(&mut seen[span], true) {
            continue;
        }
        out.push(span);
        stack.extend(tree.children[span].iter().copied());
    }
    out
}

fn critical_path(
    reader: &Reader<'_>,
    scope: &[usize],
    on_path: &[u64],
    share: &dyn Fn(u64) -> f64,
) -> CriticalPath {
    let mut by_service: BTreeMap<Sym, u64> = BTreeMap::new();
    for &i in scope.iter().filter(|&&i| on_path[i] > 0) {
        *by_service.entry(reader.spans[i].service).or_default() += on_path[i];
    }
    let mut services: Vec<(Sym, u64)> = by_service.into_iter().collect();
    services.sort_by_key(|&(_, nanos)| std::cmp::Reverse(nanos));
    let mut top: Vec<usize> = scope.iter().copied().filter(|&i| on_path[i] > 0).collect();
    top.sort_by_key(|&i| (std::cmp::Reverse(on_path[i]), reader.spans[i].start));
    top.truncate(TOP_SPANS);
    CriticalPath {
        services: services
            .into_iter()
            .map(|(service, nanos)| ServiceTime {
                service: reader.table.interner.text(service).to_owned(),
                ms: ms(nanos),
                share: share(nanos),
            })
            .collect(),
        spans: top
            .into_iter()
            .map(|i| SpanTime {
                service: reader.service(i),
                operation: reader.operation(i),
                span_id: hex_id(&reader.spans[i].span_id),
                ms: ms(on_path[i]),
                share: share(on_path[i]),
            })
            .collect(),
    }
}

fn outcome(reader: &Reader<'_>, span: usize) -> Outcome {
    let status = reader.http_status(span);
    if reader.spans[span].status == Status::Error || status.is_some_and(|c| c >= 500) {
        Outcome::Error
    } else if status.is_some_and(|c| (400..500).contains(&c)) {
        Outcome::Refused
    } else {
        Outcome::Ok
    }
}

/// Whether an attribute key describes the user: `user.*`, `enduser.*` or `*.user.*`, but not
/// who exactly (ids, names, e-mail addresses: a summary is pasted into chat threads) nor
/// the user agent.
fn describes_user(key: &str) -> bool {
    let about_user =
        key.starts_with("user.") || key.starts_with("enduser.") || key.contains(".user.");
    let last = key.rsplit('.').next().unwrap_or(key);
    let identifies = id_named(key)
        || matches!(
            last,
            "name" | "full_name" | "email" | "hash" | "phone" | "address"
        );
    about_user && !identifies && !key.starts_with("user_agent.")
}

/// The user's attributes on the entry span (or its resource), by key, then the version of
/// the service where the failure began (a bad release shows there), else of the entry's.
fn segment(reader: &Reader<'_>, entry: usize, version_of: usize) -> Vec<SegmentValue> {
    let interner = &reader.table.interner;
    let span = &reader.spans[entry];
    let resource = reader.table.resource(span.resource);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    // The resource first, so the span's own value wins.
    let buffers = resource
        .map(|r| &r.attrs[..])
        .into_iter()
        .chain([&span.attrs[..]]);
    for buffer in buffers {
        for (key, value) in attrs::iter(buffer) {
            let key = interner.text(key);
            if !describes_user(key) {
                continue;
            }
            let value = match value {
                ValueRef::Null => continue,
                other => text(other),
            };
            if value.chars().count() <= SEGMENT_VALUE_MAX {
                values.insert(key.to_owned(), value);
            }
        }
    }
    let mut segment: Vec<SegmentValue> = values
        .into_iter()
        .map(|(key, value)| SegmentValue {
            key,
            value,
            service: None,
        })
        .collect();
    if let Some(version) = reader.resource_value(version_of, &reader.keys.service_version) {
        segment.push(SegmentValue {
            key: "service.version".to_owned(),
            value: version,
            service: Some(reader.service(version_of)),
        });
    }
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_describe_a_segment_not_a_person() {
        for key in [
            "tracedojo.user.tier",
            "tracedojo.user.region",
            "tracedojo.user.company",
            "user.roles",
            "enduser.scope",
        ] {
            assert!(describes_user(key), "{key}");
        }
        for key in [
            "user.id",
            "enduser.id",
            "user.email",
            "user.name",
            "user.full_name",
            "user.hash",
            "app.user.id",
            "enduser.pseudo.id",
            "user_agent.original",
            "user_agent.synthetic.type",
            "http.route",
            "username",
        ] {
            assert!(!describes_user(key), "{key}");
        }
    }

    #[test]
    fn the_language_is_en_or_ja() {
        assert_eq!(Lang::parse(None), Ok(Lang::En));
        assert_eq!(Lang::parse(Some("ja")), Ok(Lang::Ja));
        let error = Lang::parse(Some("fr")).expect_err("no French");
        assert_eq!(error.parameter, "lang");
        assert!(error.message.contains("en or ja"), "{error}");
    }
}
