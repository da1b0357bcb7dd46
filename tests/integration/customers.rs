//! The explorer's customers view ("which customers were hit, and how badly?") over real shop
//! traffic: `tracedojo up` with its background load of simulated shoppers, each carrying the
//! company they work for as baggage, then an errors fault in catalog that hits one company's
//! users only. Over the incident's window (from the moment the fault is set), `GET
//! /api/customers` must list that company first, with many failed requests, and the other
//! companies with next to none; then the Customers page in a real headless browser
//! (`tests/browser/customers.mjs`) must show the same ranking and numbers and link to the
//! company's traces. Screenshots land in `tests/artifacts/explorer-customers/`.
//!
//! A second case runs `tracedojo explore --customer-attribute` on its own and sends it spans
//! over OTLP/HTTP: the view groups requests by the attribute it was given.
//!
//! The browser part needs `/usr/bin/chromium` and `npm ci --prefix tests/browser`; without them
//! it says so and is skipped, except under CI (`CI` set), where it fails.

use crate::support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::otlp_json::now_nanos;
use crate::support::{ExplorerProcess, Shop, client, set_fault};
use serde_json::{Value, json};

/// Journeys per second of the background load: every company shops several times a second.
const LOAD_RATE: &str = "20";
/// The company the fault targets: the load generator's most frequent one.
const TARGET: &str = "Contoso";
const COMPANY_KEY: &str = "tracedojo.user.company";
/// The participant the shop runs as: its spans' `service.namespace`.
const NAMESPACE: &str = "customers-ui";
/// Failed requests of the targeted company the incident window must hold, and requests in
/// all: enough for every other company to have had its share.
const ENOUGH_FAILED: u64 = 40;
const ENOUGH_REQUESTS: u64 = 300;
/// The longest the test waits for the failures, and then for the window's spans to arrive.
const WAIT: Duration = Duration::from_secs(150);
const POLL: Duration = Duration::from_millis(250);

fn unix_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("fits")
}

/// `GET path` on the explorer, which must answer 200.
async fn get(explorer: &str, path: &str) -> Value {
    let url = format!("{explorer}{path}");
    let response = client().get(&url).send().await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("JSON")
}

fn rows(customers: &Value) -> &Vec<Value> {
    customers["customers"].as_array().expect("customers")
}

/// `customer: requests/errors` per row, for messages.
fn summary(customers: &Value) -> String {
    rows(customers)
        .iter()
        .map(|c| {
            format!(
                "{}: {} requests, {} failed",
                c["customer"].as_str().unwrap_or(""),
                c["requests"],
                c["errors"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn failed_of(customers: &Value, name: &str) -> u64 {
    rows(customers)
        .iter()
        .find(|c| c["customer"] == name)
        .and_then(|c| c["errors"].as_u64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_one_companys_users_puts_that_company_first() {
    // No screenshot of an earlier run may stand in for this one's.
    let artifacts =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts/explorer-customers");
    let _ = std::fs::remove_dir_all(&artifacts);
    let kit = support::browser_kit("explorer customers browser test");
    let shop = Shop::start_with(&["--load-rate", LOAD_RATE, "--participant", NAMESPACE], &[]);
    let explorer = shop.explorer_url();
    set_fault(
        &shop,
        json!({"fault": {"kind": "errors", "service": "catalog", "status": 503},
               "target": {"attributes": {COMPANY_KEY: TARGET}}}),
    )
    .await;
    // The fault answers once every service runs it: the incident starts here.
    let start = unix_ms();
    let namespace = format!("&namespace={NAMESPACE}");

    let waiting = Instant::now();
    let end = loop {
        let now = unix_ms();
        let answer = get(
            &explorer,
            &format!("/api/customers?start={start}&end={now}{namespace}"),
        )
        .await;
        if failed_of(&answer, TARGET) >= ENOUGH_FAILED
            && answer["requests"].as_u64() >= Some(ENOUGH_REQUESTS)
        {
            eprintln!(
                "{ENOUGH_FAILED} failed requests of {TARGET} and {ENOUGH_REQUESTS} in all after {:.1?}",
                waiting.elapsed()
            );
            break now;
        }
        assert!(
            waiting.elapsed() < WAIT,
            "no {ENOUGH_FAILED} failed requests of {TARGET} and {ENOUGH_REQUESTS} in all within {WAIT:?}: {} requests; {}",
            answer["requests"],
            summary(&answer)
        );
        tokio::time::sleep(POLL).await;
    };

    // The window is closed now; wait until its requests have all arrived: spans that started
    // seconds after its end are stored (each service sends its batch every 100 ms), and two
    // answers in a row agree.
    let window = format!("/api/customers?start={start}&end={end}{namespace}");
    let settling = Instant::now();
    let mut last = Value::Null;
    let incident = loop {
        let status = get(&explorer, "/api/status").await;
        let newest_ms = status["newest_span_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000;
        let answer = get(&explorer, &window).await;
        if newest_ms > end + 3_000 && answer == last {
            break answer;
        }
        assert!(
            settling.elapsed() < WAIT,
            "the window's spans never settled: {answer:#}"
        );
        last = answer;
        tokio::time::sleep(POLL).await;
    };
    eprintln!(
        "incident window of {:.1} s: {} requests, {} affected; {}",
        incident["window_seconds"].as_f64().unwrap_or(0.0),
        incident["requests"],
        incident["affected_requests"],
        summary(&incident)
    );

    let customers = rows(&incident);
    assert_eq!(incident["attribute"], COMPANY_KEY, "{incident:#}");
    assert_eq!(
        customers[0]["customer"],
        TARGET,
        "the targeted company is not first: {}",
        summary(&incident)
    );
    let target = &customers[0];
    assert!(
        target["errors"].as_u64() >= Some(ENOUGH_FAILED),
        "{target:#}"
    );
    assert!(
        target["impact_share"].as_f64() >= Some(0.9),
        "nearly every affected request is the targeted company's: {target:#}"
    );
    // Its failures are where the fault is felt: at the frontend's pages that read the catalog.
    let failing_endpoints: Vec<&Value> = target["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter(|e| e["errors"].as_u64() > Some(0))
        .collect();
    assert!(
        !failing_endpoints.is_empty()
            && failing_endpoints.iter().all(|e| e["service"] == "frontend"),
        "the requests fail at their entry, the frontend: {target:#}"
    );
    assert!(
        target["example_trace_ids"]
            .as_array()
            .is_some_and(|ids| !ids.is_empty()),
        "{target:#}"
    );
    let others: Vec<&Value> = customers.iter().skip(1).collect();
    assert!(
        others.len() >= 3,
        "the load's other companies are there too: {}",
        summary(&incident)
    );
    for other in &others {
        assert!(
            other["error_rate"].as_f64() <= Some(0.05),
            "{} is hardly hit by a fault on {TARGET}'s users: {}",
            other["customer"],
            summary(&incident)
        );
    }
    // The example traces are the company's own failing ones.
    let example = target["example_trace_ids"][0].as_str().expect("an example");
    let trace = get(&explorer, &format!("/api/traces/{example}")).await;
    let spans = trace["spans"].as_array().expect("spans");
    assert!(
        spans
            .iter()
            .any(|s| s["attributes"][COMPANY_KEY] == TARGET && s["status_code"] == "ERROR"),
        "example {example} is not a failing request of {TARGET}: {trace:#}"
    );

    // Another namespace's view holds none of it.
    let elsewhere = get(
        &explorer,
        &format!("/api/customers?start={start}&end={end}&namespace=someone-else"),
    )
    .await;
    assert_eq!(elsewhere["requests"], 0, "{elsewhere:#}");

    if let Some(kit) = kit {
        let out = kit.run(
            "customers.mjs",
            [
                explorer.clone(),
                artifacts.to_string_lossy().into_owned(),
                NAMESPACE.to_owned(),
                start.to_string(),
                end.to_string(),
                TARGET.to_owned(),
            ],
        );
        assert!(out.contains(&format!("\"first\":\"{TARGET}\"")), "{out}");
        support::assert_screenshots(
            &artifacts,
            &[
                "1-customers",
                "2-search",
                "3-failing",
                "4-slower-than",
                "5-other-namespace",
                "6-bad-input",
            ],
        );
    }
    drop(shop);
}

/// A request of one span, in OTLP/HTTP JSON: a SERVER span with a tier and a company.
fn request_span(n: u8, tier: &str, company: &str, failed: bool) -> Value {
    let now = now_nanos();
    json!({
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "storefront"}}
        ]},
        "scopeSpans": [{"spans": [{
            "traceId": format!("{n:032x}"), "spanId": format!("{n:016x}"),
            "name": "GET /", "kind": 2,
            "startTimeUnixNano": (now - 5_000_000).to_string(),
            "endTimeUnixNano": now.to_string(),
            "status": {"code": if failed { 2 } else { 0 }},
            "attributes": [
                {"key": "tracedojo.user.tier", "value": {"stringValue": tier}},
                {"key": COMPANY_KEY, "value": {"stringValue": company}}
            ]
        }]}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_groups_customers_by_the_attribute_it_is_given() {
    let explorer = ExplorerProcess::start(&["--customer-attribute", "tracedojo.user.tier"]);
    let spans: Vec<Value> = [
        ("gold", "Contoso", true),
        ("gold", "Fabrikam", true),
        ("silver", "Contoso", false),
    ]
    .into_iter()
    .zip(1u8..)
    .map(|((tier, company, failed), n)| request_span(n, tier, company, failed))
    .collect();
    explorer.send_traces(&json!({"resourceSpans": spans})).await;
    let (_, by_tier) = support::poll_json(
        &format!("{}/api/customers", explorer.ui),
        Duration::from_secs(10),
        |status, body| status == 200 && body["requests"] == 3,
    )
    .await;
    assert_eq!(by_tier["attribute"], "tracedojo.user.tier", "{by_tier:#}");
    let names: Vec<&str> = rows(&by_tier)
        .iter()
        .map(|c| c["customer"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["gold", "silver"], "{by_tier:#}");
    assert_eq!(rows(&by_tier)[0]["errors"], 2);

    // An attribute that is nothing is refused before anything starts.
    let line = support::failure_line(&["explore", "--customer-attribute", " "], &[]);
    assert!(line.contains("--customer-attribute"), "{line}");
    assert!(line.contains("empty"), "{line}");
}
