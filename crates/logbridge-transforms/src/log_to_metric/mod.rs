//! The `log_to_metric` transform: derives metric events from logs, as
//! Vector's transform of that name does. Each log gives one metric per
//! entry of `metrics` (or, with `all_metrics`, is read as a metric written
//! out as a log); a log for which any entry fails gives none, and goes to
//! `dropped` with the reason.
//!
//! - [`derive`]: one `metrics` entry applied to a log;
//! - [`shaped`]: a log in Vector's metric shape read back as a metric;
//! - [`sets`]: `set` metrics, counted per batch.
//!
//! It keeps nothing between batches; the logs' acknowledgements travel with
//! the metrics made from them.

mod derive;
mod sets;
mod shaped;

use std::sync::Arc;

use indexmap::IndexMap;
use logbridge_codec::template::Template;
use logbridge_component::dropped::mark_dropped;
use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs, now_nanos,
};
use logbridge_event::{
    DataKind, Event, EventBatch, KeyString, LogRecord, Metric, ObjectMap, Path, Temporality,
};
use serde::Deserialize;
use tracing::warn;

use self::derive::{Derived, Entry, EntryKind};
use self::sets::Sets;

/// Derives metrics from logs.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogToMetricConfig {
    /// The metrics to derive from each log (`[[transforms.ID.metrics]]`
    /// tables, keys below). A log for which one of them fails (its field
    /// missing or null, a value that is not a number, a name that does not
    /// render) gives none of them and goes to `dropped`, as in Vector.
    #[serde(default)]
    pub metrics: Vec<MetricConfig>,
    /// Read every log as a metric written out as a log (`name`,
    /// `namespace`, `tags`, `kind` = `incremental` or `absolute`, and one of
    /// `counter.value`, `gauge.value`, `set.values`, `distribution.samples`
    /// with `distribution.statistic`, `histogram` or `aggregated_histogram`
    /// with `buckets`, `count` and `sum`, `summary` or `aggregated_summary`
    /// with `quantiles`, `count` and `sum`: what `metric_to_log` writes);
    /// `metrics` is then ignored. Logs not in that shape go to `dropped`.
    #[serde(default)]
    pub all_metrics: bool,
}

/// The type of metric to derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// A counter: 1 per log, or the field's value with `increment_by_value`.
    Counter,
    /// A gauge set to the field's value.
    Gauge,
    /// A histogram of the field's value (one observation per log).
    Histogram,
    /// A summary of the field's value (one observation per log).
    Summary,
    /// The number of distinct values of the field.
    Set,
}

/// Whether a counter's points are changes or totals.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CounterKind {
    /// Each point is a change to add to the total (a delta).
    #[default]
    Incremental,
    /// Each point is the total so far (cumulative).
    Absolute,
}

/// A tag's value: a template, nothing for a bare tag, or a list of those.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum TagConfig {
    /// One value.
    One(Option<String>),
    /// Several values for the same tag; metric labels hold one, the last.
    Several(Vec<Option<String>>),
}

/// One metric to derive from each log.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// The type of metric. Counters are counters (delta with `kind = "incremental"`, cumulative with
    /// `absolute`); gauges are gauges; a histogram is a delta histogram of
    /// one observation over `buckets`; a summary is a delta summary of one
    /// observation (count 1, sum the value, no quantiles: summaries of many
    /// logs add up, quantiles would not); a set is a gauge of the number of
    /// distinct values of the field among the logs of one batch (Vector
    /// keeps the values themselves, which logbridge metrics cannot hold).
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    /// The field whose value makes the metric, such as `status` or
    /// `.http.duration`. A log without it (or with it null) gives none of
    /// its metrics. Gauges, histograms, summaries and counters with
    /// `increment_by_value` need a number or a string holding one.
    pub field: String,
    /// The metric's name, a template (`{{ field }}` references, strftime
    /// specifiers); defaults to `field`.
    #[serde(default)]
    pub name: Option<String>,
    /// A template put in front of the name with `_` (`namespace = "app"`,
    /// `name = "requests"` gives `app_requests`), as Vector's Prometheus
    /// sinks write namespaced names: logbridge metrics have no separate
    /// namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels, by name: a template each (`status = "{{ status }}"`), or a
    /// list of templates of which the last that renders is kept. A tag
    /// whose template does not render (a missing field) is left out and
    /// counted as an error.
    #[serde(default)]
    pub tags: IndexMap<String, TagConfig>,
    /// Counters: add the field's value instead of 1.
    #[serde(default)]
    pub increment_by_value: bool,
    /// Counters: `incremental` (each point a change to add up) or
    /// `absolute` (each point the total so far).
    #[serde(default)]
    pub kind: CounterKind,
    /// Histograms: the bucket upper bounds, ascending (a `+Inf` bucket is
    /// added). Vector keeps the observation and leaves the buckets to the
    /// sink; logbridge histograms carry their buckets, so they are chosen
    /// here. Prometheus' defaults unless set.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
}

/// Prometheus' default histogram buckets (also Vector's
/// `prometheus_exporter` defaults).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn default_buckets() -> Vec<f64> {
    DEFAULT_BUCKETS.to_vec()
}

impl TransformConfig for LogToMetricConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.metrics.is_empty() && !self.all_metrics {
            return Err(
                BuildError::new("metrics", "log_to_metric needs at least one metric").with_hint(
                    "add [[transforms.ID.metrics]] with type and field, or set all_metrics = true",
                ),
            );
        }
        let entries = if self.all_metrics {
            Vec::new()
        } else {
            self.metrics
                .iter()
                .enumerate()
                .map(|(i, m)| compile(i, m))
                .collect::<Result<_, _>>()?
        };
        Ok(Box::new(LogToMetric {
            entries,
            all_metrics: self.all_metrics,
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
            warn_limit: RateLimit::default(),
        }))
    }

    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![
            OutputDef::default_output(DataKind::METRIC),
            OutputDef::named(DROPPED_OUTPUT, DataKind::LOG),
        ]
    }
}

fn template(option: &str, text: &str) -> Result<Template, BuildError> {
    Template::parse(text).map_err(|e| BuildError::new(option, e.0))
}

fn compile(i: usize, m: &MetricConfig) -> Result<Entry, BuildError> {
    let option = |name: &str| format!("metrics[{i}].{name}");
    let field = Path::parse(&m.field)
        .map_err(|e| BuildError::new(&option("field"), format!("invalid path: {e}")))?;
    // The default name is the field as written, without a path's leading
    // dot, so `field = ".status"` names the metric `status`.
    let default_name = m.field.trim().trim_start_matches('.');
    let name = template(&option("name"), m.name.as_deref().unwrap_or(default_name))?;
    let namespace = m
        .namespace
        .as_deref()
        .map(|ns| template(&option("namespace"), ns))
        .transpose()?;
    let mut tags = Vec::with_capacity(m.tags.len());
    for (key, value) in &m.tags {
        let option = option(&format!("tags.{key}"));
        let values = match value {
            TagConfig::One(v) => vec![v.clone()],
            TagConfig::Several(vs) => vs.clone(),
        };
        let values = values
            .iter()
            .map(|v| v.as_deref().map(|t| template(&option, t)).transpose())
            .collect::<Result<_, _>>()?;
        tags.push((KeyString::new(key), values));
    }
    let kind = match m.metric_type {
        MetricType::Counter => EntryKind::Counter {
            by_value: m.increment_by_value,
            temporality: match m.kind {
                CounterKind::Incremental => Temporality::Delta,
                CounterKind::Absolute => Temporality::Cumulative,
            },
        },
        MetricType::Gauge => EntryKind::Gauge,
        MetricType::Histogram => {
            EntryKind::Histogram(bucket_bounds(&option("buckets"), &m.buckets)?)
        }
        MetricType::Summary => EntryKind::Summary,
        MetricType::Set => EntryKind::Set,
    };
    Ok(Entry {
        kind,
        field,
        name,
        namespace,
        tags,
    })
}

/// Checks the bounds (finite, strictly ascending) and shares them.
fn bucket_bounds(option: &str, bounds: &[f64]) -> Result<Arc<[f64]>, BuildError> {
    if bounds.iter().any(|b| !b.is_finite()) {
        return Err(
            BuildError::new(option, "bucket bounds must be finite numbers")
                .with_hint("the +Inf bucket is added by itself"),
        );
    }
    if bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BuildError::new(
            option,
            "bucket bounds must be in ascending order",
        ));
    }
    Ok(bounds.into())
}

/// Why a log gave no metrics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// The `dropped.reason`.
    reason: &'static str,
    message: String,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

struct LogToMetric {
    entries: Vec<Entry>,
    all_metrics: bool,
    id: String,
    metrics: Arc<ComponentMetrics>,
    warn_limit: RateLimit,
}

impl LogToMetric {
    /// The metrics of one log (sets into `sets`), or why it has none.
    fn derive(&self, event: &Event, now: i64, derived: &mut Derived) -> Result<(), Failure> {
        let Event::Log(log) = event else {
            return Ok(());
        };
        if self.all_metrics {
            return shaped::read(log, now, derived);
        }
        for entry in &self.entries {
            entry.derive(event, log, now, derived)?;
        }
        Ok(())
    }
}

impl Transform for LogToMetric {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let now = now_nanos();
        let mut metrics = Vec::with_capacity(batch.len() * self.entries.len().max(1));
        let mut sets = Sets::default();
        let mut dropped = Vec::new();
        let mut first_failure = None;
        let mut tag_failures = 0;
        let (size, total) = (batch.byte_size(), batch.len().max(1));
        for mut event in batch.take_events() {
            let mut derived = Derived::default();
            match self.derive(&event, now, &mut derived) {
                Ok(()) => {
                    tag_failures += derived.tag_failures;
                    metrics.extend(derived.metrics.into_iter().map(Event::Metric));
                    sets.extend(derived.sets);
                }
                Err(failure) => {
                    mark_dropped(&mut event, failure.reason, &failure.message, &self.id);
                    first_failure.get_or_insert(failure);
                    dropped.push(event);
                }
            }
        }
        metrics.extend(sets.into_metrics().map(Event::Metric));
        if first_failure.is_some() || tag_failures > 0 {
            self.metrics.add_error();
            if self.warn_limit.allow() {
                match &first_failure {
                    Some(failure) => warn!(
                        message = "Logs gave no metrics and were sent to the dropped output.",
                        component_id = %self.id,
                        count = dropped.len(),
                        reason = failure.reason,
                        error = %failure.message
                    ),
                    None => warn!(
                        message = "Tags whose template did not render were left out.",
                        component_id = %self.id,
                        count = tag_failures
                    ),
                }
            }
        }
        let finalizers = batch.finalizers.clone();
        if !dropped.is_empty() {
            let share = size * dropped.len() / total;
            out.push_named(
                DROPPED_OUTPUT,
                EventBatch::with_size(dropped, share).with_finalizers(finalizers.clone()),
            );
        }
        out.push(EventBatch::new(metrics).with_finalizers(finalizers));
    }
}

/// A metric in the shape Vector writes metrics as data (`name`, `kind`,
/// `tags`, `counter.value`, `aggregated_histogram`, ...: what
/// `metric_to_log` writes and Vector's config tests give) read as metrics:
/// one, or for a `set` a gauge of its distinct values. `now` stands for a
/// missing timestamp.
pub fn read_vector_metric(fields: ObjectMap, now: i64) -> Result<Vec<Metric>, String> {
    let log = LogRecord {
        attributes: fields,
        ..LogRecord::default()
    };
    let mut derived = Derived::default();
    shaped::read(&log, now, &mut derived).map_err(|f| f.message)?;
    let mut sets = Sets::default();
    sets.extend(derived.sets);
    derived.metrics.extend(sets.into_metrics());
    Ok(derived.metrics)
}

#[cfg(test)]
mod tests;
