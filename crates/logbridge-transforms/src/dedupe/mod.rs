//! The `dedupe` transform (Vector's): drops logs whose chosen fields are
//! the same as those of a log seen recently (counted as intentionally
//! discarded). "Recently" is an LRU cache of `cache.num_events`
//! fingerprints: the state never holds more, whatever the input, and what
//! it evicts to stay there is counted (`state="cache"`).

use std::num::NonZeroUsize;
use std::sync::Arc;

use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, LogRecord, ObjectMap, Path, Value};
use lru::LruCache;
use serde::Deserialize;

use crate::evictions::count_evictions;
use crate::fingerprint::Fingerprint;
use crate::retain::keep_flagged;

/// Drops logs that repeat a recently seen log.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    /// Which fields make two logs the same. Without it, logs are compared
    /// on `message`, `host` and `timestamp`.
    #[serde(default)]
    pub fields: DedupeFields,
    /// The memory of logs seen.
    #[serde(default)]
    pub cache: DedupeCache,
}

/// Which fields two logs are compared on: set one of `match` and `ignore`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupeFields {
    /// Compare only these fields, e.g. `fields.match = ["message",
    /// "service"]`. A field missing from both logs counts as equal.
    /// Default (when `ignore` is not set either): `message`, `host`,
    /// `timestamp`.
    #[serde(default, rename = "match")]
    pub match_fields: Option<Vec<String>>,
    /// Compare every field but these (and what is nested under them), e.g.
    /// `fields.ignore = ["timestamp", "file"]`.
    #[serde(default)]
    pub ignore: Option<Vec<String>>,
}

/// How many logs are remembered.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DedupeCache {
    /// How many distinct logs are remembered (least recently seen forgotten
    /// first; a repeat counts as seen again). Each takes 16 bytes (a
    /// fingerprint of its fields), whatever their size.
    #[serde(default = "default_num_events")]
    pub num_events: usize,
}

impl Default for DedupeCache {
    fn default() -> DedupeCache {
        DedupeCache {
            num_events: default_num_events(),
        }
    }
}

fn default_num_events() -> usize {
    5000
}

/// Vector's default: its log schema's message, host and timestamp keys.
const DEFAULT_MATCH: [&str; 3] = ["message", "host", "timestamp"];

/// What a log is compared on.
#[derive(Debug, Clone)]
enum Compare {
    Match(Vec<Path>),
    /// Top-level or nested field names (segments) left out.
    Ignore(Vec<Vec<String>>),
}

fn parse_paths(option: &str, fields: &[String]) -> Result<Vec<Path>, BuildError> {
    fields
        .iter()
        .map(|f| {
            Path::parse(f).map_err(|e| BuildError::new(option, format!("invalid path `{f}`: {e}")))
        })
        .collect()
}

impl DedupeConfig {
    fn compare(&self) -> Result<Compare, BuildError> {
        match (&self.fields.match_fields, &self.fields.ignore) {
            (Some(_), Some(_)) => Err(BuildError::new(
                "fields.ignore",
                "set either `fields.match` or `fields.ignore`, not both",
            )),
            (Some(fields), None) => Ok(Compare::Match(parse_paths("fields.match", fields)?)),
            (None, Some(fields)) => {
                let paths = parse_paths("fields.ignore", fields)?;
                let mut names = Vec::with_capacity(paths.len());
                for (path, text) in paths.iter().zip(fields) {
                    names.push(field_names(path).ok_or_else(|| {
                        BuildError::new(
                            "fields.ignore",
                            format!("`{text}` is not a field path (no indexes or `%` metadata)"),
                        )
                    })?);
                }
                Ok(Compare::Ignore(names))
            }
            (None, None) => Ok(Compare::Match(
                DEFAULT_MATCH.iter().map(|f| Path::field(&[f])).collect(),
            )),
        }
    }
}

/// The field names of a plain field path (`.a.b` -> `["a", "b"]`).
fn field_names(path: &Path) -> Option<Vec<String>> {
    use logbridge_event::{PathRoot, Segment};
    if path.root != PathRoot::Event || path.segments.is_empty() {
        return None;
    }
    path.segments
        .iter()
        .map(|s| match s {
            Segment::Field(name) => Some(name.to_string()),
            Segment::Index(_) => None,
        })
        .collect()
}

impl TransformConfig for DedupeConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let compare = self.compare()?;
        let capacity = NonZeroUsize::new(self.cache.num_events)
            .ok_or_else(|| BuildError::new("cache.num_events", "must be at least 1"))?;
        Ok(Box::new(Dedupe {
            compare,
            seen: LruCache::new(capacity),
            metrics: cx.metrics.clone(),
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(input)]
    }
}

struct Dedupe {
    compare: Compare,
    /// Fingerprints of the logs seen, least recently seen first out.
    seen: LruCache<u128, ()>,
    metrics: Arc<ComponentMetrics>,
}

impl Dedupe {
    /// Whether `log` is new (and remembers it either way).
    fn is_new(&mut self, log: &LogRecord) -> bool {
        let key = fingerprint(&self.compare, log);
        if self.seen.get(&key).is_some() {
            return false;
        }
        if self.seen.push(key, ()).is_some() {
            // `push` hands back the entry it evicted to make room (the key
            // was not there, so it is never the key itself).
            count_evictions(&self.metrics, "cache", 1);
        }
        true
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.seen.len()
    }
}

fn fingerprint(compare: &Compare, log: &LogRecord) -> u128 {
    let mut f = Fingerprint::new();
    match compare {
        Compare::Match(paths) => {
            for path in paths {
                f.optional(log.get(path).as_deref());
            }
        }
        Compare::Ignore(ignored) => {
            let fields = log.fields_object();
            let mut trail = Vec::new();
            add_fields(&mut f, &fields, ignored, &mut trail);
        }
    }
    f.finish()
}

/// Adds every field of `map` not ignored, with its path, descending into
/// objects so that an ignored nested field leaves its siblings compared.
fn add_fields<'a>(
    f: &mut Fingerprint,
    map: &'a ObjectMap,
    ignored: &[Vec<String>],
    trail: &mut Vec<&'a str>,
) {
    for (key, value) in map.iter() {
        trail.push(key);
        if !ignored.iter().any(|i| i == trail) {
            match value {
                Value::Object(inner) if ignores_under(ignored, trail) => {
                    add_fields(f, inner, ignored, trail);
                }
                _ => {
                    f.name(&trail.join("."));
                    f.value(value);
                }
            }
        }
        trail.pop();
    }
}

/// Whether an ignored path lies strictly under `trail`.
fn ignores_under(ignored: &[Vec<String>], trail: &[&str]) -> bool {
    ignored
        .iter()
        .any(|i| i.len() > trail.len() && i.iter().zip(trail).all(|(a, b)| a == b))
}

impl Transform for Dedupe {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let before = batch.len();
        let keep: Vec<bool> = batch
            .events()
            .iter()
            .map(|event| match event {
                Event::Log(log) => self.is_new(log),
                _ => true,
            })
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
