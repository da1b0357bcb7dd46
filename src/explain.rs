//! `tracedojo explain TRACE_ID`: one trace in a few plain sentences (what the user did, how
//! long it took against its objective, where the time went, the first failure, who the user
//! was, database hints), as the explorer says them, in text, Markdown, JSON or a chat post.

use std::io::Write;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde_json::Value;
use tracedojo_report::explain;
use tracedojo_report::objectives::{Indicator, Objectives};
use tracedojo_report::post::{self, Poster};

pub const EXPLAIN_HELP: &str = "\
Examples:
  tracedojo explain 4bf92f3577b34da6a3ce929d0e0e4736              plain text, from the running shop's explorer
  tracedojo explain 4bf92f35... --lang ja --format markdown        in Japanese, for a wiki or a ticket
  tracedojo explain 4bf92f35... --format json                      the explorer's answer, for scripts
  tracedojo explain 4bf92f35... --webhook-url https://hooks.slack.com/services/...
The trace id is the 32 hex digits the explorer, a log line or an APM backend shows. The objective
compared with is the endpoint's latency objective (p95, else p99) from --objectives or the shop's
own; --objective overrides it. Exit status: 0 when the trace was explained (and posted, when
asked); 1 otherwise (an unknown trace, an unreachable explorer, a webhook that kept failing).";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The trace: 32 hex digits
    #[arg(value_name = "TRACE_ID")]
    pub trace_id: String,
    /// Explain from this span down (16 hex digits) instead of the request's first server
    #[arg(long, value_name = "SPAN_ID")]
    pub span: Option<String>,
    #[command(flatten)]
    pub sources: crate::report::Sources,
    /// Compare the request's duration with this instead (e.g. 800ms)
    #[arg(long, value_name = "DURATION", value_parser = tracedojo_report::parse_duration)]
    pub objective: Option<u64>,
    /// The language: ja or en [default: from the locale (LANG)]
    #[arg(long, env = "TRACEDOJO_LANG")]
    pub lang: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Post the explanation to this chat webhook (Slack's incoming-webhook JSON). Its URL is a
    /// secret: prefer the variable
    #[arg(
        long,
        env = "TRACEDOJO_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub webhook_url: Option<String>,
}

pub async fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let lang = crate::report::language(args.lang.as_deref())?;
    let trace_id = args.trace_id.trim().to_ascii_lowercase();
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{:?} is not a trace id: give the 32 hex digits the explorer or a log line shows (e.g. 4bf92f3577b34da6a3ce929d0e0e4736)",
            args.trace_id
        );
    }
    let objectives = args.sources.objectives()?;
    let (explorer, _) = args.sources.explorer()?;
    let span = args.span.as_deref();
    let mut explanation = explorer
        .explanation(&trace_id, span, lang.code(), args.objective)
        .await?;
    if args.objective.is_none()
        && let Some(threshold) = latency_objective(&objectives, &explanation)
    {
        explanation = explorer
            .explanation(&trace_id, span, lang.code(), Some(threshold))
            .await?;
    }
    let url = explorer.trace_page(&trace_id);
    let shown = match args.format {
        Format::Text => explain::text(&explanation, &url, lang),
        Format::Markdown => explain::markdown(&explanation, &url, lang),
        Format::Json => {
            let mut value = explanation.clone();
            value["url"] = Value::String(url.clone());
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    };
    let _ = std::io::stdout().lock().write_all(shown.as_bytes());
    if let Some(webhook) = &args.webhook_url {
        let message = explain::chat_message(&explanation, &url, lang);
        Poster::default()
            .post(webhook, &message, None, "the explanation")
            .await?;
        eprintln!("posted to {}", post::receiver(webhook));
    }
    Ok(())
}

/// The entry endpoint's latency objective (p95, else p99), in nanoseconds.
fn latency_objective(objectives: &Objectives, explanation: &Value) -> Option<u64> {
    let entry = &explanation["entry"];
    let objective = objectives.of(entry["service"].as_str()?, entry["operation"].as_str()?)?;
    [Indicator::LatencyP95, Indicator::LatencyP99]
        .iter()
        .find_map(|wanted| {
            objective
                .targets
                .iter()
                .find(|t| t.indicator == *wanted)
                .and_then(|t| t.threshold_nanos())
        })
}
