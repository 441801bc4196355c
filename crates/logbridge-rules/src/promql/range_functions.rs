//! Functions of range vectors: `rate`, `increase`, `delta` and their
//! instant forms, `deriv`, `predict_linear`, `changes`, `resets`, the
//! `*_over_time` family and `double_exponential_smoothing`.

use promql_parser::parser::Expr;

use super::aggregate::{max, min, quantile, sum};
use super::eval::{Evaluator, QueryError, RangeArg, eval_error};
use super::functions::arg;
use super::value::{Sample, Series, Value};
use super::{format_plain, kahan_add};
use crate::labels::METRIC_NAME;

pub(crate) fn call(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    ts: i64,
) -> Result<Value, QueryError> {
    // Scalar parameters come before or after the range argument.
    let (range_index, scalars): (usize, &[usize]) = match name {
        "quantile_over_time" => (1, &[0]),
        "predict_linear" => (0, &[1]),
        "double_exponential_smoothing" => (0, &[1, 2]),
        _ => (0, &[]),
    };
    let mut params = Vec::with_capacity(scalars.len());
    for &i in scalars {
        params.push(ev.eval_scalar(arg(args, i)?, ts)?);
    }
    let range_expr = arg(args, range_index)?;
    let range = ev.eval_range(range_expr, ts)?;
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");

    if matches!(name, "rate" | "increase" | "irate") {
        counter_name_info(ev, range_expr, &range);
    }
    if name == "quantile_over_time" && !(0.0..=1.0).contains(&params[0]) {
        ev.annotations.warn(format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}",
            format_plain(params[0])
        ));
    }
    if name == "double_exponential_smoothing" {
        for (what, &p) in ["smoothing factor", "trend factor"].iter().zip(&params) {
            if p <= 0.0 || p >= 1.0 {
                let short = if *what == "smoothing factor" {
                    "sf"
                } else {
                    "tf"
                };
                return Err(eval_error(format!(
                    "invalid {what}. Expected: 0 < {short} < 1, got: {p:.6}"
                )));
            }
        }
    }

    let mut out = Vec::with_capacity(range.series.len());
    for series in &range.series {
        let value = match name {
            "rate" => extrapolated_rate(series, &range, true, true),
            "increase" => extrapolated_rate(series, &range, true, false),
            "delta" => extrapolated_rate(series, &range, false, false),
            "irate" => instant_delta(&series.points, true),
            "idelta" => instant_delta(&series.points, false),
            "deriv" => (series.points.len() >= 2)
                .then(|| linear_regression(&series.points, series.points[0].0).0),
            "predict_linear" => (series.points.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(&series.points, ts);
                slope * params[0] + intercept
            }),
            "changes" => Some(count_pairs(&series.points, |a, b| {
                a != b && !(a.is_nan() && b.is_nan())
            })),
            "resets" => Some(count_pairs(&series.points, |a, b| b < a)),
            "avg_over_time" => Some(mean_over_time(&series.points)),
            "sum_over_time" => Some(sum(&values(series))),
            "min_over_time" => Some(min(&values(series))),
            "max_over_time" => Some(max(&values(series))),
            "count_over_time" => Some(series.points.len() as f64),
            "last_over_time" => series.points.last().map(|p| p.1),
            "first_over_time" => series.points.first().map(|p| p.1),
            "present_over_time" => Some(1.0),
            "stddev_over_time" => Some(stdvar_over_time(series).sqrt()),
            "stdvar_over_time" => Some(stdvar_over_time(series)),
            "quantile_over_time" => Some(quantile(params[0], &values(series))),
            "mad_over_time" => Some(median_absolute_deviation(&values(series))),
            "ts_of_last_over_time" => series.points.last().map(|p| p.0 as f64 / 1000.0),
            "ts_of_first_over_time" => series.points.first().map(|p| p.0 as f64 / 1000.0),
            "ts_of_max_over_time" => ts_of_extreme(series, |candidate, best| candidate >= best),
            "ts_of_min_over_time" => ts_of_extreme(series, |candidate, best| candidate <= best),
            "double_exponential_smoothing" => {
                double_exponential_smoothing(&series.points, params[0], params[1])
            }
            other => return Err(eval_error(format!("unknown function {other:?}"))),
        };
        if let Some(v) = value {
            out.push(Sample {
                labels: series.labels.clone(),
                t: ts,
                v,
                drop_name: !keeps_name || series.drop_name,
            });
        }
    }
    Ok(Value::Vector(out))
}

fn values(series: &Series) -> Vec<f64> {
    series.points.iter().map(|p| p.1).collect()
}

/// Prometheus notes when `rate`-like functions read a series whose name
/// does not say it is a counter.
fn counter_name_info(ev: &mut Evaluator<'_>, expr: &Expr, range: &RangeArg) {
    if !matches!(expr, Expr::MatrixSelector(_)) {
        return;
    }
    for series in &range.series {
        if let Some(name) = series.labels.get(METRIC_NAME)
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        {
            ev.annotations.info(format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            ));
        }
    }
}

/// `rate`, `increase` and `delta`: the change over the window, corrected
/// for counter resets and extrapolated towards the window's edges as
/// Prometheus does.
fn extrapolated_rate(
    series: &Series,
    range: &RangeArg,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let points = &series.points;
    if points.len() < 2 {
        return None;
    }
    let (first_t, first_v) = points[0];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        let mut previous = first_v;
        for &(_, v) in &points[1..] {
            if v < previous {
                result += previous;
            }
            previous = v;
        }
    }
    let mut to_start = (first_t - range.start) as f64 / 1000.0;
    let mut to_end = (range.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_gap = sampled / (points.len() - 1) as f64;
    let threshold = average_gap * 1.1;
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        // A counter cannot go below zero: do not extrapolate past the
        // point where it would have been zero.
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= range.range_ms() as f64 / 1000.0;
    }
    Some(result * factor)
}

/// The median of the absolute deviations from the median; NaN if any
/// value is NaN.
fn median_absolute_deviation(values: &[f64]) -> f64 {
    if values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let median = quantile(0.5, values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
    quantile(0.5, &deviations)
}

/// The mean as Prometheus' `avg_over_time` computes it: a compensated sum,
/// or an incremental mean once the sum would overflow.
fn mean_over_time(points: &[(i64, f64)]) -> f64 {
    let Some((&(_, first), rest)) = points.split_first() else {
        return f64::NAN;
    };
    let (mut sum, mut c, mut mean) = (first, 0.0, 0.0);
    let mut incremental = false;
    let mut count = 1.0;
    for &(_, v) in rest {
        count += 1.0;
        if !incremental {
            let (s, nc) = kahan_add(v, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_add(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `irate` and `idelta`: from the last two samples.
fn instant_delta(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (previous_t, previous_v) = points[points.len() - 2];
    let (last_t, last_v) = points[points.len() - 1];
    let mut delta = last_v - previous_v;
    if !is_rate {
        return Some(delta);
    }
    if last_v < previous_v {
        // A counter reset: the counter restarted from zero.
        delta = last_v;
    }
    let interval = last_t - previous_t;
    if interval == 0 {
        return None;
    }
    Some(delta / (interval as f64 / 1000.0))
}

/// Least-squares slope and intercept at `intercept_time`, with compensated
/// sums as Prometheus computes them.
fn linear_regression(points: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = points[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in points.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1000.0;
        (sum_x, c_x) = kahan_add(x, sum_x, c_x);
        (sum_y, c_y) = kahan_add(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_add(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_add(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2);
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn count_pairs(points: &[(i64, f64)], counts: impl Fn(f64, f64) -> bool) -> f64 {
    points
        .windows(2)
        .filter(|pair| counts(pair[0].1, pair[1].1))
        .count() as f64
}

/// Population variance over time, with Prometheus' compensated mean.
fn stdvar_over_time(series: &Series) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in &series.points {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_add(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// The time (seconds) of the last sample holding the extreme value.
fn ts_of_extreme(series: &Series, better: impl Fn(f64, f64) -> bool) -> Option<f64> {
    let mut best: Option<(i64, f64)> = None;
    for &(t, v) in &series.points {
        match best {
            None => best = Some((t, v)),
            Some((_, b)) if better(v, b) || b.is_nan() => best = Some((t, v)),
            _ => {}
        }
    }
    best.map(|(t, _)| t as f64 / 1000.0)
}

/// Holt's linear smoothing: the level after the last sample.
fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut trend = points[1].1 - points[0].1;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let smoothed = sf * v + (1.0 - sf) * (s1 + trend);
        s0 = s1;
        s1 = smoothed;
    }
    Some(s1)
}
