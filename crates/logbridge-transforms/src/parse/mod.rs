//! The `parse` transform: parses a field of each log (by default
//! `.message`) as JSON, logfmt, a regex with named captures, or syslog, and
//! merges the result into the event. Logs that fail go to `dropped` with
//! the reason attached, never lost silently.

use std::sync::Arc;

use logbridge_codec::decode::{Parser, ParserConfig};
use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, LogRecord, ObjectMap, Path, Value};
use serde::Deserialize;
use tracing::warn;

use logbridge_component::dropped::{log_outputs_with_dropped, mark_dropped};

/// Which parser to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParseFormat {
    /// A JSON object.
    Json,
    /// `key=value` pairs.
    Logfmt,
    /// A regular expression with named captures (`pattern`).
    Regex,
    /// Syslog, RFC 5424 or RFC 3164.
    Syslog,
}

/// Parses a field of each log and merges the result into the event.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    /// The format of the field.
    pub format: ParseFormat,
    /// The regular expression, for `format = "regex"`; its named captures
    /// become fields, e.g. `'^(?P<ip>\S+) (?P<verb>\w+)'`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The field to parse.
    #[serde(default = "default_field")]
    pub field: String,
    /// Where to put the parsed fields: empty merges them into the top level
    /// (a parsed `message` then becomes the new message), a path such as
    /// `.parsed` nests them there.
    #[serde(default)]
    pub target: String,
    /// Remove the parsed field after a successful parse (not when the
    /// result itself sets it).
    #[serde(default = "default_true")]
    pub drop_field: bool,
}

fn default_field() -> String {
    "message".into()
}

fn default_true() -> bool {
    true
}

impl TransformConfig for ParseConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let parser_config = match (self.format, &self.pattern) {
            (ParseFormat::Regex, Some(pattern)) => ParserConfig::Regex {
                pattern: pattern.clone(),
            },
            (ParseFormat::Regex, None) => {
                return Err(
                    BuildError::new("pattern", "format = \"regex\" needs a `pattern`")
                        .with_hint("add pattern = '(?P<name>...)' with named captures"),
                );
            }
            (_, Some(_)) => {
                return Err(BuildError::new(
                    "pattern",
                    "`pattern` only applies to format = \"regex\"",
                )
                .with_hint("remove `pattern`, or set format = \"regex\""));
            }
            (ParseFormat::Json, None) => ParserConfig::Json,
            (ParseFormat::Logfmt, None) => ParserConfig::Logfmt,
            (ParseFormat::Syslog, None) => ParserConfig::Syslog,
        };
        let option = if self.pattern.is_some() {
            "pattern"
        } else {
            "format"
        };
        let parser =
            Parser::new(&parser_config).map_err(|e| BuildError::new(option, e.to_string()))?;
        let field = Path::parse(&self.field)
            .map_err(|e| BuildError::new("field", format!("invalid path: {e}")))?;
        let target = if self.target.trim().is_empty() {
            None
        } else {
            Some(
                Path::parse(&self.target)
                    .map_err(|e| BuildError::new("target", format!("invalid path: {e}")))?,
            )
        };
        Ok(Box::new(Parse {
            parser,
            field,
            target,
            drop_field: self.drop_field,
            id: cx.id.clone(),
            metrics: cx.metrics.clone(),
            warn_limit: RateLimit::default(),
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

struct Parse {
    parser: Parser,
    field: Path,
    target: Option<Path>,
    drop_field: bool,
    id: String,
    metrics: Arc<ComponentMetrics>,
    warn_limit: RateLimit,
}

impl Parse {
    /// Parses one log in place; the error message on failure.
    fn parse_one(&self, log: &mut LogRecord) -> Result<(), String> {
        // A cheap clone of the field's bytes lets strings in the result
        // slice the input instead of copying it.
        let input = match log.get(&self.field) {
            Some(value) => match value.as_ref() {
                Value::Bytes(b) => b.clone(),
                other => {
                    return Err(format!(
                        "field {} is a {}, not a string",
                        self.field,
                        other.kind_name()
                    ));
                }
            },
            None => return Err(format!("field {} is missing", self.field)),
        };
        let parsed = self
            .parser
            .parse_bytes(&input, log.observed_time_unix_nano)
            .map_err(|e| e.to_string())?;
        if self.drop_field {
            log.remove(&self.field);
        }
        merge(log, self.target.as_ref(), parsed)
    }
}

fn merge(log: &mut LogRecord, target: Option<&Path>, mut parsed: ObjectMap) -> Result<(), String> {
    if let Some(path) = target {
        return log.insert(path, Value::Object(parsed)).map(drop);
    }
    if let Some(message) = parsed.remove("message") {
        log.body = message;
    }
    // Usually the log holds a couple of attributes (`file`, `host`) and
    // the parsed object many: move the few into the many instead of
    // re-inserting every parsed key. Parsed fields win on a clash.
    if log.attributes.len() <= parsed.len() {
        parsed.reserve(log.attributes.len());
        std::mem::swap(&mut log.attributes, &mut parsed);
        for (key, value) in parsed {
            log.attributes.entry(key).or_insert(value);
        }
    } else {
        log.attributes.extend(parsed);
    }
    Ok(())
}

impl Transform for Parse {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        // Fast path: parse in place and only split the batch when something
        // failed.
        let mut failed: Vec<(usize, String)> = Vec::new();
        for (i, event) in batch.events_mut().iter_mut().enumerate() {
            if let Event::Log(log) = event
                && let Err(message) = self.parse_one(log)
            {
                failed.push((i, message));
            }
        }
        if failed.is_empty() {
            out.push(batch);
            return;
        }
        self.metrics.add_error();
        if self.warn_limit.allow() {
            warn!(
                message = "Events failed to parse and were sent to the dropped output.",
                component_id = %self.id,
                count = failed.len(),
                error = %failed[0].1
            );
        }
        let (ok, dropped) = split_failed(&mut batch, failed, &self.id);
        out.push(ok);
        out.push_named(DROPPED_OUTPUT, dropped);
    }
}

/// Splits `batch` into the events that parsed and those listed in `failed`
/// (ascending indexes), the latter marked with their reason. Both halves
/// answer to the batch's finalizers.
fn split_failed(
    batch: &mut EventBatch,
    failed: Vec<(usize, String)>,
    id: &str,
) -> (EventBatch, EventBatch) {
    let total = batch.len().max(1);
    let size = batch.byte_size();
    let finalizers = batch.finalizers.clone();
    let mut failed = failed.into_iter().peekable();
    let mut ok = Vec::with_capacity(total);
    let mut dropped = Vec::new();
    for (i, mut event) in batch.take_events().into_iter().enumerate() {
        match failed.next_if(|(j, _)| *j == i) {
            Some((_, message)) => {
                mark_dropped(&mut event, "parse_failed", &message, id);
                dropped.push(event);
            }
            None => ok.push(event),
        }
    }
    let ok_size = size * ok.len() / total;
    let ok = EventBatch::with_size(ok, ok_size).with_finalizers(finalizers.clone());
    let dropped = EventBatch::with_size(dropped, size - ok_size).with_finalizers(finalizers);
    (ok, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use logbridge_component::telemetry::ComponentKind;

    fn build(toml: serde_json::Value) -> Box<dyn Transform> {
        let cfg: ParseConfig = serde_json::from_value(toml).unwrap();
        cfg.build(&BuildContext::detached(
            "p",
            ComponentKind::Transform,
            "/tmp".into(),
        ))
        .unwrap()
    }

    fn line(s: &str) -> Event {
        Event::Log(LogRecord::from_line(
            Bytes::copy_from_slice(s.as_bytes()),
            1,
        ))
    }

    fn run(t: &mut Box<dyn Transform>, events: Vec<Event>) -> Vec<(Option<String>, Vec<Event>)> {
        let mut out = TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())]);
        t.transform(EventBatch::new(events), &mut out);
        let names = out.names().to_vec();
        out.drain()
            .map(|(i, b)| (names[i].clone(), b.events().to_vec()))
            .collect()
    }

    #[test]
    fn json_fields_merge_and_failures_go_to_dropped() {
        let mut t = build(serde_json::json!({"format": "json"}));
        let got = run(
            &mut t,
            vec![
                line(r#"{"level":"info","status":200,"message":"ok"}"#),
                line("not json"),
                line("{}"),
            ],
        );
        assert_eq!(got.len(), 2);
        let (name, ok) = &got[0];
        assert!(name.is_none());
        assert_eq!(ok.len(), 2);
        let first = ok[0].as_log().unwrap();
        assert_eq!(first.body.as_str(), Some("ok"));
        assert_eq!(first.attributes["status"], Value::Integer(200));
        let (name, bad) = &got[1];
        assert_eq!(name.as_deref(), Some("dropped"));
        let bad = bad[0].as_log().unwrap();
        assert_eq!(
            bad.body.as_str(),
            Some("not json"),
            "the original line is kept"
        );
        let info = bad.attributes["dropped"].as_object().unwrap();
        assert_eq!(info["reason"].as_str(), Some("parse_failed"));
        assert!(!info["message"].as_str().unwrap().is_empty());
    }

    #[test]
    fn regex_into_target() {
        let mut t = build(serde_json::json!({
            "format": "regex", "pattern": r"^(?P<ip>\S+) (?P<verb>\w+)", "target": ".req", "drop_field": false
        }));
        let got = run(&mut t, vec![line("10.0.0.1 GET /")]);
        let log = got[0].1[0].as_log().unwrap();
        assert_eq!(
            log.get(&Path::parse(".req.verb").unwrap())
                .unwrap()
                .as_str(),
            Some("GET")
        );
        assert_eq!(log.body.as_str(), Some("10.0.0.1 GET /"));
    }

    #[test]
    fn regex_without_pattern_is_rejected() {
        let cfg: ParseConfig =
            serde_json::from_value(serde_json::json!({"format": "regex"})).unwrap();
        let err = cfg
            .build(&BuildContext::detached(
                "p",
                ComponentKind::Transform,
                "/tmp".into(),
            ))
            .err()
            .unwrap();
        assert_eq!(err.option.as_deref(), Some("pattern"));
    }
}
