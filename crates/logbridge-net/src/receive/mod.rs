//! What every push receiver (OTLP, Loki, HTTP, remote write, ...) does
//! between a request arriving and its answer: credentials, admission under
//! a bound on requests in flight, the body read within its limits and
//! decoded off the runtime's workers, the events handed to the pipeline,
//! and the sinks' acknowledgement awaited before answering success.
//! [`PushContext::push`] is that whole path for one request, so a receiver
//! is its options ([`ReceiveConfig`], [`AuthConfig`], TLS), its routes and
//! its decoder; [`PushListener`] serves those routes.
//!
//! - `config`: the `receive.*` options;
//! - `admission`: the bound on requests in flight and delivery with
//!   acknowledgement ([`Receiver`]);
//! - `request`: credentials, bodies within their limits (a decompression bomb
//!   stops at the cap), and refusals as HTTP answers ([`HttpError`]);
//! - `listener`: options checked at build, binding and serving.
//!
//! Answering only after the sinks (or a disk buffer) hold the data is what
//! makes a push receiver lose nothing: a client that got no success
//! retries. A receiver never queues without bound: past
//! `max_concurrent_requests` it answers "too many requests"
//! ([`Refusal::Overloaded`]: HTTP 429, gRPC `RESOURCE_EXHAUSTED`), and when
//! the pipeline does not take a batch within `max_wait_secs` "unavailable"
//! ([`Refusal::Backpressure`]: HTTP 503, gRPC `UNAVAILABLE`), both with the
//! protocol's own "retry later".

mod admission;
mod config;
mod listener;
mod request;

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_component::SourceContext;
use logbridge_event::Event;

pub use admission::{Admission, RETRY_AFTER_SECS, Receiver, Refusal};
pub use config::ReceiveConfig;
pub use listener::PushListener;
pub use request::{AuthConfig, HttpError, authorized, content_type, decompress, read_body};

/// What the request handlers of one push receiver share: delivery, the
/// exact `Authorization` value required (if any), and the limits. Cheap
/// to clone (one per request).
#[derive(Clone)]
pub struct PushContext {
    pub receiver: Receiver,
    pub auth: Option<Arc<str>>,
    pub limits: Arc<ReceiveConfig>,
}

impl PushContext {
    pub fn new(
        cx: &SourceContext,
        auth: Option<&AuthConfig>,
        receive: &ReceiveConfig,
    ) -> PushContext {
        PushContext {
            receiver: Receiver::new(cx.out.clone(), cx.metrics.clone(), receive),
            auth: auth.map(|a| Arc::from(a.expected_header())),
            limits: Arc::new(receive.clone()),
        }
    }

    /// Takes one request to the pipeline: checks credentials, takes an
    /// admission slot, reads the body within the limits, decodes it on the
    /// blocking pool (milliseconds of CPU for a large body must not stall
    /// the runtime's workers), and delivers the events to `output` (the
    /// default output when `None`), waiting for the sinks. A body that is
    /// too large, does not inflate or does not decode is counted as an
    /// error; its answer is 413 or the decoder's (400 mostly).
    pub async fn push(
        &self,
        headers: &HeaderMap,
        body: Body,
        output: Option<&str>,
        decode: impl FnOnce(Bytes) -> Result<Vec<Event>, HttpError> + Send + 'static,
    ) -> Result<(), HttpError> {
        let receiver = &self.receiver;
        if let Some(expected) = self.auth.as_deref()
            && !authorized(headers, expected)
        {
            receiver.metrics().add_error();
            return Err(HttpError::unauthorized(expected));
        }
        let _admission = receiver.admit()?;
        let body = read_body(headers, body, &self.limits)
            .await
            .inspect_err(|_| receiver.metrics().add_error())?;
        let size = body.len();
        let events = tokio::task::spawn_blocking(move || decode(body))
            .await
            .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .inspect_err(|_| receiver.metrics().add_error())?;
        receiver.deliver(output, events, size).await?;
        Ok(())
    }
}
