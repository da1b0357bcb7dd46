//! Customers: whose requests failed (or were slow) within a window, and how badly — the
//! question a customer-facing engineer is asked after an incident ("which customers were
//! hit?").
//!
//! A request is an *entry* SERVER span: one none of whose ancestors in its trace is a SERVER
//! span. A trace may begin at a load generator's or a browser's CLIENT span, or at an
//! INTERNAL one; the entry is the first server that handled the request, and the servers it
//! called are parts of the same request, not requests of their own. A SERVER span whose
//! parent has not arrived (or was evicted) counts as an entry until the parent is stored.
//!
//! The customer of a request is the value of one attribute, the *customer attribute*, which
//! the explorer is told (it knows nothing of whose application it watches): on the entry
//! span, else on its resource, else on any span of the trace (or its resource), the first
//! found in arrival order. An empty value names nobody.
//!
//! Narrowed to a namespace, the view is drawn from that namespace's spans alone: an entry is
//! a SERVER span of the namespace none of whose ancestors of the namespace is a SERVER span
//! (a request that came in from another namespace's service is one of this namespace's
//! requests). The customer is still looked up in the whole trace.
//!
//! One pass over the window's traces: a trace's spans are read once to mark its servers, and
//! each server climbs its parents only until it meets a span whose answer is known.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;

use crate::ids::hex_id;
use crate::store::attrs::{self, ValueRef};
use crate::store::intern::Sym;
use crate::store::table::{Kind, SpanId, SpanRow, Status, Table, TraceEntry, TraceId};

use super::namespace::Namespace;
use super::window::{Durations, Window};

/// The customer attribute unless the explorer is told another: the one the tracedojo shop's
/// services copy from their users' baggage onto every SERVER span.
pub const DEFAULT_ATTRIBUTE: &str = "tracedojo.user.company";
/// Endpoints listed per customer.
const MAX_ENDPOINTS: usize = 10;
/// Example traces per customer.
const EXAMPLES: usize = 3;

/// What to answer: the requests whose entry span started within `window` (from `from` to
/// `now`, both included).
#[derive(Debug, Clone)]
pub struct CustomerQuery {
    pub attribute: String,
    pub window: Window,
    /// A request taking longer than this is affected too.
    pub slower_than: Option<u64>,
    pub namespace: Option<String>,
    /// Most customers returned.
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customers {
    pub window_seconds: f64,
    pub attribute: String,
    /// Every request in the window, with a customer or without.
    pub requests: usize,
    /// Of those, the failed ones, and with `slower_than` the slow ones.
    pub affected_requests: usize,
    /// Distinct customers in the window (`customers` lists at most the limit).
    pub customer_count: usize,
    pub customers: Vec<Customer>,
    pub without_customer: WithoutCustomer,
}

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub customer: String,
    pub requests: usize,
    pub errors: usize,
    pub error_rate: f64,
    /// Requests slower than `slower_than`; `None` without it.
    pub slow: Option<usize>,
    pub affected: usize,
    pub p95_ms: f64,
    /// This customer's affected requests over all affected requests (0 when none).
    pub impact_share: f64,
    pub endpoints: Vec<EndpointUse>,
    pub example_trace_ids: Vec<String>,
}

/// An entry endpoint a customer called.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointUse {
    pub service: String,
    pub operation: String,
    pub requests: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WithoutCustomer {
    pub requests: usize,
    pub errors: usize,
    pub affected: usize,
}

/// One customer's requests as they are read.
#[derive(Default)]
struct Tally {
    durations: Durations,
    slow: usize,
    affected: usize,
    endpoints: HashMap<(Sym, Sym), (usize, usize)>,
    failing_examples: Vec<TraceId>,
    affected_examples: Vec<TraceId>,
    other_examples: Vec<TraceId>,
}

impl Tally {
    fn add(&mut self, trace: &TraceEntry, span: &SpanRow, failed: bool, slow: bool) {
        self.durations.add(span.duration(), failed);
        self.slow += usize::from(slow);
        self.affected += usize::from(failed || slow);
        let endpoint = self.endpoints.entry((span.service, span.name)).or_default();
        endpoint.0 += 1;
        endpoint.1 += usize::from(failed);
        let examples = if failed {
            &mut self.failing_examples
        } else if slow {
            &mut self.affected_examples
        } else {
            &mut self.other_examples
        };
        if examples.len() < EXAMPLES && !examples.contains(&trace.id) {
            examples.push(trace.id);
        }
    }

    fn error_rate(&self) -> f64 {
        self.durations.error_rate()
    }
}

/// Whether a span has a SERVER span among its ancestors, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Above {
    Unknown,
    Server,
    NoServer,
}

/// The buffers the entry rule reuses from trace to trace.
#[derive(Default)]
struct EntryFinder {
    by_id: HashMap<SpanId, usize>,
    server: Vec<bool>,
    above: Vec<Above>,
    path: Vec<usize>,
}

impl EntryFinder {
    /// Marks the trace's servers (of the namespace); returns how many there are.
    fn read(&mut self, spans: &[SpanRow], is_server: impl Fn(&SpanRow) -> bool) -> usize {
        self.server.clear();
        self.server.extend(spans.iter().map(is_server));
        let servers = self.server.iter().filter(|&&s| s).count();
        self.by_id.clear();
        self.above.clear();
        // With a single server there is no other to be above it: no need for the parents.
        if servers > 1 {
            for (i, span) in spans.iter().enumerate() {
                self.by_id.entry(span.span_id).or_insert(i);
            }
            self.above.resize(spans.len(), Above::Unknown);
        }
        servers
    }

    /// Whether span `i`, a server, is an entry: no server above it.
    fn is_entry(&mut self, spans: &[SpanRow], i: usize) -> bool {
        if self.by_id.is_empty() {
            return true;
        }
        self.path.clear();
        let mut at = i;
        let answer = loop {
            let span = &spans[at];
            let parent = match self.by_id.get(&span.parent) {
                Some(&p) if !span.is_root() && p != at => p,
                _ => break Above::NoServer,
            };
            if self.server[parent] {
                break Above::Server;
            }
            if self.above[parent] != Above::Unknown {
                break self.above[parent];
            }
            // Parents that loop (a → b → a) lead to no server.
            if self.path.len() > spans.len() {
                break Above::NoServer;
            }
            self.path.push(parent);
            at = parent;
        };
        // The ancestors climbed past are not servers: what is above them is what is above `i`.
        for &p in &self.path {
            self.above[p] = answer;
        }
        self.above[i] = answer;
        answer == Above::NoServer
    }
}

/// The value that names a customer, if it names one.
fn customer_name(value: ValueRef<'_>) -> Option<Cow<'_, str>> {
    match value {
        ValueRef::Null | ValueRef::Str("") => None,
        ValueRef::Str(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_json().to_string())),
    }
}

/// The customer attribute's value on the span or, failing that, on its resource.
fn on_span_or_resource<'t>(table: &'t Table, span: &'t SpanRow, key: Sym) -> Option<Cow<'t, str>> {
    attrs::get(&span.attrs, key)
        .and_then(customer_name)
        .or_else(|| {
            table
                .resource(span.resource)
                .and_then(|r| attrs::get(&r.attrs, key))
                .and_then(customer_name)
        })
}

pub fn customers(table: &Table, query: &CustomerQuery) -> Customers {
    let window = query.window;
    let namespace = Namespace::new(table, query.namespace.as_deref());
    let key = table.interner.lookup(&query.attribute);
    let is_server = |s: &SpanRow| s.kind == Kind::Server && namespace.holds(table, s);
    let in_window = |s: &SpanRow| s.start >= window.from && s.start <= window.now;

    let mut tallies: HashMap<Cow<'_, str>, Tally> = HashMap::new();
    let mut without = WithoutCustomer::default();
    let (mut requests, mut affected) = (0usize, 0usize);
    let mut earliest: Option<u64> = None;
    let mut finder = EntryFinder::default();
    for trace in namespace.traces(table, &window) {
        let spans = &trace.spans;
        if trace.start > window.now || finder.read(spans, is_server) == 0 {
            continue;
        }
        // The trace's own customer, looked up once and only when an entry lacks one.
        let mut of_trace: Option<Option<Cow<'_, str>>> = None;
        for (i, span) in spans.iter().enumerate() {
            if !finder.server[i] || !in_window(span) || !finder.is_entry(spans, i) {
                continue;
            }
            earliest = Some(earliest.map_or(span.start, |e| e.min(span.start)));
            let failed = span.status == Status::Error;
            let slow = query.slower_than.is_some_and(|t| span.duration() > t);
            requests += 1;
            affected += usize::from(failed || slow);
            let customer = key.and_then(|key| {
                on_span_or_resource(table, span, key).or_else(|| {
                    of_trace
                        .get_or_insert_with(|| {
                            spans
                                .iter()
                                .find_map(|s| on_span_or_resource(table, s, key))
                        })
                        .clone()
                })
            });
            match customer {
                Some(name) => tallies
                    .entry(name)
                    .or_default()
                    .add(trace, span, failed, slow),
                None => {
                    without.requests += 1;
                    without.errors += usize::from(failed);
                    without.affected += usize::from(failed || slow);
                }
            }
        }
    }

    let customer_count = tallies.len();
    let mut ranked: Vec<(Cow<'_, str>, Tally)> = tallies.into_iter().collect();
    ranked.sort_by(|(a_name, a), (b_name, b)| {
        b.affected
            .cmp(&a.affected)
            .then_with(|| b.error_rate().total_cmp(&a.error_rate()))
            .then_with(|| b.durations.count().cmp(&a.durations.count()))
            .then_with(|| a_name.cmp(b_name))
    });
    ranked.truncate(query.limit);
    let text = |sym| table.interner.text(sym).to_owned();
    let customers = ranked
        .into_iter()
        .map(|(name, mut tally)| {
            tally.durations.finish();
            let mut endpoints: Vec<EndpointUse> = tally
                .endpoints
                .iter()
                .map(|(&(service, name), &(requests, errors))| EndpointUse {
                    service: text(service),
                    operation: text(name),
                    requests,
                    errors,
                })
                .collect();
            endpoints.sort_by(|a, b| {
                b.requests
                    .cmp(&a.requests)
                    .then_with(|| b.errors.cmp(&a.errors))
                    .then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
            });
            endpoints.truncate(MAX_ENDPOINTS);
            let mut example_trace_ids: Vec<String> = Vec::with_capacity(EXAMPLES);
            for id in tally
                .failing_examples
                .iter()
                .chain(&tally.affected_examples)
                .chain(&tally.other_examples)
            {
                let id = hex_id(id);
                if example_trace_ids.len() < EXAMPLES && !example_trace_ids.contains(&id) {
                    example_trace_ids.push(id);
                }
            }
            Customer {
                customer: name.into_owned(),
                requests: tally.durations.count(),
                errors: tally.durations.errors,
                error_rate: tally.error_rate(),
                slow: query.slower_than.map(|_| tally.slow),
                affected: tally.affected,
                p95_ms: tally.durations.percentile_ms(0.95),
                impact_share: if affected == 0 {
                    0.0
                } else {
                    tally.affected as f64 / affected as f64
                },
                endpoints,
                example_trace_ids,
            }
        })
        .collect();
    Customers {
        window_seconds: window.seconds(earliest),
        attribute: query.attribute.clone(),
        requests,
        affected_requests: affected,
        customer_count,
        customers,
        without_customer: without,
    }
}
