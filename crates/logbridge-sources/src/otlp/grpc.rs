//! OTLP/gRPC: the three collector services (`LogsService`,
//! `MetricsService`, `TraceService`) served as routes of an axum router,
//! behind the receiver's credentials check.
//!
//! Failures map to the codes OTLP clients act on: `RESOURCE_EXHAUSTED`
//! when too many requests are in flight or the pipeline does not take the
//! data, `UNAVAILABLE` when a sink failed (both retried by clients),
//! `INVALID_ARGUMENT` for data a sink refused for good, `UNAUTHENTICATED`
//! for missing credentials. gzip-compressed requests are accepted; the
//! decompressed message is capped at `receive.max_decompressed_bytes`.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use logbridge_event::Event;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Status, service::Routes};

use logbridge_net::receive::{PushContext, RETRY_AFTER_SECS, Refusal, authorized};
use logbridge_net::rpc::retry_details;

use logbridge_otlp::Signal;

pub(super) fn router(shared: PushContext) -> Router {
    let max = shared.limits.max_decompressed_bytes;
    let logs = LogsServiceServer::new(Service(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let metrics = MetricsServiceServer::new(Service(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    let traces = TraceServiceServer::new(Service(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max);
    Routes::new(logs)
        .add_service(metrics)
        .add_service(traces)
        .into_axum_router()
        .layer(middleware::from_fn_with_state(shared, admit))
}

/// Refuses requests without the configured credentials, and admits the
/// others under the bound on requests in flight, before tonic reads and
/// decodes them (so an overloaded receiver does not decode first).
async fn admit(State(shared): State<PushContext>, request: Request, next: Next) -> Response {
    if let Some(expected) = &shared.auth
        && !authorized(request.headers(), expected)
    {
        shared.receiver.metrics().add_error();
        return Status::unauthenticated("missing or wrong credentials").into_http();
    }
    let _admission = match shared.receiver.admit() {
        Ok(a) => a,
        Err(refusal) => return to_status(refusal).into_http(),
    };
    next.run(request).await
}

#[derive(Clone)]
struct Service(PushContext);

impl Service {
    async fn accept(&self, signal: Signal, events: Vec<Event>, size: usize) -> Result<(), Status> {
        self.0
            .receiver
            .deliver(Some(signal.output()), events, size)
            .await
            .map_err(to_status)
    }
}

fn to_status(r: Refusal) -> Status {
    match r {
        // With RetryInfo: OTLP clients retry RESOURCE_EXHAUSTED only when
        // the server says when.
        Refusal::Overloaded => {
            let message = r.to_string();
            let delay = std::time::Duration::from_secs(RETRY_AFTER_SECS);
            let details = retry_details(tonic::Code::ResourceExhausted as i32, &message, delay);
            Status::with_details(tonic::Code::ResourceExhausted, message, details)
        }
        Refusal::Backpressure | Refusal::Failed | Refusal::Closed => {
            Status::unavailable(r.to_string())
        }
        Refusal::Rejected => Status::invalid_argument(r.to_string()),
    }
}

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        let request = request.into_inner();
        let size = request.encoded_len();
        let events = logbridge_otlp::logs_from_request(request)
            .into_iter()
            .map(Event::Log)
            .collect();
        self.accept(Signal::Logs, events, size).await?;
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        let request = request.into_inner();
        let size = request.encoded_len();
        let events = logbridge_otlp::metrics_from_request(request)
            .into_iter()
            .map(Event::Metric)
            .collect();
        self.accept(Signal::Metrics, events, size).await?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        let size = request.encoded_len();
        let events = logbridge_otlp::spans_from_request(request)
            .into_iter()
            .map(|s| Event::Span(Box::new(s)))
            .collect();
        self.accept(Signal::Traces, events, size).await?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}
