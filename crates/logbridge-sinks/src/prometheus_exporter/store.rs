//! The `prometheus_exporter`'s series table: the latest point of every
//! series (name and labels), with delta points summed into cumulative
//! ones, and series forgotten once they have not been updated for the
//! flush period.
//!
//! Pure apart from the `Instant`s its callers pass in, so the rules are
//! tested without a server or a clock.
//!
//! Rules, per incoming point:
//! - a point flagged as having no recorded value (a stale marker) removes
//!   its series;
//! - a delta counter, up-down counter, histogram or summary without
//!   quantiles is added to the stored total (histograms only when the
//!   bucket bounds agree; otherwise the new point starts the total over);
//!   the sum is exposed as cumulative;
//! - anything else replaces the stored point, unless it is older (by its
//!   own timestamp) than the one stored;
//! - exponential histograms have no text form and are refused.
//!
//! Series are keyed by name and labels only: the resource and scope of an
//! OpenTelemetry point are not labels in the exposition, so two resources
//! reporting the same name and labels share one series.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use logbridge_event::{FLAG_NO_RECORDED_VALUE, Metric, MetricKind, MetricValue, Temporality};

/// What became of an absorbed point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absorbed {
    /// Stored (or added to the stored total).
    Stored,
    /// A stale marker: the series is gone.
    Removed,
    /// Older than the stored point: kept out.
    Outdated,
    /// No text form (exponential histograms).
    Unsupported,
}

struct Entry {
    metric: Metric,
    updated: Instant,
}

/// The series table.
#[derive(Default)]
pub struct SeriesStore {
    series: BTreeMap<Vec<u8>, Entry>,
}

/// Name, then each label as `\0name\0value` (labels are kept sorted by
/// name, so equal label sets give equal keys). The name first keeps a
/// family's series together when iterating in key order.
fn series_key(m: &Metric) -> Vec<u8> {
    let mut key = Vec::with_capacity(m.name.len() + m.labels.len() * 16);
    key.extend_from_slice(m.name.as_bytes());
    for (k, v) in m.labels.iter() {
        key.push(0);
        key.extend_from_slice(k.as_bytes());
        key.push(0);
        key.extend_from_slice(v.to_string_lossy().as_bytes());
    }
    key
}

/// Whether a point is a change to add to a total rather than a total.
fn is_delta(m: &Metric) -> bool {
    m.temporality == Temporality::Delta
        && match &m.value {
            MetricValue::Scalar(_) | MetricValue::Integer(_) => {
                matches!(m.kind, MetricKind::Counter | MetricKind::UpDownCounter)
            }
            MetricValue::Histogram { .. } => true,
            // Without quantiles, a summary's count and sum add up exactly.
            MetricValue::Summary { quantiles, .. } => quantiles.is_empty(),
            _ => false,
        }
}

impl SeriesStore {
    pub fn new() -> SeriesStore {
        SeriesStore::default()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Takes one point in (see the module doc for the rules).
    pub fn absorb(&mut self, mut m: Metric, now: Instant) -> Absorbed {
        if matches!(m.value, MetricValue::ExponentialHistogram(_)) {
            return Absorbed::Unsupported;
        }
        let key = series_key(&m);
        if m.flags & FLAG_NO_RECORDED_VALUE != 0 {
            self.series.remove(&key);
            return Absorbed::Removed;
        }
        let delta = is_delta(&m);
        m.temporality = Temporality::Cumulative;
        match self.series.get_mut(&key) {
            Some(entry) if delta => {
                if !entry.metric.add(&m) {
                    entry.metric = m;
                }
                entry.updated = now;
                Absorbed::Stored
            }
            Some(entry) => {
                if m.time_unix_nano != 0 && m.time_unix_nano < entry.metric.time_unix_nano {
                    return Absorbed::Outdated;
                }
                entry.metric = m;
                entry.updated = now;
                Absorbed::Stored
            }
            None => {
                self.series.insert(
                    key,
                    Entry {
                        metric: m,
                        updated: now,
                    },
                );
                Absorbed::Stored
            }
        }
    }

    /// Forgets series not updated within `ttl` of `now`; returns how many.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> usize {
        let before = self.series.len();
        self.series
            .retain(|_, e| now.saturating_duration_since(e.updated) < ttl);
        before - self.series.len()
    }

    /// Copies of the stored points, in key order (families together).
    /// Without `timestamps`, the points carry none, so the scraper stamps
    /// them with its scrape time.
    pub fn snapshot(&self, timestamps: bool) -> Vec<Metric> {
        self.series
            .values()
            .map(|e| {
                let mut m = e.metric.clone();
                if !timestamps {
                    m.time_unix_nano = 0;
                }
                m
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::Bucket;

    fn delta(m: Metric) -> Metric {
        Metric {
            temporality: Temporality::Delta,
            ..m
        }
    }

    fn histogram(counts: &[u64], sum: f64, t: i64) -> Metric {
        let bounds = [1.0, 5.0, f64::INFINITY];
        Metric {
            name: "latency".into(),
            kind: MetricKind::Histogram,
            value: MetricValue::Histogram {
                buckets: bounds
                    .iter()
                    .zip(counts)
                    .map(|(&upper_bound, &count)| Bucket { upper_bound, count })
                    .collect(),
                count: counts.iter().sum(),
                sum: Some(sum),
                min: None,
                max: None,
            },
            time_unix_nano: t,
            ..Metric::default()
        }
    }

    #[test]
    fn latest_point_per_series() {
        let now = Instant::now();
        let mut s = SeriesStore::new();
        s.absorb(Metric::gauge("g", 1.0, 10).with_label("a", "x"), now);
        s.absorb(Metric::gauge("g", 2.0, 20).with_label("a", "x"), now);
        s.absorb(Metric::gauge("g", 7.0, 20).with_label("a", "y"), now);
        assert_eq!(
            s.absorb(Metric::gauge("g", 0.5, 15).with_label("a", "x"), now),
            Absorbed::Outdated
        );
        let out = s.snapshot(true);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].value, MetricValue::Scalar(2.0));
        assert_eq!(out[0].time_unix_nano, 20);
        assert_eq!(out[1].value, MetricValue::Scalar(7.0));
        assert_eq!(s.snapshot(false)[0].time_unix_nano, 0);
    }

    #[test]
    fn deltas_add_up_into_totals() {
        let now = Instant::now();
        let mut s = SeriesStore::new();
        s.absorb(delta(Metric::counter("c_total", 3.0, 1)), now);
        s.absorb(delta(Metric::counter("c_total", 4.0, 2)), now);
        let mut int = delta(Metric::counter("i_total", 0.0, 1));
        int.value = MetricValue::Integer(5);
        s.absorb(int.clone(), now);
        s.absorb(int, now);
        s.absorb(delta(histogram(&[1, 2, 0], 6.0, 1)), now);
        s.absorb(delta(histogram(&[0, 1, 1], 9.5, 2)), now);
        let out = s.snapshot(true);
        let c = out.iter().find(|m| m.name == "c_total").unwrap();
        assert_eq!(c.value, MetricValue::Scalar(7.0));
        assert_eq!(c.temporality, Temporality::Cumulative);
        assert_eq!(c.time_unix_nano, 2);
        let i = out.iter().find(|m| m.name == "i_total").unwrap();
        assert_eq!(i.value, MetricValue::Integer(10));
        let h = out.iter().find(|m| m.name == "latency").unwrap();
        match &h.value {
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                ..
            } => {
                let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
                assert_eq!(counts, [1, 3, 1]);
                assert_eq!(*count, 5);
                assert_eq!(*sum, Some(15.5));
            }
            other => panic!("not a histogram: {other:?}"),
        }
        // Summaries without quantiles add up; with quantiles, the latest
        // stands.
        let summary = |quantiles: Vec<logbridge_event::Quantile>, sum| Metric {
            name: "rt".into(),
            kind: MetricKind::Summary,
            temporality: Temporality::Delta,
            value: MetricValue::Summary {
                quantiles,
                count: 1,
                sum,
            },
            ..Metric::default()
        };
        s.absorb(summary(Vec::new(), 0.5), now);
        s.absorb(summary(Vec::new(), 1.5), now);
        let rt = |s: &SeriesStore| s.snapshot(true).into_iter().find(|m| m.name == "rt");
        assert!(matches!(
            rt(&s).map(|m| m.value),
            Some(MetricValue::Summary {
                count: 2,
                sum: 2.0,
                ..
            })
        ));
        let q = logbridge_event::Quantile {
            quantile: 0.5,
            value: 3.0,
        };
        s.absorb(summary(vec![q], 3.0), now);
        assert!(matches!(
            rt(&s).map(|m| m.value),
            Some(MetricValue::Summary { count: 1, .. })
        ));
        // Other bounds start the total over.
        let mut other = delta(histogram(&[2, 0, 0], 1.0, 3));
        if let MetricValue::Histogram { buckets, .. } = &mut other.value {
            buckets[0].upper_bound = 0.5;
        }
        s.absorb(other, now);
        let h = s.snapshot(true).into_iter().find(|m| m.name == "latency");
        assert!(matches!(
            h.map(|m| m.value),
            Some(MetricValue::Histogram { count: 2, .. })
        ));
    }

    #[test]
    fn stale_markers_and_expiry_remove_series() {
        let start = Instant::now();
        let mut s = SeriesStore::new();
        s.absorb(Metric::gauge("a", 1.0, 1), start);
        s.absorb(Metric::gauge("b", 1.0, 1), start);
        let mut stale = Metric::gauge("a", 0.0, 2);
        stale.flags = FLAG_NO_RECORDED_VALUE;
        assert_eq!(s.absorb(stale, start), Absorbed::Removed);
        assert_eq!(s.len(), 1);
        let later = start + Duration::from_secs(30);
        s.absorb(Metric::gauge("c", 1.0, 1), later);
        assert_eq!(
            s.expire(later + Duration::from_secs(45), Duration::from_secs(60)),
            1
        );
        assert_eq!(s.snapshot(true)[0].name, "c");
        let mut exp = Metric::gauge("e", 0.0, 1);
        exp.value = MetricValue::ExponentialHistogram(Box::default());
        assert_eq!(s.absorb(exp, start), Absorbed::Unsupported);
    }
}
