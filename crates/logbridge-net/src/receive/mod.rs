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
//! - `admission`: the bound on requests in flight, delivery with
//!   acknowledgement, and counting refusals ([`Receiver`]);
//! - `budget`: the memory a receiver's requests may take, and the
//!   [`Charge`] a decoder pays with before building;
//! - [`census`]: counting what a body will build (lines, JSON, protobuf);
//! - `request`: credentials, bodies within their limits (a decompression bomb
//!   stops at the cap), and refusals as HTTP answers ([`HttpError`]);
//! - `grpc` (feature `grpc`): unary gRPC requests on the same path;
//! - `listener`: options checked at build, binding and serving.
//!
//! Answering only after the sinks (or a disk buffer) hold the data is what
//! makes a push receiver lose nothing: a client that got no success
//! retries. A receiver never queues without bound: past
//! `max_concurrent_requests` it answers "too many requests"
//! ([`Refusal::Overloaded`]: HTTP 429, gRPC `RESOURCE_EXHAUSTED`), and when
//! the pipeline does not take a batch within `max_wait_secs` "unavailable"
//! ([`Refusal::Backpressure`]: HTTP 503, gRPC `UNAVAILABLE`), both with the
//! protocol's own "retry later". What a request may build is bounded before
//! it is built: `max_events_per_request`, and the memory budget
//! `max_memory_bytes` shared by the requests in flight (413 for a request
//! that alone is over either, 429 when the budget has no room in time).

mod admission;
mod budget;
pub mod census;
mod config;
#[cfg(feature = "grpc")]
mod grpc;
mod listener;
mod request;

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use logbridge_component::SourceContext;
use logbridge_event::Event;

pub use admission::{Admission, RETRY_AFTER_SECS, Receiver, Refusal};
pub use budget::{Charge, EVENT_BYTES, NODE_BYTES};
pub use config::ReceiveConfig;
pub use listener::PushListener;
pub use request::{AuthConfig, HttpError, authorized, content_type, decompress};

use budget::Reservation;
use request::{content_encoding, read_raw};

/// What the request handlers of one push receiver share: delivery, the
/// exact `Authorization` value required (if any), and the limits. Cheap
/// to clone (one per request).
#[derive(Clone)]
pub struct PushContext {
    pub receiver: Receiver,
    pub auth: Option<Arc<str>>,
    pub limits: Arc<ReceiveConfig>,
}

/// How a request's body carries its message.
#[derive(Clone, Copy)]
enum Framing {
    /// The whole body, with its `Content-Encoding`.
    Http,
    /// One length-prefixed gRPC message, with its `grpc-encoding`.
    #[cfg(feature = "grpc")]
    Grpc,
}

/// A request taken as far as decoded, holding its admission slot and the
/// memory it was paid for until dropped (after delivery).
pub struct Decoded<T> {
    pub value: T,
    /// The decoded body's size, in bytes.
    pub size: usize,
    _admission: Admission,
    _reservation: Reservation,
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

    /// Takes one request to the pipeline: [`PushContext::decode`], then
    /// [`PushContext::deliver`] to `output` (the default output when
    /// `None`).
    pub async fn push(
        &self,
        headers: &HeaderMap,
        body: Body,
        output: Option<&str>,
        decode: impl FnOnce(Bytes, &mut Charge) -> Result<Vec<Event>, HttpError> + Send + 'static,
    ) -> Result<(), HttpError> {
        let decoded = self.decode(headers, body, decode).await?;
        self.deliver(output, decoded.value, decoded.size).await
    }

    /// Takes one request as far as its decoded form: checks credentials,
    /// takes an admission slot, reads the body within the limits (paying
    /// for it in the memory budget), and on the blocking pool (milliseconds
    /// of CPU for a large body must not stall the runtime's workers)
    /// inflates it, paying as it grows, and hands it to `decode`, which
    /// pays with the [`Charge`] for what it builds before building it.
    /// Every refusal is counted ([`Receiver::refused`]); its answer is 401,
    /// 413, 429 or the decoder's (400 mostly).
    pub async fn decode<T: Send + 'static>(
        &self,
        headers: &HeaderMap,
        body: Body,
        decode: impl FnOnce(Bytes, &mut Charge) -> Result<T, HttpError> + Send + 'static,
    ) -> Result<Decoded<T>, HttpError> {
        self.take(headers, body, Framing::Http, decode)
            .await
            .inspect_err(|e| self.receiver.refused(e))
    }

    /// Sends `events` on (see [`Receiver::deliver`]), counting a refusal.
    pub async fn deliver(
        &self,
        output: Option<&str>,
        events: Vec<Event>,
        size: usize,
    ) -> Result<(), HttpError> {
        self.receiver
            .deliver(output, events, size)
            .await
            .map_err(|refusal| {
                let e = HttpError::from(refusal);
                self.receiver.refused(&e);
                e
            })
    }

    async fn take<T: Send + 'static>(
        &self,
        headers: &HeaderMap,
        body: Body,
        framing: Framing,
        decode: impl FnOnce(Bytes, &mut Charge) -> Result<T, HttpError> + Send + 'static,
    ) -> Result<Decoded<T>, HttpError> {
        if let Some(expected) = self.auth.as_deref()
            && !authorized(headers, expected)
        {
            return Err(HttpError::unauthorized(expected));
        }
        let admission = self.receiver.admit()?;
        let mut reservation = self.receiver.budget.reservation();
        let (max, encoding) = match framing {
            Framing::Http => (self.limits.max_request_bytes, content_encoding(headers)),
            #[cfg(feature = "grpc")]
            Framing::Grpc => grpc::limits(headers, &self.limits),
        };
        let raw = read_raw(headers, body, max, &self.limits, &mut reservation).await?;
        let mut charge = Charge::new(
            reservation,
            tokio::runtime::Handle::current(),
            self.limits.clone(),
        );
        let (result, charge) = tokio::task::spawn_blocking(move || {
            let result = (|| {
                let body = match framing {
                    Framing::Http => charge.inflate(&encoding, raw)?,
                    #[cfg(feature = "grpc")]
                    Framing::Grpc => grpc::unframe(raw, &encoding, &mut charge)?,
                };
                let size = body.len();
                decode(body, &mut charge).map(|value| (value, size))
            })();
            (result, charge)
        })
        .await
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let (value, size) = result?;
        Ok(Decoded {
            value,
            size,
            _admission: admission,
            _reservation: charge.into_reservation(),
        })
    }
}
