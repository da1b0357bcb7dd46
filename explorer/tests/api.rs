//! The JSON API over real OTLP ingestion: hand-built traces with a known shape are exported
//! to a running explorer over OTLP/gRPC and OTLP/HTTP, then every view is read over HTTP and
//! checked against what the traces must give (search hits, waterfall nesting, critical path,
//! spans' log records, service map edges, RED rows and series, root causes, separating
//! attributes) — and bad queries get 400s that name the parameter.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracedojo_explorer::{Explorer, ExplorerConfig, ExplorerError, ReceiverConfig};

use common::http::{get, get_as};
use common::sender::Sender;
use common::trace::TraceBuilder;
use common::{MS, error_status, i, now_nanos, s};

impl TraceBuilder {
    /// [`TraceBuilder::request`] as the shop's services send it: every resource at
    /// `service.version` 1.0.0, every SERVER span carrying the user's `tier`.
    fn request_for_tier(&self, tier: &str) -> ExportTraceServiceRequest {
        let mut request = self.request();
        for resource_spans in &mut request.resource_spans {
            let resource = resource_spans.resource.as_mut().expect("a resource");
            resource.attributes.push(s("service.version", "1.0.0"));
            let spans = resource_spans
                .scope_spans
                .iter_mut()
                .flat_map(|scope| &mut scope.spans);
            for span in spans.filter(|span| span.kind == SpanKind::Server as i32) {
                span.attributes.push(s("tracedojo.user.tier", tier));
            }
        }
        request
    }
}

/// A checkout: frontend → checkout → (cart query ×3, payment, inventory unreachable).
/// With `fail`, payment answers 503 and the error climbs to the root.
fn checkout(n: u8, base: u64, fail: bool) -> TraceBuilder {
    use SpanKind::{Client, Server};
    let mut t = TraceBuilder::at(n, base);
    t.span(
        "frontend",
        1,
        None,
        "POST /checkout",
        Server,
        (0, 100),
        vec![
            s("http.route", "/checkout"),
            i("http.response.status_code", if fail { 502 } else { 200 }),
        ],
    );
    t.span(
        "frontend",
        2,
        Some(1),
        "POST /orders",
        Client,
        (5, 95),
        vec![s("server.address", "checkout")],
    );
    t.span(
        "checkout",
        3,
        Some(2),
        "POST /orders",
        Server,
        (8, 92),
        vec![s("http.route", "/orders")],
    );
    for (k, start) in [(4u8, 10u64), (5, 13), (6, 16)] {
        t.span(
            "checkout",
            k,
            Some(3),
            "SELECT cart_items",
            Client,
            (start, start + 2),
            vec![
                s("db.system.name", "sqlite"),
                s(
                    "db.query.text",
                    "SELECT * FROM cart_items WHERE cart_id = ?",
                ),
                s("db.operation.name", "SELECT"),
                s("db.collection.name", "cart_items"),
            ],
        );
    }
    let charge = t.span(
        "checkout",
        7,
        Some(3),
        "POST /charge",
        Client,
        (20, 70),
        vec![s("server.address", "payment")],
    );
    if fail {
        charge.status = error_status("503 Service Unavailable");
    }
    let pay = t.span(
        "payment",
        8,
        Some(7),
        "POST /charge",
        Server,
        (22, 68),
        vec![
            s("http.route", "/charge"),
            i("http.response.status_code", if fail { 503 } else { 200 }),
        ],
    );
    if fail {
        pay.status = error_status("gateway overloaded");
        pay.attributes.push(s("error.type", "503"));
        pay.events.push(Event {
            name: "exception".into(),
            time_unix_nano: base + 60 * MS,
            attributes: vec![s("exception.type", "GatewayError")],
            ..Default::default()
        });
    }
    let reserve = t.span(
        "checkout",
        9,
        Some(3),
        "POST /reserve",
        Client,
        (72, 80),
        vec![
            s("server.address", "inventory"),
            s("error.type", "connection_refused"),
        ],
    );
    reserve.status = error_status("connection refused");
    if fail {
        t.spans[2].1.status = error_status("payment failed");
        t.spans[1].1.status = error_status("502");
        t.spans[0].1.status = error_status("502");
    }
    // The queue hand-off: a producer here, its consumer in a trace of its own (below).
    t.span(
        "checkout",
        10,
        Some(3),
        "publish order.created",
        SpanKind::Producer,
        (82, 84),
        vec![],
    );
    t
}

async fn post_protobuf(addr: SocketAddr, request: &ExportTraceServiceRequest) -> u16 {
    let body = request.encode_to_vec();
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(&body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    String::from_utf8_lossy(&raw)[9..12]
        .parse()
        .expect("status")
}

struct Fixture {
    explorer: Explorer,
    ok: TraceBuilder,
    failing: Vec<TraceBuilder>,
}

/// Ten succeeding silver checkouts and five failing gold ones, over both transports, plus
/// the shipping consumer of the first checkout's order.
async fn fixture() -> Fixture {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 60_000 * MS;
    let mut oks = Vec::new();
    for n in 0..10u8 {
        let trace = checkout(n, base + u64::from(n) * 1_000 * MS, false);
        sender.export(trace.request_for_tier("silver")).await;
        oks.push(trace);
    }
    let http = sender.explorer.receiver().http_addr();
    let mut failing = Vec::new();
    for n in 10..15u8 {
        let trace = checkout(n, base + u64::from(n) * 1_000 * MS, true);
        let status = post_protobuf(http, &trace.request_for_tier("gold")).await;
        assert_eq!(status, 200);
        failing.push(trace);
    }
    // The consumer links to the first checkout's producer span.
    let first = &oks[0];
    let mut shipping = TraceBuilder::at(99, base + 200 * MS);
    let consumer = shipping.span(
        "shipping",
        1,
        None,
        "process order.created",
        SpanKind::Consumer,
        (0, 30),
        vec![],
    );
    consumer.links.push(Link {
        trace_id: first.trace_id.to_vec(),
        span_id: first.id(10),
        ..Default::default()
    });
    sender.export(shipping.request_for_tier("silver")).await;
    Fixture {
        explorer: sender.explorer,
        ok: oks.swap_remove(9),
        failing,
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| t["trace_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_traces_by_every_condition() {
    let f = fixture().await;
    let ui = f.explorer.ui_addr();

    let (status, body) = get(ui, "/api/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["spans_stored"], 15 * 10 + 1, "{body}");
    assert_eq!(body["traces_stored"], 16);
    assert_eq!(body["export_requests"]["grpc"], 11);
    assert_eq!(body["export_requests"]["http"], 5);
    assert!(body["bytes_stored"].as_u64().expect("bytes") > 0);

    let (_, body) = get(
        ui,
        "/api/traces?service=frontend&operation=POST%20/checkout",
    )
    .await;
    let found = ids(&body);
    assert_eq!(found.len(), 15, "{body}");
    // Newest first: the failing ones came last.
    assert_eq!(found[0], f.failing[4].hex());
    let first = &body["traces"][0];
    assert_eq!(first["root_service"], "frontend");
    assert_eq!(first["root_name"], "POST /checkout");
    assert_eq!(first["span_count"], 10);
    assert_eq!(first["duration_ms"], 100.0);
    assert_eq!(first["matched_span_id"], "0e00000000000001");

    let (_, body) = get(ui, "/api/traces?errors=true&service=payment").await;
    let mut failing: Vec<String> = f.failing.iter().map(TraceBuilder::hex).collect();
    failing.reverse();
    assert_eq!(ids(&body), failing);

    let (_, body) = get(ui, "/api/traces?attr=tracedojo.user.tier%3Dgold&limit=2").await;
    assert_eq!(ids(&body), failing[..2]);
    let (_, body) = get(ui, "/api/traces?attr=tracedojo.user.tier%3Dplatinum").await;
    assert!(ids(&body).is_empty());
    let (_, body) = get(ui, "/api/traces?attr=http.response.status_code%3D503").await;
    assert_eq!(ids(&body).len(), 5);
    let (_, body) = get(
        ui,
        "/api/traces?attr=service.version%3D1.0.0&service=payment",
    )
    .await;
    assert_eq!(ids(&body).len(), 15, "resource attributes are searchable");

    // Duration applies to the matching span: the charge takes 50 ms, the query 2 ms.
    let (_, body) = get(ui, "/api/traces?operation=POST%20/charge&min_duration=45ms").await;
    assert_eq!(ids(&body).len(), 15);
    let (_, body) = get(ui, "/api/traces?operation=POST%20/charge&min_duration=51ms").await;
    assert!(ids(&body).is_empty());
    let (_, body) = get(
        ui,
        "/api/traces?operation=SELECT%20cart_items&max_duration=1ms",
    )
    .await;
    assert!(ids(&body).is_empty());

    // `errors` is about the matched span, `failing` about its trace: the cart query never
    // fails, but every checkout's trace has the refused reservation; the worker's has none.
    let (_, body) = get(ui, "/api/traces?operation=SELECT%20cart_items&errors=true").await;
    assert!(ids(&body).is_empty(), "{body}");
    let (_, body) = get(ui, "/api/traces?operation=SELECT%20cart_items&failing=true").await;
    assert_eq!(ids(&body).len(), 15, "{body}");
    let (_, body) = get(ui, "/api/traces?service=shipping&failing=true").await;
    assert!(ids(&body).is_empty(), "{body}");

    // Time: the checkouts are a minute old.
    let (_, body) = get(ui, "/api/traces?since=10s").await;
    assert!(ids(&body).is_empty(), "{body}");
    let (_, body) = get(ui, "/api/traces?since=5m&service=shipping").await;
    assert_eq!(ids(&body).len(), 1);
    let (_, body) = get(ui, "/api/traces?service=nobody").await;
    assert!(ids(&body).is_empty());
    f.explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_trace_reads_as_a_waterfall_with_its_critical_path() {
    let f = fixture().await;
    let ui = f.explorer.ui_addr();
    let (status, body) = get(ui, &format!("/api/traces/{}", f.ok.hex())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["span_count"], 10);
    let spans = body["spans"].as_array().expect("spans");
    let names: Vec<(&str, u64)> = spans
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name"),
                s["depth"].as_u64().expect("depth"),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("POST /checkout", 0),
            ("POST /orders", 1),
            ("POST /orders", 2),
            ("SELECT cart_items", 3),
            ("SELECT cart_items", 3),
            ("SELECT cart_items", 3),
            ("POST /charge", 3),
            ("POST /charge", 4),
            ("POST /reserve", 3),
            ("publish order.created", 3),
        ]
    );
    // Every span's parent comes before it, one level up.
    for (n, span) in spans.iter().enumerate().skip(1) {
        let parent = spans[..n]
            .iter()
            .rev()
            .find(|p| p["span_id"] == span["parent_span_id"])
            .expect("parent listed earlier");
        assert_eq!(
            parent["depth"].as_u64().expect("depth") + 1,
            span["depth"].as_u64().expect("depth")
        );
    }
    let reserve = &spans[8];
    assert_eq!(reserve["status_code"], "ERROR");
    assert_eq!(reserve["status_message"], "connection refused");
    assert_eq!(reserve["resource"]["service.name"], "checkout");
    assert_eq!(reserve["attributes"]["error.type"], "connection_refused");

    // The path the end waited on: root [95,100] → client [92,95] → checkout server: publish
    // [82,84], reserve [72,80], charge [20,70] → payment [22,68], and the three queries one
    // after another before it.
    let on_path = |name: &str, depth: u64| {
        spans
            .iter()
            .find(|s| s["name"] == name && s["depth"] == depth)
            .map(|s| s["critical_path_nanos"].as_u64().expect("nanos") / MS)
            .expect("span")
    };
    assert_eq!(on_path("POST /checkout", 0), 10); // 0-5 and 95-100
    assert_eq!(on_path("POST /charge", 4), 46);
    assert_eq!(on_path("POST /charge", 3), 4); // 20-22 and 68-70
    assert_eq!(on_path("POST /reserve", 3), 8);
    assert_eq!(on_path("publish order.created", 3), 2);
    assert_eq!(on_path("SELECT cart_items", 3), 2);
    let total: u64 = spans
        .iter()
        .map(|s| s["critical_path_nanos"].as_u64().expect("nanos"))
        .sum();
    assert_eq!(total, 100 * MS, "the path covers the trace exactly once");
    let segments = body["critical_path"].as_array().expect("segments");
    assert!(
        segments
            .windows(2)
            .all(|w| w[0]["end_unix_nanos"] == w[1]["start_unix_nanos"]),
        "segments follow each other: {segments:?}"
    );
    // The checkout server's own time: 84 ms less the queries, charge, reservation, publish.
    assert_eq!(
        spans[2]["self_nanos"].as_u64().expect("self") / MS,
        84 - 6 - 50 - 8 - 2
    );

    let (_, shipping) = get(ui, "/api/traces?service=shipping").await;
    let id = shipping["traces"][0]["trace_id"].as_str().expect("id");
    let (_, consumer) = get(ui, &format!("/api/traces/{id}")).await;
    let link = &consumer["spans"][0]["links"][0];
    assert_eq!(link["span_id"], "000000000000000a");
    assert!(link["trace_id"].as_str().expect("id").starts_with("5a5a"));

    let (status, body) = get(ui, "/api/traces/5a5a5a5a5a5a5a5a5a5a5a5a5a5a5aff").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().expect("message").contains("evicted"));
    let (status, body) = get(ui, "/api/traces/not-a-trace").await;
    assert_eq!(status, 400);
    assert_eq!(body["parameter"], "trace_id");
    f.explorer.shutdown().await.expect("shutdown");
}

/// A log record of trace `trace`, written in span `span` (of no trace when `None`).
fn log_record(trace: Option<&TraceBuilder>, span: u8, at: u64, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: at,
        severity_number: SeverityNumber::Info as i32,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        attributes: vec![s("tracedojo.order.ref", "ORD-1")],
        trace_id: trace.map(|t| t.trace_id.to_vec()).unwrap_or_default(),
        span_id: trace.map(|t| t.id(span)).unwrap_or_default(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_trace_shows_each_spans_log_records() {
    let f = fixture().await;
    let ui = f.explorer.ui_addr();
    let base = f.ok.base;
    let other = &f.failing[0];
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![s("service.name", "payment")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    log_record(Some(&f.ok), 8, base + 60 * MS, "payment approved"),
                    log_record(Some(&f.ok), 8, base + 30 * MS, "charging card"),
                    log_record(Some(&f.ok), 3, base + 50 * MS, "order stored"),
                    log_record(Some(other), 8, base + 40 * MS, "of another trace"),
                    log_record(None, 0, base + 40 * MS, "of no trace"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    LogsServiceClient::connect(f.explorer.receiver().grpc_endpoint())
        .await
        .expect("gRPC connects")
        .export(request)
        .await
        .expect("logs exported");

    let (status, trace) = get(ui, &format!("/api/traces/{}", f.ok.hex())).await;
    assert_eq!(status, 200, "{trace}");
    let logs_of = |span: u8| -> Vec<Value> {
        let id = f.ok.span_hex(span);
        trace["spans"]
            .as_array()
            .expect("spans")
            .iter()
            .find(|s| s["span_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no span {id} in {trace}"))["logs"]
            .as_array()
            .expect("a logs list on every span")
            .clone()
    };
    let payment = logs_of(8);
    let bodies: Vec<&str> = payment.iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(
        bodies,
        ["charging card", "payment approved"],
        "in time order"
    );
    assert_eq!(payment[1]["time_unix_nanos"], base + 60 * MS);
    assert_eq!(payment[1]["severity_text"], "INFO");
    assert_eq!(payment[1]["severity_number"], 9);
    assert_eq!(payment[1]["attributes"]["tracedojo.order.ref"], "ORD-1");
    assert_eq!(logs_of(3).len(), 1);
    assert!(logs_of(1).is_empty(), "the root wrote nothing");
    let (_, status) = get(ui, "/api/status").await;
    assert_eq!(status["logs_stored"], 5, "{status}");
    f.explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn map_red_and_errors_summarise_the_window() {
    let f = fixture().await;
    let ui = f.explorer.ui_addr();

    let (_, map) = get(ui, "/api/service-map").await;
    let edge = |from: &str, to: &str| {
        map["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .cloned()
            .unwrap_or_else(|| panic!("no edge {from} → {to} in {map}"))
    };
    assert_eq!(edge("frontend", "checkout")["requests"], 15);
    let payment = edge("checkout", "payment");
    assert_eq!(payment["requests"], 15);
    assert_eq!(payment["errors"], 5);
    assert_eq!(payment["p95_ms"], 50.0);
    assert_eq!(edge("checkout", "inventory")["errors"], 15);
    assert_eq!(edge("checkout", "sqlite")["requests"], 45);
    assert_eq!(edge("checkout", "shipping")["requests"], 1);
    let node = |name: &str| {
        map["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["name"] == name)
            .cloned()
            .expect("node")
    };
    assert_eq!(node("payment")["traced"], true);
    assert_eq!(node("inventory")["traced"], false);
    assert!(map["window_seconds"].as_f64().expect("seconds") >= 45.0);

    let (_, red) = get(ui, "/api/red").await;
    let endpoint = red["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["service"] == "payment")
        .cloned()
        .expect("payment endpoint");
    assert_eq!(endpoint["operation"], "POST /charge");
    assert_eq!(endpoint["requests"], 15);
    assert_eq!(endpoint["errors"], 5);
    assert_eq!(endpoint["p50_ms"], 46.0);
    let queries = red["queries"].as_array().expect("queries");
    assert_eq!(queries.len(), 1, "{red}");
    assert_eq!(
        queries[0]["query"],
        "SELECT * FROM cart_items WHERE cart_id = ?"
    );
    assert_eq!(queries[0]["calls"], 45);
    assert_eq!(queries[0]["calls_per_trace"], 3.0);
    assert_eq!(queries[0]["max_calls_per_trace"], 3);
    assert_eq!(queries[0]["db_system"], "sqlite");
    assert_eq!(queries[0]["collection"], "cart_items");
    let (_, only) = get(ui, "/api/red?service=payment").await;
    assert_eq!(only["endpoints"].as_array().expect("rows").len(), 1);
    assert!(only["queries"].as_array().expect("rows").is_empty());
    // Per service: its SERVER and CONSUMER spans together.
    let service = |red: &Value, name: &str| {
        red["services"]
            .as_array()
            .expect("services")
            .iter()
            .find(|r| r["service"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} row in {red}"))
    };
    assert_eq!(service(&red, "payment")["requests"], 15);
    assert_eq!(service(&red, "payment")["errors"], 5);
    assert_eq!(service(&red, "payment")["p50_ms"], 46.0);
    assert_eq!(service(&red, "checkout")["requests"], 15);
    assert_eq!(service(&red, "shipping")["requests"], 1, "the consumer");
    assert_eq!(only["services"].as_array().expect("rows").len(), 1);

    // The same over time: every request in one of the buckets, the empty ones zero.
    let (status, series) = get(ui, "/api/red/series?since=5m&step=1m").await;
    assert_eq!(status, 200, "{series}");
    assert_eq!(series["step_seconds"], 60.0);
    assert_eq!(series["window_seconds"], 300.0);
    let lines = series["series"].as_array().expect("series");
    let names: Vec<&str> = lines.iter().filter_map(|s| s["service"].as_str()).collect();
    assert_eq!(names, ["checkout", "frontend", "payment", "shipping"]);
    let sum = |line: &Value, field: &str| -> u64 {
        let points = line["points"].as_array().expect("points");
        assert_eq!(points.len(), 5, "{line}");
        points.iter().filter_map(|p| p[field].as_u64()).sum()
    };
    assert_eq!(sum(&lines[2], "requests"), 15);
    assert_eq!(sum(&lines[2], "errors"), 5);
    assert!(lines.iter().all(|l| l["operation"].is_null()));
    let (_, endpoint) = get(
        ui,
        "/api/red/series?since=5m&step=1m&service=checkout&operation=POST%20/orders",
    )
    .await;
    let lines = endpoint["series"].as_array().expect("series");
    assert_eq!(lines.len(), 1, "{endpoint}");
    assert_eq!(lines[0]["operation"], "POST /orders");
    assert_eq!(sum(&lines[0], "requests"), 15);
    let points = lines[0]["points"].as_array().expect("points");
    assert!(points.iter().any(|p| p["p95_ms"] == 84.0), "{endpoint}");
    assert!(points.iter().any(|p| p["p95_ms"].is_null()), "{endpoint}");

    let (_, errors) = get(ui, "/api/errors").await;
    assert_eq!(errors["traces"], 16);
    assert_eq!(
        errors["failing_traces"], 15,
        "every checkout has the refused reservation"
    );
    let causes = errors["root_causes"].as_array().expect("causes");
    let cause = |service: &str| {
        causes
            .iter()
            .find(|c| c["service"] == service)
            .cloned()
            .unwrap_or_else(|| panic!("no {service} cause in {errors}"))
    };
    assert_eq!(cause("payment")["traces"], 5);
    assert_eq!(cause("payment")["error_type"], "503");
    assert_eq!(cause("payment")["message"], "gateway overloaded");
    assert_eq!(cause("checkout")["operation"], "POST /reserve");
    assert_eq!(cause("checkout")["traces"], 15);
    assert!(
        causes.iter().all(|c| c["service"] != "frontend"),
        "the root's error is a consequence, not a cause: {causes:?}"
    );

    // Among checkouts, the gold tier is what separates the payment failures.
    let (_, scoped) = get(ui, "/api/errors?service=payment&operation=POST%20/charge").await;
    assert_eq!(scoped["traces"], 15);
    let (_, payment_errors) = get(ui, "/api/errors?service=payment").await;
    assert_eq!(payment_errors["failing_traces"], 15);
    f.explorer.shutdown().await.expect("shutdown");
}

/// A payment call taking `ms`, `minutes_ago` minutes ago.
fn charge(n: u8, minutes_ago: u64, ms: u64) -> TraceBuilder {
    let mut t = TraceBuilder::at(n, now_nanos() - minutes_ago * 60_000 * MS);
    t.span(
        "payment",
        1,
        None,
        "POST /charge",
        SpanKind::Server,
        (0, ms),
        vec![s("http.route", "/charge")],
    );
    t
}

#[tokio::test]
async fn red_counts_the_slow_and_reads_an_earlier_window() {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    // Four quick calls seven minutes ago, four slow ones a minute ago.
    for n in 0..8u8 {
        let (minutes_ago, ms) = if n < 4 {
            (7, 10 + u64::from(n))
        } else {
            (1, 200 + u64::from(n))
        };
        sender
            .export(charge(n, minutes_ago, ms).request_for_tier("silver"))
            .await;
    }
    let ui = sender.ui();
    let row = |red: &Value| red["endpoints"][0].clone();

    let (status, recent) = get(ui, "/api/red?since=5m&slower_than=100ms&slower_than=205ms").await;
    assert_eq!(status, 200, "{recent}");
    let recent = row(&recent);
    assert_eq!(recent["requests"], 4, "{recent}");
    assert_eq!(recent["slower"][0]["threshold_ms"], 100.0);
    assert_eq!(recent["slower"][0]["count"], 4);
    assert_eq!(recent["slower"][1]["threshold_ms"], 205.0);
    assert_eq!(
        recent["slower"][1]["count"], 2,
        "207 and 206 ms; 205 is not longer"
    );

    // The five minutes before the last five: only the quick calls.
    let (status, before) = get(ui, "/api/red?since=5m&offset=5m&slower_than=100ms").await;
    assert_eq!(status, 200, "{before}");
    let before_row = row(&before);
    assert_eq!(before_row["requests"], 4, "{before}");
    assert_eq!(before_row["slower"][0]["count"], 0);
    assert_eq!(before_row["p95_ms"], 13.0);
    // Rates are over the part of the window the store holds: from the first call to the end.
    let seconds = before["window_seconds"].as_f64().expect("seconds");
    assert!((119.0..=121.0).contains(&seconds), "{before}");

    // Without thresholds the rows have no `slower`.
    let (_, plain) = get(ui, "/api/red?since=15m").await;
    assert_eq!(row(&plain)["requests"], 8);
    assert!(row(&plain).get("slower").is_none(), "{plain}");
}

#[tokio::test]
async fn the_separating_attribute_is_the_segment_that_fails() {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 30_000 * MS;
    // 20 silver traces succeed, 6 gold ones fail at payment; no other error.
    for n in 0..26u8 {
        let gold = n >= 20;
        let mut t = TraceBuilder::at(n, base + u64::from(n) * MS);
        t.span(
            "frontend",
            1,
            None,
            "GET /",
            SpanKind::Server,
            (0, 10),
            vec![],
        );
        let pay = t.span(
            "payment",
            2,
            Some(1),
            "POST /charge",
            SpanKind::Server,
            (1, 9),
            vec![],
        );
        if gold {
            pay.status = error_status("declined upstream");
        }
        sender
            .export(t.request_for_tier(if gold { "gold" } else { "silver" }))
            .await;
    }
    let (_, errors) = get(sender.ui(), "/api/errors").await;
    assert_eq!(errors["failing_traces"], 6);
    let top = &errors["attributes"][0];
    assert_eq!(top["key"], "tracedojo.user.tier", "{errors}");
    assert_eq!(top["value"], "gold");
    assert_eq!(top["failing_with"], 6);
    assert_eq!(top["total_with"], 6);
    assert_eq!(top["error_rate_with"], 1.0);
    assert_eq!(top["error_rate_without"], 0.0);
    sender.explorer.shutdown().await.expect("shutdown");
}

/// A declined card: payment answers 402, so checkout's call to it fails; checkout's own
/// server span is not in error (a 4xx is the caller's), yet the frontend's call to checkout
/// fails on the 402 passed back. The failure began at the payment call alone.
#[tokio::test]
async fn a_failure_passed_up_through_a_healthy_server_has_one_root_cause() {
    use SpanKind::{Client, Server};
    let explorer = Explorer::start(ExplorerConfig::local())
        .await
        .expect("explorer starts");
    let mut t = TraceBuilder::at(1, now_nanos() - 10_000 * MS);
    let declined = vec![i("http.response.status_code", 402), s("error.type", "402")];
    t.span(
        "frontend",
        1,
        None,
        "POST /api/checkout",
        Server,
        (0, 50),
        vec![],
    );
    t.span(
        "frontend",
        2,
        Some(1),
        "POST /checkout",
        Client,
        (1, 49),
        declined.clone(),
    )
    .status = error_status("");
    t.span(
        "checkout",
        3,
        Some(2),
        "POST /checkout",
        Server,
        (2, 48),
        vec![],
    );
    t.span(
        "checkout",
        4,
        Some(3),
        "SELECT carts",
        Client,
        (3, 5),
        vec![],
    );
    t.span(
        "checkout",
        5,
        Some(3),
        "POST /payments",
        Client,
        (6, 47),
        declined,
    )
    .status = error_status("");
    t.span(
        "payment",
        6,
        Some(5),
        "POST /payments",
        Server,
        (7, 46),
        vec![],
    );
    assert_eq!(
        post_protobuf(explorer.receiver().http_addr(), &t.request_for_tier("gold")).await,
        200
    );
    let (_, errors) = get(explorer.ui_addr(), "/api/errors").await;
    assert_eq!(errors["failing_traces"], 1);
    let causes: Vec<(&str, &str)> = errors["root_causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| {
            (
                c["service"].as_str().unwrap_or(""),
                c["operation"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(causes, [("checkout", "POST /payments")], "{errors}");
    explorer.shutdown().await.expect("shutdown");
}

/// A consumer that continues its producer's trace (no link) is a queue edge too, counted
/// once; one that is also linked to the producer is not counted twice.
#[tokio::test]
async fn a_consumer_below_its_producer_is_an_edge() {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 10_000 * MS;
    for (n, also_linked) in [(1u8, false), (2, true)] {
        let mut t = TraceBuilder::at(n, base + u64::from(n) * MS);
        t.span(
            "orders",
            1,
            None,
            "publish order",
            SpanKind::Producer,
            (0, 2),
            vec![],
        );
        let link = Link {
            trace_id: t.trace_id.to_vec(),
            span_id: t.id(1),
            ..Default::default()
        };
        let consumer = t.span(
            "mailer",
            2,
            Some(1),
            "process order",
            SpanKind::Consumer,
            (3, 8),
            vec![],
        );
        if also_linked {
            consumer.links.push(link);
        }
        sender.export(t.request_for_tier("silver")).await;
    }
    let (_, map) = get(sender.ui(), "/api/service-map").await;
    let edges = map["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "{map}");
    assert_eq!(edges[0]["from"], "orders");
    assert_eq!(edges[0]["to"], "mailer");
    assert_eq!(edges[0]["requests"], 2, "{map}");
    sender.explorer.shutdown().await.expect("shutdown");
}

/// A call with no traced child is drawn to the service its `service.peer.name` names or, from
/// applications that still send the older attribute, its `peer.service`; either wins over the
/// address the call went to, and the newer name wins over the older one.
#[tokio::test]
async fn an_untraced_callee_is_named_by_service_peer_name_or_else_peer_service() {
    use SpanKind::{Client, Server};
    let explorer = Explorer::start(ExplorerConfig::local())
        .await
        .expect("explorer starts");
    let mut t = TraceBuilder::at(1, now_nanos() - 10_000 * MS);
    t.span("orders", 1, None, "POST /orders", Server, (0, 40), vec![]);
    for (id, name, attributes) in [
        (
            2u8,
            "POST /charge",
            vec![
                s("service.peer.name", "payments"),
                s("server.address", "10.0.0.7"),
            ],
        ),
        (
            3,
            "POST /send",
            vec![s("peer.service", "mailer"), s("server.address", "10.0.0.8")],
        ),
        (
            4,
            "GET /rates",
            vec![
                s("peer.service", "rates-v1"),
                s("service.peer.name", "rates"),
                s("server.address", "10.0.0.9"),
            ],
        ),
    ] {
        let start = u64::from(id) * 10;
        t.span(
            "orders",
            id,
            Some(1),
            name,
            Client,
            (start, start + 5),
            attributes,
        );
    }
    assert_eq!(
        post_protobuf(explorer.receiver().http_addr(), &t.request_for_tier("gold")).await,
        200
    );
    let (_, map) = get(explorer.ui_addr(), "/api/service-map").await;
    let mut edges: Vec<(&str, &str)> = map["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap_or(""),
                e["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    edges.sort();
    assert_eq!(
        edges,
        [
            ("orders", "mailer"),
            ("orders", "payments"),
            ("orders", "rates")
        ],
        "{map}"
    );
    for peer in ["mailer", "payments", "rates"] {
        let node = map["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["name"] == peer)
            .unwrap_or_else(|| panic!("no node {peer} in {map}"));
        assert_eq!(node["traced"], false, "{map}");
    }
    explorer.shutdown().await.expect("shutdown");
}

/// A page elsewhere that points its own domain at 127.0.0.1 (DNS rebinding) sends that
/// domain as `Host`: a loopback explorer refuses it, and answers its loopback names.
#[tokio::test]
async fn a_loopback_explorer_answers_only_loopback_host_names() {
    let explorer = Explorer::start(ExplorerConfig::local())
        .await
        .expect("explorer starts");
    let ui = explorer.ui_addr();
    let port = ui.port();
    // Any port: a tunnel (ssh -L 9000:localhost:8090) brings the explorer to another one.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "localhost:9000".to_owned(),
    ] {
        let (status, _) = get_as(ui, &host, "/api/status").await;
        assert_eq!(status, 200, "{host}");
    }
    for host in [
        format!("rebound.example:{port}"),
        format!("127.0.0.1.rebound.example:{port}"),
    ] {
        let (status, body) = get_as(ui, &host, "/api/traces").await;
        assert_eq!(status, 403, "{host}: {body}");
        let message = body["error"].as_str().expect("an error message");
        assert!(message.contains("--ui-address"), "{message}");
    }
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_queries_get_400s_naming_the_parameter() {
    let explorer = Explorer::start(ExplorerConfig::local())
        .await
        .expect("explorer starts");
    let ui = explorer.ui_addr();
    for (path, parameter, says) in [
        ("/api/traces?min_duration=fast", "min_duration", "150ms"),
        ("/api/traces?min_duration=5parsecs", "min_duration", "unit"),
        (
            "/api/traces?min_duration=2s&max_duration=1s",
            "max_duration",
            "shorter",
        ),
        ("/api/traces?limit=0", "limit", "1 to 1000"),
        ("/api/traces?limit=many", "limit", "1 to 1000"),
        ("/api/traces?attr=gold", "attr", "KEY=VALUE"),
        ("/api/traces?errors=maybe", "errors", "true or false"),
        ("/api/traces?failing=perhaps", "failing", "true or false"),
        ("/api/traces?start=yesterday", "start", "Unix milliseconds"),
        ("/api/traces?since=5m&start=1", "since", "not both"),
        (
            "/api/traces?servce=frontend",
            "query",
            "unknown parameter \\\"servce\\\"",
        ),
        ("/api/service-map?since=30d", "since", "1s to 7d"),
        ("/api/red?since=soon", "since", "duration"),
        ("/api/red?slower_than=quick", "slower_than", "duration"),
        ("/api/red?offset=8d", "offset", "7d"),
        ("/api/red/series?since=30d", "since", "1s to 7d"),
        ("/api/red/series?step=fast", "step", "150ms"),
        ("/api/red/series?step=100ms", "step", "shorter than 1s"),
        ("/api/red/series?since=1h&step=1s", "step", "at least 4s"),
        (
            "/api/red/series?since=5m&step=1h",
            "step",
            "longer than the window",
        ),
        (
            "/api/red/series?operation=GET%20/",
            "operation",
            "give service too",
        ),
        ("/api/red/series?stepp=1m", "query", "takes since, step"),
        (
            "/api/errors?limit=3",
            "query",
            "takes since, service, operation",
        ),
    ] {
        let (status, body) = get(ui, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        let message = body["error"].to_string();
        assert!(message.contains(says), "{path}: {message}");
    }
    let (status, body) = get(ui, "/api/nothing-here").await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("/api/traces")
    );
    // An empty store answers every view.
    for path in [
        "/api/services",
        "/api/traces",
        "/api/service-map",
        "/api/red",
        "/api/red/series",
        "/api/errors",
    ] {
        let (status, body) = get(ui, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn start_refuses_bounds_too_small_and_busy_ports() {
    let too_few = ExplorerConfig {
        receiver: ReceiverConfig {
            max_spans: 10,
            ..ReceiverConfig::local()
        },
        ..ExplorerConfig::local()
    };
    let error = Explorer::start(too_few).await.expect_err("too few spans");
    assert!(matches!(error, ExplorerError::TooFewSpans { given: 10 }));
    assert!(error.to_string().contains("at least 1000"), "{error}");
    let too_small = ExplorerConfig {
        receiver: ReceiverConfig {
            max_bytes: 1024,
            ..ReceiverConfig::local()
        },
        ..ExplorerConfig::local()
    };
    let error = Explorer::start(too_small).await.expect_err("too few bytes");
    assert!(
        error.to_string().contains("too small to hold one trace"),
        "{error}"
    );

    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = busy.local_addr().expect("addr");
    let error = Explorer::start(ExplorerConfig {
        ui_addr: taken,
        ..ExplorerConfig::local()
    })
    .await
    .expect_err("port in use");
    let message = error.to_string();
    assert!(message.contains(&taken.port().to_string()), "{message}");
    assert!(message.contains("already in use"), "{message}");
    // Nothing was left listening on the OTLP ports of the failed start.
    tokio::time::timeout(Duration::from_secs(5), async {
        let again = Explorer::start(ExplorerConfig::local())
            .await
            .expect("starts");
        again.shutdown().await.expect("shutdown");
    })
    .await
    .expect("a later start works");
}

impl TraceBuilder {
    /// [`TraceBuilder::request`] with each service's resource put in a `service.namespace`
    /// (none where `namespace_of` says so).
    fn request_in(
        &self,
        tier: &str,
        namespace_of: impl Fn(&str) -> Option<&'static str>,
    ) -> ExportTraceServiceRequest {
        let mut request = self.request_for_tier(tier);
        for resource_spans in &mut request.resource_spans {
            let resource = resource_spans.resource.as_mut().expect("a resource");
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.clone());
            if let Some(any_value::Value::StringValue(service)) = service
                && let Some(namespace) = namespace_of(&service)
            {
                resource.attributes.push(s("service.namespace", namespace));
            }
        }
        request
    }
}

/// Sorted ids, for comparing sets of traces.
fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Two people send the same shop to one explorer, each under a `service.namespace` of their
/// own: alice has two good and two failing checkouts, bob three good ones and the shipping
/// consumer of his first; one trace is alice's frontend calling bob's checkout, and one has no
/// namespace at all. One of bob's spans carries `service.namespace=alice` as a span
/// attribute, which says nothing of who sent it. Every view, narrowed to one namespace,
/// shows that person's spans and nothing of the other's.
#[tokio::test]
async fn the_namespace_filter_keeps_each_persons_spans_apart() {
    use SpanKind::{Client, Server};
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let ui = sender.ui();
    let base = now_nanos() - 60_000 * MS;
    let at = |n: u8| base + u64::from(n) * 1_000 * MS;

    let mut alice = Vec::new();
    for n in 20..24u8 {
        let trace = checkout(n, at(n), n >= 22);
        sender
            .export(trace.request_in("gold", |_| Some("alice")))
            .await;
        alice.push(trace.hex());
    }
    let mut bob = Vec::new();
    for n in 30..33u8 {
        let mut trace = checkout(n, at(n), false);
        if n == 30 {
            let payment = &mut trace.spans[7].1;
            assert_eq!(payment.name, "POST /charge");
            payment.attributes.push(s("service.namespace", "alice"));
        }
        sender
            .export(trace.request_in("silver", |_| Some("bob")))
            .await;
        bob.push(trace.hex());
    }
    let mut shipping = TraceBuilder::at(34, at(34));
    shipping
        .span(
            "shipping",
            1,
            None,
            "process order.created",
            SpanKind::Consumer,
            (0, 30),
            vec![],
        )
        .links
        .push(Link {
            trace_id: {
                let mut id = [0x5a; 16];
                id[15] = 30;
                id.to_vec()
            },
            span_id: vec![30, 0, 0, 0, 0, 0, 0, 10],
            ..Default::default()
        });
    sender
        .export(shipping.request_in("silver", |_| Some("bob")))
        .await;
    bob.push(shipping.hex());
    // Alice's frontend calls bob's checkout.
    let mut cross = TraceBuilder::at(50, at(50));
    cross.span(
        "frontend",
        1,
        None,
        "POST /checkout",
        Server,
        (0, 20),
        vec![],
    );
    cross.span(
        "frontend",
        2,
        Some(1),
        "POST /orders",
        Client,
        (1, 19),
        vec![s("server.address", "checkout.bob.example")],
    );
    cross.span(
        "checkout",
        3,
        Some(2),
        "POST /orders",
        Server,
        (2, 18),
        vec![],
    );
    sender
        .export(cross.request_in("silver", |service| {
            Some(if service == "frontend" {
                "alice"
            } else {
                "bob"
            })
        }))
        .await;
    alice.push(cross.hex());
    bob.push(cross.hex());
    let nobody = checkout(60, at(60), false);
    sender.export(nobody.request_in("silver", |_| None)).await;

    // Search: the condition holds for one span, its resource's namespace included.
    let (_, body) = get(ui, "/api/traces?namespace=alice").await;
    assert_eq!(sorted(ids(&body)), sorted(alice.clone()), "{body}");
    let (_, body) = get(ui, "/api/traces?namespace=bob").await;
    assert_eq!(sorted(ids(&body)), sorted(bob.clone()), "{body}");
    let (_, body) = get(ui, "/api/traces?namespace=alice&service=checkout").await;
    assert_eq!(sorted(ids(&body)), sorted(alice[..4].to_vec()), "{body}");
    let (_, body) = get(ui, "/api/traces?namespace=alice&service=payment").await;
    assert_eq!(
        sorted(ids(&body)),
        sorted(alice[..4].to_vec()),
        "a span attribute service.namespace is not the resource's: {body}"
    );
    let (_, body) = get(ui, "/api/traces?namespace=carol").await;
    assert!(ids(&body).is_empty(), "{body}");
    let (_, body) = get(ui, "/api/traces?namespace=").await;
    assert_eq!(
        ids(&body).len(),
        10,
        "an empty namespace is no filter: {body}"
    );

    // Service map.
    let edge = |map: &Value, from: &str, to: &str| {
        map["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .cloned()
    };
    let node = |map: &Value, name: &str| {
        map["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["name"] == name)
            .cloned()
    };
    let (_, map) = get(ui, "/api/service-map?namespace=alice").await;
    assert_eq!(
        edge(&map, "frontend", "checkout").expect("edge")["requests"],
        4
    );
    let payment = edge(&map, "checkout", "payment").expect("edge");
    assert_eq!(
        (payment["requests"].clone(), payment["errors"].clone()),
        (4.into(), 2.into())
    );
    assert_eq!(
        edge(&map, "frontend", "checkout.bob.example").expect("the call to bob")["requests"],
        1,
        "{map}"
    );
    assert_eq!(node(&map, "checkout").expect("node")["span_count"], 4 * 7);
    assert!(node(&map, "shipping").is_none(), "{map}");
    let (_, map) = get(ui, "/api/service-map?namespace=bob").await;
    assert_eq!(
        edge(&map, "frontend", "checkout").expect("edge")["requests"],
        3
    );
    assert_eq!(
        edge(&map, "checkout", "shipping").expect("edge")["requests"],
        1
    );
    assert_eq!(
        node(&map, "checkout").expect("node")["span_count"],
        3 * 7 + 1
    );
    assert_eq!(node(&map, "frontend").expect("node")["span_count"], 3 * 2);
    assert!(
        edge(&map, "frontend", "checkout.bob.example").is_none(),
        "{map}"
    );
    let (_, map) = get(ui, "/api/service-map?namespace=carol").await;
    assert_eq!(map["nodes"], Value::Array(vec![]), "{map}");

    // RED.
    let row = |red: &Value, service: &str, operation: &str| {
        red["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["service"] == service && e["operation"] == operation)
            .cloned()
            .unwrap_or_else(|| panic!("no {service} {operation} in {red}"))
    };
    let (_, red) = get(ui, "/api/red?namespace=alice").await;
    let checkouts = row(&red, "frontend", "POST /checkout");
    assert_eq!(
        (checkouts["requests"].clone(), checkouts["errors"].clone()),
        (5.into(), 2.into())
    );
    assert_eq!(row(&red, "checkout", "POST /orders")["requests"], 4);
    assert_eq!(red["queries"][0]["calls"], 4 * 3);
    let (_, red) = get(ui, "/api/red?namespace=bob").await;
    assert_eq!(row(&red, "frontend", "POST /checkout")["requests"], 3);
    assert_eq!(row(&red, "frontend", "POST /checkout")["errors"], 0);
    assert_eq!(row(&red, "checkout", "POST /orders")["requests"], 4);
    assert_eq!(red["queries"][0]["calls"], 3 * 3);
    let (_, red) = get(ui, "/api/red?namespace=bob&service=payment").await;
    assert_eq!(red["endpoints"].as_array().expect("rows").len(), 1, "{red}");
    assert_eq!(row(&red, "payment", "POST /charge")["requests"], 3);
    let (_, red) = get(ui, "/api/red").await;
    assert_eq!(
        row(&red, "frontend", "POST /checkout")["requests"],
        4 + 3 + 1 + 1
    );

    // Errors: traces holding a span of the namespace, read whole.
    let (_, errors) = get(ui, "/api/errors?namespace=alice").await;
    assert_eq!(errors["traces"], 5, "{errors}");
    assert_eq!(
        errors["failing_traces"], 4,
        "the refused reservation fails every checkout"
    );
    let causes = errors["root_causes"].as_array().expect("causes");
    let payment = causes
        .iter()
        .find(|c| c["service"] == "payment")
        .unwrap_or_else(|| panic!("no payment cause in {errors}"));
    assert_eq!(payment["traces"], 2);
    let (_, errors) = get(ui, "/api/errors?namespace=bob").await;
    assert_eq!(errors["traces"], 5, "{errors}");
    assert_eq!(errors["failing_traces"], 3);
    assert!(
        errors["root_causes"]
            .as_array()
            .expect("causes")
            .iter()
            .all(|c| c["service"] != "payment"),
        "{errors}"
    );
    let (_, errors) = get(ui, "/api/errors?namespace=alice&service=checkout").await;
    assert_eq!(
        errors["traces"], 4,
        "bob's checkout in the shared trace is not alice's"
    );
    let (_, errors) = get(ui, "/api/errors?namespace=carol").await;
    assert_eq!(errors["traces"], 0);

    // The lists the UI fills its choices from.
    let names = |body: &Value, list: &str| -> Vec<String> {
        body[list]
            .as_array()
            .expect("list")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let (_, services) = get(ui, "/api/services?namespace=alice").await;
    assert_eq!(
        names(&services, "services"),
        ["checkout", "frontend", "payment"]
    );
    let (_, services) = get(ui, "/api/services?namespace=bob").await;
    assert_eq!(
        names(&services, "services"),
        ["checkout", "frontend", "payment", "shipping"]
    );
    let (_, namespaces) = get(ui, "/api/namespaces").await;
    assert_eq!(
        names(&namespaces, "namespaces"),
        ["alice", "bob"],
        "{namespaces}"
    );
    assert_eq!(namespaces["namespaces"][0]["span_count"], 4 * 10 + 2);
    assert_eq!(
        namespaces["namespaces"][1]["services"],
        serde_json::json!(["checkout", "frontend", "payment", "shipping"])
    );
    let (status, body) = get(ui, "/api/services?namespaces=alice").await;
    assert_eq!(status, 400, "{body}");
    sender.explorer.shutdown().await.expect("shutdown");
}
