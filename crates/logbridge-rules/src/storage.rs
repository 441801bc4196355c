//! What the PromQL evaluator reads: series selected by label matchers, with
//! their samples in a time window.

use promql_parser::label::Matcher;

use crate::labels::Labels;

/// One series and its samples (milliseconds, value) in time order. Stale
/// markers are included: the evaluator interprets them.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesData {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// A source of series for queries.
pub trait Queryable {
    /// Every series whose labels satisfy all `matchers`, with its samples at
    /// `mint <= t <= maxt`; series without samples there are left out.
    /// `None` once more than `max_samples` would be returned: a query over
    /// its limit stops before it holds them all.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Option<Vec<SeriesData>>;
}

/// Whether a label set satisfies every matcher (an absent label matches as
/// the empty string, as in Prometheus).
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.is_match(labels.value_of(&m.name)))
}
