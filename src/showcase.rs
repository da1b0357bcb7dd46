//! `tracedojo showcase`: the booth scenarios' command line. The scenarios, their checks, the
//! player and the kiosk are the showcase crate's; this file lists and validates scenarios in
//! the presenter's language, sets the exit status, and ([`play`]) wires a played scenario to
//! a shop.

mod play;

use std::path::Path;
use std::process::ExitCode;

use tracedojo_showcase::{Scenario, catalogue, scenario, validate};
use tracedojo_workshop::Lang;
use tracedojo_workshop::text::pad;

use crate::cli::{ShowcaseAction, ShowcaseArgs};

/// Exit status of a file that is not a valid scenario, or of a command that could not run.
const INVALID: u8 = 2;

pub async fn run(args: ShowcaseArgs) -> ExitCode {
    let lang = match args.lang.as_deref().map(Lang::parse) {
        None => Lang::from_locale(),
        Some(Some(lang)) => lang,
        Some(None) => {
            eprintln!(
                "error: --lang {:?} is not a language of the scenarios; choose ja or en",
                args.lang.unwrap_or_default()
            );
            return ExitCode::from(INVALID);
        }
    };
    let done = match args.action {
        Some(ShowcaseAction::List) => list(lang),
        Some(ShowcaseAction::Validate { file }) => check(&file, lang),
        None => match play::run(args.play, lang).await {
            Ok(()) => return ExitCode::SUCCESS,
            Err(message) => Err(message),
        },
    };
    match done {
        Ok(text) => {
            print_out(&text);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}: {message}", lang.say("error", "エラー"));
            ExitCode::from(INVALID)
        }
    }
}

/// `list`: one line per built-in scenario.
fn list(lang: Lang) -> Result<String, String> {
    let scenarios = catalogue().map_err(|err| err.to_string())?;
    let japanese = lang == Lang::Ja;
    let mut out = String::new();
    for scenario in &scenarios {
        out.push_str(&format!(
            "{}  {}  {}\n",
            pad(scenario.name(), 20),
            pad(scenario.title(japanese), 50),
            loop_length(scenario, lang)
        ));
    }
    out.push_str(&lang.say(
        "\n`tracedojo showcase validate FILE` checks a scenario file of your own.\n",
        "\n`tracedojo showcase validate ファイル` で、自作のシナリオファイルを検査できます。\n",
    ));
    Ok(out)
}

/// `validate FILE`: the verdict, with any warning on standard error.
fn check(path: &Path, lang: Lang) -> Result<String, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| {
        lang.say(
            format!("cannot read {file}: {err}"),
            format!("{file} を読み込めません: {err}"),
        )
    })?;
    let scenario = scenario::parse(&file, &text).map_err(|err| err.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for warning in validate::warnings(&scenario, &text, cores, 1.0) {
        eprintln!("{}: {warning}", lang.say("warning", "警告"));
    }
    let acts = scenario.acts.len();
    Ok(lang.say(
        format!(
            "{file}: valid: {} ({}), {acts} act{}, a loop of {}\n",
            scenario.name(),
            scenario.title(false),
            if acts == 1 { "" } else { "s" },
            loop_length(&scenario, lang)
        ),
        format!(
            "{file}: 有効です: {}（{}）、{acts} シーン、1 ループ {}\n",
            scenario.name(),
            scenario.title(true),
            loop_length(&scenario, lang)
        ),
    ))
}

/// `4 min 5 s`, `4 分 5 秒`.
fn loop_length(scenario: &Scenario, lang: Lang) -> String {
    let seconds = scenario.loop_seconds();
    let (m, s) = (seconds / 60, seconds % 60);
    match (m, s) {
        (0, s) => lang.say(format!("{s} s"), format!("{s} 秒")),
        (m, 0) => lang.say(format!("{m} min"), format!("{m} 分")),
        (m, s) => lang.say(format!("{m} min {s} s"), format!("{m} 分 {s} 秒")),
    }
}

/// Prints to standard output; a reader that went away (`| head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
