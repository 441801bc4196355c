//! PromQL's function library, except the range-vector functions (in
//! [`range_functions`](super::range_functions)) and the histogram ones (in
//! [`histogram`](super::histogram)).

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Call, Expr};
use regex::Regex;

use super::eval::{Evaluator, QueryError, check_unique, eval_error};
use super::value::{Sample, Value};
use super::{histogram, range_functions};
use crate::labels::{Labels, METRIC_NAME};

pub(crate) fn call(ev: &mut Evaluator<'_>, call: &Call, ts: i64) -> Result<Value, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let seconds = |ms: i64| ms as f64 / 1000.0;
    match name {
        "time" => Ok(Value::Scalar(seconds(ts))),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "start" => Ok(Value::Scalar(seconds(ev.start))),
        "end" => Ok(Value::Scalar(seconds(ev.end))),
        "step" => Ok(Value::Scalar(seconds(ev.interval))),
        "range" => Ok(Value::Scalar(seconds(ev.end - ev.start))),
        "min_of" | "max_of" => {
            let a = ev.eval_scalar(arg(&args, 0)?, ts)?;
            let b = ev.eval_scalar(arg(&args, 1)?, ts)?;
            Ok(Value::Scalar(if name == "min_of" {
                go_min(a, b)
            } else {
                go_max(a, b)
            }))
        }
        "vector" => {
            let v = ev.eval_scalar(arg(&args, 0)?, ts)?;
            Ok(Value::Vector(vec![Sample {
                labels: Labels::new(),
                t: ts,
                v,
                drop_name: false,
            }]))
        }
        "scalar" => {
            let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            Ok(Value::Scalar(if samples.len() == 1 {
                samples[0].v
            } else {
                f64::NAN
            }))
        }
        "timestamp" => timestamp(ev, arg(&args, 0)?, ts),
        "absent" => {
            let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            Ok(Value::Vector(absent(
                samples.is_empty(),
                arg(&args, 0)?,
                ts,
            )))
        }
        "absent_over_time" => {
            let range = ev.eval_range(arg(&args, 0)?, ts)?;
            Ok(Value::Vector(absent(
                range.series.is_empty(),
                arg(&args, 0)?,
                ts,
            )))
        }
        "label_replace" => label_replace(ev, &args, ts),
        "label_join" => label_join(ev, &args, ts),
        "sort" | "sort_desc" => {
            let mut samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            let descending = name == "sort_desc";
            samples.sort_by(|a, b| by_value_nan_last(a.v, b.v, descending));
            Ok(Value::Vector(samples))
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            let mut names = Vec::new();
            for a in args.iter().skip(1) {
                names.push(ev.eval_string(a, ts)?);
            }
            let descending = name == "sort_by_label_desc";
            samples.sort_by(|a, b| {
                let order = compare_by_labels(&a.labels, &b.labels, &names);
                if descending { order.reverse() } else { order }
            });
            Ok(Value::Vector(samples))
        }
        "round" => {
            let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            let to_nearest = match args.get(1) {
                Some(a) => ev.eval_scalar(a, ts)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            Ok(Value::Vector(map_values(samples, |v| {
                (v * inverse + 0.5).floor() / inverse
            })))
        }
        "clamp" => {
            let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            let lo = ev.eval_scalar(arg(&args, 1)?, ts)?;
            let hi = ev.eval_scalar(arg(&args, 2)?, ts)?;
            if hi < lo {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(Value::Vector(map_values(samples, |v| {
                go_max(lo, go_min(hi, v))
            })))
        }
        "clamp_min" | "clamp_max" => {
            let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
            let bound = ev.eval_scalar(arg(&args, 1)?, ts)?;
            let is_min = name == "clamp_min";
            Ok(Value::Vector(map_values(samples, |v| {
                if is_min {
                    go_max(bound, v)
                } else {
                    go_min(bound, v)
                }
            })))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let samples = match args.first() {
                Some(a) => ev.eval_vector(a, ts)?,
                None => vec![Sample {
                    labels: Labels::new(),
                    t: ts,
                    v: seconds(ts),
                    drop_name: false,
                }],
            };
            Ok(Value::Vector(
                samples
                    .into_iter()
                    .filter_map(|mut s| {
                        s.v = date_part(name, s.v)?;
                        s.drop_name = true;
                        Some(s)
                    })
                    .collect(),
            ))
        }
        "histogram_quantile" => histogram::quantile(ev, &args, ts),
        "histogram_quantiles" => histogram::labelled_quantiles(ev, &args, ts),
        "histogram_fraction" => histogram::fraction(ev, &args, ts),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            // Only native histograms have these; a float series has none.
            ev.eval_vector(arg(&args, 0)?, ts)?;
            Ok(Value::Vector(Vec::new()))
        }
        _ => {
            if let Some(f) = simple_function(name) {
                let samples = ev.eval_vector(arg(&args, 0)?, ts)?;
                return Ok(Value::Vector(map_values(samples, f)));
            }
            range_functions::call(ev, name, &args, ts)
        }
    }
}

pub(crate) fn arg<'e>(args: &[&'e Expr], i: usize) -> Result<&'e Expr, QueryError> {
    args.get(i)
        .copied()
        .ok_or_else(|| eval_error(format!("missing argument {}", i + 1)))
}

/// Applies `f` to every value; the results lose their metric name.
fn map_values(samples: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    samples
        .into_iter()
        .map(|mut s| {
            s.v = f(s.v);
            s.drop_name = true;
            s
        })
        .collect()
}

/// Go's `math.Min`: NaN wins, and -0 is less than +0.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Go's `math.Max`: NaN wins, and +0 is greater than -0.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

fn simple_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "acos" => f64::acos,
        "acosh" => f64::acosh,
        "asin" => f64::asin,
        "asinh" => f64::asinh,
        "atan" => f64::atan,
        "atanh" => f64::atanh,
        "cos" => f64::cos,
        "cosh" => f64::cosh,
        "sin" => f64::sin,
        "sinh" => f64::sinh,
        "tan" => f64::tan,
        "tanh" => f64::tanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        _ => return None,
    })
}

/// `timestamp()`: of a plain selector, the samples' own times; otherwise
/// the evaluation time.
fn timestamp(ev: &mut Evaluator<'_>, expr: &Expr, ts: i64) -> Result<Value, QueryError> {
    let mut inner = expr;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    let samples = match inner {
        Expr::VectorSelector(vs) => ev.select_instant(vs, ts, true)?,
        _ => ev.eval_vector(expr, ts)?,
    };
    Ok(Value::Vector(
        samples
            .into_iter()
            .map(|mut s| {
                s.v = s.t as f64 / 1000.0;
                s.t = ts;
                s.drop_name = true;
                s
            })
            .collect(),
    ))
}

/// `absent()`/`absent_over_time()`: one sample with the labels the
/// selector's equality matchers name, when nothing matched.
fn absent(nothing: bool, expr: &Expr, ts: i64) -> Vec<Sample> {
    if !nothing {
        return Vec::new();
    }
    let mut inner = expr;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    let matchers: &[Matcher] = match inner {
        Expr::VectorSelector(vs) => &vs.matchers.matchers,
        Expr::MatrixSelector(ms) => &ms.vs.matchers.matchers,
        _ => &[],
    };
    let mut labels = Labels::new();
    let mut seen: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !seen.contains(&m.name.as_str()) {
            labels.set(&m.name, &m.value);
            seen.push(&m.name);
        } else {
            labels.remove(&m.name);
        }
    }
    vec![Sample {
        labels,
        t: ts,
        v: 1.0,
        drop_name: false,
    }]
}

fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Value, QueryError> {
    let samples = ev.eval_vector(arg(args, 0)?, ts)?;
    let dst = ev.eval_string(arg(args, 1)?, ts)?;
    let replacement = ev.eval_string(arg(args, 2)?, ts)?;
    let src = ev.eval_string(arg(args, 3)?, ts)?;
    let pattern = ev.eval_string(arg(args, 4)?, ts)?;
    let regex = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
        eval_error(format!(
            "invalid regular expression in label_replace(): {pattern}: {e}"
        ))
    })?;
    if !valid_label_name(&dst) {
        return Err(eval_error(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(samples.len());
    for mut sample in samples {
        let value = sample.labels.value_of(&src).to_string();
        if let Some(captures) = regex.captures(&value) {
            let mut expanded = String::new();
            captures.expand(&replacement, &mut expanded);
            sample.labels.set(&dst, &expanded);
            if dst == METRIC_NAME {
                sample.drop_name = false;
            }
        }
        out.push(sample);
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Value, QueryError> {
    let samples = ev.eval_vector(arg(args, 0)?, ts)?;
    let dst = ev.eval_string(arg(args, 1)?, ts)?;
    let separator = ev.eval_string(arg(args, 2)?, ts)?;
    let mut sources = Vec::new();
    for a in args.iter().skip(3) {
        let name = ev.eval_string(a, ts)?;
        if !valid_label_name(&name) {
            return Err(eval_error(format!(
                "invalid source label name in label_join(): {name}"
            )));
        }
        sources.push(name);
    }
    if !valid_label_name(&dst) {
        return Err(eval_error(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(samples.len());
    for mut sample in samples {
        let joined = sources
            .iter()
            .map(|s| sample.labels.value_of(s))
            .collect::<Vec<_>>()
            .join(&separator);
        sample.labels.set(&dst, &joined);
        if dst == METRIC_NAME {
            sample.drop_name = false;
        }
        out.push(sample);
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// Prometheus 3 accepts any non-empty UTF-8 label name.
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Value order with NaN after every number, ascending or descending.
fn by_value_nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let order = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending { order.reverse() } else { order }
        }
    }
}

/// Orders by the named labels' values (naturally: digit runs as numbers),
/// then by the whole label set.
fn compare_by_labels(a: &Labels, b: &Labels, names: &[String]) -> std::cmp::Ordering {
    for name in names {
        let order = natural_cmp(a.value_of(name), b.value_of(name));
        if order != std::cmp::Ordering::Equal {
            return order;
        }
    }
    a.cmp(b)
}

/// Natural string order: runs of digits compare by their numeric value.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let ta = trim_zeros(na);
                let tb = trim_zeros(nb);
                let order = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

/// The calendar part `name` of a Unix time in seconds, in UTC.
fn date_part(name: &str, seconds: f64) -> Option<f64> {
    if !seconds.is_finite() {
        return None;
    }
    let secs = seconds as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = logbridge_text_template::calendar::civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    Some(match name {
        "year" => year as f64,
        "month" => month as f64,
        "day_of_month" => day as f64,
        "hour" => (of_day / 3600) as f64,
        "minute" => (of_day % 3600 / 60) as f64,
        // 1970-01-01 was a Thursday.
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => {
            const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            let mut n = BEFORE[(month - 1) as usize] + day;
            if leap && month > 2 {
                n += 1;
            }
            n as f64
        }
        "days_in_month" => match month {
            2 if leap => 29.0,
            2 => 28.0,
            4 | 6 | 9 | 11 => 30.0,
            _ => 31.0,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        // 2024-02-29T13:45:00Z
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), Some(2024.0));
        assert_eq!(date_part("month", t), Some(2.0));
        assert_eq!(date_part("day_of_month", t), Some(29.0));
        assert_eq!(date_part("day_of_year", t), Some(60.0));
        assert_eq!(date_part("days_in_month", t), Some(29.0));
        assert_eq!(date_part("hour", t), Some(13.0));
        assert_eq!(date_part("minute", t), Some(45.0));
        assert_eq!(date_part("day_of_week", t), Some(4.0));
        assert_eq!(date_part("year", -1.0), Some(1969.0));
    }

    #[test]
    fn natural_order() {
        use std::cmp::Ordering::*;
        assert_eq!(natural_cmp("a2", "a10"), Less);
        assert_eq!(natural_cmp("a10", "a10"), Equal);
        assert_eq!(natural_cmp("b", "a10"), Greater);
    }
}
