//! The span table: traces in the order they were first seen, each holding its spans in a
//! compact form, with the indexes a search needs and the accounting that keeps the table
//! within its bounds (span count and bytes) by evicting whole oldest traces.
//!
//! Everything here runs under the store's lock; `SpanStore` (mod.rs) is the public face.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::Value;

use super::attrs::{self, ValueRef};
use super::index::{self, Index};
use super::intern::{Interner, Sym};
use super::{StoredEvent, StoredLink, StoredSpan};
use crate::any_value::any_value_to_json;
use crate::ids::hex_id;
// Re-exported because the API and the store look ids up through this module.
pub use crate::ids::unhex;

pub type TraceId = [u8; 16];
pub type SpanId = [u8; 8];

/// Traces per zone-map block.
pub const BLOCK: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    fn from_proto(kind: i32) -> Kind {
        match SpanKind::try_from(kind) {
            Ok(SpanKind::Internal) => Kind::Internal,
            Ok(SpanKind::Server) => Kind::Server,
            Ok(SpanKind::Client) => Kind::Client,
            Ok(SpanKind::Producer) => Kind::Producer,
            Ok(SpanKind::Consumer) => Kind::Consumer,
            Ok(SpanKind::Unspecified) | Err(_) => Kind::Unspecified,
        }
    }

    fn from_name(name: &str) -> Kind {
        match name {
            "INTERNAL" => Kind::Internal,
            "SERVER" => Kind::Server,
            "CLIENT" => Kind::Client,
            "PRODUCER" => Kind::Producer,
            "CONSUMER" => Kind::Consumer,
            _ => Kind::Unspecified,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Unspecified => "UNSPECIFIED",
            Kind::Internal => "INTERNAL",
            Kind::Server => "SERVER",
            Kind::Client => "CLIENT",
            Kind::Producer => "PRODUCER",
            Kind::Consumer => "CONSUMER",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Unset,
    Ok,
    Error,
}

impl Status {
    fn from_proto(code: i32) -> Status {
        match StatusCode::try_from(code) {
            Ok(StatusCode::Ok) => Status::Ok,
            Ok(StatusCode::Error) => Status::Error,
            Ok(StatusCode::Unset) | Err(_) => Status::Unset,
        }
    }

    fn from_name(name: &str) -> Status {
        match name {
            "OK" => Status::Ok,
            "ERROR" => Status::Error,
            _ => Status::Unset,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Unset => "UNSET",
            Status::Ok => "OK",
            Status::Error => "ERROR",
        }
    }
}

/// What few spans carry: kept out of line so the common span stays small.
#[derive(Debug, Default)]
pub struct Extra {
    pub status_message: Box<str>,
    pub events: Vec<EventRow>,
    pub links: Vec<LinkRow>,
}

#[derive(Debug)]
pub struct EventRow {
    pub name: Sym,
    pub time: u64,
    pub attrs: Box<[u8]>,
}

#[derive(Debug)]
pub struct LinkRow {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub attrs: Box<[u8]>,
}

/// One stored span.
#[derive(Debug)]
pub struct SpanRow {
    pub span_id: SpanId,
    /// All zero for a root span.
    pub parent: SpanId,
    pub start: u64,
    pub end: u64,
    /// Arrival order across the whole store.
    pub seq: u64,
    pub name: Sym,
    /// The resource's `service.name` (held by the resource).
    pub service: Sym,
    pub scope: Sym,
    pub resource: u32,
    pub kind: Kind,
    pub status: Status,
    pub attrs: Box<[u8]>,
    pub extra: Option<Box<Extra>>,
}

impl SpanRow {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_root(&self) -> bool {
        self.parent == [0; 8]
    }

    pub fn status_message(&self) -> &str {
        self.extra.as_ref().map_or("", |e| &e.status_message)
    }

    pub fn events(&self) -> &[EventRow] {
        self.extra.as_ref().map_or(&[], |e| &e.events)
    }

    pub fn links(&self) -> &[LinkRow] {
        self.extra.as_ref().map_or(&[], |e| &e.links)
    }

    /// Heap bytes this span holds beyond its fixed part.
    fn heap_bytes(&self) -> usize {
        self.attrs.len()
            + self.extra.as_ref().map_or(0, |e| {
                std::mem::size_of::<Extra>()
                    + e.status_message.len()
                    + e.events.capacity() * std::mem::size_of::<EventRow>()
                    + e.events.iter().map(|ev| ev.attrs.len()).sum::<usize>()
                    + e.links.capacity() * std::mem::size_of::<LinkRow>()
                    + e.links.iter().map(|l| l.attrs.len()).sum::<usize>()
            })
    }
}

/// One trace and its spans, in arrival order.
#[derive(Debug)]
pub struct TraceEntry {
    pub id: TraceId,
    pub spans: Vec<SpanRow>,
    pub start: u64,
    pub end: u64,
    pub errors: u32,
    /// Resources whose attributes are already in the index for this trace.
    resources: Vec<u32>,
    /// The same as a set once the list is long: scanning it per span was quadratic in a
    /// trace whose every span brings its own resource (one request can carry 100 000).
    /// Boxed: few traces need it, and a million traces each 40 bytes larger would not do.
    #[allow(clippy::box_collection)]
    resource_set: Option<Box<HashSet<u32>>>,
    heap_bytes: usize,
    index_entries: usize,
}

impl TraceEntry {
    fn bytes(&self) -> usize {
        std::mem::size_of::<TraceEntry>()
            + TRACE_MAP_ENTRY
            + self.spans.capacity() * std::mem::size_of::<SpanRow>()
            + self.resources.capacity() * 4
            + self.resource_set.as_ref().map_or(0, |set| {
                std::mem::size_of::<HashSet<u32>>() + set.capacity() * 8 / 7 * (4 + 1)
            })
            + self.heap_bytes
            + self.index_entries * INDEX_ENTRY
    }

    fn has_resource(&self, id: u32) -> bool {
        match &self.resource_set {
            Some(set) => set.contains(&id),
            None => self.resources.contains(&id),
        }
    }

    fn add_resource(&mut self, id: u32) {
        self.resources.push(id);
        match &mut self.resource_set {
            Some(set) => {
                set.insert(id);
            }
            None if self.resources.len() > RESOURCE_SET_FROM => {
                self.resource_set = Some(Box::new(self.resources.iter().copied().collect()));
            }
            None => {}
        }
    }

    /// The root span (no parent); else the earliest span, for a trace whose root has not
    /// arrived.
    pub fn root(&self) -> Option<&SpanRow> {
        self.spans
            .iter()
            .filter(|s| s.is_root())
            .min_by_key(|s| s.start)
            .or_else(|| self.spans.iter().min_by_key(|s| s.start))
    }
}

/// Bytes of the id → trace map per trace: key, value and the table's control byte, with
/// load-factor slack.
const TRACE_MAP_ENTRY: usize = (16 + 8 + 1) * 8 / 7;
/// Resources a trace lists before it also keeps them as a set.
const RESOURCE_SET_FROM: usize = 16;
/// Bytes of one postings entry, with the slack of a growing list.
const INDEX_ENTRY: usize = 10;

/// One resource (service instance), shared by its spans.
#[derive(Debug)]
pub struct ResourceEntry {
    pub attrs: Arc<[u8]>,
    pub service: Sym,
    refs: u32,
}

/// Time and duration summaries of a block of consecutive traces: a search skips a block
/// that cannot hold a match without looking at its traces.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub min_start: u64,
    pub max_end: u64,
    pub max_duration: u64,
}

impl Block {
    const EMPTY: Block = Block {
        min_start: u64::MAX,
        max_end: 0,
        max_duration: 0,
    };
}

/// Counters that survive `clear`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TableCounters {
    pub traces_evicted: u64,
    pub spans_evicted: u64,
    pub spans_rejected: u64,
}

#[derive(Debug)]
pub struct Table {
    pub interner: Interner,
    resources: Vec<Option<ResourceEntry>>,
    resource_ids: HashMap<Arc<[u8]>, u32>,
    /// Reused by `encode_proto`.
    scratch: Vec<u8>,
    free_resources: Vec<u32>,
    /// What `resource_ids` takes (keys and map entries), kept as resources come and go:
    /// summing it in `bytes()` made every eviction step cost a walk over all resources.
    resource_bytes: usize,
    /// Traces, oldest first; the front one has sequence number `first_seq`.
    traces: VecDeque<TraceEntry>,
    first_seq: u64,
    by_id: HashMap<TraceId, u64>,
    /// Zone maps of traces `[n * BLOCK, (n+1) * BLOCK)`, the front one being `first_block`.
    blocks: VecDeque<Block>,
    first_block: u64,
    pub index: Index,
    span_count: usize,
    trace_bytes: usize,
    next_span_seq: u64,
    max_spans: usize,
    max_bytes: usize,
    pub counters: TableCounters,
}

/// A span on its way in, ids already checked.
struct NewSpan<'a> {
    trace_id: TraceId,
    span_id: SpanId,
    parent: SpanId,
    name: &'a str,
    kind: Kind,
    start: u64,
    end: u64,
    status: Status,
    status_message: &'a str,
    attrs: Box<[u8]>,
    events: Vec<EventRow>,
    links: Vec<LinkRow>,
}

impl Table {
    pub fn new(max_spans: usize, max_bytes: usize) -> Table {
        Table {
            interner: Interner::default(),
            resources: Vec::new(),
            resource_ids: HashMap::new(),
            scratch: Vec::new(),
            free_resources: Vec::new(),
            resource_bytes: 0,
            traces: VecDeque::new(),
            first_seq: 0,
            by_id: HashMap::new(),
            blocks: VecDeque::new(),
            first_block: 0,
            index: Index::default(),
            span_count: 0,
            trace_bytes: 0,
            next_span_seq: 0,
            max_spans,
            max_bytes,
            counters: TableCounters::default(),
        }
    }

    pub fn span_count(&self) -> usize {
        self.span_count
    }

    pub fn trace_count(&self) -> usize {
        self.traces.len()
    }

    pub fn max_spans(&self) -> usize {
        self.max_spans
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The estimated memory held: traces and spans, indexes, strings and resources.
    pub fn bytes(&self) -> usize {
        self.trace_bytes
            + self.index.bytes()
            + self.interner.bytes()
            + self.resources.len() * std::mem::size_of::<Option<ResourceEntry>>()
            + self.resource_bytes
            + self.blocks.len() * std::mem::size_of::<Block>()
    }

    /// Resources held (for tests: zero once every span is gone).
    pub fn resource_count(&self) -> usize {
        self.resource_ids.len()
    }

    pub fn resource(&self, id: u32) -> Option<&ResourceEntry> {
        self.resources.get(id as usize).and_then(Option::as_ref)
    }

    /// Traces oldest first with their sequence numbers.
    pub fn traces(&self) -> impl DoubleEndedIterator<Item = (u64, &TraceEntry)> {
        let first = self.first_seq;
        self.traces
            .iter()
            .enumerate()
            .map(move |(i, t)| (first + i as u64, t))
    }

    pub fn trace_by_seq(&self, seq: u64) -> Option<&TraceEntry> {
        let at = seq.checked_sub(self.first_seq)?;
        self.traces.get(usize::try_from(at).ok()?)
    }

    pub fn trace(&self, id: &TraceId) -> Option<&TraceEntry> {
        self.trace_by_seq(*self.by_id.get(id)?)
    }

    /// The sequence number the next new trace will get.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.traces.len() as u64
    }

    /// The zone map of the block holding trace `seq`.
    pub fn block_of(&self, seq: u64) -> Option<&Block> {
        let at = (seq / BLOCK).checked_sub(self.first_block)?;
        self.blocks.get(usize::try_from(at).ok()?)
    }

    /// Every trace id and sequence; empty tables and clears reset nothing but contents.
    pub fn clear(&mut self) {
        let counters = self.counters;
        let next = self.next_span_seq;
        *self = Table::new(self.max_spans, self.max_bytes);
        self.counters = counters;
        self.next_span_seq = next;
    }

    /// Stores every well-formed span of an export request; returns how many were refused
    /// (ids of the wrong size or all zero, which could never be found or joined).
    pub fn insert_request(&mut self, request: ExportTraceServiceRequest) -> u64 {
        let mut rejected = 0;
        for resource_spans in request.resource_spans {
            let resource_attrs = resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default();
            let mut resource: Option<u32> = None;
            for scope_spans in resource_spans.scope_spans {
                let scope_name = scope_spans.scope.map(|s| s.name).unwrap_or_default();
                let mut scope: Option<Sym> = None;
                for span in scope_spans.spans {
                    let (Some(trace_id), Some(span_id), Some(parent)) = (
                        id16(&span.trace_id),
                        id8(&span.span_id),
                        parent_id(&span.parent_span_id),
                    ) else {
                        rejected += 1;
                        continue;
                    };
                    let resource = *resource.get_or_insert_with(|| {
                        let buffer = self.encode_proto(&resource_attrs);
                        self.resource_for(buffer)
                    });
                    let scope = match scope {
                        Some(sym) => sym,
                        None => *scope.insert(self.interner.intern(&scope_name)),
                    };
                    // The span's own reference; the one taken above is the loop's.
                    self.interner.retain(scope);
                    let (status, status_message) =
                        span.status.map_or((Status::Unset, String::new()), |s| {
                            (Status::from_proto(s.code), s.message)
                        });
                    let attrs = self.encode_proto(&span.attributes);
                    let events = span
                        .events
                        .into_iter()
                        .map(|e| EventRow {
                            name: self.interner.intern(&e.name),
                            time: e.time_unix_nano,
                            attrs: self.encode_proto(&e.attributes),
                        })
                        .collect();
                    let links = span
                        .links
                        .into_iter()
                        .filter_map(|l| {
                            Some(LinkRow {
                                trace_id: id16(&l.trace_id)?,
                                span_id: id8(&l.span_id)?,
                                attrs: self.encode_proto(&l.attributes),
                            })
                        })
                        .collect();
                    self.insert(
                        NewSpan {
                            trace_id,
                            span_id,
                            parent,
                            name: &span.name,
                            kind: Kind::from_proto(span.kind),
                            start: span.start_time_unix_nano,
                            end: span.end_time_unix_nano,
                            status,
                            status_message: &status_message,
                            attrs,
                            events,
                            links,
                        },
                        resource,
                        scope,
                    );
                }
                if let Some(sym) = scope {
                    self.interner.release(sym);
                }
            }
            if let Some(id) = resource {
                self.release_resource(id);
            }
        }
        self.counters.spans_rejected += rejected;
        self.index.settle();
        self.enforce_bounds();
        rejected
    }

    /// Stores spans given in their flattened form (tests and tools build these by hand).
    pub fn insert_stored(&mut self, spans: Vec<StoredSpan>) -> u64 {
        let mut rejected = 0;
        for span in spans {
            let (Some(trace_id), Some(span_id), Some(parent)) = (
                unhex::<16>(&span.trace_id).and_then(|id| id16(&id)),
                unhex::<8>(&span.span_id).and_then(|id| id8(&id)),
                if span.parent_span_id.is_empty() {
                    Some([0; 8])
                } else {
                    unhex::<8>(&span.parent_span_id)
                },
            ) else {
                rejected += 1;
                continue;
            };
            let buffer = self.encode_map(&span.resource);
            let resource = self.resource_for(buffer);
            let scope = self.interner.intern(&span.scope_name);
            let attrs = self.encode_map(&span.attributes);
            let events = span
                .events
                .iter()
                .map(|e| EventRow {
                    name: self.interner.intern(&e.name),
                    time: e.time_unix_nanos,
                    attrs: self.encode_map(&e.attributes),
                })
                .collect();
            let links = span
                .links
                .iter()
                .filter_map(|l| {
                    // All-zero ids are dropped as `insert_request` drops them.
                    Some(LinkRow {
                        trace_id: unhex::<16>(&l.trace_id).and_then(|id| id16(&id))?,
                        span_id: unhex::<8>(&l.span_id).and_then(|id| id8(&id))?,
                        attrs: self.encode_map(&l.attributes),
                    })
                })
                .collect();
            self.insert(
                NewSpan {
                    trace_id,
                    span_id,
                    parent,
                    name: &span.name,
                    kind: Kind::from_name(&span.kind),
                    start: span.start_unix_nanos,
                    end: span.end_unix_nanos,
                    status: Status::from_name(&span.status_code),
                    status_message: &span.status_message,
                    attrs,
                    events,
                    links,
                },
                resource,
                scope,
            );
            self.release_resource(resource);
        }
        self.counters.spans_rejected += rejected;
        self.index.settle();
        self.enforce_bounds();
        rejected
    }

    fn encode_proto(&mut self, attributes: &[KeyValue]) -> Box<[u8]> {
        // Packed into a buffer kept between calls, then copied out at its exact size: a
        // guessed capacity shrunk by `into_boxed_slice` left a small free fragment in the
        // heap per span, and the allocator slowed down sorting through them.
        let mut buffer = std::mem::take(&mut self.scratch);
        buffer.clear();
        for kv in attributes {
            let key = self.interner.intern(&kv.key);
            push_any(&mut buffer, key, kv.value.as_ref());
        }
        let packed = Box::from(buffer.as_slice());
        self.scratch = buffer;
        packed
    }

    fn encode_map(&mut self, map: &std::collections::BTreeMap<String, Value>) -> Box<[u8]> {
        let mut buffer = Vec::new();
        for (key, value) in map {
            let key = self.interner.intern(key);
            attrs::push_json(&mut buffer, key, value);
        }
        buffer.into_boxed_slice()
    }

    /// The shared resource for these attributes, holding one reference for the caller
    /// (released with `release_resource`). Takes over the keys' references.
    fn resource_for(&mut self, buffer: Box<[u8]>) -> u32 {
        if let Some(&id) = self.resource_ids.get(&*buffer) {
            attrs::release_keys(&buffer, &mut self.interner);
            if let Some(entry) = &mut self.resources[id as usize] {
                entry.refs += 1;
            }
            return id;
        }
        let service_key = self.interner.lookup("service.name");
        let service_name = service_key
            .and_then(|key| attrs::get(&buffer, key))
            .map(|value| match value {
                ValueRef::Str(s) => s.to_owned(),
                other => other.to_json().to_string(),
            })
            .unwrap_or_default();
        let service = self.interner.intern(&service_name);
        let buffer: Arc<[u8]> = Arc::from(buffer);
        self.resource_bytes += resource_map_bytes(&buffer);
        let entry = ResourceEntry {
            attrs: buffer.clone(),
            service,
            refs: 1,
        };
        let id = match self.free_resources.pop() {
            Some(id) => {
                self.resources[id as usize] = Some(entry);
                id
            }
            None => {
                self.resources.push(Some(entry));
                u32::try_from(self.resources.len() - 1).expect("fewer than 2^32 resources")
            }
        };
        self.resource_ids.insert(buffer, id);
        id
    }

    fn retain_resource(&mut self, id: u32) {
        if let Some(Some(entry)) = self.resources.get_mut(id as usize) {
            entry.refs += 1;
        }
    }

    fn release_resource(&mut self, id: u32) {
        let Some(slot) = self.resources.get_mut(id as usize) else {
            return;
        };
        let Some(entry) = slot else { return };
        entry.refs -= 1;
        if entry.refs > 0 {
            return;
        }
        let entry = slot.take().expect("checked above");
        self.resource_ids.remove(&*entry.attrs);
        self.resource_bytes -= resource_map_bytes(&entry.attrs);
        attrs::release_keys(&entry.attrs, &mut self.interner);
        self.interner.release(entry.service);
        self.free_resources.push(id);
        if self.resource_ids.is_empty() {
            // As the interner does: an emptied table holds no slots of resources gone.
            self.resources = Vec::new();
            self.free_resources = Vec::new();
        }
    }

    /// Adds one span; takes over the references of `scope` and of the attribute keys, and
    /// takes its own reference on `resource`.
    fn insert(&mut self, span: NewSpan<'_>, resource: u32, scope: Sym) {
        self.retain_resource(resource);
        let service = self.resources[resource as usize]
            .as_ref()
            .map_or(Sym(0), |r| r.service);
        let name = self.interner.intern(span.name);
        let extra =
            (!span.status_message.is_empty() || !span.events.is_empty() || !span.links.is_empty())
                .then(|| {
                    Box::new(Extra {
                        status_message: span.status_message.into(),
                        events: span.events,
                        links: span.links,
                    })
                });
        let row = SpanRow {
            span_id: span.span_id,
            parent: span.parent,
            start: span.start,
            end: span.end,
            seq: self.next_span_seq,
            name,
            service,
            scope,
            resource,
            kind: span.kind,
            status: span.status,
            attrs: span.attrs,
            extra,
        };
        self.next_span_seq += 1;

        let mut is_new = false;
        let seq = match self.by_id.get(&span.trace_id) {
            Some(&seq) => seq,
            None => {
                is_new = true;
                let seq = self.end_seq();
                self.traces.push_back(TraceEntry {
                    id: span.trace_id,
                    spans: Vec::new(),
                    start: u64::MAX,
                    end: 0,
                    errors: 0,
                    resources: Vec::new(),
                    resource_set: None,
                    heap_bytes: 0,
                    index_entries: 0,
                });
                self.by_id.insert(span.trace_id, seq);
                let block = seq / BLOCK;
                while self.first_block + (self.blocks.len() as u64) <= block {
                    if self.blocks.is_empty() {
                        self.first_block = block;
                    }
                    self.blocks.push_back(Block::EMPTY);
                }
                seq
            }
        };

        // Index entries first, while `row` is still ours to read.
        let mut added = 0;
        added += usize::from(self.index.add(index::service_key(row.service), seq));
        added += usize::from(self.index.add(index::name_key(row.name), seq));
        if row.status == Status::Error {
            added += usize::from(self.index.add(index::error_key(), seq));
        }
        for (key, value) in attrs::iter(&row.attrs) {
            if let Some(k) = index::attr_key(key, value) {
                added += usize::from(self.index.add(k, seq));
            }
        }
        let at = (seq - self.first_seq) as usize;
        let new_resource = !self.traces[at].has_resource(resource);
        if new_resource {
            let resource_attrs = self.resources[resource as usize]
                .as_ref()
                .map(|r| r.attrs.clone());
            for (key, value) in resource_attrs.iter().flat_map(|b| attrs::iter(b)) {
                if let Some(k) = index::attr_key(key, value) {
                    added += usize::from(self.index.add(k, seq));
                }
            }
        }

        if let Some(block) = (seq / BLOCK)
            .checked_sub(self.first_block)
            .and_then(|b| self.blocks.get_mut(b as usize))
        {
            block.min_start = block.min_start.min(row.start);
            block.max_end = block.max_end.max(row.end);
            block.max_duration = block.max_duration.max(row.duration());
        }

        let trace = &mut self.traces[at];
        // A new trace's fixed part is counted with its first span.
        let before = if is_new { 0 } else { trace.bytes() };
        if new_resource {
            trace.add_resource(resource);
        }
        trace.start = trace.start.min(row.start);
        trace.end = trace.end.max(row.end);
        if row.status == Status::Error {
            trace.errors += 1;
        }
        trace.heap_bytes += row.heap_bytes();
        trace.index_entries += added;
        trace.spans.push(row);
        let after = trace.bytes();
        self.trace_bytes = self.trace_bytes + after - before;
        self.span_count += 1;
    }

    fn enforce_bounds(&mut self) {
        while !self.traces.is_empty()
            && (self.span_count > self.max_spans || self.bytes() > self.max_bytes)
        {
            self.evict_oldest();
        }
    }

    /// Removes the oldest trace whole, with its index entries, strings and resources.
    fn evict_oldest(&mut self) {
        let Some(trace) = self.traces.pop_front() else {
            return;
        };
        let seq = self.first_seq;
        self.first_seq += 1;
        if self.by_id.get(&trace.id) == Some(&seq) {
            self.by_id.remove(&trace.id);
        }
        self.index.remove_oldest(index::error_key(), seq);
        for span in &trace.spans {
            self.index
                .remove_oldest(index::service_key(span.service), seq);
            self.index.remove_oldest(index::name_key(span.name), seq);
            for (key, value) in attrs::iter(&span.attrs) {
                if let Some(k) = index::attr_key(key, value) {
                    self.index.remove_oldest(k, seq);
                }
            }
        }
        for &resource in &trace.resources {
            if let Some(entry) = self.resources[resource as usize].as_ref() {
                let buffer = entry.attrs.clone();
                for (key, value) in attrs::iter(&buffer) {
                    if let Some(k) = index::attr_key(key, value) {
                        self.index.remove_oldest(k, seq);
                    }
                }
            }
        }
        for span in &trace.spans {
            self.interner.release(span.name);
            self.interner.release(span.scope);
            attrs::release_keys(&span.attrs, &mut self.interner);
            for event in span.events() {
                self.interner.release(event.name);
                attrs::release_keys(&event.attrs, &mut self.interner);
            }
            for link in span.links() {
                attrs::release_keys(&link.attrs, &mut self.interner);
            }
            self.release_resource(span.resource);
        }
        while self.first_block < self.first_seq / BLOCK && !self.blocks.is_empty() {
            self.blocks.pop_front();
            self.first_block += 1;
        }
        if self.traces.is_empty() {
            // The block of the next trace starts afresh (`insert` sets `first_block`).
            self.blocks.clear();
        }
        self.trace_bytes -= trace.bytes();
        self.span_count -= trace.spans.len();
        self.counters.traces_evicted += 1;
        self.counters.spans_evicted += trace.spans.len() as u64;
    }

    /// The flattened form of one stored span.
    pub fn to_stored(&self, trace: &TraceEntry, span: &SpanRow) -> StoredSpan {
        let interner = &self.interner;
        StoredSpan {
            trace_id: hex_id(&trace.id),
            span_id: hex_id(&span.span_id),
            parent_span_id: if span.is_root() {
                String::new()
            } else {
                hex_id(&span.parent)
            },
            name: interner.text(span.name).to_owned(),
            kind: span.kind.name().to_owned(),
            start_unix_nanos: span.start,
            end_unix_nanos: span.end,
            status_code: span.status.name().to_owned(),
            status_message: span.status_message().to_owned(),
            attributes: attrs::to_map(&span.attrs, interner),
            events: span
                .events()
                .iter()
                .map(|e| StoredEvent {
                    name: interner.text(e.name).to_owned(),
                    time_unix_nanos: e.time,
                    attributes: attrs::to_map(&e.attrs, interner),
                })
                .collect(),
            links: span
                .links()
                .iter()
                .map(|l| StoredLink {
                    trace_id: hex_id(&l.trace_id),
                    span_id: hex_id(&l.span_id),
                    attributes: attrs::to_map(&l.attrs, interner),
                })
                .collect(),
            resource: self
                .resource(span.resource)
                .map(|r| attrs::to_map(&r.attrs, interner))
                .unwrap_or_default(),
            scope_name: interner.text(span.scope).to_owned(),
        }
    }

    /// Every stored span flattened, in arrival order.
    pub fn all_stored(&self) -> Vec<StoredSpan> {
        let mut refs: Vec<(&TraceEntry, &SpanRow)> = self
            .traces
            .iter()
            .flat_map(|t| t.spans.iter().map(move |s| (t, s)))
            .collect();
        refs.sort_unstable_by_key(|(_, s)| s.seq);
        refs.into_iter()
            .map(|(t, s)| self.to_stored(t, s))
            .collect()
    }

    /// The spans stored since arrival number `from`, flattened, in arrival order.
    pub fn stored_since(&self, from: u64) -> Vec<StoredSpan> {
        let mut refs: Vec<(&TraceEntry, &SpanRow)> = self
            .traces
            .iter()
            .rev()
            .flat_map(|t| t.spans.iter().map(move |s| (t, s)))
            .filter(|(_, s)| s.seq >= from)
            .collect();
        refs.sort_unstable_by_key(|(_, s)| s.seq);
        refs.into_iter()
            .map(|(t, s)| self.to_stored(t, s))
            .collect()
    }

    /// The arrival number the next span will get.
    pub fn next_span_seq(&self) -> u64 {
        self.next_span_seq
    }

    /// The oldest and newest span times held.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let oldest = self.traces.iter().map(|t| t.start).min()?;
        let newest = self.traces.iter().map(|t| t.end).max()?;
        Some((oldest, newest))
    }
}

fn push_any(buffer: &mut Vec<u8>, key: Sym, value: Option<&AnyValue>) {
    use any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(V::StringValueStrindex(_)) => attrs::push(buffer, key, ValueRef::Null),
        Some(V::StringValue(s)) => attrs::push(buffer, key, ValueRef::Str(s)),
        Some(V::IntValue(i)) => attrs::push(buffer, key, ValueRef::Int(*i)),
        Some(V::DoubleValue(d)) => attrs::push(buffer, key, ValueRef::Double(*d)),
        Some(V::BoolValue(b)) => attrs::push(buffer, key, ValueRef::Bool(*b)),
        Some(_) => {
            let json = any_value_to_json(value.cloned().unwrap_or_default());
            attrs::push_nested(buffer, key, &json);
        }
    }
}

/// What one resource costs in `resource_ids`: its key and the map entry.
fn resource_map_bytes(attrs: &[u8]) -> usize {
    attrs.len() + 16 + 8 + 16
}

fn id16(bytes: &[u8]) -> Option<TraceId> {
    let id: TraceId = bytes.try_into().ok()?;
    (id != [0; 16]).then_some(id)
}

fn id8(bytes: &[u8]) -> Option<SpanId> {
    let id: SpanId = bytes.try_into().ok()?;
    (id != [0; 8]).then_some(id)
}

/// An empty parent id means a root; otherwise it must be a real span id.
fn parent_id(bytes: &[u8]) -> Option<SpanId> {
    if bytes.is_empty() {
        Some([0; 8])
    } else {
        bytes.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn span(trace: u64, id: u64, name: &str, resource: Value) -> StoredSpan {
        let Value::Object(resource) = resource else {
            panic!("a resource is a map");
        };
        StoredSpan {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{id:016x}"),
            parent_span_id: String::new(),
            name: name.into(),
            kind: "SERVER".into(),
            start_unix_nanos: 10,
            end_unix_nanos: 20,
            status_code: "ERROR".into(),
            status_message: String::new(),
            attributes: BTreeMap::from([("n".to_owned(), json!(id))]),
            events: vec![],
            links: vec![],
            resource: resource.into_iter().collect(),
            scope_name: "scope".into(),
        }
    }

    fn assert_empty(table: &Table) {
        assert_eq!(table.span_count(), 0);
        assert_eq!(table.interner.len(), 0);
        assert_eq!(table.resource_count(), 0);
        assert_eq!(table.index.bytes(), 0);
        assert_eq!(table.bytes(), 0, "an empty table accounts nothing");
    }

    /// The slots of strings and resources gone used to stay in the estimate, so an emptied
    /// table never read 0 bytes.
    #[test]
    fn an_emptied_table_accounts_nothing() {
        let mut table = Table::new(3, usize::MAX);
        table.insert_stored(
            (1..=200)
                .map(|n| span(n, n, &format!("op {n}"), json!({"service.name": n})))
                .collect(),
        );
        assert_eq!(table.trace_count(), 3);
        // One trace too big for the bound pushes everything out, itself included.
        table.insert_stored(
            (1..=4)
                .map(|n| span(999, n, "big", json!({"service.name": "x"})))
                .collect(),
        );
        assert_eq!(table.counters.traces_evicted, 201);
        assert_empty(&table);
    }

    /// A burst of distinct strings left more slot bytes than the bound even once every trace
    /// was gone, breaking `bytes() <= max_bytes`.
    #[test]
    fn the_byte_bound_holds_after_a_burst_of_strings() {
        let max = 20_000;
        let mut table = Table::new(usize::MAX, max);
        table.insert_stored(
            (1..=1_000)
                .map(|n| span(n, n, &format!("op {n}"), json!({"service.name": n})))
                .collect(),
        );
        assert!(table.bytes() <= max, "{} > {max}", table.bytes());
    }

    /// A trace of more resources than it keeps in a list indexes each resource once, also
    /// when a late span brings an early one again, and leaves nothing behind.
    #[test]
    fn a_trace_of_many_resources_indexes_each_once() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        let resource = |r: u64| json!({"service.name": "a", "r": r});
        table.insert_stored((1..=40).map(|n| span(1, n, "op", resource(n))).collect());
        let bytes = table.index.bytes();
        let mut late = span(1, 99, "op", resource(1));
        late.attributes.clear();
        table.insert_stored(vec![late]);
        assert_eq!(table.index.bytes(), bytes, "nothing new to index");
        let key = table.interner.lookup("r").expect("key");
        let list = table
            .index
            .list(index::attr_filter_key(key, "1").expect("indexed"));
        assert_eq!(list.expect("list"), &[0]);
        table.insert_stored(vec![span(2, 1, "other", json!({}))]);
        table.max_spans = 1;
        table.enforce_bounds();
        assert_eq!(table.trace_count(), 1);
        table.max_spans = 0;
        table.enforce_bounds();
        assert_empty(&table);
    }
}
