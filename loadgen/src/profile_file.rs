//! Load profiles as TOML files, so a run (and later a showcase act) can be kept and shared.
//!
//! ```toml
//! profile = "diurnal"      # constant, ramp, steps, diurnal, spike
//! rate = 50                # journeys per second at the peak
//! duration_s = 600
//! poisson = true
//! seed = 7
//! instance = "2/4"         # this generator's share of the users, one of several
//!
//! [mix]                    # journey weights; the ones left out are not run
//! browse = 30
//! purchase = 20
//! ```
//!
//! Every key is optional; a command-line flag given explicitly wins over the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::instance::Instance;
use crate::journeys::JourneyKind;
use crate::limits::{self, Bound};

/// The keys a profile file may hold. Numbers are checked against the same ranges as the
/// flags ([`crate::limits`]) while the file is read, so an error names the line.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub target: Option<String>,
    pub profile: Option<String>,
    #[serde(default, deserialize_with = "rate")]
    pub rate: Option<f64>,
    #[serde(default, deserialize_with = "duration_s")]
    pub duration_s: Option<u64>,
    pub journeys: Option<u64>,
    pub poisson: Option<bool>,
    pub seed: Option<u64>,
    #[serde(default, deserialize_with = "users")]
    pub users: Option<u64>,
    #[serde(default, deserialize_with = "max_in_flight")]
    pub max_in_flight: Option<u64>,
    #[serde(default, deserialize_with = "think_max_ms")]
    pub think_max_ms: Option<u64>,
    #[serde(default, deserialize_with = "declined_per_mille")]
    pub declined_per_mille: Option<u32>,
    #[serde(default, deserialize_with = "instance")]
    pub instance: Option<Instance>,
    pub mix: Option<BTreeMap<String, u32>>,
}

/// A whole number of `key` within `bound`; toml puts the line of the value on the error.
fn bounded<'de, D: Deserializer<'de>>(
    deserializer: D,
    key: &str,
    bound: &Bound,
) -> Result<Option<u64>, D::Error> {
    let value = Option::<u64>::deserialize(deserializer)?;
    if let Some(value) = value {
        bound
            .check(value)
            .map_err(|why| D::Error::custom(format!("{key} = {why}")))?;
    }
    Ok(value)
}

fn rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    let value = Option::<f64>::deserialize(deserializer)?;
    if let Some(value) = value {
        limits::check_rate(value).map_err(|why| D::Error::custom(format!("rate = {why}")))?;
    }
    Ok(value)
}

fn duration_s<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, "duration_s", &limits::DURATION_S)
}

fn users<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, "users", &limits::USERS)
}

fn max_in_flight<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, "max_in_flight", &limits::MAX_IN_FLIGHT)
}

fn think_max_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, "think_max_ms", &limits::THINK_MAX_MS)
}

fn declined_per_mille<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let value = bounded(
        deserializer,
        "declined_per_mille",
        &limits::DECLINED_PER_MILLE,
    )?;
    // In range, so at most 1000: it fits.
    Ok(value.map(|v| v as u32))
}

fn instance<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Instance>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    text.parse()
        .map(Some)
        .map_err(|why| D::Error::custom(format!("instance = {why}")))
}

/// Why a profile file cannot be used: the file, the line, and what is wrong there.
#[derive(Debug, thiserror::Error)]
pub enum ProfileFileError {
    #[error("cannot read profile file {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "{path}: [mix] names unknown journey \"{name}\"; choose from browse, search, view_product, abandon_cart, purchase"
    )]
    UnknownJourney { path: PathBuf, name: String },
    #[error("{path}: [mix] weights add up to 0; give at least one journey a weight above 0")]
    EmptyMix { path: PathBuf },
}

impl ProfileFile {
    pub fn read(path: &Path) -> Result<ProfileFile, ProfileFileError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ProfileFileError::Read {
            path: path.to_path_buf(),
            reason,
        })?;
        ProfileFile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ProfileFile, ProfileFileError> {
        toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(1, |span| {
                text[..span.start.min(text.len())].lines().count().max(1)
            });
            // Where the error starts at a line's first character, `lines()` has not counted it yet.
            let line = match err.span() {
                Some(span)
                    if span.start > 0 && text.as_bytes().get(span.start - 1) == Some(&b'\n') =>
                {
                    line + 1
                }
                _ => line,
            };
            ProfileFileError::Parse {
                path: path.to_path_buf(),
                line,
                message: err.message().trim().replace('\n', " "),
            }
        })
    }

    /// The journey mix of the file, if it has one.
    pub fn mix(&self, path: &Path) -> Result<Option<Vec<(JourneyKind, u32)>>, ProfileFileError> {
        let Some(mix) = &self.mix else {
            return Ok(None);
        };
        let mut weights = Vec::new();
        for (name, weight) in mix {
            let kind =
                JourneyKind::from_name(name).ok_or_else(|| ProfileFileError::UnknownJourney {
                    path: path.to_path_buf(),
                    name: name.clone(),
                })?;
            weights.push((kind, *weight));
        }
        if weights.iter().all(|(_, w)| *w == 0) {
            return Err(ProfileFileError::EmptyMix {
                path: path.to_path_buf(),
            });
        }
        Ok(Some(weights))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProfileFile, ProfileFileError> {
        ProfileFile::parse(Path::new("demo.toml"), text)
    }

    #[test]
    fn a_full_file_reads_back() {
        let file = parse("profile = \"spike\"\nrate = 40\nduration_s = 90\npoisson = true\n\n[mix]\nbrowse = 3\npurchase = 1\n").unwrap();
        assert_eq!(file.profile.as_deref(), Some("spike"));
        assert_eq!(file.rate, Some(40.0));
        assert_eq!(file.duration_s, Some(90));
        let mix = file.mix(Path::new("demo.toml")).unwrap().unwrap();
        assert_eq!(
            mix,
            vec![(JourneyKind::Browse, 3), (JourneyKind::Purchase, 1)]
        );
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_field() {
        let err = parse("rate = 5\nrat = 10\n").unwrap_err().to_string();
        assert!(err.starts_with("demo.toml line 2:"), "{err}");
        assert!(err.contains("rat"), "{err}");
        let err = parse("profile = \"constant\"\n\nrate = \"fast\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("demo.toml line 3:"), "{err}");
        let err = parse("[mix]\nbrowze = 1\n")
            .unwrap()
            .mix(Path::new("demo.toml"))
            .unwrap_err();
        assert!(
            err.to_string().contains("unknown journey \"browze\""),
            "{err}"
        );
        let err = parse("[mix]\nbrowse = 0\n")
            .unwrap()
            .mix(Path::new("demo.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("add up to 0"), "{err}");
        let err = parse("seed = 1\nthink_max_ms = 9223372036854775807\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "demo.toml line 2: think_max_ms = 9223372036854775807 is out of range: give a whole \
             number of milliseconds from 0 to 60000 (a minute)"
        );
        let err = parse("rate = 1e300\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "demo.toml line 1: rate = 1e300 is out of range: give journeys per second from 0.001 \
             to 1000000"
        );
        for text in [
            "rate = nan",
            "rate = -inf",
            "rate = 0",
            "duration_s = 31536001",
            "users = 0",
            "users = 1000001",
            "max_in_flight = 0",
            "declined_per_mille = 1001",
            "declined_per_mille = 5000000000",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("out of range: give"), "{text}: {err}");
        }
        let err = parse("seed = 1\ninstance = \"5/4\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "demo.toml line 2: instance = \"5/4\" is not an instance: give I/N, e.g. 2/4, with \
             1 <= I <= N"
        );
        let err = parse("instance = 2\n").unwrap_err().to_string();
        assert!(err.starts_with("demo.toml line 1:"), "{err}");
        assert_eq!(
            parse("instance = \"2/4\"\n").unwrap().instance,
            Some(Instance::new(2, 4).unwrap())
        );
        let edges = parse(
            "rate = 1000000\nduration_s = 31536000\nusers = 1\nmax_in_flight = 100000\n\
             think_max_ms = 0\ndeclined_per_mille = 1000\n",
        )
        .unwrap();
        assert_eq!(edges.declined_per_mille, Some(1000));
        assert_eq!(edges.duration_s, Some(31_536_000));
        let missing = ProfileFile::read(Path::new("/nonexistent/profile.toml")).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read profile file"),
            "{missing}"
        );
    }
}
