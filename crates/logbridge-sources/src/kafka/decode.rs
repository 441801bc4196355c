//! Turning Kafka records into events: the payload by the configured codec
//! (logs, or with `otlp` any OpenTelemetry signal), and for logs the
//! record's topic, partition, offset, key, timestamp and headers as
//! `%kafka.*` metadata.
//!
//! The consumer thread copies a partition's records out of librdkafka into
//! one [`RawBatch`] (payloads and keys in one buffer, so decoded strings
//! are slices of it, not copies); decoding happens elsewhere, in parallel.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use logbridge_codec::decode::{Parser, ParserConfig};
use logbridge_component::dropped::mark_dropped;
use logbridge_event::{DataKind, Event};
use logbridge_event::{KeyString, LogRecord, ObjectMap, Value};
use logbridge_otlp::Signal;
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
    /// An OTLP export request in protobuf (as the `kafka` sink's `otlp`
    /// codec and the collector's `otlp_proto` write it): one event per log
    /// record, data point or span, with its resource and scope. Which
    /// signals are tried, in order, is `signal_types`.
    Otlp,
}

/// An OpenTelemetry signal, for `decoding.signal_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OtlpSignal {
    Logs,
    Metrics,
    Traces,
}

impl OtlpSignal {
    fn kind(self) -> DataKind {
        match self {
            OtlpSignal::Logs => DataKind::LOG,
            OtlpSignal::Metrics => DataKind::METRIC,
            OtlpSignal::Traces => DataKind::SPAN,
        }
    }

    fn signal(self) -> Signal {
        match self {
            OtlpSignal::Logs => Signal::Logs,
            OtlpSignal::Metrics => Signal::Metrics,
            OtlpSignal::Traces => Signal::Traces,
        }
    }
}

/// Vector's order: logs, metrics, traces.
const ALL_SIGNALS: [OtlpSignal; 3] = [OtlpSignal::Logs, OtlpSignal::Metrics, OtlpSignal::Traces];

/// `decoding`: how record payloads are decoded.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecodingConfig {
    /// `text` (the default), `json`, `logfmt` or `otlp`.
    #[serde(default)]
    pub codec: DecodingCodec,
    /// For `otlp`: the signals a payload may hold, tried in this order
    /// (`logs`, `metrics`, `traces`, all three by default, as in Vector).
    /// The source sends only these kinds: `["traces"]` in front of
    /// `tail_sample`.
    #[serde(default)]
    pub signal_types: Option<Vec<OtlpSignal>>,
}

impl DecodingConfig {
    /// The signals to try, checked against the codec.
    pub(crate) fn signals(&self) -> Result<Vec<OtlpSignal>, String> {
        match (&self.signal_types, self.codec) {
            (None, _) => Ok(ALL_SIGNALS.to_vec()),
            (Some(_), codec) if codec != DecodingCodec::Otlp => {
                Err("`signal_types` applies to `codec = \"otlp\"` only".to_owned())
            }
            (Some(list), _) if list.is_empty() => Err("`signal_types` is empty".to_owned()),
            (Some(list), _) => {
                let mut unique = Vec::new();
                for signal in list {
                    if !unique.contains(signal) {
                        unique.push(*signal);
                    }
                }
                Ok(unique)
            }
        }
    }

    /// The kinds of events the source sends.
    pub(crate) fn kinds(&self) -> DataKind {
        match self.codec {
            DecodingCodec::Otlp => self
                .signals()
                .unwrap_or_default()
                .iter()
                .fold(DataKind::NONE, |k, s| k.union(s.kind())),
            _ => DataKind::LOG,
        }
    }
}

/// A configured payload decoder.
pub(crate) enum PayloadDecoder {
    Text,
    Parsed(Parser),
    /// The signals to try, in order (converted once, not per record).
    Otlp(Vec<Signal>),
}

impl PayloadDecoder {
    pub(crate) fn new(codec: DecodingCodec, signals: Vec<OtlpSignal>) -> PayloadDecoder {
        let parsed = |config: ParserConfig| match Parser::new(&config) {
            Ok(parser) => PayloadDecoder::Parsed(parser),
            // json and logfmt take no options that could be wrong.
            Err(_) => PayloadDecoder::Text,
        };
        match codec {
            DecodingCodec::Text => PayloadDecoder::Text,
            DecodingCodec::Json => parsed(ParserConfig::Json),
            DecodingCodec::Logfmt => parsed(ParserConfig::Logfmt),
            DecodingCodec::Otlp => {
                PayloadDecoder::Otlp(signals.into_iter().map(OtlpSignal::signal).collect())
            }
        }
    }

    /// Appends the events of one payload to `out`; the reason on failure.
    pub(crate) fn decode(
        &self,
        payload: &Bytes,
        now: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), String> {
        match self {
            PayloadDecoder::Text => {
                out.push(Event::Log(LogRecord::from_line(payload.clone(), now)));
            }
            PayloadDecoder::Parsed(parser) => {
                let fields = parser
                    .parse_bytes(payload, now)
                    .map_err(|e| e.to_string())?;
                out.push(Event::Log(LogRecord::from_fields(fields, now)));
            }
            PayloadDecoder::Otlp(signals) => decode_otlp(signals, payload, now, out)?,
        }
        Ok(())
    }
}

/// The events of an OTLP request of one of `signals`; a log without an
/// observed time gets the time it was read.
fn decode_otlp(
    signals: &[Signal],
    payload: &[u8],
    now: i64,
    out: &mut Vec<Event>,
) -> Result<(), String> {
    for mut event in logbridge_otlp::decode_any(payload, signals)? {
        if let Event::Log(log) = &mut event
            && log.observed_time_unix_nano == 0
        {
            log.observed_time_unix_nano = now;
        }
        out.push(event);
    }
    Ok(())
}

/// One record of a [`RawBatch`]: where its bytes are in the batch's
/// buffer, and its metadata.
pub(crate) struct RawRecord {
    pub offset: i64,
    pub payload: Range<usize>,
    pub key: Option<Range<usize>>,
    pub timestamp_millis: Option<i64>,
    /// Rare enough to own.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// Records of one partition, copied out of librdkafka.
pub(crate) struct RawBatch {
    /// Shared by the `%kafka.topic` of every record.
    pub topic: Bytes,
    pub partition: i32,
    pub data: Bytes,
    pub records: Vec<RawRecord>,
}

/// Builds a [`RawBatch`].
pub(crate) struct RawBatchBuilder {
    data: BytesMut,
    records: Vec<RawRecord>,
}

impl RawBatchBuilder {
    pub(crate) fn new() -> RawBatchBuilder {
        RawBatchBuilder {
            data: BytesMut::new(),
            records: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        offset: i64,
        payload: &[u8],
        key: Option<&[u8]>,
        timestamp_millis: Option<i64>,
        headers: Vec<(String, Option<Bytes>)>,
    ) {
        let mut copy = |bytes: &[u8]| {
            let start = self.data.len();
            self.data.extend_from_slice(bytes);
            start..self.data.len()
        };
        let payload = copy(payload);
        let key = key.map(copy);
        self.records.push(RawRecord {
            offset,
            payload,
            key,
            timestamp_millis,
            headers,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn last_offset(&self) -> Option<i64> {
        self.records.last().map(|r| r.offset)
    }

    pub(crate) fn build(self, topic: Bytes, partition: i32) -> RawBatch {
        RawBatch {
            topic,
            partition,
            data: self.data.freeze(),
            records: self.records,
        }
    }
}

/// A batch's events: those decoded, and those that failed to (marked for
/// the `dropped` output).
pub(crate) struct Decoded {
    pub events: Vec<Event>,
    pub dropped: Vec<Event>,
    pub bytes: usize,
}

/// Decodes every record of a batch.
pub(crate) fn decode_batch(
    decoder: &PayloadDecoder,
    batch: &RawBatch,
    now: i64,
    component_id: &str,
) -> Decoded {
    let mut decoded = Decoded {
        events: Vec::with_capacity(batch.records.len()),
        dropped: Vec::new(),
        bytes: batch.data.len(),
    };
    let mut events = Vec::new();
    for record in &batch.records {
        let payload = batch.data.slice(record.payload.clone());
        let meta = RecordMeta {
            topic: &batch.topic,
            partition: batch.partition,
            offset: record.offset,
            key: record.key.clone().map(|k| batch.data.slice(k)),
            timestamp_millis: record.timestamp_millis,
            headers: &record.headers,
        };
        events.clear();
        match decoder.decode(&payload, now, &mut events) {
            Ok(()) => {
                for mut event in events.drain(..) {
                    // Metrics and spans have no metadata to carry `%kafka`.
                    if let Event::Log(log) = &mut event {
                        meta.apply(log);
                    }
                    decoded.events.push(event);
                }
            }
            Err(reason) => {
                let mut log = LogRecord::from_line(payload, now);
                meta.apply(&mut log);
                let mut event = Event::Log(log);
                mark_dropped(&mut event, "decode_failed", &reason, component_id);
                decoded.dropped.push(event);
            }
        }
    }
    decoded
}

/// Where a record came from, as kept in `%kafka`.
pub(crate) struct RecordMeta<'a> {
    /// Shared by every record of the topic.
    pub topic: &'a Bytes,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Bytes>,
    pub timestamp_millis: Option<i64>,
    pub headers: &'a [(String, Option<Bytes>)],
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
            self.key.clone().map_or(Value::Null, Value::Bytes),
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
                    let value = value.clone().map_or(Value::Null, Value::Bytes);
                    (KeyString::from(name.as_str()), value)
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
        let mut builder = RawBatchBuilder::new();
        builder.push(
            41,
            br#"{"message":"hi","level":"info"}"#,
            Some(b"k1"),
            Some(1_700_000_000_123),
            vec![
                ("trace".into(), Some(Bytes::from_static(b"abc"))),
                ("empty".into(), None),
            ],
        );
        builder.push(42, b"{not json", None, None, vec![]);
        let batch = builder.build(Bytes::from_static(b"logs"), 2);
        let decoder = PayloadDecoder::new(DecodingCodec::Json, Vec::new());
        let mut decoded = decode_batch(&decoder, &batch, 5, "in");
        assert_eq!(decoded.dropped.len(), 1);
        let Some(Event::Log(log)) = decoded.events.pop() else {
            panic!("one log")
        };
        assert_eq!(log.body.as_str(), Some("hi"));
        assert_eq!(log.attributes["level"].as_str(), Some("info"));
        assert_eq!(log.time_unix_nano, 1_700_000_000_123_000_000);
        assert_eq!(
            log.kafka_position(),
            Some(logbridge_event::KafkaPosition {
                topic: &Bytes::from_static(b"logs"),
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
    fn an_otlp_payload_becomes_one_event_per_log_record() {
        let records: Vec<LogRecord> = (0..3)
            .map(|i| LogRecord {
                time_unix_nano: 1_000 + i,
                body: Value::from(format!("r{i}")),
                ..LogRecord::default()
            })
            .collect();
        let payload = logbridge_otlp::encode_logs(&records);
        let mut builder = RawBatchBuilder::new();
        builder.push(7, &payload, None, Some(5), vec![]);
        let batch = builder.build(Bytes::from_static(b"otlp"), 0);
        let decoded = decode_batch(
            &PayloadDecoder::new(DecodingCodec::Otlp, ALL_SIGNALS.to_vec()),
            &batch,
            9,
            "in",
        );
        assert!(decoded.dropped.is_empty());
        assert_eq!(decoded.events.len(), 3);
        for (i, event) in decoded.events.iter().enumerate() {
            let Event::Log(log) = event else {
                panic!("a log")
            };
            assert_eq!(log.body.as_str(), Some(format!("r{i}").as_str()));
            // The record's own time wins over the Kafka timestamp.
            assert_eq!(log.time_unix_nano, 1_000 + i as i64);
            assert_eq!(log.observed_time_unix_nano, 9);
            assert_eq!(log.kafka_position().map(|p| p.offset), Some(7));
        }
    }

    #[test]
    fn otlp_records_of_any_signal_become_their_events() {
        let span = logbridge_event::Span {
            trace_id: logbridge_event::TraceId([9; 16]),
            name: "op".into(),
            ..Default::default()
        };
        let mut builder = RawBatchBuilder::new();
        builder.push(
            3,
            &logbridge_otlp::encode_traces(std::slice::from_ref(&span)),
            None,
            None,
            vec![],
        );
        builder.push(
            4,
            &logbridge_otlp::encode_logs(&[LogRecord::from_line(Bytes::from_static(b"x"), 1)]),
            None,
            None,
            vec![],
        );
        let batch = builder.build(Bytes::from_static(b"spans"), 0);
        let all = decode_batch(
            &PayloadDecoder::new(DecodingCodec::Otlp, ALL_SIGNALS.to_vec()),
            &batch,
            9,
            "in",
        );
        assert_eq!(all.events.len(), 2);
        assert_eq!(all.events[0], Event::Span(Box::new(span)));
        assert!(matches!(all.events[1], Event::Log(_)));
        // Traces only: the log record is not one, and goes to `dropped`.
        let traces = decode_batch(
            &PayloadDecoder::new(DecodingCodec::Otlp, vec![OtlpSignal::Traces]),
            &batch,
            9,
            "in",
        );
        assert_eq!(traces.events.len(), 1);
        assert_eq!(traces.dropped.len(), 1);
    }

    #[test]
    fn signal_types_choose_what_the_source_sends() {
        let config =
            |json: serde_json::Value| serde_json::from_value::<DecodingConfig>(json).unwrap();
        let otlp = config(serde_json::json!({"codec": "otlp"}));
        assert_eq!(otlp.kinds(), DataKind::ALL);
        let traces =
            config(serde_json::json!({"codec": "otlp", "signal_types": ["traces", "traces"]}));
        assert_eq!(traces.kinds(), DataKind::SPAN);
        assert_eq!(traces.signals().unwrap(), vec![OtlpSignal::Traces]);
        assert_eq!(
            config(serde_json::json!({"codec": "json"})).kinds(),
            DataKind::LOG
        );
        assert!(
            config(serde_json::json!({"codec": "json", "signal_types": ["logs"]}))
                .signals()
                .is_err()
        );
        assert!(
            config(serde_json::json!({"codec": "otlp", "signal_types": []}))
                .signals()
                .is_err()
        );
    }

    proptest::proptest! {
        /// Any payload decodes to events or fails with a reason; never a
        /// panic.
        #[test]
        fn any_otlp_payload_decodes_or_fails_cleanly(payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let decoder = PayloadDecoder::new(DecodingCodec::Otlp, ALL_SIGNALS.to_vec());
            let mut out = Vec::new();
            if let Err(reason) = decoder.decode(&Bytes::from(payload), 0, &mut out) {
                proptest::prop_assert!(reason.starts_with("not an OTLP export request"));
            }
        }
    }

    #[test]
    fn undecodable_payloads_are_errors_not_panics() {
        let mut out = Vec::new();
        for codec in [DecodingCodec::Json, DecodingCodec::Otlp] {
            assert!(
                PayloadDecoder::new(codec, ALL_SIGNALS.to_vec())
                    .decode(&Bytes::from_static(b"\xff{not"), 0, &mut out)
                    .is_err()
            );
        }
        assert!(out.is_empty());
        PayloadDecoder::new(DecodingCodec::Text, Vec::new())
            .decode(&Bytes::new(), 0, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
    }
}
