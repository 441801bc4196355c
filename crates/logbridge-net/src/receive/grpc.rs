//! Unary gRPC requests taken through the same path as HTTP pushes: one
//! length-prefixed message per request, its `grpc-encoding` undone within
//! `max_decompressed_bytes`, credentials, admission, the memory budget,
//! the receiver's decoder and counters, and the answer as a gRPC status.
//!
//! Why not a tonic server: tonic reads, inflates and decodes a message
//! before the handler runs, outside the receiver's memory budget and
//! counters, and answers a message over its size limit `OUT_OF_RANGE` and
//! one that does not decode `INTERNAL`. Here the framing (five bytes) is
//! read by hand, and tonic's [`Status`] gives the answers their wire form.
//! Statuses follow what OTLP clients act on: `INVALID_ARGUMENT` for a
//! message that does not decode, `RESOURCE_EXHAUSTED` for one over a limit
//! (and, with a retry delay, when the receiver is busy), `UNAVAILABLE` when
//! the pipeline does not take the data, `UNAUTHENTICATED`.

use axum::body::Body;
use axum::response::Response;
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use logbridge_event::Event;
use tonic::{Code, Status};

use super::{Charge, Framing, HttpError, PushContext, RETRY_AFTER_SECS, ReceiveConfig};
use crate::rpc::retry_details;

/// The compression flag and length that open a gRPC message.
const PREFIX: usize = 5;

/// The encodings a message may come in, as `grpc-accept-encoding` says.
const ACCEPTED: &str = "identity,gzip,deflate,zstd";

impl PushContext {
    /// Takes one unary gRPC request (one message) to `output`, decoding
    /// the message with `decode`, and answers with its status: the empty
    /// response message on success.
    pub async fn push_grpc(
        &self,
        headers: &HeaderMap,
        body: Body,
        output: Option<&str>,
        decode: impl FnOnce(Bytes, &mut Charge) -> Result<Vec<Event>, HttpError> + Send + 'static,
    ) -> Response {
        let media = super::content_type(headers);
        if !(media == "application/grpc" || media.starts_with("application/grpc+")) {
            return axum::response::IntoResponse::into_response((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "gRPC requests are application/grpc",
            ));
        }
        let decoded = self
            .take(headers, body, Framing::Grpc, decode)
            .await
            .inspect_err(|e| self.receiver.refused(e));
        let delivered = match decoded {
            Ok(decoded) => self.deliver(output, decoded.value, decoded.size).await,
            Err(e) => Err(e),
        };
        match delivered {
            Ok(()) => ok_response(),
            Err(e) => {
                let mut response = status(&e).into_http::<Body>();
                response
                    .headers_mut()
                    .insert("grpc-accept-encoding", HeaderValue::from_static(ACCEPTED));
                response
            }
        }
    }
}

/// The largest body to read for one message and its `grpc-encoding`.
pub(super) fn limits(headers: &HeaderMap, limits: &ReceiveConfig) -> (usize, String) {
    let encoding = headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    (limits.max_request_bytes.saturating_add(PREFIX), encoding)
}

/// The one message of a unary request, inflated if its flag says so.
pub(super) fn unframe(raw: Bytes, encoding: &str, charge: &mut Charge) -> Result<Bytes, HttpError> {
    let mut prefix = raw.get(..PREFIX).ok_or_else(|| {
        HttpError::bad_request("a gRPC request carries one length-prefixed message")
    })?;
    let compressed = prefix.get_u8();
    let len = prefix.get_u32() as usize;
    if len != raw.len() - PREFIX {
        return Err(HttpError::bad_request(format!(
            "the message prefix says {len} bytes, the request holds {}",
            raw.len() - PREFIX
        )));
    }
    let message = raw.slice(PREFIX..);
    match (compressed, encoding) {
        (0, _) => Ok(message),
        (1, "identity") => Err(HttpError::bad_request(
            "a compressed message without grpc-encoding",
        )),
        (1, encoding) => charge.inflate(encoding, message),
        (flag, _) => Err(HttpError::bad_request(format!(
            "invalid compression flag {flag}"
        ))),
    }
}

/// The gRPC status of a refused request.
fn status(e: &HttpError) -> Status {
    let message = e.message.clone();
    match e.status {
        StatusCode::TOO_MANY_REQUESTS => {
            // With RetryInfo: OTLP clients retry RESOURCE_EXHAUSTED only
            // when the server says when.
            let delay = std::time::Duration::from_secs(RETRY_AFTER_SECS);
            let details = retry_details(Code::ResourceExhausted as i32, &message, delay);
            Status::with_details(Code::ResourceExhausted, message, details)
        }
        StatusCode::PAYLOAD_TOO_LARGE => Status::resource_exhausted(message),
        StatusCode::UNAUTHORIZED => Status::unauthenticated(message),
        StatusCode::BAD_REQUEST => Status::invalid_argument(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Status::unimplemented(message),
        StatusCode::REQUEST_TIMEOUT => Status::deadline_exceeded(message),
        StatusCode::INTERNAL_SERVER_ERROR => Status::internal(message),
        _ => Status::unavailable(message),
    }
}

/// `200 OK` with the empty response message and `grpc-status: 0`: every
/// OTLP export response is empty when nothing was partly refused.
fn ok_response() -> Response {
    let body = http_body_util::Full::new(Bytes::from_static(&[0; PREFIX])).with_trailers(async {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        Some(Ok(trailers))
    });
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-accept-encoding", HeaderValue::from_static(ACCEPTED));
    response
}
