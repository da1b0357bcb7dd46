//! A lesson file with a mistake is refused with the file, the line and the field named.

use tracedojo_workshop::lesson::parse;

/// A valid lesson to break one part of at a time.
const GOOD: &str = r#"minutes = 10

[en]
title = "T"
goal = "G"
run = ["tracedojo workshop start 9"]
look = "L"
task = "Q"
answer_format = "a number"
hints = ["h1", "h2"]
explanation = "E"

[ja]
title = "T"
goal = "G"
run = ["tracedojo workshop start 9"]
look = "L"
task = "Q"
answer_format = "数値"
hints = ["h1", "h2"]
explanation = "E"

[stage]
faults = [{ spec = '{"fault": {"kind": "latency", "service": "${service}", "distribution": {"type": "fixed", "ms": 100}}}' }]

[stage.vary]
service = ["payment", "inventory"]

[check]
kind = "slow-service"
tolerance = 0.2
"#;

fn error(text: &str) -> String {
    parse("09-example.toml", text).unwrap_err().to_string()
}

#[test]
fn the_good_example_parses() {
    let lesson = parse("09-example.toml", GOOD).unwrap();
    assert_eq!((lesson.number, lesson.slug.as_str()), (9, "example"));
}

#[test]
fn a_missing_field_names_the_file_its_table_and_the_field() {
    let err = error(&GOOD.replace("goal = \"G\"\nrun = [\"tracedojo workshop start 9\"]\nlook = \"L\"\ntask = \"Q\"\nanswer_format = \"数値\"", "run = [\"tracedojo workshop start 9\"]\nlook = \"L\"\ntask = \"Q\"\nanswer_format = \"数値\""));
    assert!(err.starts_with("09-example.toml, line 13"), "{err}");
    assert!(err.contains("missing field `goal`"), "{err}");
}

#[test]
fn an_unknown_field_and_an_unknown_check_are_named_with_their_line() {
    let err = error(&GOOD.replace("minutes = 10", "minutes = 10\nminutez = 3"));
    assert!(err.contains("line 2") && err.contains("minutez"), "{err}");
    let err = error(&GOOD.replace("kind = \"slow-service\"", "kind = \"guess\""));
    assert!(
        err.contains("line 3") && err.contains("guess") && err.contains("slow-service"),
        "{err}"
    );
}

#[test]
fn texts_must_be_complete_and_alike_in_both_languages() {
    let err = error(&GOOD.replace("answer_format = \"数値\"\n", ""));
    assert!(
        err.contains("line 13") && err.contains("ja.answer_format: missing"),
        "{err}"
    );
    let err = error(&GOOD.replacen("hints = [\"h1\", \"h2\"]", "hints = [\"h1\"]", 1));
    assert!(err.contains("ja.hints has 2 hints and en.hints 1"), "{err}");
    let err = error(&GOOD.replacen("title = \"T\"", "title = \" \"", 1));
    assert!(
        err.contains("line 4") && err.contains("en.title: must not be empty"),
        "{err}"
    );
    let err = error(&GOOD.replace(
        "run = [\"tracedojo workshop start 9\"]",
        "run = [\"curl http://x\"]",
    ));
    assert!(err.contains("does not start with `tracedojo `"), "{err}");
}

#[test]
fn a_stage_must_be_valid_for_every_value_it_varies() {
    let err = error(&GOOD.replace("\"inventory\"]", "\"warehouse\"]"));
    assert!(
        err.contains("stage.faults[0]") && err.contains("warehouse"),
        "{err}"
    );
    assert!(err.contains("line 24"), "{err}");
    let err = error(&GOOD.replace("${service}", "${servce}"));
    assert!(
        err.contains("${servce}") && err.contains("stage.vary does not give"),
        "{err}"
    );
    let err = error(
        &GOOD
            .replace("[stage.vary]\nservice = [\"payment\", \"inventory\"]\n", "")
            .replace("${service}", "payment"),
    );
    assert!(err.contains("needs stage.vary.service"), "{err}");
    let err = error(&GOOD.replace("[stage]\n", "[stage]\nload = { journeys = 0, rate = 5 }\n"));
    assert!(
        err.contains("line 24") && err.contains("stage.load.journeys is 0"),
        "{err}"
    );
}

#[test]
fn a_file_name_must_give_the_number() {
    let err = parse("example.toml", GOOD).unwrap_err().to_string();
    assert!(err.contains("NN-slug.toml"), "{err}");
}
