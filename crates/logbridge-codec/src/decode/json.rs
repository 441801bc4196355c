//! The `json` parser: one JSON object per record, into an [`ObjectMap`].
//!
//! This is the hot path of the pipeline, so it does not go through the
//! event crate's generic `Deserialize for Value`: its own seeds build the
//! map directly and turn strings that need no unescaping into slices of the
//! input's `Bytes` (one reference-count increment instead of an allocation
//! and a copy). Depth is bounded by serde_json's recursion limit (128).

use std::cell::Cell;
use std::fmt;

use bytes::Bytes;
use logbridge_event::{KeyString, ObjectMap, Value};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{ParseError, Text};

pub(super) fn parse(text: Text<'_>) -> Result<ObjectMap, ParseError> {
    if text.input.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let not_object = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(text.input);
    let seed = TopSeed {
        text,
        not_object: &not_object,
    };
    let map = seed
        .deserialize(&mut de)
        .and_then(|map| de.end().map(|()| map));
    map.map_err(|e| {
        if not_object.get() {
            ParseError::NotAnObject
        } else {
            json_error(&e)
        }
    })
}

/// serde_json's message without its position suffix, which the error
/// carries in fields of its own.
fn json_error(e: &serde_json::Error) -> ParseError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ParseError::InvalidJson {
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// The top level: accepts an object only.
struct TopSeed<'a> {
    text: Text<'a>,
    not_object: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ObjectMap;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ObjectMap, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ObjectMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ObjectMap, A::Error> {
        read_map(self.text, map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<ObjectMap, A::Error> {
        self.reject()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<ObjectMap, E> {
        self.reject()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<ObjectMap, E> {
        self.reject()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<ObjectMap, E> {
        self.reject()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<ObjectMap, E> {
        self.reject()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<ObjectMap, E> {
        self.reject()
    }
    fn visit_unit<E: de::Error>(self) -> Result<ObjectMap, E> {
        self.reject()
    }
}

impl TopSeed<'_> {
    fn reject<E: de::Error>(&self) -> Result<ObjectMap, E> {
        self.not_object.set(true);
        Err(E::custom("json is not an object"))
    }
}

fn read_map<'de, A: MapAccess<'de>>(text: Text<'_>, mut map: A) -> Result<ObjectMap, A::Error> {
    let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
    while let Some(key) = map.next_key_seed(KeySeed)? {
        let value = map.next_value_seed(ValueSeed { text })?;
        entries.push((key, value));
    }
    Ok(build_map(entries))
}

/// Builds a map from entries in input order; of duplicated keys the last
/// wins.
///
/// Faster than inserting in input order or `BTreeMap::from_iter` (which
/// sorts with full key comparisons, then compares again to drop
/// duplicates): the entries are sorted by an 8-byte key prefix (full
/// comparison only on ties) and inserted in descending order, so that
/// every insert finds its place with a single key comparison.
fn build_map(mut entries: Vec<(KeyString, Value)>) -> ObjectMap {
    let mut order: Vec<(u64, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (prefix(k), i))
        .collect();
    order.sort_unstable_by(|&(pa, a), &(pb, b)| {
        // Descending by key; equal keys ascending by position, so that
        // the last one is inserted last and wins.
        pb.cmp(&pa)
            .then_with(|| entries[b].0.as_str().cmp(entries[a].0.as_str()))
            .then(a.cmp(&b))
    });
    let mut map = ObjectMap::new();
    for (_, i) in order {
        let (key, value) = std::mem::take(&mut entries[i]);
        map.insert(key, value);
    }
    map
}

/// The first 8 bytes of `key`, zero-padded, as a big-endian number: keys
/// compare as their prefixes do, unless the prefixes are equal.
fn prefix(key: &str) -> u64 {
    let mut buf = [0u8; 8];
    let bytes = key.as_bytes();
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(buf)
}

/// A key, straight into a [`KeyString`] (inline up to 24 bytes).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = KeyString;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyString, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = KeyString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyString, E> {
        Ok(KeyString::new(s))
    }
}

/// Any value; strings borrowed from the input become slices of its `Bytes`.
#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    text: Text<'a>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Integer(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        // As the event crate does: past i64::MAX a number becomes a float.
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Integer(i),
            Err(_) => Value::Float(u as f64),
        })
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Value, E> {
        Ok(Value::Bytes(self.text.share(s.as_bytes())))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(s.as_bytes())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        read_map(self.text, map).map(Value::Object)
    }
}
