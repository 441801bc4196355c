//! The evaluator: walks a parsed expression at one timestamp, reading series
//! from a [`Queryable`].
//!
//! A range query is a sequence of instant evaluations, one per step, merged
//! by label set; `@ start()`/`@ end()` and `start()`/`end()`/`step()` refer
//! to the whole range. Selectors follow Prometheus 3: an instant selector
//! looks back over `(t - lookback, t]`, a range selector covers
//! `(t - range, t]`, and a stale marker ends a series.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};

use super::value::{Sample, Series, Value, is_stale_marker};
use super::{aggregate, binary, functions};
use crate::clock::Clock;
use crate::labels::{Labels, METRIC_NAME};
use crate::storage::Queryable;

/// Prometheus' cap on the steps of a range query.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// Limits and defaults of query evaluation.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_ms: i64,
    /// The step of a subquery written without one (`x[5m:]`): the rule
    /// group's interval, or 1m.
    pub default_subquery_step_ms: i64,
    /// The most samples one query may hold at once; beyond it the query
    /// fails instead of growing without bound.
    pub max_samples: usize,
    /// The longest a query may run, measured with `clock`.
    pub timeout: Option<Duration>,
    /// What `timeout` is measured with (and, in the rules engine, how long
    /// groups and rules take); without a clock queries have no time limit.
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_ms: 5 * 60 * 1000,
            default_subquery_step_ms: 60 * 1000,
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            clock: None,
        }
    }
}

/// Why a query failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Eval(String),
    #[error(
        "query processing would load too many samples into memory in query execution (limit {0})"
    )]
    TooManySamples(usize),
    #[error("query timed out in query execution (limit {0:?})")]
    Timeout(Duration),
}

pub(crate) fn eval_error(message: impl Into<String>) -> QueryError {
    QueryError::Eval(message.into())
}

/// Warnings and informational notes collected while evaluating, as
/// Prometheus returns them next to a result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub(crate) fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    pub(crate) fn info(&mut self, message: String) {
        if !self.infos.contains(&message) {
            self.infos.push(message);
        }
    }
}

/// A query's value and its annotations.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub annotations: Annotations,
}

/// Evaluates PromQL expressions; holds only options, so one engine serves
/// any number of queries.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    pub options: EngineOptions,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    /// Evaluates `expr` at `t` (milliseconds).
    pub fn instant(
        &self,
        storage: &dyn Queryable,
        expr: &Expr,
        t: i64,
    ) -> Result<QueryResult, QueryError> {
        let mut ev = Evaluator::new(storage, &self.options, t, t, 0);
        let value = match ev.eval(expr, t)? {
            Value::Vector(samples) => Value::Vector(finish_vector(samples)?),
            Value::Matrix(series) => Value::Matrix(finish_matrix(series)?),
            other => other,
        };
        Ok(QueryResult {
            value,
            annotations: ev.annotations,
        })
    }

    /// Evaluates `expr` at every step from `start` to `end` (inclusive,
    /// milliseconds) into one series per label set, sorted by labels.
    pub fn range(
        &self,
        storage: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        if step <= 0 {
            return Err(eval_error(
                "zero or negative query resolution step widths are not accepted",
            ));
        }
        if end < start {
            return Err(eval_error("end timestamp must not be before start time"));
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(eval_error(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        match expr.value_type() {
            promql_parser::parser::value::ValueType::Vector
            | promql_parser::parser::value::ValueType::Scalar => {}
            other => {
                return Err(eval_error(format!(
                    "invalid expression type \"{other}\" for range query, must be Scalar or instant Vector"
                )));
            }
        }
        let mut ev = Evaluator::new(storage, &self.options, start, end, step);
        if has_sort_call(expr) {
            ev.annotations.warn(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels"
                    .to_string(),
            );
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<Series> = Vec::new();
        let mut t = start;
        while t <= end {
            let samples = match ev.eval(expr, t)? {
                Value::Scalar(v) => vec![Sample {
                    labels: Labels::new(),
                    t,
                    v,
                    drop_name: false,
                }],
                Value::Vector(samples) => finish_vector(samples)?,
                other => {
                    return Err(eval_error(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    )));
                }
            };
            for sample in samples {
                let slot = *index.entry(sample.labels.clone()).or_insert_with(|| {
                    out.push(Series {
                        labels: sample.labels,
                        points: Vec::new(),
                        drop_name: false,
                    });
                    out.len() - 1
                });
                out[slot].points.push((t, sample.v));
            }
            t += step;
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: Value::Matrix(out),
            annotations: ev.annotations,
        })
    }
}

/// Whether a sorting function is called anywhere in an expression.
fn has_sort_call(expr: &Expr) -> bool {
    match expr {
        Expr::Call(call) => {
            call.func.name.starts_with("sort") || call.args.args.iter().any(|a| has_sort_call(a))
        }
        Expr::Aggregate(a) => has_sort_call(&a.expr),
        Expr::Unary(u) => has_sort_call(&u.expr),
        Expr::Binary(b) => has_sort_call(&b.lhs) || has_sort_call(&b.rhs),
        Expr::Paren(p) => has_sort_call(&p.expr),
        Expr::Subquery(s) => has_sort_call(&s.expr),
        _ => false,
    }
}

/// Applies delayed name removal to a result and refuses label sets that
/// became equal.
fn finish_vector(mut samples: Vec<Sample>) -> Result<Vec<Sample>, QueryError> {
    let mut any_dropped = false;
    for sample in &mut samples {
        if sample.drop_name {
            sample.labels.remove(METRIC_NAME);
            sample.drop_name = false;
            any_dropped = true;
        }
    }
    if any_dropped {
        check_unique(&samples)?;
    }
    Ok(samples)
}

fn finish_matrix(mut series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    let mut any_dropped = false;
    for s in &mut series {
        if s.drop_name {
            s.labels.remove(METRIC_NAME);
            s.drop_name = false;
            any_dropped = true;
        }
    }
    if any_dropped {
        let mut seen = std::collections::HashSet::new();
        if !series.iter().all(|s| seen.insert(&s.labels)) {
            return Err(eval_error(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(series)
}

/// Refuses a vector holding the same label set twice.
pub(crate) fn check_unique(samples: &[Sample]) -> Result<(), QueryError> {
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    if samples.iter().all(|s| seen.insert(&s.labels)) {
        Ok(())
    } else {
        Err(eval_error(
            "vector cannot contain metrics with the same labelset",
        ))
    }
}

/// The samples of a range vector argument and the window they were taken
/// from, which `rate` and friends extrapolate to.
pub(crate) struct RangeArg {
    pub series: Vec<Series>,
    /// Exclusive start of the window, milliseconds.
    pub start: i64,
    /// Inclusive end of the window, milliseconds.
    pub end: i64,
}

impl RangeArg {
    pub fn range_ms(&self) -> i64 {
        self.end - self.start
    }
}

/// One query's evaluation state.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    pub opts: &'a EngineOptions,
    /// The query's first and last step, and its step (0 for an instant
    /// query).
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    pub annotations: Annotations,
    samples_loaded: usize,
    deadline: Option<Instant>,
}

impl<'a> Evaluator<'a> {
    fn new(
        storage: &'a dyn Queryable,
        opts: &'a EngineOptions,
        start: i64,
        end: i64,
        interval: i64,
    ) -> Self {
        Self {
            storage,
            opts,
            start,
            end,
            interval,
            annotations: Annotations::default(),
            samples_loaded: 0,
            deadline: opts
                .clock
                .as_ref()
                .zip(opts.timeout)
                .map(|(clock, limit)| clock.now() + limit),
        }
    }

    /// Counts samples held by the query against its limit, and checks the
    /// deadline.
    fn account(&mut self, samples: usize) -> Result<(), QueryError> {
        self.samples_loaded = self.samples_loaded.saturating_add(samples);
        if self.samples_loaded > self.opts.max_samples {
            return Err(QueryError::TooManySamples(self.opts.max_samples));
        }
        if let (Some(deadline), Some(clock), Some(limit)) =
            (self.deadline, &self.opts.clock, self.opts.timeout)
            && clock.now() > deadline
        {
            return Err(QueryError::Timeout(limit));
        }
        Ok(())
    }

    pub fn eval(&mut self, expr: &Expr, ts: i64) -> Result<Value, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(mut samples) => {
                    for s in &mut samples {
                        s.v = -s.v;
                        s.drop_name = true;
                    }
                    Ok(Value::Vector(samples))
                }
                other => Err(eval_error(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.select_instant(vs, ts, false)?)),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.select_range(ms, ts)?.series)),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq, ts)?.series)),
            Expr::Binary(b) => binary::eval(self, b, ts),
            Expr::Aggregate(a) => aggregate::eval(self, a, ts),
            Expr::Call(call) => functions::call(self, call, ts),
            Expr::Extension(_) => Err(eval_error("extension expressions are not supported")),
        }
    }

    /// Evaluates an expression that must give an instant vector.
    pub fn eval_vector(&mut self, expr: &Expr, ts: i64) -> Result<Vec<Sample>, QueryError> {
        match self.eval(expr, ts)? {
            Value::Vector(samples) => Ok(samples),
            other => Err(eval_error(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an expression that must give a scalar.
    pub fn eval_scalar(&mut self, expr: &Expr, ts: i64) -> Result<f64, QueryError> {
        match self.eval(expr, ts)? {
            Value::Scalar(v) => Ok(v),
            other => Err(eval_error(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn eval_string(&mut self, expr: &Expr, ts: i64) -> Result<String, QueryError> {
        match self.eval(expr, ts)? {
            Value::String(s) => Ok(s),
            other => Err(eval_error(format!(
                "expected string, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates a range-vector argument: a range selector or a subquery,
    /// possibly in parentheses.
    pub fn eval_range(&mut self, expr: &Expr, ts: i64) -> Result<RangeArg, QueryError> {
        match expr {
            Expr::MatrixSelector(ms) => self.select_range(ms, ts),
            Expr::Subquery(sq) => self.subquery(sq, ts),
            Expr::Paren(p) => self.eval_range(&p.expr, ts),
            _ => Err(eval_error("expected range vector")),
        }
    }

    /// The time a selector reads at: `@` replaces the evaluation time, then
    /// `offset` moves it back.
    fn effective_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, ts: i64) -> i64 {
        let base = match at {
            None => ts,
            Some(AtModifier::Start) => self.start,
            Some(AtModifier::End) => self.end,
            Some(AtModifier::At(time)) => system_time_ms(*time),
        };
        match offset {
            None => base,
            Some(Offset::Pos(d)) => base.saturating_sub(duration_ms(*d)),
            Some(Offset::Neg(d)) => base.saturating_add(duration_ms(*d)),
        }
    }

    /// Reads every series matching a selector in `[mint, maxt]`.
    fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<crate::storage::SeriesData>, QueryError> {
        let groups = matcher_groups(vs);
        let mut result = Vec::new();
        let mut loaded = 0usize;
        for matchers in &groups {
            let budget = self
                .opts
                .max_samples
                .saturating_sub(self.samples_loaded.saturating_add(loaded));
            let mut found = self
                .storage
                .select(matchers, mint, maxt, budget)
                .ok_or(QueryError::TooManySamples(self.opts.max_samples))?;
            if groups.len() > 1 {
                found.retain(|s| {
                    !result
                        .iter()
                        .any(|r: &crate::storage::SeriesData| r.labels == s.labels)
                });
            }
            loaded += found.iter().map(|s| s.samples.len()).sum::<usize>();
            result.extend(found);
        }
        self.account(loaded)?;
        Ok(result)
    }

    /// An instant selector: each series' newest sample in
    /// `(t - lookback, t]`, unless that is a stale marker. The samples carry
    /// the evaluation time, or their own with `keep_time` (for
    /// `timestamp()`).
    pub fn select_instant(
        &mut self,
        vs: &VectorSelector,
        ts: i64,
        keep_time: bool,
    ) -> Result<Vec<Sample>, QueryError> {
        let t = self.effective_time(&vs.at, &vs.offset, ts);
        let found = self.select(vs, t.saturating_sub(self.opts.lookback_ms) + 1, t)?;
        Ok(found
            .into_iter()
            .filter_map(|series| {
                let &(sample_t, v) = series.samples.last()?;
                if is_stale_marker(v) {
                    return None;
                }
                Some(Sample {
                    labels: series.labels,
                    t: if keep_time { sample_t } else { ts },
                    v,
                    drop_name: false,
                })
            })
            .collect())
    }

    /// A range selector: the samples in `(t - range, t]`, without stale
    /// markers.
    fn select_range(&mut self, ms: &MatrixSelector, ts: i64) -> Result<RangeArg, QueryError> {
        let end = self.effective_time(&ms.vs.at, &ms.vs.offset, ts);
        let start = end.saturating_sub(duration_ms(ms.range));
        let found = self.select(&ms.vs, start + 1, end)?;
        let series = found
            .into_iter()
            .filter_map(|s| {
                let points: Vec<(i64, f64)> = s
                    .samples
                    .into_iter()
                    .filter(|(_, v)| !is_stale_marker(*v))
                    .collect();
                (!points.is_empty()).then_some(Series {
                    labels: s.labels,
                    points,
                    drop_name: false,
                })
            })
            .collect();
        Ok(RangeArg { series, start, end })
    }

    /// A subquery: the inner expression at every multiple of the step in
    /// `(t - range, t]`.
    fn subquery(&mut self, sq: &SubqueryExpr, ts: i64) -> Result<RangeArg, QueryError> {
        let end = self.effective_time(&sq.at, &sq.offset, ts);
        let start = end.saturating_sub(duration_ms(sq.range));
        let step = match sq.step {
            Some(step) => duration_ms(step),
            None => self.opts.default_subquery_step_ms,
        };
        if step <= 0 {
            return Err(eval_error("zero or negative subquery step"));
        }
        let steps = (end - start) / step;
        if steps as u64 > self.opts.max_samples as u64 {
            return Err(QueryError::TooManySamples(self.opts.max_samples));
        }
        // The first multiple of the step after the window's open start.
        let mut t = start.div_euclid(step) * step;
        if t <= start {
            t += step;
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<Series> = Vec::new();
        while t <= end {
            let samples = match self.eval(&sq.expr, t)? {
                Value::Vector(samples) => samples,
                Value::Scalar(v) => vec![Sample {
                    labels: Labels::new(),
                    t,
                    v,
                    drop_name: false,
                }],
                other => {
                    return Err(eval_error(format!(
                        "subquery is only allowed on instant vector or scalar, got {}",
                        other.type_name()
                    )));
                }
            };
            self.account(samples.len())?;
            for sample in samples {
                let slot = *index.entry(sample.labels.clone()).or_insert_with(|| {
                    series.push(Series {
                        labels: sample.labels,
                        points: Vec::new(),
                        drop_name: sample.drop_name,
                    });
                    series.len() - 1
                });
                series[slot].points.push((t, sample.v));
            }
            t += step;
        }
        Ok(RangeArg { series, start, end })
    }
}

/// The selector's matchers, with the metric name as a matcher when it was
/// written before the braces.
/// The alternatives a selector stands for, each a list of matchers that
/// must all hold (one list unless the selector uses `or`), with the metric
/// name as a `__name__` matcher.
pub(crate) fn matcher_groups(vs: &VectorSelector) -> Vec<Vec<Matcher>> {
    if vs.matchers.or_matchers.is_empty() {
        vec![with_name(vs, vs.matchers.matchers.clone())]
    } else {
        vs.matchers
            .or_matchers
            .iter()
            .map(|group| {
                let mut all = vs.matchers.matchers.clone();
                all.extend(group.iter().cloned());
                with_name(vs, all)
            })
            .collect()
    }
}

fn with_name(vs: &VectorSelector, mut matchers: Vec<Matcher>) -> Vec<Matcher> {
    if let Some(name) = &vs.name
        && !matchers
            .iter()
            .any(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
    {
        matchers.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name));
    }
    matchers
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => duration_ms(after),
        Err(before) => -duration_ms(before.duration()),
    }
}
