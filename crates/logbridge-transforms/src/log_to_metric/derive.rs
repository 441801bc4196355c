//! One `metrics` entry of `log_to_metric` applied to one log: the field's
//! value made a point of the entry's type, named and labelled by the
//! entry's templates. It knows nothing of batches or outputs.

use std::sync::Arc;

use logbridge_codec::template::Template;
use logbridge_event::{
    Bucket, Event, KeyString, LogRecord, Metric, MetricKind, MetricValue, ObjectMap, Path,
    Temporality, Value,
};

use super::Failure;
use super::sets::SetPoint;

/// What an entry makes of its field.
#[derive(Debug)]
pub(super) enum EntryKind {
    Counter {
        by_value: bool,
        temporality: Temporality,
    },
    Gauge,
    /// With its bucket bounds (finite, ascending).
    Histogram(Arc<[f64]>),
    Summary,
    Set,
}

/// A compiled `metrics` entry.
#[derive(Debug)]
pub(super) struct Entry {
    pub kind: EntryKind,
    pub field: Path,
    pub name: Template,
    pub namespace: Option<Template>,
    /// Each tag's templates; `None` is a bare tag.
    pub tags: Vec<(KeyString, Vec<Option<Template>>)>,
}

/// What one log gave.
#[derive(Debug, Default)]
pub(super) struct Derived {
    pub metrics: Vec<Metric>,
    pub sets: Vec<SetPoint>,
    /// Tags left out because their template did not render.
    pub tag_failures: usize,
}

impl Entry {
    /// Adds this entry's metric for `log` (the log inside `event`) to `out`.
    pub fn derive(
        &self,
        event: &Event,
        log: &LogRecord,
        now: i64,
        out: &mut Derived,
    ) -> Result<(), Failure> {
        let value = match log.get(&self.field) {
            None => {
                return Err(Failure::new(
                    "field_not_found",
                    format!("field {} is missing", self.field),
                ));
            }
            Some(v) if v.is_null() => {
                return Err(Failure::new(
                    "field_null",
                    format!("field {} is null", self.field),
                ));
            }
            Some(v) => v,
        };
        let time = if log.time_unix_nano != 0 {
            log.time_unix_nano
        } else {
            now
        };
        let base = Metric {
            name: self.render_name(event, now)?.into(),
            labels: self.render_tags(event, now, &mut out.tag_failures),
            time_unix_nano: time,
            ..Metric::default()
        };
        let metric = match &self.kind {
            EntryKind::Counter {
                by_value,
                temporality,
            } => Metric {
                kind: MetricKind::Counter,
                temporality: *temporality,
                value: MetricValue::Scalar(if *by_value {
                    number(&value, &self.field)?
                } else {
                    1.0
                }),
                ..base
            },
            EntryKind::Gauge => Metric {
                kind: MetricKind::Gauge,
                value: MetricValue::Scalar(number(&value, &self.field)?),
                ..base
            },
            EntryKind::Histogram(bounds) => Metric {
                kind: MetricKind::Histogram,
                temporality: Temporality::Delta,
                value: histogram_of(bounds, [(number(&value, &self.field)?, 1)]),
                ..base
            },
            EntryKind::Summary => Metric {
                kind: MetricKind::Summary,
                temporality: Temporality::Delta,
                value: summary_of([(number(&value, &self.field)?, 1)]),
                ..base
            },
            EntryKind::Set => {
                out.sets.push(SetPoint {
                    metric: base,
                    member: value.to_string_lossy().into_owned(),
                });
                return Ok(());
            }
        };
        out.metrics.push(metric);
        Ok(())
    }

    /// The name, with the namespace in front (`namespace_name`).
    fn render_name(&self, event: &Event, now: i64) -> Result<String, Failure> {
        let failed = |what: &str, e: logbridge_codec::template::TemplateError| {
            Failure::new(
                "template_failed",
                format!("the {what} does not render: {e}"),
            )
        };
        let name = self
            .name
            .render_value(event, now)
            .map_err(|e| failed("name", e))?;
        match &self.namespace {
            None => Ok(name),
            Some(ns) => {
                let ns = ns
                    .render_value(event, now)
                    .map_err(|e| failed("namespace", e))?;
                Ok(with_namespace(&ns, &name))
            }
        }
    }

    /// The labels: for each tag, the last of its templates that renders.
    fn render_tags(&self, event: &Event, now: i64, failures: &mut usize) -> ObjectMap {
        let mut labels = ObjectMap::with_capacity(self.tags.len());
        for (key, templates) in &self.tags {
            let mut chosen = None;
            // Bare tags (no template) carry no value, and labels hold
            // values only: they are left out, as Vector's single-valued
            // view of tags leaves them out.
            for template in templates.iter().flatten() {
                match template.render_value(event, now) {
                    Ok(v) => chosen = Some(v),
                    Err(_) => *failures += 1,
                }
            }
            if let Some(v) = chosen {
                labels.insert(key.clone(), Value::from(v));
            }
        }
        labels
    }
}

/// `namespace_name`, or `name` when the namespace is empty.
pub(super) fn with_namespace(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}_{name}")
    }
}

/// The value as a number, as Vector reads it: numbers, and strings that
/// parse as one.
fn number(value: &Value, field: &Path) -> Result<f64, Failure> {
    let n = match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Bytes(_) => value.to_string_lossy().parse().ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        let mut shown = value.to_string_lossy().into_owned();
        if shown.len() > 64 {
            let cut = (0..=64).rev().find(|i| shown.is_char_boundary(*i));
            shown.truncate(cut.unwrap_or(0));
            shown.push_str("...");
        }
        Failure::new(
            "not_a_number",
            format!(
                "field {field} is not a number: a {} `{shown}`",
                value.kind_name()
            ),
        )
    })
}

/// A delta histogram over `bounds` (and `+Inf`) of observations given as
/// (value, how many times).
pub(super) fn histogram_of(
    bounds: &[f64],
    observations: impl IntoIterator<Item = (f64, u64)>,
) -> MetricValue {
    let mut buckets: Vec<Bucket> = bounds
        .iter()
        .chain(std::iter::once(&f64::INFINITY))
        .map(|&upper_bound| Bucket {
            upper_bound,
            count: 0,
        })
        .collect();
    let (mut count, mut sum) = (0u64, 0.0);
    let (mut min, mut max) = (None::<f64>, None::<f64>);
    for (v, times) in observations {
        // The first bucket whose bound is not below the value; NaN ends in
        // the last.
        let i = buckets
            .iter()
            .position(|b| v <= b.upper_bound)
            .unwrap_or(buckets.len() - 1);
        buckets[i].count = buckets[i].count.saturating_add(times);
        count = count.saturating_add(times);
        sum += v * times as f64;
        min = Some(min.map_or(v, |m| m.min(v)));
        max = Some(max.map_or(v, |m| m.max(v)));
    }
    MetricValue::Histogram {
        buckets,
        count,
        sum: Some(sum),
        min,
        max,
    }
}

/// A summary without quantiles (count and sum) of observations given as
/// (value, how many times).
pub(super) fn summary_of(observations: impl IntoIterator<Item = (f64, u64)>) -> MetricValue {
    let (mut count, mut sum) = (0u64, 0.0);
    for (v, times) in observations {
        count = count.saturating_add(times);
        sum += v * times as f64;
    }
    MetricValue::Summary {
        quantiles: Vec::new(),
        count,
        sum,
    }
}
