//! `tracedojo report`: the endpoints and queries most in need of work, ranked against
//! objectives, read from a running explorer; written as Markdown (English or Japanese) or
//! JSON, and posted to a chat webhook and a ticket tracker, once or `--every` so long (then
//! only what is new or worse is posted again). The work is in the `tracedojo-report` crate.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use tracedojo_report::assess::Rules;
use tracedojo_report::explorer::Explorer;
use tracedojo_report::gather::{self, Settings};
use tracedojo_report::objectives::Objectives;
use tracedojo_report::post::{self, Poster, TicketTracker};
use tracedojo_report::repeat::{Memory, News};
use tracedojo_report::{Lang, markdown};

pub const REPORT_HELP: &str = "\
Examples:
  tracedojo report                                  Markdown on stdout, from the running shop's explorer
  tracedojo report --lang ja --output report.md     in Japanese, to a file
  tracedojo report --format json                    the same as JSON, for scripts
  tracedojo report --objectives my-slos.toml --explorer http://10.0.0.5:8090
  tracedojo report --every 1h --webhook-url https://hooks.slack.com/services/...
                                                    every hour; posts only what is new or worse
  tracedojo report --ticket-url https://example.atlassian.net/rest/api/2/issue --ticket-project OPS
                                                    one ticket per endpoint that needs work
An endpoint needs work when it spends its error budget at least --min-burn-rate times as fast as
the budget allows, over both --long and --short (multi-window burn rates). The objectives file
(TOML) is described in the README, section \"Improvement report\"; the shop's own is used without
one. Secrets come from the environment only: TRACEDOJO_WEBHOOK_URL may hold the webhook's URL,
TRACEDOJO_TICKET_AUTHORIZATION the ticket tracker's Authorization header (e.g. \"Basic ...\").
Exit status: 0 when the report was made (and posted, when asked); 1 otherwise.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Markdown,
    Json,
}

/// Where `report` and `explain` read from: the explorer, and the objectives to judge by.
#[derive(Debug, Args)]
pub struct Sources {
    /// The explorer to read [default: the one a running `up` wrote to its data directory, else
    /// http://127.0.0.1:8090]
    #[arg(long, env = "TRACEDOJO_EXPLORER_URL", value_name = "URL")]
    pub explorer: Option<String>,
    /// Where a running `up` says where its explorer is.
    #[arg(long, env = "TRACEDOJO_DATA_DIR", default_value = "tracedojo-data")]
    pub data_dir: PathBuf,
    /// The objectives (TOML) [default: the shop's built-in objectives]
    #[arg(long, env = "TRACEDOJO_OBJECTIVES", value_name = "FILE")]
    pub objectives: Option<PathBuf>,
}

impl Sources {
    /// The objectives file read and checked, or the shop's own.
    pub fn objectives(&self) -> anyhow::Result<Objectives> {
        Ok(match &self.objectives {
            Some(path) => Objectives::read(path)?,
            None => Objectives::shop(),
        })
    }

    /// The explorer: as given, else where a running `up` says, else the default address; and
    /// the participant that `up` was given, if any.
    pub fn explorer(&self) -> anyhow::Result<(Explorer, Option<String>)> {
        let running = crate::running::read(&self.data_dir);
        let url = self
            .explorer
            .clone()
            .or(running.explorer)
            .unwrap_or_else(|| "http://127.0.0.1:8090".to_string());
        Ok((Explorer::new(&url)?, running.participant))
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub sources: Sources,
    /// The long window of the burn rates: an endpoint must burn fast over it (e.g. 1h, 30m)
    #[arg(long, default_value = "1h", value_parser = parse_window)]
    pub long: u64,
    /// The short window: and still burn fast now, so a finished incident stops being
    /// reported (shorter than --long)
    #[arg(long, default_value = "5m", value_parser = parse_window)]
    pub short: u64,
    /// The burn rate both windows must reach for an endpoint to need work (1: the budget
    /// would last exactly its period; 14.4 over an hour spends 2% of a 30-day budget)
    #[arg(long, default_value_t = 1.0, value_parser = parse_burn_rate)]
    pub min_burn_rate: f64,
    /// Requests an endpoint needs in the short window to be judged at all
    #[arg(long, default_value_t = 10)]
    pub min_requests: usize,
    /// Only the spans of this service.namespace (one participant's run) [default: the
    /// participant a running `up` was given]
    #[arg(long, env = "TRACEDOJO_PARTICIPANT", value_name = "NAME")]
    pub namespace: Option<String>,
    /// Markdown (for people) or JSON (for scripts)
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// The language of the Markdown, chat posts and tickets: ja or en [default: from the
    /// locale (LANG)]
    #[arg(long, env = "TRACEDOJO_LANG")]
    pub lang: Option<String>,
    /// Write the report to this file instead of stdout (replaced at each --every round)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Where the code is browsed, e.g. https://github.com/ORG/REPO/blob/main: each endpoint's
    /// handler file (from its spans' code.file.path) becomes a link under it
    #[arg(long, value_name = "URL")]
    pub code_base_url: Option<String>,
    /// Post to this chat webhook (Slack's incoming-webhook JSON; Mattermost and others take it
    /// too). Its URL is a secret: prefer the variable
    #[arg(
        long,
        env = "TRACEDOJO_WEBHOOK_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub webhook_url: Option<String>,
    /// File a ticket per endpoint needing work here (Jira's create-issue JSON, e.g.
    /// https://example.atlassian.net/rest/api/2/issue); the Authorization header comes from
    /// TRACEDOJO_TICKET_AUTHORIZATION
    #[arg(long, env = "TRACEDOJO_TICKET_URL", value_name = "URL")]
    pub ticket_url: Option<String>,
    /// The tickets' project key
    #[arg(long, default_value = "OPS", value_name = "KEY")]
    pub ticket_project: String,
    /// The tickets' issue type
    #[arg(long, default_value = "Task", value_name = "TYPE")]
    pub ticket_type: String,
    /// Make a report again every so long (at least 10s), until Ctrl-C; posts only what is new
    /// or worse than last posted
    #[arg(long, value_parser = parse_every, value_name = "DURATION")]
    pub every: Option<u64>,
    /// With --every: stop after this many reports
    #[arg(long, requires = "every", value_name = "COUNT")]
    pub rounds: Option<u64>,
}

fn parse_window(text: &str) -> Result<u64, String> {
    let nanos = tracedojo_report::parse_duration(text)?;
    let seconds = nanos / 1_000_000_000;
    if !(10..=7 * 86_400).contains(&seconds) {
        return Err(format!("{text:?} is outside 10s to 7d"));
    }
    Ok(seconds)
}

fn parse_every(text: &str) -> Result<u64, String> {
    let seconds = tracedojo_report::parse_duration(text)? / 1_000_000_000;
    if seconds < 10 {
        return Err(format!("{text:?} is shorter than 10s"));
    }
    Ok(seconds)
}

fn parse_burn_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a burn rate; give a number above 0, e.g. 1, 6 or 14.4"
        )),
    }
}

/// `--lang`, else the locale's language.
pub fn language(given: Option<&str>) -> anyhow::Result<Lang> {
    use tracedojo_workshop::text::Lang as Locale;
    let lang = match given {
        None => Locale::from_locale(),
        Some(text) => match Locale::parse(text) {
            Some(lang) => lang,
            None => bail!("--lang {text:?}: give ja or en"),
        },
    };
    Ok(match lang {
        Locale::Ja => Lang::Ja,
        Locale::En => Lang::En,
    })
}

/// `println!` that ignores a closed pipe.
fn say(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub async fn run(args: ReportArgs) -> anyhow::Result<()> {
    let lang = language(args.lang.as_deref())?;
    if args.short >= args.long {
        bail!(
            "--short ({} s) must be shorter than --long ({} s): the short window says the burn goes on now, the long one that it is not a blip",
            args.short,
            args.long
        );
    }
    let objectives = args.sources.objectives()?;
    let (explorer, participant) = args.sources.explorer()?;
    let settings = Settings {
        explorer,
        objectives,
        rules: Rules {
            min_burn_rate: args.min_burn_rate,
            min_requests: args.min_requests,
            long_seconds: args.long,
            short_seconds: args.short,
        },
        namespace: args.namespace.clone().or(participant),
        code_base_url: args.code_base_url.clone(),
        detailed: 5,
        exemplars: 3,
    };
    let tracker = args.ticket_url.as_ref().map(|url| TicketTracker {
        url: url.clone(),
        project: args.ticket_project.clone(),
        issue_type: args.ticket_type.clone(),
        authorization: std::env::var("TRACEDOJO_TICKET_AUTHORIZATION").ok(),
    });
    let poster = Poster::default();
    let mut memories = Memories::default();
    let mut round = 0u64;
    loop {
        round += 1;
        let outcome = one_round(
            &args,
            &settings,
            lang,
            &poster,
            tracker.as_ref(),
            &mut memories,
        )
        .await;
        let Some(every) = args.every else {
            return outcome;
        };
        if let Err(err) = outcome {
            // A round that failed is said, and the next one tries again.
            eprintln!("error: report {round}: {err:#}");
        }
        if args.rounds.is_some_and(|rounds| round >= rounds) {
            return Ok(());
        }
        eprintln!("next report in {every} s (Ctrl-C stops)");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One report: made, written, and posted where asked (only what is new or worse).
async fn one_round(
    args: &ReportArgs,
    settings: &Settings,
    lang: Lang,
    poster: &Poster,
    tracker: Option<&TicketTracker>,
    memories: &mut Memories,
) -> anyhow::Result<()> {
    let report = gather::report(settings).await?;
    let text = match args.format {
        Format::Markdown => markdown::render(&report, lang),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
    };
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => say(&text),
    }
    let mut failures = Vec::new();
    if let Some(url) = &args.webhook_url {
        let news = memories.chat.news(&report);
        if news.is_empty() {
            eprintln!("nothing new or worse to post to {}", post::receiver(url));
        } else {
            let message = post::chat_message(&report, &news.items, &news.queries, lang);
            match poster.post(url, &message, None, "the chat message").await {
                Ok(()) => {
                    eprintln!(
                        "posted {} endpoints and {} queries to {}",
                        news.items.len(),
                        news.queries.len(),
                        post::receiver(url)
                    );
                    memories.chat.posted(&news);
                }
                // Not remembered: the next round posts it again.
                Err(err) => failures.push(err.to_string()),
            }
        }
    }
    if let Some(tracker) = tracker {
        let news = memories.tickets.news(&report);
        let mut filed = Vec::new();
        for item in news.items {
            let ticket = post::ticket(&report, item, tracker, lang);
            match poster
                .post(
                    &tracker.url,
                    &ticket,
                    tracker.authorization.as_deref(),
                    "the ticket",
                )
                .await
            {
                Ok(()) => {
                    eprintln!(
                        "filed a ticket for {} at {}",
                        item.key(),
                        post::receiver(&tracker.url)
                    );
                    filed.push(item);
                }
                Err(err) => failures.push(format!("{}: {err}", item.key())),
            }
        }
        memories.tickets.posted(&News {
            items: filed,
            queries: Vec::new(),
        });
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// What was last posted to each kind of receiver.
#[derive(Debug, Default)]
struct Memories {
    chat: Memory,
    tickets: Memory,
}
