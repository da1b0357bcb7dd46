//! The explorer's API over real shop traffic: `tracedojo up` with its default explorer, a
//! fault that fails checkouts for gold customers only, a few purchases per tier — then the
//! views a person (or a workshop check) would use to find the problem: search, the
//! checkout's waterfall, the service map, the RED tables and the error analysis.

use std::time::Duration;

use crate::support::{Shop, buy_approved, client, poll_json, set_fault};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn get(url: &str) -> Value {
    let response = client().get(url).send().await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("JSON")
}

fn names(rows: &Value, field: &str) -> Vec<String> {
    rows.as_array()
        .expect("array")
        .iter()
        .map(|row| row[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_which_customers_a_fault_hits_and_where_it_starts() {
    let shop = Shop::start(&[]);
    let explorer = shop.explorer_url();
    set_fault(
        &shop,
        json!({"fault": {"kind": "errors", "service": "checkout", "status": 503,
                         "message": "order could not be priced"},
               "target": {"route": "/checkout", "attributes": {"tracedojo.user.tier": "gold"}}}),
    )
    .await;
    for n in 0..4 {
        let (status, _) =
            buy_approved(&shop, &format!("gold-{n}"), "tracedojo.user.tier=gold").await;
        assert_eq!(status, 502, "the frontend reports checkout's failure");
        let (status, body) =
            buy_approved(&shop, &format!("silver-{n}"), "tracedojo.user.tier=silver").await;
        assert_eq!(status, 201, "{body}");
    }

    // Every purchase's spans arrive within the exporters' schedule, each service's in its
    // own batches: wait until checkout's failing spans of all four are in, or a trace whose
    // frontend spans came first would show the frontend's call as where it began.
    poll_json(
        &format!("{explorer}/api/traces?service=checkout&errors=true"),
        WAIT,
        |status, body| status == 200 && body["traces"].as_array().map(Vec::len) == Some(4),
    )
    .await;
    let (_, errors) = poll_json(&format!("{explorer}/api/errors"), WAIT, |status, body| {
        status == 200 && body["failing_traces"].as_u64() >= Some(4)
    })
    .await;
    assert_eq!(errors["failing_traces"], 4, "{errors}");
    let top = &errors["attributes"][0];
    assert_eq!(top["key"], "tracedojo.user.tier", "{errors}");
    assert_eq!(top["value"], "gold", "{errors}");
    assert_eq!(top["failing_with"], 4);
    assert_eq!(top["error_rate_without"], 0.0);
    let cause = &errors["root_causes"][0];
    assert_eq!(
        cause["service"], "checkout",
        "the failure begins in checkout: {errors}"
    );
    assert_eq!(cause["traces"], 4, "{errors}");

    // Search: the succeeding checkouts, each one trace across the shop.
    let (_, found) = poll_json(
        &format!(
            "{explorer}/api/traces?service=checkout&attr=tracedojo.user.tier%3Dsilver&limit=10"
        ),
        WAIT,
        |_, body| {
            body["traces"].as_array().is_some_and(|t| {
                t.len() == 4
                    && t.iter()
                        .all(|t| t["services"].as_array().unwrap().len() >= 7)
            })
        },
    )
    .await;
    let traces = found["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 4, "{found}");
    assert!(traces.iter().all(|t| t["error_count"] == 0), "{found}");
    let trace_id = traces[0]["trace_id"].as_str().expect("id");
    let trace = get(&format!("{explorer}/api/traces/{trace_id}")).await;
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(
        spans.len() as u64,
        trace["span_count"].as_u64().expect("count")
    );
    assert!(
        spans.len() >= 30,
        "a checkout is a deep trace: {}",
        spans.len()
    );
    assert_eq!(spans[0]["depth"], 0);
    assert!(
        spans
            .iter()
            .all(|s| !s["parent_missing"].as_bool().unwrap()),
        "every parent arrived"
    );
    let on_path: u64 = spans
        .iter()
        .map(|s| s["critical_path_nanos"].as_u64().expect("nanos"))
        .sum();
    let root = spans[0]["duration_nanos"].as_u64().expect("duration");
    assert_eq!(
        on_path, root,
        "the critical path covers the root's whole duration"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["service"] == "payment" && s["critical_path_nanos"].as_u64() > Some(0)),
        "the payment call is on the critical path"
    );

    // The shipping worker takes each order from the queue in a trace of its own.
    let (_, map) = poll_json(&format!("{explorer}/api/service-map"), WAIT, |_, body| {
        body["edges"].as_array().is_some_and(|edges| {
            edges
                .iter()
                .any(|e| e["from"] == "checkout" && e["to"] == "shipping" && e["requests"] == 8)
        })
    })
    .await;
    let nodes = names(&map["nodes"], "name");
    for service in [
        "frontend",
        "checkout",
        "cart",
        "catalog",
        "inventory",
        "payment",
        "shipping",
    ] {
        assert!(
            nodes.iter().any(|n| n == service),
            "{service} missing: {nodes:?}"
        );
    }
    let edge = |from: &str, to: &str| {
        map["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .cloned()
            .unwrap_or_else(|| panic!("no edge {from} → {to}: {map}"))
    };
    assert_eq!(
        edge("frontend", "checkout")["errors"],
        4,
        "gold checkouts failed"
    );
    assert!(edge("checkout", "payment")["requests"].as_u64() >= Some(4));
    // Four shipping quotes over HTTP and four orders through the queue (gold checkouts failed
    // before either).
    assert_eq!(edge("checkout", "shipping")["requests"], 8);

    let red = get(&format!("{explorer}/api/red")).await;
    let queries = names(&red["queries"], "query");
    assert!(
        queries.iter().any(|q| q.starts_with("SELECT"))
            && queries.iter().any(|q| q.starts_with("INSERT"))
            && queries.iter().any(|q| q.starts_with("UPDATE")),
        "{queries:?}"
    );
    let endpoints = red["endpoints"].as_array().unwrap();
    let checkout = endpoints
        .iter()
        .find(|e| e["service"] == "checkout" && e["operation"] == "POST /checkout")
        .unwrap_or_else(|| panic!("{red}"));
    assert_eq!(checkout["requests"], 8);
    assert_eq!(checkout["errors"], 4);
}
