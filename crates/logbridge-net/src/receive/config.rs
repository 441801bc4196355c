//! The options every push receiver has: request limits, backpressure and
//! acknowledgements (`receive.*`).

use logbridge_component::BuildError;
use serde::Deserialize;

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
    /// Requests handled at once; more are answered "retry later" (HTTP 429
    /// with `Retry-After`, gRPC `RESOURCE_EXHAUSTED`).
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// Answer success only once every sink has the data (or a disk buffer
    /// holds it). Off: answer once the pipeline has taken the data.
    #[serde(default = "default_true")]
    pub acknowledgements: bool,
    /// How long a request may wait for the pipeline to take its data
    /// before it is answered "retry later" (HTTP 503, gRPC `UNAVAILABLE`).
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
fn default_max_concurrent_requests() -> usize {
    256
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
            max_concurrent_requests: default_max_concurrent_requests(),
            acknowledgements: true,
            max_wait_secs: default_max_wait_secs(),
            ack_timeout_secs: default_ack_timeout_secs(),
        }
    }
}

impl ReceiveConfig {
    pub fn validate(&self, prefix: &str) -> Result<(), BuildError> {
        let option = |name: &str| format!("{prefix}{name}");
        if self.max_request_bytes == 0 {
            return Err(BuildError::new(
                &option("max_request_bytes"),
                "max_request_bytes must be above 0",
            ));
        }
        if self.max_decompressed_bytes < self.max_request_bytes {
            return Err(BuildError::new(
                &option("max_decompressed_bytes"),
                "max_decompressed_bytes must be at least max_request_bytes",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(BuildError::new(
                &option("max_concurrent_requests"),
                "max_concurrent_requests must be above 0",
            ));
        }
        for (name, v) in [
            ("max_wait_secs", self.max_wait_secs),
            ("ack_timeout_secs", self.ack_timeout_secs),
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
}
