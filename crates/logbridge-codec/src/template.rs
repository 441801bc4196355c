//! Templates for file paths and object keys, and for metric names and
//! tags: strftime specifiers (`%Y-%m-%d`, taken from the event's timestamp,
//! or the time it was observed) and `{{ field }}` references
//! (`{{ service }}`, `{{ .http.host }}`). Rendered as a path, a missing
//! field renders as `-`, and `/` inside a value becomes `_` so a value
//! cannot climb out of its folder; rendered as a value, a missing field is
//! an error and values are kept as they are.

use std::cell::RefCell;

use chrono::format::{Fixed, Item, Numeric, StrftimeItems};
use logbridge_event::{Event, Path, Value};

#[derive(Debug, Clone)]
enum Part {
    /// Literal text.
    Text(String),
    /// Text with strftime specifiers, parsed once.
    Time {
        items: Vec<Item<'static>>,
        /// Whether it shows fractions of a second (else its rendering is
        /// the same for a whole second, and cached).
        subsecond: bool,
    },
    Field(Path),
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
    has_time: bool,
    source: String,
    /// The time parts last rendered, by second: events come in time order
    /// mostly, so one entry saves formatting the date for nearly every one.
    last_time: RefCell<Option<(i64, Vec<String>)>>,
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
        let has_time = parts.iter().any(|p| matches!(p, Part::Time { .. }));
        Ok(Template {
            parts,
            has_time,
            source: source.to_owned(),
            last_time: RefCell::new(None),
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
        self.render_into(event, fallback_nanos, &mut out, |value, out| {
            match value {
                Some(v) => out.push_str(&v.to_string_lossy().replace('/', "_")),
                None => out.push('-'),
            }
            Ok(())
        })
        .map_or_else(|_| String::new(), |()| out)
    }

    /// Renders for `event` as a value rather than a path (metric names and
    /// tags): field values are written as they are, and a field that is
    /// missing or null is an error naming it.
    pub fn render_value(
        &self,
        event: &Event,
        fallback_nanos: i64,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.render_into(event, fallback_nanos, &mut out, |value, out| match value {
            Some(v) => {
                out.push_str(&v.to_string_lossy());
                Ok(())
            }
            None => Err(()),
        })
        .map(|()| out)
    }

    /// Writes the template into `out`, field values through `field` (given
    /// `None` for a missing or null field).
    fn render_into(
        &self,
        event: &Event,
        fallback_nanos: i64,
        out: &mut String,
        mut field: impl FnMut(Option<&Value>, &mut String) -> Result<(), ()>,
    ) -> Result<(), TemplateError> {
        let time = self.has_time.then(|| event_time(event, fallback_nanos));
        let mut cached = self.last_time.borrow_mut();
        let second = time.map(|t| t.div_euclid(1_000_000_000));
        let reuse = matches!((&*cached, second), (Some((s, _)), Some(now)) if *s == now);
        if !reuse && let Some(second) = second {
            *cached = Some((second, Vec::new()));
        }
        let mut time_part = 0;
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Time { items, subsecond } => {
                    let t = time.unwrap_or_default();
                    let render = || {
                        chrono::DateTime::from_timestamp_nanos(t)
                            .format_with_items(items.iter())
                            .to_string()
                    };
                    match cached.as_mut() {
                        Some((_, parts)) if !subsecond => {
                            if reuse && let Some(text) = parts.get(time_part) {
                                out.push_str(text);
                            } else {
                                let text = render();
                                out.push_str(&text);
                                parts.push(text);
                            }
                        }
                        Some((_, parts)) => {
                            out.push_str(&render());
                            if !reuse {
                                parts.push(String::new()); // keeps the indices
                            }
                        }
                        None => out.push_str(&render()),
                    }
                    time_part += 1;
                }
                Part::Field(path) => {
                    let value = event.get(path);
                    let value = value.as_deref().filter(|v| !v.is_null());
                    if field(value, out).is_err() {
                        // The cached time parts may be incomplete now.
                        *cached = None;
                        return Err(TemplateError(format!("field {path} is missing")));
                    }
                }
            }
        }
        Ok(())
    }
}

fn push_time(parts: &mut Vec<Part>, text: &str) -> Result<(), TemplateError> {
    if text.is_empty() {
        return Ok(());
    }
    if !text.contains('%') {
        parts.push(Part::Text(text.to_owned()));
        return Ok(());
    }
    let items = StrftimeItems::new(text).parse_to_owned().map_err(|_| {
        TemplateError(format!(
            "invalid strftime specifier in `{text}` (write %% for a literal %)"
        ))
    })?;
    let subsecond = items.iter().any(|i| {
        matches!(
            i,
            Item::Numeric(Numeric::Nanosecond, _)
                | Item::Fixed(
                    Fixed::Nanosecond
                        | Fixed::Nanosecond3
                        | Fixed::Nanosecond6
                        | Fixed::Nanosecond9
                        | Fixed::Internal(_)
                )
        )
    });
    parts.push(Part::Time { items, subsecond });
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
    fn cached_seconds_and_fractions() {
        let t = Template::parse("%Y/%m/%d/{{ n }}/%H%M%S.%3f/{{ n }}/%H").unwrap();
        let at = |ns: i64, n: i64| {
            let mut log = LogRecord {
                time_unix_nano: ns,
                ..LogRecord::default()
            };
            log.attributes.insert("n".into(), Value::Integer(n));
            t.render(&Event::Log(log), 0)
        };
        let s = 1_704_067_200_000_000_000;
        assert_eq!(at(s, 1), "2024/01/01/1/000000.000/1/00");
        assert_eq!(at(s + 5_000_000, 2), "2024/01/01/2/000000.005/2/00");
        assert_eq!(
            at(s + 86_400_000_000_000, 3),
            "2024/01/02/3/000000.000/3/00"
        );
        assert_eq!(at(s, 4), "2024/01/01/4/000000.000/4/00");
        assert_eq!(t.last_time.borrow().as_ref().unwrap().1.len(), 3);
        let day = Template::parse("d=%F/").unwrap();
        let log = |ns| {
            Event::Log(LogRecord {
                time_unix_nano: ns,
                ..LogRecord::default()
            })
        };
        assert_eq!(day.render(&log(s), 0), "d=2024-01-01/");
        assert_eq!(day.render(&log(s + 1), 0), "d=2024-01-01/");
        assert_eq!(day.render(&log(s - 1), 0), "d=2023-12-31/");
    }

    #[test]
    fn renders_values_strictly() {
        let t = Template::parse("%Y {{ a }}/{{ .b }} %H").unwrap();
        let mut log = LogRecord {
            time_unix_nano: 1_704_067_200_000_000_000,
            ..LogRecord::default()
        };
        log.attributes.insert("a".into(), Value::from("x/y"));
        let event = Event::Log(log.clone());
        let err = t.render_value(&event, 0).unwrap_err();
        assert_eq!(err.0, "field .b is missing");
        log.attributes.insert("b".into(), Value::Integer(7));
        let event = Event::Log(log);
        assert_eq!(t.render_value(&event, 0).unwrap(), "2024 x/y/7 00");
        assert_eq!(t.render(&event, 0), "2024 x_y/7 00");
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(Template::parse("/x/{{ service").is_err());
        assert!(Template::parse("/x/%Q").is_err());
        assert!(!Template::parse("/x/y.log").unwrap().is_dynamic());
    }
}
