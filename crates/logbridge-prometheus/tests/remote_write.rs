//! Remote-write tests: round trips through snappy and protobuf, metadata,
//! staleness, exemplars, histogram expansion, and malformed bodies
//! (truncated protobuf, snappy bombs, oversize claims) refused cleanly.

use logbridge_event::{
    Bucket, Exemplar, FLAG_NO_RECORDED_VALUE, KeyString, Metric, MetricKind, MetricValue, Number,
    ObjectMap, Quantile, TraceId, Value,
};
use logbridge_prometheus::remote_write::proto::{
    Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};
use logbridge_prometheus::remote_write::{
    Metadata, RemoteWriteError, STALE_NAN_BITS, decode_write_request, decode_write_request_with,
    encode_write_request, metrics_to_request,
};
use proptest::prelude::*;
use prost::Message;

const MAX: usize = 1 << 20;

/// A series named `name` with one sample, 1 at 1 ms.
fn named_series(name: &str) -> TimeSeries {
    TimeSeries {
        labels: vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }],
        samples: vec![Sample {
            value: 1.0,
            timestamp: 1,
        }],
        exemplars: vec![],
    }
}

fn body(request: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap()
}

#[test]
fn scalars_round_trip_with_metadata_and_exemplars() {
    let mut c = Metric::counter("http_requests_total", 12.0, 1_700_000_000_123_000_000)
        .with_label("path", "/x")
        .with_label("code", "200");
    c.description = "Requests.".into();
    c.exemplars.push(Exemplar {
        value: Number::Float(1.0),
        time_unix_nano: 1_700_000_000_000_000_000,
        filtered_attributes: ObjectMap::new(),
        trace_id: Some(TraceId([7; 16])),
        span_id: None,
    });
    let mut g = Metric::gauge("temp", 21.5, 1_000_000);
    g.unit = "celsius".into();
    let decoded =
        decode_write_request(&encode_write_request(&[c.clone(), g.clone()]), MAX).unwrap();
    assert_eq!(decoded, vec![c, g]);
}

#[test]
fn labels_are_sorted_and_samples_merged_in_time_order() {
    let a = Metric::gauge("m", 2.0, 2_000_000)
        .with_label("Z", "1")
        .with_label("a", "2");
    let b = Metric::gauge("m", 1.0, 1_000_000)
        .with_label("Z", "1")
        .with_label("a", "2");
    let request = metrics_to_request(&[a, b]);
    assert_eq!(request.timeseries.len(), 1);
    let names: Vec<_> = request.timeseries[0]
        .labels
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["Z", "__name__", "a"]);
    let times: Vec<_> = request.timeseries[0]
        .samples
        .iter()
        .map(|s| s.timestamp)
        .collect();
    assert_eq!(times, [1, 2]);
    assert_eq!(request.metadata.len(), 1);
}

#[test]
fn histograms_and_summaries_expand_to_classic_series() {
    let h = Metric {
        name: "lat".into(),
        kind: MetricKind::Histogram,
        value: MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 1.0,
                    count: 2,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 3,
                },
            ],
            count: 5,
            sum: Some(9.0),
            min: None,
            max: None,
        },
        time_unix_nano: 5_000_000,
        ..Metric::default()
    };
    let s = Metric {
        name: "rpc".into(),
        kind: MetricKind::Summary,
        value: MetricValue::Summary {
            quantiles: vec![Quantile {
                quantile: 0.5,
                value: 0.1,
            }],
            count: 4,
            sum: 1.0,
        },
        time_unix_nano: 5_000_000,
        ..Metric::default()
    };
    let decoded = decode_write_request(&encode_write_request(&[h, s]), MAX).unwrap();
    let seen: Vec<(String, Option<String>, f64, MetricKind)> = decoded
        .iter()
        .map(|m| {
            let extra = m
                .labels
                .get("le")
                .or(m.labels.get("quantile"))
                .and_then(Value::as_str)
                .map(str::to_string);
            (m.name.to_string(), extra, m.value.as_f64().unwrap(), m.kind)
        })
        .collect();
    use MetricKind::*;
    assert_eq!(
        seen,
        vec![
            ("lat_bucket".into(), Some("1.0".into()), 2.0, Counter),
            ("lat_bucket".into(), Some("+Inf".into()), 5.0, Counter),
            ("lat_sum".into(), None, 9.0, Counter),
            ("lat_count".into(), None, 5.0, Counter),
            ("rpc".into(), Some("0.5".into()), 0.1, Gauge),
            ("rpc_sum".into(), None, 1.0, Counter),
            ("rpc_count".into(), None, 4.0, Counter),
        ]
    );
    // Decoding then encoding again is a fixed point.
    let again = decode_write_request(&encode_write_request(&decoded), MAX).unwrap();
    assert_eq!(again, decoded);
}

#[test]
fn stale_marker_maps_to_the_flag_and_back() {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: "__name__".into(),
                value: "up".into(),
            }],
            samples: vec![Sample {
                value: f64::from_bits(STALE_NAN_BITS),
                timestamp: 10,
            }],
            exemplars: vec![],
        }],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Gauge as i32,
            metric_family_name: "up".into(),
            help: "Up.".into(),
            unit: String::new(),
        }],
    };
    let decoded = decode_write_request(&body(&request), MAX).unwrap();
    assert_eq!(decoded[0].flags, FLAG_NO_RECORDED_VALUE);
    assert_eq!(decoded[0].description, "Up.");
    assert_eq!(decoded[0].time_unix_nano, 10_000_000);
    let back = metrics_to_request(&decoded);
    assert_eq!(
        back.timeseries[0].samples[0].value.to_bits(),
        STALE_NAN_BITS
    );
}

#[test]
fn metadata_of_a_family_applies_to_suffixed_series() {
    let series = named_series;
    let request = WriteRequest {
        timeseries: vec![series("h_bucket"), series("c_total"), series("other")],
        metadata: vec![
            MetricMetadata {
                r#type: MetricType::Histogram as i32,
                metric_family_name: "h".into(),
                help: "H.".into(),
                unit: "seconds".into(),
            },
            MetricMetadata {
                r#type: MetricType::Counter as i32,
                metric_family_name: "c".into(),
                help: String::new(),
                unit: String::new(),
            },
        ],
    };
    let decoded = decode_write_request(&body(&request), MAX).unwrap();
    assert_eq!(decoded[0].kind, MetricKind::Counter);
    assert_eq!(decoded[0].unit, "seconds");
    assert_eq!(decoded[1].kind, MetricKind::Counter);
    assert_eq!(decoded[2].kind, MetricKind::Gauge);
}

/// Prometheus sends metadata in requests of its own: a receiver that
/// remembers it types, describes and gives units to the series of later
/// requests; metadata in a series' own request wins.
#[test]
fn regression_metadata_of_earlier_requests_applies() {
    let series = named_series;
    let meta = |name: &str, ty: MetricType, help: &str| MetricMetadata {
        r#type: ty as i32,
        metric_family_name: name.into(),
        help: help.into(),
        unit: if ty == MetricType::Histogram {
            "seconds".into()
        } else {
            String::new()
        },
    };
    let remembered = std::sync::RwLock::new(Metadata::default());
    let only_metadata = WriteRequest {
        timeseries: vec![],
        metadata: vec![
            meta("http_requests_total", MetricType::Counter, "Requests."),
            meta("latency", MetricType::Histogram, "Latency."),
        ],
    };
    let none = decode_write_request_with(&body(&only_metadata), MAX, &remembered).unwrap();
    assert!(none.is_empty());
    assert_eq!(remembered.read().unwrap().len(), 2);

    let samples = WriteRequest {
        timeseries: vec![
            series("http_requests_total"),
            series("latency_bucket"),
            series("unknown"),
        ],
        metadata: vec![],
    };
    let decoded = decode_write_request_with(&body(&samples), MAX, &remembered).unwrap();
    assert_eq!(decoded[0].kind, MetricKind::Counter);
    assert_eq!(decoded[0].description, "Requests.");
    assert_eq!(decoded[1].kind, MetricKind::Counter);
    assert_eq!(decoded[1].unit, "seconds");
    assert_eq!(decoded[1].description, "Latency.");
    assert_eq!(decoded[2].kind, MetricKind::Gauge);
    // Without memory, as before: every series a gauge.
    let plain = decode_write_request(&body(&samples), MAX).unwrap();
    assert_eq!(plain[0].kind, MetricKind::Gauge);

    // The request's own metadata wins, and is remembered from then on.
    let changed = WriteRequest {
        timeseries: vec![series("http_requests_total")],
        metadata: vec![meta("http_requests_total", MetricType::Gauge, "Now.")],
    };
    let decoded = decode_write_request_with(&body(&changed), MAX, &remembered).unwrap();
    assert_eq!(decoded[0].kind, MetricKind::Gauge);
    assert_eq!(decoded[0].description, "Now.");
    let decoded = decode_write_request_with(&body(&samples), MAX, &remembered).unwrap();
    assert_eq!(decoded[0].description, "Now.");
}

/// `-0` keeps its sign through remote write (proto3 would leave it out as
/// the default value and read it back as `0`), as do NaN and infinities.
#[test]
fn regression_negative_zero_and_non_finite_values_round_trip() {
    let values = [-0.0, 0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5];
    let metrics: Vec<Metric> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Metric::gauge(&format!("g{i}"), *v, 1_000_000))
        .collect();
    let back = decode_write_request(&encode_write_request(&metrics), MAX).unwrap();
    for (v, m) in values.iter().zip(&back) {
        let MetricValue::Scalar(got) = m.value else {
            panic!("{m:?}")
        };
        assert_eq!(got.to_bits(), v.to_bits(), "{v}");
    }
    // A zero value is still left out, as proto3 writes it.
    let zero = Sample {
        value: 0.0,
        timestamp: 0,
    };
    assert_eq!(zero.encoded_len(), 0);
}

#[test]
fn malformed_bodies_are_errors() {
    let good = encode_write_request(&[Metric::gauge("a", 1.0, 1_000_000).with_label("x", "y")]);
    // Truncated snappy.
    assert!(decode_write_request(&good[..good.len() - 2], MAX).is_err());
    // Valid snappy around truncated protobuf.
    let raw = metrics_to_request(&[Metric::gauge("a", 1.0, 1)]).encode_to_vec();
    let truncated = snap::raw::Encoder::new()
        .compress_vec(&raw[..raw.len() - 1])
        .unwrap();
    assert!(matches!(
        decode_write_request(&truncated, MAX),
        Err(RemoteWriteError::Protobuf(_))
    ));
    // A bomb: 16 MiB of zeroes compresses to a few hundred KiB.
    let bomb = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 16 << 20])
        .unwrap();
    assert!(matches!(
        decode_write_request(&bomb, MAX),
        Err(RemoteWriteError::TooLarge { claimed, .. }) if claimed == 16 << 20
    ));
    // A header claiming 4 GiB with no data behind it: refused before allocating.
    let claim = [0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(
        decode_write_request(&claim, MAX),
        Err(RemoteWriteError::TooLarge { .. })
    ));
    // A header that lies low: snappy notices.
    let mut lying = good.clone();
    lying[0] = 1;
    assert!(decode_write_request(&lying, MAX).is_err());
    assert!(decode_write_request(&[], MAX).is_err());
    // A series without __name__.
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![],
            samples: vec![],
            exemplars: vec![],
        }],
        metadata: vec![],
    };
    assert!(matches!(
        decode_write_request(&body(&request), MAX),
        Err(RemoteWriteError::MissingName)
    ));
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_write_request(&bytes, 1 << 16);
        let compressed = snap::raw::Encoder::new().compress_vec(&bytes).unwrap();
        let _ = decode_write_request(&compressed, 1 << 16);
    }

    #[test]
    fn scalar_points_round_trip(
        points in proptest::collection::vec(
            ("[a-z][a-z0-9_]{0,8}", proptest::collection::btree_map("[a-z]{1,4}", "\\PC{0,6}", 0..3), any::<bool>(), -1e12f64..1e12, 0i64..4_000_000_000_000),
            1..8,
        )
    ) {
        let mut metrics: Vec<Metric> = Vec::new();
        for (name, labels, counter, v, ms) in points {
            let labels: ObjectMap = labels.into_iter().map(|(k, v)| (KeyString::new(&k), Value::from(v))).collect();
            // One point per series, and one kind per name, as a scrape has.
            if metrics.iter().any(|m| m.name == name) {
                continue;
            }
            metrics.push(Metric {
                name: KeyString::new(&name),
                labels,
                kind: if counter { MetricKind::Counter } else { MetricKind::Gauge },
                value: MetricValue::Scalar(v),
                time_unix_nano: ms * 1_000_000,
                ..Metric::default()
            });
        }
        let decoded = decode_write_request(&encode_write_request(&metrics), 1 << 24).unwrap();
        prop_assert_eq!(decoded, metrics);
    }
}
