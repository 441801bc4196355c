//! The three OTLP signals and what differs between them on the wire: the
//! HTTP path, the output of the `otlp` source they go to, and their
//! decoders; and decoding a protobuf request whose signal is not known in
//! advance ([`decode_any`]), as a Kafka record can hold any of the three.

use logbridge_event::Event;

use crate::{
    decode_logs, decode_logs_json, decode_metrics, decode_metrics_json, decode_traces,
    decode_traces_json,
};

/// Logs, metrics or traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Metrics,
    Traces,
}

impl Signal {
    /// The named output of the source this signal goes to.
    pub fn output(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// The OTLP/HTTP path, relative to the endpoint.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
        }
    }

    /// Decodes an OTLP/HTTP body (protobuf, or JSON when `json`).
    pub fn decode(self, body: &[u8], json: bool) -> Result<Vec<Event>, String> {
        fn logs(v: Vec<logbridge_event::LogRecord>) -> Vec<Event> {
            v.into_iter().map(Event::Log).collect()
        }
        fn metrics(v: Vec<logbridge_event::Metric>) -> Vec<Event> {
            v.into_iter().map(Event::Metric).collect()
        }
        fn spans(v: Vec<logbridge_event::Span>) -> Vec<Event> {
            v.into_iter().map(|s| Event::Span(Box::new(s))).collect()
        }
        match (self, json) {
            (Signal::Logs, false) => decode_logs(body).map(logs).map_err(|x| x.to_string()),
            (Signal::Logs, true) => decode_logs_json(body).map(logs).map_err(|x| x.to_string()),
            (Signal::Metrics, false) => {
                decode_metrics(body).map(metrics).map_err(|x| x.to_string())
            }
            (Signal::Metrics, true) => decode_metrics_json(body)
                .map(metrics)
                .map_err(|x| x.to_string()),
            (Signal::Traces, false) => decode_traces(body).map(spans).map_err(|x| x.to_string()),
            (Signal::Traces, true) => decode_traces_json(body)
                .map(spans)
                .map_err(|x| x.to_string()),
        }
    }
}

/// The events of a protobuf export request of one of `signals`, tried in
/// order; the first that decodes with records wins.
///
/// The three requests differ in the wire type of their records' first
/// field (a log's time is fixed64, a metric's name and a span's trace id
/// length-delimited, and a metric's data sits where a log has nothing), so
/// a request with records of one signal fails to decode as another's. A
/// request that decodes with no records holds nothing, and is no error.
pub fn decode_any(payload: &[u8], signals: &[Signal]) -> Result<Vec<Event>, String> {
    let mut empty = false;
    let mut errors = Vec::new();
    for signal in signals {
        match signal.decode(payload, false) {
            Ok(events) if !events.is_empty() => return Ok(events),
            Ok(_) => empty = true,
            Err(e) => errors.push(e),
        }
    }
    if empty {
        return Ok(Vec::new());
    }
    Err(format!("not an OTLP export request: {}", errors.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{LogRecord, Metric, Span, TraceId};

    const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

    #[test]
    fn each_signal_decodes_as_itself_whatever_the_order() {
        let log = LogRecord {
            time_unix_nano: 5,
            body: "hi".into(),
            ..Default::default()
        };
        let span = Span {
            trace_id: TraceId([1; 16]),
            name: "op".into(),
            ..Default::default()
        };
        let metric = Metric::gauge("g", 1.5, 7);
        let payloads = [
            crate::encode_logs(std::slice::from_ref(&log)),
            crate::encode_metrics(std::slice::from_ref(&metric)),
            crate::encode_traces(std::slice::from_ref(&span)),
        ];
        for order in [ALL, [Signal::Traces, Signal::Metrics, Signal::Logs]] {
            let got: Vec<Vec<Event>> = payloads
                .iter()
                .map(|p| decode_any(p, &order).unwrap())
                .collect();
            assert_eq!(got[0], vec![Event::Log(log.clone())]);
            assert_eq!(got[1], vec![Event::Metric(metric.clone())]);
            assert_eq!(got[2], vec![Event::Span(Box::new(span.clone()))]);
        }
        // Only the signals asked for.
        let err = decode_any(&payloads[0], &[Signal::Traces]).unwrap_err();
        assert!(err.starts_with("not an OTLP export request: "), "{err}");
        assert_eq!(decode_any(&[], &ALL).unwrap(), Vec::<Event>::new());
    }
}
