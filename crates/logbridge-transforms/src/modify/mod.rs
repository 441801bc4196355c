//! The `modify` transform: renames, converts, sets and removes fields of
//! logs, in that order. A conversion that fails sends the log to `dropped`
//! with the reason.

use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, LogRecord, Path, Value};
use serde::Deserialize;

use logbridge_component::dropped::{log_outputs_with_dropped, mark_dropped};

/// A type to convert a field to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConvertTo {
    /// Any scalar, rendered as text.
    String,
    /// From a string of digits, a float (truncated) or a boolean (0/1).
    Integer,
    /// From a numeric string or an integer.
    Float,
    /// From `true/false/yes/no/on/off/1/0` (any case) or an integer (0 is false).
    Boolean,
    /// From an RFC 3339 string, or a number of seconds since the epoch.
    Timestamp,
}

/// Renames, converts, sets and removes fields (applied in that order).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyConfig {
    /// Fields to rename: `rename = { ".old" = ".new" }`. A missing source
    /// field is skipped; an existing target is overwritten.
    #[serde(default)]
    pub rename: IndexMap<String, String>,
    /// Fields to convert: `convert = { ".status" = "integer" }`. Missing
    /// fields are skipped; a value that does not convert sends the log to
    /// `dropped`.
    #[serde(default)]
    pub convert: IndexMap<String, ConvertTo>,
    /// Fields to set to constant values: `set = { ".env" = "prod" }`;
    /// `%` paths set metadata (`"%severity_text" = "info"`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub set: IndexMap<String, Value>,
    /// Fields to remove: `remove = [".password", ".tmp"]`.
    #[serde(default)]
    pub remove: Vec<String>,
}

fn path(option: &str, text: &str) -> Result<Path, BuildError> {
    Path::parse(text).map_err(|e| BuildError::new(option, format!("invalid path `{text}`: {e}")))
}

impl TransformConfig for ModifyConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.rename.is_empty()
            && self.convert.is_empty()
            && self.set.is_empty()
            && self.remove.is_empty()
        {
            return Err(BuildError::new("set", "modify has nothing to do")
                .with_hint("add at least one of rename, convert, set, remove"));
        }
        let rename = self
            .rename
            .iter()
            .map(|(from, to)| Ok((path("rename", from)?, path("rename", to)?)))
            .collect::<Result<_, BuildError>>()?;
        let convert = self
            .convert
            .iter()
            .map(|(p, to)| Ok((path("convert", p)?, *to)))
            .collect::<Result<_, BuildError>>()?;
        let mut set = Vec::new();
        for (p, v) in &self.set {
            let p = path("set", p)?;
            // Setting a metadata field to a value of the wrong type is a
            // config error, found now rather than on every event.
            LogRecord::default()
                .insert(&p, v.clone())
                .map_err(|e| BuildError::new("set", format!("cannot set {p}: {e}")))?;
            set.push((p, v.clone()));
        }
        let remove = self
            .remove
            .iter()
            .map(|p| path("remove", p))
            .collect::<Result<_, _>>()?;
        Ok(Box::new(Modify {
            rename,
            convert,
            set,
            remove,
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
        }))
    }

    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::LOG
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        log_outputs_with_dropped()
    }
}

struct Modify {
    rename: Vec<(Path, Path)>,
    convert: Vec<(Path, ConvertTo)>,
    set: Vec<(Path, Value)>,
    remove: Vec<Path>,
    id: String,
    metrics: Arc<ComponentMetrics>,
}

impl Modify {
    fn apply(&self, log: &mut LogRecord) -> Result<(), String> {
        for (from, to) in &self.rename {
            if let Some(v) = log.remove(from) {
                log.insert(to, v)
                    .map_err(|e| format!("cannot rename {from} to {to}: {e}"))?;
            }
        }
        for (p, to) in &self.convert {
            let Some(current) = log.get(p) else { continue };
            let converted =
                convert(&current, *to).map_err(|e| format!("cannot convert {p}: {e}"))?;
            log.insert(p, converted)
                .map_err(|e| format!("cannot convert {p}: {e}"))?;
        }
        for (p, v) in &self.set {
            log.insert(p, v.clone())
                .map_err(|e| format!("cannot set {p}: {e}"))?;
        }
        for p in &self.remove {
            log.remove(p);
        }
        Ok(())
    }
}

impl Transform for Modify {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let mut failures = 0;
        let mut dropped = Vec::new();
        let events = batch.events_mut();
        let mut kept = Vec::with_capacity(events.len());
        for mut event in events.drain(..) {
            let result = match &mut event {
                Event::Log(log) => self.apply(log),
                _ => Ok(()),
            };
            match result {
                Ok(()) => kept.push(event),
                Err(message) => {
                    failures += 1;
                    mark_dropped(&mut event, "modify_failed", &message, &self.id);
                    dropped.push(event);
                }
            }
        }
        if failures > 0 {
            self.metrics.add_error();
            out.push_named(DROPPED_OUTPUT, batch.derive(dropped));
        }
        *batch.events_mut() = kept;
        out.push(batch);
    }
}

fn convert(v: &Value, to: ConvertTo) -> Result<Value, String> {
    let text = || {
        v.as_bytes()
            .map(|b| String::from_utf8_lossy(b).trim().to_owned())
    };
    let fail = || {
        Err(format!(
            "a {} `{}` is not a valid {to:?}",
            v.kind_name(),
            v.to_string_lossy()
        )
        .to_lowercase())
    };
    Ok(match to {
        ConvertTo::String => match v {
            Value::Bytes(_) => v.clone(),
            Value::Array(_) | Value::Object(_) => return fail(),
            other => Value::Bytes(Bytes::from(other.to_string_lossy().into_owned())),
        },
        ConvertTo::Integer => match v {
            Value::Integer(_) => v.clone(),
            Value::Float(f) if f.is_finite() && f.abs() < 9.2e18 => {
                Value::Integer(f.trunc() as i64)
            }
            Value::Bool(b) => Value::Integer(i64::from(*b)),
            Value::Bytes(_) => match text().and_then(|t| t.parse::<i64>().ok()) {
                Some(i) => Value::Integer(i),
                None => return fail(),
            },
            _ => return fail(),
        },
        ConvertTo::Float => match v {
            Value::Float(_) => v.clone(),
            Value::Integer(i) => Value::Float(*i as f64),
            Value::Bytes(_) => match text().and_then(|t| t.parse::<f64>().ok()) {
                Some(f) => Value::Float(f),
                None => return fail(),
            },
            _ => return fail(),
        },
        ConvertTo::Boolean => match v {
            Value::Bool(_) => v.clone(),
            Value::Integer(i) => Value::Bool(*i != 0),
            Value::Bytes(_) => match text().map(|t| t.to_ascii_lowercase()).as_deref() {
                Some("true" | "yes" | "on" | "1") => Value::Bool(true),
                Some("false" | "no" | "off" | "0") => Value::Bool(false),
                _ => return fail(),
            },
            _ => return fail(),
        },
        ConvertTo::Timestamp => match v {
            Value::Timestamp(_) => v.clone(),
            Value::Integer(secs) => match secs.checked_mul(1_000_000_000) {
                Some(ns) => Value::Timestamp(ns),
                None => return fail(),
            },
            Value::Float(secs) if secs.is_finite() && secs.abs() < 9.2e9 => {
                Value::Timestamp((secs * 1e9) as i64)
            }
            Value::Bytes(_) => match text()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .and_then(|dt| dt.timestamp_nanos_opt())
            {
                Some(ns) => Value::Timestamp(ns),
                None => return fail(),
            },
            _ => return fail(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;

    fn build(cfg: serde_json::Value) -> Result<Box<dyn Transform>, BuildError> {
        let cfg: ModifyConfig = serde_json::from_value(cfg).unwrap();
        cfg.build(&BuildContext::detached(
            "m",
            ComponentKind::Transform,
            "/tmp".into(),
        ))
    }

    fn log(fields: serde_json::Value) -> Event {
        let v: Value = serde_json::from_value(fields).unwrap();
        let mut l = LogRecord::default();
        l.insert(&Path::parse(".").unwrap(), v).unwrap();
        Event::Log(l)
    }

    #[test]
    fn rename_convert_set_remove() {
        let mut t = build(serde_json::json!({
            "rename": {".lvl": ".level"},
            "convert": {".status": "integer", ".ok": "boolean", ".ts": "timestamp"},
            "set": {".env": "prod", "%severity_text": "WARN"},
            "remove": [".secret"]
        }))
        .unwrap();
        let mut out = TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())]);
        t.transform(
            EventBatch::new(vec![
                log(serde_json::json!({"lvl": "warn", "status": "503", "ok": "yes", "secret": "x", "ts": "2024-01-01T00:00:00Z"})),
                log(serde_json::json!({"status": "abc"})),
            ]),
            &mut out,
        );
        let got: Vec<_> = out.drain().collect();
        assert_eq!(got.len(), 2);
        let (port, dropped) = &got[0];
        assert_eq!(*port, 1);
        let reason = &dropped.events()[0].as_log().unwrap().attributes["dropped"];
        assert!(
            reason.as_object().unwrap()["message"]
                .as_str()
                .unwrap()
                .contains(".status")
        );
        let l = got[1].1.events()[0].as_log().unwrap();
        assert_eq!(l.attributes["level"].as_str(), Some("warn"));
        assert_eq!(l.attributes["status"], Value::Integer(503));
        assert_eq!(l.attributes["ok"], Value::Bool(true));
        assert_eq!(
            l.attributes["ts"],
            Value::Timestamp(1_704_067_200_000_000_000)
        );
        assert_eq!(l.attributes["env"].as_str(), Some("prod"));
        assert_eq!(l.severity_text.as_deref(), Some("WARN"));
        assert!(!l.attributes.contains_key("secret"));
    }

    #[test]
    fn config_errors() {
        assert!(build(serde_json::json!({})).is_err());
        let err = build(serde_json::json!({"set": {"%severity_number": 99}}))
            .err()
            .unwrap();
        assert_eq!(err.option.as_deref(), Some("set"));
        assert!(build(serde_json::json!({"remove": [".a["]})).is_err());
    }
}
