//! What a participant has done, kept in the data directory (`workshop.json`): the seed that
//! varies their stages, and per lesson when it started, its stage's values, the attempts,
//! the hints shown and when it was passed. Written whole to a new file and renamed over the
//! old one, so an interrupted write never loses it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::WorkshopError;

const FILE: &str = "workshop.json";

/// The participant's progress through the lessons.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Varies the stages when no participant name is given (made once, then kept).
    pub seed: u64,
    /// The lesson started last.
    #[serde(default)]
    pub current: Option<u32>,
    #[serde(default)]
    pub lessons: BTreeMap<u32, LessonProgress>,
}

/// One lesson's progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LessonProgress {
    pub started_unix_ms: u64,
    /// The stage's values for this participant (`service` = `inventory` ...).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub hints_shown: u32,
    #[serde(default)]
    pub passed_unix_ms: Option<u64>,
}

impl Progress {
    /// The progress kept in `dir`, or a fresh one with a new seed.
    pub fn load(dir: &Path) -> Result<Progress, WorkshopError> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|err| WorkshopError::Data {
                action: "read",
                path: path.display().to_string(),
                message: format!("{err}; `tracedojo workshop reset` starts afresh"),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Progress {
                seed: rand::random(),
                current: None,
                lessons: BTreeMap::new(),
            }),
            Err(err) => Err(WorkshopError::Data {
                action: "read",
                path: path.display().to_string(),
                message: err.to_string(),
            }),
        }
    }

    /// Keeps the progress in `dir` (made if missing).
    pub fn save(&self, dir: &Path) -> Result<(), WorkshopError> {
        let path = dir.join(FILE);
        let fail = |err: std::io::Error| WorkshopError::Data {
            action: "write",
            path: path.display().to_string(),
            message: err.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let temporary: PathBuf = dir.join(format!("{FILE}.new"));
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&temporary, text).map_err(fail)?;
        std::fs::rename(&temporary, &path).map_err(fail)
    }

    /// Forgets every lesson (the seed stays, so the stages stay the same).
    pub fn reset(dir: &Path) -> Result<bool, WorkshopError> {
        let path = dir.join(FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(WorkshopError::Data {
                action: "write",
                path: path.display().to_string(),
                message: err.to_string(),
            }),
        }
    }
}

/// The seed of a participant's stages: from their name when given, so the same name gets the
/// same stages on any laptop, else the one kept in the progress.
pub fn seed(participant: Option<&str>, progress: &Progress) -> u64 {
    participant.map_or(progress.seed, |name| fnv1a(name.as_bytes()))
}

/// FNV-1a, 64 bits: small, stable across Rust releases and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_a_round_trip_and_reset_forgets_it() {
        let dir = std::env::temp_dir().join(format!(
            "tracedojo-workshop-progress-{}",
            rand::random::<u64>()
        ));
        let mut progress = Progress::load(&dir).unwrap();
        progress.lessons.insert(
            4,
            LessonProgress {
                started_unix_ms: 7,
                attempts: 2,
                ..Default::default()
            },
        );
        progress.save(&dir).unwrap();
        let again = Progress::load(&dir).unwrap();
        assert_eq!(again.seed, progress.seed);
        assert_eq!(again.lessons[&4].attempts, 2);
        assert!(Progress::reset(&dir).unwrap());
        assert!(Progress::load(&dir).unwrap().lessons.is_empty());
        std::fs::write(dir.join(FILE), "{not json").unwrap();
        let err = Progress::load(&dir).unwrap_err().to_string();
        assert!(
            err.contains("workshop.json") && err.contains("workshop reset"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_name_always_gives_the_same_seed() {
        let progress = Progress {
            seed: 1,
            current: None,
            lessons: BTreeMap::new(),
        };
        assert_eq!(
            seed(Some("alice"), &progress),
            seed(Some("alice"), &progress)
        );
        assert_ne!(seed(Some("alice"), &progress), seed(Some("bob"), &progress));
        assert_eq!(seed(None, &progress), 1);
    }
}
