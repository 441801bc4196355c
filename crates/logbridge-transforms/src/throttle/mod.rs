//! The `throttle` transform (Vector's): lets at most `threshold` logs per
//! `window_secs` through for each key, as Vector does: a bucket of
//! `threshold` cells refilled one cell every `window_secs / threshold`
//! (GCRA), so bursts up to `threshold` pass and the long-run rate is
//! `threshold` per window. What it holds back goes to its `dropped` output.
//!
//! State is one 16-byte fingerprint and one time per key, at most
//! `max_keys` of them: past that the least recently seen key is forgotten
//! (its next log finds a full bucket) and counted (`state="key"`). Keys
//! whose bucket has refilled are forgotten on every tick, which changes
//! nothing for them.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logbridge_codec::template::Template;
use logbridge_component::dropped::{log_outputs_with_dropped, mark_dropped};
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs,
};
use logbridge_event::{DataKind, EventBatch};
use lru::LruCache;
use serde::Deserialize;

use crate::condition::{ConditionConfig, EventCondition};
use crate::evictions::count_evictions;
use crate::retain::split_flagged;

/// Rate-limits logs, per key if one is given. Logs held back go to the
/// `dropped` output (`<id>.dropped`) with `dropped.reason = "throttled"`;
/// when nothing reads it they are discarded and counted.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    /// How many logs of one key may pass per `window_secs`.
    pub threshold: u32,
    /// The window `threshold` applies to, in seconds (fractions allowed).
    /// The allowance refills steadily: one log every
    /// `window_secs / threshold`.
    pub window_secs: f64,
    /// A template naming each log's key; each key has its own allowance,
    /// e.g. `"{{ service }}"` or `"{{ host }}-{{ service }}"`. Without it,
    /// every log shares one. Logs missing a field render it as `-`.
    #[serde(default)]
    pub key_field: Option<String>,
    /// Logs meeting this condition are never throttled, e.g.
    /// `exclude = '.level == "error"'`.
    #[serde(default)]
    pub exclude: Option<ConditionConfig>,
    /// The most keys tracked at once (logbridge's bound, not in Vector);
    /// past it the least recently seen key is forgotten, as if idle, and
    /// counted in `logbridge_component_evictions_total{state="key"}`.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_max_keys() -> usize {
    100_000
}

/// The reason attached to throttled logs on the `dropped` output.
const REASON: &str = "throttled";

impl ThrottleConfig {
    fn throttle(&self, cx: &BuildContext) -> Result<Throttle, BuildError> {
        if self.threshold == 0 {
            return Err(BuildError::new("threshold", "must be at least 1"));
        }
        if !(self.window_secs.is_finite() && self.window_secs > 0.0) {
            return Err(BuildError::new(
                "window_secs",
                "must be a number of seconds above 0",
            ));
        }
        let max_keys = NonZeroUsize::new(self.max_keys)
            .ok_or_else(|| BuildError::new("max_keys", "must be at least 1"))?;
        let key = match &self.key_field {
            Some(source) => Some(
                Template::parse(source).map_err(|e| BuildError::new("key_field", e.to_string()))?,
            ),
            None => None,
        };
        let exclude = match &self.exclude {
            Some(c) => Some(EventCondition::compile("exclude", c)?),
            None => None,
        };
        let window = Duration::from_secs_f64(self.window_secs);
        let limiter = Limiter::new(self.threshold, window, max_keys);
        Ok(Throttle {
            limiter,
            key,
            exclude,
            message: format!(
                "more than {} logs per {} seconds for this key",
                self.threshold, self.window_secs
            ),
            tick: window.clamp(Duration::from_millis(100), Duration::from_secs(60)),
            start: Instant::now(),
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
        })
    }
}

impl TransformConfig for ThrottleConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        Ok(Box::new(self.throttle(cx)?))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        log_outputs_with_dropped()
    }
}

/// The allowances of every key, as times (nanoseconds on the transform's
/// own clock): a key's "theoretical arrival time" is when its bucket would
/// be full again.
struct Limiter {
    /// Time one cell takes to refill.
    interval: u64,
    /// How far ahead of now a key's time may run: a burst of
    /// `threshold - 1` cells beyond the one being spent.
    burst: u64,
    keys: LruCache<u128, u64>,
}

impl Limiter {
    fn new(threshold: u32, window: Duration, max_keys: NonZeroUsize) -> Limiter {
        let interval = (window.as_nanos() / u128::from(threshold)).max(1);
        let interval = u64::try_from(interval).unwrap_or(u64::MAX);
        Limiter {
            interval,
            burst: interval.saturating_mul(u64::from(threshold - 1)),
            keys: LruCache::new(max_keys),
        }
    }

    /// Whether a log of `key` may pass at `now`; spends a cell if so.
    /// Returns how many keys were evicted to track this one (0 or 1).
    fn allow(&mut self, key: u128, now: u64) -> (bool, usize) {
        if let Some(due) = self.keys.get_mut(&key) {
            let start = (*due).max(now);
            if start - now > self.burst {
                return (false, 0);
            }
            *due = start.saturating_add(self.interval);
            return (true, 0);
        }
        let evicted = self.keys.push(key, now.saturating_add(self.interval));
        (true, usize::from(evicted.is_some()))
    }

    /// Forgets the keys whose bucket is full again by `now`: they would
    /// start afresh anyway.
    fn forget_idle(&mut self, now: u64) {
        let idle: Vec<u128> = self
            .keys
            .iter()
            .filter(|(_, due)| **due <= now)
            .map(|(key, _)| *key)
            .collect();
        for key in idle {
            self.keys.pop(&key);
        }
    }
}

struct Throttle {
    limiter: Limiter,
    key: Option<Template>,
    exclude: Option<EventCondition>,
    message: String,
    tick: Duration,
    start: Instant,
    id: String,
    metrics: Arc<ComponentMetrics>,
}

impl Throttle {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Throttles `batch` as of `now`: what passes on the default output,
    /// what does not on `dropped`, marked.
    fn transform_at(&mut self, batch: EventBatch, now: u64, out: &mut TransformOutputs) {
        let mut evicted = 0;
        let keep: Vec<bool> = batch
            .events()
            .iter()
            .map(|event| {
                if self.exclude.as_ref().is_some_and(|c| c.check(event)) {
                    return true;
                }
                let key = match &self.key {
                    Some(t) => crate::fingerprint::of_text(&t.render(event, 0)),
                    None => 0,
                };
                let (pass, n) = self.limiter.allow(key, now);
                evicted += n;
                pass
            })
            .collect();
        count_evictions(&self.metrics, "key", evicted);
        if keep.iter().all(|k| *k) {
            out.push(batch);
            return;
        }
        let (passed, mut held) = split_flagged(batch, &keep);
        for event in held.events_mut() {
            mark_dropped(event, REASON, &self.message, &self.id);
        }
        out.push(passed);
        out.push_named(DROPPED_OUTPUT, held);
    }
}

impl Transform for Throttle {
    fn transform(&mut self, batch: EventBatch, out: &mut TransformOutputs) {
        let now = self.now();
        self.transform_at(batch, now, out);
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.tick)
    }

    fn tick(&mut self, _out: &mut TransformOutputs) {
        let now = self.now();
        self.limiter.forget_idle(now);
    }
}

#[cfg(test)]
mod tests;
