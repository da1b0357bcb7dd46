//! The service map: who calls whom, with request rate, error rate and p95 per edge.
//!
//! An edge comes from a caller's CLIENT span whose child SERVER span belongs to another
//! service, or from a CONSUMER span linked to a PRODUCER span of another service (queues
//! start new traces and link back), or, without such a link, whose parent is one. A CLIENT span with no traced child (the callee was
//! unreachable, is a database, or is not instrumented) points at what its attributes name.
//!
//! Narrowed to a namespace, the map is drawn from that namespace's spans alone: a call counts
//! when both its ends are of it, and a call to a service of another namespace is drawn like
//! one to an untraced peer (by the attributes that name it), so another person's services
//! never appear as traced nodes of yours.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::store::attrs::{self, ValueRef};
use crate::store::table::{Kind, SpanId, SpanRow, Status, Table, TraceId};

use super::namespace::Namespace;
use super::window::{Durations, Window};

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    pub traced: bool,
    pub span_count: usize,
    pub error_count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub requests: usize,
    pub errors: usize,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceMap {
    pub window_seconds: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Attributes naming the other end of an untraced call, most specific first.
/// `service.peer.name` is the semantic conventions' name for the called service;
/// `peer.service`, which it replaced, is still what many applications send.
const PEER_KEYS: [&str; 5] = [
    "service.peer.name",
    "peer.service",
    "db.system.name",
    "db.system",
    "server.address",
];

pub fn service_map(table: &Table, window: Window, namespace: Option<&str>) -> ServiceMap {
    let namespace = Namespace::new(table, namespace);
    let ours = |span: &SpanRow| window.contains(span) && namespace.holds(table, span);
    let peer_keys: Vec<_> = PEER_KEYS
        .iter()
        .filter_map(|k| table.interner.lookup(k))
        .collect();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String), Durations> = BTreeMap::new();
    let mut earliest: Option<u64> = None;
    let text = |sym| table.interner.text(sym).to_owned();
    // The spans of the traces consumer spans link to, by id, built once per linked trace:
    // scanning the linked trace per link was quadratic.
    let mut linked: HashMap<TraceId, HashMap<SpanId, &SpanRow>> = HashMap::new();

    for trace in namespace.traces(table, &window) {
        let spans = &trace.spans;
        let by_id: HashMap<SpanId, &SpanRow> = spans.iter().map(|s| (s.span_id, s)).collect();
        let mut served: HashSet<SpanId> = HashSet::new();
        for span in spans.iter().filter(|s| ours(s)) {
            earliest = Some(earliest.map_or(span.start, |e| e.min(span.start)));
            let node = nodes.entry(text(span.service)).or_insert_with(|| Node {
                name: text(span.service),
                traced: true,
                span_count: 0,
                error_count: 0,
            });
            node.span_count += 1;
            node.error_count += usize::from(span.status == Status::Error);

            if span.kind == Kind::Server
                && let Some(caller) = by_id.get(&span.parent)
                && caller.kind == Kind::Client
                && caller.service != span.service
                && namespace.holds(table, caller)
            {
                served.insert(caller.span_id);
                edges
                    .entry((text(caller.service), text(span.service)))
                    .or_default()
                    .add(caller.duration(), caller.status == Status::Error);
            }
            if span.kind == Kind::Consumer {
                let mut from_link = false;
                for link in span.links() {
                    let producer = linked
                        .entry(link.trace_id)
                        .or_insert_with(|| {
                            // The first span of an id, as a scan would find it.
                            let mut by_id = HashMap::new();
                            for s in table
                                .trace(&link.trace_id)
                                .into_iter()
                                .flat_map(|t| &t.spans)
                            {
                                by_id.entry(s.span_id).or_insert(s);
                            }
                            by_id
                        })
                        .get(&link.span_id);
                    if let Some(producer) = producer
                        && producer.kind == Kind::Producer
                        && producer.service != span.service
                        && namespace.holds(table, producer)
                    {
                        from_link = true;
                        edges
                            .entry((text(producer.service), text(span.service)))
                            .or_default()
                            .add(span.duration(), span.status == Status::Error);
                    }
                }
                // Some instrumentations continue the producer's trace instead of linking.
                if !from_link
                    && let Some(producer) = by_id.get(&span.parent)
                    && producer.kind == Kind::Producer
                    && producer.service != span.service
                    && namespace.holds(table, producer)
                {
                    edges
                        .entry((text(producer.service), text(span.service)))
                        .or_default()
                        .add(span.duration(), span.status == Status::Error);
                }
            }
        }
        for span in spans.iter().filter(|s| s.kind == Kind::Client && ours(s)) {
            if served.contains(&span.span_id) {
                continue;
            }
            let Some(peer) = peer_keys.iter().find_map(|&k| attrs::get(&span.attrs, k)) else {
                continue;
            };
            let peer = match peer {
                ValueRef::Str(s) => s.to_owned(),
                other => other.to_json().to_string(),
            };
            edges
                .entry((text(span.service), peer))
                .or_default()
                .add(span.duration(), span.status == Status::Error);
        }
    }

    let seconds = window.seconds(earliest);
    let edges = edges
        .into_iter()
        .map(|((from, to), mut durations)| {
            durations.finish();
            nodes.entry(to.clone()).or_insert_with(|| Node {
                name: to.clone(),
                traced: false,
                span_count: 0,
                error_count: 0,
            });
            Edge {
                from,
                to,
                requests: durations.count(),
                errors: durations.errors,
                rate_per_second: durations.count() as f64 / seconds,
                error_rate: durations.error_rate(),
                p95_ms: durations.percentile_ms(0.95),
            }
        })
        .collect();
    ServiceMap {
        window_seconds: seconds,
        nodes: nodes.into_values().collect(),
        edges,
    }
}
