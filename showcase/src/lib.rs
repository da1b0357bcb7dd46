//! The showcase: scripted demos that loop on their own at a booth, as data in Japanese and
//! English.
//!
//! - [`scenario`]: a scenario file: a loop of acts, each with a duration, a load profile
//!   (the load generator's), faults (presets or specs, the faults crate's), captions and a
//!   talk track, and where the kiosk should look; [`validate`] what it must hold.
//! - [`error`]: what makes a scenario unusable, naming the file, the line and the field.
//! - [`play`]: playing a scenario against a running shop, act after act, steered by the
//!   presenter's keys.
//! - [`kiosk`]: the booth's full-screen page and what it reads of the explorer.
//!
//! Every file of `scenarios/` is embedded at build time ([`catalogue`]), so the one binary
//! runs a booth offline and adding a built-in scenario is adding a file.

pub mod error;
pub mod kiosk;
pub mod play;
pub mod scenario;
pub mod validate;

pub use error::{ScenarioError, Warning};
pub use scenario::{Act, Scenario};

include!(concat!(env!("OUT_DIR"), "/scenario_files.rs"));

/// Every built-in scenario, read and checked, in file-name order; two with one name are an
/// error.
pub fn catalogue() -> Result<Vec<Scenario>, ScenarioError> {
    let scenarios = SCENARIO_FILES
        .iter()
        .map(|(file, text)| scenario::parse(file, text))
        .collect::<Result<Vec<_>, _>>()?;
    for (index, later) in scenarios.iter().enumerate() {
        if let Some(earlier) = scenarios[..index].iter().find(|s| s.name() == later.name()) {
            return Err(ScenarioError::invalid(
                &later.file,
                1,
                "name",
                format!(
                    "{:?} is also the name of {}: give each scenario its own name",
                    later.name(),
                    earlier.file
                ),
            ));
        }
    }
    Ok(scenarios)
}

/// The built-in scenario called `name`.
pub fn find(name: &str) -> Result<Scenario, ScenarioError> {
    let scenarios = catalogue()?;
    let known = scenarios
        .iter()
        .map(|s| s.name().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    scenarios
        .into_iter()
        .find(|s| s.name() == name.trim())
        .ok_or_else(|| ScenarioError::UnknownScenario {
            name: name.to_string(),
            known,
        })
}
