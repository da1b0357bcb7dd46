//! The stored log records, with an index from trace id to the records of that trace.
//!
//! The trace view shows each span's log records. Finding them by a scan of every stored
//! record would cost the whole store (up to a million records) per page view, and the UI
//! fetches a trace every few seconds while it is open; the index makes it cost the trace's
//! own records. The index lives and dies with the records (it is the ring's [`Tracker`]) and
//! its bytes count in the logs' byte bound.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use super::StoredLog;
use super::ring::{Ring, Tracker};
use super::table::{TraceId, unhex};

/// Bytes of one trace's entry in the map: the id, the list's header and the table's control
/// byte, with the load-factor slack of a hash table.
const MAP_ENTRY: usize = (16 + std::mem::size_of::<VecDeque<u64>>() + 1) * 8 / 7;

/// Log records, oldest first, within a count and a byte bound.
#[derive(Debug)]
pub struct Logs {
    ring: Ring<StoredLog>,
    index: TraceIndex,
}

/// For each trace, the arrival numbers of its records; a record's place in the ring is its
/// arrival number less the front's.
#[derive(Debug, Default)]
struct TraceIndex {
    /// Arrival number of the ring's front record.
    front: u64,
    /// Arrival number of the next record to enter.
    next: u64,
    /// Oldest first in each list, as records leave oldest first.
    by_trace: HashMap<TraceId, VecDeque<u64>>,
    /// What the lists' buffers take: their capacity, which a list keeps until it is dropped.
    list_bytes: usize,
}

/// The trace a record belongs to; `None` for a record outside any trace.
fn trace_of(log: &StoredLog) -> Option<TraceId> {
    unhex::<16>(&log.trace_id).filter(|id| *id != [0; 16])
}

impl Tracker<StoredLog> for TraceIndex {
    fn entered(&mut self, log: &StoredLog) {
        let seq = self.next;
        self.next += 1;
        if let Some(id) = trace_of(log) {
            let list = self.by_trace.entry(id).or_default();
            let before = list.capacity();
            list.push_back(seq);
            self.list_bytes += (list.capacity() - before) * 8;
        }
    }

    fn left(&mut self, log: &StoredLog) {
        let seq = self.front;
        self.front += 1;
        let Some(id) = trace_of(log) else {
            return;
        };
        if let Entry::Occupied(mut entry) = self.by_trace.entry(id) {
            let list = entry.get_mut();
            if list.front() == Some(&seq) {
                list.pop_front();
            }
            if list.is_empty() {
                self.list_bytes -= list.capacity() * 8;
                entry.remove();
                // A burst of traces leaves a large table behind; give it back once it is
                // mostly empty, as the span index does with its lists.
                let (len, capacity) = (self.by_trace.len(), self.by_trace.capacity());
                if capacity > 64 && len < capacity / 4 {
                    self.by_trace.shrink_to(len * 2);
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        self.by_trace.capacity() * MAP_ENTRY + self.list_bytes
    }
}

impl Logs {
    pub(crate) fn new(max: usize, max_bytes: usize) -> Logs {
        Logs {
            ring: Ring::new(max, max_bytes),
            index: TraceIndex::default(),
        }
    }

    pub(crate) fn extend(&mut self, batch: Vec<StoredLog>) {
        self.ring.extend_tracked(batch, &mut self.index);
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.index = TraceIndex {
            front: self.index.next,
            next: self.index.next,
            ..TraceIndex::default()
        };
    }

    /// The records of one trace, in arrival order.
    pub fn of_trace(&self, trace: &TraceId) -> Vec<&StoredLog> {
        let Some(seqs) = self.index.by_trace.get(trace) else {
            return Vec::new();
        };
        seqs.iter()
            .filter_map(|&seq| {
                let at = usize::try_from(seq.checked_sub(self.index.front)?).ok()?;
                self.ring.items.get(at)
            })
            .collect()
    }

    /// Every record, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &StoredLog> {
        self.ring.items.iter()
    }

    /// Every record as one slice, oldest first (for the waiting helpers' predicates).
    pub(crate) fn as_slice(&mut self) -> &[StoredLog] {
        self.ring.items.make_contiguous()
    }

    pub fn len(&self) -> usize {
        self.ring.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.items.is_empty()
    }

    /// The estimated bytes the records and their index take.
    pub fn bytes(&self) -> usize {
        self.ring.bytes + self.index.bytes()
    }

    /// Records evicted to stay within the bounds.
    pub fn dropped(&self) -> u64 {
        self.ring.dropped
    }

    /// Traces the index lists (for tests: none once every record of them is gone).
    pub fn indexed_traces(&self) -> usize {
        self.index.by_trace.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    fn log(trace: u8, n: u64) -> StoredLog {
        StoredLog {
            time_unix_nanos: n,
            severity_text: "INFO".into(),
            severity_number: 9,
            body: format!("record {n}"),
            trace_id: if trace == 0 {
                String::new()
            } else {
                format!("{trace:032x}")
            },
            span_id: format!("{n:016x}"),
            attributes: BTreeMap::new(),
            resource: BTreeMap::from([("service.name".to_owned(), Value::from("payment"))]),
        }
    }

    fn bodies(logs: &Logs, trace: u8) -> Vec<String> {
        let id = unhex::<16>(&format!("{trace:032x}")).expect("an id");
        logs.of_trace(&id).iter().map(|l| l.body.clone()).collect()
    }

    #[test]
    fn records_are_found_by_trace_in_arrival_order() {
        let mut logs = Logs::new(100, usize::MAX);
        logs.extend(vec![log(1, 1), log(2, 2), log(0, 3), log(1, 4)]);
        logs.extend(vec![log(2, 5), log(1, 6)]);
        assert_eq!(bodies(&logs, 1), ["record 1", "record 4", "record 6"]);
        assert_eq!(bodies(&logs, 2), ["record 2", "record 5"]);
        assert!(bodies(&logs, 3).is_empty());
        assert_eq!(
            logs.indexed_traces(),
            2,
            "a record outside a trace is not indexed"
        );
    }

    /// Evicted records leave the index with them, and the lookups stay right after the
    /// front has moved and after a clear.
    #[test]
    fn the_index_follows_evictions_and_clears() {
        let mut logs = Logs::new(3, usize::MAX);
        logs.extend(vec![log(1, 1), log(2, 2), log(1, 3), log(3, 4)]);
        assert_eq!(bodies(&logs, 1), ["record 3"]);
        assert_eq!(bodies(&logs, 2), ["record 2"]);
        logs.extend(vec![log(4, 5), log(4, 6)]);
        assert!(bodies(&logs, 1).is_empty() && bodies(&logs, 2).is_empty());
        assert_eq!(bodies(&logs, 4), ["record 5", "record 6"]);
        assert_eq!(logs.indexed_traces(), 2);
        logs.clear();
        assert_eq!(logs.indexed_traces(), 0);
        assert_eq!(logs.bytes(), 0);
        logs.extend(vec![log(4, 7)]);
        assert_eq!(bodies(&logs, 4), ["record 7"]);
    }

    /// The index counts in the byte bound: records of many traces leave room for fewer of
    /// them than the records alone would take, and the estimate never passes the bound.
    #[test]
    fn the_index_counts_in_the_byte_bound() {
        let bound = 64 * 1024;
        let mut logs = Logs::new(usize::MAX, bound);
        let mut plain = Ring::<StoredLog>::new(usize::MAX, bound);
        for n in 0..5_000u64 {
            let record = log(u8::try_from(n % 250).expect("small") + 1, n);
            plain.extend(vec![record.clone()]);
            logs.extend(vec![record]);
            assert!(logs.bytes() <= bound, "{} bytes after {n}", logs.bytes());
        }
        assert!(logs.index.bytes() > 0);
        assert!(
            logs.len() < plain.items.len(),
            "{} records kept beside the index, {} without it",
            logs.len(),
            plain.items.len()
        );
        assert_eq!(logs.len() as u64 + logs.dropped(), 5_000);
    }
}
