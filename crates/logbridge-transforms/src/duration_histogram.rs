//! The explicit-bucket duration histograms the span transforms keep
//! (`span_metrics`, `service_graph`): bounds written as Go durations, as
//! the OpenTelemetry Collector's connectors take them, observations
//! counted into buckets, and the metric value of a histogram point; and
//! the checks of their options in seconds.
//!
//! Pure: the caller brings the time.

use logbridge_component::BuildError;
use logbridge_event::{Bucket, MetricValue};

/// The collector's default bounds, in milliseconds: 2 ms to 15 s.
pub(crate) const DEFAULT_BOUNDS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0,
    10000.0, 15000.0,
];

/// A Go-style duration (`250us`, `2ms`, `1.5s`, `1m`) in milliseconds.
pub(crate) fn duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match unit {
        "ns" => 1e-6,
        "us" | "µs" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    let ms = n * factor;
    (ms.is_finite() && ms >= 0.0).then_some(ms)
}

/// Bounds in the unit `ms_to_unit` converts to: the configured durations
/// (checked to increase), or the collector's defaults.
pub(crate) fn bounds(
    option: &'static str,
    configured: Option<&[String]>,
    ms_to_unit: f64,
) -> Result<Vec<f64>, BuildError> {
    let Some(configured) = configured else {
        return Ok(DEFAULT_BOUNDS_MS.iter().map(|b| b * ms_to_unit).collect());
    };
    let mut bounds = Vec::with_capacity(configured.len());
    for b in configured {
        let ms = duration_ms(b).ok_or_else(|| {
            BuildError::new(option, format!("`{b}` is not a duration"))
                .with_hint("write durations as \"250us\", \"2ms\" or \"1.5s\"")
        })?;
        bounds.push(ms * ms_to_unit);
    }
    if bounds.is_empty() || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BuildError::new(
            option,
            "bucket bounds must be given in increasing order",
        ));
    }
    Ok(bounds)
}

/// Observations counted into buckets: one per bound, and one above them.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub(crate) fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Counts `value` in the first bucket whose bound is at or above it.
    pub(crate) fn observe(&mut self, bounds: &[f64], value: f64) {
        let i = bounds.partition_point(|b| *b < value);
        self.counts[i] += 1;
        self.sum += value;
        self.count += 1;
    }

    pub(crate) fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.sum = 0.0;
        self.count = 0;
    }

    /// The point's value, the last bucket bounded by `+Inf`.
    pub(crate) fn value(&self, bounds: &[f64]) -> MetricValue {
        MetricValue::Histogram {
            buckets: bounds
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(&self.counts)
                .map(|(upper_bound, count)| Bucket {
                    upper_bound,
                    count: *count,
                })
                .collect(),
            count: self.count,
            sum: Some(self.sum),
            min: None,
            max: None,
        }
    }
}

/// Checks options given in seconds (0 or more) and the flush interval
/// (at least a millisecond), as the span transforms take them.
pub(crate) fn check_seconds(
    options: &[(&'static str, f64)],
    flush_option: &'static str,
    flush_secs: f64,
) -> Result<(), BuildError> {
    for &(option, secs) in options.iter().chain([&(flush_option, flush_secs)]) {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(BuildError::new(
                option,
                "must be a number of seconds, 0 or more",
            ));
        }
    }
    if flush_secs < 0.001 {
        return Err(BuildError::new(flush_option, "must be at least 0.001"));
    }
    Ok(())
}

/// Now, in nanoseconds since the epoch: the time metric points carry.
pub(crate) fn wall_clock_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_and_buckets() {
        assert_eq!(duration_ms("250us"), Some(0.25));
        assert_eq!(duration_ms("1.5s"), Some(1500.0));
        assert_eq!(duration_ms("2m"), Some(120_000.0));
        assert_eq!(duration_ms("ms"), None);
        assert_eq!(duration_ms("2 parsecs"), None);
        let bounds = bounds("b", Some(&["1ms".into(), "1s".into()]), 1e-3).unwrap();
        assert_eq!(bounds, vec![0.001, 1.0]);
        let mut h = Histogram::new(&bounds);
        for v in [0.0005, 0.001, 0.5, 3.0] {
            h.observe(&bounds, v);
        }
        assert_eq!(h.counts, vec![2, 1, 1]);
        assert!(super::bounds("b", Some(&["2s".into(), "1s".into()]), 1.0).is_err());
    }
}
