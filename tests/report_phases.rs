//! `tracedojo report` over real shop traffic: `tracedojo up` with its background load of
//! simulated shoppers, then one fault preset after another, the report run as a user runs it
//! (the binary, reading the explorer's API, against the shop's built-in objectives). Each
//! phase polls the report until it says what the fault must make it say, within a deadline:
//!
//! - no fault: nothing needs work (in English and Japanese);
//! - `gold-tier-errors`: checkout needs work for its failures, which concentrate in
//!   `tracedojo.user.tier=gold`, first caused in checkout;
//! - `slow-payment-gateway`: checkout ranks first, for its latency, and payment is where the
//!   time goes;
//! - `n-plus-one`: the catalog's product query, run many times in one request, is named with
//!   its count;
//! - `missing-index`: the search query, whose median time jumped against the period before,
//!   is named.
//!
//! One shop for every phase: a phase's report reads a long window (two minutes) that still
//! holds the phase before it, and a short one (30 s) that no longer does, so a fault cleared
//! stops being reported; the query phases compare the short window with the period before it.
//! Traffic stays on loopback and is bounded: the load runs only while the shop does. A test
//! binary of its own: its shop's load would slow the integration tests running beside it.

use std::time::{Duration, Instant};

mod support;

use serde_json::Value;
use support::{BIN, Shop, client, set_preset};

/// Journeys per second of the background load: a few checkouts a second.
const LOAD_RATE: &str = "20";
const LONG: &str = "120s";
const SHORT: &str = "30s";
/// The longest a phase waits for its report.
const WAIT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_secs(2);
/// The endpoint a purchase reaches the shop through.
const CHECKOUT: &str = "POST /api/checkout";

/// Runs `tracedojo report ARGS` against the shop's explorer; returns stdout, failing on a
/// non-zero exit.
async fn report(explorer: &str, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args([
            "report",
            "--explorer",
            explorer,
            "--long",
            LONG,
            "--short",
            SHORT,
        ])
        .args(args)
        .env_remove("TRACEDOJO_OBJECTIVES")
        .env_remove("TRACEDOJO_WEBHOOK_URL")
        .env_remove("TRACEDOJO_TICKET_URL")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("the report is made within 90 s")
        .expect("run tracedojo report");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tracedojo report {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn report_json(explorer: &str) -> Value {
    let text = report(explorer, &["--format", "json"]).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Polls the JSON report until `found` picks something out of it; fails after [`WAIT`] with
/// the last report.
async fn wait_for<T>(
    explorer: &str,
    what: &str,
    found: impl Fn(&Value) -> Option<T>,
) -> (T, Value) {
    let started = Instant::now();
    loop {
        let report = report_json(explorer).await;
        if let Some(hit) = found(&report) {
            eprintln!("{what}: after {:.1?}", started.elapsed());
            return (hit, report);
        }
        assert!(
            started.elapsed() < WAIT,
            "{what}: not in any report within {WAIT:?}; the last one:\n{report:#}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn items(report: &Value) -> &Vec<Value> {
    report["needs_work"].as_array().expect("needs_work")
}

fn queries(report: &Value) -> &Vec<Value> {
    report["queries"].as_array().expect("queries")
}

/// The item of the frontend's checkout endpoint, if it needs work.
fn checkout(report: &Value) -> Option<Value> {
    items(report)
        .iter()
        .find(|i| i["service"] == "frontend" && i["operation"] == CHECKOUT)
        .cloned()
}

async fn clear_faults(shop: &Shop) {
    let response = client()
        .delete(format!("{}/api/faults", shop.control))
        .send()
        .await
        .expect("control API");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_puts_its_cause_in_the_report() {
    let shop = Shop::start_with(&["--load-rate", LOAD_RATE], &[]);
    let explorer = shop.explorer.clone().expect("up starts the explorer");

    // No fault: once the checkout endpoint has been judged over both windows, nothing needs
    // work. A report judging nothing would say the same, so wait for traffic first.
    let (_, clean) = wait_for(&explorer, "the checkout endpoint judged", |r| {
        let judged = r["judged"].as_array()?;
        let enough = judged
            .iter()
            .any(|j| j["operation"] == CHECKOUT && j["short_requests"].as_u64() >= Some(20));
        (judged.len() >= 5 && enough).then_some(())
    })
    .await;
    assert!(
        items(&clean).is_empty(),
        "a healthy shop needs no work:\n{clean:#}"
    );
    assert!(
        queries(&clean).is_empty(),
        "no query stands out:\n{clean:#}"
    );
    let en = report(&explorer, &["--lang", "en"]).await;
    assert!(en.contains("**Nothing needs work: the "), "{en}");
    let ja = report(&explorer, &["--lang", "ja"]).await;
    assert!(ja.contains("**改善が必要な箇所はありません。"), "{ja}");

    // Gold customers' checkouts fail.
    set_preset(&shop, "gold-tier-errors").await;
    let (item, _) = wait_for(&explorer, "checkout failing for gold customers", |r| {
        let item = checkout(r)?;
        let worst = &item["objectives"][0];
        let segment = item["why"]["segment"].as_array()?;
        let gold = segment
            .iter()
            .any(|s| s["key"] == "tracedojo.user.tier" && s["value"] == "gold");
        (worst["indicator"] == "success" && gold).then_some(item)
    })
    .await;
    let causes = item["why"]["first_causes"].as_array().expect("causes");
    assert!(
        causes.first().is_some_and(|c| c["service"] == "checkout"),
        "the failures begin in checkout: {item:#}"
    );
    clear_faults(&shop).await;

    // The payment gateway slows down.
    set_preset(&shop, "slow-payment-gateway").await;
    let (item, report) = wait_for(&explorer, "checkout slow, payment taking the time", |r| {
        let first = items(r).first()?.clone();
        let latency = first["objectives"][0]["indicator"]
            .as_str()
            .is_some_and(|i| i.starts_with("latency"));
        let payment_first = first["why"]["time_by_service"][0]["service"] == "payment";
        (first["operation"] == CHECKOUT && latency && payment_first).then_some(first)
    })
    .await;
    assert_eq!(item["rank"], 1, "{report:#}");
    assert!(
        item["why"]["time_by_service"][0]["share"].as_f64() > Some(0.5),
        "payment takes most of a slow checkout: {item:#}"
    );
    let code = &item["why"]["code"];
    assert_eq!(code["file"], "services/frontend/src/api.rs", "{item:#}");
    assert!(
        code["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("tracedojo_frontend::api::")),
        "{item:#}"
    );
    let exemplar = item["why"]["exemplars"][0]["url"]
        .as_str()
        .expect("exemplar");
    assert!(
        exemplar.starts_with(&format!("{explorer}/#/trace/")),
        "{exemplar}"
    );
    clear_faults(&shop).await;

    // Product listings make one query per product.
    set_preset(&shop, "n-plus-one").await;
    let (query, _) = wait_for(&explorer, "the N+1 query named with its count", |r| {
        queries(r)
            .iter()
            .find(|q| {
                q["service"] == "catalog"
                    && q["hints"].as_array().is_some_and(|hints| {
                        hints.iter().any(|h| {
                            h["kind"] == "repeated_in_one_trace"
                                && h["most_in_one_trace"].as_u64() >= Some(10)
                        })
                    })
            })
            .cloned()
    })
    .await;
    let text = query["query"].as_str().expect("query text");
    assert!(text.contains("FROM products"), "{query:#}");
    clear_faults(&shop).await;

    // The search index goes missing.
    set_preset(&shop, "missing-index").await;
    let (query, report) = wait_for(&explorer, "the search query named", |r| {
        queries(r)
            .iter()
            .find(|q| {
                q["query"]
                    .as_str()
                    .is_some_and(|t| t.contains("search_terms"))
                    && q["hints"]
                        .as_array()
                        .is_some_and(|hints| hints.iter().any(|h| h["kind"] == "time_jumped"))
            })
            .cloned()
    })
    .await;
    assert_eq!(query["service"], "catalog", "{report:#}");
    clear_faults(&shop).await;
    let markdown = report_markdown_names_the_query(&explorer).await;
    assert!(markdown.contains("search_terms"), "{markdown}");
}

/// The Markdown of the last phase, in Japanese: the query is named there too.
async fn report_markdown_names_the_query(explorer: &str) -> String {
    let text = report(explorer, &["--lang", "ja"]).await;
    assert!(text.contains("## 改善が必要なクエリ"), "{text}");
    text
}
