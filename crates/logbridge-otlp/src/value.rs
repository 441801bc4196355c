//! `AnyValue` / `KeyValue` (OTLP's dynamic values) to and from logbridge's
//! [`Value`] and [`ObjectMap`]. Shared by every signal's conversion.
//!
//! Both directions recurse once per level of nesting. Decoding is safe
//! because prost has already refused input nested deeper than its
//! recursion limit; encoding trusts logbridge's decoders to have capped the
//! depth of the values they built.

use bytes::Bytes;
use logbridge_event::{KeyString, ObjectMap, Value};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

/// An `AnyValue` as a logbridge value. An empty `AnyValue` is null.
pub(crate) fn from_any(value: AnyValue) -> Value {
    match value.value {
        None => Value::Null,
        // String and bytes both become `Bytes`: logbridge strings are bytes
        // expected (not required) to be UTF-8. Converting the owned
        // `String`/`Vec` reuses its allocation.
        Some(Any::StringValue(s)) => Value::Bytes(Bytes::from(s)),
        Some(Any::BytesValue(b)) => Value::Bytes(Bytes::from(b)),
        Some(Any::BoolValue(b)) => Value::Bool(b),
        Some(Any::IntValue(i)) => Value::Integer(i),
        Some(Any::DoubleValue(f)) => Value::Float(f),
        Some(Any::ArrayValue(a)) => Value::Array(a.values.into_iter().map(from_any).collect()),
        Some(Any::KvlistValue(kv)) => Value::Object(from_key_values(kv.values)),
        // An index into the string table of the profiles signal; the spec
        // asks other signals to treat it as absent.
        Some(Any::StringValueStrindex(_)) => Value::Null,
    }
}

/// A `KeyValue` list as a map. Of duplicate keys the last one wins.
pub(crate) fn from_key_values(values: Vec<KeyValue>) -> ObjectMap {
    ObjectMap::from_entries(
        values
            .into_iter()
            .map(|kv| {
                let value = kv.value.map_or(Value::Null, from_any);
                (KeyString::from(kv.key), value)
            })
            .collect(),
    )
}

/// A logbridge value as an `AnyValue`. Null is the empty `AnyValue`.
///
/// Lossy in one place only: a timestamp becomes its nanoseconds as an
/// integer, since OTLP has no timestamp value.
pub(crate) fn to_any(value: &Value) -> AnyValue {
    let value = match value {
        Value::Null => None,
        Value::Bool(b) => Some(Any::BoolValue(*b)),
        Value::Integer(i) | Value::Timestamp(i) => Some(Any::IntValue(*i)),
        Value::Float(f) => Some(Any::DoubleValue(*f)),
        // OTLP strings must be UTF-8; anything else goes out as bytes, which
        // decode back to the same `Value::Bytes`.
        Value::Bytes(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => Any::StringValue(s.to_owned()),
            Err(_) => Any::BytesValue(b.to_vec()),
        }),
        Value::Array(a) => Some(Any::ArrayValue(ArrayValue {
            values: a.iter().map(to_any).collect(),
        })),
        Value::Object(m) => Some(Any::KvlistValue(KeyValueList {
            values: to_key_values(m),
        })),
    };
    AnyValue { value }
}

/// A map as a `KeyValue` list, in key order.
pub(crate) fn to_key_values(map: &ObjectMap) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue {
            key: k.as_str().to_owned(),
            // Always present, null or not: some receivers reject a
            // `KeyValue` without a value.
            value: Some(to_any(v)),
            ..KeyValue::default()
        })
        .collect()
}
