//! The OTLP/gRPC side of the explorer benchmark: a sender that pushes pre-encoded export
//! requests through tonic's own client as fast as the receiver answers, and the
//! decode-and-discard sink the explorer's ingest rate is compared against.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::bytes::{Buf, BufMut, Bytes};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

use crate::synth::{Corpus, now_unix_nanos};

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Largest message either side takes: the explorer's default request limit.
const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// An export that takes longer than this counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A run gives up after this many failed exports: the receiver is gone or refusing.
const MOST_FAILURES: u64 = 50;

/// A gRPC codec for bytes that are already an encoded protobuf message: the encoder copies
/// them into the frame, the decoder hands the answer back undecoded.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }

    /// One allocation for a whole batch instead of growing 8 KiB at a time.
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(512 * 1024, 32 * 1024)
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// How sending went.
#[derive(Debug, Clone)]
pub struct SendReport {
    pub spans: u64,
    pub requests: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl SendReport {
    pub fn spans_per_second(&self) -> f64 {
        self.spans as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Connects `connections` HTTP/2 connections to an OTLP/gRPC endpoint.
pub async fn connect(endpoint: &str, connections: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        let channel = Endpoint::from_shared(endpoint.to_string())?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("cannot connect to {endpoint}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Sends requests `first..first + count` of `corpus` with `concurrency` exports in flight,
/// spread over `channels`. `acked` counts the spans of each export as it is answered OK.
/// Stops early, with what it got, if the receiver fails too many exports.
pub async fn send(
    channels: &[Channel],
    corpus: Arc<Corpus>,
    first: u64,
    count: u64,
    concurrency: usize,
    acked: Arc<AtomicU64>,
) -> SendReport {
    send_until(channels, corpus, first, count, None, concurrency, acked).await
}

/// Sends requests from `first` on, as [`send`] does, for `duration`: no export starts after
/// it, and the ones in flight then are waited for (each within its call timeout).
pub async fn send_for(
    channels: &[Channel],
    corpus: Arc<Corpus>,
    first: u64,
    duration: Duration,
    concurrency: usize,
    acked: Arc<AtomicU64>,
) -> SendReport {
    let deadline = Instant::now() + duration;
    send_until(
        channels,
        corpus,
        first,
        u64::MAX,
        Some(deadline),
        concurrency,
        acked,
    )
    .await
}

async fn send_until(
    channels: &[Channel],
    corpus: Arc<Corpus>,
    first: u64,
    count: u64,
    deadline: Option<Instant>,
    concurrency: usize,
    acked: Arc<AtomicU64>,
) -> SendReport {
    let next = Arc::new(AtomicU64::new(first));
    let failed = Arc::new(AtomicU64::new(0));
    let end = first.saturating_add(count);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let mut grpc = tonic::client::Grpc::new(channels[worker % channels.len()].clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let (corpus, next, failed, acked) =
            (corpus.clone(), next.clone(), failed.clone(), acked.clone());
        workers.spawn(async move {
            let mut sent = (0u64, 0u64);
            let mut first_error = None;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end
                    || failed.load(Ordering::Relaxed) >= MOST_FAILURES
                    || deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                let body = corpus.render(index, now_unix_nanos());
                let spans = corpus.spans_in(index) as u64;
                let call = async {
                    grpc.ready()
                        .await
                        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
                    grpc.unary(
                        tonic::Request::new(body),
                        tonic::codegen::http::uri::PathAndQuery::from_static(EXPORT_PATH),
                        RawCodec,
                    )
                    .await
                };
                match tokio::time::timeout(CALL_TIMEOUT, call).await {
                    Ok(Ok(_)) => {
                        acked.fetch_add(spans, Ordering::Relaxed);
                        sent.0 += spans;
                        sent.1 += 1;
                    }
                    outcome => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if first_error.is_none() {
                            first_error = Some(match outcome {
                                Ok(Err(status)) => {
                                    format!("{:?}: {}", status.code(), status.message())
                                }
                                _ => format!("no answer within {CALL_TIMEOUT:?}"),
                            });
                        }
                    }
                }
            }
            (sent, first_error)
        });
    }
    let mut report = SendReport {
        spans: 0,
        requests: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        first_error: None,
    };
    while let Some(result) = workers.join_next().await {
        match result {
            Ok(((spans, requests), error)) => {
                report.spans += spans;
                report.requests += requests;
                if report.first_error.is_none() {
                    report.first_error = error;
                }
            }
            Err(join_error) => {
                report.first_error.get_or_insert(join_error.to_string());
            }
        }
    }
    report.elapsed = started.elapsed();
    report.failed = failed.load(Ordering::Relaxed);
    report
}

/// Fails unless all `batches` exports of `report` were answered OK.
pub fn check_sent(report: &SendReport, batches: u64, to: &str) -> anyhow::Result<()> {
    if report.failed > 0 || report.requests != batches {
        anyhow::bail!(
            "{} of {batches} exports to {to} failed (first: {})",
            report.failed,
            report.first_error.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

/// The reference receiver: tonic decodes every request into an `ExportTraceServiceRequest`
/// (all the protobuf work a real receiver does), and the service counts its spans and drops it.
#[derive(Debug, Default)]
struct DiscardingTraceService {
    spans: AtomicU64,
}

#[tonic::async_trait]
impl TraceService for DiscardingTraceService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
        drop(request);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// `tracedojo-bench --null-sink`: serves the discarding OTLP/gRPC receiver on a free loopback
/// port, announces it the way `tracedojo explore` does (`  OTLP/gRPC:   http://...`), and runs
/// until killed.
pub async fn null_sink() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let service = TraceServiceServer::new(DiscardingTraceService::default())
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    println!("  OTLP/gRPC:   http://{address}");
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await?;
    Ok(())
}
