//! A service of the participant's own in place of one of the shop's: its span must join the
//! shop's trace, which only happens when it reads the W3C headers the caller sent.

use serde_json::Value;

use super::{Context, Verdict};
use crate::error::WorkshopError;
use crate::explorer::{attribute, spans};

/// The frontend's call the participant's service answers, as the frontend's CLIENT span is
/// named (`{method} {route}`).
const CALL: &str = "GET /recommendations";
/// The service the participant's own replaces (`up --external recommendation=URL`).
const SERVICE: &str = "recommendation";
/// The baggage entry the frontend sets for every user, which a service copies onto its span.
const TIER: &str = "tracedojo.user.tier";
/// Every service of the shop is Rust; the resource's `telemetry.sdk.language` tells the
/// participant's service apart without trusting its name.
const SHOP_LANGUAGE: &str = "rust";

/// What the frontend's calls since the start found on the other side, for the pointer.
#[derive(Default)]
struct Seen {
    /// Calls that never got an answer (nothing listens at the URL given to `--external`).
    unreachable: usize,
    /// Calls answered, but with no SERVER span under them (not exported, not extracted, or
    /// still on the way).
    untraced: usize,
    /// Calls answered by one of the shop's own Rust services.
    shop_own: usize,
    /// A child of another name or namespace: the `OTEL_*` variables were not set as asked.
    misnamed: Option<(String, String)>,
    /// Spans of the participant's service that start traces of their own: it answers and
    /// exports, but does not continue the caller's trace.
    separate: usize,
}

/// `external-service`: since the lesson started, one of the frontend's calls to
/// recommendation has as its child a SERVER span of the participant's own service (not the
/// shop's Rust one), in their namespace: one trace crosses both.
pub async fn own_service(context: &Context<'_>) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let calls = context
        .explorer
        .search(&[
            ("service", "frontend".to_string()),
            ("operation", CALL.to_string()),
            ("start", context.started_unix_ms.to_string()),
            ("limit", "20".to_string()),
        ])
        .await?;
    if calls.is_empty() {
        return Ok(Verdict::not_yet(lang.say(
            "No product page has been viewed since you started this lesson, so the frontend has not called recommendation yet. Open a product page in the shop, then check again.",
            "レッスン開始後に商品ページが表示されていないため、frontend はまだ recommendation を呼び出していません。ショップで商品ページを開いてから、もう一度確認してください。",
        )));
    }
    let mine = context.explorer.namespace();
    let mut seen = Seen::default();
    for summary in &calls {
        let id = summary["trace_id"].as_str().unwrap_or_default();
        // The whole trace, not narrowed to the namespace: a child sent under another
        // namespace must still be found, to say what to fix.
        let Some(trace) = context.explorer.trace(id).await? else {
            continue;
        };
        for call in spans(&trace).iter().filter(|s| is_call(s, context)) {
            let child = spans(&trace)
                .iter()
                .find(|s| s["parent_span_id"] == call["span_id"] && s["kind"] == "SERVER");
            let Some(child) = child else {
                if call["attributes"]["http.response.status_code"].is_null() {
                    seen.unreachable += 1;
                } else {
                    seen.untraced += 1;
                }
                continue;
            };
            let namespace = child["resource"]["service.namespace"]
                .as_str()
                .unwrap_or_default();
            if child["resource"]["telemetry.sdk.language"] == SHOP_LANGUAGE {
                seen.shop_own += 1;
            } else if child["service"] != SERVICE || mine.is_some_and(|m| m != namespace) {
                let service = child["service"].as_str().unwrap_or_default().to_string();
                seen.misnamed = Some((service, namespace.to_string()));
            } else {
                return Ok(right(context, &trace, child));
            }
        }
    }
    seen.separate = separate_traces(context).await?;
    Ok(wrong(context, &seen))
}

/// How many of recommendation's SERVER spans since the start, in the participant's
/// namespace and not the shop's own, have no parent at all (a span whose parent has not
/// arrived yet still names it).
async fn separate_traces(context: &Context<'_>) -> Result<usize, WorkshopError> {
    let found = context
        .explorer
        .search(&[
            ("service", SERVICE.to_string()),
            ("start", context.started_unix_ms.to_string()),
            ("limit", "20".to_string()),
        ])
        .await?;
    let mut separate = 0;
    for summary in found.iter().filter(|t| t["root_service"] == SERVICE) {
        let id = summary["trace_id"].as_str().unwrap_or_default();
        let Some(trace) = context.explorer.trace(id).await? else {
            continue;
        };
        separate += spans(&trace)
            .iter()
            .filter(|s| {
                s["service"] == SERVICE
                    && s["kind"] == "SERVER"
                    && s["parent_span_id"] == ""
                    && s["resource"]["telemetry.sdk.language"] != SHOP_LANGUAGE
            })
            .count();
    }
    Ok(separate)
}

/// The frontend's CLIENT span of a call to recommendation, made since the start.
fn is_call(span: &Value, context: &Context<'_>) -> bool {
    span["service"] == "frontend"
        && span["kind"] == "CLIENT"
        && span["name"] == CALL
        && span["start_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000 >= context.started_unix_ms
}

fn right(context: &Context<'_>, trace: &Value, child: &Value) -> Verdict {
    let lang = context.lang;
    let id = trace["trace_id"].as_str().unwrap_or_default();
    let language = child["resource"]["telemetry.sdk.language"]
        .as_str()
        .unwrap_or("?");
    let sent = spans(trace)
        .iter()
        .filter(|s| s["service"] == "frontend")
        .find_map(|s| attribute(s, TIER));
    let received = child["attributes"][TIER].as_str();
    let baggage = match (sent, received) {
        (Some(sent), Some(received)) if sent == received => lang.say(
            format!(" The baggage came along too: your service recorded the tier {received}."),
            format!("バゲージも届いています。自分のサービスが tier {received} を記録しました。"),
        ),
        _ => lang.say(
            format!(" Its span does not record the baggage's {TIER} yet: read it from the extracted context (baggage.get_baggage) and set it on the span."),
            format!("ただし、そのスパンにはまだバゲージの {TIER} が記録されていません。取り出したコンテキストから読み取り（baggage.get_baggage）、スパンに設定してみてください。"),
        ),
    };
    Verdict::right(lang.say(
        format!("Right: trace {id} goes from the frontend's {CALL} call into the span of your own service (telemetry.sdk.language={language}), as its child.{baggage}"),
        format!("正解です。トレース {id} は、frontend の {CALL} の呼び出しから、その子である自分のサービス（telemetry.sdk.language={language}）のスパンへつながっています。{baggage}"),
    ))
}

fn wrong(context: &Context<'_>, seen: &Seen) -> Verdict {
    let lang = context.lang;
    let mine = context.explorer.namespace().unwrap_or_default();
    if seen.shop_own > 0 {
        return Verdict::wrong(lang.say(
            "The frontend's calls are answered by the shop's own recommendation (its spans say telemetry.sdk.language=rust). Stop `tracedojo up` and start it again with --external recommendation=http://127.0.0.1:PORT, the port your Python service listens on.",
            "frontend の呼び出しに応答しているのは、ショップ自身の recommendation です（スパンに telemetry.sdk.language=rust と記録されています）。`tracedojo up` を止め、--external recommendation=http://127.0.0.1:ポート番号（Python のサービスが待ち受けているポート）を付けて起動し直してください。",
        ));
    }
    if let Some((service, namespace)) = &seen.misnamed {
        let variables = if mine.is_empty() {
            "OTEL_SERVICE_NAME=recommendation".to_string()
        } else {
            format!(
                "OTEL_SERVICE_NAME=recommendation OTEL_RESOURCE_ATTRIBUTES=service.namespace={mine}"
            )
        };
        return Verdict::wrong(lang.say(
            format!("Your service's span joined the trace, but as service {service:?} in namespace {namespace:?}. Start it again with {variables}, so that it counts as your shop's recommendation."),
            format!("自分のサービスのスパンはトレースにつながっていますが、サービス名が {service:?}、名前空間が {namespace:?} になっています。{variables} を指定して起動し直し、自分のショップの recommendation として記録されるようにしてください。"),
        ));
    }
    if seen.separate > 0 {
        return Verdict::wrong(lang.say(
            "Your service's spans arrive, but each starts a trace of its own instead of joining the frontend's. Read the caller's context from the request's headers with propagate.extract(self.headers) and start the span with it (context=...): traceparent says which trace and which parent span.",
            "自分のサービスのスパンは届いていますが、frontend のトレースにつながらず、それぞれが別のトレースを始めています。propagate.extract(self.headers) でリクエストヘッダーから呼び出し元のコンテキストを取り出し、それを渡して（context=...）スパンを開始してください。どのトレースのどの親スパンかは traceparent ヘッダーが伝えています。",
        ));
    }
    if seen.untraced > 0 {
        let name = if mine.is_empty() {
            lang.say("YOUR_NAME", "自分の名前")
        } else {
            mine.to_string()
        };
        return Verdict::not_yet(lang.say(
            format!("Your service answered the frontend, but no span of it has arrived under the frontend's call. Spans are sent in batches: wait a few seconds and check again. If it stays so: is OTEL_EXPORTER_OTLP_ENDPOINT the explorer's OTLP/HTTP address (on the Explorer line `tracedojo up` printed)? Does the service pass the context that propagate.extract read from the request's headers (traceparent) to the span it starts? Are OTEL_SERVICE_NAME=recommendation and OTEL_RESOURCE_ATTRIBUTES=service.namespace={name} set?"),
            format!("自分のサービスは frontend に応答しましたが、frontend の呼び出しの下にそのスパンがまだ届いていません。スパンはまとめて送られるので、数秒待ってからもう一度確認してください。それでも変わらない場合は、OTEL_EXPORTER_OTLP_ENDPOINT がエクスプローラーの OTLP/HTTP のアドレス（`tracedojo up` が表示した Explorer の行にあります）になっているか、propagate.extract でリクエストヘッダー（traceparent）から取り出したコンテキストを、開始するスパンに渡しているか、OTEL_SERVICE_NAME=recommendation と OTEL_RESOURCE_ATTRIBUTES=service.namespace={name} を指定しているかを確認してください。"),
        ));
    }
    if seen.unreachable > 0 {
        return Verdict::wrong(lang.say(
            "The frontend called recommendation but got no answer. Is your Python service running, on the port you gave `tracedojo up --external recommendation=http://127.0.0.1:PORT`? Once it is, its terminal shows \"recommendation listening on ...\".",
            "frontend は recommendation を呼び出しましたが、応答がありませんでした。Python のサービスは起動していますか。`tracedojo up --external recommendation=http://127.0.0.1:ポート番号` で指定したポートで待ち受けているかを確認してください（起動していれば、ターミナルに「recommendation listening on ...」と表示されます）。",
        ));
    }
    Verdict::not_yet(lang.say(
        "The frontend's calls to recommendation since the start have not all arrived yet. Wait a few seconds and check again.",
        "レッスン開始後の frontend から recommendation への呼び出しが、まだすべて届いていません。数秒待ってから、もう一度確認してください。",
    ))
}
