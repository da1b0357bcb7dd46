//! `tracedojo workshop`: the lessons' command line. The lessons, their stages and checks are
//! the workshop crate's; this file finds the running shop (flags, else what `up` wrote to the
//! data directory, else the default ports), prints, and sets the exit status.

use std::net::SocketAddr;
use std::process::ExitCode;

use tracedojo_workshop::board::{self, BoardConfig, Event, Reporter};
use tracedojo_workshop::check::Outcome;
use tracedojo_workshop::commands;
use tracedojo_workshop::{Lang, Settings, WorkshopError};

use crate::cli::{BoardReportArgs, WorkshopAction, WorkshopArgs};

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
    // The facilitator's board needs none of a participant's settings.
    if let WorkshopAction::Board {
        listen,
        board_token,
        code,
    } = args.action
    {
        return serve_board(listen, board_token, code, lang).await;
    }
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
    let (text, opted_in) = match action {
        WorkshopAction::List => (commands::list(settings)?, None),
        WorkshopAction::Show { lesson } => (commands::show(settings, &lesson)?, None),
        WorkshopAction::Start { lesson, board } => {
            eprintln!(
                "{}",
                lang.say(
                    "setting the stage (faults, then a few seconds of traffic) ...",
                    "環境を準備しています（障害の設定と、数秒間のトラフィック）…"
                )
            );
            let text = commands::start(settings, &lesson).await?;
            (text, Some((board, lesson, Event::Started)))
        }
        WorkshopAction::Check {
            lesson,
            answer,
            board,
        } => {
            let answer = answer.join(" ");
            let checked = commands::check(settings, &lesson, Some(&answer)).await?;
            let (mark, code) = match checked.verdict.outcome {
                Outcome::Right => ("✓", ExitCode::SUCCESS),
                Outcome::Wrong => ("✗", ExitCode::FAILURE),
                Outcome::NotYet => ("…", ExitCode::FAILURE),
            };
            let mut text = format!("{mark} {}\n", checked.verdict.message);
            if let Some(explanation) = checked.explanation {
                text.push_str(&format!("\n{explanation}\n"));
                text.push_str(&format!(
                    "\n{}\n",
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
                ));
            }
            print_out(&text);
            // "Not yet" is neither right nor wrong: the board has nothing to show for it.
            let event = match checked.verdict.outcome {
                Outcome::Right => Some(Event::Passed),
                Outcome::Wrong => Some(Event::Wrong),
                Outcome::NotYet => None,
            };
            if let Some(event) = event {
                report(settings, &board, &lesson, event).await;
            }
            return Ok(code);
        }
        WorkshopAction::Hint { lesson, board } => (
            commands::hint(settings, &lesson)?,
            Some((board, lesson, Event::Hint)),
        ),
        WorkshopAction::Reset => (commands::reset(settings).await?, None),
        WorkshopAction::Status => (commands::status(settings)?, None),
        WorkshopAction::Board { .. } => unreachable!("`run` serves the board before this"),
    };
    print_out(&text);
    if let Some((board, lesson, event)) = opted_in {
        report(settings, &board, &lesson, event).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Tells the facilitator's board what happened, when the participant opted in with `--board`.
/// Best effort: a board that is gone or refuses costs one warning line, never the command.
async fn report(settings: &Settings, opted_in: &BoardReportArgs, lesson: &str, event: Event) {
    let Some(url) = &opted_in.board else {
        return;
    };
    let lang = settings.lang;
    let Ok(lesson) = commands::lessons().and_then(|all| commands::find(&all, lesson)) else {
        return;
    };
    let code = opted_in.board_code.as_deref().unwrap_or_default();
    let sent = match Reporter::new(url, code, settings.participant.as_deref()) {
        Ok(reporter) => {
            reporter
                .send(lesson.number, &lesson.texts(lang).title, event)
                .await
        }
        Err(said) => Err(said),
    };
    if let Err(said) = sent {
        eprintln!("{}: {}", lang.say("warning", "警告"), said.message(lang));
    }
}

/// `workshop board`: serves the progress board until Ctrl-C.
async fn serve_board(
    listen: SocketAddr,
    token: Option<String>,
    code: Option<String>,
    lang: Lang,
) -> ExitCode {
    let fail = |message: String| {
        eprintln!("{}: {message}", lang.say("error", "エラー"));
        ExitCode::from(CANNOT_RUN)
    };
    let token = token.filter(|token| !token.is_empty());
    if let Err(said) = board::check_exposure(listen, token.as_deref()) {
        return fail(said.message(lang));
    }
    let code = match code.as_deref().map(board::parse_code) {
        None => board::new_code(),
        Some(Ok(code)) => code,
        Some(Err(said)) => return fail(said.message(lang)),
    };
    let listener = match board::bind(listen).await {
        Ok(listener) => listener,
        Err(said) => return fail(said.message(lang)),
    };
    let bound = match listener.local_addr() {
        Ok(bound) => bound,
        Err(err) => return fail(err.to_string()),
    };
    let join = board::join_url(bound);
    let join_url = join
        .clone()
        .unwrap_or_else(|| format!("http://THIS-MACHINE:{}", bound.port()));
    let page = board::page_url(bound, token.as_deref());
    let mut lines = vec![
        lang.say(
            format!("Progress board: {page}"),
            format!("進捗ボード: {page}"),
        ),
        match token {
            Some(_) => lang.say(
                "  open it on the room's screen",
                "  会場のスクリーンで開いてください",
            ),
            None => lang.say(
                "  open it on this machine (without a token it answers this machine only)",
                "  このマシンで開いてください（トークンなしでは、このマシンからのアクセスにだけ応答します）",
            ),
        },
        lang.say(format!("Join code: {code}"), format!("参加コード: {code}")),
        lang.say(
            "Participants add to `tracedojo workshop start`, `check` and `hint`:",
            "参加者は `tracedojo workshop start`、`check`、`hint` に次を付けます:",
        ),
        format!("  --board {join_url} --board-code {code}"),
        lang.say(
            format!(
                "  (or once per terminal: TRACEDOJO_BOARD={join_url} TRACEDOJO_BOARD_CODE={code})"
            ),
            format!(
                "  （または、ターミナルごとに一度だけ設定する場合: TRACEDOJO_BOARD={join_url} TRACEDOJO_BOARD_CODE={code}）"
            ),
        ),
        lang.say(
            "  with their name as given to `up --participant`, or --participant NAME",
            "  名前には `up --participant` で指定したものが使われます（--participant 名前 で指定することもできます）",
        ),
    ];
    if join.is_none() {
        lines.push(lang.say(
            "  (replace THIS-MACHINE with this machine's address on the room's network)",
            "  （THIS-MACHINE は、会場のネットワークでのこのマシンのアドレスに置き換えてください）",
        ));
    } else if bound.ip().is_loopback() {
        lines.push(lang.say(
            "  (on loopback only this machine can report: --listen 0.0.0.0:8095 --token TOKEN lets the room's laptops in)",
            "  （ループバックでは、このマシンからしか報告できません。会場の PC から報告できるようにするには、--listen 0.0.0.0:8095 --token トークン を指定します）",
        ));
    }
    lines.push(lang.say(
        "Nothing is reported without these. Ctrl-C stops the board; what it shows is kept in memory only.",
        "これらを付けない限り、何も報告されません。Ctrl-C でボードを停止します（表示内容はメモリ上にしか保持されません）。",
    ));
    print_out(&format!("{}\n", lines.join("\n")));
    let config = BoardConfig {
        code,
        token,
        join_url,
    };
    match board::serve(listener, config, tracedojo_kit::shutdown::signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err.to_string()),
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
