//! A report as Markdown, in English or Japanese: what a team pastes into a wiki page or reads
//! in a chat thread. Every figure comes from the [`Report`]; text from spans (queries, error
//! messages, attribute values) is escaped so it cannot break the page.

use std::fmt::Write;

use serde_json::Value;

use crate::Lang;
use crate::burn::Severity;
use crate::model::{Burn, Item, QueryItem, Report};
use crate::objectives::Indicator;
use crate::words::{self, Words};

/// Longest query text shown.
const QUERY_CHARS: usize = 160;
/// Customers shown.
const CUSTOMERS: usize = 10;
/// Endpoints listed as judged.
const JUDGED_ROWS: usize = 15;

pub fn render(report: &Report, lang: Lang) -> String {
    let w = words::of(lang);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} — {}\n",
        w.title,
        words::utc(report.generated_unix_ms)
    );
    let _ = writeln!(out, "{}\n", w.read_from(report));
    if report.is_clean() {
        let _ = writeln!(
            out,
            "**{}**\n",
            w.nothing_needs_work(report.endpoints_judged)
        );
    } else {
        let _ = writeln!(
            out,
            "**{}**\n",
            w.needing_work(
                report.needs_work.len(),
                report.endpoints_judged,
                report.queries.len()
            )
        );
    }
    for item in &report.needs_work {
        item_section(&mut out, item, report, w);
    }
    if !report.queries.is_empty() {
        let _ = writeln!(out, "## {}\n", w.queries_heading);
        for query in &report.queries {
            query_line(&mut out, query, w);
        }
        out.push('\n');
    }
    customers(&mut out, report, w);
    judged(&mut out, report, w);
    if !report.notes.is_empty() {
        let _ = writeln!(out, "## {}\n", w.notes_heading);
        for note in &report.notes {
            let _ = writeln!(out, "- {}", inline(note));
        }
        out.push('\n');
    }
    out
}

/// The headline of an item: what it is and how badly it burns.
pub fn headline(item: &Item, lang: Lang) -> String {
    let w = words::of(lang);
    format!(
        "{} {} — {}",
        inline(&item.service),
        inline(&item.operation),
        w.broken(item.worst(), item.severity)
    )
}

fn item_section(out: &mut String, item: &Item, report: &Report, w: &Words) {
    let _ = writeln!(out, "## {}. {}\n", item.rank, headline(item, w.lang));
    let long = words::window(report.long_window_seconds, w.lang);
    let short = words::window(report.short_window_seconds, w.lang);
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} |\n|---|---|---|---|",
        w.objective, long, short, w.burn_rates
    );
    for burn in &item.objectives {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} / {} |",
            w.objective_name(burn),
            w.bad_share(burn, &burn.long),
            w.bad_share(burn, &burn.short),
            rate(burn.long.burn_rate),
            rate(burn.short.burn_rate),
        );
    }
    out.push('\n');
    let _ = writeln!(out, "- {}", w.traffic(item));
    let worst = item.worst();
    let _ = writeln!(out, "- {}", w.budget(worst, report));
    let why = &item.why;
    if !why.time_by_service.is_empty() {
        let shares: Vec<String> = why
            .time_by_service
            .iter()
            .filter(|s| s.share >= 0.005)
            .map(|s| format!("{} {}", inline(&s.service), percent(s.share)))
            .collect();
        let _ = writeln!(out, "- {}: {}", w.time_goes, shares.join(w.list_separator));
    }
    if !why.time_by_span.is_empty() {
        let spans: Vec<String> = why
            .time_by_span
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{} `{}` {}{}",
                    inline(&s.service),
                    code_text(s.operation.as_deref().unwrap_or("")),
                    percent(s.share),
                    w.aside(&words::duration_ms(s.ms, w.lang))
                )
            })
            .collect();
        let _ = writeln!(out, "- {}: {}", w.top_spans, spans.join(w.list_separator));
    }
    for hint in &why.db_hints {
        if let Some(text) = w.db_hint(hint) {
            let _ = writeln!(out, "- {}: {text}", w.db_hint_label);
        }
    }
    for cause in &why.first_causes {
        let _ = writeln!(out, "- {}: {}", w.first_cause_label, w.cause(cause));
    }
    if !why.segment.is_empty() {
        let _ = writeln!(out, "- {}: {}", w.segment_label, w.segment(&why.segment));
    }
    if let Some(code) = &why.code {
        let file = match &code.url {
            Some(url) => format!("[{}]({})", inline(&code.file), link_target(url)),
            None => format!("`{}`", code_text(&code.file)),
        };
        let _ = writeln!(
            out,
            "- {}: `{}`{}",
            w.code_label,
            code_text(&code.function),
            w.aside(&file)
        );
    }
    if !why.exemplars.is_empty() {
        let links: Vec<String> = why
            .exemplars
            .iter()
            .map(|e| {
                let short_id: String = e.trace_id.chars().take(8).collect();
                let failed = if e.failed { w.failed_mark } else { "" };
                format!(
                    "[{short_id}]({}) {}{failed}",
                    link_target(&e.url),
                    words::duration_ms(e.duration_ms, w.lang)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "- {}: {}",
            w.exemplars_label,
            links.join(w.list_separator)
        );
    }
    out.push('\n');
}

fn query_line(out: &mut String, query: &QueryItem, w: &Words) {
    let hints: Vec<String> = query.hints.iter().map(|h| w.query_hint(h)).collect();
    let _ = writeln!(
        out,
        "- {} ({}): `{}` — {}",
        inline(&query.service),
        inline(&query.db_system),
        code_text(&clip(&query.query, QUERY_CHARS)),
        hints.join(w.sentence_separator)
    );
}

fn customers(out: &mut String, report: &Report, w: &Words) {
    let Some(view) = &report.customers else {
        return;
    };
    let Some(rows) = view["customers"].as_array() else {
        return;
    };
    let affected: Vec<&Value> = rows
        .iter()
        .filter(|c| {
            c["affected"].as_u64().unwrap_or(0) > 0 || c["errors"].as_u64().unwrap_or(0) > 0
        })
        .take(CUSTOMERS)
        .collect();
    let window = words::window(report.short_window_seconds, w.lang);
    let _ = writeln!(out, "## {}{}\n", w.customers_heading, w.aside(&window));
    if affected.is_empty() {
        let _ = writeln!(out, "{}\n", w.no_customer_hit);
        return;
    }
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | p95 |\n|---|---|---|---|---|",
        w.customer, w.requests, w.failed, w.error_rate
    );
    for c in affected {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&text_of(&c["customer"])),
            c["requests"].as_u64().unwrap_or(0),
            c["errors"].as_u64().unwrap_or(0),
            percent(c["error_rate"].as_f64().unwrap_or(0.0)),
            words::duration_ms(c["p95_ms"].as_f64().unwrap_or(0.0), w.lang)
        );
    }
    out.push('\n');
}

/// Every endpoint judged, the fastest burn first: what "nothing needs work" was said of.
fn judged(out: &mut String, report: &Report, w: &Words) {
    if report.judged.is_empty() {
        return;
    }
    let mut rows: Vec<_> = report.judged.iter().collect();
    rows.sort_by(|a, b| b.burn_rate.total_cmp(&a.burn_rate));
    let long = words::window(report.long_window_seconds, w.lang);
    let short = words::window(report.short_window_seconds, w.lang);
    let _ = writeln!(
        out,
        "## {}\n\n| {} | {long} | {short} | {} |\n|---|---|---|---|",
        w.judged_heading, w.endpoint, w.burn_rate
    );
    for row in rows.iter().take(JUDGED_ROWS) {
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} |",
            cell(&row.service),
            cell(&row.operation),
            row.requests,
            row.short_requests,
            rate(row.burn_rate)
        );
    }
    if rows.len() > JUDGED_ROWS {
        let _ = writeln!(out, "\n{}", w.more_judged(rows.len() - JUDGED_ROWS));
    }
    out.push('\n');
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A burn rate, to two significant places.
pub fn rate(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// A share as a percentage, with a decimal only below 10%.
pub fn percent(share: f64) -> String {
    let pct = share * 100.0;
    if pct == 0.0 {
        "0%".into()
    } else if pct < 0.01 {
        "< 0.01%".into()
    } else if pct < 1.0 {
        format!("{pct:.2}%")
    } else if pct < 10.0 {
        format!("{pct:.1}%")
    } else {
        format!("{pct:.0}%")
    }
}

/// Text from spans on one line, with Markdown's active characters escaped.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A table cell.
fn cell(text: &str) -> String {
    inline(text)
}

/// Text inside a code span: one line, and no backtick to end it early.
pub fn code_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('`', "'")
}

/// A link target that cannot end the link early.
fn link_target(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}

/// At most `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// The objective's name in either language, shared by the other formats.
pub fn objective_name(burn: &Burn, lang: Lang) -> String {
    words::of(lang).objective_name(burn)
}

/// Whether the indicator is about latency.
pub fn is_latency(indicator: Indicator) -> bool {
    !matches!(indicator, Indicator::Success)
}

/// The severity's word.
pub fn severity_word(severity: Severity, lang: Lang) -> &'static str {
    words::of(lang).severity(severity)
}

#[cfg(test)]
mod tests;
