//! The `tail_sample` transform: holds the spans of each trace until
//! `decision_wait_secs` after its first span arrived, then keeps or drops
//! the whole trace by policies shaped as the OpenTelemetry Collector's tail
//! sampling processor names them ([`policy`]).
//!
//! Final decision: a `drop` policy that matches drops the trace; otherwise
//! any policy that samples keeps it. Kept spans leave together, in the
//! order they came. A trace decided, its id goes to the decision cache
//! (`decision_cache.*`, off by default as in the collector): spans that
//! arrive later follow the decision instead of starting a new trace.
//!
//! Memory is bounded by `num_traces` (a new trace when full decides the
//! oldest one early) and `max_spans_per_trace` (a trace that reaches it is
//! decided at once); both count as early decisions. Spans without a trace
//! id go to `dropped`.
//!
//! Held traces keep the finalizers of the batches their spans came in:
//! a source acknowledges (a Kafka source commits) only past spans whose
//! trace was decided, and, when kept, delivered. A trace whose spans the
//! source withdrew (their Kafka partition is moving to another consumer,
//! which reads them again) is dropped undecided and its batches failed, so
//! the source commits nothing past it and no trace leaves in part.
//!
//! Decision times come in arrival order (one wait for all), so a FIFO
//! queue orders them; no timer wheel is needed.

mod policy;

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs, dropped::mark_dropped,
};
use logbridge_event::{BatchStatus, DataKind, Event, EventBatch, Finalizers, TraceId};
use lru::LruCache;
use serde::Deserialize;

use policy::{Policy, TraceView, Vote};
pub use policy::{PolicyConfig, PolicyType};

/// Keeps or drops whole traces once they are complete.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TailSampleConfig {
    /// Seconds from a trace's first span to its decision (30 by default,
    /// as in the collector). Spans of the trace that come in the meantime
    /// are held with it.
    #[serde(default = "default_decision_wait_secs")]
    pub decision_wait_secs: f64,
    /// The most traces held at once (50,000 by default). A new trace when
    /// full decides the oldest one early (counted).
    #[serde(default = "default_num_traces")]
    pub num_traces: usize,
    /// The most spans held for one trace (10,000 by default): a trace that
    /// reaches it is decided at once (counted), and its later spans follow
    /// the decision through the decision cache, or start a new trace.
    #[serde(default = "default_max_spans_per_trace")]
    pub max_spans_per_trace: usize,
    /// Trace ids remembered after their decision, so late spans follow
    /// it: `sampled_cache_size` and `non_sampled_cache_size` (entries; 0,
    /// the default, remembers none). Ten times `num_traces` is a good size.
    #[serde(default)]
    pub decision_cache: DecisionCacheConfig,
    /// Stop at the first policy that samples (the `drop` policies still run
    /// first): saves work, and rate limiters after it spend nothing.
    #[serde(default)]
    pub sample_on_first_match: bool,
    /// How many new traces a second to expect: sizes the trace table up
    /// front.
    #[serde(default)]
    pub expected_new_traces_per_sec: usize,
    /// The policies: each a `name`, a `type` and that type's options in a
    /// table of the same name, as the OpenTelemetry Collector writes them.
    /// A `drop` policy that matches drops the trace; otherwise any policy
    /// that samples keeps it.
    pub policies: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionCacheConfig {
    /// Ids of kept traces remembered (least recently used go first).
    #[serde(default)]
    pub sampled_cache_size: usize,
    /// Ids of traces not kept, or dropped, remembered.
    #[serde(default)]
    pub non_sampled_cache_size: usize,
}

fn default_decision_wait_secs() -> f64 {
    30.0
}

fn default_num_traces() -> usize {
    50_000
}

fn default_max_spans_per_trace() -> usize {
    10_000
}

/// Votes of each top-level policy, by `decision`.
static POLICY_TRACES: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_policy_traces_total",
    help: "Traces each tail-sampling policy voted on, by policy and vote (sampled, not_sampled, dropped).",
    counter: true,
};

/// Final decisions.
static TRACES: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_traces_total",
    help: "Traces decided, by decision (sampled, not_sampled, dropped).",
    counter: true,
};

static LATE_SPANS: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_late_spans_total",
    help: "Spans that came after their trace was decided and followed the cached decision (sampled, not_sampled).",
    counter: true,
};

static EARLY_DECISIONS: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_early_decisions_total",
    help: "Traces decided before their wait was over, by reason (num_traces, max_spans_per_trace).",
    counter: true,
};

static WITHDRAWN_TRACES: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_withdrawn_traces_total",
    help: "Traces dropped undecided because their source withdrew their spans (a Kafka partition moved to another consumer, which decides them).",
    counter: true,
};

static HELD_TRACES: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_held_traces",
    help: "Traces held, waiting for their decision.",
    counter: false,
};

static HELD_SPANS: GaugeDef = GaugeDef {
    name: "logbridge_tail_sample_held_spans",
    help: "Spans held, waiting for their trace's decision.",
    counter: false,
};

impl TransformConfig for TailSampleConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        Ok(Box::new(self.build_sampler(cx.metrics.clone(), &cx.id)?))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::SPAN
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        vec![
            OutputDef::default_output(input),
            OutputDef::named(DROPPED_OUTPUT, input),
        ]
    }

    fn holds_events_secs(&self) -> Option<f64> {
        Some(self.decision_wait_secs)
    }
}

impl TailSampleConfig {
    fn build_sampler(
        &self,
        metrics: Arc<ComponentMetrics>,
        id: &str,
    ) -> Result<TailSample, BuildError> {
        if !(self.decision_wait_secs.is_finite() && self.decision_wait_secs >= 0.0) {
            return Err(BuildError::new(
                "decision_wait_secs",
                "must be a number of seconds, 0 or more",
            ));
        }
        if self.num_traces == 0 {
            return Err(BuildError::new("num_traces", "must be at least 1"));
        }
        if self.max_spans_per_trace == 0 {
            return Err(BuildError::new("max_spans_per_trace", "must be at least 1"));
        }
        if self.policies.is_empty() {
            return Err(BuildError::new("policies", "no policy is configured")
                .with_hint("add [[transforms.ID.policies]] with a name and a type"));
        }
        let mut policies = Vec::with_capacity(self.policies.len());
        for (i, config) in self.policies.iter().enumerate() {
            if self.policies[..i].iter().any(|p| p.name == config.name) {
                return Err(BuildError::new(
                    "policies",
                    format!("two policies are named `{}`", config.name),
                ));
            }
            policies.push(Policy::compile(config, &format!("policies[{i}]"), None)?);
        }
        // `drop` policies first, as the collector runs them.
        policies.sort_by_key(|p| !p.is_drop());
        let votes = vec![[0; 3]; policies.len()];
        let cache = |size: usize| NonZeroUsize::new(size).map(LruCache::new);
        Ok(TailSample {
            wait: Duration::from_secs_f64(self.decision_wait_secs),
            num_traces: self.num_traces,
            max_spans: self.max_spans_per_trace,
            sample_on_first_match: self.sample_on_first_match,
            policies,
            traces: HashMap::with_capacity(
                self.expected_new_traces_per_sec
                    .saturating_mul(self.decision_wait_secs.ceil() as usize)
                    .min(self.num_traces),
            ),
            queue: VecDeque::new(),
            sampled_cache: cache(self.decision_cache.sampled_cache_size),
            not_sampled_cache: cache(self.decision_cache.non_sampled_cache_size),
            held_spans: 0,
            next_generation: 0,
            batch_seq: 0,
            kept: Vec::new(),
            kept_finalizers: Finalizers::default(),
            counts: Counts {
                votes,
                ..Counts::default()
            },
            start: Instant::now(),
            id: id.to_owned(),
            metrics,
        })
    }
}

/// A trace waiting for its decision.
struct Held {
    spans: Vec<Event>,
    finalizers: Finalizers,
    /// The batch whose finalizers were taken last, so a batch's are taken
    /// once however many of its spans join.
    last_batch: u64,
    /// Tells this trace's queue entry from one of an earlier trace with
    /// the same id that was decided early.
    generation: u64,
}

/// Counts gathered while deciding, published once per call.
#[derive(Default)]
struct Counts {
    /// Per policy: sampled, not sampled, dropped.
    votes: Vec<[u64; 3]>,
    decisions: [u64; 3],
    late: [u64; 2],
    early_full: u64,
    early_large: u64,
    withdrawn: u64,
    discarded: usize,
}

fn vote_index(vote: Vote) -> usize {
    match vote {
        Vote::Sampled => 0,
        Vote::NotSampled => 1,
        Vote::Dropped => 2,
    }
}

const VOTES: [Vote; 3] = [Vote::Sampled, Vote::NotSampled, Vote::Dropped];

struct TailSample {
    wait: Duration,
    num_traces: usize,
    max_spans: usize,
    sample_on_first_match: bool,
    policies: Vec<Policy>,
    traces: HashMap<TraceId, Held>,
    /// Decision times in arrival order, with the generation they are for.
    queue: VecDeque<(Instant, TraceId, u64)>,
    sampled_cache: Option<LruCache<TraceId, ()>>,
    not_sampled_cache: Option<LruCache<TraceId, ()>>,
    held_spans: usize,
    next_generation: u64,
    batch_seq: u64,
    /// Spans of kept traces not yet emitted, and their finalizers.
    kept: Vec<Event>,
    kept_finalizers: Finalizers,
    counts: Counts,
    start: Instant,
    id: String,
    metrics: Arc<ComponentMetrics>,
}

impl TailSample {
    fn transform_at(&mut self, mut batch: EventBatch, now: Instant, out: &mut TransformOutputs) {
        self.batch_seq += 1;
        let finalizers = std::mem::take(&mut batch.finalizers);
        let mut dropped = Vec::new();
        for event in batch.take_events() {
            let trace_id = match &event {
                Event::Span(span) if span.trace_id.is_valid() => span.trace_id,
                _ => {
                    let mut event = event;
                    mark_dropped(
                        &mut event,
                        "no_trace_id",
                        "the span has no trace id",
                        &self.id,
                    );
                    dropped.push(event);
                    continue;
                }
            };
            self.accept(trace_id, event, &finalizers, now);
        }
        if !dropped.is_empty() {
            out.push_named(
                DROPPED_OUTPUT,
                EventBatch::new(dropped).with_finalizers(finalizers.clone()),
            );
        }
        self.decide_due(now);
        self.emit(out);
    }

    /// Takes one span: follows a cached decision, joins its held trace, or
    /// starts a new one.
    fn accept(&mut self, trace_id: TraceId, event: Event, finalizers: &Finalizers, now: Instant) {
        if let Some(held) = self.traces.get_mut(&trace_id) {
            held.spans.push(event);
            if held.last_batch != self.batch_seq {
                held.last_batch = self.batch_seq;
                held.finalizers.merge(finalizers.clone());
            }
            self.held_spans += 1;
            if held.spans.len() >= self.max_spans {
                self.counts.early_large += 1;
                self.decide(trace_id, now);
            }
            return;
        }
        if self
            .sampled_cache
            .as_mut()
            .is_some_and(|c| c.get(&trace_id).is_some())
        {
            self.counts.late[0] += 1;
            self.kept.push(event);
            self.kept_finalizers.merge(finalizers.clone());
            return;
        }
        if self
            .not_sampled_cache
            .as_mut()
            .is_some_and(|c| c.get(&trace_id).is_some())
        {
            self.counts.late[1] += 1;
            self.counts.discarded += 1;
            return;
        }
        if self.traces.len() >= self.num_traces {
            self.decide_oldest(now);
        }
        self.next_generation += 1;
        let generation = self.next_generation;
        self.queue
            .push_back((now + self.wait, trace_id, generation));
        if self.queue.len() > self.queue_bound() {
            // Entries of traces decided early wait in the queue until their
            // time; drop them before they outnumber the live ones.
            let traces = &self.traces;
            self.queue
                .retain(|(_, id, g)| traces.get(id).is_some_and(|h| h.generation == *g));
        }
        self.traces.insert(
            trace_id,
            Held {
                spans: vec![event],
                finalizers: finalizers.clone(),
                last_batch: self.batch_seq,
                generation,
            },
        );
        self.held_spans += 1;
        if self.max_spans == 1 {
            self.counts.early_large += 1;
            self.decide(trace_id, now);
        }
    }

    /// The most queue entries before stale ones are swept out: live ones
    /// are at most `num_traces`, so a sweep costs no more than the pushes
    /// since the last one.
    fn queue_bound(&self) -> usize {
        self.num_traces.max(512) * 2
    }

    /// Decides the trace that has waited longest, before its time.
    fn decide_oldest(&mut self, now: Instant) {
        while let Some((_, trace_id, generation)) = self.queue.pop_front() {
            if self
                .traces
                .get(&trace_id)
                .is_some_and(|h| h.generation == generation)
            {
                self.counts.early_full += 1;
                self.decide(trace_id, now);
                return;
            }
        }
    }

    /// Decides every trace whose wait is over.
    fn decide_due(&mut self, now: Instant) {
        while let Some(&(due, trace_id, generation)) = self.queue.front() {
            if due > now {
                break;
            }
            self.queue.pop_front();
            if self
                .traces
                .get(&trace_id)
                .is_some_and(|h| h.generation == generation)
            {
                self.decide(trace_id, now);
            }
        }
    }

    /// Runs the policies over a held trace and keeps or drops it.
    fn decide(&mut self, trace_id: TraceId, now: Instant) {
        let Some(held) = self.traces.remove(&trace_id) else {
            return;
        };
        self.held_spans -= held.spans.len();
        if held.finalizers.any_withdrawn() {
            // The source gave these spans up (a Kafka partition moved): the
            // next owner reads the whole trace again and decides it. Sending
            // this copy, perhaps a part of the trace, would duplicate or
            // cut it; failing it keeps the source from committing past it.
            held.finalizers.update_status(BatchStatus::Errored);
            self.counts.withdrawn += 1;
            self.counts.discarded += held.spans.len();
            return;
        }
        let view = TraceView {
            trace_id,
            spans: &held.spans,
            now_secs: now.duration_since(self.start).as_secs_f64(),
        };
        let mut decision = Vote::NotSampled;
        for (policy, votes) in self.policies.iter_mut().zip(&mut self.counts.votes) {
            let vote = policy.vote(&view);
            votes[vote_index(vote)] += 1;
            match vote {
                Vote::Dropped => {
                    decision = Vote::Dropped;
                    break;
                }
                Vote::Sampled => {
                    decision = Vote::Sampled;
                    if self.sample_on_first_match {
                        break;
                    }
                }
                Vote::NotSampled => {}
            }
        }
        self.counts.decisions[vote_index(decision)] += 1;
        if decision == Vote::Sampled {
            if let Some(cache) = &mut self.sampled_cache {
                cache.put(trace_id, ());
            }
            self.kept.extend(held.spans);
            self.kept_finalizers.merge(held.finalizers);
        } else {
            if let Some(cache) = &mut self.not_sampled_cache {
                cache.put(trace_id, ());
            }
            // Not kept on purpose: their finalizers go with them, so the
            // source may acknowledge them.
            self.counts.discarded += held.spans.len();
        }
    }

    /// Sends what was kept, and publishes the counts.
    fn emit(&mut self, out: &mut TransformOutputs) {
        if !self.kept.is_empty() {
            let events = std::mem::take(&mut self.kept);
            let finalizers = std::mem::take(&mut self.kept_finalizers);
            out.push(EventBatch::new(events).with_finalizers(finalizers));
        }
        let counts = std::mem::take(&mut self.counts);
        let m = &self.metrics;
        for (policy, votes) in self.policies.iter().zip(&counts.votes) {
            for (vote, n) in VOTES.iter().zip(votes) {
                if *n > 0 {
                    m.add_to_gauge(
                        &POLICY_TRACES,
                        &[("policy", &policy.name), ("decision", vote.as_str())],
                        *n as i64,
                    );
                }
            }
        }
        for (vote, n) in VOTES.iter().zip(counts.decisions) {
            if n > 0 {
                m.add_to_gauge(&TRACES, &[("decision", vote.as_str())], n as i64);
            }
        }
        for (vote, n) in VOTES.iter().zip(counts.late) {
            if n > 0 {
                m.add_to_gauge(&LATE_SPANS, &[("decision", vote.as_str())], n as i64);
            }
        }
        for (reason, n) in [
            ("num_traces", counts.early_full),
            ("max_spans_per_trace", counts.early_large),
        ] {
            if n > 0 {
                m.add_to_gauge(&EARLY_DECISIONS, &[("reason", reason)], n as i64);
            }
        }
        if counts.withdrawn > 0 {
            m.add_to_gauge(&WITHDRAWN_TRACES, &[], counts.withdrawn as i64);
        }
        if counts.discarded > 0 {
            m.add_discarded(counts.discarded, true);
        }
        m.set_gauge(&HELD_TRACES, &[], self.traces.len() as i64);
        m.set_gauge(&HELD_SPANS, &[], self.held_spans as i64);
        self.counts.votes = vec![[0; 3]; self.policies.len()];
    }
}

impl Transform for TailSample {
    fn transform(&mut self, batch: EventBatch, out: &mut TransformOutputs) {
        self.transform_at(batch, Instant::now(), out);
    }

    fn tick_interval(&self) -> Option<Duration> {
        // Often enough that a decision waits at most a few milliseconds
        // past its time when no span comes to trigger it.
        Some(Duration::from_millis(5))
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        self.decide_due(Instant::now());
        self.emit(out);
    }

    fn finish(&mut self, out: &mut TransformOutputs) {
        // The input has ended: every held trace is decided on what it has.
        let now = Instant::now();
        while let Some((_, trace_id, generation)) = self.queue.pop_front() {
            if self
                .traces
                .get(&trace_id)
                .is_some_and(|h| h.generation == generation)
            {
                self.decide(trace_id, now);
            }
        }
        self.emit(out);
    }
}

#[cfg(test)]
mod tests;
