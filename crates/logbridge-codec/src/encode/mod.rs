//! Output codecs for the sinks: one event becomes one line (or, for the
//! binary `otlp`, one record).
//!
//! An [`Encoder`] appends an event and a `\n` to a caller's buffer (no
//! `\n` after a binary record, which only record-based sinks take); it
//! allocates only where a format needs it (never a copy of a log's
//! attributes) and cannot fail: what a format cannot hold is replaced
//! (invalid UTF-8 by U+FFFD; in JSON, NaN and infinities by the strings
//! `"NaN"`, `"+Inf"` and `"-Inf"`, as Prometheus' JSON API writes them).
//!
//! What each codec writes:
//! - `json`: a log is one object of its fields (the attributes, `message`
//!   for the body, and `timestamp` in RFC 3339 when the log has a time and
//!   no attribute of that name), keys sorted. Metrics and spans are objects
//!   of their parts, keys sorted too (see `view.rs` for the field names).
//! - `logfmt`: the same fields as `key=value` pairs, sorted; nested objects
//!   are flattened with dots (`http.method=GET`) and arrays with indexes
//!   (`tags[0]=a`). A value is quoted when it is empty or holds a space, a
//!   control character, `=` or `"`, with `\"`, `\\`, `\n`, `\r`, `\t` and
//!   `\u00XX` escapes. `null` is written as `key=`. Bytes of a key that
//!   logfmt cannot hold (space, control, `=`, `"`) become `_`.
//! - `text`: a log's body as it is: a string body byte for byte (newlines
//!   and invalid UTF-8 included, as Vector does: what came in a line goes
//!   out the same), other bodies as [`Value::to_string_lossy`] renders
//!   them, and an empty line for a log without a body. A metric is one
//!   Prometheus-like line, `name{label="value"} 42 1700000000000` (the
//!   timestamp in milliseconds, left out when unknown; histograms and
//!   summaries write `count=N sum=S` and their buckets `le=0.1:3,+Inf:1`
//!   or quantiles `q=0.5:1.2,0.99:3.4` instead of the value); a span is
//!   `name trace_id span_id 12.345ms`.
//! - `otlp_json` (feature `otlp`): each event as one OTLP/JSON export
//!   request of its signal (`{"resourceLogs":[...]}`, `resourceMetrics`,
//!   `resourceSpans`) holding that one record with its resource and scope,
//!   as the OTLP/HTTP JSON encoding writes it (hex trace and span ids,
//!   64-bit integers as strings, enums as integers). Nothing of
//!   OpenTelemetry's model is left out, so a line can be sent back to any
//!   OTLP/HTTP receiver as it is; this is the codec for archiving OTLP data.
//! - `otlp` (feature `otlp`): the same export request in protobuf, as
//!   OTLP/gRPC and OTLP/HTTP send it and Vector's `otlp` codec writes it.
//!   Binary: for sinks that write records (Kafka), not lines.
//!
//! An encoder may also carry a [`Shape`] (Vector's `only_fields`,
//! `except_fields` and `timestamp_format`), applied to a copy of each log
//! before it is written.
//!
//! [`Value::to_string_lossy`]: logbridge_event::Value::to_string_lossy

mod json;
mod logfmt;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod otlp_json;
mod shape;
mod text;
mod view;
mod write;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use logbridge_event::Event;

pub use shape::{Shape, TimestampFormat};

/// An output format, as written in a config (`codec = "json"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    Json,
    Logfmt,
    Text,
    #[cfg(feature = "otlp")]
    OtlpJson,
    #[cfg(feature = "otlp")]
    Otlp,
}

/// The codec names, for messages.
#[cfg(feature = "otlp")]
const CODECS: &str = "json, logfmt, text, otlp_json, otlp";
#[cfg(not(feature = "otlp"))]
const CODECS: &str = "json, logfmt, text";

impl Codec {
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::Json => "json",
            Codec::Logfmt => "logfmt",
            Codec::Text => "text",
            #[cfg(feature = "otlp")]
            Codec::OtlpJson => "otlp_json",
            #[cfg(feature = "otlp")]
            Codec::Otlp => "otlp",
        }
    }

    /// Whether it writes binary records rather than lines: only sinks
    /// whose output is made of records (Kafka) can take it.
    pub fn is_binary(self) -> bool {
        match self {
            #[cfg(feature = "otlp")]
            Codec::Otlp => true,
            _ => false,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A codec name that is not one of `json`, `logfmt`, `text` (or
/// `otlp_json`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown codec `{0}`, expected one of {CODECS}")]
pub struct UnknownCodec(pub String);

impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Codec, UnknownCodec> {
        match s {
            "json" => Ok(Codec::Json),
            "logfmt" => Ok(Codec::Logfmt),
            "text" => Ok(Codec::Text),
            #[cfg(feature = "otlp")]
            "otlp_json" => Ok(Codec::OtlpJson),
            #[cfg(feature = "otlp")]
            "otlp" => Ok(Codec::Otlp),
            other => Err(UnknownCodec(other.to_owned())),
        }
    }
}

/// Writes events in one [`Codec`], logs shaped by a [`Shape`] if one is
/// set.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoder {
    codec: Codec,
    /// `None` when it would change nothing, so the usual path copies
    /// nothing.
    shape: Option<Arc<Shape>>,
}

impl Encoder {
    pub fn new(codec: Codec) -> Self {
        Encoder { codec, shape: None }
    }

    /// The same codec, writing logs as `shape` says.
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = (!shape.is_identity()).then(|| Arc::new(shape));
        self
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Appends one event and, unless the codec is binary, a trailing `\n`
    /// to `out`.
    pub fn encode(&self, event: &Event, out: &mut Vec<u8>) {
        match (&self.shape, event) {
            (Some(shape), Event::Log(log)) => self.write(&Event::Log(shape.apply(log)), out),
            _ => self.write(event, out),
        }
        if !self.codec.is_binary() {
            out.push(b'\n');
        }
    }

    fn write(&self, event: &Event, out: &mut Vec<u8>) {
        match self.codec {
            Codec::Json => json::encode(event, out),
            Codec::Logfmt => logfmt::encode(event, out),
            Codec::Text => text::encode(event, out),
            #[cfg(feature = "otlp")]
            Codec::OtlpJson => otlp_json::encode(event, out),
            #[cfg(feature = "otlp")]
            Codec::Otlp => otlp::encode(event, out),
        }
    }
}

#[cfg(test)]
mod tests;
