//! Alert state saved in `data_dir` after every evaluation and read at
//! start, so that a restart neither restarts `for` periods nor forgets
//! which alerts were firing.

use std::path::Path;

use logbridge_rules::labels::Labels;
use logbridge_rules::rules::{Alert, AlertState, SavedAlerts};
use serde::{Deserialize, Serialize};

/// Saved state older than this is ignored (Prometheus' default outage
/// tolerance): after a long outage, `for` periods start over.
pub const OUTAGE_TOLERANCE_MS: i64 = 60 * 60 * 1000;

#[derive(Serialize, Deserialize)]
struct StateFile {
    /// When it was written, milliseconds since the epoch.
    saved_at: i64,
    rules: Vec<SavedRule>,
}

#[derive(Serialize, Deserialize)]
struct SavedRule {
    file: String,
    group: String,
    rule: String,
    alerts: Vec<SavedAlert>,
}

#[derive(Serialize, Deserialize)]
struct SavedAlert {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    state: String,
    value: f64,
    active_at: i64,
    fired_at: Option<i64>,
    last_sent_at: Option<i64>,
}

/// The state as JSON.
pub fn encode(saved: &[SavedAlerts], now_ms: i64) -> String {
    let file = StateFile {
        saved_at: now_ms,
        rules: saved
            .iter()
            .map(|r| SavedRule {
                file: r.file.clone(),
                group: r.group.clone(),
                rule: r.rule.clone(),
                alerts: r
                    .alerts
                    .iter()
                    .map(|a| SavedAlert {
                        labels: a.labels.to_pairs(),
                        annotations: a.annotations.clone(),
                        state: a.state.as_str().to_string(),
                        value: if a.value.is_finite() { a.value } else { 0.0 },
                        active_at: a.active_at,
                        fired_at: a.fired_at,
                        last_sent_at: a.last_sent_at,
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&file).unwrap_or_default()
}

/// Reads saved state: when it was saved and the alerts; `None` if it is
/// older than the outage tolerance.
pub fn decode(text: &str, now_ms: i64) -> Result<Option<(i64, Vec<SavedAlerts>)>, String> {
    let file: StateFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if now_ms - file.saved_at > OUTAGE_TOLERANCE_MS {
        return Ok(None);
    }
    Ok(Some((
        file.saved_at,
        file.rules
            .into_iter()
            .map(|r| SavedAlerts {
                file: r.file,
                group: r.group,
                rule: r.rule,
                alerts: r
                    .alerts
                    .into_iter()
                    .map(|a| Alert {
                        labels: Labels::from_pairs(a.labels),
                        annotations: a.annotations,
                        state: if a.state == "firing" {
                            AlertState::Firing
                        } else {
                            AlertState::Pending
                        },
                        value: a.value,
                        active_at: a.active_at,
                        fired_at: a.fired_at,
                        resolved_at: None,
                        last_sent_at: a.last_sent_at,
                        valid_until: None,
                        keep_firing_since: None,
                    })
                    .collect(),
            })
            .collect(),
    )))
}

/// Writes the state atomically (a new file renamed over the old one).
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_outage_tolerance() {
        let alert = Alert {
            labels: Labels::from_pairs([("alertname", "Down"), ("job", "api")]),
            annotations: vec![("summary".into(), "api down".into())],
            state: AlertState::Pending,
            value: 1.0,
            active_at: 1000,
            fired_at: None,
            resolved_at: None,
            last_sent_at: None,
            valid_until: None,
            keep_firing_since: None,
        };
        let saved = vec![SavedAlerts {
            file: "r.yml".into(),
            group: "g".into(),
            rule: "Down".into(),
            alerts: vec![alert.clone()],
        }];
        let text = encode(&saved, 5000);
        assert_eq!(decode(&text, 6000).unwrap(), Some((5000, saved)));
        assert_eq!(decode(&text, 5000 + OUTAGE_TOLERANCE_MS + 1).unwrap(), None);
        assert!(decode("{", 0).is_err());
    }
}
