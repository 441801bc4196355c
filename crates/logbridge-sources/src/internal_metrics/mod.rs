//! The `internal_metrics` source: logbridge's own counters (what
//! `/debug/metrics` shows) as metric events, every interval, so that the
//! pipeline can ship them or alert on itself (say, on a rising discard
//! rate).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use logbridge_component::telemetry::Registry;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::{DataKind, Event, EventBatch};
use logbridge_prometheus::Format;
use serde::Deserialize;
use tracing::warn;

use logbridge_component::now_nanos;

/// Emits logbridge's own metrics.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InternalMetricsConfig {
    /// Seconds between two readings.
    #[serde(default = "default_interval")]
    pub scrape_interval_secs: f64,
}

fn default_interval() -> f64 {
    15.0
}

impl SourceConfig for InternalMetricsConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if !(self.scrape_interval_secs > 0.0 && self.scrape_interval_secs.is_finite()) {
            return Err(BuildError::new(
                "scrape_interval_secs",
                "scrape_interval_secs must be a positive number of seconds",
            )
            .with_hint("the default is 15"));
        }
        Ok(Box::new(InternalMetricsSource {
            interval: Duration::from_secs_f64(self.scrape_interval_secs),
            registry: cx.registry.clone(),
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }
}

struct InternalMetricsSource {
    interval: Duration,
    registry: Arc<Registry>,
}

/// The registry's metrics now, as events stamped `now` (nanoseconds).
fn read(registry: &Registry, now: i64) -> Result<Vec<Event>, String> {
    let text = Bytes::from(registry.render());
    let metrics =
        logbridge_prometheus::parse(&text, Format::Prometheus, now).map_err(|e| e.to_string())?;
    Ok(metrics.into_iter().map(Event::Metric).collect())
}

#[async_trait::async_trait]
impl Source for InternalMetricsSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = cx.shutdown.wait() => break,
            }
            let events = match read(&self.registry, now_nanos()) {
                Ok(events) => events,
                Err(error) => {
                    // Our own exposition failing to parse is a bug, not input.
                    warn!(message = "Could not read the internal metrics.", %error);
                    cx.metrics.add_error();
                    continue;
                }
            };
            let batch = EventBatch::new(events);
            cx.metrics.add_received(batch.len(), batch.byte_size());
            if cx.out.send(batch).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;
    use logbridge_event::MetricValue;

    #[test]
    fn reads_the_registry_as_metrics() {
        let registry = Registry::new();
        let m = registry.register("in", ComponentKind::Source, "demo");
        m.add_received(7, 700);
        let events = read(&registry, 1_700_000_000_000_000_000).unwrap();
        let received = events
            .iter()
            .filter_map(|e| match e {
                Event::Metric(m)
                    if m.name.as_str() == "logbridge_component_received_events_total" =>
                {
                    Some(m)
                }
                _ => None,
            })
            .next()
            .expect("received events counter");
        assert_eq!(received.value, MetricValue::Scalar(7.0));
        assert_eq!(received.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(
            received
                .labels
                .get("component_id")
                .map(|v| v.to_string_lossy().into_owned()),
            Some("in".to_string())
        );
    }
}
