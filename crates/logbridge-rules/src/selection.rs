//! Which series the loaded rules can read: the selectors of every rule
//! expression, so that the store keeps only series some rule selects.
//!
//! Prometheus must keep every series it ingests, since any query may come
//! later. The rules engine answers only its rules, so a series no selector
//! matches (a metric no rule names, a recorded series or `ALERTS` that no
//! later rule reads) costs nothing to forget, and is never stored. A rule
//! whose templates call `query` can read anything: then every series is
//! kept.

use std::collections::HashMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::Expr;

use crate::labels::{Labels, METRIC_NAME};
use crate::promql::eval::matcher_groups;
use crate::promql::walk;
use crate::storage::matches_all;

/// The series a set of expressions selects.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Every series is wanted.
    all: bool,
    /// Matcher lists with an equality matcher on the metric name, by name.
    by_name: HashMap<String, Vec<Vec<Matcher>>>,
    /// Matcher lists without one (a regex on the name, or no name).
    unnamed: Vec<Vec<Matcher>>,
}

impl Selection {
    /// Selects every series.
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// Selects what any of `exprs` reads.
    pub fn of<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Self {
        let mut selection = Self::default();
        for expr in exprs {
            selection.add(expr);
        }
        selection
    }

    fn add(&mut self, expr: &Expr) {
        walk(expr, &mut |node| match node {
            Expr::VectorSelector(vs) => self.add_groups(matcher_groups(vs)),
            Expr::MatrixSelector(m) => self.add_groups(matcher_groups(&m.vs)),
            // Nothing here builds extensions; should one appear, keep
            // everything rather than guess what it reads.
            Expr::Extension(_) => self.all = true,
            _ => {}
        });
    }

    fn add_groups(&mut self, groups: Vec<Vec<Matcher>>) {
        for group in groups {
            let name = group
                .iter()
                .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
                .map(|m| m.value.clone());
            match name {
                Some(name) => self.by_name.entry(name).or_default().push(group),
                None => self.unnamed.push(group),
            }
        }
    }

    /// Whether some selector matches a series with these labels.
    pub fn wants(&self, labels: &Labels) -> bool {
        if self.all {
            return true;
        }
        let by_name = self
            .by_name
            .get(labels.value_of(METRIC_NAME))
            .is_some_and(|groups| groups.iter().any(|g| matches_all(labels, g)));
        by_name || self.unnamed.iter().any(|g| matches_all(labels, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(exprs: &[&str]) -> Selection {
        let parsed: Vec<Expr> = exprs
            .iter()
            .map(|e| crate::promql::parse(e).unwrap())
            .collect();
        Selection::of(&parsed)
    }

    fn series(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn selectors_anywhere_in_an_expression_count() {
        let s = selection(&[
            r#"sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / on(job) group_left up"#,
            "max_over_time(deriv(queue_depth[1m])[10m:1m]) > bool scalar(threshold)",
            r#"topk(scalar(k_value), x)"#,
        ]);
        for wanted in [
            series(&[("__name__", "http_requests_total"), ("code", "503")]),
            series(&[("__name__", "up"), ("job", "api")]),
            series(&[("__name__", "queue_depth")]),
            series(&[("__name__", "threshold")]),
            series(&[("__name__", "k_value")]),
            series(&[("__name__", "x"), ("a", "b")]),
        ] {
            assert!(s.wants(&wanted), "{wanted}");
        }
        for unwanted in [
            series(&[("__name__", "http_requests_total"), ("code", "200")]),
            series(&[("__name__", "node_cpu_seconds_total")]),
            series(&[("__name__", "job:rate5m"), ("job", "api")]),
        ] {
            assert!(!s.wants(&unwanted), "{unwanted}");
        }
    }

    #[test]
    fn selectors_without_a_fixed_name_match_by_their_matchers() {
        let s = selection(&[
            r#"count({__name__=~"node_.+", job="node"})"#,
            r#"absent({job="db"})"#,
            r#"a{x="1" or y="2"}"#,
        ]);
        assert!(s.wants(&series(&[("__name__", "node_load1"), ("job", "node")])));
        assert!(!s.wants(&series(&[("__name__", "node_load1"), ("job", "api")])));
        assert!(s.wants(&series(&[("__name__", "anything"), ("job", "db")])));
        assert!(s.wants(&series(&[("__name__", "a"), ("y", "2")])));
        assert!(!s.wants(&series(&[("__name__", "a"), ("y", "3")])));
        assert!(!s.wants(&series(&[("__name__", "b"), ("x", "1")])));
    }

    #[test]
    fn all_wants_everything_and_nothing_wants_nothing() {
        let labels = series(&[("__name__", "m")]);
        assert!(Selection::all().wants(&labels));
        assert!(!Selection::default().wants(&labels));
        assert!(!selection(&["1 + 2", "vector(1)"]).wants(&labels));
    }
}
