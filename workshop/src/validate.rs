//! What a lesson file must hold beyond its shape: both languages complete and alike, an
//! answer format where the check takes an answer, commands a participant can type, and a
//! stage whose faults are valid for every value they may take.

use std::collections::BTreeMap;

use crate::lesson::{Lesson, LessonError, Texts, line_of};
use crate::stage::{journey_mix, specs};
use crate::vary::placeholders;

/// Checks `lesson`, read from `text`; the error names the line and the field.
pub fn lesson(lesson: &Lesson, text: &str) -> Result<(), LessonError> {
    let fail = |table: &str, key: &str, message: String| LessonError {
        file: lesson.file.clone(),
        line: line_of(text, table, key)
            .or_else(|| line_of(text, &format!("{table}.{key}"), ""))
            .or_else(|| line_of(text, table, ""))
            // An inline table: `load = { ... }` inside `[stage]`.
            .or_else(|| {
                table
                    .rsplit_once('.')
                    .and_then(|(parent, last)| line_of(text, parent, last))
            }),
        message,
    };
    if !(1..=90).contains(&lesson.minutes) {
        return Err(fail(
            "",
            "minutes",
            format!("minutes is {}; give 1 to 90", lesson.minutes),
        ));
    }
    for (table, texts) in [("en", &lesson.en), ("ja", &lesson.ja)] {
        texts_complete(texts, lesson.check.takes_answer())
            .map_err(|(key, message)| fail(table, key, format!("{table}.{key}: {message}")))?;
    }
    let (en, ja) = (&lesson.en, &lesson.ja);
    if en.hints.len() != ja.hints.len() {
        return Err(fail(
            "ja",
            "hints",
            format!(
                "ja.hints has {} hints and en.hints {}: both languages give the same hints",
                ja.hints.len(),
                en.hints.len()
            ),
        ));
    }
    if en.run != ja.run {
        return Err(fail(
            "ja",
            "run",
            "ja.run and en.run differ: the commands are the same in both languages".to_string(),
        ));
    }
    stage(lesson).map_err(|(key, message)| fail(key.0, key.1, message))?;
    if matches!(lesson.check, crate::check::Check::SampledCount { .. })
        && lesson.stage.load.is_none()
    {
        return Err(fail(
            "check",
            "kind",
            "check.kind sampled-count counts the stage's purchases: give the stage a load"
                .to_string(),
        ));
    }
    for name in lesson.check.needs_vars() {
        if !lesson.stage.vary.contains_key(*name) {
            return Err(fail(
                "check",
                "kind",
                format!(
                    "check.kind needs stage.vary.{name}: the stage must say which {name} it varies"
                ),
            ));
        }
    }
    Ok(())
}

/// Every text present; the answer format given exactly when an answer is taken.
fn texts_complete(texts: &Texts, takes_answer: bool) -> Result<(), (&'static str, String)> {
    let required = [
        ("title", &texts.title),
        ("goal", &texts.goal),
        ("look", &texts.look),
        ("task", &texts.task),
        ("explanation", &texts.explanation),
    ];
    for (key, value) in required {
        if value.trim().is_empty() {
            return Err((key, "must not be empty".to_string()));
        }
    }
    if texts.hints.is_empty() || texts.hints.iter().any(|h| h.trim().is_empty()) {
        return Err((
            "hints",
            "give at least one hint, none of them empty".to_string(),
        ));
    }
    match (&texts.answer_format, takes_answer) {
        (None, true) => {
            return Err((
                "answer_format",
                "missing: this check takes an answer, so say how to write it".to_string(),
            ));
        }
        (Some(_), false) => {
            return Err((
                "answer_format",
                "this check takes no answer (it looks at what the participant did); remove it"
                    .to_string(),
            ));
        }
        _ => {}
    }
    if let Some(command) = texts.run.iter().find(|c| !c.starts_with("tracedojo ")) {
        return Err((
            "run",
            format!(
                "{command:?} does not start with `tracedojo `: lessons run only the kit's own commands"
            ),
        ));
    }
    Ok(())
}

type Where = (&'static str, &'static str);

/// The stage's faults valid for every variation, its traffic bounded.
fn stage(lesson: &Lesson) -> Result<(), (Where, String)> {
    let stage = &lesson.stage;
    for (name, values) in &stage.vary {
        if values.is_empty() {
            return Err((
                ("stage", "vary"),
                format!("stage.vary.{name} is empty: give one value or more"),
            ));
        }
    }
    for (index, fault) in stage.faults.iter().enumerate() {
        let unknown = fault.spec.as_deref().and_then(|template| {
            placeholders(template)
                .into_iter()
                .find(|n| !crate::vary::is_known(n, &stage.vary))
        });
        if let Some(name) = unknown {
            return Err((
                ("stage", "faults"),
                format!(
                    "stage.faults[{index}].spec uses ${{{name}}}, which stage.vary does not give"
                ),
            ));
        }
        // Every value of every name, one name at a time, the others at their first value.
        for vars in variations(&stage.vary) {
            specs(fault, &vars).map_err(|message| {
                (
                    ("stage", "faults"),
                    format!("stage.faults[{index}] with {vars:?}: {message}"),
                )
            })?;
        }
    }
    if let Some(load) = &stage.load {
        if !(1..=5000).contains(&load.journeys) {
            return Err((
                ("stage.load", "journeys"),
                format!("stage.load.journeys is {}; give 1 to 5000", load.journeys),
            ));
        }
        if !(0.1..=200.0).contains(&load.rate) {
            return Err((
                ("stage.load", "rate"),
                format!(
                    "stage.load.rate is {}; give 0.1 to 200 journeys a second",
                    load.rate
                ),
            ));
        }
        if load.think_max_ms > 5000 {
            return Err((
                ("stage.load", "think_max_ms"),
                format!(
                    "stage.load.think_max_ms is {}; give 0 to 5000",
                    load.think_max_ms
                ),
            ));
        }
        journey_mix(&load.mix)
            .map_err(|message| (("stage.load", "mix"), format!("stage.load.mix: {message}")))?;
    }
    Ok(())
}

/// The value sets to try: each name's every value, the other names at their first.
fn variations(
    vary: &BTreeMap<String, Vec<crate::lesson::VaryValue>>,
) -> Vec<BTreeMap<String, String>> {
    let first: BTreeMap<String, String> = vary
        .iter()
        .filter_map(|(name, values)| values.first().map(|v| (name.clone(), v.as_text())))
        .collect();
    let mut all = vec![crate::vary::with_parts(first.clone())];
    for (name, values) in vary {
        for value in values.iter().skip(1) {
            let mut vars = first.clone();
            vars.insert(name.clone(), value.as_text());
            all.push(crate::vary::with_parts(vars));
        }
    }
    all
}
