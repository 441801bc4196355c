//! Round-trip and robustness tests of the record encoding: arbitrary events
//! survive exactly, arbitrary bytes never panic the decoder.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{
    Bucket, Event, Exemplar, ExponentialBuckets, ExponentialHistogram, KeyString, LogRecord,
    Metric, MetricKind, MetricValue, Number, ObjectMap, Quantile, Resource, Scope, Span, SpanEvent,
    SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, Temporality, TraceId, Value,
};
use proptest::prelude::*;

use super::*;

/// Floats without NaN, so `==` can compare (NaN bits survive too, see
/// `nan_bits_survive`).
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
        Just(-0.0),
        Just(f64::INFINITY)
    ]
}

fn key() -> impl Strategy<Value = KeyString> {
    "[a-z._]{0,8}".prop_map(KeyString::from)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        float().prop_map(Value::Float),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Value::Bytes(Bytes::from(b))),
        any::<i64>().prop_map(Value::Timestamp),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|e| Value::Object(ObjectMap::from_entries(e))),
        ]
    })
}

fn map() -> impl Strategy<Value = ObjectMap> {
    proptest::collection::vec((key(), value()), 0..5).prop_map(ObjectMap::from_entries)
}

fn resource() -> impl Strategy<Value = Option<Arc<Resource>>> {
    proptest::option::of(
        (map(), any::<u32>(), "[a-z:/]{0,6}").prop_map(|(attributes, d, s)| {
            Arc::new(Resource {
                attributes,
                dropped_attributes_count: d,
                schema_url: s,
            })
        }),
    )
}

fn scope() -> impl Strategy<Value = Option<Arc<Scope>>> {
    proptest::option::of(
        (
            "[a-z]{0,6}",
            "[0-9.]{0,4}",
            map(),
            any::<u32>(),
            "[a-z]{0,3}",
        )
            .prop_map(|(name, version, attributes, d, schema_url)| {
                Arc::new(Scope {
                    name,
                    version,
                    attributes,
                    dropped_attributes_count: d,
                    schema_url,
                })
            }),
    )
}

fn log() -> impl Strategy<Value = LogRecord> {
    (
        (
            any::<i64>(),
            any::<i64>(),
            any::<i32>(),
            proptest::option::of(key()),
            value(),
            map(),
        ),
        (
            any::<u32>(),
            proptest::option::of(any::<[u8; 16]>()),
            proptest::option::of(any::<[u8; 8]>()),
            any::<u32>(),
            resource(),
            scope(),
        ),
        (map(), proptest::option::of(key())),
    )
        .prop_map(
            |(
                (t, o, sn, st, body, attributes),
                (d, tr, sp, flags, resource, scope),
                (metadata, event_name),
            )| {
                LogRecord {
                    time_unix_nano: t,
                    observed_time_unix_nano: o,
                    severity_number: sn,
                    severity_text: st,
                    body,
                    attributes,
                    dropped_attributes_count: d,
                    trace_id: tr.map(TraceId),
                    span_id: sp.map(SpanId),
                    flags,
                    resource,
                    scope,
                    metadata,
                    event_name,
                }
            },
        )
}

fn metric_value() -> impl Strategy<Value = MetricValue> {
    prop_oneof![
        float().prop_map(MetricValue::Scalar),
        any::<i64>().prop_map(MetricValue::Integer),
        (
            proptest::collection::vec((float(), any::<u64>()), 0..5),
            any::<u64>(),
            proptest::option::of(float()),
            proptest::option::of(float()),
            proptest::option::of(float()),
        )
            .prop_map(|(b, count, sum, min, max)| MetricValue::Histogram {
                buckets: b
                    .into_iter()
                    .map(|(upper_bound, count)| Bucket { upper_bound, count })
                    .collect(),
                count,
                sum,
                min,
                max,
            }),
        (
            (any::<u64>(), proptest::option::of(float()), any::<i32>()),
            (any::<u64>(), float()),
            (any::<i32>(), proptest::collection::vec(any::<u64>(), 0..5)),
            (any::<i32>(), proptest::collection::vec(any::<u64>(), 0..5)),
            (proptest::option::of(float()), proptest::option::of(float())),
        )
            .prop_map(
                |((count, sum, scale), (zero_count, zero_threshold), pos, neg, (min, max))| {
                    MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
                        count,
                        sum,
                        scale,
                        zero_count,
                        zero_threshold,
                        positive: ExponentialBuckets {
                            offset: pos.0,
                            counts: pos.1,
                        },
                        negative: ExponentialBuckets {
                            offset: neg.0,
                            counts: neg.1,
                        },
                        min,
                        max,
                    }))
                }
            ),
        (
            proptest::collection::vec((float(), float()), 0..5),
            any::<u64>(),
            float()
        )
            .prop_map(|(q, count, sum)| MetricValue::Summary {
                quantiles: q
                    .into_iter()
                    .map(|(quantile, value)| Quantile { quantile, value })
                    .collect(),
                count,
                sum,
            }),
    ]
}

fn exemplar() -> impl Strategy<Value = Exemplar> {
    (
        prop_oneof![
            float().prop_map(Number::Float),
            any::<i64>().prop_map(Number::Integer)
        ],
        any::<i64>(),
        map(),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of(any::<[u8; 8]>()),
    )
        .prop_map(|(value, t, filtered_attributes, tr, sp)| Exemplar {
            value,
            time_unix_nano: t,
            filtered_attributes,
            trace_id: tr.map(TraceId),
            span_id: sp.map(SpanId),
        })
}

fn metric() -> impl Strategy<Value = Metric> {
    (
        (key(), map(), 0u8..5, any::<bool>(), metric_value()),
        (
            any::<i64>(),
            any::<i64>(),
            "[a-z ]{0,8}",
            "[a-z]{0,3}",
            resource(),
            scope(),
        ),
        (proptest::collection::vec(exemplar(), 0..3), any::<u32>()),
    )
        .prop_map(
            |(
                (name, labels, kind, delta, value),
                (t, st, description, unit, resource, scope),
                (exemplars, flags),
            )| {
                Metric {
                    name,
                    labels,
                    kind: [
                        MetricKind::Counter,
                        MetricKind::Gauge,
                        MetricKind::Histogram,
                        MetricKind::Summary,
                        MetricKind::UpDownCounter,
                    ][usize::from(kind)],
                    temporality: if delta {
                        Temporality::Delta
                    } else {
                        Temporality::Cumulative
                    },
                    value,
                    time_unix_nano: t,
                    start_time_unix_nano: st,
                    description,
                    unit,
                    resource,
                    scope,
                    exemplars,
                    flags,
                }
            },
        )
}

fn span() -> impl Strategy<Value = Span> {
    let event =
        (any::<i64>(), key(), map(), any::<u32>()).prop_map(|(t, name, attributes, d)| SpanEvent {
            time_unix_nano: t,
            name,
            attributes,
            dropped_attributes_count: d,
        });
    let link = (
        any::<[u8; 16]>(),
        any::<[u8; 8]>(),
        "[a-z=,]{0,6}",
        map(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(t, s, trace_state, attributes, d, flags)| SpanLink {
            trace_id: TraceId(t),
            span_id: SpanId(s),
            trace_state,
            attributes,
            dropped_attributes_count: d,
            flags,
        });
    (
        (
            any::<[u8; 16]>(),
            any::<[u8; 8]>(),
            proptest::option::of(any::<[u8; 8]>()),
            "[a-z=]{0,5}",
            any::<u32>(),
            key(),
            0usize..6,
        ),
        (
            any::<i64>(),
            any::<i64>(),
            map(),
            any::<u32>(),
            proptest::collection::vec(event, 0..3),
            any::<u32>(),
        ),
        (
            proptest::collection::vec(link, 0..3),
            any::<u32>(),
            0usize..3,
            "[a-z ]{0,6}",
            resource(),
            scope(),
        ),
    )
        .prop_map(
            |(
                (t, s, p, trace_state, flags, name, kind),
                (start, end, attributes, d, events, de),
                (links, dl, code, message, resource, scope),
            )| Span {
                trace_id: TraceId(t),
                span_id: SpanId(s),
                parent_span_id: p.map(SpanId),
                trace_state,
                flags,
                name,
                kind: [
                    SpanKind::Unspecified,
                    SpanKind::Internal,
                    SpanKind::Server,
                    SpanKind::Client,
                    SpanKind::Producer,
                    SpanKind::Consumer,
                ][kind],
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                dropped_attributes_count: d,
                events,
                dropped_events_count: de,
                links,
                dropped_links_count: dl,
                status: SpanStatus {
                    code: [StatusCode::Unset, StatusCode::Ok, StatusCode::Error][code],
                    message,
                },
                resource,
                scope,
            },
        )
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        log().prop_map(Event::Log),
        metric().prop_map(Event::Metric),
        span().prop_map(|s| Event::Span(Box::new(s))),
    ]
}

fn round_trip(events: &[Event]) -> Vec<Event> {
    let mut out = Vec::new();
    encode_events(events, &mut out).unwrap();
    decode_events(&out).unwrap()
}

proptest! {
    #[test]
    fn arbitrary_events_round_trip(events in proptest::collection::vec(event(), 0..6)) {
        prop_assert_eq!(round_trip(&events), events);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_events(&bytes);
        let mut versioned = vec![FORMAT_VERSION];
        versioned.extend_from_slice(&bytes);
        let _ = decode_events(&versioned);
    }

    #[test]
    fn every_truncation_is_an_error(events in proptest::collection::vec(event(), 1..3)) {
        let mut out = Vec::new();
        encode_events(&events, &mut out).unwrap();
        for len in 0..out.len() {
            prop_assert!(decode_events(&out[..len]).is_err());
        }
    }
}

#[test]
fn value_variants_stay_distinct() {
    let log = LogRecord {
        body: Value::Array(vec![
            Value::Integer(5),
            Value::Float(5.0),
            Value::Timestamp(5),
            Value::Bytes(Bytes::from_static(b"5")),
        ]),
        ..LogRecord::default()
    };
    assert_eq!(round_trip(&[Event::Log(log.clone())]), [Event::Log(log)]);
}

#[test]
fn nan_bits_survive() {
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let back = round_trip(&[Event::Metric(Metric::gauge("g", nan, 1))]);
    let Event::Metric(m) = &back[0] else {
        panic!("not a metric")
    };
    let MetricValue::Scalar(v) = m.value else {
        panic!("not a scalar")
    };
    assert_eq!(v.to_bits(), nan.to_bits());
}

#[test]
fn shared_resources_are_written_once_and_stay_shared() {
    let resource = Arc::new(Resource {
        attributes: ObjectMap::from_entries(vec![(
            "service.name".into(),
            "api-with-a-long-name".into(),
        )]),
        ..Resource::default()
    });
    let events: Vec<Event> = (0..10)
        .map(|_| {
            Event::Log(LogRecord {
                resource: Some(Arc::clone(&resource)),
                ..LogRecord::default()
            })
        })
        .collect();
    let mut out = Vec::new();
    encode_events(&events, &mut out).unwrap();
    assert_eq!(
        out.windows(20)
            .filter(|w| w == b"api-with-a-long-name")
            .count(),
        1
    );
    let back = decode_events(&out).unwrap();
    assert_eq!(back, events);
    let (Event::Log(a), Event::Log(b)) = (&back[0], &back[9]) else {
        panic!("not logs")
    };
    assert!(Arc::ptr_eq(
        a.resource.as_ref().unwrap(),
        b.resource.as_ref().unwrap()
    ));
}

#[test]
fn too_deep_values_are_refused_by_both_sides() {
    let mut v = Value::Null;
    for _ in 0..=MAX_DEPTH {
        v = Value::Array(vec![v]);
    }
    let mut out = vec![9];
    assert_eq!(
        encode_events(
            &[Event::Log(LogRecord {
                body: v,
                ..LogRecord::default()
            })],
            &mut out
        ),
        Err(EncodeError::TooDeep)
    );
    assert_eq!(out, [9], "a failed encode leaves the buffer as it was");
    // A forged record nesting arrays forever.
    let mut forged = vec![FORMAT_VERSION, 1, 0, 0, 0, 0, 0];
    forged.extend(std::iter::repeat_n([7u8, 1], 10_000).flatten());
    assert_eq!(decode_events(&forged), Err(DecodeError::TooDeep));
}

#[test]
fn forged_counts_do_not_allocate() {
    // One event whose attribute map claims u64::MAX / 2 entries.
    let mut forged = vec![FORMAT_VERSION, 1, 0, 0, 0, 0, 0, 0];
    forged.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    assert_eq!(decode_events(&forged), Err(DecodeError::Truncated));
    assert!(matches!(decode_events(&[9]), Err(DecodeError::Version(9))));
    assert!(matches!(decode_events(&[0]), Err(DecodeError::Version(0))));
    assert_eq!(decode_events(&[]), Err(DecodeError::Empty));
}

#[test]
fn version_1_records_are_still_read() {
    // A log written by format version 1: no metadata map after the scope.
    let log = LogRecord {
        body: Value::from("old"),
        ..LogRecord::default()
    };
    let mut out = Vec::new();
    encode_events(&[Event::Log(log.clone())], &mut out).unwrap();
    // Drop the absent event name (v3) and the empty metadata map (v2), one
    // zero byte each, and mark the record v1.
    assert_eq!(out.pop(), Some(0));
    assert_eq!(out.pop(), Some(0));
    out[0] = 1;
    assert_eq!(decode_events(&out).unwrap(), vec![Event::Log(log)]);
}

#[test]
fn version_2_metrics_are_still_read() {
    // A v2 metric ends at its scope: no exemplars, no flags.
    let metric = Metric::counter("requests", 7.0, 1_000).with_label("code", "200");
    let mut out = Vec::new();
    encode_events(&[Event::Metric(metric.clone())], &mut out).unwrap();
    assert_eq!(out.pop(), Some(0), "flags");
    assert_eq!(out.pop(), Some(0), "exemplar count");
    out[0] = 2;
    assert_eq!(decode_events(&out).unwrap(), vec![Event::Metric(metric)]);
}
