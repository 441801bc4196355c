//! What the HTTP endpoints of the span sources (`jaeger`, `zipkin`) share:
//! a pushed body paid for (see `logbridge_net::receive::Charge`), decoded
//! into spans and taken to the pipeline, answered `202 Accepted` once the
//! sinks hold it, 400 when it does not decode.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_event::{Event, Span};
use logbridge_net::receive::{Charge, HttpError, PushContext};

/// A span decoder of `logbridge-trace-formats`.
pub(crate) type DecodeSpans = fn(&Bytes) -> Result<Vec<Span>, logbridge_trace_formats::Error>;

/// Pays for what a body will build before it is built.
pub(crate) type PaySpans = fn(&Bytes, &mut Charge) -> Result<(), HttpError>;

pub(crate) async fn push_spans(
    push: &PushContext,
    headers: &HeaderMap,
    body: Body,
    pay: PaySpans,
    decode: DecodeSpans,
) -> Response {
    let result = push
        .push(headers, body, None, move |body, charge| {
            pay(&body, charge)?;
            decode(&body)
                .map(span_events)
                .map_err(|e| HttpError::bad_request(e.to_string()))
        })
        .await;
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(e) => e.into_response(),
    }
}

/// Spans as events.
pub(crate) fn span_events(spans: Vec<Span>) -> Vec<Event> {
    spans
        .into_iter()
        .map(|s| Event::Span(Box::new(s)))
        .collect()
}
