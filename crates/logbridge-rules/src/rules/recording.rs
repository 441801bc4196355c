//! Recording rules: a query's result stored under a new metric name, with
//! stale markers for the series that stop.

use std::collections::HashSet;

use promql_parser::parser::Expr;

use super::{EvalContext, RuleStatus};
use crate::labels::{Labels, METRIC_NAME};
use crate::promql::value::stale_marker;

pub struct RecordingRule {
    pub name: String,
    pub expr: Expr,
    pub expr_text: String,
    pub labels: Vec<(String, String)>,
    pub status: RuleStatus,
    previous_series: HashSet<Labels>,
}

impl RecordingRule {
    pub(crate) fn new(
        name: String,
        expr: Expr,
        expr_text: String,
        labels: Vec<(String, String)>,
    ) -> Self {
        Self {
            name,
            expr,
            expr_text,
            labels,
            status: RuleStatus::default(),
            previous_series: HashSet::new(),
        }
    }

    /// Evaluates the rule at `ts`: the recorded samples, then stale markers
    /// for the series recorded last time and not now.
    pub(crate) fn eval(
        &mut self,
        cx: &mut EvalContext<'_>,
        ts: i64,
        limit: usize,
    ) -> Vec<(Labels, i64, f64)> {
        let query_ts = ts - cx.query_offset_ms;
        let Some(samples) = cx.rule_query(&self.expr, ts, &mut self.status) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(samples.len());
        let mut series_now = HashSet::with_capacity(samples.len());
        for sample in samples {
            let mut labels = sample.labels;
            labels.set(METRIC_NAME, &self.name);
            for (name, value) in cx.group_labels.iter().chain(&self.labels) {
                labels.set(name, value);
            }
            if !series_now.insert(labels.clone()) {
                self.status.record_error(
                    ts,
                    "vector contains metrics with the same labelset after applying rule labels"
                        .to_string(),
                );
                return Vec::new();
            }
            out.push((labels, query_ts, sample.v));
        }
        if limit > 0 && out.len() > limit {
            self.status.record_error(
                ts,
                format!("exceeded limit of {limit} with {} series", out.len()),
            );
            return Vec::new();
        }
        for ended in self.previous_series.difference(&series_now) {
            out.push((ended.clone(), query_ts, stale_marker()));
        }
        self.previous_series = series_now;
        self.status.record_ok(ts);
        out
    }
}
