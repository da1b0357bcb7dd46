//! `tracedojo up` with its explorer, the default a newcomer gets: with nothing configured the
//! services' traces land in the explorer and the shop links to it; with a backend of the
//! user's own, each trace reaches both; `--no-explorer` leaves it out; a busy explorer port
//! is one clear line. Written against `explorer/API.md`.

use crate::support;

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{BIN, Shop, buy_approved, client, poll_json, shop_with_receiver, temp_dir};
use serde_json::{Value, json};

/// How long a trace may take from the purchase to the explorer's API (batches leave every
/// 100 ms in tests; the rest is the slack of a busy machine).
const ARRIVAL: Duration = Duration::from_secs(30);

/// The services a purchase crosses: frontend, cart, catalog, checkout, inventory, payment and
/// shipping (its quote).
const PURCHASE_SERVICES: usize = 7;

fn service_names(trace: &Value) -> Vec<String> {
    trace["services"]
        .as_array()
        .map(|services| {
            services
                .iter()
                .filter_map(|s| s.as_str().or_else(|| s["name"].as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nothing_configured_a_purchase_is_a_whole_trace_in_the_explorer() {
    let shop = Shop::start(&[]);
    let explorer = shop
        .explorer
        .clone()
        .unwrap_or_else(|| panic!("no Explorer: line:\n{}", shop.stdout.text()));
    let summary = shop.stdout.text();
    assert!(
        summary.contains(&format!("Traces: explorer {explorer}")),
        "{summary}"
    );

    let (status, order) = buy_approved(&shop, "explorer-up-1", "tracedojo.user.tier=gold").await;
    assert_eq!(status, 201, "{order}");

    let search = format!("{explorer}/api/traces?service=frontend&limit=50");
    let whole = |traces: &Value| {
        traces["traces"].as_array().is_some_and(|traces| {
            traces
                .iter()
                .any(|t| service_names(t).len() >= PURCHASE_SERVICES)
        })
    };
    let (code, traces) = poll_json(&search, ARRIVAL, |code, body| code == 200 && whole(body)).await;
    assert_eq!(code, 200, "GET {search}: {traces}");
    assert!(
        whole(&traces),
        "no trace with spans from {PURCHASE_SERVICES} services: {traces}"
    );

    // The shop page links to the explorer.
    let page = client()
        .get(format!("{}/", shop.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("href=\"{explorer}/\"")),
        "no link to {explorer} on the shop page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_links_to_the_purchase_trace_in_the_explorer() {
    let shop = Shop::start(&[]);
    let explorer = shop.explorer.clone().expect("the explorer runs by default");
    let session = "explorer-up-order";
    let http = client();
    let added = http
        .post(format!("{}/api/cart/items", shop.url))
        .header("x-session-id", session)
        .json(&json!({"product_id": 5, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success());
    // The page's checkout form, as a browser posts it, without following the redirect.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let placed = no_redirect
        .post(format!("{}/checkout", shop.url))
        .header("cookie", format!("td_session={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4242+4242+4242+4242&email=a%40example.com&region=us-east-1")
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 303);
    let location = placed.headers()["location"].to_str().unwrap().to_string();
    let page = http
        .get(format!("{}{location}", shop.url))
        .header("cookie", format!("td_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("{explorer}/#/trace/");
    let trace_id: String = page
        .split(&prefix)
        .nth(1)
        .unwrap_or_else(|| panic!("no link to a trace on the order page:\n{page}"))
        .chars()
        .take(32)
        .collect();
    assert!(page.contains("See this order&#39;s trace"), "{page}");

    let url = format!("{explorer}/api/traces/{trace_id}");
    let (code, trace) = poll_json(&url, ARRIVAL, |code, body| {
        code == 200 && service_names(body).len() >= PURCHASE_SERVICES
    })
    .await;
    assert_eq!(code, 200, "GET {url}: {trace}");
    assert!(
        service_names(&trace).len() >= PURCHASE_SERVICES,
        "the linked trace is not the purchase: {trace}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_backend_set_the_backend_and_the_explorer_get_the_same_trace() {
    let (shop, receiver) = shop_with_receiver(&["--no-load"]).await;
    let explorer = shop
        .explorer
        .clone()
        .expect("the explorer runs beside a backend");
    let summary = shop.stdout.text();
    assert!(
        summary.contains(&receiver.http_endpoint()) && summary.contains("and explorer"),
        "the summary names both destinations:\n{summary}"
    );

    let (status, order) =
        buy_approved(&shop, "explorer-up-dual", "tracedojo.user.tier=silver").await;
    assert_eq!(status, 201, "{order}");
    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| {
                    s.service_name() == "frontend"
                        && s.kind == "SERVER"
                        && s.name == "POST /api/checkout"
                })
            },
            ARRIVAL,
        )
        .await
        .unwrap_or_else(|e| panic!("the backend got no checkout: {e}"));
    let trace_id = spans
        .iter()
        .find(|s| s.service_name() == "frontend" && s.name == "POST /api/checkout")
        .unwrap()
        .trace_id
        .clone();

    let url = format!("{explorer}/api/traces/{trace_id}");
    let (code, trace) = poll_json(&url, ARRIVAL, |code, body| {
        code == 200 && service_names(body).len() >= PURCHASE_SERVICES
    })
    .await;
    assert_eq!(
        code, 200,
        "the explorer lacks the backend's trace {trace_id}: {trace}"
    );
    assert_eq!(trace["trace_id"], trace_id);

    // Each service counts its two destinations apart.
    let health: Value = client()
        .get(format!("{}/health", shop.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        health["telemetry"]["explorer"]["spans_failed"].is_u64(),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_explorer_means_none_is_started_and_nothing_links_to_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let shop = Shop::start_with(
        &["--no-load", "--no-explorer", "--explorer-port", &port],
        &[],
    );
    assert_eq!(shop.explorer, None);
    let summary = shop.stdout.text();
    assert!(
        summary.contains("Explorer: none (--no-explorer)"),
        "{summary}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err(),
        "something listens on the explorer's port {port}"
    );
    let page = client()
        .get(format!("{}/", shop.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Traces</a>"), "a link to no explorer");
    let health: Value = client()
        .get(format!("{}/health", shop.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["telemetry"]["explorer"], Value::Null, "{health}");
}

/// `up` with `args` and no backend in its environment, expected to fail: its first stderr line.
fn up_failure(args: &[&str]) -> String {
    let data_dir = temp_dir("explorer-busy");
    let output = Command::new(BIN)
        .args(["up", "--base-port", "0", "--no-load", "--data-dir"])
        .arg(&data_dir)
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("TRACEDOJO_NO_EXPLORER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(data_dir);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "{args:?} should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr.lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_busy_explorer_port_names_the_port_and_the_flags() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for flag in [
        "--explorer-port",
        "--explorer-grpc-port",
        "--explorer-http-port",
    ] {
        let line = up_failure(&[flag, &port]);
        assert!(
            line.contains(&format!("port {port}")) && line.contains("already in use"),
            "{flag}: {line}"
        );
        assert!(
            line.contains(flag) && line.contains("--no-explorer"),
            "{flag}: {line}"
        );
    }
}

#[test]
fn explorer_bounds_too_small_for_one_trace_name_up_s_flags() {
    let line = up_failure(&["--explorer-max-spans", "10"]);
    assert!(
        line.contains("too small to hold one trace") && line.contains("--explorer-max-spans"),
        "{line}"
    );
    let line = up_failure(&["--explorer-max-memory", "1KiB"]);
    assert!(
        line.contains("too small to hold one trace") && line.contains("--explorer-max-memory"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_explorer_costs_the_backend_nothing_and_is_counted_apart() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    // Port 9 on loopback: nothing listens there, every copy to the "explorer" is refused.
    let mut payment = support::ServiceProcess::start(
        "payment",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("TRACEDOJO_EXPLORER_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("PAYMENT_MEDIAN_LATENCY_MS", "1"),
        ],
    );
    let http = client();
    let pay = json!({"order_ref": "ord_dual", "amount_cents": 700, "currency": "USD", "card_number": "4242424242424242"});
    let response = http
        .post(format!("{}/payments", payment.url))
        .json(&pay)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    receiver
        .store()
        .wait_for_spans(
            |spans| spans.iter().any(|s| s.name == "POST /payments"),
            ARRIVAL,
        )
        .await
        .unwrap_or_else(|e| panic!("the backend lost the span: {e}"));

    let health_url = format!("{}/health", payment.url);
    // The backend stores the span before it answers, and the service counts the batch as
    // exported only when the answer arrives: wait for both counts, not just the failure.
    let (_, health) = poll_json(&health_url, ARRIVAL, |_, health| {
        let count = |value: &Value| value.as_u64().unwrap_or(0);
        count(&health["telemetry"]["explorer"]["failed_batches"]) > 0
            && count(&health["telemetry"]["spans_exported"]) > 0
    })
    .await;
    let telemetry = &health["telemetry"];
    assert!(
        telemetry["explorer"]["spans_failed"].as_u64().unwrap_or(0) > 0,
        "{health}"
    );
    assert_eq!(telemetry["spans_failed"], 0, "{health}");
    assert!(
        telemetry["spans_exported"].as_u64().unwrap_or(0) > 0,
        "{health}"
    );
    payment.stderr.wait_for("the explorer at", ARRIVAL).unwrap();
    assert!(payment.stop(), "payment did not stop cleanly");
}
