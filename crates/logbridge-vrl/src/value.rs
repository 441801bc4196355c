//! Conversion between logbridge's [`Value`] and VRL's value, both ways,
//! without copying string contents (both hold [`bytes::Bytes`]).
//!
//! One difference needs care: VRL's floats cannot be NaN. A NaN (with its
//! exact bits, so Prometheus' staleness marker survives) is handed to the
//! program as `null` and its place is remembered in [`NanSlots`]; on the
//! way back a `null` still at that place becomes the same NaN again. A
//! program that moves or copies such a value moves a `null`.
//!
//! Timestamps a program builds outside the range of nanoseconds in an
//! `i64` (before 1677 or after 2262) come back as RFC 3339 strings, and
//! VRL regex values as their pattern text.
//!
//! This module converts values only; what part of an event a program sees
//! is [`crate::target`]'s job.

use chrono::{DateTime, SecondsFormat, Utc};
use logbridge_event::{KeyString, ObjectMap, Segment, Value};
use vrl::value::{KeyString as VrlKey, Value as VrlValue};

/// Where NaN floats were replaced by `null`, and their bits.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NanSlots {
    slots: Vec<(Vec<Segment>, u64)>,
}

impl NanSlots {
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Puts each NaN back where the value at its place is still `null`.
    pub fn restore(&self, value: &mut Value) {
        for (path, bits) in &self.slots {
            if let Some(slot) = value.get_path_mut(path)
                && slot.is_null()
            {
                *slot = Value::Float(f64::from_bits(*bits));
            }
        }
    }
}

/// Converts a value for a program, taking it apart without copying
/// strings. NaNs go to `nans`, with paths relative to `value`.
pub fn to_vrl(value: Value, nans: &mut NanSlots) -> VrlValue {
    let mut path = Vec::new();
    convert_in(value, &mut path, nans)
}

fn convert_in(value: Value, path: &mut Vec<Segment>, nans: &mut NanSlots) -> VrlValue {
    match value {
        Value::Null => VrlValue::Null,
        Value::Bool(b) => VrlValue::Boolean(b),
        Value::Integer(i) => VrlValue::Integer(i),
        Value::Float(f) => match ordered_float::NotNan::new(f) {
            Ok(f) => VrlValue::Float(f),
            Err(_) => {
                nans.slots.push((path.clone(), f.to_bits()));
                VrlValue::Null
            }
        },
        Value::Bytes(b) => VrlValue::Bytes(b),
        Value::Timestamp(ns) => VrlValue::Timestamp(DateTime::from_timestamp_nanos(ns)),
        Value::Array(items) => VrlValue::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(Segment::Index(i as i64));
                    let converted = convert_in(item, path, nans);
                    path.pop();
                    converted
                })
                .collect(),
        ),
        Value::Object(map) => VrlValue::Object(object_in(map, path, nans)),
    }
}

/// Converts one top-level field of an object; NaN paths start at the
/// field. The field's name joins a path only when a NaN needs it, so a
/// scalar field converts without allocating.
pub fn field_to_vrl(key: KeyString, value: Value, nans: &mut NanSlots) -> (VrlKey, VrlValue) {
    let vrl_key = VrlKey::from(key.as_str());
    let first_new = nans.slots.len();
    let converted = convert_in(value, &mut Vec::new(), nans);
    for (path, _) in &mut nans.slots[first_new..] {
        path.insert(0, Segment::Field(key.clone()));
    }
    (vrl_key, converted)
}

/// Converts an object's entries (in key order, which both maps share).
fn object_in(
    map: ObjectMap,
    path: &mut Vec<Segment>,
    nans: &mut NanSlots,
) -> vrl::value::ObjectMap {
    map.into_iter()
        .map(|(key, value)| {
            let vrl_key = VrlKey::from(key.as_str());
            // The key moves onto the path while its value converts: no
            // copy, and the path is there if a NaN needs it.
            path.push(Segment::Field(key));
            let converted = convert_in(value, path, nans);
            path.pop();
            (vrl_key, converted)
        })
        .collect()
}

/// Converts a program's value back; `nans` (from [`to_vrl`] of the same
/// value) puts NaNs back where the program left their `null`s.
pub fn from_vrl(value: VrlValue, nans: &NanSlots) -> Value {
    let mut value = convert_out(value);
    if !nans.is_empty() {
        nans.restore(&mut value);
    }
    value
}

/// Converts a program's object back (see [`from_vrl`]).
pub fn object_from_vrl(map: vrl::value::ObjectMap) -> ObjectMap {
    // Entries arrive in key order, so the map is built without sorting.
    ObjectMap::from_entries(
        map.into_iter()
            .map(|(k, v)| (key_out(k), convert_out(v)))
            .collect(),
    )
}

fn key_out(key: VrlKey) -> KeyString {
    KeyString::from(key.as_str())
}

/// Converts without NaN bookkeeping (for values a program built).
pub fn convert_out(value: VrlValue) -> Value {
    match value {
        VrlValue::Null => Value::Null,
        VrlValue::Boolean(b) => Value::Bool(b),
        VrlValue::Integer(i) => Value::Integer(i),
        VrlValue::Float(f) => Value::Float(f.into_inner()),
        VrlValue::Bytes(b) => Value::Bytes(b),
        VrlValue::String(s) => Value::Bytes(s.into_bytes()),
        VrlValue::Regex(r) => Value::from(r.as_str()),
        VrlValue::Timestamp(t) => match t.timestamp_nanos_opt() {
            Some(ns) => Value::Timestamp(ns),
            None => Value::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        },
        VrlValue::Array(items) => Value::Array(items.into_iter().map(convert_out).collect()),
        VrlValue::Object(map) => Value::Object(object_from_vrl(map)),
    }
}

/// A timestamp value for a program, from nanoseconds since the epoch.
pub fn timestamp(ns: i64) -> VrlValue {
    VrlValue::Timestamp(DateTime::<Utc>::from_timestamp_nanos(ns))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    /// Equality that tells NaNs apart by their bits, which `==` cannot.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
            }
            _ => a == b,
        }
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            // Prometheus' staleness marker.
            Just(f64::from_bits(0x7ff0_0000_0000_0002)),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Integer),
            float().prop_map(Value::Float),
            // Any bytes, UTF-8 or not.
            proptest::collection::vec(any::<u8>(), 0..12)
                .prop_map(|b| Value::Bytes(Bytes::from(b))),
            any::<i64>().prop_map(Value::Timestamp),
        ]
    }

    pub(crate) fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(8, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(("[a-z.\" ]{0,6}", inner), 0..6).prop_map(|entries| {
                    Value::Object(ObjectMap::from_entries(
                        entries
                            .into_iter()
                            .map(|(k, v)| (KeyString::from(k), v))
                            .collect(),
                    ))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn round_trip_is_identity(v in value()) {
            let mut nans = NanSlots::default();
            let back = from_vrl(to_vrl(v.clone(), &mut nans), &nans);
            prop_assert!(same(&back, &v), "{v:?} came back as {back:?}");
        }
    }

    #[test]
    fn deep_nesting_and_empty_objects_round_trip() {
        let mut v = Value::Object(ObjectMap::new());
        for i in 0..200 {
            let mut map = ObjectMap::new();
            map.insert(KeyString::from(format!("k{i}")), v);
            map.insert(KeyString::from("empty"), Value::Object(ObjectMap::new()));
            v = Value::Array(vec![Value::Object(map), Value::Array(vec![])]);
        }
        let mut nans = NanSlots::default();
        assert_eq!(from_vrl(to_vrl(v.clone(), &mut nans), &nans), v);
    }

    #[test]
    fn a_nan_the_program_replaced_stays_replaced() {
        let mut map = ObjectMap::new();
        map.insert(KeyString::from("x"), Value::Float(f64::NAN));
        let mut nans = NanSlots::default();
        let VrlValue::Object(mut vrl) = to_vrl(Value::Object(map), &mut nans) else {
            unreachable!()
        };
        assert_eq!(vrl["x"], VrlValue::Null, "a program sees null");
        vrl.insert("x".into(), VrlValue::Integer(1));
        let back = from_vrl(VrlValue::Object(vrl), &nans);
        assert_eq!(back.as_object().unwrap()["x"], Value::Integer(1));
    }

    #[test]
    fn timestamps_beyond_nanosecond_range_become_text() {
        let far = DateTime::parse_from_rfc3339("3000-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            convert_out(VrlValue::Timestamp(far)),
            Value::from("3000-01-01T00:00:00Z")
        );
        assert_eq!(convert_out(timestamp(1_500)), Value::Timestamp(1_500));
    }
}
