//! The traces and spans of a time window, for the aggregate views (service map, RED,
//! errors), and the statistics they share.

use crate::store::table::{BLOCK, SpanRow, Table, TraceEntry};

/// A window of time: spans that started at or after `from` (and before `until`).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: u64,
    pub now: u64,
    /// Spans starting at or after this are outside; `u64::MAX` for a window ending now (a span
    /// from a clock running ahead still counts).
    pub until: u64,
}

impl Window {
    pub fn last(length: u64, now: u64) -> Window {
        Window {
            from: now.saturating_sub(length),
            now,
            until: u64::MAX,
        }
    }

    /// The `length` that ended `offset` ago: the period before a recent one, to compare with.
    pub fn earlier(length: u64, offset: u64, now: u64) -> Window {
        if offset == 0 {
            return Window::last(length, now);
        }
        let until = now.saturating_sub(offset);
        Window {
            from: until.saturating_sub(length),
            now,
            until,
        }
    }

    /// From `from` to `now`, open at the end.
    pub fn since(from: u64, now: u64) -> Window {
        Window {
            from,
            now,
            until: u64::MAX,
        }
    }

    pub fn contains(&self, span: &SpanRow) -> bool {
        span.start >= self.from && span.start < self.until
    }

    /// Where the window ends: now, or earlier for a window in the past.
    fn end(&self) -> u64 {
        self.now.min(self.until)
    }

    /// Traces with at least one span in the window, newest first; blocks that end before
    /// the window are skipped whole.
    pub fn traces<'t>(&self, table: &'t Table) -> Vec<&'t TraceEntry> {
        let mut out = Vec::new();
        let first = table.traces().next().map_or(0, |(seq, _)| seq);
        let mut seq = table.end_seq();
        while seq > first {
            let block_start = ((seq - 1) / BLOCK * BLOCK).max(first);
            if table
                .block_of(seq - 1)
                .is_none_or(|block| block.max_end >= self.from)
            {
                for s in (block_start..seq).rev() {
                    if let Some(trace) = table.trace_by_seq(s)
                        && trace.end >= self.from
                    {
                        out.push(trace);
                    }
                }
            }
            seq = block_start;
        }
        out
    }

    /// Of the traces `seqs` lists (oldest first, as an index list is), those with at least
    /// one span in the window, newest first. Walking the list, not the table, makes a filter
    /// that matches a few traces in many (one participant's of thirty) cost its own share.
    pub fn traces_among<'t>(
        &self,
        table: &'t Table,
        seqs: &std::collections::VecDeque<u64>,
    ) -> Vec<&'t TraceEntry> {
        seqs.iter()
            .rev()
            .filter(|&&seq| {
                table
                    .block_of(seq)
                    .is_none_or(|block| block.max_end >= self.from)
            })
            .filter_map(|&seq| table.trace_by_seq(seq))
            .filter(|trace| trace.end >= self.from)
            .collect()
    }

    /// The seconds the rates are over: the window, or less when the store holds less (a
    /// store started two minutes ago has two minutes of traffic, not fifteen).
    pub fn seconds(&self, earliest_seen: Option<u64>) -> f64 {
        let from = earliest_seen.map_or(self.from, |e| e.max(self.from));
        (self.end().saturating_sub(from) as f64 / 1e9).max(1.0)
    }
}

/// Durations collected for percentiles.
#[derive(Debug, Default, Clone)]
pub struct Durations {
    values: Vec<u64>,
    pub errors: usize,
    pub total: u128,
}

impl Durations {
    pub fn add(&mut self, duration: u64, error: bool) {
        self.values.push(duration);
        self.total += u128::from(duration);
        self.errors += usize::from(error);
    }

    pub fn count(&self) -> usize {
        self.values.len()
    }

    /// Sorts once so the percentiles can be read.
    pub fn finish(&mut self) {
        self.values.sort_unstable();
    }

    /// The nearest-rank percentile of the sorted values, in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        let rank = ((q * self.values.len() as f64).ceil() as usize).clamp(1, self.values.len());
        self.values[rank - 1] as f64 / 1e6
    }

    /// How many of the sorted values are longer than `nanos`.
    pub fn longer_than(&self, nanos: u64) -> usize {
        self.values.len() - self.values.partition_point(|&v| v <= nanos)
    }

    pub fn max_ms(&self) -> f64 {
        self.values.last().map_or(0.0, |&v| v as f64 / 1e6)
    }

    pub fn error_rate(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.errors as f64 / self.values.len() as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut d = Durations::default();
        for ms in 1..=100u64 {
            d.add(ms * 1_000_000, ms > 95);
        }
        d.finish();
        assert_eq!(d.percentile_ms(0.5), 50.0);
        assert_eq!(d.percentile_ms(0.95), 95.0);
        assert_eq!(d.percentile_ms(0.99), 99.0);
        assert_eq!(d.max_ms(), 100.0);
        assert_eq!(d.error_rate(), 0.05);
        assert_eq!(d.longer_than(95_000_000), 5);
        assert_eq!(d.longer_than(94_999_999), 6);
        assert_eq!(d.longer_than(0), 100);
        assert_eq!(d.longer_than(u64::MAX), 0);
        assert_eq!(Durations::default().percentile_ms(0.5), 0.0);
    }

    #[test]
    fn short_stores_shorten_the_rate_window() {
        let w = Window::last(900_000_000_000, 1_000_000_000_000);
        assert_eq!(w.seconds(None), 900.0);
        assert_eq!(w.seconds(Some(880_000_000_000)), 120.0);
        assert_eq!(w.seconds(Some(1_000_000_000_000)), 1.0);
    }

    #[test]
    fn an_earlier_window_ends_where_the_recent_one_begins() {
        let now = 1_000_000_000_000;
        let recent = Window::last(60_000_000_000, now);
        let before = Window::earlier(240_000_000_000, 60_000_000_000, now);
        assert_eq!(before.until, recent.from);
        assert_eq!(before.seconds(None), 240.0);
        assert_eq!(Window::earlier(5, 0, now).until, u64::MAX);
    }
}
