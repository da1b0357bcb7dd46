//! Lesson 10, "Instrument it yourself", as a participant takes it: on a copy of the sources,
//! the shop as shipped fails the check (no span of one's own, no new attribute) and the check
//! says where to look in both languages; a first try with the span on payment's whole handler
//! is told apart (it only repeats the request's span); then the span moved to
//! `gateway::authorise`, with an attribute at the spot marked in checkout's `place_order`, a
//! rebuild and a restart on the same data directory make it pass.
//!
//! The copy holds the binary's crate and the two crates a participant edits, and builds in the
//! main target directory: every other crate is the one the tests were built with, so only the
//! copy's three compile. Its package is renamed, so its binary (`tracedojo-copy`) does not take
//! the place of the one the other tests run.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Shop, buy_approved, run_binary_to_end, temp_dir};

const PARTICIPANT: &str = "ws-coder";
/// Long enough for spans to reach the explorer on a loaded machine; the check is retried until
/// then, as a participant would try again.
const WAIT: Duration = Duration::from_secs(60);
/// What is not source: build output, history, installed packages, and what the shop and the
/// tests write (the .gitignore's entries).
const NOT_SOURCES: [&str; 7] = [
    "target",
    ".git",
    "node_modules",
    "tracedojo-data",
    "data",
    "tests/artifacts",
    "bench/results",
];

/// The crates the participant edits.
const EDITED: [&str; 2] = ["services/payment", "services/checkout"];

/// The copy's manifest: the package renamed (its binary must not replace the one the other
/// tests run), the workspace narrowed to the edited crates, every other path absolute.
fn own_manifest(text: &str, repository: &Path) -> String {
    let mut out = Vec::new();
    let mut in_members = false;
    for line in text.lines() {
        if line.starts_with("members = [") {
            in_members = true;
            out.push(format!("members = [\"{}\", \"{}\"]", EDITED[0], EDITED[1]));
            continue;
        }
        if in_members {
            in_members = !line.starts_with(']');
            continue;
        }
        let line = match line.split_once("path = \"") {
            Some((before, after))
                if !EDITED.iter().any(|e| after.starts_with(&format!("{e}\""))) =>
            {
                format!("{before}path = \"{}/{after}", repository.display())
            }
            _ => line.to_string(),
        };
        out.push(line);
    }
    out.join("\n")
        .replacen("name = \"tracedojo\"", "name = \"tracedojo-copy\"", 1)
        .replacen(
            "default-run = \"tracedojo\"",
            "default-run = \"tracedojo-copy\"",
            1,
        )
        + "\n"
}

/// A copy of the workspace's sources, removed when dropped, whether the test passed or not.
struct SourceCopy {
    root: PathBuf,
}

impl SourceCopy {
    /// The binary's crate and the two crates the participant edits; every other crate is
    /// used from the repository by its path, so the build reuses what the tests were built
    /// with and compiles only these three.
    fn new() -> SourceCopy {
        let copy = SourceCopy {
            root: temp_dir("workshop-code"),
        };
        let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["Cargo.toml", "Cargo.lock"] {
            std::fs::copy(repository.join(file), copy.root.join(file)).unwrap();
        }
        for dir in ["src", EDITED[0], EDITED[1]] {
            copy_tree(&repository.join(dir), &copy.root.join(dir), dir);
        }
        copy.edit("Cargo.toml", |text| own_manifest(text, repository));
        copy
    }

    /// Edits `file` as a participant would: `edit` gets its text and returns the new one.
    fn edit(&self, file: &str, edit: impl FnOnce(&str) -> String) {
        let path = self.root.join(file);
        let before = std::fs::read_to_string(&path).unwrap();
        let after = edit(&before);
        assert_ne!(before, after, "the edit of {file} changed nothing");
        std::fs::write(&path, after).unwrap();
    }
}

impl Drop for SourceCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn copy_tree(from: &Path, to: &Path, relative: &str) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        let path = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        if NOT_SOURCES.contains(&path.as_str()) || name == "node_modules" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name), &path);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// The main target directory, where the copy builds too.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf()
}

/// `cargo build --bin tracedojo-copy` in the copy (debug profile, as the tests are built, so
/// the registry's crates are reused); returns how long it took.
fn build(copy: &SourceCopy) -> Duration {
    let started = Instant::now();
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--bin", "tracedojo-copy"])
        .current_dir(&copy.root)
        .env("CARGO_TARGET_DIR", target_dir())
        .status()
        .expect("run cargo");
    assert!(status.success(), "the copy did not build: {status}");
    started.elapsed()
}

/// The participant's workshop, run with the copy's binary and `up`'s data directory.
struct Participant {
    binary: PathBuf,
    data_dir: PathBuf,
}

/// What `check` printed and how it ended.
struct Checked {
    code: i32,
    stdout: String,
}

impl Participant {
    fn workshop(&self, args: &[&str], lang: &str) -> Checked {
        let data_dir = self.data_dir.to_string_lossy().to_string();
        let mut all = vec!["workshop"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--lang", lang, "--data-dir", &data_dir]);
        let output = run_binary_to_end(&self.binary, &all, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        let checked = Checked {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        };
        assert!(
            checked.code == 0 || checked.code == 1,
            "{args:?} could not run ({}): {}{stderr}",
            checked.code,
            checked.stdout
        );
        checked
    }

    /// Checks lesson 10 until the explorer holds the checkout just made (the check stops
    /// saying "not yet", `…`), then returns the verdict.
    fn check(&self, lang: &str) -> Checked {
        let deadline = Instant::now() + WAIT;
        loop {
            let checked = self.workshop(&["check", "10"], lang);
            if !checked.stdout.starts_with('…') || Instant::now() > deadline {
                in_language(&checked.stdout, lang);
                return checked;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Participant {
    /// Checks lesson 10 until `until` holds for the verdict (the checkout just made has
    /// reached the explorer; before, the check reads an earlier one) or `deadline` passes.
    fn check_until(
        &self,
        lang: &str,
        deadline: Instant,
        until: impl Fn(&Checked) -> bool,
    ) -> Checked {
        loop {
            let checked = self.check(lang);
            if until(&checked) || Instant::now() > deadline {
                return checked;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn in_language(text: &str, lang: &str) {
    let japanese = text.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c));
    assert_eq!(japanese, lang == "ja", "not in {lang}: {text}");
}

async fn buy(shop: &Shop, session: &str) {
    let (status, body) = buy_approved(shop, session, "tracedojo.user.tier=silver").await;
    assert!((200..300).contains(&status), "checkout: {status} {body}");
}

/// Puts a span on `gateway::authorise`, as the lesson's task asks.
fn add_span(source: &str) -> String {
    source.replacen(
        "pub async fn authorise(",
        "#[tracing::instrument(name = \"authorise card\", skip_all)]\npub async fn authorise(",
        1,
    )
}

/// The span a participant might try first: on payment's whole handler, where it only repeats
/// the SERVER span.
const HANDLER_SPAN: &str = "#[tracing::instrument(name = \"payment handler\", skip_all)]\n";

fn span_on_the_handler(source: &str) -> String {
    source.replacen(
        "async fn create_payment(",
        &format!("{HANDLER_SPAN}async fn create_payment("),
        1,
    )
}

fn no_span_on_the_handler(source: &str) -> String {
    source.replacen(HANDLER_SPAN, "", 1)
}

/// Adds an attribute at the spot the comment for lesson 10 marks in `place_order`.
fn add_attribute(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let marker = lines
        .iter()
        .position(|line| line.contains("workshop lesson 10"))
        .expect("place_order marks the spot for lesson 10");
    let spot = marker
        + lines[marker..]
            .iter()
            .position(|line| !line.trim_start().starts_with("//"))
            .unwrap();
    let mut edited: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
    edited.insert(
        spot,
        "    annotate(\"tracedojo.order.gift_wrapped\", false);".to_string(),
    );
    edited.join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lesson_10_fails_on_the_shop_as_shipped_and_passes_after_the_participants_edit() {
    let copy = SourceCopy::new();
    let first = build(&copy);
    println!("build of the copy: {:.1} s", first.as_secs_f64());
    let binary = target_dir().join("debug/tracedojo-copy");
    let args = ["--participant", PARTICIPANT, "--no-load"];
    // The gateway's usual median, not the tests' quick one: the lesson is about that wait.
    let env = [("PAYMENT_MEDIAN_LATENCY_MS", "25")];

    let shop = Shop::start_binary(&binary, temp_dir("workshop-code-up"), &args, &env);
    let me = Participant {
        binary: binary.clone(),
        data_dir: shop.data_dir.clone(),
    };
    // A checkout from before the lesson: what checkout's span carried until now.
    buy(&shop, "c0de00000000aa01").await;
    let started = me.workshop(&["start", "10"], "en");
    assert_eq!(started.code, 0, "{}", started.stdout);

    // Unedited: both parts are missing, and the check says where to look, not what to write.
    buy(&shop, "c0de00000000aa02").await;
    for lang in ["ja", "en"] {
        let checked = me.check(lang);
        println!("check 10 --lang {lang}, unedited:\n{}", checked.stdout);
        assert_eq!(checked.code, 1, "{}", checked.stdout);
        assert!(checked.stdout.starts_with('✗'), "{}", checked.stdout);
        for pointer in [
            "services/payment/src/gateway.rs",
            "authorise",
            "services/checkout/src/place_order.rs",
        ] {
            assert!(
                checked.stdout.contains(pointer),
                "no pointer to {pointer}: {}",
                checked.stdout
            );
        }
        for code in ["instrument", "info_span", "annotate"] {
            assert!(
                !checked.stdout.contains(code),
                "the check gives the code away ({code}): {}",
                checked.stdout
            );
        }
    }

    // A first try: the attribute, and a span on the whole handler. The check tells the span
    // is in the wrong place (it holds the handler's own records), without giving the code.
    let data_dir = shop.stop_keeping_data();
    copy.edit("services/payment/src/routes.rs", span_on_the_handler);
    copy.edit("services/checkout/src/place_order.rs", add_attribute);
    let rebuild = build(&copy);
    println!(
        "rebuild after the participant's first two edits: {:.1} s",
        rebuild.as_secs_f64()
    );
    let shop = Shop::start_binary(&binary, data_dir, &args, &env);
    buy(&shop, "c0de00000000aa03").await;
    // Until this checkout reaches the explorer, the check still reads the unedited one.
    let deadline = Instant::now() + WAIT;
    for lang in ["ja", "en"] {
        let pointer = if lang == "ja" {
            "ハンドラー全体"
        } else {
            "whole handler"
        };
        let checked = me.check_until(lang, deadline, |c| c.stdout.contains(pointer));
        println!(
            "check 10 --lang {lang}, span on the handler:\n{}",
            checked.stdout
        );
        assert_eq!(checked.code, 1, "{}", checked.stdout);
        for said in [pointer, "payment handler", "authorise"] {
            assert!(checked.stdout.contains(said), "{said}: {}", checked.stdout);
        }
        // The attribute part is right already: no pointer to the registry.
        assert!(
            !checked.stdout.contains("semconv/"),
            "the attribute was not seen: {}",
            checked.stdout
        );
    }

    // The span moved to the authorisation, a rebuild, and `up` again on the same data
    // directory.
    let data_dir = shop.stop_keeping_data();
    copy.edit("services/payment/src/routes.rs", no_span_on_the_handler);
    copy.edit("services/payment/src/gateway.rs", add_span);
    let rebuild = build(&copy);
    println!(
        "rebuild after moving the span: {:.1} s",
        rebuild.as_secs_f64()
    );
    let shop = Shop::start_binary(&binary, data_dir, &args, &env);
    buy(&shop, "c0de00000000aa04").await;

    let deadline = Instant::now() + WAIT;
    for lang in ["ja", "en"] {
        let checked = me.check_until(lang, deadline, |c| c.code == 0);
        assert_eq!(
            checked.code, 0,
            "lesson 10 ({lang}) never passed after the edit: {}",
            checked.stdout
        );
        println!("check 10 --lang {lang}, edited:\n{}", checked.stdout);
        assert!(checked.stdout.starts_with('✓'), "{}", checked.stdout);
        for named in ["authorise card", "tracedojo.order.gift_wrapped"] {
            assert!(checked.stdout.contains(named), "{}", checked.stdout);
        }
        assert!(
            checked.stdout.lines().count() > 3,
            "no explanation: {}",
            checked.stdout
        );
    }
    drop(shop);
}
