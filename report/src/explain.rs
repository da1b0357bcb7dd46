//! One trace in plain words, in the formats a person pastes somewhere: text for a terminal,
//! Markdown for a wiki or a ticket, a chat message. The explorer says the sentences
//! (`GET /api/traces/{id}/explain`, which the trace page's Explain button shows too); this
//! file only lays them out, with a link back to the trace.

use serde_json::{Value, json};

use crate::Lang;
use crate::markdown::{clip, inline};
use crate::words;

/// The sentences of an explanation.
fn sentences(explanation: &Value) -> Vec<String> {
    explanation["summary"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// "Trace 4bf92f35: POST /api/checkout on frontend, 2.3 s".
fn title(explanation: &Value, lang: Lang) -> String {
    let id: String = explanation["trace_id"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(8)
        .collect();
    let entry = &explanation["entry"];
    let operation = entry["operation"].as_str().unwrap_or("");
    let service = entry["service"].as_str().unwrap_or("");
    let took = explanation["duration_ms"]
        .as_f64()
        .or_else(|| entry["duration_ms"].as_f64())
        .map(|ms| words::duration_ms(ms, lang))
        .unwrap_or_default();
    match lang {
        Lang::En => format!("Trace {id}: {operation} on {service}, {took}"),
        Lang::Ja => format!("トレース {id}: {service} の {operation}（{took}）"),
    }
}

/// Plain text: the title, the sentences, the link.
pub fn text(explanation: &Value, url: &str, lang: Lang) -> String {
    let mut out = format!("{}\n\n", title(explanation, lang));
    for sentence in sentences(explanation) {
        out.push_str(&sentence);
        out.push('\n');
    }
    out.push_str(&format!("\n{url}\n"));
    out
}

/// Markdown: a bold title linking to the trace, a bullet per sentence.
pub fn markdown(explanation: &Value, url: &str, lang: Lang) -> String {
    let mut out = format!(
        "**[{}]({})**\n\n",
        inline(&title(explanation, lang)),
        url.replace(' ', "%20")
    );
    for sentence in sentences(explanation) {
        out.push_str(&format!("- {}\n", inline(&sentence)));
    }
    out
}

/// A chat message (Slack's incoming-webhook JSON).
pub fn chat_message(explanation: &Value, url: &str, lang: Lang) -> Value {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let heading = escape(&title(explanation, lang));
    let body: Vec<String> = sentences(explanation).iter().map(|s| escape(s)).collect();
    let text = format!("*<{url}|{heading}>*\n{}", body.join("\n"));
    json!({
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 2900)}}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explanation() -> Value {
        json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "entry": {"service": "frontend", "operation": "POST /api/checkout"},
            "duration_ms": 2310.0,
            "summary": [
                "A user's POST /api/checkout on frontend took 2.3 s, above its 400 ms objective.",
                "payment took 82% of the time <on the critical path>."
            ]
        })
    }

    #[test]
    fn each_format_has_the_title_the_sentences_and_the_link() {
        let url = "http://127.0.0.1:8090/#/trace/4bf92f3577b34da6a3ce929d0e0e4736";
        let plain = text(&explanation(), url, Lang::En);
        assert!(
            plain.starts_with("Trace 4bf92f35: POST /api/checkout on frontend, 2.3 s\n\nA user's"),
            "{plain}"
        );
        assert!(plain.ends_with(&format!("\n{url}\n")), "{plain}");
        let md = markdown(&explanation(), url, Lang::Ja);
        assert!(
            md.starts_with(&format!(
                "**[トレース 4bf92f35: frontend の POST /api/checkout（2.3 秒）]({url})**"
            )),
            "{md}"
        );
        assert!(
            md.contains("- payment took 82% of the time \\<on the critical path\\>."),
            "{md}"
        );
        let chat = chat_message(&explanation(), url, Lang::En);
        let text = chat["text"].as_str().expect("text");
        assert!(
            text.starts_with(&format!("*<{url}|Trace 4bf92f35")),
            "{text}"
        );
        assert!(text.contains("&lt;on the critical path&gt;"), "{text}");
    }
}
