//! The facilitator's progress board, end to end: the real `tracedojo workshop board` with a
//! token and a join code, and three participants who opt in through their own `workshop hint`
//! commands (no shop needed), each in their own data directory, at different lessons. A wrong
//! join code, a board that is gone or a missing name cost the participant one warning line,
//! never the command. Then Debian's Chromium shows the board (`tests/browser/board.mjs`): the
//! three on their lessons, the longest stuck first and highlighted, in English and Japanese,
//! a name holding markup as text, a wrong token refused. Screenshots land in
//! `tests/artifacts/board/`.
//!
//! The browser part needs `/usr/bin/chromium` and `npm ci --prefix tests/browser` (`.ci/run`
//! does both); without them it says so and passes, except under CI (`CI` set).

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, client, run_to_end, temp_dir};
use serde_json::Value;

const TOKEN: &str = "board-test-token-0123456789";
const CODE: &str = "TEST42";
/// The three participants, in the order they first report (so the first is stuck longest),
/// and the lesson each asks a hint for.
const PARTICIPANTS: [(&str, u32); 3] = [("alice", 4), ("bob", 2), ("carol", 3)];

/// A running `tracedojo workshop board`, stopped (SIGTERM, as Ctrl-C) when dropped.
struct Board {
    child: Child,
    /// The page's address with `#token=`, as printed for the facilitator.
    page: String,
    /// What participants give to `--board`.
    url: String,
    code: String,
}

impl Board {
    fn start(args: &[&str]) -> Board {
        Board::start_printing(args, &[]).0
    }

    /// Started with `env` on top of an environment without the board's and the control API's
    /// tokens; also returns every line it printed at start.
    fn start_printing(args: &[&str], env: &[(&str, &str)]) -> (Board, Vec<String>) {
        let mut child = Command::new(BIN)
            .args([
                "workshop",
                "board",
                "--listen",
                "127.0.0.1:0",
                "--lang",
                "en",
            ])
            .args(args)
            .env_remove("TRACEDOJO_BOARD_TOKEN")
            .env_remove("TRACEDOJO_CONTROL_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tracedojo workshop board");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut printed = Vec::new();
        while !printed
            .iter()
            .any(|l: &String| l.starts_with("Nothing is reported"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => printed.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "the board did not start; it printed:\n{}",
                        printed.join("\n")
                    );
                }
            }
        }
        let after = |label: &str| -> String {
            printed
                .iter()
                .find_map(|l| l.trim().strip_prefix(label))
                .unwrap_or_else(|| panic!("no {label:?} line in:\n{}", printed.join("\n")))
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        };
        let page = after("Progress board:");
        let code = after("Join code:");
        let url = after("--board");
        assert!(
            printed
                .iter()
                .any(|l| l.trim() == format!("--board {url} --board-code {code}")),
            "what participants add: {printed:?}"
        );
        (
            Board {
                child,
                page,
                url,
                code,
            },
            printed,
        )
    }

    async fn api(&self, token: Option<&str>) -> (u16, Value, String) {
        let mut request = client().get(format!("{}/api/board", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    /// SIGTERM and wait; whether it exited with status 0.
    fn stop(&mut self) -> bool {
        // Once reaped, its pid may be another process's: never signal it again.
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.success();
        }
        // SAFETY: signalling a child process we spawned and have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a participant's workshop command printed and how it ended.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `tracedojo workshop ARGS` as a participant with their own data directory, in English.
fn participant(data_dir: &Path, args: &[&str]) -> Ran {
    participant_in("en", data_dir, args)
}

/// [`participant`] in the language `lang`.
fn participant_in(lang: &str, data_dir: &Path, args: &[&str]) -> Ran {
    let data_dir = data_dir.to_string_lossy().to_string();
    let mut all = vec!["workshop"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--lang", lang, "--data-dir", &data_dir]);
    let output = run_to_end(&all, &[]);
    let ran = Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    };
    assert!(!ran.stderr.contains("panicked"), "{args:?}: {}", ran.stderr);
    ran
}

/// The three participants ask a hint each, through the real command, a moment apart.
fn three_participants_report(board: &Board) -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    for (name, lesson) in PARTICIPANTS {
        let dir = temp_dir(&format!("board-{name}"));
        let lesson = lesson.to_string();
        let ran = participant(
            &dir,
            &[
                "hint",
                &lesson,
                "--participant",
                name,
                "--board",
                &board.url,
                "--board-code",
                &board.code,
            ],
        );
        assert_eq!(ran.code, 0, "{name}: {}", ran.stderr);
        assert!(
            ran.stdout.starts_with("Hint 1 of"),
            "{name}: {}",
            ran.stdout
        );
        assert_eq!(ran.stderr, "", "{name} reported without a word");
        dirs.push(dir);
        // Apart, so who has been stuck longest is plain.
        std::thread::sleep(Duration::from_millis(50));
    }
    dirs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_report_through_their_commands_and_only_the_token_reads_the_board() {
    let mut board = Board::start(&["--board-token", TOKEN, "--code", CODE]);
    assert_eq!(board.code, CODE);
    assert!(
        board.page.ends_with(&format!("/#token={TOKEN}")),
        "{}",
        board.page
    );
    let dirs = three_participants_report(&board);

    // Reading the board needs its token: one line of JSON says so, and nothing leaks.
    for token in [None, Some("not-the-board-token-at-all")] {
        let (status, body, text) = board.api(token).await;
        assert_eq!(status, 401, "{token:?}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{text}");
        assert!(!text.contains("alice"), "{text}");
    }
    let (status, body, text) = board.api(Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    let rows: Vec<(String, u64)> = body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["participant"].as_str().unwrap().to_string(),
                p["lesson"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = PARTICIPANTS
        .iter()
        .map(|(name, lesson)| (name.to_string(), u64::from(*lesson)))
        .collect();
    assert_eq!(rows, expected, "longest stuck first: {body}");
    let first = &body["participants"][0];
    assert_eq!(first["hints"], 1);
    assert_eq!(first["title"], "The slow dependency", "{first}");
    assert_eq!(first["last_event"], "hint");
    assert!(
        first["stuck_for_ms"].as_u64().unwrap()
            >= body["participants"][2]["stuck_for_ms"].as_u64().unwrap() + 100,
        "{body}"
    );

    // A second hint on the same lesson counts, and does not restart the clock.
    let since = body["participants"][1]["since_unix_ms"].clone();
    let ran = participant(
        &dirs[1],
        &[
            "hint",
            "2",
            "--participant",
            "bob",
            "--board",
            &board.url,
            "--board-code",
            &board.code,
        ],
    );
    assert_eq!((ran.code, ran.stderr.as_str()), (0, ""));
    let (_, body, _) = board.api(Some(TOKEN)).await;
    assert_eq!(body["participants"][1]["participant"], "bob");
    assert_eq!(body["participants"][1]["hints"], 2);
    assert_eq!(body["participants"][1]["since_unix_ms"], since);

    // Through the variables, as a participant sets them once per terminal.
    let dave = temp_dir("board-dave");
    let data_dir = dave.to_string_lossy().to_string();
    let output = run_to_end(
        &[
            "workshop",
            "hint",
            "1",
            "--participant",
            "dave",
            "--lang",
            "en",
            "--data-dir",
            &data_dir,
        ],
        &[
            ("TRACEDOJO_BOARD", board.url.as_str()),
            ("TRACEDOJO_BOARD_CODE", &board.code.to_ascii_lowercase()),
        ],
    );
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (_, body, _) = board.api(Some(TOKEN)).await;
    assert_eq!(body["participants"].as_array().unwrap().len(), 4, "{body}");

    assert!(board.stop(), "Ctrl-C (SIGTERM) stops the board cleanly");
    for dir in dirs.iter().chain([&dave]) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_made_is_one_warning_line_and_the_command_still_succeeds() {
    let board = Board::start(&["--board-token", TOKEN, "--code", CODE]);
    let dir = temp_dir("board-warnings");
    let hint = |extra: &[&str]| {
        let mut args = vec!["hint", "1"];
        args.extend_from_slice(extra);
        participant(&dir, &args)
    };
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec![
                "--participant",
                "erin",
                "--board",
                &board.url,
                "--board-code",
                "WRONG9",
            ],
            "join code is wrong",
        ),
        (
            vec![
                "--participant",
                "erin",
                "--board",
                "http://127.0.0.1:9",
                "--board-code",
                CODE,
            ],
            "cannot connect",
        ),
        (
            vec!["--board", &board.url, "--board-code", CODE],
            "needs your name (--participant NAME",
        ),
        (
            vec![
                "--participant",
                "erin",
                "--board",
                "board.example:8095",
                "--board-code",
                CODE,
            ],
            "must start with http://",
        ),
    ];
    for (extra, says) in cases {
        let ran = hint(&extra);
        assert_eq!(ran.code, 0, "{extra:?}: {}", ran.stderr);
        assert!(ran.stdout.starts_with("Hint "), "{extra:?}: {}", ran.stdout);
        assert_eq!(ran.stderr.lines().count(), 1, "{extra:?}: {}", ran.stderr);
        assert!(
            ran.stderr.starts_with("warning: ") && ran.stderr.contains(says),
            "{extra:?}: {}",
            ran.stderr
        );
    }
    // In the participant's language.
    let ran = participant_in(
        "ja",
        &dir,
        &[
            "hint",
            "1",
            "--participant",
            "erin",
            "--board",
            &board.url,
            "--board-code",
            "WRONG9",
        ],
    );
    assert_eq!(ran.code, 0);
    assert!(
        ran.stderr.starts_with("警告: ") && ran.stderr.contains("参加コードが違います"),
        "{}",
        ran.stderr
    );
    // Without --board nothing is sent, and nothing is said.
    let ran = hint(&["--participant", "erin"]);
    assert_eq!((ran.code, ran.stderr.as_str()), (0, ""));
    let (_, body, _) = board.api(Some(TOKEN)).await;
    assert_eq!(body["participants"], serde_json::json!([]), "{body}");
    // A URL without its code is a mistake on the command line, before anything runs.
    let ran = hint(&["--participant", "erin", "--board", &board.url]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--board-code"), "{}", ran.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_board_that_cannot_start_says_why_in_one_line() {
    for (args, says) in [
        (vec!["--listen", "0.0.0.0:0"], "which other machines reach"),
        (
            vec!["--listen", "127.0.0.1:0", "--board-token", "short"],
            "at least 16 characters",
        ),
        (
            vec!["--listen", "127.0.0.1:0", "--code", "no spaces"],
            "--code takes",
        ),
    ] {
        let mut all = vec!["workshop", "board", "--lang", "en"];
        all.extend_from_slice(&args);
        let output = run_to_end(&all, &[("TRACEDOJO_BOARD_TOKEN", "")]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The control API's token, in its variable (set for the participant's commands on the same
/// machine), is never taken for the board's: the board on loopback starts without one, and
/// the token appears nowhere in what it prints for the room's screen.
#[test]
fn the_control_apis_token_never_becomes_the_boards() {
    let (board, printed) = Board::start_printing(&[], &[("TRACEDOJO_CONTROL_TOKEN", TOKEN)]);
    assert!(!board.page.contains("#token="), "{}", board.page);
    for line in &printed {
        assert!(
            !line.contains(TOKEN),
            "the control token was printed: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_sees_who_is_stuck_longest_on_the_board_page_in_chromium() {
    let Some(browser) = support::browser_kit("progress board browser test") else {
        return;
    };
    let board = Board::start(&["--board-token", TOKEN, "--code", CODE]);
    let dirs = three_participants_report(&board);
    // The board answers the page at once; the browser test waits for nothing else.
    let (status, _, text) = board.api(Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");

    let artifacts = browser.root.join("tests/artifacts/board");
    let base = board.page.split("/#").next().unwrap();
    browser.run(
        "board.mjs",
        [
            base.as_ref(),
            TOKEN.as_ref(),
            board.code.as_ref(),
            artifacts.as_os_str(),
        ],
    );
    support::assert_screenshots(
        &artifacts,
        &["1-board-en", "2-board-ja", "3-escaped", "4-wrong-token"],
    );
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}
