//! The JSON shapes of a push request: read into loose values (so that the
//! decoder, not serde, reports a bad entry and can name its stream) and
//! written straight from grouped streams.

use logbridge_event::Value;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::encode::{Entry, Stream};

/// `{"streams": [...]}` as read.
#[derive(Deserialize)]
pub(crate) struct JsonPush {
    #[serde(default)]
    pub streams: Vec<JsonStream>,
}

/// `{"stream": {labels}, "values": [[ts, line, {metadata}?], ...]}` as read.
#[derive(Deserialize)]
pub(crate) struct JsonStream {
    #[serde(default)]
    pub stream: Value,
    #[serde(default)]
    pub values: Vec<Vec<Value>>,
}

/// Grouped streams, written as a JSON push request.
pub(crate) struct PushOut<'a>(pub &'a [Stream]);

impl Serialize for PushOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("streams", &Seq(self.0, StreamRef))?;
        map.end()
    }
}

/// A slice written as a JSON array, each item through `W`.
struct Seq<'a, T, W>(&'a [T], W);

impl<'a, T, W: Fn(&'a T) -> I, I: Serialize> Serialize for Seq<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

struct StreamRef<'a>(&'a Stream);

impl Serialize for StreamRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("stream", &LabelsOut(self.0))?;
        map.serialize_entry("values", &Seq(&self.0.entries, EntryRef))?;
        map.end()
    }
}

struct LabelsOut<'a>(&'a Stream);

impl Serialize for LabelsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let labels = &self.0.labels;
        let mut map = s.serialize_map(Some(labels.len()))?;
        for (name, value) in labels.iter() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

struct EntryRef<'a>(&'a Entry);

impl Serialize for EntryRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entry = self.0;
        let has_metadata = !entry.metadata.is_empty();
        let mut seq = s.serialize_seq(Some(2 + usize::from(has_metadata)))?;
        seq.serialize_element(&entry.time_unix_nano.to_string())?;
        seq.serialize_element(&String::from_utf8_lossy(&entry.line))?;
        if has_metadata {
            seq.serialize_element(&MetadataOut(entry))?;
        }
        seq.end()
    }
}

struct MetadataOut<'a>(&'a Entry);

impl Serialize for MetadataOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let metadata = &self.0.metadata;
        let mut map = s.serialize_map(Some(metadata.len()))?;
        for (name, value) in metadata {
            map.serialize_entry(name.as_str(), &String::from_utf8_lossy(value))?;
        }
        map.end()
    }
}
