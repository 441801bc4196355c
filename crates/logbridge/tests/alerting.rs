//! Alerting end to end: metrics scraped from a target the test controls,
//! a rule going pending, firing and resolving in logbridge, the alert
//! posted to a real Alertmanager (Debian `prometheus-alertmanager`, from
//! `ALERTMANAGER`) and reaching its webhook receiver; and a restart in the
//! middle of a `for` period that keeps the alert's active-since time.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Env;
use support::capture::Capture;
use support::servers::{Logbridge, alertmanager, wait_long};

/// A scrape target serving `probe_value <n>`, where n is what the test
/// sets.
struct Target {
    port: u16,
    value: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Target {
    fn start(initial: u64) -> Target {
        use axum::Router;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let value = Arc::new(AtomicU64::new(initial));
        let served = value.clone();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let app =
            Router::new().fallback(move || {
                let v = served.load(Ordering::SeqCst);
                async move {
                    format!("# TYPE probe_value gauge\nprobe_value{{service=\"checkout\"}} {v}\n")
                }
            });
        rt.spawn(async move { axum::serve(listener, app).await });
        Target {
            port,
            value,
            _runtime: rt,
        }
    }

    fn set(&self, v: u64) {
        self.value.store(v, Ordering::SeqCst);
    }
}

const RULES: &str = "groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: CheckoutDown
        expr: probe_value == 0
        for: {for}
        labels:
          severity: page
        annotations:
          summary: '{{ $labels.service }} is down (value {{ $value }})'
";

fn config(env: &Env, target: u16, alertmanager: Option<u16>, rule_for: &str) -> std::path::PathBuf {
    env.write("rules.yml", &RULES.replace("{for}", rule_for));
    let sink = match alertmanager {
        Some(port) => format!(
            "[sinks.am]\ntype = \"alertmanager\"\ninputs = [\"rules.alerts\"]\nendpoints = [\"http://127.0.0.1:{port}\"]\n"
        ),
        None => "[sinks.am]\ntype = \"blackhole\"\ninputs = [\"rules.alerts\"]\n".to_string(),
    };
    env.write(
        "config.toml",
        &format!(
            "[sources.probe]
type = \"prometheus_scrape\"
endpoints = [\"http://127.0.0.1:{target}/metrics\"]
scrape_interval_secs = 1
scrape_timeout_secs = 1

[transforms.rules]
type = \"rules\"
inputs = [\"probe\"]
rule_files = [\"{{dir}}/rules.yml\"]
resend_delay_secs = 1
external_labels = {{ cluster = \"eu1\" }}

{sink}
[sinks.records]
type = \"blackhole\"
inputs = [\"rules.records\"]
"
        ),
    )
}

/// logbridge's alerts as (state, activeAt) of the CheckoutDown alert.
fn alert_state(lb: &Logbridge) -> Option<(String, String)> {
    let (code, body) = support::http_get(lb.admin, "/api/v1/alerts")?;
    if code != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&body).ok()?;
    json["data"]["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["labels"]["alertname"] == "CheckoutDown")
        .map(|a| {
            (
                a["state"].as_str().unwrap_or("").to_string(),
                a["activeAt"].as_str().unwrap_or("").to_string(),
            )
        })
}

/// The webhook notifications received: (status, alertname, summary).
fn notifications(hook: &Capture, seen: &mut Vec<(String, String, String)>) {
    for request in hook.take() {
        let json: Value = serde_json::from_slice(&request.body).unwrap();
        for alert in json["alerts"].as_array().unwrap() {
            seen.push((
                alert["status"].as_str().unwrap().to_string(),
                alert["labels"]["alertname"].as_str().unwrap().to_string(),
                alert["annotations"]["summary"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            ));
        }
    }
}

#[test]
fn alert_goes_pending_fires_resolves_and_reaches_the_webhook() {
    let env = Env::new();
    let hook = Capture::start();
    let am = alertmanager(&format!(
        "route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:{}/hook
        send_resolved: true
",
        hook.port
    ));
    let target = Target::start(0);
    let config = config(&env, target.port, Some(am.port), "3s");
    let lb = Logbridge::spawn(&config, &env.path("data"), &env.path("logbridge.log"));

    let mut states = Vec::new();
    assert!(
        wait_long(Duration::from_secs(30), "the alert to fire", || {
            if let Some((state, _)) = alert_state(&lb) {
                if states.last() != Some(&state) {
                    states.push(state.clone());
                }
                return state == "firing";
            }
            false
        }),
        "states {states:?}; log:\n{}",
        lb.log_tail(30)
    );
    assert_eq!(
        states,
        ["pending", "firing"],
        "pending for `for: 3s`, then firing"
    );

    // Alertmanager holds it, with the external labels, and its webhook
    // hears of it.
    assert!(wait_long(
        Duration::from_secs(20),
        "Alertmanager to hold the alert",
        || {
            support::http_get(am.port, "/api/v2/alerts").is_some_and(|(_, body)| {
                body.contains("CheckoutDown")
                    && body.contains("checkout is down (value 0)")
                    && body.contains(r#""cluster":"eu1""#)
            })
        }
    ));
    let mut seen = Vec::new();
    assert!(
        wait_long(Duration::from_secs(20), "the firing notification", || {
            notifications(&hook, &mut seen);
            seen.iter().any(|(status, _, _)| status == "firing")
        }),
        "webhook got {seen:?}; alertmanager log:\n{}",
        std::fs::read_to_string(&am.log).unwrap_or_default()
    );
    assert!(seen.contains(&(
        "firing".to_string(),
        "CheckoutDown".to_string(),
        "checkout is down (value 0)".to_string()
    )));

    // The probe comes back: the alert resolves, and so does the webhook's.
    target.set(1);
    assert!(
        wait_long(Duration::from_secs(30), "the resolved notification", || {
            notifications(&hook, &mut seen);
            seen.iter().any(|(status, _, _)| status == "resolved")
        }),
        "webhook got {seen:?}; logbridge log:\n{}",
        lb.log_tail(30)
    );
    assert_eq!(alert_state(&lb), None, "no active alert once resolved");

    // The engine's own counters: the scraper's `up` and `scrape_*` series
    // are read by no rule; the group's missed steps are exported (their
    // count is tested in logbridge-rules: a loaded CI machine may miss one).
    let (_, metrics) = support::http_get(lb.admin, "/debug/metrics").expect("metrics");
    let value = |name: &str| -> Option<f64> {
        let line = metrics.lines().find(|l| l.starts_with(name))?;
        line.rsplit(' ').next()?.parse().ok()
    };
    assert!(
        value("logbridge_rules_samples_not_read_total{").is_some_and(|v| v > 0.0),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE logbridge_rules_group_iterations_missed_total counter"));
    assert!(
        metrics.lines().any(
            |l| l.starts_with("logbridge_rules_group_iterations_missed_total{")
                && l.contains(r#"group="checkout""#)
        ),
        "{metrics}"
    );
}

#[test]
fn a_restart_during_for_keeps_the_active_since_time() {
    let env = Env::new();
    let target = Target::start(0);
    let config = config(&env, target.port, None, "20s");
    let data = env.path("data");
    let log = env.path("logbridge.log");
    let mut first = Logbridge::spawn(&config, &data, &log);
    let mut active_at = String::new();
    assert!(
        wait_long(Duration::from_secs(30), "the alert to be pending", || {
            match alert_state(&first) {
                Some((state, at)) if state == "pending" => {
                    active_at = at;
                    true
                }
                _ => false,
            }
        }),
        "{}",
        first.log_tail(30)
    );
    // Give the state a moment to be saved after an evaluation, then stop.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        first
            .terminate(Duration::from_secs(20))
            .is_some_and(|s| s.success())
    );
    assert!(Path::new(&data.join("rules/alerts.json")).exists());

    let restarted_at = Instant::now();
    let second = Logbridge::spawn(&config, &data, &log);
    let mut after = None;
    assert!(
        wait_long(Duration::from_secs(30), "the alert to be back", || {
            after = alert_state(&second);
            after.is_some()
        }),
        "{}",
        second.log_tail(30)
    );
    let (state, at) = after.unwrap();
    assert_eq!(state, "pending");
    assert_eq!(at, active_at, "activeAt survives the restart");
    // `for` counts from the original activeAt: the alert fires well before
    // 20 s after the restart.
    assert!(wait_long(
        Duration::from_secs(30),
        "the alert to fire",
        || { alert_state(&second).is_some_and(|(s, _)| s == "firing") }
    ));
    assert!(
        restarted_at.elapsed() < Duration::from_secs(19),
        "fired {:?} after the restart: `for` started over",
        restarted_at.elapsed()
    );
}

/// The pipeline alerting on itself: `internal_metrics` feeds a recording
/// rule and an alert over logbridge's own counters; the recorded series
/// leave on `rules.records`, and `/api/v1/rules` shows both rules in
/// Prometheus' shape.
#[test]
fn the_pipeline_alerts_on_its_own_metrics() {
    let env = Env::new();
    env.write(
        "rules.yml",
        "groups:
  - name: self
    interval: 1s
    rules:
      - record: component:received_events:sum
        expr: sum by (component_id) (logbridge_component_received_events_total)
      - alert: DemoFlowing
        expr: component:received_events:sum{component_id=\"demo\"} > 0
        labels:
          severity: info
",
    );
    let config = env.write(
        "config.toml",
        "[sources.demo]
type = \"demo\"
interval_secs = 0.01

[sources.self]
type = \"internal_metrics\"
scrape_interval_secs = 0.5

[transforms.rules]
type = \"rules\"
inputs = [\"self\"]
rule_files = [\"{dir}/rules.yml\"]

[sinks.logs]
type = \"blackhole\"
inputs = [\"demo\"]

[sinks.records]
type = \"file\"
inputs = [\"rules.records\"]
path = \"{dir}/records.ndjson\"
encoding.codec = \"json\"

[sinks.alerts]
type = \"blackhole\"
inputs = [\"rules.alerts\"]
",
    );
    let lb = Logbridge::spawn(&config, &env.path("data"), &env.path("logbridge.log"));
    assert!(
        wait_long(Duration::from_secs(30), "the alert to fire", || {
            support::http_get(lb.admin, "/api/v1/alerts")
                .is_some_and(|(_, body)| body.contains("DemoFlowing") && body.contains("firing"))
        }),
        "{}",
        lb.log_tail(20)
    );
    let (code, body) = support::http_get(lb.admin, "/api/v1/rules").unwrap();
    assert_eq!(code, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "success");
    let group = &json["data"]["groups"][0];
    assert_eq!(group["name"], "self");
    assert_eq!(group["interval"], 1.0);
    let rules = group["rules"].as_array().unwrap();
    assert_eq!(rules[0]["type"], "recording");
    assert_eq!(rules[0]["name"], "component:received_events:sum");
    assert_eq!(rules[0]["health"], "ok");
    assert_eq!(rules[1]["type"], "alerting");
    assert_eq!(rules[1]["state"], "firing");
    assert_eq!(rules[1]["alerts"][0]["labels"]["component_id"], "demo");
    let (_, only_alerts) = support::http_get(lb.admin, "/api/v1/rules?type=alert").unwrap();
    assert!(!only_alerts.contains("\"recording\""), "{only_alerts}");
    let (_, by_name) =
        support::http_get(lb.admin, "/api/v1/rules?rule_name[]=DemoFlowing").unwrap();
    let by_name: Value = serde_json::from_str(&by_name).unwrap();
    let rules = by_name["data"]["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["name"], "DemoFlowing");

    // The recorded series flowed on like any metric.
    assert!(wait_long(
        Duration::from_secs(10),
        "recorded series in the file",
        || {
            std::fs::read_to_string(env.path("records.ndjson")).is_ok_and(|text| {
                text.lines().any(|l| {
                    l.contains("\"component:received_events:sum\"")
                        && l.contains("\"component_id\":\"demo\"")
                })
            })
        }
    ));
}
