//! Sending a report where a team works: a chat webhook (Slack's incoming-webhook JSON, which
//! Mattermost, Rocket.Chat and others accept too) and a ticket tracker (Jira's create-issue
//! JSON: summary, description, labels). A busy or failing receiver is tried again with a
//! growing pause; what still fails is reported, never silently dropped. Webhook URLs and
//! ticket credentials are secrets: messages name only the receiver's host.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Lang;
use crate::markdown::{self, clip, percent};
use crate::model::{Item, QueryItem, Report};
use crate::words;

/// Tries per post, and the pause before the second (doubling after).
pub const ATTEMPTS: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(15);
/// Items in one chat message: a chat thread is read, not scrolled.
const CHAT_ITEMS: usize = 5;

/// Why a post did not get through.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("{target} answered {status} {attempts} times; {what} was not posted{body}")]
    Refused {
        target: String,
        status: u16,
        attempts: u32,
        what: &'static str,
        body: String,
    },
    #[error("{target} could not be reached ({reason}), {attempts} tries; {what} was not posted")]
    Unreachable {
        target: String,
        reason: String,
        attempts: u32,
        what: &'static str,
    },
    #[error("{target} is not an http:// or https:// URL")]
    BadUrl { target: String },
}

/// Where a ticket goes and what it is filed as.
#[derive(Debug, Clone)]
pub struct TicketTracker {
    /// Jira's `.../rest/api/2/issue`, or any receiver of that shape.
    pub url: String,
    pub project: String,
    pub issue_type: String,
    /// The `Authorization` header's value (from the environment only).
    pub authorization: Option<String>,
}

/// Posts JSON with retries.
#[derive(Debug, Clone)]
pub struct Poster {
    http: reqwest::Client,
    first_pause: Duration,
}

impl Default for Poster {
    fn default() -> Self {
        Poster::with_pause(FIRST_PAUSE)
    }
}

impl Poster {
    /// A poster whose first pause between tries is `first_pause` (tests shorten it).
    pub fn with_pause(first_pause: Duration) -> Poster {
        Poster {
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_default(),
            first_pause,
        }
    }

    /// Posts `body` to `url`; `what` names the payload in errors ("the chat message").
    pub async fn post(
        &self,
        url: &str,
        body: &Value,
        authorization: Option<&str>,
        what: &'static str,
    ) -> Result<(), PostError> {
        let target = receiver(url);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PostError::BadUrl { target });
        }
        let mut pause = self.first_pause;
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let mut request = self.http.post(url).json(body);
            if let Some(value) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    let body = if text.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", clip(&text, 200))
                    };
                    let refused = PostError::Refused {
                        target: target.clone(),
                        status,
                        attempts: attempt,
                        what,
                        body,
                    };
                    // A 4xx (other than "too many requests") will not change by trying again.
                    if (400..500).contains(&status) && status != 429 {
                        return Err(refused);
                    }
                    last = Some(refused);
                }
                Err(err) => {
                    last = Some(PostError::Unreachable {
                        target: target.clone(),
                        reason: if err.is_timeout() {
                            format!("no answer within {} s", TIMEOUT.as_secs())
                        } else {
                            "connection refused or no route".into()
                        },
                        attempts: attempt,
                        what,
                    });
                }
            }
        }
        Err(last.expect("at least one attempt"))
    }
}

/// "the receiver at HOST": a webhook's path is its secret, so only the host is named.
pub fn receiver(url: &str) -> String {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| authority.rsplit('@').next().unwrap_or(authority))
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("the receiver at {host}"),
        None => "the receiver (URL not shown)".into(),
    }
}

/// A chat message (Slack's incoming-webhook JSON) about `items` and `queries` of `report`.
pub fn chat_message(report: &Report, items: &[&Item], queries: &[&QueryItem], lang: Lang) -> Value {
    let w = words::of(lang);
    let title = format!("{} — {}", w.title, words::utc(report.generated_unix_ms));
    let summary = if items.is_empty() && queries.is_empty() {
        w.nothing_needs_work(report.endpoints_judged)
    } else {
        w.needing_work(items.len(), report.endpoints_judged, queries.len())
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": slack(&summary)}}),
    ];
    let mut lines = vec![format!("*{}*", slack(&title)), slack(&summary)];
    for item in items.iter().take(CHAT_ITEMS) {
        let text = chat_item(item, lang);
        lines.push(text.clone());
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 2900)}}),
        );
    }
    for query in queries.iter().take(CHAT_ITEMS) {
        let hints: Vec<String> = query.hints.iter().map(|h| w.query_hint(h)).collect();
        let text = format!(
            "{} `{}`: {}",
            slack(&query.service),
            slack(&markdown::code_text(&clip(&query.query, 100))),
            slack(&hints.join(w.sentence_separator))
        );
        lines.push(text.clone());
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 2900)}}),
        );
    }
    json!({"text": lines.join("\n"), "blocks": blocks})
}

/// One item in a few chat lines: what, how badly, where the time goes, an example trace.
fn chat_item(item: &Item, lang: Lang) -> String {
    let w = words::of(lang);
    let mut text = format!(
        "*{}. {} {}* — {}",
        item.rank,
        slack(&item.service),
        slack(&item.operation),
        slack(&w.broken(item.worst(), item.severity))
    );
    if let Some(top) = item.why.time_by_service.first() {
        text.push_str(&format!(
            "\n{}: {} {}",
            w.time_goes,
            slack(&top.service),
            percent(top.share)
        ));
    }
    if let Some(cause) = item.why.first_causes.first() {
        text.push_str(&format!(
            "\n{}: {}",
            w.first_cause_label,
            slack(&w.cause(cause))
        ));
    }
    if !item.why.segment.is_empty() {
        text.push_str(&format!(
            "\n{}: {}",
            w.segment_label,
            slack(&w.segment(&item.why.segment))
        ));
    }
    if let Some(example) = item.why.exemplars.first() {
        text.push_str(&format!("\n<{}|{}>", example.url, w.exemplars_label));
    }
    text
}

/// Text for Slack's mrkdwn, where `&`, `<` and `>` are markup.
fn slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\\', "")
}

/// A ticket about `item` in Jira's create-issue shape.
pub fn ticket(report: &Report, item: &Item, tracker: &TicketTracker, lang: Lang) -> Value {
    let w = words::of(lang);
    let summary = clip(
        &format!(
            "[SLO] {} {}: {}",
            item.service,
            item.operation,
            w.broken(item.worst(), item.severity)
        ),
        250,
    );
    let mut one = report.clone();
    one.needs_work = vec![item.clone()];
    one.queries.clear();
    one.customers = None;
    one.notes.clear();
    let description = markdown::render(&one, lang);
    let labels: Vec<String> = [
        "tracedojo".to_string(),
        "slo".into(),
        label(&item.service),
        label(item.worst().indicator.name()),
        // Labels stay in English whatever the language: a tracker's filters use them.
        label(words::of(Lang::En).severity(item.severity)),
    ]
    .into_iter()
    .filter(|l| !l.is_empty())
    .collect();
    json!({
        "fields": {
            "project": {"key": tracker.project},
            "issuetype": {"name": tracker.issue_type},
            "summary": summary,
            "description": description,
            "labels": labels,
        }
    })
}

/// A Jira label: no spaces.
fn label(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join("-")
}

#[cfg(test)]
mod tests;
