//! An OTLP request body (protobuf or JSON, from HTTP or gRPC) to events,
//! paid for before it is built: a census of the body (the records, data
//! points or spans, and the attributes, values and messages below them)
//! pays first, and for metrics what every point copies of its metric
//! (name, description, unit) is paid once the request is read and before
//! points are made.
//!
//! The protobuf tables list the fields of the OTLP messages that build
//! something, by field number as in `opentelemetry-proto`'s `.proto`
//! files: repeated messages (a node each), singular ones (held inline by
//! their parent) and strings; fields left out are scalars (or skipped),
//! which cost nothing beyond their record.

use bytes::Bytes;
use logbridge_event::Event;
use logbridge_net::receive::census::{self, Field, Message};
use logbridge_net::receive::{Charge, HttpError};
use logbridge_otlp::{ExportMetricsServiceRequest, Signal};
use prost::Message as _;

/// Decodes one request body of `signal`, paying with `charge` first.
pub(super) fn decode(
    signal: Signal,
    body: &Bytes,
    json: bool,
    charge: &mut Charge,
) -> Result<Vec<Event>, HttpError> {
    let census = if json {
        census::json(body, json_path(signal))?
    } else {
        census::protobuf(body, root(signal))?
    };
    charge.census(&census)?;
    if signal != Signal::Metrics {
        return signal.decode(body, json).map_err(HttpError::bad_request);
    }
    let request = if json {
        logbridge_otlp::metrics_request_from_json(body).map_err(|e| e.to_string())
    } else {
        ExportMetricsServiceRequest::decode(&body[..])
            .map_err(|e| format!("invalid OTLP metrics: {e}"))
    }
    .map_err(HttpError::bad_request)?;
    charge.memory(logbridge_otlp::metrics_point_copies(&request))?;
    Ok(logbridge_otlp::metrics_from_request(request)
        .into_iter()
        .map(Event::Metric)
        .collect())
}

/// Where the events of an OTLP/JSON request are.
fn json_path(signal: Signal) -> &'static [&'static [&'static str]] {
    match signal {
        Signal::Logs => &[&["resourceLogs"], &["scopeLogs"], &["logRecords"]],
        Signal::Traces => &[&["resourceSpans"], &["scopeSpans"], &["spans"]],
        Signal::Metrics => &[
            &["resourceMetrics"],
            &["scopeMetrics"],
            &["metrics"],
            &[
                "gauge",
                "sum",
                "histogram",
                "exponentialHistogram",
                "summary",
            ],
            &["dataPoints"],
        ],
    }
}

fn root(signal: Signal) -> &'static Message {
    match signal {
        Signal::Logs => &LOGS_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
        Signal::Traces => &TRACES_REQUEST,
    }
}

// common.proto and resource.proto.
static ANY_VALUE: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (5, Field::Inline(&ARRAY_VALUE)),
        (6, Field::Inline(&KEY_VALUE_LIST)),
        (7, Field::Bytes),
    ],
};
static ARRAY_VALUE: Message = Message {
    fields: &[(1, Field::Message(&ANY_VALUE))],
};
static KEY_VALUE_LIST: Message = Message {
    fields: &[(1, Field::Message(&KEY_VALUE))],
};
static KEY_VALUE: Message = Message {
    fields: &[(1, Field::Bytes), (2, Field::Inline(&ANY_VALUE))],
};
static SCOPE: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Message(&KEY_VALUE)),
    ],
};
static ENTITY_REF: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Bytes),
        (4, Field::Bytes),
    ],
};
static RESOURCE: Message = Message {
    fields: &[
        (1, Field::Message(&KEY_VALUE)),
        (3, Field::Message(&ENTITY_REF)),
    ],
};

// logs.proto.
static LOGS_REQUEST: Message = Message {
    fields: &[(1, Field::Message(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Message = Message {
    fields: &[
        (1, Field::Inline(&RESOURCE)),
        (2, Field::Message(&SCOPE_LOGS)),
        (3, Field::Bytes),
    ],
};
static SCOPE_LOGS: Message = Message {
    fields: &[
        (1, Field::Inline(&SCOPE)),
        (2, Field::Event(&LOG_RECORD)),
        (3, Field::Bytes),
    ],
};
static LOG_RECORD: Message = Message {
    fields: &[
        (3, Field::Bytes),
        (5, Field::Inline(&ANY_VALUE)),
        (6, Field::Message(&KEY_VALUE)),
        (9, Field::Bytes),
        (10, Field::Bytes),
        (12, Field::Bytes),
    ],
};

// trace.proto.
static TRACES_REQUEST: Message = Message {
    fields: &[(1, Field::Message(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Message = Message {
    fields: &[
        (1, Field::Inline(&RESOURCE)),
        (2, Field::Message(&SCOPE_SPANS)),
        (3, Field::Bytes),
    ],
};
static SCOPE_SPANS: Message = Message {
    fields: &[
        (1, Field::Inline(&SCOPE)),
        (2, Field::Event(&SPAN)),
        (3, Field::Bytes),
    ],
};
static SPAN: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Bytes),
        (4, Field::Bytes),
        (5, Field::Bytes),
        (9, Field::Message(&KEY_VALUE)),
        (11, Field::Message(&SPAN_EVENT)),
        (13, Field::Message(&SPAN_LINK)),
        (15, Field::Inline(&STATUS)),
    ],
};
static SPAN_EVENT: Message = Message {
    fields: &[(2, Field::Bytes), (3, Field::Message(&KEY_VALUE))],
};
static SPAN_LINK: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Bytes),
        (4, Field::Message(&KEY_VALUE)),
    ],
};
static STATUS: Message = Message {
    fields: &[(2, Field::Bytes)],
};

// metrics.proto.
static METRICS_REQUEST: Message = Message {
    fields: &[(1, Field::Message(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Message = Message {
    fields: &[
        (1, Field::Inline(&RESOURCE)),
        (2, Field::Message(&SCOPE_METRICS)),
        (3, Field::Bytes),
    ],
};
static SCOPE_METRICS: Message = Message {
    fields: &[
        (1, Field::Inline(&SCOPE)),
        (2, Field::Message(&METRIC)),
        (3, Field::Bytes),
    ],
};
static METRIC: Message = Message {
    fields: &[
        (1, Field::Bytes),
        (2, Field::Bytes),
        (3, Field::Bytes),
        (5, Field::Inline(&NUMBER_POINTS)),
        (7, Field::Inline(&NUMBER_POINTS)),
        (9, Field::Inline(&HISTOGRAM_POINTS)),
        (10, Field::Inline(&EXPONENTIAL_POINTS)),
        (11, Field::Inline(&SUMMARY_POINTS)),
        (12, Field::Message(&KEY_VALUE)),
    ],
};
/// `Gauge` and `Sum`: their points are field 1.
static NUMBER_POINTS: Message = Message {
    fields: &[(1, Field::Event(&NUMBER_POINT))],
};
static HISTOGRAM_POINTS: Message = Message {
    fields: &[(1, Field::Event(&HISTOGRAM_POINT))],
};
static EXPONENTIAL_POINTS: Message = Message {
    fields: &[(1, Field::Event(&EXPONENTIAL_POINT))],
};
static SUMMARY_POINTS: Message = Message {
    fields: &[(1, Field::Event(&SUMMARY_POINT))],
};
static NUMBER_POINT: Message = Message {
    fields: &[
        (5, Field::Message(&EXEMPLAR)),
        (7, Field::Message(&KEY_VALUE)),
    ],
};
static HISTOGRAM_POINT: Message = Message {
    fields: &[
        (6, Field::Fixed),
        (7, Field::Fixed),
        (8, Field::Message(&EXEMPLAR)),
        (9, Field::Message(&KEY_VALUE)),
    ],
};
static EXPONENTIAL_POINT: Message = Message {
    fields: &[
        (1, Field::Message(&KEY_VALUE)),
        (8, Field::Inline(&BUCKETS)),
        (9, Field::Inline(&BUCKETS)),
        (11, Field::Message(&EXEMPLAR)),
    ],
};
static BUCKETS: Message = Message {
    fields: &[(2, Field::Varints)],
};
static SUMMARY_POINT: Message = Message {
    fields: &[(6, Field::Message(&EMPTY)), (7, Field::Message(&KEY_VALUE))],
};
static EXEMPLAR: Message = Message {
    fields: &[
        (4, Field::Bytes),
        (5, Field::Bytes),
        (7, Field::Message(&KEY_VALUE)),
    ],
};
/// A message of scalars only (`ValueAtQuantile`).
static EMPTY: Message = Message { fields: &[] };

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{LogRecord, Metric, ObjectMap, Span, Value};

    fn count(signal: Signal, body: &[u8], json: bool) -> census::Census {
        if json {
            census::json(body, json_path(signal)).unwrap()
        } else {
            census::protobuf(body, root(signal)).unwrap()
        }
    }

    #[test]
    fn the_census_counts_the_events_the_decoders_make() {
        let mut attributes = ObjectMap::new();
        attributes.insert("k".into(), Value::from("v"));
        let logs: Vec<LogRecord> = (0..5)
            .map(|i| LogRecord {
                attributes: attributes.clone(),
                ..LogRecord::from_line(Bytes::from(format!("line {i}")), 1)
            })
            .collect();
        let metrics: Vec<Metric> = (0..4)
            .map(|i| Metric::gauge("g", f64::from(i), 1 + i64::from(i)).with_label("a", "b"))
            .collect();
        let spans: Vec<Span> = (0..3)
            .map(|i| Span {
                name: format!("s{i}").into(),
                ..Span::default()
            })
            .collect();
        let cases = [
            (
                Signal::Logs,
                logbridge_otlp::encode_logs(&logs),
                logbridge_otlp::encode_logs_json(&logs),
                5,
            ),
            (
                Signal::Metrics,
                logbridge_otlp::encode_metrics(&metrics),
                logbridge_otlp::encode_metrics_json(&metrics),
                4,
            ),
            (
                Signal::Traces,
                logbridge_otlp::encode_traces(&spans),
                logbridge_otlp::encode_traces_json(&spans),
                3,
            ),
        ];
        for (signal, protobuf, json, events) in cases {
            assert_eq!(signal.decode(&protobuf, false).unwrap().len(), events);
            let c = count(signal, &protobuf, false);
            assert_eq!(c.events, events, "{signal:?} protobuf");
            assert!(c.copied > 0, "{signal:?}: {c:?}");
            assert_eq!(count(signal, &json, true).events, events, "{signal:?} JSON");
        }
    }

    #[test]
    fn empty_log_records_are_counted_without_being_built() {
        // { resource_logs: { scope_logs: { log_records: {} x 1000 } } }
        let scope_logs = [0x12, 0x00].repeat(1000);
        let mut resource_logs = vec![0x12];
        resource_logs.extend(varint(scope_logs.len()));
        resource_logs.extend(&scope_logs);
        let mut request = vec![0x0a];
        request.extend(varint(resource_logs.len()));
        request.extend(&resource_logs);
        assert_eq!(
            Signal::Logs.decode(&request, false).unwrap().len(),
            1000,
            "the request is well-formed"
        );
        assert_eq!(count(Signal::Logs, &request, false).events, 1000);
    }

    fn varint(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::encode_varint(n as u64, &mut out);
        out
    }
}
