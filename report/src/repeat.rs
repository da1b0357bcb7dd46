//! Reporting again and again (`--every 1h`) without saying the same thing every time: only
//! endpoints and queries that are new since the last post, or worse than when they were last
//! posted, are posted again. An endpoint that recovers is forgotten, so its return is news.
//! What could not be posted is not remembered, so the next round tries it again.

use std::collections::HashMap;

use crate::burn::Severity;
use crate::model::{Item, QueryItem, Report};

/// A burn rate this many times the one last posted is worse, even at the same severity.
pub const WORSE_BY: f64 = 1.5;

#[derive(Debug, Clone, Copy)]
struct Posted {
    severity: Severity,
    burn_rate: f64,
}

/// What was last posted.
#[derive(Debug, Default)]
pub struct Memory {
    items: HashMap<String, Posted>,
    queries: HashMap<String, usize>,
}

/// What a round has to say.
#[derive(Debug)]
pub struct News<'r> {
    pub items: Vec<&'r Item>,
    pub queries: Vec<&'r QueryItem>,
}

impl News<'_> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.queries.is_empty()
    }
}

fn query_key(query: &QueryItem) -> String {
    format!("{}\u{0}{}", query.service, query.query)
}

impl Memory {
    /// The items and queries of `report` that are new or worse than last posted; what no
    /// longer needs work is forgotten.
    pub fn news<'r>(&mut self, report: &'r Report) -> News<'r> {
        self.items
            .retain(|key, _| report.needs_work.iter().any(|i| &i.key() == key));
        self.queries
            .retain(|key, _| report.queries.iter().any(|q| &query_key(q) == key));
        let items = report
            .needs_work
            .iter()
            .filter(|item| match self.items.get(&item.key()) {
                None => true,
                Some(last) => {
                    item.severity > last.severity || item.burn_rate >= WORSE_BY * last.burn_rate
                }
            })
            .collect();
        let queries = report
            .queries
            .iter()
            .filter(|q| {
                self.queries
                    .get(&query_key(q))
                    .is_none_or(|hints| q.hints.len() > *hints)
            })
            .collect();
        News { items, queries }
    }

    /// Remembers what was posted.
    pub fn posted(&mut self, news: &News<'_>) {
        for item in &news.items {
            self.items.insert(
                item.key(),
                Posted {
                    severity: item.severity,
                    burn_rate: item.burn_rate,
                },
            );
        }
        for query in &news.queries {
            self.queries.insert(query_key(query), query.hints.len());
        }
    }
}

#[cfg(test)]
mod tests;
