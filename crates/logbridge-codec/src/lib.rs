//! Codecs: how bytes become events and events become bytes.
//!
//! Three parts, kept apart so that each can be combined with the others:
//! - [`framing`] cuts a byte stream into records (lines, or syslog's
//!   octet-counted frames) with a maximum length; it knows nothing of
//!   formats.
//! - [`decode`] parses one record into fields (`json`, `logfmt`, `regex`,
//!   `syslog`) for the `parse` transform.
//! - [`encode`] writes events as lines (`json`, `logfmt`, `text`) for the
//!   file and console sinks; [`encoding`] is the `encoding` option that
//!   chooses one.
//! - [`template`] renders the paths, keys and topics of sinks from an
//!   event (strftime and `{{ field }}`).
//!
//! Architecture invariants: no I/O and no clock (callers pass buffers and
//! the time in); every decoder is size-capped (a line by the framer's
//! maximum, a record by [`decode::MAX_PARSE_INPUT_BYTES`], JSON nesting by
//! serde_json's recursion limit); no input can make this crate panic, bad
//! input is an error value.

/// The `bytes` crate, whose `Bytes` and `BytesMut` this crate's API takes.
pub use bytes;

pub mod decode;
pub mod encode;
pub mod encoding;
pub mod framing;
pub mod template;

pub use decode::{ConfigError, MAX_PARSE_INPUT_BYTES, ParseError, Parser, ParserConfig};
pub use encode::{Codec, Encoder, UnknownCodec};
pub use framing::{Frame, LineFramer, OctetCountingFramer, SyslogFrame, SyslogFramer};
