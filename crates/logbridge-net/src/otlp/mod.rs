//! The `otlp` source and sink: OpenTelemetry's protocol over gRPC and HTTP.
//!
//! The source listens for OTLP/gRPC (default 127.0.0.1:4317) and OTLP/HTTP
//! (default 127.0.0.1:4318: `/v1/logs`, `/v1/metrics`, `/v1/traces`,
//! protobuf or JSON, optionally compressed) and puts what it receives on
//! three named outputs, `logs`, `metrics` and `traces` (`<id>.logs`, ...),
//! answering each request once the sinks hold its data. The sink exports
//! whatever reaches it over gRPC or HTTP, batched, retrying what the server
//! says may be retried.
//!
//! Conversions live in `logbridge-otlp`; this module is the transport.

mod grpc;
mod http;
mod signal;
mod sink;
mod source;

pub use sink::{OtlpProtocol, OtlpSinkConfig};
pub use source::{GrpcListenerConfig, HttpListenerConfig, OtlpSourceConfig};
