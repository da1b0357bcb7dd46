//! What the board holds: one row per participant, changed by each report. In memory only and
//! bounded, so a board left open in a room (or fed by a script) cannot grow without end.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use serde::Serialize;

/// Participants a board keeps; a room holds tens, so reaching this means something is wrong.
pub const MAX_PARTICIPANTS: usize = 500;
/// The longest name a board takes (the workshop's own names are shorter still).
pub const MAX_NAME_CHARS: usize = 64;
/// The longest lesson title a board keeps.
pub const MAX_TITLE_CHARS: usize = 160;
/// The highest lesson number a report may give.
pub const MAX_LESSON: u32 = 999;

/// What happened in a participant's workshop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Started,
    Passed,
    Wrong,
    Hint,
}

impl Event {
    pub const NAMES: &str = "started, passed, wrong or hint";

    pub fn parse(name: &str) -> Option<Event> {
        match name {
            "started" => Some(Event::Started),
            "passed" => Some(Event::Passed),
            "wrong" => Some(Event::Wrong),
            "hint" => Some(Event::Hint),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Passed => "passed",
            Event::Wrong => "wrong",
            Event::Hint => "hint",
        }
    }
}

/// One report, already checked.
#[derive(Debug, Clone)]
pub struct Report {
    pub participant: String,
    pub lesson: u32,
    pub title: String,
    pub event: Event,
}

/// Why a report was not kept.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

#[derive(Debug, Clone)]
struct Entry {
    lesson: u32,
    title: String,
    /// When the board first heard of the participant on this lesson (the board's clock:
    /// laptops' clocks disagree by minutes, which would reorder who is stuck longest).
    since_ms: u64,
    passed: BTreeSet<u32>,
    wrong: u32,
    hints: u32,
    last_seen_ms: u64,
    last_event: Event,
}

/// One participant as the board shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub participant: String,
    pub lesson: u32,
    /// As the participant's workshop reported it (in their language).
    pub title: String,
    /// Whether they have passed the lesson they are on (then they are not stuck on it).
    pub lesson_passed: bool,
    pub since_unix_ms: u64,
    /// How long they have been on the lesson without passing it; `None` once passed.
    pub stuck_for_ms: Option<u64>,
    pub lessons_passed: usize,
    pub passed: Vec<u32>,
    /// Wrong checks and hints on the lesson they are on.
    pub wrong_checks: u32,
    pub hints: u32,
    pub last_seen_unix_ms: u64,
    pub last_event: Event,
}

/// Every participant's row, behind one lock (reports are rare: a few a minute per person).
#[derive(Debug, Default)]
pub struct Board {
    participants: Mutex<HashMap<String, Entry>>,
}

impl Board {
    /// Applies a report received at `now_ms`. Any event on a lesson other than the current
    /// one moves the participant there, so a hint asked before `start` still shows where
    /// they are.
    pub fn record(&self, report: Report, now_ms: u64) -> Result<(), Full> {
        let mut participants = self.participants.lock().unwrap_or_else(|p| p.into_inner());
        let count = participants.len();
        let entry = match participants.get_mut(&report.participant) {
            Some(entry) => entry,
            None if count >= MAX_PARTICIPANTS => return Err(Full),
            None => participants
                .entry(report.participant.clone())
                .or_insert_with(|| Entry {
                    lesson: report.lesson,
                    title: report.title.clone(),
                    since_ms: now_ms,
                    passed: BTreeSet::new(),
                    wrong: 0,
                    hints: 0,
                    last_seen_ms: now_ms,
                    last_event: report.event,
                }),
        };
        if entry.lesson != report.lesson {
            entry.lesson = report.lesson;
            entry.since_ms = now_ms;
            entry.wrong = 0;
            entry.hints = 0;
        }
        if !report.title.is_empty() {
            entry.title = report.title;
        }
        match report.event {
            Event::Started => {}
            Event::Passed => {
                entry.passed.insert(report.lesson);
            }
            Event::Wrong => entry.wrong = entry.wrong.saturating_add(1),
            Event::Hint => entry.hints = entry.hints.saturating_add(1),
        }
        entry.last_seen_ms = now_ms;
        entry.last_event = report.event;
        Ok(())
    }

    /// Every participant at `now_ms`: the longest stuck first, then those who passed the
    /// lesson they are on (by name).
    pub fn rows(&self, now_ms: u64) -> Vec<Row> {
        let participants = self.participants.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<Row> = participants
            .iter()
            .map(|(name, entry)| {
                let lesson_passed = entry.passed.contains(&entry.lesson);
                Row {
                    participant: name.clone(),
                    lesson: entry.lesson,
                    title: entry.title.clone(),
                    lesson_passed,
                    since_unix_ms: entry.since_ms,
                    stuck_for_ms: (!lesson_passed).then(|| now_ms.saturating_sub(entry.since_ms)),
                    lessons_passed: entry.passed.len(),
                    passed: entry.passed.iter().copied().collect(),
                    wrong_checks: entry.wrong,
                    hints: entry.hints,
                    last_seen_unix_ms: entry.last_seen_ms,
                    last_event: entry.last_event,
                }
            })
            .collect();
        drop(participants);
        rows.sort_by(|a, b| {
            // Reversed, `None` (passed) sorts after every `Some`, and the longest wait first.
            let stuck = |row: &Row| std::cmp::Reverse(row.stuck_for_ms);
            stuck(a)
                .cmp(&stuck(b))
                .then_with(|| a.participant.cmp(&b.participant))
        });
        rows
    }

    pub fn len(&self) -> usize {
        self.participants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(participant: &str, lesson: u32, event: Event) -> Report {
        Report {
            participant: participant.to_string(),
            lesson,
            title: format!("lesson {lesson}"),
            event,
        }
    }

    #[test]
    fn the_longest_stuck_come_first_and_those_who_passed_last() {
        let board = Board::default();
        board
            .record(report("carol", 2, Event::Started), 3_000)
            .unwrap();
        board
            .record(report("alice", 4, Event::Started), 1_000)
            .unwrap();
        board.record(report("bob", 3, Event::Hint), 2_000).unwrap();
        board
            .record(report("dave", 1, Event::Started), 500)
            .unwrap();
        board.record(report("dave", 1, Event::Passed), 600).unwrap();
        let rows = board.rows(10_000);
        let order: Vec<&str> = rows.iter().map(|r| r.participant.as_str()).collect();
        assert_eq!(order, ["alice", "bob", "carol", "dave"]);
        assert_eq!(rows[0].stuck_for_ms, Some(9_000));
        assert_eq!(rows[3].stuck_for_ms, None);
        assert!(rows[3].lesson_passed);
        assert_eq!(rows[1].hints, 1);
    }

    #[test]
    fn a_new_lesson_restarts_the_clock_and_the_counts_but_keeps_what_was_passed() {
        let board = Board::default();
        board.record(report("alice", 1, Event::Started), 0).unwrap();
        board.record(report("alice", 1, Event::Wrong), 10).unwrap();
        board.record(report("alice", 1, Event::Hint), 20).unwrap();
        board.record(report("alice", 1, Event::Wrong), 30).unwrap();
        let row = &board.rows(40)[0];
        assert_eq!((row.wrong_checks, row.hints, row.since_unix_ms), (2, 1, 0));
        board.record(report("alice", 1, Event::Passed), 50).unwrap();
        // A check on the same lesson does not move them: the clock keeps running from 0.
        assert_eq!(board.rows(60)[0].since_unix_ms, 0);
        board.record(report("alice", 2, Event::Wrong), 70).unwrap();
        let row = &board.rows(100)[0];
        assert_eq!(row.lesson, 2);
        assert_eq!((row.wrong_checks, row.hints), (1, 0));
        assert_eq!(row.since_unix_ms, 70);
        assert_eq!(row.stuck_for_ms, Some(30));
        assert_eq!(row.passed, [1]);
        assert_eq!(row.last_event, Event::Wrong);
        assert_eq!(row.last_seen_unix_ms, 70);
    }

    #[test]
    fn the_board_keeps_a_bounded_number_of_participants() {
        let board = Board::default();
        for n in 0..MAX_PARTICIPANTS {
            board
                .record(report(&format!("p{n}"), 1, Event::Started), 0)
                .unwrap();
        }
        assert_eq!(
            board.record(report("one-more", 1, Event::Started), 1),
            Err(Full)
        );
        // Those already on the board still report.
        board.record(report("p0", 2, Event::Started), 2).unwrap();
        assert_eq!(board.len(), MAX_PARTICIPANTS);
    }
}
