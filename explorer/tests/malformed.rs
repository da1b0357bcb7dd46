//! Malformed OTLP over HTTP: truncated, corrupted, wrongly typed, deeply nested and oversized
//! bodies, protobuf and JSON, to every signal's endpoint. Each must get an error status with
//! a `google.rpc.Status` body in the request's encoding (or, when the bytes still happen to
//! decode, a normal answer) and never take the receiver down.
//! Seeded, so a failure can be replayed; the number of cases is printed.

mod common;
mod otlp_status;

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracedojo_explorer::{Receiver, ReceiverConfig};

use common::s;

const LIMIT: usize = 64 * 1024;

fn valid_request() -> ExportTraceServiceRequest {
    let span = |id: u8, parent: Option<u8>| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("span {id}"),
        kind: 2,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 2_000 + u64::from(id),
        attributes: vec![s("http.route", "/x"), s("tracedojo.user.tier", "gold")],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "fuzzed")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1, None), span(2, Some(1)), span(3, Some(2))],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// POSTs `body`; `None` if the connection broke without an answer.
async fn reply_to(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    Some(Reply {
        status,
        content_type,
        body: raw[split + 4..].to_vec(),
    })
}

/// Why an error answer is not the `google.rpc.Status` OTLP/HTTP asks for, in the encoding of
/// the request and with the gRPC code matching the HTTP status.
fn status_body_problem(reply: &Reply, request_content_type: &str) -> Option<String> {
    if reply.content_type != request_content_type {
        return Some(format!("answered in {:?}", reply.content_type));
    }
    let decoded = otlp_status::decode(&reply.body, request_content_type == "application/json");
    let status = match decoded {
        Ok(status) => status,
        Err(err) => {
            return Some(format!("{err}: {:?}", String::from_utf8_lossy(&reply.body)));
        }
    };
    let expected = if reply.status == 413 {
        otlp_status::RESOURCE_EXHAUSTED
    } else {
        otlp_status::INVALID_ARGUMENT
    };
    if status.code != expected || status.message.is_empty() {
        return Some(format!("{status:?} for HTTP {}", reply.status));
    }
    None
}

/// Variations of a valid body: every truncation point (sampled when long), flipped and
/// inserted bytes, and pure noise.
fn mutations(valid: &[u8], rng: &mut Xoshiro256PlusPlus, flips: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let step = (valid.len() / 200).max(1);
    for end in (0..valid.len()).step_by(step) {
        out.push(valid[..end].to_vec());
    }
    for _ in 0..flips {
        let mut body = valid.to_vec();
        for _ in 0..rng.random_range(1..=4) {
            let at = rng.random_range(0..body.len());
            body[at] = rng.random();
        }
        out.push(body);
    }
    for _ in 0..flips / 4 {
        let mut body = valid.to_vec();
        let at = rng.random_range(0..=body.len());
        let noise: Vec<u8> = (0..rng.random_range(1..32)).map(|_| rng.random()).collect();
        body.splice(at..at, noise);
        out.push(body);
    }
    for _ in 0..flips / 4 {
        out.push(
            (0..rng.random_range(0..512))
                .map(|_| rng.random())
                .collect(),
        );
    }
    out
}

/// JSON bodies with a value of the wrong type in place of each field the valid one has.
fn wrongly_typed(valid_json: &str) -> Vec<Vec<u8>> {
    let replacements = [
        "5", "\"x\"", "[]", "{}", "null", "true", "-1", "1e999", "\"zz\"",
    ];
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(colon) = valid_json[from..].find("\":") {
        let at = from + colon + 2;
        let end = valid_json[at..]
            .find([',', '}', ']'])
            .map_or(valid_json.len(), |e| at + e);
        for replacement in replacements {
            out.push(
                format!("{}{replacement}{}", &valid_json[..at], &valid_json[end..]).into_bytes(),
            );
        }
        from = at;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_an_error_status_and_never_a_panic() {
    let receiver = Receiver::start(ReceiverConfig {
        max_request_bytes: LIMIT,
        ..ReceiverConfig::local()
    })
    .await
    .expect("start receiver");
    let addr = receiver.http_addr();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20261123);

    let protobuf = valid_request().encode_to_vec();
    let json = serde_json::to_string(&valid_request()).unwrap();
    let mut cases: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    for path in ["/v1/traces", "/v1/metrics", "/v1/logs"] {
        for body in mutations(&protobuf, &mut rng, 1_500) {
            cases.push((path, "application/x-protobuf", body));
        }
        for body in mutations(json.as_bytes(), &mut rng, 1_000) {
            cases.push((path, "application/json", body));
        }
    }
    for body in wrongly_typed(&json) {
        cases.push(("/v1/traces", "application/json", body));
    }
    // Nesting far deeper than any decoder should follow.
    let deep_json = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    cases.push(("/v1/traces", "application/json", deep_json.into_bytes()));
    let mut deep_value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..500 {
        deep_value = AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![deep_value],
                },
            )),
        };
    }
    let mut deep = valid_request();
    deep.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(KeyValue {
            key: "deep".into(),
            value: Some(deep_value),
            ..Default::default()
        });
    cases.push(("/v1/traces", "application/x-protobuf", deep.encode_to_vec()));
    // A length prefix that promises far more than is there, and a body over the limit.
    cases.push((
        "/v1/traces",
        "application/x-protobuf",
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1],
    ));
    cases.push((
        "/v1/traces",
        "application/x-protobuf",
        vec![0x0a; LIMIT + 1],
    ));

    let mut by_status = std::collections::BTreeMap::new();
    for (path, content_type, body) in &cases {
        let reply = reply_to(addr, path, content_type, body).await;
        let status = reply.as_ref().map(|reply| reply.status);
        assert!(
            matches!(status, Some(200 | 400 | 413)),
            "{path} {content_type} {} bytes: {status:?}",
            body.len()
        );
        if let Some(reply) = reply.filter(|reply| reply.status != 200) {
            let problem = status_body_problem(&reply, content_type);
            assert!(
                problem.is_none(),
                "{path} {content_type} {} bytes, HTTP {}: {}",
                body.len(),
                reply.status,
                problem.unwrap_or_default()
            );
        }
        *by_status.entry(status.unwrap_or(0)).or_insert(0) += 1;
    }
    println!(
        "{} malformed cases over HTTP: {by_status:?} by status",
        cases.len()
    );
    assert!(cases.len() > 10_000, "{} cases", cases.len());
    assert!(by_status.get(&400).copied().unwrap_or(0) > cases.len() / 4);

    // Still serving.
    let reply = reply_to(addr, "/v1/traces", "application/x-protobuf", &protobuf).await;
    assert_eq!(reply.map(|reply| reply.status), Some(200));
    receiver.shutdown().await.expect("clean shutdown");
}
