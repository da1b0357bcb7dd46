//! The workshop: hands-on lessons in Japanese and English whose every step ends in a check
//! that says, right or wrong, and why.
//!
//! - [`lesson`]: a lesson file (`lessons/NN-slug.toml`): texts, stage, check; [`validate`]
//!   what it must hold. Every file of `lessons/` is embedded at build time, so the one binary
//!   works offline and adding a lesson is adding a file.
//! - [`stage`]: what `start` sets through the shop's public interfaces (the fault control
//!   API, a burst of the load generator's journeys), varied per participant by [`vary`].
//! - [`check`]: the checks, which read only the explorer's API ([`explorer`]) narrowed to the
//!   participant's namespace, and never tell the answer.
//! - [`progress`]: what the participant has done, kept in the data directory.
//! - [`commands`]: what each `tracedojo workshop` command does.
//! - [`board`]: the facilitator's progress board, and the reports participants opt in to.

pub mod board;
pub mod check;
pub mod commands;
pub mod error;
pub mod explorer;
pub mod lesson;
pub mod progress;
pub mod stage;
pub mod text;
pub mod validate;
pub mod vary;

pub use commands::Settings;
pub use error::WorkshopError;
pub use lesson::{Lesson, LessonError};
pub use text::Lang;

include!(concat!(env!("OUT_DIR"), "/lesson_files.rs"));

/// Every embedded lesson, read and checked, in number order; two files with one number are
/// an error.
pub fn catalogue() -> Result<Vec<Lesson>, LessonError> {
    let mut lessons = LESSON_FILES
        .iter()
        .map(|(file, text)| lesson::parse(file, text))
        .collect::<Result<Vec<_>, _>>()?;
    lessons.sort_by_key(|l| l.number);
    for pair in lessons.windows(2) {
        if pair[0].number == pair[1].number {
            return Err(LessonError {
                file: pair[1].file.clone(),
                line: None,
                message: format!(
                    "lesson {} is also {}: give each lesson its own number",
                    pair[1].number, pair[0].file
                ),
            });
        }
    }
    Ok(lessons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_lesson_is_valid_and_they_start_at_one() {
        let lessons = catalogue().unwrap();
        assert!(lessons.len() >= 4);
        assert_eq!(lessons[0].number, 1);
    }
}
