//! A local OTLP/HTTP receiver that keeps the requests whole: the shop and the load generator
//! export to it, and the test waits on what has arrived.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::{TEST_PARENT, WAIT};

#[derive(Debug, Clone)]
pub(crate) struct SpanSummary {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    pub(crate) service: String,
    /// OTLP span kind: 2 SERVER, 3 CLIENT.
    kind: i32,
    has_status_code: bool,
    pub(crate) link_traces: Vec<String>,
}

#[derive(Default)]
pub(crate) struct Received {
    pub(crate) traces: Vec<ExportTraceServiceRequest>,
    pub(crate) metrics: Vec<ExportMetricsServiceRequest>,
    pub(crate) logs: Vec<ExportLogsServiceRequest>,
    /// Every span so far, for the waits.
    pub(crate) spans: Vec<SpanSummary>,
    /// The services of each metrics export, in arrival order.
    pub(crate) metric_exports: Vec<BTreeSet<String>>,
    /// Requests the receiver could not read.
    pub(crate) errors: Vec<String>,
}

#[derive(Clone)]
pub(crate) struct Collector {
    pub(crate) endpoint: String,
    received: Arc<Mutex<Received>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Collector {
    pub(crate) fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let collector = Collector {
            endpoint,
            received: Arc::default(),
            arrived: Arc::default(),
        };
        let serving = collector.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let serving = serving.clone();
                std::thread::spawn(move || serving.serve(stream));
            }
        });
        collector
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// HTTP/1.1 with keep-alive: each request is kept, then answered 200 with an empty
    /// protobuf body (a full success).
    fn serve(&self, stream: TcpStream) {
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            let mut headers: Vec<(String, String)> = Vec::new();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            };
            if header("transfer-encoding").is_some() {
                self.lock().errors.push(format!(
                    "{path}: a chunked body, which this receiver cannot read"
                ));
                return;
            }
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if header("content-encoding") == Some("gzip") {
                let mut plain = Vec::new();
                match flate2::read::GzDecoder::new(body.as_slice()).read_to_end(&mut plain) {
                    Ok(_) => body = plain,
                    Err(e) => {
                        self.lock().errors.push(format!("{path}: bad gzip: {e}"));
                        body.clear();
                    }
                }
            }
            let content_type = header("content-type").unwrap_or("").to_string();
            self.keep(&path, &content_type, &body);
            self.arrived.notify_waiters();
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if writer.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn keep(&self, path: &str, content_type: &str, body: &[u8]) {
        let mut received = self.lock();
        if !content_type.starts_with("application/x-protobuf") {
            received.errors.push(format!(
                "{path}: content-type {content_type:?}; the test asks for http/protobuf"
            ));
            return;
        }
        match path {
            "/v1/traces" => match ExportTraceServiceRequest::decode(body) {
                Ok(request) => {
                    for resource_spans in &request.resource_spans {
                        let service = service_of(resource_spans.resource.as_ref());
                        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                            received.spans.push(SpanSummary {
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent_span_id: hex(&span.parent_span_id),
                                service: service.clone(),
                                kind: span.kind,
                                has_status_code: span
                                    .attributes
                                    .iter()
                                    .any(|kv| kv.key == "http.response.status_code"),
                                link_traces: span.links.iter().map(|l| hex(&l.trace_id)).collect(),
                            });
                        }
                    }
                    received.traces.push(request);
                }
                Err(e) => received.errors.push(format!("{path}: {e}")),
            },
            "/v1/metrics" => match ExportMetricsServiceRequest::decode(body) {
                Ok(request) => {
                    let services = request
                        .resource_metrics
                        .iter()
                        .map(|r| service_of(r.resource.as_ref()))
                        .collect();
                    received.metric_exports.push(services);
                    received.metrics.push(request);
                }
                Err(e) => received.errors.push(format!("{path}: {e}")),
            },
            "/v1/logs" => match ExportLogsServiceRequest::decode(body) {
                Ok(request) => received.logs.push(request),
                Err(e) => received.errors.push(format!("{path}: {e}")),
            },
            other => received.errors.push(format!("a request to {other}")),
        }
    }

    /// Waits until `ready` holds for what has arrived; on timeout, fails the test saying
    /// `what` it waited for and what did arrive.
    pub(crate) async fn wait_until(&self, what: &str, ready: impl Fn(&Received) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut arrived = pin!(self.arrived.notified());
            // Registered before looking, so a request landing in between still wakes us.
            arrived.as_mut().enable();
            if ready(&self.lock()) {
                return;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let received = self.lock();
                if ready(&received) {
                    return;
                }
                let services: BTreeSet<&str> =
                    received.spans.iter().map(|s| s.service.as_str()).collect();
                panic!(
                    "waited {WAIT:?} for {what}; received {} spans (services {services:?}), {} metric exports, {} log exports",
                    received.spans.len(),
                    received.metrics.len(),
                    received.logs.len()
                );
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn service_of(resource: Option<&Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|r| &r.attributes)
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "(no service.name)".into())
}

/// The trace's spans all arrived: the frontend served the test's request, every span's parent
/// is in the trace (or is the test's own span), and every CLIENT call that got an answer has
/// the callee's span below it.
pub(crate) fn trace_complete(spans: &[SpanSummary], trace_id: &str) -> bool {
    let trace: Vec<&SpanSummary> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let parents: BTreeSet<&str> = trace.iter().map(|s| s.parent_span_id.as_str()).collect();
    trace
        .iter()
        .any(|s| s.service == "frontend" && s.kind == 2 && s.parent_span_id == TEST_PARENT)
        && trace
            .iter()
            .all(|s| s.parent_span_id == TEST_PARENT || ids.contains(s.parent_span_id.as_str()))
        && trace
            .iter()
            .filter(|s| s.kind == 3 && s.has_status_code)
            .all(|s| parents.contains(s.span_id.as_str()))
}
