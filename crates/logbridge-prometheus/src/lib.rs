//! Codecs between Prometheus formats and logbridge's metric model.
//!
//! - [`text`]: parser of the text exposition formats, Prometheus 0.0.4 and
//!   OpenMetrics 1.0, into [`Metric`](logbridge_event::Metric)s, with a
//!   zero-copy sample iterator underneath.
//! - [`encode`]: the text exposition writer for both formats.
//! - [`remote_write`]: Prometheus remote-write 1.0 requests (snappy-framed
//!   protobuf) to and from metrics.
//!
//! Everything here is pure: no I/O, no clock (callers pass the default
//! timestamp in), no async runtime.

pub mod encode;
pub mod remote_write;
pub mod text;

pub use encode::encode_text;
pub use remote_write::{
    Metadata, RemoteWriteError, decode_write_request, decode_write_request_with,
    encode_write_request,
};
pub use text::{Format, ParseError, ParseErrorKind, parse, parse_slice};
