//! OTLP metrics: `ExportMetricsServiceRequest` (or `MetricsData`) to
//! logbridge [`Metric`]s and back, as decoded messages or as protobuf
//! bytes.
//!
//! A logbridge [`Metric`] is one data point: it carries its metric's name,
//! description, unit and type with it, and shares the resource and scope
//! `Arc`s of its `ResourceMetrics`/`ScopeMetrics` with the other points.
//! The OTLP types map to [`MetricKind`] and [`MetricValue`] as follows:
//!
//! | OTLP | kind | value |
//! | --- | --- | --- |
//! | gauge | `Gauge` | `Scalar` (`as_double`) or `Integer` (`as_int`) |
//! | monotonic sum | `Counter` | same, with temporality |
//! | non-monotonic sum | `UpDownCounter` | same, with temporality |
//! | histogram | `Histogram` | `Histogram`, with temporality |
//! | exponential histogram | `Histogram` | `ExponentialHistogram`, with temporality |
//! | summary | `Summary` | `Summary` |
//!
//! Encoding goes by the value first (a histogram value is a histogram
//! whatever its kind says), then by kind; a scalar point of kind
//! `Histogram` or `Summary` has no OTLP shape and goes out as a gauge.
//! Gauges and summaries have no temporality in OTLP, so theirs is not
//! written and decodes as cumulative; summaries have no exemplars in OTLP,
//! so a summary point's are not written either.
//!
//! Not carried, because the model has no place for them: a metric's
//! `metadata` (key-values describing the metric rather than a point), a
//! resource's `entity_refs`, a metric with no data or no points (it has no
//! point to become), and the "unspecified" aggregation temporality (it
//! decodes as cumulative; the spec does not allow it for sums and
//! histograms anyway). Point-level details are in `metrics/points.rs`.

mod points;

use std::sync::Arc;

use logbridge_event::{KeyString, Metric, MetricKind, MetricValue, Resource, Scope, Temporality};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as proto;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;

use crate::common::{decode_resource, decode_scope, encode_resource, encode_scope, same_group};
use crate::error::DecodeError;
use points::{
    decode_exponential, decode_histogram, decode_number, decode_summary, encode_exponential,
    encode_histogram, encode_number, encode_summary,
};

/// Decodes an OTLP `ExportMetricsServiceRequest` (or a `MetricsData`,
/// which is the same on the wire) into one [`Metric`] per data point, in
/// order.
///
/// Allocates in proportion to `bytes.len()` (see the crate docs): cap the
/// size before calling.
pub fn decode_metrics(bytes: &[u8]) -> Result<Vec<Metric>, DecodeError> {
    let request =
        ExportMetricsServiceRequest::decode(bytes).map_err(|e| DecodeError::new("metrics", e))?;
    Ok(metrics_from_request(request))
}

/// The data points of a decoded request, one [`Metric`] each, in order.
pub fn metrics_from_request(request: ExportMetricsServiceRequest) -> Vec<Metric> {
    let count = request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(point_count)
        .sum();
    let mut out = Vec::with_capacity(count);
    for resource_metrics in request.resource_metrics {
        let resource = decode_resource(resource_metrics.resource, resource_metrics.schema_url);
        for scope_metrics in resource_metrics.scope_metrics {
            let scope = decode_scope(scope_metrics.scope, scope_metrics.schema_url);
            for metric in scope_metrics.metrics {
                decode_metric(metric, &resource, &scope, &mut out);
            }
        }
    }
    out
}

/// The bytes [`metrics_from_request`] copies beyond what the request
/// holds: every point gets its metric's name, description and unit, so a
/// long description over many points costs its length once a point. For a
/// caller that bounds memory before converting.
pub fn metrics_point_copies(request: &ExportMetricsServiceRequest) -> usize {
    request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| point_count(m).saturating_mul(m.name.len() + m.description.len() + m.unit.len()))
        .fold(0, usize::saturating_add)
}

fn point_count(metric: &proto::Metric) -> usize {
    match &metric.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(e)) => e.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}

/// What every point of one OTLP metric has in common.
struct Series<'a> {
    name: KeyString,
    description: String,
    unit: String,
    kind: MetricKind,
    temporality: Temporality,
    resource: &'a Option<Arc<Resource>>,
    scope: &'a Option<Arc<Scope>>,
}

impl Series<'_> {
    /// A point of this series with everything but the point's own fields.
    fn point(&self, value: MetricValue) -> Metric {
        Metric {
            name: self.name.clone(),
            labels: Default::default(),
            kind: self.kind,
            temporality: self.temporality,
            value,
            time_unix_nano: 0,
            start_time_unix_nano: 0,
            description: self.description.clone(),
            unit: self.unit.clone(),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            exemplars: Vec::new(),
            flags: 0,
        }
    }
}

fn decode_metric(
    metric: proto::Metric,
    resource: &Option<Arc<Resource>>,
    scope: &Option<Arc<Scope>>,
    out: &mut Vec<Metric>,
) {
    let Some(data) = metric.data else {
        return;
    };
    let (kind, temporality) = match &data {
        Data::Gauge(_) => (MetricKind::Gauge, Temporality::Cumulative),
        Data::Sum(s) if s.is_monotonic => (
            MetricKind::Counter,
            decode_temporality(s.aggregation_temporality),
        ),
        Data::Sum(s) => (
            MetricKind::UpDownCounter,
            decode_temporality(s.aggregation_temporality),
        ),
        Data::Histogram(h) => (
            MetricKind::Histogram,
            decode_temporality(h.aggregation_temporality),
        ),
        Data::ExponentialHistogram(e) => (
            MetricKind::Histogram,
            decode_temporality(e.aggregation_temporality),
        ),
        Data::Summary(_) => (MetricKind::Summary, Temporality::Cumulative),
    };
    let series = Series {
        name: KeyString::from(metric.name),
        description: metric.description,
        unit: metric.unit,
        kind,
        temporality,
        resource,
        scope,
    };
    match data {
        Data::Gauge(proto::Gauge { data_points }) | Data::Sum(proto::Sum { data_points, .. }) => {
            out.extend(data_points.into_iter().map(|p| decode_number(&series, p)));
        }
        Data::Histogram(h) => {
            out.extend(
                h.data_points
                    .into_iter()
                    .map(|p| decode_histogram(&series, p)),
            );
        }
        Data::ExponentialHistogram(e) => {
            out.extend(
                e.data_points
                    .into_iter()
                    .map(|p| decode_exponential(&series, p)),
            );
        }
        Data::Summary(s) => {
            out.extend(
                s.data_points
                    .into_iter()
                    .map(|p| decode_summary(&series, p)),
            );
        }
    }
}

fn decode_temporality(temporality: i32) -> Temporality {
    match AggregationTemporality::try_from(temporality) {
        Ok(AggregationTemporality::Delta) => Temporality::Delta,
        Ok(AggregationTemporality::Cumulative | AggregationTemporality::Unspecified) | Err(_) => {
            Temporality::Cumulative
        }
    }
}

fn encode_temporality(temporality: Temporality) -> i32 {
    match temporality {
        Temporality::Delta => AggregationTemporality::Delta.into(),
        Temporality::Cumulative => AggregationTemporality::Cumulative.into(),
    }
}

/// Encodes metric points as an OTLP `ExportMetricsServiceRequest` (which
/// is also a valid `MetricsData`). See [`metrics_to_request`].
pub fn encode_metrics(metrics: &[Metric]) -> Vec<u8> {
    metrics_to_request(metrics).encode_to_vec()
}

/// Builds the request for metric points.
///
/// Points are never reordered. Consecutive points that share a resource
/// go into one `ResourceMetrics`, and within it consecutive points that
/// share a scope into one `ScopeMetrics`; "share" means the same `Arc`,
/// equal values behind different `Arc`s, or both none (see
/// `common::same_group` for why equality and not only the pointer).
/// Within a scope, consecutive points of one series (equal name,
/// description, unit, kind, temporality and OTLP type) become one OTLP
/// metric with several data points.
///
/// So `decode_metrics(&encode_metrics(x)) == x`, and a request whose
/// consecutive metrics (and resources, and scopes) differ, with no empty
/// container, encodes back to an equal request.
pub fn metrics_to_request(metrics: &[Metric]) -> ExportMetricsServiceRequest {
    let resource_metrics = metrics
        .chunk_by(|a, b| same_group(&a.resource, &b.resource))
        .map(|by_resource| {
            let (resource, schema_url) = encode_resource(&by_resource[0].resource);
            let scope_metrics = by_resource
                .chunk_by(|a, b| same_group(&a.scope, &b.scope))
                .map(|by_scope| {
                    let (scope, schema_url) = encode_scope(&by_scope[0].scope);
                    proto::ScopeMetrics {
                        scope,
                        metrics: by_scope.chunk_by(same_series).map(encode_series).collect(),
                        schema_url,
                    }
                })
                .collect();
            proto::ResourceMetrics {
                resource,
                scope_metrics,
                schema_url,
            }
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

/// The OTLP type a point goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Gauge,
    Sum { monotonic: bool },
    Histogram,
    Exponential,
    Summary,
}

fn shape(metric: &Metric) -> Shape {
    match (&metric.value, metric.kind) {
        (MetricValue::Histogram { .. }, _) => Shape::Histogram,
        (MetricValue::ExponentialHistogram(_), _) => Shape::Exponential,
        (MetricValue::Summary { .. }, _) => Shape::Summary,
        (MetricValue::Scalar(_) | MetricValue::Integer(_), MetricKind::Counter) => {
            Shape::Sum { monotonic: true }
        }
        (MetricValue::Scalar(_) | MetricValue::Integer(_), MetricKind::UpDownCounter) => {
            Shape::Sum { monotonic: false }
        }
        (
            MetricValue::Scalar(_) | MetricValue::Integer(_),
            MetricKind::Gauge | MetricKind::Histogram | MetricKind::Summary,
        ) => Shape::Gauge,
    }
}

fn same_series(a: &Metric, b: &Metric) -> bool {
    a.name == b.name
        && a.description == b.description
        && a.unit == b.unit
        && a.kind == b.kind
        && a.temporality == b.temporality
        && shape(a) == shape(b)
}

/// One OTLP metric for a run of points of one series. Every point of the
/// run has the run's shape (that is how runs are cut), so the point
/// encoders, which skip a point of another shape, skip none.
fn encode_series(points: &[Metric]) -> proto::Metric {
    let first = &points[0];
    let temporality = encode_temporality(first.temporality);
    let data = match shape(first) {
        Shape::Gauge => Data::Gauge(proto::Gauge {
            data_points: points.iter().filter_map(encode_number).collect(),
        }),
        Shape::Sum { monotonic } => Data::Sum(proto::Sum {
            data_points: points.iter().filter_map(encode_number).collect(),
            aggregation_temporality: temporality,
            is_monotonic: monotonic,
        }),
        Shape::Histogram => Data::Histogram(proto::Histogram {
            data_points: points.iter().filter_map(encode_histogram).collect(),
            aggregation_temporality: temporality,
        }),
        Shape::Exponential => Data::ExponentialHistogram(proto::ExponentialHistogram {
            data_points: points.iter().filter_map(encode_exponential).collect(),
            aggregation_temporality: temporality,
        }),
        Shape::Summary => Data::Summary(proto::Summary {
            data_points: points.iter().filter_map(encode_summary).collect(),
        }),
    };
    proto::Metric {
        name: first.name.as_str().to_owned(),
        description: first.description.clone(),
        unit: first.unit.clone(),
        metadata: Vec::new(),
        data: Some(data),
    }
}
