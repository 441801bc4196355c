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
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use http::HeaderMap;

use logbridge_net::receive::PushContext;
use logbridge_otlp::Signal;

pub(super) fn router(shared: PushContext) -> Router {
    Router::new()
        .route(
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            post(logs),
        )
        .route(
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            post(metrics),
        )
        .route(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            post(traces),
        )
        .fallback(unimplemented)
        .with_state(shared)
}

/// Any other method.
async fn unimplemented() -> Response {
    tonic::Status::unimplemented("no such method").into_http()
}

async fn logs(State(s): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    export(s, Signal::Logs, headers, body).await
}

async fn metrics(State(s): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    export(s, Signal::Metrics, headers, body).await
}

async fn traces(State(s): State<PushContext>, headers: HeaderMap, body: Body) -> Response {
    export(s, Signal::Traces, headers, body).await
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
