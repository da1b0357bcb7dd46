//! The first-in-first-out buffers that keep metrics and log records: bounded by item count
//! and by an estimate of the bytes they take, oldest evicted first.
//!
//! What a caller keeps beside a ring's items (the log records' trace index) is a
//! [`Tracker`]: told of every item that enters or leaves, and counted in the byte bound, so
//! an index cannot grow the memory past what the bound promises.

use std::collections::VecDeque;

use serde_json::Value;

use super::{StoredLog, StoredMetric};

/// An estimate of the heap and inline bytes an item keeps, for a [`Ring`]'s byte bound.
pub(crate) trait Footprint {
    fn footprint(&self) -> usize;
}

/// Bytes of a JSON value and what it owns.
fn json_footprint(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::String(s) => s.len(),
            Value::Array(items) => items.iter().map(json_footprint).sum(),
            Value::Object(map) => map_footprint(map),
            _ => 0,
        }
}

/// Bytes of a map's keys and values (a JSON object's or a `BTreeMap`'s entries).
fn map_footprint<'a>(entries: impl IntoIterator<Item = (&'a String, &'a Value)>) -> usize {
    entries
        .into_iter()
        .map(|(k, v)| k.len() + std::mem::size_of::<String>() + json_footprint(v))
        .sum()
}

impl Footprint for StoredMetric {
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.name.len()
            + self.unit.len()
            + self.kind.len()
            + map_footprint(&self.resource)
            + self
                .point_attributes
                .iter()
                .map(|m| std::mem::size_of_val(m) + map_footprint(m))
                .sum::<usize>()
            + self.histogram_counts.len() * 8
    }
}

impl Footprint for StoredLog {
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.severity_text.len()
            + self.body.len()
            + self.trace_id.len()
            + self.span_id.len()
            + map_footprint(&self.attributes)
            + map_footprint(&self.resource)
    }
}

/// Something kept beside a ring's items and in step with them.
pub(crate) trait Tracker<T> {
    /// `item` was appended at the back.
    fn entered(&mut self, item: &T);
    /// `item`, the oldest, left from the front.
    fn left(&mut self, item: &T);
    /// What the tracker takes now, counted in the ring's byte bound.
    fn bytes(&self) -> usize;
}

/// The tracker of a ring that keeps nothing beside its items.
impl<T> Tracker<T> for () {
    fn entered(&mut self, _: &T) {}
    fn left(&mut self, _: &T) {}
    fn bytes(&self) -> usize {
        0
    }
}

/// A FIFO that evicts its oldest items beyond `max` items or `max_bytes` bytes.
#[derive(Debug)]
pub(crate) struct Ring<T> {
    /// Oldest first.
    pub(crate) items: VecDeque<T>,
    /// The footprint of each item, in the same order.
    footprints: VecDeque<usize>,
    max: usize,
    max_bytes: usize,
    /// What the items take (a tracker's bytes are its own to report).
    pub(crate) bytes: usize,
    pub(crate) dropped: u64,
}

impl<T: Footprint> Ring<T> {
    pub(crate) fn new(max: usize, max_bytes: usize) -> Self {
        Ring {
            items: VecDeque::new(),
            footprints: VecDeque::new(),
            max,
            max_bytes,
            bytes: 0,
            dropped: 0,
        }
    }

    pub(crate) fn extend(&mut self, batch: Vec<T>) {
        self.extend_tracked(batch, &mut ());
    }

    /// Appends the batch, evicting the oldest items while the ring holds more than `max`
    /// items or its items and `tracker` together take more than `max_bytes`.
    pub(crate) fn extend_tracked(&mut self, batch: Vec<T>, tracker: &mut impl Tracker<T>) {
        // Only the newest `max` of the batch can stay; the rest never enter.
        let skip = batch.len().saturating_sub(self.max);
        self.dropped += skip as u64;
        for item in batch.into_iter().skip(skip) {
            let bytes = item.footprint();
            self.bytes += bytes;
            tracker.entered(&item);
            self.items.push_back(item);
            self.footprints.push_back(bytes);
            while self.items.len() > self.max
                || self.bytes.saturating_add(tracker.bytes()) > self.max_bytes
            {
                let (Some(gone), Some(gone_bytes)) =
                    (self.items.pop_front(), self.footprints.pop_front())
                else {
                    break;
                };
                tracker.left(&gone);
                self.bytes -= gone_bytes;
                self.dropped += 1;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.footprints.clear();
        self.bytes = 0;
    }
}
