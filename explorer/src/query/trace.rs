//! One trace as a waterfall: spans depth first from each root with their details, and the
//! critical path — the chain of work the trace's end waited on.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::convert::hex_id;
use crate::store::attrs;
use crate::store::table::{SpanId, SpanRow, Status, Table, TraceEntry};

use super::params::ms;

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub name: String,
    pub time_unix_nanos: u64,
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpanView {
    pub span_id: String,
    pub parent_span_id: String,
    pub parent_missing: bool,
    pub depth: usize,
    pub name: String,
    pub kind: &'static str,
    pub service: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub duration_nanos: u64,
    pub duration_ms: f64,
    pub offset_ms: f64,
    pub status_code: &'static str,
    pub status_message: String,
    pub attributes: BTreeMap<String, Value>,
    pub events: Vec<EventView>,
    pub links: Vec<LinkView>,
    pub resource: BTreeMap<String, Value>,
    pub scope: String,
    pub critical_path_nanos: u64,
    pub self_nanos: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segment {
    #[serde(skip)]
    pub span: usize,
    pub span_id: SpanIdHex,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
}

/// A span id that serialises as hex without allocating until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanIdHex(pub SpanId);

impl Serialize for SpanIdHex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex_id(&self.0))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceView {
    pub trace_id: String,
    pub start_unix_nanos: u64,
    pub duration_nanos: u64,
    pub duration_ms: f64,
    pub span_count: usize,
    pub error_count: usize,
    pub services: Vec<String>,
    pub spans: Vec<SpanView>,
    pub critical_path: Vec<Segment>,
}

/// How the spans of one trace hang together.
#[derive(Debug)]
pub struct Tree {
    /// Waterfall order: (span index, depth, parent missing).
    pub order: Vec<(usize, usize, bool)>,
    /// Children of each span, by start time.
    pub children: Vec<Vec<usize>>,
    /// Parent index of each span, when the parent is in the trace.
    pub parent: Vec<Option<usize>>,
}

/// Links every span to its parent (when stored) and orders them depth first. A span whose
/// parent is missing, itself, or part of a cycle becomes the root of its own subtree, so
/// every span appears exactly once whatever the exporter sent.
pub fn tree(spans: &[SpanRow]) -> Tree {
    let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        by_id.entry(span.span_id).or_insert(i);
    }
    let mut parent: Vec<Option<usize>> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.is_root() {
                None
            } else {
                by_id.get(&s.parent).copied().filter(|&p| p != i)
            }
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    for (i, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    for list in &mut children {
        list.sort_by_key(|&c| (spans[c].start, spans[c].seq));
    }
    let mut roots: Vec<usize> = (0..spans.len()).filter(|&i| parent[i].is_none()).collect();
    roots.sort_by_key(|&r| (spans[r].start, spans[r].seq));

    let mut order = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    for &root in &roots {
        walk(root, spans, &parent, &children, &mut order, &mut visited);
    }
    // Spans in a parent cycle were reachable from no root: cut each cycle at its earliest span.
    while let Some(orphan) = (0..spans.len())
        .filter(|&i| !visited[i])
        .min_by_key(|&i| (spans[i].start, spans[i].seq))
    {
        if let Some(p) = parent[orphan].take() {
            children[p].retain(|&c| c != orphan);
        }
        walk(orphan, spans, &parent, &children, &mut order, &mut visited);
    }
    Tree {
        order,
        children,
        parent,
    }
}

/// Depth-first from `root`, children in start order, each span once.
fn walk(
    root: usize,
    spans: &[SpanRow],
    parent: &[Option<usize>],
    children: &[Vec<usize>],
    order: &mut Vec<(usize, usize, bool)>,
    visited: &mut [bool],
) {
    let mut stack = vec![(root, 0usize)];
    while let Some((span, depth)) = stack.pop() {
        if visited[span] {
            continue;
        }
        visited[span] = true;
        let missing = !spans[span].is_root() && parent[span].is_none();
        order.push((span, depth, missing));
        for &child in children[span].iter().rev() {
            stack.push((child, depth + 1));
        }
    }
}

/// The critical path from `root`: starting at the root's end, the child that finished last
/// before that point, then (recursively) its own critical path, then back in the parent
/// before that child started, and so on. Returns segments in time order.
pub fn critical_path(spans: &[SpanRow], tree: &Tree, root: usize) -> Vec<Segment> {
    let segment = |span: usize, start: u64, end: u64| Segment {
        span,
        span_id: SpanIdHex(spans[span].span_id),
        start_unix_nanos: start,
        end_unix_nanos: end,
    };
    let mut segments = Vec::new();
    let mut done = vec![false; spans.len()];
    let mut stack = vec![(root, spans[root].end)];
    while let Some((span, until)) = stack.pop() {
        if std::mem::replace(&mut done[span], true) {
            continue;
        }
        let own = &spans[span];
        let mut point = own.end.min(until).max(own.start);
        let mut kids: Vec<usize> = tree.children[span].clone();
        kids.sort_by_key(|&c| std::cmp::Reverse(spans[c].end));
        for child in kids {
            let c = &spans[child];
            if c.start >= point || c.end <= own.start {
                continue;
            }
            let child_end = c.end.min(point);
            if point > child_end {
                segments.push(segment(span, child_end, point));
            }
            stack.push((child, child_end));
            point = c.start.max(own.start);
        }
        if point > own.start {
            segments.push(segment(span, own.start, point));
        }
    }
    segments.sort_by_key(|s| (s.start_unix_nanos, s.end_unix_nanos));
    segments
}

/// The span's time covered by none of its children.
fn self_time(spans: &[SpanRow], children: &[usize], span: usize) -> u64 {
    let own = &spans[span];
    let mut intervals: Vec<(u64, u64)> = children
        .iter()
        .map(|&c| (spans[c].start.max(own.start), spans[c].end.min(own.end)))
        .filter(|(s, e)| e > s)
        .collect();
    intervals.sort_unstable();
    let mut covered = 0;
    let mut reach = own.start;
    for (s, e) in intervals {
        let s = s.max(reach);
        if e > s {
            covered += e - s;
            reach = e;
        }
    }
    own.duration().saturating_sub(covered)
}

/// The main root: the longest span without a parent in the trace.
pub fn main_root(spans: &[SpanRow], tree: &Tree) -> Option<usize> {
    tree.order
        .iter()
        .filter(|(_, depth, _)| *depth == 0)
        .map(|&(i, _, _)| i)
        .max_by_key(|&i| (spans[i].duration(), std::cmp::Reverse(spans[i].start)))
}

/// The whole view of one trace.
pub fn trace_view(table: &Table, trace: &TraceEntry) -> TraceView {
    let spans = &trace.spans;
    let tree = tree(spans);
    let critical = main_root(spans, &tree)
        .map(|root| critical_path(spans, &tree, root))
        .unwrap_or_default();
    let mut on_path = vec![0u64; spans.len()];
    for s in &critical {
        on_path[s.span] += s.end_unix_nanos - s.start_unix_nanos;
    }
    let interner = &table.interner;
    let mut services: Vec<String> = Vec::new();
    let views = tree
        .order
        .iter()
        .map(|&(i, depth, parent_missing)| {
            let span = &spans[i];
            let service = interner.text(span.service).to_owned();
            if !services.contains(&service) {
                services.push(service.clone());
            }
            SpanView {
                span_id: hex_id(&span.span_id),
                parent_span_id: if span.is_root() {
                    String::new()
                } else {
                    hex_id(&span.parent)
                },
                parent_missing,
                depth,
                name: interner.text(span.name).to_owned(),
                kind: span.kind.name(),
                service,
                start_unix_nanos: span.start,
                end_unix_nanos: span.end,
                duration_nanos: span.duration(),
                duration_ms: ms(span.duration()),
                offset_ms: ms(span.start.saturating_sub(trace.start)),
                status_code: span.status.name(),
                status_message: span.status_message().to_owned(),
                attributes: attrs::to_map(&span.attrs, interner),
                events: span
                    .events()
                    .iter()
                    .map(|e| EventView {
                        name: interner.text(e.name).to_owned(),
                        time_unix_nanos: e.time,
                        attributes: attrs::to_map(&e.attrs, interner),
                    })
                    .collect(),
                links: span
                    .links()
                    .iter()
                    .map(|l| LinkView {
                        trace_id: hex_id(&l.trace_id),
                        span_id: hex_id(&l.span_id),
                        attributes: attrs::to_map(&l.attrs, interner),
                    })
                    .collect(),
                resource: table
                    .resource(span.resource)
                    .map(|r| attrs::to_map(&r.attrs, interner))
                    .unwrap_or_default(),
                scope: interner.text(span.scope).to_owned(),
                critical_path_nanos: on_path[i],
                self_nanos: self_time(spans, &tree.children[i], i),
            }
        })
        .collect();
    services.sort();
    let duration = trace.end.saturating_sub(trace.start);
    TraceView {
        trace_id: hex_id(&trace.id),
        start_unix_nanos: trace.start,
        duration_nanos: duration,
        duration_ms: ms(duration),
        span_count: spans.len(),
        error_count: spans.iter().filter(|s| s.status == Status::Error).count(),
        services,
        spans: views,
        critical_path: critical,
    }
}
