//! Checks about asynchronous work: where an order goes after the checkout, and how long it
//! waited in the queue, found by following the span link from the consumer back to the
//! checkout's PRODUCER span.

use super::checkout::{latest_own_checkout, no_purchase_yet};
use super::{Context, Verdict};
use crate::error::WorkshopError;
use crate::explorer::{attribute, spans};

/// `queue-lag`: `SERVICE LAG_MS`, the service that consumed the participant's latest order
/// and how long after the checkout sent it.
pub async fn queue_lag(
    context: &Context<'_>,
    given: &str,
    tolerance: f64,
) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let (service, lag) = context.word_and_number(given)?;
    let Some(latest) = latest_own_checkout(context).await? else {
        return Ok(no_purchase_yet(context));
    };
    let producer = spans(&latest).iter().find(|s| s["kind"] == "PRODUCER");
    let Some((message_id, sent)) = producer.and_then(|s| {
        attribute(s, "messaging.message.id")
            .map(|id| (id.to_string(), s["start_unix_nanos"].as_u64().unwrap_or(0)))
    }) else {
        return Ok(Verdict::not_yet(lang.say(
            "Your latest checkout sent no order message (did it fail?). Buy again.",
            "最新のチェックアウトは注文メッセージを送っていません（失敗しましたか？）。もう一度購入してください。",
        )));
    };
    let consumed = context
        .explorer
        .search(&[
            ("attr", format!("messaging.message.id={message_id}")),
            ("limit", "5".to_string()),
        ])
        .await?;
    let mut consumer = None;
    for summary in &consumed {
        let Some(trace) = context
            .explorer
            .trace(summary["trace_id"].as_str().unwrap_or_default())
            .await?
        else {
            continue;
        };
        if let Some(span) = spans(&trace).iter().find(|s| {
            s["kind"] == "CONSUMER"
                && attribute(s, "messaging.message.id") == Some(message_id.as_str())
        }) {
            consumer = Some(span.clone());
            break;
        }
    }
    let Some(consumer) = consumer else {
        return Ok(Verdict::not_yet(lang.say(
            "Your latest order is still waiting in the queue: nothing has picked it up yet. That wait is what you are measuring; check again when it has been processed.",
            "最新の注文はまだキューで待っていて、どのサービスも取り出していません。この待ち時間こそが測る対象です。処理されてから、もう一度確認してください。",
        )));
    };
    let consumer_service = consumer["service"].as_str().unwrap_or_default();
    let measured = consumer["start_unix_nanos"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(sent) as f64
        / 1e6;
    if service != consumer_service {
        return Ok(Verdict::wrong(lang.say(
            format!("{service} did not pick your order up. The order's message left checkout in a PRODUCER span; the span that processed it is in another trace, linked back to it: search by the message id (messaging.message.id)."),
            format!("注文を取り出したのは {service} ではありません。注文メッセージは checkout の PRODUCER スパンで送られました。それを処理したスパンは別のトレースにあり、リンクで元の PRODUCER スパンを指しています。メッセージ ID（messaging.message.id）で検索してください。"),
        )));
    }
    if (lag - measured).abs() > (tolerance * measured).max(50.0) {
        return Ok(Verdict::wrong(lang.say(
            format!("Right service. {lag} ms is not how long your order waited: subtract the start of the PRODUCER span in your checkout's trace from the start of {consumer_service}'s CONSUMER span."),
            format!("サービスは正解です。ただし注文が待った時間は {lag} ms ではありません。{consumer_service} の CONSUMER スパンの開始時刻から、チェックアウトのトレースにある PRODUCER スパンの開始時刻を引いてください。"),
        )));
    }
    Ok(Verdict::right(lang.say(
        format!("Right: {consumer_service} picked your order up {measured:.0} ms after the checkout sent it. The checkout answered long before: that wait is invisible in its trace and only the link shows it."),
        format!("正解です。{consumer_service} は、チェックアウトが送ってから {measured:.0} ms 後に注文を取り出しました。チェックアウト自体はそれよりずっと前に応答しているため、この待ち時間はチェックアウトのトレースには現れず、リンクをたどって初めてわかります。"),
    )))
}
