//! OTLP/JSON of `ExportMetricsServiceRequest`, field by field. The oneofs
//! (a metric's data, a number's or exemplar's value) follow the rule of
//! `AnyValue` in `common.rs`: the member that is set is written, even at
//! its default, and of several the first in the proto file wins.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint, exemplar, number_data_point,
};
use serde_json::Value;

use super::common::{
    read_key_values, read_resource, read_scope, write_key_value, write_resource, write_scope,
};
use super::read::{self, Object, Result};
use super::write::{self, Out};

pub(super) fn read_request(mut obj: Object) -> Result<ExportMetricsServiceRequest> {
    Ok(ExportMetricsServiceRequest {
        resource_metrics: read::messages(&mut obj, "resourceMetrics", read_resource_metrics)?,
    })
}

fn read_resource_metrics(mut obj: Object) -> Result<ResourceMetrics> {
    Ok(ResourceMetrics {
        resource: read::message(&mut obj, "resource", read_resource)?,
        scope_metrics: read::messages(&mut obj, "scopeMetrics", read_scope_metrics)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn read_scope_metrics(mut obj: Object) -> Result<ScopeMetrics> {
    Ok(ScopeMetrics {
        scope: read::message(&mut obj, "scope", read_scope)?,
        metrics: read::messages(&mut obj, "metrics", read_metric)?,
        schema_url: read::string(&mut obj, "schemaUrl")?,
    })
}

fn read_metric(mut obj: Object) -> Result<Metric> {
    let data = if let Some(g) = read::message(&mut obj, "gauge", read_gauge)? {
        Some(Data::Gauge(g))
    } else if let Some(s) = read::message(&mut obj, "sum", read_sum)? {
        Some(Data::Sum(s))
    } else if let Some(h) = read::message(&mut obj, "histogram", read_histogram)? {
        Some(Data::Histogram(h))
    } else if let Some(e) = read::message(&mut obj, "exponentialHistogram", read_exponential)? {
        Some(Data::ExponentialHistogram(e))
    } else {
        read::message(&mut obj, "summary", read_summary)?.map(Data::Summary)
    };
    Ok(Metric {
        name: read::string(&mut obj, "name")?,
        description: read::string(&mut obj, "description")?,
        unit: read::string(&mut obj, "unit")?,
        metadata: read_key_values(&mut obj, "metadata")?,
        data,
    })
}

fn temporality_from_name(name: &str) -> Option<i32> {
    AggregationTemporality::from_str_name(name).map(Into::into)
}

fn read_temporality(obj: &mut Object) -> Result<i32> {
    read::enumeration(obj, "aggregationTemporality", temporality_from_name)
}

fn read_gauge(mut obj: Object) -> Result<Gauge> {
    Ok(Gauge {
        data_points: read::messages(&mut obj, "dataPoints", read_number)?,
    })
}

fn read_sum(mut obj: Object) -> Result<Sum> {
    Ok(Sum {
        data_points: read::messages(&mut obj, "dataPoints", read_number)?,
        aggregation_temporality: read_temporality(&mut obj)?,
        is_monotonic: read::boolean(&mut obj, "isMonotonic")?,
    })
}

fn read_histogram(mut obj: Object) -> Result<Histogram> {
    Ok(Histogram {
        data_points: read::messages(&mut obj, "dataPoints", read_histogram_point)?,
        aggregation_temporality: read_temporality(&mut obj)?,
    })
}

fn read_exponential(mut obj: Object) -> Result<ExponentialHistogram> {
    Ok(ExponentialHistogram {
        data_points: read::messages(&mut obj, "dataPoints", read_exponential_point)?,
        aggregation_temporality: read_temporality(&mut obj)?,
    })
}

fn read_summary(mut obj: Object) -> Result<Summary> {
    Ok(Summary {
        data_points: read::messages(&mut obj, "dataPoints", read_summary_point)?,
    })
}

fn read_number(mut obj: Object) -> Result<NumberDataPoint> {
    let value = if obj.get("asDouble").is_some_and(|v| !v.is_null()) {
        Some(number_data_point::Value::AsDouble(read::double(
            &mut obj, "asDouble",
        )?))
    } else if obj.get("asInt").is_some_and(|v| !v.is_null()) {
        Some(number_data_point::Value::AsInt(read::int64(
            &mut obj, "asInt",
        )?))
    } else {
        None
    };
    Ok(NumberDataPoint {
        attributes: read_key_values(&mut obj, "attributes")?,
        start_time_unix_nano: read::uint64(&mut obj, "startTimeUnixNano")?,
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        exemplars: read::messages(&mut obj, "exemplars", read_exemplar)?,
        flags: read::uint32(&mut obj, "flags")?,
        value,
    })
}

fn read_histogram_point(mut obj: Object) -> Result<HistogramDataPoint> {
    Ok(HistogramDataPoint {
        attributes: read_key_values(&mut obj, "attributes")?,
        start_time_unix_nano: read::uint64(&mut obj, "startTimeUnixNano")?,
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        count: read::uint64(&mut obj, "count")?,
        sum: read::optional_double(&mut obj, "sum")?,
        bucket_counts: read::uint64s(&mut obj, "bucketCounts")?,
        explicit_bounds: read::doubles(&mut obj, "explicitBounds")?,
        exemplars: read::messages(&mut obj, "exemplars", read_exemplar)?,
        flags: read::uint32(&mut obj, "flags")?,
        min: read::optional_double(&mut obj, "min")?,
        max: read::optional_double(&mut obj, "max")?,
    })
}

fn read_exponential_point(mut obj: Object) -> Result<ExponentialHistogramDataPoint> {
    Ok(ExponentialHistogramDataPoint {
        attributes: read_key_values(&mut obj, "attributes")?,
        start_time_unix_nano: read::uint64(&mut obj, "startTimeUnixNano")?,
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        count: read::uint64(&mut obj, "count")?,
        sum: read::optional_double(&mut obj, "sum")?,
        scale: read::int32(&mut obj, "scale")?,
        zero_count: read::uint64(&mut obj, "zeroCount")?,
        positive: read::message(&mut obj, "positive", read_buckets)?,
        negative: read::message(&mut obj, "negative", read_buckets)?,
        flags: read::uint32(&mut obj, "flags")?,
        exemplars: read::messages(&mut obj, "exemplars", read_exemplar)?,
        min: read::optional_double(&mut obj, "min")?,
        max: read::optional_double(&mut obj, "max")?,
        zero_threshold: read::double(&mut obj, "zeroThreshold")?,
    })
}

fn read_buckets(mut obj: Object) -> Result<Buckets> {
    Ok(Buckets {
        offset: read::int32(&mut obj, "offset")?,
        bucket_counts: read::uint64s(&mut obj, "bucketCounts")?,
    })
}

fn read_summary_point(mut obj: Object) -> Result<SummaryDataPoint> {
    Ok(SummaryDataPoint {
        attributes: read_key_values(&mut obj, "attributes")?,
        start_time_unix_nano: read::uint64(&mut obj, "startTimeUnixNano")?,
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        count: read::uint64(&mut obj, "count")?,
        sum: read::double(&mut obj, "sum")?,
        quantile_values: read::messages(&mut obj, "quantileValues", read_quantile)?,
        flags: read::uint32(&mut obj, "flags")?,
    })
}

fn read_quantile(mut obj: Object) -> Result<ValueAtQuantile> {
    Ok(ValueAtQuantile {
        quantile: read::double(&mut obj, "quantile")?,
        value: read::double(&mut obj, "value")?,
    })
}

fn read_exemplar(mut obj: Object) -> Result<Exemplar> {
    let value = if obj.get("asDouble").is_some_and(|v| !v.is_null()) {
        Some(exemplar::Value::AsDouble(read::double(
            &mut obj, "asDouble",
        )?))
    } else if obj.get("asInt").is_some_and(|v| !v.is_null()) {
        Some(exemplar::Value::AsInt(read::int64(&mut obj, "asInt")?))
    } else {
        None
    };
    Ok(Exemplar {
        filtered_attributes: read_key_values(&mut obj, "filteredAttributes")?,
        time_unix_nano: read::uint64(&mut obj, "timeUnixNano")?,
        span_id: read::hex(&mut obj, "spanId")?,
        trace_id: read::hex(&mut obj, "traceId")?,
        value,
    })
}

pub(super) fn write_request(request: &ExportMetricsServiceRequest) -> Value {
    let mut out = Out::new();
    out.messages(
        "resourceMetrics",
        &request.resource_metrics,
        write_resource_metrics,
    );
    out.done()
}

fn write_resource_metrics(rm: &ResourceMetrics) -> Value {
    let mut out = Out::new();
    out.message("resource", rm.resource.as_ref(), write_resource);
    out.messages("scopeMetrics", &rm.scope_metrics, write_scope_metrics);
    out.string("schemaUrl", &rm.schema_url);
    out.done()
}

fn write_scope_metrics(sm: &ScopeMetrics) -> Value {
    let mut out = Out::new();
    out.message("scope", sm.scope.as_ref(), write_scope);
    out.messages("metrics", &sm.metrics, write_metric);
    out.string("schemaUrl", &sm.schema_url);
    out.done()
}

fn write_metric(metric: &Metric) -> Value {
    let mut out = Out::new();
    out.string("name", &metric.name);
    out.string("description", &metric.description);
    out.string("unit", &metric.unit);
    out.messages("metadata", &metric.metadata, write_key_value);
    match &metric.data {
        None => {}
        Some(Data::Gauge(g)) => {
            let mut data = Out::new();
            data.messages("dataPoints", &g.data_points, write_number);
            out.put("gauge", data.done());
        }
        Some(Data::Sum(s)) => {
            let mut data = Out::new();
            data.messages("dataPoints", &s.data_points, write_number);
            data.int("aggregationTemporality", s.aggregation_temporality);
            data.boolean("isMonotonic", s.is_monotonic);
            out.put("sum", data.done());
        }
        Some(Data::Histogram(h)) => {
            let mut data = Out::new();
            data.messages("dataPoints", &h.data_points, write_histogram_point);
            data.int("aggregationTemporality", h.aggregation_temporality);
            out.put("histogram", data.done());
        }
        Some(Data::ExponentialHistogram(e)) => {
            let mut data = Out::new();
            data.messages("dataPoints", &e.data_points, write_exponential_point);
            data.int("aggregationTemporality", e.aggregation_temporality);
            out.put("exponentialHistogram", data.done());
        }
        Some(Data::Summary(s)) => {
            let mut data = Out::new();
            data.messages("dataPoints", &s.data_points, write_summary_point);
            out.put("summary", data.done());
        }
    }
    out.done()
}

fn write_number(point: &NumberDataPoint) -> Value {
    let mut out = Out::new();
    out.messages("attributes", &point.attributes, write_key_value);
    out.uint64("startTimeUnixNano", point.start_time_unix_nano);
    out.uint64("timeUnixNano", point.time_unix_nano);
    out.messages("exemplars", &point.exemplars, write_exemplar);
    out.int("flags", point.flags);
    match point.value {
        None => {}
        Some(number_data_point::Value::AsDouble(f)) => out.put("asDouble", write::double(f)),
        Some(number_data_point::Value::AsInt(i)) => out.put("asInt", Value::String(i.to_string())),
    }
    out.done()
}

fn write_histogram_point(point: &HistogramDataPoint) -> Value {
    let mut out = Out::new();
    out.messages("attributes", &point.attributes, write_key_value);
    out.uint64("startTimeUnixNano", point.start_time_unix_nano);
    out.uint64("timeUnixNano", point.time_unix_nano);
    out.uint64("count", point.count);
    out.optional_double("sum", point.sum);
    out.uint64s("bucketCounts", &point.bucket_counts);
    out.doubles("explicitBounds", &point.explicit_bounds);
    out.messages("exemplars", &point.exemplars, write_exemplar);
    out.int("flags", point.flags);
    out.optional_double("min", point.min);
    out.optional_double("max", point.max);
    out.done()
}

fn write_exponential_point(point: &ExponentialHistogramDataPoint) -> Value {
    let mut out = Out::new();
    out.messages("attributes", &point.attributes, write_key_value);
    out.uint64("startTimeUnixNano", point.start_time_unix_nano);
    out.uint64("timeUnixNano", point.time_unix_nano);
    out.uint64("count", point.count);
    out.optional_double("sum", point.sum);
    out.int("scale", point.scale);
    out.uint64("zeroCount", point.zero_count);
    out.message("positive", point.positive.as_ref(), write_buckets);
    out.message("negative", point.negative.as_ref(), write_buckets);
    out.int("flags", point.flags);
    out.messages("exemplars", &point.exemplars, write_exemplar);
    out.optional_double("min", point.min);
    out.optional_double("max", point.max);
    out.double("zeroThreshold", point.zero_threshold);
    out.done()
}

fn write_buckets(buckets: &Buckets) -> Value {
    let mut out = Out::new();
    out.int("offset", buckets.offset);
    out.uint64s("bucketCounts", &buckets.bucket_counts);
    out.done()
}

fn write_summary_point(point: &SummaryDataPoint) -> Value {
    let mut out = Out::new();
    out.messages("attributes", &point.attributes, write_key_value);
    out.uint64("startTimeUnixNano", point.start_time_unix_nano);
    out.uint64("timeUnixNano", point.time_unix_nano);
    out.uint64("count", point.count);
    out.double("sum", point.sum);
    out.messages("quantileValues", &point.quantile_values, write_quantile);
    out.int("flags", point.flags);
    out.done()
}

fn write_quantile(q: &ValueAtQuantile) -> Value {
    let mut out = Out::new();
    out.double("quantile", q.quantile);
    out.double("value", q.value);
    out.done()
}

fn write_exemplar(exemplar: &Exemplar) -> Value {
    let mut out = Out::new();
    out.messages(
        "filteredAttributes",
        &exemplar.filtered_attributes,
        write_key_value,
    );
    out.uint64("timeUnixNano", exemplar.time_unix_nano);
    out.hex("spanId", &exemplar.span_id);
    out.hex("traceId", &exemplar.trace_id);
    match exemplar.value {
        None => {}
        Some(exemplar::Value::AsDouble(f)) => out.put("asDouble", write::double(f)),
        Some(exemplar::Value::AsInt(i)) => out.put("asInt", Value::String(i.to_string())),
    }
    out.done()
}
