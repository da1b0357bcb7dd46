//! End-to-end tests of the receiver over real sockets: OTLP/gRPC through
//! tonic's generated client, OTLP/HTTP through a minimal hand-written HTTP/1.1
//! client (reqwest's client panics at construction here, as no rustls crypto
//! provider is compiled in, and plain HTTP needs none of it).

mod common;
mod otlp_status;

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, metric,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use otlp_status::{INVALID_ARGUMENT, RESOURCE_EXHAUSTED, Status};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracedojo_explorer::{Receiver, ReceiverConfig, ReceiverError, Transport};

use common::{i, s};

const WAIT: Duration = Duration::from_secs(10);
const TRACE_ID: [u8; 16] = [
    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c,
];
const ROOT_ID: [u8; 8] = [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31];
const CHILD_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![s("service.name", service)],
        ..Default::default()
    })
}

/// A server span with a client child that has an event and a link.
fn trace_request(service: &str) -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: ROOT_ID.to_vec(),
        name: "GET /checkout".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 9_000,
        attributes: vec![
            s("http.route", "/checkout"),
            i("http.response.status_code", 200),
        ],
        ..Default::default()
    };
    let child = Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: CHILD_ID.to_vec(),
        parent_span_id: ROOT_ID.to_vec(),
        name: "POST payment".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: 2_000,
        end_time_unix_nano: 5_000,
        events: vec![Event {
            name: "retry".into(),
            time_unix_nano: 3_000,
            attributes: vec![i("attempt", 2)],
            ..Default::default()
        }],
        links: vec![Link {
            trace_id: vec![0xff; 16],
            span_id: vec![0x01; 8],
            attributes: vec![s("link.reason", "batch")],
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracedojo-test".into(),
                    ..Default::default()
                }),
                spans: vec![root, child],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn assert_trace_stored(spans: &[tracedojo_explorer::StoredSpan], service: &str) {
    let spans: Vec<_> = spans
        .iter()
        .filter(|s| s.service_name() == service)
        .collect();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let root = spans
        .iter()
        .find(|s| s.name == "GET /checkout")
        .expect("root span");
    let child = spans
        .iter()
        .find(|s| s.name == "POST payment")
        .expect("child span");

    assert_eq!(root.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(root.span_id, "b7ad6b7169203331");
    assert!(root.is_root());
    assert_eq!(root.kind, "SERVER");
    assert_eq!(root.status_code, "UNSET");
    assert_eq!(root.attr_str("http.route"), Some("/checkout"));
    assert_eq!(root.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(root.duration_nanos(), 8_000);
    assert_eq!(root.scope_name, "tracedojo-test");

    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.span_id, "00f067aa0ba902b7");
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(child.kind, "CLIENT");
    assert_eq!(child.events.len(), 1);
    assert_eq!(child.events[0].name, "retry");
    assert_eq!(child.events[0].time_unix_nanos, 3_000);
    assert_eq!(child.events[0].attributes["attempt"], 2);
    assert_eq!(child.links.len(), 1);
    assert_eq!(child.links[0].trace_id, "ff".repeat(16));
    assert_eq!(child.links[0].span_id, "0101010101010101");
    assert_eq!(child.links[0].attributes["link.reason"], "batch");
}

struct HttpReply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// The `google.rpc.Status` of an error answer, which must be in JSON when `json`, in
/// protobuf otherwise.
fn error_status(reply: &HttpReply, json: bool) -> Status {
    let body = String::from_utf8_lossy(&reply.body);
    let expected = if json {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    assert_eq!(reply.content_type, expected, "{body}");
    otlp_status::decode(&reply.body, json).unwrap_or_else(|err| panic!("{err}: {body}"))
}

/// One HTTP/1.1 POST with `Connection: close`, so the reply ends at EOF.
async fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> HttpReply {
    post_encoded(addr, path, content_type, None, body).await
}

/// A POST whose body has a `Content-Encoding`.
async fn post_encoded(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
) -> HttpReply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let encoding = encoding.map_or(String::new(), |e| format!("Content-Encoding: {e}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    // The server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read reply");

    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    HttpReply {
        status,
        content_type,
        body,
    }
}

#[tokio::test]
async fn grpc_trace_export_is_stored_and_wakes_waiters() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let store = receiver.store().clone();
    // Waiting starts before anything is sent, so this proves the wake-up on insert.
    let waiter = tokio::spawn(async move {
        store
            .wait_for_spans(
                |spans| {
                    spans
                        .iter()
                        .filter(|s| s.service_name() == "checkout")
                        .count()
                        >= 2
                },
                WAIT,
            )
            .await
    });

    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("connect gRPC");
    let response = client
        .export(trace_request("checkout"))
        .await
        .expect("export over gRPC")
        .into_inner();
    assert_eq!(response.partial_success, None);

    let spans = waiter.await.expect("waiter task").expect("spans arrived");
    assert_trace_stored(&spans, "checkout");
    assert_eq!(
        receiver
            .store()
            .spans_of_trace("0AF7651916CD43DD8448EB211C80319C")
            .len(),
        2
    );
    let stats = receiver.store().stats();
    assert_eq!(stats.grpc_export_requests, 1);
    assert_eq!(stats.http_export_requests, 0);
    assert_eq!(stats.spans_received, 2);

    drop(client);
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn gzip_compressed_grpc_exports_are_stored() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("connect gRPC");
    let mut client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    client
        .export(trace_request("cart"))
        .await
        .expect("gzip export over gRPC");
    let spans = receiver
        .store()
        .wait_for_spans(|spans| spans.len() >= 2, WAIT)
        .await
        .expect("spans arrived");
    assert_trace_stored(&spans, "cart");
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn http_trace_export_is_stored() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let body = trace_request("frontend").encode_to_vec();
    let reply = post(
        receiver.http_addr(),
        "/v1/traces",
        "application/x-protobuf",
        &body,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type, "application/x-protobuf");
    let response =
        ExportTraceServiceResponse::decode(reply.body.as_slice()).expect("protobuf response");
    assert_eq!(response.partial_success, None);

    let spans = receiver
        .store()
        .wait_for_spans(|spans| spans.len() >= 2, WAIT)
        .await
        .expect("spans arrived");
    assert_trace_stored(&spans, "frontend");
    assert_eq!(receiver.store().stats().http_export_requests, 1);
    assert!(receiver.http_endpoint().starts_with("http://127.0.0.1:"));
    receiver.shutdown().await.expect("clean shutdown");
}

fn metrics_request() -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("payment"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "http.server.request.duration".into(),
                    unit: "s".into(),
                    data: Some(metric::Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            count: 4,
                            attributes: vec![s("http.route", "/pay")],
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs_request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("shipping"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 7,
                    severity_text: "WARN".into(),
                    severity_number: 13,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("slow carrier".into())),
                    }),
                    trace_id: TRACE_ID.to_vec(),
                    span_id: ROOT_ID.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn metrics_and_logs_arrive_over_both_transports() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let store = receiver.store();

    let mut metrics_client = MetricsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("connect gRPC");
    metrics_client
        .export(metrics_request())
        .await
        .expect("metrics over gRPC");
    let mut logs_client = LogsServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("connect gRPC");
    logs_client
        .export(logs_request())
        .await
        .expect("logs over gRPC");

    for (path, body) in [
        ("/v1/metrics", metrics_request().encode_to_vec()),
        ("/v1/logs", logs_request().encode_to_vec()),
    ] {
        let reply = post(receiver.http_addr(), path, "application/x-protobuf", &body).await;
        assert_eq!(reply.status, 200, "{path}");
    }

    let metrics = store
        .wait_for_metrics(|m| m.len() >= 2, WAIT)
        .await
        .expect("metrics arrived");
    assert!(metrics.iter().all(|m| m.kind == "histogram"
        && m.histogram_counts == [4]
        && m.point_attributes[0]["http.route"] == "/pay"
        && m.service_name() == "payment"));
    let logs = store
        .wait_for_logs(|l| l.len() >= 2, WAIT)
        .await
        .expect("logs arrived");
    assert!(logs.iter().all(|l| l.body == "slow carrier"
        && l.trace_id == "0af7651916cd43dd8448eb211c80319c"
        && l.span_id == "b7ad6b7169203331"
        && l.severity_text == "WARN"
        && l.service_name() == "shipping"));

    let stats = store.stats();
    assert_eq!(stats.grpc_export_requests, 2);
    assert_eq!(stats.http_export_requests, 2);
    drop((metrics_client, logs_client));
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bad_http_requests_are_rejected() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 1024,
        ..ReceiverConfig::local()
    })
    .await
    .expect("start receiver");
    let addr = receiver.http_addr();

    let garbage = post(addr, "/v1/traces", "application/x-protobuf", &[0xff; 16]).await;
    assert_eq!(garbage.status, 400);
    let status = error_status(&garbage, false);
    assert_eq!(status.code, INVALID_ARGUMENT);
    assert!(
        status
            .message
            .contains("not a valid ExportTraceServiceRequest protobuf"),
        "{status:?}"
    );

    // Neither encoding was named, so the answer is in protobuf, the OTLP default.
    let text = post(addr, "/v1/traces", "text/plain", b"{}").await;
    assert_eq!(text.status, 415);
    let status = error_status(&text, false);
    assert_eq!(status.code, INVALID_ARGUMENT);
    assert!(
        status
            .message
            .contains("send application/x-protobuf or application/json"),
        "{status:?}"
    );

    let too_big = post(
        addr,
        "/v1/logs",
        "application/x-protobuf",
        &logs_request().encode_to_vec().repeat(100),
    )
    .await;
    assert_eq!(too_big.status, 413);
    let status = error_status(&too_big, false);
    assert_eq!(status.code, RESOURCE_EXHAUSTED);
    assert_eq!(
        status.message,
        "request body is larger than the 1024-byte limit"
    );

    let too_big_json = post(
        addr,
        "/v1/logs",
        "application/json; charset=utf-8",
        format!(r#"{{"resourceLogs": [], "pad": "{}"}}"#, "x".repeat(2048)).as_bytes(),
    )
    .await;
    assert_eq!(too_big_json.status, 413);
    let status = error_status(&too_big_json, true);
    assert_eq!(status.code, RESOURCE_EXHAUSTED);
    assert!(status.message.contains("1024-byte limit"), "{status:?}");

    let with_charset = post(
        addr,
        "/v1/traces",
        "application/x-protobuf; charset=binary",
        &trace_request("cart").encode_to_vec(),
    )
    .await;
    assert_eq!(with_charset.status, 200);

    let stats = receiver.store().stats();
    assert_eq!(stats.rejected_requests, 4);
    assert_eq!(stats.http_export_requests, 1);
    assert!(receiver.store().logs().is_empty());
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn occupied_ports_are_reported() {
    let first = Receiver::start_local().await.expect("start receiver");

    let grpc_clash = Receiver::start(ReceiverConfig {
        grpc_addr: first.grpc_addr(),
        ..ReceiverConfig::local()
    })
    .await
    .expect_err("gRPC port is taken");
    match &grpc_clash {
        ReceiverError::PortInUse { addr, transport } => {
            assert_eq!(*addr, first.grpc_addr());
            assert_eq!(*transport, Transport::Grpc);
        }
        other => panic!("expected PortInUse, got {other:?}"),
    }
    let message = grpc_clash.to_string();
    assert!(
        message.contains(&first.grpc_addr().port().to_string()) && message.contains("another port"),
        "{message}"
    );

    let http_clash = Receiver::start(ReceiverConfig {
        http_addr: first.http_addr(),
        ..ReceiverConfig::local()
    })
    .await
    .expect_err("HTTP port is taken");
    assert!(
        matches!(
            http_clash,
            ReceiverError::PortInUse {
                transport: Transport::Http,
                ..
            }
        ),
        "{http_clash:?}"
    );
    first.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn shutdown_and_drop_free_the_ports() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let (grpc, http) = (receiver.grpc_addr(), receiver.http_addr());
    receiver.shutdown().await.expect("clean shutdown");
    assert!(TcpStream::connect(grpc).await.is_err());
    assert!(TcpStream::connect(http).await.is_err());

    // After a plain drop the servers stop on their own tasks, so poll until the
    // ports can be bound again.
    let receiver = Receiver::start_local().await.expect("start receiver");
    let config = ReceiverConfig {
        grpc_addr: receiver.grpc_addr(),
        http_addr: receiver.http_addr(),
        ..ReceiverConfig::local()
    };
    drop(receiver);
    let deadline = tokio::time::Instant::now() + WAIT;
    let again = loop {
        match Receiver::start(config.clone()).await {
            Ok(again) => break again,
            Err(ReceiverError::PortInUse { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(other) => panic!("ports were not freed after drop: {other}"),
        }
    };
    assert_eq!(again.grpc_addr(), config.grpc_addr);
    again.shutdown().await.expect("clean shutdown");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn otlp_json_is_read_with_hex_ids_and_answered_in_json() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let addr = receiver.http_addr();
    // Written by hand the way the OTLP specification shows it: hex ids, camelCase, enums as
    // numbers, 64-bit integers as strings.
    let body = r#"{"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "parentSpanId": "eee19b7ec3c1b173",
            "name": "GET /json",
            "kind": 2,
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": "1544712661000000000",
            "attributes": [{"key": "http.route", "value": {"stringValue": "/json"}},
                           {"key": "retries", "value": {"intValue": "3"}}],
            "status": {"code": 2, "message": "boom"}
        }]}]
    }]}"#;
    let reply = post(addr, "/v1/traces", "application/json", body.as_bytes()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type, "application/json");
    let spans = receiver.store().spans();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.span_id, "eee19b7ec3c1b174");
    assert_eq!(span.parent_span_id, "eee19b7ec3c1b173");
    assert_eq!(span.service_name(), "json-app");
    assert_eq!(span.kind, "SERVER");
    assert_eq!(span.status_code, "ERROR");
    assert_eq!(span.duration_nanos(), 1_000_000_000);
    assert_eq!(span.attr_i64("retries"), Some(3));

    for (bad, says) in [
        (
            r#"{"resourceSpans": "no"}"#,
            "ExportTraceServiceRequest in OTLP/JSON",
        ),
        (
            r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]"#,
            "OTLP/JSON",
        ),
        ("{", "OTLP/JSON"),
    ] {
        let reply = post(addr, "/v1/traces", "application/json", bad.as_bytes()).await;
        assert_eq!(reply.status, 400, "{bad}");
        let status = error_status(&reply, true);
        assert_eq!(status.code, INVALID_ARGUMENT, "{bad}");
        assert!(status.message.contains(says), "{bad}: {status:?}");
    }
    // The raw body too, as the specification spells the JSON form out.
    let reply = post(addr, "/v1/traces", "application/json", b"{").await;
    let raw: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON body");
    assert_eq!(raw["code"], 3, "{raw}");
    assert!(raw["message"].is_string(), "{raw}");
    assert_eq!(raw.as_object().map(|o| o.len()), Some(2), "{raw}");
    assert_eq!(
        receiver.store().spans().len(),
        1,
        "nothing stored from bad bodies"
    );
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn malformed_spans_are_refused_one_by_one_as_a_partial_success() {
    let receiver = Receiver::start_local().await.expect("start receiver");
    let mut request = trace_request("cart");
    let good = request.resource_spans[0].scope_spans[0].spans.len();
    let mut broken = request.resource_spans[0].scope_spans[0].spans[0].clone();
    broken.trace_id = vec![1, 2, 3];
    request.resource_spans[0].scope_spans[0].spans.push(broken);
    let reply = post(
        receiver.http_addr(),
        "/v1/traces",
        "application/x-protobuf",
        &request.encode_to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let answer = ExportTraceServiceResponse::decode(reply.body.as_slice()).unwrap();
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("trace id must be 16 bytes"));
    assert_eq!(receiver.store().spans().len(), good);
    receiver.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn gzip_bodies_are_inflated_within_the_size_limit() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: 64 * 1024,
        ..ReceiverConfig::local()
    })
    .await
    .expect("start receiver");
    let addr = receiver.http_addr();
    let request = trace_request("cart").encode_to_vec();
    let reply = post_encoded(
        addr,
        "/v1/traces",
        "application/x-protobuf",
        Some("gzip"),
        &gzip(&request),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(!receiver.store().spans().is_empty());

    // A few kilobytes that inflate to 10 MiB: refused like any body over the limit.
    let bomb = gzip(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 64 * 1024);
    let reply = post_encoded(
        addr,
        "/v1/traces",
        "application/x-protobuf",
        Some("gzip"),
        &bomb,
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(error_status(&reply, false).code, RESOURCE_EXHAUSTED);
    let not_gzip = post_encoded(
        addr,
        "/v1/traces",
        "application/x-protobuf",
        Some("gzip"),
        b"plain",
    )
    .await;
    assert_eq!(not_gzip.status, 400);
    let status = error_status(&not_gzip, false);
    assert_eq!(status.code, INVALID_ARGUMENT);
    assert!(status.message.contains("not valid gzip"), "{status:?}");
    // The content type is fine, so the answer is in the JSON it names.
    let brotli = post_encoded(addr, "/v1/traces", "application/json", Some("br"), b"{}").await;
    assert_eq!(brotli.status, 415);
    let status = error_status(&brotli, true);
    assert_eq!(status.code, INVALID_ARGUMENT);
    assert!(
        status
            .message
            .contains("unsupported content-encoding \"br\""),
        "{status:?}"
    );
    receiver.shutdown().await.expect("clean shutdown");
}
