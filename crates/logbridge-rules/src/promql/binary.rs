//! Binary operators: arithmetic, comparisons (filtering or `bool`) and the
//! set operators, with Prometheus' vector matching (`on`, `ignoring`,
//! `group_left`, `group_right`).

use std::collections::{HashMap, HashSet};

use promql_parser::label::Labels as NameList;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD,
    T_MUL, T_NEQ, T_POW, T_SUB, TokenId,
};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{Evaluator, QueryError, eval_error};
use super::value::{Sample, Value};
use crate::labels::{Labels, METRIC_NAME};

pub(crate) fn eval(ev: &mut Evaluator<'_>, b: &BinaryExpr, ts: i64) -> Result<Value, QueryError> {
    let op = b.op.id();
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = apply(op, l, r)?;
            if is_comparison(op) {
                Ok(Value::Scalar(if keep { 1.0 } else { 0.0 }))
            } else {
                Ok(Value::Scalar(v))
            }
        }
        (Value::Vector(v), Value::Scalar(s)) => {
            Ok(Value::Vector(vector_scalar(op, v, s, false, return_bool)?))
        }
        (Value::Scalar(s), Value::Vector(v)) => {
            Ok(Value::Vector(vector_scalar(op, v, s, true, return_bool)?))
        }
        (Value::Vector(l), Value::Vector(r)) => {
            let modifier = b.modifier.as_ref();
            match op {
                T_LAND => Ok(Value::Vector(and(l, r, modifier))),
                T_LOR => Ok(Value::Vector(or(l, r, modifier))),
                T_LUNLESS => Ok(Value::Vector(unless(l, r, modifier))),
                _ => Ok(Value::Vector(vector_vector(
                    op,
                    l,
                    r,
                    modifier,
                    return_bool,
                )?)),
            }
        }
        (l, r) => Err(eval_error(format!(
            "binary operator not allowed between {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

pub(crate) fn is_comparison(op: TokenId) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

/// Applies an arithmetic or comparison operator: the value, and whether a
/// comparison holds (always true for arithmetic).
fn apply(op: TokenId, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        T_POW => (l.powf(r), true),
        T_MOD => (l % r, true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => return Err(eval_error("operator not allowed here")),
    })
}

fn vector_scalar(
    op: TokenId,
    samples: Vec<Sample>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Result<Vec<Sample>, QueryError> {
    let comparison = is_comparison(op);
    let mut out = Vec::with_capacity(samples.len());
    for mut sample in samples {
        let (l, r) = if scalar_on_left {
            (scalar, sample.v)
        } else {
            (sample.v, scalar)
        };
        let (mut v, keep) = apply(op, l, r)?;
        // A comparison keeps the vector's value, whichever side it is on.
        if comparison {
            v = sample.v;
        }
        if return_bool {
            sample.v = if keep { 1.0 } else { 0.0 };
            sample.drop_name = true;
        } else if keep {
            sample.v = v;
            if !comparison {
                sample.drop_name = true;
            }
        } else {
            continue;
        }
        out.push(sample);
    }
    Ok(out)
}

/// The labels two sides are matched on.
fn signature(labels: &Labels, modifier: Option<&BinModifier>) -> Labels {
    match modifier.and_then(|m| m.matching.as_ref()) {
        Some(LabelModifier::Include(on)) => labels.keep(&on.labels),
        Some(LabelModifier::Exclude(ignoring)) => {
            let mut names = ignoring.labels.clone();
            names.push(METRIC_NAME.to_string());
            labels.drop_names(&names)
        }
        None => labels.without_name(),
    }
}

fn and(lhs: Vec<Sample>, rhs: Vec<Sample>, modifier: Option<&BinModifier>) -> Vec<Sample> {
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, modifier)).collect();
    lhs.into_iter()
        .filter(|s| right.contains(&signature(&s.labels, modifier)))
        .collect()
}

fn or(lhs: Vec<Sample>, rhs: Vec<Sample>, modifier: Option<&BinModifier>) -> Vec<Sample> {
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.labels, modifier)).collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|s| !left.contains(&signature(&s.labels, modifier))),
    );
    out
}

fn unless(lhs: Vec<Sample>, rhs: Vec<Sample>, modifier: Option<&BinModifier>) -> Vec<Sample> {
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, modifier)).collect();
    lhs.into_iter()
        .filter(|s| !right.contains(&signature(&s.labels, modifier)))
        .collect()
}

/// Arithmetic and comparison between two vectors.
fn vector_vector(
    op: TokenId,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
) -> Result<Vec<Sample>, QueryError> {
    let card = modifier
        .map(|m| m.card.clone())
        .unwrap_or(VectorMatchCardinality::OneToOne);
    let one_to_many = matches!(card, VectorMatchCardinality::OneToMany(_));
    // Iterate over the "many" side; look up the "one" side.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let one_side_name = if one_to_many { "left" } else { "right" };

    let mut one_by_sig: HashMap<Labels, usize> = HashMap::with_capacity(one.len());
    for (i, sample) in one.iter().enumerate() {
        let sig = signature(&sample.labels, modifier);
        if let Some(&previous) = one_by_sig.get(&sig) {
            let mut pair = [
                sample.labels.to_braced_string(),
                one[previous].labels.to_braced_string(),
            ];
            pair.sort();
            return Err(eval_error(format!(
                "found duplicate series for the match group {} on the {one_side_name} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                sig.to_braced_string(),
                pair[0],
                pair[1]
            )));
        }
        one_by_sig.insert(sig, i);
    }

    let fill = modifier.map(|m| m.fill_values.clone());
    let fill_one = fill
        .as_ref()
        .and_then(|f| if one_to_many { f.lhs } else { f.rhs });
    let fill_many = fill
        .as_ref()
        .and_then(|f| if one_to_many { f.rhs } else { f.lhs });

    let comparison = is_comparison(op);
    let mut matched_one: HashSet<usize> = HashSet::new();
    let mut one_to_one_seen: HashSet<Labels> = HashSet::new();
    let mut inserted: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();

    let mut emit = |many_sample: &Sample,
                    one_sample: Option<&Sample>,
                    many_v: f64,
                    one_v: f64,
                    sig: Labels,
                    out: &mut Vec<Sample>|
     -> Result<(), QueryError> {
        // Matching must be unique whatever the operator keeps.
        if matches!(card, VectorMatchCardinality::OneToOne) && !one_to_one_seen.insert(sig.clone())
        {
            return Err(eval_error(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
            ));
        }
        let (l, r) = if one_to_many {
            (one_v, many_v)
        } else {
            (many_v, one_v)
        };
        let (v, keep) = apply(op, l, r)?;
        let v = if return_bool {
            if keep { 1.0 } else { 0.0 }
        } else if keep {
            v
        } else {
            return Ok(());
        };
        let (labels, mut drop_name) = result_labels(
            &many_sample.labels,
            one_sample.map(|s| &s.labels),
            &card,
            modifier,
        );
        if !comparison || return_bool {
            drop_name = true;
        } else {
            drop_name |= many_sample.drop_name;
        }
        if !matches!(card, VectorMatchCardinality::OneToOne)
            && !inserted.entry(sig).or_default().insert(labels.clone())
        {
            return Err(eval_error(
                "multiple matches for labels: grouping labels must ensure unique matches",
            ));
        }
        out.push(Sample {
            labels,
            t: many_sample.t,
            v,
            drop_name,
        });
        Ok(())
    };

    for sample in &many {
        let sig = signature(&sample.labels, modifier);
        match one_by_sig.get(&sig) {
            Some(&i) => {
                matched_one.insert(i);
                emit(sample, Some(&one[i]), sample.v, one[i].v, sig, &mut out)?;
            }
            None => {
                if let Some(fill) = fill_one {
                    emit(sample, None, sample.v, fill, sig, &mut out)?;
                }
            }
        }
    }
    if let Some(fill) = fill_many {
        for (i, sample) in one.iter().enumerate() {
            if !matched_one.contains(&i) {
                let sig = signature(&sample.labels, modifier);
                emit(sample, None, fill, sample.v, sig, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The labels of a result: the "many" side's, reduced to the matching
/// labels for one-to-one matching, plus the `group_x` labels from the "one"
/// side. Returns whether the name is to be dropped.
fn result_labels(
    many: &Labels,
    one: Option<&Labels>,
    card: &VectorMatchCardinality,
    modifier: Option<&BinModifier>,
) -> (Labels, bool) {
    let mut labels = match (card, modifier.and_then(|m| m.matching.as_ref())) {
        (VectorMatchCardinality::OneToOne, Some(LabelModifier::Include(on))) => {
            many.keep(&on.labels)
        }
        (VectorMatchCardinality::OneToOne, Some(LabelModifier::Exclude(ignoring))) => {
            many.drop_names(&ignoring.labels)
        }
        _ => many.clone(),
    };
    if let Some(include) = card.labels() {
        include_from(&mut labels, include, one);
    }
    (labels, false)
}

fn include_from(labels: &mut Labels, include: &NameList, one: Option<&Labels>) {
    for name in &include.labels {
        match one.and_then(|o| o.get(name)) {
            Some(value) => labels.set(name, value),
            None => labels.remove(name),
        }
    }
}
