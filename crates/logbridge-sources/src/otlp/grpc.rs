//! OTLP/gRPC: the `Export` methods of the three collector services
//! (`LogsService`, `MetricsService`, `TraceService`), unary, served as
//! routes of an axum router through the receiver's gRPC path (credentials,
//! admission, limits, memory budget, counters: see
//! `logbridge_net::receive`), with the same decoding as OTLP/HTTP.
//!
//! Failures map to the codes OTLP clients act on: `RESOURCE_EXHAUSTED`
//! for a message over the size, event or memory limits, and (with a retry
//! delay) when too many requests are in flight; `UNAVAILABLE` when the
//! pipeline does not take the data or a sink failed (both retried by
//! clients); `INVALID_ARGUMENT` for a message that does not decode or data
//! a sink refused for good; `UNAUTHENTICATED` for missing credentials.
//! gzip (and deflate, zstd) compressed messages are accepted; the message
//! is capped at `receive.max_request_bytes` as sent and at
//! `receive.max_decompressed_bytes` once inflated.

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::HeaderMap;

use logbridge_net::receive::PushContext;
use logbridge_otlp::Signal;

pub(super) fn router(shared: PushContext) -> Router {
    super::signal_routes(shared, path, export).fallback(unimplemented)
}

/// The path of a signal's `Export` method.
fn path(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    }
}

/// Any other method.
async fn unimplemented() -> Response {
    tonic::Status::unimplemented("no such method").into_http()
}

async fn export(shared: PushContext, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    shared
        .push_grpc(
            &headers,
            body,
            Some(signal.output()),
            move |body, charge| super::decode::decode(signal, &body, false, charge),
        )
        .await
}
