//! Pictures in the explorer, end to end. `tracedojo explore` receives a shop's traces and the
//! log records its services write inside their spans (payment's "payment approved" and
//! "payment declined"). The RED series API must count every request the RED tables count,
//! bucket by bucket; the trace API must put each record on the span it was written in; and in
//! a headless Chromium (`tests/browser/pictures.mjs`) the search draws a duration scatter
//! whose dot opens its trace, the RED view draws its charts (and an endpoint's when its row is
//! chosen), and a span's details list its log records. Screenshots land in
//! `tests/artifacts/explorer-pictures/`.
//!
//! The browser part needs `/usr/bin/chromium` and `npm ci --prefix tests/browser` (as
//! `explorer_browser.rs` does); without them it says so and only the API is checked, except
//! under CI, where it fails.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::{ExplorerProcess, Shop, buy, buy_approved, client, poll_json};
use serde_json::Value;

/// How long the shop's spans and log records may take to reach the explorer (their batches
/// leave every 100 ms).
const ARRIVAL: Duration = Duration::from_secs(60);
const CHECKOUT: &str = "POST /api/checkout";

/// The spans of `trace` that carry a log record with this body.
fn spans_logging<'t>(trace: &'t Value, body: &str) -> Vec<&'t Value> {
    trace["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter(|s| {
                    s["logs"]
                        .as_array()
                        .is_some_and(|logs| logs.iter().any(|l| l["body"] == body))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The sum of a field over a series' points.
fn total(series: &Value, field: &str) -> u64 {
    series["points"]
        .as_array()
        .map(|points| points.iter().filter_map(|p| p[field].as_u64()).sum())
        .unwrap_or(0)
}

/// The trace `id` once it is whole and its `body` record has arrived; panics after
/// [`ARRIVAL`] saying what it has.
async fn trace_with_log(ui: &str, id: &str, body: &str) -> Value {
    let url = format!("{ui}/api/traces/{id}");
    let (code, trace) = poll_json(&url, ARRIVAL, |code, trace| {
        code == 200 && support::trace_is_whole(trace) && !spans_logging(trace, body).is_empty()
    })
    .await;
    let logged: Vec<(&Value, &Value)> = trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (&s["service"], &s["logs"]))
        .filter(|(_, logs)| logs.as_array().is_some_and(|l| !l.is_empty()))
        .collect();
    assert!(
        code == 200 && support::trace_is_whole(&trace) && !spans_logging(&trace, body).is_empty(),
        "trace {id} has no whole set of spans with a {body:?} record after {ARRIVAL:?}: {code}; records by span: {logged:?}"
    );
    trace
}

/// `/api/red` and `/api/red/series` over the same spans: the tables read before and after the
/// series must agree (a span arriving in between, a late batch, would make them differ).
async fn red_and_series(ui: &str) -> (Value, Value) {
    let deadline = Instant::now() + ARRIVAL;
    loop {
        let (code, before) = poll_json(&format!("{ui}/api/red"), ARRIVAL, |c, _| c == 200).await;
        assert_eq!(code, 200, "{before}");
        let (code, series) =
            poll_json(&format!("{ui}/api/red/series"), ARRIVAL, |c, _| c == 200).await;
        assert_eq!(code, 200, "{series}");
        let (_, after) = poll_json(&format!("{ui}/api/red"), ARRIVAL, |c, _| c == 200).await;
        // The rates move with the clock (the store is younger than the window); the counts
        // move only when spans arrive.
        let counts = |red: &Value| -> Vec<(Value, Value, Value)> {
            red["services"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["service"].clone(),
                        r["requests"].clone(),
                        r["errors"].clone(),
                    )
                })
                .collect()
        };
        if counts(&before) == counts(&after) {
            return (after, series);
        }
        assert!(
            Instant::now() < deadline,
            "the RED tables kept changing for {ARRIVAL:?}: {before} / {after}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_draws_red_over_time_a_search_scatter_and_span_logs() {
    let kit = support::browser_kit("explorer pictures browser test");
    let explorer = ExplorerProcess::start(&[]);
    let shop = Shop::start_with(
        &["--no-load", "--no-explorer"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", explorer.http.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    let ui = explorer.ui.clone();

    // Three approved checkouts and a declined one, and some product pages.
    for n in 0..3 {
        let (status, body) = buy_approved(&shop, &format!("pictures-{n}"), "").await;
        assert!(status < 300, "approved checkout {n}: {status} {body}");
    }
    let (status, body) = buy(&shop, "pictures-declined", "4000000000000002", "").await;
    assert_eq!(status, 402, "the declined card: {body}");
    for _ in 0..5 {
        let response = client()
            .get(format!("{}/api/products", shop.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    // The four checkouts, searchable.
    let search = format!(
        "{ui}/api/traces?service=frontend&operation={}",
        CHECKOUT.replace(' ', "%20")
    );
    let (code, found) = poll_json(&search, ARRIVAL, |code, body| {
        code == 200 && body["traces"].as_array().is_some_and(|t| t.len() >= 4)
    })
    .await;
    let checkouts = found["traces"].as_array().cloned().unwrap_or_default();
    assert!(
        code == 200 && checkouts.len() == 4,
        "four checkouts within {ARRIVAL:?}: {code} {found}"
    );

    // Log records on the span they were written in: the payment service's, inside the span.
    let started = Instant::now();
    let mut approved = None;
    let mut declined = None;
    for summary in &checkouts {
        let id = summary["trace_id"].as_str().unwrap();
        let failing = summary["error_count"].as_u64() > Some(0);
        let body = if failing {
            "payment declined"
        } else {
            "payment approved"
        };
        let trace = trace_with_log(&ui, id, body).await;
        let spans = spans_logging(&trace, body);
        assert_eq!(spans.len(), 1, "one span of {id} logs {body:?}: {spans:?}");
        let span = spans[0];
        assert_eq!(span["service"], "payment", "{span}");
        let record = span["logs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["body"] == body)
            .unwrap();
        assert_eq!(record["severity_text"], "INFO", "{record}");
        assert_eq!(record["severity_number"], 9, "{record}");
        assert!(
            record["attributes"]["tracedojo.order.ref"].is_string(),
            "the record's fields are its attributes: {record}"
        );
        let time = record["time_unix_nanos"].as_u64().unwrap();
        let (start, end) = (
            span["start_unix_nanos"].as_u64().unwrap(),
            span["end_unix_nanos"].as_u64().unwrap(),
        );
        assert!(
            start <= time && time <= end,
            "the record ({time}) was written inside its span ({start}..{end})"
        );
        // Every span has the list, in time order.
        for span in trace["spans"].as_array().unwrap() {
            let times: Vec<u64> = span["logs"]
                .as_array()
                .unwrap_or_else(|| panic!("a span without a logs list: {span}"))
                .iter()
                .map(|l| l["time_unix_nanos"].as_u64().unwrap())
                .collect();
            assert!(times.is_sorted(), "{span}");
        }
        if failing {
            declined = Some(trace);
        } else {
            approved = Some(trace);
        }
    }
    let approved = approved.expect("an approved checkout");
    assert!(declined.is_some(), "the declined checkout is failing");
    eprintln!(
        "traces and their log records arrived in {:?}",
        started.elapsed()
    );

    // RED over time counts every request the RED tables count, bucket by bucket.
    let (red, series) = red_and_series(&ui).await;
    assert_eq!(series["step_seconds"], 15.0, "the default: 15m in 60 steps");
    assert_eq!(series["window_seconds"], 900.0);
    let lines = series["series"].as_array().expect("series");
    let rows = red["services"].as_array().expect("the services table");
    let mut named: Vec<&str> = rows.iter().filter_map(|r| r["service"].as_str()).collect();
    named.sort_unstable();
    let charted: Vec<&str> = lines.iter().filter_map(|s| s["service"].as_str()).collect();
    assert_eq!(charted, named, "a series for each service of the table");
    for row in rows {
        let line = lines
            .iter()
            .find(|s| s["service"] == row["service"])
            .unwrap();
        assert_eq!(line["points"].as_array().map(Vec::len), Some(60), "{line}");
        assert_eq!(total(line, "requests"), row["requests"], "{row} / {line}");
        assert_eq!(total(line, "errors"), row["errors"], "{row} / {line}");
    }
    for service in ["frontend", "checkout", "payment"] {
        assert!(
            charted.contains(&service),
            "no {service} series: {charted:?}"
        );
    }
    let payment = lines.iter().find(|s| s["service"] == "payment").unwrap();
    assert!(total(payment, "requests") >= 4, "every charge: {payment}");
    assert!(
        payment["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["requests"] == 0 && p["p95_ms"].is_null()),
        "quiet buckets are there, without a p95: {payment}"
    );

    // One endpoint's series: the checkouts.
    let endpoint_url = format!(
        "{ui}/api/red/series?service=frontend&operation={}&since=1h&step=1m",
        CHECKOUT.replace(' ', "%20")
    );
    let (code, endpoint) = poll_json(&endpoint_url, ARRIVAL, |code, _| code == 200).await;
    assert_eq!(code, 200, "{endpoint}");
    let only = endpoint["series"].as_array().expect("series");
    assert_eq!(only.len(), 1, "{endpoint}");
    assert_eq!(only[0]["operation"], CHECKOUT);
    assert_eq!(only[0]["points"].as_array().map(Vec::len), Some(60));
    assert_eq!(total(&only[0], "requests"), 4, "{endpoint}");
    let row = red["endpoints"]
        .as_array()
        .expect("the endpoints table")
        .iter()
        .find(|r| r["service"] == "frontend" && r["operation"] == CHECKOUT)
        .unwrap_or_else(|| panic!("no checkout row: {red}"));
    assert_eq!(
        total(&only[0], "errors"),
        row["errors"],
        "{row} / {endpoint}"
    );
    // A refused step says which parameter and why.
    let response = client()
        .get(format!("{ui}/api/red/series?since=1h&step=1s"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["parameter"], "step", "{refusal}");

    let Some(kit) = kit else {
        return;
    };
    let artifacts = kit.root.join("tests/artifacts/explorer-pictures");
    // No screenshot of an earlier run may stand in for this one's.
    let _ = std::fs::remove_dir_all(&artifacts);
    let approved_id = approved["trace_id"].as_str().unwrap();
    kit.run(
        "pictures.mjs",
        [ui.as_ref(), artifacts.as_os_str(), approved_id.as_ref()],
    );
    support::assert_screenshots(
        &artifacts,
        &["1-search-scatter", "2-trace-logs", "3-red-charts"],
    );
    drop(shop);
    drop(explorer);
}
