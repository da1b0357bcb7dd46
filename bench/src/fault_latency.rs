//! Injected vs observed latency: for each distribution a fault can draw from, a latency fault
//! on catalog's `GET /products/{id}`, a burst of direct requests, and the p50 and p99 of the
//! SERVER spans the receiver got next to the distribution's own.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tracedojo_explorer::Receiver;

use crate::RunningShop;

/// Requests under way at once: enough to keep a steady flow while each one sleeps.
const CONCURRENCY: usize = 50;

pub async fn run(shop: &RunningShop, receiver: &Receiver, requests: usize) -> anyhow::Result<()> {
    let catalog = shop
        .services
        .get("catalog")
        .context("tracedojo up did not print catalog's URL")?
        .clone();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let distributions = [
        json!({"type": "fixed", "ms": 100}),
        json!({"type": "uniform", "min_ms": 50, "max_ms": 150}),
        json!({"type": "normal", "mean_ms": 100, "stddev_ms": 20}),
        json!({"type": "log_normal", "median_ms": 80, "sigma": 0.5}),
        json!({"type": "pareto", "scale_ms": 50, "shape": 4}),
    ];
    // The endpoint's own time, unloaded: what every observed figure includes on top of the
    // injected delay.
    let baseline = observe(&http, &catalog, receiver, 2_000, 4).await?;
    println!(
        "fault latency: catalog GET /products/{{id}} without a fault: p50 {:.2} ms, p99 {:.2} ms ({} spans, 4 at a time)",
        baseline.p50, baseline.p99, baseline.count
    );
    for distribution in distributions {
        let parsed: tracedojo_faults::Distribution = serde_json::from_value(distribution.clone())?;
        let response = http
            .post(format!("{}/api/faults", shop.control))
            .json(&json!({"fault": {"kind": "latency", "service": "catalog",
                                    "distribution": distribution},
                          "target": {"route": "/products/{id}"}}))
            .send()
            .await?;
        let answer: Value = response.json().await?;
        let Some(id) = answer["id"].as_u64() else {
            bail!("the control API refused the fault: {answer}");
        };
        let observed = observe(&http, &catalog, receiver, requests, CONCURRENCY).await?;
        let (p50, p99, count) = (observed.p50, observed.p99, observed.count);
        http.delete(format!("{}/api/faults/{id}", shop.control))
            .send()
            .await?;
        let (want50, want99) = (parsed.quantile_ms(0.5), parsed.quantile_ms(0.99));
        // Raw: the span also holds the endpoint's own time (the baseline above).
        let off = |seen: f64, want: f64| 100.0 * (seen - want) / want;
        println!(
            "fault latency: {:<38} injected p50 {want50:>7.1} ms, p99 {want99:>7.1} ms; observed p50 {p50:>7.1} ms ({:+.1} %), p99 {p99:>7.1} ms ({:+.1} %) over {count} spans (target within 5 %)",
            parsed.describe(),
            off(p50, want50),
            off(p99, want99),
        );
        // The draws themselves (recorded on each span with the reveal switch): how far the
        // observed figures are from what was really injected, without the sampling noise of
        // a heavy tail.
        if let (Some(drawn50), Some(drawn99)) = (observed.drawn_p50, observed.drawn_p99) {
            println!(
                "fault latency: {:<38} drawn    p50 {drawn50:>7.1} ms, p99 {drawn99:>7.1} ms; observed vs drawn p50 {:+.1} %, p99 {:+.1} %",
                "",
                off(p50, drawn50),
                off(p99, drawn99),
            );
        }
    }
    Ok(())
}

/// What the SERVER spans of a burst showed, in milliseconds.
struct Observed {
    p50: f64,
    p99: f64,
    count: usize,
    /// Of the delays the fault drew, when spans carry them.
    drawn_p50: Option<f64>,
    drawn_p99: Option<f64>,
}

/// Sends `requests` product views straight to catalog, `concurrency` at a time, and returns
/// what the SERVER spans received for them show.
async fn observe(
    http: &reqwest::Client,
    catalog: &str,
    receiver: &Receiver,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Observed> {
    receiver.store().clear();
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..requests {
        let permit = slots.clone().acquire_owned().await?;
        let (http, url) = (http.clone(), format!("{catalog}/products/{}", 1 + n % 240));
        sent.spawn(async move {
            let ok = matches!(http.get(url).send().await, Ok(r) if r.status().is_success());
            drop(permit);
            ok
        });
    }
    let mut failed = 0;
    while let Some(ok) = sent.join_next().await {
        if !matches!(ok, Ok(true)) {
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {requests} requests failed");
    }
    let is_view = |s: &tracedojo_explorer::StoredSpan| {
        s.service_name() == "catalog" && s.name == "GET /products/{id}"
    };
    // Every span, or as many as arrive: the exporter may drop some under this burst.
    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| spans.iter().filter(|s| is_view(s)).count() >= requests,
            Duration::from_secs(15),
        )
        .await
        .unwrap_or_else(|_| receiver.store().spans());
    let millis: Vec<f64> = spans
        .iter()
        .filter(|s| is_view(s))
        .map(|s| s.duration_nanos() as f64 / 1e6)
        .collect();
    if millis.len() < requests / 2 {
        bail!("only {} of {requests} spans arrived", millis.len());
    }
    let drawn: Vec<f64> = spans
        .iter()
        .filter(|s| is_view(s))
        .filter_map(|s| s.attributes.get("tracedojo.fault.delay_ms")?.as_f64())
        .collect();
    let drawn_quantile = |p: f64| (drawn.len() == millis.len()).then(|| quantile(&drawn, p));
    Ok(Observed {
        p50: quantile(&millis, 0.5),
        p99: quantile(&millis, 0.99),
        count: millis.len(),
        drawn_p50: drawn_quantile(0.5),
        drawn_p99: drawn_quantile(0.99),
    })
}

fn quantile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}
