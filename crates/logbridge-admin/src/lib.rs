//! The admin HTTP server.
//!
//! - `GET /debug/metrics`: every component's counters, queue fill and sink
//!   write latency, plus process metrics, in the Prometheus text format.
//! - `GET /healthz`: 200 while the process runs.
//! - `GET /readyz`: 200 once every component has started, none has
//!   failed and none reports a problem (an unreachable server), 503 with
//!   the states and problems otherwise.
//! - `GET /api/v1/topology`: components, types, inputs and outputs as JSON.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use logbridge_component::ShutdownSignal;
use logbridge_component::telemetry::Registry;
use logbridge_config::Config;
use logbridge_topology::Health;
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::Expr;
use serde::Serialize;

/// What the API says about one component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub id: String,
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub component_type: String,
    pub inputs: Vec<String>,
    /// Output names as other components address them (`id` or `id.name`).
    pub outputs: Vec<OutputInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputInfo {
    pub name: String,
    pub kinds: String,
}

/// The topology as the API shows it.
pub fn describe(config: &Config) -> Vec<ComponentInfo> {
    let outputs = |id: &str| -> Vec<OutputInfo> {
        config
            .outputs_of(id)
            .unwrap_or_default()
            .into_iter()
            .map(|o| OutputInfo {
                name: match o.name {
                    Some(n) => format!("{id}.{n}"),
                    None => id.to_owned(),
                },
                kinds: o.kinds.to_string(),
            })
            .collect()
    };
    let mut out = Vec::new();
    for (id, s) in &config.sources {
        out.push(ComponentInfo {
            id: id.clone(),
            kind: "source",
            component_type: s.type_name.clone(),
            inputs: vec![],
            outputs: outputs(id),
        });
    }
    for (id, t) in &config.transforms {
        out.push(ComponentInfo {
            id: id.clone(),
            kind: "transform",
            component_type: t.type_name.clone(),
            inputs: t.inputs.clone(),
            outputs: outputs(id),
        });
    }
    for (id, s) in &config.sinks {
        out.push(ComponentInfo {
            id: id.clone(),
            kind: "sink",
            component_type: s.type_name.clone(),
            inputs: s.inputs.clone(),
            outputs: vec![],
        });
    }
    out
}

struct AppState {
    registry: Arc<Registry>,
    health: Arc<Health>,
    topology: Vec<ComponentInfo>,
    started: Instant,
}

/// Binds the admin address (so a taken port is an error at startup) and
/// returns the server future, which ends when `stop` fires.
pub async fn bind(
    address: SocketAddr,
    registry: Arc<Registry>,
    health: Arc<Health>,
    topology: Vec<ComponentInfo>,
    stop: ShutdownSignal,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let state = Arc::new(AppState {
        registry,
        health,
        topology,
        started: Instant::now(),
    });
    let app = Router::new()
        .route("/debug/metrics", get(metrics))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/topology", get(topology_json))
        .route("/api/v1/health", get(health_json))
        .route("/api/v1/rules", get(rules_json))
        .route("/api/v1/alerts", get(alerts_json))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let server = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.wait().await })
            .await
    };
    Ok((local, server))
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let mut text = s.registry.render();
    text.push_str(&process_metrics(s.started));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    let problems = s.registry.problems();
    if s.health.is_ready() && problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let problems: serde_json::Map<String, serde_json::Value> = problems
            .into_iter()
            .map(|(id, p)| (id, serde_json::Value::String(p)))
            .collect();
        let body = serde_json::json!({ "components": s.health.snapshot(), "problems": problems });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

async fn topology_json(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "success", "data": { "components": s.topology } }))
}

async fn health_json(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "success", "data": s.health.snapshot() }))
}

/// Which rules `/api/v1/rules` lists, from the filters Prometheus takes:
/// `type=alert|record`, any number of `rule_name[]`, `rule_group[]` and
/// `file[]` (each kind of filter matching any of its values), `match[]`
/// series selectors over the rules' configured labels (a rule is listed
/// when one selector matches), `exclude_alerts` (alerting rules without
/// their active alerts), and paging: `group_limit` groups at most, the
/// next page from the `groupNextToken` of the last as `group_next_token`.
#[derive(Debug, Default)]
struct RulesFilter {
    kind: Option<&'static str>,
    names: Vec<String>,
    groups: Vec<String>,
    files: Vec<String>,
    /// Matcher sets, any of which must match all its labels.
    label_matchers: Vec<Vec<Matcher>>,
    exclude_alerts: bool,
    group_limit: Option<usize>,
    group_next_token: Option<String>,
}

/// The matcher sets of a `match[]` selector (one per `or` branch), with
/// the metric name as a `__name__` matcher, as Prometheus reads it.
fn selector_matchers(text: &str) -> Result<Vec<Vec<Matcher>>, String> {
    let not_selector = || format!("match[]: {text:?} is not a series selector");
    let Expr::VectorSelector(selector) = promql_parser::parser::parse(text)
        .map_err(|e| format!("match[]: cannot parse {text:?}: {e}"))?
    else {
        return Err(not_selector());
    };
    let mut common = selector.matchers.matchers;
    if let Some(name) = selector.name {
        common.push(Matcher::new(MatchOp::Equal, "__name__", &name));
    }
    if selector.matchers.or_matchers.is_empty() {
        return Ok(vec![common]);
    }
    Ok(selector
        .matchers
        .or_matchers
        .into_iter()
        .map(|mut set| {
            set.extend(common.iter().cloned());
            set
        })
        .collect())
}

/// A boolean query parameter, spelled as Go's `strconv.ParseBool` takes it
/// (Prometheus' parser).
fn query_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{key}: {other:?} is not a boolean")),
    }
}

impl RulesFilter {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut filter = RulesFilter::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "type" => {
                    filter.kind = match &*value {
                        "" => None,
                        "alert" => Some("alerting"),
                        "record" => Some("recording"),
                        other => {
                            return Err(format!(
                                "unsupported type {other:?}: use \"alert\" or \"record\""
                            ));
                        }
                    }
                }
                "rule_name[]" => filter.names.push(value.into_owned()),
                "rule_group[]" => filter.groups.push(value.into_owned()),
                "file[]" => filter.files.push(value.into_owned()),
                "match[]" => filter.label_matchers.extend(selector_matchers(&value)?),
                "exclude_alerts" => filter.exclude_alerts = query_bool(&key, &value)?,
                "group_limit" => match value.parse::<usize>() {
                    Ok(n) if n > 0 => filter.group_limit = Some(n),
                    _ => {
                        return Err(format!(
                            "group_limit: {value:?} is not a number greater than 0"
                        ));
                    }
                },
                "group_next_token" if !value.is_empty() => {
                    filter.group_next_token = Some(value.into_owned())
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// Applies the filter to one group in the API's shape; `None` when the
    /// group is filtered out or left without a rule.
    fn apply(&self, mut group: serde_json::Value) -> Option<serde_json::Value> {
        let text = |v: &serde_json::Value, key: &str| v.get(key)?.as_str().map(str::to_owned);
        let listed = |list: &[String], value: Option<String>| {
            list.is_empty() || value.is_some_and(|v| list.contains(&v))
        };
        if !listed(&self.groups, text(&group, "name")) || !listed(&self.files, text(&group, "file"))
        {
            return None;
        }
        if let Some(rules) = group.get_mut("rules").and_then(|r| r.as_array_mut()) {
            rules.retain(|rule| {
                self.kind
                    .is_none_or(|k| text(rule, "type").as_deref() == Some(k))
                    && listed(&self.names, text(rule, "name"))
                    && self.labels_match(rule)
            });
            if self.exclude_alerts {
                for rule in rules.iter_mut() {
                    if let Some(fields) = rule.as_object_mut() {
                        fields.remove("alerts");
                    }
                }
            }
            // As Prometheus: a group left without rules is not listed.
            if rules.is_empty() {
                return None;
            }
        }
        Some(group)
    }

    /// One page of the filtered groups, and the token of the next page when
    /// there is one. A token that names no group is an error (its group
    /// is gone, or the token was made up).
    fn page(
        &self,
        mut groups: Vec<serde_json::Value>,
    ) -> Result<(Vec<serde_json::Value>, Option<String>), String> {
        let Some(limit) = self.group_limit else {
            return Ok((groups, None));
        };
        let start = match &self.group_next_token {
            Some(token) => groups
                .iter()
                .position(|g| &group_token(g) == token)
                .ok_or_else(|| format!("group_next_token {token:?} names no rule group"))?,
            None => 0,
        };
        let mut page = groups.split_off(start);
        let next = page.get(limit).map(group_token);
        page.truncate(limit);
        Ok((page, next))
    }

    /// Whether a rule's configured labels satisfy one of the `match[]`
    /// selectors (a missing label reads as empty, as in PromQL).
    fn labels_match(&self, rule: &serde_json::Value) -> bool {
        if self.label_matchers.is_empty() {
            return true;
        }
        let label = |name: &str| {
            rule.get("labels")
                .and_then(|l| l.get(name))
                .and_then(|v| v.as_str())
                .unwrap_or("")
        };
        self.label_matchers
            .iter()
            .any(|set| set.iter().all(|m| m.is_match(label(&m.name))))
    }
}

/// A rule group's paging token: a hash of its file and name, stable while
/// the process runs (clients treat it as opaque).
fn group_token(group: &serde_json::Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    group.get("file").and_then(|v| v.as_str()).hash(&mut h);
    group.get("name").and_then(|v| v.as_str()).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The rule groups of every rules engine, as Prometheus' `/api/v1/rules`.
async fn rules_json(State(s): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    let bad_data = |error: String| {
        let body = serde_json::json!({
            "status": "error",
            "errorType": "bad_data",
            "error": error,
        });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let filter = match RulesFilter::parse(query.as_deref()) {
        Ok(filter) => filter,
        Err(error) => return bad_data(error),
    };
    let groups: Vec<serde_json::Value> = s
        .registry
        .rules_views()
        .iter()
        .flat_map(|view| view.rule_groups())
        .filter_map(|group| filter.apply(group))
        .collect();
    let (groups, next) = match filter.page(groups) {
        Ok(page) => page,
        Err(error) => return bad_data(error),
    };
    let mut data = serde_json::json!({ "groups": groups });
    if let Some(token) = next {
        data["groupNextToken"] = token.into();
    }
    Json(serde_json::json!({ "status": "success", "data": data })).into_response()
}

/// The pending and firing alerts of every rules engine, as Prometheus'
/// `/api/v1/alerts`.
async fn alerts_json(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let alerts: Vec<serde_json::Value> = s
        .registry
        .rules_views()
        .iter()
        .flat_map(|view| view.alerts())
        .collect();
    Json(serde_json::json!({ "status": "success", "data": { "alerts": alerts } }))
}

/// Resident memory and uptime, read from /proc where it exists.
fn process_metrics(started: Instant) -> String {
    let mut out = String::new();
    let page = 4096u64;
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm")
        && let Some(rss_pages) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
    {
        out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
        out.push_str(&format!(
            "process_resident_memory_bytes {}\n",
            rss_pages * page
        ));
    }
    out.push_str("# HELP logbridge_uptime_seconds Seconds since the process started.\n# TYPE logbridge_uptime_seconds gauge\n");
    out.push_str(&format!(
        "logbridge_uptime_seconds {}\n",
        started.elapsed().as_secs_f64()
    ));
    out.push_str(
        "# HELP logbridge_build_info Build information.\n# TYPE logbridge_build_info gauge\n",
    );
    out.push_str(&format!(
        "logbridge_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn groups() -> Vec<serde_json::Value> {
        vec![
            json!({"name": "api", "file": "a.yml", "rules": [
                {"name": "Down", "type": "alerting", "labels": {"severity": "page"},
                 "alerts": [{"state": "firing"}]},
                {"name": "job:up", "type": "recording", "labels": {}},
            ]}),
            json!({"name": "db", "file": "b.yml", "rules": [
                {"name": "Slow", "type": "alerting",
                 "labels": {"severity": "ticket", "team": "db"}, "alerts": []},
            ]}),
        ]
    }

    /// Group name: rule names, for the groups a query keeps.
    fn listed(query: &str) -> Vec<String> {
        let filter = RulesFilter::parse(Some(query)).unwrap();
        groups()
            .into_iter()
            .filter_map(|g| filter.apply(g))
            .map(|g| {
                let rules: Vec<&str> = g["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["name"].as_str().unwrap())
                    .collect();
                format!("{}: {}", g["name"].as_str().unwrap(), rules.join(" "))
            })
            .collect()
    }

    #[test]
    fn rules_filters_as_prometheus_takes_them() {
        assert_eq!(listed(""), ["api: Down job:up", "db: Slow"]);
        assert_eq!(listed("type=record"), ["api: job:up"]);
        assert_eq!(
            listed("rule_name[]=Down&rule_name%5B%5D=Slow"),
            ["api: Down", "db: Slow"]
        );
        assert_eq!(listed("rule_name[]=job:up"), ["api: job:up"]);
        assert_eq!(listed("rule_group[]=db"), ["db: Slow"]);
        assert_eq!(listed("file[]=a.yml&type=alert"), ["api: Down"]);
        assert_eq!(listed("rule_name[]=nothing"), Vec::<String>::new());
        assert!(RulesFilter::parse(Some("type=other")).is_err());
    }

    #[test]
    fn rules_match_selectors_over_configured_labels() {
        let q = |s: &str| {
            format!(
                "match[]={}",
                form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
            )
        };
        assert_eq!(listed(&q(r#"{severity="page"}"#)), ["api: Down"]);
        assert_eq!(
            listed(&q(r#"{severity=~"page|ticket"}"#)),
            ["api: Down", "db: Slow"]
        );
        // A missing label reads as empty; a selector matching only empty
        // labels is refused, as PromQL refuses it.
        assert_eq!(listed(&q(r#"{severity=~".+", team!="db"}"#)), ["api: Down"]);
        assert!(RulesFilter::parse(Some(&q(r#"{team!="db"}"#))).is_err());
        // One selector of several is enough; an `or` branch is one.
        assert_eq!(
            listed(&format!(
                "{}&{}",
                q(r#"{team="db"}"#),
                q(r#"{severity="page"}"#)
            )),
            ["api: Down", "db: Slow"]
        );
        assert_eq!(
            listed(&q(r#"{team="db" or severity="page"}"#)),
            ["api: Down", "db: Slow"]
        );
        // Rule labels have no metric name, as in Prometheus.
        assert_eq!(listed(&q("up")), Vec::<String>::new());
        let bad = RulesFilter::parse(Some(&q("rate(up[5m])"))).unwrap_err();
        assert!(bad.contains("not a series selector"), "{bad}");
        assert!(RulesFilter::parse(Some(&q("{"))).is_err());
    }

    #[test]
    fn exclude_alerts_drops_the_alerts_of_alerting_rules() {
        let alerts = |query: &str| -> Vec<bool> {
            let filter = RulesFilter::parse(Some(query)).unwrap();
            groups()
                .into_iter()
                .filter_map(|g| filter.apply(g))
                .flat_map(|g| g["rules"].as_array().unwrap().clone())
                .map(|r| r.get("alerts").is_some())
                .collect()
        };
        assert_eq!(alerts(""), [true, false, true]);
        assert_eq!(alerts("exclude_alerts=true"), [false, false, false]);
        assert_eq!(alerts("exclude_alerts=false"), [true, false, true]);
        assert_eq!(alerts("exclude_alerts=1"), [false, false, false]);
        assert!(RulesFilter::parse(Some("exclude_alerts=yes")).is_err());
    }

    #[test]
    fn group_limit_pages_through_the_groups() {
        let three = || {
            let mut g = groups();
            g.push(json!({"name": "cache", "file": "b.yml", "rules": [
                {"name": "Evictions", "type": "alerting", "labels": {}},
            ]}));
            g
        };
        let page = |query: &str| {
            let filter = RulesFilter::parse(Some(query))?;
            let kept: Vec<_> = three()
                .into_iter()
                .filter_map(|g| filter.apply(g))
                .collect();
            let (groups, next) = filter.page(kept)?;
            let names: Vec<String> = groups
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_string())
                .collect();
            Ok::<_, String>((names, next))
        };
        assert_eq!(
            page("").unwrap(),
            (vec!["api".into(), "db".into(), "cache".into()], None)
        );
        let (first, token) = page("group_limit=2").unwrap();
        assert_eq!(first, ["api", "db"]);
        let token = token.expect("a next page");
        let (second, last) = page(&format!("group_limit=2&group_next_token={token}")).unwrap();
        assert_eq!((second, last), (vec!["cache".to_string()], None));
        // Filters apply before paging.
        let (only, next) = page("group_limit=1&type=record").unwrap();
        assert_eq!((only, next), (vec!["api".to_string()], None));
        assert!(page("group_limit=0").is_err());
        assert!(page("group_limit=x").is_err());
        let unknown = page("group_limit=1&group_next_token=feedfacefeedface").unwrap_err();
        assert!(unknown.contains("names no rule group"), "{unknown}");
    }
}
