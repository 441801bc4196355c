//! `batch.*`, the one batching option of every sink that cuts its input
//! into requests or objects (`otlp`, `loki`, `prometheus_remote_write`,
//! `aws_s3`). Each sink keeps its own defaults (a request to Loki holds
//! more than an OTLP export), given by a marker type implementing
//! [`BatchDefaults`]. The `kafka` sink keeps its own option: its fields
//! are librdkafka's, in librdkafka's units (`batch.timeout_ms`).

use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;

use crate::BuildError;

/// A sink's defaults for `batch.*`, as a marker type, so that the config
/// reference shows each sink's own defaults.
pub trait BatchDefaults: 'static {
    const MAX_EVENTS: usize;
    /// `None`: no bound on bytes unless the user sets one.
    const MAX_BYTES: Option<usize>;
    const TIMEOUT_SECS: f64;
}

/// When a batch is complete: the first limit reached wins.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(bound = "D: BatchDefaults", rename = "BatchConfig")]
pub struct BatchConfig<D: BatchDefaults> {
    /// The most events in one batch.
    #[serde(default = "max_events::<D>")]
    pub max_events: usize,
    /// About the most bytes in one batch: the events' estimated size (for
    /// `aws_s3`, their encoded size before compression); no bound when
    /// absent.
    #[serde(default = "max_bytes::<D>")]
    pub max_bytes: Option<usize>,
    /// The longest the first event of a batch waits for more, in seconds.
    #[serde(default = "timeout_secs::<D>")]
    pub timeout_secs: f64,
    #[serde(skip)]
    #[schemars(skip)]
    defaults: PhantomData<D>,
}

fn max_events<D: BatchDefaults>() -> usize {
    D::MAX_EVENTS
}
fn max_bytes<D: BatchDefaults>() -> Option<usize> {
    D::MAX_BYTES
}
fn timeout_secs<D: BatchDefaults>() -> f64 {
    D::TIMEOUT_SECS
}

impl<D: BatchDefaults> Default for BatchConfig<D> {
    fn default() -> Self {
        BatchConfig {
            max_events: D::MAX_EVENTS,
            max_bytes: D::MAX_BYTES,
            timeout_secs: D::TIMEOUT_SECS,
            defaults: PhantomData,
        }
    }
}

impl<D: BatchDefaults> Clone for BatchConfig<D> {
    fn clone(&self) -> Self {
        BatchConfig {
            max_events: self.max_events,
            max_bytes: self.max_bytes,
            timeout_secs: self.timeout_secs,
            defaults: PhantomData,
        }
    }
}

impl<D: BatchDefaults> std::fmt::Debug for BatchConfig<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchConfig")
            .field("max_events", &self.max_events)
            .field("max_bytes", &self.max_bytes)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// Checked `batch.*` options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchLimits {
    pub max_events: usize,
    /// `usize::MAX` for no bound.
    pub max_bytes: usize,
    pub timeout: Duration,
}

impl<D: BatchDefaults> BatchConfig<D> {
    /// The limits, checked: counts above 0, the timeout above 0 and under
    /// a day.
    pub fn limits(&self) -> Result<BatchLimits, BuildError> {
        for (option, value) in [
            ("batch.max_events", Some(self.max_events)),
            ("batch.max_bytes", self.max_bytes),
        ] {
            if value == Some(0) {
                return Err(BuildError::new(option, format!("{option} must be above 0")));
            }
        }
        Ok(BatchLimits {
            max_events: self.max_events,
            max_bytes: self.max_bytes.unwrap_or(usize::MAX),
            timeout: seconds("batch.timeout_secs", self.timeout_secs)?,
        })
    }
}

/// A duration option: above 0 and under a day.
pub fn seconds(option: &str, v: f64) -> Result<Duration, BuildError> {
    if v > 0.0 && v < 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(BuildError::new(
            option,
            format!("{option} must be above 0 and under a day"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Defaults;
    impl BatchDefaults for Defaults {
        const MAX_EVENTS: usize = 100;
        const MAX_BYTES: Option<usize> = None;
        const TIMEOUT_SECS: f64 = 0.5;
    }

    fn parse(json: serde_json::Value) -> BatchConfig<Defaults> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn absent_options_take_the_sinks_defaults() {
        let limits = parse(serde_json::json!({})).limits().unwrap();
        assert_eq!(
            limits,
            BatchLimits {
                max_events: 100,
                max_bytes: usize::MAX,
                timeout: Duration::from_millis(500),
            }
        );
        let given =
            parse(serde_json::json!({"max_events": 7, "max_bytes": 1024, "timeout_secs": 2}));
        let limits = given.limits().unwrap();
        assert_eq!(
            (limits.max_events, limits.max_bytes, limits.timeout),
            (7, 1024, Duration::from_secs(2))
        );
        assert!(
            serde_json::from_value::<BatchConfig<Defaults>>(serde_json::json!({"max_event": 1}))
                .is_err()
        );
    }

    #[test]
    fn zero_counts_and_bad_timeouts_are_refused_with_the_option_named() {
        for (json, option) in [
            (serde_json::json!({"max_events": 0}), "batch.max_events"),
            (serde_json::json!({"max_bytes": 0}), "batch.max_bytes"),
            (serde_json::json!({"timeout_secs": 0}), "batch.timeout_secs"),
            (
                serde_json::json!({"timeout_secs": -1.5}),
                "batch.timeout_secs",
            ),
        ] {
            let error = parse(json).limits().unwrap_err();
            assert_eq!(error.option.as_deref(), Some(option), "{error:?}");
        }
    }
}
