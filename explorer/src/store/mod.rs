//! The in-memory store behind the receiver: spans kept compactly by trace with search
//! indexes ([`table`]), metrics and logs, bounded so days of traffic cannot exhaust memory,
//! plus `wait_for_*` helpers that let tests block until an export arrives instead of
//! sleeping.
//!
//! Spans are bounded by count and by bytes and leave as whole traces, oldest first; metrics
//! and logs are bounded by count and by bytes (a sixteenth of the span byte bound each),
//! oldest first (`ring.rs`). Log records are indexed by trace ([`logs`]), so a trace's view
//! finds its spans' records without a scan of them all.

pub mod attrs;
pub mod index;
pub mod intern;
pub mod logs;
mod ring;
pub mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use logs::Logs;
use ring::Ring;

/// Default bound on stored spans (and, separately, on metrics and on logs).
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;
/// Default bound on the memory stored spans take: 512 MiB.
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024 * 1024;

/// How an export reached the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Grpc => "gRPC",
            Transport::Http => "HTTP",
        })
    }
}

/// One span, flattened together with its resource and scope so assertions need
/// no knowledge of the OTLP nesting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSpan {
    /// Lower-case hex, 32 characters for a valid id.
    pub trace_id: String,
    /// Lower-case hex, 16 characters for a valid id.
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// `SERVER`, `CLIENT`, `INTERNAL`, `PRODUCER`, `CONSUMER` or `UNSPECIFIED`.
    pub kind: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    /// `UNSET`, `OK` or `ERROR`.
    pub status_code: String,
    pub status_message: String,
    pub attributes: BTreeMap<String, Value>,
    pub events: Vec<StoredEvent>,
    pub links: Vec<StoredLink>,
    pub resource: BTreeMap<String, Value>,
    pub scope_name: String,
}

/// A span event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub name: String,
    pub time_unix_nanos: u64,
    pub attributes: BTreeMap<String, Value>,
}

/// A span link; ids are lower-case hex like the span's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredLink {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: BTreeMap<String, Value>,
}

impl StoredSpan {
    /// The resource's `service.name`, or `""` when the exporter sent none.
    pub fn service_name(&self) -> &str {
        service_name_of(&self.resource)
    }

    /// A string attribute; `None` when missing or not a string.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }

    /// An integer attribute; `None` when missing or not an integer.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        self.attributes.get(key).and_then(Value::as_i64)
    }

    /// End minus start, saturating so a clock-skewed span reads as 0 rather than wrapping.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nanos.saturating_sub(self.start_unix_nanos)
    }

    /// True when the span has no parent.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }
}

/// One metric of one export, with its data points summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMetric {
    pub name: String,
    pub unit: String,
    pub resource: BTreeMap<String, Value>,
    /// `histogram`, `sum`, `gauge`, `exponential_histogram`, `summary`, or `none`
    /// when the exporter sent a metric without data.
    pub kind: String,
    pub data_point_count: usize,
    /// Attributes of each data point, in order.
    pub point_attributes: Vec<BTreeMap<String, Value>>,
    /// Total count of each data point for (exponential) histograms; empty otherwise.
    pub histogram_counts: Vec<u64>,
}

impl StoredMetric {
    /// The resource's `service.name`, or `""`.
    pub fn service_name(&self) -> &str {
        service_name_of(&self.resource)
    }
}

/// One log record, flattened with its resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredLog {
    /// When the event happened; when the record does not say (OpenTelemetry's log bridges
    /// often leave it to the observed time), when it was observed.
    pub time_unix_nanos: u64,
    pub severity_text: String,
    pub severity_number: i32,
    /// The body when it is a string, else its JSON rendering; empty when absent.
    pub body: String,
    /// Lower-case hex; empty when the record is not tied to a trace.
    pub trace_id: String,
    pub span_id: String,
    pub attributes: BTreeMap<String, Value>,
    pub resource: BTreeMap<String, Value>,
}

impl StoredLog {
    /// The resource's `service.name`, or `""`.
    pub fn service_name(&self) -> &str {
        service_name_of(&self.resource)
    }
}

fn service_name_of(resource: &BTreeMap<String, Value>) -> &str {
    resource
        .get("service.name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Cumulative counters; `clear()` leaves them alone so a benchmark can clear
/// between phases and still report totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub spans_received: u64,
    pub metrics_received: u64,
    pub logs_received: u64,
    /// Export requests accepted over gRPC.
    pub grpc_export_requests: u64,
    /// Export requests accepted over HTTP.
    pub http_export_requests: u64,
    /// Requests refused before reaching the store (bad content type, body, size).
    pub rejected_requests: u64,
    /// Spans evicted because a bound was reached (with their whole traces).
    pub dropped_spans: u64,
    /// Traces evicted because a bound was reached.
    pub dropped_traces: u64,
    /// Spans refused at the door (ids of the wrong size or all zero).
    pub rejected_spans: u64,
    pub dropped_metrics: u64,
    pub dropped_logs: u64,
    /// Metrics and logs kept now, and the bytes they take (estimated).
    pub metrics_stored: usize,
    pub logs_stored: usize,
    pub metrics_logs_bytes: usize,
}

/// Returned by the `wait_for_*` methods when the predicate never held; the
/// message summarises what did arrive so a failing test explains itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timed out after {waited:?} waiting for {what}: received {received} {what} from services {services:?}; names seen: {names:?}"
)]
pub struct WaitTimeout {
    /// `spans`, `metrics` or `logs`.
    pub what: &'static str,
    pub waited: Duration,
    pub received: usize,
    /// Distinct `service.name` values among what was received.
    pub services: Vec<String>,
    /// Up to a handful of distinct span names, metric names or log bodies.
    pub names: Vec<String>,
}

const SUMMARY_NAMES: usize = 10;
const SUMMARY_NAME_CHARS: usize = 80;

/// What the timeout summary needs from each stored type.
trait Summarize {
    const WHAT: &'static str;
    fn service(&self) -> &str;
    fn label(&self) -> &str;
}

impl Summarize for StoredSpan {
    const WHAT: &'static str = "spans";
    fn service(&self) -> &str {
        self.service_name()
    }
    fn label(&self) -> &str {
        &self.name
    }
}

impl Summarize for StoredMetric {
    const WHAT: &'static str = "metrics";
    fn service(&self) -> &str {
        self.service_name()
    }
    fn label(&self) -> &str {
        &self.name
    }
}

impl Summarize for StoredLog {
    const WHAT: &'static str = "logs";
    fn service(&self) -> &str {
        self.service_name()
    }
    fn label(&self) -> &str {
        &self.body
    }
}

impl WaitTimeout {
    fn summarize<T: Summarize>(waited: Duration, items: &[T]) -> Self {
        let services: BTreeSet<&str> = items.iter().map(T::service).collect();
        let mut names: Vec<String> = Vec::new();
        for item in items {
            if names.len() >= SUMMARY_NAMES {
                break;
            }
            let label: String = item.label().chars().take(SUMMARY_NAME_CHARS).collect();
            if !names.contains(&label) {
                names.push(label);
            }
        }
        WaitTimeout {
            what: T::WHAT,
            waited,
            received: items.len(),
            services: services.into_iter().map(str::to_owned).collect(),
            names,
        }
    }
}

/// The flattened spans a waiting test reads, kept up to date incrementally while someone
/// waits; an explorer that nobody waits on never builds it.
#[derive(Debug)]
struct Mirror {
    spans: Vec<StoredSpan>,
    /// Arrival number of the first span not yet mirrored.
    upto: u64,
    /// `Data::generation` when built; evictions and clears make it stale.
    generation: u64,
}

#[derive(Debug)]
struct Data {
    table: table::Table,
    mirror: Option<Mirror>,
    /// Bumped whenever spans leave (eviction or clear).
    generation: u64,
    metrics: Ring<StoredMetric>,
    logs: Logs,
}

impl Data {
    /// The mirror brought up to date.
    fn mirror(&mut self) -> &mut Vec<StoredSpan> {
        let evicted = self.table.counters.spans_evicted;
        let generation = self.generation + evicted;
        let fresh = match self.mirror.take() {
            Some(mut mirror) if mirror.generation == generation => {
                mirror.spans.extend(self.table.stored_since(mirror.upto));
                mirror.upto = self.table.next_span_seq();
                mirror
            }
            _ => Mirror {
                spans: self.table.all_stored(),
                upto: self.table.next_span_seq(),
                generation,
            },
        };
        &mut self.mirror.insert(fresh).spans
    }
}

#[derive(Debug, Default)]
struct Counters {
    spans: AtomicU64,
    metrics: AtomicU64,
    logs: AtomicU64,
    grpc: AtomicU64,
    http: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    data: RwLock<Data>,
    inserted: Notify,
    counters: Counters,
}

/// A cheaply clonable handle to one shared store.
#[derive(Debug, Clone)]
pub struct SpanStore {
    inner: Arc<Inner>,
}

/// The byte bound of the metrics (and, apart, of the logs) of a store whose spans may take
/// `max_bytes`.
fn telemetry_bytes(max_bytes: usize) -> usize {
    if max_bytes == usize::MAX {
        usize::MAX
    } else {
        max_bytes / 16
    }
}

impl Default for SpanStore {
    fn default() -> Self {
        SpanStore::new(DEFAULT_MAX_SPANS)
    }
}

impl SpanStore {
    /// A store keeping at most `max_items` spans (in whole traces), and separately at most
    /// `max_items` metrics and `max_items` logs, dropping the oldest first.
    pub fn new(max_items: usize) -> Self {
        SpanStore::with_bounds(max_items, usize::MAX)
    }

    /// A store bounded by span count and by the bytes the spans take (an estimate kept as
    /// spans come and go), evicting whole oldest traces to stay within both. Metrics and
    /// logs are kept as well, each within `max_spans` items and a sixteenth of `max_bytes`
    /// on top of the spans' bound: a shop sends a metric batch every few seconds and a log
    /// per request, and a store bounded only by their count grew past its memory bound in
    /// a day.
    pub fn with_bounds(max_spans: usize, max_bytes: usize) -> Self {
        SpanStore {
            inner: Arc::new(Inner {
                data: RwLock::new(Data {
                    table: table::Table::new(max_spans, max_bytes),
                    mirror: None,
                    generation: 0,
                    metrics: Ring::new(max_spans, telemetry_bytes(max_bytes)),
                    logs: Logs::new(max_spans, telemetry_bytes(max_bytes)),
                }),
                inserted: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    // A panicking reader poisons the lock, but the data itself is never left half-written
    // by a reader, so carrying on is safe.
    fn read(&self) -> RwLockReadGuard<'_, Data> {
        self.inner
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Data> {
        self.inner
            .data
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` over the span table under the read lock: what the API's queries use.
    pub fn with_table<R>(&self, f: impl FnOnce(&table::Table) -> R) -> R {
        f(&self.read().table)
    }

    /// Runs `f` over the span table and the log records under the read lock: for the views
    /// that show both (a trace with its spans' log records).
    pub fn with_table_and_logs<R>(&self, f: impl FnOnce(&table::Table, &Logs) -> R) -> R {
        let data = self.read();
        f(&data.table, &data.logs)
    }

    /// Stores every well-formed span of an OTLP export request and wakes every waiter;
    /// returns how many spans were refused (ids of the wrong size or all zero).
    pub fn insert_request(
        &self,
        request: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) -> u64 {
        let offered: u64 = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum();
        if offered == 0 {
            return 0;
        }
        let rejected = self.write().table.insert_request(request);
        self.inner
            .counters
            .spans
            .fetch_add(offered - rejected, Ordering::Relaxed);
        self.inner.inserted.notify_waiters();
        rejected
    }

    /// Adds spans given in flattened form and wakes every waiter; spans whose ids are not
    /// hex of the right length are refused (and counted).
    pub fn insert_spans(&self, spans: Vec<StoredSpan>) {
        if spans.is_empty() {
            return;
        }
        let offered = spans.len() as u64;
        let rejected = self.write().table.insert_stored(spans);
        self.inner
            .counters
            .spans
            .fetch_add(offered - rejected, Ordering::Relaxed);
        self.inner.inserted.notify_waiters();
    }

    /// Adds metrics and wakes every waiter.
    pub fn insert_metrics(&self, metrics: Vec<StoredMetric>) {
        if metrics.is_empty() {
            return;
        }
        self.inner
            .counters
            .metrics
            .fetch_add(metrics.len() as u64, Ordering::Relaxed);
        self.write().metrics.extend(metrics);
        self.inner.inserted.notify_waiters();
    }

    /// Adds log records and wakes every waiter.
    pub fn insert_logs(&self, logs: Vec<StoredLog>) {
        if logs.is_empty() {
            return;
        }
        self.inner
            .counters
            .logs
            .fetch_add(logs.len() as u64, Ordering::Relaxed);
        self.write().logs.extend(logs);
        self.inner.inserted.notify_waiters();
    }

    /// Counts an accepted export request.
    pub fn record_export(&self, transport: Transport) {
        let counter = match transport {
            Transport::Grpc => &self.inner.counters.grpc,
            Transport::Http => &self.inner.counters.http,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request refused before it reached the store.
    pub fn record_rejected(&self) {
        self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> StoreStats {
        let c = &self.inner.counters;
        let data = self.read();
        StoreStats {
            spans_received: c.spans.load(Ordering::Relaxed),
            metrics_received: c.metrics.load(Ordering::Relaxed),
            logs_received: c.logs.load(Ordering::Relaxed),
            grpc_export_requests: c.grpc.load(Ordering::Relaxed),
            http_export_requests: c.http.load(Ordering::Relaxed),
            rejected_requests: c.rejected.load(Ordering::Relaxed),
            dropped_spans: data.table.counters.spans_evicted,
            dropped_traces: data.table.counters.traces_evicted,
            rejected_spans: data.table.counters.spans_rejected,
            dropped_metrics: data.metrics.dropped,
            dropped_logs: data.logs.dropped(),
            metrics_stored: data.metrics.items.len(),
            logs_stored: data.logs.len(),
            metrics_logs_bytes: data.metrics.bytes + data.logs.bytes(),
        }
    }

    /// All stored spans, oldest first.
    pub fn spans(&self) -> Vec<StoredSpan> {
        self.write().mirror().clone()
    }

    /// Number of stored spans, without copying them.
    pub fn span_count(&self) -> usize {
        self.read().table.span_count()
    }

    /// The stored spans of one trace (id compared case-insensitively), oldest first.
    pub fn spans_of_trace(&self, trace_id: &str) -> Vec<StoredSpan> {
        let data = self.read();
        let Some(id) = table::unhex::<16>(trace_id) else {
            return Vec::new();
        };
        let Some(trace) = data.table.trace(&id) else {
            return Vec::new();
        };
        trace
            .spans
            .iter()
            .map(|span| data.table.to_stored(trace, span))
            .collect()
    }

    /// All stored metrics, oldest first.
    pub fn metrics(&self) -> Vec<StoredMetric> {
        self.read().metrics.items.iter().cloned().collect()
    }

    /// All stored log records, oldest first.
    pub fn logs(&self) -> Vec<StoredLog> {
        self.read().logs.iter().cloned().collect()
    }

    /// Forgets all stored spans, metrics and logs; counters keep counting.
    pub fn clear(&self) {
        let mut data = self.write();
        data.table.clear();
        data.mirror = None;
        data.generation += 1;
        data.metrics.clear();
        data.logs.clear();
    }

    /// Waits until `predicate` holds for the stored spans and returns them.
    ///
    /// The predicate runs under the store's lock (so no copy is made per
    /// wake-up); it must not call back into this store.
    pub async fn wait_for_spans<F>(
        &self,
        predicate: F,
        timeout: Duration,
    ) -> Result<Vec<StoredSpan>, WaitTimeout>
    where
        F: Fn(&[StoredSpan]) -> bool,
    {
        self.wait_for(predicate, timeout, |d| d.mirror().as_slice())
            .await
    }

    /// Waits until `predicate` holds for the stored metrics and returns them.
    /// Same locking rule as [`SpanStore::wait_for_spans`].
    pub async fn wait_for_metrics<F>(
        &self,
        predicate: F,
        timeout: Duration,
    ) -> Result<Vec<StoredMetric>, WaitTimeout>
    where
        F: Fn(&[StoredMetric]) -> bool,
    {
        self.wait_for(predicate, timeout, |d| d.metrics.items.make_contiguous())
            .await
    }

    /// Waits until `predicate` holds for the stored logs and returns them.
    /// Same locking rule as [`SpanStore::wait_for_spans`].
    pub async fn wait_for_logs<F>(
        &self,
        predicate: F,
        timeout: Duration,
    ) -> Result<Vec<StoredLog>, WaitTimeout>
    where
        F: Fn(&[StoredLog]) -> bool,
    {
        self.wait_for(predicate, timeout, |d| d.logs.as_slice())
            .await
    }

    async fn wait_for<T, F>(
        &self,
        predicate: F,
        timeout: Duration,
        items: fn(&mut Data) -> &[T],
    ) -> Result<Vec<T>, WaitTimeout>
    where
        T: Clone + Summarize,
        F: Fn(&[T]) -> bool,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = pin!(self.inner.inserted.notified());
            // Registering before checking means an insert landing between the
            // check and the await still wakes us.
            notified.as_mut().enable();
            {
                let mut data = self.write();
                let items = items(&mut data);
                if predicate(items) {
                    return Ok(items.to_vec());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let mut data = self.write();
                let items = items(&mut data);
                // An insert can land right at the deadline; it still counts.
                if predicate(items) {
                    return Ok(items.to_vec());
                }
                return Err(WaitTimeout::summarize(timeout, items));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(service: &str, name: &str) -> StoredSpan {
        StoredSpan {
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            parent_span_id: String::new(),
            name: name.into(),
            kind: "SERVER".into(),
            start_unix_nanos: 10,
            end_unix_nanos: 25,
            status_code: "UNSET".into(),
            status_message: String::new(),
            attributes: BTreeMap::from([
                ("http.route".to_owned(), Value::from("/cart")),
                ("http.status_code".to_owned(), Value::from(200)),
            ]),
            events: vec![],
            links: vec![],
            resource: BTreeMap::from([("service.name".to_owned(), Value::from(service))]),
            scope_name: "test".into(),
        }
    }

    #[test]
    fn helpers_read_flattened_fields() {
        let s = span("cart", "GET /cart");
        assert_eq!(s.service_name(), "cart");
        assert_eq!(s.attr_str("http.route"), Some("/cart"));
        assert_eq!(s.attr_str("http.status_code"), None);
        assert_eq!(s.attr_i64("http.status_code"), Some(200));
        assert_eq!(s.duration_nanos(), 15);
        assert!(s.is_root());
    }

    /// A span of its own trace, numbered `n`.
    fn span_in_trace(n: u64, name: &str) -> StoredSpan {
        StoredSpan {
            trace_id: format!("{n:032x}"),
            span_id: format!("{:016x}", n + 1),
            ..span("a", name)
        }
    }

    #[test]
    fn bound_evicts_whole_oldest_traces() {
        let store = SpanStore::new(3);
        store.insert_spans(vec![span_in_trace(1, "1"), span_in_trace(2, "2")]);
        store.insert_spans(vec![span_in_trace(3, "3"), span_in_trace(4, "4")]);
        let names: Vec<String> = store.spans().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["2", "3", "4"]);
        store.insert_spans((5..10).map(|i| span_in_trace(i, &i.to_string())).collect());
        let names: Vec<String> = store.spans().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["7", "8", "9"]);
        let stats = store.stats();
        assert_eq!(stats.spans_received, 9);
        assert_eq!(stats.dropped_spans, 6);
        assert_eq!(stats.dropped_traces, 6);

        // A trace of two spans leaves whole: the store never keeps half a trace.
        let mut second = span_in_trace(20, "20b");
        second.span_id = format!("{:016x}", 99);
        store.insert_spans(vec![span_in_trace(20, "20a"), second]);
        let names: Vec<String> = store.spans().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["9", "20a", "20b"]);
    }

    #[test]
    fn byte_bound_keeps_the_estimate_under_it() {
        let store = SpanStore::with_bounds(usize::MAX, 64 * 1024);
        for n in 0..2_000 {
            store.insert_spans(vec![span_in_trace(n, "GET /cart")]);
            let bytes = store.with_table(table::Table::bytes);
            assert!(bytes <= 64 * 1024, "{bytes} bytes after trace {n}");
        }
        let stats = store.stats();
        assert!(stats.dropped_traces > 1_000, "{stats:?}");
        assert!(store.span_count() > 50, "{}", store.span_count());
    }

    #[test]
    fn malformed_ids_are_refused_and_counted() {
        let store = SpanStore::default();
        let mut bad = span("a", "bad");
        bad.trace_id = "abc".into();
        let mut zero = span("a", "zero");
        zero.span_id = "0000000000000000".into();
        store.insert_spans(vec![bad, zero, span("a", "good")]);
        assert_eq!(store.span_count(), 1);
        assert_eq!(store.stats().rejected_spans, 2);
    }

    #[test]
    fn zero_bound_stores_nothing() {
        let store = SpanStore::new(0);
        store.insert_spans(vec![span("a", "1")]);
        assert_eq!(store.span_count(), 0);
        assert_eq!(store.stats().dropped_spans, 1);
    }

    fn log(n: usize) -> StoredLog {
        StoredLog {
            time_unix_nanos: n as u64,
            severity_text: "INFO".into(),
            severity_number: 9,
            body: format!("order {n} placed"),
            trace_id: String::new(),
            span_id: String::new(),
            attributes: BTreeMap::from([("n".to_owned(), Value::from(n))]),
            resource: BTreeMap::from([("service.name".to_owned(), Value::from("checkout"))]),
        }
    }

    fn metric(n: usize) -> StoredMetric {
        StoredMetric {
            name: "http.server.request.duration".into(),
            unit: "s".into(),
            resource: BTreeMap::from([("service.name".to_owned(), Value::from("cart"))]),
            kind: "histogram".into(),
            data_point_count: 1,
            point_attributes: vec![BTreeMap::from([("n".to_owned(), Value::from(n))])],
            histogram_counts: vec![1],
        }
    }

    /// A day of a shop's metrics and logs stays within a share of the memory bound, the
    /// newest kept; before, only their count (a million of each) bounded them.
    #[test]
    fn metrics_and_logs_stay_within_their_byte_share() {
        let max_bytes = 1 << 20;
        let store = SpanStore::with_bounds(1_000_000, max_bytes);
        for batch in 0..100 {
            store.insert_logs((0..100).map(|i| log(batch * 100 + i)).collect());
            store.insert_metrics((0..100).map(|i| metric(batch * 100 + i)).collect());
        }
        let stats = store.stats();
        assert!(
            stats.metrics_logs_bytes <= 2 * telemetry_bytes(max_bytes),
            "{stats:?}"
        );
        assert!(
            stats.logs_stored > 100 && stats.logs_stored < 10_000,
            "{stats:?}"
        );
        assert_eq!(stats.logs_stored as u64 + stats.dropped_logs, 10_000);
        assert_eq!(stats.metrics_stored as u64 + stats.dropped_metrics, 10_000);
        let logs = store.logs();
        assert_eq!(
            logs.last().map(|l| l.time_unix_nanos),
            Some(9_999),
            "the newest stays"
        );
        assert_eq!(logs.len(), stats.logs_stored);
        // The count bound still holds, and an unbounded store keeps everything.
        let counted = SpanStore::new(50);
        counted.insert_logs((0..120).map(log).collect());
        assert_eq!(counted.logs().len(), 50);
        assert_eq!(counted.logs()[0].time_unix_nanos, 70);
        assert_eq!(counted.stats().dropped_logs, 70);
        store.clear();
        assert_eq!(store.stats().metrics_logs_bytes, 0);
    }

    #[test]
    fn clear_keeps_counters() {
        let store = SpanStore::default();
        store.insert_spans(vec![span("a", "1")]);
        store.clear();
        assert!(store.spans().is_empty());
        assert_eq!(store.stats().spans_received, 1);
    }

    #[tokio::test]
    async fn wait_wakes_on_insert() {
        let store = SpanStore::default();
        let writer = store.clone();
        let waiter = tokio::spawn(async move {
            store
                .wait_for_spans(|s| s.len() >= 2, Duration::from_secs(10))
                .await
        });
        tokio::task::yield_now().await;
        writer.insert_spans(vec![span("a", "1")]);
        writer.insert_spans(vec![span("b", "2")]);
        let got = waiter.await.expect("waiter task").expect("predicate met");
        assert_eq!(got.len(), 2);
    }

    #[tokio::test]
    async fn timeout_summarises_what_arrived() {
        let store = SpanStore::default();
        store.insert_spans(vec![span("cart", "GET /cart"), span("frontend", "GET /")]);
        let err = store
            .wait_for_spans(|s| s.len() > 5, Duration::from_millis(20))
            .await
            .expect_err("predicate cannot hold");
        assert_eq!(err.received, 2);
        assert_eq!(err.services, ["cart", "frontend"]);
        let message = err.to_string();
        assert!(message.contains("received 2 spans"), "{message}");
        assert!(message.contains("GET /cart"), "{message}");
    }
}
