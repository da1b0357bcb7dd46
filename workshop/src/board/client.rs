//! A participant's side of the board: one report per `start`, `check` or `hint`, sent only
//! when they gave `--board`. Best effort: three seconds at most, and a failure is a warning,
//! never a failed command, so a board that went away cannot stop anyone's lesson.

use std::time::Duration;

use serde_json::json;

use super::Said;
use super::state::{Event, MAX_TITLE_CHARS};

/// How long a report may take before the participant's command goes on without it.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// Where and as whom to report.
#[derive(Debug, Clone)]
pub struct Reporter {
    client: reqwest::Client,
    base: String,
    code: String,
    participant: String,
}

impl Reporter {
    /// A reporter for `board`, or why there cannot be one (no name, not an http(s) URL).
    pub fn new(board: &str, code: &str, participant: Option<&str>) -> Result<Reporter, Said> {
        let base = board.trim().trim_end_matches('/').to_string();
        let Some(participant) = participant.filter(|p| !p.is_empty()) else {
            return Err(Said::new(
                "not reported to the progress board: it needs your name (--participant NAME, or `tracedojo up --participant NAME`)",
                "進捗ボードには報告していません: 名前が必要です（--participant 名前、または `tracedojo up --participant 名前`）",
            ));
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Said::new(
                format!(
                    "not reported to the progress board: --board {base:?} must start with http:// or https://"
                ),
                format!(
                    "進捗ボードには報告していません: --board {base:?} は http:// か https:// で始めてください"
                ),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()
            .map_err(|err| {
                Said::new(
                    format!("not reported to the progress board: {err}"),
                    format!("進捗ボードには報告していません: {err}"),
                )
            })?;
        Ok(Reporter {
            client,
            base,
            code: code.trim().to_string(),
            participant: participant.to_string(),
        })
    }

    /// Reports one event; the error is one line in both languages.
    pub async fn send(&self, lesson: u32, title: &str, event: Event) -> Result<(), Said> {
        let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
        let body = json!({
            "code": self.code,
            "participant": self.participant,
            "lesson": lesson,
            "title": title,
            "event": event.name(),
            "at_unix_ms": crate::progress::now_ms(),
        });
        let url = format!("{}/api/board/reports", self.base);
        let failed = |en: String, ja: String| {
            Said::new(
                format!("not reported to the progress board at {}: {en}", self.base),
                format!("進捗ボード（{}）に報告できませんでした: {ja}", self.base),
            )
        };
        let response = match self.client.post(&url).json(&body).send().await {
            Ok(response) => response,
            Err(err) => {
                let (en, ja) = if err.is_timeout() {
                    (
                        format!("no answer within {} s", TIMEOUT.as_secs()),
                        format!("{} 秒以内に応答がありません", TIMEOUT.as_secs()),
                    )
                } else if err.is_connect() {
                    (
                        "cannot connect (is the board running, and is the address right?)"
                            .to_string(),
                        "接続できません（ボードは起動していますか？ アドレスは正しいですか？）"
                            .to_string(),
                    )
                } else {
                    (
                        "the request failed".to_string(),
                        "リクエストに失敗しました".to_string(),
                    )
                };
                return Err(failed(en, ja));
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let said = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body["error"].as_str().map(one_line))
            .unwrap_or_default();
        Err(match status.as_u16() {
            403 => failed(
                format!("the join code is wrong; use the one the board shows (--board-code) ({status})"),
                "参加コードが違います。ボードに表示されているコードを --board-code に指定してください（403）"
                    .to_string(),
            ),
            _ => failed(
                format!("it answered {status}: {said}"),
                format!("ボードが {status} を返しました: {said}"),
            ),
        })
    }
}

/// A message from elsewhere as one short line, so a warning stays one line.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    flat.trim().to_string()
}
