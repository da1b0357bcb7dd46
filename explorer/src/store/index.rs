//! Postings: for each indexed fact about a span (its service, its name, an error, an
//! attribute value) the traces that have it, oldest first. Traces get increasing sequence
//! numbers as they are first seen and leave oldest first, so every list is sorted, grows at
//! the back and shrinks at the front; a search walks them from the back (newest first).

use std::collections::{HashMap, VecDeque};
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
        ValueRef::Int(i) => Some(hash_bytes(seed, i.to_string().as_bytes())),
        ValueRef::Bool(b) => Some(hash_bytes(seed, if b { b"true" } else { b"false" })),
        _ => None,
    }
}

/// The key a filter `key=text` looks up.
pub fn attr_filter_key(key: Sym, text: &str) -> Option<u64> {
    (text.len() <= MAX_INDEXED_VALUE)
        .then(|| hash_bytes(ATTR << 56 ^ u64::from(key.0), text.as_bytes()))
}

type Lists = HashMap<u64, VecDeque<u64>, BuildHasherDefault<PassThrough>>;

#[derive(Debug, Default)]
pub struct Index {
    lists: Lists,
    entries: usize,
}

impl Index {
    /// Records that trace `trace` has `key`; false when it already was.
    pub fn add(&mut self, key: u64, trace: u64) -> bool {
        let list = self.lists.entry(key).or_default();
        match list.back() {
            Some(&last) if last == trace => return false,
            Some(&last) if last > trace => {
                // A late span of an older trace: find its place (near the back, usually).
                match list.binary_search(&trace) {
                    Ok(_) => return false,
                    Err(at) => list.insert(at, trace),
                }
            }
            _ => list.push_back(trace),
        }
        self.entries += 1;
        true
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
