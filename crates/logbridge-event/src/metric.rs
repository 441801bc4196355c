//! [`Metric`]: one data point of a metric series, covering the Prometheus
//! types (counter, gauge, histogram, summary) and OpenTelemetry's temporality.

use std::sync::Arc;

use crate::log::{Resource, Scope};
use crate::value::{KeyString, ObjectMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MetricKind {
    /// A monotonic sum.
    Counter,
    #[default]
    Gauge,
    Histogram,
    Summary,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
        }
    }
}

/// Whether a sum or histogram point holds the total since `start` or only
/// the change since the previous point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Temporality {
    #[default]
    Cumulative,
    Delta,
}

/// One histogram bucket: observations `<= upper_bound` that are not in a
/// lower bucket (counts are per bucket, as in OpenTelemetry, not cumulative
/// as in Prometheus). The last bucket has `upper_bound = +Inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Scalar(f64),
    Histogram {
        buckets: Vec<Bucket>,
        count: u64,
        sum: f64,
    },
    Summary {
        quantiles: Vec<Quantile>,
        count: u64,
        sum: f64,
    },
}

impl Default for MetricValue {
    fn default() -> Self {
        MetricValue::Scalar(0.0)
    }
}

/// A metric data point.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric {
    pub name: KeyString,
    /// Labels (OpenTelemetry data point attributes).
    pub labels: ObjectMap,
    pub kind: MetricKind,
    pub temporality: Temporality,
    pub value: MetricValue,
    /// Nanoseconds since the epoch; 0 if unknown.
    pub time_unix_nano: i64,
    pub start_time_unix_nano: i64,
    pub description: String,
    pub unit: String,
    pub resource: Option<Arc<Resource>>,
    pub scope: Option<Arc<Scope>>,
}

impl Metric {
    pub fn resource(&self) -> &Resource {
        crate::log::resource_of(&self.resource)
    }

    pub fn scope(&self) -> &Scope {
        crate::log::scope_of(&self.scope)
    }

    pub fn gauge(name: &str, value: f64, time_unix_nano: i64) -> Metric {
        Metric {
            name: KeyString::new(name),
            value: MetricValue::Scalar(value),
            time_unix_nano,
            ..Metric::default()
        }
    }

    pub fn counter(name: &str, value: f64, time_unix_nano: i64) -> Metric {
        Metric {
            kind: MetricKind::Counter,
            ..Metric::gauge(name, value, time_unix_nano)
        }
    }

    pub fn with_label(mut self, key: &str, value: &str) -> Metric {
        self.labels.insert(KeyString::new(key), value.into());
        self
    }

    pub fn estimated_size(&self) -> usize {
        let value = match &self.value {
            MetricValue::Scalar(_) => 8,
            MetricValue::Histogram { buckets, .. } => 16 + buckets.len() * 16,
            MetricValue::Summary { quantiles, .. } => 16 + quantiles.len() * 16,
        };
        64 + self.name.len()
            + value
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.estimated_size())
                .sum::<usize>()
    }
}
