//! Checks about failures: the service where a failure begins, the segment of users it hits,
//! and the release that brought it, read from the explorer's Errors view and traces.

use serde_json::Value;

use super::answer::words;
use super::{Context, Verdict, since_start};
use crate::error::WorkshopError;

/// Fewer failing traces than this tell nothing yet.
const MIN_FAILING: u64 = 3;

/// The Errors view since the lesson started.
async fn errors_since_start(context: &Context<'_>) -> Result<Value, WorkshopError> {
    context
        .explorer
        .view("/api/errors", &[("since", since_start(context))])
        .await
}

fn too_few(context: &Context<'_>) -> Verdict {
    Verdict::not_yet(context.lang.say(
        "Too few failing requests since the lesson started to tell. Wait half a minute (the simulated shoppers keep buying) and check again.",
        "レッスン開始後に失敗したリクエストがまだ少なく、判定できません。30 秒ほど待って（模擬の買い物客が購入を続けています）から、もう一度確認してください。",
    ))
}

/// `root-cause`: `SERVICE`, where the failures begin.
pub async fn root_cause(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let words = words(given);
    let service = match words.as_slice() {
        [service] if tracedojo_faults::spec::SERVICES.contains(&service.as_str()) => {
            service.clone()
        }
        _ => {
            return Err(context.wrong_form(given));
        }
    };
    let errors = errors_since_start(context).await?;
    if errors["failing_traces"].as_u64().unwrap_or(0) < MIN_FAILING {
        return Ok(too_few(context));
    }
    let causes = errors["root_causes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(first) = causes
        .iter()
        .max_by_key(|c| c["traces"].as_u64().unwrap_or(0))
    else {
        return Ok(too_few(context));
    };
    let origin = first["service"].as_str().unwrap_or_default();
    if service == origin {
        return Ok(Verdict::right(lang.say(
            format!("Right: the failures begin in {origin}; every service above it failed only because a call it made did."),
            format!("正解です。失敗は {origin} で始まっています。その呼び出し元のサービスはすべて、呼び出した先が失敗したために失敗しただけです。"),
        )));
    }
    let message = if matches!(service.as_str(), "frontend" | "checkout") {
        lang.say(
            format!("{service} failed, but only because a call it made failed. Follow the failing (red) spans down to the deepest one: the one whose children all succeeded."),
            format!("{service} も失敗していますが、それは呼び出した先が失敗したためです。失敗した（赤い）スパンを下へたどり、子がすべて成功している一番深いスパンを探してください。"),
        )
    } else {
        lang.say(
            format!("{service} is not where these failures begin. Open a failing checkout and follow its failing spans down, or read the root causes on the Errors page."),
            format!("失敗が始まっているのは {service} ではありません。失敗したチェックアウトを開いて失敗したスパンを下へたどるか、Errors 画面の根本原因（root causes）を確認してください。"),
        )
    };
    Ok(Verdict::wrong(message))
}

/// The short names a participant may use for the segment keys.
fn full_key(key: &str) -> String {
    let key = key.trim();
    match key {
        "tier" | "user.tier" => "tracedojo.user.tier".to_string(),
        "region" | "user.region" => "tracedojo.user.region".to_string(),
        "device" | "user.device" => "tracedojo.user.device".to_string(),
        "company" | "user.company" => "tracedojo.user.company".to_string(),
        other => other.to_string(),
    }
}

/// `segment`: `KEY=VALUE`, the users the failures hit (the stage's `segment`).
pub async fn segment(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let joined = words(given).join("");
    let Some((key, value)) = joined
        .split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
    else {
        return Err(context.wrong_form(given));
    };
    let (key, value) = (full_key(key), value.to_string());
    let expected_key = context.vars.get("segment.key").cloned().unwrap_or_default();
    let expected_value = context
        .vars
        .get("segment.value")
        .cloned()
        .unwrap_or_default()
        .to_lowercase();
    let errors = errors_since_start(context).await?;
    if errors["failing_traces"].as_u64().unwrap_or(0) < MIN_FAILING {
        return Ok(too_few(context));
    }
    if key == expected_key && value == expected_value {
        return Ok(Verdict::right(lang.say(
            format!("Right: only requests with {expected_key}={expected_value} fail; everyone else is fine."),
            format!("正解です。失敗しているのは {expected_key}={expected_value} のリクエストだけで、それ以外のユーザーには問題がありません。"),
        )));
    }
    let message = if key == expected_key {
        lang.say(
            format!("{key} is the right attribute, but {value} is not the value that separates the failing requests: compare how often each value fails."),
            format!("属性 {key} は正解ですが、失敗するリクエストを分けている値は {value} ではありません。値ごとの失敗の割合を比べてください。"),
        )
    } else {
        lang.say(
            format!("{key}={value} does not separate the failing requests from the others. On the Errors page, narrow to the failing operation and read the attributes that fail more often with a value than without it."),
            format!("{key}={value} では、失敗するリクエストとそれ以外を分けられません。Errors 画面で失敗しているオペレーションに絞り込み、その値を持つリクエストのほうが持たないリクエストより失敗しやすい属性を確認してください。"),
        )
    };
    Ok(Verdict::wrong(message))
}

/// `bad-release`: `SERVICE VERSION`, the release that regressed (the stage's `service` and
/// `version`), once the explorer holds that release's spans.
pub async fn bad_release(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let words = words(given);
    let [service, version] = words.as_slice() else {
        return Err(context.wrong_form(given));
    };
    let version = version.trim_start_matches('v');
    let expected_service = context
        .vars
        .get("service")
        .map(String::as_str)
        .unwrap_or_default();
    let expected_version = context
        .vars
        .get("version")
        .map(String::as_str)
        .unwrap_or_default();
    let released = context
        .explorer
        .search(&[
            ("service", expected_service.to_string()),
            ("attr", format!("service.version={expected_version}")),
            ("start", context.started_unix_ms.to_string()),
            ("limit", "1".to_string()),
        ])
        .await?;
    if released.is_empty() {
        return Ok(Verdict::not_yet(lang.say(
            "The new release has not served anything yet. Wait a few seconds and check again.",
            "新しいリリースはまだリクエストを処理していません。数秒待ってから、もう一度確認してください。",
        )));
    }
    if service != expected_service {
        return Ok(Verdict::wrong(lang.say(
            format!("{service} was not redeployed. Which service's spans started to say another service.version when the trouble began?"),
            format!("{service} は再デプロイされていません。問題が始まったときに、どのサービスのスパンの service.version が変わったでしょうか。"),
        )));
    }
    if version != expected_version {
        return Ok(Verdict::wrong(lang.say(
            format!("Right service, but {version} is not the release that regressed. Compare the duration and errors of its spans by their resource's service.version."),
            format!("サービスは正解ですが、デグレードを起こしたリリースは {version} ではありません。スパンのリソースにある service.version ごとに、所要時間とエラーを比べてください。"),
        )));
    }
    Ok(Verdict::right(lang.say(
        format!("Right: {service} {version} is slower and fails where the version before did not. Every span carries its service's version, so a regression points at the deploy that brought it."),
        format!("正解です。{service} {version} は前のバージョンより遅く、前のバージョンでは起きなかった失敗も起こしています。すべてのスパンがサービスのバージョンを持っているので、デグレードから、それを持ち込んだデプロイを特定できます。"),
    )))
}
