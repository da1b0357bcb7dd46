//! The explanation of one trace (`GET /api/traces/{trace_id}/explain`) over the real shop:
//! `tracedojo explore`, and `tracedojo up` sending it the shop's spans, without background
//! load so the test's purchases are the only checkouts. Three incidents, each explained in
//! English and Japanese, both languages naming the same cause, service and segment:
//!
//! - a declined card: the user is refused (402), and the failure began with payment's answer
//!   to checkout's call, not in the call;
//! - the `gold-tier-errors` preset: checkout fails for a gold customer in eu-west-1; the
//!   cause is checkout's own span with its exception, the segment names the tier and region;
//! - the `slow-payment-gateway` preset: the checkout succeeds slowly, payment first on the
//!   critical path, measured against an objective.
//!
//! Then the trace page in Debian's headless Chromium (`tests/browser/explain.mjs`): the
//! Explain button shows the API's sentences, 日本語 the Japanese ones (and a Japanese browser
//! starts there), the failure link selects the span, Copy copies the text, and a span whose
//! name and exception hold markup is shown as text. Screenshots land in
//! `tests/artifacts/explorer-explain/`. The browser part needs `/usr/bin/chromium` and
//! `npm ci --prefix tests/browser`; without them it says so and is skipped, except under CI.

use crate::support;

use std::time::Duration;

use crate::support::otlp_json::{now_nanos, traces_body};
use crate::support::{
    ExplorerProcess, Shop, buy, buy_approved, clear_fault, client, poll_json, set_preset,
};
use serde_json::{Value, json};

/// How long the shop's spans may take to reach the explorer (their batches leave every 100 ms).
const ARRIVAL: Duration = Duration::from_secs(60);
const DECLINED_CARD: &str = "4000000000000002";

/// The newest checkout's trace, once the explorer holds `count` checkouts and that one whole.
async fn newest_checkout(explorer: &str, count: usize) -> String {
    let search =
        format!("{explorer}/api/traces?service=frontend&operation=POST%20/api/checkout&limit=100");
    let found = |body: &Value| body["traces"].as_array().map_or(0, Vec::len);
    let (_, body) = poll_json(&search, ARRIVAL, |code, body| {
        code == 200 && found(body) >= count
    })
    .await;
    assert_eq!(found(&body), count, "checkouts in the explorer: {body}");
    let id = body["traces"][0]["trace_id"]
        .as_str()
        .expect("a trace id")
        .to_owned();
    support::wait_for_whole_trace(explorer, &id, ARRIVAL).await;
    id
}

/// The explanation in English and in Japanese, each with its sentences joined by lines.
async fn explain(explorer: &str, id: &str, query: &str) -> [(Value, String); 2] {
    let mut answers = Vec::new();
    for lang in ["en", "ja"] {
        let url = format!("{explorer}/api/traces/{id}/explain?lang={lang}{query}");
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["lang"], lang);
        let text = body["summary"]
            .as_array()
            .expect("summary")
            .iter()
            .map(|s| s.as_str().expect("a sentence"))
            .collect::<Vec<_>>()
            .join("\n");
        eprintln!("{id} ({lang}):\n{text}");
        answers.push((body, text));
    }
    answers.try_into().expect("two languages")
}

fn assert_says(text: &str, phrases: &[&str]) {
    for phrase in phrases {
        assert!(text.contains(phrase), "missing {phrase:?} in:\n{text}");
    }
}

/// The segment's `key=value`s.
fn segment(body: &Value) -> Vec<String> {
    body["segment"]
        .as_array()
        .expect("segment")
        .iter()
        .map(|v| {
            format!(
                "{}={}",
                v["key"].as_str().unwrap(),
                v["value"].as_str().unwrap()
            )
        })
        .collect()
}

/// A trace whose span name and exception hold markup, in OTLP/HTTP JSON: the page must show
/// them as text.
fn hostile_trace(trace_id: &str) -> Value {
    let now = now_nanos();
    let span = json!({
        "traceId": trace_id, "spanId": "e8a1e8a1e8a1e8a1",
        "name": "GET /<img src=x onerror=alert(1)>", "kind": 2,
        "startTimeUnixNano": (now - 9_000_000).to_string(),
        "endTimeUnixNano": now.to_string(),
        "status": {"code": 2},
        "attributes": [
            {"key": "http.response.status_code", "value": {"intValue": "500"}}
        ],
        "events": [{
            "name": "exception", "timeUnixNano": (now - 1_000_000).to_string(),
            "attributes": [
                {"key": "exception.type", "value": {"stringValue": "<b>Markup</b>"}},
                {"key": "exception.message",
                 "value": {"stringValue": "<script>alert(\"x\")</script>"}}
            ]
        }]
    });
    traces_body("escape-check", "explain-browser-test", vec![span])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_is_explained_in_plain_words_in_english_and_japanese() {
    let explorer = ExplorerProcess::start(&[]);
    let shop = Shop::start_with(
        &["--no-load", "--no-explorer"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", explorer.http.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    let ui = explorer.ui.as_str();

    // A declined card: refused, and the failure began with payment's 402.
    let baggage = "tracedojo.user.tier=gold,tracedojo.user.region=ap-northeast-1";
    let (status, body) = buy(&shop, "explain-declined", DECLINED_CARD, baggage).await;
    assert_eq!(status, 402, "the declined card: {body}");
    let declined = newest_checkout(ui, 1).await;
    let [(en, en_text), (ja, ja_text)] = explain(ui, &declined, "").await;
    for body in [&en, &ja] {
        assert_eq!(body["outcome"], "refused", "{body:#}");
        assert_eq!(body["entry"]["service"], "frontend");
        assert_eq!(body["entry"]["http_status_code"], 402);
        let failure = &body["first_failure"];
        assert_eq!(
            (
                &failure["service"],
                &failure["kind"],
                &failure["http_status_code"]
            ),
            (&json!("payment"), &json!("SERVER"), &json!(402)),
            "{body:#}"
        );
        assert_eq!(failure["refused"], true);
        assert_eq!(failure["caller"]["service"], "checkout");
        assert_eq!(failure["caller"]["error_type"], "402");
        let segment = segment(body);
        for value in [
            "tracedojo.user.tier=gold",
            "tracedojo.user.region=ap-northeast-1",
        ] {
            assert!(segment.contains(&value.to_owned()), "{segment:?}");
        }
        assert!(
            segment.iter().all(|v| !v.starts_with("user.id=")),
            "{segment:?}"
        );
    }
    assert_says(
        &en_text,
        &[
            "POST /api/checkout on frontend was refused with 402",
            "The failure began at POST /payments on payment, which answered 402",
            "checkout's call to it failed on that answer.",
            "tier=gold",
            "region=ap-northeast-1",
        ],
    );
    assert_says(
        &ja_text,
        &[
            "frontend の POST /api/checkout は",
            "で 402 を返した。",
            "失敗の起点は payment の POST /payments が返した 402",
            "checkout からの呼び出しが失敗した。",
            "tier=gold",
            "region=ap-northeast-1",
        ],
    );

    // Gold customers in eu-west-1 fail at checkout.
    let ids = set_preset(&shop, "gold-tier-errors").await;
    let baggage = "tracedojo.user.tier=gold,tracedojo.user.region=eu-west-1";
    let (status, body) = buy_approved(&shop, "explain-gold", baggage).await;
    assert_eq!(status, 502, "the gold checkout fails: {body}");
    for id in ids {
        clear_fault(&shop, id).await;
    }
    let gold = newest_checkout(ui, 2).await;
    let [(en, en_text), (ja, ja_text)] = explain(ui, &gold, "").await;
    for body in [&en, &ja] {
        assert_eq!(body["outcome"], "error", "{body:#}");
        let failure = &body["first_failure"];
        assert_eq!(
            (&failure["service"], &failure["operation"], &failure["kind"]),
            (
                &json!("checkout"),
                &json!("POST /checkout"),
                &json!("SERVER")
            ),
            "{body:#}"
        );
        assert_eq!(failure["caller"], Value::Null);
        assert_eq!(
            failure["exception"]["message"], "order could not be priced",
            "{body:#}"
        );
        let segment = segment(body);
        for value in [
            "tracedojo.user.tier=gold",
            "tracedojo.user.region=eu-west-1",
        ] {
            assert!(segment.contains(&value.to_owned()), "{segment:?}");
        }
        let version = body["segment"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == "service.version")
            .expect("the failing service's version");
        assert_eq!(version["service"], "checkout");
    }
    assert_says(
        &en_text,
        &[
            "POST /api/checkout on frontend failed with 502",
            "The failure began at POST /checkout on checkout (500):",
            "“order could not be priced”",
            "tier=gold",
            "region=eu-west-1",
            "checkout runs version",
        ],
    );
    assert_says(
        &ja_text,
        &[
            "frontend の POST /api/checkout は",
            "で失敗した（502）。",
            "失敗の起点は checkout の POST /checkout（500）。",
            "「order could not be priced」",
            "tier=gold",
            "region=eu-west-1",
            "checkout のバージョンは",
        ],
    );

    // A slow payment gateway: the checkout succeeds, payment first on its critical path.
    let ids = set_preset(&shop, "slow-payment-gateway").await;
    let (status, body) = buy_approved(&shop, "explain-slow", "tracedojo.user.tier=silver").await;
    assert_eq!(status, 201, "the slow checkout: {body}");
    for id in ids {
        clear_fault(&shop, id).await;
    }
    let slow = newest_checkout(ui, 3).await;
    let [(en, en_text), (ja, ja_text)] = explain(ui, &slow, "&objective=200ms").await;
    for body in [&en, &ja] {
        assert_eq!(body["outcome"], "ok", "{body:#}");
        assert_eq!(body["first_failure"], Value::Null);
        let first = &body["critical_path"]["services"][0];
        assert_eq!(first["service"], "payment", "{body:#}");
        assert!(first["share"].as_f64().unwrap() > 0.5, "{body:#}");
        assert_eq!(body["critical_path"]["spans"][0]["service"], "payment");
        let duration = body["duration_ms"].as_f64().unwrap();
        assert_eq!(body["objective"]["met"], json!(duration <= 200.0));
    }
    let met = en["objective"]["met"] == true;
    assert_says(
        &en_text,
        &[
            "POST /api/checkout on frontend succeeded with 201 in",
            "Critical path by service: payment ",
            "The largest step on it is POST /payments on payment:",
            if met {
                "That is within the 200 ms objective."
            } else {
                "over the 200 ms objective."
            },
            "No span failed.",
            "tier=silver",
        ],
    );
    assert_says(
        &ja_text,
        &[
            "frontend の POST /api/checkout は",
            "で成功した（201）。",
            "クリティカルパスの内訳: payment ",
            "最も時間を使っているのは payment の POST /payments で",
            if met {
                "目標の 200 ms 以内に収まっている。"
            } else {
                "目標の 200 ms を"
            },
            "エラーはない。",
            "tier=silver",
        ],
    );
    drop(shop);

    // The page: the declined card's trace, and one whose text holds markup.
    let Some(kit) = support::browser_kit("explain browser test") else {
        return;
    };
    let hostile = "e8a1e8a1e8a1e8a1e8a1e8a1e8a1e8a1";
    explorer.send_traces(&hostile_trace(hostile)).await;
    let artifacts = kit.root.join("tests/artifacts/explorer-explain");
    // No screenshot of an earlier run may stand in for this one's.
    let _ = std::fs::remove_dir_all(&artifacts);
    kit.run(
        "explain.mjs",
        [
            ui.as_ref(),
            artifacts.as_os_str(),
            declined.as_ref(),
            hostile.as_ref(),
        ],
    );
    support::assert_screenshots(
        &artifacts,
        &[
            "1-explained-en",
            "2-explained-ja",
            "3-failure-selected",
            "4-japanese-browser",
            "5-escaped",
        ],
    );
    drop(explorer);
}
