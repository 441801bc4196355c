//! The admin HTTP server: every endpoint it serves, all `GET`.
//!
//! - `/debug/metrics`, and the same at `/metrics` (where Prometheus scrapes
//!   by default): every component's counters, queue fill and sink write
//!   latency, plus process metrics (resident memory, uptime, build info),
//!   in the Prometheus text format.
//! - `/healthz`: 200 while the process runs; `/health` the same with
//!   `{"ok":true}`, as Vector's API answers there (a Vector config's
//!   `[api]` is served by this server).
//! - `/readyz`: 200 once every component has started, none has failed and
//!   none reports a problem (an unreachable server), 503 with the states
//!   and problems as JSON otherwise.
//! - `/api/v1/topology`: components, kinds, types, inputs and outputs.
//! - `/api/v1/health`: each component's state (`starting`, `running`,
//!   `stopped`, `failed` with its error).
//! - `/api/v1/rules`: the rule groups of every `rules` transform, as
//!   Prometheus' endpoint of that name. Parameters: `type` (`alert` or
//!   `record`); `rule_name[]`, `rule_group[]`, `file[]` (repeatable, each
//!   matching any of its values); `match[]` (series selectors over the
//!   rules' configured labels; needs the `rules` feature, on by default);
//!   `exclude_alerts` (a Go boolean: alerting rules without their alerts);
//!   `group_limit` (groups per page) and `group_next_token` (the
//!   `groupNextToken` of the previous page). A bad value is 400 with
//!   `errorType` `bad_data`.
//! - `/api/v1/alerts`: the pending and firing alerts of every `rules`
//!   transform, as Prometheus' endpoint of that name; no parameters.
//!
//! The JSON API answers `{"status": "success", "data": ...}` as Prometheus
//! does. The rules and alerts are the typed views components publish
//! (`logbridge_component::api`); this crate filters and pages them and
//! knows nothing about the rules engine.

mod rules;
mod selector;
mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use logbridge_component::ShutdownSignal;
use logbridge_component::api::{Alert, RuleGroup};
use logbridge_component::telemetry::Registry;
use logbridge_config::Config;
use logbridge_topology::Health;
use serde::Serialize;

use crate::rules::RulesFilter;

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
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "ok": true })) }),
        )
        .route("/readyz", get(readyz))
        .route("/api/v1/topology", get(topology_json))
        .route("/api/v1/health", get(health_json))
        .route("/api/v1/rules", get(rules_json))
        .route("/api/v1/alerts", get(alerts_json))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local = listener.local_addr()?;
    let server = serve::serve(listener, app, stop);
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

/// A successful answer, as Prometheus' API wraps it.
#[derive(Serialize)]
struct Success<T> {
    status: &'static str,
    data: T,
}

fn success<T: Serialize>(data: T) -> Json<Success<T>> {
    Json(Success {
        status: "success",
        data,
    })
}

/// `data` of `/api/v1/rules`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RulesData {
    groups: Vec<RuleGroup>,
    /// Set when `group_limit` left groups for another page.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_next_token: Option<String>,
}

/// `data` of `/api/v1/alerts`.
#[derive(Serialize)]
struct AlertsData {
    alerts: Vec<Alert>,
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
    let groups: Vec<RuleGroup> = s
        .registry
        .rules_views()
        .iter()
        .flat_map(|view| view.rule_groups())
        .filter_map(|group| filter.apply(group))
        .collect();
    let (groups, group_next_token) = match filter.page(groups) {
        Ok(page) => page,
        Err(error) => return bad_data(error),
    };
    success(RulesData {
        groups,
        group_next_token,
    })
    .into_response()
}

/// The pending and firing alerts of every rules engine, as Prometheus'
/// `/api/v1/alerts`.
async fn alerts_json(State(s): State<Arc<AppState>>) -> Json<Success<AlertsData>> {
    let alerts = s
        .registry
        .rules_views()
        .iter()
        .flat_map(|view| view.alerts())
        .collect();
    success(AlertsData { alerts })
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

    #[test]
    fn answers_are_wrapped_as_prometheus_wraps_them() {
        let body = |data| serde_json::to_string(&success(data).0).unwrap();
        let groups = |token: Option<&str>| RulesData {
            groups: Vec::new(),
            group_next_token: token.map(str::to_owned),
        };
        assert_eq!(
            body(groups(None)),
            r#"{"status":"success","data":{"groups":[]}}"#
        );
        assert_eq!(
            body(groups(Some("00ff"))),
            r#"{"status":"success","data":{"groups":[],"groupNextToken":"00ff"}}"#
        );
        let alerts = serde_json::to_string(&success(AlertsData { alerts: Vec::new() }).0).unwrap();
        assert_eq!(alerts, r#"{"status":"success","data":{"alerts":[]}}"#);
    }
}
