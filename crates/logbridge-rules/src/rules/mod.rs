//! Rule groups evaluated over the series store: recording rules write new
//! series back into it (visible to later rules and handed to the pipeline),
//! alerting rules keep alert state and say which notifications are due.
//!
//! The caller owns time: it feeds samples with [`RuleEngine::ingest`] and
//! asks for [`RuleEngine::evaluate_due`] (or a group at a chosen time, as
//! the rule unit tests do); nothing here reads a clock: how long groups and
//! rules take is measured with the caller's [`Clock`] in the engine
//! options, if it gives one.

pub mod alerting;
mod recording;

use std::time::{Duration, Instant};

use logbridge_text_template::{QuerySample, Template};
use promql_parser::parser::Expr;

use crate::clock::Clock;
use crate::labels::Labels;
use crate::promql::{Engine, EngineOptions, Value};
use crate::rule_file::{RuleFile, RuleKind};
use crate::selection::Selection;
use crate::store::{AppendError, SeriesStore};
pub use alerting::{Alert, AlertState, AlertingRule, Notification};
pub use recording::RecordingRule;

/// Settings shared by every group.
#[derive(Clone, Debug)]
pub struct RulesConfig {
    /// Interval of groups that do not set one.
    pub default_interval_ms: i64,
    /// `query_offset` of groups that do not set one.
    pub default_query_offset_ms: i64,
    /// How often a firing alert is sent again (Prometheus: 1m).
    pub resend_delay_ms: i64,
    /// The most series the store holds; new series beyond are dropped.
    pub max_series: usize,
    /// Keep series no rule reads (for ad-hoc queries, as the rule unit
    /// tests make); by default the store refuses them.
    pub keep_unread_series: bool,
    pub external_labels: Vec<(String, String)>,
    pub external_url: String,
    /// Query limits and defaults; its clock also times group and rule
    /// evaluations.
    pub engine: EngineOptions,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            default_interval_ms: 60_000,
            default_query_offset_ms: 0,
            resend_delay_ms: 60_000,
            max_series: 1_000_000,
            keep_unread_series: false,
            external_labels: Vec::new(),
            external_url: "http://localhost:8080".to_string(),
            engine: EngineOptions::default(),
        }
    }
}

/// Whether a rule's last evaluation worked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleHealth {
    #[default]
    Unknown,
    Ok,
    Err,
}

impl RuleHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Ok => "ok",
            RuleHealth::Err => "err",
        }
    }
}

/// A rule's health and its last evaluation.
#[derive(Clone, Debug, Default)]
pub struct RuleStatus {
    pub health: RuleHealth,
    pub last_error: Option<String>,
    pub last_evaluation: Option<i64>,
    pub evaluation_time: Duration,
}

impl RuleStatus {
    pub(crate) fn record_ok(&mut self, ts: i64) {
        self.health = RuleHealth::Ok;
        self.last_error = None;
        self.last_evaluation = Some(ts);
    }

    pub(crate) fn record_error(&mut self, ts: i64, error: String) {
        self.health = RuleHealth::Err;
        self.last_error = Some(error);
        self.last_evaluation = Some(ts);
    }
}

/// One rule of a group.
pub enum Rule {
    Alerting(AlertingRule),
    Recording(RecordingRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Alerting(r) => &r.name,
            Rule::Recording(r) => &r.name,
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Alerting(r) => &r.status,
            Rule::Recording(r) => &r.status,
        }
    }

    fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Alerting(r) => &mut r.status,
            Rule::Recording(r) => &mut r.status,
        }
    }

    fn expr(&self) -> &Expr {
        match self {
            Rule::Alerting(r) => &r.expr,
            Rule::Recording(r) => &r.expr,
        }
    }
}

/// A group of rules evaluated in order at one interval.
pub struct Group {
    pub name: String,
    pub file: String,
    pub interval_ms: i64,
    pub query_offset_ms: i64,
    pub limit: usize,
    pub labels: Vec<(String, String)>,
    pub rules: Vec<Rule>,
    pub last_evaluation: Option<i64>,
    pub evaluation_time: Duration,
    /// Evaluation times skipped because the engine was not asked in time
    /// (a busy process, a round longer than the interval), as Prometheus
    /// counts them in `prometheus_rule_group_iterations_missed_total`.
    pub iterations_missed: u64,
}

impl Group {
    /// Whether a template of one of its alerts runs queries of its own.
    fn calls_query(&self) -> bool {
        self.rules.iter().any(|r| match r {
            Rule::Alerting(a) => a
                .labels
                .iter()
                .chain(&a.annotations)
                .any(|(_, t)| t.calls_query()),
            Rule::Recording(_) => false,
        })
    }
}

/// What one evaluation produced: samples for the pipeline (recorded series,
/// `ALERTS`, `ALERTS_FOR_STATE`, stale markers), the notifications due, and
/// the rules that failed.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub samples: Vec<(Labels, i64, f64)>,
    pub notifications: Vec<Notification>,
    pub failures: Vec<RuleFailure>,
    pub groups_evaluated: usize,
}

impl Evaluation {
    fn extend(&mut self, other: Evaluation) {
        self.samples.extend(other.samples);
        self.notifications.extend(other.notifications);
        self.failures.extend(other.failures);
        self.groups_evaluated += other.groups_evaluated;
    }
}

/// A rule whose evaluation failed (a query over its sample or time limit,
/// a result over the group's `limit`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFailure {
    pub group: String,
    pub rule: String,
    pub error: String,
}

/// What a rule evaluation reads: the store, the query engine and the
/// group's settings.
pub(crate) struct EvalContext<'a> {
    store: &'a SeriesStore,
    engine: &'a Engine,
    pub(crate) query_offset_ms: i64,
    pub(crate) group_labels: &'a [(String, String)],
    pub(crate) external_labels: &'a [(String, String)],
    pub(crate) external_url: &'a str,
}

impl EvalContext<'_> {
    /// Runs a rule's query; a scalar counts as one sample without labels.
    pub(crate) fn query_vector(
        &self,
        expr: &Expr,
        t: i64,
    ) -> Result<Vec<crate::promql::Sample>, String> {
        match self.engine.instant(self.store, expr, t) {
            Ok(result) => match result.value {
                Value::Vector(samples) => Ok(samples),
                Value::Scalar(v) => Ok(vec![crate::promql::Sample {
                    labels: Labels::new(),
                    t,
                    v,
                    drop_name: false,
                }]),
                other => Err(format!(
                    "rule result is not a vector or scalar: {}",
                    other.type_name()
                )),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    /// A rule's query at `ts` less the group's query offset; a failure is
    /// recorded in the rule's status.
    pub(crate) fn rule_query(
        &self,
        expr: &Expr,
        ts: i64,
        status: &mut RuleStatus,
    ) -> Option<Vec<crate::promql::Sample>> {
        match self.query_vector(expr, ts - self.query_offset_ms) {
            Ok(samples) => Some(samples),
            Err(e) => {
                status.record_error(ts, e);
                None
            }
        }
    }

    /// The `query` function of templates.
    pub(crate) fn template_query(&self, text: &str, t: i64) -> Result<Vec<QuerySample>, String> {
        let expr = crate::promql::parse(text)?;
        let samples = self.query_vector(&expr, t)?;
        Ok(samples
            .into_iter()
            .map(|s| QuerySample {
                labels: s.labels.to_pairs(),
                value: s.v,
            })
            .collect())
    }
}

/// Why rules could not be built from their files.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: group {group:?}, {rule}: {message}")]
pub struct BuildError {
    pub path: String,
    pub group: String,
    pub rule: String,
    pub message: String,
}

/// The rule groups, their state and the store they read.
pub struct RuleEngine {
    store: SeriesStore,
    engine: Engine,
    groups: Vec<Group>,
    config: RulesConfig,
    /// How far back samples are kept: the longest any rule reads.
    retention_ms: i64,
    /// Samples of new series refused because the store is full (incoming
    /// and recorded alike).
    pub samples_over_series_limit: u64,
    /// Incoming samples refused because they came out of order.
    pub samples_out_of_order: u64,
    /// Incoming samples of series that no rule reads, not stored.
    pub samples_not_read: u64,
}

impl RuleEngine {
    /// Builds the groups of loaded rule files; every template that does not
    /// compile is reported.
    pub fn new(files: &[RuleFile], config: RulesConfig) -> Result<Self, Vec<BuildError>> {
        let mut errors = Vec::new();
        let mut groups = Vec::new();
        for file in files {
            for spec in &file.groups {
                let mut rules = Vec::new();
                for rule in &spec.rules {
                    let mut compile = |what: &str, pairs: &[(String, String)]| {
                        let mut out = Vec::new();
                        for (name, text) in pairs {
                            match Template::compile(&format!("{what} {name}"), text) {
                                Ok(t) => out.push((name.clone(), t)),
                                Err(e) => errors.push(BuildError {
                                    path: file.path.clone(),
                                    group: spec.name.clone(),
                                    rule: format!("{} (line {})", rule.kind, rule.position.line),
                                    message: format!("{what} {name:?}: {e}"),
                                }),
                            }
                        }
                        out
                    };
                    let built = match &rule.kind {
                        RuleKind::Alert { name } => {
                            let labels = compile("label", &rule.labels);
                            let annotations = compile("annotation", &rule.annotations);
                            Rule::Alerting(AlertingRule::new(
                                name.clone(),
                                rule.expr_ast.clone(),
                                rule.expr.clone(),
                                duration_ms(rule.for_),
                                duration_ms(rule.keep_firing_for),
                                labels,
                                annotations,
                            ))
                        }
                        RuleKind::Record { name } => Rule::Recording(RecordingRule::new(
                            name.clone(),
                            rule.expr_ast.clone(),
                            rule.expr.clone(),
                            rule.labels.clone(),
                        )),
                    };
                    rules.push(built);
                }
                groups.push(Group {
                    name: spec.name.clone(),
                    file: file.path.clone(),
                    interval_ms: spec
                        .interval
                        .map(duration_ms)
                        .unwrap_or(config.default_interval_ms),
                    query_offset_ms: spec
                        .query_offset
                        .map(duration_ms)
                        .unwrap_or(config.default_query_offset_ms),
                    limit: spec.limit,
                    labels: spec.labels.clone(),
                    rules,
                    last_evaluation: None,
                    evaluation_time: Duration::ZERO,
                    iterations_missed: 0,
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let selection = if config.keep_unread_series || groups.iter().any(Group::calls_query) {
            Selection::all()
        } else {
            Selection::of(groups.iter().flat_map(|g| g.rules.iter().map(Rule::expr)))
        };
        let lookback = config.engine.lookback_ms;
        let retention_ms = groups
            .iter()
            .flat_map(|g| {
                g.rules
                    .iter()
                    .map(move |r| reach_ms(r.expr(), lookback) + g.query_offset_ms + g.interval_ms)
            })
            .max()
            .unwrap_or(lookback);
        Ok(Self {
            store: SeriesStore::selecting(config.max_series, selection),
            engine: Engine::new(config.engine.clone()),
            groups,
            config,
            retention_ms,
            samples_over_series_limit: 0,
            samples_out_of_order: 0,
            samples_not_read: 0,
        })
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn store(&self) -> &SeriesStore {
        &self.store
    }

    pub fn config(&self) -> &RulesConfig {
        &self.config
    }

    /// How far back the store keeps samples.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Adds one sample of an incoming series; a refused sample is counted.
    pub fn ingest(&mut self, labels: &Labels, t: i64, v: f64) {
        match self.store.append(labels, t, v) {
            Ok(()) => {}
            Err(AppendError::SeriesLimit) => self.samples_over_series_limit += 1,
            Err(AppendError::OutOfOrder | AppendError::Duplicate) => self.samples_out_of_order += 1,
            Err(AppendError::NotSelected) => self.samples_not_read += 1,
        }
    }

    /// Evaluates every group whose interval has a new step at or before
    /// `now`, at that step (a multiple of the interval, as Prometheus
    /// aligns evaluations), then, if any did, forgets samples no rule can
    /// read any more.
    pub fn evaluate_due(&mut self, now: i64) -> Evaluation {
        let mut out = Evaluation::default();
        for i in 0..self.groups.len() {
            let interval = self.groups[i].interval_ms.max(1);
            let ts = now - now.rem_euclid(interval);
            let group = &mut self.groups[i];
            if let Some(last) = group.last_evaluation {
                if last >= ts {
                    continue;
                }
                // Only the latest due time is evaluated; the ones between
                // are skipped, not caught up (as Prometheus does).
                group.iterations_missed += ((ts - last) / interval - 1).max(0) as u64;
            }
            out.extend(self.evaluate_group(i, ts));
        }
        if out.groups_evaluated > 0 {
            self.store.truncate_before(now - self.retention_ms);
        }
        out
    }

    /// Evaluates group `index` at `ts`: its rules in order, each seeing what
    /// the ones before it recorded.
    pub fn evaluate_group(&mut self, index: usize, ts: i64) -> Evaluation {
        let mut out = Evaluation::default();
        let Self {
            store,
            engine,
            groups,
            config,
            samples_over_series_limit,
            ..
        } = self;
        let clock = config.engine.clock.as_deref();
        let started = clock.map(Clock::now);
        let group = &mut groups[index];
        for rule in &mut group.rules {
            let rule_started = clock.map(Clock::now);
            let samples = {
                let mut cx = EvalContext {
                    store,
                    engine,
                    query_offset_ms: group.query_offset_ms,
                    group_labels: &group.labels,
                    external_labels: &config.external_labels,
                    external_url: &config.external_url,
                };
                match rule {
                    Rule::Alerting(r) => r.eval(&mut cx, ts, group.limit),
                    Rule::Recording(r) => r.eval(&mut cx, ts, group.limit),
                }
            };
            for (labels, t, v) in &samples {
                // Out-of-order or duplicate samples of derived series only
                // mean an earlier value is already there; unread ones need
                // no room.
                if store.append(labels, *t, *v) == Err(AppendError::SeriesLimit) {
                    *samples_over_series_limit += 1;
                }
            }
            if let Rule::Alerting(r) = rule {
                let due = r.due_notifications(
                    ts,
                    config.resend_delay_ms,
                    group.interval_ms,
                    &config.external_url,
                );
                out.notifications.extend(due.into_iter().map(|mut n| {
                    // As Prometheus' notifier: external labels go on
                    // every alert sent, under the alert's own labels.
                    for (name, value) in &config.external_labels {
                        if n.labels.value_of(name).is_empty() {
                            n.labels.set(name, value);
                        }
                    }
                    n
                }));
            }
            rule.status_mut().evaluation_time = elapsed(clock, rule_started);
            let status = rule.status();
            if let (RuleHealth::Err, Some(error), Some(true)) = (
                status.health,
                &status.last_error,
                status.last_evaluation.map(|at| at == ts),
            ) {
                out.failures.push(RuleFailure {
                    group: group.name.clone(),
                    rule: rule.name().to_string(),
                    error: error.clone(),
                });
            }
            out.samples.extend(samples);
        }
        group.last_evaluation = Some(ts);
        group.evaluation_time = elapsed(clock, started);
        out.groups_evaluated = 1;
        out
    }

    /// Runs a query against the store (for tests and the API).
    pub fn query(&self, text: &str, t: i64) -> Result<crate::promql::QueryResult, String> {
        let expr = crate::promql::parse(text)?;
        self.engine
            .instant(&self.store, &expr, t)
            .map_err(|e| e.to_string())
    }

    /// Every alert of every alerting rule: (group, rule, alert).
    pub fn alerts(&self) -> impl Iterator<Item = (&Group, &AlertingRule, &Alert)> {
        self.groups
            .iter()
            .flat_map(|g| {
                g.rules.iter().filter_map(move |r| match r {
                    Rule::Alerting(a) => Some((g, a)),
                    Rule::Recording(_) => None,
                })
            })
            .flat_map(|(g, r)| r.active.values().map(move |a| (g, r, a)))
    }

    /// Hands alerts saved at `saved_at` before a restart to their rules,
    /// matched by file, group and rule name; they take effect when the same
    /// alerts come back.
    pub fn restore(&mut self, saved: Vec<SavedAlerts>, saved_at: i64) {
        for entry in saved {
            for group in &mut self.groups {
                if group.file != entry.file || group.name != entry.group {
                    continue;
                }
                for rule in &mut group.rules {
                    if let Rule::Alerting(r) = rule
                        && r.name == entry.rule
                    {
                        r.restore(entry.alerts.clone(), saved_at);
                    }
                }
            }
        }
    }

    /// The active alerts of every rule, to save across a restart.
    pub fn saved_alerts(&self) -> Vec<SavedAlerts> {
        let mut out = Vec::new();
        for group in &self.groups {
            for rule in &group.rules {
                if let Rule::Alerting(r) = rule {
                    let alerts: Vec<Alert> = r
                        .active
                        .values()
                        .filter(|a| a.state != AlertState::Inactive)
                        .cloned()
                        .collect();
                    if !alerts.is_empty() {
                        out.push(SavedAlerts {
                            file: group.file.clone(),
                            group: group.name.clone(),
                            rule: r.name.clone(),
                            alerts,
                        });
                    }
                }
            }
        }
        out
    }
}

/// The alerts of one rule, saved across a restart.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedAlerts {
    pub file: String,
    pub group: String,
    pub rule: String,
    pub alerts: Vec<Alert>,
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The time since `started` on `clock`; zero without a clock.
fn elapsed(clock: Option<&dyn Clock>, started: Option<Instant>) -> Duration {
    match (clock, started) {
        (Some(clock), Some(started)) => clock.now().saturating_duration_since(started),
        _ => Duration::ZERO,
    }
}

/// How far back from its evaluation time an expression reads.
fn reach_ms(expr: &Expr, lookback: i64) -> i64 {
    use crate::promql::eval::duration_ms as ms;
    let offset = |o: &Option<promql_parser::parser::Offset>| match o {
        Some(promql_parser::parser::Offset::Pos(d)) => ms(*d),
        _ => 0,
    };
    match expr {
        Expr::VectorSelector(vs) => lookback + offset(&vs.offset),
        Expr::MatrixSelector(m) => ms(m.range) + offset(&m.vs.offset),
        Expr::Subquery(s) => ms(s.range) + offset(&s.offset) + reach_ms(&s.expr, lookback),
        Expr::Aggregate(a) => {
            let param = a.param.as_ref().map_or(0, |p| reach_ms(p, lookback));
            reach_ms(&a.expr, lookback).max(param)
        }
        Expr::Unary(u) => reach_ms(&u.expr, lookback),
        Expr::Binary(b) => reach_ms(&b.lhs, lookback).max(reach_ms(&b.rhs, lookback)),
        Expr::Paren(p) => reach_ms(&p.expr, lookback),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .map(|a| reach_ms(a, lookback))
            .max()
            .unwrap_or(0),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => 0,
    }
}
