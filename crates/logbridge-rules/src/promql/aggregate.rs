//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, `count_values`,
//! ...), grouped `by` or `without` labels, with Prometheus' numerics
//! (compensated sums, incremental means on overflow, NaN ordering).

use std::collections::HashMap;

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK, TokenId,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{Evaluator, QueryError, eval_error};
use super::value::{Sample, Value};
use super::{format_plain, kahan_add};
use crate::labels::{Labels, METRIC_NAME};

pub(crate) fn eval(
    ev: &mut Evaluator<'_>,
    a: &AggregateExpr,
    ts: i64,
) -> Result<Value, QueryError> {
    let op = a.op.id();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, ts)?),
        None => None,
    };
    let input = ev.eval_vector(&a.expr, ts)?;
    let grouping = Grouping::new(a.modifier.as_ref());
    let out = match op {
        T_TOPK | T_BOTTOMK | T_LIMITK | T_LIMIT_RATIO => {
            let p = scalar_param(param, "k")?;
            select_k(op, p, input, &grouping)?
        }
        T_COUNT_VALUES => {
            let label = match param {
                Some(Value::String(s)) => s,
                _ => return Err(eval_error("count_values needs a string parameter")),
            };
            count_values(&label, input, &grouping, ts)?
        }
        T_QUANTILE => {
            let q = scalar_param(param, "quantile")?;
            if !(0.0..=1.0).contains(&q) {
                ev.annotations.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    format_plain(q)
                ));
            }
            reduce(input, &grouping, ts, |values| quantile(q, values))
        }
        _ => {
            let reducer = Reducer::for_op(op)?;
            reduce(input, &grouping, ts, |values| reducer.apply(values))
        }
    };
    Ok(Value::Vector(out))
}

fn scalar_param(param: Option<Value>, what: &str) -> Result<f64, QueryError> {
    match param {
        Some(Value::Scalar(v)) => Ok(v),
        _ => Err(eval_error(format!("expected a scalar {what} parameter"))),
    }
}

/// How samples are grouped: the label set of each sample's group.
struct Grouping<'a> {
    modifier: Option<&'a LabelModifier>,
}

impl<'a> Grouping<'a> {
    fn new(modifier: Option<&'a LabelModifier>) -> Self {
        Self { modifier }
    }

    fn key(&self, labels: &Labels) -> Labels {
        match self.modifier {
            Some(LabelModifier::Include(by)) => labels.keep(&by.labels),
            Some(LabelModifier::Exclude(without)) => {
                let mut names = without.labels.clone();
                names.push(METRIC_NAME.to_string());
                labels.drop_names(&names)
            }
            None => Labels::new(),
        }
    }
}

/// Groups samples, in order of first appearance.
fn group(input: Vec<Sample>, grouping: &Grouping<'_>) -> Vec<(Labels, Vec<Sample>)> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<Sample>)> = Vec::new();
    for sample in input {
        let key = grouping.key(&sample.labels);
        match index.get(&key) {
            Some(&i) => groups[i].1.push(sample),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![sample]));
            }
        }
    }
    groups
}

/// Reduces each group to one sample labelled with the group's labels.
fn reduce(
    input: Vec<Sample>,
    grouping: &Grouping<'_>,
    ts: i64,
    f: impl Fn(&[f64]) -> f64,
) -> Vec<Sample> {
    group(input, grouping)
        .into_iter()
        .map(|(labels, samples)| {
            let drop_name = samples.iter().any(|s| s.drop_name);
            let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
            Sample {
                labels,
                t: ts,
                v: f(&values),
                drop_name,
            }
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Reducer {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
}

impl Reducer {
    fn for_op(op: TokenId) -> Result<Self, QueryError> {
        Ok(match op {
            T_SUM => Self::Sum,
            T_AVG => Self::Avg,
            T_COUNT => Self::Count,
            T_MIN => Self::Min,
            T_MAX => Self::Max,
            T_GROUP => Self::Group,
            T_STDDEV => Self::Stddev,
            T_STDVAR => Self::Stdvar,
            _ => return Err(eval_error("unknown aggregation operator")),
        })
    }

    fn apply(self, values: &[f64]) -> f64 {
        match self {
            Self::Sum => sum(values),
            Self::Avg => mean(values),
            Self::Count => values.len() as f64,
            Self::Min => min(values),
            Self::Max => max(values),
            Self::Group => 1.0,
            Self::Stddev => stdvar(values).sqrt(),
            Self::Stdvar => stdvar(values),
        }
    }
}

pub(crate) fn sum(values: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for &v in values {
        (s, c) = kahan_add(v, s, c);
    }
    s + c
}

/// The mean as Prometheus' `avg` computes it: a compensated sum divided by
/// the count, switching to an incremental mean if the sum would overflow.
pub(crate) fn mean(values: &[f64]) -> f64 {
    let Some((&first, rest)) = values.split_first() else {
        return f64::NAN;
    };
    let (mut sum, mut c) = (first, 0.0);
    let mut incremental = false;
    let mut mean = 0.0;
    let mut count = 1.0;
    for &v in rest {
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
        if mean.is_infinite() {
            // An infinite mean stays as it is unless an opposite infinity
            // or a NaN arrives.
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if v.is_finite() {
                continue;
            }
        }
        let current = mean + c;
        (mean, c) = kahan_add(v / count - current / count, mean, c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / count
    }
}

pub(crate) fn min(values: &[f64]) -> f64 {
    let mut m = f64::NAN;
    for &v in values {
        if m > v || m.is_nan() {
            m = v;
        }
    }
    m
}

pub(crate) fn max(values: &[f64]) -> f64 {
    let mut m = f64::NAN;
    for &v in values {
        if m < v || m.is_nan() {
            m = v;
        }
    }
    m
}

/// Population variance by Welford's method, as Prometheus' aggregation.
fn stdvar(values: &[f64]) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for &v in values {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// The φ-quantile with linear interpolation between closest ranks; NaNs
/// sort first; φ outside [0, 1] gives ∓Inf.
pub(crate) fn quantile(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = sorted.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    sorted[lower as usize] * (1.0 - weight) + sorted[upper as usize] * weight
}

/// `topk`, `bottomk`, `limitk` and `limit_ratio`: whole samples, selected per
/// group.
fn select_k(
    op: TokenId,
    param: f64,
    input: Vec<Sample>,
    grouping: &Grouping<'_>,
) -> Result<Vec<Sample>, QueryError> {
    if op == T_LIMIT_RATIO {
        if param.is_nan() {
            return Err(eval_error("Ratio value is NaN"));
        }
        let ratio = param.clamp(-1.0, 1.0);
        return Ok(input
            .into_iter()
            .filter(|s| {
                let offset = ratio_offset(&s.labels);
                if ratio >= 0.0 {
                    offset < ratio
                } else {
                    offset >= 1.0 + ratio
                }
            })
            .collect());
    }
    if param.is_nan() {
        return Err(eval_error("Parameter value is NaN"));
    }
    if param >= i64::MAX as f64 || param <= i64::MIN as f64 {
        return Err(eval_error(format!("Scalar value {param} overflows int64")));
    }
    let k = param as i64;
    if k < 1 {
        return Ok(Vec::new());
    }
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (_, mut samples) in group(input, grouping) {
        match op {
            T_TOPK => samples.sort_by(|a, b| nan_last(b.v, a.v, true)),
            T_BOTTOMK => samples.sort_by(|a, b| nan_last(a.v, b.v, false)),
            _ => {}
        }
        samples.truncate(k);
        out.extend(samples);
    }
    Ok(out)
}

/// Orders `a` before `b` when `a` is smaller (for ascending), with NaN after
/// every number in both directions.
fn nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        // `a`/`b` are swapped for descending order, so NaN must sort the
        // other way there.
        (true, false) => {
            if descending {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if descending {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// A stable position in [0, 1) for a label set, so that `limit_ratio`
/// keeps the same series from one evaluation to the next.
fn ratio_offset(labels: &Labels) -> f64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn count_values(
    label: &str,
    input: Vec<Sample>,
    grouping: &Grouping<'_>,
    ts: i64,
) -> Result<Vec<Sample>, QueryError> {
    if label.is_empty() {
        return Err(eval_error(format!("invalid label name {label:?}")));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Sample> = Vec::new();
    for sample in input {
        let mut key = grouping.key(&sample.labels);
        key.set(label, &format_plain(sample.v));
        match index.get(&key) {
            Some(&i) => out[i].v += 1.0,
            None => {
                index.insert(key.clone(), out.len());
                out.push(Sample {
                    labels: key,
                    t: ts,
                    v: 1.0,
                    drop_name: false,
                });
            }
        }
    }
    Ok(out)
}
