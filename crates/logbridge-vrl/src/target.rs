//! What a program sees of an event, and how its changes come back.
//!
//! As Vector shows them:
//! - a log's fields at `.` (`.message` is the body, every other top-level
//!   field an attribute), its metadata at `%`: `%timestamp`,
//!   `%observed_timestamp`, `%severity_text`, `%severity_number`,
//!   `%event_name`, `%trace_id`, `%span_id`, `%flags`, `%resource`,
//!   `%scope` and what sources add (`%kafka.topic`, ...);
//! - a metric as `.name`, `.namespace` (written only: it prefixes the
//!   name, as Prometheus renders it), `.tags`, `.kind` (`absolute` or
//!   `incremental`), `.type`, `.timestamp`, and its value under its type
//!   (`.counter.value`, `.gauge.value`, `.aggregated_histogram`, ...);
//! - a span as an object of its fields (`.name`, `.trace_id`, `.kind`,
//!   `.attributes`, `.status`, `.events`, ...).
//!
//! Metadata is built only for programs that read or write `%`. A program
//! that makes `.` an array yields one event per element.
//!
//! Of a log's top-level fields, only those the program names ([`Reach`])
//! are converted for it; the others wait in logbridge's form and rejoin
//! the event afterwards, or are dropped with `.` when the program replaces
//! it. Most programs touch a few fields of a wide event or open with
//! `. = parse_json!(.message)`, and converting fields nobody reads was a
//! tenth of such a program's cost.
//!
//! This module maps events to values and back; it runs nothing.

use std::mem;
use std::sync::Arc;

use logbridge_event::{
    Event, KeyString, LogRecord, Metric, MetricKind, MetricValue, ObjectMap, Resource, Scope, Span,
    SpanEvent, SpanId, SpanKind, SpanLink, StatusCode, Temporality, TraceId, Value,
};
use vrl::compiler::{ProgramInfo, SecretTarget, Target, TargetValue};
use vrl::path::{OwnedSegment, OwnedTargetPath, PathPrefix};
use vrl::value::{Secrets, Value as VrlValue};

use crate::value::{NanSlots, convert_out, field_to_vrl, from_vrl, to_vrl};

/// Free-metadata key marking a log whose `.` is its body itself rather than
/// an object (Vector allows a log root of any type; such logs come from
/// config tests). No path can name it.
const ROOT_IS_BODY: &str = "\u{0}root";
/// Free-metadata key holding `%` when a program set it to a non-object.
const WHOLE_METADATA: &str = "\u{0}metadata";

/// The top-level fields of a log's `.` a program can reach.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// All of them: the program reads `.` as a whole (`. |= ...`,
    /// `merge(., ...)`, `get(., ...)`, `unnest(...)`) or by index.
    Whole,
    /// Only these (sorted): every path the program names starts with one
    /// of them, or is `.` being assigned.
    Fields(Arc<[KeyString]>),
}

impl Reach {
    /// What a compiled program can reach, from the paths VRL recorded for
    /// it. `reads_root_unrecorded`: the program calls a function that reads
    /// `.` whole without a path naming it (`unnest` does).
    pub fn of(info: &ProgramInfo, reads_root_unrecorded: bool) -> Reach {
        if reads_root_unrecorded {
            return Reach::Whole;
        }
        let queries = info.target_queries.iter().map(|p| (true, p));
        let assignments = info.target_assignments.iter().map(|p| (false, p));
        let mut fields = Vec::new();
        for (is_query, path) in queries.chain(assignments) {
            if path.prefix != PathPrefix::Event {
                continue;
            }
            match path.path.segments.first() {
                Some(OwnedSegment::Field(name)) => fields.push(KeyString::from(name.as_str())),
                // Assigning `.` reads nothing: what `.` held goes.
                None if !is_query => {}
                // Reading `.` whole, or by index.
                None | Some(OwnedSegment::Index(_)) => return Reach::Whole,
            }
        }
        fields.sort_unstable();
        fields.dedup();
        Reach::Fields(fields.into())
    }
}

/// An event taken apart for a program: the values it sees, and the rest of
/// the event waiting for them to come back. It is the program's
/// [`Target`].
#[derive(Debug)]
pub struct EventTarget {
    target: TargetValue,
    /// The log's top-level fields outside the program's reach, in
    /// logbridge's form.
    unreached: ObjectMap,
    /// Whether the program replaced `.` (the unreached fields went with it).
    root_replaced: bool,
    original: Original,
    shell: Shell,
    nans: NanSlots,
    metadata_nans: NanSlots,
    metadata_exposed: bool,
}

/// What is kept to give the event back as it came when a program fails.
#[derive(Debug)]
enum Original {
    None,
    /// A copy of the whole event.
    Event(Box<Event>),
    /// Of a log whose program reaches only some fields (and no metadata):
    /// copies of those fields as they were. The shell and the unreached
    /// fields are untouched, so with these they make the event again.
    Fields(ObjectMap),
}

#[derive(Debug)]
enum Shell {
    Log(LogRecord),
    Metric(Metric),
    Span(Box<Span>),
}

/// A log whose `.` is `root` itself (any type), with `%` set to
/// `metadata`: how Vector's config tests build events from a program.
pub fn log_from_values(root: Value, metadata: Value) -> LogRecord {
    let mut log = LogRecord::default();
    if let Err(e) = set_log_metadata(&mut log, metadata) {
        // Only reachable with metadata that names a reserved field with a
        // value of the wrong type; config tests report it as it is.
        log.metadata
            .insert(KeyString::const_new("error"), Value::from(e));
    }
    match root {
        Value::Object(fields) => set_log_root(&mut log, Value::Object(fields)),
        other => {
            log.body = other;
            log.metadata
                .insert(KeyString::const_new(ROOT_IS_BODY), Value::Bool(true));
        }
    }
    log
}

impl EventTarget {
    /// Takes `event` apart. `expose_metadata`: whether the program uses
    /// `%` (building it costs an allocation per field); `reach`: which of
    /// a log's fields it can see; `keep_original`: whether
    /// [`EventTarget::into_original`] will be asked for.
    pub fn new(
        event: Event,
        expose_metadata: bool,
        reach: &Reach,
        keep_original: bool,
    ) -> EventTarget {
        let copies_fields = keep_original
            && !expose_metadata
            && matches!(reach, Reach::Fields(_))
            && matches!(&event, Event::Log(log) if !log.metadata.contains_key(ROOT_IS_BODY));
        let mut original = if copies_fields {
            Original::Fields(ObjectMap::new())
        } else if keep_original {
            Original::Event(Box::new(event.clone()))
        } else {
            Original::None
        };
        let mut nans = NanSlots::default();
        let mut metadata_nans = NanSlots::default();
        let mut unreached = ObjectMap::new();
        let (value, metadata, shell) = match event {
            Event::Log(mut log) => {
                // Before the metadata is taken apart: the marker is not
                // metadata a program sees.
                let root_is_body = log.metadata.remove(ROOT_IS_BODY).is_some();
                let metadata = if expose_metadata {
                    to_vrl(log_metadata(&mut log), &mut metadata_nans)
                } else {
                    empty_object()
                };
                let root = match reach {
                    _ if root_is_body => to_vrl(mem::take(&mut log.body), &mut nans),
                    Reach::Whole => {
                        let mut fields = mem::take(&mut log.attributes);
                        let body = mem::take(&mut log.body);
                        if !body.is_null() {
                            fields.insert(KeyString::const_new("message"), body);
                        }
                        to_vrl(Value::Object(fields), &mut nans)
                    }
                    Reach::Fields(names) => {
                        let copies = match &mut original {
                            Original::Fields(copies) => Some(copies),
                            _ => None,
                        };
                        let (reached, rest) = split_fields(&mut log, names, copies, &mut nans);
                        unreached = rest;
                        VrlValue::Object(reached)
                    }
                };
                (root, metadata, Shell::Log(log))
            }
            Event::Metric(metric) => {
                let metadata = if expose_metadata {
                    to_vrl(metric_metadata(&metric), &mut metadata_nans)
                } else {
                    empty_object()
                };
                (
                    to_vrl(metric_view(&metric), &mut nans),
                    metadata,
                    Shell::Metric(metric),
                )
            }
            Event::Span(mut span) => {
                let metadata = if expose_metadata {
                    to_vrl(
                        telemetry_source(&span.resource, &span.scope),
                        &mut metadata_nans,
                    )
                } else {
                    empty_object()
                };
                (
                    to_vrl(span_view(&mut span), &mut nans),
                    metadata,
                    Shell::Span(span),
                )
            }
        };
        EventTarget {
            target: TargetValue {
                value,
                metadata,
                secrets: Secrets::default(),
            },
            unreached,
            root_replaced: false,
            original,
            shell,
            nans,
            metadata_nans,
            metadata_exposed: expose_metadata,
        }
    }

    /// Brings an unreached field back before a path that starts with it
    /// is written or taken, and all of them before `.` is: the program
    /// never names such paths (that is what reach means), but the
    /// target stays right if it does.
    fn reach_in(&mut self, path: &OwnedTargetPath) {
        if self.root_replaced || self.unreached.is_empty() || path.prefix != PathPrefix::Event {
            return;
        }
        let VrlValue::Object(root) = &mut self.target.value else {
            return;
        };
        let names: Vec<KeyString> = match path.path.segments.first() {
            Some(OwnedSegment::Field(name)) if self.unreached.contains_key(name) => {
                vec![KeyString::from(name.as_str())]
            }
            Some(_) => return,
            None => self.unreached.keys().cloned().collect(),
        };
        for name in names {
            if let Some(value) = self.unreached.remove(&name) {
                if let Original::Fields(copies) = &mut self.original {
                    copies.insert(name.clone(), value.clone());
                }
                let (key, value) = field_to_vrl(name, value, &mut self.nans);
                root.insert(key, value);
            }
        }
    }

    /// Like [`EventTarget::new`] over a copy of `event`, for a program
    /// that only reads it (a condition): of a log, only the fields the
    /// program can reach are copied.
    pub fn copied(event: &Event, expose_metadata: bool, reach: &Reach) -> EventTarget {
        match (event, reach) {
            (Event::Log(log), Reach::Fields(names))
                if !expose_metadata && !log.metadata.contains_key(ROOT_IS_BODY) =>
            {
                let mut copy = LogRecord::default();
                for name in names.iter() {
                    if name == "message" && !log.body.is_null() {
                        copy.body = log.body.clone();
                    } else if let Some(value) = log.attributes.get(name) {
                        copy.attributes.insert(name.clone(), value.clone());
                    }
                }
                EventTarget::new(Event::Log(copy), false, reach, false)
            }
            _ => EventTarget::new(event.clone(), expose_metadata, reach, false),
        }
    }

    /// The event as it came in (when asked for at [`EventTarget::new`]).
    pub fn into_original(self) -> Option<Event> {
        match (self.original, self.shell) {
            (Original::None, _) => None,
            (Original::Event(event), _) => Some(*event),
            (Original::Fields(copies), Shell::Log(mut log)) => {
                let mut fields = self.unreached;
                fields.merge(copies);
                set_log_root(&mut log, Value::Object(fields));
                Some(Event::Log(log))
            }
            // Only logs copy fields.
            (Original::Fields(_), _) => None,
        }
    }

    /// Takes the copy of the whole event, if one was kept: the only kind
    /// of original left when [`EventTarget::into_events`] can fail.
    pub fn take_whole_original(&mut self) -> Option<Event> {
        match mem::replace(&mut self.original, Original::None) {
            Original::Event(event) => Some(*event),
            other => {
                self.original = other;
                None
            }
        }
    }

    /// Puts the event back together from what the program left, pushing
    /// one event (or one per element when `.` became an array) to `out`.
    /// An error means the program left a value the event cannot hold
    /// (a metric name that is not a string, say).
    pub fn into_events(self, out: &mut Vec<Event>) -> Result<(), String> {
        let EventTarget {
            target,
            unreached,
            root_replaced,
            original: _,
            shell,
            nans,
            metadata_nans,
            metadata_exposed,
        } = self;
        let metadata = metadata_exposed.then(|| from_vrl(target.metadata, &metadata_nans));
        match shell {
            Shell::Log(mut log) => {
                if let Some(metadata) = metadata {
                    set_log_metadata(&mut log, metadata)?;
                }
                match target.value {
                    VrlValue::Array(items) => {
                        out.reserve(items.len());
                        for item in items {
                            let mut each = log.clone();
                            set_log_root(&mut each, convert_out(item));
                            out.push(Event::Log(each));
                        }
                    }
                    value => {
                        let mut root = from_vrl(value, &nans);
                        // `.` never replaced is still the object the
                        // unreached fields came from (and holds none of
                        // their keys: reaching in moves a field over).
                        if let Value::Object(fields) = &mut root
                            && !root_replaced
                        {
                            fields.merge(unreached);
                        }
                        set_log_root(&mut log, root);
                        out.push(Event::Log(log));
                    }
                }
            }
            Shell::Metric(mut metric) => {
                if let Some(metadata) = metadata {
                    set_metric_metadata(&mut metric, metadata)?;
                }
                let view = from_vrl(target.value, &nans);
                set_metric_view(&mut metric, view)?;
                out.push(Event::Metric(metric));
            }
            Shell::Span(mut span) => {
                if let Some(metadata) = metadata {
                    set_telemetry_source(&mut span.resource, &mut span.scope, metadata)?;
                }
                set_span_view(&mut span, from_vrl(target.value, &nans))?;
                out.push(Event::Span(span));
            }
        }
        Ok(())
    }
}

impl Target for EventTarget {
    fn target_insert(&mut self, path: &OwnedTargetPath, value: VrlValue) -> Result<(), String> {
        if path.prefix == PathPrefix::Event && path.path.is_root() {
            // `.` replaced: the unreached fields go with it.
            self.root_replaced = true;
        } else {
            self.reach_in(path);
        }
        self.target.target_insert(path, value)
    }

    fn target_get(&self, path: &OwnedTargetPath) -> Result<Option<&VrlValue>, String> {
        self.target.target_get(path)
    }

    fn target_get_mut(&mut self, path: &OwnedTargetPath) -> Result<Option<&mut VrlValue>, String> {
        self.reach_in(path);
        self.target.target_get_mut(path)
    }

    fn target_remove(
        &mut self,
        path: &OwnedTargetPath,
        compact: bool,
    ) -> Result<Option<VrlValue>, String> {
        self.reach_in(path);
        self.target.target_remove(path, compact)
    }
}

impl SecretTarget for EventTarget {
    fn get_secret(&self, key: &str) -> Option<&str> {
        self.target.get_secret(key)
    }

    fn insert_secret(&mut self, key: &str, value: &str) {
        self.target.insert_secret(key, value);
    }

    fn remove_secret(&mut self, key: &str) {
        self.target.remove_secret(key);
    }
}

fn empty_object() -> VrlValue {
    VrlValue::Object(Default::default())
}

fn key(name: &'static str) -> KeyString {
    KeyString::const_new(name)
}

fn string(s: &str) -> Value {
    Value::from(s)
}

// ---- logs ----

/// Takes the fields in `names` out of a log's `.` (its attributes, and
/// its body as `message`), converted for a program, with copies as they
/// were put in `copies` when given; gives them and the rest of `.`.
fn split_fields(
    log: &mut LogRecord,
    names: &[KeyString],
    mut copies: Option<&mut ObjectMap>,
    nans: &mut NanSlots,
) -> (vrl::value::ObjectMap, ObjectMap) {
    let mut rest = mem::take(&mut log.attributes);
    let mut body = mem::take(&mut log.body);
    let mut reached = vrl::value::ObjectMap::new();
    for name in names {
        let value = if name == "message" && !body.is_null() {
            // The body is `.message`, over an attribute of that name.
            rest.remove("message");
            Some(mem::take(&mut body))
        } else {
            rest.remove(name)
        };
        if let Some(value) = value {
            if let Some(copies) = copies.as_deref_mut() {
                copies.insert(name.clone(), value.clone());
            }
            let (key, value) = field_to_vrl(name.clone(), value, nans);
            reached.insert(key, value);
        }
    }
    if !body.is_null() {
        rest.insert(KeyString::const_new("message"), body);
    }
    (reached, rest)
}

fn set_log_root(log: &mut LogRecord, root: Value) {
    match root {
        Value::Object(mut fields) => {
            log.body = fields.remove("message").unwrap_or(Value::Null);
            log.attributes = fields;
        }
        // A program that makes `.` a scalar leaves it as the body, which
        // later programs see as `.message`, as Vector does.
        other => {
            log.body = other;
            log.attributes = ObjectMap::new();
        }
    }
}

/// `%` of a log: OpenTelemetry's fields, then what sources added (moved
/// out of the log; [`set_log_metadata`] puts it back).
fn log_metadata(log: &mut LogRecord) -> Value {
    if let Some(whole) = log.metadata.remove(WHOLE_METADATA) {
        return whole;
    }
    let mut map = mem::take(&mut log.metadata);
    if log.time_unix_nano != 0 {
        map.insert(key("timestamp"), Value::Timestamp(log.time_unix_nano));
    }
    if log.observed_time_unix_nano != 0 {
        map.insert(
            key("observed_timestamp"),
            Value::Timestamp(log.observed_time_unix_nano),
        );
    }
    if log.severity_number != 0 {
        map.insert(
            key("severity_number"),
            Value::Integer(log.severity_number.into()),
        );
    }
    if let Some(text) = &log.severity_text {
        map.insert(key("severity_text"), string(text));
    }
    if let Some(name) = &log.event_name {
        map.insert(key("event_name"), string(name));
    }
    if let Some(t) = log.trace_id {
        map.insert(key("trace_id"), Value::from(t.to_hex()));
    }
    if let Some(s) = log.span_id {
        map.insert(key("span_id"), Value::from(s.to_hex()));
    }
    if log.flags != 0 {
        map.insert(key("flags"), Value::Integer(log.flags.into()));
    }
    if log.dropped_attributes_count != 0 {
        map.insert(
            key("dropped_attributes_count"),
            Value::Integer(log.dropped_attributes_count.into()),
        );
    }
    if let Value::Object(source) = telemetry_source(&log.resource, &log.scope) {
        map.extend(source);
    }
    Value::Object(map)
}

fn set_log_metadata(log: &mut LogRecord, metadata: Value) -> Result<(), String> {
    let mut map = match metadata {
        Value::Object(map) => map,
        other => {
            log.metadata = ObjectMap::new();
            log.metadata.insert(key(WHOLE_METADATA), other);
            return Ok(());
        }
    };
    log.time_unix_nano = take_time(&mut map, "timestamp")?;
    log.observed_time_unix_nano = take_time(&mut map, "observed_timestamp")?;
    log.severity_number = match map.remove("severity_number") {
        None | Some(Value::Null) => 0,
        Some(Value::Integer(n)) if (0..=24).contains(&n) => n as i32,
        Some(other) => {
            return Err(format!(
                "%severity_number must be an integer from 0 to 24, not {}",
                other.to_string_lossy()
            ));
        }
    };
    log.severity_text = take_text(&mut map, "severity_text").map(KeyString::from);
    log.event_name = take_text(&mut map, "event_name").map(KeyString::from);
    log.trace_id = match take_text(&mut map, "trace_id") {
        None => None,
        Some(hex) => {
            Some(TraceId::from_hex(&hex).ok_or("%trace_id must be 32 hexadecimal digits")?)
        }
    };
    log.span_id = match take_text(&mut map, "span_id") {
        None => None,
        Some(hex) => Some(SpanId::from_hex(&hex).ok_or("%span_id must be 16 hexadecimal digits")?),
    };
    log.flags = take_u32(&mut map, "flags")?;
    log.dropped_attributes_count = take_u32(&mut map, "dropped_attributes_count")?;
    let source = ObjectMap::from_entries(
        ["resource", "scope"]
            .into_iter()
            .filter_map(|k| Some((key(k), map.remove(k)?)))
            .collect(),
    );
    set_telemetry_source(&mut log.resource, &mut log.scope, Value::Object(source))?;
    log.metadata = map;
    Ok(())
}

fn take_time(map: &mut ObjectMap, name: &str) -> Result<i64, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Timestamp(ns) | Value::Integer(ns)) => Ok(ns),
        Some(Value::Bytes(b)) => {
            let text = String::from_utf8_lossy(&b);
            chrono::DateTime::parse_from_rfc3339(text.trim())
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
                .ok_or_else(|| format!("%{name} `{text}` is not an RFC 3339 timestamp"))
        }
        Some(other) => Err(format!(
            "%{name} must be a timestamp, not a {}",
            other.kind_name()
        )),
    }
}

fn take_text(map: &mut ObjectMap, name: &str) -> Option<String> {
    match map.remove(name)? {
        Value::Null => None,
        other => Some(other.to_string_lossy().into_owned()),
    }
}

fn take_u32(map: &mut ObjectMap, name: &str) -> Result<u32, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Integer(n)) => u32::try_from(n).map_err(|_| format!("%{name} is out of range")),
        Some(other) => Err(format!(
            "%{name} must be an integer, not a {}",
            other.kind_name()
        )),
    }
}

// ---- resource and scope, shared by every kind ----

fn telemetry_source(resource: &Option<Arc<Resource>>, scope: &Option<Arc<Scope>>) -> Value {
    let mut map = ObjectMap::new();
    if let Some(r) = resource {
        map.insert(key("resource"), Value::Object(r.attributes.clone()));
    }
    if let Some(s) = scope {
        let mut scope = ObjectMap::new();
        scope.insert(key("name"), string(&s.name));
        scope.insert(key("version"), string(&s.version));
        scope.insert(key("attributes"), Value::Object(s.attributes.clone()));
        map.insert(key("scope"), Value::Object(scope));
    }
    Value::Object(map)
}

/// Writes `%resource` and `%scope` back, unsharing them only when the
/// program changed them.
fn set_telemetry_source(
    resource: &mut Option<Arc<Resource>>,
    scope: &mut Option<Arc<Scope>>,
    metadata: Value,
) -> Result<(), String> {
    let Value::Object(mut map) = metadata else {
        return Err("% must be an object".into());
    };
    match map.remove("resource") {
        None | Some(Value::Null) => {
            if resource.as_ref().is_some_and(|r| !r.attributes.is_empty()) {
                Arc::make_mut(resource.as_mut().expect("checked")).attributes = ObjectMap::new();
            }
        }
        Some(Value::Object(attrs)) => {
            if resource.as_ref().map(|r| &r.attributes) != Some(&attrs) {
                Arc::make_mut(resource.get_or_insert_with(Default::default)).attributes = attrs;
            }
        }
        Some(other) => {
            return Err(format!(
                "%resource must be an object, not a {}",
                other.kind_name()
            ));
        }
    }
    match map.remove("scope") {
        None | Some(Value::Null) => {}
        Some(Value::Object(mut fields)) => {
            let name = take_text(&mut fields, "name").unwrap_or_default();
            let version = take_text(&mut fields, "version").unwrap_or_default();
            let attributes = match fields.remove("attributes") {
                Some(Value::Object(a)) => a,
                _ => ObjectMap::new(),
            };
            let current = scope.as_deref();
            if current.map(|s| (&s.name, &s.version, &s.attributes))
                != Some((&name, &version, &attributes))
            {
                let s = Arc::make_mut(scope.get_or_insert_with(Default::default));
                s.name = name;
                s.version = version;
                s.attributes = attributes;
            }
        }
        Some(other) => {
            return Err(format!(
                "%scope must be an object, not a {}",
                other.kind_name()
            ));
        }
    }
    Ok(())
}

// ---- metrics ----

/// The name under which a metric's value appears, as Vector names types.
fn metric_type(m: &Metric) -> &'static str {
    match (&m.value, m.kind) {
        (MetricValue::Histogram { .. }, _) => "aggregated_histogram",
        (MetricValue::Summary { .. }, _) => "aggregated_summary",
        (MetricValue::ExponentialHistogram(_), _) => "exponential_histogram",
        (_, MetricKind::Counter) => "counter",
        _ => "gauge",
    }
}

fn metric_view(m: &Metric) -> Value {
    let mut map = ObjectMap::with_capacity(6);
    map.insert(key("name"), string(&m.name));
    map.insert(
        key("kind"),
        string(match m.temporality {
            Temporality::Delta => "incremental",
            Temporality::Cumulative => "absolute",
        }),
    );
    let kind = metric_type(m);
    map.insert(key("type"), string(kind));
    map.insert(key("tags"), Value::Object(m.labels.clone()));
    if m.time_unix_nano != 0 {
        map.insert(key("timestamp"), Value::Timestamp(m.time_unix_nano));
    }
    map.insert(KeyString::from(kind), metric_value_view(&m.value));
    Value::Object(map)
}

fn metric_value_view(value: &MetricValue) -> Value {
    let mut map = ObjectMap::new();
    let float = |f: f64| Value::Float(f);
    let count = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    match value {
        MetricValue::Scalar(v) => {
            map.insert(key("value"), float(*v));
        }
        MetricValue::Integer(v) => {
            map.insert(key("value"), Value::Integer(*v));
        }
        MetricValue::Histogram {
            buckets,
            count: n,
            sum,
            ..
        } => {
            let buckets = buckets
                .iter()
                .map(|b| {
                    let mut bucket = ObjectMap::new();
                    bucket.insert(key("upper_limit"), float(b.upper_bound));
                    bucket.insert(key("count"), count(b.count));
                    Value::Object(bucket)
                })
                .collect();
            map.insert(key("buckets"), Value::Array(buckets));
            map.insert(key("count"), count(*n));
            map.insert(key("sum"), sum.map_or(Value::Null, float));
        }
        MetricValue::Summary {
            quantiles,
            count: n,
            sum,
        } => {
            let quantiles = quantiles
                .iter()
                .map(|q| {
                    let mut quantile = ObjectMap::new();
                    quantile.insert(key("quantile"), float(q.quantile));
                    quantile.insert(key("value"), float(q.value));
                    Value::Object(quantile)
                })
                .collect();
            map.insert(key("quantiles"), Value::Array(quantiles));
            map.insert(key("count"), count(*n));
            map.insert(key("sum"), float(*sum));
        }
        MetricValue::ExponentialHistogram(h) => {
            map.insert(key("count"), count(h.count));
            map.insert(key("sum"), h.sum.map_or(Value::Null, float));
            map.insert(key("scale"), Value::Integer(h.scale.into()));
            map.insert(key("zero_count"), count(h.zero_count));
        }
    }
    Value::Object(map)
}

fn set_metric_view(m: &mut Metric, view: Value) -> Result<(), String> {
    let Value::Object(mut map) = view else {
        return Err(format!(
            "a metric's `.` must stay an object, not become a {}",
            view.kind_name()
        ));
    };
    let kind = metric_type(m);
    let name = match map.remove("name") {
        Some(Value::Bytes(b)) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => return Err("a metric's .name must be a non-empty string".into()),
    };
    m.name = match map.remove("namespace") {
        Some(Value::Null) | None => KeyString::from(name),
        Some(ns) => KeyString::from(format!("{}_{name}", ns.to_string_lossy())),
    };
    m.temporality = match map.remove("kind").as_ref().and_then(Value::as_str) {
        Some("absolute") => Temporality::Cumulative,
        Some("incremental") => Temporality::Delta,
        _ => return Err("a metric's .kind must be \"absolute\" or \"incremental\"".into()),
    };
    m.labels = match map.remove("tags") {
        None | Some(Value::Null) => ObjectMap::new(),
        Some(Value::Object(tags)) => tags,
        Some(other) => {
            return Err(format!(
                "a metric's .tags must be an object, not a {}",
                other.kind_name()
            ));
        }
    };
    m.time_unix_nano = take_time(&mut map, "timestamp")?;
    map.remove("type");
    if let Some(value) = map.remove(kind) {
        set_metric_value(&mut m.value, value)?;
    }
    match map.keys().next() {
        None => Ok(()),
        Some(other) => Err(format!(
            "a metric has no field `.{other}` (it has name, namespace, tags, kind, type, timestamp and .{kind})"
        )),
    }
}

/// Takes a changed scalar value back; the shape of histograms and
/// summaries is read-only.
fn set_metric_value(value: &mut MetricValue, view: Value) -> Result<(), String> {
    let new = view.as_object().and_then(|o| o.get("value"));
    match (value, new) {
        (MetricValue::Scalar(v), Some(Value::Float(f))) => *v = *f,
        (MetricValue::Scalar(v), Some(Value::Integer(i))) => *v = *i as f64,
        (MetricValue::Integer(v), Some(Value::Integer(i))) => *v = *i,
        (slot @ MetricValue::Integer(_), Some(Value::Float(f))) => *slot = MetricValue::Scalar(*f),
        (MetricValue::Scalar(_) | MetricValue::Integer(_), Some(other)) => {
            return Err(format!(
                "a metric's value must be a number, not a {}",
                other.kind_name()
            ));
        }
        _ => {}
    }
    Ok(())
}

fn metric_metadata(m: &Metric) -> Value {
    let Value::Object(mut map) = telemetry_source(&m.resource, &m.scope) else {
        unreachable!("telemetry_source builds an object")
    };
    if !m.description.is_empty() {
        map.insert(key("description"), string(&m.description));
    }
    if !m.unit.is_empty() {
        map.insert(key("unit"), string(&m.unit));
    }
    if m.start_time_unix_nano != 0 {
        map.insert(
            key("start_timestamp"),
            Value::Timestamp(m.start_time_unix_nano),
        );
    }
    Value::Object(map)
}

fn set_metric_metadata(m: &mut Metric, metadata: Value) -> Result<(), String> {
    let Value::Object(mut map) = metadata else {
        return Err("% must be an object".into());
    };
    m.description = take_text(&mut map, "description").unwrap_or_default();
    m.unit = take_text(&mut map, "unit").unwrap_or_default();
    m.start_time_unix_nano = take_time(&mut map, "start_timestamp")?;
    set_telemetry_source(&mut m.resource, &mut m.scope, Value::Object(map))
}

// ---- spans ----

fn span_kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "unspecified",
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

fn status_name(code: StatusCode) -> &'static str {
    match code {
        StatusCode::Unset => "unset",
        StatusCode::Ok => "ok",
        StatusCode::Error => "error",
    }
}

fn span_view(s: &mut Span) -> Value {
    let mut map = ObjectMap::with_capacity(16);
    map.insert(key("trace_id"), Value::from(s.trace_id.to_hex()));
    map.insert(key("span_id"), Value::from(s.span_id.to_hex()));
    if let Some(p) = s.parent_span_id {
        map.insert(key("parent_span_id"), Value::from(p.to_hex()));
    }
    if !s.trace_state.is_empty() {
        map.insert(key("trace_state"), string(&s.trace_state));
    }
    map.insert(key("flags"), Value::Integer(s.flags.into()));
    map.insert(key("name"), string(&s.name));
    map.insert(key("kind"), string(span_kind_name(s.kind)));
    map.insert(
        key("start_timestamp"),
        Value::Timestamp(s.start_time_unix_nano),
    );
    map.insert(key("end_timestamp"), Value::Timestamp(s.end_time_unix_nano));
    map.insert(
        key("attributes"),
        Value::Object(mem::take(&mut s.attributes)),
    );
    map.insert(key("status"), string(status_name(s.status.code)));
    if !s.status.message.is_empty() {
        map.insert(key("status_message"), string(&s.status.message));
    }
    let events = mem::take(&mut s.events)
        .into_iter()
        .map(|e| {
            let mut event = ObjectMap::new();
            event.insert(key("timestamp"), Value::Timestamp(e.time_unix_nano));
            event.insert(key("name"), string(&e.name));
            event.insert(key("attributes"), Value::Object(e.attributes));
            Value::Object(event)
        })
        .collect();
    map.insert(key("events"), Value::Array(events));
    let links = mem::take(&mut s.links)
        .into_iter()
        .map(|l| {
            let mut link = ObjectMap::new();
            link.insert(key("trace_id"), Value::from(l.trace_id.to_hex()));
            link.insert(key("span_id"), Value::from(l.span_id.to_hex()));
            if !l.trace_state.is_empty() {
                link.insert(key("trace_state"), Value::from(l.trace_state));
            }
            link.insert(key("attributes"), Value::Object(l.attributes));
            link.insert(key("flags"), Value::Integer(l.flags.into()));
            Value::Object(link)
        })
        .collect();
    map.insert(key("links"), Value::Array(links));
    Value::Object(map)
}

fn set_span_view(s: &mut Span, view: Value) -> Result<(), String> {
    let Value::Object(mut map) = view else {
        return Err(format!(
            "a span's `.` must stay an object, not become a {}",
            view.kind_name()
        ));
    };
    s.trace_id = match take_text(&mut map, "trace_id") {
        Some(hex) => TraceId::from_hex(&hex).ok_or("a span's .trace_id must be 32 hex digits")?,
        None => return Err("a span needs .trace_id".into()),
    };
    s.span_id = match take_text(&mut map, "span_id") {
        Some(hex) => SpanId::from_hex(&hex).ok_or("a span's .span_id must be 16 hex digits")?,
        None => return Err("a span needs .span_id".into()),
    };
    s.parent_span_id = match take_text(&mut map, "parent_span_id") {
        Some(hex) => {
            Some(SpanId::from_hex(&hex).ok_or("a span's .parent_span_id must be 16 hex digits")?)
        }
        None => None,
    };
    s.trace_state = take_text(&mut map, "trace_state").unwrap_or_default();
    s.flags = take_u32(&mut map, "flags")?;
    s.name = KeyString::from(take_text(&mut map, "name").unwrap_or_default());
    s.kind = match take_text(&mut map, "kind").as_deref() {
        None | Some("unspecified") => SpanKind::Unspecified,
        Some("internal") => SpanKind::Internal,
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some(other) => return Err(format!("`{other}` is not a span kind")),
    };
    s.start_time_unix_nano = take_time(&mut map, "start_timestamp")?;
    s.end_time_unix_nano = take_time(&mut map, "end_timestamp")?;
    s.attributes = take_object(&mut map, "attributes")?;
    s.status.code = match take_text(&mut map, "status").as_deref() {
        None | Some("unset") => StatusCode::Unset,
        Some("ok") => StatusCode::Ok,
        Some("error") => StatusCode::Error,
        Some(other) => return Err(format!("`{other}` is not a span status")),
    };
    s.status.message = take_text(&mut map, "status_message").unwrap_or_default();
    s.events = take_list(&mut map, "events")?
        .into_iter()
        .map(|mut e| {
            Ok(SpanEvent {
                time_unix_nano: take_time(&mut e, "timestamp")?,
                name: KeyString::from(take_text(&mut e, "name").unwrap_or_default()),
                attributes: take_object(&mut e, "attributes")?,
                dropped_attributes_count: 0,
            })
        })
        .collect::<Result<_, String>>()?;
    s.links = take_list(&mut map, "links")?
        .into_iter()
        .map(|mut l| {
            Ok(SpanLink {
                trace_id: take_text(&mut l, "trace_id")
                    .and_then(|h| TraceId::from_hex(&h))
                    .ok_or("a link's .trace_id must be 32 hex digits")?,
                span_id: take_text(&mut l, "span_id")
                    .and_then(|h| SpanId::from_hex(&h))
                    .ok_or("a link's .span_id must be 16 hex digits")?,
                trace_state: take_text(&mut l, "trace_state").unwrap_or_default(),
                attributes: take_object(&mut l, "attributes")?,
                dropped_attributes_count: 0,
                flags: take_u32(&mut l, "flags")?,
            })
        })
        .collect::<Result<_, String>>()?;
    match map.keys().next() {
        None => Ok(()),
        Some(other) => Err(format!(
            "a span has no field `.{other}` (custom fields go in .attributes)"
        )),
    }
}

fn take_object(map: &mut ObjectMap, name: &str) -> Result<ObjectMap, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(ObjectMap::new()),
        Some(Value::Object(o)) => Ok(o),
        Some(other) => Err(format!(
            ".{name} must be an object, not a {}",
            other.kind_name()
        )),
    }
}

fn take_list(map: &mut ObjectMap, name: &str) -> Result<Vec<ObjectMap>, String> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(o) => Ok(o),
                other => Err(format!(
                    "each of .{name} must be an object, not a {}",
                    other.kind_name()
                )),
            })
            .collect(),
        Some(other) => Err(format!(
            ".{name} must be an array, not a {}",
            other.kind_name()
        )),
    }
}
