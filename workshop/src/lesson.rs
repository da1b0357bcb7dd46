//! A lesson as its file describes it: the texts in Japanese and English, the stage `start`
//! sets, and the check `check` runs. A file is read and validated whole; an error names the
//! file, the line and the field.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::check::Check;
use crate::text::Lang;

/// One lesson, from `lessons/NN-slug.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// From the file name's prefix (`04-slow-dependency.toml` is lesson 4).
    #[serde(skip)]
    pub number: u32,
    /// The file name, for errors.
    #[serde(skip)]
    pub file: String,
    /// From the file name, after the number (`slow-dependency`); it also seeds the variations.
    #[serde(skip)]
    pub slug: String,
    /// How long the lesson takes a participant, for the facilitator's plan.
    pub minutes: u32,
    pub en: Texts,
    pub ja: Texts,
    #[serde(default)]
    pub stage: Stage,
    pub check: Check,
}

/// What a participant reads, in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub title: String,
    /// What the participant will be able to do afterwards.
    pub goal: String,
    /// Commands to run, in order (a test runs each of them).
    #[serde(default)]
    pub run: Vec<String>,
    /// Where to look: which page, which view, which field.
    pub look: String,
    /// The question to answer or the change to make.
    pub task: String,
    /// How to write the answer, with an example; required when the check takes an answer.
    #[serde(default)]
    pub answer_format: Option<String>,
    /// Shown one at a time by `hint`, from the gentlest.
    pub hints: Vec<String>,
    /// Shown after a right answer: why it is right, what it teaches.
    pub explanation: String,
}

/// What `start` sets up: the faults (fixed or varied per participant) and some traffic.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Whether spans touched by a fault say so (`tracedojo.fault.*`). Off by default: the
    /// participant is to find the cause from the symptoms, as in a real incident.
    #[serde(default)]
    pub reveal: bool,
    #[serde(default)]
    pub faults: Vec<StageFault>,
    /// Values that differ between participants: each name takes one of its values, chosen by
    /// the participant's seed, and `{name}` in a fault spec is replaced by it.
    #[serde(default)]
    pub vary: BTreeMap<String, Vec<VaryValue>>,
    #[serde(default)]
    pub load: Option<StageLoad>,
}

/// A value a `vary` list may hold.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum VaryValue {
    Text(String),
    Number(i64),
}

impl VaryValue {
    pub fn as_text(&self) -> String {
        match self {
            VaryValue::Text(text) => text.clone(),
            VaryValue::Number(number) => number.to_string(),
        }
    }
}

/// One fault of a stage: a preset by name, or a spec in the control API's JSON (whose
/// `${...}` take the participant's values).
pub type StageFault = tracedojo_faults::presets::PresetOrSpec;

/// A bounded burst of simulated shoppers, so the symptom shows within seconds of `start`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageLoad {
    /// How many journeys.
    pub journeys: u64,
    /// Journeys started per second.
    pub rate: f64,
    /// The journeys' kinds and weights, as a load profile's `[mix]` (`purchase = 1`).
    #[serde(default)]
    pub mix: BTreeMap<String, u32>,
    /// Longest pause between a journey's steps.
    #[serde(default = "default_think_max_ms")]
    pub think_max_ms: u64,
}

fn default_think_max_ms() -> u64 {
    100
}

impl Lesson {
    /// The texts in `lang`.
    pub fn texts(&self, lang: Lang) -> &Texts {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

/// What is wrong with a lesson file.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct LessonError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl LessonError {
    fn new(file: &str, line: Option<usize>, message: impl Into<String>) -> LessonError {
        LessonError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// Reads one lesson file: its name gives the number and slug, its text the rest.
pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let (number, slug) = number_and_slug(file)?;
    let mut lesson: Lesson = toml::from_str(text).map_err(|err| {
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        LessonError::new(file, line, err.message().trim().to_string())
    })?;
    lesson.number = number;
    lesson.file = file.to_string();
    lesson.slug = slug;
    crate::validate::lesson(&lesson, text)?;
    Ok(lesson)
}

/// `04-slow-dependency.toml` → (4, "slow-dependency").
fn number_and_slug(file: &str) -> Result<(u32, String), LessonError> {
    let wrong = || {
        LessonError::new(
            file,
            None,
            "a lesson file is named NN-slug.toml: its number, a dash and lower-case words joined by dashes (e.g. 04-slow-dependency.toml)",
        )
    };
    let stem = file.strip_suffix(".toml").ok_or_else(wrong)?;
    let (digits, slug) = stem.split_once('-').ok_or_else(wrong)?;
    let number: u32 = digits.parse().map_err(|_| wrong())?;
    let slug_ok = !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if number == 0 || !slug_ok {
        return Err(wrong());
    }
    Ok((number, slug.to_string()))
}

/// The line of `text` on which `key` is first assigned inside `[table]` (or at the top when
/// `table` is empty), for errors found after parsing.
pub(crate) fn line_of(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.split(']').next())
        {
            current = header.trim_matches(['[', ' ']).to_string();
            if key.is_empty() && current == table {
                return Some(index + 1);
            }
            continue;
        }
        let assigned = trimmed
            .split_once('=')
            .is_some_and(|(name, _)| name.trim() == key);
        if current == table && assigned {
            return Some(index + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_number_and_slug_or_a_clear_error() {
        assert_eq!(
            number_and_slug("04-slow-dependency.toml").unwrap(),
            (4, "slow-dependency".to_string())
        );
        for bad in [
            "slow.toml",
            "x-slow.toml",
            "00-a.toml",
            "04-Slow.toml",
            "04-a.txt",
        ] {
            let err = number_and_slug(bad).unwrap_err();
            assert!(err.to_string().starts_with(bad), "{err}");
            assert!(err.message.contains("NN-slug.toml"), "{err}");
        }
    }

    #[test]
    fn line_of_finds_a_key_in_its_table() {
        let text = "minutes = 5\n[en]\ntitle = \"a\"\n[ja]\ntitle = \"b\"\n";
        assert_eq!(line_of(text, "", "minutes"), Some(1));
        assert_eq!(line_of(text, "ja", "title"), Some(5));
        assert_eq!(line_of(text, "ja", ""), Some(4));
        assert_eq!(line_of(text, "en", "goal"), None);
    }
}
