//! Postings: for each indexed fact about a span (its service, its name, an error, an
//! attribute value) the traces that have it, oldest first. Traces get increasing sequence
//! numbers as they are first seen and leave oldest first, so every list is sorted, grows at
//! the back and shrinks at the front; a search walks them from the back (newest first).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::attrs::ValueRef;
use super::intern::Sym;

/// Index keys are already hashes; hashing them again would only cost time.
#[derive(Debug, Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A small, fast, well-mixing hash (FNV-1a over bytes, finished with a multiply-xorshift).
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

const SERVICE: u64 = 1;
const NAME: u64 = 2;
const ERROR: u64 = 3;
const ATTR: u64 = 4;

/// Attribute values longer than this are not indexed (they are ids and texts nobody filters
/// on exactly); a filter on them still works, through the other conditions' candidates.
pub const MAX_INDEXED_VALUE: usize = 128;

pub fn service_key(service: Sym) -> u64 {
    mix(SERVICE << 56 ^ u64::from(service.0))
}

pub fn name_key(name: Sym) -> u64 {
    mix(NAME << 56 ^ u64::from(name.0))
}

pub fn error_key() -> u64 {
    mix(ERROR << 56)
}

/// The key of an attribute value a filter can name: strings, integers and booleans, by the
/// text a filter would give.
pub fn attr_key(key: Sym, value: ValueRef<'_>) -> Option<u64> {
    let seed = ATTR << 56 ^ u64::from(key.0);
    match value {
        ValueRef::Str(s) if s.len() <= MAX_INDEXED_VALUE => Some(hash_bytes(seed, s.as_bytes())),
        ValueRef::Int(i) => Some(hash_bytes(seed, decimal(i, &mut [0; 20]))),
        ValueRef::Bool(b) => Some(hash_bytes(seed, if b { b"true" } else { b"false" })),
        _ => None,
    }
}

/// `i` in decimal, as `to_string` writes it, without allocating (this runs for every
/// integer attribute of every span stored).
fn decimal(i: i64, digits: &mut [u8; 20]) -> &[u8] {
    let mut n = i.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    &digits[at..]
}

/// The key a filter `key=text` looks up.
pub fn attr_filter_key(key: Sym, text: &str) -> Option<u64> {
    (text.len() <= MAX_INDEXED_VALUE)
        .then(|| hash_bytes(ATTR << 56 ^ u64::from(key.0), text.as_bytes()))
}

type Lists = HashMap<u64, VecDeque<u64>, BuildHasherDefault<PassThrough>>;

/// Pairs of numbers already well spread (a key is a hash, a trace a sequence number): one
/// multiply per number instead of SipHash, which showed in the explorer's profile under load.
#[derive(Debug, Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Whether sorted `list` holds `trace`. A late span's trace is nearly always among the newest
/// few, while a service's list holds nearly every trace stored: galloping from the back finds
/// it in a few probes of memory already in cache, where a binary search over the whole list
/// touches a cold cache line at each of its twenty steps.
fn contains_from_back(list: &VecDeque<u64>, trace: u64) -> bool {
    let len = list.len();
    // Invariant: every element at `end` or after is greater than `trace`.
    let mut end = len;
    let mut step = 1;
    let start = loop {
        let probe = len.saturating_sub(step);
        if list[probe] <= trace {
            break probe;
        }
        if probe == 0 {
            return false;
        }
        end = probe;
        step *= 2;
    };
    // Now list[start] <= trace < list[end] (or `end` is the length): search between.
    let (mut low, mut high) = (start, end);
    while low < high {
        let middle = low + (high - low) / 2;
        match list[middle].cmp(&trace) {
            std::cmp::Ordering::Equal => return true,
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
        }
    }
    false
}

#[derive(Debug, Default)]
pub struct Index {
    lists: Lists,
    entries: usize,
    /// Entries of older traces than their list's newest (late spans), added since the last
    /// [`Index::settle`]. Inserting each into the middle of its list made a request of late
    /// spans for many old traces quadratic; merging them once per batch is linear.
    late: HashSet<(u64, u64), BuildHasherDefault<PairHasher>>,
}

impl Index {
    /// Records that trace `trace` has `key`; false when it already was. A late entry (an
    /// older trace than the list's newest) only shows in the list after [`Index::settle`].
    pub fn add(&mut self, key: u64, trace: u64) -> bool {
        let list = self.lists.entry(key).or_default();
        match list.back() {
            Some(&last) if last == trace => return false,
            Some(&last) if last > trace => {
                if contains_from_back(list, trace) || !self.late.insert((key, trace)) {
                    return false;
                }
            }
            _ => list.push_back(trace),
        }
        self.entries += 1;
        true
    }

    /// Merges the late entries into their lists, keeping every list sorted; the table calls
    /// it at the end of each insert, before anything reads or evicts.
    pub fn settle(&mut self) {
        if self.late.is_empty() {
            return;
        }
        let mut late: Vec<(u64, u64)> = self.late.drain().collect();
        late.sort_unstable();
        for group in late.chunk_by(|a, b| a.0 == b.0) {
            let Some(list) = self.lists.get_mut(&group[0].0) else {
                continue;
            };
            // Only the part of the list from the oldest late trace on is merged: late spans
            // are mostly of traces near the back, and rebuilding whole lists (a service's
            // list holds nearly every trace) made each batch cost the size of the store.
            let at = list.partition_point(|&trace| trace < group[0].1);
            let tail: Vec<u64> = list.drain(at..).collect();
            let mut new = group.iter().map(|&(_, trace)| trace).peekable();
            for trace in tail {
                while let Some(earlier) = new.next_if(|&n| n < trace) {
                    list.push_back(earlier);
                }
                list.push_back(trace);
            }
            list.extend(new);
        }
    }

    /// Forgets trace `trace` under `key`, where it is the oldest trace of the list (which
    /// eviction guarantees).
    pub fn remove_oldest(&mut self, key: u64, trace: u64) {
        let Some(list) = self.lists.get_mut(&key) else {
            return;
        };
        if list.front() == Some(&trace) {
            list.pop_front();
            self.entries -= 1;
            if list.is_empty() {
                self.lists.remove(&key);
            } else if list.capacity() > 64 && list.len() < list.capacity() / 4 {
                list.shrink_to(list.len() * 2);
            }
        }
    }

    /// The traces under `key`, oldest first.
    pub fn list(&self, key: u64) -> Option<&VecDeque<u64>> {
        self.lists.get(&key)
    }

    pub fn clear(&mut self) {
        self.lists.clear();
        self.late.clear();
        self.entries = 0;
    }

    /// An estimate of the memory held: each list's slots plus the map's bookkeeping.
    pub fn bytes(&self) -> usize {
        self.entries * 8 * 5 / 4 + self.lists.len() * 72
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_stay_sorted_and_deduplicated() {
        let mut index = Index::default();
        assert!(index.add(7, 1));
        assert!(!index.add(7, 1));
        assert!(index.add(7, 3));
        assert!(index.add(7, 2));
        assert!(!index.add(7, 2));
        index.settle();
        assert_eq!(index.list(7).expect("list"), &[1, 2, 3]);
        index.remove_oldest(7, 2); // not the oldest: ignored
        index.remove_oldest(7, 1);
        assert_eq!(index.list(7).expect("list"), &[2, 3]);
        index.remove_oldest(7, 2);
        index.remove_oldest(7, 3);
        assert!(index.list(7).is_none());
        assert_eq!(index.bytes(), 0);
    }

    #[test]
    fn late_entries_merge_in_order() {
        let mut index = Index::default();
        for trace in [10, 20, 30] {
            assert!(index.add(1, trace));
        }
        assert!(index.add(2, 40));
        // Late entries, out of order and repeated, in two lists.
        for trace in [25, 5, 15, 25, 35, 5] {
            index.add(1, trace);
        }
        assert!(!index.add(1, 20), "already listed");
        assert!(!index.add(1, 15), "already pending");
        assert!(index.add(2, 1));
        index.settle();
        assert_eq!(index.list(1).expect("list"), &[5, 10, 15, 20, 25, 30, 35]);
        assert_eq!(index.list(2).expect("list"), &[1, 40]);
        assert_eq!(index.entries, 7 + 2);
        assert!(!index.add(1, 25));
        for trace in [1, 5, 10, 15, 20, 25, 30, 35, 40] {
            index.remove_oldest(1, trace);
            index.remove_oldest(2, trace);
        }
        assert_eq!(index.bytes(), 0);
    }

    /// A request of late spans for many old traces costs a merge, not an insertion into the
    /// middle of a long list per span.
    #[test]
    fn many_late_entries_are_linear() {
        let mut index = Index::default();
        let n = 400_000u64;
        for trace in 0..n {
            index.add(1, 2 * trace + 1);
        }
        for j in 0..n {
            index.add(1, (j * 7919 % n) * 2);
        }
        index.settle();
        let list = index.list(1).expect("list");
        // Half a second in a debug build; inserting each into the middle of the list took
        // about 11 s (not asserted: timings belong in benchmarks).
        assert!(list.iter().copied().eq(0..2 * n));
    }

    /// The search from the back agrees with a plain search wherever the trace falls: before
    /// the list, at either end, between two entries, deep in a long list.
    #[test]
    fn the_search_from_the_back_finds_exactly_what_is_listed() {
        let list: VecDeque<u64> = (0..1000u64).map(|i| 3 * i + 1).collect();
        for trace in 0..3002u64 {
            assert_eq!(
                contains_from_back(&list, trace),
                list.binary_search(&trace).is_ok(),
                "trace {trace}"
            );
        }
        let single: VecDeque<u64> = VecDeque::from([5]);
        assert!(contains_from_back(&single, 5));
        assert!(!contains_from_back(&single, 4));
    }

    /// Any order of additions, late ones included, ends as the sorted set of what was added,
    /// counted once each.
    #[test]
    fn lists_match_a_plain_set_whatever_the_order() {
        use std::collections::BTreeSet;
        let mut index = Index::default();
        let mut model: HashMap<u64, BTreeSet<u64>> = HashMap::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50u64 {
            for _ in 0..200 {
                let key = next() % 5;
                // Mostly new traces, some a little late, a few much older.
                let trace = match next() % 10 {
                    0 => next() % (round * 40 + 1),
                    1..=3 => (round * 40).saturating_sub(next() % 30),
                    _ => round * 40 + next() % 40,
                };
                let added = index.add(key, trace);
                assert_eq!(added, model.entry(key).or_default().insert(trace));
            }
            index.settle();
            for (key, traces) in &model {
                let list = index.list(*key).expect("list");
                assert!(list.iter().eq(traces.iter()), "key {key}, round {round}");
            }
        }
        assert_eq!(
            index.entries,
            model.values().map(BTreeSet::len).sum::<usize>()
        );
    }

    #[test]
    fn integers_are_written_as_to_string_writes_them() {
        for i in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            200,
            503,
            i64::MAX,
            i64::MIN,
            -1_000_000_007,
        ] {
            assert_eq!(decimal(i, &mut [0; 20]), i.to_string().as_bytes());
        }
    }

    #[test]
    fn filter_keys_match_value_keys() {
        let key = Sym(3);
        assert_eq!(
            attr_key(key, ValueRef::Str("gold")),
            attr_filter_key(key, "gold")
        );
        assert_eq!(
            attr_key(key, ValueRef::Int(503)),
            attr_filter_key(key, "503")
        );
        assert_eq!(
            attr_key(key, ValueRef::Bool(true)),
            attr_filter_key(key, "true")
        );
        assert_ne!(
            attr_filter_key(key, "gold"),
            attr_filter_key(Sym(4), "gold")
        );
        assert_eq!(attr_key(key, ValueRef::Double(1.0)), None);
    }
}
