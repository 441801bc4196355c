//! [`Metric`]: one data point of a metric series, covering the Prometheus
//! types (counter, gauge, histogram, summary) and OpenTelemetry's (sums with
//! temporality and monotonicity, explicit and exponential histograms,
//! integer or floating-point values, exemplars, data point flags), so a
//! point converts from either protocol and back without losing a field.

use std::sync::Arc;

use crate::log::{Resource, Scope};
use crate::span::{SpanId, TraceId};
use crate::value::{KeyString, ObjectMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MetricKind {
    /// A monotonic sum.
    Counter,
    #[default]
    Gauge,
    Histogram,
    Summary,
    /// A sum that may go down (OpenTelemetry's non-monotonic sum, an
    /// UpDownCounter). Prometheus exposes it as a gauge.
    UpDownCounter,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
            MetricKind::UpDownCounter => "updowncounter",
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

/// One side (positive or negative) of an exponential histogram: bucket
/// `offset + i` counts values in `(base^(offset+i), base^(offset+i+1)]`,
/// where `base = 2^(2^-scale)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExponentialBuckets {
    pub offset: i32,
    pub counts: Vec<u64>,
}

/// An OpenTelemetry exponential histogram point (a Prometheus native
/// histogram with a standard schema).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExponentialHistogram {
    pub count: u64,
    pub sum: Option<f64>,
    pub scale: i32,
    pub zero_count: u64,
    pub zero_threshold: f64,
    pub positive: ExponentialBuckets,
    pub negative: ExponentialBuckets,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Scalar(f64),
    /// An integer point (OpenTelemetry's `as_int`), kept apart from
    /// [`MetricValue::Scalar`] so it is not rounded beyond 2^53.
    Integer(i64),
    Histogram {
        buckets: Vec<Bucket>,
        count: u64,
        /// Absent when the recorded values may be negative (OpenTelemetry).
        sum: Option<f64>,
        min: Option<f64>,
        max: Option<f64>,
    },
    ExponentialHistogram(Box<ExponentialHistogram>),
    Summary {
        quantiles: Vec<Quantile>,
        count: u64,
        sum: f64,
    },
}

impl MetricValue {
    /// The value of a scalar point as a float; `None` for distributions.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetricValue::Scalar(v) => Some(*v),
            MetricValue::Integer(v) => Some(*v as f64),
            _ => None,
        }
    }
}

/// An exemplar's measured value, integer or float as it was recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Float(f64),
    Integer(i64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Float(v) => v,
            Number::Integer(v) => v as f64,
        }
    }
}

/// A sample measurement attached to a point, usually with the trace that
/// recorded it (OpenTelemetry exemplars, OpenMetrics `# {...} value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub value: Number,
    /// Nanoseconds since the epoch; 0 if unknown.
    pub time_unix_nano: i64,
    /// Labels of the measurement that are not labels of the point.
    pub filtered_attributes: ObjectMap,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
}

/// OpenTelemetry's data point flag: the point carries no value (a series
/// that stopped; Prometheus' staleness marker).
pub const FLAG_NO_RECORDED_VALUE: u32 = 1;

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
    pub exemplars: Vec<Exemplar>,
    /// OpenTelemetry data point flags ([`FLAG_NO_RECORDED_VALUE`]).
    pub flags: u32,
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

    /// Adds the change `other` into this point, for sums over time
    /// (delta points folded into a total, or several deltas into one):
    /// scalars, histograms with the same bucket bounds, and summaries
    /// without quantiles (their count and sum add up exactly). Returns false,
    /// changing nothing, when the two do not add up (other shapes, other
    /// bounds, summaries with quantiles). The later time stands, the start
    /// time is the first one known, and exemplars and description are the
    /// newer point's.
    pub fn add(&mut self, other: &Metric) -> bool {
        if !add_values(&mut self.value, &other.value) {
            return false;
        }
        if other.time_unix_nano > self.time_unix_nano {
            self.time_unix_nano = other.time_unix_nano;
        }
        if self.start_time_unix_nano == 0 {
            self.start_time_unix_nano = other.start_time_unix_nano;
        }
        self.exemplars.clone_from(&other.exemplars);
        if !other.description.is_empty() {
            self.description.clone_from(&other.description);
        }
        true
    }

    pub fn estimated_size(&self) -> usize {
        let value = match &self.value {
            MetricValue::Scalar(_) | MetricValue::Integer(_) => 8,
            MetricValue::Histogram { buckets, .. } => 40 + buckets.len() * 16,
            MetricValue::ExponentialHistogram(h) => {
                80 + (h.positive.counts.len() + h.negative.counts.len()) * 8
            }
            MetricValue::Summary { quantiles, .. } => 16 + quantiles.len() * 16,
        };
        64 + self.name.len()
            + value
            + self
                .labels
                .iter()
                .map(|(k, v)| k.len() + v.estimated_size())
                .sum::<usize>()
            + self.exemplars.len() * 64
    }
}

/// `total += change`, when the two have the same shape.
fn add_values(total: &mut MetricValue, change: &MetricValue) -> bool {
    match (&mut *total, change) {
        (MetricValue::Integer(a), MetricValue::Integer(b)) => {
            *total = match a.checked_add(*b) {
                Some(sum) => MetricValue::Integer(sum),
                None => MetricValue::Scalar(*a as f64 + *b as f64),
            };
        }
        (MetricValue::Integer(a), MetricValue::Scalar(b)) => {
            *total = MetricValue::Scalar(*a as f64 + b);
        }
        (MetricValue::Scalar(a), MetricValue::Integer(b)) => *a += *b as f64,
        (MetricValue::Scalar(a), MetricValue::Scalar(b)) => *a += b,
        (
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                min,
                max,
            },
            MetricValue::Histogram {
                buckets: more,
                count: more_count,
                sum: more_sum,
                min: more_min,
                max: more_max,
            },
        ) if same_bounds(buckets, more) => {
            for (b, m) in buckets.iter_mut().zip(more) {
                b.count = b.count.saturating_add(m.count);
            }
            *count = count.saturating_add(*more_count);
            *sum = sum.zip(*more_sum).map(|(a, b)| a + b);
            *min = min.zip(*more_min).map(|(a, b)| a.min(b));
            *max = max.zip(*more_max).map(|(a, b)| a.max(b));
        }
        (
            MetricValue::Summary {
                quantiles,
                count,
                sum,
            },
            MetricValue::Summary {
                quantiles: more_quantiles,
                count: more_count,
                sum: more_sum,
            },
        ) if quantiles.is_empty() && more_quantiles.is_empty() => {
            *count = count.saturating_add(*more_count);
            *sum += more_sum;
        }
        _ => return false,
    }
    true
}

/// Whether two histograms have the same bucket bounds (bit for bit).
pub fn same_bounds(a: &[Bucket], b: &[Bucket]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.upper_bound.to_bits() == y.upper_bound.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A histogram of one bucket up to 1 and the `+Inf` one.
    fn histogram(low: u64, high: u64, sum: f64) -> MetricValue {
        let bucket = |upper_bound, count| Bucket { upper_bound, count };
        MetricValue::Histogram {
            buckets: vec![bucket(1.0, low), bucket(f64::INFINITY, high)],
            count: low + high,
            sum: Some(sum),
            min: Some(sum),
            max: Some(sum),
        }
    }

    #[test]
    fn adds_scalars_histograms_and_plain_summaries() {
        let mut a = Metric::counter("c", 1.5, 10);
        assert!(a.add(&Metric::counter("c", 2.0, 20)));
        assert_eq!(
            (a.value.clone(), a.time_unix_nano),
            (MetricValue::Scalar(3.5), 20)
        );
        a.value = MetricValue::Integer(i64::MAX);
        let mut one = Metric::counter("c", 0.0, 5);
        one.value = MetricValue::Integer(1);
        assert!(a.add(&one));
        assert_eq!(a.value, MetricValue::Scalar(i64::MAX as f64 + 1.0));
        assert_eq!(a.time_unix_nano, 20);

        let mut h = Metric {
            value: histogram(1, 0, 0.5),
            ..Metric::default()
        };
        assert!(h.add(&Metric {
            value: histogram(0, 2, 7.0),
            ..Metric::default()
        }));
        let MetricValue::Histogram {
            buckets,
            count,
            sum,
            min,
            max,
        } = &h.value
        else {
            panic!("{h:?}");
        };
        assert_eq!((buckets[0].count, buckets[1].count, *count), (1, 2, 3));
        assert_eq!((*sum, *min, *max), (Some(7.5), Some(0.5), Some(7.0)));

        let summary = |quantiles: Vec<Quantile>| Metric {
            value: MetricValue::Summary {
                quantiles,
                count: 1,
                sum: 2.0,
            },
            ..Metric::default()
        };
        let mut s = summary(Vec::new());
        assert!(s.add(&summary(Vec::new())));
        assert_eq!(
            s.value,
            MetricValue::Summary {
                quantiles: Vec::new(),
                count: 2,
                sum: 4.0
            }
        );
        let q = vec![Quantile {
            quantile: 0.5,
            value: 2.0,
        }];
        assert!(!s.add(&summary(q)));
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let mut h = Metric {
            value: histogram(1, 0, 0.5),
            ..Metric::default()
        };
        let mut other = Metric {
            value: histogram(1, 0, 0.5),
            time_unix_nano: 99,
            ..Metric::default()
        };
        if let MetricValue::Histogram { buckets, .. } = &mut other.value {
            buckets[0].upper_bound = 2.0;
        }
        let before = h.clone();
        assert!(!h.add(&other));
        assert!(!h.add(&Metric::gauge("g", 1.0, 99)));
        assert_eq!(h, before);
    }
}
