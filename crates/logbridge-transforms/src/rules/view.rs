//! The engine's state in the shapes of Prometheus' `/api/v1/rules` and
//! `/api/v1/alerts` (the typed API of `logbridge_component::api`),
//! refreshed after every evaluation and read by the admin server.

use std::sync::Mutex;

use logbridge_component::api::{self, LabelSet, RulesView};
use logbridge_rules::labels::Labels;
use logbridge_rules::rules::{Alert, AlertState, Group, Rule, RuleEngine, RuleHealth, RuleStatus};

use super::convert::rfc3339;

/// What Prometheus shows for a time that has not come yet (Go's zero time).
const NEVER: &str = "0001-01-01T00:00:00Z";

/// The latest rendering, shared with the admin server.
#[derive(Default)]
pub struct SharedView {
    inner: Mutex<(Vec<api::RuleGroup>, Vec<api::Alert>)>,
}

impl SharedView {
    /// Renders the engine's groups and alerts.
    pub fn refresh(&self, engine: &RuleEngine) {
        let groups = engine.groups().iter().map(group_view).collect();
        let alerts = engine
            .alerts()
            .filter(|(_, _, a)| a.state != AlertState::Inactive)
            .map(|(_, _, a)| alert_view(a))
            .collect();
        if let Ok(mut inner) = self.inner.lock() {
            *inner = (groups, alerts);
        }
    }
}

impl RulesView for SharedView {
    fn rule_groups(&self) -> Vec<api::RuleGroup> {
        self.inner.lock().map(|i| i.0.clone()).unwrap_or_default()
    }

    fn alerts(&self) -> Vec<api::Alert> {
        self.inner.lock().map(|i| i.1.clone()).unwrap_or_default()
    }
}

fn label_set(labels: &Labels) -> LabelSet {
    labels
        .iter()
        .map(|label| (label.name.to_string(), label.value.to_string()))
        .collect()
}

fn pair_set(pairs: &[(String, String)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
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

fn alert_state(state: AlertState) -> api::AlertState {
    match state {
        AlertState::Inactive => api::AlertState::Inactive,
        AlertState::Pending => api::AlertState::Pending,
        AlertState::Firing => api::AlertState::Firing,
    }
}

fn alert_view(a: &Alert) -> api::Alert {
    api::Alert {
        labels: label_set(&a.labels),
        annotations: pair_set(&a.annotations),
        state: alert_state(a.state),
        active_at: rfc3339(a.active_at),
        value: go_exponent(a.value),
        keep_firing_since: a.keep_firing_since.map(rfc3339),
    }
}

fn group_view(g: &Group) -> api::RuleGroup {
    api::RuleGroup {
        name: g.name.clone(),
        file: g.file.clone(),
        rules: g.rules.iter().map(rule_view).collect(),
        interval: g.interval_ms as f64 / 1000.0,
        limit: g.limit,
        evaluation_time: g.evaluation_time.as_secs_f64(),
        last_evaluation: g.last_evaluation.map_or_else(|| NEVER.to_string(), rfc3339),
    }
}

fn status_view(status: &RuleStatus) -> api::RuleStatus {
    api::RuleStatus {
        health: match status.health {
            RuleHealth::Unknown => api::RuleHealth::Unknown,
            RuleHealth::Ok => api::RuleHealth::Ok,
            RuleHealth::Err => api::RuleHealth::Err,
        },
        last_error: status.last_error.clone(),
        evaluation_time: status.evaluation_time.as_secs_f64(),
        last_evaluation: status
            .last_evaluation
            .map_or_else(|| NEVER.to_string(), rfc3339),
    }
}

fn rule_view(rule: &Rule) -> api::Rule {
    let status = status_view(rule.status());
    match rule {
        Rule::Alerting(r) => {
            let alerts: Vec<&Alert> = r
                .active
                .values()
                .filter(|a| a.state != AlertState::Inactive)
                .collect();
            let state = if alerts.iter().any(|a| a.state == AlertState::Firing) {
                api::AlertState::Firing
            } else if alerts.is_empty() {
                api::AlertState::Inactive
            } else {
                api::AlertState::Pending
            };
            api::Rule::Alerting(api::AlertingRule {
                state,
                name: r.name.clone(),
                query: r.expr_text.clone(),
                duration: r.hold_ms as f64 / 1000.0,
                keep_firing_for: r.keep_firing_for_ms as f64 / 1000.0,
                labels: pair_set(&r.label_sources()),
                annotations: pair_set(&r.annotation_sources()),
                alerts: Some(alerts.into_iter().map(alert_view).collect()),
                rule_type: api::RuleType::Alerting,
                status,
            })
        }
        Rule::Recording(r) => api::Rule::Recording(api::RecordingRule {
            name: r.name.clone(),
            query: r.expr_text.clone(),
            labels: pair_set(&r.labels),
            rule_type: api::RuleType::Recording,
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_rules::rule_file::parse_rule_file;
    use logbridge_rules::rules::RulesConfig;

    const RULES: &str = "groups:
  - name: g
    interval: 10s
    limit: 5
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          team: core
      - alert: Down
        expr: up == 0
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.instance }} is down'
          value: '{{ $value }}'
      - alert: Slow
        expr: up == 0
        for: 5m
      - alert: Quiet
        expr: up > 5
      - record: broken
        expr: up + on(job) up
";

    /// The JSON with every `evaluationTime` (a measured duration) as 0.
    fn without_durations(json: &str) -> String {
        let mut out = String::new();
        let mut rest = json;
        while let Some(at) = rest.find("\"evaluationTime\":") {
            let (head, tail) = rest.split_at(at + "\"evaluationTime\":".len());
            out.push_str(head);
            out.push('0');
            rest = &tail[tail.find([',', '}']).unwrap_or(tail.len())..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn the_api_shapes_stay_as_prometheus_writes_them() {
        let file = parse_rule_file("r.yml", RULES).unwrap();
        let mut engine = RuleEngine::new(&[file], RulesConfig::default()).unwrap();
        let view = SharedView::default();
        view.refresh(&engine);
        assert_eq!(
            without_durations(&serde_json::to_string(&view.rule_groups()).unwrap()),
            concat!(
                r#"[{"name":"g","file":"r.yml","rules":["#,
                r#"{"name":"job:up:sum","query":"sum by (job) (up)","labels":{"team":"core"},"type":"recording","health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"},"#,
                r#"{"state":"inactive","name":"Down","query":"up == 0","duration":0.0,"keepFiringFor":60.0,"labels":{"severity":"page"},"annotations":{"summary":"{{ $labels.instance }} is down","value":"{{ $value }}"},"alerts":[],"type":"alerting","health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"},"#,
                r#"{"state":"inactive","name":"Slow","query":"up == 0","duration":300.0,"keepFiringFor":0.0,"labels":{},"annotations":{},"alerts":[],"type":"alerting","health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"},"#,
                r#"{"state":"inactive","name":"Quiet","query":"up > 5","duration":0.0,"keepFiringFor":0.0,"labels":{},"annotations":{},"alerts":[],"type":"alerting","health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"},"#,
                r#"{"name":"broken","query":"up + on(job) up","labels":{},"type":"recording","health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}"#,
                r#"],"interval":10.0,"limit":5,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}]"#,
            )
        );
        assert_eq!(serde_json::to_string(&view.alerts()).unwrap(), "[]");

        let up = |instance: &str| {
            Labels::from_pairs([("__name__", "up"), ("job", "api"), ("instance", instance)])
        };
        engine.ingest(&up("a"), 1_000, 0.0);
        engine.ingest(&up("b"), 1_000, 1.0);
        engine.evaluate_group(0, 10_000);
        view.refresh(&engine);
        let active = concat!(
            r#"{"labels":{"alertname":"Down","instance":"a","job":"api","severity":"page"},"#,
            r#""annotations":{"summary":"a is down","value":"0"},"#,
            r#""state":"firing","activeAt":"1970-01-01T00:00:10.000Z","value":"0e+00"}"#,
        );
        let pending = concat!(
            r#"{"labels":{"alertname":"Slow","instance":"a","job":"api"},"annotations":{},"#,
            r#""state":"pending","activeAt":"1970-01-01T00:00:10.000Z","value":"0e+00"}"#,
        );
        assert_eq!(
            serde_json::to_string(&view.alerts()).unwrap(),
            format!("[{active},{pending}]")
        );
        let evaluated = r#""lastEvaluation":"1970-01-01T00:00:10.000Z""#;
        let error = concat!(
            r#"found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation: "#,
            r#"[{__name__=\"up\", instance=\"a\", job=\"api\"}, {__name__=\"up\", instance=\"b\", job=\"api\"}];"#,
            r#"many-to-many matching not allowed: matching labels must be unique on one side"#,
        );
        assert_eq!(
            without_durations(&serde_json::to_string(&view.rule_groups()).unwrap()),
            format!(
                "{}{}{}{}{}{}",
                r#"[{"name":"g","file":"r.yml","rules":["#,
                format_args!(
                    r#"{{"name":"job:up:sum","query":"sum by (job) (up)","labels":{{"team":"core"}},"type":"recording","health":"ok","evaluationTime":0,{evaluated}}},"#
                ),
                format_args!(
                    r#"{{"state":"firing","name":"Down","query":"up == 0","duration":0.0,"keepFiringFor":60.0,"labels":{{"severity":"page"}},"annotations":{{"summary":"{{{{ $labels.instance }}}} is down","value":"{{{{ $value }}}}"}},"alerts":[{active}],"type":"alerting","health":"ok","evaluationTime":0,{evaluated}}},"#
                ),
                format_args!(
                    r#"{{"state":"pending","name":"Slow","query":"up == 0","duration":300.0,"keepFiringFor":0.0,"labels":{{}},"annotations":{{}},"alerts":[{pending}],"type":"alerting","health":"ok","evaluationTime":0,{evaluated}}},"#
                ),
                format_args!(
                    r#"{{"state":"inactive","name":"Quiet","query":"up > 5","duration":0.0,"keepFiringFor":0.0,"labels":{{}},"annotations":{{}},"alerts":[],"type":"alerting","health":"ok","evaluationTime":0,{evaluated}}},"#
                ),
                format_args!(
                    r#"{{"name":"broken","query":"up + on(job) up","labels":{{}},"type":"recording","health":"err","lastError":"{error}","evaluationTime":0,{evaluated}}}"#
                ),
            ) + &format!(r#"],"interval":10.0,"limit":5,"evaluationTime":0,{evaluated}}}]"#)
        );
    }

    #[test]
    fn values_as_go_writes_them() {
        assert_eq!(go_exponent(1.0), "1e+00");
        assert_eq!(go_exponent(0.0025), "2.5e-03");
        assert_eq!(go_exponent(-123456.0), "-1.23456e+05");
        assert_eq!(go_exponent(1e300), "1e+300");
        assert_eq!(go_exponent(f64::NAN), "NaN");
    }
}
