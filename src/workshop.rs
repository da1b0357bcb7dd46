//! `tracedojo workshop`: the lessons' command line. The lessons, their stages and checks are
//! the workshop crate's; this file finds the running shop (flags, else what `up` wrote to the
//! data directory, else the default ports), prints, and sets the exit status.

use std::process::ExitCode;

use tracedojo_workshop::check::Outcome;
use tracedojo_workshop::commands;
use tracedojo_workshop::{Lang, Settings, WorkshopError};

use crate::cli::{WorkshopAction, WorkshopArgs};

/// Exit status of a command that could not run (bad input, no shop): apart from a wrong
/// answer's 1, so a script can tell them apart.
const CANNOT_RUN: u8 = 2;

pub async fn run(args: WorkshopArgs) -> ExitCode {
    let lang = match args.lang.as_deref().map(Lang::parse) {
        None => Lang::from_locale(),
        Some(Some(lang)) => lang,
        Some(None) => {
            eprintln!(
                "error: --lang {:?} is not a language of the lessons; choose ja or en",
                args.lang.unwrap_or_default()
            );
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let settings = match settings(&args, lang) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(CANNOT_RUN);
        }
    };
    match act(&settings, args.action).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}: {}", lang.say("error", "エラー"), err.message(lang));
            ExitCode::from(CANNOT_RUN)
        }
    }
}

/// Flags (and their variables) first, then what a running `up` wrote, then the defaults.
fn settings(args: &WorkshopArgs, lang: Lang) -> Result<Settings, String> {
    let running = crate::running::read(&args.data_dir);
    let participant = match args.participant.clone().or(running.participant) {
        Some(name) => Some(
            tracedojo_kit::participant::parse(&name)
                .map_err(|err| format!("--participant: {err}"))?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    Ok(Settings {
        explorer: args
            .explorer
            .clone()
            .or(running.explorer)
            .unwrap_or_else(|| "http://127.0.0.1:8090".to_string()),
        control: args
            .control
            .clone()
            .or(running.control)
            .unwrap_or_else(|| "http://127.0.0.1:8089".to_string()),
        control_token: args.token.clone(),
        shop: args
            .shop
            .clone()
            .or(running.shop)
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_string()),
        data_dir: args.data_dir.clone(),
        participant,
        lang,
    })
}

async fn act(settings: &Settings, action: WorkshopAction) -> Result<ExitCode, WorkshopError> {
    let lang = settings.lang;
    let text = match action {
        WorkshopAction::List => commands::list(settings)?,
        WorkshopAction::Show { lesson } => commands::show(settings, &lesson)?,
        WorkshopAction::Start { lesson } => {
            eprintln!(
                "{}",
                lang.say(
                    "setting the stage (faults, then a few seconds of traffic) ...",
                    "環境を準備しています（障害の設定と、数秒間のトラフィック）…"
                )
            );
            commands::start(settings, &lesson).await?
        }
        WorkshopAction::Check { lesson, answer } => {
            let answer = answer.join(" ");
            let checked = commands::check(settings, &lesson, Some(&answer)).await?;
            let (mark, code) = match checked.verdict.outcome {
                Outcome::Right => ("✓", ExitCode::SUCCESS),
                Outcome::Wrong => ("✗", ExitCode::FAILURE),
                Outcome::NotYet => ("…", ExitCode::FAILURE),
            };
            println!("{mark} {}", checked.verdict.message);
            if let Some(explanation) = checked.explanation {
                println!("\n{explanation}");
                println!(
                    "\n{}",
                    lang.say(
                        format!(
                            "Lesson {} passed. Next: `tracedojo workshop list`.",
                            checked.lesson
                        ),
                        format!(
                            "レッスン {} を完了しました。次へ: `tracedojo workshop list`",
                            checked.lesson
                        ),
                    )
                );
            }
            return Ok(code);
        }
        WorkshopAction::Hint { lesson } => commands::hint(settings, &lesson)?,
        WorkshopAction::Reset => commands::reset(settings).await?,
        WorkshopAction::Status => commands::status(settings)?,
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
