//! The options every push receiver has: request limits, the memory
//! budget, connection limits and timeouts, backpressure and
//! acknowledgements (`receive.*`).

use std::time::Duration;

use logbridge_component::BuildError;
use serde::Deserialize;

use crate::server::ConnectionLimits;

/// Request limits and acknowledgement behaviour of a receiver.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveConfig {
    /// Largest request body accepted, in bytes, as sent (compressed).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Largest body after decompression, in bytes; a larger one is refused
    /// (HTTP 413) without being inflated further.
    #[serde(default = "default_max_decompressed_bytes")]
    pub max_decompressed_bytes: usize,
    /// Most events one request may carry; a request with more is refused
    /// (HTTP 413, gRPC `RESOURCE_EXHAUSTED`) before any of them is built.
    #[serde(default = "default_max_events_per_request")]
    pub max_events_per_request: usize,
    /// Memory the requests this receiver handles at once may take, in
    /// bytes: bodies as read and inflated, and what decoding them builds
    /// (estimated from a count made before decoding), until the sinks
    /// acknowledge them. A request that would need more than what is left
    /// waits up to `max_wait_secs` and is then answered "retry later" (HTTP
    /// 429, gRPC `RESOURCE_EXHAUSTED`); one that needs more than the whole
    /// budget is refused (HTTP 413). Must be at least
    /// `max_decompressed_bytes`.
    #[serde(default = "default_max_memory_bytes")]
    pub max_memory_bytes: usize,
    /// Requests handled at once; more are answered "retry later" (HTTP 429
    /// with `Retry-After`, gRPC `RESOURCE_EXHAUSTED`).
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Connections served at once by each listener; more wait in the
    /// kernel's accept queue until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a client has, from connecting or from the first byte of a
    /// request, to send the request's headers (and, with TLS, to finish
    /// the handshake); the connection is closed after that.
    #[serde(default = "default_header_timeout_secs")]
    pub header_timeout_secs: f64,
    /// Seconds a connection may stay open without a request in flight
    /// after its last answer, and a request body may pause between two
    /// reads (HTTP 408 after that).
    #[serde(default = "default_idle_timeout_secs")]
    pub idle_timeout_secs: f64,
    /// Answer success only once every sink has the data (or a disk buffer
    /// holds it). Off: answer once the pipeline has taken the data.
    #[serde(default = "default_true")]
    pub acknowledgements: bool,
    /// How long a request may wait for the pipeline to take its data (or
    /// for room in `max_memory_bytes`) before it is answered "retry later"
    /// (HTTP 503, gRPC `UNAVAILABLE`; for memory HTTP 429).
    #[serde(default = "default_max_wait_secs")]
    pub max_wait_secs: f64,
    /// How long a request waits for the sinks' acknowledgement before it
    /// is answered "retry later"; the data may still be delivered, so a
    /// retry can duplicate it.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: f64,
}

fn default_max_request_bytes() -> usize {
    16 << 20
}
fn default_max_decompressed_bytes() -> usize {
    64 << 20
}
fn default_max_events_per_request() -> usize {
    100_000
}
fn default_max_memory_bytes() -> usize {
    128 << 20
}
fn default_max_concurrent_requests() -> usize {
    256
}
fn default_max_connections() -> usize {
    4096
}
fn default_header_timeout_secs() -> f64 {
    10.0
}
fn default_idle_timeout_secs() -> f64 {
    60.0
}
fn default_true() -> bool {
    true
}
fn default_max_wait_secs() -> f64 {
    5.0
}
fn default_ack_timeout_secs() -> f64 {
    30.0
}

impl Default for ReceiveConfig {
    fn default() -> Self {
        ReceiveConfig {
            max_request_bytes: default_max_request_bytes(),
            max_decompressed_bytes: default_max_decompressed_bytes(),
            max_events_per_request: default_max_events_per_request(),
            max_memory_bytes: default_max_memory_bytes(),
            max_concurrent_requests: default_max_concurrent_requests(),
            max_connections: default_max_connections(),
            header_timeout_secs: default_header_timeout_secs(),
            idle_timeout_secs: default_idle_timeout_secs(),
            acknowledgements: true,
            max_wait_secs: default_max_wait_secs(),
            ack_timeout_secs: default_ack_timeout_secs(),
        }
    }
}

impl ReceiveConfig {
    pub fn validate(&self, prefix: &str) -> Result<(), BuildError> {
        let option = |name: &str| format!("{prefix}{name}");
        for (name, v) in [
            ("max_request_bytes", self.max_request_bytes),
            ("max_events_per_request", self.max_events_per_request),
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("max_connections", self.max_connections),
        ] {
            if v == 0 {
                return Err(BuildError::new(
                    &option(name),
                    format!("{name} must be above 0"),
                ));
            }
        }
        if self.max_decompressed_bytes < self.max_request_bytes {
            return Err(BuildError::new(
                &option("max_decompressed_bytes"),
                "max_decompressed_bytes must be at least max_request_bytes",
            ));
        }
        if self.max_memory_bytes < self.max_decompressed_bytes {
            return Err(BuildError::new(
                &option("max_memory_bytes"),
                "max_memory_bytes must be at least max_decompressed_bytes",
            ));
        }
        for (name, v) in [
            ("max_wait_secs", self.max_wait_secs),
            ("ack_timeout_secs", self.ack_timeout_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if !(v > 0.0 && v < 86_400.0) {
                return Err(BuildError::new(
                    &option(name),
                    format!("{name} must be above 0 and under a day"),
                ));
            }
        }
        Ok(())
    }

    /// The connection limits of each of the receiver's listeners.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs_f64(self.header_timeout_secs),
            idle_timeout: Duration::from_secs_f64(self.idle_timeout_secs),
        }
    }
}
