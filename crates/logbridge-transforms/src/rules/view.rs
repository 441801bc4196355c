//! The engine's state in the shapes of Prometheus' `/api/v1/rules` and
//! `/api/v1/alerts`, refreshed after every evaluation and read by the admin
//! server.

use std::sync::Mutex;

use logbridge_component::api::RulesView;
use logbridge_rules::labels::Labels;
use logbridge_rules::rules::{Alert, AlertState, Group, Rule, RuleEngine};
use serde_json::{Map, Value, json};

use super::convert::rfc3339;

/// The latest rendering, shared with the admin server.
#[derive(Default)]
pub struct SharedView {
    inner: Mutex<(Vec<Value>, Vec<Value>)>,
}

impl SharedView {
    /// Renders the engine's groups and alerts.
    pub fn refresh(&self, engine: &RuleEngine) {
        let groups = engine.groups().iter().map(group_json).collect();
        let alerts = engine
            .alerts()
            .filter(|(_, _, a)| a.state != AlertState::Inactive)
            .map(|(_, _, a)| alert_json(a))
            .collect();
        if let Ok(mut inner) = self.inner.lock() {
            *inner = (groups, alerts);
        }
    }
}

impl RulesView for SharedView {
    fn rule_groups(&self) -> Vec<Value> {
        self.inner.lock().map(|i| i.0.clone()).unwrap_or_default()
    }

    fn alerts(&self) -> Vec<Value> {
        self.inner.lock().map(|i| i.1.clone()).unwrap_or_default()
    }
}

fn labels_json(labels: &Labels) -> Value {
    let mut map = Map::new();
    for label in labels.iter() {
        map.insert(label.name.to_string(), Value::from(&*label.value));
    }
    Value::Object(map)
}

fn pairs_json(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// A float as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `1e+00`,
/// `2.5e-03` (how Prometheus writes alert values).
pub fn go_exponent(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let text = format!("{v:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn alert_json(a: &Alert) -> Value {
    let mut out = json!({
        "labels": labels_json(&a.labels),
        "annotations": pairs_json(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at),
        "value": go_exponent(a.value),
    });
    if let Some(since) = a.keep_firing_since {
        out["keepFiringSince"] = Value::from(rfc3339(since));
    }
    out
}

fn group_json(g: &Group) -> Value {
    let rules: Vec<Value> = g.rules.iter().map(rule_json).collect();
    json!({
        "name": g.name,
        "file": g.file,
        "rules": rules,
        "interval": g.interval_ms as f64 / 1000.0,
        "limit": g.limit,
        "evaluationTime": g.evaluation_time.as_secs_f64(),
        "lastEvaluation": g.last_evaluation.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
    })
}

fn rule_json(rule: &Rule) -> Value {
    let status = rule.status();
    let mut out = match rule {
        Rule::Alerting(r) => {
            let alerts: Vec<&Alert> = r
                .active
                .values()
                .filter(|a| a.state != AlertState::Inactive)
                .collect();
            let state = if alerts.iter().any(|a| a.state == AlertState::Firing) {
                "firing"
            } else if alerts.is_empty() {
                "inactive"
            } else {
                "pending"
            };
            json!({
                "state": state,
                "name": r.name,
                "query": r.expr_text,
                "duration": r.hold_ms as f64 / 1000.0,
                "keepFiringFor": r.keep_firing_for_ms as f64 / 1000.0,
                "labels": pairs_json(&r.label_sources()),
                "annotations": pairs_json(&r.annotation_sources()),
                "alerts": alerts.iter().map(|a| alert_json(a)).collect::<Vec<_>>(),
                "type": "alerting",
            })
        }
        Rule::Recording(r) => json!({
            "name": r.name,
            "query": r.expr_text,
            "labels": pairs_json(&r.labels),
            "type": "recording",
        }),
    };
    out["health"] = Value::from(status.health.as_str());
    if let Some(error) = &status.last_error {
        out["lastError"] = Value::from(error.as_str());
    }
    out["evaluationTime"] = Value::from(status.evaluation_time.as_secs_f64());
    out["lastEvaluation"] = Value::from(
        status
            .last_evaluation
            .map(rfc3339)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_go_writes_them() {
        assert_eq!(go_exponent(1.0), "1e+00");
        assert_eq!(go_exponent(0.0025), "2.5e-03");
        assert_eq!(go_exponent(-123456.0), "-1.23456e+05");
        assert_eq!(go_exponent(1e300), "1e+300");
        assert_eq!(go_exponent(f64::NAN), "NaN");
    }
}
