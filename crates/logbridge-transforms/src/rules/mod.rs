//! The `rules` transform: Prometheus alerting and recording rules evaluated
//! in the pipeline over the metrics that reach it.
//!
//! Metric events coming in are kept in the engine's series store
//! ([`logbridge_rules`]); every group is evaluated at its interval; the
//! results leave on two outputs: `<id>.records` (recorded series and the
//! `ALERTS`/`ALERTS_FOR_STATE` series, as metric events, routable to any
//! metrics sink) and `<id>.alerts` (alert notifications as log events, for
//! the `alertmanager` sink or any other). Alert state is saved in
//! `data_dir/<id>/alerts.json` after each evaluation and restored at start.
//!
//! - [`load`]: rule files and glob patterns;
//! - [`convert`]: events to samples and back;
//! - [`state`]: the saved alert state;
//! - [`view`]: the `/api/v1/rules` and `/api/v1/alerts` views.

pub mod convert;
pub mod load;
pub mod state;
pub mod view;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, EventBatch};
use logbridge_rules::Clock;
use logbridge_rules::promql::EngineOptions;
use logbridge_rules::rules::{RuleEngine, RuleFailure, RulesConfig};
use serde::Deserialize;
use tracing::{error, info, warn};

use self::view::SharedView;

/// The output carrying recorded series and `ALERTS`.
pub const RECORDS_OUTPUT: &str = "records";
/// The output carrying alert notifications.
pub const ALERTS_OUTPUT: &str = "alerts";

/// Evaluates Prometheus rule files over the metrics it receives.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesTransformConfig {
    /// Prometheus rule files: paths or glob patterns (`rules/*.yml`),
    /// relative to the working directory. Files load unchanged from
    /// Prometheus.
    pub rule_files: Vec<String>,
    /// Seconds between evaluations of groups that set no `interval`
    /// (Prometheus' `evaluation_interval`).
    #[serde(default = "default_evaluation_interval")]
    pub evaluation_interval_secs: f64,
    /// Seconds to look back from the evaluation time for groups that set no
    /// `query_offset` (for samples that arrive late).
    #[serde(default)]
    pub query_offset_secs: f64,
    /// Seconds between two notifications of the same firing alert.
    #[serde(default = "default_resend_delay")]
    pub resend_delay_secs: f64,
    /// The most series held; samples of new series beyond it are dropped
    /// and counted.
    #[serde(default = "default_max_series")]
    pub max_series: usize,
    /// Labels added to alerts (`$externalLabels` in templates).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// The URL alerts link back to (`generatorURL`, `$externalURL`).
    #[serde(default = "default_external_url")]
    pub external_url: String,
    /// How far back an instant selector looks for a sample, in seconds.
    #[serde(default = "default_lookback")]
    pub lookback_delta_secs: f64,
    /// The most samples one query may hold; beyond it the query fails.
    #[serde(default = "default_max_samples")]
    pub query_max_samples: usize,
    /// The longest a query may run, in seconds.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: f64,
}

fn default_evaluation_interval() -> f64 {
    60.0
}
fn default_resend_delay() -> f64 {
    60.0
}
fn default_max_series() -> usize {
    1_000_000
}
fn default_external_url() -> String {
    "http://localhost:8080".to_string()
}
fn default_lookback() -> f64 {
    300.0
}
fn default_max_samples() -> usize {
    50_000_000
}
fn default_query_timeout() -> f64 {
    120.0
}

fn millis(option: &str, secs: f64, allow_zero: bool) -> Result<i64, BuildError> {
    if !secs.is_finite() || secs < 0.0 || (!allow_zero && secs == 0.0) {
        return Err(BuildError::new(
            option,
            format!("{option} must be a positive number of seconds, not {secs}"),
        ));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// The system's monotonic clock: what query time limits and evaluation
/// durations are measured with (the engine reads no clock itself).
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

impl RulesTransformConfig {
    fn rules_config(&self) -> Result<RulesConfig, BuildError> {
        Ok(RulesConfig {
            default_interval_ms: millis(
                "evaluation_interval_secs",
                self.evaluation_interval_secs,
                false,
            )?,
            default_query_offset_ms: millis("query_offset_secs", self.query_offset_secs, true)?,
            resend_delay_ms: millis("resend_delay_secs", self.resend_delay_secs, false)?,
            max_series: self.max_series,
            keep_unread_series: false,
            external_labels: self
                .external_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            external_url: self.external_url.clone(),
            engine: EngineOptions {
                lookback_ms: millis("lookback_delta_secs", self.lookback_delta_secs, false)?,
                max_samples: self.query_max_samples,
                timeout: Some(Duration::from_millis(millis(
                    "query_timeout_secs",
                    self.query_timeout_secs,
                    false,
                )? as u64)),
                clock: Some(Arc::new(SystemClock)),
                ..EngineOptions::default()
            },
        })
    }

    /// Loads the rule files and builds the engine from those that load;
    /// returns it with the problems of the others (a pattern matching
    /// nothing, a file that does not parse), one per line with
    /// `file:line:column`.
    pub fn engine(&self) -> Result<(RuleEngine, Vec<String>), BuildError> {
        let config = self.rules_config()?;
        let mut problems = Vec::new();
        let mut paths = Vec::new();
        for pattern in &self.rule_files {
            match load::expand_patterns(std::slice::from_ref(pattern), std::path::Path::new(".")) {
                Ok(found) => paths.extend(found),
                Err(e) => problems.push(e),
            }
        }
        let (files, load_problems) = load::load_rule_files(&paths);
        problems.extend(load_problems);
        let engine = RuleEngine::new(&files, config).map_err(|errors| {
            let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            BuildError::new("rule_files", text.join("\n"))
        })?;
        Ok((engine, problems))
    }
}

impl TransformConfig for RulesTransformConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let (mut engine, problems) = self.engine()?;
        let state_file = cx.component_dir().join("alerts.json");
        // Reported when the transform starts running, not when the
        // configuration is only checked.
        let mut startup = Vec::new();
        for problem in problems {
            startup.push(StartupNote::RuleFileProblem(problem));
        }
        match std::fs::read_to_string(&state_file) {
            Ok(text) => match state::decode(&text, now_ms()) {
                Ok(Some((saved_at, saved))) => {
                    let alerts = saved.iter().map(|s| s.alerts.len()).sum();
                    engine.restore(saved, saved_at);
                    startup.push(StartupNote::Restored(alerts));
                }
                Ok(None) => startup.push(StartupNote::StateTooOld),
                Err(e) => startup.push(StartupNote::StateUnreadable(e)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => startup.push(StartupNote::StateUnreadable(e.to_string())),
        }
        let view = Arc::new(SharedView::default());
        view.refresh(&engine);
        cx.registry.register_rules_view(view.clone());
        Ok(Box::new(RulesTransform {
            id: cx.id.clone(),
            engine,
            state_file,
            saved: String::new(),
            saved_at: 0,
            view,
            metrics: cx.metrics.clone(),
            dropped_reported: 0,
            failing: BTreeMap::new(),
            missed_reported: Vec::new(),
            startup,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::METRIC
    }

    fn problems(&self) -> Vec<String> {
        match self.engine() {
            Ok((_, problems)) => problems,
            Err(e) => vec![e.message],
        }
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![
            OutputDef::named(RECORDS_OUTPUT, DataKind::METRIC),
            OutputDef::named(ALERTS_OUTPUT, DataKind::LOG),
        ]
    }
}

static SERIES: GaugeDef = GaugeDef {
    name: "logbridge_rules_series",
    help: "Series held by the rules engine's store.",
    counter: false,
};
static SAMPLES: GaugeDef = GaugeDef {
    name: "logbridge_rules_samples",
    help: "Samples held by the rules engine's store.",
    counter: false,
};
static FAILING_RULES: GaugeDef = GaugeDef {
    name: "logbridge_rules_failing_rules",
    help: "Rules whose last evaluation failed.",
    counter: false,
};
static SAMPLE_BYTES: GaugeDef = GaugeDef {
    name: "logbridge_rules_sample_bytes",
    help: "Heap bytes of the samples held by the rules engine's store.",
    counter: false,
};
static SAMPLES_NOT_READ: GaugeDef = GaugeDef {
    name: "logbridge_rules_samples_not_read_total",
    help: "Incoming samples of series that no loaded rule reads, not stored.",
    counter: true,
};
static ITERATIONS_MISSED: GaugeDef = GaugeDef {
    name: "logbridge_rules_group_iterations_missed_total",
    help: "Evaluation times of a rule group skipped because the engine was late (a busy process, or a round longer than the interval).",
    counter: true,
};

/// How often an unchanged alert state is written again.
const STATE_REFRESH_MS: i64 = 60_000;

/// What the transform says once it runs.
enum StartupNote {
    RuleFileProblem(String),
    Restored(usize),
    StateTooOld,
    StateUnreadable(String),
}

struct RulesTransform {
    id: String,
    engine: RuleEngine,
    state_file: PathBuf,
    /// The state last written, to write only changes, and when.
    saved: String,
    saved_at: i64,
    view: Arc<SharedView>,
    metrics: Arc<ComponentMetrics>,
    /// Samples of new series dropped, as last reported.
    dropped_reported: u64,
    /// Failing rules (group, rule) and the error last logged for each.
    failing: BTreeMap<(String, String), String>,
    /// Missed iterations of each group, as last reported.
    missed_reported: Vec<u64>,
    startup: Vec<StartupNote>,
}

impl RulesTransform {
    fn report_startup(&mut self) {
        let id = &self.id;
        let mut problems = Vec::new();
        for note in self.startup.drain(..) {
            match note {
                StartupNote::RuleFileProblem(problem) => {
                    error!(message = "Rule file not loaded; the others are.", component = %id, %problem);
                    problems.push(problem);
                }
                StartupNote::Restored(alerts) => {
                    info!(message = "Restored alert state.", component = %id, alerts)
                }
                StartupNote::StateTooOld => info!(
                    message = "Saved alert state is older than the outage tolerance; alerts start over.",
                    component = %id
                ),
                StartupNote::StateUnreadable(error) => warn!(
                    message = "Saved alert state is unreadable; alerts start over.",
                    component = %id,
                    %error
                ),
            }
        }
        if !problems.is_empty() {
            self.metrics.set_problem(Some(format!(
                "{} rule file problem(s): {}",
                problems.len(),
                problems.join("; ")
            )));
        }
    }

    /// Counts every failed rule evaluation as an error, and logs a rule
    /// when it starts failing, fails differently, or recovers (not at
    /// every evaluation).
    fn report_failures(&mut self, failures: &[RuleFailure]) {
        let id = &self.id;
        for f in failures {
            self.metrics.add_error();
            let key = (f.group.clone(), f.rule.clone());
            if self.failing.get(&key) != Some(&f.error) {
                warn!(message = "Rule evaluation failed.", component = %id, group = %f.group, rule = %f.rule, error = %f.error);
                self.failing.insert(key, f.error.clone());
            }
        }
        let engine = &self.engine;
        self.failing.retain(|(group, rule), _| {
            let still = engine.groups().iter().any(|g| {
                &g.name == group
                    && g.rules
                        .iter()
                        .any(|r| r.name() == rule && r.status().last_error.is_some())
            });
            if !still {
                info!(message = "Rule evaluates again.", component = %id, %group, %rule);
            }
            still
        });
        self.metrics
            .set_gauge(&FAILING_RULES, &[], self.failing.len() as i64);
    }

    /// Exports each group's missed iterations, and logs a group when it
    /// misses more.
    fn report_missed_iterations(&mut self) {
        let groups = self.engine.groups();
        self.missed_reported.resize(groups.len(), 0);
        for (group, reported) in groups.iter().zip(&mut self.missed_reported) {
            let labels = [
                ("file", group.file.as_str()),
                ("group", group.name.as_str()),
            ];
            self.metrics
                .set_gauge(&ITERATIONS_MISSED, &labels, group.iterations_missed as i64);
            if group.iterations_missed > *reported {
                warn!(
                    message = "Rule group evaluation was late; evaluation times skipped.",
                    component = %self.id,
                    group = %group.name,
                    skipped = group.iterations_missed - *reported,
                    interval_ms = group.interval_ms,
                );
                *reported = group.iterations_missed;
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Transform for RulesTransform {
    fn transform(&mut self, batch: EventBatch, _out: &mut TransformOutputs) {
        for (labels, t, v) in convert::samples(batch.events(), now_ms()) {
            self.engine.ingest(&labels, t, v);
        }
        let dropped = self.engine.samples_over_series_limit + self.engine.samples_out_of_order;
        if dropped > self.dropped_reported {
            self.metrics
                .add_discarded((dropped - self.dropped_reported) as usize, false);
            self.dropped_reported = dropped;
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        // A quarter of the shortest group interval (at most a second), so
        // that timer jitter cannot make a tick skip a group's step.
        let shortest = self
            .engine
            .groups()
            .iter()
            .map(|g| g.interval_ms)
            .min()
            .unwrap_or(60_000);
        Some(Duration::from_millis(
            (shortest / 4).clamp(100, 1_000) as u64
        ))
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        if !self.startup.is_empty() {
            self.report_startup();
        }
        let now = now_ms();
        let evaluation = self.engine.evaluate_due(now);
        if evaluation.groups_evaluated == 0 {
            return;
        }
        self.report_failures(&evaluation.failures);
        self.report_missed_iterations();
        if !evaluation.samples.is_empty() {
            let events = evaluation
                .samples
                .iter()
                .map(|(labels, t, v)| convert::metric_event(labels, *t, *v))
                .collect();
            out.push_named(RECORDS_OUTPUT, EventBatch::new(events));
        }
        if !evaluation.notifications.is_empty() {
            let now_nanos = now.saturating_mul(1_000_000);
            let events = evaluation
                .notifications
                .iter()
                .map(|n| convert::alert_event(n, now_nanos))
                .collect();
            out.push_named(ALERTS_OUTPUT, EventBatch::new(events));
        }
        self.view.refresh(&self.engine);
        let store = self.engine.store();
        self.metrics
            .set_gauge(&SERIES, &[], store.series_count() as i64);
        self.metrics
            .set_gauge(&SAMPLES, &[], store.sample_count() as i64);
        self.metrics
            .set_gauge(&SAMPLE_BYTES, &[], store.sample_bytes() as i64);
        self.metrics
            .set_gauge(&SAMPLES_NOT_READ, &[], self.engine.samples_not_read as i64);
        let saved = self.engine.saved_alerts();
        let text = state::encode(&saved, now);
        // The timestamp changes every time; compare what follows it. An
        // unchanged state is still rewritten now and then, so that its age
        // says the process was alive; while alerts are active, at every
        // evaluation: a restart takes that time as when the process went
        // down (pending time spent down does not count towards a long
        // `for`).
        let content = text.split_once(',').map_or("", |(_, rest)| rest);
        let active = !saved.is_empty();
        if content != self.saved || now - self.saved_at >= STATE_REFRESH_MS || active {
            match state::write(&self.state_file, &text) {
                Ok(()) => {
                    self.saved = content.to_string();
                    self.saved_at = now;
                }
                Err(error) => {
                    warn!(message = "Cannot save alert state.", path = %self.state_file.display(), %error);
                    self.metrics.add_error();
                }
            }
        }
    }
}
