//! The CPU cost per span of the telemetry stack alone (`tracedojo-bench --span-cost`, through
//! bench/span_cost.sh), with no HTTP, no database and no other process in the way.
//!
//! bench/PROFILE.md finds the shop's services spending about 55 µs more CPU per span with
//! telemetry on. This tells how much of that the stack itself costs — `tracing`, the
//! `tracing-subscriber` registry, the `tracing-opentelemetry` layer, the SDK's batch span
//! processor and the kit's own OTLP encoding — and how much must be per-request work around it.
//!
//! One synthetic request, shaped like a checkout handler's, runs many times under each set-up:
//!
//! 0. no subscriber at all: the `tracing` macros are no-ops (the reference);
//! 1. the `tracing-subscriber` registry alone: span bookkeeping, no OpenTelemetry;
//! 2. the registry, the `tracing-opentelemetry` layer as `Telemetry::init` configures it, and an
//!    SDK tracer provider whose batch processor hands each batch to an exporter that discards it;
//! 3. as 2, but the exporter encodes each batch to OTLP protobuf with the kit's own encoder
//!    (`tracedojo_kit::export::encode::spans`, what the services' `FanOut` runs), then drops it;
//! 4. the same spans made directly through the OpenTelemetry API, no `tracing` bridge, exported
//!    as in 3: what replacing the bridge would save;
//! 5. as 3 plus the other two layers `Telemetry::init` installs: the console layer (`fmt` with
//!    an `EnvFilter`, writing into a sink instead of stderr) and the OTLP log bridge (its batch
//!    log processor encoding with the kit's `encode::logs`).
//!
//! The request: a SERVER span with ten attributes (as the kit's middleware makes it), an
//! INTERNAL span (as `#[tracing::instrument]` makes one) holding two database CLIENT spans with
//! five attributes each (as the kit's `Db::span`), an HTTP CLIENT span with six (as the kit's
//! client), one log event, and a status code recorded on two spans after the fact. Every child
//! runs as an instrumented future that suspends once, in a current-thread tokio runtime, so
//! spans are entered and exited on every poll as in the services.
//!
//! CPU: the process's user + system time from /proc/self/stat, read before the first request
//! and after the tracer provider's shutdown (which exports the last batch and joins the batch
//! processor's thread): it includes the export thread's encoding, which a loop-thread clock
//! would miss, and the kernel adds a finished thread's time to its process, so nothing is lost
//! when that thread ends. Its 10 ms ticks are under 0.1 µs per span over 200,000 spans. The
//! request loop's own thread is read apart, in nanoseconds, from /proc/thread-self/schedstat,
//! which tells the span-making side from the export side. Both are CPU time, not wall time,
//! so the other jobs on a shared machine slow the run but bias the figures less; the set-ups
//! still run in rotating order over several rounds and the medians are reported.
//!
//! Honesty of the export: the batch processor keeps the services' settings (a 2,048-span queue,
//! 512-span batches, 500 ms delay). A queue that overflowed would drop spans silently and make
//! exporting look cheap, so the loop sleeps (which costs no CPU) whenever more spans are
//! waiting than the queue could take, and every span is counted when exported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{
    SpanKind, TraceContextExt as _, Tracer as _, TracerProvider as _, get_active_span,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing::field::Empty;
use tracing::{Dispatch, Instrument as _, Level};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use tracedojo_kit::export::encode;

/// The span-cost benchmark's settings (`tracedojo-bench --span-cost ...`).
#[derive(Debug, clap::Args)]
pub struct SpanCostArgs {
    /// Measure the telemetry stack's CPU per span in this process (no shop is started).
    #[arg(long)]
    pub span_cost: bool,
    /// Spans made per set-up and round (rounded up to whole requests of five spans).
    #[arg(long, default_value_t = 200_000)]
    pub span_cost_spans: u64,
    /// Rounds over all set-ups (odd, so the median is one of them).
    #[arg(long, default_value_t = 3)]
    pub span_cost_rounds: usize,
}

/// Spans one request makes: SERVER, INTERNAL, two database CLIENTs, one HTTP CLIENT.
const SPANS_PER_REQUEST: u64 = 5;
/// Log events one request writes.
const LOGS_PER_REQUEST: u64 = 1;

/// The SDK's default batch queue (`OTEL_BSP_MAX_QUEUE_SIZE`, which the services leave alone).
const BATCH_QUEUE: u64 = 2048;
/// Spans (or log records) the loop lets wait for export before it sleeps: a queue this full
/// plus one request's spans still fits, so no span is ever dropped.
const MOST_WAITING: u64 = BATCH_QUEUE * 3 / 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetUp {
    NoSubscriber,
    RegistryOnly,
    BridgeDiscarding,
    BridgeEncoding,
    OtelApiEncoding,
    WholeSubscriber,
}

impl SetUp {
    const ALL: [SetUp; 6] = [
        SetUp::NoSubscriber,
        SetUp::RegistryOnly,
        SetUp::BridgeDiscarding,
        SetUp::BridgeEncoding,
        SetUp::OtelApiEncoding,
        SetUp::WholeSubscriber,
    ];

    fn label(self) -> &'static str {
        match self {
            SetUp::NoSubscriber => "0 no subscriber (reference)",
            SetUp::RegistryOnly => "1 registry only",
            SetUp::BridgeDiscarding => "2 + otel layer, SDK, discarding exporter",
            SetUp::BridgeEncoding => "3 + kit's OTLP protobuf encoding",
            SetUp::OtelApiEncoding => "4 OTel API directly, kit's encoding",
            SetUp::WholeSubscriber => "5 as 3 + console and log-bridge layers",
        }
    }

    fn exports_spans(self) -> bool {
        !matches!(self, SetUp::NoSubscriber | SetUp::RegistryOnly)
    }

    fn exports_logs(self) -> bool {
        self == SetUp::WholeSubscriber
    }
}

/// What the exporters have been handed so far, counted on the export threads.
#[derive(Debug, Default)]
struct Exported {
    spans: AtomicU64,
    logs: AtomicU64,
    /// OTLP protobuf bytes encoded, spans and logs.
    bytes: AtomicU64,
    /// The encoded span batches, kept for the tests to read back.
    #[cfg(test)]
    span_batches: std::sync::Mutex<Vec<Vec<u8>>>,
}

/// One set-up's providers and subscriber, built before its CPU is read.
struct Pipeline {
    subscriber: Option<Dispatch>,
    tracer_provider: Option<SdkTracerProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    /// For the OpenTelemetry-API workload, which makes its spans without `tracing`.
    tracer: Option<SdkTracer>,
    exported: Arc<Exported>,
}

/// What one set-up measured in one round.
#[derive(Debug, Clone)]
struct Measured {
    spans: u64,
    exported_spans: u64,
    logs: u64,
    exported_logs: u64,
    encoded_bytes: u64,
    /// Every thread of the process, the export threads included.
    process_cpu: Duration,
    /// The thread that runs the requests (span creation, entry, exit, close).
    request_thread_cpu: Duration,
    wall: Duration,
    /// Times the loop slept for the export to catch up.
    export_waits: u64,
}

impl Measured {
    fn per_span_us(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.spans.max(1) as f64
    }

    fn process_us(&self) -> f64 {
        self.per_span_us(self.process_cpu)
    }

    fn request_thread_us(&self) -> f64 {
        self.per_span_us(self.request_thread_cpu)
    }

    /// CPU on other threads than the requests' (mostly the batch processors' export threads).
    /// Process ticks and thread nanoseconds differ in resolution, so this is floored at zero.
    fn other_threads_us(&self) -> f64 {
        self.per_span_us(self.process_cpu.saturating_sub(self.request_thread_cpu))
    }
}

/// Runs the benchmark on a thread of its own (the caller is inside the bench's multi-thread
/// runtime, where a current-thread runtime cannot be started).
pub async fn run(args: &SpanCostArgs) -> anyhow::Result<()> {
    let (spans, rounds) = (args.span_cost_spans, args.span_cost_rounds.max(1));
    tokio::task::spawn_blocking(move || measure_all(spans, rounds)).await?
}

fn measure_all(spans: u64, rounds: usize) -> anyhow::Result<()> {
    if std::fs::read_to_string("/proc/self/stat").is_err() || thread_cpu().is_none() {
        bail!("the span-cost benchmark reads CPU time from /proc (Linux only)");
    }
    let requests = spans.div_ceil(SPANS_PER_REQUEST).max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "span cost: {} spans per set-up and round ({requests} requests of {SPANS_PER_REQUEST} spans and {LOGS_PER_REQUEST} log event), {rounds} rounds in rotating order",
        requests * SPANS_PER_REQUEST
    );
    let mut results: Vec<Vec<Measured>> = vec![Vec::new(); SetUp::ALL.len()];
    for round in 0..rounds {
        let mut line = Vec::new();
        for step in 0..SetUp::ALL.len() {
            let index = (step + round) % SetUp::ALL.len();
            let set_up = SetUp::ALL[index];
            let measured = measure(set_up, &runtime, requests)
                .context(format!("set-up {}", set_up.label()))?;
            line.push(format!(
                "{} {:.2}",
                set_up.label().split(' ').next().unwrap_or_default(),
                measured.process_us()
            ));
            results[index].push(measured);
        }
        println!(
            "  round {}: µs of process CPU per span, in the order run: {}",
            round + 1,
            line.join(", ")
        );
    }
    report(&results);
    Ok(())
}

fn report(results: &[Vec<Measured>]) {
    let reference = &results[0];
    println!(
        "  {:<42} {:>9} {:>9} {:>9} {:>10} {:>7}  exported (every round)",
        "set-up (medians over rounds)", "µs/span", "requests", "export", "+ vs ref", "x ref"
    );
    for (set_up, rounds) in SetUp::ALL.iter().zip(results) {
        // Differences and ratios against the reference of the same round, where the machine
        // was in the same state, then their median.
        let delta: Vec<f64> = rounds
            .iter()
            .zip(reference)
            .map(|(m, r)| m.process_us() - r.process_us())
            .collect();
        let ratio: Vec<f64> = rounds
            .iter()
            .zip(reference)
            .map(|(m, r)| m.process_us() / r.process_us().max(f64::MIN_POSITIVE))
            .collect();
        let exported = if set_up.exports_spans() {
            let spans: Vec<String> = rounds
                .iter()
                .map(|m| format!("{}/{}", m.exported_spans, m.spans))
                .collect();
            let mut text = format!("spans {}", spans.join(" "));
            if set_up.exports_logs() {
                let logs: Vec<String> = rounds
                    .iter()
                    .map(|m| format!("{}/{}", m.exported_logs, m.logs))
                    .collect();
                text.push_str(&format!(", logs {}", logs.join(" ")));
            }
            let bytes = median(
                rounds
                    .iter()
                    .map(|m| m.encoded_bytes as f64 / m.spans as f64),
            );
            if bytes > 0.0 {
                text.push_str(&format!(", {bytes:.0} B/span encoded"));
            }
            text
        } else {
            "-".to_string()
        };
        println!(
            "  {:<42} {:>9.2} {:>9.2} {:>9.2} {:>+10.2} {:>7.1}  {exported}",
            set_up.label(),
            median(rounds.iter().map(Measured::process_us)),
            median(rounds.iter().map(Measured::request_thread_us)),
            median(rounds.iter().map(Measured::other_threads_us)),
            median(delta),
            median(ratio),
        );
    }
    let waits: u64 = results.iter().flatten().map(|m| m.export_waits).sum();
    let wall: f64 = results.iter().flatten().map(|m| m.wall.as_secs_f64()).sum();
    println!(
        "  (µs/span: process CPU; requests: the requests' thread; export: every other thread; the loop waited for the export {waits} times; {wall:.1} s measured in all)"
    );
    let lost: u64 = SetUp::ALL
        .iter()
        .zip(results)
        .filter(|(set_up, _)| set_up.exports_spans())
        .flat_map(|(_, rounds)| rounds)
        .map(|m| m.spans.saturating_sub(m.exported_spans) + m.logs.saturating_sub(m.exported_logs))
        .sum();
    if lost > 0 {
        println!(
            "  WARNING: {lost} spans or log records were never exported; those set-ups' figures are too low"
        );
    }
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Builds one set-up, runs `requests` requests under it, shuts it down (exporting what is
/// left) and returns what that cost.
fn measure(
    set_up: SetUp,
    runtime: &tokio::runtime::Runtime,
    requests: u64,
) -> anyhow::Result<Measured> {
    measure_with(Pipeline::build(set_up), set_up, runtime, requests)
}

fn measure_with(
    pipeline: Pipeline,
    set_up: SetUp,
    runtime: &tokio::runtime::Runtime,
    requests: u64,
) -> anyhow::Result<Measured> {
    let subscriber_guard = pipeline
        .subscriber
        .as_ref()
        .map(tracing::dispatcher::set_default);
    let exported = pipeline.exported.clone();
    let tracer = pipeline.tracer.clone();
    let mut export_waits = 0;

    let (process_before, thread_before) = (process_cpu(), thread_cpu().unwrap_or_default());
    let started = Instant::now();
    runtime.block_on(async {
        for n in 0..requests {
            match &tracer {
                Some(tracer) => otel_api_request(tracer, n).await,
                None => traced_request(n).await,
            }
            if set_up.exports_spans() {
                export_waits += wait_for_export(set_up, &exported, n + 1);
            }
        }
    });
    let shutdown = pipeline.shut_down();
    let wall = started.elapsed();
    let (process_after, thread_after) = (process_cpu(), thread_cpu().unwrap_or_default());

    drop(subscriber_guard);
    drop(pipeline);
    // Callsites cache whether any subscriber wants them; with this set-up's subscriber gone,
    // ask again, so that under "no subscriber" the macros really are no-ops.
    tracing::callsite::rebuild_interest_cache();
    shutdown?;

    let (spans, logs) = (
        requests * SPANS_PER_REQUEST,
        if set_up.exports_logs() {
            requests * LOGS_PER_REQUEST
        } else {
            0
        },
    );
    Ok(Measured {
        spans,
        exported_spans: exported.spans.load(Ordering::Relaxed),
        logs,
        exported_logs: exported.logs.load(Ordering::Relaxed),
        encoded_bytes: exported.bytes.load(Ordering::Relaxed),
        process_cpu: process_after.saturating_sub(process_before),
        request_thread_cpu: thread_after.saturating_sub(thread_before),
        wall,
        export_waits,
    })
}

/// Sleeps while more spans (or log records) wait for export than the batch queue could take
/// along with another request's; returns how many times it slept.
fn wait_for_export(set_up: SetUp, exported: &Exported, requests_done: u64) -> u64 {
    let waiting = || {
        let spans = requests_done * SPANS_PER_REQUEST;
        let logs = if set_up.exports_logs() {
            requests_done * LOGS_PER_REQUEST
        } else {
            0
        };
        spans.saturating_sub(exported.spans.load(Ordering::Relaxed)) > MOST_WAITING
            || logs.saturating_sub(exported.logs.load(Ordering::Relaxed)) > MOST_WAITING
    };
    let mut waits = 0;
    while waiting() {
        std::thread::sleep(Duration::from_micros(200));
        waits += 1;
    }
    waits
}

impl Pipeline {
    fn build(set_up: SetUp) -> Pipeline {
        let exported = Arc::new(Exported::default());
        let mut pipeline = Pipeline {
            subscriber: None,
            tracer_provider: None,
            logger_provider: None,
            tracer: None,
            exported: exported.clone(),
        };
        match set_up {
            SetUp::NoSubscriber => {}
            SetUp::RegistryOnly => {
                pipeline.subscriber = Some(Dispatch::new(tracing_subscriber::registry()));
            }
            SetUp::BridgeDiscarding | SetUp::BridgeEncoding => {
                let provider = tracer_provider(set_up == SetUp::BridgeEncoding, &exported);
                let subscriber = tracing_subscriber::registry().with(bridge_layer(&provider));
                pipeline.subscriber = Some(Dispatch::new(subscriber));
                pipeline.tracer_provider = Some(provider);
            }
            SetUp::OtelApiEncoding => {
                let provider = tracer_provider(true, &exported);
                pipeline.tracer = Some(provider.tracer("tracedojo"));
                pipeline.tracer_provider = Some(provider);
            }
            SetUp::WholeSubscriber => {
                let provider = tracer_provider(true, &exported);
                let logger_provider = SdkLoggerProvider::builder()
                    .with_batch_exporter(EncodingLogExporter {
                        resource: ResourceAttributesWithSchema::default(),
                        exported: exported.clone(),
                    })
                    .with_resource(resource())
                    .build();
                // As `Telemetry::init`, minus its colours and stderr: writing to a sink keeps
                // the formatting and leaves out the write system call. Its own filter is
                // `RUST_LOG` (default `info`) after a list of quiet libraries, none of which
                // logs here.
                let console = tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_ansi(false)
                    .with_target(false)
                    .with_filter(EnvFilter::new("info"));
                // `Telemetry::init` also puts the kit's `TraceContextFromSpan` ahead of the
                // batch log processor (one span-context lookup per log record); the kit keeps
                // it private, so it is left out here.
                let log_bridge =
                    opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                        &logger_provider,
                    )
                    .with_filter(Targets::new().with_target("tracedojo", Level::INFO));
                let subscriber = tracing_subscriber::registry()
                    .with(console)
                    .with(bridge_layer(&provider))
                    .with(log_bridge);
                pipeline.subscriber = Some(Dispatch::new(subscriber));
                pipeline.tracer_provider = Some(provider);
                pipeline.logger_provider = Some(logger_provider);
            }
        }
        pipeline
    }

    /// Shuts the providers down: their batch processors export what they still hold and their
    /// threads end.
    fn shut_down(&self) -> anyhow::Result<()> {
        if let Some(provider) = &self.tracer_provider {
            provider
                .shutdown()
                .map_err(|err| anyhow::anyhow!("tracer provider shutdown: {err}"))?;
        }
        if let Some(provider) = &self.logger_provider {
            provider
                .shutdown()
                .map_err(|err| anyhow::anyhow!("logger provider shutdown: {err}"))?;
        }
        Ok(())
    }
}

/// The `tracing-opentelemetry` layer exactly as `Telemetry::init` configures it.
fn bridge_layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("tracedojo"))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_target(false)
        .with_filter(Targets::new().with_target("tracedojo", Level::INFO))
}

/// A tracer provider with the services' batch settings (the SDK's defaults, a 500 ms delay)
/// and an exporter that encodes each batch as the services do, or only counts it.
fn tracer_provider(encode_batches: bool, exported: &Arc<Exported>) -> SdkTracerProvider {
    let exporter = CountingSpanExporter {
        encode_batches,
        resource: ResourceAttributesWithSchema::default(),
        exported: exported.clone(),
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(Duration::from_millis(500))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource())
        .build()
}

/// A resource like a service's: it is encoded once per batch, so its size hardly matters.
fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("checkout")
        .with_attributes([
            KeyValue::new("service.namespace", "tracedojo"),
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new(
                "service.instance.id",
                "00000000-0000-4000-8000-000000000000",
            ),
            KeyValue::new("deployment.environment.name", "demo"),
            KeyValue::new("host.name", "bench"),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ])
        .build()
}

/// The batch processor's exporter: the kit's OTLP protobuf encoding of the batch (what the
/// services' `FanOut` does before queueing the bytes to each destination), or nothing.
#[derive(Debug)]
struct CountingSpanExporter {
    encode_batches: bool,
    resource: ResourceAttributesWithSchema,
    exported: Arc<Exported>,
}

impl SpanExporter for CountingSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        if self.encode_batches {
            let payload = encode::spans(batch, &self.resource, false)
                .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))?;
            self.exported
                .bytes
                .fetch_add(payload.proto.len() as u64, Ordering::Relaxed);
            #[cfg(test)]
            self.exported
                .span_batches
                .lock()
                .expect("batches")
                .push(payload.proto.to_vec());
        }
        self.exported.spans.fetch_add(spans, Ordering::Relaxed);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// The batch log processor's exporter: the kit's OTLP protobuf encoding of the batch.
#[derive(Debug)]
struct EncodingLogExporter {
    resource: ResourceAttributesWithSchema,
    exported: Arc<Exported>,
}

impl LogExporter for EncodingLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let payload = encode::logs(&batch, &self.resource, false)
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))?;
        self.exported
            .bytes
            .fetch_add(payload.proto.len() as u64, Ordering::Relaxed);
        self.exported
            .logs
            .fetch_add(payload.items, Ordering::Relaxed);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

const USER_AGENT: &str = "tracedojo-loadgen/0.1";
const INSERT_ORDER: &str = "INSERT INTO orders (order_ref, session, region, total_cents, status) VALUES (?, ?, ?, ?, 'placed')";
const INSERT_LINES: &str = "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?)";

/// Where a handler would wait for the database or the network: the future yields once, so
/// the spans around it are exited and entered again, as on every poll in the services.
async fn suspend() {
    tokio::task::yield_now().await;
}

/// One checkout-like request through `tracing`, its spans made as the kit makes them. What
/// the kit computes whether or not telemetry is on (span names, the URL) is computed here
/// outside the macros too, so the reference pays it as well.
async fn traced_request(n: u64) {
    let method = "POST";
    let route = "/api/checkout";
    let span_name = format!("{method} {route}");
    let server = tracing::info_span!(
        "http.server.request",
        otel.name = %span_name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = route,
        url.scheme = "http",
        server.address = "127.0.0.1",
        server.port = 8080i64,
        client.address = "127.0.0.1",
        user_agent.original = USER_AGENT,
        network.protocol.version = "1.1",
        http.response.status_code = Empty,
        error.type = Empty,
    );
    let order_id = n as i64;
    let order_ref = format!("ord-{n:08}");
    async {
        save_order_traced(&order_ref).await;
        pay_traced().await;
        tracing::info!(tracedojo.order.id = order_id, "order placed");
    }
    .instrument(server.clone())
    .await;
    server.record("http.response.status_code", 201i64);
}

#[tracing::instrument(name = "save order", skip_all, fields(tracedojo.order.ref = %order_ref, tracedojo.order.line_count = 2i64, tracedojo.order.region = "eu-west-1"))]
async fn save_order_traced(order_ref: &str) {
    query_traced("INSERT", "orders", INSERT_ORDER).await;
    query_traced("INSERT", "order_lines", INSERT_LINES).await;
}

/// As the kit's `Db::span` and `Db::run`.
async fn query_traced(operation: &'static str, collection: &'static str, text: &'static str) {
    let name = format!("{operation} {collection}");
    let span = tracing::info_span!(
        "db.client.operation",
        otel.name = name,
        otel.kind = "client",
        otel.status_code = Empty,
        db.system.name = "sqlite",
        db.namespace = "checkout",
        db.operation.name = operation,
        db.collection.name = collection,
        db.query.text = text,
        db.response.status_code = Empty,
        error.type = Empty,
    );
    suspend().instrument(span.clone()).await;
}

/// As the kit's HTTP client's `attempt`.
async fn pay_traced() {
    let (method, template) = ("POST", "/api/payments");
    let url = format!("http://127.0.0.1:8085{template}");
    let span = tracing::info_span!(
        "http.client.request",
        otel.name = format!("{method} {template}"),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method,
        url.full = %url,
        server.address = "127.0.0.1",
        server.port = 8085i64,
        service.peer.name = "payment",
        http.response.status_code = Empty,
        error.type = Empty,
    );
    suspend().instrument(span.clone()).await;
    span.record("http.response.status_code", 201i64);
}

/// The same request with its spans made directly through the OpenTelemetry API: the same
/// names, kinds, attributes and event; each span current while its future is polled (as
/// `Instrument` makes a `tracing` span current), so children find their parent as they would
/// in code that does not pass it along.
async fn otel_api_request(tracer: &SdkTracer, n: u64) {
    let method = "POST";
    let route = "/api/checkout";
    let span_name = format!("{method} {route}");
    let server = tracer
        .span_builder(span_name)
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route),
            KeyValue::new("url.path", route),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 8080i64),
            KeyValue::new("client.address", "127.0.0.1"),
            KeyValue::new("user_agent.original", USER_AGENT),
            KeyValue::new("network.protocol.version", "1.1"),
        ])
        .start(tracer);
    let context = Context::current_with_span(server);
    let order_id = n as i64;
    let order_ref = format!("ord-{n:08}");
    async {
        save_order_otel(tracer, &order_ref).await;
        pay_otel(tracer).await;
        get_active_span(|span| {
            span.add_event(
                "order placed",
                vec![KeyValue::new("tracedojo.order.id", order_id)],
            );
        });
    }
    .with_context(context.clone())
    .await;
    let span = context.span();
    span.set_attribute(KeyValue::new("http.response.status_code", 201i64));
    span.end();
}

async fn save_order_otel(tracer: &SdkTracer, order_ref: &str) {
    let span = tracer
        .span_builder("save order")
        .with_kind(SpanKind::Internal)
        .with_attributes([
            KeyValue::new("tracedojo.order.ref", order_ref.to_string()),
            KeyValue::new("tracedojo.order.line_count", 2i64),
            KeyValue::new("tracedojo.order.region", "eu-west-1"),
        ])
        .start(tracer);
    let context = Context::current_with_span(span);
    async {
        query_otel(tracer, "INSERT", "orders", INSERT_ORDER).await;
        query_otel(tracer, "INSERT", "order_lines", INSERT_LINES).await;
    }
    .with_context(context.clone())
    .await;
    context.span().end();
}

async fn query_otel(
    tracer: &SdkTracer,
    operation: &'static str,
    collection: &'static str,
    text: &'static str,
) {
    let name = format!("{operation} {collection}");
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system.name", "sqlite"),
            KeyValue::new("db.namespace", "checkout"),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.collection.name", collection),
            KeyValue::new("db.query.text", text),
        ])
        .start(tracer);
    let context = Context::current_with_span(span);
    suspend().with_context(context.clone()).await;
    context.span().end();
}

async fn pay_otel(tracer: &SdkTracer) {
    let (method, template) = ("POST", "/api/payments");
    let url = format!("http://127.0.0.1:8085{template}");
    let span = tracer
        .span_builder(format!("{method} {template}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("http.request.method", method),
            KeyValue::new("url.full", url),
            KeyValue::new("server.address", "127.0.0.1"),
            KeyValue::new("server.port", 8085i64),
            KeyValue::new("service.peer.name", "payment"),
        ])
        .start(tracer);
    let context = Context::current_with_span(span);
    suspend().with_context(context.clone()).await;
    let span = context.span();
    span.set_attribute(KeyValue::new("http.response.status_code", 201i64));
    span.end();
}

/// User plus system CPU time of this whole process, every thread, ended ones included.
fn process_cpu() -> Duration {
    Duration::from_secs_f64(crate::cpu_ticks("self") as f64 / crate::TICKS_PER_SECOND)
}

/// CPU time of the calling thread, in nanoseconds: the first field of
/// /proc/thread-self/schedstat (time spent running). `None` where it cannot be read.
fn thread_cpu() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    /// One span as the tests compare it: name, kind, its parent's name, its attribute keys
    /// (sorted) and its events' names.
    type Shape = (String, i32, String, Vec<String>, Vec<String>);

    /// The spans one request makes under `set_up`, as exported (encoded, then decoded).
    fn exported_shapes(set_up: SetUp) -> Vec<Shape> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let pipeline = Pipeline::build(set_up);
        let exported = pipeline.exported.clone();
        let measured = measure_with(pipeline, set_up, &runtime, 1).expect("measured");
        assert_eq!(measured.exported_spans, SPANS_PER_REQUEST);
        let spans: Vec<_> = exported
            .span_batches
            .lock()
            .expect("batches")
            .iter()
            .map(|bytes| ExportTraceServiceRequest::decode(bytes.as_slice()).expect("decode"))
            .flat_map(|request| request.resource_spans)
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans)
            .collect();
        let name_of = |span_id: &[u8]| {
            spans
                .iter()
                .find(|s| s.span_id == span_id)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let mut shapes: Vec<Shape> = spans
            .iter()
            .map(|span| {
                let mut keys: Vec<String> = span.attributes.iter().map(|a| a.key.clone()).collect();
                keys.sort();
                let events = span.events.iter().map(|e| e.name.clone()).collect();
                (
                    span.name.clone(),
                    span.kind,
                    name_of(&span.parent_span_id),
                    keys,
                    events,
                )
            })
            .collect();
        shapes.sort();
        shapes
    }

    #[test]
    fn the_bridge_and_the_api_export_the_same_spans() {
        let bridge = exported_shapes(SetUp::BridgeEncoding);
        assert_eq!(bridge.len() as u64, SPANS_PER_REQUEST, "{bridge:#?}");
        let server = bridge
            .iter()
            .find(|s| s.0 == "POST /api/checkout")
            .expect("the SERVER span");
        assert_eq!(server.2, "", "the SERVER span is a root");
        assert_eq!(server.3.len(), 10, "{server:?}");
        assert_eq!(server.4, vec!["order placed".to_string()]);
        assert!(
            bridge
                .iter()
                .any(|s| s.0 == "INSERT orders" && s.2 == "save order"),
            "{bridge:#?}"
        );
        assert_eq!(exported_shapes(SetUp::OtelApiEncoding), bridge);
    }
}
