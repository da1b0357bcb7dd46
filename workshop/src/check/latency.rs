//! Checks about time: which service a slowdown comes from and how slow it is at p95, read
//! from the explorer's RED view as a participant reads it.

use serde_json::Value;

use super::{Context, Verdict, since_start};
use crate::error::WorkshopError;

/// Fewer requests than this give no p95 worth comparing.
const MIN_REQUESTS: u64 = 5;

/// The p95s of `service`'s SERVER endpoints with enough requests in the window.
async fn endpoint_p95s(
    context: &Context<'_>,
    service: &str,
    since: String,
) -> Result<Vec<f64>, WorkshopError> {
    let red = context
        .explorer
        .view(
            "/api/red",
            &[("service", service.to_string()), ("since", since)],
        )
        .await?;
    Ok(red["endpoints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|e: &&Value| {
            e["kind"] == "SERVER" && e["requests"].as_u64().unwrap_or(0) >= MIN_REQUESTS
        })
        .filter_map(|e| e["p95_ms"].as_f64())
        .collect())
}

/// `slow-service`: `SERVICE P95_MS`, the service the stage slowed and its p95.
pub async fn slow_service(
    context: &Context<'_>,
    given: &str,
    tolerance: f64,
) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let (service, p95) = context.word_and_number(given)?;
    if !tracedojo_faults::spec::SERVICES.contains(&service.as_str()) {
        return Err(context.wrong_form(given));
    }
    let slowed = context
        .vars
        .get("service")
        .map(String::as_str)
        .unwrap_or_default();
    let mut p95s = endpoint_p95s(context, slowed, since_start(context)).await?;
    if p95s.is_empty() {
        return Ok(Verdict::not_yet(lang.say(
            "Too little traffic since the lesson started to tell. Wait half a minute (the simulated shoppers keep buying) and check again.",
            "レッスン開始後のトラフィックがまだ少なく、判定できません。30 秒ほど待って（模擬の買い物客が購入を続けています）から、もう一度確認してください。",
        )));
    }
    if service != slowed {
        return Ok(Verdict::wrong(lang.say(
            format!("{service} is not where the time goes. A caller's span lasts as long as its callees', so the longest span is not always the cause: in a slow checkout, find the deepest span that is slow by itself."),
            format!("時間がかかっているのは {service} ではありません。呼び出し元のスパンは呼び出し先の時間も含むので、一番長いスパンが原因とは限りません。遅いチェックアウトの中で、それ自体が遅い一番深いスパンを探してください。"),
        )));
    }
    p95s.extend(endpoint_p95s(context, slowed, "15m".to_string()).await?);
    let close = p95s
        .iter()
        .any(|measured| (p95 - measured).abs() <= tolerance * measured);
    if !close {
        return Ok(Verdict::wrong(lang.say(
            format!("Right service. The p95 you gave, {p95} ms, is not what the explorer measured: read the p95 column of {service}'s SERVER endpoint on the RED page."),
            format!("サービスは正解です。ただし、回答の p95（{p95} ms）はエクスプローラーの測定値と合いません。RED 画面で {service} の SERVER エンドポイントの p95 列を確認してください。"),
        )));
    }
    Ok(Verdict::right(lang.say(
        format!("Right: {service} is slow by itself, and every service that waits for it looks slow too."),
        format!("正解です。{service} 自体が遅く、それを待つサービスもすべて遅く見えていました。"),
    )))
}
