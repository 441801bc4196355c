//! Proptest strategies shared by the signals' tests: values, maps,
//! resources, scopes, ids, and pools that make runs of shared `Arc`s.

use std::sync::Arc;

use logbridge_event::{KeyString, ObjectMap, Resource, Scope, SpanId, TraceId, Value};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;

pub(super) fn key() -> impl Strategy<Value = KeyString> {
    "[a-z._é]{0,6}".prop_map(KeyString::from)
}

/// Any float but NaN, which is not equal to itself, so it would fail the
/// comparison, not the round trip.
pub(super) fn float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("NaN", |f| !f.is_nan())
}

pub(super) fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        float().prop_map(Value::Float),
        // Arbitrary bytes: invalid UTF-8 must survive as `bytes_value`.
        vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(b.into())),
        "[a-z é]{0,8}".prop_map(Value::from),
    ];
    // Shallow enough for prost's recursion limit (see `encode_logs`).
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            map_of(inner).prop_map(Value::Object),
        ]
    })
}

pub(super) fn map_of(values: impl Strategy<Value = Value>) -> impl Strategy<Value = ObjectMap> {
    vec((key(), values), 0..5).prop_map(ObjectMap::from_entries)
}

pub(super) fn attributes() -> impl Strategy<Value = ObjectMap> {
    map_of(value())
}

pub(super) fn resource() -> impl Strategy<Value = Resource> {
    (attributes(), any::<u32>(), "[a-z:/.]{0,8}").prop_map(
        |(attributes, dropped_attributes_count, schema_url)| Resource {
            attributes,
            dropped_attributes_count,
            schema_url,
        },
    )
}

pub(super) fn scope() -> impl Strategy<Value = Scope> {
    (
        "[a-z]{0,4}",
        "[0-9.]{0,4}",
        attributes(),
        any::<u32>(),
        "[a-z:/.]{0,8}",
    )
        .prop_map(
            |(name, version, attributes, dropped_attributes_count, schema_url)| Scope {
                name,
                version,
                attributes,
                dropped_attributes_count,
                schema_url,
            },
        )
}

/// A valid (non-zero) id, or none.
pub(super) fn optional_trace_id() -> impl Strategy<Value = Option<TraceId>> {
    option::of(any::<[u8; 16]>().prop_map(TraceId))
        .prop_filter("valid", |t| t.is_none_or(|t| t.is_valid()))
}

pub(super) fn optional_span_id() -> impl Strategy<Value = Option<SpanId>> {
    option::of(any::<[u8; 8]>().prop_map(SpanId))
        .prop_filter("valid", |s| s.is_none_or(|s| s.is_valid()))
}

/// Times OTLP can carry: not negative.
pub(super) fn time() -> impl Strategy<Value = i64> {
    0..=i64::MAX
}

/// Gives an event its resource and scope.
pub(super) type Assign<T> = fn(&mut T, Option<Arc<Resource>>, Option<Arc<Scope>>);

/// Events drawing their resource and scope from small pools (some none),
/// so that runs of shared `Arc`s, of equal values behind different `Arc`s,
/// and of none occur.
pub(super) fn pooled<T: Clone + std::fmt::Debug>(
    event: impl Strategy<Value = T>,
    assign: Assign<T>,
) -> impl Strategy<Value = Vec<T>> {
    let resources = vec(option::of(resource().prop_map(Arc::new)), 1..3);
    let scopes = vec(option::of(scope().prop_map(Arc::new)), 1..3);
    (
        resources,
        scopes,
        vec((event, any::<Index>(), any::<Index>()), 0..8),
    )
        .prop_map(move |(mut resources, mut scopes, events)| {
            // An equal copy behind another `Arc`, when there is one to copy.
            if let Some(Some(first)) = resources.first() {
                resources.push(Some(Arc::new(Resource::clone(first))));
            }
            if let Some(Some(first)) = scopes.first() {
                scopes.push(Some(Arc::new(Scope::clone(first))));
            }
            events
                .into_iter()
                .map(|(mut event, r, s)| {
                    assign(
                        &mut event,
                        r.get(&resources).clone(),
                        s.get(&scopes).clone(),
                    );
                    event
                })
                .collect()
        })
}

/// Two events belong under one `Resource*`/`Scope*` message (the rule of
/// `common::same_group`, restated so that the tests check it).
pub(super) fn grouped<T: PartialEq>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

pub(super) fn shared<T>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}
