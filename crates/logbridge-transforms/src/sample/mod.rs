//! The `sample` transform (Vector's): keeps one event in `rate`, or a
//! `ratio` of them, and discards the rest (counted as intentionally
//! discarded). Decisions are deterministic: a counter without `key_field`,
//! a hash of the key's value with it, a hash of the trace id for spans, so
//! that a whole trace is kept or dropped together. [`trace_keep`] is that
//! hash, public so that other samplers agree with this one.
//!
//! It keeps no state but a counter: nothing here grows with the input.

use std::sync::Arc;

use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, KeyString, Path, TraceId, Value};
use serde::Deserialize;

use crate::condition::{ConditionConfig, EventCondition};
use crate::retain::keep_flagged;

/// Keeps a share of the logs and traces passing through, deterministically.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Keep one event in `rate`: `rate = 10` keeps the 1st, 11th, 21st, ...
    /// event (or, with `key_field`, the events of one key in ten). Exactly
    /// one of `rate` and `ratio` is set.
    #[serde(default)]
    pub rate: Option<u64>,
    /// The share of events to keep, above 0 and at most 1: `ratio = 0.13`
    /// keeps 13% of them, spread evenly. Exactly one of `rate` and `ratio`
    /// is set.
    #[serde(default)]
    pub ratio: Option<f64>,
    /// A field whose value decides for every log carrying it: all logs with
    /// the same value are kept or dropped together (a hash of the value is
    /// compared with the rate), e.g. `key_field = "request_id"`. Logs
    /// without the field are sampled one by one. Spans are always sampled
    /// by trace id, so a trace is kept or dropped whole.
    #[serde(default)]
    pub key_field: Option<String>,
    /// Where the rate is recorded on kept events, as a string (`"10"` for
    /// `rate = 10`, `"0.13"` for `ratio = 0.13`); on spans it is an
    /// attribute. An empty string records nothing.
    #[serde(default = "default_sample_rate_key")]
    pub sample_rate_key: String,
    /// Events meeting this condition are never sampled: they all pass,
    /// e.g. `exclude = '.level == "error"'`.
    #[serde(default)]
    pub exclude: Option<ConditionConfig>,
}

fn default_sample_rate_key() -> String {
    "sample_rate".into()
}

/// Whether a trace is kept at `ratio` (0 to 1): a hash of the trace id,
/// seeded with `salt`, compared with `ratio` of the hash range. Every
/// sampler that decides by trace id with the same ratio and salt keeps the
/// same traces; a trace kept at one ratio is kept at every higher one.
pub fn trace_keep(trace_id: &TraceId, ratio: f64, salt: u64) -> bool {
    if ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    if ratio >= 1.0 {
        return true;
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&trace_id.0, salt) <= hash_threshold(ratio)
}

/// The seed this transform hashes trace ids with.
pub const TRACE_SALT: u64 = 0;

/// `ratio` of the range of a 64-bit hash.
fn hash_threshold(ratio: f64) -> u64 {
    (ratio * u64::MAX as f64) as u64
}

/// How many events to keep.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// One in `n`.
    Rate(u64),
    /// A share.
    Ratio(f64),
}

impl Mode {
    fn ratio(self) -> f64 {
        match self {
            Mode::Rate(n) => 1.0 / n as f64,
            Mode::Ratio(r) => r,
        }
    }

    /// The rate as Vector records it: the configured number, as written.
    fn label(self) -> String {
        match self {
            Mode::Rate(n) => n.to_string(),
            Mode::Ratio(r) => r.to_string(),
        }
    }

    /// Whether a key hashing to `hash` is kept.
    fn keeps_hash(self, hash: u64) -> bool {
        match self {
            Mode::Rate(n) => hash.is_multiple_of(n),
            Mode::Ratio(r) => r >= 1.0 || hash <= hash_threshold(r),
        }
    }
}

impl SampleConfig {
    fn mode(&self) -> Result<Mode, BuildError> {
        match (self.rate, self.ratio) {
            (Some(_), Some(_)) => Err(BuildError::new(
                "ratio",
                "set either `rate` or `ratio`, not both",
            )),
            (None, None) => Err(BuildError::new("rate", "set `rate` or `ratio`")
                .with_hint("rate = 10 keeps one event in ten; ratio = 0.1 keeps 10% of them")),
            (Some(0), None) => Err(BuildError::new("rate", "`rate` must be at least 1")),
            (Some(n), None) => Ok(Mode::Rate(n)),
            (None, Some(r)) if r > 0.0 && r <= 1.0 => Ok(Mode::Ratio(r)),
            (None, Some(r)) => Err(BuildError::new(
                "ratio",
                format!("`ratio` must be above 0 and at most 1, not {r}"),
            )),
        }
    }
}

fn parse_path(option: &str, text: &str) -> Result<Path, BuildError> {
    Path::parse(text).map_err(|e| BuildError::new(option, format!("invalid path: {e}")))
}

impl TransformConfig for SampleConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let mode = self.mode()?;
        let key_field = match &self.key_field {
            Some(f) => Some(parse_path("key_field", f)?),
            None => None,
        };
        let rate_key = match self.sample_rate_key.trim() {
            "" => None,
            key => Some((
                parse_path("sample_rate_key", key)?,
                KeyString::from(key.trim_start_matches('.')),
            )),
        };
        let exclude = match &self.exclude {
            Some(c) => Some(EventCondition::compile("exclude", c)?),
            None => None,
        };
        Ok(Box::new(Sample {
            sampler: Sampler::new(mode),
            label: Value::from(mode.label()),
            key_field,
            rate_key,
            exclude,
            metrics: cx.metrics.clone(),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG.union(DataKind::SPAN)
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(input)]
    }
}

/// The decisions for events without a key: every `rate`th event, or an
/// even spread of `ratio` of them (an accumulator that keeps an event each
/// time it crosses 1, starting with the first event).
#[derive(Debug, Clone)]
struct Sampler {
    mode: Mode,
    counter: u64,
    accumulated: f64,
}

impl Sampler {
    fn new(mode: Mode) -> Sampler {
        Sampler {
            mode,
            counter: 0,
            accumulated: 1.0 - mode.ratio(),
        }
    }

    fn next(&mut self) -> bool {
        match self.mode {
            Mode::Rate(n) => {
                let keep = self.counter.is_multiple_of(n);
                self.counter = self.counter.wrapping_add(1);
                keep
            }
            Mode::Ratio(r) => {
                self.accumulated += r;
                let keep = self.accumulated >= 1.0;
                if keep {
                    self.accumulated -= 1.0;
                }
                keep
            }
        }
    }
}

struct Sample {
    sampler: Sampler,
    label: Value,
    key_field: Option<Path>,
    /// Where the rate goes: a path in logs, an attribute name in spans.
    rate_key: Option<(Path, KeyString)>,
    exclude: Option<EventCondition>,
    metrics: Arc<ComponentMetrics>,
}

impl Sample {
    /// Whether `event` is kept (and, if so, marked with the rate).
    fn decide(&mut self, event: &mut Event) -> bool {
        if self.exclude.as_ref().is_some_and(|c| c.check(event)) {
            return true;
        }
        // The counter moves for every sampled event, keyed or not, as in
        // Vector, so adding a key field to some events does not shift the
        // decisions for the others.
        let in_turn = self.sampler.next();
        let keep = match event {
            Event::Span(span) => trace_keep(&span.trace_id, self.sampler.mode.ratio(), TRACE_SALT),
            Event::Log(log) => match self.key_field.as_ref().and_then(|p| log.get(p)) {
                Some(value) => {
                    let hash = xxhash_rust::xxh3::xxh3_64(value.to_string_lossy().as_bytes());
                    self.sampler.mode.keeps_hash(hash)
                }
                None => in_turn,
            },
            Event::Metric(_) => true,
        };
        if keep {
            self.record_rate(event);
        }
        keep
    }

    fn record_rate(&self, event: &mut Event) {
        let Some((path, attribute)) = &self.rate_key else {
            return;
        };
        match event {
            Event::Log(log) => {
                // A path the log cannot hold (an index at the top) leaves
                // the log as it is: the rate is informative only.
                let _ = log.insert(path, self.label.clone());
            }
            Event::Span(span) => {
                span.attributes
                    .insert(attribute.clone(), self.label.clone());
            }
            Event::Metric(_) => {}
        }
    }
}

impl Transform for Sample {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let before = batch.len();
        // Kept events are marked with the rate, so the events are changed
        // in place, then the dropped ones leave the batch.
        let keep: Vec<bool> = batch
            .events_mut()
            .iter_mut()
            .map(|event| self.decide(event))
            .collect();
        let kept = keep_flagged(&mut batch, &keep);
        if kept > 0 {
            out.push(batch);
        }
        self.metrics.add_discarded(before - kept, true);
    }
}

#[cfg(test)]
mod tests;
