use super::*;
use crate::fixture::report;

#[test]
fn only_new_or_worse_is_posted_again() {
    let mut memory = Memory::default();
    let first = report();
    let news = memory.news(&first);
    assert_eq!(
        (news.items.len(), news.queries.len()),
        (1, 1),
        "everything is new"
    );
    memory.posted(&news);

    // The same again: nothing to say.
    let same = report();
    assert!(memory.news(&same).is_empty());

    // A little worse: still nothing; much worse: news.
    let mut worse = report();
    worse.needs_work[0].burn_rate *= 1.2;
    assert!(memory.news(&worse).is_empty());
    worse.needs_work[0].burn_rate = first.needs_work[0].burn_rate * 1.6;
    let news = memory.news(&worse);
    assert_eq!(news.items.len(), 1);
    assert!(news.queries.is_empty());
    memory.posted(&news);

    // A higher severity is news even at a similar rate.
    let mut graver = worse.clone();
    graver.needs_work[0].severity = Severity::Urgent;
    assert_eq!(memory.news(&graver).items.len(), 1);

    // Recovered, then back: back is news.
    let mut recovered = report();
    recovered.needs_work.clear();
    recovered.queries.clear();
    assert!(memory.news(&recovered).is_empty());
    assert_eq!(memory.news(&first).items.len(), 1);
}

#[test]
fn what_was_not_posted_is_tried_again() {
    let mut memory = Memory::default();
    let first = report();
    let news = memory.news(&first);
    assert!(!news.is_empty());
    // The post failed: nothing remembered.
    assert_eq!(memory.news(&first).items.len(), 1);
}
