//! Checks about a change the participant makes to the shop's own code: they edit a service,
//! rebuild, restart `tracedojo up` and buy something, and the check looks for the result in
//! the traces, where anyone reading them would see it.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Context, Verdict};
use crate::error::WorkshopError;
use crate::explorer::spans;

/// The span the attribute goes on: checkout's SERVER span.
const CHECKOUT: (&str, &str) = ("checkout", "POST /checkout");
/// The span whose time the participant's own span splits: payment's SERVER span.
const PAYMENT: (&str, &str) = ("payment", "POST /payments");
/// The gateway's wait is nearly all of payment's time, so a span around it holds well over
/// half of the SERVER span; a span around a validation or a log line holds almost none.
const MIN_SHARE: f64 = 0.5;
/// How many checkouts are read on each side of the start.
const TRACES: usize = 10;
/// What payment's handler itself records, around the authorisation: the amount it annotates
/// before, the outcome it logs after. On the participant's span they mean the span wraps the
/// whole handler (and only repeats the SERVER span), not the authorisation.
const HANDLER_ATTRIBUTE: &str = "tracedojo.payment.amount_cents";
const HANDLER_EVENTS: [&str; 2] = ["payment approved", "payment declined"];

/// The shop's attribute registry as this binary was built with it: every key the shop as
/// shipped may send (`tests/semconv` keeps it to them). Earlier checkouts alone do not tell:
/// after the restart the lesson asks for, the explorer holds none, and a few of them miss keys
/// only some requests carry (`error.type` on a failed one, some shoppers' baggage).
const REGISTRY_YAML: [&str; 12] = [
    include_str!("../../../semconv/cache.yaml"),
    include_str!("../../../semconv/cart.yaml"),
    include_str!("../../../semconv/fault.yaml"),
    include_str!("../../../semconv/order.yaml"),
    include_str!("../../../semconv/payment.yaml"),
    include_str!("../../../semconv/product.yaml"),
    include_str!("../../../semconv/recommendation.yaml"),
    include_str!("../../../semconv/reservation.yaml"),
    include_str!("../../../semconv/restock.yaml"),
    include_str!("../../../semconv/search.yaml"),
    include_str!("../../../semconv/shipping.yaml"),
    include_str!("../../../semconv/user.yaml"),
];
/// The OpenTelemetry keys the shop may send, one a line, then their type and stability.
const OPENTELEMETRY_KEYS: &str = include_str!("../../../semconv/opentelemetry-attributes.txt");

/// Every key the registry lists: the shop's own (`- id: tracedojo....`) and the OpenTelemetry
/// ones it may send.
fn registered_keys() -> BTreeSet<String> {
    let own = REGISTRY_YAML
        .iter()
        .flat_map(|file| file.lines())
        .filter_map(|line| line.trim().strip_prefix("- id:"))
        .map(str::trim)
        .filter(|id| id.starts_with("tracedojo."));
    let opentelemetry = OPENTELEMETRY_KEYS
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_whitespace().next());
    own.chain(opentelemetry).map(str::to_string).collect()
}

/// The SERVER span `(service, name)` of `trace`.
fn server_span<'a>(trace: &'a Value, (service, name): (&str, &str)) -> Option<&'a Value> {
    spans(trace)
        .iter()
        .find(|s| s["service"] == service && s["kind"] == "SERVER" && s["name"] == name)
}

fn nanos(span: &Value, field: &str) -> u64 {
    span[field].as_u64().unwrap_or(0)
}

fn name(span: &Value) -> &str {
    span["name"].as_str().unwrap_or("?")
}

/// The attribute keys of a span (not of its resource).
fn keys(span: &Value) -> impl Iterator<Item = &String> {
    span["attributes"]
        .as_object()
        .into_iter()
        .flat_map(|a| a.keys())
}

/// What payment's part of one checkout shows of the participant's span.
enum OwnSpan {
    /// An INTERNAL span right under `POST /payments` that holds most of its time.
    Found {
        name: String,
        share: f64,
    },
    /// One right under it that holds the handler's own records too: it wraps the whole
    /// handler rather than the authorisation.
    WholeHandler {
        name: String,
    },
    /// One right under it, but too short to hold the gateway's wait.
    TooShort {
        name: String,
        share: f64,
    },
    /// An INTERNAL span of payment's that is not right under `POST /payments`.
    Elsewhere {
        name: String,
        parent: String,
    },
    Missing,
}

fn own_span(trace: &Value, payment: &Value) -> OwnSpan {
    let server_id = &payment["span_id"];
    let server_nanos = nanos(payment, "duration_nanos").max(1) as f64;
    let internal: Vec<&Value> = spans(trace)
        .iter()
        .filter(|s| s["service"] == PAYMENT.0 && s["kind"] == "INTERNAL")
        .collect();
    let share = |span: &Value| nanos(span, "duration_nanos") as f64 / server_nanos;
    let under_server = internal
        .iter()
        .filter(|s| s["parent_span_id"] == *server_id)
        .max_by(|a, b| share(a).total_cmp(&share(b)));
    if let Some(span) = under_server {
        let (name, share) = (name(span).to_string(), share(span));
        return if holds_handler_records(span) {
            OwnSpan::WholeHandler { name }
        } else if share >= MIN_SHARE {
            OwnSpan::Found { name, share }
        } else {
            OwnSpan::TooShort { name, share }
        };
    }
    match internal.first() {
        Some(span) => {
            let parent = spans(trace)
                .iter()
                .find(|p| p["span_id"] == span["parent_span_id"])
                .map(|p| format!("{} {}", p["service"].as_str().unwrap_or("?"), name(p)))
                .unwrap_or_else(|| "-".to_string());
            OwnSpan::Elsewhere {
                name: name(span).to_string(),
                parent,
            }
        }
        None => OwnSpan::Missing,
    }
}

/// Whether `span` carries what payment's handler records outside the authorisation.
fn holds_handler_records(span: &Value) -> bool {
    keys(span).any(|key| key == HANDLER_ATTRIBUTE)
        || span["events"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|event| HANDLER_EVENTS.iter().any(|name| event["name"] == *name))
}

/// The checkouts the explorer holds in a window, read whole, newest first.
async fn checkouts(
    context: &Context<'_>,
    window: (&str, u64),
) -> Result<Vec<Value>, WorkshopError> {
    let found = context
        .explorer
        .search(&[
            ("service", CHECKOUT.0.to_string()),
            ("operation", CHECKOUT.1.to_string()),
            ("limit", TRACES.to_string()),
            (window.0, window.1.to_string()),
        ])
        .await?;
    let mut traces = Vec::new();
    for summary in &found {
        let id = summary["trace_id"].as_str().unwrap_or_default();
        if let Some(trace) = context.explorer.trace(id).await? {
            traces.push(trace);
        }
    }
    Ok(traces)
}

/// `own-span`: since the lesson started, a checkout whose payment `POST /payments` holds an
/// INTERNAL span of the participant's around the gateway's wait, and whose checkout
/// `POST /checkout` carries an attribute key that checkout neither sent before the start nor
/// finds in the shop's registry.
pub async fn own_span_and_attribute(context: &Context<'_>) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let started_nanos = context.started_unix_ms.saturating_mul(1_000_000);
    let since = checkouts(context, ("start", context.started_unix_ms)).await?;
    let mut known = registered_keys();
    for trace in checkouts(context, ("end", context.started_unix_ms)).await? {
        if let Some(span) = server_span(&trace, CHECKOUT)
            && nanos(span, "start_unix_nanos") < started_nanos
        {
            known.extend(keys(span).cloned());
        }
    }

    let mut any_checkout = false;
    let mut latest: Option<(OwnSpan, Vec<String>)> = None;
    for trace in &since {
        let Some(checkout) = server_span(trace, CHECKOUT)
            .filter(|span| nanos(span, "start_unix_nanos") >= started_nanos)
        else {
            continue;
        };
        any_checkout = true;
        let Some(payment) = server_span(trace, PAYMENT) else {
            continue;
        };
        let new_keys: Vec<String> = keys(checkout)
            .filter(|key| !known.contains(*key))
            .cloned()
            .collect();
        let span = own_span(trace, payment);
        if let (OwnSpan::Found { name, share }, false) = (&span, new_keys.is_empty()) {
            let percent = (share * 100.0).round();
            let attributes = new_keys.join(", ");
            return Ok(Verdict::right(lang.say(
                format!("Right: in your checkout, payment's POST /payments now holds your span \"{name}\" ({percent:.0} % of its time, the gateway's wait), and checkout's POST /checkout carries {attributes}, which it did not carry before."),
                format!("正解です。自分のチェックアウトでは、payment の POST /payments の下に自分で追加したスパン「{name}」があり（処理時間の {percent:.0} %、ゲートウェイの待ち時間です）、checkout の POST /checkout にはこれまでなかった {attributes} が付いています。"),
            )));
        }
        latest.get_or_insert((span, new_keys));
    }

    let Some((span, new_keys)) = latest else {
        return Ok(Verdict::not_yet(if any_checkout {
            lang.say(
                "Your checkouts since the lesson started have no payment span yet: they failed before paying, or their spans are still on their way. Buy something again (with a card that is approved), then check in a few seconds.",
                "レッスン開始後のチェックアウトに、まだ payment のスパンがありません。支払いの前に失敗したか、スパンがまだ届いていません。承認されるカードでもう一度購入し、数秒後に確認してください。",
            )
        } else {
            lang.say(
                "No checkout has reached the explorer since you started this lesson. Once the rebuilt shop is running (started with the same --participant as before), buy something in it, then check again.",
                "このレッスンを開始してから、エクスプローラーにチェックアウトが届いていません。ビルドし直したショップを前と同じ --participant で起動し、そこで購入してから、もう一度確認してください。",
            )
        }));
    };

    let mut parts = Vec::new();
    if matches!(span, OwnSpan::Missing) && new_keys.is_empty() {
        parts.push(lang.say(
            "Your latest checkout looks like the shop before any change. If you have already edited the code, the shop that is running is still the old build: rebuild with cargo build --release, restart tracedojo up, and buy again.",
            "最新のチェックアウトは、変更前のショップのものと同じに見えます。コードを編集済みなら、動いているのはまだ古いビルドです。cargo build --release でビルドし直し、tracedojo up を再起動してから、もう一度購入してください。",
        ));
    }
    match span {
        OwnSpan::Found { .. } => {}
        OwnSpan::WholeHandler { name } => parts.push(lang.say(
            format!("The span: \"{name}\" is right under payment's POST /payments, but it holds what the handler records itself (the amount, the \"payment approved\" log), so it wraps the whole handler and only repeats POST /payments. Put it around the authorisation alone: authorise in services/payment/src/gateway.rs."),
            format!("スパン: 「{name}」は payment の POST /payments の直下にありますが、ハンドラー自身が記録する内容（金額の属性や「payment approved」のログ）まで含んでいます。つまりハンドラー全体を囲んでいて、POST /payments と同じ範囲を繰り返しているだけです。スパンは認可処理だけ、つまり services/payment/src/gateway.rs の authorise を囲むようにしてください。"),
        )),
        OwnSpan::Missing => parts.push(lang.say(
            "The span: payment's POST /payments has no span of its own under it yet, so the gateway's wait is still hidden inside the request's span. Look at authorise in services/payment/src/gateway.rs.",
            "スパン: payment の POST /payments の下に、まだ独自のスパンがありません。ゲートウェイの待ち時間は、リクエストのスパンの中に埋もれたままです。services/payment/src/gateway.rs の authorise を見てください。",
        )),
        OwnSpan::TooShort { name, share } => {
            let percent = (share * 100.0).round();
            parts.push(lang.say(
                format!("The span: \"{name}\" is right under payment's POST /payments, but lasts only {percent:.0} % of it, so it leaves the gateway's wait outside. Look at what authorise in services/payment/src/gateway.rs waits on: your span must start before that wait and end after it."),
                format!("スパン: 「{name}」は payment の POST /payments の直下にありますが、長さが POST /payments の {percent:.0} % しかなく、ゲートウェイの待ち時間がスパンの外に出ています。services/payment/src/gateway.rs の authorise が何を待っているかを確認してください。スパンは、その待ちより前に始まり、待ちが終わった後に終わる必要があります。"),
            ));
        }
        OwnSpan::Elsewhere { name, parent } => parts.push(lang.say(
            format!("The span: payment has a span of yours, \"{name}\", but it is not right under POST /payments (its parent is {parent}). Open it where the request runs: in authorise in services/payment/src/gateway.rs, which the handler calls."),
            format!("スパン: payment に自分で追加したスパン「{name}」はありますが、POST /payments の直下ではありません（親は {parent}）。リクエストの処理中に、ハンドラーから呼ばれる services/payment/src/gateway.rs の authorise の中で開始してください。"),
        )),
    }
    if new_keys.is_empty() {
        parts.push(lang.say(
            "The attribute: every key on checkout's POST /checkout is one the shop sent before the lesson started, or one its registry (semconv/) already lists. Look at the spot marked for lesson 10 in place_order, in services/checkout/src/place_order.rs, and give your attribute a name of your own under tracedojo.",
            "属性: checkout の POST /checkout に付いているキーは、どれもレッスン開始前からショップが送っていたものか、属性レジストリ（semconv/）にすでにあるものです。services/checkout/src/place_order.rs の place_order で、レッスン 10 の目印がある場所を見てください。属性には tracedojo. の下に自分で考えた名前を付けます。",
        ));
    }
    Ok(Verdict::wrong(parts.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_gives_the_shops_keys_and_the_opentelemetry_ones() {
        let keys = registered_keys();
        for key in [
            "tracedojo.order.total_cents",
            "tracedojo.user.tier",
            "http.route",
            "error.type",
            "user.id",
        ] {
            assert!(keys.contains(key), "{key} is missing");
        }
        assert!(!keys.contains("tracedojo.order.gift_wrapped"));
        assert!(
            keys.iter()
                .all(|k| k.contains('.') && k.chars().all(|c| c.is_ascii_graphic())),
            "{keys:?}"
        );
    }

    /// A file added to semconv/ must be embedded too, or its keys would count as new.
    #[test]
    fn every_registry_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../semconv");
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
            .filter(|name| name.ends_with(".yaml"))
            // The manifest names the dependency; opentelemetry.yaml only refers to keys that
            // opentelemetry-attributes.txt lists.
            .filter(|name| name != "manifest.yaml" && name != "opentelemetry.yaml")
            .collect();
        assert_eq!(files.len(), REGISTRY_YAML.len(), "{files:?}");
        for name in files {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            assert!(
                REGISTRY_YAML.contains(&text.as_str()),
                "{name} is not embedded"
            );
        }
        let text = std::fs::read_to_string(dir.join("opentelemetry-attributes.txt")).unwrap();
        assert_eq!(text, OPENTELEMETRY_KEYS);
    }

    fn span(id: &str, parent: &str, service: &str, kind: &str, name: &str, ms: u64) -> Value {
        serde_json::json!({
            "span_id": id, "parent_span_id": parent, "service": service, "kind": kind,
            "name": name, "duration_nanos": ms * 1_000_000, "attributes": {},
        })
    }

    #[test]
    fn a_span_of_ones_own_is_told_by_its_parent_and_its_share_of_the_request() {
        let server = span("s", "c", "payment", "SERVER", "POST /payments", 40);
        let trace = |extra: Vec<Value>| {
            let mut all = vec![server.clone()];
            all.extend(extra);
            serde_json::json!({ "spans": all })
        };
        let found = trace(vec![span("a", "s", "payment", "INTERNAL", "authorise", 38)]);
        assert!(matches!(own_span(&found, &server), OwnSpan::Found { .. }));
        let short = trace(vec![span("a", "s", "payment", "INTERNAL", "check", 2)]);
        assert!(matches!(
            own_span(&short, &server),
            OwnSpan::TooShort { .. }
        ));
        let nested = trace(vec![
            span("a", "s", "payment", "INTERNAL", "outer", 3),
            span("b", "x", "payment", "INTERNAL", "inner", 38),
        ]);
        assert!(matches!(
            own_span(&nested, &server),
            OwnSpan::TooShort { .. }
        ));
        let elsewhere = trace(vec![span("b", "x", "payment", "INTERNAL", "inner", 38)]);
        assert!(matches!(
            own_span(&elsewhere, &server),
            OwnSpan::Elsewhere { .. }
        ));
        let mut handler = span("a", "s", "payment", "INTERNAL", "create_payment", 39);
        handler["events"] = serde_json::json!([{ "name": "payment approved", "attributes": {} }]);
        assert!(matches!(
            own_span(&trace(vec![handler]), &server),
            OwnSpan::WholeHandler { .. }
        ));
        let mut annotated = span("a", "s", "payment", "INTERNAL", "create_payment", 39);
        annotated["attributes"] = serde_json::json!({ HANDLER_ATTRIBUTE: 1200 });
        assert!(matches!(
            own_span(&trace(vec![annotated]), &server),
            OwnSpan::WholeHandler { .. }
        ));
        let other_service = trace(vec![span("a", "s", "checkout", "INTERNAL", "save", 38)]);
        assert!(matches!(
            own_span(&other_service, &server),
            OwnSpan::Missing
        ));
    }
}
