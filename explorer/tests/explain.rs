//! `GET /api/traces/{trace_id}/explain` over real OTLP ingestion: hand-built traces of a known
//! shape are exported to a running explorer over OTLP/gRPC, then explained over HTTP. Each
//! trace is built for one rule, with figures worked out by hand in its comment: the entry
//! span (the first SERVER span from the top, else the root), the critical path's shares, where
//! the failure began (the root cause, the callee's answer, a refusal without any span in
//! error, a failure the request survived), the user's segment without identifiers, each DB
//! hint, the objective, `span=` scoping, the sentences in both languages, and bad input.

mod common;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use serde_json::{Value, json};
use tracedojo_explorer::query::explain::LatencyObjective;
use tracedojo_explorer::{Explorer, ExplorerConfig};

use SpanKind::{Client, Consumer, Internal, Server};
use common::http::{assert_refused, get};
use common::sender::{Sender, explorer_with};
use common::trace::TraceBuilder;
use common::{MS, error_status, i, s};

/// A database span's attributes: `db.system.name` and the query's text.
fn query(text: &str) -> Vec<KeyValue> {
    vec![s("db.system.name", "postgresql"), s("db.query.text", text)]
}

/// The explanation of `trace` with `query` (`lang=ja&...`), which must be answered 200.
async fn explain(explorer: &Explorer, trace: &TraceBuilder, query: &str) -> Value {
    let path = format!("/api/traces/{}/explain?{query}", trace.hex());
    let (status, body) = get(explorer.ui_addr(), &path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn summary(body: &Value) -> String {
    body["summary"]
        .as_array()
        .expect("summary")
        .iter()
        .map(|s| s.as_str().expect("a sentence"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// (service, ms) of the critical path's services, ms rounded to whole milliseconds.
fn services_on_path(body: &Value) -> Vec<(String, u64, f64)> {
    body["critical_path"]["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["service"].as_str().expect("service").to_owned(),
                s["ms"].as_f64().expect("ms").round() as u64,
                (s["share"].as_f64().expect("share") * 1000.0).round() / 1000.0,
            )
        })
        .collect()
}

/// A checkout that succeeds, its payment taking most of it, with the cart read three times:
///
/// ```text
/// frontend  SERVER POST /checkout   [0,100]
/// frontend  CLIENT POST /orders     [5,95]
/// checkout  SERVER POST /orders     [8,92]
/// checkout  CLIENT SELECT cart ×3   [10,12] [13,15] [16,18]
/// checkout  CLIENT POST /charge     [20,70]
/// payment   SERVER POST /charge     [22,68]
/// ```
///
/// Critical path (100 ms): the root's 0-5 and 95-100 and its call's 5-8 and 92-95 (frontend
/// 16); checkout's server between its calls, 8-10, 12-13, 15-16, 18-20 and 70-92 (28), the
/// three queries (6) and the charge call around its callee, 20-22 and 68-70 (4): checkout 38;
/// payment's server 22-68: 46.
fn paid_checkout() -> TraceBuilder {
    let mut t = TraceBuilder::new(1);
    t.span(
        "frontend",
        1,
        None,
        "POST /checkout",
        Server,
        (0, 100),
        vec![
            s("http.request.method", "POST"),
            s("http.route", "/checkout"),
            i("http.response.status_code", 201),
            s("shop.user.tier", "silver"),
            s("user.id", "u-4711"),
        ],
    );
    t.span(
        "frontend",
        2,
        Some(1),
        "POST /orders",
        Client,
        (5, 95),
        vec![i("http.response.status_code", 201)],
    );
    t.span(
        "checkout",
        3,
        Some(2),
        "POST /orders",
        Server,
        (8, 92),
        vec![i("http.response.status_code", 201)],
    );
    for (n, start) in [(4, 10), (5, 13), (6, 16)] {
        t.span(
            "checkout",
            n,
            Some(3),
            "SELECT cart",
            Client,
            (start, start + 2),
            query("SELECT * FROM cart WHERE session = $1"),
        );
    }
    t.span(
        "checkout",
        7,
        Some(3),
        "POST /charge",
        Client,
        (20, 70),
        vec![i("http.response.status_code", 200)],
    );
    t.span(
        "payment",
        8,
        Some(7),
        "POST /charge",
        Server,
        (22, 68),
        vec![i("http.response.status_code", 200)],
    );
    t.resource("frontend", vec![s("service.version", "1.0.0")]);
    t
}

#[tokio::test]
async fn the_critical_path_says_where_the_time_went() {
    let paid = paid_checkout();
    let explorer = explorer_with(&[&paid]).await;
    let body = explain(&explorer, &paid, "").await;
    assert_eq!(body["trace_id"], paid.hex());
    assert_eq!(body["lang"], "en");
    assert_eq!(
        body["entry"],
        json!({"service": "frontend", "operation": "POST /checkout",
               "span_id": paid.span_hex(1), "kind": "SERVER", "http_method": "POST",
               "http_route": "/checkout", "http_status_code": 201, "duration_ms": 100.0,
               "outcome": "ok", "chosen_as": "server"})
    );
    assert_eq!(body["outcome"], "ok");
    assert_eq!(body["duration_ms"], 100.0);
    assert_eq!(body["objective"], Value::Null);
    assert_eq!(body["first_failure"], Value::Null);
    let path = services_on_path(&body);
    let total: u64 = path.iter().map(|(_, ms, _)| ms).sum();
    assert_eq!(total, 100, "{path:?}");
    assert_eq!(
        path,
        [
            ("payment".to_owned(), 46, 0.46),
            ("checkout".to_owned(), 38, 0.38),
            ("frontend".to_owned(), 16, 0.16),
        ]
    );
    let spans: Vec<(String, u64)> = body["critical_path"]["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| {
            (
                s["span_id"].as_str().expect("id").to_owned(),
                s["ms"].as_f64().expect("ms").round() as u64,
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            (paid.span_hex(8), 46),
            (paid.span_hex(3), 28),
            (paid.span_hex(1), 10),
            (paid.span_hex(2), 6),
            (paid.span_hex(7), 4),
        ],
        "at most five, largest first"
    );
    assert_eq!(body["critical_path"]["spans"][0]["share"], 0.46);
    let text = summary(&body);
    for said in [
        "POST /checkout on frontend succeeded with 201 in 100 ms.",
        "Critical path by service: payment 46.0 ms (46%), checkout 38.0 ms (38%), frontend 16.0 ms (16%).",
        "The largest step on it is POST /charge on payment: 46.0 ms (46%).",
        "No span failed.",
        "User: tier=silver; frontend runs version 1.0.0.",
        "The same query ran 3 times in checkout (6.00 ms in all), a possible N+1: “SELECT * FROM cart WHERE session = $1”.",
    ] {
        assert!(text.contains(said), "missing {said:?} in:\n{text}");
    }
    assert_eq!(
        body["db_hints"],
        json!([{"kind": "repeated_query", "service": "checkout",
                "query": "SELECT * FROM cart WHERE session = $1", "count": 3, "total_ms": 6.0}]),
        "three runs of one query; together 6 % of the path, not slow"
    );
    explorer.shutdown().await.expect("shutdown");
}

/// A journey of two requests in one trace, its client's span the root:
///
/// ```text
/// loadgen   INTERNAL journey    [0,200]
/// loadgen   CLIENT   GET /a     [10,40]
/// frontend  SERVER   GET /a     [12,38]   ← the entry: the first SERVER span from the top
/// loadgen   CLIENT   GET /b     [50,190]
/// frontend  SERVER   GET /b     [52,188]  (longer, but later)
/// frontend  CLIENT   GET /c     [60,180]
/// catalog   SERVER   GET /c     [62,178]  (has a SERVER span above it)
/// ```
///
/// and a queue's consumer, which has no SERVER span: its root is the entry.
#[tokio::test]
async fn the_entry_is_the_first_server_span_from_the_top_else_the_root() {
    let mut journey = TraceBuilder::new(2);
    let calls = [
        ("loadgen", 1, None, "journey", Internal, (0, 200)),
        ("loadgen", 2, Some(1), "GET /a", Client, (10, 40)),
        ("frontend", 3, Some(2), "GET /a", Server, (12, 38)),
        ("loadgen", 4, Some(1), "GET /b", Client, (50, 190)),
        ("frontend", 5, Some(4), "GET /b", Server, (52, 188)),
        ("frontend", 6, Some(5), "GET /c", Client, (60, 180)),
        ("catalog", 7, Some(6), "GET /c", Server, (62, 178)),
    ];
    for (service, id, parent, name, kind, at) in calls {
        journey.span(service, id, parent, name, kind, at, vec![]);
    }
    let mut consumer = TraceBuilder::new(3);
    consumer.span(
        "shipping",
        1,
        None,
        "process order.created",
        Consumer,
        (0, 30),
        vec![s("messaging.system", "kafka")],
    );
    consumer.span("shipping", 2, Some(1), "ship", Internal, (5, 25), vec![]);
    let explorer = explorer_with(&[&journey, &consumer]).await;

    let body = explain(&explorer, &journey, "").await;
    assert_eq!(body["entry"]["span_id"], journey.span_hex(3), "{body:#}");
    assert_eq!(body["entry"]["chosen_as"], "server");
    assert_eq!(body["duration_ms"], 26.0);
    assert_eq!(body["trace_duration_ms"], 200.0);
    assert_eq!(
        services_on_path(&body),
        [("frontend".to_owned(), 26, 1.0)],
        "the scope is the entry's subtree"
    );
    assert!(
        summary(&body).starts_with("GET /a on frontend completed in 26.0 ms."),
        "{}",
        summary(&body)
    );

    let body = explain(&explorer, &consumer, "lang=ja").await;
    assert_eq!(body["entry"]["span_id"], consumer.span_hex(1));
    assert_eq!(body["entry"]["chosen_as"], "root");
    assert_eq!(body["entry"]["kind"], "CONSUMER");
    assert_eq!(body["entry"]["http_status_code"], Value::Null);
    assert_eq!(body["outcome"], "ok");
    assert!(
        summary(&body).starts_with("shipping の process order.created は 30.0 ms で完了した。"),
        "{}",
        summary(&body)
    );
    explorer.shutdown().await.expect("shutdown");
}

/// The versions each service reports, and the user's attributes: a segment on the span and
/// one on the resource; identifiers and the user agent that must not be named.
fn shop_resources(t: &mut TraceBuilder) {
    t.resource(
        "frontend",
        vec![s("service.version", "1.0.0"), s("app.user.plan", "team")],
    );
    t.resource("checkout", vec![s("service.version", "3.1.0")]);
    t.resource("payment", vec![s("service.version", "2.4.1")]);
}

fn user_attributes() -> Vec<KeyValue> {
    vec![
        s("shop.user.tier", "gold"),
        s("shop.user.region", "eu-west-1"),
        s("user.id", "u-4711"),
        s("enduser.id", "e-4711"),
        s("user.email", "ada@example.com"),
        s("user_agent.original", "curl/8.0"),
    ]
}

/// A declined card: payment answers 402 (not an error at the server), checkout's call to it
/// fails, and so does the frontend's call to checkout; afterwards checkout's notification
/// call fails too (connection refused), a second root cause that ends later.
///
/// ```text
/// frontend  SERVER POST /checkout  [0,50]   402
/// frontend  CLIENT POST /orders    [2,48]   ERROR 402
/// checkout  SERVER POST /orders    [4,46]   402
/// checkout  CLIENT POST /charge    [10,40]  ERROR 402
/// payment   SERVER POST /charge    [12,38]  402, events "charge requested", "card declined"
/// checkout  CLIENT POST /notify    [42,44]  ERROR connection refused
/// ```
fn declined_checkout() -> TraceBuilder {
    let mut t = TraceBuilder::new(4);
    let mut entry = vec![
        s("http.request.method", "POST"),
        s("http.route", "/checkout"),
        i("http.response.status_code", 402),
    ];
    entry.extend(user_attributes());
    t.span(
        "frontend",
        1,
        None,
        "POST /checkout",
        Server,
        (0, 50),
        entry,
    );
    let declined = || vec![i("http.response.status_code", 402), s("error.type", "402")];
    t.span(
        "frontend",
        2,
        Some(1),
        "POST /orders",
        Client,
        (2, 48),
        declined(),
    )
    .status = error_status("");
    t.span(
        "checkout",
        3,
        Some(2),
        "POST /orders",
        Server,
        (4, 46),
        vec![i("http.response.status_code", 402)],
    );
    t.span(
        "checkout",
        4,
        Some(3),
        "POST /charge",
        Client,
        (10, 40),
        declined(),
    )
    .status = error_status("");
    let base = t.base;
    let pay = t.span(
        "payment",
        5,
        Some(4),
        "POST /charge",
        Server,
        (12, 38),
        vec![i("http.response.status_code", 402)],
    );
    for (name, at) in [("charge requested", 13), ("card declined", 30)] {
        pay.events.push(Event {
            name: name.into(),
            time_unix_nano: base + at * MS,
            ..Default::default()
        });
    }
    t.span(
        "checkout",
        6,
        Some(3),
        "POST /notify",
        Client,
        (42, 44),
        vec![s("error.type", "connection_refused")],
    )
    .status = error_status("connection refused");
    shop_resources(&mut t);
    t
}

#[tokio::test]
async fn a_declined_card_began_with_the_callees_answer() {
    let declined = declined_checkout();
    let explorer = explorer_with(&[&declined]).await;
    let body = explain(&explorer, &declined, "").await;
    assert_eq!(body["outcome"], "refused");
    assert_eq!(body["entry"]["outcome"], "refused");
    assert_eq!(
        body["first_failure"],
        json!({"service": "payment", "operation": "POST /charge",
               "span_id": declined.span_hex(5), "kind": "SERVER", "status_code": "UNSET",
               "error_type": null, "status_message": null, "http_status_code": 402,
               "exception": null, "last_event": "card declined", "refused": true,
               "caller": {"service": "checkout", "operation": "POST /charge",
                          "span_id": declined.span_hex(4), "error_type": "402",
                          "http_status_code": 402}}),
        "{body:#}"
    );
    // The segment: the span's and the resource's user attributes by key, no identifier, then
    // the version of the service where the failure began.
    assert_eq!(
        body["segment"],
        json!([{"key": "app.user.plan", "value": "team"},
               {"key": "shop.user.region", "value": "eu-west-1"},
               {"key": "shop.user.tier", "value": "gold"},
               {"key": "service.version", "value": "2.4.1", "service": "payment"}])
    );
    let en = summary(&body);
    for said in [
        "POST /checkout on frontend was refused with 402 after 50.0 ms: not a server error, but the user's request did not go through.",
        "The failure began at POST /charge on payment, which answered 402 (“card declined”); checkout's call to it failed on that answer.",
        "User: plan=team, region=eu-west-1, tier=gold; payment runs version 2.4.1.",
    ] {
        assert!(en.contains(said), "missing {said:?} in:\n{en}");
    }
    let ja = summary(&explain(&explorer, &declined, "lang=ja").await);
    for said in [
        "frontend の POST /checkout は 50.0 ms で 402 を返した。4xx なのでサーバー側のエラーではないが、ユーザーのリクエストは通っていない。",
        "失敗の起点は payment の POST /charge が返した 402（「card declined」）で、これを受けて checkout からの呼び出しが失敗した。",
        "ユーザー: plan=team、region=eu-west-1、tier=gold。payment のバージョンは 2.4.1。",
    ] {
        assert!(ja.contains(said), "missing {said:?} in:\n{ja}");
    }
    for text in [&en, &ja] {
        for private in ["u-4711", "e-4711", "ada@example.com", "curl"] {
            assert!(!text.contains(private), "{private} named in:\n{text}");
        }
    }
    explorer.shutdown().await.expect("shutdown");
}

/// Checkout fails (500, an exception), and the failure climbs to the root: the root cause is
/// checkout's server span, the deepest in error, not the frontend's spans above it.
///
/// ```text
/// frontend  SERVER POST /checkout  [0,20]  ERROR 502, exception ClientError
/// frontend  CLIENT POST /orders    [2,18]  ERROR 500
/// checkout  SERVER POST /orders    [4,16]  ERROR 500, exception PricingError
/// checkout  CLIENT SELECT price    [5,7]
/// ```
fn failing_checkout() -> TraceBuilder {
    let mut t = TraceBuilder::new(5);
    let base = t.base;
    let exception = |kind: &str, message: &str, at: u64| Event {
        name: "exception".into(),
        time_unix_nano: base + at * MS,
        attributes: vec![s("exception.type", kind), s("exception.message", message)],
        ..Default::default()
    };
    let mut entry = vec![i("http.response.status_code", 502), s("error.type", "502")];
    entry.extend(user_attributes());
    let root = t.span(
        "frontend",
        1,
        None,
        "POST /checkout",
        Server,
        (0, 20),
        entry,
    );
    root.status = error_status("");
    root.events
        .push(exception("ClientError", "checkout failed: 500", 19));
    t.span(
        "frontend",
        2,
        Some(1),
        "POST /orders",
        Client,
        (2, 18),
        vec![i("http.response.status_code", 500), s("error.type", "500")],
    )
    .status = error_status("");
    let checkout = t.span(
        "checkout",
        3,
        Some(2),
        "POST /orders",
        Server,
        (4, 16),
        vec![i("http.response.status_code", 500), s("error.type", "500")],
    );
    checkout.status = error_status("");
    checkout
        .events
        .push(exception("PricingError", "order could not be priced", 15));
    // A log line some libraries write as an event of its own name: not the span's last word.
    checkout.events.push(Event {
        name: "request failed".into(),
        time_unix_nano: base + 16 * MS,
        attributes: vec![s("exception.message", "order could not be priced")],
        ..Default::default()
    });
    t.span(
        "checkout",
        4,
        Some(3),
        "SELECT price",
        Client,
        (5, 7),
        query("SELECT price FROM products WHERE id = $1"),
    );
    shop_resources(&mut t);
    t
}

#[tokio::test]
async fn a_failure_began_at_the_deepest_span_in_error_with_its_exception() {
    let failing = failing_checkout();
    let explorer = explorer_with(&[&failing]).await;
    let body = explain(&explorer, &failing, "lang=en").await;
    assert_eq!(body["outcome"], "error");
    assert_eq!(
        body["first_failure"],
        json!({"service": "checkout", "operation": "POST /orders",
               "span_id": failing.span_hex(3), "kind": "SERVER", "status_code": "ERROR",
               "error_type": "500", "status_message": null, "http_status_code": 500,
               "exception": {"type": "PricingError", "message": "order could not be priced"},
               "last_event": null, "refused": false, "caller": null}),
        "{body:#}"
    );
    let segment = body["segment"].as_array().expect("segment");
    assert_eq!(
        segment.last(),
        Some(&json!({"key": "service.version", "value": "3.1.0", "service": "checkout"}))
    );
    let en = summary(&body);
    for said in [
        "POST /checkout on frontend failed with 502 after 20.0 ms.",
        "The failure began at POST /orders on checkout (500): PricingError “order could not be priced”.",
        "User: plan=team, region=eu-west-1, tier=gold; checkout runs version 3.1.0.",
    ] {
        assert!(en.contains(said), "missing {said:?} in:\n{en}");
    }
    let ja = summary(&explain(&explorer, &failing, "lang=ja").await);
    for said in [
        "frontend の POST /checkout は 20.0 ms で失敗した（502）。",
        "失敗の起点は checkout の POST /orders（500）。例外: PricingError「order could not be priced」。",
        "checkout のバージョンは 3.1.0。",
    ] {
        assert!(ja.contains(said), "missing {said:?} in:\n{ja}");
    }

    explorer.shutdown().await.expect("shutdown");

    // A caller that gave up waiting fails first, but its callee failed too: the failure
    // began below, where nothing failed under it.
    let timed_out = timed_out_call();
    let explorer = explorer_with(&[&timed_out]).await;
    let body = explain(&explorer, &timed_out, "").await;
    assert_eq!(
        body["first_failure"]["span_id"],
        timed_out.span_hex(3),
        "{body:#}"
    );
    assert_eq!(
        body["first_failure"]["status_message"],
        "database is locked"
    );
    assert_eq!(body["first_failure"]["caller"], Value::Null);
    explorer.shutdown().await.expect("shutdown");
}

/// A call that times out while its callee goes on and fails later:
///
/// ```text
/// frontend  SERVER GET /orders  [0,40]  ERROR 504
/// frontend  CLIENT GET /orders  [2,30]  ERROR timeout
/// orders    SERVER GET /orders  [4,50]  ERROR 500 "database is locked"
/// ```
fn timed_out_call() -> TraceBuilder {
    let mut t = TraceBuilder::new(9);
    t.span(
        "frontend",
        1,
        None,
        "GET /orders",
        Server,
        (0, 40),
        vec![i("http.response.status_code", 504)],
    )
    .status = error_status("");
    t.span(
        "frontend",
        2,
        Some(1),
        "GET /orders",
        Client,
        (2, 30),
        vec![s("error.type", "timeout")],
    )
    .status = error_status("timed out after 28 ms");
    t.span(
        "orders",
        3,
        Some(2),
        "GET /orders",
        Server,
        (4, 50),
        vec![i("http.response.status_code", 500)],
    )
    .status = error_status("database is locked");
    t
}

/// A request refused without any span in error (an application that marks no 4xx), and one
/// that succeeded although a call inside it failed:
///
/// ```text
/// frontend  SERVER GET /cart            [0,10]  404
/// frontend  CLIENT GET /carts/{id}      [1,9]   404 (status unset)
/// cart      SERVER GET /carts/{id}      [2,8]   404, event "cart not found"
///
/// frontend  SERVER GET /product         [0,30]  200
/// frontend  CLIENT GET /recommendations [2,10]  ERROR timeout
/// frontend  CLIENT GET /product         [12,28] 200
/// catalog   SERVER GET /product         [13,27] 200
/// ```
#[tokio::test]
async fn a_refusal_without_errors_and_a_failure_the_request_survived() {
    let mut refused = TraceBuilder::new(6);
    let not_found = || vec![i("http.response.status_code", 404)];
    refused.span(
        "frontend",
        1,
        None,
        "GET /cart",
        Server,
        (0, 10),
        not_found(),
    );
    refused.span(
        "frontend",
        2,
        Some(1),
        "GET /carts/{id}",
        Client,
        (1, 9),
        not_found(),
    );
    let base = refused.base;
    refused
        .span(
            "cart",
            3,
            Some(2),
            "GET /carts/{id}",
            Server,
            (2, 8),
            not_found(),
        )
        .events
        .push(Event {
            name: "cart not found".into(),
            time_unix_nano: base + 7 * MS,
            ..Default::default()
        });
    let mut survived = TraceBuilder::new(7);
    let ok = || vec![i("http.response.status_code", 200)];
    survived.span("frontend", 1, None, "GET /product", Server, (0, 30), ok());
    survived
        .span(
            "frontend",
            2,
            Some(1),
            "GET /recommendations",
            Client,
            (2, 10),
            vec![s("error.type", "timeout")],
        )
        .status = error_status("deadline exceeded");
    survived.span(
        "frontend",
        3,
        Some(1),
        "GET /product",
        Client,
        (12, 28),
        ok(),
    );
    survived.span(
        "catalog",
        4,
        Some(3),
        "GET /product",
        Server,
        (13, 27),
        ok(),
    );
    let explorer = explorer_with(&[&refused, &survived]).await;

    let body = explain(&explorer, &refused, "").await;
    assert_eq!(body["outcome"], "refused");
    let failure = &body["first_failure"];
    assert_eq!(failure["span_id"], refused.span_hex(3), "{body:#}");
    assert_eq!(
        (
            &failure["status_code"],
            &failure["refused"],
            &failure["caller"]
        ),
        (&json!("UNSET"), &json!(true), &Value::Null)
    );
    assert!(
        summary(&body).contains(
            "No span failed: GET /carts/{id} on cart refused the request with 404 (“cart not found”)."
        ),
        "{}",
        summary(&body)
    );
    let ja = summary(&explain(&explorer, &refused, "lang=ja").await);
    assert!(
        ja.contains("エラーになったスパンはなく、cart の GET /carts/{id} が 404 でリクエストを拒否した（「cart not found」）。"),
        "{ja}"
    );

    let body = explain(&explorer, &survived, "").await;
    assert_eq!(body["outcome"], "ok");
    assert_eq!(body["first_failure"]["span_id"], survived.span_hex(2));
    assert_eq!(body["first_failure"]["error_type"], "timeout");
    assert!(
        summary(&body).contains(
            "The failure began at GET /recommendations on frontend (timeout): “deadline exceeded”. The request still succeeded."
        ),
        "{}",
        summary(&body)
    );
    let ja = summary(&explain(&explorer, &survived, "lang=ja").await);
    assert!(
        ja.contains("失敗の起点は frontend の GET /recommendations（timeout）。メッセージ: 「deadline exceeded」。ただし、リクエスト自体は成功している。"),
        "{ja}"
    );
    explorer.shutdown().await.expect("shutdown");
}

/// A report that reads a lot:
///
/// ```text
/// reports SERVER GET /report        [0,100]
///   SELECT big            [5,40]            35 % of the path: slow
///   SELECT part ×2        [40,56] [56,72]   16 % each, 32 % together: slow
///   SELECT rows           [72,75]           5000 rows (older keys: db.system, db.statement)
///   SELECT few            [75,78]           999 rows: not many
///   SELECT one ×3         [80,81] [82,83] [84,85]  no query text: by span name; repeated
/// ```
#[tokio::test]
async fn database_hints_name_repeats_slow_queries_and_many_rows() {
    let mut t = TraceBuilder::new(8);
    t.span("reports", 1, None, "GET /report", Server, (0, 100), vec![]);
    t.span(
        "reports",
        2,
        Some(1),
        "SELECT big",
        Client,
        (5, 40),
        query("SELECT * FROM big"),
    );
    for (n, start) in [(3, 40), (4, 56)] {
        t.span(
            "reports",
            n,
            Some(1),
            "SELECT part",
            Client,
            (start, start + 16),
            query("SELECT * FROM part WHERE id = $1"),
        );
    }
    t.span(
        "reports",
        5,
        Some(1),
        "SELECT rows",
        Client,
        (72, 75),
        vec![
            s("db.system", "mysql"),
            s("db.statement", "SELECT * FROM rows"),
            i("db.response.returned_rows", 5000),
        ],
    );
    let mut few = query("SELECT * FROM few");
    few.push(i("db.response.returned_rows", 999));
    t.span("reports", 6, Some(1), "SELECT few", Client, (75, 78), few);
    for (n, start) in [(7, 80), (8, 82), (9, 84)] {
        t.span(
            "reports",
            n,
            Some(1),
            "SELECT one",
            Client,
            (start, start + 1),
            vec![s("db.system.name", "sqlite")],
        );
    }
    let explorer = explorer_with(&[&t]).await;
    let body = explain(&explorer, &t, "").await;
    assert_eq!(
        body["db_hints"],
        json!([
            {"kind": "repeated_query", "service": "reports", "query": "SELECT one",
             "count": 3, "total_ms": 3.0},
            {"kind": "slow_query", "service": "reports", "query": "SELECT * FROM big",
             "count": 1, "ms": 35.0, "share": 0.35},
            {"kind": "slow_query", "service": "reports",
             "query": "SELECT * FROM part WHERE id = $1", "count": 2, "ms": 32.0, "share": 0.32},
            {"kind": "many_rows", "service": "reports", "query": "SELECT * FROM rows",
             "span_id": t.span_hex(5), "rows": 5000},
        ]),
        "{body:#}"
    );
    let en = summary(&body);
    for said in [
        "The same query ran 3 times in reports (3.00 ms in all), a possible N+1: “SELECT one”.",
        "A query in reports took 35% of the critical path (35.0 ms): “SELECT * FROM big”.",
        "A query run twice in reports took 32% of the critical path (32.0 ms): “SELECT * FROM part WHERE id = $1”.",
        "A query in reports returned 5,000 rows: “SELECT * FROM rows”.",
    ] {
        assert!(en.contains(said), "missing {said:?} in:\n{en}");
    }
    let ja = summary(&explain(&explorer, &t, "lang=ja").await);
    for said in [
        "reports で同じクエリが 3 回実行されている（計 3.00 ms、N+1 の疑い）: 「SELECT one」。",
        "reports のクエリがクリティカルパスの 35%（35.0 ms）を占めている: 「SELECT * FROM big」。",
        "reports のクエリ（2 回分）がクリティカルパスの 32%（32.0 ms）を占めている: 「SELECT * FROM part WHERE id = $1」。",
        "reports のクエリが 5,000 行を返している: 「SELECT * FROM rows」。",
    ] {
        assert!(ja.contains(said), "missing {said:?} in:\n{ja}");
    }
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_objective_and_a_span_narrow_the_explanation() {
    let paid = paid_checkout();
    let explorer = explorer_with(&[&paid]).await;

    let body = explain(&explorer, &paid, "objective=80ms").await;
    assert_eq!(
        body["objective"],
        json!({"threshold_ms": 80.0, "met": false, "over_ms": 20.0})
    );
    assert!(
        summary(&body).contains("That is 20.0 ms over the 80 ms objective."),
        "{}",
        summary(&body)
    );
    let ja = summary(&explain(&explorer, &paid, "objective=80ms&lang=ja").await);
    assert!(ja.contains("目標の 80 ms を 20.0 ms 超えている。"), "{ja}");

    let body = explain(&explorer, &paid, "objective=1.5s").await;
    assert_eq!(
        body["objective"],
        json!({"threshold_ms": 1500.0, "met": true, "over_ms": 0.0})
    );
    assert!(summary(&body).contains("That is within the 1.5 s objective."));
    let ja = summary(&explain(&explorer, &paid, "objective=100ms&lang=ja").await);
    assert!(ja.contains("目標の 100 ms 以内に収まっている。"), "{ja}");

    // Checkout's server span and below: 84 ms, payment's 46 and checkout's 38 of it.
    let query = format!("span={}&objective=80ms", paid.span_hex(3).to_uppercase());
    let body = explain(&explorer, &paid, &query).await;
    assert_eq!(body["entry"]["span_id"], paid.span_hex(3));
    assert_eq!(body["entry"]["chosen_as"], "span");
    assert_eq!(body["duration_ms"], 84.0);
    assert_eq!(body["objective"]["over_ms"], 4.0);
    let path = services_on_path(&body);
    assert_eq!(
        path,
        [
            (
                "payment".to_owned(),
                46,
                (46.0f64 / 84.0 * 1000.0).round() / 1000.0
            ),
            (
                "checkout".to_owned(),
                38,
                (38.0f64 / 84.0 * 1000.0).round() / 1000.0
            ),
        ]
    );
    assert!(
        summary(&body).starts_with("POST /orders on checkout succeeded with 201 in 84.0 ms."),
        "{}",
        summary(&body)
    );
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_explorers_objectives_are_used_unless_the_query_gives_one() {
    let paid = paid_checkout();
    let mut config = ExplorerConfig::local();
    let objective = |operation: Option<&str>, ms: u64| LatencyObjective {
        service: "frontend".into(),
        operation: operation.map(str::to_owned),
        threshold_nanos: ms * 1_000_000,
    };
    config.latency_objectives = vec![objective(None, 80), objective(Some("POST /checkout"), 150)];
    let mut sender = Sender::start(config).await;
    sender.send(&paid).await;
    let explorer = sender.explorer;

    // The endpoint's own objective wins over its service's.
    let body = explain(&explorer, &paid, "").await;
    assert_eq!(
        body["objective"],
        json!({"threshold_ms": 150.0, "met": true, "over_ms": 0.0})
    );
    // One given in the query wins over both.
    let body = explain(&explorer, &paid, "objective=80ms").await;
    assert_eq!(body["objective"]["threshold_ms"], 80.0);
    // Checkout has none.
    let body = explain(&explorer, &paid, &format!("span={}", paid.span_hex(3))).await;
    assert_eq!(body["objective"], Value::Null);
    explorer.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_parameter() {
    let paid = paid_checkout();
    let explorer = explorer_with(&[&paid]).await;
    let ui = explorer.ui_addr();
    let trace = paid.hex();
    for (path, parameter, says) in [
        (
            "/api/traces/xyz/explain".to_owned(),
            "trace_id",
            "32 hex digits",
        ),
        (
            format!("/api/traces/{trace}/explain?lang=fr"),
            "lang",
            "give en or ja",
        ),
        (
            format!("/api/traces/{trace}/explain?span=12ab"),
            "span",
            "16 hex digits",
        ),
        (
            format!("/api/traces/{trace}/explain?objective=fast"),
            "objective",
            "150ms",
        ),
        (
            format!("/api/traces/{trace}/explain?objective=0"),
            "objective",
            "longer than 0",
        ),
        (
            format!("/api/traces/{trace}/explain?language=ja"),
            "query",
            "this endpoint takes lang, span, objective",
        ),
    ] {
        assert_refused(&path, get(ui, &path).await, parameter, says);
    }
    let unknown = "0123456789abcdef0123456789abcdef";
    let (status, body) = get(ui, &format!("/api/traces/{unknown}/explain")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().expect("error").contains(unknown));
    let stranger = "00000000000000ff";
    let (status, body) = get(ui, &format!("/api/traces/{trace}/explain?span={stranger}")).await;
    assert_eq!(status, 404, "{body}");
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains(&format!("span {stranger} is not in trace {trace}")),
        "{error}"
    );
    explorer.shutdown().await.expect("shutdown");
}
