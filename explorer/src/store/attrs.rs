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
    /// Arrays, maps and bytes: their JSON value, packed by [`push_nested`].
    Nested(&'a [u8]),
}

const NULL: u8 = 0;
const STR: u8 = 1;
const INT: u8 = 2;
const DOUBLE: u8 = 3;
const TRUE: u8 = 4;
const FALSE: u8 = 5;
const NESTED: u8 = 6;
// Only inside a nested value.
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;
const UINT: u8 = 9;

impl ValueRef<'_> {
    /// The value's JSON form, as the API shows it.
    pub fn to_json(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Str(s) => Value::String(s.to_owned()),
            ValueRef::Int(i) => Value::from(i),
            ValueRef::Double(d) => double_to_json(d),
            ValueRef::Bool(b) => Value::Bool(b),
            // Written by `push_nested` from a Value, so it reads back whole.
            ValueRef::Nested(bytes) => iter(bytes).value().unwrap_or(Value::Null),
        }
    }

    /// Whether `wanted` (a filter's value) names this value.
    pub fn matches(self, wanted: &str) -> bool {
        match self {
            ValueRef::Str(s) => s == wanted,
            // Only as the index writes it (`index::attr_key`): `+5` or `05` parse as 5 too,
            // but are not in the index under 5, so accepting them here made a search's
            // answer depend on which other values happened to be stored.
            ValueRef::Int(i) => {
                let digits = i
                    .unsigned_abs()
                    .checked_ilog10()
                    .map_or(1, |d| d as usize + 1);
                wanted.parse::<i64>() == Ok(i) && wanted.len() == digits + usize::from(i < 0)
            }
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
        ValueRef::Nested(bytes) => {
            out.push(NESTED);
            push_len(out, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
}

/// Appends an array, map or bytes value (anything a filter does not name) by its JSON form.
///
/// Packed rather than kept as JSON text: serde_json (without its `float_roundtrip`
/// feature) reads some 17-digit doubles back one bit off, so an array holding
/// 371018.25999912084 came back as 371018.2599991208. Packing keeps every number's bits,
/// and skips a JSON parse on every read.
pub fn push_nested(out: &mut Vec<u8>, key: Sym, value: &Value) {
    let mut packed = Vec::new();
    pack(&mut packed, value);
    push(out, key, ValueRef::Nested(&packed));
}

fn pack(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.push(if *b { TRUE } else { FALSE }),
        Value::String(s) => {
            out.push(STR);
            push_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push(INT);
                out.extend_from_slice(&i.to_le_bytes());
            } else if let Some(u) = n.as_u64() {
                out.push(UINT);
                out.extend_from_slice(&u.to_le_bytes());
            } else {
                out.push(DOUBLE);
                out.extend_from_slice(&n.as_f64().unwrap_or(f64::NAN).to_le_bytes());
            }
        }
        Value::Array(items) => {
            out.push(ARRAY);
            push_len(out, items.len());
            for item in items {
                pack(out, item);
            }
        }
        Value::Object(map) => {
            out.push(OBJECT);
            push_len(out, map.len());
            for (key, item) in map {
                push_len(out, key.len());
                out.extend_from_slice(key.as_bytes());
                pack(out, item);
            }
        }
    }
}

/// Appends a JSON value: scalars keep their kind, the rest is packed by [`push_nested`].
pub fn push_json(out: &mut Vec<u8>, key: Sym, value: &Value) {
    match value {
        Value::Null => push(out, key, ValueRef::Null),
        Value::Bool(b) => push(out, key, ValueRef::Bool(*b)),
        Value::String(s) => push(out, key, ValueRef::Str(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => push(out, key, ValueRef::Int(i)),
            None => push(out, key, ValueRef::Double(n.as_f64().unwrap_or(f64::NAN))),
        },
        other => push_nested(out, key, other),
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

    /// One value packed by `pack`.
    fn value(&mut self) -> Option<Value> {
        let tag = *self.take(1)?.first()?;
        Some(match tag {
            NULL => Value::Null,
            TRUE => Value::Bool(true),
            FALSE => Value::Bool(false),
            STR => Value::String(self.text()?.to_owned()),
            INT => Value::from(i64::from_le_bytes(self.eight()?)),
            UINT => Value::from(u64::from_le_bytes(self.eight()?)),
            DOUBLE => double_to_json(f64::from_le_bytes(self.eight()?)),
            ARRAY => {
                let count = self.len()?;
                // Each item takes a byte at least: a bad count cannot allocate much.
                let mut items = Vec::with_capacity(count.min(self.rest.len()));
                for _ in 0..count {
                    items.push(self.value()?);
                }
                Value::Array(items)
            }
            OBJECT => {
                let count = self.len()?;
                let mut map = serde_json::Map::new();
                for _ in 0..count {
                    let key = self.text()?.to_owned();
                    map.insert(key, self.value()?);
                }
                Value::Object(map)
            }
            _ => return None,
        })
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
            NESTED => {
                let len = self.len()?;
                ValueRef::Nested(self.take(len)?)
            }
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
        assert!(ValueRef::Int(-3).matches("-3"));
        assert!(ValueRef::Int(0).matches("0"));
        assert!(ValueRef::Int(i64::MIN).matches(&i64::MIN.to_string()));
        for other in ["+200", "0200", "200 ", "2e2"] {
            assert!(!ValueRef::Int(200).matches(other), "{other}");
        }
        assert!(!ValueRef::Int(0).matches("-0"));
        assert!(ValueRef::Bool(true).matches("true"));
        assert!(!ValueRef::Str("gold").matches("Gold"));
    }

    #[test]
    fn nested_values_keep_every_bit() {
        let mut interner = Interner::default();
        let key = interner.intern("k");
        // serde_json reads this one back as 371018.2599991208 from text.
        let double = 371_018.259_999_120_84_f64;
        let mut deep = serde_json::json!("bottom");
        for _ in 0..300 {
            deep = serde_json::json!([deep]);
        }
        let values = [
            serde_json::json!([1.5, double, "+5", null, true, -3, u64::MAX, {"a": [], "": {}}]),
            serde_json::json!({"z": double, "a": {"b": ["c", 0.1]}}),
            serde_json::json!([]),
            deep,
        ];
        for value in values {
            let mut buffer = Vec::new();
            push_json(&mut buffer, key, &value);
            let (_, read) = iter(&buffer).next().expect("one attribute");
            assert!(matches!(read, ValueRef::Nested(_)), "{read:?}");
            assert_eq!(read.to_json(), value);
            assert!(!read.matches("+5"));
            for cut in 0..buffer.len() {
                assert!(iter(&buffer[..cut]).next().is_none());
            }
        }
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
