//! [`LogRecord`]: a log event, shaped like an OpenTelemetry LogRecord.
//!
//! Users address a log through paths: `.message` is the body, every other
//! top-level `.name` an attribute, and `%name` the OpenTelemetry metadata
//! (see [`crate::Path`]).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;

use crate::path::{Path, PathRoot, Segment};
use crate::span::{SpanId, TraceId};
use crate::value::{KeyString, ObjectMap, Value};

/// What produced the telemetry (OpenTelemetry Resource). Shared between the
/// events of one batch through an `Arc`; events without one hold `None`, so
/// a plain log line costs no allocation for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// The instrumentation scope (library) that emitted the telemetry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
    pub schema_url: String,
}

/// The empty resource, for events that have none.
pub static EMPTY_RESOURCE: Resource = Resource {
    attributes: ObjectMap::new(),
    dropped_attributes_count: 0,
    schema_url: String::new(),
};

/// The empty scope, for events that have none.
pub static EMPTY_SCOPE: Scope = Scope {
    name: String::new(),
    version: String::new(),
    attributes: ObjectMap::new(),
    dropped_attributes_count: 0,
    schema_url: String::new(),
};

/// The resource behind an optional shared pointer.
pub fn resource_of(r: &Option<Arc<Resource>>) -> &Resource {
    r.as_deref().unwrap_or(&EMPTY_RESOURCE)
}

/// The scope behind an optional shared pointer.
pub fn scope_of(s: &Option<Arc<Scope>>) -> &Scope {
    s.as_deref().unwrap_or(&EMPTY_SCOPE)
}

/// Mutable access, creating (or unsharing) the value.
pub(crate) fn make_mut<T: Clone + Default>(slot: &mut Option<Arc<T>>) -> &mut T {
    Arc::make_mut(slot.get_or_insert_with(Default::default))
}

/// A record's topic, partition and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaPosition<'a> {
    pub topic: &'a Bytes,
    pub partition: i32,
    pub offset: i64,
}

/// A log event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogRecord {
    /// When the event happened, nanoseconds since the epoch; 0 if unknown.
    pub time_unix_nano: i64,
    /// When logbridge (or an upstream collector) observed it.
    pub observed_time_unix_nano: i64,
    /// OpenTelemetry severity number (1-24); 0 is unspecified.
    pub severity_number: i32,
    pub severity_text: Option<KeyString>,
    /// The name of the event this record stands for (OpenTelemetry's
    /// `event_name`, such as `browser.page_view`); `None` for plain logs.
    pub event_name: Option<KeyString>,
    /// The body: the raw line for unparsed logs, any value otherwise.
    pub body: Value,
    pub attributes: ObjectMap,
    pub dropped_attributes_count: u32,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub flags: u32,
    pub resource: Option<Arc<Resource>>,
    pub scope: Option<Arc<Scope>>,
    /// What the source knew about the record beyond OpenTelemetry's
    /// fields, such as `%kafka.offset`: any `%name` that is not one of the
    /// names above. Kept through buffers; encoders do not write it.
    pub metadata: ObjectMap,
}

const MESSAGE: &str = "message";

impl LogRecord {
    pub fn resource(&self) -> &Resource {
        resource_of(&self.resource)
    }

    pub fn scope(&self) -> &Scope {
        scope_of(&self.scope)
    }

    /// A log whose body is a raw line.
    pub fn from_line(line: Bytes, observed_time_unix_nano: i64) -> LogRecord {
        LogRecord {
            observed_time_unix_nano,
            body: Value::Bytes(line),
            ..LogRecord::default()
        }
    }

    /// A log from decoded fields: `message` becomes the body, the rest
    /// attributes.
    pub fn from_fields(mut fields: ObjectMap, observed_time_unix_nano: i64) -> LogRecord {
        let body = fields.remove(MESSAGE).unwrap_or(Value::Null);
        LogRecord {
            observed_time_unix_nano,
            body,
            attributes: fields,
            ..LogRecord::default()
        }
    }

    /// Where in Kafka the log was read, from the `%kafka` metadata the
    /// kafka source sets; sinks use it to name output after offsets.
    pub fn kafka_position(&self) -> Option<KafkaPosition<'_>> {
        let kafka = self.metadata.get("kafka")?.as_object()?;
        let (Value::Bytes(topic), Value::Integer(partition), Value::Integer(offset)) = (
            kafka.get("topic")?,
            kafka.get("partition")?,
            kafka.get("offset")?,
        ) else {
            return None;
        };
        Some(KafkaPosition {
            topic,
            partition: i32::try_from(*partition).ok()?,
            offset: *offset,
        })
    }

    /// The value at `path`. Field paths borrow; metadata paths and the
    /// event root build a value.
    pub fn get(&self, path: &Path) -> Option<Cow<'_, Value>> {
        match path.root {
            PathRoot::Event => self
                .get_field(&path.segments)
                .map(Cow::Borrowed)
                .or_else(|| {
                    path.segments
                        .is_empty()
                        .then(|| Cow::Owned(Value::Object(self.fields_object())))
                }),
            PathRoot::Metadata => self.get_metadata(&path.segments),
        }
    }

    /// The field at `segments` (relative to `.`); `None` for the root.
    pub fn get_field(&self, segments: &[Segment]) -> Option<&Value> {
        match segments.split_first() {
            // A null body is no body: `.message` is absent, as in `.`.
            Some((Segment::Field(f), [])) if f == MESSAGE && self.body.is_null() => None,
            Some((Segment::Field(f), rest)) if f == MESSAGE => self.body.get_path(rest),
            Some((Segment::Field(f), rest)) => self.attributes.get(f.as_str())?.get_path(rest),
            _ => None,
        }
    }

    pub fn get_field_mut(&mut self, segments: &[Segment]) -> Option<&mut Value> {
        match segments.split_first() {
            Some((Segment::Field(f), rest)) if f == MESSAGE => self.body.get_path_mut(rest),
            Some((Segment::Field(f), rest)) => {
                self.attributes.get_mut(f.as_str())?.get_path_mut(rest)
            }
            _ => None,
        }
    }

    /// Sets the value at `path`. Returns the previous value, or an error
    /// when the path cannot hold that value (a metadata field of another
    /// type, or an index at the top level).
    pub fn insert(&mut self, path: &Path, value: Value) -> Result<Option<Value>, String> {
        match path.root {
            PathRoot::Event => self.insert_field(&path.segments, value),
            PathRoot::Metadata => self.insert_metadata(&path.segments, value),
        }
    }

    fn insert_field(
        &mut self,
        segments: &[Segment],
        value: Value,
    ) -> Result<Option<Value>, String> {
        match segments.split_first() {
            None => match value {
                Value::Object(mut map) => {
                    let old = Value::Object(self.fields_object());
                    self.body = map.remove(MESSAGE).unwrap_or(Value::Null);
                    self.attributes = map;
                    Ok(Some(old))
                }
                other => Err(format!(
                    "cannot set the event root to a {}",
                    other.kind_name()
                )),
            },
            Some((Segment::Field(f), rest)) if f == MESSAGE => {
                Ok(self.body.insert_path(rest, value))
            }
            Some((Segment::Field(f), [])) => Ok(self.attributes.insert(f.clone(), value)),
            Some((Segment::Field(f), rest)) => Ok(self
                .attributes
                .entry(f.clone())
                .or_insert(Value::Null)
                .insert_path(rest, value)),
            Some((Segment::Index(_), _)) => Err("an event's top level is not an array".into()),
        }
    }

    /// Removes the value at `path` and returns it.
    pub fn remove(&mut self, path: &Path) -> Option<Value> {
        match path.root {
            PathRoot::Event => match path.segments.split_first()? {
                (Segment::Field(f), []) if f == MESSAGE => {
                    Some(std::mem::take(&mut self.body)).filter(|v| !v.is_null())
                }
                (Segment::Field(f), rest) if f == MESSAGE => self.body.remove_path(rest),
                (Segment::Field(f), []) => self.attributes.remove(f.as_str()),
                (Segment::Field(f), rest) => self.attributes.get_mut(f.as_str())?.remove_path(rest),
                (Segment::Index(_), _) => None,
            },
            PathRoot::Metadata => {
                let old = self.get_metadata(&path.segments)?.into_owned();
                self.insert_metadata(&path.segments, Value::Null).ok()?;
                Some(old)
            }
        }
    }

    /// The fields as one object: the attributes plus `message` (the body)
    /// when it is set.
    pub fn fields_object(&self) -> ObjectMap {
        let mut map = self.attributes.clone();
        if !self.body.is_null() {
            map.insert(KeyString::const_new(MESSAGE), self.body.clone());
        }
        map
    }

    fn get_metadata(&self, segments: &[Segment]) -> Option<Cow<'_, Value>> {
        let (Segment::Field(head), rest) = segments.split_first()? else {
            return None;
        };
        let owned = |v: Value| Some(Cow::Owned(v));
        match (head.as_str(), rest) {
            ("timestamp", []) if self.time_unix_nano != 0 => {
                owned(Value::Timestamp(self.time_unix_nano))
            }
            ("observed_timestamp", []) if self.observed_time_unix_nano != 0 => {
                owned(Value::Timestamp(self.observed_time_unix_nano))
            }
            ("severity_number", []) if self.severity_number != 0 => {
                owned(Value::Integer(self.severity_number.into()))
            }
            ("severity_text", []) => self
                .severity_text
                .as_ref()
                .and_then(|s| owned(Value::from(s.as_str()))),
            ("event_name", []) => self
                .event_name
                .as_ref()
                .and_then(|s| owned(Value::from(s.as_str()))),
            ("trace_id", []) => self.trace_id.and_then(|t| owned(Value::from(t.to_hex()))),
            ("span_id", []) => self.span_id.and_then(|s| owned(Value::from(s.to_hex()))),
            ("flags", []) => owned(Value::Integer(self.flags.into())),
            ("dropped_attributes_count", []) => {
                owned(Value::Integer(self.dropped_attributes_count.into()))
            }
            ("resource", rest) => object_get(&self.resource().attributes, rest),
            ("scope", [Segment::Field(f)]) if f == "name" => {
                owned(Value::from(self.scope().name.as_str()))
            }
            ("scope", [Segment::Field(f)]) if f == "version" => {
                owned(Value::from(self.scope().version.as_str()))
            }
            ("scope", [Segment::Field(f), rest @ ..]) if f == "attributes" => {
                object_get(&self.scope().attributes, rest)
            }
            (name, _) if !is_reserved_metadata(name) => object_get(&self.metadata, segments),
            _ => None,
        }
    }

    fn insert_metadata(
        &mut self,
        segments: &[Segment],
        value: Value,
    ) -> Result<Option<Value>, String> {
        let Some((Segment::Field(head), rest)) = segments.split_first() else {
            return Err("a metadata path needs a name, such as %timestamp".into());
        };
        let old = self.get_metadata(segments).map(Cow::into_owned);
        match (head.as_str(), rest) {
            ("timestamp", []) => self.time_unix_nano = to_timestamp(&value)?,
            ("observed_timestamp", []) => self.observed_time_unix_nano = to_timestamp(&value)?,
            ("severity_number", []) => {
                self.severity_number = match value {
                    Value::Null => 0,
                    Value::Integer(i) if (0..=24).contains(&i) => i as i32,
                    other => {
                        return Err(format!(
                            "severity_number must be 0-24, not {}",
                            other.to_string_lossy()
                        ));
                    }
                }
            }
            ("severity_text", []) => {
                self.severity_text = match value {
                    Value::Null => None,
                    other => Some(KeyString::from(other.to_string_lossy())),
                }
            }
            ("event_name", []) => {
                self.event_name = match value {
                    Value::Null => None,
                    other => Some(KeyString::from(other.to_string_lossy())),
                }
            }
            ("trace_id", []) => {
                self.trace_id = match value {
                    Value::Null => None,
                    other => Some(
                        TraceId::from_hex(&other.to_string_lossy())
                            .ok_or("trace_id must be 32 hex digits")?,
                    ),
                }
            }
            ("span_id", []) => {
                self.span_id = match value {
                    Value::Null => None,
                    other => Some(
                        SpanId::from_hex(&other.to_string_lossy())
                            .ok_or("span_id must be 16 hex digits")?,
                    ),
                }
            }
            ("resource", rest) if !rest.is_empty() => {
                let attrs = &mut make_mut(&mut self.resource).attributes;
                object_set(attrs, rest, value);
            }
            ("scope", [Segment::Field(f)]) if f == "name" => {
                make_mut(&mut self.scope).name = value.to_string_lossy().into_owned()
            }
            ("scope", [Segment::Field(f)]) if f == "version" => {
                make_mut(&mut self.scope).version = value.to_string_lossy().into_owned()
            }
            ("scope", [Segment::Field(f), rest @ ..]) if f == "attributes" && !rest.is_empty() => {
                object_set(&mut make_mut(&mut self.scope).attributes, rest, value)
            }
            (name, _) if !is_reserved_metadata(name) => {
                object_set(&mut self.metadata, segments, value)
            }
            _ => return Err(format!("%{head} is not a metadata field of a log")),
        }
        Ok(old)
    }

    /// A rough size in bytes, for bounding channels and buffers.
    pub fn estimated_size(&self) -> usize {
        64 + self.body.estimated_size()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.estimated_size())
                .sum::<usize>()
            + if self.metadata.is_empty() {
                0
            } else {
                self.metadata
                    .iter()
                    .map(|(k, v)| k.len() + v.estimated_size())
                    .sum::<usize>()
            }
    }
}

/// The `%name`s of OpenTelemetry's own fields; every other name is free
/// source metadata.
fn is_reserved_metadata(name: &str) -> bool {
    matches!(
        name,
        "timestamp"
            | "observed_timestamp"
            | "severity_number"
            | "severity_text"
            | "event_name"
            | "trace_id"
            | "span_id"
            | "flags"
            | "dropped_attributes_count"
            | "resource"
            | "scope"
    )
}

fn object_get<'a>(map: &'a ObjectMap, segments: &[Segment]) -> Option<Cow<'a, Value>> {
    match segments.split_first() {
        None => Some(Cow::Owned(Value::Object(map.clone()))),
        Some((Segment::Field(f), rest)) => map.get(f.as_str())?.get_path(rest).map(Cow::Borrowed),
        Some((Segment::Index(_), _)) => None,
    }
}

fn object_set(map: &mut ObjectMap, segments: &[Segment], value: Value) {
    if let Some((Segment::Field(f), rest)) = segments.split_first() {
        if value.is_null() && rest.is_empty() {
            map.remove(f.as_str());
        } else {
            map.entry(f.clone())
                .or_insert(Value::Null)
                .insert_path(rest, value);
        }
    }
}

fn to_timestamp(value: &Value) -> Result<i64, String> {
    match value {
        Value::Null => Ok(0),
        Value::Timestamp(ns) | Value::Integer(ns) => Ok(*ns),
        Value::Float(f) => Ok((*f * 1e9) as i64),
        Value::Bytes(b) => {
            let s = String::from_utf8_lossy(b);
            chrono::DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .and_then(|dt| dt.timestamp_nanos_opt())
                .ok_or_else(|| format!("`{s}` is not an RFC 3339 timestamp"))
        }
        other => Err(format!("a {} is not a timestamp", other.kind_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    #[test]
    fn message_is_the_body_and_other_fields_are_attributes() {
        let mut log = LogRecord::from_line(Bytes::from_static(b"hello"), 1);
        assert_eq!(log.get(&p(".message")).unwrap().as_str(), Some("hello"));
        log.insert(&p(".status"), Value::Integer(500)).unwrap();
        assert_eq!(log.attributes["status"], Value::Integer(500));
        log.insert(&p(".http.method"), "GET".into()).unwrap();
        assert_eq!(log.get(&p(".http.method")).unwrap().as_str(), Some("GET"));
        let root = log.get(&p(".")).unwrap().into_owned();
        assert_eq!(root.as_object().unwrap().len(), 3);
        assert_eq!(log.remove(&p(".message")).unwrap().as_str(), Some("hello"));
        assert!(log.body.is_null());
    }

    #[test]
    fn metadata_paths() {
        let mut log = LogRecord::default();
        log.insert(&p("%timestamp"), "2024-01-01T00:00:00Z".into())
            .unwrap();
        assert_eq!(log.time_unix_nano, 1_704_067_200_000_000_000);
        log.insert(&p("%resource.\"service.name\""), "api".into())
            .unwrap();
        assert_eq!(
            log.get(&p("%resource.\"service.name\"")).unwrap().as_str(),
            Some("api")
        );
        assert!(
            log.insert(&p("%severity_number"), Value::Integer(99))
                .is_err()
        );
        assert!(log.insert(&p("%scope.nope"), Value::Null).is_err());
        log.insert(&p("%kafka.offset"), Value::Integer(7)).unwrap();
        assert_eq!(
            log.metadata["kafka"].as_object().unwrap()["offset"],
            Value::Integer(7)
        );
        assert_eq!(
            log.get(&p("%kafka.offset")).unwrap().into_owned(),
            Value::Integer(7)
        );
        assert!(log.get(&p(".kafka")).is_none(), "metadata is not a field");
        log.insert(&p("%trace_id"), "0102030405060708090a0b0c0d0e0f10".into())
            .unwrap();
        assert_eq!(
            log.get(&p("%trace_id")).unwrap().as_str(),
            Some("0102030405060708090a0b0c0d0e0f10")
        );
    }
}
