//! The report's sentences in English and Japanese. Each language is written for its own
//! readers (an SRE team's chat thread), not translated word for word; both say the same facts.

use serde_json::Value;

use crate::Lang;
use crate::burn::Severity;
use crate::markdown::{clip, code_text, inline, percent, rate};
use crate::model::{Burn, Cause, Item, QueryHint, Report, Segment, WindowBurn};
use crate::objectives::Indicator;

/// Fixed words, and the sentences built from figures, of one language.
pub struct Words {
    pub lang: Lang,
    pub title: &'static str,
    pub objective: &'static str,
    pub burn_rates: &'static str,
    pub time_goes: &'static str,
    pub top_spans: &'static str,
    pub db_hint_label: &'static str,
    pub first_cause_label: &'static str,
    pub segment_label: &'static str,
    pub code_label: &'static str,
    pub exemplars_label: &'static str,
    pub failed_mark: &'static str,
    pub queries_heading: &'static str,
    pub customers_heading: &'static str,
    pub notes_heading: &'static str,
    pub no_customer_hit: &'static str,
    pub judged_heading: &'static str,
    pub endpoint: &'static str,
    pub burn_rate: &'static str,
    pub customer: &'static str,
    pub requests: &'static str,
    pub failed: &'static str,
    pub error_rate: &'static str,
    pub list_separator: &'static str,
    pub sentence_separator: &'static str,
}

const EN: Words = Words {
    lang: Lang::En,
    title: "Improvement report",
    objective: "objective",
    burn_rates: "burn rate (long / short)",
    time_goes: "Where the time goes (critical path)",
    top_spans: "Spans taking the most",
    db_hint_label: "Database",
    first_cause_label: "First cause",
    segment_label: "Failures concentrate in",
    code_label: "Code",
    exemplars_label: "Example traces",
    failed_mark: " (failed)",
    queries_heading: "Queries that need work",
    customers_heading: "Customers affected",
    notes_heading: "Notes",
    no_customer_hit: "No customer had failed requests.",
    judged_heading: "Endpoints judged (requests)",
    endpoint: "endpoint",
    burn_rate: "burn rate",
    customer: "customer",
    requests: "requests",
    failed: "failed",
    error_rate: "error rate",
    list_separator: ", ",
    sentence_separator: "; ",
};

const JA: Words = Words {
    lang: Lang::Ja,
    title: "改善レポート",
    objective: "目標",
    burn_rates: "バーンレート（長期 / 短期）",
    time_goes: "時間の内訳（クリティカルパス）",
    top_spans: "時間のかかっているスパン",
    db_hint_label: "データベース",
    first_cause_label: "最初のエラー",
    segment_label: "失敗が集中している属性",
    code_label: "コード",
    exemplars_label: "代表的なトレース",
    failed_mark: "（失敗）",
    queries_heading: "改善が必要なクエリ",
    customers_heading: "影響を受けた顧客",
    notes_heading: "補足",
    no_customer_hit: "失敗したリクエストのある顧客はいません。",
    judged_heading: "評価したエンドポイント（リクエスト数）",
    endpoint: "エンドポイント",
    burn_rate: "バーンレート",
    customer: "顧客",
    requests: "リクエスト数",
    failed: "失敗",
    error_rate: "エラー率",
    list_separator: "、",
    sentence_separator: "。",
};

pub fn of(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

impl Words {
    fn say(&self, en: String, ja: String) -> String {
        match self.lang {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    pub fn read_from(&self, report: &Report) -> String {
        let long = window(report.long_window_seconds, self.lang);
        let short = window(report.short_window_seconds, self.lang);
        let source = if report.objectives == crate::objectives::SHOP_NAME {
            self.say(report.objectives.clone(), "ショップ組み込みの目標".into())
        } else {
            inline(&report.objectives)
        };
        let explorer = inline(&report.explorer);
        let days = trim_float(report.period_days);
        let min = trim_float(report.min_burn_rate);
        self.say(
            format!(
                "Read from {explorer} over the {long}, against {source} (error budgets over {days} days). An endpoint needs work when its burn rate (how fast it spends its error budget; at 1 the budget lasts exactly the period) is at least {min} both over the {long} and over the {short}."
            ),
            format!(
                "{explorer} の{long}のデータを、{source}（エラーバジェットの期間 {days} 日）と照らし合わせました。{long}と{short}の両方でバーンレート（エラーバジェットの消費速度。1 でちょうど期間内に使い切る）が {min} 以上のエンドポイントを「改善が必要」としています。"
            ),
        )
    }

    pub fn nothing_needs_work(&self, judged: usize) -> String {
        self.say(
            format!(
                "Nothing needs work: the {judged} endpoints with objectives are within them, and no query stands out."
            ),
            format!(
                "改善が必要な箇所はありません。目標のあるエンドポイント {judged} 件はすべて目標内で、目立つクエリもありません。"
            ),
        )
    }

    pub fn needing_work(&self, endpoints: usize, judged: usize, queries: usize) -> String {
        let en_endpoints = match endpoints {
            1 => "1 endpoint needs work".to_string(),
            n => format!("{n} endpoints need work"),
        };
        let en_queries = match queries {
            0 => String::new(),
            1 => ", and 1 query".into(),
            n => format!(", and {n} queries"),
        };
        let ja_queries = if queries > 0 {
            format!("、クエリ {queries} 件")
        } else {
            String::new()
        };
        self.say(
            format!("{en_endpoints} (of {judged} with objectives){en_queries}."),
            format!(
                "改善が必要なもの: エンドポイント {endpoints} 件（目標のある {judged} 件中）{ja_queries}。"
            ),
        )
    }

    pub fn more_judged(&self, more: usize) -> String {
        self.say(
            format!("… and {more} more (all in the JSON output)."),
            format!("ほか {more} 件（JSON 出力にはすべて含まれます）。"),
        )
    }

    pub fn severity(&self, severity: Severity) -> &'static str {
        match (self.lang, severity) {
            (Lang::En, Severity::Urgent) => "urgent",
            (Lang::En, Severity::Page) => "page",
            (Lang::En, Severity::Ticket) => "ticket",
            (Lang::En, Severity::Within) => "watch",
            (Lang::Ja, Severity::Urgent) => "緊急",
            (Lang::Ja, Severity::Page) => "即時対応",
            (Lang::Ja, Severity::Ticket) => "チケット起票",
            (Lang::Ja, Severity::Within) => "経過観察",
        }
    }

    pub fn objective_name(&self, burn: &Burn) -> String {
        match (burn.indicator, burn.threshold_ms) {
            (Indicator::Success, _) => self.say(
                format!("success ≥ {}", percent_target(burn.target)),
                format!("成功率 {} 以上", percent_target(burn.target)),
            ),
            (indicator, Some(ms)) => {
                let limit = duration_ms(ms, self.lang);
                self.say(
                    format!("{} under {limit}", indicator.name()),
                    format!("{} {limit} 以内", indicator.name()),
                )
            }
            (indicator, None) => indicator.name().to_owned(),
        }
    }

    /// `text` in parentheses after what it explains: ` (text)`, or full-width in Japanese.
    pub fn aside(&self, text: &str) -> String {
        self.say(format!(" ({text})"), format!("（{text}）"))
    }

    /// "which objective, how fast, how urgent": the end of an item's headline.
    pub fn broken(&self, worst: &Burn, severity: Severity) -> String {
        let name = self.objective_name(worst);
        let burn = rate(worst.burn_rate);
        let word = self.severity(severity);
        self.say(
            format!("{name}: objective missed (burn rate {burn}, {word})"),
            format!("{name}: 目標未達（バーンレート {burn}、{word}）"),
        )
    }

    /// How many were bad in a window, as a share.
    pub fn bad_share(&self, burn: &Burn, window: &WindowBurn) -> String {
        if window.total == 0 {
            return self.say("no requests".into(), "リクエストなし".into());
        }
        let share = percent(window.bad as f64 / window.total as f64);
        let (bad, total) = (window.bad, window.total);
        match burn.indicator {
            Indicator::Success => self.say(
                format!("{share} failed ({bad} of {total})"),
                format!("{share} が失敗（{total} 件中 {bad} 件）"),
            ),
            _ => self.say(
                format!("{share} slower ({bad} of {total})"),
                format!("{share} が超過（{total} 件中 {bad} 件）"),
            ),
        }
    }

    pub fn traffic(&self, item: &Item) -> String {
        let share = percent(item.traffic_share);
        let requests = item.requests;
        let p95 = duration_ms(item.p95_ms, self.lang);
        let p99 = duration_ms(item.p99_ms, self.lang);
        let errors = percent(item.error_rate);
        self.say(
            format!(
                "Traffic: {requests} requests ({share} of those with objectives); p95 {p95}, p99 {p99}; {errors} failed."
            ),
            format!(
                "トラフィック: {requests} リクエスト（目標のあるエンドポイント全体の {share}）、p95 {p95}、p99 {p99}、エラー率 {errors}。"
            ),
        )
    }

    pub fn budget(&self, worst: &Burn, report: &Report) -> String {
        let days = trim_float(report.period_days);
        let spent = percent(worst.budget_spent);
        let long = window(report.long_window_seconds, self.lang);
        let lasts = worst
            .budget_lasts_hours
            .map(|h| hours(h, self.lang))
            .unwrap_or_default();
        self.say(
            format!(
                "At the recent rate the {days}-day error budget lasts {lasts}; the {long} spent {spent} of it."
            ),
            format!(
                "直近のペースでは {days} 日分のエラーバジェットが {lasts}で尽きます。{long}で {spent} を消費しました。"
            ),
        )
    }

    pub fn cause(&self, cause: &Cause) -> String {
        let what = match (cause.error_type.is_empty(), cause.message.is_empty()) {
            (false, false) => format!(
                "{} \"{}\"",
                inline(&cause.error_type),
                inline(&clip(&cause.message, 120))
            ),
            (false, true) => inline(&cause.error_type),
            (true, false) => format!("\"{}\"", inline(&clip(&cause.message, 120))),
            (true, true) => String::new(),
        };
        let traces = cause.traces;
        self.say(
            format!(
                "{} `{}` {what} ({traces} traces)",
                inline(&cause.service),
                code_text(&cause.operation)
            ),
            format!(
                "{} `{}` {what}（{traces} トレース）",
                inline(&cause.service),
                code_text(&cause.operation)
            ),
        )
    }

    pub fn segment(&self, segment: &[Segment]) -> String {
        let parts: Vec<String> = segment
            .iter()
            .map(|s| {
                let with = percent(s.error_rate_with);
                let without = percent(s.error_rate_without);
                self.say(
                    format!(
                        "`{}={}` (error rate {with}, {without} without)",
                        code_text(&s.key),
                        code_text(&s.value)
                    ),
                    format!(
                        "`{}={}`（エラー率 {with}、それ以外は {without}）",
                        code_text(&s.key),
                        code_text(&s.value)
                    ),
                )
            })
            .collect();
        parts.join(self.list_separator)
    }

    /// A database hint from the explorer's explanation of a trace.
    pub fn db_hint(&self, hint: &Value) -> Option<String> {
        let query = code_text(&clip(hint["query"].as_str().unwrap_or(""), 120));
        let service = inline(hint["service"].as_str().unwrap_or(""));
        match hint["kind"].as_str()? {
            "repeated_query" => {
                let count = hint["count"].as_u64()?;
                Some(self.say(
                    format!("{service} ran `{query}` {count} times in one request (N+1)"),
                    format!("{service} が 1 回のリクエストで `{query}` を {count} 回実行（N+1）"),
                ))
            }
            "slow_query" => {
                let share = percent(hint["share"].as_f64()?);
                Some(self.say(
                    format!("{service}'s `{query}` takes {share} of the critical path"),
                    format!("{service} の `{query}` がクリティカルパスの {share} を占める"),
                ))
            }
            "many_rows" => {
                let rows = hint["rows"]
                    .as_u64()
                    .or_else(|| hint["returned_rows"].as_u64())?;
                Some(self.say(
                    format!("{service}'s `{query}` returned {rows} rows"),
                    format!("{service} の `{query}` が {rows} 行を返している"),
                ))
            }
            _ => None,
        }
    }

    pub fn query_hint(&self, hint: &QueryHint) -> String {
        match hint {
            QueryHint::RepeatedInOneTrace {
                most_in_one_trace,
                calls_per_trace,
            } => {
                let average = trim_float((calls_per_trace * 10.0).round() / 10.0);
                self.say(
                    format!(
                        "run up to {most_in_one_trace} times in one request ({average} on average): the N+1 pattern; fetch the rows in one query"
                    ),
                    format!(
                        "1 回のリクエストで最大 {most_in_one_trace} 回実行（平均 {average} 回）。N+1 パターンです。1 回のクエリでまとめて取得してください"
                    ),
                )
            }
            QueryHint::TimeJumped {
                p50_before_ms,
                p50_now_ms,
                ratio,
            } => {
                let before = duration_ms(*p50_before_ms, self.lang);
                let now = duration_ms(*p50_now_ms, self.lang);
                let times = trim_float((ratio * 10.0).round() / 10.0);
                self.say(
                    format!(
                        "its median time jumped from {before} to {now} ({times}×), far more than the other queries'; check its plan (a lost index reads the whole table)"
                    ),
                    format!(
                        "中央値が {before} から {now} に急増（{times} 倍）し、ほかのクエリより突出しています。実行計画を確認してください（インデックスがないとテーブル全体を読みます）"
                    ),
                )
            }
        }
    }
}

/// "last hour", "last 5 minutes" ...
pub fn window(seconds: u64, lang: Lang) -> String {
    let (n, en_unit, ja_unit) = if seconds.is_multiple_of(86_400) {
        (seconds / 86_400, "day", "日")
    } else if seconds.is_multiple_of(3600) {
        (seconds / 3600, "hour", "時間")
    } else if seconds.is_multiple_of(60) {
        (seconds / 60, "minute", "分")
    } else {
        (seconds, "second", "秒")
    };
    match lang {
        Lang::En if n == 1 => format!("last {en_unit}"),
        Lang::En => format!("last {n} {en_unit}s"),
        Lang::Ja => format!("直近 {n} {ja_unit}"),
    }
}

/// A duration for people: "850 ms", "1.9 s".
pub fn duration_ms(ms: f64, lang: Lang) -> String {
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        match lang {
            Lang::En => format!("{:.1} s", ms / 1000.0),
            Lang::Ja => format!("{:.1} 秒", ms / 1000.0),
        }
    }
}

fn hours(h: f64, lang: Lang) -> String {
    match lang {
        Lang::En if h < 1.0 => format!("{:.0} minutes", h * 60.0),
        Lang::En if h < 72.0 => format!("{h:.0} hours"),
        Lang::En => format!("{:.0} days", h / 24.0),
        Lang::Ja if h < 1.0 => format!("{:.0} 分", h * 60.0),
        Lang::Ja if h < 72.0 => format!("{h:.0} 時間"),
        Lang::Ja => format!("{:.0} 日", h / 24.0),
    }
}

/// 0.995 → "99.5%".
fn percent_target(target: f64) -> String {
    format!("{}%", trim_float((target * 1000.0).round() / 10.0))
}

fn trim_float(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A Unix time in milliseconds as "2026-12-04 02:30 UTC".
pub fn utc(unix_ms: u64) -> String {
    let seconds = unix_ms / 1000;
    let days = seconds / 86_400;
    let (h, m) = ((seconds % 86_400) / 3600, (seconds % 3600) / 60);
    // Days since 1970-01-01 to a civil date (the proleptic Gregorian calendar).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02} UTC")
}
