//! `histogram_quantile` and `histogram_fraction` over classic histograms:
//! one series per bucket, told apart by the `le` label.

use std::collections::HashMap;

use promql_parser::parser::Expr;

use super::eval::{Evaluator, QueryError, check_unique};
use super::format_plain;
use super::functions::arg;
use super::value::{Sample, Value};
use crate::labels::{Labels, METRIC_NAME};

const BUCKET_LABEL: &str = "le";

/// Differences between bucket counts below this relative size are
/// floating-point noise, not decreases.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

struct Bucket {
    upper: f64,
    count: f64,
}

struct Group {
    labels: Labels,
    buckets: Vec<Bucket>,
    name: Option<String>,
}

/// Gathers each histogram's buckets: the samples grouped by their labels
/// without `le` (the name goes when the query ends, so that two histograms
/// differing only in name clash then, as in Prometheus). A sample without a parseable `le` is left out
/// with a warning.
fn gather(ev: &mut Evaluator<'_>, samples: Vec<Sample>) -> Vec<Group> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for sample in samples {
        let Some(upper) = sample.labels.get(BUCKET_LABEL).and_then(parse_bound) else {
            ev.annotations.warn(format!(
                "PromQL warning: bucket label {BUCKET_LABEL:?} is missing or has a malformed value of {:?} for metric name {:?}",
                sample.labels.value_of(BUCKET_LABEL),
                sample.labels.value_of(METRIC_NAME)
            ));
            continue;
        };
        let mut key = sample.labels.clone();
        key.remove(BUCKET_LABEL);
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(Group {
                labels: key,
                buckets: Vec::new(),
                name: sample.labels.metric_name().map(str::to_string),
            });
            groups.len() - 1
        });
        groups[slot].buckets.push(Bucket {
            upper,
            count: sample.v,
        });
    }
    groups
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// Sorts buckets, merges equal bounds and makes counts non-decreasing.
/// Returns whether a real decrease had to be removed.
fn normalize(buckets: &mut Vec<Bucket>) -> bool {
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for bucket in buckets.drain(..) {
        match merged.last_mut() {
            Some(last) if last.upper == bucket.upper => last.count += bucket.count,
            _ => merged.push(bucket),
        }
    }
    *buckets = merged;
    let mut forced = false;
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut previous = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) {
            bucket.count = previous;
            continue;
        }
        if current < previous {
            bucket.count = previous;
            forced = true;
            continue;
        }
        previous = current;
    }
    forced
}

/// Relative float comparison as Prometheus' `almost.Equal`.
pub(crate) fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

fn monotonicity_info(ev: &mut Evaluator<'_>, function: &str, name: Option<&str>) {
    ev.annotations.info(format!(
        "PromQL info: input to {function} needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#{function}) for metric name {:?}",
        name.unwrap_or("")
    ));
}

/// `histogram_quantile(φ, buckets)`.
pub(crate) fn quantile(
    ev: &mut Evaluator<'_>,
    args: &[&Expr],
    ts: i64,
) -> Result<Value, QueryError> {
    let q = ev.eval_scalar(arg(args, 0)?, ts)?;
    let samples = ev.eval_vector(arg(args, 1)?, ts)?;
    quantiles(ev, samples, &[q], None, ts)
}

/// `histogram_quantiles(buckets, "label", φ1, φ2, ...)`: one series per
/// quantile, told apart by the label.
pub(crate) fn labelled_quantiles(
    ev: &mut Evaluator<'_>,
    args: &[&Expr],
    ts: i64,
) -> Result<Value, QueryError> {
    let samples = ev.eval_vector(arg(args, 0)?, ts)?;
    let label = ev.eval_string(arg(args, 1)?, ts)?;
    let mut qs = Vec::new();
    for a in args.iter().skip(2) {
        qs.push(ev.eval_scalar(a, ts)?);
    }
    quantiles(ev, samples, &qs, Some(&label), ts)
}

fn quantiles(
    ev: &mut Evaluator<'_>,
    samples: Vec<Sample>,
    qs: &[f64],
    label: Option<&str>,
    ts: i64,
) -> Result<Value, QueryError> {
    for &q in qs {
        if !(0.0..=1.0).contains(&q) {
            ev.annotations.warn(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                format_plain(q)
            ));
        }
    }
    let mut out = Vec::new();
    for mut group in gather(ev, samples) {
        if normalize(&mut group.buckets) {
            let function = if label.is_some() {
                "histogram_quantiles"
            } else {
                "histogram_quantile"
            };
            monotonicity_info(ev, function, group.name.as_deref());
        }
        for &q in qs {
            let mut labels = group.labels.clone();
            if let Some(label) = label {
                labels.set(label, &quantile_label(q));
            }
            out.push(Sample {
                labels,
                t: ts,
                v: bucket_quantile(q, &group.buckets),
                drop_name: true,
            });
        }
    }
    if label.is_some() {
        check_unique(&out)?;
    }
    Ok(Value::Vector(out))
}

/// A quantile as a label value: shortest form, whole numbers with ".0".
fn quantile_label(q: f64) -> String {
    let text = format_plain(q);
    if q.is_finite() && !text.contains('.') {
        format!("{text}.0")
    } else {
        text
    }
}

fn bucket_quantile(q: f64, buckets: &[Bucket]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    match buckets.last() {
        Some(last) if last.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    if buckets.len() < 2 {
        return f64::NAN;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1]
        .iter()
        .position(|bucket| bucket.count >= rank)
        .unwrap_or(buckets.len() - 1);
    if b == buckets.len() - 1 {
        return buckets[buckets.len() - 2].upper;
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return buckets[0].upper;
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    start + (end - start) * (rank / count)
}

pub(crate) fn fraction(
    ev: &mut Evaluator<'_>,
    args: &[&Expr],
    ts: i64,
) -> Result<Value, QueryError> {
    let lower = ev.eval_scalar(arg(args, 0)?, ts)?;
    let upper = ev.eval_scalar(arg(args, 1)?, ts)?;
    let samples = ev.eval_vector(arg(args, 2)?, ts)?;
    let mut out = Vec::new();
    for mut group in gather(ev, samples) {
        if normalize(&mut group.buckets) {
            monotonicity_info(ev, "histogram_fraction", group.name.as_deref());
        }
        out.push(Sample {
            labels: group.labels,
            t: ts,
            v: bucket_fraction(lower, upper, &group.buckets),
            drop_name: true,
        });
    }
    Ok(Value::Vector(out))
}

/// The share of observations between `lower` and `upper`, interpolating
/// linearly inside finite buckets. The first bucket starts at 0 if its
/// bound is positive; observations in a bucket of infinite width are taken
/// to lie at its infinite end.
fn bucket_fraction(lower: f64, upper: f64, buckets: &[Bucket]) -> f64 {
    let total = match buckets.last() {
        Some(last) if last.upper == f64::INFINITY => last.count,
        _ => return f64::NAN,
    };
    if total == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if upper <= lower {
        return 0.0;
    }
    let rank = |x: f64| {
        let mut below = 0.0;
        let mut previous_count = 0.0;
        for (i, bucket) in buckets.iter().enumerate() {
            let lo = if i == 0 {
                if bucket.upper > 0.0 {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                buckets[i - 1].upper
            };
            let in_bucket = bucket.count - previous_count;
            previous_count = bucket.count;
            below += if x >= bucket.upper {
                in_bucket
            } else if x <= lo {
                0.0
            } else if lo == f64::NEG_INFINITY {
                in_bucket
            } else if bucket.upper == f64::INFINITY {
                0.0
            } else {
                in_bucket * (x - lo) / (bucket.upper - lo)
            };
        }
        below
    };
    (rank(upper) - rank(lower)) / total
}
