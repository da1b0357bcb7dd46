//! `GET /api/customers` over real OTLP ingestion: hand-built traces are exported to a running
//! explorer over OTLP/gRPC, then the customers view is read over HTTP and checked against
//! what the traces must give — one request per entry SERVER span (a trace begun by a client
//! or an internal span counts at its first server, the servers below it not at all), the
//! customer found on the span, its resource or elsewhere in the trace, the ranking by impact
//! with and without `slower_than`, explicit `start`/`end` windows, the `namespace` filter,
//! the requests without a customer, the configured attribute — and bad queries get 400s that
//! name the parameter.

mod common;

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};
use tracedojo_explorer::ExplorerConfig;

use common::http::{Answer, answer, assert_refused};
use common::sender::Sender;
use common::trace::TraceBuilder;
use common::{MS, error_status, now_nanos, s};

/// The customer attribute these traces carry (the explorer's default).
const COMPANY: &str = "tracedojo.user.company";

/// A trace built a span at a time, each span's attributes and status given after it.
struct Trace(TraceBuilder);

impl Trace {
    fn new(n: u8, base: u64) -> Trace {
        Trace(TraceBuilder::at(n, base))
    }

    /// Adds span `id` (under `parent`) of `service`; the builder's last span is what
    /// [`Trace::attr`], [`Trace::failed`] and [`Trace::on_resource`] change.
    fn span(
        &mut self,
        service: &str,
        (id, parent): (u8, Option<u8>),
        name: &str,
        kind: SpanKind,
        times: (u64, u64),
    ) -> &mut Trace {
        self.0
            .span(service, id, parent, name, kind, times, Vec::new());
        self
    }

    /// The last span added, and its service.
    fn last(&mut self) -> (&str, &mut Span) {
        let (service, span) = self.0.spans.last_mut().expect("a span was added");
        (service, span)
    }

    fn attr(&mut self, key: &str, value: &str) -> &mut Trace {
        self.last().1.attributes.push(s(key, value));
        self
    }

    fn failed(&mut self) -> &mut Trace {
        self.last().1.status = error_status("failed");
        self
    }

    /// Puts `key` = `value` on the resource of the last span's service.
    fn on_resource(&mut self, key: &str, value: &str) -> &mut Trace {
        let service = self.last().0.to_owned();
        self.0.resource(&service, vec![s(key, value)]);
        self
    }

    /// Every service's resource gets `service.namespace` = `namespace(service)`.
    fn in_namespace(&mut self, namespace: impl Fn(&str) -> &'static str) -> &mut Trace {
        for service in self.0.services() {
            self.0
                .resource(&service, vec![s("service.namespace", namespace(&service))]);
        }
        self
    }

    fn hex(&self) -> String {
        self.0.hex()
    }

    fn request(&self) -> ExportTraceServiceRequest {
        self.0.request()
    }
}

/// `GET path`, which must answer 200.
async fn customers(addr: SocketAddr, path: &str) -> Value {
    let Answer { status, body, .. } = answer(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The customers' names in the answer's order.
fn names(body: &Value) -> Vec<String> {
    body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["customer"].as_str().expect("name").to_owned())
        .collect()
}

fn customer<'b>(body: &'b Value, name: &str) -> &'b Value {
    body["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .find(|c| c["customer"] == name)
        .unwrap_or_else(|| panic!("no customer {name} in {body:#}"))
}

/// (service, operation, requests, errors) of a customer's endpoints.
fn endpoints(customer: &Value) -> Vec<(String, String, u64, u64)> {
    customer["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["service"].as_str().expect("service").to_owned(),
                e["operation"].as_str().expect("operation").to_owned(),
                e["requests"].as_u64().expect("requests"),
                e["errors"].as_u64().expect("errors"),
            )
        })
        .collect()
}

fn endpoint(
    service: &str,
    operation: &str,
    requests: u64,
    errors: u64,
) -> (String, String, u64, u64) {
    (service.to_owned(), operation.to_owned(), requests, errors)
}

/// Traces of every shape a request can have. Each counts once, at its first server:
///
/// 1. a load generator's CLIENT root calling web (Acme's), which calls api: web's request;
/// 2. a scheduler's INTERNAL root calling jobs, whose customer is on jobs' resource only;
/// 3. web's request with no customer on it: the customer is found on api's span below;
/// 4. a browser's CLIENT root calling web and api at once: two requests, both Acme's;
/// 5. a request carrying no customer anywhere: counted apart;
/// 6. a CLIENT span alone (a call that reached no server): no request at all.
#[tokio::test]
async fn each_request_counts_once_at_its_first_server() {
    use SpanKind::{Client, Internal, Server};
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 60_000 * MS;

    let mut load = Trace::new(1, base);
    load.span("loadgen", (1, None), "GET /home", Client, (0, 50));
    load.span("web", (2, Some(1)), "GET /home", Server, (1, 49))
        .attr(COMPANY, "Acme");
    load.span("web", (3, Some(2)), "GET /products", Client, (5, 40));
    load.span("api", (4, Some(3)), "GET /products", Server, (6, 39))
        .attr(COMPANY, "Acme")
        .failed();
    sender.export(load.request()).await;

    let mut scheduled = Trace::new(2, base + 1_000 * MS);
    scheduled.span("scheduler", (1, None), "nightly run", Internal, (0, 30));
    scheduled.span("scheduler", (2, Some(1)), "POST /jobs", Client, (1, 29));
    scheduled
        .span("jobs", (3, Some(2)), "POST /jobs", Server, (2, 28))
        .on_resource(COMPANY, "Globex")
        .failed();
    sender.export(scheduled.request()).await;

    let mut found_below = Trace::new(3, base + 2_000 * MS);
    found_below.span("web", (1, None), "GET /cart", Server, (0, 20));
    found_below.span("web", (2, Some(1)), "GET /cart", Client, (1, 19));
    found_below
        .span("api", (3, Some(2)), "GET /cart", Server, (2, 18))
        .attr(COMPANY, "Initech");
    sender.export(found_below.request()).await;

    let mut fan_out = Trace::new(4, base + 3_000 * MS);
    fan_out.span("browser", (1, None), "page load", Client, (0, 60));
    fan_out
        .span("web", (2, Some(1)), "GET /home", Server, (1, 30))
        .attr(COMPANY, "Acme");
    fan_out
        .span("api", (3, Some(1)), "GET /recommendations", Server, (2, 59))
        .attr(COMPANY, "Acme");
    sender.export(fan_out.request()).await;

    let mut nobody = Trace::new(5, base + 4_000 * MS);
    nobody
        .span("web", (1, None), "GET /health", Server, (0, 2))
        .failed();
    sender.export(nobody.request()).await;

    let mut unanswered = Trace::new(6, base + 5_000 * MS);
    unanswered
        .span("loadgen", (1, None), "GET /home", Client, (0, 5))
        .attr(COMPANY, "Acme")
        .failed();
    sender.export(unanswered.request()).await;

    let ui = sender.ui();
    let body = customers(ui, "/api/customers").await;
    assert_eq!(body["attribute"], COMPANY, "{body:#}");
    assert_eq!(body["requests"], 6, "{body:#}");
    assert_eq!(body["affected_requests"], 2, "{body:#}");
    assert_eq!(body["customer_count"], 3);
    // Globex's one request failed; Acme's three did not (api's failure is inside web's
    // request, whose own status is fine); Initech's one did not.
    assert_eq!(names(&body), ["Globex", "Acme", "Initech"], "{body:#}");
    let acme = customer(&body, "Acme");
    assert_eq!(
        (acme["requests"].clone(), acme["errors"].clone()),
        (json!(3), json!(0))
    );
    assert_eq!(
        endpoints(acme),
        [
            endpoint("web", "GET /home", 2, 0),
            endpoint("api", "GET /recommendations", 1, 0),
        ]
    );
    assert_eq!(acme["slow"], Value::Null);
    assert_eq!(acme["affected"], 0);
    assert_eq!(acme["impact_share"], 0.0);
    assert_eq!(acme["p95_ms"], 57.0, "the slowest of 48, 29 and 57 ms");
    let mut acme_traces = vec![load.hex(), fan_out.hex()];
    acme_traces.sort();
    let mut examples: Vec<String> = acme["example_trace_ids"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|id| id.as_str().expect("id").to_owned())
        .collect();
    examples.sort();
    assert_eq!(examples, acme_traces, "each trace once");
    let globex = customer(&body, "Globex");
    assert_eq!(endpoints(globex), [endpoint("jobs", "POST /jobs", 1, 1)]);
    assert_eq!(globex["error_rate"], 1.0);
    assert_eq!(globex["impact_share"], 0.5);
    assert_eq!(globex["example_trace_ids"], json!([scheduled.hex()]));
    assert_eq!(
        endpoints(customer(&body, "Initech")),
        [endpoint("web", "GET /cart", 1, 0)],
        "the customer found below is web's request's"
    );
    assert_eq!(
        body["without_customer"],
        json!({"requests": 1, "errors": 1, "affected": 1}),
        "{body:#}"
    );
    sender.explorer.shutdown().await.expect("shutdown");
}

/// Adds `count` requests of `company` to `traces`, one trace each, numbered from `*next`:
/// web's `GET /items` taking `ms` milliseconds, the first `failing` of them failed.
fn requests(
    traces: &mut Vec<Trace>,
    next: &mut u8,
    base: u64,
    company: &str,
    (count, failing): (usize, usize),
    ms: u64,
) {
    for k in 0..count {
        let mut trace = Trace::new(*next, base + u64::from(*next) * 100 * MS);
        trace
            .span("web", (1, None), "GET /items", SpanKind::Server, (0, ms))
            .attr(COMPANY, company);
        if k < failing {
            trace.failed();
        }
        *next += 1;
        traces.push(trace);
    }
}

/// Customers whose requests fail or are slow in different measures: the ranking goes by
/// affected requests, then error rate, then requests, then name; `slower_than` counts the
/// slow ones as affected, which puts a customer with slow but successful requests first.
#[tokio::test]
async fn customers_rank_by_the_requests_that_went_wrong() {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 120_000 * MS;
    let mut traces = Vec::new();
    let mut next = 1;
    // Globex: 10 requests, 5 failed. Initech: 20, 5 failed. Umbrella: 8 slow ones that
    // succeed. Acme and Hooli: 2 quick ones each.
    requests(&mut traces, &mut next, base, "Globex", (10, 5), 20);
    requests(&mut traces, &mut next, base, "Initech", (20, 5), 20);
    requests(&mut traces, &mut next, base, "Umbrella", (1, 0), 20);
    requests(&mut traces, &mut next, base, "Umbrella", (7, 0), 800);
    requests(&mut traces, &mut next, base, "Hooli", (2, 0), 20);
    requests(&mut traces, &mut next, base, "Acme", (2, 0), 20);
    // Initech also uses eleven other endpoints, once each, to overflow its list.
    for n in 0..11u8 {
        let mut trace = Trace::new(next, base + u64::from(next) * 100 * MS);
        trace
            .span(
                "web",
                (1, None),
                &format!("GET /page/{n:02}"),
                SpanKind::Server,
                (0, 5),
            )
            .attr(COMPANY, "Initech");
        next += 1;
        traces.push(trace);
    }
    for trace in &traces {
        sender.export(trace.request()).await;
    }
    let ui = sender.ui();

    let body = customers(ui, "/api/customers").await;
    assert_eq!(
        names(&body),
        ["Globex", "Initech", "Umbrella", "Acme", "Hooli"],
        "{body:#}"
    );
    assert_eq!(body["requests"], 10 + 31 + 8 + 2 + 2);
    assert_eq!(body["affected_requests"], 10);
    let globex = customer(&body, "Globex");
    assert_eq!(globex["error_rate"], 0.5);
    assert_eq!(globex["impact_share"], 0.5);
    // Failing traces first, the newest of them: Globex's fifth, fourth and third.
    let failing: Vec<String> = traces[2..5].iter().rev().map(Trace::hex).collect();
    assert_eq!(globex["example_trace_ids"], json!(failing), "{globex:#}");
    let initech = customer(&body, "Initech");
    assert_eq!(
        (initech["requests"].clone(), initech["errors"].clone()),
        (json!(31), json!(5))
    );
    let listed = endpoints(initech);
    assert_eq!(listed.len(), 10, "at most ten endpoints: {listed:?}");
    assert_eq!(
        listed[0],
        endpoint("web", "GET /items", 20, 5),
        "most used first"
    );
    assert_eq!(listed[1], endpoint("web", "GET /page/00", 1, 0));
    let umbrella = customer(&body, "Umbrella");
    assert_eq!(umbrella["p95_ms"], 800.0);
    assert_eq!(umbrella["slow"], Value::Null);

    // Slower than half a second: Umbrella's seven slow requests rank it first.
    let body = customers(ui, "/api/customers?slower_than=500ms").await;
    assert_eq!(
        names(&body),
        ["Umbrella", "Globex", "Initech", "Acme", "Hooli"],
        "{body:#}"
    );
    assert_eq!(body["affected_requests"], 17);
    let umbrella = customer(&body, "Umbrella");
    assert_eq!(
        (
            umbrella["slow"].clone(),
            umbrella["affected"].clone(),
            umbrella["errors"].clone()
        ),
        (json!(7), json!(7), json!(0))
    );
    assert_eq!(umbrella["impact_share"], 7.0 / 17.0);
    assert_eq!(customer(&body, "Globex")["slow"], 0);
    // Exactly as long is not slower.
    let body = customers(ui, "/api/customers?slower_than=800ms").await;
    assert_eq!(customer(&body, "Umbrella")["slow"], 0, "{body:#}");

    let body = customers(ui, "/api/customers?limit=2").await;
    assert_eq!(names(&body), ["Globex", "Initech"]);
    assert_eq!(body["customer_count"], 5);
    assert_eq!(body["requests"], 53, "the totals are of every customer");
    sender.explorer.shutdown().await.expect("shutdown");
}

/// An incident window chosen with `start` and `end` (Unix ms) counts the requests whose
/// entry span started within it — not every request of a trace that began within it — and
/// `since` goes back from `end`.
#[tokio::test]
async fn start_and_end_choose_the_incident_window() {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let now = now_nanos();
    let minutes_ago = |m: u64| now - m * 60_000 * MS;
    // Ten minutes ago Globex failed; two minutes ago Initech did.
    let requests = [
        ("Globex", minutes_ago(10), true),
        ("Globex", minutes_ago(10) + 1_000 * MS, true),
        ("Initech", minutes_ago(10) + 2_000 * MS, false),
        ("Initech", minutes_ago(2), true),
        ("Globex", minutes_ago(2) + 1_000 * MS, false),
    ];
    for (n, (company, at, fail)) in (1..).zip(requests) {
        let mut trace = Trace::new(n, at);
        trace
            .span("web", (1, None), "GET /items", SpanKind::Server, (0, 10))
            .attr(COMPANY, company);
        if fail {
            trace.failed();
        }
        sender.export(trace.request()).await;
    }
    // A page open for eight minutes: Initech's request at its start, and a failed one of
    // Globex's (a colleague's, same browser) two minutes ago.
    let mut page = Trace::new(6, minutes_ago(10) + 3_000 * MS);
    let later = 8 * 60_000 - 2_000;
    page.span(
        "browser",
        (1, None),
        "page",
        SpanKind::Client,
        (0, later + 20),
    );
    page.span("web", (2, Some(1)), "GET /items", SpanKind::Server, (1, 11))
        .attr(COMPANY, "Initech");
    page.span(
        "web",
        (3, Some(1)),
        "GET /items",
        SpanKind::Server,
        (later, later + 10),
    )
    .attr(COMPANY, "Globex")
    .failed();
    sender.export(page.request()).await;
    let ui = sender.ui();
    let ms = |nanos: u64| nanos / MS;
    let incident = format!(
        "/api/customers?start={}&end={}",
        ms(minutes_ago(11)),
        ms(minutes_ago(9))
    );
    let body = customers(ui, &incident).await;
    assert_eq!(names(&body), ["Globex", "Initech"], "{body:#}");
    assert_eq!(customer(&body, "Globex")["errors"], 2);
    assert_eq!(customer(&body, "Initech")["requests"], 2);
    assert_eq!(body["requests"], 4);
    let seconds = body["window_seconds"].as_f64().expect("seconds");
    assert!(
        (seconds - 60.0).abs() < 0.01,
        "from the first request to the end: {seconds}"
    );

    let body = customers(ui, "/api/customers?since=5m").await;
    assert_eq!(names(&body), ["Initech", "Globex"], "{body:#}");
    assert_eq!(customer(&body, "Globex")["errors"], 1);
    assert_eq!(body["requests"], 3);

    // The five minutes before an end eight minutes ago: the first four requests.
    let body = customers(
        ui,
        &format!("/api/customers?since=5m&end={}", ms(minutes_ago(8))),
    )
    .await;
    assert_eq!(body["requests"], 4, "{body:#}");
    // Everything from eleven minutes ago on.
    let body = customers(ui, &format!("/api/customers?start={}", ms(minutes_ago(11)))).await;
    assert_eq!(body["requests"], 7, "{body:#}");
    sender.explorer.shutdown().await.expect("shutdown");
}

/// Two people send to one explorer under their own `service.namespace`. One trace is
/// alice's web calling bob's api: alice's request, and, narrowed to bob, bob's (his api
/// served it, whoever called). Unnarrowed it counts once, at alice's web.
#[tokio::test]
async fn the_namespace_filter_counts_each_persons_requests() {
    use SpanKind::{Client, Server};
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    let base = now_nanos() - 60_000 * MS;
    let mut alice = Trace::new(1, base);
    alice
        .span("web", (1, None), "GET /home", Server, (0, 10))
        .attr(COMPANY, "Acme")
        .failed();
    alice.in_namespace(|_| "alice");
    sender.export(alice.request()).await;
    let mut bob = Trace::new(2, base + 1_000 * MS);
    bob.span("web", (1, None), "GET /home", Server, (0, 10))
        .attr(COMPANY, "Globex");
    bob.in_namespace(|_| "bob");
    sender.export(bob.request()).await;
    let mut across = Trace::new(3, base + 2_000 * MS);
    across
        .span("web", (1, None), "GET /orders", Server, (0, 20))
        .attr(COMPANY, "Initech");
    across.span("web", (2, Some(1)), "GET /orders", Client, (1, 19));
    across
        .span("api", (3, Some(2)), "GET /orders", Server, (2, 18))
        .attr(COMPANY, "Initech");
    across.in_namespace(|service| if service == "web" { "alice" } else { "bob" });
    sender.export(across.request()).await;
    let ui = sender.ui();

    let body = customers(ui, "/api/customers?namespace=alice").await;
    assert_eq!(names(&body), ["Acme", "Initech"], "{body:#}");
    assert_eq!(
        endpoints(customer(&body, "Initech")),
        [endpoint("web", "GET /orders", 1, 0)]
    );
    let body = customers(ui, "/api/customers?namespace=bob").await;
    assert_eq!(names(&body), ["Globex", "Initech"], "{body:#}");
    assert_eq!(
        endpoints(customer(&body, "Initech")),
        [endpoint("api", "GET /orders", 1, 0)]
    );
    let body = customers(ui, "/api/customers").await;
    assert_eq!(body["requests"], 3, "{body:#}");
    let body = customers(ui, "/api/customers?namespace=carol").await;
    assert_eq!(body["requests"], 0, "{body:#}");
    assert_eq!(body["customers"], json!([]));
    sender.explorer.shutdown().await.expect("shutdown");
}

/// The customer attribute is the explorer's configured one unless a query names another.
#[tokio::test]
async fn the_configured_attribute_names_the_customers() {
    let mut sender = Sender::start(ExplorerConfig {
        customer_attribute: "tenant".into(),
        ..ExplorerConfig::local()
    })
    .await;
    let base = now_nanos() - 60_000 * MS;
    for (n, (tenant, company)) in [("t-1", "Acme"), ("t-2", "Acme"), ("t-2", "Globex")]
        .into_iter()
        .enumerate()
    {
        let n = u8::try_from(n).expect("few");
        let mut trace = Trace::new(n + 1, base + u64::from(n) * 1_000 * MS);
        trace
            .span("web", (1, None), "GET /", SpanKind::Server, (0, 5))
            .attr("tenant", tenant)
            .attr(COMPANY, company);
        sender.export(trace.request()).await;
    }
    let ui = sender.ui();
    let body = customers(ui, "/api/customers").await;
    assert_eq!(body["attribute"], "tenant");
    assert_eq!(names(&body), ["t-2", "t-1"], "{body:#}");
    let body = customers(ui, &format!("/api/customers?attribute={COMPANY}")).await;
    assert_eq!(body["attribute"], COMPANY);
    assert_eq!(names(&body), ["Acme", "Globex"], "{body:#}");
    let body = customers(ui, "/api/customers?attribute=nobody.has.this").await;
    assert_eq!(body["customers"], json!([]));
    assert_eq!(body["without_customer"]["requests"], 3, "{body:#}");
    sender.explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_customer_queries_get_400s_naming_the_parameter() {
    let sender = Sender::start(ExplorerConfig::local()).await;
    let ui = sender.ui();
    for (path, parameter, says) in [
        ("/api/customers?since=30d", "since", "1s to 7d"),
        ("/api/customers?since=soon", "since", "duration"),
        ("/api/customers?slower_than=fast", "slower_than", "150ms"),
        ("/api/customers?slower_than=5parsecs", "slower_than", "unit"),
        ("/api/customers?limit=0", "limit", "1 to 1000"),
        ("/api/customers?limit=1001", "limit", "1 to 1000"),
        (
            "/api/customers?start=yesterday",
            "start",
            "Unix milliseconds",
        ),
        ("/api/customers?end=later", "end", "Unix milliseconds"),
        ("/api/customers?since=5m&start=1", "since", "not both"),
        ("/api/customers?start=2000&end=1000", "end", "before start"),
        (
            "/api/customers?customer=Acme",
            "query",
            "takes since, start, end, attribute, slower_than, namespace, limit",
        ),
    ] {
        let Answer { status, body, .. } = answer(ui, path).await;
        assert_refused(path, (status, body), parameter, says);
    }
    // An empty store answers, with nothing in it.
    let body = customers(ui, "/api/customers").await;
    assert_eq!(
        body,
        json!({
            "window_seconds": 900.0, "attribute": COMPANY, "requests": 0,
            "affected_requests": 0, "customer_count": 0, "customers": [],
            "without_customer": {"requests": 0, "errors": 0, "affected": 0}
        })
    );
    sender.explorer.shutdown().await.expect("shutdown");
}
