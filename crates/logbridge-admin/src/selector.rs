//! The `match[]` series selectors of `/api/v1/rules`, read with
//! promql-parser and matched against a rule's configured labels.
//!
//! promql-parser is behind the `rules` feature (on by default): without it
//! a `match[]` parameter is refused, and nothing else changes.

use logbridge_component::api::LabelSet;

/// One set of label matchers (one `or` branch of a selector); a rule is
/// selected when all of them match its labels.
#[cfg(feature = "rules")]
#[derive(Debug)]
pub(crate) struct Selector(Vec<promql_parser::label::Matcher>);

/// Without the `rules` feature no selector can be read, so there is none.
#[cfg(not(feature = "rules"))]
#[derive(Debug)]
pub(crate) enum Selector {}

/// The matcher sets of a `match[]` selector (one per `or` branch), with
/// the metric name as a `__name__` matcher, as Prometheus reads it.
#[cfg(feature = "rules")]
pub(crate) fn parse(text: &str) -> Result<Vec<Selector>, String> {
    use promql_parser::label::{MatchOp, Matcher};
    use promql_parser::parser::Expr;

    let not_selector = || format!("match[]: {text:?} is not a series selector");
    let Expr::VectorSelector(selector) = promql_parser::parser::parse(text)
        .map_err(|e| format!("match[]: cannot parse {text:?}: {e}"))?
    else {
        return Err(not_selector());
    };
    let mut common = selector.matchers.matchers;
    if let Some(name) = selector.name {
        common.push(Matcher::new(MatchOp::Equal, "__name__", &name));
    }
    if selector.matchers.or_matchers.is_empty() {
        return Ok(vec![Selector(common)]);
    }
    Ok(selector
        .matchers
        .or_matchers
        .into_iter()
        .map(|mut set| {
            set.extend(common.iter().cloned());
            Selector(set)
        })
        .collect())
}

/// Refuses every selector: this build cannot read them.
#[cfg(not(feature = "rules"))]
pub(crate) fn parse(_text: &str) -> Result<Vec<Selector>, String> {
    Err("match[] is not supported: the rules feature is not built in".into())
}

impl Selector {
    /// Whether every matcher holds on `labels` (a missing label reads as
    /// empty, as in PromQL).
    #[cfg(feature = "rules")]
    pub(crate) fn matches(&self, labels: &LabelSet) -> bool {
        self.0
            .iter()
            .all(|m| m.is_match(labels.get(&m.name).unwrap_or("")))
    }

    #[cfg(not(feature = "rules"))]
    pub(crate) fn matches(&self, _labels: &LabelSet) -> bool {
        match *self {}
    }
}
