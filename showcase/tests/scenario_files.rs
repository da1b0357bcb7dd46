//! Scenario files as the showcase reads them: every built-in one validates and loops in 3 to
//! 6 minutes, and every kind of mistake is refused with one error naming the file, the line
//! and the field (a load beyond the machine is a warning, naming them too).

use tracedojo_showcase::validate::{self, JOURNEYS_PER_CORE};
use tracedojo_showcase::{ScenarioError, catalogue, find, scenario};

/// A small valid scenario: two acts. Each error case changes one thing in it.
const GOOD: &str = r#"name = "demo"

[en]
title = "A demo"

[ja]
title = "デモ"

[[act]]
name = "normal"
seconds = 30
clear = true
load = { profile = "constant", rate = 5, mix = { browse = 1, purchase = 1 } }
look = { service = "frontend" }

[act.en]
caption = "All is well"
talk = "Nothing to see."

[act.ja]
caption = "正常です"
talk = "特に問題はありません。"

[[act]]
name = "incident"
seconds = 40
faults = [{ preset = "slow-payment-gateway" }]
load = { profile = "spike", rate = 10 }
look = { service = "payment", operation = "POST /payments", attribute = "tracedojo.user.tier=gold", query = "min_duration=1s&errors=true" }

[act.en]
caption = "Payments slow down"
talk = "Look at the tail."

[act.ja]
caption = "決済が遅くなりました"
talk = "テールを見てください。"
"#;

/// `GOOD` with `from` replaced by `to` (which must be there).
fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} is not in the good file");
    GOOD.replacen(from, to, 1)
}

/// The line (from 1) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..at].matches('\n').count() + 1
}

/// The line (from 1) of the last occurrence of `needle` in `text`.
fn last_line_of(text: &str, needle: &str) -> usize {
    let at = text
        .rfind(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..at].matches('\n').count() + 1
}

/// Parses `text` as `bad.toml`, expects an error at `line` on `field` whose message holds
/// `says`, and returns the error's one line.
fn refused(text: &str, line: usize, field: &str, says: &str) -> String {
    let err = scenario::parse("bad.toml", text).expect_err("the file should be refused");
    let shown = err.to_string();
    match &err {
        ScenarioError::Invalid {
            file,
            line: at,
            field: named,
            message,
        } => {
            assert_eq!(file, "bad.toml", "{shown}");
            assert_eq!(*at, line, "{shown}");
            assert_eq!(named, field, "{shown}");
            assert!(message.contains(says), "{shown}");
        }
        other => panic!("not an Invalid error: {other:?}"),
    }
    assert!(
        shown.starts_with(&format!("bad.toml line {line}: {field}: ")),
        "{shown}"
    );
    assert!(!shown.contains('\n'), "one line: {shown}");
    shown
}

#[test]
fn the_good_file_is_read_whole() {
    let scenario = scenario::parse("good.toml", GOOD).unwrap();
    assert_eq!(scenario.name(), "demo");
    assert_eq!(scenario.acts.len(), 2);
    assert_eq!(scenario.loop_seconds(), 70);
    assert_eq!(scenario.acts[1].faults.len(), 1);
    assert!(scenario.acts[0].clear && !scenario.acts[1].clear);
    assert_eq!(
        scenario.acts[1].texts(true).caption.get_ref(),
        "決済が遅くなりました"
    );
    assert!(validate::warnings(&scenario, GOOD, 1, 1.0).is_empty());
}

#[test]
fn every_built_in_scenario_validates_and_loops_in_three_to_six_minutes() {
    let scenarios = catalogue().unwrap_or_else(|err| panic!("{err}"));
    let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
    for wanted in [
        "slow-payment",
        "tier-region-errors",
        "database",
        "retry-storm",
        "shipping-backlog",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    for scenario in &scenarios {
        let seconds = scenario.loop_seconds();
        assert!(
            (180..=360).contains(&seconds),
            "{}: a loop of {seconds} s",
            scenario.file
        );
        assert!(scenario.acts.len() >= 5, "{}", scenario.file);
        // The story: it starts clean, an incident sets faults, and it ends with none.
        assert!(scenario.acts[0].faults.is_empty(), "{}", scenario.file);
        assert!(
            scenario.acts.iter().any(|act| !act.faults.is_empty()),
            "{}",
            scenario.file
        );
        let last_clear = scenario.acts.iter().rposition(|act| act.clear);
        let last_fault = scenario.acts.iter().rposition(|act| !act.faults.is_empty());
        assert!(
            last_clear > last_fault,
            "{}: ends with faults in force",
            scenario.file
        );
        // A booth laptop runs them without warnings.
        let (_, text) = tracedojo_showcase::SCENARIO_FILES
            .iter()
            .find(|(file, _)| *file == scenario.file)
            .unwrap();
        assert_eq!(
            validate::warnings(scenario, text, 2, 1.0),
            vec![],
            "{}",
            scenario.file
        );
        assert_eq!(find(scenario.name()).unwrap().file, scenario.file);
    }
}

#[test]
fn an_unknown_scenario_is_named_with_the_known_ones() {
    let err = find("meteor-strike").unwrap_err().to_string();
    assert!(err.contains("no scenario \"meteor-strike\""), "{err}");
    assert!(err.contains("slow-payment"), "{err}");
    let err = scenario::read(std::path::Path::new("no/such/scenario.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read no/such/scenario.toml"),
        "{err}"
    );
}

#[test]
fn malformed_toml_names_the_line_and_the_key() {
    let text = with("seconds = 40", "seconds = = 40");
    refused(
        &text,
        line_of(&text, "seconds = = 40"),
        "act[2].seconds",
        "",
    );
    let text = with("[act.en]\ncaption = \"All", "[act.en\ncaption = \"All");
    refused(
        &text,
        line_of(&text, "[act.en\n"),
        "act[1].en",
        "unclosed table",
    );
}

#[test]
fn a_missing_field_is_named() {
    let text = with("caption = \"決済が遅くなりました\"\n", "");
    // The table it is missing from.
    refused(
        &text,
        last_line_of(&text, "[act.ja]"),
        "act[2].ja.caption",
        "missing field",
    );
    let text = with("seconds = 30\n", "");
    refused(&text, 9, "act[1].seconds", "missing field");
}

#[test]
fn an_unknown_field_is_named() {
    let text = with("talk = \"Nothing to see.\"", "talks = \"Nothing to see.\"");
    refused(
        &text,
        line_of(&text, "talks ="),
        "act[1].en.talks",
        "unknown field",
    );
    let text = with("clear = true", "clear = true\nrepeat = 3");
    refused(
        &text,
        line_of(&text, "repeat"),
        "act[1].repeat",
        "unknown field",
    );
}

#[test]
fn acts_of_zero_length_or_too_long_are_refused() {
    let text = with("seconds = 40", "seconds = 0");
    refused(
        &text,
        line_of(&text, "seconds = 0"),
        "act[2].seconds",
        "zero length",
    );
    let text = with("seconds = 40", "seconds = 3600");
    refused(
        &text,
        line_of(&text, "seconds = 3600"),
        "act[2].seconds",
        "give 5 to 600 seconds",
    );
    let text = with("seconds = 40", "seconds = -4");
    refused(&text, line_of(&text, "seconds = -4"), "act[2].seconds", "");
}

#[test]
fn unknown_presets_and_bad_specs_are_refused_by_the_faults_crate() {
    let text = with("slow-payment-gateway", "slow-payment-gatewey");
    refused(
        &text,
        line_of(&text, "faults ="),
        "act[2].faults[1]",
        "no preset \"slow-payment-gatewey\"; the presets are",
    );
    let spec = r#"{ spec = '{"fault": {"kind": "latency", "service": "payment", "distribution": {"type": "fixed", "ms": 999999999}}}' }"#;
    let text = with(r#"{ preset = "slow-payment-gateway" }"#, spec);
    refused(
        &text,
        line_of(&text, "faults ="),
        "act[2].faults[1]",
        "fault.distribution",
    );
    let spec = r#"{ spec = '{"fault": {"kind": "meteor", "service": "payment"}}' }"#;
    let text = with(r#"{ preset = "slow-payment-gateway" }"#, spec);
    refused(
        &text,
        line_of(&text, "faults ="),
        "act[2].faults[1]",
        "meteor",
    );
    let both = r#"{ preset = "missing-index", spec = "{}" }"#;
    let text = with(r#"{ preset = "slow-payment-gateway" }"#, both);
    refused(
        &text,
        line_of(&text, "faults ="),
        "act[2].faults[1]",
        "not both",
    );
}

#[test]
fn the_look_must_name_a_service_of_the_shop() {
    let text = with("service = \"payment\"", "service = \"billing\"");
    refused(
        &text,
        line_of(&text, "billing"),
        "act[2].look.service",
        "\"billing\" is not a service of the shop",
    );
    let text = with("tracedojo.user.tier=gold", "gold");
    refused(
        &text,
        last_line_of(&text, "look ="),
        "act[2].look.attribute",
        "KEY=VALUE",
    );
    let text = with("min_duration=1s", "slowest=1s");
    refused(
        &text,
        line_of(&text, "slowest"),
        "act[2].look.query",
        "\"slowest\"",
    );
}

#[test]
fn both_languages_are_required_and_not_empty() {
    let text = with(
        "\n[act.ja]\ncaption = \"正常です\"\ntalk = \"特に問題はありません。\"\n",
        "",
    );
    refused(&text, 9, "act[1].ja", "missing field");
    let text = with("caption = \"Payments slow down\"", "caption = \"  \"");
    refused(
        &text,
        line_of(&text, "caption = \"  \""),
        "act[2].en.caption",
        "must not be empty",
    );
    let text = with("talk = \"テールを見てください。\"", "talk = \"\"");
    refused(
        &text,
        line_of(&text, "talk = \"\""),
        "act[2].ja.talk",
        "give 1 to",
    );
    let text = with("title = \"デモ\"", "title = \"\"");
    refused(
        &text,
        line_of(&text, "title = \"\""),
        "ja.title",
        "must not be empty",
    );
}

#[test]
fn load_is_checked_against_the_load_generators_limits() {
    // Beyond what the load generator accepts at all: an error, in its own words.
    let text = with("rate = 10", "rate = 5000000");
    refused(
        &text,
        line_of(&text, "rate = 5000000"),
        "act[2].load.rate",
        "out of range",
    );
    let text = with("rate = 10", "rate = 0");
    refused(
        &text,
        line_of(&text, "rate = 0"),
        "act[2].load.rate",
        "out of range",
    );
    let text = with("profile = \"spike\"", "profile = \"tsunami\"");
    refused(
        &text,
        line_of(&text, "tsunami"),
        "act[2].load.profile",
        "choose constant",
    );
    let text = with("browse = 1", "browze = 1");
    refused(
        &text,
        line_of(&text, "browze"),
        "act[1].load.mix",
        "unknown journey \"browze\"",
    );
    let text = with("profile = \"spike\", ", "duration_s = 60, ");
    refused(
        &text,
        line_of(&text, "duration_s"),
        "act[2].load.duration_s",
        "seconds",
    );
    let text = with("profile = \"spike\", rate = 10", "profile = \"spike\"");
    refused(
        &text,
        line_of(&text, "profile = \"spike\""),
        "act[2].load.rate",
        "missing",
    );
    // Accepted by the load generator, but more than this machine gives: a warning.
    let rate = JOURNEYS_PER_CORE * 2.0 + 1.0;
    let text = with("rate = 10", &format!("rate = {rate}"));
    let scenario = scenario::parse("busy.toml", &text).unwrap();
    let warnings = validate::warnings(&scenario, &text, 2, 1.0);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let shown = warnings[0].to_string();
    assert!(
        shown.starts_with(&format!(
            "busy.toml line {}: act[2].load.rate: 41 journeys a second is more than this machine (2 cores)",
            line_of(&text, "rate = 41")
        )),
        "{shown}"
    );
    assert!(validate::warnings(&scenario, &text, 4, 1.0).is_empty());
    // Played faster, an act's traffic is denser by the same factor.
    let good = scenario::parse("good.toml", GOOD).unwrap();
    let faster = validate::warnings(&good, GOOD, 2, 10.0);
    assert!(
        faster.iter().any(|w| w
            .to_string()
            .contains("at --speed 10, 100 journeys a second")),
        "{faster:?}"
    );
}

#[test]
fn a_scenario_needs_a_usable_name_and_acts() {
    let text = with("name = \"demo\"", "name = \"Demo Scenario\"");
    refused(&text, 1, "name", "lower-case words");
    let text = GOOD.split("[[act]]").next().unwrap().to_string();
    refused(&text, 1, "act", "missing field");
}

#[test]
fn the_readme_example_is_a_valid_scenario() {
    let readme = include_str!("../README.md");
    let example = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a TOML example");
    let scenario = scenario::parse("README.md", example).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(scenario.acts.len(), 2);
    assert!(scenario.acts[1].look.query.is_some());
}
