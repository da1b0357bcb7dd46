//! Checks about one purchase's trace: finding your own, counting the services it crosses,
//! and following the user's tier through the baggage header.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::answer::{self, words};
use super::{Context, Verdict};
use crate::error::WorkshopError;
use crate::explorer::{attribute, spans};

/// The frontend's checkout routes: the shop page's form and the JSON API.
const CHECKOUT_OPERATIONS: [&str; 2] = ["POST /checkout", "POST /api/checkout"];
/// The baggage key that marks the load generator's shoppers.
const SYNTHETIC: &str = "user_agent.synthetic.type";
/// The load generator stands for the shoppers' browsers; it is not a service of the shop.
const LOAD_GENERATOR: &str = "loadgenerator";
/// The tiers a shopper can be in.
const TIERS: [&str; 4] = ["free", "silver", "gold", "platinum"];

/// The frontend's SERVER span of a checkout in `trace`.
fn frontend_checkout(trace: &Value) -> Option<&Value> {
    spans(trace).iter().find(|span| {
        span["service"] == "frontend"
            && span["kind"] == "SERVER"
            && CHECKOUT_OPERATIONS.iter().any(|op| span["name"] == *op)
    })
}

/// How long after its last span a trace with a missing parent still counts as arriving; an
/// older one lost a span for good.
const ARRIVING_MS: u64 = 30_000;

/// Whether `trace` is young and misses a span another names as its parent (the explorer marks
/// it): the services export in batches of their own, so a trace's spans arrive a few at a time.
fn still_arriving(trace: &Value) -> bool {
    let all = spans(trace);
    let missing_parent = all.iter().any(|s| s["parent_missing"] == true);
    let last_end_ms = all
        .iter()
        .filter_map(|s| s["end_unix_nanos"].as_u64())
        .max()
        .unwrap_or(0)
        / 1_000_000;
    missing_parent && crate::progress::now_ms().saturating_sub(last_end_ms) < ARRIVING_MS
}

/// The checkouts of the last while (newest first), read whole.
async fn recent_checkouts(
    context: &Context<'_>,
    window: &[(&str, String)],
    limit: usize,
) -> Result<Vec<Value>, WorkshopError> {
    let mut found: Vec<Value> = Vec::new();
    for operation in CHECKOUT_OPERATIONS {
        let mut params = vec![
            ("service", "frontend".to_string()),
            ("operation", operation.to_string()),
            ("limit", limit.to_string()),
        ];
        params.extend(window.iter().cloned());
        found.extend(context.explorer.search(&params).await?);
    }
    found.sort_by_key(|t| std::cmp::Reverse(t["start_unix_nanos"].as_u64().unwrap_or(0)));
    let mut traces = Vec::new();
    for summary in found.iter().take(limit) {
        let id = summary["trace_id"].as_str().unwrap_or_default();
        if let Some(trace) = context.explorer.trace(id).await? {
            traces.push(trace);
        }
    }
    Ok(traces)
}

/// The participant's own checkouts (not the load generator's) since the lesson started.
async fn own_checkouts(context: &Context<'_>) -> Result<Vec<Value>, WorkshopError> {
    let since = vec![("start", context.started_unix_ms.to_string())];
    let traces = recent_checkouts(context, &since, 40).await?;
    Ok(traces
        .into_iter()
        .filter(|trace| {
            frontend_checkout(trace).is_some_and(|span| attribute(span, SYNTHETIC).is_none())
        })
        .collect())
}

/// The participant's latest own checkout since the lesson started.
pub(super) async fn latest_own_checkout(
    context: &Context<'_>,
) -> Result<Option<Value>, WorkshopError> {
    Ok(own_checkouts(context).await?.into_iter().next())
}

/// What a check that needs the participant's own purchase says before there is one.
pub(super) fn no_purchase_yet(context: &Context<'_>) -> Verdict {
    Verdict::not_yet(context.lang.say(
        "You have not bought anything since this lesson started. Make a checkout in the shop first.",
        "このレッスンを開始してから、まだ購入していません。先にショップで購入（チェックアウト）してください。",
    ))
}

fn start_ms(span: &Value) -> u64 {
    span["start_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000
}

/// `own-checkout`: the answer is the id of a checkout the participant made.
pub async fn own_checkout(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let words = words(given);
    let Some(id) = words
        .first()
        .filter(|_| words.len() == 1)
        .and_then(|w| answer::trace_id(w))
    else {
        return Err(context.wrong_form(given));
    };
    let Some(trace) = context.explorer.trace(&id).await? else {
        return Ok(Verdict::wrong(lang.say(
            format!("The explorer holds no trace {id}. Copy the id from the top of the trace's page (32 characters), or from the search results; if you bought just now, its spans may still be on their way: check again in a few seconds."),
            format!("エクスプローラーにトレース {id} はありません。ID（32 文字）は、トレース画面の上部か検索結果からコピーしてください。購入した直後であれば、スパンがまだ届いていない可能性があります。数秒後にもう一度確認してください。"),
        )));
    };
    let Some(span) = frontend_checkout(&trace) else {
        if still_arriving(&trace) {
            return Ok(Verdict::not_yet(lang.say(
                "Only part of that trace has reached the explorer so far: its spans are still on their way. Check again in a few seconds.",
                "このトレースは、まだ一部のスパンしかエクスプローラーに届いていません。残りのスパンは送信中です。数秒後にもう一度確認してください。",
            )));
        }
        let root = spans(&trace)
            .first()
            .map(|s| {
                format!(
                    "{} {}",
                    s["service"].as_str().unwrap_or("?"),
                    s["name"].as_str().unwrap_or("?")
                )
            })
            .unwrap_or_default();
        return Ok(Verdict::wrong(lang.say(
            format!("That trace is not a checkout: it starts with {root}. Search for the frontend's POST /checkout."),
            format!("このトレースはチェックアウトではありません（最初のスパンは {root}）。frontend の POST /checkout を検索してください。"),
        )));
    };
    if let Some(mine) = context.explorer.namespace() {
        let theirs = span["resource"]["service.namespace"].as_str().unwrap_or("");
        if theirs != mine {
            return Ok(Verdict::wrong(lang.say(
                format!("That checkout was made in another participant's shop (service.namespace={theirs:?}, yours is {mine:?}). Open the explorer with ?namespace={mine}."),
                format!("このチェックアウトは別の参加者のショップのものです（service.namespace={theirs:?}。自分の名前空間は {mine:?} です）。エクスプローラーを ?namespace={mine} 付きで開いてください。"),
            )));
        }
    }
    if attribute(span, SYNTHETIC).is_some() {
        return Ok(Verdict::wrong(lang.say(
            "That checkout was made by the load generator: its frontend span carries user_agent.synthetic.type=test. Buy something yourself in the shop, then look for a checkout without that attribute.",
            "このチェックアウトは負荷生成ツールによるものです（frontend のスパンに user_agent.synthetic.type=test があります）。ショップで自分で購入し、その属性がないチェックアウトを探してください。",
        )));
    }
    if start_ms(span) < context.started_unix_ms {
        return Ok(Verdict::wrong(lang.say(
            "That checkout happened before you started this lesson. Make a new one in the shop and find its trace.",
            "このチェックアウトはレッスン開始より前のものです。ショップで新たに購入し、そのトレースを探してください。",
        )));
    }
    let services: BTreeSet<&str> = spans(&trace)
        .iter()
        .filter_map(|s| s["service"].as_str())
        .collect();
    let ms = trace["duration_ms"].as_f64().unwrap_or(0.0);
    let count = trace["span_count"].as_u64().unwrap_or(0);
    Ok(Verdict::right(lang.say(
        format!("That is your checkout: {count} spans in {} services, {ms:.0} ms from first to last.", services.len()),
        format!("これは自分のチェックアウトです。{} 個のサービスにまたがる {count} 個のスパンで、最初のスパンから最後のスパンまで {ms:.0} ms でした。", services.len()),
    )))
}

/// How many services of the shop a checkout trace crosses.
fn shop_services(trace: &Value) -> usize {
    spans(trace)
        .iter()
        .filter_map(|s| s["service"].as_str())
        .filter(|name| *name != LOAD_GENERATOR)
        .collect::<BTreeSet<_>>()
        .len()
}

/// `checkout-services`: the answer is how many services a successful checkout crosses.
pub async fn services_crossed(
    context: &Context<'_>,
    given: &str,
) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let number = context.one_number(given)?;
    let window = vec![("since", "15m".to_string())];
    let traces = recent_checkouts(context, &window, 10).await?;
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for trace in traces.iter().filter(|t| t["error_count"] == 0) {
        *counts.entry(shop_services(trace)).or_default() += 1;
    }
    let Some((&truth, _)) = counts.iter().max_by_key(|(_, seen)| **seen) else {
        return Ok(Verdict::not_yet(lang.say(
            "There is no successful checkout in the last 15 minutes to count from. Buy something in the shop, then check again.",
            "直近 15 分に成功したチェックアウトがないため、数えられません。ショップで購入してから、もう一度確認してください。",
        )));
    };
    if number == truth as f64 {
        return Ok(Verdict::right(lang.say(
            format!("Right: a checkout crosses {truth} services of the shop."),
            format!("正解です。チェックアウトは、ショップのサービスを {truth} 個通ります。"),
        )));
    }
    let counted_load_generator = number == (truth + 1) as f64
        && traces
            .iter()
            .any(|t| spans(t).iter().any(|s| s["service"] == LOAD_GENERATOR));
    let message = if counted_load_generator {
        lang.say(
            "Close: loadgenerator is not a service of the shop; it plays the shoppers' browsers. Count the others.",
            "惜しいです。loadgenerator はショップのサービスではなく、買い物客のブラウザの役割を担っています。それ以外のサービスを数えてください。",
        )
    } else if number < truth as f64 {
        lang.say(
            "Too few. Some services are called by checkout, not by the frontend: open a checkout trace and read the service of every span, down to the deepest ones.",
            "少なすぎます。frontend ではなく checkout から呼ばれるサービスもあります。チェックアウトのトレースを開き、一番深いスパンまで、すべてのスパンのサービス名を確認してください。",
        )
    } else {
        lang.say(
            "Too many. Count each service once, however many spans it has; the order's later shipping is a trace of its own.",
            "多すぎます。スパンがいくつあっても、サービスは 1 回だけ数えます。注文のその後の出荷処理は、別のトレースです。",
        )
    };
    Ok(Verdict::wrong(message))
}

/// `baggage-tier`: the header that carries the tier, and the tier payment recorded for the
/// participant's own latest checkout.
pub async fn baggage_tier(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let words: Vec<String> = words(given)
        .into_iter()
        .map(|w| w.trim_matches(':').to_string())
        .collect();
    let [header, tier] = words.as_slice() else {
        return Err(context.wrong_form(given));
    };
    if !TIERS.contains(&tier.as_str()) {
        return Err(context.wrong_form(given));
    }
    let Some(latest) = latest_own_checkout(context).await? else {
        return Ok(no_purchase_yet(context));
    };
    let recorded = spans(&latest)
        .iter()
        .find(|s| s["service"] == "payment" && s["kind"] == "SERVER")
        .and_then(|s| attribute(s, "tracedojo.user.tier"));
    let Some(recorded) = recorded else {
        return Ok(Verdict::not_yet(lang.say(
            "Your latest checkout has no payment span yet (it failed before paying, or its spans are still on their way). Try again in a few seconds, or buy again.",
            "最新のチェックアウトに payment のスパンがまだありません（支払い前に失敗したか、スパンがまだ届いていません）。数秒後にもう一度確認するか、購入し直してください。",
        )));
    };
    if header != "baggage" {
        let why = if header == "traceparent" || header == "tracestate" {
            lang.say(
                format!("{header} carries the trace's identity (trace id, parent span id, sampling), not facts about the user."),
                format!("{header} が運ぶのはトレースの識別情報（トレース ID、親スパン ID、サンプリング）で、ユーザーに関する情報ではありません。"),
            )
        } else {
            lang.say(
                format!("{header:?} is not the header that carries it."),
                format!("{header:?} は tier を運ぶヘッダーではありません。"),
            )
        };
        return Ok(Verdict::wrong(why + &lang.say(
            " Which W3C header carries key=value pairs about the request from service to service?",
            " リクエストに関する key=value の組をサービスからサービスへ運ぶ W3C のヘッダーはどれでしょうか。",
        )));
    }
    if tier != recorded {
        return Ok(Verdict::wrong(lang.say(
            "The header is right, but payment recorded another tier for your latest checkout. Open that trace and read tracedojo.user.tier on payment's POST /payments span.",
            "ヘッダーは正しいですが、最新のチェックアウトで payment が記録した tier は別の値です。そのトレースを開き、payment の POST /payments スパンの tracedojo.user.tier を確認してください。",
        )));
    }
    Ok(Verdict::right(lang.say(
        format!("Right: the frontend put your tier, {recorded}, in the baggage header, and every call passed it on down to payment."),
        format!("正解です。frontend が自分の tier（{recorded}）を baggage ヘッダーに入れ、各呼び出しがそれを引き継いで payment まで届けました。"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_ending(ms_ago: u64, parent_missing: bool) -> Value {
        let end = (crate::progress::now_ms() - ms_ago) * 1_000_000;
        serde_json::json!({ "spans": [
            { "span_id": "b", "parent_span_id": "a", "parent_missing": parent_missing,
              "service": "shipping", "kind": "SERVER", "name": "POST /quotes",
              "end_unix_nanos": end },
        ]})
    }

    #[test]
    fn a_young_trace_with_a_missing_parent_is_still_arriving_and_an_old_or_whole_one_is_not() {
        assert!(still_arriving(&trace_ending(1_000, true)));
        assert!(!still_arriving(&trace_ending(ARRIVING_MS + 5_000, true)));
        assert!(!still_arriving(&trace_ending(1_000, false)));
    }
}
