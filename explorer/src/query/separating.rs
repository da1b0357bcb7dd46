//! Which attribute values separate failing traces from succeeding ones ("only gold users",
//! "only version 2.1.0"): the `attributes` of the error analysis.
//!
//! A ranking that leads a person to the answer needs more than an error rate per value:
//!
//! 1. **Causes, not consequences** ([`request_spans`]): a failing trace is read only up to
//!    its first failure. A checkout that fails releases the stock it reserved; that release
//!    span exists because the request failed, so it separates failing traces perfectly and
//!    says nothing about why. Calls made after the first failure by the spans that could know
//!    of it describe how it was handled (compensations, retries, error logging) and are not
//!    counted for that trace.
//! 2. **Counting** (`count_values`): one pass over the traces in scope counts, for every
//!    short attribute value of the spans that describe their requests and of those spans'
//!    resources, the traces and failing traces that have it, and for every key the traces
//!    that carry it and its distinct values.
//! 3. **No identifiers** ([`is_identifier`]): per-request and per-process identifiers (user
//!    ids, order references, instance ids, full URLs with ports) are left out. A user id seen
//!    in two of three failing traces is luck, not an answer.
//! 4. **Support** ([`supported`]): a value must be in enough failing traces, a fair share of
//!    them, and its error rate must be above the rate without it by more than chance allows
//!    (Wilson score bounds). Below [`MIN_FAILING_TRACES`] failing traces nothing is ranked and
//!    the answer says so ([`too_few_note`]).
//! 5. **One row for one fact** (`group_same_facts`): the checkout route is `/api/checkout`
//!    at the frontend, `/checkout` at checkout, and again as `url.path`; values that mark
//!    (almost) the same traces are one row, under the most readable key (`readability`),
//!    the others listed in `same_as`. Only the best candidates are compared, so the cost stays
//!    linear in the spans read.
//! 6. **The narrowest of nested facts** (`coarser`): a row that holds a narrower row's traces
//!    and more, and fails (almost) only where it does (`http.request.method=POST` around the
//!    checkout route, a value in almost every trace around the bad release's version), is
//!    left out.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use serde::Serialize;

use crate::store::attrs::{self, ValueRef};
use crate::store::index::{self, PassThrough};
use crate::store::intern::Sym;
use crate::store::table::{Status, Table, TraceEntry};

use super::trace::tree;

/// Below this many failing traces in scope, no value is ranked: with three failures, any
/// value two of them share looks like the cause.
pub const MIN_FAILING_TRACES: usize = 4;
/// A ranked value is in at least this share of the failing traces: one that explains a
/// twentieth of the failures is not what separates them.
const MIN_FAILING_SHARE: f64 = 0.1;
/// The normal quantile of the Wilson score bounds (95 % two-sided).
const Z: f64 = 1.96;
/// Attribute values longer than this are ids or texts, not segments.
const MAX_VALUE_LEN: usize = 64;
const MAX_ATTRIBUTES: usize = 20;
/// How many of the best-scoring values are compared with each other for grouping: enough to
/// fill the rows after synonyms collapse, few enough that comparing them all is cheap.
const GROUP_CANDIDATES: usize = 50;
/// Two values are one fact when the traces having either are at least this much the same
/// (Jaccard index: traces with both over traces with either).
const SAME_FACT: f64 = 0.9;
/// A narrower value covers a wider one when at least this share of its traces have the wider
/// value and it has at least this share of the wider value's failing traces.
const COVERS: f64 = 0.9;
/// A key named like an id (`user.id`, `order_id`, `tracedojo.order.ref`) with more distinct
/// values than this in scope is an identifier; with fewer it names a segment (one of a
/// handful of products, tenants or hosts).
const ID_MAX_DISTINCT: usize = 20;
/// Any key with more distinct values than this, and more than one value per two traces
/// carrying it, is an identifier whatever its name (order references, amounts, timestamps).
const MANY_DISTINCT: usize = 20;

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

/// Keys that hold a per-request or per-process identifier whatever their values: a full URL
/// carries the port and query, an instance id or pid changes with every restart (the process
/// is named by `service.name` and `service.version`).
const IDENTIFIER_KEYS: &[&str] = &[
    "url.full",
    "url.query",
    "http.url",
    "http.target",
    "service.instance.id",
    "process.pid",
    "process.parent_pid",
    "thread.id",
    "trace_id",
    "span_id",
    "trace.id",
    "span.id",
];

/// Header and metadata keys: request ids, cookies, credentials and trace context.
const IDENTIFIER_PREFIXES: &[&str] = &[
    "http.request.header.",
    "http.response.header.",
    "rpc.grpc.request.metadata.",
    "rpc.grpc.response.metadata.",
];

/// Keys that name the operation: the most readable spelling of a route.
const OPERATION_KEYS: &[&str] = &["http.route", "url.template", "rpc.method", "rpc.service"];

/// Keys of the transport and the process, which repeat what a route or a service name says
/// in a rawer form.
const PLUMBING_PREFIXES: &[&str] = &[
    "url.",
    "server.",
    "client.",
    "network.",
    "net.",
    "http.request.method",
    "http.method",
    "service.name",
    "service.peer.",
    "peer.service",
    "host.",
    "process.",
    "os.",
    "telemetry.",
    "user_agent.",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SameValue {
    pub key: String,
    pub value: String,
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
    /// Other attribute values that mark (almost) the same traces: the same fact spelled
    /// another way (`url.path=/checkout` beside `http.route=/checkout`).
    pub same_as: Vec<SameValue>,
}

/// The ranking, and whether there were failures enough to make one.
#[derive(Debug, Clone, Default)]
pub struct Separation {
    pub attributes: Vec<SeparatingAttribute>,
    pub too_few_failing_traces: bool,
    /// Plain English for a person when the ranking is empty for want of failures; else "".
    pub note: String,
}

/// Ranks the attribute values that separate the failing `traces` from the others.
pub fn separating(table: &Table, traces: &[&TraceEntry]) -> Separation {
    let described: Vec<Described> = traces.iter().map(|t| request_spans(t)).collect();
    let counts = count_values(table, traces, &described);
    let failing = counts.failing;
    if let Some(note) = too_few_note(failing) {
        return Separation {
            attributes: Vec::new(),
            too_few_failing_traces: true,
            note,
        };
    }
    let identifiers: Vec<bool> = counts
        .keys
        .iter()
        .enumerate()
        .map(|(sym, k)| {
            k.traces > 0
                && is_identifier(table.interner.text(Sym(sym as u32)), k.distinct, k.traces)
        })
        .collect();
    // Strings only for the values that pass: most values of a large window are identifiers
    // or seen in no failing trace.
    let mut candidates: Vec<(u64, Sym, SeparatingAttribute)> = counts
        .values
        .into_iter()
        .filter(|(_, v)| !identifiers[v.key.0 as usize])
        .filter_map(|(hash, v)| {
            let text = || table.interner.text(v.key).to_owned();
            separation(text, v.value, v.failing, v.total, failing, traces.len())
                .map(|a| (hash, v.key, a))
        })
        .collect();
    candidates.sort_by(|a, b| ranking(&a.2, &b.2));
    candidates.truncate(GROUP_CANDIDATES);
    let sets = trace_sets(table, traces, &described, &candidates);
    let attributes: Vec<SeparatingAttribute> = candidates.into_iter().map(|c| c.2).collect();
    let groups = group_same_facts(&sets);
    let leads: Vec<usize> = groups.iter().map(|m| lead(&attributes, m)).collect();
    let coarse = coarser(&sets, &leads, &failing_set(traces));
    let mut rows: Vec<SeparatingAttribute> = groups
        .iter()
        .zip(coarse)
        .filter(|(_, coarse)| !coarse)
        .map(|(members, _)| one_row(&attributes, members))
        .collect();
    rows.sort_by(ranking);
    rows.truncate(MAX_ATTRIBUTES);
    Separation {
        attributes: rows,
        too_few_failing_traces: false,
        note: String::new(),
    }
}

/// Most separating first; ties by the failures explained, then by name, so the order is the
/// same on every call.
fn ranking(a: &SeparatingAttribute, b: &SeparatingAttribute) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.failing_with.cmp(&a.failing_with))
        .then(a.key.cmp(&b.key))
        .then(a.value.cmp(&b.value))
}

/// Why nothing is ranked when there are fewer than [`MIN_FAILING_TRACES`] failing traces;
/// `None` when there are enough.
pub fn too_few_note(failing: usize) -> Option<String> {
    let needed = MIN_FAILING_TRACES;
    match failing {
        0 => Some(format!(
            "no failing traces in the window; at least {needed} are needed to tell which attribute separates them"
        )),
        1 => Some(format!(
            "only 1 failing trace in the window; at least {needed} are needed to tell which attribute separates them"
        )),
        n if n < needed => Some(format!(
            "only {n} failing traces in the window; at least {needed} are needed to tell which attribute separates them"
        )),
        _ => None,
    }
}

/// Which of a trace's spans describe its request, by position in `trace.spans`: `None` when
/// all of them do.
pub type Described = Option<Vec<bool>>;

/// The spans of `trace` that describe its request rather than the handling of its failure.
///
/// A trace without a failure: all of them (`None`). A failing trace is cut at its first
/// failure: the earliest end of a span in error. A span's status is known when it ends, so
/// before that moment nothing in the trace could react to a failure. The earliest end of any
/// span in error, not only of the root causes (error spans none of whose descendants
/// failed): a caller that gave up waiting (a timeout) failed before its callee did, and its
/// retry is handling too. Not the earliest start of a span in error: the root span is in error
/// whenever the failure reaches it, and it starts first.
///
/// What comes after that moment is handling only where the failure could be known: the spans
/// of a call made after it by the span that failed first or one of its ancestors (checkout
/// releasing the stock it reserved once its payment call failed, a retry, the error written
/// down), with everything below them. Everything else counts, the failing span and its
/// ancestors included whatever their clocks say: the spans started by then, and the far side
/// of a call made before it from another branch, which cannot know of it (a product page asks
/// catalog and recommendation at once; catalog fails at once, and recommendation's own span,
/// starting a moment later, still answers a question asked before anything failed). A span
/// whose parent is not in the trace counts when it started by the first failure.
///
/// What it cannot tell: a span whose own code failed, with no failing span inside it, is
/// known to have failed only when it ends, so whatever it started before answering (a
/// compensation too) counts.
pub fn request_spans(trace: &TraceEntry) -> Described {
    if trace.errors == 0 {
        return None;
    }
    let spans = &trace.spans;
    let (first, failed_at) = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == Status::Error)
        .map(|(i, s)| (i, s.end.max(s.start)))
        .min_by_key(|&(i, at)| (at, i))?;
    if spans.iter().all(|s| s.start <= failed_at) {
        return None;
    }
    let tree = tree(spans);
    // The span that failed first and its ancestors: the spans that can learn of the failure.
    let mut knows = vec![false; spans.len()];
    let mut at = Some(first);
    while let Some(i) = at.filter(|&i| !knows[i]) {
        knows[i] = true;
        at = tree.parent[i];
    }
    #[derive(Clone, Copy)]
    enum Part {
        Request,
        Handling,
        /// Below a span whose parent is not in the trace: its own start decides.
        Detached,
    }
    let mut part = vec![Part::Detached; spans.len()];
    let mut described = vec![true; spans.len()];
    // Waterfall order: every parent before its children.
    for &(i, _, _) in &tree.order {
        part[i] = match tree.parent[i] {
            _ if knows[i] => Part::Request,
            None => Part::Detached,
            Some(p) if knows[p] && spans[i].start > failed_at => Part::Handling,
            Some(p) if knows[p] => Part::Request,
            Some(p) => part[p],
        };
        described[i] = match part[i] {
            Part::Request => true,
            Part::Handling => false,
            Part::Detached => spans[i].start <= failed_at,
        };
    }
    Some(described)
}

/// Whether span `i` of a trace counts, given the trace's [`request_spans`].
fn describes(described: &Described, i: usize) -> bool {
    described.as_ref().is_none_or(|d| d[i])
}

/// Map keys that are already hashes ([`index::attr_key`]): hashing them again would only
/// cost time, on a path that runs for every attribute of every span in the window.
type ByHash<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

struct ValueCount<'t> {
    key: Sym,
    /// Borrowed from the table: made a string only if the value is ranked.
    value: ValueRef<'t>,
    total: usize,
    failing: usize,
}

#[derive(Default, Clone)]
struct KeyCount {
    /// Traces carrying the key (with any value).
    traces: usize,
    /// Distinct short values of the key.
    distinct: usize,
    /// The last trace (its position + 1) counted in `traces`.
    last: usize,
}

struct Counts<'t> {
    /// By [`index::attr_key`] of the key and value.
    values: ByHash<ValueCount<'t>>,
    /// By the key's symbol: a vector, not a map, as it is read once per value per trace.
    keys: Vec<KeyCount>,
    failing: usize,
}

/// Counts every short attribute value of the traces' spans that describe their requests
/// (`described`, by trace) and of those spans' resources, once per trace.
fn count_values<'t>(
    table: &'t Table,
    traces: &[&'t TraceEntry],
    described: &[Described],
) -> Counts<'t> {
    let outcome: Vec<Sym> = OUTCOME_KEYS
        .iter()
        .filter_map(|k| table.interner.lookup(k))
        .collect();
    let mut counts = Counts {
        values: ByHash::default(),
        keys: Vec::new(),
        failing: 0,
    };
    // Sets, not lists searched per value: a trace of many distinct values (or resources)
    // made those searches quadratic in the trace.
    let mut seen: HashSet<u64, BuildHasherDefault<PassThrough>> = HashSet::default();
    let mut resources: HashSet<u32> = HashSet::new();
    for (at, trace) in traces.iter().enumerate() {
        let failed = trace.errors > 0;
        counts.failing += usize::from(failed);
        seen.clear();
        resources.clear();
        let mut note = |key: Sym, value: ValueRef<'t>| {
            if outcome.contains(&key) {
                return;
            }
            let Some(k) = value_hash(key, value) else {
                return;
            };
            if !seen.insert(k) {
                return;
            }
            let slot = key.0 as usize;
            if slot >= counts.keys.len() {
                counts.keys.resize(slot + 1, KeyCount::default());
            }
            let stats = &mut counts.keys[slot];
            if stats.last != at + 1 {
                stats.last = at + 1;
                stats.traces += 1;
            }
            let count = counts.values.entry(k).or_insert_with(|| {
                stats.distinct += 1;
                ValueCount {
                    key,
                    value,
                    total: 0,
                    failing: 0,
                }
            });
            count.total += 1;
            count.failing += usize::from(failed);
        };
        for (i, span) in trace.spans.iter().enumerate() {
            if !describes(&described[at], i) {
                continue;
            }
            for (key, value) in attrs::iter(&span.attrs) {
                note(key, value);
            }
            if resources.insert(span.resource)
                && let Some(resource) = table.resource(span.resource)
            {
                for (key, value) in attrs::iter(&resource.attrs) {
                    note(key, value);
                }
            }
        }
    }
    counts
}

/// The value's identity, or `None` for a value that cannot name a segment: long strings
/// (texts, ids), doubles, arrays and maps.
fn value_hash(key: Sym, value: ValueRef<'_>) -> Option<u64> {
    let short = match value {
        ValueRef::Str(s) => s.len() <= MAX_VALUE_LEN,
        ValueRef::Int(_) | ValueRef::Bool(_) => true,
        _ => false,
    };
    if short {
        index::attr_key(key, value)
    } else {
        None
    }
}

/// Whether `key` holds per-request or per-process identifiers rather than segments: a key of
/// the fixed lists (full URLs, queries, ports, headers, instance ids, pids, trace ids); a key
/// named like an id with more than [`ID_MAX_DISTINCT`] values; or any key with more than
/// [`MANY_DISTINCT`] values and more than one value per two traces that carry it.
pub fn is_identifier(key: &str, distinct: usize, traces: usize) -> bool {
    IDENTIFIER_KEYS.contains(&key)
        || IDENTIFIER_PREFIXES.iter().any(|p| key.starts_with(p))
        || key.ends_with(".port")
        || (id_named(key) && distinct > ID_MAX_DISTINCT)
        || (distinct > MANY_DISTINCT && distinct * 2 > traces)
}

/// Whether the key's last word is an id: `user.id`, `order_id`, `x-request-id`, `orderId`,
/// `tracedojo.order.ref`, `session.uuid`.
pub(super) fn id_named(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    let lower = last.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "id" | "ids" | "ref" | "uuid" | "guid" | "pid" | "key"
    ) || ["_id", "-id", "_ref", "-ref", "_uuid", "_key"]
        .iter()
        .any(|suffix| lower.ends_with(suffix))
        || (last.ends_with("Id") && last.len() > 2)
}

/// The value's row, when it separates: seen in some but not all traces, above the rate
/// without it, and [`supported`]. The key's text is asked for only then.
fn separation(
    key: impl FnOnce() -> String,
    value: ValueRef<'_>,
    failing_with: usize,
    total_with: usize,
    failing: usize,
    traces: usize,
) -> Option<SeparatingAttribute> {
    if total_with >= traces || failing_with == 0 {
        return None;
    }
    let failing_without = failing - failing_with;
    let total_without = traces - total_with;
    if !supported(failing_with, total_with, failing_without, total_without) {
        return None;
    }
    let rate_with = failing_with as f64 / total_with as f64;
    let rate_without = failing_without as f64 / total_without as f64;
    let coverage = failing_with as f64 / failing.max(1) as f64;
    Some(SeparatingAttribute {
        key: key(),
        value: match value {
            ValueRef::Str(s) => s.to_owned(),
            other => other.to_json().to_string(),
        },
        failing_with,
        total_with,
        error_rate_with: rate_with,
        failing_without,
        total_without,
        error_rate_without: rate_without,
        score: (rate_with - rate_without) * coverage,
        same_as: Vec::new(),
    })
}

/// Whether a value has the support to be ranked: in at least [`MIN_FAILING_TRACES`] failing
/// traces and [`MIN_FAILING_SHARE`] of them, and the lower Wilson bound of its error rate
/// above the upper bound of the rate without it (the difference is not chance).
pub fn supported(
    failing_with: usize,
    total_with: usize,
    failing_without: usize,
    total_without: usize,
) -> bool {
    let failing = failing_with + failing_without;
    failing_with >= MIN_FAILING_TRACES
        && failing_with as f64 >= MIN_FAILING_SHARE * failing as f64
        && wilson(failing_with, total_with).0 > wilson(failing_without, total_without).1
}

/// The Wilson score interval of `k` successes in `n` trials: (lower, upper). It stays within
/// [0, 1] and is wide for small `n`, which is what keeps 2 of 2 from beating 40 of 50.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let scale = 1.0 + z2 / n;
    (
        ((centre - spread) / scale).max(0.0),
        ((centre + spread) / scale).min(1.0),
    )
}

/// A set of trace positions.
#[derive(Debug, Clone)]
struct TraceSet(Vec<u64>);

impl TraceSet {
    fn new(traces: usize) -> TraceSet {
        TraceSet(vec![0; traces.div_ceil(64)])
    }

    fn insert(&mut self, at: usize) {
        self.0[at / 64] |= 1 << (at % 64);
    }

    fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Traces in both.
    fn both(&self, other: &TraceSet) -> usize {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// Traces in all three.
    fn both_of(&self, other: &TraceSet, third: &TraceSet) -> usize {
        self.0
            .iter()
            .zip(&other.0)
            .zip(&third.0)
            .map(|((a, b), c)| (a & b & c).count_ones() as usize)
            .sum()
    }

    /// Traces in both over traces in either (1 for two empty sets).
    fn jaccard(&self, other: &TraceSet) -> f64 {
        let (both, either) = self
            .0
            .iter()
            .zip(&other.0)
            .fold((0, 0), |(both, either), (a, b)| {
                (
                    both + (a & b).count_ones() as usize,
                    either + (a | b).count_ones() as usize,
                )
            });
        if either == 0 {
            1.0
        } else {
            both as f64 / either as f64
        }
    }
}

/// The traces having each candidate value: a second pass over the traces, reading only the
/// attributes whose key some candidate has, of the same spans as the first.
fn trace_sets(
    table: &Table,
    traces: &[&TraceEntry],
    described: &[Described],
    candidates: &[(u64, Sym, SeparatingAttribute)],
) -> Vec<TraceSet> {
    let mut sets = vec![TraceSet::new(traces.len()); candidates.len()];
    if candidates.is_empty() {
        return sets;
    }
    let by_hash: ByHash<usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, (hash, _, _))| (*hash, i))
        .collect();
    // Whether some candidate has the key, by symbol: most attributes are skipped unhashed.
    let mut wanted: Vec<bool> = Vec::new();
    for (_, key, _) in candidates {
        let slot = key.0 as usize;
        if slot >= wanted.len() {
            wanted.resize(slot + 1, false);
        }
        wanted[slot] = true;
    }
    let mut resources: HashSet<u32> = HashSet::new();
    for (at, trace) in traces.iter().enumerate() {
        resources.clear();
        let mut mark = |key: Sym, value: ValueRef<'_>| {
            if !wanted.get(key.0 as usize).copied().unwrap_or(false) {
                return;
            }
            if let Some(&i) = value_hash(key, value).and_then(|h| by_hash.get(&h)) {
                sets[i].insert(at);
            }
        };
        for (i, span) in trace.spans.iter().enumerate() {
            if !describes(&described[at], i) {
                continue;
            }
            for (key, value) in attrs::iter(&span.attrs) {
                mark(key, value);
            }
            if resources.insert(span.resource)
                && let Some(resource) = table.resource(span.resource)
            {
                for (key, value) in attrs::iter(&resource.attrs) {
                    mark(key, value);
                }
            }
        }
    }
    sets
}

/// Groups the candidates (best first) whose trace sets are at least [`SAME_FACT`] alike: each
/// joins the first group whose first member it matches, or starts a group. Comparing with
/// first members only keeps it to candidates × groups comparisons.
fn group_same_facts(sets: &[TraceSet]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| sets[g[0]].jaccard(set) >= SAME_FACT)
        {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// The failing traces' positions.
fn failing_set(traces: &[&TraceEntry]) -> TraceSet {
    let mut set = TraceSet::new(traces.len());
    for (at, trace) in traces.iter().enumerate() {
        if trace.errors > 0 {
            set.insert(at);
        }
    }
    set
}

/// Which rows (groups, by their leads' trace sets) are a coarser form of another row: a
/// narrower row's traces are nearly all among theirs ([`COVERS`]), it has nearly all their
/// failing traces, and their traces outside it fail clearly less often than it does (the
/// Wilson bounds part). `http.request.method=POST` holds the checkout route's traces and the
/// cart's, which never fail; `network.protocol.version=1.1`, in almost every trace, fails
/// where catalog 9.9.9 does and hardly elsewhere. Such a row only dilutes the narrower one:
/// it is left out. A region whose users of every language fail alike stays beside the one
/// language most of them speak: outside that language it fails as often. Compared with every
/// other row, so the cost is rows² set comparisons, rows being at most [`GROUP_CANDIDATES`].
fn coarser(sets: &[TraceSet], leads: &[usize], failing: &TraceSet) -> Vec<bool> {
    let rows: Vec<(&TraceSet, usize, usize)> = leads
        .iter()
        .map(|&l| (&sets[l], sets[l].len(), sets[l].both(failing)))
        .collect();
    rows.iter()
        .enumerate()
        .map(|(b, &(wide, wide_len, wide_failing))| {
            rows.iter()
                .enumerate()
                .any(|(a, &(narrow, narrow_len, narrow_failing))| {
                    if a == b || narrow_len >= wide_len {
                        return false;
                    }
                    let both = narrow.both(wide);
                    let both_failing = narrow.both_of(wide, failing);
                    let (outside, outside_failing) = (wide_len - both, wide_failing - both_failing);
                    both as f64 >= COVERS * narrow_len as f64
                        && both_failing as f64 >= COVERS * wide_failing as f64
                        && wilson(outside_failing, outside).1 < wilson(narrow_failing, narrow_len).0
                })
        })
        .collect()
}

/// The most readable member of a group, whose counts its row shows.
fn lead(attributes: &[SeparatingAttribute], members: &[usize]) -> usize {
    *members
        .iter()
        .min_by(|&&a, &&b| {
            let (a, b) = (&attributes[a], &attributes[b]);
            readability(&a.key)
                .cmp(&readability(&b.key))
                .then(operation_rank(&a.key).cmp(&operation_rank(&b.key)))
                .then(b.score.total_cmp(&a.score))
                .then(a.value.len().cmp(&b.value.len()))
                .then(a.key.cmp(&b.key))
                .then(a.value.cmp(&b.value))
        })
        .expect("a group has members")
}

/// A group's row: its most readable member ([`lead`]), with the others in `same_as`.
fn one_row(attributes: &[SeparatingAttribute], members: &[usize]) -> SeparatingAttribute {
    let lead = lead(attributes, members);
    let mut row = attributes[lead].clone();
    row.same_as = members
        .iter()
        .filter(|&&i| i != lead)
        .map(|&i| SameValue {
            key: attributes[i].key.clone(),
            value: attributes[i].value.clone(),
        })
        .collect();
    row
}

/// Among operation keys, the server's own route first (`http.route` before a caller's
/// `url.template`); other keys after them.
fn operation_rank(key: &str) -> usize {
    OPERATION_KEYS
        .iter()
        .position(|k| *k == key)
        .unwrap_or(OPERATION_KEYS.len())
}

/// How well a key says what it means to a person, lower first: the operation's name
/// (`http.route`), then any key of the application or the semantic conventions, then the
/// transport's and process's spellings (`url.path`, `server.address`, `service.name`).
fn readability(key: &str) -> u8 {
    if OPERATION_KEYS.contains(&key) {
        0
    } else if PLUMBING_PREFIXES.iter().any(|p| key.starts_with(p)) {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::store::StoredSpan;

    /// A span of trace `trace` with string attributes, `user.id` on its resource too.
    fn span(
        trace: u64,
        n: u64,
        service: &str,
        attributes: &[(&str, &str)],
        failed: bool,
    ) -> StoredSpan {
        let text = |pairs: &[(&str, &str)]| -> BTreeMap<String, Value> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect()
        };
        StoredSpan {
            // Ids from 1: the all-zero id is not a trace.
            trace_id: format!("{:032x}", trace + 1),
            span_id: format!("{:016x}", (trace + 1) * 16 + n),
            parent_span_id: if n == 0 {
                String::new()
            } else {
                format!("{:016x}", (trace + 1) * 16)
            },
            name: "POST /checkout".into(),
            kind: "SERVER".into(),
            start_unix_nanos: 1000 + trace,
            end_unix_nanos: 2000 + trace,
            status_code: if failed { "ERROR" } else { "UNSET" }.into(),
            status_message: String::new(),
            attributes: text(attributes),
            events: vec![],
            links: vec![],
            resource: text(&[("service.name", service)]),
            scope_name: String::new(),
        }
    }

    /// 100 traces: even ones are checkouts (the route spelled three ways at two services),
    /// odd ones browsing; each has its own user id; `fails(t)` picks the failing checkouts.
    fn table(fails: impl Fn(u64) -> bool) -> Table {
        let tiers = ["free", "silver", "gold", "platinum"];
        let mut spans = Vec::new();
        for t in 0..100u64 {
            let tier = tiers[(t / 2 % 4) as usize];
            let user = format!("user-{t}");
            let failed = t % 2 == 0 && fails(t);
            if t % 2 == 0 {
                let front = [
                    ("http.route", "/api/checkout"),
                    ("url.path", "/api/checkout"),
                    ("user.id", &user),
                    ("tracedojo.user.tier", tier),
                ];
                let back = [("http.route", "/checkout"), ("url.path", "/checkout")];
                spans.push(span(t, 0, "frontend", &front, failed));
                spans.push(span(t, 1, "checkout", &back, failed));
            } else {
                let front = [
                    ("http.route", "/api/products"),
                    ("user.id", &user),
                    ("tracedojo.user.tier", tier),
                ];
                spans.push(span(t, 0, "frontend", &front, false));
            }
        }
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(spans);
        table
    }

    fn all_traces(table: &Table) -> Vec<&TraceEntry> {
        table.traces().map(|(_, t)| t).collect()
    }

    /// Span `n` of trace `trace`, child of span `parent` (`None`: the root), from `start` to
    /// `end` (nanoseconds past an hour into the epoch).
    fn timed(
        trace: u64,
        (n, parent): (u64, Option<u64>),
        service: &str,
        attributes: &[(&str, &str)],
        (start, end): (u64, u64),
        failed: bool,
    ) -> StoredSpan {
        let mut s = span(trace, n, service, attributes, failed);
        s.parent_span_id =
            parent.map_or_else(String::new, |p| format!("{:016x}", (trace + 1) * 16 + p));
        s.start_unix_nanos = 3_600_000_000_000 + start;
        s.end_unix_nanos = 3_600_000_000_000 + end;
        s
    }

    fn one_trace(spans: Vec<StoredSpan>) -> Table {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(spans);
        table
    }

    /// Which spans of the table's only trace describe its request, by their number `n`.
    fn described(table: &Table) -> Option<Vec<u64>> {
        let trace = all_traces(table)[0];
        request_spans(trace).map(|d| {
            let mut numbers: Vec<u64> = trace
                .spans
                .iter()
                .zip(d)
                .filter(|(_, d)| *d)
                .map(|(s, _)| u64::from_be_bytes(s.span_id) % 16)
                .collect();
            numbers.sort_unstable();
            numbers
        })
    }

    #[test]
    fn a_failing_trace_is_read_up_to_its_first_failure() {
        // frontend 0..100 (failed) → checkout 10..50 (failed first, at 50) → payment 20..45;
        // then checkout releases the stock (60..70) and logs (50..55, starting as it fails).
        let table = one_trace(vec![
            timed(1, (0, None), "frontend", &[], (0, 100), true),
            timed(1, (1, Some(0)), "checkout", &[], (10, 50), true),
            timed(1, (2, Some(1)), "payment", &[], (20, 45), false),
            timed(1, (3, Some(1)), "inventory", &[], (60, 70), false),
            timed(1, (4, Some(1)), "checkout", &[], (50, 55), false),
        ]);
        assert_eq!(described(&table), Some(vec![0, 1, 2, 4]));

        // Nothing failed: every span describes the request, the release too.
        let table = one_trace(vec![
            timed(2, (0, None), "frontend", &[], (0, 100), false),
            timed(2, (1, Some(0)), "inventory", &[], (60, 70), false),
        ]);
        assert_eq!(described(&table), None);
    }

    #[test]
    fn a_timeout_is_the_first_failure_and_its_retry_is_handling() {
        // checkout's call to inventory gives up at 30 (failed); inventory's own span fails
        // later (at 80), so the root cause is inventory's, but the retry started at 35 came
        // after the first failure, the timeout.
        let table = one_trace(vec![
            timed(3, (0, None), "checkout", &[], (0, 100), true),
            timed(3, (1, Some(0)), "checkout", &[], (5, 30), true),
            timed(3, (2, Some(1)), "inventory", &[], (8, 80), true),
            timed(3, (3, Some(0)), "checkout", &[], (35, 60), false),
        ]);
        assert_eq!(described(&table), Some(vec![0, 1, 2]));
    }

    #[test]
    fn the_failing_span_and_its_callers_count_whatever_their_clocks_say() {
        // payment's clock runs behind: its failing span ends (at 40) before its callers
        // started by their clocks (checkout at 45, frontend at 42), and a sibling of the
        // call (the cart, at 50) is after it by the clocks.
        let table = one_trace(vec![
            timed(4, (0, None), "frontend", &[], (42, 200), true),
            timed(4, (1, Some(0)), "checkout", &[], (45, 150), true),
            timed(4, (2, Some(1)), "payment", &[], (30, 40), true),
            timed(4, (3, Some(1)), "cart", &[], (50, 60), false),
        ]);
        assert_eq!(described(&table), Some(vec![0, 1, 2]));
    }

    #[test]
    fn a_call_made_before_the_failure_counts_even_if_its_far_side_starts_after_it() {
        // The product page (0) asks catalog (1 → 2) and recommendation (3 → 4) at once;
        // catalog fails at once (at 10), and recommendation's own span starts a moment later
        // (at 11) and asks catalog itself (5). Only the page's fallback (6), called after the
        // failure, is handling. Span 7 lost its parent: its own start (at 70) decides.
        let table = one_trace(vec![
            timed(5, (0, None), "frontend", &[], (0, 100), true),
            timed(5, (1, Some(0)), "frontend", &[], (1, 12), true),
            timed(5, (2, Some(1)), "catalog", &[], (2, 10), true),
            timed(5, (3, Some(0)), "frontend", &[], (1, 40), false),
            timed(5, (4, Some(3)), "recommendation", &[], (11, 39), false),
            timed(5, (5, Some(4)), "recommendation", &[], (15, 20), false),
            timed(5, (6, Some(0)), "frontend", &[], (50, 60), false),
            timed(5, (7, Some(15)), "frontend", &[], (70, 80), false),
        ]);
        assert_eq!(described(&table), Some(vec![0, 1, 2, 3, 4, 5]));
    }

    /// 100 checkouts of which the gold ones fail; a failing one then releases its stock
    /// (inventory's `/reservations/{id}/release`, outcome `released`), which no succeeding
    /// checkout does. The release starts after the failure.
    fn with_compensation(release_at: u64) -> Table {
        let tiers = ["free", "silver", "gold", "platinum"];
        let mut spans = Vec::new();
        for t in 0..100u64 {
            let tier = tiers[(t % 4) as usize];
            let failed = tier == "gold";
            let front = [
                ("http.route", "/api/checkout"),
                ("tracedojo.user.tier", tier),
            ];
            spans.push(timed(t, (0, None), "frontend", &front, (0, 100), failed));
            let back = [("http.route", "/checkout")];
            spans.push(timed(t, (1, Some(0)), "checkout", &back, (10, 50), failed));
            let reserve = [
                ("http.route", "/reservations"),
                ("tracedojo.reservation.outcome", "reserved"),
            ];
            spans.push(timed(
                t,
                (2, Some(1)),
                "inventory",
                &reserve,
                (20, 30),
                false,
            ));
            if failed {
                let release = [
                    ("http.route", "/reservations/{reservation_id}/release"),
                    ("tracedojo.reservation.outcome", "released"),
                ];
                let end = release_at + 10;
                spans.push(timed(
                    t,
                    (3, Some(1)),
                    "inventory",
                    &release,
                    (release_at, end),
                    false,
                ));
            }
        }
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(spans);
        table
    }

    #[test]
    fn a_compensation_after_the_failure_is_not_ranked() {
        let table = with_compensation(60);
        let separation = separating(&table, &all_traces(&table));
        let named: Vec<(&str, &str)> = separation
            .attributes
            .iter()
            .flat_map(|a| {
                std::iter::once((a.key.as_str(), a.value.as_str()))
                    .chain(a.same_as.iter().map(|s| (s.key.as_str(), s.value.as_str())))
            })
            .collect();
        assert_eq!(named, [("tracedojo.user.tier", "gold")], "{separation:#?}");

        // Had the release started before the failure (at 40, while checkout still ran), it
        // would describe the request: the same traces as the tier, one row under the release's
        // route, which is how a consequence came to lead.
        let before = with_compensation(40);
        let separation = separating(&before, &all_traces(&before));
        let top = &separation.attributes[0];
        assert_eq!(
            (top.key.as_str(), top.value.as_str()),
            ("http.route", "/reservations/{reservation_id}/release"),
            "{separation:#?}"
        );
        assert!(
            top.same_as
                .iter()
                .any(|s| s.key == "tracedojo.user.tier" && s.value == "gold"),
            "{separation:#?}"
        );
    }

    #[test]
    fn the_segment_leads_and_the_route_is_one_row() {
        let table = table(|t| t / 2 % 4 == 2);
        let separation = separating(&table, &all_traces(&table));
        assert!(!separation.too_few_failing_traces);
        assert_eq!(separation.note, "");
        let rows: Vec<(&str, &str, usize)> = separation
            .attributes
            .iter()
            .map(|a| (a.key.as_str(), a.value.as_str(), a.same_as.len()))
            .collect();
        assert_eq!(
            rows,
            [
                ("tracedojo.user.tier", "gold", 0),
                ("http.route", "/checkout", 4),
            ]
        );
        let mut same: Vec<(&str, &str)> = separation.attributes[1]
            .same_as
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        same.sort_unstable();
        assert_eq!(
            same,
            [
                ("http.route", "/api/checkout"),
                ("service.name", "checkout"),
                ("url.path", "/api/checkout"),
                ("url.path", "/checkout"),
            ]
        );
        let gold = &separation.attributes[0];
        assert_eq!((gold.failing_with, gold.total_with), (12, 24));
        assert_eq!((gold.failing_without, gold.total_without), (0, 76));
    }

    #[test]
    fn three_failures_rank_nothing() {
        let table = table(|t| [4, 12, 20].contains(&t));
        let separation = separating(&table, &all_traces(&table));
        assert!(separation.too_few_failing_traces);
        assert!(separation.attributes.is_empty());
        assert!(
            separation.note.starts_with("only 3 failing traces"),
            "{}",
            separation.note
        );
    }

    #[test]
    fn identifiers_are_named_or_many() {
        // Always, whatever the counts.
        for key in [
            "url.full",
            "url.query",
            "server.port",
            "client.port",
            "network.peer.port",
            "http.request.header.x-request-id",
            "service.instance.id",
            "process.pid",
        ] {
            assert!(is_identifier(key, 1, 1000), "{key}");
        }
        // Named like ids: identifiers once they have many values, even when each value is in
        // many traces (2 000 users over 20 000 traces).
        for key in [
            "user.id",
            "messaging.message.id",
            "tracedojo.payment.id",
            "tracedojo.order.ref",
            "order_id",
            "orderId",
            "session.uuid",
        ] {
            assert!(is_identifier(key, 2000, 20_000), "{key}");
            assert!(
                !is_identifier(key, 5, 20_000),
                "{key}: a handful is a segment"
            );
        }
        // Any key with a value for most traces that carry it.
        assert!(is_identifier("tracedojo.cart.total_cents", 180, 200));
        // Segments stay.
        for key in [
            "tracedojo.user.tier",
            "tracedojo.user.region",
            "tracedojo.user.company",
            "service.version",
            "deployment.environment.name",
            "http.route",
            "db.collection.name",
        ] {
            assert!(!is_identifier(key, 6, 20_000), "{key}");
        }
        assert!(!is_identifier("url.path", 40, 20_000), "a few dozen paths");
    }

    #[test]
    fn wilson_bounds_are_wide_for_few_traces() {
        let (low, high) = wilson(5, 10);
        assert!(low < 0.5 && high > 0.5);
        assert!((low - 0.2366).abs() < 1e-3, "{low}");
        assert!((high - 0.7634).abs() < 1e-3, "{high}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        assert_eq!(wilson(0, 100).0, 0.0);
        assert!((wilson(100, 100).1 - 1.0).abs() < 1e-12);
        // 2 of 2 is a wider claim than 40 of 50.
        assert!(wilson(2, 2).0 < wilson(40, 50).0);
    }

    #[test]
    fn a_value_needs_failures_a_share_and_a_clear_difference() {
        // Five gold traces fail, 95 silver ones do not.
        assert!(supported(5, 5, 0, 95));
        // Too few failures with it, however clean the split.
        assert!(!supported(3, 3, 0, 97));
        // Two of twelve traces of one user, among three failures: nothing.
        assert!(!supported(2, 12, 1, 88));
        // A value in a twentieth of 200 failures.
        assert!(!supported(10, 10, 190, 790));
        // Failing as often with it as without: chance.
        assert!(!supported(10, 100, 90, 900));
        assert!(supported(60, 100, 40, 900));
    }

    #[test]
    fn too_few_failures_are_said_in_plain_words() {
        assert_eq!(
            too_few_note(3).as_deref(),
            Some(
                "only 3 failing traces in the window; at least 4 are needed to tell which attribute separates them"
            )
        );
        assert!(
            too_few_note(1)
                .expect("note")
                .starts_with("only 1 failing trace in")
        );
        assert!(
            too_few_note(0)
                .expect("note")
                .starts_with("no failing traces")
        );
        assert_eq!(too_few_note(MIN_FAILING_TRACES), None);
    }

    fn set(traces: usize, members: impl IntoIterator<Item = usize>) -> TraceSet {
        let mut set = TraceSet::new(traces);
        for m in members {
            set.insert(m);
        }
        set
    }

    #[test]
    fn values_marking_the_same_traces_are_one_group() {
        let checkout = set(200, 0..100);
        let path = set(200, 0..100);
        let almost = set(200, 0..95);
        let gold = set(200, (0..200).step_by(8));
        let half = set(200, 0..50);
        assert_eq!(checkout.len(), 100);
        assert_eq!(checkout.jaccard(&almost), 0.95);
        let groups = group_same_facts(&[checkout, gold, path, almost, half]);
        assert_eq!(groups, [vec![0, 2, 3], vec![1], vec![4]]);
    }

    #[test]
    fn a_wider_value_failing_only_where_a_narrower_one_does_is_left_out() {
        // 200 traces; 0..40 are checkouts (POST), 40..80 add to a cart (POST too), 0..200
        // speak HTTP/1.1 but for the last five; the gold checkouts (every fourth) fail,
        // and gold users browse (100..120) without failing.
        let failing = set(200, (0..40).step_by(4));
        let route = set(200, 0..40);
        let post = set(200, 0..80);
        let protocol = set(200, 0..195);
        let gold = set(200, (0..40).step_by(4).chain(100..120));
        let sets = [route, gold, post, protocol];
        // Each row its own lead.
        let coarse = coarser(&sets, &[0, 1, 2, 3], &failing);
        // The route and the tier each explain the failures in a way the other does not; the
        // method and the protocol only repeat the route, more coarsely.
        assert_eq!(coarse, [false, false, true, true]);

        // A wider value that explains failures the narrower one does not stays: the route
        // fails also for a tenth of silver checkouts.
        let failing = set(200, (0..40).step_by(4).chain(100..110));
        let route = set(200, (0..40).chain(100..120));
        let gold = set(200, (0..40).step_by(4));
        let coarse = coarser(&[route, gold], &[0, 1], &failing);
        assert_eq!(coarse, [false, false]);

        // A region (0..200 of 400) whose users fail alike (one in five) whatever their
        // language, nine in ten of them (0..180) speaking one: 36 of its 40 failures are among
        // those, but outside them it fails as often, so the region stays beside the language.
        let failing = set(400, (0..200).step_by(5));
        let region = set(400, 0..200);
        let language = set(400, 0..180);
        assert_eq!(language.both_of(&region, &failing), 36);
        assert_eq!(region.both(&failing), 40);
        let coarse = coarser(&[region, language], &[0, 1], &failing);
        assert_eq!(coarse, [false, false]);
    }

    fn attribute(key: &str, value: &str, score: f64) -> SeparatingAttribute {
        SeparatingAttribute {
            key: key.into(),
            value: value.into(),
            failing_with: 10,
            total_with: 20,
            error_rate_with: 0.5,
            failing_without: 0,
            total_without: 80,
            error_rate_without: 0.0,
            score,
            same_as: Vec::new(),
        }
    }

    #[test]
    fn the_route_leads_its_spellings() {
        let attributes = [
            attribute("url.path", "/checkout", 0.5),
            attribute("url.template", "/checkout", 0.6),
            attribute("http.route", "/api/checkout", 0.5),
            attribute("server.address", "checkout", 0.5),
            attribute("http.route", "/checkout", 0.5),
        ];
        let row = one_row(&attributes, &[0, 1, 2, 3, 4]);
        assert_eq!(
            (row.key.as_str(), row.value.as_str()),
            ("http.route", "/checkout")
        );
        let same: Vec<(&str, &str)> = row
            .same_as
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect();
        assert_eq!(
            same,
            [
                ("url.path", "/checkout"),
                ("url.template", "/checkout"),
                ("http.route", "/api/checkout"),
                ("server.address", "checkout")
            ]
        );
        assert_eq!(readability("tracedojo.user.tier"), 1);
        assert_eq!(readability("service.version"), 1);
        assert_eq!(readability("service.name"), 2);
        assert_eq!(readability("service.peer.name"), 2);
    }
}
