//! Interned strings with reference counts: span names, service names, scope names and
//! attribute keys repeat across millions of spans, so each is kept once and spans hold a
//! 4-byte [`Sym`]. Counting references lets a string go when the last span using it is
//! evicted, so an exporter sending ever-new names cannot grow the store without bound.

use std::collections::HashMap;
use std::sync::Arc;

/// A handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub u32);

#[derive(Debug)]
struct Entry {
    text: Arc<str>,
    refs: u32,
}

#[derive(Debug, Default)]
pub struct Interner {
    by_text: HashMap<Arc<str>, u32>,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Heap bytes of the strings themselves, for the store's byte bound.
    text_bytes: usize,
}

impl Interner {
    /// The symbol for `text`, adding one reference.
    pub fn intern(&mut self, text: &str) -> Sym {
        if let Some(&id) = self.by_text.get(text) {
            if let Some(entry) = &mut self.entries[id as usize] {
                entry.refs += 1;
            }
            return Sym(id);
        }
        let text: Arc<str> = Arc::from(text);
        self.text_bytes += text.len();
        let entry = Entry {
            text: text.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                u32::try_from(self.entries.len() - 1).expect("fewer than 2^32 distinct strings")
            }
        };
        self.by_text.insert(text, id);
        Sym(id)
    }

    /// Adds a reference to a symbol already held.
    pub fn retain(&mut self, sym: Sym) {
        if let Some(Some(entry)) = self.entries.get_mut(sym.0 as usize) {
            entry.refs += 1;
        }
    }

    /// Drops one reference; the string goes with the last.
    pub fn release(&mut self, sym: Sym) {
        let Some(slot) = self.entries.get_mut(sym.0 as usize) else {
            return;
        };
        let Some(entry) = slot else { return };
        entry.refs -= 1;
        if entry.refs == 0 {
            self.text_bytes -= entry.text.len();
            self.by_text.remove(&*entry.text);
            *slot = None;
            self.free.push(sym.0);
            if self.by_text.is_empty() {
                // The last string went: drop the empty slots too, so an emptied store
                // accounts (and holds) nothing rather than its high-water mark of strings.
                self.entries = Vec::new();
                self.free = Vec::new();
            }
        }
    }

    /// The symbol of `text` if it is interned, without adding a reference (for queries).
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.by_text.get(text).map(|&id| Sym(id))
    }

    /// The text of a live symbol.
    pub fn text(&self, sym: Sym) -> &str {
        self.entries
            .get(sym.0 as usize)
            .and_then(Option::as_ref)
            .map_or("", |entry| &entry.text)
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }

    /// An estimate of the memory held: texts plus per-entry bookkeeping.
    pub fn bytes(&self) -> usize {
        const PER_ENTRY: usize = 16 + 4 + 8 + 16 + 4 + 16; // map slot, entry, Arc header
        self.text_bytes + self.entries.len() * PER_ENTRY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_shared_and_freed_with_their_last_reference() {
        let mut interner = Interner::default();
        let a = interner.intern("GET /cart");
        let b = interner.intern("GET /cart");
        assert_eq!(a, b);
        assert_eq!(interner.text(a), "GET /cart");
        interner.release(a);
        assert_eq!(interner.lookup("GET /cart"), Some(a));
        interner.release(b);
        assert_eq!(interner.lookup("GET /cart"), None);
        assert_eq!(interner.len(), 0);
        // The slot is reused.
        let c = interner.intern("POST /checkout");
        assert_eq!(c, a);
        assert_eq!(interner.bytes(), "POST /checkout".len() + 64);
    }

    #[test]
    fn an_emptied_interner_accounts_nothing() {
        let mut interner = Interner::default();
        let syms: Vec<Sym> = (0..100).map(|n| interner.intern(&n.to_string())).collect();
        assert!(interner.bytes() > 100 * 64);
        for &sym in &syms[..99] {
            interner.release(sym);
        }
        // Free slots still count while any string is held...
        assert!(interner.bytes() > 100 * 64, "{}", interner.bytes());
        interner.release(syms[99]);
        // ...but not once the last one went.
        assert_eq!(interner.bytes(), 0);
        assert!(interner.is_empty());
        // Stale symbols read as nothing rather than panicking.
        assert_eq!(interner.text(syms[50]), "");
        interner.release(syms[50]);
        interner.retain(syms[50]);
        assert_eq!(interner.intern("x"), Sym(0));
    }
}
