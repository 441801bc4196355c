//! OTLP data points and exemplars to logbridge metric values and back.
//!
//! Settled where the model cannot tell two encodings apart (all of them
//! outside what the spec allows, or equivalent):
//! - a number point or exemplar with no value (the `NoRecordedValue` flag
//!   allows it) decodes as the float 0 and encodes with `as_double = 0`;
//! - histogram buckets pair `bucket_counts[i]` with `explicit_bounds[i]`,
//!   the last count with +Inf; the spec's two valid shapes (N bounds and
//!   N+1 counts, or neither) round-trip, while surplus bounds are dropped
//!   and missing ones become +Inf;
//! - an exponential histogram's absent bucket side and an empty one (offset
//!   0, no counts) are the same, and encode as absent;
//! - exemplar ids follow the logs: empty, all-zero or wrong-length is none.

use logbridge_event::{
    Bucket, Exemplar, ExponentialBuckets, ExponentialHistogram, Metric, MetricValue, Number,
    Quantile,
};
use opentelemetry_proto::tonic::metrics::v1 as proto;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, number_data_point};

use super::Series;
use crate::common::{
    nanos_from_wire, nanos_to_wire, span_id_from_wire, span_id_to_wire, trace_id_from_wire,
    trace_id_to_wire,
};
use crate::value::{from_key_values, to_key_values};

/// The fields every kind of point has.
struct Common {
    attributes: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>,
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    exemplars: Vec<proto::Exemplar>,
    flags: u32,
}

fn decode_point(series: &Series<'_>, common: Common, value: MetricValue) -> Metric {
    Metric {
        labels: from_key_values(common.attributes),
        time_unix_nano: nanos_from_wire(common.time_unix_nano),
        start_time_unix_nano: nanos_from_wire(common.start_time_unix_nano),
        exemplars: common.exemplars.into_iter().map(decode_exemplar).collect(),
        flags: common.flags,
        ..series.point(value)
    }
}

fn encode_common(metric: &Metric) -> Common {
    Common {
        attributes: to_key_values(&metric.labels),
        start_time_unix_nano: nanos_to_wire(metric.start_time_unix_nano),
        time_unix_nano: nanos_to_wire(metric.time_unix_nano),
        exemplars: metric.exemplars.iter().map(encode_exemplar).collect(),
        flags: metric.flags,
    }
}

pub(super) fn decode_number(series: &Series<'_>, point: proto::NumberDataPoint) -> Metric {
    let value = match point.value {
        Some(number_data_point::Value::AsInt(i)) => MetricValue::Integer(i),
        Some(number_data_point::Value::AsDouble(f)) => MetricValue::Scalar(f),
        None => MetricValue::Scalar(0.0),
    };
    let common = Common {
        attributes: point.attributes,
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        exemplars: point.exemplars,
        flags: point.flags,
    };
    decode_point(series, common, value)
}

/// `None` for a point that is not a number (see `encode_series`).
pub(super) fn encode_number(metric: &Metric) -> Option<proto::NumberDataPoint> {
    let value = match metric.value {
        MetricValue::Scalar(f) => number_data_point::Value::AsDouble(f),
        MetricValue::Integer(i) => number_data_point::Value::AsInt(i),
        _ => return None,
    };
    let common = encode_common(metric);
    Some(proto::NumberDataPoint {
        attributes: common.attributes,
        start_time_unix_nano: common.start_time_unix_nano,
        time_unix_nano: common.time_unix_nano,
        exemplars: common.exemplars,
        flags: common.flags,
        value: Some(value),
    })
}

pub(super) fn decode_histogram(series: &Series<'_>, point: proto::HistogramDataPoint) -> Metric {
    let buckets = point
        .bucket_counts
        .iter()
        .enumerate()
        .map(|(i, &count)| Bucket {
            upper_bound: point
                .explicit_bounds
                .get(i)
                .copied()
                .unwrap_or(f64::INFINITY),
            count,
        })
        .collect();
    let value = MetricValue::Histogram {
        buckets,
        count: point.count,
        sum: point.sum,
        min: point.min,
        max: point.max,
    };
    let common = Common {
        attributes: point.attributes,
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        exemplars: point.exemplars,
        flags: point.flags,
    };
    decode_point(series, common, value)
}

pub(super) fn encode_histogram(metric: &Metric) -> Option<proto::HistogramDataPoint> {
    let MetricValue::Histogram {
        buckets,
        count,
        sum,
        min,
        max,
    } = &metric.value
    else {
        return None;
    };
    // Every bucket has a count; every bucket but the last (+Inf) a bound.
    let bounded = buckets.len().saturating_sub(1);
    let common = encode_common(metric);
    Some(proto::HistogramDataPoint {
        attributes: common.attributes,
        start_time_unix_nano: common.start_time_unix_nano,
        time_unix_nano: common.time_unix_nano,
        count: *count,
        sum: *sum,
        bucket_counts: buckets.iter().map(|b| b.count).collect(),
        explicit_bounds: buckets
            .iter()
            .take(bounded)
            .map(|b| b.upper_bound)
            .collect(),
        exemplars: common.exemplars,
        flags: common.flags,
        min: *min,
        max: *max,
    })
}

pub(super) fn decode_exponential(
    series: &Series<'_>,
    point: proto::ExponentialHistogramDataPoint,
) -> Metric {
    let value = MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
        count: point.count,
        sum: point.sum,
        scale: point.scale,
        zero_count: point.zero_count,
        zero_threshold: point.zero_threshold,
        positive: decode_buckets(point.positive),
        negative: decode_buckets(point.negative),
        min: point.min,
        max: point.max,
    }));
    let common = Common {
        attributes: point.attributes,
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        exemplars: point.exemplars,
        flags: point.flags,
    };
    decode_point(series, common, value)
}

fn decode_buckets(buckets: Option<Buckets>) -> ExponentialBuckets {
    let buckets = buckets.unwrap_or_default();
    ExponentialBuckets {
        offset: buckets.offset,
        counts: buckets.bucket_counts,
    }
}

fn encode_buckets(buckets: &ExponentialBuckets) -> Option<Buckets> {
    (*buckets != ExponentialBuckets::default()).then(|| Buckets {
        offset: buckets.offset,
        bucket_counts: buckets.counts.clone(),
    })
}

pub(super) fn encode_exponential(metric: &Metric) -> Option<proto::ExponentialHistogramDataPoint> {
    let MetricValue::ExponentialHistogram(h) = &metric.value else {
        return None;
    };
    let common = encode_common(metric);
    Some(proto::ExponentialHistogramDataPoint {
        attributes: common.attributes,
        start_time_unix_nano: common.start_time_unix_nano,
        time_unix_nano: common.time_unix_nano,
        count: h.count,
        sum: h.sum,
        scale: h.scale,
        zero_count: h.zero_count,
        positive: encode_buckets(&h.positive),
        negative: encode_buckets(&h.negative),
        flags: common.flags,
        exemplars: common.exemplars,
        min: h.min,
        max: h.max,
        zero_threshold: h.zero_threshold,
    })
}

pub(super) fn decode_summary(series: &Series<'_>, point: proto::SummaryDataPoint) -> Metric {
    let value = MetricValue::Summary {
        quantiles: point
            .quantile_values
            .iter()
            .map(|q| Quantile {
                quantile: q.quantile,
                value: q.value,
            })
            .collect(),
        count: point.count,
        sum: point.sum,
    };
    let common = Common {
        attributes: point.attributes,
        start_time_unix_nano: point.start_time_unix_nano,
        time_unix_nano: point.time_unix_nano,
        // Summaries have no exemplars in OTLP.
        exemplars: Vec::new(),
        flags: point.flags,
    };
    decode_point(series, common, value)
}

/// A summary point's exemplars are not written: OTLP summaries have none.
pub(super) fn encode_summary(metric: &Metric) -> Option<proto::SummaryDataPoint> {
    let MetricValue::Summary {
        quantiles,
        count,
        sum,
    } = &metric.value
    else {
        return None;
    };
    Some(proto::SummaryDataPoint {
        attributes: to_key_values(&metric.labels),
        start_time_unix_nano: nanos_to_wire(metric.start_time_unix_nano),
        time_unix_nano: nanos_to_wire(metric.time_unix_nano),
        count: *count,
        sum: *sum,
        quantile_values: quantiles
            .iter()
            .map(|q| ValueAtQuantile {
                quantile: q.quantile,
                value: q.value,
            })
            .collect(),
        flags: metric.flags,
    })
}

fn decode_exemplar(exemplar: proto::Exemplar) -> Exemplar {
    Exemplar {
        value: match exemplar.value {
            Some(exemplar::Value::AsInt(i)) => Number::Integer(i),
            Some(exemplar::Value::AsDouble(f)) => Number::Float(f),
            None => Number::Float(0.0),
        },
        time_unix_nano: nanos_from_wire(exemplar.time_unix_nano),
        filtered_attributes: from_key_values(exemplar.filtered_attributes),
        trace_id: trace_id_from_wire(&exemplar.trace_id),
        span_id: span_id_from_wire(&exemplar.span_id),
    }
}

fn encode_exemplar(exemplar: &Exemplar) -> proto::Exemplar {
    proto::Exemplar {
        filtered_attributes: to_key_values(&exemplar.filtered_attributes),
        time_unix_nano: nanos_to_wire(exemplar.time_unix_nano),
        span_id: span_id_to_wire(exemplar.span_id),
        trace_id: trace_id_to_wire(exemplar.trace_id),
        value: Some(match exemplar.value {
            Number::Float(f) => exemplar::Value::AsDouble(f),
            Number::Integer(i) => exemplar::Value::AsInt(i),
        }),
    }
}
