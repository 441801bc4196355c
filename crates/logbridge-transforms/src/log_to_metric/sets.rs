//! `set` metrics of `log_to_metric`: the distinct values of a field, per
//! series, among the logs of one batch, emitted as a gauge of how many
//! there were. Vector's sets carry the values themselves; a logbridge
//! metric holds a number, so the count is what is kept. Nothing outlives
//! the batch.

use std::collections::HashSet;

use indexmap::IndexMap;
use logbridge_event::{KeyString, Metric, MetricKind, MetricValue};

/// One log's member of a set: the series (name, labels and time in
/// `metric`) and the value.
#[derive(Debug)]
pub(super) struct SetPoint {
    pub metric: Metric,
    pub member: String,
}

/// Name and labels, the labels rendered as text (they are text here).
type SeriesId = (KeyString, Vec<(KeyString, String)>);

/// The sets of one batch, in the order their series first appeared.
#[derive(Debug, Default)]
pub(super) struct Sets {
    series: IndexMap<SeriesId, (Metric, HashSet<String>)>,
}

impl Sets {
    pub fn extend(&mut self, points: Vec<SetPoint>) {
        for SetPoint { metric, member } in points {
            let id = (
                metric.name.clone(),
                metric
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
                    .collect(),
            );
            let time = metric.time_unix_nano;
            let (held, members) = self
                .series
                .entry(id)
                .or_insert_with(|| (metric, HashSet::new()));
            held.time_unix_nano = held.time_unix_nano.max(time);
            members.insert(member);
        }
    }

    /// One gauge per series: the number of distinct values.
    pub fn into_metrics(self) -> impl Iterator<Item = Metric> {
        self.series.into_values().map(|(metric, members)| Metric {
            kind: MetricKind::Gauge,
            value: MetricValue::Scalar(members.len() as f64),
            ..metric
        })
    }
}
