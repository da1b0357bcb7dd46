//! Malformed OTLP over gRPC: what `malformed.rs` is for OTLP/HTTP. Thousands of seeded requests
//! to the trace, metrics and logs services over one raw HTTP/2 connection: valid gRPC framing
//! around mutated protobuf (truncations, flipped bytes, inserted noise, pure noise, wrong wire
//! types, deep `AnyValue` nesting, messages at and over the size limit), and broken framing
//! itself (lying length prefixes, a compressed flag without `grpc-encoding`, unknown flags and
//! encodings, missing and extra messages, unknown methods).
//!
//! Every call must end, within a timeout, in a gRPC status: OK exactly when the message still
//! decodes (checked against prost here, the same decoder tonic runs), an error code for the
//! rest; never a panic, a reset stream without a status or a hung call. Afterwards the same
//! connection and a fresh client both still export. Seeded, so a failure can be replayed; the
//! cases are counted by status and printed.

mod common;

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::io::Write;
use std::pin::Pin;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span, status};
use prost::Message;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tonic::Code;
use tonic::codegen::http::{self, HeaderMap};
use tonic::codegen::{Body as _, Service};
use tonic::transport::{Channel, Endpoint};
use tracedojo_explorer::{Receiver, ReceiverConfig};

use common::s;

/// The receiver's `max_request_bytes`: small, so over-limit cases stay cheap.
const LIMIT: usize = 256 * 1024;
/// No call may take longer than this; a hung stream fails the test.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Calls under way at once on the one HTTP/2 connection.
const IN_FLIGHT: usize = 32;

const TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const METRICS: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// Error codes a malformed request may get. Anything else (UNKNOWN, UNAVAILABLE, a bare HTTP
/// error, a reset stream) means the receiver did not handle the request as gRPC should.
const REFUSALS: [Code; 5] = [
    Code::InvalidArgument,
    Code::OutOfRange,
    Code::ResourceExhausted,
    Code::Internal,
    Code::Unimplemented,
];

/// What a case must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// OK: the message decodes and is within the limit.
    Accepted,
    /// One of [`REFUSALS`].
    Refused,
    /// This exact code (the gRPC specification names it).
    Exactly(Code),
    /// OK or one of [`REFUSALS`]: framing whose outcome the specification leaves open.
    Either,
}

impl Expect {
    fn allows(self, code: Code) -> bool {
        match self {
            Expect::Accepted => code == Code::Ok,
            Expect::Refused => REFUSALS.contains(&code),
            Expect::Exactly(expected) => code == expected,
            Expect::Either => code == Code::Ok || REFUSALS.contains(&code),
        }
    }
}

struct Case {
    label: &'static str,
    path: &'static str,
    /// Extra request headers, e.g. `grpc-encoding`.
    headers: Vec<(&'static str, &'static str)>,
    /// The whole HTTP/2 request body, framing included.
    body: Vec<u8>,
    expect: Expect,
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => TRACES,
            Signal::Metrics => METRICS,
            Signal::Logs => LOGS,
        }
    }

    /// Whether the receiver's decoder (prost, through tonic) takes these bytes.
    fn decodes(self, message: &[u8]) -> bool {
        match self {
            Signal::Traces => ExportTraceServiceRequest::decode(message).is_ok(),
            Signal::Metrics => ExportMetricsServiceRequest::decode(message).is_ok(),
            Signal::Logs => ExportLogsServiceRequest::decode(message).is_ok(),
        }
    }

    /// A valid request with a string attribute of `padding` bytes on its resource.
    fn valid(self, padding: usize) -> Vec<u8> {
        let mut resource = resource("fuzzed-grpc");
        if padding > 0 {
            resource.attributes.push(s("padding", &"p".repeat(padding)));
        }
        match self {
            Signal::Traces => trace_request(resource).encode_to_vec(),
            Signal::Metrics => metrics_request(resource).encode_to_vec(),
            Signal::Logs => logs_request(resource).encode_to_vec(),
        }
    }

    /// A valid request of exactly `len` encoded bytes.
    fn valid_of_len(self, len: usize) -> Vec<u8> {
        // The padding attribute's own framing, measured; its length prefixes grow by a byte
        // now and then, so search around the guess.
        let overhead = self.valid(1_000).len() - self.valid(0).len() - 1_000;
        let guess = len.saturating_sub(self.valid(0).len() + overhead);
        (guess.saturating_sub(8)..guess + 8)
            .map(|padding| self.valid(padding))
            .find(|message| message.len() == len)
            .unwrap_or_else(|| panic!("no padding gives a {len}-byte message"))
    }
}

fn resource(service: &str) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", "1.4.2"),
            s("host.name", "fuzz-host"),
        ],
        ..Default::default()
    }
}

/// Three spans (a SERVER root, a CLIENT child, a DB grandchild) with attributes, an event, a
/// link and an error status.
fn trace_request(resource: Resource) -> ExportTraceServiceRequest {
    let span = |id: u8, parent: Option<u8>, kind: span::SpanKind| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("GET /products/{{id}} {id}"),
        kind: kind as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + 1_000_000 * u64::from(id),
        attributes: vec![
            s("http.request.method", "GET"),
            s("http.route", "/products/{id}"),
            s("tracedojo.user.tier", "gold"),
            KeyValue {
                key: "http.response.status_code".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(500)),
                }),
                ..Default::default()
            },
        ],
        events: vec![span::Event {
            time_unix_nano: 1_700_000_000_000_500_000,
            name: "exception".into(),
            attributes: vec![s("exception.type", "Timeout")],
            ..Default::default()
        }],
        links: vec![span::Link {
            trace_id: vec![9; 16],
            span_id: vec![9; 8],
            ..Default::default()
        }],
        status: Some(opentelemetry_proto::tonic::trace::v1::Status {
            code: status::StatusCode::Error as i32,
            message: "upstream timed out".into(),
        }),
        ..Default::default()
    };
    let spans = vec![
        span(1, None, span::SpanKind::Server),
        span(2, Some(1), span::SpanKind::Client),
        span(3, Some(2), span::SpanKind::Client),
    ];
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A trace export whose one span has an attribute `depth` arrays deep, encoded by hand: prost
/// would recurse once per level to encode (and drop) it, past any thread's stack.
fn deep_request(depth: usize) -> Vec<u8> {
    fn field(number: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        let mut len = payload.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(payload);
        out
    }
    // AnyValue.string_value = 1, AnyValue.array_value = 5, ArrayValue.values = 1.
    let mut value = field(1, b"leaf");
    for _ in 0..depth {
        value = field(5, &field(1, &value));
    }
    // KeyValue { key = 1, value = 2 } in Span.attributes = 9, next to trace_id = 1,
    // span_id = 2 and name = 5; Span in ScopeSpans.spans = 2, in ResourceSpans.scope_spans
    // = 2, in ExportTraceServiceRequest.resource_spans = 1.
    let attribute = field(9, &[field(1, b"deep"), field(2, &value)].concat());
    let span = [
        field(1, &[7; 16]),
        field(2, &[1; 8]),
        field(5, b"deep"),
        attribute,
    ]
    .concat();
    field(1, &field(2, &field(2, &span)))
}

fn metrics_request(resource: Resource) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "http.server.request.duration".into(),
                        unit: "s".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![s("http.route", "/cart")],
                                time_unix_nano: 1_700_000_000_000_000_000,
                                count: 12,
                                sum: Some(1.5),
                                bucket_counts: vec![2, 8, 2],
                                explicit_bounds: vec![0.05, 0.25],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "inventory.stock".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsInt(42)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs_request(resource: Resource) -> ExportLogsServiceRequest {
    let record = |n: u8| LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000 + u64::from(n),
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("order {n} placed"))),
        }),
        attributes: vec![KeyValue {
            key: "tracedojo.order.id".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(42)),
            }),
            ..Default::default()
        }],
        trace_id: vec![7; 16],
        span_id: vec![n; 8],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource),
            scope_logs: vec![ScopeLogs {
                log_records: vec![record(1), record(2)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// The 5-byte gRPC message prefix (compressed flag, big-endian length) and then `message`.
fn frame(flag: u8, declared_len: u32, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.push(flag);
    out.extend_from_slice(&declared_len.to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// A correctly framed, uncompressed message.
fn framed(message: &[u8]) -> Vec<u8> {
    frame(0, u32::try_from(message.len()).expect("small"), message)
}

/// Offsets of every field key in a protobuf message, descending into length-delimited fields
/// that themselves parse as messages. `None` if `bytes` is not a well-formed message.
fn field_keys(bytes: &[u8], base: usize, out: &mut Vec<usize>) -> Option<()> {
    fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let mut at = 0;
    let mut found = Vec::new();
    while at < bytes.len() {
        found.push(base + at);
        let key = varint(bytes, &mut at)?;
        match key & 7 {
            0 => {
                varint(bytes, &mut at)?;
            }
            1 => at += 8,
            5 => at += 4,
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)?).ok()?;
                let payload = bytes.get(at..at.checked_add(len)?)?;
                let mut nested = Vec::new();
                if !payload.is_empty() && field_keys(payload, base + at, &mut nested).is_some() {
                    found.extend(nested);
                }
                at += len;
            }
            _ => return None,
        }
    }
    (at == bytes.len()).then(|| out.extend(found))
}

/// Mutated messages, each correctly framed, with the outcome prost predicts for it.
fn body_mutations(
    signal: Signal,
    valid: &[u8],
    rng: &mut Xoshiro256PlusPlus,
    flips: usize,
) -> Vec<Case> {
    let mut messages: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let step = (valid.len() / 150).max(1);
    for end in (0..valid.len()).step_by(step) {
        messages.push(("truncated", valid[..end].to_vec()));
    }
    for _ in 0..flips {
        let mut message = valid.to_vec();
        for _ in 0..rng.random_range(1..=4) {
            let at = rng.random_range(0..message.len());
            message[at] = rng.random();
        }
        messages.push(("flipped bytes", message));
    }
    for _ in 0..flips / 4 {
        let mut message = valid.to_vec();
        let at = rng.random_range(0..=message.len());
        let noise: Vec<u8> = (0..rng.random_range(1..32)).map(|_| rng.random()).collect();
        message.splice(at..at, noise);
        messages.push(("inserted noise", message));
    }
    for _ in 0..flips / 4 {
        let noise = (0..rng.random_range(0..512))
            .map(|_| rng.random())
            .collect();
        messages.push(("noise", noise));
    }
    // Every field key given each other wire type, the invalid ones (3, 4: groups; 6, 7)
    // included. The wire type is the low three bits of the key's first byte.
    let mut keys = Vec::new();
    field_keys(valid, 0, &mut keys).expect("the valid message parses");
    for at in keys {
        for wire_type in 0..8u8 {
            if valid[at] & 7 != wire_type {
                let mut message = valid.to_vec();
                message[at] = (message[at] & !7) | wire_type;
                messages.push(("wrong wire type", message));
            }
        }
    }
    messages
        .into_iter()
        .map(|(label, message)| Case {
            label,
            path: signal.path(),
            headers: Vec::new(),
            expect: if signal.decodes(&message) {
                Expect::Accepted
            } else {
                Expect::Refused
            },
            body: framed(&message),
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Broken framing and size limits around a valid message.
fn framing_cases(signal: Signal, valid: &[u8], rng: &mut Xoshiro256PlusPlus) -> Vec<Case> {
    let path = signal.path();
    let len = u32::try_from(valid.len()).expect("small");
    let case = |label, body, expect| Case {
        label,
        path,
        headers: Vec::new(),
        body,
        expect,
    };
    let mut cases = vec![
        // A unary call without its message.
        case("no message", Vec::new(), Expect::Refused),
        // The valid message itself, and a zero-length one (an empty request is valid protobuf).
        case("valid", framed(valid), Expect::Accepted),
        case("empty message", framed(&[]), Expect::Accepted),
        // The specification: a compressed flag without grpc-encoding MUST fail with INTERNAL.
        case(
            "compressed flag, no grpc-encoding",
            frame(1, len, valid),
            Expect::Exactly(Code::Internal),
        ),
        // A message at the limit is taken; one byte more is refused before it is read.
        case(
            "message at the limit",
            framed(&signal.valid_of_len(LIMIT)),
            Expect::Accepted,
        ),
        case(
            "message over the limit",
            framed(&signal.valid_of_len(LIMIT + 1)),
            Expect::Refused,
        ),
        case(
            "prefix claims 4 GiB",
            frame(0, u32::MAX, valid),
            Expect::Refused,
        ),
        case(
            "two messages",
            [framed(valid), framed(valid)].concat(),
            Expect::Either,
        ),
        case(
            "message then a partial prefix",
            [framed(valid), vec![0, 0]].concat(),
            Expect::Either,
        ),
    ];
    for cut in 1..5 {
        cases.push(case(
            "prefix cut short",
            framed(valid)[..cut].to_vec(),
            Expect::Refused,
        ));
    }
    // Prefixes promising more than follows: the stream ends inside the message.
    for extra in [1, 2, 100, 4096, LIMIT as u32 - len] {
        cases.push(case(
            "prefix longer than the message",
            frame(0, len + extra, valid),
            Expect::Refused,
        ));
    }
    // Prefixes promising less: a truncated message, then the rest read as another frame.
    for shorter in (1..len).step_by((valid.len() / 40).max(1)) {
        let expect = if signal.decodes(&valid[..(len - shorter) as usize]) {
            Expect::Either
        } else {
            Expect::Refused
        };
        cases.push(case(
            "prefix shorter than the message",
            frame(0, len - shorter, valid),
            expect,
        ));
    }
    // Flags other than 0 and 1 are a protocol error.
    for flag in [2, 3, 0x80, 0xff] {
        cases.push(case(
            "unknown compressed flag",
            frame(flag, len, valid),
            Expect::Exactly(Code::Internal),
        ));
    }
    // Random damage to the prefix itself.
    for _ in 0..100 {
        let mut body = framed(valid);
        let at = rng.random_range(0..5);
        body[at] ^= 1 << rng.random_range(0..8);
        cases.push(case("damaged prefix", body, Expect::Either));
    }
    // Random bytes as the whole body, framing included.
    for _ in 0..100 {
        let body = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
        cases.push(case("noise for framing", body, Expect::Either));
    }
    // Compression: gzip is either enabled (then a good body is taken and a bad one refused)
    // or refused as UNIMPLEMENTED; an encoding nobody has is UNIMPLEMENTED.
    let zipped = gzip(valid);
    let zipped_len = u32::try_from(zipped.len()).expect("small");
    let with = |label, encoding, body, expect| Case {
        label,
        path,
        headers: vec![("grpc-encoding", encoding)],
        body,
        expect,
    };
    cases.push(with(
        "gzip message",
        "gzip",
        frame(1, zipped_len, &zipped),
        Expect::Either,
    ));
    cases.push(with(
        "gzip flag over garbage",
        "gzip",
        frame(1, len, valid),
        Expect::Refused,
    ));
    cases.push(with(
        "gzip bomb past the limit",
        "gzip",
        {
            let bomb = gzip(&vec![0x0a; 4 * LIMIT]);
            frame(1, u32::try_from(bomb.len()).expect("small"), &bomb)
        },
        Expect::Refused,
    ));
    cases.push(with(
        "unknown grpc-encoding",
        "snappy-nonsense",
        frame(1, len, valid),
        Expect::Exactly(Code::Unimplemented),
    ));
    cases
}

/// What came back for one call: a gRPC code, or a description of what went wrong instead.
type Outcome = Result<Code, String>;

/// One unary call with a raw body over `channel`, read to its `grpc-status`.
async fn call(mut channel: Channel, case: &Case) -> Outcome {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://fuzz.invalid{}", case.path))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in &case.headers {
        request = request.header(*name, *value);
    }
    let body = tonic::body::Body::new(axum::body::Body::from(case.body.clone()));
    let request = request.body(body).map_err(|e| e.to_string())?;
    poll_fn(|cx| channel.poll_ready(cx))
        .await
        .map_err(|e| format!("connection not ready: {e}"))?;
    let response = channel
        .call(request)
        .await
        .map_err(|e| format!("no response: {e:?}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("HTTP status {}", response.status()));
    }
    if let Some(code) = grpc_status(response.headers()) {
        return Ok(code); // trailers-only answer
    }
    let mut body = response.into_body();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| format!("response body failed: {e}"))?;
        if let Ok(trailers) = frame.into_trailers() {
            return grpc_status(&trailers).ok_or_else(|| "trailers without grpc-status".into());
        }
    }
    Err("response ended without grpc-status".into())
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_grpc_gets_a_grpc_status_and_never_a_panic() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: LIMIT,
        ..ReceiverConfig::local()
    })
    .await
    .expect("start receiver");
    let channel = Endpoint::from_shared(receiver.grpc_endpoint())
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20261124);

    let mut cases = Vec::new();
    for signal in Signal::ALL {
        let valid = signal.valid(0);
        cases.extend(body_mutations(signal, &valid, &mut rng, 1_600));
        cases.extend(framing_cases(signal, &valid, &mut rng));
    }
    // Nesting: prost follows 100 levels at most, so shallow trees are taken and deep ones
    // refused, never followed into a stack overflow.
    for depth in [10, 40, 45, 48, 50, 60, 500, 5_000] {
        let message = deep_request(depth);
        cases.push(Case {
            label: "deep AnyValue",
            path: TRACES,
            headers: Vec::new(),
            expect: if Signal::Traces.decodes(&message) {
                Expect::Accepted
            } else {
                Expect::Refused
            },
            body: framed(&message),
        });
    }
    let valid = Signal::Traces.valid(0);
    for path in [
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
        "/not.a.Service/Export",
    ] {
        cases.push(Case {
            label: "unknown method",
            path,
            headers: Vec::new(),
            body: framed(&valid),
            expect: Expect::Exactly(Code::Unimplemented),
        });
    }

    let started = Instant::now();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_label: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0;
    let cases = std::sync::Arc::new(cases);
    while next < cases.len() || !running.is_empty() {
        while next < cases.len() && running.len() < IN_FLIGHT {
            let (channel, cases, index) = (channel.clone(), cases.clone(), next);
            running.spawn(async move {
                let outcome = tokio::time::timeout(CALL_TIMEOUT, call(channel, &cases[index]))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {CALL_TIMEOUT:?}")));
                (index, outcome)
            });
            next += 1;
        }
        let (index, outcome) = running
            .join_next()
            .await
            .expect("a call is running")
            .expect("the call task does not panic");
        let case = &cases[index];
        let name = match &outcome {
            Ok(code) => format!("{code:?}"),
            Err(_) => "no status".to_string(),
        };
        *by_status.entry(name.clone()).or_default() += 1;
        *by_label
            .entry(case.label)
            .or_default()
            .entry(name)
            .or_default() += 1;
        match outcome {
            Ok(code) if case.expect.allows(code) => {}
            other => failures.push(format!(
                "case {index} ({}, {} to {}, {} bytes): expected {:?}, got {other:?}",
                case.label,
                case.headers.first().map_or("", |h| h.1),
                case.path,
                case.body.len(),
                case.expect
            )),
        }
    }
    println!(
        "{} malformed cases over gRPC in {:.1} s: {by_status:?} by status",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    for (label, statuses) in &by_label {
        println!("  {label}: {statuses:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases got the wrong answer; first ones:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(cases.len() > 8_000, "{} cases", cases.len());
    let refused: usize = REFUSALS
        .iter()
        .map(|code| by_status.get(&format!("{code:?}")).copied().unwrap_or(0))
        .sum();
    assert!(refused > cases.len() / 4, "only {refused} refused");
    assert!(by_status.get("Ok").copied().unwrap_or(0) > 100);

    // Still serving: on the connection that took every case, and from a fresh client.
    let marker = Signal::Traces.valid(0);
    let again = call(
        channel,
        &Case {
            label: "valid afterwards",
            path: TRACES,
            headers: Vec::new(),
            body: framed(&marker),
            expect: Expect::Accepted,
        },
    )
    .await;
    assert_eq!(again, Ok(Code::Ok));
    let mut client = TraceServiceClient::connect(receiver.grpc_endpoint())
        .await
        .expect("fresh client connects");
    let mut request = trace_request(resource("after-the-fuzz"));
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![0xaf; 16];
    client
        .export(request)
        .await
        .expect("a valid export is accepted after the fuzz");
    let stored = receiver
        .store()
        .wait_for_spans(
            |spans| spans.iter().any(|s| s.service_name() == "after-the-fuzz"),
            Duration::from_secs(5),
        )
        .await
        .expect("the valid export is stored");
    assert!(!stored.is_empty());
    receiver.shutdown().await.expect("clean shutdown");
}
