//! Telemetry set-up for one service process: traces, metrics and logs over OTLP.
//!
//! [`Telemetry::init`] is the first thing a service does. It validates the `OTEL_*`
//! variables (see [`crate::otel_env`]), builds the resource that names this process (see
//! [`crate::resource`]), starts one export thread per destination (see [`crate::export`]),
//! and installs a `tracing` subscriber with three layers:
//!
//! - console logs on stderr (filtered by `RUST_LOG`, default `info`);
//! - `tracing-opentelemetry`, which turns `tracing` spans into OpenTelemetry spans;
//! - the OpenTelemetry log bridge, which sends log events with their `trace_id`/`span_id`.
//!
//! [`Telemetry::shutdown`] flushes whatever is still buffered within a deadline and says, per
//! destination, how many spans never got there ([`Unsent`]); those are lost.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanExporter, SpanProcessor,
};
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::export::signals::{LogsToDestination, MetricsToDestination, temporality, wants_json};
use crate::export::spans::{CountingProcessor, FanOut};
use crate::export::{DestinationSettings, ExportFailure, Worker};
use crate::otel_env::{self, EnvError, Signal};
use crate::resource::{build_resource, new_instance_id, resolve_service_name};

pub use crate::export::ExportStats;

/// Why telemetry could not be started. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("could not set up the OTLP {signal} export to {endpoint}: {reason}")]
    Exporter {
        signal: &'static str,
        endpoint: String,
        reason: String,
    },
    #[error("TRACEDOJO_PARTICIPANT: {0}")]
    Participant(#[from] crate::participant::ParticipantError),
    #[error("a tracing subscriber is already installed in this process")]
    AlreadyInstalled,
}

/// How long a process waits for its last telemetry when it stops. `tracedojo up` stops every
/// service at once and allows a few seconds for the whole stop, so a backend that never
/// answers costs this once, not the SDK's own five seconds per signal and service.
pub const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

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
    /// The one batch processor every span goes through, flushed first at the stop.
    span_processor: Option<Arc<BatchSpanProcessor>>,
    /// Where spans go: the backend, then the explorer's copy if there is one.
    span_destinations: Vec<Arc<Worker>>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    stats: Arc<ExportStats>,
    destination: String,
    service_name: String,
}

/// The span side of [`Telemetry`], as [`span_pipeline`] builds it.
struct Spans {
    provider: SdkTracerProvider,
    processor: Arc<BatchSpanProcessor>,
    destinations: Vec<Arc<Worker>>,
    stats: Arc<ExportStats>,
    destination: String,
}

impl Telemetry {
    /// Validates the environment and installs the global providers and subscriber.
    pub fn init(identity: ServiceIdentity) -> Result<Telemetry, TelemetryError> {
        otel_env::validate_all()?;
        // A bad name stops the service, as it stops `up`, rather than going unseen.
        crate::participant::from_env()?;
        install_crypto_provider();
        let disabled = otel_env::sdk_disabled()?;
        let service_name = resolve_service_name(&identity.name);
        let explorer_endpoint = otel_env::explorer_traces_endpoint()?;
        crate::propagation::install()?;

        let console = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .with_filter(console_filter());

        if disabled {
            tracing_subscriber::registry()
                .with(console)
                .try_init()
                .map_err(|_| TelemetryError::AlreadyInstalled)?;
            return Ok(Telemetry {
                tracer_provider: None,
                span_processor: None,
                span_destinations: Vec::new(),
                meter_provider: None,
                logger_provider: None,
                stats: Arc::new(ExportStats::default()),
                destination: "nowhere (OTEL_SDK_DISABLED=true)".to_string(),
                service_name,
            });
        }

        let resource = build_resource(&service_name, &identity.version, &new_instance_id());
        let spans = if otel_env::exporter_enabled(Signal::Traces)? {
            Some(span_pipeline(&resource, explorer_endpoint)?)
        } else {
            None
        };
        let meter_provider = meter_provider(&resource)?;
        let logger_provider = logger_provider(&resource)?;

        let trace_layer = spans.as_ref().map(|spans| {
            global::set_tracer_provider(spans.provider.clone());
            // Location and thread attributes would point at the shared middleware, not the
            // handler, so they mislead more than they help. Context activation would make
            // every span entry (every poll of an instrumented future) set OpenTelemetry's
            // current context; the code here reads a span's context from the span itself, and
            // log records get theirs from `log_context`.
            tracing_opentelemetry::layer()
                .with_tracer(spans.provider.tracer("tracedojo"))
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_context_activation(false)
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

        let (tracer_provider, span_processor, span_destinations, stats, destination) = match spans {
            Some(s) => (
                Some(s.provider),
                Some(s.processor),
                s.destinations,
                s.stats,
                s.destination,
            ),
            None => (
                None,
                None,
                Vec::new(),
                Arc::new(ExportStats::default()),
                "nowhere (OTEL_TRACES_EXPORTER=none)".to_string(),
            ),
        };
        Ok(Telemetry {
            tracer_provider,
            span_processor,
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
    /// The span processor hands its last batch to the destinations' threads, which then drain
    /// their queues side by side with the metric and log flushes, each on a plain thread (the
    /// gRPC exporter's shutdown can hang when called from a tokio worker thread): one silent
    /// backend does not use up the others' time. A thread still waiting at the deadline is
    /// left behind; it ends with the process.
    pub fn shutdown(self, timeout: Duration) -> Vec<Unsent> {
        let deadline = Instant::now() + timeout;
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(Option<usize>, bool)>();
        let on_thread = |index: Option<usize>, job: Box<dyn FnOnce() -> bool + Send>| {
            let done_tx = done_tx.clone();
            // A thread that cannot start counts as a flush that did not finish.
            let _ = std::thread::Builder::new()
                .name("telemetry-flush".into())
                .spawn(move || {
                    let _ = done_tx.send((index, job()));
                });
        };
        let processor = self.span_processor.clone();
        let destinations = self.span_destinations.clone();
        {
            let done_tx = done_tx.clone();
            let _ = std::thread::Builder::new()
                .name("telemetry-flush".into())
                .spawn(move || {
                    if let Some(processor) = processor {
                        let _ = processor.shutdown_with_timeout(timeout);
                    }
                    // Each destination drains its queue on its own thread, side by side.
                    for (index, destination) in destinations.into_iter().enumerate() {
                        let done_tx = done_tx.clone();
                        let _ = std::thread::Builder::new()
                            .name("telemetry-flush".into())
                            .spawn(move || {
                                let _ = done_tx.send((Some(index), destination.close(deadline)));
                            });
                    }
                });
        }
        if let Some(provider) = self.meter_provider {
            on_thread(
                None,
                Box::new(move || {
                    !matches!(
                        provider.shutdown_with_timeout(timeout),
                        Err(OTelSdkError::Timeout(_))
                    )
                }),
            );
        }
        if let Some(provider) = self.logger_provider {
            on_thread(
                None,
                Box::new(move || {
                    !matches!(
                        provider.shutdown_with_timeout(timeout),
                        Err(OTelSdkError::Timeout(_))
                    )
                }),
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
        // Not dropped: the last handle's drop shuts the processor down again, which waits
        // (five seconds) for one still stuck. The process is ending anyway.
        std::mem::forget(self.tracer_provider);
        let unsent: Vec<Unsent> = self
            .span_destinations
            .iter()
            .zip(finished)
            .filter_map(|(destination, finished)| {
                unsent(destination, &self.service_name, finished, timeout)
            })
            .collect();
        for destination in &self.span_destinations {
            destination.stats().reported.store(true, Ordering::Relaxed);
        }
        // Plain lines, not log events: whatever RUST_LOG says, the person stopping the process
        // learns what was lost, and `tracedojo up` reads them back to sum them.
        for line in &unsent {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
        unsent
    }
}

/// The span destinations (the backend, and the explorer's copy unless it would only repeat
/// the backend), their one batch processor and the provider.
fn span_pipeline(
    resource: &Resource,
    explorer_endpoint: Option<String>,
) -> Result<Spans, TelemetryError> {
    let backend = DestinationSettings::from_env(Signal::Traces)?;
    let json = wants_json(backend.protocol);
    let mut destination = backend.describe();
    let explorer_endpoint =
        explorer_endpoint.filter(|endpoint| !same_http_endpoint(endpoint, &backend.url));
    let explorer_stats = explorer_endpoint
        .as_ref()
        .map(|_| Arc::new(ExportStats::default()));
    let stats = Arc::new(ExportStats {
        explorer: explorer_stats.clone(),
        ..ExportStats::default()
    });
    let mut destinations = vec![start_worker(
        backend,
        stats.clone(),
        "the backend",
        "traces",
    )?];
    if let (Some(endpoint), Some(explorer_stats)) = (&explorer_endpoint, explorer_stats) {
        let settings = DestinationSettings::explorer(endpoint);
        destination = format!(
            "{destination} and the explorer at {}",
            otel_env::redact_url(endpoint)
        );
        destinations.push(start_worker(
            settings,
            explorer_stats,
            "the explorer",
            "traces (explorer copy)",
        )?);
    }
    let processor = Arc::new(batch_processor(
        FanOut::new(destinations.clone(), json),
        resource,
    ));
    let provider = SdkTracerProvider::builder()
        .with_span_processor(CountingProcessor {
            inner: processor.clone(),
            destinations: destinations.clone(),
        })
        .with_resource(resource.clone())
        .build();
    Ok(Spans {
        provider,
        processor,
        destinations,
        stats,
        destination,
    })
}

fn meter_provider(resource: &Resource) -> Result<Option<SdkMeterProvider>, TelemetryError> {
    if !otel_env::exporter_enabled(Signal::Metrics)? {
        return Ok(None);
    }
    let settings = DestinationSettings::from_env(Signal::Metrics)?;
    let exporter = MetricsToDestination {
        json: wants_json(settings.protocol),
        timeout: settings.timeout,
        temporality: temporality()?,
        worker: start_worker(settings, Arc::default(), "the backend", "metrics")?,
    };
    let mut reader = PeriodicReader::builder(exporter);
    // The specification's 60 s default makes a live demo look dead; 10 s unless set.
    if std::env::var_os("OTEL_METRIC_EXPORT_INTERVAL").is_none() {
        reader = reader.with_interval(Duration::from_secs(10));
    }
    Ok(Some(
        SdkMeterProvider::builder()
            .with_reader(reader.build())
            .with_resource(resource.clone())
            .build(),
    ))
}

fn logger_provider(resource: &Resource) -> Result<Option<SdkLoggerProvider>, TelemetryError> {
    if !otel_env::exporter_enabled(Signal::Logs)? {
        return Ok(None);
    }
    let settings = DestinationSettings::from_env(Signal::Logs)?;
    let exporter = LogsToDestination {
        json: wants_json(settings.protocol),
        timeout: settings.timeout,
        resource: resource.into(),
        worker: start_worker(settings, Arc::default(), "the backend", "logs")?,
    };
    Ok(Some(
        SdkLoggerProvider::builder()
            .with_log_processor(crate::log_context::TraceContextFromSpan)
            .with_batch_exporter(exporter)
            .with_resource(resource.clone())
            .build(),
    ))
}

fn start_worker(
    settings: DestinationSettings,
    stats: Arc<ExportStats>,
    who: &'static str,
    signal: &'static str,
) -> Result<Arc<Worker>, TelemetryError> {
    let endpoint = otel_env::redact_url(&settings.url);
    Worker::start(settings, stats, who)
        .map(Arc::new)
        .map_err(|failure: ExportFailure| TelemetryError::Exporter {
            signal,
            endpoint,
            reason: failure.to_string(),
        })
}

/// What never reached one destination, once its queue drained or the deadline passed.
fn unsent(
    destination: &Worker,
    service: &str,
    finished: bool,
    timeout: Duration,
) -> Option<Unsent> {
    let stats = destination.stats();
    let ended = stats.spans_ended.load(Ordering::Relaxed);
    let exported = stats.spans_exported.load(Ordering::Relaxed);
    let spans = ended.saturating_sub(exported);
    if spans == 0 {
        return None;
    }
    let who = destination.who();
    let reason = if !finished {
        format!("{who} did not answer within {}", seconds(timeout))
    } else if let Some(failure) = stats.last_failure() {
        format!(
            "{who} refused them or could not be reached ({})",
            failure.kind()
        )
    } else {
        "the export queue was full".to_string()
    };
    Some(Unsent {
        service: service.to_string(),
        spans,
        destination: destination.name().to_string(),
        reason,
    })
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
pub(crate) fn seconds(duration: Duration) -> String {
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
/// backend that is down would print one every half second, and the export threads
/// already say it once, in plain words, when it starts and when it ends.
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
        .with_target("tracedojo_kit::export", LevelFilter::OFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_server::TestServer;
    use crate::otel_env::Protocol;

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

    /// A `Telemetry` whose spans go to `backend` (and to `explorer`, if given), with no
    /// subscriber (that is process-wide), after `spans` spans have ended.
    fn telemetry_after(backend: &str, explorer: Option<&str>, spans: usize) -> Telemetry {
        use opentelemetry::trace::{Tracer, TracerProvider};

        let resource = build_resource("payment", "test", &new_instance_id());
        let explorer_stats = explorer.map(|_| Arc::new(ExportStats::default()));
        let stats = Arc::new(ExportStats {
            explorer: explorer_stats.clone(),
            ..ExportStats::default()
        });
        let mut settings = DestinationSettings::explorer(backend);
        settings.headers.push((
            http::HeaderName::from_static("api-key"),
            http::HeaderValue::from_static("SECRET-KEY"),
        ));
        let mut destinations = vec![
            start_worker(settings, stats.clone(), "the backend", "traces").expect("backend worker"),
        ];
        if let (Some(url), Some(explorer_stats)) = (explorer, explorer_stats) {
            destinations.push(
                start_worker(
                    DestinationSettings::explorer(url),
                    explorer_stats,
                    "the explorer",
                    "traces",
                )
                .expect("explorer worker"),
            );
        }
        let processor = Arc::new(batch_processor(
            FanOut::new(destinations.clone(), false),
            &resource,
        ));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor {
                inner: processor.clone(),
                destinations: destinations.clone(),
            })
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..spans {
            tracer.in_span("GET /api/products", |_| {});
        }
        Telemetry {
            tracer_provider: Some(provider),
            span_processor: Some(processor),
            span_destinations: destinations,
            meter_provider: None,
            logger_provider: None,
            stats,
            destination: String::new(),
            service_name: "payment".into(),
        }
    }

    #[test]
    fn spans_a_silent_backend_never_took_are_counted_at_the_deadline() {
        let black_hole = TestServer::black_hole();
        let url = black_hole.url("/v1/traces");
        let unsent = telemetry_after(&url, None, 37).shutdown(Duration::from_millis(300));
        assert_eq!(
            unsent,
            vec![Unsent {
                service: "payment".into(),
                spans: 37,
                destination: format!("{url} (OTLP http/protobuf)"),
                reason: "the backend did not answer within 300ms".into(),
            }]
        );
    }

    #[test]
    fn nothing_is_reported_when_every_span_was_delivered() {
        let server = TestServer::answering(200, "");
        let unsent =
            telemetry_after(&server.url("/v1/traces"), None, 37).shutdown(Duration::from_secs(30));
        assert_eq!(unsent, vec![]);
        assert!(server.requests().iter().all(|r| r.path == "/v1/traces"));
    }

    #[test]
    fn one_encoding_reaches_both_destinations_and_only_the_backend_gets_the_key() {
        let backend = TestServer::answering(200, "");
        let explorer = TestServer::answering(200, "");
        let telemetry = telemetry_after(
            &backend.url("/v1/traces"),
            Some(&explorer.url("/v1/traces")),
            25,
        );
        let stats = telemetry.stats();
        assert_eq!(telemetry.shutdown(Duration::from_secs(30)), vec![]);
        let to_backend = backend.requests();
        let to_explorer = explorer.requests();
        assert!(!to_backend.is_empty());
        let bodies = |requests: &[crate::export::test_server::Request]| {
            requests.iter().map(|r| r.body.clone()).collect::<Vec<_>>()
        };
        assert_eq!(bodies(&to_backend), bodies(&to_explorer));
        assert!(
            to_backend
                .iter()
                .all(|r| r.header("api-key") == Some("SECRET-KEY"))
        );
        assert!(to_explorer.iter().all(|r| r.header("api-key").is_none()));
        assert_eq!(stats.spans_exported.load(Ordering::Relaxed), 25);
        let explorer_stats = stats.explorer.as_ref().expect("explorer stats");
        assert_eq!(explorer_stats.spans_exported.load(Ordering::Relaxed), 25);
    }

    #[test]
    fn a_silent_backend_does_not_hold_up_the_explorer() {
        let black_hole = TestServer::black_hole();
        let explorer = TestServer::answering(200, "");
        let telemetry = telemetry_after(
            &black_hole.url("/v1/traces"),
            Some(&explorer.url("/v1/traces")),
            40,
        );
        let stats = telemetry.stats();
        let unsent = telemetry.shutdown(Duration::from_millis(1500));
        let explorer_stats = stats.explorer.as_ref().expect("explorer stats");
        assert_eq!(explorer_stats.spans_exported.load(Ordering::Relaxed), 40);
        assert_eq!(unsent.len(), 1, "{unsent:?}");
        assert_eq!(unsent[0].spans, 40);
        assert!(unsent[0].reason.starts_with("the backend"), "{unsent:?}");
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
        assert_eq!(Protocol::HttpJson.as_str(), "http/json");
    }
}
