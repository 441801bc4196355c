//! The three OTLP signals and what differs between them on the wire: the
//! HTTP path, the output of the `otlp` source they go to, and their
//! decoders.

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
