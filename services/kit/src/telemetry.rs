//! Telemetry set-up for one service process: traces, metrics and logs over OTLP.
//!
//! [`Telemetry::init`] is the first thing a service does. It validates the `OTEL_*`
//! variables (see [`crate::otel_env`]), builds the resource that names this process, and
//! installs a `tracing` subscriber with three layers:
//!
//! - console logs on stderr (filtered by `RUST_LOG`, default `info`);
//! - `tracing-opentelemetry`, which turns `tracing` spans into OpenTelemetry spans;
//! - the OpenTelemetry log bridge, which sends log events with their `trace_id`/`span_id`.
//!
//! [`Telemetry::shutdown`] flushes whatever is still buffered within a deadline and says, per
//! destination, how many spans never got there ([`Unsent`]); those are lost.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanExporter,
    SpanProcessor,
};
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::otel_env::{self, EnvError, Signal};
use crate::resource::{build_resource, new_instance_id, resolve_service_name};

/// Why telemetry could not be started. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("could not build the OTLP {signal} exporter for {endpoint}: {reason}")]
    Exporter {
        signal: &'static str,
        endpoint: String,
        reason: String,
    },
    #[error("a tracing subscriber is already installed in this process")]
    AlreadyInstalled,
}

/// How long a process waits for its last telemetry when it stops. `tracedojo up` stops every
/// service at once and allows a few seconds for the whole stop, so a backend that never
/// answers costs this once, not the SDK's own five seconds per signal and service.
pub const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Counts of what the span exporter delivered and lost, shown by `/health`.
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Spans handed to the batch processor (every recorded span that ended). Whatever of them
    /// is not in `spans_exported` when the process stops never reached the destination: it
    /// failed, did not fit the queue, or was still waiting at the deadline.
    pub spans_ended: AtomicU64,
    pub spans_exported: AtomicU64,
    pub spans_failed: AtomicU64,
    pub failed_batches: AtomicU64,
    /// The same counts for the copy sent to the explorer (`TRACEDOJO_EXPLORER_ENDPOINT`), kept
    /// apart so a person can tell which of the two destinations loses spans.
    pub explorer: Option<Arc<ExportStats>>,
    /// Set once the stop has said what was lost: an export that fails after it (the process
    /// ending under it) has nothing to add.
    reported: std::sync::atomic::AtomicBool,
}

impl ExportStats {
    pub fn snapshot(&self) -> serde_json::Value {
        let mut snapshot = serde_json::json!({
            "spans_exported": self.spans_exported.load(Ordering::Relaxed),
            "spans_failed": self.spans_failed.load(Ordering::Relaxed),
            "failed_batches": self.failed_batches.load(Ordering::Relaxed),
        });
        if let Some(explorer) = &self.explorer {
            snapshot["explorer"] = explorer.snapshot();
        }
        snapshot
    }
}

/// What names this process in every span, metric and log it sends.
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    /// The default `service.name`; `OTEL_SERVICE_NAME` overrides it.
    pub name: String,
    pub version: String,
}

/// The installed providers. Keep it alive for the life of the process and call
/// [`Telemetry::shutdown`] before exiting.
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    /// Each span destination's own processor, so [`Telemetry::shutdown`] can flush them side
    /// by side: the provider would flush them one after another, and a backend that never
    /// answers would then use up the deadline of the explorer's copy too.
    span_destinations: Vec<SpanDestination>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    stats: Arc<ExportStats>,
    destination: String,
    service_name: String,
}

impl Telemetry {
    /// Validates the environment and installs the global providers and subscriber.
    pub fn init(identity: ServiceIdentity) -> Result<Telemetry, TelemetryError> {
        otel_env::validate_all()?;
        install_crypto_provider();
        let disabled = otel_env::sdk_disabled()?;
        let service_name = resolve_service_name(&identity.name);
        let instance_id = new_instance_id();
        let explorer_endpoint = otel_env::explorer_traces_endpoint()?;

        crate::propagation::install()?;

        let console = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .with_filter(console_filter());

        if disabled {
            let stats = Arc::new(ExportStats::default());
            tracing_subscriber::registry()
                .with(console)
                .try_init()
                .map_err(|_| TelemetryError::AlreadyInstalled)?;
            return Ok(Telemetry {
                tracer_provider: None,
                span_destinations: Vec::new(),
                meter_provider: None,
                logger_provider: None,
                stats,
                destination: "nowhere (OTEL_SDK_DISABLED=true)".to_string(),
                service_name,
            });
        }

        let resource = build_resource(&service_name, &identity.version, &instance_id);

        let traces_protocol = otel_env::protocol(Signal::Traces)?;
        let traces_endpoint = otel_env::endpoint(Signal::Traces, traces_protocol)?;
        let mut destination = format!(
            "{} (OTLP {})",
            otel_env::redact_url(&traces_endpoint),
            traces_protocol.as_str()
        );
        let traces_enabled = otel_env::exporter_enabled(Signal::Traces)?;
        // The explorer's copy, unless it would only repeat the primary export (the explorer
        // is already where OTEL_EXPORTER_OTLP_ENDPOINT points).
        let explorer_endpoint = explorer_endpoint
            .filter(|endpoint| traces_enabled && !same_http_endpoint(endpoint, &traces_endpoint));
        let explorer_stats = explorer_endpoint
            .as_ref()
            .map(|_| Arc::new(ExportStats::default()));
        let stats = Arc::new(ExportStats {
            explorer: explorer_stats.clone(),
            ..ExportStats::default()
        });

        let mut span_destinations = Vec::new();
        let tracer_provider = if traces_enabled {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .build()
                .map_err(|e| exporter_error("traces", &traces_endpoint, e))?;
            let counting = CountingExporter {
                inner: exporter,
                stats: stats.clone(),
                destination: destination.clone(),
                last_warning: std::sync::Mutex::new(None),
            };
            let primary = SpanDestination {
                processor: Arc::new(batch_processor(counting, &resource)),
                stats: stats.clone(),
                name: destination.clone(),
                who: "the backend",
            };
            let mut provider = SdkTracerProvider::builder()
                .with_span_processor(primary.counting())
                .with_resource(resource.clone());
            span_destinations.push(primary);
            if let (Some(endpoint), Some(explorer_stats)) = (&explorer_endpoint, explorer_stats) {
                // Its own batch processor (its own queue and thread): a slow or absent
                // explorer never holds up the spans bound for the user's backend.
                let name = format!("the explorer at {}", otel_env::redact_url(endpoint));
                let counting = CountingExporter {
                    inner: explorer_exporter(endpoint)?,
                    stats: explorer_stats.clone(),
                    destination: name.clone(),
                    last_warning: std::sync::Mutex::new(None),
                };
                let copy = SpanDestination {
                    processor: Arc::new(batch_processor(counting, &resource)),
                    stats: explorer_stats,
                    name,
                    who: "the explorer",
                };
                provider = provider.with_span_processor(copy.counting());
                span_destinations.push(copy);
                destination = format!(
                    "{destination} and the explorer at {}",
                    otel_env::redact_url(endpoint)
                );
            }
            Some(provider.build())
        } else {
            None
        };

        let meter_provider = if otel_env::exporter_enabled(Signal::Metrics)? {
            let protocol = otel_env::protocol(Signal::Metrics)?;
            let endpoint = otel_env::endpoint(Signal::Metrics, protocol)?;
            let exporter = opentelemetry_otlp::MetricExporter::builder()
                .build()
                .map_err(|e| exporter_error("metrics", &endpoint, e))?;
            let mut reader = PeriodicReader::builder(exporter);
            // The specification's 60 s default makes a live demo look dead; 10 s unless set.
            if std::env::var_os("OTEL_METRIC_EXPORT_INTERVAL").is_none() {
                reader = reader.with_interval(Duration::from_secs(10));
            }
            Some(
                SdkMeterProvider::builder()
                    .with_reader(reader.build())
                    .with_resource(resource.clone())
                    .build(),
            )
        } else {
            None
        };

        let logger_provider = if otel_env::exporter_enabled(Signal::Logs)? {
            let protocol = otel_env::protocol(Signal::Logs)?;
            let endpoint = otel_env::endpoint(Signal::Logs, protocol)?;
            let exporter = opentelemetry_otlp::LogExporter::builder()
                .build()
                .map_err(|e| exporter_error("logs", &endpoint, e))?;
            Some(
                SdkLoggerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        } else {
            None
        };

        let trace_layer = tracer_provider.as_ref().map(|provider| {
            global::set_tracer_provider(provider.clone());
            // Location and thread attributes would point at the shared middleware, not the
            // handler, so they mislead more than they help.
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("tracedojo"))
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_target(false)
                .with_filter(otel_span_filter())
        });
        if let Some(provider) = &meter_provider {
            global::set_meter_provider(provider.clone());
        }
        let log_layer = logger_provider.as_ref().map(|provider| {
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider)
                .with_filter(otel_log_filter())
        });

        tracing_subscriber::registry()
            .with(console)
            .with(trace_layer)
            .with(log_layer)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;

        Ok(Telemetry {
            tracer_provider,
            span_destinations,
            meter_provider,
            logger_provider,
            stats,
            destination,
            service_name,
        })
    }

    /// Where traces are sent, for a person to read (credentials hidden).
    pub fn destination(&self) -> &str {
        &self.destination
    }

    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// Whether spans are being exported (not disabled by OTEL_SDK_DISABLED or
    /// OTEL_TRACES_EXPORTER=none).
    pub fn traces_enabled(&self) -> bool {
        self.tracer_provider.is_some()
    }

    pub fn stats(&self) -> Arc<ExportStats> {
        self.stats.clone()
    }

    /// Flushes and stops every provider, waiting at most `timeout` in all, then says on stderr,
    /// one plain line per span destination, how many spans never reached it (nothing when
    /// every span was delivered), and returns the same.
    ///
    /// Each destination and signal is flushed on a plain thread of its own, side by side: the
    /// gRPC exporter's shutdown can hang when called from a tokio worker thread, and one
    /// silent backend must not use up the others' time. A thread still waiting at the
    /// deadline is left behind; it ends with the process.
    pub fn shutdown(self, timeout: Duration) -> Vec<Unsent> {
        let deadline = Instant::now() + timeout;
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(Option<usize>, bool)>();
        let flush = |index: Option<usize>, job: Box<dyn FnOnce() -> OTelSdkResult + Send>| {
            let done_tx = done_tx.clone();
            // A thread that cannot start counts as a flush that did not finish.
            let _ = std::thread::Builder::new()
                .name("telemetry-flush".into())
                .spawn(move || {
                    let finished = !matches!(job(), Err(OTelSdkError::Timeout(_)));
                    let _ = done_tx.send((index, finished));
                });
        };
        for (index, destination) in self.span_destinations.iter().enumerate() {
            let processor = destination.processor.clone();
            flush(
                Some(index),
                Box::new(move || processor.shutdown_with_timeout(timeout)),
            );
        }
        if let Some(provider) = self.meter_provider {
            flush(
                None,
                Box::new(move || provider.shutdown_with_timeout(timeout)),
            );
        }
        if let Some(provider) = self.logger_provider {
            flush(
                None,
                Box::new(move || provider.shutdown_with_timeout(timeout)),
            );
        }
        drop(done_tx);
        let mut finished = vec![false; self.span_destinations.len()];
        // Until every flush has answered (the channel then closes) or the deadline passes.
        while let Ok((index, done)) =
            done_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(slot) = index.and_then(|i| finished.get_mut(i)) {
                *slot = done;
            }
        }
        // Not dropped: the last handle's drop shuts the processors down again, which waits
        // (five seconds) for one still stuck in an export. The process is ending anyway.
        std::mem::forget(self.tracer_provider);
        let unsent: Vec<Unsent> = self
            .span_destinations
            .iter()
            .zip(finished)
            .filter_map(|(destination, finished)| {
                destination.unsent(&self.service_name, finished, timeout)
            })
            .collect();
        for destination in &self.span_destinations {
            destination.stats.reported.store(true, Ordering::Relaxed);
        }
        // Plain lines, not log events: whatever RUST_LOG says, the person stopping the process
        // learns what was lost, and `tracedojo up` reads them back to sum them.
        for line in &unsent {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
        unsent
    }
}

/// One place spans are exported to: its processor, its counts and its name for a person.
struct SpanDestination {
    processor: Arc<BatchSpanProcessor>,
    stats: Arc<ExportStats>,
    /// Where, for a person (credentials hidden).
    name: String,
    /// Who failed to answer, in a sentence: "the backend" or "the explorer".
    who: &'static str,
}

impl SpanDestination {
    /// The processor as the provider gets it: counting every span handed to it.
    fn counting(&self) -> CountingProcessor {
        CountingProcessor {
            inner: self.processor.clone(),
            stats: self.stats.clone(),
        }
    }

    /// What never reached this destination, once its flush finished or the deadline passed.
    fn unsent(&self, service: &str, finished: bool, timeout: Duration) -> Option<Unsent> {
        let ended = self.stats.spans_ended.load(Ordering::Relaxed);
        let exported = self.stats.spans_exported.load(Ordering::Relaxed);
        let spans = ended.saturating_sub(exported);
        if spans == 0 {
            return None;
        }
        let who = self.who;
        let reason = if !finished {
            format!("{who} did not answer within {}", seconds(timeout))
        } else if self.stats.spans_failed.load(Ordering::Relaxed) > 0 {
            format!("{who} refused them or could not be reached")
        } else {
            "the export queue was full".to_string()
        };
        Some(Unsent {
            service: service.to_string(),
            spans,
            destination: self.name.clone(),
            reason,
        })
    }
}

/// Spans that never reached one destination, as a process says when it stops:
/// `payment: 37 spans could not be sent to http://host:4318/v1/traces (OTLP http/protobuf):
/// the backend did not answer within 3s`. The destination is the redacted URL, never a header.
///
/// [`Unsent::parse`] reads that line back (`tracedojo up` sums the lines of its services), so
/// the wording lives here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsent {
    pub service: String,
    pub spans: u64,
    /// Where they were bound, for a person (credentials hidden).
    pub destination: String,
    pub reason: String,
}

const UNSENT_MARK: &str = " could not be sent to ";

impl std::fmt::Display for Unsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let noun = if self.spans == 1 { "span" } else { "spans" };
        write!(
            f,
            "{}: {} {noun}{UNSENT_MARK}{}: {}",
            self.service, self.spans, self.destination, self.reason
        )
    }
}

impl Unsent {
    /// The line [`Unsent`]'s `Display` writes, read back; `None` for any other line.
    pub fn parse(line: &str) -> Option<Unsent> {
        let (counted, rest) = line.trim().split_once(UNSENT_MARK)?;
        let counted = counted
            .strip_suffix(" spans")
            .or_else(|| counted.strip_suffix(" span"))?;
        let (service, spans) = counted.rsplit_once(": ")?;
        // The reason never holds ": "; a URL (even with its port) does not either.
        let (destination, reason) = rest.rsplit_once(": ")?;
        Some(Unsent {
            service: service.to_string(),
            spans: spans.parse().ok()?,
            destination: destination.to_string(),
            reason: reason.to_string(),
        })
    }
}

/// `3s`, or `1500ms` when not a whole number of seconds.
fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// A batch processor with the `OTEL_BSP_*` settings, and a shorter default delay, told the
/// resource here: the provider cannot tell it through the shared handle it gets.
fn batch_processor<E: SpanExporter + 'static>(
    exporter: E,
    resource: &Resource,
) -> BatchSpanProcessor {
    let mut batch = BatchConfigBuilder::default();
    // The specification's 5 s delay makes a newcomer wait for their first trace;
    // half a second unless OTEL_BSP_SCHEDULE_DELAY says otherwise.
    if std::env::var_os("OTEL_BSP_SCHEDULE_DELAY").is_none() {
        batch = batch.with_scheduled_delay(Duration::from_millis(500));
    }
    let mut processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch.build())
        .build();
    processor.set_resource(resource);
    processor
}

/// A batch processor shared with [`Telemetry`] (which flushes it at the stop) that counts the
/// spans handed to it, so what was never exported can be told at the stop: the SDK drops a
/// span silently when its queue is full, and a span still queued at the deadline is lost too.
#[derive(Debug)]
struct CountingProcessor {
    inner: Arc<BatchSpanProcessor>,
    stats: Arc<ExportStats>,
}

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.stats.spans_ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    // The resource was given to the processor when it was built (see `batch_processor`).
    fn set_resource(&mut self, _resource: &Resource) {}
}

/// How long one export to the explorer may take. It runs on this machine or next to it, so
/// a longer wait only means it is gone; the user's own timeout is for their backend.
const EXPLORER_EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The OTLP/HTTP (protobuf) exporter of the explorer's copy: `endpoint` is used as it is
/// (it ends in `/v1/traces`), whatever protocol and endpoint the `OTEL_*` variables choose
/// for the primary export, and without the user's headers (see [`WithoutUserHeaders`]).
fn explorer_exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    let build_error = |reason: String| TelemetryError::Exporter {
        signal: "traces (explorer copy)",
        endpoint: otel_env::redact_url(endpoint),
        reason,
    };
    // A blocking client starts (and on drop stops) a runtime of its own, which tokio forbids
    // on one of its worker threads: build it on a plain thread, as the SDK does for its own.
    let client = std::thread::spawn(|| {
        reqwest::blocking::Client::builder()
            .timeout(EXPLORER_EXPORT_TIMEOUT)
            .build()
    })
    .join()
    .map_err(|_| build_error("building its HTTP client panicked".into()))?
    .map_err(|e| build_error(e.to_string()))?;
    let strip = otel_env::trace_header_names()
        .iter()
        .filter_map(|name| http::HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(EXPLORER_EXPORT_TIMEOUT)
        .with_http_client(WithoutUserHeaders {
            inner: client,
            strip,
        })
        .build()
        .map_err(|e| exporter_error("traces", endpoint, e))
}

/// Whether two OTLP/HTTP traces URLs name the same place (`localhost` and `127.0.0.1` alike,
/// a trailing slash ignored), so the explorer is not sent every span twice.
fn same_http_endpoint(a: &str, b: &str) -> bool {
    let normal = |url: &str| {
        url.trim()
            .trim_end_matches('/')
            .replace("://localhost:", "://127.0.0.1:")
    };
    normal(a) == normal(b)
}

/// The HTTP client of the explorer's copy. The SDK adds the headers of
/// `OTEL_EXPORTER_OTLP_HEADERS` (or `_TRACES_HEADERS`) to every OTLP/HTTP export, whatever
/// the exporter is configured with. They are the user's backend's credentials and must not
/// travel to the explorer, so they are taken off each request here.
#[derive(Debug)]
struct WithoutUserHeaders {
    inner: reqwest::blocking::Client,
    /// Lower-cased header names, never their values.
    strip: Vec<http::HeaderName>,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for WithoutUserHeaders {
    async fn send_bytes(
        &self,
        mut request: http::Request<opentelemetry_http::Bytes>,
    ) -> Result<http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        for name in &self.strip {
            request.headers_mut().remove(name);
        }
        self.inner.send_bytes(request).await
    }
}

fn exporter_error(
    signal: &'static str,
    endpoint: &str,
    err: opentelemetry_otlp::ExporterBuildError,
) -> TelemetryError {
    // The SDK's message may quote the raw endpoint, credentials included.
    let redacted = otel_env::redact_url(endpoint);
    TelemetryError::Exporter {
        signal,
        reason: err.to_string().replace(endpoint, &redacted),
        endpoint: redacted,
    }
}

/// The trace id (32 lower-case hex digits) of the span the code runs in (in a handler, its
/// request's trace), when that trace is recorded and exported: `None` without telemetry, or
/// when the sampler dropped it (a link to it would lead nowhere).
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    (span_context.is_valid() && span_context.is_sampled())
        .then(|| span_context.trace_id().to_string())
}

/// rustls needs one process-wide crypto provider; `ring` builds fast on small machines.
/// Safe to call any number of times.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Console logs: `RUST_LOG` (default `info`), never the SDK's own export complaints: a
/// backend that is down would print one every half second, and [`CountingExporter`] already
/// says it once a minute in plain words.
fn console_filter() -> EnvFilter {
    let base = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    EnvFilter::try_new(format!("{QUIET_LIBRARIES},{base}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_LIBRARIES}")))
}

const QUIET_LIBRARIES: &str = "sqlx=warn,hyper=warn,h2=warn,tonic=warn,tower=warn,reqwest=warn,\
opentelemetry=off,opentelemetry_sdk=off,opentelemetry-otlp=off,opentelemetry_otlp=off,opentelemetry-http=off";

/// Spans become OpenTelemetry spans only from our own code: library-internal spans (h2,
/// hyper, sqlx) would bury the ones a participant is meant to read. A target prefix matches
/// every crate of the project (`tracedojo`, `tracedojo_kit`, `tracedojo_catalog`, ...).
/// `Targets` rather than `EnvFilter`: it is consulted for every span, and it is cheaper.
fn otel_span_filter() -> Targets {
    Targets::new().with_target("tracedojo", Level::INFO)
}

/// Logs sent over OTLP: our own at info and above, never the exporter's own complaints (a
/// failing export would otherwise log about itself through itself).
fn otel_log_filter() -> Targets {
    Targets::new()
        .with_target("tracedojo", Level::INFO)
        .with_target("tracedojo_kit::telemetry", LevelFilter::OFF)
}

/// Wraps the OTLP span exporter to count delivered and lost spans and to say, once a minute at
/// most, that the backend cannot be reached — the shop keeps serving either way.
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    stats: Arc<ExportStats>,
    destination: String,
    last_warning: std::sync::Mutex<Option<Instant>>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.stats
                    .spans_exported
                    .fetch_add(count, Ordering::Relaxed);
            }
            Err(err) => {
                let lost = self.stats.spans_failed.fetch_add(count, Ordering::Relaxed) + count;
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
                if !self.stats.reported.load(Ordering::Relaxed)
                    && last.is_none_or(|t| t.elapsed() > Duration::from_secs(60))
                {
                    *last = Some(Instant::now());
                    tracing::warn!(
                        "could not export spans to {}: {err}; {lost} spans lost so far, the shop keeps serving",
                        self.destination
                    );
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otel_env::Protocol;

    #[test]
    fn the_explorer_copy_goes_without_the_users_headers() {
        use std::io::{Read, Write};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        // One request: keep what arrived, answer 200.
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            String::from_utf8_lossy(&seen).to_ascii_lowercase()
        });
        install_crypto_provider();
        let client = WithoutUserHeaders {
            inner: reqwest::blocking::Client::new(),
            strip: vec![http::HeaderName::from_static("api-key")],
        };
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{address}/v1/traces"))
            .header("api-key", "SECRET")
            .header("content-type", "application/x-protobuf")
            .body(opentelemetry_http::Bytes::new())
            .expect("request");
        // A blocking client's future is done at its first poll.
        let mut send = std::pin::pin!(opentelemetry_http::HttpClient::send_bytes(&client, request));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(response) = send.as_mut().poll(&mut context) else {
            panic!("the blocking client did not finish at once");
        };
        assert_eq!(response.expect("sent").status(), 200);
        let seen = server.join().expect("server");
        assert!(seen.contains("content-type"), "{seen}");
        assert!(
            !seen.contains("api-key") && !seen.contains("secret"),
            "{seen}"
        );
    }

    #[test]
    fn the_explorer_is_not_sent_the_same_spans_twice() {
        assert!(same_http_endpoint(
            "http://127.0.0.1:4318/v1/traces",
            "http://localhost:4318/v1/traces/"
        ));
        assert!(!same_http_endpoint(
            "http://127.0.0.1:4318/v1/traces",
            "https://otlp.example.com/v1/traces"
        ));
    }

    /// An exporter that takes every batch and never answers, as a black-hole backend does.
    #[derive(Debug)]
    struct NeverAnswers;

    impl SpanExporter for NeverAnswers {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            std::future::pending().await
        }
    }

    #[derive(Debug)]
    struct AnswersAtOnce;

    impl SpanExporter for AnswersAtOnce {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Ok(())
        }
    }

    /// A `Telemetry` with one span destination and no subscriber (that is process-wide),
    /// after `spans` spans have ended.
    fn telemetry_after<E: SpanExporter + 'static>(exporter: E, spans: usize) -> Telemetry {
        use opentelemetry::trace::{Tracer, TracerProvider};

        let stats = Arc::new(ExportStats::default());
        let resource = build_resource("payment", "test", &new_instance_id());
        let destination = SpanDestination {
            processor: Arc::new(batch_processor(
                CountingExporter {
                    inner: exporter,
                    stats: stats.clone(),
                    destination: "http://127.0.0.1:9/v1/traces".into(),
                    last_warning: std::sync::Mutex::new(None),
                },
                &resource,
            )),
            stats: stats.clone(),
            name: "http://127.0.0.1:9/v1/traces (OTLP http/protobuf)".into(),
            who: "the backend",
        };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(destination.counting())
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..spans {
            tracer.in_span("GET /api/products", |_| {});
        }
        Telemetry {
            tracer_provider: Some(provider),
            span_destinations: vec![destination],
            meter_provider: None,
            logger_provider: None,
            stats,
            destination: String::new(),
            service_name: "payment".into(),
        }
    }

    #[test]
    fn spans_a_silent_backend_never_took_are_counted_at_the_deadline() {
        let unsent = telemetry_after(NeverAnswers, 37).shutdown(Duration::from_millis(300));
        assert_eq!(
            unsent,
            vec![Unsent {
                service: "payment".into(),
                spans: 37,
                destination: "http://127.0.0.1:9/v1/traces (OTLP http/protobuf)".into(),
                reason: "the backend did not answer within 300ms".into(),
            }]
        );
    }

    #[test]
    fn nothing_is_reported_when_every_span_was_delivered() {
        let unsent = telemetry_after(AnswersAtOnce, 37).shutdown(Duration::from_secs(5));
        assert_eq!(unsent, vec![]);
    }

    #[test]
    fn the_unsent_line_reads_back_and_other_lines_do_not() {
        let unsent = Unsent {
            service: "payment".into(),
            spans: 37,
            destination: "http://127.0.0.1:4318/v1/traces (OTLP http/protobuf)".into(),
            reason: "the backend did not answer within 3s".into(),
        };
        let line = unsent.to_string();
        assert_eq!(
            line,
            "payment: 37 spans could not be sent to http://127.0.0.1:4318/v1/traces (OTLP http/protobuf): the backend did not answer within 3s"
        );
        assert_eq!(Unsent::parse(&line), Some(unsent.clone()));
        let one = Unsent { spans: 1, ..unsent };
        assert!(one.to_string().contains(": 1 span could not"), "{one}");
        assert_eq!(Unsent::parse(&one.to_string()), Some(one));
        for other in [
            "",
            "payment listening on http://127.0.0.1:8084",
            "payment: many spans could not be sent to x: y",
            "spans could not be sent to somewhere",
        ] {
            assert_eq!(Unsent::parse(other), None, "{other:?}");
        }
    }

    #[test]
    fn protocol_names_match_the_specification() {
        assert_eq!(Protocol::Grpc.as_str(), "grpc");
        assert_eq!(Protocol::HttpProtobuf.as_str(), "http/protobuf");
    }
}
