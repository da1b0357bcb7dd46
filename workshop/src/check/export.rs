//! The check of the lesson that sends the shop's telemetry to the participant's own backend:
//! the explorer's status lists the other destinations `up` sends to, with spans sent and
//! lost and the last failure in plain words (the same words as `tracedojo doctor`).

use serde_json::Value;

use super::{Context, Verdict};
use crate::error::WorkshopError;

/// `export`: a backend besides the explorer takes the shop's spans, without failing, and the
/// spans carry the participant's namespace.
pub async fn export(context: &Context<'_>) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let status = context.explorer.view("/api/status", &[]).await?;
    let exports = status["exports"].as_array().cloned().unwrap_or_default();
    if exports.is_empty() {
        return Ok(Verdict::wrong(lang.say(
            "The shop sends its spans to the explorer only. Check the backend's settings with `tracedojo doctor --to VENDOR`, then restart `tracedojo up --to VENDOR --participant YOUR_NAME`.",
            "ショップはスパンをエクスプローラーにしか送っていません。`tracedojo doctor --to ベンダー名` でバックエンドの設定を確認してから、`tracedojo up --to ベンダー名 --participant 名前` で起動し直してください。",
        )));
    }
    if let Some(failing) = exports.iter().find(|e| e["failing"] == true) {
        return Ok(Verdict::wrong(failing_message(context, failing)));
    }
    let sent: u64 = exports
        .iter()
        .filter_map(|e| e["spans_sent"].as_u64())
        .sum();
    if sent == 0 {
        return Ok(Verdict::not_yet(lang.say(
            "The backend is set but no span has reached it yet. Use the shop for a few seconds and check again.",
            "バックエンドは設定されていますが、まだスパンが届いていません。数秒間ショップを使ってから、もう一度確認してください。",
        )));
    }
    if context.explorer.namespace().is_none() {
        return Ok(Verdict::wrong(lang.say(
            "Spans reach the backend, but without a namespace of your own: in an account shared with others, yours cannot be told apart. Restart `tracedojo up` with --participant YOUR_NAME.",
            "スパンはバックエンドに届いていますが、自分専用の名前空間がありません。ほかの参加者と共有しているアカウントでは、自分のデータを区別できません。--participant 名前 を付けて `tracedojo up` を起動し直してください。",
        )));
    }
    let namespace = context.explorer.namespace().unwrap_or_default();
    let destination = exports[0]["destination"].as_str().unwrap_or("?");
    Ok(Verdict::right(lang.say(
        format!("Right: {sent} spans reached {destination}, none failing. In the backend, filter on service.namespace = {namespace} to see only yours."),
        format!("正解です。{destination} に {sent} 個のスパンが届き、失敗はありません。バックエンドでは service.namespace = {namespace} で絞り込むと、自分のデータだけを表示できます。"),
    )))
}

/// What a failing destination's last failure says, and what to do.
fn failing_message(context: &Context<'_>, failing: &Value) -> String {
    let destination = failing["destination"].as_str().unwrap_or("?");
    let failure = failing["last_failure"].as_str().unwrap_or("no details");
    context.lang.say(
        format!("Sending to {destination} fails: {failure}. `tracedojo doctor` says the same with more detail; fix the setting it names and restart `tracedojo up`."),
        format!("{destination} への送信が失敗しています: {failure}。`tracedojo doctor` でより詳しく確認できます。指摘された設定を直してから `tracedojo up` を起動し直してください。"),
    )
}
