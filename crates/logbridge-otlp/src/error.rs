//! The error of the protobuf decoders, shared by the three signals.

/// The input is not a valid OTLP protobuf message of the expected signal.
#[derive(Debug, thiserror::Error)]
#[error("invalid OTLP {signal} protobuf: {reason}")]
pub struct DecodeError {
    /// `logs`, `traces` or `metrics`, so that a message from a source that
    /// takes all three says which one failed.
    signal: &'static str,
    // Private, so that prost's type is not part of this crate's API.
    reason: prost::DecodeError,
}

impl DecodeError {
    pub(crate) fn new(signal: &'static str, reason: prost::DecodeError) -> DecodeError {
        DecodeError { signal, reason }
    }
}
