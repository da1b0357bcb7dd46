//! End to end: `tracedojo up` runs the real shop, a real OTLP receiver collects what it
//! sends, and the traces are checked against the semantic conventions and DESIGN.md.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::{Shop, buy, client};
use tracedojo_explorer::{Receiver, StoredSpan};
use tracedojo_kit::db::Engine;

const WAIT: Duration = Duration::from_secs(30);

/// The frontend's SERVER span of the checkout (each test's shop sees exactly one).
fn checkout_root(spans: &[StoredSpan], _session: &str) -> Option<StoredSpan> {
    spans
        .iter()
        .find(|s| {
            s.service_name() == "frontend" && s.kind == "SERVER" && s.name == "POST /api/checkout"
        })
        .cloned()
}

/// Nothing of the trace is still on its way from another service's batch: every span that
/// names a parent has it, there is a root, and every CLIENT call that got an answer has the
/// callee's SERVER span below it.
fn complete(spans: &[StoredSpan], trace_id: &str) -> bool {
    let trace = trace_of(spans, trace_id);
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let parents: BTreeSet<&str> = trace.iter().map(|s| s.parent_span_id.as_str()).collect();
    trace.iter().any(|s| s.parent_span_id.is_empty())
        && trace
            .iter()
            .all(|s| s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_str()))
        && trace
            .iter()
            .filter(|s| {
                s.kind == "CLIENT" && s.attributes.contains_key("http.response.status_code")
            })
            .all(|client| parents.contains(client.span_id.as_str()))
}

fn trace_of<'a>(spans: &'a [StoredSpan], trace_id: &str) -> Vec<&'a StoredSpan> {
    spans.iter().filter(|s| s.trace_id == trace_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_is_one_trace_across_the_shop() {
    let receiver = Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]);
    let session = "checkout-happy-1";
    let (status, order) = buy(
        &shop,
        session,
        "4242 4242 4242 4242",
        "tracedojo.user.tier=gold,tracedojo.user.region=ap-northeast-1",
    )
    .await;
    assert_eq!(status, 201, "checkout answered {order}");
    assert!(order["order_id"].as_i64().is_some(), "{order}");

    // Everything this test asserts on, so the wait ends exactly when it can.
    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                let Some(root) = checkout_root(spans, session) else {
                    return false;
                };
                let services: BTreeSet<&str> = trace_of(spans, &root.trace_id)
                    .iter()
                    .map(|s| s.service_name())
                    .collect();
                let consumed = spans.iter().any(|s| {
                    s.kind == "CONSUMER" && s.links.iter().any(|l| l.trace_id == root.trace_id)
                });
                services.len() >= 7 && consumed && complete(spans, &root.trace_id)
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let root = checkout_root(&spans, session).unwrap();
    let trace = trace_of(&spans, &root.trace_id);
    let by_id: BTreeMap<&str, &StoredSpan> =
        trace.iter().map(|s| (s.span_id.as_str(), *s)).collect();

    // One trace across at least six services (the design's checkout crosses seven).
    let services: BTreeSet<&str> = trace.iter().map(|s| s.service_name()).collect();
    for expected in [
        "frontend",
        "checkout",
        "cart",
        "catalog",
        "inventory",
        "payment",
        "shipping",
    ] {
        assert!(
            services.contains(expected),
            "{expected} missing from the checkout trace: {services:?}"
        );
    }

    // Nothing orphaned: one root, every other parent is in the trace.
    let roots: Vec<_> = trace
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "roots: {:?}",
        roots.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for span in &trace {
        if !span.parent_span_id.is_empty() {
            assert!(
                by_id.contains_key(span.parent_span_id.as_str()),
                "span {} ({}) has a parent that was never received",
                span.name,
                span.service_name()
            );
        }
    }

    // Every SERVER span below the root is the child of a CLIENT span of its caller.
    for server in trace
        .iter()
        .filter(|s| s.kind == "SERVER" && !s.parent_span_id.is_empty())
    {
        let parent = by_id[server.parent_span_id.as_str()];
        assert_eq!(
            parent.kind, "CLIENT",
            "parent of {} is {} {}",
            server.name, parent.kind, parent.name
        );
        assert_ne!(parent.service_name(), server.service_name());
        assert_eq!(
            parent.attr_str("service.peer.name"),
            Some(server.service_name())
        );
        let route = server.attr_str("http.route").unwrap();
        let method = server.attr_str("http.request.method").unwrap();
        assert_eq!(server.name, format!("{method} {route}"));
        // Where the route's handler is, for code links: a function of the service's crate, in
        // one of its files.
        let crate_name = format!("tracedojo_{}::", server.service_name());
        assert!(
            server
                .attr_str("code.function.name")
                .is_some_and(|f| f.starts_with(&crate_name)),
            "{server:#?}"
        );
        let directory = format!("services/{}/src/", server.service_name());
        assert!(
            server
                .attr_str("code.file.path")
                .is_some_and(|f| f.starts_with(&directory) && f.ends_with(".rs")),
            "{server:#?}"
        );
        assert!(
            server.attr_i64("http.response.status_code").is_some(),
            "{server:#?}"
        );
        assert!(server.attr_str("url.path").is_some());
        assert_eq!(server.attr_str("url.scheme"), Some("http"));
        assert!(server.attr_str("server.address").is_some());
        assert!(
            parent
                .attr_str("url.full")
                .is_some_and(|u| u.starts_with("http://"))
        );
        assert!(parent.attr_str("server.address").is_some());
        assert!(parent.attr_i64("server.port").is_some());
        assert_eq!(parent.attr_str("http.request.method"), Some(method));
        assert!(
            parent.attr_str("code.file.path").is_none() && parent.attr_str("thread.name").is_none()
        );
        // Baggage from the caller arrives everywhere.
        assert_eq!(
            server.attr_str("tracedojo.user.tier"),
            Some("gold"),
            "{} on {}",
            server.name,
            server.service_name()
        );
        assert_eq!(
            server.attr_str("tracedojo.user.region"),
            Some("ap-northeast-1")
        );
        assert!(
            server.attr_str("tracedojo.user.device").is_some(),
            "frontend's own baggage reaches {}",
            server.service_name()
        );
        assert_eq!(
            server.status_code, "UNSET",
            "{} should not be an error",
            server.name
        );
    }
    let checkout_server = trace
        .iter()
        .find(|s| s.service_name() == "checkout" && s.kind == "SERVER")
        .unwrap();
    assert_eq!(checkout_server.name, "POST /checkout");
    assert_eq!(
        checkout_server.attr_i64("http.response.status_code"),
        Some(201)
    );

    // Database spans: named `{operation} {table}` (a COMMIT, which has no table, just
    // `COMMIT`), carrying the query text.
    let db_spans: Vec<_> = trace
        .iter()
        .filter(|s| s.attr_str("db.system.name").is_some())
        .collect();
    let db_services: BTreeSet<&str> = db_spans.iter().map(|s| s.service_name()).collect();
    assert!(db_services.len() >= 3, "DB spans only from {db_services:?}");
    for span in &db_spans {
        assert_eq!(span.kind, "CLIENT");
        assert_eq!(
            span.attr_str("db.system.name"),
            Some(shop.engine().system_name())
        );
        // Where the tables are: SQLite's file, or PostgreSQL's `database|schema` on a server.
        let namespace = span.attr_str("db.namespace").unwrap_or_default();
        match shop.engine() {
            Engine::Sqlite => {
                assert!(
                    !namespace.is_empty() && !namespace.contains('|'),
                    "{namespace}"
                );
                assert_eq!(span.attr_str("server.address"), None);
            }
            Engine::Postgres => {
                assert!(namespace.starts_with("td_shop_"), "{namespace}");
                assert!(namespace.contains('|'), "{namespace}");
                assert_eq!(span.attr_str("server.address"), Some("127.0.0.1"));
                assert!(
                    span.attr_i64("server.port").is_some(),
                    "{:?}",
                    span.attributes
                );
            }
        }
        let text = span.attr_str("db.query.text").unwrap_or_default();
        let operation = span.attr_str("db.operation.name").unwrap();
        assert!(
            text.to_uppercase().contains(operation),
            "{operation} not in {text}"
        );
        match span.attr_str("db.collection.name") {
            Some(table) => assert_eq!(span.name, format!("{operation} {table}")),
            None => assert_eq!((operation, span.name.as_str()), ("COMMIT", "COMMIT")),
        }
    }
    // The order, its lines and its order.created message commit in one transaction.
    assert!(
        db_spans
            .iter()
            .any(|s| s.service_name() == "checkout" && s.name == "COMMIT"),
        "no COMMIT span of checkout's order transaction"
    );

    // The shipping worker's CONSUMER span starts its own trace, linked to the PRODUCER span.
    let producer = trace
        .iter()
        .find(|s| s.kind == "PRODUCER")
        .expect("a PRODUCER span in the checkout trace");
    assert_eq!(producer.service_name(), "checkout");
    let consumer = spans
        .iter()
        .find(|s| s.kind == "CONSUMER" && s.links.iter().any(|l| l.trace_id == root.trace_id))
        .unwrap();
    assert_eq!(consumer.service_name(), "shipping");
    assert_ne!(consumer.trace_id, root.trace_id);
    assert!(consumer.parent_span_id.is_empty());
    assert!(consumer.links.iter().any(|l| l.span_id == producer.span_id));
    assert_eq!(consumer.attr_str("tracedojo.user.tier"), Some("gold"));
    assert_eq!(
        consumer.attr_str("messaging.destination.name"),
        Some(producer.attr_str("messaging.destination.name").unwrap())
    );

    // Every service names itself, with its own instance id and the full resource.
    let mut instance_ids = BTreeMap::new();
    for span in &trace {
        let resource = &span.resource;
        for key in [
            "service.name",
            "service.namespace",
            "service.version",
            "service.instance.id",
            "host.name",
            "deployment.environment.name",
            "telemetry.sdk.language",
        ] {
            assert!(
                resource.contains_key(key),
                "{key} missing on {}",
                span.service_name()
            );
        }
        instance_ids.insert(
            span.service_name().to_string(),
            resource["service.instance.id"].clone(),
        );
    }
    let distinct: BTreeSet<String> = instance_ids.values().map(|v| v.to_string()).collect();
    assert_eq!(
        distinct.len(),
        instance_ids.len(),
        "instance ids shared between services: {instance_ids:?}"
    );

    // RED metrics and correlated logs.
    let metrics = receiver
        .store()
        .wait_for_metrics(
            |metrics| {
                let names: BTreeSet<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
                names.contains("http.server.request.duration")
                    && names.contains("http.client.request.duration")
                    && names.contains("db.client.operation.duration")
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let server_metric = metrics
        .iter()
        .find(|m| m.name == "http.server.request.duration")
        .unwrap();
    assert_eq!(server_metric.kind, "histogram");
    assert_eq!(server_metric.unit, "s");
    let trace_id = root.trace_id.clone();
    receiver
        .store()
        .wait_for_logs(
            |logs| {
                logs.iter()
                    .any(|l| l.trace_id == trace_id && !l.span_id.is_empty())
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("no log correlated with the checkout trace: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_is_an_error_for_the_caller_only_and_grpc_works() {
    let receiver = Receiver::start_local().await.unwrap();
    let endpoint = receiver.grpc_endpoint();
    let shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ]);
    let session = "checkout-declined-1";
    let (status, body) = buy(
        &shop,
        session,
        "4000 0000 0000 0002",
        "tracedojo.user.tier=silver",
    )
    .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"], "payment_declined", "{body}");
    // A path no route matches is a request too: a SERVER span named after the method alone.
    let missing = client()
        .get(format!("{}/no/such/page", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                checkout_root(spans, session).is_some_and(|root| {
                    complete(spans, &root.trace_id)
                        && spans.iter().any(|s| {
                            s.trace_id == root.trace_id
                                && s.service_name() == "inventory"
                                && s.name.contains("release")
                        })
                })
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let root = checkout_root(&spans, session).unwrap();
    let trace = trace_of(&spans, &root.trace_id);

    let payment_server = trace
        .iter()
        .find(|s| s.service_name() == "payment" && s.kind == "SERVER")
        .unwrap();
    assert_eq!(
        payment_server.attr_i64("http.response.status_code"),
        Some(402)
    );
    assert_ne!(
        payment_server.status_code, "ERROR",
        "a decline is not the gateway's error"
    );
    assert!(payment_server.attr_str("error.type").is_none());

    let payment_client = trace
        .iter()
        .find(|s| {
            s.service_name() == "checkout"
                && s.kind == "CLIENT"
                && s.attr_str("service.peer.name") == Some("payment")
        })
        .unwrap();
    assert_eq!(
        payment_client.status_code, "ERROR",
        "a 4xx is an error for the client"
    );
    assert_eq!(payment_client.attr_str("error.type"), Some("402"));
    assert_eq!(
        payment_client.attr_i64("http.response.status_code"),
        Some(402)
    );

    assert_eq!(root.attr_i64("http.response.status_code"), Some(402));
    assert_ne!(root.status_code, "ERROR");
    assert!(
        trace.iter().all(|s| s.kind != "PRODUCER"),
        "no order event after a decline"
    );

    let not_found = receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| {
                    s.service_name() == "frontend"
                        && s.attr_str("url.path") == Some("/no/such/page")
                })
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let not_found = not_found
        .iter()
        .find(|s| s.attr_str("url.path") == Some("/no/such/page"))
        .unwrap();
    assert_eq!(not_found.name, "GET");
    assert_eq!(not_found.kind, "SERVER");
    assert_eq!(not_found.attr_i64("http.response.status_code"), Some(404));
    assert!(not_found.attr_str("http.route").is_none());
    assert_ne!(not_found.status_code, "ERROR");
    assert!(receiver.store().stats().grpc_export_requests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_shows_as_a_connection_error_with_an_exception() {
    let receiver = Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    // Nothing listens on port 9: every call to "inventory" is refused, as when it is down.
    let shop = Shop::start_with(
        &["--no-load", "--external", "inventory=http://127.0.0.1:9"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    assert!(
        shop.stdout.text().contains("(external)"),
        "{}",
        shop.stdout.text()
    );
    let session = "checkout-unreachable-1";
    let (status, body) = buy(
        &shop,
        session,
        "4242424242424242",
        "tracedojo.user.tier=free",
    )
    .await;
    assert_eq!(status, 502, "{body}");

    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                checkout_root(spans, session).is_some_and(|root| {
                    spans.iter().any(|s| {
                        s.trace_id == root.trace_id
                            && s.service_name() == "checkout"
                            && s.kind == "SERVER"
                    })
                })
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let root = checkout_root(&spans, session).unwrap();
    let trace = trace_of(&spans, &root.trace_id);
    let refused = trace
        .iter()
        .find(|s| s.kind == "CLIENT" && s.attr_str("service.peer.name") == Some("inventory"))
        .expect("a CLIENT span for the inventory call");
    assert_eq!(refused.status_code, "ERROR");
    assert_eq!(refused.attr_str("error.type"), Some("connection_refused"));
    assert!(
        refused.attr_i64("http.response.status_code").is_none(),
        "no answer, no status code"
    );
    assert!(
        refused.events.iter().any(|e| e.name == "exception"),
        "{refused:#?}"
    );

    let checkout = trace
        .iter()
        .find(|s| s.service_name() == "checkout" && s.kind == "SERVER")
        .unwrap();
    assert_eq!(checkout.status_code, "ERROR", "a 502 is our error");
    assert_eq!(checkout.attr_str("error.type"), Some("502"));
    let exception = checkout
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("the 502 carries an exception event");
    assert!(exception.attributes.contains_key("exception.message"));
    assert!(exception.attributes.contains_key("exception.type"));
}
