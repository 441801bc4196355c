//! [`Value`]: the dynamically typed tree that holds log bodies and attributes.
//!
//! Strings are kept as [`Bytes`] so that a line read from a file or socket can
//! become a value without a copy; they are expected, not required, to be UTF-8
//! (output codecs replace invalid sequences).

use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Keys of objects: short keys are stored inline, without an allocation.
pub type KeyString = compact_str::CompactString;

pub use crate::map::ObjectMap;

/// A dynamically typed value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    /// A string (usually UTF-8).
    Bytes(Bytes),
    /// Nanoseconds since the Unix epoch, UTC.
    Timestamp(i64),
    Array(Vec<Value>),
    Object(ObjectMap),
}

impl Value {
    /// The name of the type, as used in error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Bytes(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string content, if this is a string of valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_object(&self) -> Option<&ObjectMap> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut ObjectMap> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// A numeric view: integers and floats (and numeric-looking nothing else).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A string rendering for text outputs: strings as they are (lossy
    /// UTF-8), scalars in their canonical form, containers as JSON.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Value::Bytes(b) => String::from_utf8_lossy(b),
            Value::Null => Cow::Borrowed(""),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Integer(i) => Cow::Owned(i.to_string()),
            Value::Float(f) => Cow::Owned(format_float(*f)),
            Value::Timestamp(ns) => Cow::Owned(format_timestamp(*ns)),
            Value::Array(_) | Value::Object(_) => Cow::Owned(
                // Serializing a Value into a String cannot fail: every variant
                // maps to JSON.
                serde_json_like(self),
            ),
        }
    }

    /// A rough size in bytes, used to bound channels and buffers.
    pub fn estimated_size(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 1,
            Value::Integer(_) | Value::Float(_) | Value::Timestamp(_) => 8,
            Value::Bytes(b) => b.len(),
            Value::Array(a) => a.iter().map(Value::estimated_size).sum::<usize>() + 2,
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| k.len() + v.estimated_size() + 2)
                .sum(),
        }
    }
}

fn serde_json_like(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

/// Minimal JSON writer used only for `to_string_lossy` of containers, so
/// that this crate does not depend on a JSON library. Codecs use serde.
fn write_json(v: &Value, out: &mut String) {
    use std::fmt::Write;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) if f.is_finite() => out.push_str(&format_float(*f)),
        Value::Float(_) => out.push_str("null"),
        Value::Bytes(b) => write_json_str(&String::from_utf8_lossy(b), out),
        Value::Timestamp(ns) => write_json_str(&format_timestamp(*ns), out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(k, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn write_json_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Floats print without a trailing `.0` loss: integral floats keep `.0` so
/// they read back as floats.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// RFC 3339 with nanoseconds, UTC (`2024-05-01T12:00:00.123456789Z`).
pub fn format_timestamp(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(dt) => dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => ns.to_string(),
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Bytes(Bytes::from(s))
    }
}
impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<ObjectMap> for Value {
    fn from(m: ObjectMap) -> Self {
        Value::Object(m)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            // JSON has no NaN or infinity; emit null rather than invalid output.
            Value::Float(_) => s.serialize_unit(),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(text) => s.serialize_str(text),
                Err(_) => s.serialize_str(&String::from_utf8_lossy(b)),
            },
            Value::Timestamp(ns) => s.serialize_str(&format_timestamp(*ns)),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k.as_str(), v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Integer(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Integer(i),
            Err(_) => Value::Float(u as f64),
        })
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::from(s))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::from(s))
    }
    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(b)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(k) = map.next_key::<KeyStringDe>()? {
            let v = map.next_value()?;
            entries.push((k.0, v));
        }
        Ok(Value::Object(ObjectMap::from_entries(entries)))
    }
}

/// Deserializes a key straight into a [`KeyString`] (inline when short),
/// borrowing when the input allows it.
struct KeyStringDe(KeyString);

impl<'de> Deserialize<'de> for KeyStringDe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyStringDe;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyStringDe, E> {
                Ok(KeyStringDe(KeyString::new(s)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_types() {
        let text =
            r#"{"a":1,"b":2.5,"c":"x","d":[true,null],"e":{"f":18446744073709551615,"g":-1}}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let m = v.as_object().unwrap();
        assert_eq!(m["a"], Value::Integer(1));
        assert_eq!(m["b"], Value::Float(2.5));
        assert_eq!(m["c"].as_str(), Some("x"));
        assert_eq!(
            m["e"].as_object().unwrap()["f"],
            Value::Float(18446744073709551615.0)
        );
        let m = m.clone();
        let mut small = Value::Object(m);
        small.remove_path(&[
            crate::Segment::Field("e".into()),
            crate::Segment::Field("f".into()),
        ]);
        let back = serde_json::to_string(&small).unwrap();
        assert_eq!(
            back,
            r#"{"a":1,"b":2.5,"c":"x","d":[true,null],"e":{"g":-1}}"#
        );
        assert_eq!(small.to_string_lossy(), back);
    }

    #[test]
    fn non_finite_floats_become_null() {
        assert_eq!(
            serde_json::to_string(&Value::Float(f64::NAN)).unwrap(),
            "null"
        );
    }

    #[test]
    fn timestamps_render_as_rfc3339() {
        assert_eq!(
            format_timestamp(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
    }
}
