//! The `reduce` transform (Vector's): collapses the logs of a group (same
//! `group_by` values) into one log, field by field (`merge_strategies`,
//! else numbers summed, timestamps first and last, anything else first),
//! and emits it when the group ends: `ends_when` holds, `starts_when`
//! opens the next one, `max_events` or `max_bytes` is reached, no log
//! came for `expire_after_ms`, or the pipeline stops.
//!
//! Groups hold the finalizers of the batches their logs came in, and hand
//! them to the log they become, so a source commits only past logs that
//! were reduced and written. State is bounded: at most `max_groups` groups
//! (past it the least recently updated one is emitted early, counted as
//! `state="group"`), each at most `max_bytes`.

mod merge;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{
    DataKind, Event, EventBatch, Finalizers, KeyString, LogRecord, ObjectMap, Path, PathRoot,
    Segment, Value,
};
use lru::LruCache;
use serde::Deserialize;
use tracing::warn;

use crate::condition::{ConditionConfig, EventCondition};
use crate::evictions::count_evictions;
use crate::fingerprint::Fingerprint;

pub use merge::MergeStrategy;
use merge::Merger;

/// Collapses groups of logs into one log each.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReduceConfig {
    /// Fields whose values make a group, e.g. `["request_id"]`; without it
    /// every log joins one group. A log missing a field groups with the
    /// others missing it. These fields are merged like any other (a
    /// numeric one is summed unless given a strategy such as `discard`).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// How to combine a field's values, by field path: `array`, `concat`
    /// (strings joined with a space, arrays concatenated),
    /// `concat_newline`, `concat_raw`, `discard` (keep the first), `retain`
    /// (keep the last non-null), `sum`, `max`, `min`, `flat_unique`,
    /// `shortest_array`, `longest_array`; e.g. `merge_strategies.message =
    /// "concat_newline"`. Fields without one: numbers are summed,
    /// timestamps keep the first value and add `<field>_end` with the last,
    /// anything else keeps the first value. Objects are merged field by
    /// field. The reduced log keeps the first log's timestamp and gets
    /// `timestamp_end`, the last one's.
    #[serde(default)]
    pub merge_strategies: IndexMap<String, MergeStrategy>,
    /// A condition marking the first log of a group: the open group is
    /// emitted without it and a new one starts with it. Only one of
    /// `starts_when` and `ends_when` may be set.
    #[serde(default)]
    pub starts_when: Option<ConditionConfig>,
    /// A condition marking the last log of a group: the group is emitted
    /// with it, e.g. `ends_when = 'exists(.done)'`.
    #[serde(default)]
    pub ends_when: Option<ConditionConfig>,
    /// A group is emitted once no log has joined it for this long, in
    /// milliseconds.
    #[serde(default = "default_expire_after_ms")]
    pub expire_after_ms: u64,
    /// How often groups are checked for expiry, in milliseconds.
    #[serde(default = "default_flush_period_ms")]
    pub flush_period_ms: u64,
    /// A group is emitted when it holds this many logs.
    #[serde(default)]
    pub max_events: Option<usize>,
    /// The most groups open at once; a log that would open one more first
    /// emits the group that has gone longest without a log, counted in
    /// `logbridge_component_evictions_total{state="group"}`. Vector's option
    /// of the same name is unbounded by default; logbridge bounds it.
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
    /// The most a group may hold, in bytes (estimated): a log that would
    /// take it past this emits the group first and starts the next one
    /// (a single larger log is emitted alone). A logbridge default; Vector
    /// leaves groups unbounded.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

fn default_expire_after_ms() -> u64 {
    30_000
}

fn default_flush_period_ms() -> u64 {
    1_000
}

fn default_max_groups() -> usize {
    10_000
}

fn default_max_bytes() -> usize {
    1 << 20
}

/// The field the last log's time goes to, as Vector names it.
const TIMESTAMP_END: &str = "timestamp_end";

fn field_path(option: &str, text: &str) -> Result<Vec<Segment>, BuildError> {
    let path = Path::parse(text)
        .map_err(|e| BuildError::new(option, format!("invalid path `{text}`: {e}")))?;
    let plain = path.root == PathRoot::Event
        && !path.segments.is_empty()
        && path.segments.iter().all(|s| matches!(s, Segment::Field(_)));
    if !plain {
        return Err(BuildError::new(
            option,
            format!("`{text}` is not a field path (no indexes or `%` metadata)"),
        ));
    }
    Ok(path.segments)
}

impl ReduceConfig {
    fn reduce(&self, cx: &BuildContext) -> Result<Reduce, BuildError> {
        if self.starts_when.is_some() && self.ends_when.is_some() {
            return Err(BuildError::new(
                "ends_when",
                "set either `starts_when` or `ends_when`, not both",
            ));
        }
        let condition = |option: &str, c: &Option<ConditionConfig>| match c {
            Some(c) => EventCondition::compile(option, c).map(Some),
            None => Ok(None),
        };
        let group_by = self
            .group_by
            .iter()
            .map(|f| {
                Path::parse(f)
                    .map_err(|e| BuildError::new("group_by", format!("invalid path `{f}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let strategies = self
            .merge_strategies
            .iter()
            .map(|(f, s)| Ok((field_path("merge_strategies", f)?, *s)))
            .collect::<Result<_, BuildError>>()?;
        let max_groups = NonZeroUsize::new(self.max_groups)
            .ok_or_else(|| BuildError::new("max_groups", "must be at least 1"))?;
        if self.max_events == Some(0) {
            return Err(BuildError::new("max_events", "must be at least 1"));
        }
        if self.flush_period_ms == 0 {
            return Err(BuildError::new("flush_period_ms", "must be at least 1"));
        }
        Ok(Reduce {
            group_by,
            strategies,
            starts_when: condition("starts_when", &self.starts_when)?,
            ends_when: condition("ends_when", &self.ends_when)?,
            expire_after: self.expire_after_ms.saturating_mul(1_000_000),
            flush_period: Duration::from_millis(self.flush_period_ms),
            max_events: self.max_events,
            max_bytes: self.max_bytes,
            groups: LruCache::new(max_groups),
            batch_seq: 0,
            flushed: Vec::new(),
            start: Instant::now(),
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
            warn_limit: RateLimit::default(),
        })
    }
}

impl TransformConfig for ReduceConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        Ok(Box::new(self.reduce(cx)?))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(input)]
    }
}

/// The logs of one group so far.
struct Group {
    /// The first log without its fields.
    base: LogRecord,
    fields: IndexMap<Vec<Segment>, Merger>,
    events: usize,
    bytes: usize,
    /// The last log's time (its timestamp, or when it was seen).
    last_time: i64,
    /// When it was last joined, on the transform's clock.
    updated: u64,
    finalizers: Finalizers,
    /// The batch whose finalizers were taken last, so one batch's are
    /// taken once however many of its logs join.
    last_batch: u64,
}

/// Where the logs of the batch being reduced came from.
struct Origin<'a> {
    seq: u64,
    finalizers: &'a Finalizers,
    now: u64,
}

struct Reduce {
    group_by: Vec<Path>,
    strategies: Vec<(Vec<Segment>, MergeStrategy)>,
    starts_when: Option<EventCondition>,
    ends_when: Option<EventCondition>,
    /// Nanoseconds.
    expire_after: u64,
    flush_period: Duration,
    max_events: Option<usize>,
    max_bytes: usize,
    groups: LruCache<u128, Group>,
    batch_seq: u64,
    /// Reduced logs not yet emitted, with the finalizers they answer to.
    flushed: Vec<(Event, Finalizers)>,
    start: Instant,
    id: String,
    metrics: Arc<ComponentMetrics>,
    warn_limit: RateLimit,
}

impl Reduce {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn group_key(&self, log: &LogRecord) -> u128 {
        let mut f = Fingerprint::new();
        for path in &self.group_by {
            f.optional(log.get(path).as_deref());
        }
        f.finish()
    }

    fn transform_at(&mut self, mut batch: EventBatch, now: u64, out: &mut TransformOutputs) {
        self.batch_seq += 1;
        let finalizers = std::mem::take(&mut batch.finalizers);
        let origin = Origin {
            seq: self.batch_seq,
            finalizers: &finalizers,
            now,
        };
        let mut others = Vec::new();
        let mut failures = Vec::new();
        for event in batch.take_events() {
            match event {
                Event::Log(log) => self.reduce_one(log, &origin, &mut failures),
                other => others.push(other),
            }
        }
        self.report(failures);
        if !others.is_empty() {
            out.push(EventBatch::new(others).with_finalizers(finalizers.clone()));
        }
        self.emit(out);
    }

    fn reduce_one(&mut self, log: LogRecord, origin: &Origin<'_>, failures: &mut Vec<String>) {
        let event = Event::Log(log);
        let starts = self.starts_when.as_ref().is_some_and(|c| c.check(&event));
        let ends = self.ends_when.as_ref().is_some_and(|c| c.check(&event));
        let Event::Log(log) = event else { return };
        let key = self.group_key(&log);
        let size = log.estimated_size();
        let overflow = self
            .groups
            .peek(&key)
            .is_some_and(|g| g.bytes + size > self.max_bytes);
        if starts || overflow {
            // The open group ends before this log.
            self.flush_key(key);
        }
        // Whether this log fills the group it joins (after the flush above,
        // a new one).
        let joined = self.groups.peek(&key).map_or(0, |g| g.events);
        let full = self.max_events.is_some_and(|max| joined + 1 >= max);
        let group = match self.groups.get_mut(&key) {
            Some(group) => group,
            None => {
                let group = Group::new(origin);
                if let Some((_, evicted)) = self.groups.push(key, group) {
                    count_evictions(&self.metrics, "group", 1);
                    self.flushed.push(evicted.finish());
                }
                match self.groups.get_mut(&key) {
                    Some(group) => group,
                    None => return,
                }
            }
        };
        group.add(log, size, &self.strategies, origin, failures);
        if ends || full || group.bytes > self.max_bytes {
            self.flush_key(key);
        }
    }

    fn flush_key(&mut self, key: u128) {
        if let Some(group) = self.groups.pop(&key) {
            self.flushed.push(group.finish());
        }
    }

    /// Emits groups no log has joined for `expire_after`.
    fn expire(&mut self, now: u64) {
        // Joining a group moves it to the front, so the stalest are last.
        while let Some((_, group)) = self.groups.peek_lru() {
            if now.saturating_sub(group.updated) < self.expire_after {
                break;
            }
            if let Some((_, group)) = self.groups.pop_lru() {
                self.flushed.push(group.finish());
            }
        }
    }

    fn emit(&mut self, out: &mut TransformOutputs) {
        if self.flushed.is_empty() {
            return;
        }
        let mut finalizers = Finalizers::default();
        let events = self
            .flushed
            .drain(..)
            .map(|(event, f)| {
                finalizers.merge(f);
                event
            })
            .collect();
        out.push(EventBatch::new(events).with_finalizers(finalizers));
    }

    fn report(&self, failures: Vec<String>) {
        let Some(error) = failures.first() else {
            return;
        };
        self.metrics.add_error();
        if self.warn_limit.allow() {
            warn!(
                message = "Field values could not be merged and were left out of the reduced log.",
                component_id = %self.id,
                count = failures.len(),
                error = %error
            );
        }
    }
}

impl Group {
    fn new(origin: &Origin<'_>) -> Group {
        Group {
            base: LogRecord::default(),
            fields: IndexMap::new(),
            events: 0,
            bytes: 0,
            last_time: 0,
            updated: origin.now,
            finalizers: origin.finalizers.clone(),
            last_batch: origin.seq,
        }
    }

    fn add(
        &mut self,
        mut log: LogRecord,
        size: usize,
        strategies: &[(Vec<Segment>, MergeStrategy)],
        origin: &Origin<'_>,
        failures: &mut Vec<String>,
    ) {
        if self.last_batch != origin.seq {
            self.finalizers.merge(origin.finalizers.clone());
            self.last_batch = origin.seq;
        }
        self.bytes += size;
        self.updated = origin.now;
        let time = if log.time_unix_nano != 0 {
            log.time_unix_nano
        } else {
            log.observed_time_unix_nano
        };
        if time != 0 {
            self.last_time = time;
        }
        let mut fields = std::mem::take(&mut log.attributes);
        let body = std::mem::take(&mut log.body);
        if !body.is_null() {
            fields.insert(KeyString::const_new("message"), body);
        }
        if self.events == 0 {
            // The first log, without its fields: its timestamps, severity,
            // resource and scope become the reduced log's.
            self.base = log;
        }
        self.events += 1;
        let mut root = Value::Object(fields);
        // Fields with a strategy are merged whole (objects too); taking them
        // out leaves the rest to the defaults.
        for (path, strategy) in strategies {
            if let Some(value) = root.remove_path(path) {
                let result = match self.fields.get_mut(path) {
                    Some(merger) => merger.add(value),
                    None => Merger::new(*strategy, value).map(|m| {
                        self.fields.insert(path.clone(), m);
                    }),
                };
                if let Err(e) = result {
                    failures.push(e);
                }
            }
        }
        let mut trail = Vec::new();
        self.add_leaves(root, &mut trail, failures);
    }

    /// Merges every leaf of `value` (objects are walked, anything else is a
    /// leaf) with the default merger of its type.
    fn add_leaves(&mut self, value: Value, trail: &mut Vec<Segment>, failures: &mut Vec<String>) {
        match value {
            Value::Object(map) if !map.is_empty() || trail.is_empty() => {
                for (key, inner) in map {
                    trail.push(Segment::Field(key));
                    self.add_leaves(inner, trail, failures);
                    trail.pop();
                }
            }
            leaf => match self.fields.get_mut(trail.as_slice()) {
                Some(merger) => {
                    if let Err(e) = merger.add(leaf) {
                        failures.push(e);
                    }
                }
                None => {
                    self.fields.insert(trail.clone(), Merger::default_for(leaf));
                }
            },
        }
    }

    /// The reduced log and the finalizers it answers to.
    fn finish(self) -> (Event, Finalizers) {
        let mut root = Value::Object(ObjectMap::new());
        if self.last_time != 0 {
            root.insert_path(
                &[Segment::Field(KeyString::const_new(TIMESTAMP_END))],
                Value::Timestamp(self.last_time),
            );
        }
        for (mut path, merger) in self.fields {
            let (value, end) = merger.finish();
            root.insert_path(&path, value);
            if let Some(end) = end
                && let Some(Segment::Field(last)) = path.last_mut()
            {
                last.push_str("_end");
                root.insert_path(&path, end);
            }
        }
        let mut log = self.base;
        if let Value::Object(mut fields) = root {
            log.body = fields.remove("message").unwrap_or(Value::Null);
            log.attributes = fields;
        }
        (Event::Log(log), self.finalizers)
    }
}

impl Transform for Reduce {
    fn transform(&mut self, batch: EventBatch, out: &mut TransformOutputs) {
        let now = self.now();
        self.transform_at(batch, now, out);
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.flush_period)
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        let now = self.now();
        self.expire(now);
        self.emit(out);
    }

    fn finish(&mut self, out: &mut TransformOutputs) {
        while let Some((_, group)) = self.groups.pop_lru() {
            self.flushed.push(group.finish());
        }
        self.emit(out);
    }
}

#[cfg(test)]
mod tests;
