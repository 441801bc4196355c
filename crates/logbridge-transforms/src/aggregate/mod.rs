//! The `aggregate` transform: folds the metrics of each interval into one
//! point per series, as Vector's transform of that name does (sums of
//! incremental points, the latest absolute value, or the mode's function),
//! and sends them on at the end of the interval and at shutdown.
//!
//! "Incremental" is a delta point and "absolute" any other. A series is a
//! name with its labels, resource attributes and scope. The metrics held
//! keep their batches' acknowledgements until the points made of them are
//! sent, so a source commits only what was sent on; if the transform is
//! stopped before that, they count as not delivered. State is bounded by
//! `max_series`: a new series beyond it sends the interval's points early
//! (counted as evictions of `series`).
//!
//! [`window`] holds the interval's state; this module feeds it, times it
//! and keeps the acknowledgements.

mod window;

use std::sync::Arc;
use std::time::Duration;

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef, RateLimit};
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, Finalizers, HeldFinalizers};
use serde::Deserialize;
use tracing::warn;

use self::window::{Recorded, Window};
use crate::evictions::count_evictions;

/// How the points of a series in one interval are folded into one.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
pub enum AggregationMode {
    /// Sums incremental points and keeps the latest absolute one.
    #[default]
    #[serde(alias = "auto")]
    Auto,
    /// Sums incremental points; absolute ones are dropped.
    #[serde(alias = "sum")]
    Sum,
    /// The latest absolute point; incremental ones are dropped.
    #[serde(alias = "latest")]
    Latest,
    /// A counter of how many points came, of the first one's temporality.
    #[serde(alias = "count")]
    Count,
    /// The latest absolute point less the previous interval's; incremental
    /// ones are dropped. The point keeps its type and temporality, as in
    /// Vector.
    #[serde(alias = "diff")]
    Diff,
    /// The largest absolute gauge value; other points are dropped.
    #[serde(alias = "max")]
    Max,
    /// The smallest absolute gauge value; other points are dropped.
    #[serde(alias = "min")]
    Min,
    /// The mean of absolute gauge values; other points are dropped.
    #[serde(alias = "mean")]
    Mean,
    /// The standard deviation (population) of absolute gauge values; other
    /// points are dropped.
    #[serde(alias = "stdev")]
    Stdev,
}

/// Folds each interval's metrics into one point per series.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateConfig {
    /// The interval, in milliseconds: the points of a series within it are
    /// folded into one, sent at its end.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// The function, by Vector's names (lower case works too): `Auto` sums
    /// incremental (delta) points and keeps the latest absolute one; `Sum`
    /// sums incremental points; `Latest` keeps the latest absolute one;
    /// `Count` counts points (a counter of the first point's temporality);
    /// `Diff` sends the latest absolute point less the previous interval's;
    /// `Max`, `Min`, `Mean` and `Stdev` (population) of absolute gauge
    /// values. Points a mode does not take are dropped and counted as
    /// discarded.
    #[serde(default)]
    pub mode: AggregationMode,
    /// The most series held in one interval; a new series beyond it sends
    /// the interval's points early (counted in
    /// `logbridge_component_evictions_total{state="series"}`).
    #[serde(default = "default_max_series")]
    pub max_series: usize,
}

fn default_interval_ms() -> u64 {
    10_000
}

fn default_max_series() -> usize {
    100_000
}

/// Points that did not fold into their series (another type, other
/// bucket bounds, a summary with quantiles, a `Diff` across a type
/// change): they replaced what was held, or were sent unchanged.
pub static FAILED_UPDATES: GaugeDef = GaugeDef {
    name: "logbridge_aggregate_failed_updates_total",
    help: "Metric points that did not fold into what their series held, by the aggregate transform.",
    counter: true,
};

impl TransformConfig for AggregateConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.interval_ms == 0 {
            return Err(BuildError::new(
                "interval_ms",
                "interval_ms must be above 0",
            ));
        }
        if self.max_series == 0 {
            return Err(BuildError::new("max_series", "max_series must be above 0"));
        }
        Ok(Box::new(Aggregate {
            interval: Duration::from_millis(self.interval_ms),
            window: Window::new(self.mode, self.max_series),
            held: None,
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
            failed_warnings: RateLimit::default(),
            full_warnings: RateLimit::default(),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::METRIC
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }
}

struct Aggregate {
    interval: Duration,
    window: Window,
    /// The acknowledgements of every batch recorded since the last flush.
    held: Option<HeldFinalizers>,
    id: String,
    metrics: Arc<ComponentMetrics>,
    failed_warnings: RateLimit,
    full_warnings: RateLimit,
}

impl Aggregate {
    /// Sends the interval's points with the acknowledgements they answer
    /// to (`current`, those of a batch being recorded, as well).
    fn flush(&mut self, current: Option<&Finalizers>, out: &mut TransformOutputs) {
        let mut finalizers = self
            .held
            .take()
            .map(HeldFinalizers::release)
            .unwrap_or_default();
        if let Some(current) = current {
            finalizers.merge(current.clone());
        }
        let (points, failed) = self.window.flush();
        self.count_failed(failed);
        out.push(
            EventBatch::new(points.into_iter().map(Event::Metric).collect())
                .with_finalizers(finalizers),
        );
    }

    fn count_failed(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.metrics
            .add_to_gauge(&FAILED_UPDATES, &[], i64::try_from(n).unwrap_or(i64::MAX));
        if self.failed_warnings.allow() {
            warn!(
                message = "Metric points did not fold into what their series held (another type or other buckets); the newer point was kept.",
                component_id = %self.id,
                count = n
            );
        }
    }

    fn hold(&mut self, finalizers: Finalizers) {
        let mut all = self
            .held
            .take()
            .map(HeldFinalizers::release)
            .unwrap_or_default();
        all.merge(finalizers);
        self.held = Some(HeldFinalizers::new(all));
    }
}

impl Transform for Aggregate {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let finalizers = std::mem::take(&mut batch.finalizers);
        let (mut ignored, mut failed, mut evicted) = (0, 0, 0);
        for event in batch.take_events() {
            let Event::Metric(m) = event else {
                ignored += 1;
                continue;
            };
            let recorded = self.window.record(m).or_else(|m| {
                // Too many series for one interval: send what is held now
                // rather than grow or forget any of it.
                evicted += self.window.held().0;
                self.flush(Some(&finalizers), out);
                self.window.record(*m)
            });
            match recorded {
                Ok(Recorded::Held) => {}
                Ok(Recorded::Ignored) => ignored += 1,
                Ok(Recorded::Failed) => failed += 1,
                // An empty window takes any series.
                Err(_) => ignored += 1,
            }
        }
        self.hold(finalizers);
        if ignored > 0 {
            self.metrics.add_discarded(ignored, true);
        }
        self.count_failed(failed);
        if evicted > 0 {
            count_evictions(&self.metrics, "series", evicted);
            if self.full_warnings.allow() {
                warn!(
                    message = "More series than max_series in one interval; sent the interval's points early.",
                    component_id = %self.id,
                    series = evicted
                );
            }
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.interval)
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        self.flush(None, out);
    }

    fn finish(&mut self, out: &mut TransformOutputs) {
        self.flush(None, out);
    }
}

#[cfg(test)]
mod tests;
