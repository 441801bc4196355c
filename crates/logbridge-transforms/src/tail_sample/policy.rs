//! Tail-sampling policies, named and shaped as the OpenTelemetry
//! Collector's tail sampling processor writes them: a `name`, a `type`,
//! and the type's options in a table named after it
//! (`type = "latency"`, `latency.threshold_ms = 500`).
//!
//! A policy looks at every span of a trace held so far and votes: sample,
//! do not sample, or (a `drop` policy) drop whatever the others say.
//! Attribute policies look at span and resource attributes; a trace
//! matches when any span (or its resource) does. `invert_match` turns a
//! policy's answer around: it samples only traces where nothing matches.
//!
//! Where this differs from the collector, on purpose:
//! - `probabilistic` hashes the trace id as logbridge's `sample` does (so a
//!   head `sample` and a tail `probabilistic` at the same rate keep the
//!   same traces), not with the collector's FNV hash;
//! - `numeric_attribute` bounds are what they say (an absent bound is
//!   open; the collector reads `0` as absent) and floats compare too;
//! - `latency` compares the whole trace's duration (earliest start to
//!   latest end, in whole milliseconds): above `threshold_ms`, and at
//!   most `upper_threshold_ms` when set;
//! - `condition` takes a logbridge condition (VRL, or the fast subset)
//!   over each span, in place of the collector's OTTL.
//!
//! This module evaluates; holding spans and timing decisions is
//! [`super`]'s job.

use std::collections::HashSet;
use std::num::NonZeroUsize;

use crate::condition::{ConditionConfig, EventCondition};
use logbridge_component::BuildError;
use logbridge_event::{Event, Span, StatusCode, TraceId, Value};
use lru::LruCache;
use regex::Regex;
use serde::Deserialize;

/// One policy as configured.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The policy's name, in counters (`policy` label) and in a
    /// composite's `rate_allocation`.
    pub name: String,
    /// `always_sample`, `latency`, `status_code`, `numeric_attribute`,
    /// `string_attribute`, `boolean_attribute`, `probabilistic`,
    /// `rate_limiting`, `span_count`, `trace_state`, `trace_flags`, `and`,
    /// `not`, `drop`, `composite` or `condition`; its options go in the
    /// table of the same name.
    #[serde(rename = "type")]
    pub policy_type: PolicyType,
    /// `threshold_ms`: sample traces lasting longer (earliest span start
    /// to latest end); `upper_threshold_ms`: and at most this long.
    #[serde(default)]
    pub latency: Option<LatencyOptions>,
    /// `status_codes`: sample traces with a span whose status is one of
    /// these (`OK`, `ERROR`, `UNSET`).
    #[serde(default)]
    pub status_code: Option<StatusCodeOptions>,
    /// `key`, `min_value`, `max_value` (inclusive; an absent bound is
    /// open), `invert_match`.
    #[serde(default)]
    pub numeric_attribute: Option<NumericAttributeOptions>,
    /// `key`, `values`, `enabled_regex_matching` (values are regular
    /// expressions, matching anywhere in the value), `cache_max_size`
    /// (regex results remembered, 128 by default), `invert_match`.
    #[serde(default)]
    pub string_attribute: Option<StringAttributeOptions>,
    /// `key`, `value`, `invert_match`.
    #[serde(default)]
    pub boolean_attribute: Option<BooleanAttributeOptions>,
    /// `sampling_percentage` (0 to 100), `hash_salt`.
    #[serde(default)]
    pub probabilistic: Option<ProbabilisticOptions>,
    /// `spans_per_second`, `burst_capacity` (twice the rate by default).
    #[serde(default)]
    pub rate_limiting: Option<RateLimitingOptions>,
    /// `min_spans`, `max_spans` (0: no upper bound).
    #[serde(default)]
    pub span_count: Option<SpanCountOptions>,
    /// `key`, `values`: a span's W3C trace state has `key` with one of
    /// `values`.
    #[serde(default)]
    pub trace_state: Option<TraceStateOptions>,
    /// `and_sub_policy`: a list of policies that must all sample.
    #[serde(default)]
    pub and: Option<AndOptions>,
    /// `not_sub_policy`: one policy whose answer is turned around.
    #[serde(default)]
    pub not: Option<NotOptions>,
    /// `drop_sub_policy`: a list of policies; when all of them match, the
    /// trace is dropped whatever the other policies say.
    #[serde(default)]
    pub drop: Option<DropOptions>,
    /// `max_total_spans_per_second`, `composite_sub_policy`,
    /// `rate_allocation` (`policy` and `percent` of the total).
    #[serde(default)]
    pub composite: Option<CompositeOptions>,
    /// A logbridge condition over each span (`'.attributes."http.route"
    /// == "/checkout"'`, or a table with `type = "vrl"`): samples the
    /// trace when a span meets it.
    #[serde(default)]
    pub condition: Option<ConditionConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    AlwaysSample,
    Latency,
    StatusCode,
    NumericAttribute,
    StringAttribute,
    BooleanAttribute,
    Probabilistic,
    RateLimiting,
    SpanCount,
    TraceState,
    TraceFlags,
    And,
    Not,
    Drop,
    Composite,
    Condition,
}

impl PolicyType {
    fn as_str(self) -> &'static str {
        match self {
            PolicyType::AlwaysSample => "always_sample",
            PolicyType::Latency => "latency",
            PolicyType::StatusCode => "status_code",
            PolicyType::NumericAttribute => "numeric_attribute",
            PolicyType::StringAttribute => "string_attribute",
            PolicyType::BooleanAttribute => "boolean_attribute",
            PolicyType::Probabilistic => "probabilistic",
            PolicyType::RateLimiting => "rate_limiting",
            PolicyType::SpanCount => "span_count",
            PolicyType::TraceState => "trace_state",
            PolicyType::TraceFlags => "trace_flags",
            PolicyType::And => "and",
            PolicyType::Not => "not",
            PolicyType::Drop => "drop",
            PolicyType::Composite => "composite",
            PolicyType::Condition => "condition",
        }
    }

    /// Whether it combines other policies (and may not be nested in
    /// `and`, `not` or `drop`).
    fn is_combining(self) -> bool {
        matches!(
            self,
            PolicyType::And | PolicyType::Not | PolicyType::Drop | PolicyType::Composite
        )
    }
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyOptions {
    #[serde(default)]
    pub threshold_ms: i64,
    #[serde(default)]
    pub upper_threshold_ms: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusCodeOptions {
    pub status_codes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericAttributeOptions {
    pub key: String,
    #[serde(default)]
    pub min_value: Option<f64>,
    #[serde(default)]
    pub max_value: Option<f64>,
    #[serde(default)]
    pub invert_match: bool,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StringAttributeOptions {
    pub key: String,
    pub values: Vec<String>,
    #[serde(default)]
    pub enabled_regex_matching: bool,
    #[serde(default)]
    pub cache_max_size: Option<usize>,
    #[serde(default)]
    pub invert_match: bool,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BooleanAttributeOptions {
    pub key: String,
    pub value: bool,
    #[serde(default)]
    pub invert_match: bool,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbabilisticOptions {
    pub sampling_percentage: f64,
    #[serde(default)]
    pub hash_salt: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitingOptions {
    pub spans_per_second: u64,
    #[serde(default)]
    pub burst_capacity: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpanCountOptions {
    #[serde(default)]
    pub min_spans: u64,
    #[serde(default)]
    pub max_spans: u64,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceStateOptions {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AndOptions {
    pub and_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotOptions {
    pub not_sub_policy: Box<PolicyConfig>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DropOptions {
    pub drop_sub_policy: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompositeOptions {
    pub max_total_spans_per_second: u64,
    /// Accepted for the collector's configs; sub-policies are tried in the
    /// order they are listed, as the collector does.
    #[serde(default)]
    pub policy_order: Vec<String>,
    pub composite_sub_policy: Vec<PolicyConfig>,
    #[serde(default)]
    pub rate_allocation: Vec<RateAllocation>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateAllocation {
    pub policy: String,
    pub percent: f64,
}

/// A policy's answer for one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Sampled,
    NotSampled,
    /// A `drop` policy matched: not sampled, whatever the others say.
    Dropped,
}

impl Vote {
    fn from_match(matched: bool) -> Vote {
        if matched {
            Vote::Sampled
        } else {
            Vote::NotSampled
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Sampled => "sampled",
            Vote::NotSampled => "not_sampled",
            Vote::Dropped => "dropped",
        }
    }
}

/// What a policy sees: the trace's id, its spans so far, and the time on
/// the transform's clock (seconds) for the rate limiters.
pub struct TraceView<'a> {
    pub trace_id: TraceId,
    pub spans: &'a [Event],
    pub now_secs: f64,
}

impl TraceView<'_> {
    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.spans.iter().filter_map(|e| match e {
            Event::Span(s) => Some(&**s),
            _ => None,
        })
    }

    /// Whether any span's attribute `key`, or its resource's, satisfies
    /// `test`.
    fn any_attribute(&self, key: &str, mut test: impl FnMut(&Value) -> bool) -> bool {
        self.spans().any(|s| {
            s.attributes.get(key).is_some_and(&mut test)
                || s.resource().attributes.get(key).is_some_and(&mut test)
        })
    }
}

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub name: String,
    rule: Rule,
}

#[derive(Debug)]
enum Rule {
    Always,
    Latency {
        above_ms: i64,
        at_most_ms: Option<i64>,
    },
    StatusCode(Vec<StatusCode>),
    Numeric {
        key: String,
        min: f64,
        max: f64,
        invert: bool,
    },
    Text {
        key: String,
        matcher: TextMatcher,
        invert: bool,
    },
    Boolean {
        key: String,
        value: bool,
        invert: bool,
    },
    Probabilistic {
        ratio: f64,
        seed: u64,
    },
    RateLimiting(TokenBucket),
    SpanCount {
        min: u64,
        max: Option<u64>,
    },
    TraceState {
        key: String,
        values: HashSet<String>,
    },
    TraceFlags,
    And(Vec<Policy>),
    Not(Box<Policy>),
    Drop(Vec<Policy>),
    Composite(Composite),
    Condition(Box<EventCondition>),
}

#[derive(Debug)]
enum TextMatcher {
    Exact(HashSet<String>),
    Regex {
        patterns: Vec<Regex>,
        /// Results by value, so a busy value is matched once.
        memo: LruCache<String, bool>,
    },
}

impl TextMatcher {
    fn matches(&mut self, value: &Value) -> bool {
        let Value::Bytes(bytes) = value else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            return false;
        };
        match self {
            TextMatcher::Exact(values) => values.contains(text),
            TextMatcher::Regex { patterns, memo } => {
                if let Some(hit) = memo.get(text) {
                    return *hit;
                }
                let hit = patterns.iter().any(|p| p.is_match(text));
                memo.put(text.to_owned(), hit);
                hit
            }
        }
    }
}

/// Spans per second with a burst allowance: tokens refill continuously up
/// to `capacity`; a trace passes when its spans fit and takes them.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: f64,
}

impl TokenBucket {
    fn new(rate: u64, capacity: u64) -> TokenBucket {
        TokenBucket {
            rate: rate as f64,
            capacity: capacity as f64,
            tokens: capacity as f64,
            updated: 0.0,
        }
    }

    fn take(&mut self, n: usize, now: f64) -> bool {
        let elapsed = (now - self.updated).max(0.0);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = now;
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// The collector's composite: each sub-policy gets a share of
/// `max_total_spans_per_second`; a trace goes to the first sub-policy
/// that samples it and is kept if that one's share for the current second
/// still holds its spans.
#[derive(Debug)]
struct Composite {
    total: u64,
    subs: Vec<(Policy, u64)>,
    second: i64,
    used: Vec<u64>,
}

impl Composite {
    fn vote(&mut self, trace: &TraceView<'_>) -> Vote {
        let second = trace.now_secs.floor() as i64;
        if second != self.second {
            self.second = second;
            self.used.iter_mut().for_each(|u| *u = 0);
        }
        let spans = trace.spans.len() as u64;
        for (i, (policy, budget)) in self.subs.iter_mut().enumerate() {
            if policy.vote(trace) != Vote::Sampled {
                continue;
            }
            let used = self.used[i] + spans;
            if used <= *budget && used <= self.total {
                self.used[i] = used;
                return Vote::Sampled;
            }
            return Vote::NotSampled;
        }
        Vote::NotSampled
    }
}

/// A configuration error inside a policy: which option, and why.
fn invalid(path: &str, message: impl Into<String>) -> BuildError {
    BuildError::new("policies", format!("{path}: {}", message.into()))
}

impl Policy {
    /// Compiles a configured policy; `path` names it in errors
    /// (`policies[2] "errors"`), `nested_in` is the combining policy type
    /// it sits in.
    pub fn compile(
        config: &PolicyConfig,
        path: &str,
        nested_in: Option<PolicyType>,
    ) -> Result<Policy, BuildError> {
        let t = config.policy_type;
        let path = format!("{path} \"{}\"", config.name);
        if config.name.trim().is_empty() {
            return Err(invalid(&path, "a policy needs a `name`"));
        }
        if let Some(outer) = nested_in {
            let allowed =
                !t.is_combining() || (outer == PolicyType::Composite && t == PolicyType::And);
            if !allowed {
                return Err(invalid(
                    &path,
                    format!(
                        "a `{}` policy cannot sit inside `{}`",
                        t.as_str(),
                        outer.as_str()
                    ),
                ));
            }
        }
        check_blocks(config, &path)?;
        let missing = || {
            invalid(
                &path,
                format!("type `{0}` needs its options in `{0}`", t.as_str()),
            )
        };
        let rule = match t {
            PolicyType::AlwaysSample => Rule::Always,
            PolicyType::TraceFlags => Rule::TraceFlags,
            PolicyType::Latency => {
                let o = config.latency.as_ref().ok_or_else(missing)?;
                if let Some(upper) = o.upper_threshold_ms
                    && upper <= o.threshold_ms
                {
                    return Err(invalid(
                        &path,
                        "`upper_threshold_ms` must be above `threshold_ms`",
                    ));
                }
                Rule::Latency {
                    above_ms: o.threshold_ms,
                    at_most_ms: o.upper_threshold_ms,
                }
            }
            PolicyType::StatusCode => {
                let o = config.status_code.as_ref().ok_or_else(missing)?;
                if o.status_codes.is_empty() {
                    return Err(invalid(&path, "`status_codes` is empty"));
                }
                let codes = o
                    .status_codes
                    .iter()
                    .map(|c| match c.as_str() {
                        "OK" => Ok(StatusCode::Ok),
                        "ERROR" => Ok(StatusCode::Error),
                        "UNSET" => Ok(StatusCode::Unset),
                        other => Err(invalid(
                            &path,
                            format!("unknown status code `{other}` (use OK, ERROR or UNSET)"),
                        )),
                    })
                    .collect::<Result<_, _>>()?;
                Rule::StatusCode(codes)
            }
            PolicyType::NumericAttribute => {
                let o = config.numeric_attribute.as_ref().ok_or_else(missing)?;
                let (min, max) = (
                    o.min_value.unwrap_or(f64::NEG_INFINITY),
                    o.max_value.unwrap_or(f64::INFINITY),
                );
                if o.min_value.is_none() && o.max_value.is_none() {
                    return Err(invalid(&path, "set `min_value`, `max_value` or both"));
                }
                if min > max || min.is_nan() || max.is_nan() {
                    return Err(invalid(&path, "`min_value` is above `max_value`"));
                }
                Rule::Numeric {
                    key: o.key.clone(),
                    min,
                    max,
                    invert: o.invert_match,
                }
            }
            PolicyType::StringAttribute => {
                let o = config.string_attribute.as_ref().ok_or_else(missing)?;
                let values: Vec<&String> = o.values.iter().filter(|v| !v.is_empty()).collect();
                if values.is_empty() {
                    return Err(invalid(&path, "`values` is empty"));
                }
                let matcher = if o.enabled_regex_matching {
                    let patterns = values
                        .iter()
                        .map(|v| {
                            Regex::new(v).map_err(|e| {
                                invalid(&path, format!("`{v}` is not a regular expression: {e}"))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    let size = o.cache_max_size.filter(|n| *n > 0).unwrap_or(128);
                    TextMatcher::Regex {
                        patterns,
                        memo: LruCache::new(NonZeroUsize::new(size).unwrap_or(NonZeroUsize::MIN)),
                    }
                } else {
                    TextMatcher::Exact(values.into_iter().cloned().collect())
                };
                Rule::Text {
                    key: o.key.clone(),
                    matcher,
                    invert: o.invert_match,
                }
            }
            PolicyType::BooleanAttribute => {
                let o = config.boolean_attribute.as_ref().ok_or_else(missing)?;
                Rule::Boolean {
                    key: o.key.clone(),
                    value: o.value,
                    invert: o.invert_match,
                }
            }
            PolicyType::Probabilistic => {
                let o = config.probabilistic.as_ref().ok_or_else(missing)?;
                if !(0.0..=100.0).contains(&o.sampling_percentage) {
                    return Err(invalid(&path, "`sampling_percentage` is from 0 to 100"));
                }
                Rule::Probabilistic {
                    ratio: o.sampling_percentage / 100.0,
                    seed: salt_seed(&o.hash_salt),
                }
            }
            PolicyType::RateLimiting => {
                let o = config.rate_limiting.as_ref().ok_or_else(missing)?;
                if o.spans_per_second == 0 {
                    return Err(invalid(&path, "`spans_per_second` must be above 0"));
                }
                let burst = o
                    .burst_capacity
                    .unwrap_or(o.spans_per_second.saturating_mul(2));
                Rule::RateLimiting(TokenBucket::new(o.spans_per_second, burst))
            }
            PolicyType::SpanCount => {
                let o = config.span_count.as_ref().ok_or_else(missing)?;
                let max = (o.max_spans > 0).then_some(o.max_spans);
                if max.is_some_and(|max| max < o.min_spans) {
                    return Err(invalid(&path, "`max_spans` is below `min_spans`"));
                }
                Rule::SpanCount {
                    min: o.min_spans,
                    max,
                }
            }
            PolicyType::TraceState => {
                let o = config.trace_state.as_ref().ok_or_else(missing)?;
                if o.values.is_empty() {
                    return Err(invalid(&path, "`values` is empty"));
                }
                Rule::TraceState {
                    key: o.key.clone(),
                    values: o.values.iter().cloned().collect(),
                }
            }
            PolicyType::And => {
                let o = config.and.as_ref().ok_or_else(missing)?;
                Rule::And(compile_list(&o.and_sub_policy, &path, "and_sub_policy", t)?)
            }
            PolicyType::Drop => {
                let o = config.drop.as_ref().ok_or_else(missing)?;
                Rule::Drop(compile_list(
                    &o.drop_sub_policy,
                    &path,
                    "drop_sub_policy",
                    t,
                )?)
            }
            PolicyType::Not => {
                let o = config.not.as_ref().ok_or_else(missing)?;
                let inner = Policy::compile(
                    &o.not_sub_policy,
                    &format!("{path}.not_sub_policy"),
                    Some(t),
                )?;
                Rule::Not(Box::new(inner))
            }
            PolicyType::Composite => {
                let o = config.composite.as_ref().ok_or_else(missing)?;
                Rule::Composite(compile_composite(o, &path)?)
            }
            PolicyType::Condition => {
                let o = config.condition.as_ref().ok_or_else(missing)?;
                Rule::Condition(Box::new(
                    EventCondition::compile("policies", o)
                        .map_err(|e| invalid(&path, e.to_string()))?,
                ))
            }
        };
        Ok(Policy {
            name: config.name.clone(),
            rule,
        })
    }

    /// Whether this is a `drop` policy (they run before the others).
    pub fn is_drop(&self) -> bool {
        matches!(self.rule, Rule::Drop(_))
    }

    /// This policy's answer for `trace`.
    pub fn vote(&mut self, trace: &TraceView<'_>) -> Vote {
        match &mut self.rule {
            Rule::Always => Vote::Sampled,
            Rule::Latency {
                above_ms,
                at_most_ms,
            } => {
                let ms = duration_ms(trace);
                Vote::from_match(ms > *above_ms && at_most_ms.is_none_or(|max| ms <= max))
            }
            Rule::StatusCode(codes) => {
                Vote::from_match(trace.spans().any(|s| codes.contains(&s.status.code)))
            }
            Rule::Numeric {
                key,
                min,
                max,
                invert,
            } => {
                let hit = trace.any_attribute(key, |v| {
                    let n = match v {
                        Value::Integer(i) => *i as f64,
                        Value::Float(f) => *f,
                        _ => return false,
                    };
                    n >= *min && n <= *max
                });
                Vote::from_match(hit != *invert)
            }
            Rule::Text {
                key,
                matcher,
                invert,
            } => {
                let hit = trace.any_attribute(key, |v| matcher.matches(v));
                Vote::from_match(hit != *invert)
            }
            Rule::Boolean { key, value, invert } => {
                let hit = trace.any_attribute(key, |v| matches!(v, Value::Bool(b) if b == value));
                Vote::from_match(hit != *invert)
            }
            Rule::Probabilistic { ratio, seed } => {
                Vote::from_match(crate::sample::trace_keep(&trace.trace_id, *ratio, *seed))
            }
            Rule::RateLimiting(bucket) => {
                Vote::from_match(bucket.take(trace.spans.len(), trace.now_secs))
            }
            Rule::SpanCount { min, max } => {
                let n = trace.spans.len() as u64;
                Vote::from_match(n >= *min && max.is_none_or(|max| n <= max))
            }
            Rule::TraceState { key, values } => Vote::from_match(trace.spans().any(|s| {
                trace_state_value(&s.trace_state, key).is_some_and(|v| values.contains(v))
            })),
            Rule::TraceFlags => Vote::from_match(trace.spans().any(|s| s.flags & 1 == 1)),
            Rule::And(subs) => {
                // Stops at the first refusal, so a rate limiter after it
                // spends nothing.
                for sub in subs {
                    if sub.vote(trace) != Vote::Sampled {
                        return Vote::NotSampled;
                    }
                }
                Vote::Sampled
            }
            Rule::Not(inner) => match inner.vote(trace) {
                Vote::Sampled => Vote::NotSampled,
                _ => Vote::Sampled,
            },
            Rule::Drop(subs) => {
                for sub in subs {
                    if sub.vote(trace) != Vote::Sampled {
                        return Vote::NotSampled;
                    }
                }
                Vote::Dropped
            }
            Rule::Composite(c) => c.vote(trace),
            Rule::Condition(condition) => {
                Vote::from_match(trace.spans.iter().any(|e| condition.check(e)))
            }
        }
    }
}

/// The seed `probabilistic` hashes trace ids with: `sample`'s when no salt
/// is given, so that both keep the same traces.
fn salt_seed(salt: &str) -> u64 {
    if salt.is_empty() {
        crate::sample::TRACE_SALT
    } else {
        xxhash_rust::xxh3::xxh3_64(salt.as_bytes())
    }
}

/// Earliest start to latest end over the trace's spans, in whole
/// milliseconds.
fn duration_ms(trace: &TraceView<'_>) -> i64 {
    let (start, end) = trace.spans().fold((i64::MAX, i64::MIN), |(start, end), s| {
        (
            start.min(s.start_time_unix_nano),
            end.max(s.end_time_unix_nano),
        )
    });
    if start > end {
        return 0;
    }
    (i128::from(end) - i128::from(start)).div_euclid(1_000_000) as i64
}

/// The value of `key` in a W3C `tracestate` (`k1=v1,k2=v2`).
fn trace_state_value<'a>(state: &'a str, key: &str) -> Option<&'a str> {
    state.split(',').find_map(|member| {
        let (k, v) = member.trim().split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Refuses an options table for another type than the policy's: a
/// misplaced option would otherwise be silently ignored.
fn check_blocks(config: &PolicyConfig, path: &str) -> Result<(), BuildError> {
    let set = [
        (PolicyType::Latency, config.latency.is_some()),
        (PolicyType::StatusCode, config.status_code.is_some()),
        (
            PolicyType::NumericAttribute,
            config.numeric_attribute.is_some(),
        ),
        (
            PolicyType::StringAttribute,
            config.string_attribute.is_some(),
        ),
        (
            PolicyType::BooleanAttribute,
            config.boolean_attribute.is_some(),
        ),
        (PolicyType::Probabilistic, config.probabilistic.is_some()),
        (PolicyType::RateLimiting, config.rate_limiting.is_some()),
        (PolicyType::SpanCount, config.span_count.is_some()),
        (PolicyType::TraceState, config.trace_state.is_some()),
        (PolicyType::And, config.and.is_some()),
        (PolicyType::Not, config.not.is_some()),
        (PolicyType::Drop, config.drop.is_some()),
        (PolicyType::Composite, config.composite.is_some()),
        (PolicyType::Condition, config.condition.is_some()),
    ];
    match set.iter().find(|(t, on)| *on && *t != config.policy_type) {
        Some((t, _)) => Err(invalid(
            path,
            format!(
                "`{}` options on a policy of type `{}`",
                t.as_str(),
                config.policy_type.as_str()
            ),
        )),
        None => Ok(()),
    }
}

fn compile_list(
    configs: &[PolicyConfig],
    path: &str,
    option: &str,
    outer: PolicyType,
) -> Result<Vec<Policy>, BuildError> {
    if configs.is_empty() {
        return Err(invalid(path, format!("`{option}` is empty")));
    }
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| Policy::compile(c, &format!("{path}.{option}[{i}]"), Some(outer)))
        .collect()
}

fn compile_composite(o: &CompositeOptions, path: &str) -> Result<Composite, BuildError> {
    let subs = compile_list(
        &o.composite_sub_policy,
        path,
        "composite_sub_policy",
        PolicyType::Composite,
    )?;
    for a in &o.rate_allocation {
        if !subs.iter().any(|p| p.name == a.policy) {
            return Err(invalid(
                path,
                format!(
                    "`rate_allocation` names `{}`, which is not a sub-policy",
                    a.policy
                ),
            ));
        }
    }
    let total = o.max_total_spans_per_second;
    // A sub-policy without a share (or with none above 0) gets an equal
    // share of the total.
    let equal = total / subs.len() as u64;
    let subs: Vec<(Policy, u64)> = subs
        .into_iter()
        .map(|p| {
            let budget = o
                .rate_allocation
                .iter()
                .find(|a| a.policy == p.name && a.percent > 0.0)
                .map_or(equal, |a| (a.percent / 100.0 * total as f64) as u64);
            (p, budget)
        })
        .collect();
    Ok(Composite {
        total,
        used: vec![0; subs.len()],
        subs,
        second: i64::MIN,
    })
}
