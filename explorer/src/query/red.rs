//! RED tables — rate, errors, duration — per service, per service endpoint and per database
//! query, the way APM products show them; optionally of one service, and of one namespace's
//! spans. The same over time, bucket by bucket, is [`super::series`].

use std::collections::HashMap;

use serde::Serialize;

use crate::store::attrs::{self, ValueRef};
use crate::store::index::hash_bytes;
use crate::store::intern::Sym;
use crate::store::table::{Kind, Status, Table};

use super::namespace::Namespace;
use super::window::{Durations, Window};

/// What each table says of a group of spans besides how many there were.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub errors: usize,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub total_ms: f64,
    /// How many took longer than each threshold asked for (`slower_than`), in the order
    /// given; absent when none was asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slower: Vec<Slower>,
}

/// Of a group, how many took longer than a threshold: the "bad" events of a latency
/// objective, which a percentile alone cannot give.
#[derive(Debug, Clone, Serialize)]
pub struct Slower {
    pub threshold_ms: f64,
    pub count: usize,
}

impl Figures {
    /// The figures of finished durations over a window of `seconds`.
    fn of(d: &Durations, seconds: f64, thresholds: &[u64]) -> Figures {
        Figures {
            slower: thresholds
                .iter()
                .map(|&t| Slower {
                    threshold_ms: t as f64 / 1e6,
                    count: d.longer_than(t),
                })
                .collect(),
            errors: d.errors,
            rate_per_second: d.count() as f64 / seconds,
            error_rate: d.error_rate(),
            p50_ms: d.percentile_ms(0.5),
            p95_ms: d.percentile_ms(0.95),
            p99_ms: d.percentile_ms(0.99),
            max_ms: d.max_ms(),
            total_ms: d.total as f64 / 1e6,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointRow {
    pub service: String,
    pub operation: String,
    pub kind: &'static str,
    pub requests: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A service's SERVER and CONSUMER spans together: the requests and messages it handled.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub service: String,
    pub requests: usize,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueryRow {
    pub service: String,
    pub db_system: String,
    pub query: String,
    pub operation: String,
    pub collection: String,
    pub calls: usize,
    #[serde(flatten)]
    pub figures: Figures,
    pub calls_per_trace: f64,
    /// The most calls of the query within one trace: one request running the same query many
    /// times is the N+1 pattern, which an average over every trace dilutes.
    pub max_calls_per_trace: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Red {
    pub window_seconds: f64,
    pub services: Vec<ServiceRow>,
    pub endpoints: Vec<EndpointRow>,
    pub queries: Vec<QueryRow>,
}

#[derive(Default)]
struct QueryGroup {
    durations: Durations,
    traces: usize,
    last_trace: usize,
    in_last_trace: usize,
    most_in_a_trace: usize,
    db_system: String,
    query: String,
    operation: String,
    collection: String,
}

fn text_of(value: Option<ValueRef<'_>>) -> String {
    match value {
        None => String::new(),
        Some(ValueRef::Str(s)) => s.to_owned(),
        Some(other) => other.to_json().to_string(),
    }
}

/// What a RED query asks for besides its window.
#[derive(Debug, Clone, Default)]
pub struct RedQuery {
    pub service: Option<String>,
    pub namespace: Option<String>,
    /// Thresholds in nanoseconds: each row counts the spans longer than each.
    pub slower_than: Vec<u64>,
}

pub fn red(table: &Table, window: Window, query: &RedQuery) -> Red {
    let (service, namespace) = (query.service.as_deref(), query.namespace.as_deref());
    let thresholds = query.slower_than.as_slice();
    let namespace = Namespace::new(table, namespace);
    let key = |k: &str| table.interner.lookup(k);
    let system_keys: Vec<Sym> = ["db.system.name", "db.system"]
        .into_iter()
        .filter_map(key)
        .collect();
    let query_key = key("db.query.text").or_else(|| key("db.statement"));
    let operation_key = key("db.operation.name").or_else(|| key("db.operation"));
    let collection_key = key("db.collection.name").or_else(|| key("db.sql.table"));
    let only = match service {
        Some(name) => match table.interner.lookup(name) {
            Some(sym) => Some(sym),
            None => {
                return Red {
                    window_seconds: window.seconds(None),
                    services: Vec::new(),
                    endpoints: Vec::new(),
                    queries: Vec::new(),
                };
            }
        },
        None => None,
    };

    let mut services: HashMap<Sym, Durations> = HashMap::new();
    let mut endpoints: HashMap<(Sym, Sym, Kind), Durations> = HashMap::new();
    let mut queries: HashMap<(Sym, u64), QueryGroup> = HashMap::new();
    let mut earliest: Option<u64> = None;
    for (n, trace) in namespace.traces(table, &window).into_iter().enumerate() {
        for span in trace.spans.iter().filter(|s| window.contains(s)) {
            if !namespace.holds(table, span) {
                continue;
            }
            earliest = Some(earliest.map_or(span.start, |e| e.min(span.start)));
            if only.is_some_and(|s| s != span.service) {
                continue;
            }
            let error = span.status == Status::Error;
            if matches!(span.kind, Kind::Server | Kind::Consumer) {
                services
                    .entry(span.service)
                    .or_default()
                    .add(span.duration(), error);
                endpoints
                    .entry((span.service, span.name, span.kind))
                    .or_default()
                    .add(span.duration(), error);
            }
            let Some(system) = system_keys.iter().find_map(|&k| attrs::get(&span.attrs, k)) else {
                continue;
            };
            let query_value = query_key.and_then(|k| attrs::get(&span.attrs, k));
            let query_text = match query_value {
                Some(ValueRef::Str(s)) => s,
                _ => table.interner.text(span.name),
            };
            let group = queries
                .entry((span.service, hash_bytes(0, query_text.as_bytes())))
                .or_insert_with(|| QueryGroup {
                    db_system: text_of(Some(system)),
                    query: query_text.to_owned(),
                    operation: text_of(operation_key.and_then(|k| attrs::get(&span.attrs, k))),
                    collection: text_of(collection_key.and_then(|k| attrs::get(&span.attrs, k))),
                    last_trace: usize::MAX,
                    ..QueryGroup::default()
                });
            group.durations.add(span.duration(), error);
            if group.last_trace != n {
                group.last_trace = n;
                group.traces += 1;
                group.in_last_trace = 0;
            }
            group.in_last_trace += 1;
            group.most_in_a_trace = group.most_in_a_trace.max(group.in_last_trace);
        }
    }

    let seconds = window.seconds(earliest);
    let text = |sym| table.interner.text(sym).to_owned();
    let mut services: Vec<ServiceRow> = services
        .into_iter()
        .map(|(service, mut d)| {
            d.finish();
            ServiceRow {
                service: text(service),
                requests: d.count(),
                figures: Figures::of(&d, seconds, thresholds),
            }
        })
        .collect();
    let mut endpoints: Vec<EndpointRow> = endpoints
        .into_iter()
        .map(|((service, name, kind), mut d)| {
            d.finish();
            EndpointRow {
                service: text(service),
                operation: text(name),
                kind: kind.name(),
                requests: d.count(),
                figures: Figures::of(&d, seconds, thresholds),
            }
        })
        .collect();
    let mut queries: Vec<QueryRow> = queries
        .into_iter()
        .map(|((service, _), mut g)| {
            g.durations.finish();
            let d = &g.durations;
            QueryRow {
                service: text(service),
                db_system: g.db_system,
                query: g.query,
                operation: g.operation,
                collection: g.collection,
                calls: d.count(),
                figures: Figures::of(d, seconds, thresholds),
                calls_per_trace: d.count() as f64 / g.traces.max(1) as f64,
                max_calls_per_trace: g.most_in_a_trace,
            }
        })
        .collect();
    services.sort_by(|a, b| {
        b.figures
            .total_ms
            .total_cmp(&a.figures.total_ms)
            .then_with(|| a.service.cmp(&b.service))
    });
    endpoints.sort_by(|a, b| b.figures.total_ms.total_cmp(&a.figures.total_ms));
    queries.sort_by(|a, b| b.figures.total_ms.total_cmp(&a.figures.total_ms));
    Red {
        window_seconds: seconds,
        services,
        endpoints,
        queries,
    }
}
