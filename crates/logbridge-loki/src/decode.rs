//! Decoding Loki push requests into logs.
//!
//! # Mapping
//!
//! | Loki                      | [`LogRecord`]                                   |
//! |---------------------------|-------------------------------------------------|
//! | entry line                | `body` (`.message`), a string                   |
//! | entry timestamp           | `time_unix_nano`                                |
//! | entry structured metadata | `attributes` (`.name`), string values           |
//! | stream labels             | `resource` attributes (`%resource.name`)        |
//!
//! Stream labels go to the resource, not to the attributes, because:
//! - labels say where a stream comes from (`job`, `host`, `namespace`),
//!   which is what an OpenTelemetry resource describes, and Loki's own
//!   OTLP ingestion turns resource attributes into labels;
//! - Loki allows a structured metadata pair and a label of the same name;
//!   in separate maps neither can overwrite the other, so writing labels
//!   from the resource and metadata from the attributes (the encoder's
//!   [`crate::resource_labels`] and [`crate::StructuredMetadata::Attributes`])
//!   gives back the same streams, labels and metadata: nothing is lost or
//!   renamed on the way Loki -> logbridge -> Loki;
//! - the entries of a stream share one resource through an `Arc`, so the
//!   labels cost one map per stream, not one per entry.
//!
//! `observed_time_unix_nano` is left 0: this crate reads no clock, the
//! caller stamps it. Lines are not checked for UTF-8 (Loki's schema says
//! string, but a log line is kept as it came); label text must be UTF-8.
//!
//! # Limits
//!
//! The protobuf decoder refuses a body whose snappy header announces more
//! than the caller's limit, before allocating for it. Records cost more
//! memory than their encoding (an empty entry is a few bytes on the wire
//! and a few hundred in memory), so the limit should allow for that; the
//! JSON decoder takes no limit: capping the body is the caller's job.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{KeyString, LogRecord, ObjectMap, Resource, Value};
use prost::Message;

use crate::error::{Error, quote_labels};
use crate::json::{JsonPush, JsonStream};
use crate::labels::{LabelError, LabelSet};
use crate::proto::{PushRequest, StreamAdapter};

/// Decodes a push request as Loki's `/loki/api/v1/push` receives it with
/// `Content-Type: application/x-protobuf`: a snappy block (raw format, not
/// framed) holding a `PushRequest`. A body that would decompress to more
/// than `max_decompressed` bytes is refused before anything is allocated.
pub fn decode_push_protobuf(body: &[u8], max_decompressed: usize) -> Result<Vec<LogRecord>, Error> {
    let len = snap::raw::decompress_len(body)?;
    if len > max_decompressed {
        return Err(Error::TooLarge {
            len,
            max: max_decompressed,
        });
    }
    let mut buf = vec![0; len];
    let written = snap::raw::Decoder::new().decompress(body, &mut buf)?;
    buf.truncate(written);
    decode_push_request(Bytes::from(buf))
}

/// Decodes an uncompressed `PushRequest`. Lines and metadata values are
/// slices of `message`, not copies (so they keep it alive).
pub fn decode_push_request(message: Bytes) -> Result<Vec<LogRecord>, Error> {
    let request = PushRequest::decode(message)?;
    let total = request.streams.iter().map(|s| s.entries.len()).sum();
    let mut records = Vec::with_capacity(total);
    for (index, stream) in request.streams.into_iter().enumerate() {
        protobuf_stream(index, stream, &mut records)?;
    }
    Ok(records)
}

fn protobuf_stream(
    index: usize,
    stream: StreamAdapter,
    out: &mut Vec<LogRecord>,
) -> Result<(), Error> {
    let labels_error = |source| Error::Labels {
        stream: index,
        labels: quote_labels(&String::from_utf8_lossy(&stream.labels)),
        source,
    };
    let text =
        std::str::from_utf8(&stream.labels).map_err(|_| labels_error(LabelError::NotUtf8))?;
    let labels = LabelSet::parse(text).map_err(labels_error)?;
    let resource = resource(&labels);
    for (entry_index, entry) in stream.entries.into_iter().enumerate() {
        let time_unix_nano = match entry.timestamp {
            // proto3 leaves a zero message out: the epoch.
            None => 0,
            Some(ts) => ts.to_unix_nanos().ok_or_else(|| Error::Entry {
                stream: index,
                labels: quote_labels(text),
                entry: entry_index,
                reason: "timestamp out of range",
            })?,
        };
        let attributes = entry
            .structured_metadata
            .into_iter()
            .map(|pair| (key(&pair.name), Value::Bytes(pair.value)))
            .collect();
        out.push(record(time_unix_nano, entry.line, attributes, &resource));
    }
    Ok(())
}

/// Decodes a push request in Loki's JSON form:
/// `{"streams":[{"stream":{"app":"api"},"values":[["<ns>","line"],["<ns>","line",{"trace_id":"..."}]]}]}`.
/// Timestamps are nanoseconds since the epoch as a decimal string (a JSON
/// integer is accepted too).
pub fn decode_push_json(body: &[u8]) -> Result<Vec<LogRecord>, Error> {
    let push: JsonPush = serde_json::from_slice(body)?;
    let total = push.streams.iter().map(|s| s.values.len()).sum();
    let mut records = Vec::with_capacity(total);
    for (index, stream) in push.streams.into_iter().enumerate() {
        json_stream(index, stream, &mut records)?;
    }
    Ok(records)
}

fn json_stream(index: usize, stream: JsonStream, out: &mut Vec<LogRecord>) -> Result<(), Error> {
    let describe = || quote_labels(&stream.stream.to_string_lossy());
    let labels = json_labels(&stream.stream).map_err(|source| Error::Labels {
        stream: index,
        labels: describe(),
        source,
    })?;
    let resource = resource(&labels);
    for (entry_index, entry) in stream.values.into_iter().enumerate() {
        let entry_error = |reason| Error::Entry {
            stream: index,
            labels: describe(),
            entry: entry_index,
            reason,
        };
        let mut parts = entry.into_iter();
        let (Some(time), Some(line), metadata, None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(entry_error(
                "expected [timestamp, line] or [timestamp, line, metadata]",
            ));
        };
        let time_unix_nano = match time {
            Value::Bytes(text) => std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| entry_error("timestamp is not an integer number of nanoseconds"))?,
            Value::Integer(ns) => ns,
            _ => return Err(entry_error("timestamp is not a string of nanoseconds")),
        };
        let Value::Bytes(line) = line else {
            return Err(entry_error("line is not a string"));
        };
        let attributes = match metadata {
            None | Some(Value::Null) => ObjectMap::new(),
            Some(Value::Object(map)) => {
                if map.values().any(|v| !matches!(v, Value::Bytes(_))) {
                    return Err(entry_error("structured metadata values must be strings"));
                }
                map
            }
            Some(_) => return Err(entry_error("structured metadata is not an object")),
        };
        out.push(record(time_unix_nano, line, attributes, &resource));
    }
    Ok(())
}

/// The labels of a JSON stream: an object of strings (absent or null is
/// the empty set).
fn json_labels(stream: &Value) -> Result<LabelSet, LabelError> {
    let map = match stream {
        Value::Null => return Ok(LabelSet::new()),
        Value::Object(map) => map,
        _ => {
            return Err(LabelError::Syntax {
                offset: 0,
                expected: "an object of labels",
            });
        }
    };
    let mut pairs = Vec::with_capacity(map.len());
    for (name, value) in map {
        let Some(value) = value.as_str() else {
            return Err(match value {
                Value::Bytes(_) => LabelError::InvalidUtf8 {
                    name: name.to_string(),
                },
                _ => LabelError::NotAString {
                    name: name.to_string(),
                },
            });
        };
        pairs.push((name.clone(), value));
    }
    LabelSet::from_pairs(pairs)
}

/// One shared resource per stream; none for a stream without labels.
fn resource(labels: &LabelSet) -> Option<Arc<Resource>> {
    (!labels.is_empty()).then(|| {
        Arc::new(Resource {
            attributes: labels.to_attributes(),
            ..Resource::default()
        })
    })
}

fn record(
    time_unix_nano: i64,
    line: Bytes,
    attributes: ObjectMap,
    resource: &Option<Arc<Resource>>,
) -> LogRecord {
    LogRecord {
        time_unix_nano,
        body: Value::Bytes(line),
        attributes,
        resource: resource.clone(),
        ..LogRecord::default()
    }
}

fn key(name: &[u8]) -> KeyString {
    KeyString::from(String::from_utf8_lossy(name))
}
