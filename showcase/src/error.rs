//! Everything that makes a scenario unusable, each naming the file, the line and the field
//! (or, for a name that matches no scenario, the names that do).

use std::fmt;

/// Why a scenario cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("cannot read {file}: {message}")]
    Read { file: String, message: String },
    /// The file is read but wrong: malformed TOML, a missing or unknown field, a value out of
    /// range, a fault or a service that does not exist.
    #[error("{file} line {line}: {field}: {message}")]
    Invalid {
        file: String,
        line: usize,
        /// The path of the field, acts counted from 1: `act[2].seconds`, `act[3].en.caption`.
        field: String,
        message: String,
    },
    /// No built-in scenario has this name.
    #[error("there is no scenario {name:?}; the scenarios are {known} (`tracedojo showcase list`)")]
    UnknownScenario { name: String, known: String },
}

impl ScenarioError {
    pub(crate) fn invalid(
        file: &str,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            file: file.to_string(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Something a scenario may do but probably should not on this machine (a load rate beyond
/// what it can give): said, and the scenario still runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: {}: {}",
            self.file, self.line, self.field, self.message
        )
    }
}
