//! The binary encoding of a batch's events, as stored in one disk-buffer
//! record.
//!
//! Layout (format version 3): one version byte, a varint event count, then
//! each event as a tag byte (`0` log, `1` metric, `2` span) and its fields in
//! declaration order. Integers are LEB128 varints (signed ones zigzagged),
//! floats are 8 little-endian bytes of their bit pattern (so NaN payloads and
//! `-0.0` survive), strings and byte strings are a varint length and bytes.
//! [`Value`] keeps its variant: `Bytes`, `Timestamp`, `Integer` and `Float`
//! stay distinct. Version 2 added a log's source metadata (a map after its
//! scope); version 3 a log's event name, integer and exponential-histogram
//! metric values, histogram min/max, metric exemplars and flags. Records of
//! versions 1 and 2 are still read.
//!
//! Resources and scopes are shared within a record: each is written as a
//! varint `0` (none), `1` (inline, appended to the record's table) or `k + 2`
//! (the `k`-th table entry). The encoder finds sharing by pointer (the
//! `Arc`s a source puts on its events), so decoding restores the sharing.
//!
//! Decoding never panics and never allocates more than the input could
//! justify: every count is capped by the bytes that remain, and nesting is
//! limited to [`MAX_DEPTH`]; the encoder refuses deeper values so every
//! record it writes can be read back.
//!
//! This module does no I/O.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{
    Bucket, Event, Exemplar, ExponentialBuckets, ExponentialHistogram, KeyString, LogRecord,
    Metric, MetricKind, MetricValue, Number, ObjectMap, Quantile, Resource, Scope, Span, SpanEvent,
    SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, Temporality, TraceId, Value,
};

/// The format version written in the first byte of every record.
pub const FORMAT_VERSION: u8 = 3;

/// The oldest format version still read.
const OLDEST_READABLE_VERSION: u8 = 1;

/// The deepest nesting of arrays and objects a record may hold.
pub const MAX_DEPTH: usize = 128;

/// How many recent resources (or scopes) the encoder compares by pointer.
const SHARE_WINDOW: usize = 8;

/// Why a record could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("a value is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty record")]
    Empty,
    #[error("unsupported record format version {0}")]
    Version(u8),
    #[error("record ends early")]
    Truncated,
    #[error("malformed varint")]
    Varint,
    #[error("unknown {what} tag {tag}")]
    Tag { what: &'static str, tag: u64 },
    #[error("{0} is out of range")]
    Range(&'static str),
    #[error("a string is not valid UTF-8")]
    Utf8,
    #[error("a value is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("a shared resource or scope refers to entry {0}, which does not exist")]
    BadReference(u64),
    #[error("{0} bytes left over after the last event")]
    TrailingBytes(usize),
}

/// Appends the encoding of `events` to `out`. On error `out` is left as it
/// was.
pub fn encode_events(events: &[Event], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let mut enc = Encoder {
        out,
        resources: Vec::new(),
        scopes: Vec::new(),
    };
    let result = enc.events(events);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Decodes a record written by [`encode_events`].
pub fn decode_events(bytes: &[u8]) -> Result<Vec<Event>, DecodeError> {
    let (&version, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(DecodeError::Version(version));
    }
    let mut dec = Decoder {
        version,
        buf: rest,
        resources: Vec::new(),
        scopes: Vec::new(),
    };
    let n = dec.count()?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(dec.event()?);
    }
    if !dec.buf.is_empty() {
        return Err(DecodeError::TrailingBytes(dec.buf.len()));
    }
    Ok(events)
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    resources: Vec<*const Resource>,
    scopes: Vec<*const Scope>,
}

impl Encoder<'_> {
    fn events(&mut self, events: &[Event]) -> Result<(), EncodeError> {
        self.out.push(FORMAT_VERSION);
        self.uint(events.len() as u64);
        for event in events {
            match event {
                Event::Log(log) => {
                    self.out.push(0);
                    self.log(log)?;
                }
                Event::Metric(metric) => {
                    self.out.push(1);
                    self.metric(metric)?;
                }
                Event::Span(span) => {
                    self.out.push(2);
                    self.span(span)?;
                }
            }
        }
        Ok(())
    }

    fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn float(&mut self, v: f64) {
        self.out.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.uint(b.len() as u64);
        self.out.extend_from_slice(b);
    }

    fn opt_float(&mut self, v: Option<f64>) {
        match v {
            None => self.out.push(0),
            Some(v) => {
                self.out.push(1);
                self.float(v);
            }
        }
    }

    fn opt_array<const N: usize>(&mut self, a: Option<[u8; N]>) {
        match a {
            None => self.out.push(0),
            Some(a) => {
                self.out.push(1);
                self.out.extend_from_slice(&a);
            }
        }
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.out.push(0),
            Some(s) => {
                self.out.push(1);
                self.bytes(s.as_bytes());
            }
        }
    }

    fn value(&mut self, v: &Value, depth: usize) -> Result<(), EncodeError> {
        match v {
            Value::Null => self.out.push(0),
            Value::Bool(false) => self.out.push(1),
            Value::Bool(true) => self.out.push(2),
            Value::Integer(i) => {
                self.out.push(3);
                self.int(*i);
            }
            Value::Float(f) => {
                self.out.push(4);
                self.float(*f);
            }
            Value::Bytes(b) => {
                self.out.push(5);
                self.bytes(b);
            }
            Value::Timestamp(ns) => {
                self.out.push(6);
                self.int(*ns);
            }
            Value::Array(items) => {
                if depth >= MAX_DEPTH {
                    return Err(EncodeError::TooDeep);
                }
                self.out.push(7);
                self.uint(items.len() as u64);
                for item in items {
                    self.value(item, depth + 1)?;
                }
            }
            Value::Object(map) => {
                if depth >= MAX_DEPTH {
                    return Err(EncodeError::TooDeep);
                }
                self.out.push(8);
                self.map(map, depth + 1)?;
            }
        }
        Ok(())
    }

    fn map(&mut self, map: &ObjectMap, depth: usize) -> Result<(), EncodeError> {
        self.uint(map.len() as u64);
        for (k, v) in map {
            self.bytes(k.as_bytes());
            self.value(v, depth)?;
        }
        Ok(())
    }

    fn resource(&mut self, r: &Option<Arc<Resource>>) -> Result<(), EncodeError> {
        let Some(r) = r else {
            self.out.push(0);
            return Ok(());
        };
        let ptr = Arc::as_ptr(r);
        let len = self.resources.len();
        let window = len.saturating_sub(SHARE_WINDOW)..len;
        if let Some(i) = window.rev().find(|&i| self.resources[i] == ptr) {
            self.uint(i as u64 + 2);
            return Ok(());
        }
        self.resources.push(ptr);
        self.out.push(1);
        self.map(&r.attributes, 0)?;
        self.uint(r.dropped_attributes_count.into());
        self.bytes(r.schema_url.as_bytes());
        Ok(())
    }

    fn scope(&mut self, s: &Option<Arc<Scope>>) -> Result<(), EncodeError> {
        let Some(s) = s else {
            self.out.push(0);
            return Ok(());
        };
        let ptr = Arc::as_ptr(s);
        let len = self.scopes.len();
        let window = len.saturating_sub(SHARE_WINDOW)..len;
        if let Some(i) = window.rev().find(|&i| self.scopes[i] == ptr) {
            self.uint(i as u64 + 2);
            return Ok(());
        }
        self.scopes.push(ptr);
        self.out.push(1);
        self.bytes(s.name.as_bytes());
        self.bytes(s.version.as_bytes());
        self.map(&s.attributes, 0)?;
        self.uint(s.dropped_attributes_count.into());
        self.bytes(s.schema_url.as_bytes());
        Ok(())
    }

    fn log(&mut self, l: &LogRecord) -> Result<(), EncodeError> {
        self.int(l.time_unix_nano);
        self.int(l.observed_time_unix_nano);
        self.int(l.severity_number.into());
        self.opt_str(l.severity_text.as_deref());
        self.value(&l.body, 0)?;
        self.map(&l.attributes, 0)?;
        self.uint(l.dropped_attributes_count.into());
        match l.trace_id {
            None => self.out.push(0),
            Some(t) => {
                self.out.push(1);
                self.out.extend_from_slice(&t.0);
            }
        }
        match l.span_id {
            None => self.out.push(0),
            Some(s) => {
                self.out.push(1);
                self.out.extend_from_slice(&s.0);
            }
        }
        self.uint(l.flags.into());
        self.resource(&l.resource)?;
        self.scope(&l.scope)?;
        self.map(&l.metadata, 0)?;
        self.opt_str(l.event_name.as_deref());
        Ok(())
    }

    fn metric(&mut self, m: &Metric) -> Result<(), EncodeError> {
        self.bytes(m.name.as_bytes());
        self.map(&m.labels, 0)?;
        self.out.push(match m.kind {
            MetricKind::Counter => 0,
            MetricKind::Gauge => 1,
            MetricKind::Histogram => 2,
            MetricKind::Summary => 3,
            MetricKind::UpDownCounter => 4,
        });
        self.out.push(match m.temporality {
            Temporality::Cumulative => 0,
            Temporality::Delta => 1,
        });
        match &m.value {
            MetricValue::Scalar(v) => {
                self.out.push(0);
                self.float(*v);
            }
            MetricValue::Integer(v) => {
                self.out.push(3);
                self.int(*v);
            }
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                min,
                max,
            } => {
                self.out.push(1);
                self.uint(buckets.len() as u64);
                for b in buckets {
                    self.float(b.upper_bound);
                    self.uint(b.count);
                }
                self.uint(*count);
                self.opt_float(*sum);
                self.opt_float(*min);
                self.opt_float(*max);
            }
            MetricValue::ExponentialHistogram(h) => {
                self.out.push(4);
                self.uint(h.count);
                self.opt_float(h.sum);
                self.int(h.scale.into());
                self.uint(h.zero_count);
                self.float(h.zero_threshold);
                for side in [&h.positive, &h.negative] {
                    self.int(side.offset.into());
                    self.uint(side.counts.len() as u64);
                    for c in &side.counts {
                        self.uint(*c);
                    }
                }
                self.opt_float(h.min);
                self.opt_float(h.max);
            }
            MetricValue::Summary {
                quantiles,
                count,
                sum,
            } => {
                self.out.push(2);
                self.uint(quantiles.len() as u64);
                for q in quantiles {
                    self.float(q.quantile);
                    self.float(q.value);
                }
                self.uint(*count);
                self.float(*sum);
            }
        }
        self.int(m.time_unix_nano);
        self.int(m.start_time_unix_nano);
        self.bytes(m.description.as_bytes());
        self.bytes(m.unit.as_bytes());
        self.resource(&m.resource)?;
        self.scope(&m.scope)?;
        self.uint(m.exemplars.len() as u64);
        for e in &m.exemplars {
            match e.value {
                Number::Float(v) => {
                    self.out.push(0);
                    self.float(v);
                }
                Number::Integer(v) => {
                    self.out.push(1);
                    self.int(v);
                }
            }
            self.int(e.time_unix_nano);
            self.map(&e.filtered_attributes, 0)?;
            self.opt_array(e.trace_id.map(|t| t.0));
            self.opt_array(e.span_id.map(|s| s.0));
        }
        self.uint(m.flags.into());
        Ok(())
    }

    fn span(&mut self, s: &Span) -> Result<(), EncodeError> {
        self.out.extend_from_slice(&s.trace_id.0);
        self.out.extend_from_slice(&s.span_id.0);
        match s.parent_span_id {
            None => self.out.push(0),
            Some(p) => {
                self.out.push(1);
                self.out.extend_from_slice(&p.0);
            }
        }
        self.bytes(s.trace_state.as_bytes());
        self.uint(s.flags.into());
        self.bytes(s.name.as_bytes());
        self.out.push(match s.kind {
            SpanKind::Unspecified => 0,
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        });
        self.int(s.start_time_unix_nano);
        self.int(s.end_time_unix_nano);
        self.map(&s.attributes, 0)?;
        self.uint(s.dropped_attributes_count.into());
        self.uint(s.events.len() as u64);
        for e in &s.events {
            self.int(e.time_unix_nano);
            self.bytes(e.name.as_bytes());
            self.map(&e.attributes, 0)?;
            self.uint(e.dropped_attributes_count.into());
        }
        self.uint(s.dropped_events_count.into());
        self.uint(s.links.len() as u64);
        for l in &s.links {
            self.out.extend_from_slice(&l.trace_id.0);
            self.out.extend_from_slice(&l.span_id.0);
            self.bytes(l.trace_state.as_bytes());
            self.map(&l.attributes, 0)?;
            self.uint(l.dropped_attributes_count.into());
            self.uint(l.flags.into());
        }
        self.uint(s.dropped_links_count.into());
        self.out.push(match s.status.code {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        });
        self.bytes(s.status.message.as_bytes());
        self.resource(&s.resource)?;
        self.scope(&s.scope)
    }
}

struct Decoder<'a> {
    /// The record's format version.
    version: u8,
    buf: &'a [u8],
    resources: Vec<Arc<Resource>>,
    scopes: Vec<Arc<Scope>>,
}

impl Decoder<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn uint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Varint);
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Varint)
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let u = self.uint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        u32::try_from(self.uint()?).map_err(|_| DecodeError::Range(what))
    }

    /// A count of items that each take at least one byte: capped by what is
    /// left, so a forged count cannot make us allocate.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.uint()?;
        if n > self.buf.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        Ok(n as usize)
    }

    fn float(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    fn raw(&mut self) -> Result<&[u8], DecodeError> {
        let n = self.count()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.raw()?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| DecodeError::Utf8)
    }

    fn key(&mut self) -> Result<KeyString, DecodeError> {
        let b = self.raw()?;
        std::str::from_utf8(b)
            .map(KeyString::from)
            .map_err(|_| DecodeError::Utf8)
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::Tag {
                what,
                tag: tag.into(),
            }),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let tag = self.byte()?;
        Ok(match tag {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Integer(self.int()?),
            4 => Value::Float(self.float()?),
            5 => Value::Bytes(Bytes::copy_from_slice(self.raw()?)),
            6 => Value::Timestamp(self.int()?),
            7 | 8 if depth >= MAX_DEPTH => return Err(DecodeError::TooDeep),
            7 => {
                let n = self.count()?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            8 => Value::Object(self.map(depth + 1)?),
            tag => {
                return Err(DecodeError::Tag {
                    what: "value",
                    tag: tag.into(),
                });
            }
        })
    }

    fn map(&mut self, depth: usize) -> Result<ObjectMap, DecodeError> {
        let n = self.count()?;
        let mut entries = Vec::with_capacity(n / 2);
        for _ in 0..n {
            let k = self.key()?;
            let v = self.value(depth)?;
            entries.push((k, v));
        }
        // The encoder writes keys sorted and unique; `from_entries` keeps
        // that as is and repairs anything else (last duplicate wins).
        Ok(ObjectMap::from_entries(entries))
    }

    fn resource(&mut self) -> Result<Option<Arc<Resource>>, DecodeError> {
        match self.uint()? {
            0 => Ok(None),
            1 => {
                let r = Arc::new(Resource {
                    attributes: self.map(0)?,
                    dropped_attributes_count: self.u32("resource dropped_attributes_count")?,
                    schema_url: self.string()?,
                });
                self.resources.push(Arc::clone(&r));
                Ok(Some(r))
            }
            k => usize::try_from(k - 2)
                .ok()
                .and_then(|i| self.resources.get(i))
                .map(|r| Some(Arc::clone(r)))
                .ok_or(DecodeError::BadReference(k - 2)),
        }
    }

    fn scope(&mut self) -> Result<Option<Arc<Scope>>, DecodeError> {
        match self.uint()? {
            0 => Ok(None),
            1 => {
                let s = Arc::new(Scope {
                    name: self.string()?,
                    version: self.string()?,
                    attributes: self.map(0)?,
                    dropped_attributes_count: self.u32("scope dropped_attributes_count")?,
                    schema_url: self.string()?,
                });
                self.scopes.push(Arc::clone(&s));
                Ok(Some(s))
            }
            k => usize::try_from(k - 2)
                .ok()
                .and_then(|i| self.scopes.get(i))
                .map(|s| Some(Arc::clone(s)))
                .ok_or(DecodeError::BadReference(k - 2)),
        }
    }

    fn event(&mut self) -> Result<Event, DecodeError> {
        match self.byte()? {
            0 => Ok(Event::Log(self.log()?)),
            1 => Ok(Event::Metric(self.metric()?)),
            2 => Ok(Event::Span(Box::new(self.span()?))),
            tag => Err(DecodeError::Tag {
                what: "event",
                tag: tag.into(),
            }),
        }
    }

    fn log(&mut self) -> Result<LogRecord, DecodeError> {
        let time_unix_nano = self.int()?;
        let observed_time_unix_nano = self.int()?;
        let severity_number =
            i32::try_from(self.int()?).map_err(|_| DecodeError::Range("severity_number"))?;
        let severity_text = if self.flag("severity_text")? {
            Some(self.key()?)
        } else {
            None
        };
        let body = self.value(0)?;
        let attributes = self.map(0)?;
        let dropped_attributes_count = self.u32("dropped_attributes_count")?;
        let trace_id = if self.flag("trace_id")? {
            Some(TraceId(self.array()?))
        } else {
            None
        };
        let span_id = if self.flag("span_id")? {
            Some(SpanId(self.array()?))
        } else {
            None
        };
        Ok(LogRecord {
            time_unix_nano,
            observed_time_unix_nano,
            severity_number,
            severity_text,
            body,
            attributes,
            dropped_attributes_count,
            trace_id,
            span_id,
            flags: self.u32("flags")?,
            resource: self.resource()?,
            scope: self.scope()?,
            metadata: if self.version >= 2 {
                self.map(0)?
            } else {
                ObjectMap::default()
            },
            event_name: if self.version >= 3 && self.flag("event_name")? {
                Some(self.key()?)
            } else {
                None
            },
        })
    }

    fn metric(&mut self) -> Result<Metric, DecodeError> {
        let name = self.key()?;
        let labels = self.map(0)?;
        let kind = match self.byte()? {
            0 => MetricKind::Counter,
            1 => MetricKind::Gauge,
            2 => MetricKind::Histogram,
            3 => MetricKind::Summary,
            4 => MetricKind::UpDownCounter,
            tag => {
                return Err(DecodeError::Tag {
                    what: "metric kind",
                    tag: tag.into(),
                });
            }
        };
        let temporality = match self.byte()? {
            0 => Temporality::Cumulative,
            1 => Temporality::Delta,
            tag => {
                return Err(DecodeError::Tag {
                    what: "temporality",
                    tag: tag.into(),
                });
            }
        };
        let value = match self.byte()? {
            0 => MetricValue::Scalar(self.float()?),
            1 => {
                let n = self.count()?;
                let mut buckets = Vec::with_capacity(n / 8);
                for _ in 0..n {
                    buckets.push(Bucket {
                        upper_bound: self.float()?,
                        count: self.uint()?,
                    });
                }
                let count = self.uint()?;
                if self.version >= 3 {
                    MetricValue::Histogram {
                        buckets,
                        count,
                        sum: self.opt_float("histogram sum")?,
                        min: self.opt_float("histogram min")?,
                        max: self.opt_float("histogram max")?,
                    }
                } else {
                    MetricValue::Histogram {
                        buckets,
                        count,
                        sum: Some(self.float()?),
                        min: None,
                        max: None,
                    }
                }
            }
            3 => MetricValue::Integer(self.int()?),
            4 => {
                let count = self.uint()?;
                let sum = self.opt_float("histogram sum")?;
                let scale = self.i32("scale")?;
                let zero_count = self.uint()?;
                let zero_threshold = self.float()?;
                let positive = self.exponential_buckets()?;
                let negative = self.exponential_buckets()?;
                MetricValue::ExponentialHistogram(Box::new(ExponentialHistogram {
                    count,
                    sum,
                    scale,
                    zero_count,
                    zero_threshold,
                    positive,
                    negative,
                    min: self.opt_float("histogram min")?,
                    max: self.opt_float("histogram max")?,
                }))
            }
            2 => {
                let n = self.count()?;
                let mut quantiles = Vec::with_capacity(n / 16);
                for _ in 0..n {
                    quantiles.push(Quantile {
                        quantile: self.float()?,
                        value: self.float()?,
                    });
                }
                MetricValue::Summary {
                    quantiles,
                    count: self.uint()?,
                    sum: self.float()?,
                }
            }
            tag => {
                return Err(DecodeError::Tag {
                    what: "metric value",
                    tag: tag.into(),
                });
            }
        };
        Ok(Metric {
            name,
            labels,
            kind,
            temporality,
            value,
            time_unix_nano: self.int()?,
            start_time_unix_nano: self.int()?,
            description: self.string()?,
            unit: self.string()?,
            resource: self.resource()?,
            scope: self.scope()?,
            exemplars: if self.version >= 3 {
                self.exemplars()?
            } else {
                Vec::new()
            },
            flags: if self.version >= 3 {
                self.u32("flags")?
            } else {
                0
            },
        })
    }

    fn exemplars(&mut self) -> Result<Vec<Exemplar>, DecodeError> {
        let n = self.count()?;
        // An exemplar takes at least 5 bytes: never reserve more than the
        // input could justify.
        let mut out = Vec::with_capacity(n / 5);
        for _ in 0..n {
            let value = match self.byte()? {
                0 => Number::Float(self.float()?),
                1 => Number::Integer(self.int()?),
                tag => {
                    return Err(DecodeError::Tag {
                        what: "exemplar value",
                        tag: tag.into(),
                    });
                }
            };
            out.push(Exemplar {
                value,
                time_unix_nano: self.int()?,
                filtered_attributes: self.map(0)?,
                trace_id: if self.flag("exemplar trace_id")? {
                    Some(TraceId(self.array()?))
                } else {
                    None
                },
                span_id: if self.flag("exemplar span_id")? {
                    Some(SpanId(self.array()?))
                } else {
                    None
                },
            });
        }
        Ok(out)
    }

    fn exponential_buckets(&mut self) -> Result<ExponentialBuckets, DecodeError> {
        let offset = self.i32("bucket offset")?;
        let n = self.count()?;
        let mut counts = Vec::with_capacity(n);
        for _ in 0..n {
            counts.push(self.uint()?);
        }
        Ok(ExponentialBuckets { offset, counts })
    }

    fn opt_float(&mut self, what: &'static str) -> Result<Option<f64>, DecodeError> {
        Ok(if self.flag(what)? {
            Some(self.float()?)
        } else {
            None
        })
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        i32::try_from(self.int()?).map_err(|_| DecodeError::Range(what))
    }

    fn span(&mut self) -> Result<Span, DecodeError> {
        let trace_id = TraceId(self.array()?);
        let span_id = SpanId(self.array()?);
        let parent_span_id = if self.flag("parent_span_id")? {
            Some(SpanId(self.array()?))
        } else {
            None
        };
        let trace_state = self.string()?;
        let flags = self.u32("flags")?;
        let name = self.key()?;
        let kind = match self.byte()? {
            0 => SpanKind::Unspecified,
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            tag => {
                return Err(DecodeError::Tag {
                    what: "span kind",
                    tag: tag.into(),
                });
            }
        };
        let start_time_unix_nano = self.int()?;
        let end_time_unix_nano = self.int()?;
        let attributes = self.map(0)?;
        let dropped_attributes_count = self.u32("dropped_attributes_count")?;
        let n = self.count()?;
        let mut events = Vec::with_capacity(n / 4);
        for _ in 0..n {
            events.push(SpanEvent {
                time_unix_nano: self.int()?,
                name: self.key()?,
                attributes: self.map(0)?,
                dropped_attributes_count: self.u32("dropped_attributes_count")?,
            });
        }
        let dropped_events_count = self.u32("dropped_events_count")?;
        let n = self.count()?;
        let mut links = Vec::with_capacity(n / 28);
        for _ in 0..n {
            links.push(SpanLink {
                trace_id: TraceId(self.array()?),
                span_id: SpanId(self.array()?),
                trace_state: self.string()?,
                attributes: self.map(0)?,
                dropped_attributes_count: self.u32("dropped_attributes_count")?,
                flags: self.u32("flags")?,
            });
        }
        let dropped_links_count = self.u32("dropped_links_count")?;
        let code = match self.byte()? {
            0 => StatusCode::Unset,
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            tag => {
                return Err(DecodeError::Tag {
                    what: "status code",
                    tag: tag.into(),
                });
            }
        };
        Ok(Span {
            trace_id,
            span_id,
            parent_span_id,
            trace_state,
            flags,
            name,
            kind,
            start_time_unix_nano,
            end_time_unix_nano,
            attributes,
            dropped_attributes_count,
            events,
            dropped_events_count,
            links,
            dropped_links_count,
            status: SpanStatus {
                code,
                message: self.string()?,
            },
            resource: self.resource()?,
            scope: self.scope()?,
        })
    }
}

#[cfg(test)]
mod tests;
