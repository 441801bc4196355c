//! Parser and writer tests: features of both text formats, exemplars,
//! histogram and summary assembly, lenient 0.0.4 input, and properties
//! (no panic on arbitrary bytes; encode then parse gives the points back).

use bytes::Bytes;
use logbridge_event::{
    Bucket, Exemplar, KeyString, Metric, MetricKind, MetricValue, Number, ObjectMap, Quantile,
    SpanId, TraceId, Value,
};
use logbridge_prometheus::encode_text;
use logbridge_prometheus::text::{Entry, Format, ParseErrorKind, parse, parse_slice, samples};
use proptest::prelude::*;

fn om(text: &str) -> Vec<Metric> {
    parse_slice(text.as_bytes(), Format::OpenMetrics, 7).unwrap()
}

fn prom(text: &str) -> Vec<Metric> {
    parse_slice(text.as_bytes(), Format::Prometheus, 7).unwrap()
}

fn label<'a>(m: &'a Metric, k: &str) -> &'a str {
    m.labels.get(k).and_then(Value::as_str).unwrap()
}

#[test]
fn counter_with_metadata_created_and_exemplar() {
    let ms = om(concat!(
        "# HELP http_requests Requests \\\"served\\\".\n",
        "# TYPE http_requests counter\n",
        "http_requests_total{code=\"200\",path=\"/a\\\\b\"} 1027 1700000000.5 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\",user=\"x\"} 1.5 1700000000.25\n",
        "http_requests_created{code=\"200\",path=\"/a\\\\b\"} 1600000000.125 1700000000.5\n",
        "# EOF\n"
    ));
    assert_eq!(ms.len(), 1);
    let m = &ms[0];
    assert_eq!(m.name, "http_requests_total");
    assert_eq!(m.kind, MetricKind::Counter);
    assert_eq!(m.value, MetricValue::Scalar(1027.0));
    assert_eq!(m.description, "Requests \"served\".");
    assert_eq!(m.time_unix_nano, 1_700_000_000_500_000_000);
    assert_eq!(m.start_time_unix_nano, 1_600_000_000_125_000_000);
    assert_eq!(label(m, "path"), "/a\\b");
    let e = &m.exemplars[0];
    assert_eq!(e.value, Number::Float(1.5));
    assert_eq!(e.time_unix_nano, 1_700_000_000_250_000_000);
    assert_eq!(
        e.trace_id.unwrap().to_hex(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(e.span_id.unwrap().to_hex(), "00f067aa0ba902b7");
    assert_eq!(e.filtered_attributes["user"].as_str(), Some("x"));
}

#[test]
fn series_with_different_label_names_keep_their_own() {
    // Label keys are reused from the previous point while the names match
    // by position; every change of names must be seen.
    let ms = prom(concat!(
        "m{a=\"1\",b=\"2\"} 1\n",
        "m{a=\"1\",c=\"3\"} 2\n",
        "m{b=\"x\"} 3\n",
        "m{b=\"y\",c=\"z\",d=\"w\"} 4\n",
        "m 5\n",
        "m{a=\"2\",b=\"3\"} 6\n",
    ));
    let names: Vec<Vec<(String, String)>> = ms
        .iter()
        .map(|m| {
            m.labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .collect();
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        names,
        [
            pairs(&[("a", "1"), ("b", "2")]),
            pairs(&[("a", "1"), ("c", "3")]),
            pairs(&[("b", "x")]),
            pairs(&[("b", "y"), ("c", "z"), ("d", "w")]),
            pairs(&[]),
            pairs(&[("a", "2"), ("b", "3")]),
        ]
    );
}

#[test]
fn histogram_is_one_point_with_per_bucket_counts() {
    let ms = om(concat!(
        "# TYPE lat_seconds histogram\n",
        "# UNIT lat_seconds seconds\n",
        "lat_seconds_bucket{m=\"GET\",le=\"0.1\"} 2\n",
        "lat_seconds_bucket{m=\"GET\",le=\"1\"} 5 # {trace_id=\"x\"} 0.5\n",
        "lat_seconds_bucket{m=\"GET\",le=\"+Inf\"} 6\n",
        "lat_seconds_sum{m=\"GET\"} 3.5\n",
        "lat_seconds_count{m=\"GET\"} 6\n",
        "lat_seconds_created{m=\"GET\"} 12\n",
        "lat_seconds_bucket{m=\"PUT\",le=\"+Inf\"} 0\n",
        "# EOF\n"
    ));
    assert_eq!(ms.len(), 2);
    let m = &ms[0];
    assert_eq!(m.name, "lat_seconds");
    assert_eq!(m.unit, "seconds");
    assert_eq!(m.kind, MetricKind::Histogram);
    assert_eq!(m.start_time_unix_nano, 12_000_000_000);
    assert_eq!(m.labels.len(), 1);
    assert_eq!(
        m.value,
        MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.1,
                    count: 2
                },
                Bucket {
                    upper_bound: 1.0,
                    count: 3
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 1
                },
            ],
            count: 6,
            sum: Some(3.5),
            min: None,
            max: None,
        }
    );
    // A trace_id that is not 32 hex digits stays an attribute.
    assert_eq!(m.exemplars[0].trace_id, None);
    assert_eq!(
        m.exemplars[0].filtered_attributes["trace_id"].as_str(),
        Some("x")
    );
    assert_eq!(label(&ms[1], "m"), "PUT");
}

#[test]
fn summary_and_special_values() {
    let ms = om(concat!(
        "# TYPE rpc summary\n",
        "rpc{quantile=\"0.5\"} NaN\n",
        "rpc{quantile=\"0.99\"} +Inf\n",
        "rpc_sum 4\n",
        "rpc_count 2\n",
        "# TYPE g gauge\n",
        "g -Inf\n",
        "# EOF"
    ));
    let MetricValue::Summary {
        quantiles,
        count,
        sum,
    } = &ms[0].value
    else {
        panic!("{:?}", ms[0].value)
    };
    assert_eq!((*count, *sum), (2, 4.0));
    assert!(quantiles[0].value.is_nan());
    assert_eq!(
        quantiles[1],
        Quantile {
            quantile: 0.99,
            value: f64::INFINITY
        }
    );
    assert_eq!(ms[1].value, MetricValue::Scalar(f64::NEG_INFINITY));
    assert_eq!(ms[1].time_unix_nano, 7, "default timestamp");
}

#[test]
fn info_stateset_unknown() {
    let ms = om(concat!(
        "# TYPE build info\n",
        "build_info{version=\"1.2\"} 1\n",
        "# TYPE state stateset\n",
        "state{state=\"a\"} 1\n",
        "state{state=\"b\"} 0\n",
        "# TYPE x unknown\n",
        "x 3\n",
        "# EOF\n"
    ));
    assert_eq!(ms.len(), 4);
    assert_eq!(ms[0].name, "build_info");
    assert_eq!(ms[2].value, MetricValue::Scalar(0.0));
    assert!(ms.iter().all(|m| m.kind == MetricKind::Gauge));
}

#[test]
fn node_exporter_style_004() {
    let ms = prom(concat!(
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n",
        "# TYPE node_cpu_seconds_total counter\n",
        "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 2.5e+06\n",
        "node_cpu_seconds_total{cpu=\"0\",mode=\"user\",} 1234.5\r\n",
        "\n",
        "# a free comment\n",
        "node_load1 0.42 1700000000123\n",
        "untyped_thing{a = \"b\"}  1\t\n",
        "# TYPE h histogram\n",
        "h_bucket{le=\"1\"} 1\n",
        "h_bucket{le=\"+INF\"} 3\n",
        "h_sum 2\n",
        "h_count 3\n",
        "# TYPE s summary\n",
        "s_sum 1\n",
        "s_count 1\n",
    ));
    assert_eq!(ms.len(), 6);
    assert_eq!(ms[0].name, "node_cpu_seconds_total");
    assert_eq!(ms[0].kind, MetricKind::Counter);
    assert_eq!(ms[1].value, MetricValue::Scalar(1234.5));
    assert_eq!(ms[2].time_unix_nano, 1_700_000_000_123_000_000);
    assert_eq!(label(&ms[3], "a"), "b");
    assert_eq!(ms[3].kind, MetricKind::Gauge);
    let MetricValue::Histogram { buckets, count, .. } = &ms[4].value else {
        panic!()
    };
    assert_eq!(*count, 3);
    assert_eq!(
        buckets[1],
        Bucket {
            upper_bound: f64::INFINITY,
            count: 2
        }
    );
    assert_eq!(ms[5].kind, MetricKind::Summary);
}

#[test]
fn missing_inf_bucket_is_added_in_004() {
    let ms = prom("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 4\n");
    let MetricValue::Histogram { buckets, .. } = &ms[0].value else {
        panic!()
    };
    assert_eq!(
        buckets.last(),
        Some(&Bucket {
            upper_bound: f64::INFINITY,
            count: 3
        })
    );
}

#[test]
fn errors_carry_line_and_reason() {
    let e = parse_slice(b"a 1\nb{x=\"1\" 2\n# EOF\n", Format::OpenMetrics, 0).unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, ParseErrorKind::ExpectedCommaOrBrace);
    assert_eq!(
        e.to_string(),
        "line 2: expected `,` or `}` after a label value"
    );
    let e = parse_slice(b"a 1\n", Format::OpenMetrics, 0).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::MissingEof);
    let e = parse_slice(b"a{b=\"c} 1\n", Format::Prometheus, 0).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::UnterminatedLabelValue);
}

#[test]
fn format_from_content_type() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4"),
        Format::Prometheus
    );
    assert_eq!(Format::from_content_type(""), Format::Prometheus);
}

#[test]
fn zero_copy_samples() {
    let text = b"# TYPE a counter\na_total{x=\"1\",y=\"q\\\"\"} 2 # {z=\"w\"} 1\n# EOF\n";
    let entries: Vec<_> = samples(text, Format::OpenMetrics)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(entries.len(), 3);
    let Entry::Sample(s) = entries[1] else {
        panic!()
    };
    assert_eq!(s.name, b"a_total");
    let labels: Vec<_> = s.labels.iter().collect();
    assert_eq!(
        labels,
        vec![(&b"x"[..], &b"1"[..]), (&b"y"[..], &b"q\\\""[..])]
    );
    let e = s.exemplar.unwrap();
    assert_eq!(e.labels.iter().next(), Some((&b"z"[..], &b"w"[..])));
}

#[test]
fn label_values_borrow_the_input() {
    let body = Bytes::from_static(b"m{a=\"value\"} 1\n");
    let ms = parse(&body, Format::Prometheus, 0).unwrap();
    let Some(Value::Bytes(b)) = ms[0].labels.get("a") else {
        panic!()
    };
    assert_eq!(b.as_ptr(), body[4..].as_ptr().wrapping_add(1));
}

#[test]
fn encode_writes_expected_openmetrics() {
    let mut h = Metric {
        name: "lat".into(),
        kind: MetricKind::Histogram,
        value: MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: 0.5,
                    count: 1,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 2,
                },
            ],
            count: 3,
            sum: Some(2.5),
            min: None,
            max: None,
        },
        description: "Latency\nin s".into(),
        ..Metric::default()
    };
    h.exemplars.push(Exemplar {
        value: Number::Float(0.25),
        time_unix_nano: 0,
        filtered_attributes: ObjectMap::new(),
        trace_id: Some(TraceId([1; 16])),
        span_id: Some(SpanId([2; 8])),
    });
    let c = Metric::counter("req_total", 5.0, 1_500_000_000).with_label("p", "a\"b");
    let text = String::from_utf8(encode_text(&[h, c], Format::OpenMetrics)).unwrap();
    assert_eq!(
        text,
        concat!(
            "# HELP lat Latency\\nin s\n",
            "# TYPE lat histogram\n",
            "lat_bucket{le=\"0.5\"} 1 # {trace_id=\"01010101010101010101010101010101\",span_id=\"0202020202020202\"} 0.25\n",
            "lat_bucket{le=\"+Inf\"} 3\n",
            "lat_sum 2.5\n",
            "lat_count 3\n",
            "# TYPE req counter\n",
            "req_total{p=\"a\\\"b\"} 5.0 1.5\n",
            "# EOF\n"
        )
    );
    let text = String::from_utf8(encode_text(
        &parse_slice(text.as_bytes(), Format::OpenMetrics, 0).unwrap(),
        Format::Prometheus,
    ))
    .unwrap();
    assert!(
        text.contains("req_total{p=\"a\\\"b\"} 5.0 1500\n"),
        "{text}"
    );
}

// ---- properties ----

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}"
}

fn labels() -> impl Strategy<Value = ObjectMap> {
    proptest::collection::btree_map("[a-z][a-z0-9_]{0,6}", "[ -~\n\\\\\"é]{0,8}", 0..4).prop_map(
        |m| {
            m.into_iter()
                .filter(|(k, _)| k != "le" && k != "quantile")
                .map(|(k, v)| (KeyString::new(&k), Value::from(v)))
                .collect()
        },
    )
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ]
}

/// A family of points of one kind, as the parser would produce them.
fn family(format: Format) -> impl Strategy<Value = Vec<Metric>> {
    (
        name(),
        0u8..4,
        // 0.0.4 trims blanks around help texts, so none are generated.
        "([!-~]([ -~]{0,18}[!-~])?)?",
        proptest::collection::vec((labels(), finite(), 0u64..1000, 1i64..4_000_000_000), 1..4),
    )
        .prop_map(move |(name, kind, help, points)| {
            let mut out: Vec<Metric> = Vec::new();
            for (labels, v, n, secs) in points {
                if out.iter().any(|m| m.labels == labels) {
                    continue;
                }
                let time = if format == Format::OpenMetrics {
                    secs * 1_000_000_007 % 4_000_000_000_000_000_000
                } else {
                    secs * 1_000_000
                };
                let (kind, value, name) = match kind {
                    0 => (MetricKind::Gauge, MetricValue::Scalar(v), name.clone()),
                    1 => (
                        MetricKind::Counter,
                        MetricValue::Scalar(v.abs()),
                        format!("{name}_total"),
                    ),
                    2 => (
                        MetricKind::Histogram,
                        MetricValue::Histogram {
                            buckets: vec![
                                Bucket {
                                    upper_bound: 0.25,
                                    count: n,
                                },
                                Bucket {
                                    upper_bound: 10.0,
                                    count: n / 2,
                                },
                                Bucket {
                                    upper_bound: f64::INFINITY,
                                    count: 1,
                                },
                            ],
                            count: n + n / 2 + 1,
                            sum: Some(v.abs()),
                            min: None,
                            max: None,
                        },
                        name.clone(),
                    ),
                    _ => (
                        MetricKind::Summary,
                        MetricValue::Summary {
                            quantiles: vec![
                                // OpenMetrics forbids negative quantile values.
                                Quantile {
                                    quantile: 0.5,
                                    value: v.abs(),
                                },
                                Quantile {
                                    quantile: 0.99,
                                    value: v.abs() * 2.0,
                                },
                            ],
                            count: n,
                            sum: v.abs(),
                        },
                        name.clone(),
                    ),
                };
                out.push(Metric {
                    name: KeyString::new(&name),
                    labels,
                    kind,
                    value,
                    time_unix_nano: time,
                    description: help.clone(),
                    ..Metric::default()
                });
            }
            out
        })
}

fn families(format: Format) -> impl Strategy<Value = Vec<Metric>> {
    proptest::collection::vec(family(format), 1..5).prop_map(|fams| {
        // Family names must not collide (or be a suffixed form of another).
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (i, fam) in fams.into_iter().enumerate() {
            let renamed: Vec<Metric> = fam
                .into_iter()
                .map(|mut m| {
                    let base = m.name.trim_end_matches("_total").to_string();
                    let fresh = format!("f{i}_{base}");
                    m.name = KeyString::new(if m.kind == MetricKind::Counter {
                        format!("{fresh}_total")
                    } else {
                        fresh.clone()
                    });
                    seen.push(fresh);
                    m
                })
                .collect();
            out.extend(renamed);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_slice(&bytes, Format::OpenMetrics, 0);
        let _ = parse_slice(&bytes, Format::Prometheus, 0);
        for e in samples(&bytes, Format::OpenMetrics) { let _ = e; }
    }

    #[test]
    fn parser_never_panics_on_near_valid_text(
        text in "(# (HELP|TYPE|UNIT) [a-z_]{1,3} [a-z ]{0,6}\n|[a-z_]{1,4}(\\{([a-z]{1,2}=\"[a-z#\\\\\"]{0,3}\",?){0,3}\\})? [-+0-9.eInfa]{1,5}( [0-9.]{1,4})?( # \\{[a-z]=\"[a-z]\"\\} [0-9]{1,2})?\n){0,8}(# EOF\n)?"
    ) {
        let _ = parse_slice(text.as_bytes(), Format::OpenMetrics, 0);
        let _ = parse_slice(text.as_bytes(), Format::Prometheus, 0);
    }

    #[test]
    fn openmetrics_round_trip(metrics in families(Format::OpenMetrics)) {
        let text = encode_text(&metrics, Format::OpenMetrics);
        let parsed = parse_slice(&text, Format::OpenMetrics, 0)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&text))))?;
        prop_assert_eq!(parsed, metrics, "{}", String::from_utf8_lossy(&text));
    }

    #[test]
    fn prometheus_round_trip(metrics in families(Format::Prometheus)) {
        let text = encode_text(&metrics, Format::Prometheus);
        let parsed = parse_slice(&text, Format::Prometheus, 0)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&text))))?;
        prop_assert_eq!(parsed, metrics, "{}", String::from_utf8_lossy(&text));
    }
}

/// Found by fuzzing: a fractional millisecond timestamp parsed, but could
/// not be written back; 0.0.4 timestamps are integers, as Prometheus reads
/// them.
#[test]
fn fractional_millisecond_timestamps_are_refused() {
    let input = b"CC 1. \t.1";
    assert!(
        logbridge_prometheus::text::parse_slice(
            input,
            logbridge_prometheus::text::Format::Prometheus,
            0
        )
        .is_err()
    );
    let ok = logbridge_prometheus::text::parse_slice(
        b"CC 1. 7",
        logbridge_prometheus::text::Format::Prometheus,
        0,
    )
    .unwrap();
    assert_eq!(ok[0].time_unix_nano, 7_000_000);
}

/// Three expositions the OpenMetrics 1.0 specification forbids, each
/// refused with the sentence that forbids it; the allowed neighbour of each
/// still parses.
#[test]
fn regression_openmetrics_forbidden_expositions_are_refused() {
    let refused = |text: &str| {
        parse_slice(text.as_bytes(), Format::OpenMetrics, 0)
            .map(|m| m.len())
            .unwrap_err()
            .kind
    };
    // "The name of a MetricFamily MUST NOT result in a potential clash for
    // sample metric names [...] An example would be a gauge called
    // "foo_created" as a counter called "foo" could create a "foo_created"
    // in the text format." Either order, with or without samples.
    for text in [
        "# TYPE a_created gauge\n# TYPE a counter\n# EOF\n",
        "# TYPE a counter\n# TYPE a_created gauge\n# EOF\n",
        "# TYPE a_created gauge\na_created 1\n# TYPE a counter\na_total 1\n# EOF\n",
        "# TYPE a_total gauge\n# TYPE a counter\n# EOF\n",
        "# TYPE a histogram\n# HELP a_bucket help\n# EOF\n",
    ] {
        assert_eq!(refused(text), ParseErrorKind::FamilyClash, "{text}");
    }
    // No sample name in common: a counter `a_created` writes
    // `a_created_total` and `a_created_created`.
    om("# TYPE a counter\n# TYPE a_created counter\n# EOF\n");
    om("# TYPE a gauge\n# TYPE a_created gauge\n# EOF\n");

    // "Quantile values MUST NOT be negative." NaN (no events) is allowed.
    assert_eq!(
        refused("# TYPE a summary\na{quantile=\"0.5\"} -1\n# EOF\n"),
        ParseErrorKind::NegativeQuantileValue
    );
    om("# TYPE a summary\na{quantile=\"0.5\"} NaN\na{quantile=\"0.9\"} 0\n# EOF\n");
    // 0.0.4 has no such rule.
    prom("# TYPE a summary\na{quantile=\"0.5\"} -1\n");

    // "If and only if a Sum Value is present in a MetricPoint, then the
    // MetricPoint's +Inf Bucket value MUST also appear in a Sample with a
    // MetricName with the suffix "_count"": no `_count` without `_sum`.
    assert_eq!(
        refused("# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 0\n# EOF\n"),
        ParseErrorKind::SumWithoutCount
    );
    om("# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\n# EOF\n");
    om("# TYPE a histogram\na_bucket{le=\"+Inf\"} 0\na_count 0\na_sum 0\n# EOF\n");
}

/// A histogram without a sum (negative buckets, or none recorded) is
/// written without `_count` in OpenMetrics, so the output parses again.
#[test]
fn openmetrics_histogram_without_sum_round_trips() {
    let m = Metric {
        name: KeyString::new("h"),
        kind: MetricKind::Histogram,
        value: MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: -1.0,
                    count: 1,
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 2,
                },
            ],
            count: 3,
            sum: Some(4.0),
            min: None,
            max: None,
        },
        ..Metric::default()
    };
    let text = encode_text(std::slice::from_ref(&m), Format::OpenMetrics);
    let text = String::from_utf8(text).unwrap();
    assert!(!text.contains("h_count"), "{text}");
    let back = om(&text);
    assert_eq!(
        back[0].value,
        MetricValue::Histogram {
            buckets: vec![
                Bucket {
                    upper_bound: -1.0,
                    count: 1
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    count: 2
                }
            ],
            count: 3,
            sum: None,
            min: None,
            max: None,
        }
    );
}
