//! `OTEL_PROPAGATORS=b3multi` / `b3`: a real service continues a B3 context it is sent, and
//! passes its own on in B3 (and only in B3) to the service it calls.
//!
//! The service is recommendation; its catalog is a small capture server here that records
//! the headers of the call it gets and answers 404, so the test sees exactly what went out.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::support::{ServiceProcess, client};
use tracedojo_explorer::{Receiver, StoredSpan};

/// Bounds every wait: only a hang ever reaches it.
const WAIT: Duration = Duration::from_secs(30);

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A stand-in for catalog: sends the (lower-cased) headers of each request it gets down the
/// channel and answers 404, which recommendation passes on.
fn capture_server() -> (String, mpsc::Receiver<BTreeMap<String, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            match read_head(&stream) {
                Some(headers) => {
                    if tx.send(headers).is_err() {
                        return;
                    }
                    answer_not_found(stream);
                }
                None => continue,
            }
        }
    });
    (url, rx)
}

fn read_head(mut stream: &TcpStream) -> Option<BTreeMap<String, String>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    Some(
        text.lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect(),
    )
}

fn answer_not_found(mut stream: TcpStream) {
    let body = br#"{"error":"not_found","message":"no such product"}"#;
    let head = format!(
        "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// What one run showed: the headers of the outgoing call, and the spans of the trace.
struct Seen {
    outgoing: BTreeMap<String, String>,
    server: StoredSpan,
    client: StoredSpan,
}

/// Starts recommendation with `propagators`, calls it with `incoming` headers, and returns
/// what went out and the spans it made of the caller's trace.
async fn run(propagators: &str, incoming: &[(&str, String)]) -> Seen {
    let receiver = Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let (catalog, captured) = capture_server();
    let service = ServiceProcess::start(
        "recommendation",
        &[
            ("OTEL_PROPAGATORS", propagators),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("CATALOG_URL", catalog.as_str()),
        ],
    );
    let mut request = client().get(format!("{}/recommendations?product_id=3", service.url));
    for (name, value) in incoming {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 404, "catalog's 404 is passed on");
    let outgoing = captured
        .recv_timeout(WAIT)
        .expect("recommendation called its catalog");

    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                let in_trace = |kind: &str| {
                    spans.iter().any(|s| {
                        s.trace_id == CALLER_TRACE
                            && s.kind == kind
                            && s.service_name() == "recommendation"
                    })
                };
                in_trace("SERVER") && in_trace("CLIENT")
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("the spans of the caller's trace did not arrive: {e}"));
    let of_kind = |kind: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == CALLER_TRACE && s.kind == kind)
            .cloned()
            .unwrap()
    };
    Seen {
        outgoing,
        server: of_kind("SERVER"),
        client: of_kind("CLIENT"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3multi_is_extracted_by_the_server_span_and_injected_by_the_client_span() {
    let seen = run(
        "b3multi,baggage",
        &[
            ("X-B3-TraceId", CALLER_TRACE.to_string()),
            ("X-B3-SpanId", CALLER_SPAN.to_string()),
            ("X-B3-Sampled", "1".to_string()),
            ("baggage", "tracedojo.user.tier=gold".to_string()),
        ],
    )
    .await;

    // The incoming B3 context is the SERVER span's parent.
    assert_eq!(seen.server.parent_span_id, CALLER_SPAN);
    assert_eq!(seen.server.name, "GET /recommendations");

    // The outgoing call carries the CLIENT span's context in B3 headers, and no W3C header.
    let headers = &seen.outgoing;
    assert_eq!(
        headers.get("x-b3-traceid").map(String::as_str),
        Some(CALLER_TRACE),
        "{headers:?}"
    );
    assert_eq!(
        headers.get("x-b3-spanid"),
        Some(&seen.client.span_id),
        "{headers:?}"
    );
    assert_eq!(
        headers.get("x-b3-sampled").map(String::as_str),
        Some("1"),
        "{headers:?}"
    );
    assert!(!headers.contains_key("traceparent"), "{headers:?}");
    assert!(!headers.contains_key("b3"), "{headers:?}");
    // Baggage still travels beside it.
    assert!(
        headers
            .get("baggage")
            .is_some_and(|b| b.contains("tracedojo.user.tier=gold")),
        "{headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b3_uses_the_single_header_both_ways() {
    let seen = run("b3", &[("b3", format!("{CALLER_TRACE}-{CALLER_SPAN}-1"))]).await;

    assert_eq!(seen.server.parent_span_id, CALLER_SPAN);
    let headers = &seen.outgoing;
    assert_eq!(
        headers.get("b3"),
        Some(&format!("{CALLER_TRACE}-{}-1", seen.client.span_id)),
        "{headers:?}"
    );
    for absent in ["traceparent", "x-b3-traceid", "x-b3-spanid", "baggage"] {
        assert!(!headers.contains_key(absent), "{absent}: {headers:?}");
    }
}
