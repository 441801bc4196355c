//! Templates for file paths and object keys: strftime specifiers
//! (`%Y-%m-%d`, taken from the event's timestamp, or the time it was
//! observed) and `{{ field }}` references (`{{ service }}`,
//! `{{ .http.host }}`; a missing field renders as `-`, and `/` inside a
//! value becomes `_` so a value cannot climb out of its folder).

use chrono::format::{Item, StrftimeItems};
use logbridge_event::{Event, Path};

#[derive(Debug, Clone)]
enum Part {
    /// Literal text possibly with strftime specifiers.
    Time(String),
    Field(Path),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    has_time: bool,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            push_time(&mut parts, &rest[..open])?;
            let close = rest[open..]
                .find("}}")
                .ok_or_else(|| TemplateError(format!("unclosed `{{{{` in `{source}`")))?;
            let inner = rest[open + 2..open + close].trim();
            let path = Path::parse(inner)
                .map_err(|e| TemplateError(format!("invalid field `{inner}` in template: {e}")))?;
            parts.push(Part::Field(path));
            rest = &rest[open + close + 2..];
        }
        push_time(&mut parts, rest)?;
        let has_time = parts
            .iter()
            .any(|p| matches!(p, Part::Time(t) if t.contains('%')));
        Ok(Template {
            parts,
            has_time,
            source: source.to_owned(),
        })
    }

    /// Whether the output depends on the event at all.
    pub fn is_dynamic(&self) -> bool {
        self.has_time || self.parts.iter().any(|p| matches!(p, Part::Field(_)))
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders for `event`, using `fallback_nanos` when the event has no
    /// timestamp of its own.
    pub fn render(&self, event: &Event, fallback_nanos: i64) -> String {
        let mut out = String::new();
        let mut time = None;
        for part in &self.parts {
            match part {
                Part::Time(text) if text.contains('%') => {
                    let t = *time.get_or_insert_with(|| event_time(event, fallback_nanos));
                    let dt = chrono::DateTime::from_timestamp_nanos(t);
                    out.push_str(&dt.format(text).to_string());
                }
                Part::Time(text) => out.push_str(text),
                Part::Field(path) => match event.get(path) {
                    Some(v) if !v.is_null() => out.push_str(&v.to_string_lossy().replace('/', "_")),
                    _ => out.push('-'),
                },
            }
        }
        out
    }
}

fn push_time(parts: &mut Vec<Part>, text: &str) -> Result<(), TemplateError> {
    if text.is_empty() {
        return Ok(());
    }
    if StrftimeItems::new(text).any(|i| matches!(i, Item::Error)) {
        return Err(TemplateError(format!(
            "invalid strftime specifier in `{text}` (write %% for a literal %)"
        )));
    }
    parts.push(Part::Time(text.to_owned()));
    Ok(())
}

/// The time an event happened, or when it was seen, in nanoseconds.
pub fn event_time(event: &Event, fallback_nanos: i64) -> i64 {
    let t = match event {
        Event::Log(l) if l.time_unix_nano != 0 => l.time_unix_nano,
        Event::Log(l) => l.observed_time_unix_nano,
        Event::Metric(m) => m.time_unix_nano,
        Event::Span(s) => s.start_time_unix_nano,
    };
    if t != 0 { t } else { fallback_nanos }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{LogRecord, Value};

    #[test]
    fn renders_time_and_fields() {
        let t = Template::parse("/logs/{{ service }}/%Y-%m-%d/{{ .missing }}.log").unwrap();
        assert!(t.is_dynamic());
        let mut log = LogRecord {
            time_unix_nano: 1_704_067_200_000_000_000,
            ..LogRecord::default()
        };
        log.attributes.insert("service".into(), Value::from("a/b"));
        assert_eq!(t.render(&Event::Log(log), 0), "/logs/a_b/2024-01-01/-.log");
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Template::parse("/x/{{ service").is_err());
        assert!(Template::parse("/x/%Q").is_err());
        assert!(!Template::parse("/x/y.log").unwrap().is_dynamic());
    }
}
