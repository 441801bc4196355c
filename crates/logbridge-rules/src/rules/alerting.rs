//! Alerting rules: the alerts a rule's query produces and their states
//! (`pending`, `firing`, `inactive`), as Prometheus keeps them, with
//! `for`, `keep_firing_for`, templated labels and annotations, the `ALERTS`
//! and `ALERTS_FOR_STATE` series, and when an alert is due to be sent.

use std::collections::{HashMap, HashSet};

use logbridge_text_template::{QuerySample, Template, TemplateData};
use promql_parser::parser::Expr;

use super::{EvalContext, RuleHealth, RuleStatus};
use crate::labels::{Labels, METRIC_NAME};

/// How long a resolved alert is kept (and re-sent) after it ends.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// How long after a restart an alert that comes back takes its saved
/// state: the store starts empty, so the first evaluations may not see the
/// series yet (Prometheus' `for` grace period is 10 minutes too).
pub const RESTORE_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Prometheus' `--rules.alert.for-grace-period` (default 10m): an alert
/// restored after a restart with a `for` longer than this fires no sooner
/// than this long after the restart (see [`restored_active_at`]).
pub const FOR_GRACE_PERIOD_MS: i64 = 10 * 60 * 1000;

/// When an alert restored at `now` counts as active since, as Prometheus
/// restores it: `active_at` as saved when `for` (`hold`) is within the
/// grace period or the alert was already firing at `down_at`; otherwise
/// the pending time spent down does not count (`active_at` moves by the
/// downtime), and an alert that would then fire within the grace period
/// fires at its end.
pub fn restored_active_at(active_at: i64, down_at: i64, now: i64, hold: i64, grace: i64) -> i64 {
    if hold <= grace {
        return active_at;
    }
    let remaining = hold - down_at.saturating_sub(active_at);
    if remaining <= 0 {
        active_at
    } else if remaining < grace {
        now.saturating_add(grace).saturating_sub(hold)
    } else {
        active_at.saturating_add(now.saturating_sub(down_at))
    }
}

/// An alert's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: a label set the rule's query returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    pub value: f64,
    /// Milliseconds since the epoch of each event; `None` if it has not
    /// happened.
    pub active_at: i64,
    pub fired_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub valid_until: Option<i64>,
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether a notification is due: firing alerts every `resend_delay`,
    /// a resolved alert once after it resolves and then as firing ones.
    fn needs_sending(&self, ts: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at
            && self.last_sent_at.is_none_or(|sent| resolved > sent)
        {
            return true;
        }
        self.last_sent_at
            .is_none_or(|sent| sent + resend_delay_ms < ts)
    }
}

/// What an alert looks like to a receiver (Alertmanager's API v2 fields).
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub labels: Labels,
    pub annotations: Vec<(String, String)>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub generator_url: String,
    pub state: AlertState,
    pub active_at: i64,
    pub value: f64,
}

/// An alerting rule and its alerts.
pub struct AlertingRule {
    pub name: String,
    pub expr: Expr,
    pub expr_text: String,
    pub hold_ms: i64,
    pub keep_firing_for_ms: i64,
    pub labels: Vec<(String, Template)>,
    pub annotations: Vec<(String, Template)>,
    pub active: HashMap<Labels, Alert>,
    pub status: RuleStatus,
    /// Label sets of the `ALERTS`/`ALERTS_FOR_STATE` samples written by the
    /// previous evaluation, to end with stale markers those that stop.
    previous_series: HashSet<Labels>,
    /// Active-since times to take over from before a restart, by alert
    /// labels, until the end of the restore window.
    restored: HashMap<Labels, Alert>,
    restore_until: Option<i64>,
    /// When the restored state was saved (the process went down after).
    restored_down_at: i64,
}

impl AlertingRule {
    pub(crate) fn new(
        name: String,
        expr: Expr,
        expr_text: String,
        hold_ms: i64,
        keep_firing_for_ms: i64,
        labels: Vec<(String, Template)>,
        annotations: Vec<(String, Template)>,
    ) -> Self {
        Self {
            name,
            expr,
            expr_text,
            hold_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            active: HashMap::new(),
            status: RuleStatus::default(),
            previous_series: HashSet::new(),
            restored: HashMap::new(),
            restore_until: None,
            restored_down_at: 0,
        }
    }

    /// Alerts to take the state of when they come back after a restart;
    /// `down_at` is when they were saved.
    pub fn restore(&mut self, alerts: Vec<Alert>, down_at: i64) {
        self.restored_down_at = down_at;
        self.restored = alerts
            .into_iter()
            .filter(|a| a.state != AlertState::Inactive)
            .map(|a| (a.labels.clone(), a))
            .collect();
    }

    /// Evaluates the rule at `ts`: updates the alerts and returns the
    /// `ALERTS` and `ALERTS_FOR_STATE` samples (with stale markers for those
    /// that ended).
    pub(crate) fn eval(
        &mut self,
        cx: &mut EvalContext<'_>,
        ts: i64,
        limit: usize,
    ) -> Vec<(Labels, i64, f64)> {
        let query_ts = ts - cx.query_offset_ms;
        let Some(samples) = cx.rule_query(&self.expr, ts, &mut self.status) else {
            return Vec::new();
        };

        // The alerts the query returns now, by their final labels.
        let mut current: HashMap<Labels, Alert> = HashMap::new();
        for sample in samples {
            let template_labels = sample.labels.to_pairs();
            let data = TemplateData {
                labels: &template_labels,
                external_labels: cx.external_labels,
                external_url: cx.external_url,
                value: sample.v,
            };
            let mut query = |q: &str| cx.template_query(q, query_ts);
            let mut labels = sample.labels.clone();
            labels.remove(METRIC_NAME);
            for (name, value) in cx.group_labels {
                labels.set(name, value);
            }
            for (name, template) in &self.labels {
                labels.set(name, &expand(template, &data, &mut query));
            }
            labels.set("alertname", &self.name);
            let annotations = self
                .annotations
                .iter()
                .map(|(name, template)| (name.clone(), expand(template, &data, &mut query)))
                .collect();
            if current.contains_key(&labels) {
                self.status.record_error(
                    ts,
                    "vector contains metrics with the same labelset after applying alert labels"
                        .to_string(),
                );
                return Vec::new();
            }
            current.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: sample.v,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }

        // Saved state applies to alerts that come back soon after the
        // restart, not to ones that return much later.
        if !self.restored.is_empty() {
            let until = *self.restore_until.get_or_insert(ts + RESTORE_WINDOW_MS);
            if ts > until {
                self.restored.clear();
            }
        }

        let in_result: HashSet<Labels> = current.keys().cloned().collect();
        for (labels, mut alert) in current {
            match self.active.get_mut(&labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations = alert.annotations;
                }
                _ => {
                    if let Some(before) = self.restored.remove(&labels) {
                        alert.active_at = restored_active_at(
                            before.active_at,
                            self.restored_down_at,
                            ts,
                            self.hold_ms,
                            FOR_GRACE_PERIOD_MS,
                        );
                        alert.fired_at = before.fired_at;
                        alert.last_sent_at = before.last_sent_at;
                        if before.state == AlertState::Firing {
                            alert.state = AlertState::Firing;
                        }
                    }
                    self.active.insert(labels, alert);
                }
            }
        }

        let mut remove = Vec::new();
        let mut active_count = 0;
        let mut out = Vec::new();
        let mut series_now = HashSet::new();
        for (labels, alert) in self.active.iter_mut() {
            if in_result.contains(labels) {
                alert.keep_firing_since = None;
            } else {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    let since = *alert.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ms;
                }
                if alert.state == AlertState::Pending
                    || alert
                        .resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    remove.push(labels.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            }
            active_count += 1;
            if alert.state == AlertState::Pending && ts - alert.active_at >= self.hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(ts);
            }
            let mut alerts_labels = labels.clone();
            alerts_labels.set(METRIC_NAME, "ALERTS");
            alerts_labels.set("alertstate", alert.state.as_str());
            let mut for_state_labels = labels.clone();
            for_state_labels.set(METRIC_NAME, "ALERTS_FOR_STATE");
            out.push((alerts_labels.clone(), query_ts, 1.0));
            out.push((
                for_state_labels.clone(),
                query_ts,
                (alert.active_at.div_euclid(1000)) as f64,
            ));
            series_now.insert(alerts_labels);
            series_now.insert(for_state_labels);
        }
        for labels in remove {
            self.active.remove(&labels);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            self.status.record_error(
                ts,
                format!("exceeded limit of {limit} with {active_count} alerts"),
            );
            return Vec::new();
        }
        for ended in self.previous_series.difference(&series_now) {
            out.push((
                ended.clone(),
                query_ts,
                crate::promql::value::stale_marker(),
            ));
        }
        self.previous_series = series_now;
        self.status.record_ok(ts);
        out
    }

    /// The notifications due at `ts`, marking them sent.
    pub(crate) fn due_notifications(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
        external_url: &str,
    ) -> Vec<Notification> {
        let generator_url = generator_url(external_url, &self.expr_text);
        let mut out = Vec::new();
        for alert in self.active.values_mut() {
            if !alert.needs_sending(ts, resend_delay_ms) {
                continue;
            }
            alert.last_sent_at = Some(ts);
            let valid_until = ts + 4 * resend_delay_ms.max(interval_ms);
            alert.valid_until = Some(valid_until);
            out.push(Notification {
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                starts_at: alert.fired_at.unwrap_or(alert.active_at),
                ends_at: alert.resolved_at.unwrap_or(valid_until),
                generator_url: generator_url.clone(),
                state: if alert.resolved_at.is_some() {
                    AlertState::Inactive
                } else {
                    alert.state
                },
                active_at: alert.active_at,
                value: alert.value,
            });
        }
        out
    }

    pub fn health(&self) -> RuleHealth {
        self.status.health
    }

    /// The label templates as written.
    pub fn label_sources(&self) -> Vec<(String, String)> {
        self.labels
            .iter()
            .map(|(k, t)| (k.clone(), t.source().to_string()))
            .collect()
    }

    /// The annotation templates as written.
    pub fn annotation_sources(&self) -> Vec<(String, String)> {
        self.annotations
            .iter()
            .map(|(k, t)| (k.clone(), t.source().to_string()))
            .collect()
    }
}

/// Expands a template; a failure becomes the text, as Prometheus does, so
/// that the alert still goes out.
fn expand(
    template: &Template,
    data: &TemplateData<'_>,
    query: &mut dyn FnMut(&str) -> Result<Vec<QuerySample>, String>,
) -> String {
    template
        .expand(data, query)
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

/// Prometheus' link to an expression in its table view.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    let mut encoded = String::with_capacity(expr.len() * 3);
    for b in expr.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(b as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!(
        "{}/graph?g0.expr={encoded}&g0.tab=1",
        external_url.trim_end_matches('/')
    )
}
