//! Attributes packed into one byte buffer per span (or resource, event, link): an interned
//! key, a tag and the value, one after the other. A span's dozen attributes then cost a few
//! hundred bytes in one allocation instead of a map of owned strings, which is what keeps a
//! stored span under a kilobyte.

use serde_json::{Number, Value};

use super::intern::{Interner, Sym};

/// A borrowed attribute value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// Arrays, maps and bytes, kept as their JSON text.
    Json(&'a str),
}

const NULL: u8 = 0;
const STR: u8 = 1;
const INT: u8 = 2;
const DOUBLE: u8 = 3;
const TRUE: u8 = 4;
const FALSE: u8 = 5;
const JSON: u8 = 6;

impl ValueRef<'_> {
    /// The value's JSON form, as the API shows it.
    pub fn to_json(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Str(s) => Value::String(s.to_owned()),
            ValueRef::Int(i) => Value::from(i),
            ValueRef::Double(d) => double_to_json(d),
            ValueRef::Bool(b) => Value::Bool(b),
            // Written by `encode_json` from a valid Value, so it parses.
            ValueRef::Json(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        }
    }

    /// Whether `wanted` (a filter's value) names this value.
    pub fn matches(self, wanted: &str) -> bool {
        match self {
            ValueRef::Str(s) => s == wanted,
            ValueRef::Int(i) => wanted.parse::<i64>() == Ok(i),
            ValueRef::Bool(b) => wanted == if b { "true" } else { "false" },
            _ => false,
        }
    }
}

/// JSON has no NaN or infinities; spell them the way OTLP/JSON does.
pub fn double_to_json(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("NaN".to_owned()),
        None if d > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

fn push_len(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends one attribute to a buffer being built.
pub fn push(out: &mut Vec<u8>, key: Sym, value: ValueRef<'_>) {
    out.extend_from_slice(&key.0.to_le_bytes());
    match value {
        ValueRef::Null => out.push(NULL),
        ValueRef::Str(s) => {
            out.push(STR);
            push_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        ValueRef::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Double(d) => {
            out.push(DOUBLE);
            out.extend_from_slice(&d.to_le_bytes());
        }
        ValueRef::Bool(b) => out.push(if b { TRUE } else { FALSE }),
        ValueRef::Json(text) => {
            out.push(JSON);
            push_len(out, text.len());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// Appends a JSON value: scalars keep their kind, the rest is kept as JSON text.
pub fn push_json(out: &mut Vec<u8>, key: Sym, value: &Value) {
    match value {
        Value::Null => push(out, key, ValueRef::Null),
        Value::Bool(b) => push(out, key, ValueRef::Bool(*b)),
        Value::String(s) => push(out, key, ValueRef::Str(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => push(out, key, ValueRef::Int(i)),
            None => push(out, key, ValueRef::Double(n.as_f64().unwrap_or(f64::NAN))),
        },
        other => push(out, key, ValueRef::Json(&other.to_string())),
    }
}

/// Reads the attributes of a buffer written by [`push`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

/// The attributes packed in `buffer`.
pub fn iter(buffer: &[u8]) -> Iter<'_> {
    Iter { rest: buffer }
}

impl<'a> Iter<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            self.rest = &[];
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn len(&mut self) -> Option<usize> {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let byte = *self.take(1)?.first()?;
            len |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(len);
            }
            shift += 7;
            if shift > 56 {
                return None;
            }
        }
    }

    fn text(&mut self) -> Option<&'a str> {
        let len = self.len()?;
        // Written from &str, so always UTF-8.
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn eight(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Sym, ValueRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let key = Sym(u32::from_le_bytes(self.take(4)?.try_into().ok()?));
        let tag = *self.take(1)?.first()?;
        let value = match tag {
            NULL => ValueRef::Null,
            STR => ValueRef::Str(self.text()?),
            INT => ValueRef::Int(i64::from_le_bytes(self.eight()?)),
            DOUBLE => ValueRef::Double(f64::from_le_bytes(self.eight()?)),
            TRUE => ValueRef::Bool(true),
            FALSE => ValueRef::Bool(false),
            JSON => ValueRef::Json(self.text()?),
            _ => {
                self.rest = &[];
                return None;
            }
        };
        Some((key, value))
    }
}

/// The value of `key` in `buffer` (the last one wins, as in a map).
pub fn get(buffer: &[u8], key: Sym) -> Option<ValueRef<'_>> {
    iter(buffer)
        .filter(|(k, _)| *k == key)
        .last()
        .map(|(_, v)| v)
}

/// The attributes as a JSON map (later duplicates win).
pub fn to_map(buffer: &[u8], interner: &Interner) -> std::collections::BTreeMap<String, Value> {
    iter(buffer)
        .map(|(key, value)| (interner.text(key).to_owned(), value.to_json()))
        .collect()
}

/// Releases the key of every attribute in `buffer`.
pub fn release_keys(buffer: &[u8], interner: &mut Interner) {
    for (key, _) in iter(buffer) {
        interner.release(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut interner = Interner::default();
        let mut buffer = Vec::new();
        let keys: Vec<Sym> = ["s", "i", "d", "t", "f", "n", "j", "long"]
            .iter()
            .map(|k| interner.intern(k))
            .collect();
        let long = "x".repeat(300);
        push(&mut buffer, keys[0], ValueRef::Str("gold"));
        push(&mut buffer, keys[1], ValueRef::Int(-42));
        push(&mut buffer, keys[2], ValueRef::Double(1.5));
        push(&mut buffer, keys[3], ValueRef::Bool(true));
        push(&mut buffer, keys[4], ValueRef::Bool(false));
        push(&mut buffer, keys[5], ValueRef::Null);
        push_json(&mut buffer, keys[6], &serde_json::json!([1, "a"]));
        push(&mut buffer, keys[7], ValueRef::Str(&long));
        let map = to_map(&buffer, &interner);
        assert_eq!(map["s"], "gold");
        assert_eq!(map["i"], -42);
        assert_eq!(map["d"], 1.5);
        assert_eq!(map["t"], true);
        assert_eq!(map["f"], false);
        assert_eq!(map["n"], Value::Null);
        assert_eq!(map["j"], serde_json::json!([1, "a"]));
        assert_eq!(map["long"], long.as_str());
        assert_eq!(get(&buffer, keys[1]), Some(ValueRef::Int(-42)));
        assert!(ValueRef::Int(200).matches("200"));
        assert!(ValueRef::Bool(true).matches("true"));
        assert!(!ValueRef::Str("gold").matches("Gold"));
    }

    #[test]
    fn a_cut_buffer_ends_the_iteration_without_panicking() {
        let mut interner = Interner::default();
        let key = interner.intern("k");
        let mut buffer = Vec::new();
        push(&mut buffer, key, ValueRef::Str("hello"));
        for cut in 0..buffer.len() {
            assert!(iter(&buffer[..cut]).count() <= 1);
        }
    }
}
