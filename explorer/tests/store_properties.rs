//! Seeded randomised property tests of the span store and the queries over it.
//!
//! Random OTLP export requests (trace ids from a small pool so traces grow across batches
//! and come back after eviction, parents that are missing, the span itself or part of a
//! cycle, attributes of every kind, hostile times and ids) go through
//! `SpanStore::insert_request`, and after every batch the store is compared with a
//! brute-force model that keeps whole traces first-seen-first-out: bounds, contents, search
//! results, waterfalls and critical paths. Everything is seeded; a failure names its seed,
//! and `STORE_PROPERTIES_SEED=N` reruns just that case.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tracedojo_explorer::convert::{any_value_to_json, hex_id, spans_from_request};
use tracedojo_explorer::query::errors::{self, Scope};
use tracedojo_explorer::query::search::{self, Search, SpanConditions};
use tracedojo_explorer::query::window::Window;
use tracedojo_explorer::query::{map, params, red, trace};
use tracedojo_explorer::store::table::{Table, TraceEntry};
use tracedojo_explorer::{SpanStore, StoredSpan};

use common::s;

const BASE: u64 = 1_700_000_000_000_000_000;

// ---------------------------------------------------------------------------------------
// Random requests.

const KEYS: &[&str] = &[
    "k",
    "tracedojo.user.tier",
    "http.route",
    "service.name",
    "",
    "n",
    "error.type",
    "exception.type",
    "db.system.name",
    "db.query.text",
    "service.peer.name",
    "peer.service",
    "service.namespace",
];
const STRINGS: &[&str] = &[
    "", "a", "b", "gold", "5", "-3", "05", "+5", "true", "false", "null", "NaN", "ü—✓", "x=y",
];
const INTS: &[i64] = &[0, 5, -3, 200, 503, i64::MIN, i64::MAX];
const NAMES: &[&str] = &["GET /", "POST /checkout", "SELECT", "", "publish", "ü"];
const SERVICES: &[&str] = &["checkout", "cart", "frontend", "", "gold"];
const SCOPES: &[&str] = &["kit", "", "other"];

struct Gen {
    rng: Xoshiro256PlusPlus,
    trace_ids: Vec<Vec<u8>>,
    span_ids: Vec<Vec<u8>>,
    resources: Vec<Option<Resource>>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let traces = rng.random_range(2..24);
        let trace_ids = (0..traces)
            .map(|_| (0..16).map(|_| rng.random()).collect())
            .collect();
        let spans = rng.random_range(4..64);
        let span_ids = (0..spans)
            .map(|_| (0..8).map(|_| rng.random()).collect())
            .collect();
        let mut g = Gen {
            rng,
            trace_ids,
            span_ids,
            resources: Vec::new(),
        };
        let count = g.rng.random_range(1..7);
        g.resources = (0..count).map(|_| g.resource()).collect();
        g
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())].clone()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    fn text(&mut self) -> String {
        if self.chance(8) {
            let len = self.rng.random_range(100..400);
            (0..len)
                .map(|_| self.pick(&['a', 'b', 'é', '"', '\\', '\u{0}']))
                .collect()
        } else {
            self.pick(STRINGS).to_owned()
        }
    }

    fn double(&mut self) -> f64 {
        match self.rng.random_range(0..8) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => 1.5,
            5 => 1e300,
            _ => self.rng.random_range(-1e6..1e6),
        }
    }

    fn value(&mut self, depth: usize) -> Option<AnyValue> {
        use any_value::Value as V;
        let value = match self.rng.random_range(0..13) {
            0 => return None,
            1 => None,
            2 | 3 => Some(V::StringValue(self.text())),
            4 => Some(V::IntValue(self.pick(INTS))),
            5 => Some(V::BoolValue(self.rng.random())),
            6 => Some(V::DoubleValue(self.double())),
            7 | 8 if depth < 3 => {
                let n = self.rng.random_range(0..4);
                Some(V::ArrayValue(ArrayValue {
                    values: (0..n)
                        .map(|_| self.value(depth + 1).unwrap_or_default())
                        .collect(),
                }))
            }
            9 | 10 if depth < 3 => {
                let n = self.rng.random_range(0..4);
                Some(V::KvlistValue(KeyValueList {
                    values: (0..n).map(|_| self.kv(depth + 1)).collect(),
                }))
            }
            11 => {
                let n = self.rng.random_range(0..20);
                Some(V::BytesValue((0..n).map(|_| self.rng.random()).collect()))
            }
            12 => Some(V::StringValueStrindex(self.rng.random())),
            _ => Some(V::StringValue(self.text())),
        };
        Some(AnyValue { value })
    }

    fn kv(&mut self, depth: usize) -> KeyValue {
        let key = if self.chance(5) {
            self.text()
        } else {
            self.pick(KEYS).to_owned()
        };
        KeyValue {
            key,
            value: self.value(depth),
            ..KeyValue::default()
        }
    }

    fn attributes(&mut self, most: usize) -> Vec<KeyValue> {
        let n = self.rng.random_range(0..=most);
        (0..n).map(|_| self.kv(0)).collect()
    }

    fn resource(&mut self) -> Option<Resource> {
        if self.chance(10) {
            return None;
        }
        let mut attributes = self.attributes(3);
        use any_value::Value as V;
        let service = match self.rng.random_range(0..10) {
            0 => None,
            1 => Some(AnyValue {
                value: Some(V::IntValue(5)),
            }),
            2 => Some(AnyValue {
                value: Some(V::DoubleValue(f64::NAN)),
            }),
            _ => Some(AnyValue {
                value: Some(V::StringValue(self.pick(SERVICES).to_owned())),
            }),
        };
        if self.chance(90) {
            attributes.insert(
                self.rng.random_range(0..=attributes.len()),
                KeyValue {
                    key: "service.name".into(),
                    value: service,
                    ..KeyValue::default()
                },
            );
        }
        Some(Resource {
            attributes,
            ..Resource::default()
        })
    }

    fn trace_id(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..4 => Vec::new(),
            4..6 => vec![0; 16],
            6..8 => vec![7; 15],
            _ => self.pick(&self.trace_ids.clone()),
        }
    }

    fn span_id(&mut self) -> Vec<u8> {
        match self.rng.random_range(0..100) {
            0..2 => vec![0; 8],
            2..4 => vec![9; 7],
            4..6 => Vec::new(),
            _ => self.pick(&self.span_ids.clone()),
        }
    }

    /// Start and end, often sane, sometimes hostile.
    fn times(&mut self) -> (u64, u64) {
        let start = BASE + self.rng.random_range(0..2_000_000_000);
        match self.rng.random_range(0..100) {
            0..70 => (start, start + self.rng.random_range(0..300_000_000)),
            70..78 => (start, start - self.rng.random_range(1..50_000_000)),
            78..82 => (0, self.rng.random_range(0..u64::MAX)),
            82..86 => (start, u64::MAX),
            86..88 => (u64::MAX, 0),
            88..90 => (0, u64::MAX),
            90..94 => (start, start),
            _ => (self.rng.random(), self.rng.random()),
        }
    }

    fn span(&mut self) -> Span {
        let span_id = self.span_id();
        let parent_span_id = match self.rng.random_range(0..100) {
            0..30 => Vec::new(),
            30..35 => vec![0; 8],
            35..75 => self.pick(&self.span_ids.clone()),
            75..83 => span_id.clone(),
            83..86 => vec![1, 2, 3],
            _ => (0..8).map(|_| self.rng.random()).collect(),
        };
        let (start, end) = self.times();
        let name = if self.chance(5) {
            self.text()
        } else {
            self.pick(NAMES).to_owned()
        };
        let status = match self.rng.random_range(0..10) {
            0..4 => None,
            4..7 => Some(Status {
                code: 2,
                message: if self.chance(50) {
                    self.text()
                } else {
                    String::new()
                },
            }),
            _ => Some(Status {
                code: self.rng.random_range(-1..5),
                message: String::new(),
            }),
        };
        let events = (0..self.rng.random_range(0..3))
            .map(|_| span::Event {
                time_unix_nano: self.rng.random(),
                name: if self.chance(50) {
                    "exception".into()
                } else {
                    self.text()
                },
                attributes: self.attributes(3),
                ..span::Event::default()
            })
            .collect();
        let links = (0..self.rng.random_range(0..3))
            .map(|_| span::Link {
                trace_id: self.trace_id(),
                span_id: self.span_id(),
                attributes: self.attributes(2),
                ..span::Link::default()
            })
            .collect();
        Span {
            trace_id: self.trace_id(),
            span_id,
            parent_span_id,
            name,
            kind: self.rng.random_range(-1..8),
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: self.attributes(6),
            events,
            links,
            status,
            ..Span::default()
        }
    }

    fn request(&mut self, most_spans: usize) -> ExportTraceServiceRequest {
        let resource_spans = (0..self.rng.random_range(0..4))
            .map(|_| {
                let resource = if self.chance(85) {
                    self.pick(&self.resources.clone())
                } else {
                    self.resource()
                };
                ResourceSpans {
                    resource,
                    scope_spans: (0..self.rng.random_range(0..3))
                        .map(|_| ScopeSpans {
                            scope: self.chance(80).then(|| InstrumentationScope {
                                name: self.pick(SCOPES).to_owned(),
                                ..InstrumentationScope::default()
                            }),
                            spans: (0..self.rng.random_range(0..=most_spans))
                                .map(|_| self.span())
                                .collect(),
                            ..ScopeSpans::default()
                        })
                        .collect(),
                    ..ResourceSpans::default()
                }
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    }

    fn search(&mut self) -> Search {
        let duration = |g: &mut Gen| {
            g.chance(30).then(|| {
                g.pick(&[
                    0,
                    1,
                    1_000_000,
                    50_000_000,
                    150_000_000,
                    u64::MAX / 2,
                    u64::MAX,
                ])
            })
        };
        let time = |g: &mut Gen| {
            g.chance(25).then(|| match g.rng.random_range(0..4) {
                0 => 0,
                1 => u64::MAX,
                _ => BASE + g.rng.random_range(0..2_000_000_000),
            })
        };
        let attributes = (0..self.rng.random_range(0..3))
            .map(|_| (self.pick(KEYS).to_owned(), self.text()))
            .filter(|(key, _)| !key.is_empty())
            .collect();
        Search {
            span: SpanConditions {
                service: self.chance(30).then(|| self.pick(SERVICES).to_owned()),
                operation: self.chance(30).then(|| self.pick(NAMES).to_owned()),
                min_duration: duration(self),
                max_duration: duration(self),
                errors_only: self.chance(20),
                attributes,
                namespace: self.chance(25).then(|| self.text()),
            },
            start: time(self),
            end: time(self),
            failing: self.chance(20),
            limit: self.rng.random_range(0..30),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The model.

/// An attribute value as a search filter sees it.
#[derive(Debug, Clone, PartialEq)]
enum Filterable {
    Str(String),
    Int(i64),
    Bool(bool),
    Other,
}

impl Filterable {
    fn of(value: Option<&AnyValue>) -> Filterable {
        use any_value::Value as V;
        match value.and_then(|v| v.value.as_ref()) {
            Some(V::StringValue(s)) => Filterable::Str(s.clone()),
            Some(V::IntValue(i)) => Filterable::Int(*i),
            Some(V::BoolValue(b)) => Filterable::Bool(*b),
            _ => Filterable::Other,
        }
    }

    /// API.md: strings compared exactly; `true`/`false` and whole numbers (written the
    /// way the store writes them) match booleans and integers; other kinds never match.
    fn matches(&self, wanted: &str) -> bool {
        match self {
            Filterable::Str(s) => s == wanted,
            Filterable::Int(i) => i.to_string() == wanted,
            Filterable::Bool(b) => wanted == if *b { "true" } else { "false" },
            Filterable::Other => false,
        }
    }
}

/// The last value of `key` (later duplicates win, as in a map).
fn last<'a>(attrs: &'a [(String, Filterable)], key: &str) -> Option<&'a Filterable> {
    attrs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[derive(Debug, Clone)]
struct ModelSpan {
    stored: StoredSpan,
    arrival: u64,
    service: String,
    attrs: Vec<(String, Filterable)>,
    resource: Vec<(String, Filterable)>,
}

impl ModelSpan {
    fn is_root(&self) -> bool {
        self.stored.parent_span_id.is_empty()
    }
    fn error(&self) -> bool {
        self.stored.status_code == "ERROR"
    }
    fn duration(&self) -> u64 {
        self.stored.duration_nanos()
    }
}

#[derive(Debug)]
struct ModelTrace {
    id: String,
    spans: Vec<ModelSpan>,
}

impl ModelTrace {
    fn start(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.stored.start_unix_nanos)
            .min()
            .unwrap_or(u64::MAX)
    }
    fn end(&self) -> u64 {
        self.spans
            .iter()
            .map(|s| s.stored.end_unix_nanos)
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Model {
    traces: Vec<ModelTrace>,
    arrivals: u64,
    evicted_traces: u64,
}

/// The service of a resource as the store names it: `service.name` when a string, else the
/// value's JSON text, `""` without one.
fn service_of(resource: &[KeyValue]) -> String {
    match resource.iter().rev().find(|kv| kv.key == "service.name") {
        None => String::new(),
        Some(kv) => match Filterable::of(kv.value.as_ref()) {
            Filterable::Str(s) => s,
            _ => any_value_to_json(kv.value.clone().unwrap_or_default()).to_string(),
        },
    }
}

fn valid_id(bytes: &[u8], len: usize) -> bool {
    bytes.len() == len && bytes.iter().any(|&b| b != 0)
}

impl Model {
    /// Adds the well-formed spans of `request`; returns how many were refused.
    fn insert(&mut self, request: &ExportTraceServiceRequest) -> u64 {
        let flat = spans_from_request(request.clone());
        let mut flat = flat.into_iter();
        let mut rejected = 0;
        for rs in &request.resource_spans {
            let resource_kvs = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            let resource: Vec<(String, Filterable)> = resource_kvs
                .iter()
                .map(|kv| (kv.key.clone(), Filterable::of(kv.value.as_ref())))
                .collect();
            let service = service_of(&resource_kvs);
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let mut stored = flat.next().expect("one flattened span per span");
                    let parent_ok =
                        span.parent_span_id.is_empty() || span.parent_span_id.len() == 8;
                    if !valid_id(&span.trace_id, 16) || !valid_id(&span.span_id, 8) || !parent_ok {
                        rejected += 1;
                        continue;
                    }
                    if !valid_id(&span.parent_span_id, 8) {
                        stored.parent_span_id.clear();
                    }
                    // Links whose ids could never be followed are dropped.
                    let mut links = stored.links.into_iter();
                    stored.links = span
                        .links
                        .iter()
                        .filter_map(|l| {
                            let link = links.next().expect("one flattened link per link");
                            (valid_id(&l.trace_id, 16) && valid_id(&l.span_id, 8)).then_some(link)
                        })
                        .collect();
                    let model_span = ModelSpan {
                        arrival: self.arrivals,
                        service: service.clone(),
                        attrs: span
                            .attributes
                            .iter()
                            .map(|kv| (kv.key.clone(), Filterable::of(kv.value.as_ref())))
                            .collect(),
                        resource: resource.clone(),
                        stored,
                    };
                    self.arrivals += 1;
                    let id = model_span.stored.trace_id.clone();
                    match self.traces.iter_mut().find(|t| t.id == id) {
                        Some(trace) => trace.spans.push(model_span),
                        None => self.traces.push(ModelTrace {
                            id,
                            spans: vec![model_span],
                        }),
                    }
                }
            }
        }
        rejected
    }

    fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }

    fn evict_oldest(&mut self) {
        self.traces.remove(0);
        self.evicted_traces += 1;
    }

    fn spans(&self) -> Vec<StoredSpan> {
        let mut all: Vec<&ModelSpan> = self.traces.iter().flat_map(|t| &t.spans).collect();
        all.sort_by_key(|s| s.arrival);
        all.into_iter().map(|s| s.stored.clone()).collect()
    }

    fn span_matches(conditions: &SpanConditions, span: &ModelSpan) -> bool {
        conditions
            .service
            .as_ref()
            .is_none_or(|s| *s == span.service)
            && conditions
                .operation
                .as_ref()
                .is_none_or(|n| *n == span.stored.name)
            && (!conditions.errors_only || span.error())
            && conditions
                .min_duration
                .is_none_or(|min| span.duration() >= min)
            && conditions
                .max_duration
                .is_none_or(|max| span.duration() <= max)
            && conditions.attributes.iter().all(|(key, wanted)| {
                // API.md: the span (or its resource) has this attribute with this value.
                last(&span.attrs, key).is_some_and(|v| v.matches(wanted))
                    || last(&span.resource, key).is_some_and(|v| v.matches(wanted))
            })
            // API.md: the span's resource (not the span) has this service.namespace.
            && conditions.namespace.as_ref().is_none_or(|wanted| {
                last(&span.resource, "service.namespace").is_some_and(|v| v.matches(wanted))
            })
    }

    /// What a search must find, newest first: (trace id, matched span id, summary).
    fn search(&self, query: &Search) -> Vec<Expected> {
        let start = query.start.unwrap_or(0);
        let end = query.end.unwrap_or(u64::MAX);
        self.traces
            .iter()
            .rev()
            .filter(|t| t.end() >= start && t.start() <= end)
            .filter(|t| !query.failing || t.spans.iter().any(ModelSpan::error))
            .filter_map(|t| {
                let matched = t
                    .spans
                    .iter()
                    .find(|s| Model::span_matches(&query.span, s))?;
                Some(Expected::of(t, matched))
            })
            .take(query.limit)
            .collect()
    }
}

/// The parts of a search hit the model can predict exactly.
#[derive(Debug, PartialEq)]
struct Expected {
    trace_id: String,
    matched_span_id: String,
    root_service: String,
    root_name: String,
    start: u64,
    duration: u64,
    span_count: usize,
    error_count: usize,
    services: Vec<(String, usize, usize)>,
}

impl Expected {
    fn of(trace: &ModelTrace, matched: &ModelSpan) -> Expected {
        // The first of the earliest, as `Iterator::min_by_key` picks.
        let root = (trace.spans.iter().filter(|s| s.is_root()))
            .min_by_key(|s| s.stored.start_unix_nanos)
            .or_else(|| trace.spans.iter().min_by_key(|s| s.stored.start_unix_nanos));
        let mut services: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for s in &trace.spans {
            let entry = services.entry(s.service.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(s.error());
        }
        Expected {
            trace_id: trace.id.clone(),
            matched_span_id: matched.stored.span_id.clone(),
            root_service: root.map(|r| r.service.clone()).unwrap_or_default(),
            root_name: root.map(|r| r.stored.name.clone()).unwrap_or_default(),
            start: trace.start(),
            duration: trace.end().saturating_sub(trace.start()),
            span_count: trace.spans.len(),
            error_count: trace.spans.iter().filter(|s| s.error()).count(),
            services: services
                .into_iter()
                .map(|(name, (spans, errors))| (name, spans, errors))
                .collect(),
        }
    }

    fn from_summary(s: &search::TraceSummary) -> Expected {
        Expected {
            trace_id: s.trace_id.clone(),
            matched_span_id: s.matched_span_id.clone(),
            root_service: s.root_service.clone(),
            root_name: s.root_name.clone(),
            start: s.start_unix_nanos,
            duration: s.duration_nanos,
            span_count: s.span_count,
            error_count: s.error_count,
            services: s
                .services
                .iter()
                .map(|c| (c.name.clone(), c.span_count, c.error_count))
                .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The checks.

/// The waterfall lists every span once with consistent depths, and the critical path is a
/// set of disjoint segments inside the main root.
fn check_trace_view(table: &Table, entry: &TraceEntry, context: &str) {
    let spans = &entry.spans;
    let view = trace::trace_view(table, entry, &[]);
    serde_json::to_string(&view).expect("the view serialises");
    assert_eq!(view.spans.len(), spans.len(), "{context}");
    let tree = trace::tree(spans);
    let mut listed = vec![false; spans.len()];
    let mut depth_of = vec![usize::MAX; spans.len()];
    for (n, &(i, depth, missing)) in tree.order.iter().enumerate() {
        assert!(!listed[i], "{context}: span {i} listed twice");
        listed[i] = true;
        depth_of[i] = depth;
        match tree.parent[i] {
            Some(p) => {
                assert!(listed[p], "{context}: parent of {i} listed after it");
                assert_eq!(depth, depth_of[p] + 1, "{context}: depth of {i}");
                assert!(!missing, "{context}");
            }
            None => {
                assert_eq!(
                    depth, 0,
                    "{context}: a span without parent at depth {depth}"
                );
                assert_eq!(missing, !spans[i].is_root(), "{context}");
            }
        }
        let shown = &view.spans[n];
        assert_eq!(shown.span_id, hex_id(&spans[i].span_id), "{context}");
        assert_eq!(shown.depth, depth, "{context}");
        assert_eq!(shown.parent_missing, missing, "{context}");
        assert!(shown.self_nanos <= shown.duration_nanos, "{context}");
    }
    assert!(listed.iter().all(|&l| l), "{context}: a span is not listed");

    let path = &view.critical_path;
    let Some(root) = trace::main_root(spans, &tree) else {
        assert!(path.is_empty(), "{context}");
        return;
    };
    let root = &spans[root];
    let mut total: u128 = 0;
    for segment in path {
        assert!(
            segment.start_unix_nanos < segment.end_unix_nanos,
            "{context}: empty segment {segment:?}"
        );
        assert!(
            segment.start_unix_nanos >= root.start && segment.end_unix_nanos <= root.end,
            "{context}: segment {segment:?} outside the root [{}, {}]",
            root.start,
            root.end
        );
        total += u128::from(segment.end_unix_nanos - segment.start_unix_nanos);
    }
    for pair in path.windows(2) {
        assert!(
            pair[0].end_unix_nanos <= pair[1].start_unix_nanos,
            "{context}: overlapping segments {pair:?}"
        );
    }
    assert!(
        total <= u128::from(root.duration()),
        "{context}: path {total} longer than the root {}",
        root.duration()
    );
    let shares: u128 = view
        .spans
        .iter()
        .map(|s| u128::from(s.critical_path_nanos))
        .sum();
    assert_eq!(shares, total, "{context}: per-span shares");
}

fn check_against_model(
    store: &SpanStore,
    model: &Model,
    g: &mut Gen,
    totals: &mut Totals,
    context: &str,
) {
    let (max_spans, max_bytes) = store.with_table(|t| (t.max_spans(), t.max_bytes()));
    let (count, bytes) = store.with_table(|t| (t.span_count(), t.bytes()));
    assert!(count <= max_spans, "{context}: {count} spans > {max_spans}");
    assert!(bytes <= max_bytes, "{context}: {bytes} bytes > {max_bytes}");
    assert_eq!(count, model.span_count(), "{context}");

    let ids: Vec<(String, usize)> = store.with_table(|t| {
        t.traces()
            .map(|(_, e)| (hex_id(&e.id), e.spans.len()))
            .collect()
    });
    let expected: Vec<(String, usize)> = model
        .traces
        .iter()
        .map(|t| (t.id.clone(), t.spans.len()))
        .collect();
    assert_eq!(ids, expected, "{context}: traces (whole, oldest first)");
    assert_eq!(
        store.stats().dropped_traces,
        model.evicted_traces,
        "{context}"
    );

    let spans = store.spans();
    let want = model.spans();
    if spans != want {
        let at = spans.iter().zip(&want).position(|(a, b)| a != b);
        panic!(
            "{context}: spans differ at {at:?}: {:#?}\nvs model {:#?}",
            at.map(|i| &spans[i]),
            at.map(|i| &want[i])
        );
    }
    if let Some(trace) = model.traces.last() {
        let mine: Vec<StoredSpan> = trace.spans.iter().map(|s| s.stored.clone()).collect();
        assert_eq!(store.spans_of_trace(&trace.id.to_uppercase()), mine);
    }

    for _ in 0..6 {
        let query = g.search();
        let got: Vec<Expected> = store
            .with_table(|t| search::search(t, &query))
            .iter()
            .map(Expected::from_summary)
            .collect();
        let want = model.search(&query);
        assert_eq!(got, want, "{context}: search {query:#?}");
        totals.searches += 1;
        totals.hits += usize::from(!want.is_empty());
    }

    store.with_table(|table| {
        for (seq, entry) in table.traces() {
            check_trace_view(table, entry, &format!("{context}, trace seq {seq}"));
        }
        let everything = Window::since(0, u64::MAX);
        let recent = Window::last(params::DEFAULT_WINDOW, BASE + 1_000_000_000);
        for window in [everything, recent] {
            for namespace in [None, Some("gold"), Some("")] {
                serde_json::to_string(&map::service_map(table, window, namespace)).expect("map");
                for service in [None, Some("checkout")] {
                    let query = red::RedQuery {
                        service: service.map(str::to_owned),
                        namespace: namespace.map(str::to_owned),
                        slower_than: vec![1_000_000],
                    };
                    serde_json::to_string(&red::red(table, window, &query)).expect("red");
                }
                let scope = Scope {
                    namespace: namespace.map(str::to_owned),
                    ..Scope::default()
                };
                serde_json::to_string(&errors::errors(table, window, &scope)).expect("errors");
                let scope = Scope {
                    service: Some("cart".into()),
                    operation: Some("GET /".into()),
                    namespace: namespace.map(str::to_owned),
                };
                serde_json::to_string(&errors::errors(table, window, &scope)).expect("errors");
            }
        }
    });
}

/// Nothing left behind once every trace is gone: no strings, resources, postings or bytes.
fn check_empty(store: &SpanStore, context: &str) {
    store.with_table(|t| {
        assert_eq!(t.span_count(), 0, "{context}");
        assert_eq!(t.trace_count(), 0, "{context}");
        assert_eq!(
            t.interner.len(),
            0,
            "{context}: strings left in the interner"
        );
        assert_eq!(t.resource_count(), 0, "{context}: resources left");
        assert_eq!(t.index.bytes(), 0, "{context}: postings left in the index");
        assert_eq!(t.bytes(), 0, "{context}: bytes still accounted");
    });
    assert!(store.spans().is_empty(), "{context}");
}

struct Totals {
    cases: usize,
    batches: usize,
    spans: u64,
    searches: usize,
    /// Searches that found something (the rest only show nothing is found wrongly).
    hits: usize,
    /// Batches after which the byte bound took more than the count bound.
    byte_evictions: usize,
}

fn run_case(seed: u64, totals: &mut Totals) {
    let mut g = Gen::new(seed);
    let max_spans = g.rng.random_range(1..120);
    let max_bytes = match g.rng.random_range(0..3) {
        0 => usize::MAX,
        _ => g.rng.random_range(1_000..120_000),
    };
    let store = SpanStore::with_bounds(max_spans, max_bytes);
    let mut model = Model::default();
    let batches = g.rng.random_range(10..40);
    let most_spans = g.rng.random_range(1..12);
    for batch in 0..batches {
        let context = format!("seed {seed}, batch {batch}, bounds {max_spans}/{max_bytes}");
        let request = g.request(most_spans);
        totals.spans += request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum::<u64>();
        let want_rejected = model.insert(&request);
        let rejected = store.insert_request(request);
        assert_eq!(rejected, want_rejected, "{context}: rejected");
        // The count bound alone says what must go; the byte bound may take more, but only
        // whole traces from the front.
        while model.span_count() > max_spans {
            model.evict_oldest();
        }
        let stored = store.with_table(Table::trace_count);
        assert!(stored <= model.traces.len(), "{context}: kept too much");
        if stored < model.traces.len() {
            assert_ne!(max_bytes, usize::MAX, "{context}: evicted within bounds");
            totals.byte_evictions += 1;
        }
        while model.traces.len() > stored {
            model.evict_oldest();
        }
        check_against_model(&store, &model, &mut g, totals, &context);
        totals.batches += 1;
    }

    // Everything out: either a clear, or one trace too big to keep pushing all out.
    let context = format!("seed {seed}, at the end");
    if seed.is_multiple_of(2) {
        store.clear();
    } else {
        let trace_id: Vec<u8> = (0..16).map(|_| g.rng.random()).collect();
        let spans = (0..=max_spans)
            .map(|n| Span {
                trace_id: trace_id.clone(),
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                name: format!("filler {n}"),
                attributes: g.attributes(3),
                ..Span::default()
            })
            .collect();
        store.insert_request(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: g.resource(),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        });
    }
    check_empty(&store, &context);
    totals.cases += 1;
}

#[test]
fn the_store_matches_a_whole_trace_fifo_model() {
    let started = Instant::now();
    let mut totals = Totals {
        cases: 0,
        batches: 0,
        spans: 0,
        searches: 0,
        hits: 0,
        byte_evictions: 0,
    };
    let seeds: Vec<u64> = match std::env::var("STORE_PROPERTIES_SEED") {
        Ok(seed) => vec![seed.parse().expect("a seed")],
        Err(_) => (0..300).collect(),
    };
    for seed in seeds {
        run_case(seed, &mut totals);
    }
    println!(
        "store properties: {} cases, {} batches ({} byte-bound evictions), {} spans, \
         {} searches ({} with hits) in {:.1?}",
        totals.cases,
        totals.batches,
        totals.byte_evictions,
        totals.spans,
        totals.searches,
        totals.hits,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Query parameters.

#[test]
fn parameters_never_panic_and_valid_forms_round_trip() {
    let started = Instant::now();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let alphabet: Vec<char> = "0123456789.µsmhdnu -+eE=\u{0}é∞x".chars().collect();
    let random_cases = 20_000;
    for _ in 0..random_cases {
        let len = rng.random_range(0..14);
        let text: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        // Whatever the answer, no panic, and a refusal names the parameter.
        if let Err(e) = params::duration("min_duration", &text) {
            assert_eq!(e.parameter, "min_duration");
        }
        if let Ok(nanos) = params::window(Some(&text)) {
            assert!((1_000_000_000..=7 * 86_400 * 1_000_000_000).contains(&nanos));
        }
        let _ = params::unix_millis("start", &text);
        if let Ok(n) = params::limit(Some(&text), 20, 1000) {
            assert!((1..=1000).contains(&n));
        }
        let _ = params::boolean("errors", Some(&text));
        if let Ok((key, _)) = params::attribute(&text) {
            assert!(!key.is_empty());
        }
    }

    let units: &[(&str, u64)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("", 1_000_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
        ("d", 86_400_000_000_000),
    ];
    let valid_cases = 20_000;
    for _ in 0..valid_cases {
        let (unit, per) = units[rng.random_range(0..units.len())];
        let whole: u64 = rng.random_range(0..100_000);
        let space = if rng.random() { " " } else { "" };
        // Whole numbers are exact.
        let text = format!("{whole}{space}{unit}");
        assert_eq!(params::duration("d", &text), Ok(whole * per), "{text:?}");
        // Decimals are exact, to the nanosecond below.
        let hundredths: u64 = rng.random_range(0..100);
        let text = format!("{whole}.{hundredths:02}{unit}");
        let exact = u128::from(whole * 100 + hundredths) * u128::from(per) / 100;
        assert_eq!(
            params::duration("d", &text).map(u128::from),
            Ok(exact),
            "{text:?}"
        );
        // Windows take the same forms within 1s to 7d.
        let window = params::window(Some(&format!("{whole}{unit}")));
        let nanos = whole * per;
        assert_eq!(
            window.is_ok(),
            (1_000_000_000..=7 * 86_400 * 1_000_000_000).contains(&nanos),
            "{whole}{unit}"
        );

        let millis: u64 = rng.random();
        let expected = millis.checked_mul(1_000_000);
        assert_eq!(
            params::unix_millis("start", &millis.to_string()).ok(),
            expected
        );
        let n: usize = rng.random_range(0..2_000);
        assert_eq!(
            params::limit(Some(&n.to_string()), 20, 1000).ok(),
            (1..=1000).contains(&n).then_some(n)
        );
        let key: String = (0..rng.random_range(1..8))
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .filter(|&c| c != '=')
            .collect();
        let value: String = (0..rng.random_range(0..8))
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let parsed = params::attribute(&format!("{key}={value}"));
        if key.trim().is_empty() {
            assert!(parsed.is_err());
        } else {
            assert_eq!(parsed, Ok((key.trim().to_owned(), value)));
        }
    }
    for (text, value) in [("true", true), ("1", true), ("off", false), ("", false)] {
        assert_eq!(params::boolean("errors", Some(text)), Ok(value));
    }
    println!(
        "parameters: {random_cases} random strings, {valid_cases} valid forms in {:.1?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Hostile shapes: what one export request can carry must not make a query (or the insert
// itself) quadratic. Before the fixes, in a debug build with 40 000 spans: the insert took
// 4 s, the waterfall 26 s, the search 2.3 s, the error analysis 39 s, the service map 1.9 s
// and the byte-bound eviction 43 s; now each takes well under a second. (Late spans grow
// quadratic only in longer lists: `store::index` tests them with 400 000.)

fn span_id(n: usize) -> Vec<u8> {
    (n as u64 + 1).to_be_bytes().to_vec()
}

/// One trace whose every span has its own resource (so its own service), its own name and
/// attribute value, fails, sits in a two-span parent cycle, and links to the trace's last
/// producer span.
fn one_wide_trace(n: usize) -> ExportTraceServiceRequest {
    let trace_id = vec![0xab; 16];
    ExportTraceServiceRequest {
        resource_spans: (0..n)
            .map(|i| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![s("service.name", &format!("service {i}"))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: trace_id.clone(),
                        span_id: span_id(i),
                        parent_span_id: span_id(i ^ 1),
                        name: format!("operation {i}"),
                        // Producer, consumer, client, server: pairs that call each other.
                        kind: [4, 5, 3, 2][i % 4],
                        start_time_unix_nano: BASE + i as u64,
                        end_time_unix_nano: BASE + i as u64 + 10,
                        status: Some(Status {
                            code: 2,
                            message: String::new(),
                        }),
                        attributes: vec![s("user.id", &format!("user {i}"))],
                        links: vec![span::Link {
                            trace_id: trace_id.clone(),
                            span_id: span_id(n / 4 * 4 - 4),
                            ..span::Link::default()
                        }],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            })
            .collect(),
    }
}

/// Single-span traces, one per resource, numbered from `first`.
fn many_small_traces(first: usize, n: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (first..first + n)
            .map(|i| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![s("service.name", &format!("service {i}"))],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: (i as u128 + 1).to_be_bytes().to_vec(),
                        span_id: span_id(i),
                        name: "small".into(),
                        start_time_unix_nano: BASE,
                        end_time_unix_nano: BASE + 1,
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            })
            .collect(),
    }
}

/// Runs `f` and prints how long it took. Only printed, never asserted: a quadratic step
/// shows as a test taking minutes, not as a flaky failure on a busy machine.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    println!("  {what}: {:.1?}", started.elapsed());
    out
}

#[test]
fn hostile_shapes_stay_linear() {
    let n = 40_000;
    println!("hostile shapes, {n} spans each:");
    let store = SpanStore::with_bounds(usize::MAX, usize::MAX);
    timed("one trace of as many resources", || {
        store.insert_request(one_wide_trace(n))
    });
    store.with_table(|table| {
        let (_, entry) = table.traces().next().expect("the trace");
        let view = timed("its waterfall (cycles, services)", || {
            trace::trace_view(table, entry, &[])
        });
        assert_eq!(view.spans.len(), n);
        assert_eq!(view.services.len(), n);
        let everything = Search {
            span: SpanConditions::default(),
            start: None,
            end: None,
            failing: false,
            limit: 1000,
        };
        let found = timed("a search summarising it", || {
            search::search(table, &everything)
        });
        assert_eq!(found[0].services.len(), n);
        let window = Window::since(0, u64::MAX);
        let analysis = timed("error analysis (causes, values)", || {
            errors::errors(table, window, &Scope::default())
        });
        assert_eq!(analysis.failing_traces, 1);
        let map = timed("service map (served calls, links)", || {
            map::service_map(table, window, None)
        });
        // Every client to its server, the producer to every consumer.
        assert_eq!(map.edges.len(), n / 2);
    });

    // Eviction checks the byte bound after each trace it drops.
    let full = SpanStore::with_bounds(usize::MAX, usize::MAX);
    full.insert_request(many_small_traces(0, n));
    let bytes = full.with_table(Table::bytes);
    let store = SpanStore::with_bounds(usize::MAX, bytes);
    store.insert_request(many_small_traces(0, n));
    timed("evicting as many traces of their own resources", || {
        store.insert_request(many_small_traces(n, n))
    });
    assert!(store.stats().dropped_traces >= n as u64 * 9 / 10);

    // Late spans for every old trace, all with a new value of one attribute.
    let late = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..n)
                    .map(|j| {
                        let i = n + (j * 7919) % n;
                        Span {
                            trace_id: (i as u128 + 1).to_be_bytes().to_vec(),
                            span_id: span_id(i + 10 * n),
                            name: "late".into(),
                            attributes: vec![s("late", "yes")],
                            ..Span::default()
                        }
                    })
                    .collect(),
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let store = SpanStore::with_bounds(usize::MAX, usize::MAX);
    store.insert_request(many_small_traces(n, n));
    timed("late spans into every old trace", || {
        store.insert_request(late)
    });
    let late = Search {
        span: SpanConditions {
            attributes: vec![("late".into(), "yes".into())],
            ..SpanConditions::default()
        },
        start: None,
        end: None,
        failing: false,
        limit: 1000,
    };
    assert_eq!(store.with_table(|t| search::search(t, &late)).len(), 1000);
}
