//! A scenario as its file describes it: a loop of acts, each with a duration, a load
//! profile, the faults it sets (and whether it first clears those of the acts before it),
//! a caption and a talk-track note in Japanese and English, and where the kiosk should look.
//! A file is read and validated whole; an error names the file, the line and the field.

use serde::Deserialize;
use toml::Spanned;
use tracedojo_faults::FaultSpec;
use tracedojo_loadgen::profile_file::ProfileFile;

use crate::error::ScenarioError;

/// One scenario, from a `.toml` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The file it was read from, for errors.
    #[serde(skip)]
    pub file: String,
    /// What `tracedojo showcase NAME` calls it: lower-case words joined by dashes.
    pub name: Spanned<String>,
    pub en: Titles,
    pub ja: Titles,
    /// The acts, played in order, then again from the first.
    #[serde(rename = "act")]
    pub acts: Vec<Act>,
}

/// The scenario's name on screen, in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Titles {
    pub title: Spanned<String>,
}

/// One act of the loop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// A short name for the act (`normal`, `incident`, `diagnosis`, `fix`, `recovery`).
    pub name: Spanned<String>,
    /// How long the act lasts.
    pub seconds: Spanned<u64>,
    /// The traffic during the act: a load generator profile (its `profile`, `rate`, `[mix]`,
    /// ...); its duration is the act's, and the shop is the one the showcase runs.
    pub load: Spanned<ProfileFile>,
    /// Faults to set at the act's start: presets by name or specs in the control API's JSON.
    #[serde(default)]
    pub faults: Vec<Spanned<ActFault>>,
    /// Whether every fault set by the acts before this one is cleared at its start, before
    /// this act's own faults are set. Faults otherwise stay in force from act to act; every
    /// loop starts with none.
    #[serde(default)]
    pub clear: bool,
    /// What the kiosk shows during the act.
    pub look: Look,
    pub en: Texts,
    pub ja: Texts,
}

/// A fault of an act: a preset by name, or a spec in the control API's JSON.
pub type ActFault = tracedojo_faults::presets::PresetOrSpec;

/// Where tracing points during the act: the kiosk picks its charts and its trace from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Look {
    /// A service of the shop.
    pub service: Spanned<String>,
    /// An operation of that service, as its spans are named (`POST /payments`).
    #[serde(default)]
    pub operation: Option<Spanned<String>>,
    /// An attribute and its value, `KEY=VALUE` (`tracedojo.user.tier=gold`).
    #[serde(default)]
    pub attribute: Option<Spanned<String>>,
    /// The explorer's trace search parameters, as in its URL
    /// (`min_duration=1s&errors=true&attr=tracedojo.user.tier=gold`).
    #[serde(default)]
    pub query: Option<Spanned<String>>,
}

/// What the booth reads, in one language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// The line on the big screen: short, read from across the booth.
    pub caption: Spanned<String>,
    /// The presenter's note: what to say during the act.
    pub talk: Spanned<String>,
}

impl Scenario {
    /// How long one loop lasts.
    pub fn loop_seconds(&self) -> u64 {
        self.acts.iter().map(|act| *act.seconds.get_ref()).sum()
    }

    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    /// The title in English or, with `japanese`, in Japanese.
    pub fn title(&self, japanese: bool) -> &str {
        if japanese {
            self.ja.title.get_ref()
        } else {
            self.en.title.get_ref()
        }
    }
}

impl Act {
    /// The texts in English or, with `japanese`, in Japanese.
    pub fn texts(&self, japanese: bool) -> &Texts {
        if japanese { &self.ja } else { &self.en }
    }
}

/// The specs of one act fault, each checked by the faults crate.
pub fn fault_specs(fault: &ActFault) -> Result<Vec<FaultSpec>, String> {
    tracedojo_faults::presets::resolve(fault.preset.as_deref(), fault.spec.as_deref())
}

/// Reads and validates one scenario file; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut scenario: Scenario = toml::from_str(text).map_err(|err| {
        let start = err.span().map_or(0, |span| span.start.min(text.len()));
        ScenarioError::invalid(
            file,
            line_at(text, start),
            toml_field(&err, text, start),
            err.message().trim().replace('\n', " "),
        )
    })?;
    scenario.file = file.to_string();
    crate::validate::scenario(&scenario, text)?;
    Ok(scenario)
}

/// Reads a scenario file from disk.
pub fn read(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ScenarioError::Read {
        file: file.clone(),
        message: err.to_string(),
    })?;
    parse(&file, &text)
}

/// The line (from 1) of the byte at `offset`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The field a TOML error is about, acts counted from 1: the path toml gives (`act.en`), with
/// the act's number and the missing or unknown key the message names; for a syntax error,
/// the key on the error's line in the table in force there.
fn toml_field(err: &toml::de::Error, text: &str, start: usize) -> String {
    // Without the input, toml's message ends with the path of keys it was in.
    let mut bare = err.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let path = shown
        .lines()
        .find_map(|line| line.strip_prefix("in `")?.strip_suffix('`'))
        .map(str::to_string);
    let message = err.message();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix)?.split('`').next())
        .map(str::to_string);
    let path = match (path, named) {
        (Some(path), Some(name)) if !path.ends_with(&name) => format!("{path}.{name}"),
        (Some(path), _) => path,
        (None, Some(name)) => table_at(text, start).map_or(name.clone(), |t| format!("{t}.{name}")),
        (None, None) => {
            let line = text[..start.min(text.len())]
                .rsplit('\n')
                .next()
                .unwrap_or_default()
                .to_string()
                + text[start.min(text.len())..]
                    .split('\n')
                    .next()
                    .unwrap_or_default();
            let key = line
                .split_once('=')
                .map(|(key, _)| key.trim().to_string())
                .filter(|key| !key.is_empty() && !key.starts_with('['));
            match (table_at(text, start), key) {
                (Some(table), Some(key)) => format!("{table}.{key}"),
                (None, Some(key)) => key,
                (Some(table), None) => table,
                (None, None) => "(the file)".to_string(),
            }
        }
    };
    number_act(&path, text, start)
}

/// The text up to the end of the line holding `offset`: a table's span may start at its
/// header, which then counts as before it.
fn through_line(text: &str, offset: usize) -> &str {
    let offset = offset.min(text.len());
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    &text[..end]
}

/// The table header in force at `offset` (`act`, `act.en`), if any.
fn table_at(text: &str, offset: usize) -> Option<String> {
    through_line(text, offset)
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['))
        .map(|header| header.trim_matches(['[', ']', ' ']).to_string())
}

/// `act.seconds` → `act[3].seconds`, where the error is in the third `[[act]]`.
fn number_act(path: &str, text: &str, offset: usize) -> String {
    let Some(rest) = path.strip_prefix("act") else {
        return path.to_string();
    };
    if !(rest.is_empty() || rest.starts_with('.')) {
        return path.to_string();
    }
    let acts = through_line(text, offset)
        .lines()
        .filter(|line| line.trim().starts_with("[[act]]"))
        .count();
    if acts == 0 {
        return path.to_string();
    }
    format!("act[{acts}]{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acts_are_numbered_where_the_error_is() {
        let text = "[[act]]\nname = \"a\"\n[[act]]\nname = \"b\"\n";
        assert_eq!(
            number_act("act.seconds", text, text.len()),
            "act[2].seconds"
        );
        assert_eq!(number_act("act.seconds", text, 3), "act[1].seconds");
        assert_eq!(number_act("act", text, 20), "act[2]");
        assert_eq!(number_act("actor", text, 3), "actor");
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(
            line_at(text, text.find("[[act]]\nname = \"b\"").unwrap()),
            3
        );
    }
}
