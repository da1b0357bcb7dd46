//! Whether the target is still answering, watched while a run goes on.
//!
//! Latency and error figures say how well the shop answers; they say little when it answers
//! nothing at all. A stopped shop shows as a climbing error count, and a listener that accepts
//! and never answers shows as nothing until the request timeout (30 s) runs out. [`Watch`]
//! turns the run's [`Answers`] into two plain events instead: the target stopped answering
//! (and why: refused, or accepted and silent), and it answers again. The run goes on either
//! way: a shop being restarted is part of what a load test sees.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::http::Failure;
use crate::recorder::Answers;

/// How long requests may fail without a single answer before it is said: refused connections
/// are certain at once, so this only rides out a blip such as one restart of the frontend.
pub const SILENT_AFTER_FAILURES: Duration = Duration::from_secs(2);
/// How long requests may wait without a single answer before it is said: a slow shop still
/// answers within this, a stuck one does not.
pub const SILENT_AFTER_WAITING: Duration = Duration::from_secs(5);

/// Why the target answers nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Every request of the stretch failed, most of them this way.
    Failing(Failure),
    /// Requests were sent and are still waiting: the connections were accepted, nothing came.
    Waiting,
}

/// What changed since the last look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Nothing has answered for `lasted` although requests were made.
    Stopped {
        cause: Cause,
        lasted: Duration,
        /// Requests still waiting for an answer.
        waiting: u64,
        /// Requests that failed since the last answer.
        failed: u64,
    },
    /// An answer came again, after `silent_for` without one.
    Back { silent_for: Duration },
}

/// Figures at one look, to tell what happened between two.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    answered: u64,
    failed: BTreeMap<Failure, u64>,
}

/// Looks at the run's answers now and then, and says when the target stops or comes back.
#[derive(Debug)]
pub struct Watch {
    last: Seen,
    /// When the stretch without answers (with requests made) began.
    silent_since: Option<Instant>,
    /// The failures of that stretch, by why.
    failed_since: BTreeMap<Failure, u64>,
    /// Whether the stretch has been reported.
    reported: bool,
}

impl Watch {
    /// A watch over a run that starts at `start` with nothing sent.
    pub fn new(start: Instant) -> Watch {
        Watch {
            last: Seen {
                at: start,
                answered: 0,
                failed: BTreeMap::new(),
            },
            silent_since: None,
            failed_since: BTreeMap::new(),
            reported: false,
        }
    }

    /// Takes in the run's figures at `now`; returns the event, if any, since the last look.
    pub fn observe(&mut self, now: Instant, answers: &Answers) -> Option<Event> {
        let previous = std::mem::replace(
            &mut self.last,
            Seen {
                at: now,
                answered: answers.answered,
                failed: answers.failed.clone(),
            },
        );
        if answers.answered > previous.answered {
            let silent_since = self.silent_since.take();
            self.failed_since.clear();
            let reported = std::mem::take(&mut self.reported);
            return match silent_since {
                Some(since) if reported => Some(Event::Back {
                    silent_for: answers
                        .last_answer
                        .unwrap_or(now)
                        .saturating_duration_since(since),
                }),
                _ => None,
            };
        }
        let mut failed_now = 0;
        for (failure, count) in &answers.failed {
            let new = count.saturating_sub(previous.failed.get(failure).copied().unwrap_or(0));
            if new > 0 {
                *self.failed_since.entry(*failure).or_default() += new;
                failed_now += new;
            }
        }
        let waiting = answers.waiting();
        if failed_now == 0 && waiting == 0 {
            // Nothing sent and nothing waiting: a pause in the plan proves nothing either way.
            return None;
        }
        let since = *self.silent_since.get_or_insert(previous.at);
        if self.reported {
            return None;
        }
        let failed: u64 = self.failed_since.values().sum();
        let cause = match self.failed_since.iter().max_by_key(|(_, count)| **count) {
            Some((failure, _)) => Cause::Failing(*failure),
            None => Cause::Waiting,
        };
        let patience = match cause {
            Cause::Waiting | Cause::Failing(Failure::Timeout | Failure::NoAnswer) => {
                SILENT_AFTER_WAITING
            }
            Cause::Failing(_) => SILENT_AFTER_FAILURES,
        };
        let lasted = now.saturating_duration_since(since);
        if lasted < patience {
            return None;
        }
        self.reported = true;
        Some(Event::Stopped {
            cause,
            lasted,
            waiting,
            failed,
        })
    }

    /// When the target last stopped answering, if it has not answered since and it was said.
    pub fn silent_since(&self) -> Option<Instant> {
        self.silent_since.filter(|_| self.reported)
    }
}

/// One plain line for a failure as the cause of no answers, about the target at `url`.
pub fn describe(cause: Cause, url: &str, waited: Duration) -> String {
    let seconds = waited.as_secs_f64();
    match cause {
        Cause::Failing(Failure::Refused) => {
            format!("connection refused at {url} (is `tracedojo up` still running?)")
        }
        Cause::Failing(Failure::Connect) => format!("cannot connect to {url}"),
        Cause::Failing(Failure::Timeout) => {
            format!("nothing at {url} accepted a connection within {seconds:.0} s")
        }
        Cause::Failing(Failure::NoAnswer) | Cause::Waiting => {
            format!("{url} accepted the connection but answered nothing in {seconds:.0} s")
        }
        Cause::Failing(Failure::Broken) => {
            format!("{url} closes the connections without answering")
        }
        Cause::Failing(Failure::Malformed) => {
            format!("{url} answers, but not in HTTP/1.1")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(sent: u64, answered: u64, failed: &[(Failure, u64)]) -> Answers {
        Answers {
            sent,
            answered,
            failed: failed.iter().copied().collect(),
            last_answer: None,
        }
    }

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn refused_requests_are_reported_once_after_a_short_while_then_the_return() {
        let start = Instant::now();
        let mut watch = Watch::new(start);
        assert_eq!(watch.observe(at(start, 1000), &answers(10, 10, &[])), None);
        let refused = |n| answers(10 + n, 10, &[(Failure::Refused, n)]);
        assert_eq!(watch.observe(at(start, 2000), &refused(3)), None);
        let Some(Event::Stopped {
            cause,
            failed,
            waiting,
            ..
        }) = watch.observe(at(start, 3000), &refused(6))
        else {
            panic!("two seconds of refused requests are reported");
        };
        assert_eq!(cause, Cause::Failing(Failure::Refused));
        assert_eq!((failed, waiting), (6, 0));
        assert_eq!(
            watch.observe(at(start, 4000), &refused(9)),
            None,
            "said once"
        );
        assert_eq!(watch.silent_since(), Some(at(start, 1000)));

        let mut back = answers(21, 11, &[(Failure::Refused, 9)]);
        back.last_answer = Some(at(start, 4500));
        assert_eq!(
            watch.observe(at(start, 5000), &back),
            Some(Event::Back {
                silent_for: Duration::from_millis(3500)
            })
        );
        assert_eq!(watch.silent_since(), None);
    }

    #[test]
    fn requests_left_waiting_are_reported_as_accepted_and_unanswered() {
        let start = Instant::now();
        let mut watch = Watch::new(start);
        for second in 1..5 {
            assert_eq!(
                watch.observe(at(start, second * 1000), &answers(second * 2, 0, &[])),
                None
            );
        }
        let event = watch.observe(at(start, 5000), &answers(10, 0, &[]));
        assert_eq!(
            event,
            Some(Event::Stopped {
                cause: Cause::Waiting,
                lasted: Duration::from_secs(5),
                waiting: 10,
                failed: 0,
            })
        );
    }

    #[test]
    fn a_pause_in_the_plan_or_a_single_failure_between_answers_says_nothing() {
        let start = Instant::now();
        let mut watch = Watch::new(start);
        // Nothing sent for ten seconds.
        assert_eq!(watch.observe(at(start, 10_000), &answers(0, 0, &[])), None);
        // One refused, then answers again within the patience.
        assert_eq!(
            watch.observe(at(start, 11_000), &answers(1, 0, &[(Failure::Refused, 1)])),
            None
        );
        assert_eq!(
            watch.observe(at(start, 12_000), &answers(3, 2, &[(Failure::Refused, 1)])),
            None
        );
        assert_eq!(watch.silent_since(), None);
    }

    #[test]
    fn each_cause_reads_as_one_plain_line() {
        let url = "http://127.0.0.1:9";
        let line = describe(Cause::Failing(Failure::Refused), url, Duration::ZERO);
        assert!(
            line.contains("connection refused at http://127.0.0.1:9"),
            "{line}"
        );
        assert!(line.contains("tracedojo up"), "{line}");
        let line = describe(Cause::Waiting, url, Duration::from_secs(5));
        assert!(
            line.contains("accepted the connection but answered nothing in 5 s"),
            "{line}"
        );
    }
}
