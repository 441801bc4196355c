//! Turning a Kafka record into log events: the payload by the configured
//! codec, and the record's topic, partition, offset, key, timestamp and
//! headers as `%kafka.*` metadata.

use bytes::Bytes;
use logbridge_codec::decode::{Parser, ParserConfig};
use logbridge_event::{KeyString, LogRecord, ObjectMap, Value};
use serde::Deserialize;

/// `decoding.codec`: how a record's payload becomes an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecodingCodec {
    /// The payload is the message, as is (`bytes` is accepted too, Vector's
    /// name).
    #[default]
    #[serde(alias = "bytes")]
    Text,
    /// A JSON object; its fields become the event's fields.
    Json,
    /// `key=value` pairs.
    Logfmt,
    /// An OTLP `ExportLogsServiceRequest` (protobuf); one event per log
    /// record, with its resource and scope.
    Otlp,
}

/// `decoding`: how record payloads are decoded.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodingConfig {
    /// `text` (the default), `json`, `logfmt` or `otlp`.
    #[serde(default)]
    pub codec: DecodingCodec,
}

/// A configured payload decoder.
pub(crate) enum PayloadDecoder {
    Text,
    Parsed(Parser),
    Otlp,
}

impl PayloadDecoder {
    pub(crate) fn new(codec: DecodingCodec) -> PayloadDecoder {
        let parsed = |config: ParserConfig| match Parser::new(&config) {
            Ok(parser) => PayloadDecoder::Parsed(parser),
            // json and logfmt take no options that could be wrong.
            Err(_) => PayloadDecoder::Text,
        };
        match codec {
            DecodingCodec::Text => PayloadDecoder::Text,
            DecodingCodec::Json => parsed(ParserConfig::Json),
            DecodingCodec::Logfmt => parsed(ParserConfig::Logfmt),
            DecodingCodec::Otlp => PayloadDecoder::Otlp,
        }
    }

    /// Appends the events of one payload to `out`; the reason on failure.
    pub(crate) fn decode(
        &self,
        payload: &[u8],
        now: i64,
        out: &mut Vec<LogRecord>,
    ) -> Result<(), String> {
        match self {
            PayloadDecoder::Text => {
                out.push(LogRecord::from_line(Bytes::copy_from_slice(payload), now));
            }
            PayloadDecoder::Parsed(parser) => {
                let fields = parser
                    .parse_bytes(&Bytes::copy_from_slice(payload), now)
                    .map_err(|e| e.to_string())?;
                out.push(LogRecord::from_fields(fields, now));
            }
            PayloadDecoder::Otlp => {
                let records = logbridge_otlp::decode_logs(payload).map_err(|e| e.to_string())?;
                out.extend(records.into_iter().map(|mut r| {
                    if r.observed_time_unix_nano == 0 {
                        r.observed_time_unix_nano = now;
                    }
                    r
                }));
            }
        }
        Ok(())
    }
}

/// Where a record came from, as kept in `%kafka`.
pub(crate) struct RecordMeta<'a> {
    /// Shared by every record of the topic.
    pub topic: &'a Bytes,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub timestamp_millis: Option<i64>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl RecordMeta<'_> {
    /// Sets `%kafka.*` on `log`, and the event time from the record's
    /// timestamp unless the payload set one.
    pub(crate) fn apply(&self, log: &mut LogRecord) {
        let mut kafka = ObjectMap::new();
        kafka.reserve(6);
        kafka.insert(
            KeyString::const_new("topic"),
            Value::Bytes(self.topic.clone()),
        );
        kafka.insert(
            KeyString::const_new("partition"),
            Value::Integer(self.partition.into()),
        );
        kafka.insert(KeyString::const_new("offset"), Value::Integer(self.offset));
        kafka.insert(
            KeyString::const_new("key"),
            self.key
                .map_or(Value::Null, |k| Value::Bytes(Bytes::copy_from_slice(k))),
        );
        let timestamp = self
            .timestamp_millis
            .and_then(|ms| ms.checked_mul(1_000_000));
        if let Some(ns) = timestamp {
            kafka.insert(KeyString::const_new("timestamp"), Value::Timestamp(ns));
            if log.time_unix_nano == 0 {
                log.time_unix_nano = ns;
            }
        }
        if !self.headers.is_empty() {
            let headers = self
                .headers
                .iter()
                .map(|(name, value)| {
                    let value =
                        value.map_or(Value::Null, |v| Value::Bytes(Bytes::copy_from_slice(v)));
                    (KeyString::from(*name), value)
                })
                .collect();
            kafka.insert(
                KeyString::const_new("headers"),
                Value::Object(ObjectMap::from_entries(headers)),
            );
        }
        log.metadata
            .insert(KeyString::const_new("kafka"), Value::Object(kafka));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_event_time_come_from_the_record() {
        let topic = Bytes::from_static(b"logs");
        let meta = RecordMeta {
            topic: &topic,
            partition: 2,
            offset: 41,
            key: Some(b"k1"),
            timestamp_millis: Some(1_700_000_000_123),
            headers: vec![("trace", Some(b"abc".as_slice())), ("empty", None)],
        };
        let mut out = Vec::new();
        PayloadDecoder::new(DecodingCodec::Json)
            .decode(br#"{"message":"hi","level":"info"}"#, 5, &mut out)
            .unwrap();
        let mut log = out.pop().unwrap();
        meta.apply(&mut log);
        assert_eq!(log.body.as_str(), Some("hi"));
        assert_eq!(log.attributes["level"].as_str(), Some("info"));
        assert_eq!(log.time_unix_nano, 1_700_000_000_123_000_000);
        assert_eq!(
            log.kafka_position(),
            Some(logbridge_event::KafkaPosition {
                topic: b"logs",
                partition: 2,
                offset: 41
            })
        );
        let path = |s: &str| logbridge_event::Path::parse(s).unwrap();
        assert_eq!(log.get(&path("%kafka.key")).unwrap().as_str(), Some("k1"));
        assert_eq!(
            log.get(&path("%kafka.headers.trace")).unwrap().as_str(),
            Some("abc")
        );
        assert!(log.get(&path("%kafka.headers.empty")).unwrap().is_null());
    }

    #[test]
    fn undecodable_payloads_are_errors_not_panics() {
        let mut out = Vec::new();
        for codec in [DecodingCodec::Json, DecodingCodec::Otlp] {
            assert!(
                PayloadDecoder::new(codec)
                    .decode(b"\xff{not", 0, &mut out)
                    .is_err()
            );
        }
        assert!(out.is_empty());
        PayloadDecoder::new(DecodingCodec::Text)
            .decode(b"", 0, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
    }
}
