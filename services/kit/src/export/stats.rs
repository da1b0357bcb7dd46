//! What one destination was sent and lost, and its health: whether exports fail now, and
//! the last failure in plain words. `/health` shows it; `tracedojo up` warns from it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use super::failure::ExportFailure;

/// Counts of what the span exporter delivered and lost, shown by `/health`.
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Spans handed to the batch processor (every recorded span that ended). Whatever of them
    /// is not in `spans_exported` when the process stops never reached the destination: it
    /// failed, did not fit a queue, or was still waiting at the deadline.
    pub spans_ended: AtomicU64,
    pub spans_exported: AtomicU64,
    /// Refused by the backend or not delivered (each failed batch's spans).
    pub spans_failed: AtomicU64,
    pub failed_batches: AtomicU64,
    /// Dropped because this destination's queue was full (it was slower than the shop).
    pub spans_dropped: AtomicU64,
    /// The same counts for the copy sent to the explorer (`TRACEDOJO_EXPLORER_ENDPOINT`), kept
    /// apart so a person can tell which of the two destinations loses spans.
    pub explorer: Option<Arc<ExportStats>>,
    /// Set once the stop has said what was lost: an export that fails after it (the process
    /// ending under it) has nothing to add.
    pub(crate) reported: AtomicBool,
    pub(crate) health: Mutex<Health>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Health {
    failing: bool,
    last_failure: Option<(ExportFailure, SystemTime)>,
    last_delivery: Option<SystemTime>,
}

/// What changed with one export's result, so the caller can say it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Exports started failing, or fail in a new way.
    Failing(ExportFailure),
    Recovered,
    Same,
}

impl ExportStats {
    /// Notes a delivery; says whether it ends a run of failures.
    pub(crate) fn delivered(&self, items: u64) -> Change {
        self.spans_exported.fetch_add(items, Ordering::Relaxed);
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health.last_delivery = Some(SystemTime::now());
        if std::mem::replace(&mut health.failing, false) {
            Change::Recovered
        } else {
            Change::Same
        }
    }

    /// Notes a failure that lost `lost` items; says whether it is news (the first, or of
    /// another kind than the last).
    pub(crate) fn failed(&self, lost: u64, delivered: u64, failure: &ExportFailure) -> Change {
        self.spans_failed.fetch_add(lost, Ordering::Relaxed);
        self.spans_exported.fetch_add(delivered, Ordering::Relaxed);
        self.failed_batches.fetch_add(1, Ordering::Relaxed);
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let news = !health.failing
            || health
                .last_failure
                .as_ref()
                .is_none_or(|(last, _)| last.kind() != failure.kind());
        health.failing = true;
        health.last_failure = Some((failure.clone(), SystemTime::now()));
        if news {
            Change::Failing(failure.clone())
        } else {
            Change::Same
        }
    }

    pub(crate) fn dropped(&self, items: u64) {
        self.spans_dropped.fetch_add(items, Ordering::Relaxed);
    }

    /// Whether the last export failed.
    pub fn failing(&self) -> bool {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failing
    }

    /// The last failure, in words.
    pub fn last_failure(&self) -> Option<ExportFailure> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last_failure
            .as_ref()
            .map(|(failure, _)| failure.clone())
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let health = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut snapshot = serde_json::json!({
            "spans_exported": self.spans_exported.load(Ordering::Relaxed),
            "spans_failed": self.spans_failed.load(Ordering::Relaxed),
            "spans_dropped": self.spans_dropped.load(Ordering::Relaxed),
            "failed_batches": self.failed_batches.load(Ordering::Relaxed),
            "failing": health.failing,
        });
        if let Some((failure, at)) = &health.last_failure {
            snapshot["last_failure"] = serde_json::json!({
                "kind": failure.kind(),
                "message": failure.to_string(),
                "at_unix_ms": unix_ms(*at),
            });
        }
        if let Some(at) = health.last_delivery {
            snapshot["last_delivery_unix_ms"] = serde_json::json!(unix_ms(at));
        }
        if let Some(explorer) = &self.explorer {
            snapshot["explorer"] = explorer.snapshot();
        }
        snapshot
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_news_once_and_a_delivery_after_it_is_a_recovery() {
        let stats = ExportStats::default();
        let timeout = ExportFailure::Other {
            problem: "x".into(),
        };
        assert_eq!(
            stats.failed(10, 0, &timeout),
            Change::Failing(timeout.clone())
        );
        assert_eq!(stats.failed(10, 0, &timeout), Change::Same);
        assert!(stats.failing());
        assert_eq!(stats.delivered(5), Change::Recovered);
        assert_eq!(stats.delivered(5), Change::Same);
        assert_eq!(stats.spans_failed.load(Ordering::Relaxed), 20);
        assert_eq!(stats.spans_exported.load(Ordering::Relaxed), 10);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot["failing"], false);
        assert_eq!(snapshot["last_failure"]["kind"], "export failed");
    }
}
