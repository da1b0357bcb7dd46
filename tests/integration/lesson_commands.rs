//! Docs as tests: every command a lesson prints, in English and in Japanese, is run here for
//! real, so no lesson tells a participant to type something that does not work.
//!
//! What a printed command is (the markup rule the lesson files follow):
//! - every entry of a lesson's `run` list;
//! - in its prose (title, goal, look, task, answer format, hints, explanation), every
//!   backtick span and every indented line whose text starts like a command: `tracedojo `,
//!   `cargo `, `pip `, `target/workshop-python/bin/python`, `workshop/examples/`, or one of
//!   these after `NAME=value` environment assignments. An indented line ending in ` \` goes on
//!   on the next line, as in a shell.
//!
//! Everything else is prose: a backtick span such as `up` names something, and "the tracedojo
//! repository" is a word. What reads as a command but is written without that markup
//! (`tracedojo` and one of its subcommands, `cargo` or `pip` and a word, the printed Python, a
//! script under workshop/examples/: "rebuild with cargo build --release") fails the test, so a
//! command added to a lesson is always one this test finds.
//!
//! Placeholders become what a participant would type: YOUR_NAME and 名前 a participant's name,
//! VENDOR and ベンダー名 `otel-collector` (the preset with no key, pointed at an OTLP receiver
//! in this process). Both languages of a lesson must then print the same commands.
//!
//! Each distinct command runs once, by family:
//! - `tracedojo workshop start|check N ...`: as printed, in the directory where a shop started
//!   by the test keeps its data (`tracedojo-data`, the default of both `up` and `workshop`), so
//!   it finds that shop as a participant's does; `start` must succeed, `check` may say "not
//!   yet" (exit 1) but must run (never 2, never a panic);
//! - `tracedojo report ...`: the same way, finding the shop's explorer as a participant's does;
//!   it must make its report (exit 0);
//! - `tracedojo up ...`: as printed plus `--base-port 0 --data-dir DIR`, until it has written
//!   DIR/running.json, then Ctrl-C (SIGINT): it must exit 0 and remove that file;
//! - `tracedojo doctor ...`: against the OTLP receiver, which must take every signal (exit 0);
//! - the example Python service, with the Python of TRACEDOJO_TEST_PYTHON (set by .ci/run) on a
//!   free port, exporting to the receiver, until it listens;
//! - `pip install -r ...`: with that Python's pip, offline, where it has nothing to install;
//! - `workshop/examples/setup-python.sh`: .ci/run runs it before the tests, and running it
//!   again here would rebuild the virtualenv the other tests are using (and may call apt-get):
//!   it counts as run when the virtualenv it makes is there and passes the script's own last
//!   check;
//! - the commands in [`RUN_ELSEWHERE`], each with where it runs instead.
//!
//! A command of any other kind fails the test, naming the lesson, the language and the command.
//! Outside CI a missing Python skips what needs it, saying so; under CI (`CI` set) it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{BIN, Shop, temp_dir};
use tracedojo_workshop::Lang;

/// The name every placeholder for the participant's name becomes.
const PARTICIPANT: &str = "ws-lessons";
/// The vendor every placeholder for one becomes: the collector preset sends no key, and its
/// own variable (`COLLECTOR_OTLP_ENDPOINT`) points it at the receiver in this process.
const VENDOR: &str = "otel-collector";
/// Placeholders in both languages, and what a participant would type for them.
const PLACEHOLDERS: [(&str, &str); 4] = [
    ("YOUR_NAME", PARTICIPANT),
    ("名前", PARTICIPANT),
    ("VENDOR", VENDOR),
    ("ベンダー名", VENDOR),
];

/// How a command begins, after any `NAME=value` assignments.
const COMMAND_STARTS: [&str; 5] = [
    "tracedojo ",
    "cargo ",
    "pip ",
    "target/workshop-python/bin/python",
    "workshop/examples/",
];

/// Printed commands this test does not run, each with where it runs instead. Any other
/// command that no rule below runs fails the test.
const RUN_ELSEWHERE: [(&str, &str); 1] = [(
    "cargo build --release",
    "a full release build of the workspace takes minutes on CI's two cores, too long for this \
     suite: bench/workshop.sh times this very rebuild after lesson 10's edit, and \
     tests/workshop_code.rs builds (debug) a copy holding the participant's edits and passes \
     lesson 10 with it",
)];

/// The Python the lessons name, made by the setup script.
const PRINTED_PYTHON: &str = "target/workshop-python/bin/python";
const SETUP_SCRIPT: &str = "workshop/examples/setup-python.sh";
/// The port the lessons give the participant's own service.
const EXAMPLE_SERVICE_PORT: &str = "9000";
/// The explorer's OTLP/HTTP address when `up` runs on its default ports.
const DEFAULT_OTLP_HTTP: &str = "http://127.0.0.1:4318";

/// The longest a command that ends by itself may take before the test calls it a hang (a
/// stage sends up to a few hundred requests on a loaded machine).
const HANG_GUARD: Duration = Duration::from_secs(180);
/// The longest `up` or a service may take to be ready, and to stop.
const READY_WITHIN: Duration = Duration::from_secs(120);
const STOP_WITHIN: Duration = Duration::from_secs(60);
/// How often a start or a stop is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(50);

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------
// Finding the commands

/// Where a command is printed.
#[derive(Debug, Clone)]
struct Place {
    lesson: u32,
    lang: Lang,
    field: String,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lesson {} ({}, {})", self.lesson, self.lang, self.field)
    }
}

/// What the markup rule finds in one text of a lesson.
#[derive(Debug, Default, PartialEq)]
struct Marked {
    /// The commands, as printed (a continued line joined into one).
    commands: Vec<String>,
    /// Text that reads as a command but is not marked as one.
    unmarked: Vec<String>,
}

/// `NAME=value`, as a shell takes before a command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// `text` after its leading `NAME=value` assignments.
fn after_assignments(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(word) = rest.split_whitespace().next()
        && is_assignment(word)
    {
        rest = rest[word.len()..].trim_start();
    }
    rest
}

fn starts_a_command(text: &str) -> bool {
    let command = after_assignments(text);
    COMMAND_STARTS
        .iter()
        .any(|start| command.starts_with(start))
}

/// The commands of one prose text, by the markup rule, and what reads as a command without
/// being marked: `tracedojo` followed by one of its `subcommands`, `cargo` or `pip` followed
/// by a word, the printed Python, or a script under workshop/examples.
fn read_prose(text: &str, subcommands: &BTreeSet<String>) -> Result<Marked, String> {
    let mut marked = Marked::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut prose = String::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.starts_with(char::is_whitespace) {
            let mut logical = line.trim().to_string();
            let mut last = index;
            while logical.ends_with('\\') && last + 1 < lines.len() {
                logical.pop();
                last += 1;
                logical = format!("{} {}", logical.trim_end(), lines[last].trim());
            }
            if starts_a_command(&logical) {
                marked.commands.push(logical);
                index = last + 1;
                continue;
            }
        }
        prose.push_str(line);
        prose.push('\n');
        index += 1;
    }
    let pieces: Vec<&str> = prose.split('`').collect();
    if pieces.len().is_multiple_of(2) {
        return Err("a backtick is never closed".to_string());
    }
    for (position, piece) in pieces.iter().enumerate() {
        if position % 2 == 1 {
            let span = piece.split_whitespace().collect::<Vec<_>>().join(" ");
            if starts_a_command(&span) {
                marked.commands.push(span);
            }
        } else {
            marked
                .unmarked
                .extend(unmarked_commands(piece, subcommands));
        }
    }
    Ok(marked)
}

/// What in `prose` (outside any markup) reads as a command.
fn unmarked_commands(prose: &str, subcommands: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for start in COMMAND_STARTS {
        for (at, _) in prose.match_indices(start) {
            // Part of a longer word (`mytracedojo `, `a/workshop/examples/`) is not a start.
            let glued = prose[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || "._/-".contains(c));
            if glued {
                continue;
            }
            let rest = &prose[at + start.len()..];
            let command = match start {
                "tracedojo " => {
                    let word = leading_word(rest);
                    subcommands.contains(word).then(|| format!("{start}{word}"))
                }
                "cargo " | "pip " => {
                    let word = leading_word(rest);
                    (!word.is_empty()).then(|| format!("{start}{word}"))
                }
                // A script there is a command; the example service's source is a file.
                "workshop/examples/" => {
                    let path = leading_path(&prose[at..]);
                    path.ends_with(".sh").then(|| path.to_string())
                }
                _ => Some(start.to_string()),
            };
            found.extend(command);
        }
    }
    found
}

/// The lower-case word `text` starts with, as a subcommand is spelt.
fn leading_word(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The path `text` starts with, without the punctuation of the sentence around it.
fn leading_path(text: &str) -> &str {
    let end = text
        .find(|c: char| c.is_whitespace() || !c.is_ascii() || "()[],;:`\"'".contains(c))
        .unwrap_or(text.len());
    text[..end].trim_end_matches('.')
}

/// The subcommands of `tracedojo`, from its own `--help`.
fn tracedojo_subcommands() -> BTreeSet<String> {
    let mut help = Command::new(BIN);
    help.arg("--help");
    let output = finish(help, "tracedojo --help");
    assert!(output.status.success(), "tracedojo --help: {output:?}");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let subcommands: BTreeSet<String> = text
        .lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .collect();
    assert!(
        subcommands.contains("up") && subcommands.contains("workshop"),
        "no subcommands read from tracedojo --help:\n{text}"
    );
    subcommands
}

/// A command as a lesson prints it, and where.
#[derive(Debug)]
struct Printed {
    place: Place,
    text: String,
}

/// Every command printed in every lesson, in both languages, and what is wrong with the
/// markup.
fn printed_commands(problems: &mut Vec<String>) -> Vec<Printed> {
    let subcommands = tracedojo_subcommands();
    let lessons = tracedojo_workshop::catalogue().expect("the lessons are valid");
    let mut printed = Vec::new();
    for lesson in &lessons {
        for lang in [Lang::En, Lang::Ja] {
            let texts = lesson.texts(lang);
            let at = |field: &str| Place {
                lesson: lesson.number,
                lang,
                field: field.to_string(),
            };
            for command in &texts.run {
                printed.push(Printed {
                    place: at("run"),
                    text: command.clone(),
                });
            }
            let mut prose: Vec<(String, &str)> = vec![
                ("title".into(), texts.title.as_str()),
                ("goal".into(), texts.goal.as_str()),
                ("look".into(), texts.look.as_str()),
                ("task".into(), texts.task.as_str()),
                ("explanation".into(), texts.explanation.as_str()),
            ];
            if let Some(format) = &texts.answer_format {
                prose.push(("answer_format".into(), format.as_str()));
            }
            for (index, hint) in texts.hints.iter().enumerate() {
                prose.push((format!("hints[{index}]"), hint.as_str()));
            }
            for (field, text) in prose {
                let place = at(&field);
                match read_prose(text, &subcommands) {
                    Err(err) => problems.push(format!("{place}: {err}")),
                    Ok(marked) => {
                        for unmarked in marked.unmarked {
                            problems.push(format!(
                                "{place}: `{unmarked}` reads as a command but is not marked as one: put it in backticks, or on a line of its own, indented"
                            ));
                        }
                        for command in marked.commands {
                            printed.push(Printed {
                                place: place.clone(),
                                text: command,
                            });
                        }
                    }
                }
            }
        }
    }
    printed
}

/// The command a participant types for `printed`: one space between words, placeholders
/// filled in.
fn normalise(printed: &str) -> Result<String, String> {
    let command = printed
        .split_whitespace()
        .map(|word| {
            for (placeholder, value) in PLACEHOLDERS {
                if word == placeholder {
                    return value.to_string();
                }
                if let Some(before) = word.strip_suffix(placeholder)
                    && before.ends_with('=')
                {
                    return format!("{before}{value}");
                }
            }
            word.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ");
    if command.is_ascii() {
        Ok(command)
    } else {
        Err(format!(
            "holds words that are not a command's, a placeholder this test does not know? (known: {})",
            PLACEHOLDERS.map(|(placeholder, _)| placeholder).join(", ")
        ))
    }
}

/// One command to run, with every place that prints it.
#[derive(Debug)]
struct Distinct {
    command: String,
    places: Vec<Place>,
}

impl Distinct {
    fn first_printed(&self) -> &Place {
        &self.places[0]
    }
}

/// The distinct commands in the order the lessons first print them, and every problem: the
/// markup, unknown placeholders, the languages disagreeing, a command no rule runs, an entry
/// of [`RUN_ELSEWHERE`] no lesson prints.
fn survey() -> (Vec<Distinct>, Vec<String>) {
    let mut problems = Vec::new();
    let printed = printed_commands(&mut problems);
    let mut distinct: Vec<Distinct> = Vec::new();
    let mut by_lesson: BTreeMap<u32, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for Printed { place, text } in printed {
        let command = match normalise(&text) {
            Ok(command) => command,
            Err(err) => {
                problems.push(format!("{place}: `{text}` {err}"));
                continue;
            }
        };
        by_lesson
            .entry(place.lesson)
            .or_default()
            .entry(place.lang.to_string())
            .or_default()
            .insert(command.clone());
        match distinct.iter_mut().find(|d| d.command == command) {
            Some(known) => known.places.push(place),
            None => distinct.push(Distinct {
                command,
                places: vec![place],
            }),
        }
    }
    for (lesson, languages) in &by_lesson {
        let empty = BTreeSet::new();
        let en = languages.get("en").unwrap_or(&empty);
        let ja = languages.get("ja").unwrap_or(&empty);
        if en != ja {
            problems.push(format!(
                "lesson {lesson}: the languages print different commands; only in en: {:?}; only in ja: {:?}",
                en.difference(ja).collect::<Vec<_>>(),
                ja.difference(en).collect::<Vec<_>>()
            ));
        }
    }
    for command in &distinct {
        if let Err(err) = classify(&command.command) {
            let places: Vec<String> = command.places.iter().map(Place::to_string).collect();
            problems.push(format!(
                "{}: `{}`: {err}",
                places.join(", "),
                command.command
            ));
        }
    }
    for (listed, _) in RUN_ELSEWHERE {
        if !distinct.iter().any(|d| d.command == listed) {
            problems.push(format!(
                "RUN_ELSEWHERE lists `{listed}`, which no lesson prints any more: remove it"
            ));
        }
    }
    (distinct, problems)
}

/// [`survey`]'s commands, failing the test on any problem.
fn lesson_commands() -> Vec<Distinct> {
    let (distinct, problems) = survey();
    assert!(
        problems.is_empty(),
        "the lessons' commands:\n{}",
        problems.join("\n")
    );
    assert!(!distinct.is_empty(), "no lesson prints a command");
    distinct
}

// ---------------------------------------------------------------------------------------
// Families

/// How a kind of command is run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    WorkshopStart,
    WorkshopCheck,
    Report,
    Up,
    Doctor,
    PythonService,
    PipInstall,
    SetupPython,
    RunElsewhere(&'static str),
}

/// A command split as a shell splits one without quotes: assignments, then the words.
#[derive(Debug)]
struct Words {
    env: Vec<(String, String)>,
    argv: Vec<String>,
}

impl Words {
    fn of(command: &str) -> Words {
        let mut words = command.split_whitespace().peekable();
        let mut env = Vec::new();
        while let Some(word) = words.next_if(|word| is_assignment(word)) {
            let (name, value) = word.split_once('=').unwrap();
            env.push((name.to_string(), value.to_string()));
        }
        Words {
            env,
            argv: words.map(str::to_string).collect(),
        }
    }

    /// With the lessons' fixed local addresses moved to the test's own: the example
    /// service's port to `service_port`, the default OTLP/HTTP address to `otlp_http`.
    fn on_test_addresses(mut self, service_port: u16, otlp_http: &str) -> Words {
        let relocate = |word: &str| -> String {
            if word == EXAMPLE_SERVICE_PORT {
                return service_port.to_string();
            }
            word.replace(
                &format!("127.0.0.1:{EXAMPLE_SERVICE_PORT}"),
                &format!("127.0.0.1:{service_port}"),
            )
            .replace(DEFAULT_OTLP_HTTP, otlp_http)
        };
        self.argv = self.argv.iter().map(|word| relocate(word)).collect();
        for (_, value) in &mut self.env {
            *value = relocate(value);
        }
        self
    }
}

fn classify(command: &str) -> Result<Family, String> {
    if let Some((_, why)) = RUN_ELSEWHERE.iter().find(|(listed, _)| *listed == command) {
        return Ok(Family::RunElsewhere(why));
    }
    if command.contains(['"', '\'']) {
        return Err("quoted words: this test splits a command on spaces only".to_string());
    }
    let words = Words::of(command);
    let argv: Vec<&str> = words.argv.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["tracedojo", "workshop", "start", _lesson] => Ok(Family::WorkshopStart),
        ["tracedojo", "workshop", "check", _lesson, ..] => Ok(Family::WorkshopCheck),
        ["tracedojo", "report", ..] => Ok(Family::Report),
        ["tracedojo", "up", ..] => Ok(Family::Up),
        ["tracedojo", "doctor", ..] => Ok(Family::Doctor),
        [PRINTED_PYTHON, script, EXAMPLE_SERVICE_PORT]
            if script.starts_with("workshop/examples/") =>
        {
            Ok(Family::PythonService)
        }
        ["pip", "install", "-r", _requirements] => Ok(Family::PipInstall),
        [SETUP_SCRIPT] => Ok(Family::SetupPython),
        _ => Err(format!(
            "no rule runs this kind of command: add one to tests/integration/lesson_commands.rs, or list it in RUN_ELSEWHERE with where it runs (rules: tracedojo workshop start|check N, tracedojo report, tracedojo up, tracedojo doctor, {PRINTED_PYTHON} workshop/examples/SCRIPT {EXAMPLE_SERVICE_PORT}, pip install -r FILE, {SETUP_SCRIPT})"
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Running

/// Clears the test shell's settings that would change where telemetry goes, which shop the
/// workshop talks to, or through which proxy: only what the lesson prints (and the stand-in
/// backend) applies.
fn without_inherited_settings(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let upper = name.to_string_lossy().to_ascii_uppercase();
        if upper.starts_with("OTEL_")
            || upper.starts_with("TRACEDOJO_")
            || upper.contains("OTLP")
            || upper.ends_with("_PROXY")
            || upper == "RUST_LOG"
        {
            command.env_remove(&name);
        }
    }
    command
}

/// Runs `command` to its end and returns what it printed; ends it and fails the test if it
/// has not ended within [`HANG_GUARD`].
fn finish(mut command: Command, what: &str) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(HANG_GUARD) {
        Ok(output) => output.unwrap_or_else(|err| panic!("waiting for {what}: {err}")),
        Err(_) => {
            // SAFETY: signalling the child this test spawned; the waiting thread reaps it.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            panic!("{what} did not end within {HANG_GUARD:?}");
        }
    }
}

fn printed_output(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The child's exit status once it has exited, or `None` after `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

fn send_signal(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling a child process this test spawned and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// A long-running command this test started, its output in a file. Dropped before it has
/// exited (the test failed), it gets SIGTERM, so that `up` stops the services it started, and
/// SIGKILL only if that does not end it.
struct LongRunning {
    child: Child,
    dir: PathBuf,
}

impl LongRunning {
    fn start(mut command: Command, label: &str, what: &str) -> LongRunning {
        let dir = temp_dir(label);
        let log = File::create(dir.join("output.log")).unwrap();
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
        LongRunning { child, dir }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }
}

impl Drop for LongRunning {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            send_signal(&self.child, libc::SIGTERM);
            if exit_within(&mut self.child, STOP_WITHIN).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What became of a printed command.
#[derive(Debug)]
enum Outcome {
    Ran,
    RunElsewhere(&'static str),
    /// Only outside CI: what it needs is not installed here.
    Skipped(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ran => f.write_str("ran"),
            Outcome::RunElsewhere(why) => write!(f, "not run here: {why}"),
            Outcome::Skipped(why) => write!(f, "SKIPPED: {why}"),
        }
    }
}

/// The Python that has the example service's packages: TRACEDOJO_TEST_PYTHON (.ci/run sets
/// it), else outside CI the virtualenv the setup script makes; `None` outside CI when neither
/// is there.
fn test_python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRACEDOJO_TEST_PYTHON") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "TRACEDOJO_TEST_PYTHON={} does not exist; run {SETUP_SCRIPT}",
            path.display()
        );
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "TRACEDOJO_TEST_PYTHON is not set: .ci/run sets it after running {SETUP_SCRIPT}"
    );
    let path = repository().join(PRINTED_PYTHON);
    path.exists().then_some(path)
}

fn no_python() -> Outcome {
    let why = format!(
        "no Python with the example's packages: run {SETUP_SCRIPT}, or set TRACEDOJO_TEST_PYTHON"
    );
    eprintln!("SKIPPED: {why}");
    Outcome::Skipped(why)
}

/// What the commands run against: a shop for the workshop's commands, an OTLP receiver
/// standing in for the participant's backend, and the Python, if any.
struct Rig {
    /// Where the participant "started `tracedojo up`": the shop keeps its data in
    /// `tracedojo-data` here.
    participant_dir: PathBuf,
    receiver_http: String,
    python: Option<PathBuf>,
}

impl Rig {
    /// The participant's terminal in lesson 12: the backend's settings, the standard
    /// variables and the collector preset's own, pointing at the receiver.
    fn backend_settings(&self) -> [(&str, &str); 3] {
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &self.receiver_http),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("COLLECTOR_OTLP_ENDPOINT", &self.receiver_http),
        ]
    }

    fn run(&self, family: Family, distinct: &Distinct) -> Outcome {
        match family {
            Family::WorkshopStart | Family::WorkshopCheck | Family::Report => {
                self.workshop(family, distinct)
            }
            Family::Up => self.up(distinct),
            Family::Doctor => self.doctor(distinct),
            Family::PythonService => self.python_service(distinct),
            Family::PipInstall => self.pip_install(distinct),
            Family::SetupPython => self.setup_python(distinct),
            Family::RunElsewhere(why) => Outcome::RunElsewhere(why),
        }
    }

    /// As printed, where the shop was started: it finds the shop through the data directory
    /// `up` wrote, in the language of the lesson that first prints it (`workshop` and
    /// `report` commands).
    fn workshop(&self, family: Family, distinct: &Distinct) -> Outcome {
        let words = Words::of(&distinct.command);
        let mut command = Command::new(BIN);
        without_inherited_settings(&mut command)
            .args(&words.argv[1..])
            .envs(words.env.clone())
            .env("TRACEDOJO_LANG", distinct.first_printed().lang.to_string())
            .current_dir(&self.participant_dir);
        let output = finish(command, &distinct.command);
        let said = printed_output(&output);
        let place = distinct.first_printed();
        assert!(
            !said.contains("panicked"),
            "{place}: `{}` panicked: {said}",
            distinct.command
        );
        let code = output.status.code();
        // A check may say "not yet" (1): nobody answered or changed anything here. 2 means
        // the command could not run at all.
        let fine: &[i32] = match family {
            Family::WorkshopCheck => &[0, 1],
            _ => &[0],
        };
        assert!(
            code.is_some_and(|code| fine.contains(&code)),
            "{place}: `{}` exited with {code:?}, not one of {fine:?}: {said}",
            distinct.command
        );
        Outcome::Ran
    }

    /// As printed plus free ports and a data directory of its own, until it is ready; then
    /// Ctrl-C, as the lessons say, and it must stop cleanly.
    fn up(&self, distinct: &Distinct) -> Outcome {
        let place = distinct.first_printed();
        let service_port = free_port();
        let words =
            Words::of(&distinct.command).on_test_addresses(service_port, &self.receiver_http);
        let data_dir = temp_dir("lesson-up-data");
        let mut command = Command::new(BIN);
        without_inherited_settings(&mut command)
            .args(&words.argv[1..])
            .args(["--base-port", "0", "--data-dir"])
            .arg(&data_dir)
            // Only the preset's own variable: an `up` without --to runs as in a terminal
            // where no backend is set.
            .env("COLLECTOR_OTLP_ENDPOINT", &self.receiver_http)
            .envs(words.env.clone())
            .current_dir(&data_dir);
        let mut up = LongRunning::start(command, "lesson-up", &distinct.command);

        let running_file = data_dir.join("running.json");
        let deadline = Instant::now() + READY_WITHIN;
        let running: serde_json::Value = loop {
            // Written whole once the summary is out; read again if caught half written.
            let written = std::fs::read_to_string(&running_file)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok());
            if let Some(running) = written {
                break running;
            }
            if let Some(status) = up.child.try_wait().unwrap() {
                panic!(
                    "{place}: `{}` exited ({status}) before it was ready:\n{}",
                    distinct.command,
                    up.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{place}: `{}` was not ready within {READY_WITHIN:?}:\n{}",
                distinct.command,
                up.output()
            );
            std::thread::sleep(POLL);
        };
        if let Some(at) = words.argv.iter().position(|w| w == "--participant") {
            assert_eq!(
                running["participant"].as_str(),
                words.argv.get(at + 1).map(String::as_str),
                "{place}: `{}`: {running}",
                distinct.command
            );
        }

        send_signal(&up.child, libc::SIGINT);
        let status = exit_within(&mut up.child, STOP_WITHIN);
        assert!(
            status.is_some_and(|status| status.success()),
            "{place}: `{}` did not stop cleanly on Ctrl-C ({status:?}):\n{}",
            distinct.command,
            up.output()
        );
        assert!(
            !running_file.exists(),
            "{place}: `{}` left {} behind:\n{}",
            distinct.command,
            running_file.display(),
            up.output()
        );
        let _ = std::fs::remove_dir_all(&data_dir);
        Outcome::Ran
    }

    /// Against the receiver, which takes every signal: the doctor must say so (exit 0).
    fn doctor(&self, distinct: &Distinct) -> Outcome {
        let words = Words::of(&distinct.command);
        let mut command = Command::new(BIN);
        without_inherited_settings(&mut command)
            .args(&words.argv[1..])
            .envs(self.backend_settings())
            .envs(words.env.clone());
        let output = finish(command, &distinct.command);
        assert!(
            output.status.success(),
            "{}: `{}` did not deliver every signal to the receiver: {}",
            distinct.first_printed(),
            distinct.command,
            printed_output(&output)
        );
        Outcome::Ran
    }

    /// The example service with the test's Python, in the repository (the paths are the
    /// repository's), on a free port and sending to the receiver, until it listens.
    fn python_service(&self, distinct: &Distinct) -> Outcome {
        let Some(python) = &self.python else {
            return no_python();
        };
        let place = distinct.first_printed();
        // Held until just before the start, so nothing else takes it meanwhile.
        let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = reserved.local_addr().unwrap().port();
        let words = Words::of(&distinct.command).on_test_addresses(port, &self.receiver_http);
        let mut command = Command::new(python);
        without_inherited_settings(&mut command)
            .args(&words.argv[1..])
            .envs(words.env.clone())
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(repository());
        drop(reserved);
        let mut service = LongRunning::start(command, "lesson-python", &distinct.command);
        let deadline = Instant::now() + READY_WITHIN;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = service.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "{place}: `{}` did not listen on {port} ({exited:?}):\n{}",
                distinct.command,
                service.output()
            );
            std::thread::sleep(POLL);
        }
        send_signal(&service.child, libc::SIGTERM);
        let _ = exit_within(&mut service.child, STOP_WITHIN);
        assert!(
            !service.output().contains("Traceback"),
            "{place}: `{}` failed:\n{}",
            distinct.command,
            service.output()
        );
        Outcome::Ran
    }

    /// With the test Python's own pip, offline: everything is installed already, so the
    /// printed command has nothing to do, and a package missing fails here instead of being
    /// downloaded.
    fn pip_install(&self, distinct: &Distinct) -> Outcome {
        let Some(python) = &self.python else {
            return no_python();
        };
        let words = Words::of(&distinct.command);
        let mut command = Command::new(python);
        without_inherited_settings(&mut command)
            .args(["-m", "pip", "install", "--no-index"])
            .args(&words.argv[2..])
            .envs(words.env.clone())
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .current_dir(repository());
        let output = finish(command, &distinct.command);
        assert!(
            output.status.success(),
            "{}: `{}`: {}",
            distinct.first_printed(),
            distinct.command,
            printed_output(&output)
        );
        Outcome::Ran
    }

    /// Not run again (it would rebuild the virtualenv other tests are running, and may call
    /// apt-get): .ci/run runs it before the tests. It counts as run when the virtualenv it
    /// makes is there and passes the script's own last check, the import of what the example
    /// needs.
    fn setup_python(&self, distinct: &Distinct) -> Outcome {
        let python = repository().join(PRINTED_PYTHON);
        if !python.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{}: `{}`: .ci/run runs it before the tests, yet {} is missing",
                distinct.first_printed(),
                distinct.command,
                python.display()
            );
            return no_python();
        }
        let script = std::fs::read_to_string(repository().join(SETUP_SCRIPT)).unwrap();
        let import_check = script
            .lines()
            .filter_map(|line| line.split_once(" -c '"))
            .filter_map(|(_, rest)| rest.split_once('\'').map(|(code, _)| code.to_string()))
            .next_back()
            .unwrap_or_else(|| {
                panic!("{SETUP_SCRIPT} no longer ends with `python -c '...'`, the check this test repeats")
            });
        let mut command = Command::new(&python);
        without_inherited_settings(&mut command).args(["-c", &import_check]);
        let output = finish(command, &import_check);
        assert!(
            output.status.success(),
            "{}: `{}` has not made a working virtualenv: {}",
            distinct.first_printed(),
            distinct.command,
            printed_output(&output)
        );
        Outcome::Ran
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------
// Tests

#[test]
fn the_markup_rule_takes_backticks_and_indented_lines_and_refuses_a_bare_command() {
    let subcommands: BTreeSet<String> = ["up", "workshop"].map(str::to_string).into();
    let text = "Stop `tracedojo up` (Ctrl-C), then `up` again, from the tracedojo repository:\n\
                \x20 A=1 B_2=x tracedojo up --participant YOUR_NAME\n\
                and in another terminal:\n\
                \x20    X=1 \\\n\
                \x20    target/workshop-python/bin/python workshop/examples/app.py 9000\n\
                \x20 Its table says so.\n\
                Then run tracedojo workshop check 1 (after cargo build, or\n\
                workshop/examples/setup.sh); workshop/examples/app.py is the code.";
    let mut marked = read_prose(text, &subcommands).unwrap();
    marked.commands.sort();
    assert_eq!(
        marked,
        Marked {
            commands: vec![
                "A=1 B_2=x tracedojo up --participant YOUR_NAME".to_string(),
                "X=1 target/workshop-python/bin/python workshop/examples/app.py 9000".to_string(),
                "tracedojo up".to_string(),
            ],
            unmarked: vec![
                "tracedojo workshop".to_string(),
                "cargo build".to_string(),
                "workshop/examples/setup.sh".to_string(),
            ],
        }
    );
    assert!(read_prose("run `tracedojo up", &subcommands).is_err());

    assert_eq!(
        normalise("tracedojo  up --to ベンダー名 --participant 名前").unwrap(),
        format!("tracedojo up --to {VENDOR} --participant {PARTICIPANT}")
    );
    assert_eq!(
        normalise("OTEL_RESOURCE_ATTRIBUTES=service.namespace=YOUR_NAME x").unwrap(),
        format!("OTEL_RESOURCE_ATTRIBUTES=service.namespace={PARTICIPANT} x")
    );
    assert!(normalise("tracedojo up --participant あなたの名前").is_err());

    assert_eq!(
        classify("tracedojo workshop check 10"),
        Ok(Family::WorkshopCheck)
    );
    assert_eq!(classify("A=1 tracedojo up --participant x"), Ok(Family::Up));
    assert_eq!(classify("tracedojo report --lang ja"), Ok(Family::Report));
    assert!(classify("tracedojo explore").is_err());
    assert!(classify("cargo build").is_err());
}

#[test]
fn both_languages_print_the_same_marked_up_commands_each_with_a_way_to_run() {
    let (distinct, problems) = survey();
    assert!(
        problems.is_empty(),
        "the lessons' commands:\n{}",
        problems.join("\n")
    );
    for command in &distinct {
        let places: Vec<String> = command.places.iter().map(Place::to_string).collect();
        println!("{:<100} {}", command.command, places.join("; "));
    }
}

#[test]
fn every_command_a_lesson_prints_runs() {
    let commands = lesson_commands();
    let families: Vec<Family> = commands
        .iter()
        .map(|command| classify(&command.command).unwrap())
        .collect();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime
        .block_on(tracedojo_explorer::Receiver::start_local())
        .unwrap();
    let participant_dir = temp_dir("lesson-commands");
    let rig = Rig {
        participant_dir: participant_dir.clone(),
        receiver_http: receiver.http_endpoint(),
        python: test_python(),
    };
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();

    // The workshop's commands first, against one shop; the rest after it has stopped, so
    // that each `up` a lesson prints is the only shop running.
    {
        let _shop = Shop::start_in(
            participant_dir.join("tracedojo-data"),
            &["--participant", PARTICIPANT, "--no-load"],
            &[],
        );
        for (command, family) in commands.iter().zip(&families) {
            if matches!(
                family,
                Family::WorkshopStart | Family::WorkshopCheck | Family::Report
            ) {
                outcomes.insert(command.command.clone(), rig.run(*family, command));
            }
        }
    }
    for (command, family) in commands.iter().zip(&families) {
        if !outcomes.contains_key(&command.command) {
            outcomes.insert(command.command.clone(), rig.run(*family, command));
        }
    }
    let _ = std::fs::remove_dir_all(&participant_dir);
    drop(receiver);

    // Every command was run, or is listed as run elsewhere, or (outside CI only) skipped for
    // want of Python: a command of no known family failed the survey above.
    for command in &commands {
        let outcome = &outcomes[&command.command];
        println!("{}\n    {outcome}", command.command);
    }
    assert_eq!(outcomes.len(), commands.len());
    let skipped: Vec<String> = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Outcome::Skipped(_)))
        .map(|(command, outcome)| format!("`{command}`: {outcome}"))
        .collect();
    assert!(
        skipped.is_empty() || std::env::var_os("CI").is_none(),
        "under CI every command must run: {skipped:?}"
    );
}
