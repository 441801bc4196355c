//! Tests of the OTLP conversions, one module per signal and encoding:
//! hand-built requests checked field by field, hostile input (deep
//! nesting, arbitrary and mutated bytes), round trips of generated events,
//! and the peer suite's OTLP/JSON examples.

mod json;
mod logs;
mod metrics;
mod peer;
mod strategies;
mod traces;

use logbridge_event::{KeyString, ObjectMap, Value};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

fn wrap(value: Any) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: Option<Any>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.map(wrap),
        ..KeyValue::default()
    }
}

fn string(s: &str) -> Any {
    Any::StringValue(s.to_owned())
}

fn object(entries: &[(&str, Value)]) -> ObjectMap {
    ObjectMap::from_entries(
        entries
            .iter()
            .map(|(k, v)| (KeyString::from(*k), v.clone()))
            .collect(),
    )
}

/// A resource with every field set (but `entity_refs`, which logbridge
/// does not carry).
fn full_resource(service: &str) -> ProtoResource {
    ProtoResource {
        attributes: vec![kv("service.name", Some(string(service)))],
        dropped_attributes_count: 1,
        entity_refs: Vec::new(),
    }
}

fn full_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "lib".into(),
        version: "1.2".into(),
        attributes: vec![kv("a", Some(Any::BoolValue(false)))],
        dropped_attributes_count: 3,
    }
}

/// The bytes of a message whose innermost `AnyValue` sits under `depth`
/// arrays, each holding the next, inside the messages `path` gives
/// (innermost first, as field tags of length-delimited fields). Built by
/// hand (inside out in lengths, outside in in bytes) so that the test
/// itself neither recurses nor copies per level.
fn nested_any(depth: usize, path: &[u8]) -> Vec<u8> {
    const ANY_ARRAY: u8 = 5 << 3 | 2; // AnyValue.array_value
    const ARRAY_VALUES: u8 = 1 << 3 | 2; // ArrayValue.values
    let mut tags = Vec::with_capacity(2 * depth + path.len());
    for _ in 0..depth {
        tags.extend([ARRAY_VALUES, ANY_ARRAY]);
    }
    tags.extend(path);
    let mut lengths = Vec::with_capacity(tags.len());
    let mut len = 0; // the innermost AnyValue is empty: null
    for _ in &tags {
        lengths.push(len);
        len += 1 + prost::encoding::encoded_len_varint(len as u64);
    }
    let mut out = Vec::with_capacity(len);
    for (tag, len) in tags.iter().zip(&lengths).rev() {
        out.push(*tag);
        prost::encoding::encode_varint(*len as u64, &mut out);
    }
    out
}
