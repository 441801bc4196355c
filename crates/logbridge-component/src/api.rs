//! Views that components publish for the admin server's JSON API, and the
//! typed shapes they publish, so that the admin server needs to know
//! nothing about the components themselves.
//!
//! The types serialize to the shapes of Prometheus' HTTP API: field names,
//! their order and the fields left out are part of the contract (clients
//! such as Grafana read them). This module holds data only; filtering and
//! paging are the admin server's.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// What a rules engine shows under `/api/v1/rules` and `/api/v1/alerts`.
pub trait RulesView: Send + Sync {
    /// The rule groups (`data.groups[]`).
    fn rule_groups(&self) -> Vec<RuleGroup>;
    /// The pending and firing alerts (`data.alerts[]`).
    fn alerts(&self) -> Vec<Alert>;
}

/// A rule group, as in `/api/v1/rules`' `data.groups[]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroup {
    pub name: String,
    /// The rule file it was read from.
    pub file: String,
    pub rules: Vec<Rule>,
    /// Seconds between evaluations.
    pub interval: f64,
    /// The most series or alerts a rule may produce (0: no limit).
    pub limit: usize,
    /// Seconds the last evaluation of the whole group took.
    pub evaluation_time: f64,
    /// RFC 3339; `0001-01-01T00:00:00Z` before the first evaluation.
    pub last_evaluation: String,
}

/// An alerting or a recording rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
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

    /// Its `type` field.
    pub fn rule_type(&self) -> RuleType {
        match self {
            Rule::Alerting(r) => r.rule_type,
            Rule::Recording(r) => r.rule_type,
        }
    }

    /// The labels configured on the rule (templates as written, for an
    /// alerting rule).
    pub fn labels(&self) -> &LabelSet {
        match self {
            Rule::Alerting(r) => &r.labels,
            Rule::Recording(r) => &r.labels,
        }
    }
}

/// `alerting` or `recording`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    Alerting,
    Recording,
}

/// An alerting rule and its active alerts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRule {
    /// The state of its most advanced alert.
    pub state: AlertState,
    pub name: String,
    /// Its expression as written.
    pub query: String,
    /// `for`, in seconds.
    pub duration: f64,
    /// `keep_firing_for`, in seconds.
    pub keep_firing_for: f64,
    /// The label templates as written.
    pub labels: LabelSet,
    /// The annotation templates as written.
    pub annotations: LabelSet,
    /// Its pending and firing alerts; left out when the client asked for
    /// `exclude_alerts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    /// Always [`RuleType::Alerting`].
    #[serde(rename = "type")]
    pub rule_type: RuleType,
    #[serde(flatten)]
    pub status: RuleStatus,
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRule {
    /// The series it records.
    pub name: String,
    pub query: String,
    pub labels: LabelSet,
    /// Always [`RuleType::Recording`].
    #[serde(rename = "type")]
    pub rule_type: RuleType,
    #[serde(flatten)]
    pub status: RuleStatus,
}

/// How a rule's last evaluation went.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    pub health: RuleHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Seconds.
    pub evaluation_time: f64,
    /// RFC 3339; `0001-01-01T00:00:00Z` before the first evaluation.
    pub last_evaluation: String,
}

/// Whether a rule's last evaluation worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleHealth {
    Unknown,
    Ok,
    Err,
}

/// An alert's state (and an alerting rule's: that of its most advanced
/// alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

/// An active alert, as in `/api/v1/alerts`' `data.alerts[]` and an
/// alerting rule's `alerts`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub labels: LabelSet,
    pub annotations: LabelSet,
    pub state: AlertState,
    /// RFC 3339.
    pub active_at: String,
    /// The value that made it active, as Go formats floats (`1e+00`).
    pub value: String,
    /// RFC 3339; only while it keeps firing past its condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
}

/// Names to values, kept in the order given, serialized as a JSON object.
/// Names are unique where they come from (label sets; rule files refuse a
/// key given twice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSet(Vec<(String, String)>);

impl LabelSet {
    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for LabelSet {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        LabelSet(
            pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

impl Serialize for LabelSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}
