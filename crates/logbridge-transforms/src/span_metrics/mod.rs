//! The `span_metrics` transform: request, error and duration (R.E.D.)
//! metrics from spans, as the OpenTelemetry Collector's spanmetrics
//! connector makes them. Spans in, metrics out: every
//! `metrics_flush_interval_secs` it sends, per series, a `calls` counter
//! and a `duration` histogram named under `namespace`
//! (`traces.span.metrics.calls`, which Prometheus shows as
//! `traces_span_metrics_calls_total`).
//!
//! A series is a resource (all its attributes) and the labels
//! `service.name`, `span.name`, `span.kind` (`SPAN_KIND_SERVER`, ...),
//! `status.code` (`STATUS_CODE_ERROR`, ...) and each of `dimensions`: the
//! span's attribute of that name, else its resource's, else the
//! dimension's `default`; without one the label is left out.
//! `exclude_dimensions` takes built-in labels away. Durations are end minus
//! start (0 when negative), in `histogram.unit`, counted in
//! `histogram.explicit.buckets` (the collector's defaults, 2 ms to 15 s).
//! With `exemplars.enabled`, each point carries up to
//! `exemplars.max_per_data_point` trace and span ids of the interval.
//!
//! Series are bounded by `aggregation_cardinality_limit`: once that many
//! exist, spans of new ones count in one overflow series per resource
//! labelled `otel.metric.overflow = true` (counted).
//!
//! Spans are not passed on: send them to their sinks directly, this
//! transform beside them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{
    DataKind, Event, EventBatch, Exemplar, KeyString, Metric, MetricKind, MetricValue, Number,
    ObjectMap, Resource, Span, SpanKind, StatusCode, Temporality, Value,
};
use serde::Deserialize;

use crate::duration_histogram::{self, Histogram, wall_clock_ns};
use crate::fingerprint::Fingerprint;

/// Turns spans into call and duration metrics.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpanMetricsConfig {
    /// The duration histogram: `unit` (`ms`, the default, or `s`),
    /// `explicit.buckets` (durations such as `"2ms"`, `"1s"`), `disable`.
    #[serde(default)]
    pub histogram: HistogramConfig,
    /// Extra labels: `{ name = "http.method", default = "GET" }`; the span's
    /// attribute, else its resource's, else `default` (or no label).
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    /// Built-in labels to leave out (`span.kind`, `status.code`, ...).
    #[serde(default)]
    pub exclude_dimensions: Vec<String>,
    /// The prefix of the metric names (`traces.span.metrics`); empty for
    /// bare `calls` and `duration`.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// How often the metrics are sent (60 seconds by default, as in the
    /// collector).
    #[serde(default = "default_flush_interval")]
    pub metrics_flush_interval_secs: f64,
    /// `cumulative` (the default) or `delta` (each point counts since the
    /// last one); the collector's `AGGREGATION_TEMPORALITY_*` names work too.
    #[serde(default)]
    pub aggregation_temporality: AggregationTemporality,
    /// `enabled`, and `max_per_data_point` (5 by default).
    #[serde(default)]
    pub exemplars: ExemplarsConfig,
    /// The most series (10,000 by default; 0 for no bound). Spans of
    /// series past it count in an overflow series
    /// (`otel.metric.overflow = true`).
    #[serde(default = "default_cardinality_limit")]
    pub aggregation_cardinality_limit: usize,
    /// Series with no span for this long are forgotten (0, the default,
    /// keeps them).
    #[serde(default)]
    pub metrics_expiration_secs: f64,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistogramConfig {
    #[serde(default)]
    pub disable: bool,
    #[serde(default)]
    pub unit: DurationUnit,
    #[serde(default)]
    pub explicit: Option<ExplicitBuckets>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplicitBuckets {
    pub buckets: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum DurationUnit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum AggregationTemporality {
    #[default]
    #[serde(rename = "cumulative", alias = "AGGREGATION_TEMPORALITY_CUMULATIVE")]
    Cumulative,
    #[serde(rename = "delta", alias = "AGGREGATION_TEMPORALITY_DELTA")]
    Delta,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_exemplars_per_point")]
    pub max_per_data_point: usize,
}

impl Default for ExemplarsConfig {
    fn default() -> Self {
        ExemplarsConfig {
            enabled: false,
            max_per_data_point: default_exemplars_per_point(),
        }
    }
}

fn default_namespace() -> String {
    "traces.span.metrics".to_owned()
}

fn default_flush_interval() -> f64 {
    60.0
}

fn default_cardinality_limit() -> usize {
    10_000
}

fn default_exemplars_per_point() -> usize {
    5
}

const BUILT_IN: [&str; 4] = ["service.name", "span.name", "span.kind", "status.code"];

static OVERFLOW_SPANS: GaugeDef = GaugeDef {
    name: "logbridge_span_metrics_overflow_spans_total",
    help: "Spans counted in the overflow series because aggregation_cardinality_limit series already existed.",
    counter: true,
};

static SERIES: GaugeDef = GaugeDef {
    name: "logbridge_span_metrics_series",
    help: "Series the span_metrics transform keeps.",
    counter: false,
};

impl TransformConfig for SpanMetricsConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        Ok(Box::new(self.build_metrics(cx.metrics.clone())?))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::SPAN
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }
}

impl SpanMetricsConfig {
    fn build_metrics(&self, metrics: Arc<ComponentMetrics>) -> Result<SpanMetrics, BuildError> {
        let scale = match self.histogram.unit {
            DurationUnit::Milliseconds => 1.0,
            DurationUnit::Seconds => 1e-3,
        };
        let bounds = duration_histogram::bounds(
            "histogram.explicit.buckets",
            self.histogram
                .explicit
                .as_ref()
                .map(|e| e.buckets.as_slice()),
            scale,
        )?;
        for (i, d) in self.dimensions.iter().enumerate() {
            if BUILT_IN.contains(&d.name.as_str())
                || self.dimensions[..i].iter().any(|o| o.name == d.name)
            {
                return Err(BuildError::new(
                    "dimensions",
                    format!("`{}` is already a label", d.name),
                ));
            }
        }
        if let Some(unknown) = self
            .exclude_dimensions
            .iter()
            .find(|d| !BUILT_IN.contains(&d.as_str()))
        {
            return Err(BuildError::new(
                "exclude_dimensions",
                format!("`{unknown}` is not a built-in label"),
            )
            .with_hint("built-in labels: service.name, span.name, span.kind, status.code"));
        }
        duration_histogram::check_seconds(
            &[("metrics_expiration_secs", self.metrics_expiration_secs)],
            "metrics_flush_interval_secs",
            self.metrics_flush_interval_secs,
        )?;
        let prefix = if self.namespace.is_empty() {
            String::new()
        } else {
            format!("{}.", self.namespace)
        };
        Ok(SpanMetrics {
            calls_name: KeyString::from(format!("{prefix}calls")),
            duration_name: KeyString::from(format!("{prefix}duration")),
            unit: match self.histogram.unit {
                DurationUnit::Milliseconds => "ms",
                DurationUnit::Seconds => "s",
            },
            scale,
            bounds,
            histogram: !self.histogram.disable,
            dimensions: self.dimensions.clone(),
            include: BUILT_IN.map(|b| !self.exclude_dimensions.iter().any(|e| e == b)),
            delta: self.aggregation_temporality == AggregationTemporality::Delta,
            exemplars: if self.exemplars.enabled {
                self.exemplars.max_per_data_point
            } else {
                0
            },
            limit: self.aggregation_cardinality_limit,
            flush_every: Duration::from_secs_f64(self.metrics_flush_interval_secs),
            expire_after_ns: (self.metrics_expiration_secs * 1e9) as i64,
            series: HashMap::new(),
            overflow_spans: 0,
            metrics,
        })
    }
}

/// One series: its labels and what was counted.
struct Series {
    labels: ObjectMap,
    resource: Option<Arc<Resource>>,
    calls: u64,
    duration: Histogram,
    exemplars: Vec<Exemplar>,
    start_ns: i64,
    last_seen_ns: i64,
}

struct SpanMetrics {
    calls_name: KeyString,
    duration_name: KeyString,
    unit: &'static str,
    /// From milliseconds to `unit`.
    scale: f64,
    bounds: Vec<f64>,
    histogram: bool,
    dimensions: Vec<Dimension>,
    /// Which of [`BUILT_IN`] are labels.
    include: [bool; 4],
    delta: bool,
    exemplars: usize,
    limit: usize,
    flush_every: Duration,
    expire_after_ns: i64,
    series: HashMap<u128, Series>,
    overflow_spans: u64,
    metrics: Arc<ComponentMetrics>,
}

fn kind_label(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

fn status_label(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

impl SpanMetrics {
    /// The labels of the span's series.
    fn labels(&self, span: &Span) -> ObjectMap {
        let resource = span.resource();
        let mut labels = ObjectMap::with_capacity(4 + self.dimensions.len());
        let service = resource
            .attributes
            .get("service.name")
            .cloned()
            .unwrap_or(Value::Null);
        let built_in = [
            service,
            Value::from(span.name.as_str()),
            Value::from(kind_label(span.kind)),
            Value::from(status_label(span.status.code)),
        ];
        for ((name, value), include) in BUILT_IN.iter().zip(built_in).zip(self.include) {
            if include && !value.is_null() {
                labels.insert(KeyString::from(*name), value);
            }
        }
        for d in &self.dimensions {
            let value = span
                .attributes
                .get(&d.name)
                .or_else(|| resource.attributes.get(&d.name))
                .cloned()
                .or_else(|| d.default.as_deref().map(Value::from));
            if let Some(value) = value {
                labels.insert(KeyString::from(d.name.as_str()), value);
            }
        }
        labels
    }

    fn record(&mut self, span: &Span, now_ns: i64) {
        let labels = self.labels(span);
        let resource_key = {
            let mut f = Fingerprint::new();
            for (k, v) in span.resource().attributes.iter() {
                f.name(k);
                f.value(v);
            }
            f.finish()
        };
        let mut f = Fingerprint::new();
        f.bytes(&resource_key.to_le_bytes());
        for (k, v) in labels.iter() {
            f.name(k);
            f.value(v);
        }
        let mut key = f.finish();
        let mut labels = Some(labels);
        if !self.series.contains_key(&key) && self.limit > 0 && self.series.len() >= self.limit {
            // Past the bound: the resource's overflow series.
            self.overflow_spans += 1;
            key = resource_key ^ 0x6f76_6572_666c_6f77;
            let mut overflow = ObjectMap::new();
            overflow.insert(KeyString::from("otel.metric.overflow"), Value::Bool(true));
            labels = Some(overflow);
        }
        let bounds = &self.bounds;
        let series = self.series.entry(key).or_insert_with(|| Series {
            labels: labels.take().unwrap_or_default(),
            resource: span.resource.clone(),
            calls: 0,
            duration: Histogram::new(bounds),
            exemplars: Vec::new(),
            start_ns: now_ns,
            last_seen_ns: now_ns,
        });
        let nanos = span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
            .max(0);
        let duration = nanos as f64 / 1e6 * self.scale;
        series.calls += 1;
        series.duration.observe(bounds, duration);
        series.last_seen_ns = now_ns;
        if series.exemplars.len() < self.exemplars {
            series.exemplars.push(Exemplar {
                value: Number::Float(duration),
                time_unix_nano: span.end_time_unix_nano,
                filtered_attributes: ObjectMap::new(),
                trace_id: Some(span.trace_id),
                span_id: Some(span.span_id),
            });
        }
    }

    /// Sends every series' points, stamped `now_ns`.
    fn flush(&mut self, now_ns: i64, out: &mut TransformOutputs) {
        if self.expire_after_ns > 0 {
            let horizon = now_ns.saturating_sub(self.expire_after_ns);
            self.series.retain(|_, s| s.last_seen_ns > horizon);
        }
        let temporality = if self.delta {
            Temporality::Delta
        } else {
            Temporality::Cumulative
        };
        let mut points = Vec::with_capacity(self.series.len() * 2);
        for series in self.series.values_mut() {
            if self.delta && series.calls == 0 {
                continue;
            }
            let exemplars = std::mem::take(&mut series.exemplars);
            let base = Metric {
                labels: series.labels.clone(),
                temporality,
                time_unix_nano: now_ns,
                start_time_unix_nano: series.start_ns,
                resource: series.resource.clone(),
                ..Metric::default()
            };
            points.push(Event::Metric(Metric {
                name: self.calls_name.clone(),
                kind: MetricKind::Counter,
                value: MetricValue::Integer(series.calls as i64),
                exemplars: exemplars.clone(),
                ..base.clone()
            }));
            if self.histogram {
                points.push(Event::Metric(Metric {
                    name: self.duration_name.clone(),
                    kind: MetricKind::Histogram,
                    unit: self.unit.to_owned(),
                    value: series.duration.value(&self.bounds),
                    exemplars,
                    ..base
                }));
            }
            if self.delta {
                series.calls = 0;
                series.duration.reset();
                series.start_ns = now_ns;
            }
        }
        if !points.is_empty() {
            out.push(EventBatch::new(points));
        }
        if self.overflow_spans > 0 {
            self.metrics
                .add_to_gauge(&OVERFLOW_SPANS, &[], self.overflow_spans as i64);
            self.overflow_spans = 0;
        }
        self.metrics
            .set_gauge(&SERIES, &[], self.series.len() as i64);
    }
}

impl Transform for SpanMetrics {
    fn transform(&mut self, batch: EventBatch, _out: &mut TransformOutputs) {
        let now = wall_clock_ns();
        // Read in place: spans fanned out to `tail_sample` too would be
        // copied whole if taken here while it holds the batch.
        for event in batch.events() {
            if let Event::Span(span) = event {
                self.record(span, now);
            }
        }
        // The spans end here: their finalizers go with the batch, which
        // counts them delivered (the metrics are built from them).
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.flush_every)
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        self.flush(wall_clock_ns(), out);
    }

    fn finish(&mut self, out: &mut TransformOutputs) {
        self.flush(wall_clock_ns(), out);
    }
}

#[cfg(test)]
mod tests;
