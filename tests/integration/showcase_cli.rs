//! `tracedojo showcase` as a presenter types it, with the real binary: `list` in Japanese and
//! English, `validate` on a good scenario file (exit 0), on files that are not (exit 2 and
//! one line naming the file, the line and the field), and on a load beyond this machine (a
//! warning, still valid).

use std::path::Path;

use crate::support::{run_to_end, temp_dir};

/// A valid scenario of two acts; `{rate}` is the second act's load.
const SCENARIO: &str = r#"name = "booth-demo"

[en]
title = "A booth demo"

[ja]
title = "ブースのデモ"

[[act]]
name = "normal"
seconds = 60
clear = true
load = { profile = "constant", rate = 5, mix = { browse = 1, purchase = 1 } }
look = { service = "frontend", operation = "POST /api/checkout" }
en = { caption = "All is well", talk = "Nothing to see yet." }
ja = { caption = "正常です", talk = "まだ問題はありません。" }

[[act]]
name = "incident"
seconds = 65
faults = [{ preset = "slow-payment-gateway" }]
load = { profile = "constant", rate = {rate} }
look = { service = "payment", operation = "POST /payments" }
en = { caption = "Payments slow down", talk = "Look at the tail." }
ja = { caption = "決済が遅くなりました", talk = "テールを見てください。" }
"#;

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn showcase(args: &[&str]) -> Ran {
    let mut all = vec!["showcase"];
    all.extend_from_slice(args);
    let output = run_to_end(&all, &[]);
    let ran = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    };
    assert!(!ran.stderr.contains("panicked"), "{args:?}: {}", ran.stderr);
    ran
}

/// The line (from 1) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..at].matches('\n').count() + 1
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().to_string()
}

#[test]
fn list_names_every_built_in_scenario_in_both_languages() {
    let en = showcase(&["list", "--lang", "en"]);
    assert_eq!(en.code, Some(0), "{}", en.stderr);
    for name in [
        "slow-payment",
        "tier-region-errors",
        "database",
        "retry-storm",
        "shipping-backlog",
    ] {
        assert!(en.stdout.contains(name), "{name}: {}", en.stdout);
    }
    assert!(
        en.stdout.contains("The slow payment gateway"),
        "{}",
        en.stdout
    );
    assert!(en.stdout.contains(" min"), "{}", en.stdout);
    let ja = showcase(&["list", "--lang", "ja"]);
    assert_eq!(ja.code, Some(0), "{}", ja.stderr);
    assert!(ja.stdout.contains("遅い決済ゲートウェイ"), "{}", ja.stdout);
    assert!(ja.stdout.contains(" 分"), "{}", ja.stdout);
    assert!(
        !ja.stdout.contains("The slow payment gateway"),
        "{}",
        ja.stdout
    );
}

#[test]
fn validate_says_valid_or_names_the_file_the_line_and_the_field() {
    let dir = temp_dir("showcase-validate");
    let good = write(&dir, "good.toml", &SCENARIO.replace("{rate}", "8"));
    let ran = showcase(&["validate", &good, "--lang", "en"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("valid: booth-demo")
            && ran.stdout.contains("2 acts, a loop of 2 min 5 s"),
        "{}",
        ran.stdout
    );
    assert_eq!(ran.stderr, "", "no warning");
    let ja = showcase(&["validate", &good, "--lang", "ja"]);
    assert_eq!(ja.code, Some(0), "{}", ja.stderr);
    assert!(
        ja.stdout.contains("有効です") && ja.stdout.contains("2 分 5 秒"),
        "{}",
        ja.stdout
    );

    let invalid = |name: &str, text: &str, at: &str, field: &str, says: &str| {
        let line = line_of(text, at);
        let path = write(&dir, name, text);
        let ran = showcase(&["validate", &path, "--lang", "en"]);
        assert_eq!(ran.code, Some(2), "{name}: {}", ran.stdout);
        let stderr = ran.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        let expected = format!("error: {path} line {line}: {field}: ");
        assert!(stderr.starts_with(&expected), "{expected} ...: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    };
    let good_text = SCENARIO.replace("{rate}", "8");
    invalid(
        "zero.toml",
        &good_text.replace("seconds = 65", "seconds = 0"),
        "seconds = 0",
        "act[2].seconds",
        "zero length",
    );
    invalid(
        "preset.toml",
        &good_text.replace("slow-payment-gateway", "slow-payment"),
        "faults =",
        "act[2].faults[1]",
        "no preset \"slow-payment\"",
    );
    invalid(
        "malformed.toml",
        &good_text.replace("name = \"incident\"", "name = \"incident"),
        "name = \"incident",
        "act[2].name",
        "",
    );
    invalid(
        "service.toml",
        &good_text.replace("service = \"payment\"", "service = \"payments\""),
        "payments",
        "act[2].look.service",
        "not a service of the shop",
    );
    invalid(
        "rate.toml",
        &SCENARIO.replace("{rate}", "2000000"),
        "rate = 2000000",
        "act[2].load.rate",
        "out of range",
    );

    // Accepted by the load generator, beyond any booth machine: valid, with a warning.
    let busy_text = SCENARIO.replace("{rate}", "900000");
    let busy = write(&dir, "busy.toml", &busy_text);
    let ran = showcase(&["validate", &busy, "--lang", "en"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let warning = ran.stderr.trim();
    assert!(
        warning.starts_with(&format!("warning: {busy} line {}: act[2].load.rate: 900000 journeys a second is more than this machine", line_of(&busy_text, "rate = 900000"))),
        "{warning}"
    );

    let missing = dir.join("nowhere.toml").to_string_lossy().to_string();
    let ran = showcase(&["validate", &missing, "--lang", "en"]);
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .starts_with(&format!("error: cannot read {missing}")),
        "{}",
        ran.stderr
    );
    let ran = showcase(&["list", "--lang", "fr"]);
    assert_eq!(ran.code, Some(2));
    assert!(ran.stderr.contains("choose ja or en"), "{}", ran.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Playing refuses what it cannot play before it starts anything: one line, exit 2, no shop
/// left running.
#[test]
fn playing_refuses_bad_input_before_starting_anything() {
    let dir = temp_dir("showcase-play-input");
    let data = dir.join("data").to_string_lossy().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![],
            "name a scenario to play, e.g. `tracedojo showcase slow-payment`; built in: database, retry-storm, shipping-backlog, slow-payment, tier-region-errors",
        ),
        (vec!["no-such-scenario".into()], "no-such-scenario"),
        (
            vec![write(
                &dir,
                "zero.toml",
                &SCENARIO
                    .replace("seconds = 65", "seconds = 0")
                    .replace("{rate}", "5"),
            )],
            "act[2].seconds",
        ),
        (
            vec![write(
                &dir,
                "preset.toml",
                &SCENARIO
                    .replace("slow-payment-gateway", "slow-payment-gatewya")
                    .replace("{rate}", "5"),
            )],
            "slow-payment-gatewya",
        ),
        (
            vec!["slow-payment".into(), "--speed".into(), "0".into()],
            "--speed 0 is out of range: give a factor from 0.1 to 100",
        ),
        (
            vec!["slow-payment".into(), "--speed".into(), "500".into()],
            "--speed 500 is out of range",
        ),
        (
            vec![
                "slow-payment".into(),
                "--kiosk-listen".into(),
                "0.0.0.0:0".into(),
            ],
            "the kiosk would listen on 0.0.0.0:0, which other machines reach; give it a token",
        ),
        (
            vec![
                "slow-payment".into(),
                "--kiosk-listen".into(),
                "0.0.0.0:0".into(),
                "--kiosk-token".into(),
                "short".into(),
            ],
            "the kiosk's token must be at least 16 characters",
        ),
        (
            vec!["slow-payment".into(), "--attach".into()],
            "--attach found no running shop in",
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--lang", "en", "--data-dir", &data]);
        if !args.iter().any(|a| a == "--kiosk-listen") {
            all.extend(["--kiosk-listen", "127.0.0.1:0"]);
        }
        let ran = showcase(&all);
        assert_eq!(ran.code, Some(2), "{args:?}: {}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stderr.contains(expected),
            "{args:?}: wanted {expected:?} in\n{}",
            ran.stderr
        );
        assert!(
            !ran.stdout.contains("tracedojo is running"),
            "{args:?} started the shop: {}",
            ran.stdout
        );
        assert_eq!(
            ran.stderr.trim().lines().count(),
            1,
            "{args:?}: one line, not {}",
            ran.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--fresh` empties the shop's databases, and only those, unless a shop still runs from the
/// data directory.
#[test]
fn fresh_empties_the_shops_databases_only_when_no_shop_runs_from_them() {
    let dir = temp_dir("showcase-fresh");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for file in ["checkout.db", "checkout.db-wal", "queue.db", "notes.txt"] {
        std::fs::write(data.join(file), b"x").unwrap();
    }
    let data_arg = data.to_string_lossy().to_string();
    // This test's own process stands in for a running `up`.
    std::fs::write(
        data.join("running.json"),
        format!("{{\"pid\": {}}}", std::process::id()),
    )
    .unwrap();
    let args = [
        "slow-payment",
        "--fresh",
        "--data-dir",
        &data_arg,
        "--kiosk-listen",
        "127.0.0.1:0",
        "--lang",
        "en",
        // A name `up` refuses: the run stops right after --fresh did its work.
        "--participant",
        "not a name",
    ];
    let refused = showcase(&args);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "--fresh: a shop (pid {}) is running from",
            std::process::id()
        )),
        "{}",
        refused.stderr
    );
    assert!(data.join("checkout.db").exists(), "refused, yet emptied");

    std::fs::remove_file(data.join("running.json")).unwrap();
    let ran = showcase(&args);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("participant"), "{}", ran.stderr);
    for gone in ["checkout.db", "checkout.db-wal", "queue.db"] {
        assert!(!data.join(gone).exists(), "{gone} is still there");
    }
    assert!(
        data.join("notes.txt").exists(),
        "--fresh removed a file not the shop's"
    );
    let attach = showcase(&["slow-payment", "--fresh", "--attach", "--lang", "en"]);
    assert_eq!(attach.code, Some(2));
    assert!(
        attach.stderr.contains("cannot be used with"),
        "{}",
        attach.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}
