//! Encoding logs as Loki push requests, for a Loki sink.
//!
//! The caller says which labels each record's stream has (a function from
//! record to [`LabelSet`]; [`resource_labels`] is the inverse of the
//! decoder's mapping) and where structured metadata comes from
//! ([`StructuredMetadata`]). Records are grouped into one stream per label
//! set, in the order the sets first appear, and each stream's entries are
//! sorted by timestamp, stably: Loki rejects an entry older than the one
//! before it in the same stream.
//!
//! Each entry's line is the record's body: a string as it is, any other
//! value as text (objects and arrays as JSON, null as an empty line). Its
//! timestamp is `time_unix_nano`, or the observed time when that is 0.

use std::collections::HashMap;

use bytes::Bytes;
use logbridge_event::{KeyString, LogRecord, Value};
use prost::Message;

use crate::error::Error;
use crate::json::PushOut;
use crate::labels::{LabelError, LabelSet, sanitize_label_name};
use crate::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

/// Where an entry's structured metadata comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StructuredMetadata {
    /// No structured metadata.
    None,
    /// Every attribute: the inverse of the decoder's mapping.
    #[default]
    Attributes,
    /// The attributes that are not labels of the entry's stream, for
    /// label functions that pick labels out of the attributes. An
    /// attribute is a label when the stream has a label of its name, as
    /// [`sanitize_label_name`] makes it.
    AttributesExceptLabels,
    /// Only the attributes of these names.
    Only(Vec<KeyString>),
}

/// One stream of a push request.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub labels: LabelSet,
    /// Sorted by time.
    pub entries: Vec<Entry>,
}

/// One entry of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub time_unix_nano: i64,
    pub line: Bytes,
    /// Name and value pairs; values are text (UTF-8 unless a string
    /// attribute held other bytes, which the protobuf encoding keeps).
    pub metadata: Vec<(KeyString, Bytes)>,
}

/// The labels of a record's resource (see [`LabelSet::from_resource`]):
/// the inverse of the decoder's mapping.
pub fn resource_labels(record: &LogRecord) -> LabelSet {
    LabelSet::from_resource(record.resource())
}

/// Groups records into streams by `labels`, entries sorted by time. A
/// record whose label set is empty is an error, as it is for Loki.
pub fn group_streams(
    records: &[LogRecord],
    mut labels: impl FnMut(&LogRecord) -> LabelSet,
    metadata: &StructuredMetadata,
) -> Result<Vec<Stream>, Error> {
    let mut streams: Vec<Stream> = Vec::new();
    let mut index: HashMap<LabelSet, usize> = HashMap::new();
    for (record_index, record) in records.iter().enumerate() {
        let set = labels(record);
        if set.is_empty() {
            return Err(Error::RecordLabels {
                record: record_index,
                source: LabelError::Empty,
            });
        }
        let entry = entry(record, &set, metadata);
        match index.get(&set) {
            Some(&i) => streams[i].entries.push(entry),
            None => {
                index.insert(set.clone(), streams.len());
                streams.push(Stream {
                    labels: set,
                    entries: vec![entry],
                });
            }
        }
    }
    for stream in &mut streams {
        // Stable, so entries of equal time keep the records' order.
        stream.entries.sort_by_key(|e| e.time_unix_nano);
    }
    Ok(streams)
}

fn entry(record: &LogRecord, labels: &LabelSet, source: &StructuredMetadata) -> Entry {
    let time_unix_nano = match record.time_unix_nano {
        0 => record.observed_time_unix_nano,
        t => t,
    };
    let pair = |name: &KeyString, value: &Value| match value {
        Value::Null => None,
        Value::Bytes(b) => Some((name.clone(), b.clone())),
        other => Some((name.clone(), text(other))),
    };
    let attributes = &record.attributes;
    let metadata = match source {
        StructuredMetadata::None => Vec::new(),
        StructuredMetadata::Attributes => {
            attributes.iter().filter_map(|(k, v)| pair(k, v)).collect()
        }
        StructuredMetadata::AttributesExceptLabels => attributes
            .iter()
            .filter(|(k, _)| !labels.contains(&sanitize_label_name(k)))
            .filter_map(|(k, v)| pair(k, v))
            .collect(),
        StructuredMetadata::Only(names) => names
            .iter()
            .filter_map(|name| pair(name, attributes.get(name)?))
            .collect(),
    };
    let line = match &record.body {
        Value::Bytes(b) => b.clone(),
        other => text(other),
    };
    Entry {
        time_unix_nano,
        line,
        metadata,
    }
}

fn text(value: &Value) -> Bytes {
    Bytes::from(value.to_string_lossy().into_owned())
}

/// Groups `records` (see [`group_streams`]) and encodes them as Loki's
/// protobuf push body: a `PushRequest` in a raw snappy block.
pub fn encode_push_protobuf(
    records: &[LogRecord],
    labels: impl FnMut(&LogRecord) -> LabelSet,
    metadata: &StructuredMetadata,
) -> Result<Vec<u8>, Error> {
    encode_streams_protobuf(&group_streams(records, labels, metadata)?)
}

/// Groups `records` (see [`group_streams`]) and encodes them as Loki's
/// JSON push body. Lines and values that are not UTF-8 are written with
/// replacement characters, as JSON needs text.
pub fn encode_push_json(
    records: &[LogRecord],
    labels: impl FnMut(&LogRecord) -> LabelSet,
    metadata: &StructuredMetadata,
) -> Result<Vec<u8>, Error> {
    Ok(encode_streams_json(&group_streams(
        records, labels, metadata,
    )?))
}

/// The `PushRequest` of grouped streams.
pub fn push_request(streams: &[Stream]) -> PushRequest {
    PushRequest {
        streams: streams
            .iter()
            .map(|stream| StreamAdapter {
                labels: Bytes::from(stream.labels.to_string()),
                entries: stream
                    .entries
                    .iter()
                    .map(|e| EntryAdapter {
                        timestamp: Some(Timestamp::from_unix_nanos(e.time_unix_nano)),
                        line: e.line.clone(),
                        structured_metadata: e
                            .metadata
                            .iter()
                            .map(|(name, value)| LabelPairAdapter {
                                name: Bytes::copy_from_slice(name.as_bytes()),
                                value: value.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
                // Loki computes the hash itself.
                hash: 0,
            })
            .collect(),
    }
}

/// Grouped streams as a protobuf push body (snappy-compressed).
pub fn encode_streams_protobuf(streams: &[Stream]) -> Result<Vec<u8>, Error> {
    let message = push_request(streams).encode_to_vec();
    Ok(snap::raw::Encoder::new().compress_vec(&message)?)
}

/// Grouped streams as a JSON push body.
pub fn encode_streams_json(streams: &[Stream]) -> Vec<u8> {
    // Writing to a Vec cannot fail, and every value here is a string.
    serde_json::to_vec(&PushOut(streams)).unwrap_or_default()
}
