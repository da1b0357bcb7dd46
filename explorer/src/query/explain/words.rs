//! The explanation's sentences, in English and Japanese: what a person pastes into a chat
//! thread about one trace. They say only what [`super::Facts`] holds, in its order: the
//! request and its outcome, the objective, where the time went, where the failure began, the
//! user's segment and the database hints.

use super::{
    DbHint, Facts, Failure, Lang, Objective, Outcome, SegmentValue, ServiceTime, SpanTime,
};

/// Services named in the critical path's sentence; the rest are counted.
const SERVICES_NAMED: usize = 3;
/// Characters of a query or message quoted in a sentence.
const QUOTE_MAX: usize = 80;

/// The sentences for `facts` in `lang`.
pub fn summary(facts: &Facts, lang: Lang) -> Vec<String> {
    let words: &dyn Words = match lang {
        Lang::En => &English,
        Lang::Ja => &Japanese,
    };
    let mut out = vec![words.request(facts)];
    if let Some(objective) = &facts.objective {
        out.push(words.objective(objective));
    }
    let path = &facts.critical_path;
    if !path.services.is_empty() {
        out.push(words.time_by_service(&path.services));
    }
    if let Some(top) = path.spans.first() {
        out.push(words.top_span(top));
    }
    out.push(match &facts.first_failure {
        None => words.no_failure(),
        Some(failure) => {
            let mut sentence = words.failure(failure);
            if facts.outcome == Outcome::Ok {
                sentence.push_str(words.gap());
                sentence.push_str(&words.still_succeeded());
            }
            sentence
        }
    });
    if let Some(sentence) = segment(words, &facts.segment) {
        out.push(sentence);
    }
    out.extend(facts.db_hints.iter().map(|hint| words.db_hint(hint)));
    out
}

/// What each language says; the figures come formatted the same in both.
trait Words {
    fn request(&self, facts: &Facts) -> String;
    fn objective(&self, objective: &Objective) -> String;
    fn time_by_service(&self, services: &[ServiceTime]) -> String;
    fn top_span(&self, span: &SpanTime) -> String;
    fn failure(&self, failure: &Failure) -> String;
    fn no_failure(&self) -> String;
    fn still_succeeded(&self) -> String;
    /// The user's `key=value` pairs and (service, version); one of them at least.
    fn segment(&self, pairs: &[String], version: Option<(&str, &str)>) -> String;
    fn db_hint(&self, hint: &DbHint) -> String;
    fn quote(&self, text: &str) -> String;
    fn percent(&self, share: f64) -> String;
    /// What goes between two sentences, or a name and a quotation: a space in English,
    /// nothing in Japanese.
    fn gap(&self) -> &'static str;
}

/// The user's attributes (`key=value`, keys by their last word unless two share it) and the
/// service's version.
fn segment(words: &dyn Words, segment: &[SegmentValue]) -> Option<String> {
    let user: Vec<&SegmentValue> = segment.iter().filter(|v| v.service.is_none()).collect();
    let last_word = |key: &str| key.rsplit('.').next().unwrap_or(key).to_owned();
    let pairs: Vec<String> = user
        .iter()
        .map(|v| {
            let short = last_word(&v.key);
            let shared = user.iter().filter(|o| last_word(&o.key) == short).count() > 1;
            format!("{}={}", if shared { &v.key } else { &short }, v.value)
        })
        .collect();
    let version = segment
        .iter()
        .find_map(|v| Some((v.service.as_deref()?, v.value.as_str())));
    if pairs.is_empty() && version.is_none() {
        return None;
    }
    Some(words.segment(&pairs, version))
}

/// Milliseconds as a person reads them, as the web UI writes them: 450 µs, 4.65 ms, 13.6 ms,
/// 297 ms, 1.25 s, 2m 05s.
pub fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms <= 0.0 {
        return "0 ms".to_owned();
    }
    if ms < 1.0 {
        let us = ms * 1000.0;
        return if ms < 0.01 {
            format!("{us:.1} µs")
        } else {
            format!("{us:.0} µs")
        };
    }
    if ms < 10.0 {
        return format!("{ms:.2} ms");
    }
    if ms < 100.0 {
        return format!("{ms:.1} ms");
    }
    if ms < 1000.0 {
        return format!("{ms:.0} ms");
    }
    if ms < 10_000.0 {
        return format!("{:.2} s", ms / 1000.0);
    }
    if ms < 60_000.0 {
        return format!("{:.1} s", ms / 1000.0);
    }
    let seconds = (ms / 1000.0).floor() as u64;
    format!("{}m {:02}s", seconds / 60, seconds % 60)
}

/// An objective as a person wrote it: 800 ms, 1.5 s, not 800.00 ms.
fn threshold(ms: f64) -> String {
    let written = duration(ms);
    match written.split_once(' ') {
        Some((number, unit)) if number.contains('.') => {
            let number = number.trim_end_matches('0').trim_end_matches('.');
            format!("{number} {unit}")
        }
        _ => written,
    }
}

/// A share as a whole percentage; `None` for one under 1 %. A share under 1 is never shown
/// as 100 %.
fn whole_percent(share: f64) -> Option<u64> {
    let pct = share * 100.0;
    if pct < 1.0 {
        return None;
    }
    let rounded = pct.round() as u64;
    Some(if share < 1.0 {
        rounded.min(99)
    } else {
        rounded
    })
}

/// Thousands grouped: 5,000.
fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A query or message fit for a sentence: one line, at most [`QUOTE_MAX`] characters.
fn clip(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= QUOTE_MAX {
        return line;
    }
    let mut clipped: String = line.chars().take(QUOTE_MAX - 1).collect();
    clipped.push('…');
    clipped
}

/// The failing span's answer: its HTTP status code, else its `error.type`.
fn answer(failure: &Failure) -> Option<String> {
    failure
        .http_status_code
        .map(|c| c.to_string())
        .or_else(|| failure.error_type.clone())
}

/// `TYPE “message”`, `TYPE`, `“message”` (the exception's, else the status message), or
/// nothing.
fn what_failed(words: &dyn Words, failure: &Failure) -> Option<String> {
    let (kind, message) = match &failure.exception {
        Some(e) => (
            e.kind.clone(),
            e.message.clone().or_else(|| failure.status_message.clone()),
        ),
        None => (None, failure.status_message.clone()),
    };
    match (kind, message) {
        (Some(kind), Some(message)) => {
            Some(format!("{kind}{}{}", words.gap(), words.quote(&message)))
        }
        (Some(kind), None) => Some(kind),
        (None, Some(message)) => Some(words.quote(&message)),
        (None, None) => None,
    }
}

struct English;

impl Words for English {
    fn request(&self, facts: &Facts) -> String {
        let entry = &facts.entry;
        let what = format!("{} on {}", entry.operation, entry.service);
        let took = duration(entry.duration_ms);
        let code = entry.http_status_code;
        match (entry.outcome, code) {
            (Outcome::Ok, Some(code)) => format!("{what} succeeded with {code} in {took}."),
            (Outcome::Ok, None) => format!("{what} completed in {took}."),
            (Outcome::Error, Some(code)) => format!("{what} failed with {code} after {took}."),
            (Outcome::Error, None) => format!("{what} failed after {took}."),
            (Outcome::Refused, code) => format!(
                "{what} was refused with {} after {took}: not a server error, but the user's request did not go through.",
                code.map_or_else(|| "a client error".to_owned(), |c| c.to_string())
            ),
        }
    }

    fn objective(&self, objective: &Objective) -> String {
        let threshold = threshold(objective.threshold_ms);
        if objective.met {
            format!("That is within the {threshold} objective.")
        } else {
            format!(
                "That is {} over the {threshold} objective.",
                duration(objective.over_ms)
            )
        }
    }

    fn time_by_service(&self, services: &[ServiceTime]) -> String {
        let named: Vec<String> = services
            .iter()
            .take(SERVICES_NAMED)
            .map(|s| {
                format!(
                    "{} {} ({})",
                    s.service,
                    duration(s.ms),
                    self.percent(s.share)
                )
            })
            .collect();
        let rest = services.len().saturating_sub(SERVICES_NAMED);
        let more = match rest {
            0 => String::new(),
            1 => " and 1 more service".to_owned(),
            n => format!(" and {n} more services"),
        };
        format!("Critical path by service: {}{more}.", named.join(", "))
    }

    fn top_span(&self, span: &SpanTime) -> String {
        format!(
            "The largest step on it is {} on {}: {} ({}).",
            span.operation,
            span.service,
            duration(span.ms),
            self.percent(span.share)
        )
    }

    fn failure(&self, failure: &Failure) -> String {
        let at = format!("{} on {}", failure.operation, failure.service);
        let noted = failure
            .last_event
            .as_ref()
            .map(|e| format!(" ({})", self.quote(e)))
            .unwrap_or_default();
        let what = what_failed(self, failure)
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        if let Some(caller) = &failure.caller {
            let code = answer(failure).unwrap_or_else(|| "an error".to_owned());
            return format!(
                "The failure began at {at}, which answered {code}{noted}{what}; {}'s call to it failed on that answer.",
                caller.service
            );
        }
        if failure.status_code != "ERROR" {
            let code = answer(failure).unwrap_or_else(|| "an error".to_owned());
            return if failure.refused {
                format!("No span failed: {at} refused the request with {code}{noted}.")
            } else {
                format!("No span is marked as failed, but {at} answered {code}{noted}.")
            };
        }
        let code = answer(failure)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        format!("The failure began at {at}{code}{what}.")
    }

    fn no_failure(&self) -> String {
        "No span failed.".to_owned()
    }

    fn still_succeeded(&self) -> String {
        "The request still succeeded.".to_owned()
    }

    fn segment(&self, pairs: &[String], version: Option<(&str, &str)>) -> String {
        match (pairs.is_empty(), version) {
            (false, Some((service, version))) => format!(
                "User: {}; {service} runs version {version}.",
                pairs.join(", ")
            ),
            (false, None) => format!("User: {}.", pairs.join(", ")),
            (true, Some((service, version))) => {
                format!("Service version: {service} {version}.")
            }
            (true, None) => String::new(),
        }
    }

    fn db_hint(&self, hint: &DbHint) -> String {
        match hint {
            DbHint::RepeatedQuery {
                service,
                query,
                count: runs,
                total_ms,
            } => format!(
                "The same query ran {runs} times in {service} ({} in all), a possible N+1: {}.",
                duration(*total_ms),
                self.quote(query)
            ),
            DbHint::SlowQuery {
                service,
                query,
                count: runs,
                ms,
                share,
            } => format!(
                "A query {}in {service} took {} of the critical path ({}): {}.",
                match runs {
                    1 => String::new(),
                    2 => "run twice ".to_owned(),
                    n => format!("run {n} times "),
                },
                self.percent(*share),
                duration(*ms),
                self.quote(query)
            ),
            DbHint::ManyRows {
                service,
                query,
                rows,
                ..
            } => format!(
                "A query in {service} returned {} rows: {}.",
                count(*rows),
                self.quote(query)
            ),
        }
    }

    fn quote(&self, text: &str) -> String {
        format!("“{}”", clip(text))
    }

    fn percent(&self, share: f64) -> String {
        whole_percent(share).map_or_else(|| "<1%".to_owned(), |p| format!("{p}%"))
    }

    fn gap(&self) -> &'static str {
        " "
    }
}

struct Japanese;

impl Words for Japanese {
    fn request(&self, facts: &Facts) -> String {
        let entry = &facts.entry;
        let what = format!("{} の {}", entry.service, entry.operation);
        let took = duration(entry.duration_ms);
        let code = entry.http_status_code;
        match (entry.outcome, code) {
            (Outcome::Ok, Some(code)) => format!("{what} は {took} で成功した（{code}）。"),
            (Outcome::Ok, None) => format!("{what} は {took} で完了した。"),
            (Outcome::Error, Some(code)) => format!("{what} は {took} で失敗した（{code}）。"),
            (Outcome::Error, None) => format!("{what} は {took} で失敗した。"),
            (Outcome::Refused, code) => format!(
                "{what} は {took} で {} を返した。4xx なのでサーバー側のエラーではないが、ユーザーのリクエストは通っていない。",
                code.map_or_else(|| "4xx".to_owned(), |c| c.to_string())
            ),
        }
    }

    fn objective(&self, objective: &Objective) -> String {
        let threshold = threshold(objective.threshold_ms);
        if objective.met {
            format!("目標の {threshold} 以内に収まっている。")
        } else {
            format!(
                "目標の {threshold} を {} 超えている。",
                duration(objective.over_ms)
            )
        }
    }

    fn time_by_service(&self, services: &[ServiceTime]) -> String {
        let named: Vec<String> = services
            .iter()
            .take(SERVICES_NAMED)
            .map(|s| {
                format!(
                    "{} {}（{}）",
                    s.service,
                    duration(s.ms),
                    self.percent(s.share)
                )
            })
            .collect();
        let rest = services.len().saturating_sub(SERVICES_NAMED);
        let more = if rest > 0 {
            format!("、ほか {rest} サービス")
        } else {
            String::new()
        };
        format!("クリティカルパスの内訳: {}{more}。", named.join("、"))
    }

    fn top_span(&self, span: &SpanTime) -> String {
        format!(
            "最も時間を使っているのは {} の {} で、{}（{}）。",
            span.service,
            span.operation,
            duration(span.ms),
            self.percent(span.share)
        )
    }

    fn failure(&self, failure: &Failure) -> String {
        let at = format!("{} の {}", failure.service, failure.operation);
        let noted = failure
            .last_event
            .as_ref()
            .map(|e| format!("（{}）", self.quote(e)))
            .unwrap_or_default();
        let what = match (&failure.exception, what_failed(self, failure)) {
            (Some(_), Some(what)) => format!("例外: {what}。"),
            (None, Some(message)) => format!("メッセージ: {message}。"),
            (_, None) => String::new(),
        };
        if let Some(caller) = &failure.caller {
            let code = answer(failure).unwrap_or_else(|| "エラー".to_owned());
            return format!(
                "失敗の起点は {at} が返した {code}{noted}で、これを受けて {} からの呼び出しが失敗した。{what}",
                caller.service
            );
        }
        if failure.status_code != "ERROR" {
            let code = answer(failure).unwrap_or_else(|| "エラー".to_owned());
            return if failure.refused {
                format!(
                    "エラーになったスパンはなく、{at} が {code} でリクエストを拒否した{noted}。"
                )
            } else {
                format!("エラーになったスパンはないが、{at} が {code} を返した{noted}。")
            };
        }
        let code = answer(failure)
            .map(|c| format!("（{c}）"))
            .unwrap_or_default();
        format!("失敗の起点は {at}{code}。{what}")
    }

    fn no_failure(&self) -> String {
        "エラーはない。".to_owned()
    }

    fn still_succeeded(&self) -> String {
        "ただし、リクエスト自体は成功している。".to_owned()
    }

    fn segment(&self, pairs: &[String], version: Option<(&str, &str)>) -> String {
        let user = if pairs.is_empty() {
            String::new()
        } else {
            format!("ユーザー: {}。", pairs.join("、"))
        };
        let version = version
            .map(|(service, version)| format!("{service} のバージョンは {version}。"))
            .unwrap_or_default();
        format!("{user}{version}")
    }

    fn db_hint(&self, hint: &DbHint) -> String {
        match hint {
            DbHint::RepeatedQuery {
                service,
                query,
                count: runs,
                total_ms,
            } => format!(
                "{service} で同じクエリが {runs} 回実行されている（計 {}、N+1 の疑い）: {}。",
                duration(*total_ms),
                self.quote(query)
            ),
            DbHint::SlowQuery {
                service,
                query,
                count: runs,
                ms,
                share,
            } => format!(
                "{service} のクエリ{}がクリティカルパスの {}（{}）を占めている: {}。",
                if *runs > 1 {
                    format!("（{runs} 回分）")
                } else {
                    String::new()
                },
                self.percent(*share),
                duration(*ms),
                self.quote(query)
            ),
            DbHint::ManyRows {
                service,
                query,
                rows,
                ..
            } => format!(
                "{service} のクエリが {} 行を返している: {}。",
                count(*rows),
                self.quote(query)
            ),
        }
    }

    fn quote(&self, text: &str) -> String {
        format!("「{}」", clip(text))
    }

    fn percent(&self, share: f64) -> String {
        whole_percent(share).map_or_else(|| "1% 未満".to_owned(), |p| format!("{p}%"))
    }

    fn gap(&self) -> &'static str {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_the_ui_writes_them() {
        assert_eq!(duration(0.45), "450 µs");
        assert_eq!(duration(4.65), "4.65 ms");
        assert_eq!(duration(13.633), "13.6 ms");
        assert_eq!(duration(297.06), "297 ms");
        assert_eq!(duration(1250.0), "1.25 s");
        assert_eq!(duration(125_000.0), "2m 05s");
        assert_eq!(threshold(5.0), "5 ms");
        assert_eq!(threshold(800.0), "800 ms");
        assert_eq!(threshold(1500.0), "1.5 s");
        assert_eq!(threshold(0.25), "250 µs");
        assert_eq!(whole_percent(0.004), None);
        assert_eq!(whole_percent(0.97), Some(97));
        assert_eq!(whole_percent(0.998), Some(99));
        assert_eq!(whole_percent(1.0), Some(100));
        assert_eq!(count(5000), "5,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(clip("SELECT  a\n   FROM b"), "SELECT a FROM b");
        let long = clip(&"x".repeat(200));
        assert_eq!(long.chars().count(), QUOTE_MAX);
        assert!(long.ends_with('…'));
    }
}
