//! Checks against an objective: which of the endpoints users call misses a p95 latency
//! objective, read from the RED view.

use super::answer::words;
use super::{Context, Verdict, since_start};
use crate::error::WorkshopError;

/// Fewer requests than this give no p95 worth judging.
const MIN_REQUESTS: u64 = 5;

/// `objective`: `METHOD ROUTE` of a frontend endpoint whose p95 since the start is over
/// `p95_ms`.
pub async fn objective(
    context: &Context<'_>,
    given: &str,
    p95_ms: f64,
) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let words = words(given);
    let [method, route] = words.as_slice() else {
        return Err(context.wrong_form(given));
    };
    let operation = format!("{} {route}", method.to_uppercase());
    let red = context
        .explorer
        .view("/api/red", &[("since", since_start(context))])
        .await?;
    let endpoints = red["endpoints"].as_array().cloned().unwrap_or_default();
    let user_facing: Vec<_> = endpoints
        .iter()
        .filter(|e| {
            e["service"] == "frontend"
                && e["kind"] == "SERVER"
                && e["requests"].as_u64().unwrap_or(0) >= MIN_REQUESTS
        })
        .collect();
    let missing: Vec<&str> = user_facing
        .iter()
        .filter(|e| e["p95_ms"].as_f64().unwrap_or(0.0) > p95_ms)
        .filter_map(|e| e["operation"].as_str())
        .collect();
    if missing.is_empty() {
        return Ok(Verdict::not_yet(lang.say(
            "Too little traffic since the lesson started to tell. Wait half a minute and check again.",
            "レッスン開始後のトラフィックがまだ少なく、判定できません。30 秒ほど待ってから、もう一度確認してください。",
        )));
    }
    if missing.contains(&operation.as_str()) {
        return Ok(Verdict::right(lang.say(
            format!("Right: {operation} misses its objective of p95 under {p95_ms} ms; that is where an error budget burns and where to look first."),
            format!("正解です。{operation} は「p95 が {p95_ms} ms 未満」という目標を満たしていません。エラーバジェットを消費しているのはここで、最初に調べるべき場所です。"),
        )));
    }
    let served = endpoints
        .iter()
        .find(|e| e["operation"] == operation.as_str());
    let message = match served {
        Some(e) if e["service"] != "frontend" => lang.say(
            format!("{operation} is an endpoint inside the shop ({}); objectives are set on what users call: the frontend's endpoints.", e["service"].as_str().unwrap_or("?")),
            format!("{operation} はショップ内部のエンドポイント（{}）です。目標はユーザーが呼び出すもの、つまり frontend のエンドポイントに設定します。", e["service"].as_str().unwrap_or("?")),
        ),
        Some(_) if over_earlier(context, &operation, p95_ms).await? => lang.say(
            format!("{operation} was over {p95_ms} ms before this lesson started, not since: set the RED page's window to the time since you started the lesson (the last minute)."),
            format!("{operation} が {p95_ms} ms を超えていたのはこのレッスンを開始する前で、開始後は超えていません。RED 画面の表示期間を、レッスン開始後の時間（直近 1 分）にしてください。"),
        ),
        Some(_) => lang.say(
            format!("{operation} meets the objective: its p95 is under {p95_ms} ms. On the RED page, compare each frontend endpoint's p95 with {p95_ms} ms."),
            format!("{operation} は目標を満たしています（p95 が {p95_ms} ms 未満）。RED 画面で、frontend の各エンドポイントの p95 を {p95_ms} ms と比べてください。"),
        ),
        None => lang.say(
            format!("The shop has no endpoint {operation} that served requests since the lesson started. Copy the operation's name from the RED page (method and route, e.g. GET /api/cart)."),
            format!("レッスン開始後にリクエストを処理した {operation} というエンドポイントはありません。RED 画面からオペレーション名（メソッドとルート。例: GET /api/cart）をコピーしてください。"),
        ),
    };
    Ok(Verdict::wrong(message))
}

/// Whether `operation` was over the objective in the explorer's default window (which reaches
/// back before the lesson): what a participant who kept that window sees.
async fn over_earlier(
    context: &Context<'_>,
    operation: &str,
    p95_ms: f64,
) -> Result<bool, WorkshopError> {
    let red = context
        .explorer
        .view(
            "/api/red",
            &[
                ("service", "frontend".to_string()),
                ("since", "15m".to_string()),
            ],
        )
        .await?;
    Ok(red["endpoints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .any(|e| e["operation"] == operation && e["p95_ms"].as_f64().unwrap_or(0.0) > p95_ms))
}
