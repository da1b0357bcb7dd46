//! The separating attributes of `GET /api/errors` over shop-like traffic sent through the
//! explorer's real OTLP/gRPC receiver: 200 traces of browsing and checkouts whose spans carry
//! what the shop's do (routes at two services, URL paths, full URLs with ports, user ids,
//! order and payment references, instance ids, pids, the user's segment), failing for one
//! segment only. The ranking must lead to that segment: routes that mark the same traces are
//! one row, identifiers never appear, and with three failures it says there are too few.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_json::Value;
use tracedojo_explorer::{Explorer, ExplorerConfig};

use common::http::{Answer, answer};
use common::sender::Sender;
use common::{MS, error_status, i, now_nanos, s};

const TRACES: usize = 200;
/// Distinct users: more than a handful, far fewer than the traces (each user shops often).
const USERS: usize = 30;
const WAIT: Duration = Duration::from_secs(10);

const TIERS: [&str; 4] = ["free", "silver", "gold", "platinum"];
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-south-1"];

/// Keys that must never be ranked: per-request and per-process identifiers.
const IDENTIFIERS: &[&str] = &[
    "user.id",
    "url.full",
    "server.port",
    "client.port",
    "tracedojo.order.ref",
    "tracedojo.payment.id",
    "tracedojo.reservation.id",
    "messaging.message.id",
    "service.instance.id",
    "process.pid",
    "http.request.header.x-request-id",
];

/// What fails: checkouts of one segment.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Tier(&'static str),
    Region(&'static str),
    /// The checkout service's canary version, on its resource.
    Version,
}

impl Target {
    /// The (key, value) the analysis should name.
    fn answer(self) -> (&'static str, &'static str) {
        match self {
            Target::Tier(tier) => ("tracedojo.user.tier", tier),
            Target::Region(region) => ("tracedojo.user.region", region),
            Target::Version => ("service.version", "1.1.0"),
        }
    }
}

/// The shop's user of trace `k`, and its segment.
struct User {
    id: String,
    tier: &'static str,
    region: &'static str,
}

fn user(k: usize) -> User {
    let u = k % USERS;
    User {
        id: format!("load-3-{:05}", 600 + u),
        tier: TIERS[u % 4],
        region: REGIONS[(u / 4) % 3],
    }
}

/// Blocks of 40 traces alternate checkouts and browsing, so neither the user's segment nor
/// the canary decides which a trace is.
fn is_checkout(k: usize) -> bool {
    (k / 40).is_multiple_of(2)
}

/// One in seven checkouts reaches checkout's canary, version 1.1.0 (a process of its own).
fn on_canary(k: usize) -> bool {
    k % 7 == 3
}

fn resource(service: &str, version: &str, instance: &str, pid: i64) -> Vec<KeyValue> {
    vec![
        s("service.name", service),
        s("service.version", version),
        s("service.instance.id", instance),
        i("process.pid", pid),
        s("deployment.environment.name", "workshop"),
    ]
}

/// Spans grouped by their resource, as SDKs send them.
#[derive(Default)]
struct Batch {
    by_resource: BTreeMap<String, (Vec<KeyValue>, Vec<Span>)>,
}

impl Batch {
    fn add(&mut self, resource: Vec<KeyValue>, span: Span) {
        let key = format!("{resource:?}");
        self.by_resource
            .entry(key)
            .or_insert_with(|| (resource, Vec::new()))
            .1
            .push(span);
    }

    fn request(self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: self
                .by_resource
                .into_values()
                .map(|(attributes, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        }
    }
}

struct SpanSpec<'a> {
    id: u8,
    parent: Option<u8>,
    name: &'a str,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    failed: bool,
}

/// When span `id` of a trace runs, in milliseconds into the trace: callers enclose their
/// calls, and a checkout's steps follow one another (reserve, charge, then publish or, when
/// the charge failed, release).
fn timing(id: u8) -> (u64, u64) {
    match id {
        1 => (0, 40),
        2 => (1, 39),
        3 => (2, 38),
        // Reserve the stock.
        7 => (3, 8),
        8 => (4, 7),
        // Charge the card.
        4 => (10, 20),
        5 => (11, 19),
        // Publish the order, or release the stock.
        6 => (22, 24),
        9 => (22, 30),
        10 => (23, 29),
        other => panic!("no timing for span {other}"),
    }
}

fn span(k: usize, base: u64, spec: SpanSpec<'_>) -> Span {
    let trace_id = trace_id(k);
    let span_id = |n: u8| {
        let mut id = (k as u64).to_be_bytes().to_vec();
        id[0] = n;
        id
    };
    let (from, to) = timing(spec.id);
    let start = base + k as u64 * 10 * MS;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id(spec.id),
        parent_span_id: spec.parent.map(span_id).unwrap_or_default(),
        name: spec.name.to_owned(),
        kind: spec.kind as i32,
        start_time_unix_nano: start + from * MS,
        end_time_unix_nano: start + to * MS,
        attributes: spec.attributes,
        status: if spec.failed {
            error_status("order could not be priced")
        } else {
            None
        },
        ..Default::default()
    }
}

fn trace_id(k: usize) -> [u8; 16] {
    let mut id = [0x7c; 16];
    id[8..].copy_from_slice(&(k as u64).to_be_bytes());
    id
}

/// The attributes of a SERVER span the shop's kit writes: route, path, full URL with the
/// port, method, request id header, and the user's baggage.
fn server_attributes(route: &str, port: i64, method: &str, k: usize) -> Vec<KeyValue> {
    let user = user(k);
    vec![
        s("http.route", route),
        s("url.path", route),
        s("url.full", &format!("http://127.0.0.1:{port}{route}")),
        s("http.request.method", method),
        i("server.port", port),
        i("client.port", 40_000 + k as i64),
        s("http.request.header.x-request-id", &format!("req-{k:06}")),
        s("user.id", &user.id),
        s("tracedojo.user.tier", user.tier),
        s("tracedojo.user.region", user.region),
    ]
}

/// How a failing checkout fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Failure {
    /// Checkout answers 500 before doing anything, as with a fault in front of its handler.
    AtCheckout,
    /// Payment answers 500 after the stock was reserved; checkout then releases the stock (a
    /// compensation: only failing traces have it, and only after their failure) and answers
    /// 500.
    AtPayment,
}

/// Trace `k`: a checkout (frontend `POST /api/checkout` → checkout `POST /checkout` →
/// inventory reserves the stock → payment, then the order's message) or browsing (frontend
/// `GET /api/products` → catalog `GET /products`). Checkouts with a `failure` fail as it
/// says.
fn add_trace(batch: &mut Batch, k: usize, base: u64, failure: Option<Failure>) {
    use SpanKind::{Client, Producer, Server};
    let failing = failure.is_some();
    let frontend = resource("frontend", "1.0.0", "6f1c0e2a-front", 4101);
    let catalog = resource("catalog", "1.0.0", "0b8e4c11-catal", 4102);
    let payment = resource("payment", "1.0.0", "9a7d3f05-payme", 4104);
    let checkout = if on_canary(k) {
        resource("checkout", "1.1.0", "c4a1b9e7-canary", 4203)
    } else {
        resource("checkout", "1.0.0", "5d2e8a33-check", 4103)
    };
    let inventory = resource("inventory", "1.0.0", "2e6b7d90-inven", 4105);
    let status = |ok: i64| i("http.response.status_code", if failing { 500 } else { ok });
    if !is_checkout(k) {
        let mut root = server_attributes("/api/products", 8080, "GET", k);
        root.push(status(200));
        let spec = |id, parent, name, kind, attributes| SpanSpec {
            id,
            parent,
            name,
            kind,
            attributes,
            failed: false,
        };
        batch.add(
            frontend.clone(),
            span(k, base, spec(1, None, "GET /api/products", Server, root)),
        );
        batch.add(
            frontend,
            span(
                k,
                base,
                spec(
                    2,
                    Some(1),
                    "GET /products",
                    Client,
                    vec![
                        s("url.full", "http://127.0.0.1:8081/products"),
                        s("server.address", "127.0.0.1"),
                        i("server.port", 8081),
                    ],
                ),
            ),
        );
        batch.add(
            catalog,
            span(
                k,
                base,
                spec(
                    3,
                    Some(2),
                    "GET /products",
                    Server,
                    server_attributes("/products", 8081, "GET", k),
                ),
            ),
        );
        return;
    }
    let mut root = server_attributes("/api/checkout", 8080, "POST", k);
    root.push(status(201));
    batch.add(
        frontend.clone(),
        span(
            k,
            base,
            SpanSpec {
                id: 1,
                parent: None,
                name: "POST /api/checkout",
                kind: Server,
                attributes: root,
                failed: failing,
            },
        ),
    );
    batch.add(
        frontend,
        span(
            k,
            base,
            SpanSpec {
                id: 2,
                parent: Some(1),
                name: "POST /checkout",
                kind: Client,
                attributes: vec![
                    s("url.full", "http://127.0.0.1:8085/checkout"),
                    s("server.address", "127.0.0.1"),
                    i("server.port", 8085),
                    status(201),
                ],
                failed: failing,
            },
        ),
    );
    let mut server = server_attributes("/checkout", 8085, "POST", k);
    server.push(status(201));
    server.push(s("tracedojo.order.ref", &format!("ord-{k:06}")));
    batch.add(
        checkout.clone(),
        span(
            k,
            base,
            SpanSpec {
                id: 3,
                parent: Some(2),
                name: "POST /checkout",
                kind: Server,
                attributes: server,
                failed: failing,
            },
        ),
    );
    if failure == Some(Failure::AtCheckout) {
        return;
    }
    let reservation = format!("res-{k:06}");
    let inventory_call = |id, parent, kind, route: &str, path: &str, outcome: &str| {
        let mut attributes = if kind == Server {
            server_attributes(route, 8083, "POST", k)
        } else {
            vec![s("url.full", &format!("http://127.0.0.1:8083{path}"))]
        };
        attributes.retain(|a| a.key != "url.path");
        attributes.push(s("url.path", path));
        attributes.push(s("tracedojo.reservation.id", &reservation));
        if kind == Server {
            attributes.push(s("tracedojo.reservation.outcome", outcome));
        }
        SpanSpec {
            id,
            parent: Some(parent),
            name: if route == "/reservations" {
                "POST /reservations"
            } else {
                "POST /reservations/{reservation_id}/release"
            },
            kind,
            attributes,
            failed: false,
        }
    };
    batch.add(
        checkout.clone(),
        span(
            k,
            base,
            inventory_call(7, 3, Client, "/reservations", "/reservations", ""),
        ),
    );
    batch.add(
        inventory.clone(),
        span(
            k,
            base,
            inventory_call(8, 7, Server, "/reservations", "/reservations", "reserved"),
        ),
    );
    let mut charged = server_attributes("/charge", 8084, "POST", k);
    charged.push(status(201));
    batch.add(
        checkout.clone(),
        span(
            k,
            base,
            SpanSpec {
                id: 4,
                parent: Some(3),
                name: "POST /charge",
                kind: Client,
                attributes: vec![
                    s("url.full", "http://127.0.0.1:8084/charge"),
                    s("tracedojo.payment.id", &format!("pay-{k:06}")),
                    status(201),
                ],
                failed: failing,
            },
        ),
    );
    batch.add(
        payment,
        span(
            k,
            base,
            SpanSpec {
                id: 5,
                parent: Some(4),
                name: "POST /charge",
                kind: Server,
                attributes: charged,
                failed: failing,
            },
        ),
    );
    if failing {
        // The compensation: the stock goes back, after the charge failed.
        let release = "/reservations/{reservation_id}/release";
        let path = format!("/reservations/{reservation}/release");
        batch.add(
            checkout,
            span(k, base, inventory_call(9, 3, Client, release, &path, "")),
        );
        batch.add(
            inventory,
            span(
                k,
                base,
                inventory_call(10, 9, Server, release, &path, "released"),
            ),
        );
        return;
    }
    batch.add(
        checkout,
        span(
            k,
            base,
            SpanSpec {
                id: 6,
                parent: Some(3),
                name: "publish order.created",
                kind: Producer,
                attributes: vec![
                    s("messaging.destination.name", "order.created"),
                    s("messaging.message.id", &format!("msg-{k:06}")),
                ],
                failed: false,
            },
        ),
    );
}

/// GET `path`; the JSON body of a 200.
async fn get_ok(addr: SocketAddr, path: &str) -> Value {
    let Answer { status, head, body } = answer(addr, path).await;
    assert_eq!(status, 200, "{path}: {head}\n{body}");
    body
}

/// An explorer holding the 200 traces, `fails(k)` deciding which checkouts fail (at
/// checkout); returns it with the number of failing traces sent.
async fn shop(fails: impl Fn(usize) -> bool) -> (Explorer, usize) {
    shop_failing(Failure::AtCheckout, fails).await
}

/// [`shop`] with the checkouts failing as `failure` says.
async fn shop_failing(failure: Failure, fails: impl Fn(usize) -> bool) -> (Explorer, usize) {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 60_000 * MS;
    let mut batch = Batch::default();
    let mut failing = 0;
    for k in 0..TRACES {
        let fail = is_checkout(k) && fails(k);
        failing += usize::from(fail);
        add_trace(&mut batch, k, base, fail.then_some(failure));
    }
    let request = batch.request();
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    sender.export(request).await;
    wait_for_spans(sender.ui(), spans).await;
    (sender.explorer, failing)
}

/// Polls `/api/status` until the store holds `spans` spans.
async fn wait_for_spans(ui: SocketAddr, spans: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = get_ok(ui, "/api/status").await;
        if status["spans_stored"].as_u64() == Some(spans as u64) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store never held {spans} spans: {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn rows(errors: &Value) -> &Vec<Value> {
    errors["attributes"].as_array().expect("attributes")
}

/// Every (key, value) a row names, its own and its `same_as`.
fn named(row: &Value) -> Vec<(String, String)> {
    let pair = |v: &Value| {
        (
            v["key"].as_str().expect("key").to_owned(),
            v["value"].as_str().expect("value").to_owned(),
        )
    };
    let mut all = vec![pair(row)];
    all.extend(row["same_as"].as_array().expect("same_as").iter().map(pair));
    all
}

/// No row names an identifier, as its key or among its `same_as`.
fn assert_no_identifiers(errors: &Value) {
    for row in rows(errors) {
        for (key, value) in named(row) {
            assert!(
                !IDENTIFIERS.contains(&key.as_str()),
                "identifier {key}={value} ranked: {errors:#}"
            );
        }
    }
}

fn position(errors: &Value, (key, value): (&str, &str)) -> Option<usize> {
    rows(errors)
        .iter()
        .position(|r| r["key"] == key && r["value"] == value)
}

/// The checkout route's spellings, at the frontend and at checkout, as route and as path.
const CHECKOUT_ROUTE: [(&str, &str); 4] = [
    ("http.route", "/checkout"),
    ("http.route", "/api/checkout"),
    ("url.path", "/checkout"),
    ("url.path", "/api/checkout"),
];

/// The one row naming the checkout route, which names every spelling of it.
fn assert_route_is_one_row(errors: &Value) {
    let with_route: Vec<&Value> = rows(errors)
        .iter()
        .filter(|r| {
            named(r)
                .iter()
                .any(|(k, v)| CHECKOUT_ROUTE.contains(&(k.as_str(), v.as_str())))
        })
        .collect();
    assert_eq!(with_route.len(), 1, "one row for the route: {errors:#}");
    let row = with_route[0];
    assert_eq!(
        row["key"], "http.route",
        "the route's own key leads: {row:#}"
    );
    let names = named(row);
    for spelling in CHECKOUT_ROUTE {
        assert!(
            names
                .iter()
                .any(|(k, v)| (k.as_str(), v.as_str()) == spelling),
            "{spelling:?} in {row:#}"
        );
    }
}

async fn check_target(target: Target, fails: impl Fn(usize) -> bool) {
    let (explorer, failing) = shop(fails).await;
    let ui = explorer.ui_addr();
    assert!(failing >= 10, "{target:?}: {failing} failing checkouts");
    let answer = target.answer();

    let errors = get_ok(ui, "/api/errors").await;
    assert_eq!(errors["traces"], TRACES, "{errors:#}");
    assert_eq!(errors["failing_traces"], failing);
    assert_eq!(errors["too_few_failing_traces"], false);
    assert_eq!(errors["note"], "");
    let at = position(&errors, answer)
        .unwrap_or_else(|| panic!("{target:?}: {answer:?} not ranked: {errors:#}"));
    assert!(at < 3, "{target:?}: {answer:?} is row {at}: {errors:#}");
    let row = &rows(&errors)[at];
    assert_eq!(row["failing_with"], failing, "{row:#}");
    assert_eq!(row["error_rate_without"], 0.0, "{row:#}");
    if target == Target::Version {
        // Only checkouts reach the canary: the route holds its traces and more and fails only
        // where it does, a coarser form of the version, left out.
        assert!(
            rows(&errors).iter().all(|r| named(r)
                .iter()
                .all(|(k, v)| !CHECKOUT_ROUTE.contains(&(k.as_str(), v.as_str())))),
            "{errors:#}"
        );
    } else {
        assert_route_is_one_row(&errors);
    }
    assert_no_identifiers(&errors);

    // Among the checkouts alone, the segment leads.
    let scoped = get_ok(
        ui,
        "/api/errors?service=checkout&operation=POST%20/checkout",
    )
    .await;
    assert_eq!(scoped["failing_traces"], failing);
    assert_eq!(
        position(&scoped, answer),
        Some(0),
        "{target:?}, scoped: {scoped:#}"
    );
    assert_no_identifiers(&scoped);
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn gold_checkouts_failing_lead_to_the_gold_tier() {
    check_target(Target::Tier("gold"), |k| user(k).tier == "gold").await;
}

#[tokio::test]
async fn checkouts_failing_in_one_region_lead_to_the_region() {
    check_target(Target::Region("eu-west-1"), |k| {
        user(k).region == "eu-west-1"
    })
    .await;
}

#[tokio::test]
async fn checkouts_failing_on_the_canary_lead_to_its_version() {
    check_target(Target::Version, on_canary).await;
}

#[tokio::test]
async fn three_failing_traces_are_too_few_to_tell() {
    // The first three gold checkouts fail; the rest succeed.
    let gold_checkouts: Vec<usize> = (0..TRACES)
        .filter(|&k| is_checkout(k) && user(k).tier == "gold")
        .take(3)
        .collect();
    let (explorer, failing) = shop(|k| gold_checkouts.contains(&k)).await;
    assert_eq!(failing, 3);
    let errors = get_ok(explorer.ui_addr(), "/api/errors").await;
    assert_eq!(errors["failing_traces"], 3, "{errors:#}");
    assert_eq!(errors["too_few_failing_traces"], true, "{errors:#}");
    assert_eq!(
        errors["note"],
        "only 3 failing traces in the window; at least 4 are needed to tell which attribute separates them"
    );
    assert!(rows(&errors).is_empty(), "nothing leads: {errors:#}");
    // Where the failures began is still named.
    assert_eq!(
        errors["root_causes"][0]["service"], "checkout",
        "{errors:#}"
    );
    assert_eq!(errors["root_causes"][0]["traces"], 3);
    explorer.shutdown().await.expect("shutdown");
}

/// The compensation's spellings: inventory's route and its outcome, which only failing
/// checkouts have (inventory itself is in every checkout, which reserves the stock first).
const RELEASE: [(&str, &str); 2] = [
    ("http.route", "/reservations/{reservation_id}/release"),
    ("tracedojo.reservation.outcome", "released"),
];

#[tokio::test]
async fn the_stock_released_after_a_failed_charge_is_not_ranked() {
    // Gold checkouts fail at the payment, after the stock was reserved; checkout then
    // releases it. Only failing traces have the release, so it separates them perfectly,
    // but it is there because they failed.
    let (explorer, failing) = shop_failing(Failure::AtPayment, |k| user(k).tier == "gold").await;
    let ui = explorer.ui_addr();
    assert!(failing >= 10, "{failing} failing checkouts");
    let released = get_ok(
        ui,
        "/api/traces?attr=tracedojo.reservation.outcome%3Dreleased&limit=1000",
    )
    .await;
    assert_eq!(
        released["traces"].as_array().map(Vec::len),
        Some(failing),
        "every failing checkout released its stock: {released:#}"
    );

    for path in [
        "/api/errors",
        "/api/errors?service=checkout&operation=POST%20/checkout",
    ] {
        let errors = get_ok(ui, path).await;
        assert_eq!(errors["failing_traces"], failing, "{path}: {errors:#}");
        assert_eq!(
            position(&errors, ("tracedojo.user.tier", "gold")),
            Some(0),
            "{path}: {errors:#}"
        );
        for row in rows(&errors) {
            for (key, value) in named(row) {
                assert!(
                    !RELEASE.contains(&(key.as_str(), value.as_str())),
                    "{path}: the compensation {key}={value} ranked: {errors:#}"
                );
            }
        }
        assert_no_identifiers(&errors);
        // Where the failures began: the payment.
        assert_eq!(
            errors["root_causes"][0]["service"], "payment",
            "{path}: {errors:#}"
        );
        assert_eq!(errors["root_causes"][0]["traces"], failing);
    }
    assert_route_is_one_row(&get_ok(ui, "/api/errors").await);
    explorer.shutdown().await.expect("shutdown");
}
