//! What of a log an encoder writes, as Vector's `encoding.only_fields`,
//! `encoding.except_fields` and `encoding.timestamp_format` choose: the
//! listed fields only, all but the listed ones, and times as RFC 3339 or as
//! Unix numbers. Fields are paths (`status`, `http.method`, `"odd.key"`,
//! `tags[0]`); `message` is the body and `timestamp` the log's time, as the
//! codecs write them. Applies to logs only, to a copy: the event the sink
//! holds is never changed.

use logbridge_event::{KeyString, LogRecord, Path, PathRoot, Segment, Value};

/// `encoding.timestamp_format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// `2024-01-01T00:00:00.000000000Z`, as the codecs write times.
    #[default]
    Rfc3339,
    /// Whole seconds since the Unix epoch.
    Unix,
    /// Milliseconds since the epoch.
    UnixMs,
    /// Microseconds since the epoch.
    UnixUs,
    /// Nanoseconds since the epoch.
    UnixNs,
    /// Seconds since the epoch as a float (microsecond precision).
    UnixFloat,
}

impl TimestampFormat {
    /// A time (nanoseconds since the epoch) in this format; `None` for
    /// RFC 3339, which the codecs write themselves.
    fn convert(self, ns: i64) -> Option<Value> {
        Some(match self {
            TimestampFormat::Rfc3339 => return None,
            TimestampFormat::Unix => Value::Integer(ns.div_euclid(1_000_000_000)),
            TimestampFormat::UnixMs => Value::Integer(ns.div_euclid(1_000_000)),
            TimestampFormat::UnixUs => Value::Integer(ns.div_euclid(1_000)),
            TimestampFormat::UnixNs => Value::Integer(ns),
            TimestampFormat::UnixFloat => Value::Float(ns.div_euclid(1_000) as f64 / 1e6),
        })
    }
}

/// The fields to keep or leave out, and how to write times.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Shape {
    pub only_fields: Option<Vec<Path>>,
    pub except_fields: Vec<Path>,
    pub timestamp_format: TimestampFormat,
}

/// Whether `path` is the top-level `timestamp`, which is the log's time
/// unless an attribute has that name.
fn is_time(path: &Path, log: &LogRecord) -> bool {
    path.root == PathRoot::Event
        && matches!(path.segments.as_slice(), [Segment::Field(f)] if f == "timestamp")
        && !log.attributes.contains_key("timestamp")
}

impl Shape {
    /// Whether it changes anything at all.
    pub fn is_identity(&self) -> bool {
        self.only_fields.is_none()
            && self.except_fields.is_empty()
            && self.timestamp_format == TimestampFormat::Rfc3339
    }

    /// The log as it is to be written.
    pub fn apply(&self, log: &LogRecord) -> LogRecord {
        let mut out = log.clone();
        for path in &self.except_fields {
            if is_time(path, &out) {
                out.time_unix_nano = 0;
            } else {
                out.remove(path);
            }
        }
        if let Some(only) = &self.only_fields {
            let keep_time = only.iter().any(|p| is_time(p, &out));
            let fields = LogRecord {
                body: std::mem::take(&mut out.body),
                attributes: std::mem::take(&mut out.attributes),
                ..LogRecord::default()
            };
            for path in only {
                if let Some(value) = fields.get_field(&path.segments) {
                    // Only an index at the top level fails, which a
                    // field's own path never is.
                    let _ = out.insert(path, value.clone());
                }
            }
            if !keep_time {
                out.time_unix_nano = 0;
            }
        }
        if self.timestamp_format != TimestampFormat::Rfc3339 {
            self.format_times(&mut out);
        }
        out
    }

    /// Turns every time of the log into the chosen format: the log's own
    /// (written as `timestamp`) and any time value in its fields.
    fn format_times(&self, log: &mut LogRecord) {
        let format = self.timestamp_format;
        if log.time_unix_nano != 0
            && !log.attributes.contains_key("timestamp")
            && let Some(v) = format.convert(log.time_unix_nano)
        {
            log.attributes.insert(KeyString::const_new("timestamp"), v);
            log.time_unix_nano = 0;
        }
        convert_times(&mut log.body, format);
        for (_, v) in log.attributes.iter_mut() {
            convert_times(v, format);
        }
    }
}

fn convert_times(value: &mut Value, format: TimestampFormat) {
    match value {
        Value::Timestamp(ns) => {
            if let Some(v) = format.convert(*ns) {
                *value = v;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| convert_times(v, format)),
        Value::Object(map) => map.iter_mut().for_each(|(_, v)| convert_times(v, format)),
        _ => {}
    }
}
