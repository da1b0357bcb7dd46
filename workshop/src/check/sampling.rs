//! The check of the sampling lesson: with a head sampler keeping a share of the traces, how
//! many of the stage's purchases the explorer holds, counted through its search.

use super::{Context, Verdict};
use crate::error::WorkshopError;

/// The frontend's checkout as the simulated shoppers call it.
const CHECKOUT: &str = "POST /api/checkout";

/// `sampled-count`: `N`, how many of the stage's checkout traces the explorer kept; right
/// when it is the count (within `slack`) and the sampler is in force (fewer than half kept).
pub async fn sampled_count(
    context: &Context<'_>,
    given: &str,
    slack: u64,
) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let answered = context.one_number(given)?;
    let kept = context
        .explorer
        .search(&[
            ("service", "frontend".to_string()),
            ("operation", CHECKOUT.to_string()),
            ("start", context.started_unix_ms.to_string()),
            ("limit", "1000".to_string()),
        ])
        .await?
        .len() as u64;
    let planned = context.stage_journeys;
    if planned > 0 && kept * 2 > planned {
        return Ok(Verdict::wrong(lang.say(
            format!("The explorer kept {kept} of the {planned} purchases: nearly all, so no sampler is at work. Stop `tracedojo up`, start it again with OTEL_TRACES_SAMPLER=parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG=0.1, then start this lesson again."),
            format!("エクスプローラーは {planned} 件の購入のうち {kept} 件を保持しています。ほぼすべてが残っているので、サンプラーが動いていません。`tracedojo up` を止め、OTEL_TRACES_SAMPLER=parentbased_traceidratio と OTEL_TRACES_SAMPLER_ARG=0.1 を指定して起動し直してから、このレッスンをもう一度開始してください。"),
        )));
    }
    if kept == 0 {
        return Ok(Verdict::not_yet(lang.say(
            "The explorer holds none of this lesson's checkouts yet. Wait a few seconds and check again.",
            "このレッスンのチェックアウトは、まだエクスプローラーに 1 件もありません。数秒待ってから、もう一度確認してください。",
        )));
    }
    if (answered - kept as f64).abs() > slack as f64 {
        return Ok(Verdict::wrong(lang.say(
            format!("{answered} is not how many checkout traces the explorer holds since the lesson started. Search for the frontend's {CHECKOUT} with the window since you started and a limit high enough to see them all."),
            format!("{answered} は、レッスン開始後にエクスプローラーが保持しているチェックアウトのトレース数ではありません。レッスン開始後の期間で frontend の {CHECKOUT} を検索し、すべて表示されるよう件数の上限を大きくしてください。"),
        )));
    }
    Ok(Verdict::right(lang.say(
        format!("Right: {kept} of {planned} purchases were kept, whole: the first service decided at the start of each trace, and every service after it followed that decision."),
        format!("正解です。{planned} 件の購入のうち {kept} 件が、欠けのないトレースとして保持されました。最初のサービスがトレースの開始時に判断し、後続のサービスはすべてその判断に従いました。"),
    )))
}
