//! Metrics: a canonical request with every type and field set, the
//! mapping of kinds, buckets and the cases outside the spec, grouping of
//! points into series, hostile input, and round trips of generated points
//! through protobuf and JSON.

use logbridge_event::{
    Bucket, Exemplar, ExponentialBuckets, ExponentialHistogram, KeyString, Metric, MetricKind,
    MetricValue, Number, Quantile, SpanId, Temporality, TraceId, Value,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1 as proto;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, number_data_point};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use prost::Message;

use super::strategies::{
    attributes, float, grouped, optional_span_id, optional_trace_id, pooled, shared, time,
};
use super::{full_resource, full_scope, kv, nested_any, object, string};
use crate::{
    decode_metrics, decode_metrics_json, encode_metrics, encode_metrics_json, metrics_from_request,
    metrics_request_from_json, metrics_request_to_json, metrics_to_request,
};

fn exemplars() -> Vec<proto::Exemplar> {
    vec![
        proto::Exemplar {
            filtered_attributes: vec![kv("user", Some(string("u1")))],
            time_unix_nano: 101,
            span_id: (1..=8).collect(),
            trace_id: (1..=16).collect(),
            value: Some(exemplar::Value::AsDouble(0.25)),
        },
        proto::Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: 102,
            span_id: Vec::new(),
            trace_id: Vec::new(),
            value: Some(exemplar::Value::AsInt(-3)),
        },
    ]
}

fn number(value: number_data_point::Value, flags: u32) -> proto::NumberDataPoint {
    proto::NumberDataPoint {
        attributes: vec![kv("host", Some(string("a")))],
        start_time_unix_nano: 1_000,
        time_unix_nano: 2_000,
        exemplars: exemplars(),
        flags,
        value: Some(value),
    }
}

fn metric(name: &str, data: Data) -> proto::Metric {
    proto::Metric {
        name: name.into(),
        description: format!("{name} description"),
        unit: "ms".into(),
        metadata: Vec::new(),
        data: Some(data),
    }
}

/// Every OTLP metric type, every field of every point set to a distinct
/// non-default value, in the form the encoder writes.
pub(super) fn canonical_request() -> ExportMetricsServiceRequest {
    let gauge = metric(
        "temperature",
        Data::Gauge(proto::Gauge {
            data_points: vec![
                number(number_data_point::Value::AsInt(i64::MAX), 0),
                number(number_data_point::Value::AsDouble(-1.5), 1),
            ],
        }),
    );
    let counter = metric(
        "requests",
        Data::Sum(proto::Sum {
            data_points: vec![number(number_data_point::Value::AsInt(7), 0)],
            aggregation_temporality: 1,
            is_monotonic: true,
        }),
    );
    let up_down = metric(
        "queue",
        Data::Sum(proto::Sum {
            data_points: vec![number(number_data_point::Value::AsDouble(3.0), 0)],
            aggregation_temporality: 2,
            is_monotonic: false,
        }),
    );
    let histogram = metric(
        "latency",
        Data::Histogram(proto::Histogram {
            data_points: vec![
                proto::HistogramDataPoint {
                    attributes: vec![kv("route", Some(string("/")))],
                    start_time_unix_nano: 3_000,
                    time_unix_nano: 4_000,
                    count: 6,
                    sum: Some(12.5),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.5, 10.0],
                    exemplars: exemplars(),
                    flags: 1,
                    min: Some(0.1),
                    max: Some(11.0),
                },
                // Only count known: no buckets, no sum (values may be negative).
                proto::HistogramDataPoint {
                    count: 4,
                    time_unix_nano: 4_001,
                    ..Default::default()
                },
            ],
            aggregation_temporality: 1,
        }),
    );
    let exponential = metric(
        "size",
        Data::ExponentialHistogram(proto::ExponentialHistogram {
            data_points: vec![proto::ExponentialHistogramDataPoint {
                attributes: vec![kv("disk", Some(Any::IntValue(2)))],
                start_time_unix_nano: 5_000,
                time_unix_nano: 6_000,
                count: 10,
                sum: Some(-4.0),
                scale: -2,
                zero_count: 1,
                positive: Some(Buckets {
                    offset: -3,
                    bucket_counts: vec![4, 0, 1],
                }),
                negative: Some(Buckets {
                    offset: 2,
                    bucket_counts: vec![4],
                }),
                flags: 1,
                exemplars: exemplars(),
                min: Some(-9.0),
                max: Some(8.0),
                zero_threshold: 1e-9,
            }],
            aggregation_temporality: 2,
        }),
    );
    let summary = metric(
        "rpc",
        Data::Summary(proto::Summary {
            data_points: vec![proto::SummaryDataPoint {
                attributes: vec![kv("method", Some(string("get")))],
                start_time_unix_nano: 7_000,
                time_unix_nano: 8_000,
                count: 9,
                sum: 99.5,
                quantile_values: vec![
                    ValueAtQuantile {
                        quantile: 0.5,
                        value: 10.0,
                    },
                    ValueAtQuantile {
                        quantile: 0.99,
                        value: 40.0,
                    },
                ],
                flags: 1,
            }],
        }),
    );
    ExportMetricsServiceRequest {
        resource_metrics: vec![
            proto::ResourceMetrics {
                resource: Some(full_resource("api")),
                scope_metrics: vec![
                    proto::ScopeMetrics {
                        scope: Some(full_scope()),
                        metrics: vec![gauge, counter, up_down, histogram],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                    },
                    proto::ScopeMetrics {
                        scope: None,
                        metrics: vec![exponential, summary],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.20.0".into(),
            },
            proto::ResourceMetrics {
                resource: None,
                scope_metrics: vec![proto::ScopeMetrics {
                    scope: None,
                    metrics: vec![metric(
                        "orphan",
                        Data::Gauge(proto::Gauge {
                            data_points: vec![number(number_data_point::Value::AsInt(0), 0)],
                        }),
                    )],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

#[test]
fn decodes_every_type_and_field() {
    let points = decode_metrics(&canonical_request().encode_to_vec()).unwrap();
    let kinds: Vec<_> = points.iter().map(|p| (p.name.as_str(), p.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("temperature", MetricKind::Gauge),
            ("temperature", MetricKind::Gauge),
            ("requests", MetricKind::Counter),
            ("queue", MetricKind::UpDownCounter),
            ("latency", MetricKind::Histogram),
            ("latency", MetricKind::Histogram),
            ("size", MetricKind::Histogram),
            ("rpc", MetricKind::Summary),
            ("orphan", MetricKind::Gauge),
        ]
    );
    let exemplars = vec![
        Exemplar {
            value: Number::Float(0.25),
            time_unix_nano: 101,
            filtered_attributes: object(&[("user", "u1".into())]),
            trace_id: Some(TraceId((1..=16).collect::<Vec<u8>>().try_into().unwrap())),
            span_id: Some(SpanId([1, 2, 3, 4, 5, 6, 7, 8])),
        },
        Exemplar {
            value: Number::Integer(-3),
            time_unix_nano: 102,
            filtered_attributes: Default::default(),
            trace_id: None,
            span_id: None,
        },
    ];
    let gauge = &points[0];
    assert_eq!(
        gauge,
        &Metric {
            name: KeyString::from("temperature"),
            labels: object(&[("host", "a".into())]),
            kind: MetricKind::Gauge,
            temporality: Temporality::Cumulative,
            value: MetricValue::Integer(i64::MAX),
            time_unix_nano: 2_000,
            start_time_unix_nano: 1_000,
            description: "temperature description".into(),
            unit: "ms".into(),
            resource: gauge.resource.clone(),
            scope: gauge.scope.clone(),
            exemplars: exemplars.clone(),
            flags: 0,
        }
    );
    assert_eq!(points[1].value, MetricValue::Scalar(-1.5));
    assert_eq!(points[1].flags, 1);
    assert_eq!(points[2].temporality, Temporality::Delta);
    assert_eq!(points[3].temporality, Temporality::Cumulative);
    assert_eq!(
        points[4].value,
        MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.5,
                    count: 1
                },
                Bucket {
                    upper_bound: 10.0,
                    count: 2
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 3
                },
            ],
            count: 6,
            sum: Some(12.5),
            min: Some(0.1),
            max: Some(11.0),
        }
    );
    assert_eq!(points[4].exemplars, exemplars);
    assert_eq!(points[4].labels, object(&[("route", "/".into())]));
    assert_eq!(
        points[5].value,
        MetricValue::Histogram {
            buckets: Vec::new(),
            count: 4,
            sum: None,
            min: None,
            max: None,
        }
    );
    assert_eq!(
        points[6].value,
        MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
            count: 10,
            sum: Some(-4.0),
            scale: -2,
            zero_count: 1,
            zero_threshold: 1e-9,
            positive: ExponentialBuckets {
                offset: -3,
                counts: vec![4, 0, 1],
            },
            negative: ExponentialBuckets {
                offset: 2,
                counts: vec![4],
            },
            min: Some(-9.0),
            max: Some(8.0),
        }))
    );
    assert_eq!(points[6].labels, object(&[("disk", Value::Integer(2))]));
    assert_eq!(points[6].temporality, Temporality::Cumulative);
    assert_eq!(
        points[7].value,
        MetricValue::Summary {
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 10.0
                },
                Quantile {
                    quantile: 0.99,
                    value: 40.0
                },
            ],
            count: 9,
            sum: 99.5,
        }
    );
    assert_eq!(
        (points[7].start_time_unix_nano, points[7].flags),
        (7_000, 1)
    );
    // One `Arc` per resource and per scope.
    assert!(shared(&points[0].resource, &points[7].resource));
    assert!(shared(&points[0].scope, &points[4].scope));
    assert_eq!(points[6].scope, None);
    assert_eq!(points[8].resource, None);
}

#[test]
fn a_canonical_request_round_trips_through_protobuf_and_json() {
    let request = canonical_request();
    let points = metrics_from_request(request.clone());
    assert_eq!(metrics_to_request(&points), request);
    let bytes = encode_metrics(&points);
    assert_eq!(bytes, request.encode_to_vec());
    assert_eq!(decode_metrics(&bytes).unwrap(), points);

    let json = encode_metrics_json(&points);
    assert_eq!(metrics_request_from_json(&json).unwrap(), request);
    assert_eq!(decode_metrics_json(&json).unwrap(), points);
    assert_eq!(metrics_request_to_json(&request), json);
}

fn one_metric(data: Data) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            scope_metrics: vec![proto::ScopeMetrics {
                metrics: vec![metric("m", data)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn settles_what_the_spec_does_not_allow() {
    // No value, unspecified temporality.
    let sum = one_metric(Data::Sum(proto::Sum {
        data_points: vec![proto::NumberDataPoint {
            exemplars: vec![proto::Exemplar::default()],
            ..Default::default()
        }],
        aggregation_temporality: 0,
        is_monotonic: true,
    }));
    let points = metrics_from_request(sum);
    assert_eq!(points[0].value, MetricValue::Scalar(0.0));
    assert_eq!(points[0].temporality, Temporality::Cumulative);
    assert_eq!(points[0].exemplars[0].value, Number::Float(0.0));

    // Counts without bounds, and bounds without counts.
    let histogram = one_metric(Data::Histogram(proto::Histogram {
        data_points: vec![
            proto::HistogramDataPoint {
                bucket_counts: vec![1, 2],
                ..Default::default()
            },
            proto::HistogramDataPoint {
                explicit_bounds: vec![1.0],
                ..Default::default()
            },
        ],
        aggregation_temporality: 2,
    }));
    let points = metrics_from_request(histogram);
    let MetricValue::Histogram { buckets, .. } = &points[0].value else {
        panic!("{:?}", points[0].value);
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.upper_bound).collect();
    assert_eq!(bounds, [f64::INFINITY, f64::INFINITY]);
    let MetricValue::Histogram { buckets, .. } = &points[1].value else {
        panic!("{:?}", points[1].value);
    };
    assert!(buckets.is_empty());

    // A metric without data, or without points, has no point to become.
    let empty = ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            scope_metrics: vec![proto::ScopeMetrics {
                metrics: vec![
                    proto::Metric::default(),
                    metric("g", Data::Gauge(proto::Gauge::default())),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert!(metrics_from_request(empty).is_empty());
}

#[test]
fn points_go_out_by_value_then_kind() {
    let scalar_histogram = Metric {
        kind: MetricKind::Histogram,
        ..Metric::gauge("x", 1.0, 5)
    };
    let request = metrics_to_request(&[scalar_histogram]);
    let data = &request.resource_metrics[0].scope_metrics[0].metrics[0].data;
    assert!(matches!(data, Some(Data::Gauge(_))), "{data:?}");

    let counter_of_summary = Metric {
        kind: MetricKind::Counter,
        value: MetricValue::Summary {
            quantiles: Vec::new(),
            count: 1,
            sum: 2.0,
        },
        ..Metric::default()
    };
    let request = metrics_to_request(&[counter_of_summary]);
    let data = &request.resource_metrics[0].scope_metrics[0].metrics[0].data;
    assert!(matches!(data, Some(Data::Summary(_))), "{data:?}");
}

#[test]
fn consecutive_points_of_a_series_share_one_metric() {
    let points = [
        Metric::counter("a", 1.0, 1).with_label("k", "1"),
        Metric::counter("a", 2.0, 1).with_label("k", "2"),
        Metric {
            value: MetricValue::Integer(3),
            ..Metric::counter("a", 0.0, 1)
        },
        Metric::gauge("a", 3.0, 1),
        Metric {
            temporality: Temporality::Delta,
            ..Metric::counter("a", 1.0, 1)
        },
        Metric::counter("a", 1.0, 1),
    ];
    let request = metrics_to_request(&points);
    let sizes: Vec<usize> = request.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            _ => 0,
        })
        .collect();
    // Int and double points of one series share it; a gauge, another
    // temporality, and a run broken by them do not.
    assert_eq!(sizes, [3, 1, 1, 1]);
    assert_eq!(decode_metrics(&encode_metrics(&points)).unwrap(), points);
}

#[test]
fn garbage_is_an_error_with_a_message() {
    let error = decode_metrics(&[0x0a, 100]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid OTLP metrics protobuf: "),
        "{error}"
    );
    assert!(decode_metrics(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let path = [
        2 << 3 | 2, // KeyValue.value
        7 << 3 | 2, // NumberDataPoint.attributes
        1 << 3 | 2, // Gauge.data_points
        5 << 3 | 2, // Metric.gauge
        2 << 3 | 2, // ScopeMetrics.metrics
        2 << 3 | 2, // ResourceMetrics.scope_metrics
        1 << 3 | 2, // ExportMetricsServiceRequest.resource_metrics
    ];
    let ok = decode_metrics(&nested_any(46, &path)).unwrap();
    assert_eq!(ok.len(), 1);
    assert!(decode_metrics(&nested_any(47, &path)).is_err());
    assert!(decode_metrics(&nested_any(10_000, &path)).is_err());
}

fn exemplar() -> impl Strategy<Value = Exemplar> {
    (
        prop_oneof![
            float().prop_map(Number::Float),
            any::<i64>().prop_map(Number::Integer)
        ],
        time(),
        attributes(),
        optional_trace_id(),
        optional_span_id(),
    )
        .prop_map(
            |(value, time_unix_nano, filtered_attributes, trace_id, span_id)| Exemplar {
                value,
                time_unix_nano,
                filtered_attributes,
                trace_id,
                span_id,
            },
        )
}

fn temporality() -> impl Strategy<Value = Temporality> {
    prop_oneof![Just(Temporality::Cumulative), Just(Temporality::Delta)]
}

fn number_value() -> impl Strategy<Value = MetricValue> {
    prop_oneof![
        float().prop_map(MetricValue::Scalar),
        any::<i64>().prop_map(MetricValue::Integer)
    ]
}

fn histogram_value() -> impl Strategy<Value = MetricValue> {
    (
        vec((float(), any::<u64>()), 0..4),
        any::<u64>(),
        (
            option::of(float()),
            option::of(float()),
            option::of(float()),
        ),
    )
        .prop_map(|(pairs, count, (sum, min, max))| {
            let last = pairs.len().saturating_sub(1);
            let buckets = pairs
                .into_iter()
                .enumerate()
                .map(|(i, (bound, count))| Bucket {
                    upper_bound: if i == last { f64::INFINITY } else { bound },
                    count,
                })
                .collect();
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                min,
                max,
            }
        })
}

fn exponential_buckets() -> impl Strategy<Value = ExponentialBuckets> {
    (any::<i32>(), vec(any::<u64>(), 0..4))
        .prop_map(|(offset, counts)| ExponentialBuckets { offset, counts })
}

fn exponential_value() -> impl Strategy<Value = MetricValue> {
    (
        (any::<u64>(), option::of(float()), any::<i32>()),
        (any::<u64>(), float()),
        (exponential_buckets(), exponential_buckets()),
        (option::of(float()), option::of(float())),
    )
        .prop_map(
            |(
                (count, sum, scale),
                (zero_count, zero_threshold),
                (positive, negative),
                (min, max),
            )| {
                MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
                    count,
                    sum,
                    scale,
                    zero_count,
                    zero_threshold,
                    positive,
                    negative,
                    min,
                    max,
                }))
            },
        )
}

fn summary_value() -> impl Strategy<Value = MetricValue> {
    (vec((float(), float()), 0..3), any::<u64>(), float()).prop_map(|(qs, count, sum)| {
        MetricValue::Summary {
            quantiles: qs
                .into_iter()
                .map(|(quantile, value)| Quantile { quantile, value })
                .collect(),
            count,
            sum,
        }
    })
}

/// A kind, temporality and value OTLP can hold together: gauges and
/// summaries are cumulative (they have no temporality in OTLP).
fn typed_value() -> impl Strategy<Value = (MetricKind, Temporality, MetricValue)> {
    prop_oneof![
        number_value().prop_map(|v| (MetricKind::Gauge, Temporality::Cumulative, v)),
        (temporality(), number_value()).prop_map(|(t, v)| (MetricKind::Counter, t, v)),
        (temporality(), number_value()).prop_map(|(t, v)| (MetricKind::UpDownCounter, t, v)),
        (temporality(), histogram_value()).prop_map(|(t, v)| (MetricKind::Histogram, t, v)),
        (temporality(), exponential_value()).prop_map(|(t, v)| (MetricKind::Histogram, t, v)),
        summary_value().prop_map(|v| (MetricKind::Summary, Temporality::Cumulative, v)),
    ]
}

fn point() -> impl Strategy<Value = Metric> {
    (
        ("[ab]", "[x]{0,1}", "[s]{0,1}"),
        typed_value(),
        (time(), time(), any::<u32>()),
        attributes(),
        vec(exemplar(), 0..3),
    )
        .prop_map(
            |(
                (name, description, unit),
                (kind, temporality, value),
                (time_unix_nano, start_time_unix_nano, flags),
                labels,
                exemplars,
            )| {
                // OTLP summaries have no exemplars.
                let exemplars = if kind == MetricKind::Summary {
                    Vec::new()
                } else {
                    exemplars
                };
                Metric {
                    name: KeyString::from(name),
                    labels,
                    kind,
                    temporality,
                    value,
                    time_unix_nano,
                    start_time_unix_nano,
                    description,
                    unit,
                    resource: None,
                    scope: None,
                    exemplars,
                    flags,
                }
            },
        )
}

fn points() -> impl Strategy<Value = Vec<Metric>> {
    pooled(point(), |point, resource, scope| {
        point.resource = resource;
        point.scope = scope;
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode_metrics(&bytes);
    }

    #[test]
    fn damaged_requests_never_panic(
        points in points(),
        edits in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        let mut bytes = encode_metrics(&points);
        if !bytes.is_empty() {
            for (at, byte) in edits {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let _ = decode_metrics(&bytes);
    }

    #[test]
    fn encode_then_decode_is_identity(points in points()) {
        let decoded = decode_metrics(&encode_metrics(&points)).unwrap();
        prop_assert_eq!(&decoded, &points);
        for (before, after) in points.windows(2).zip(decoded.windows(2)) {
            let same_resource = grouped(&before[0].resource, &before[1].resource);
            let same_scope = grouped(&before[0].scope, &before[1].scope)
                && (same_resource || before[0].scope.is_none());
            prop_assert_eq!(shared(&after[0].resource, &after[1].resource), same_resource);
            prop_assert_eq!(shared(&after[0].scope, &after[1].scope), same_scope);
        }
    }

    #[test]
    fn request_round_trip_is_identity(points in points()) {
        // What the encoder writes is canonical: it decodes and encodes
        // back to the same request.
        let request = metrics_to_request(&points);
        prop_assert_eq!(metrics_to_request(&metrics_from_request(request.clone())), request);
    }

    #[test]
    fn json_round_trip_is_identity(points in points()) {
        let json = encode_metrics_json(&points);
        prop_assert_eq!(decode_metrics_json(&json).unwrap(), points.clone());
        let request = metrics_request_from_json(&json).unwrap();
        prop_assert_eq!(request.encode_to_vec(), encode_metrics(&points));
    }
}
