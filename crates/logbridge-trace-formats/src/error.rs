//! [`Error`]: why a payload did not decode.
//!
//! Offsets are byte positions in the input, so a failing payload can be
//! inspected with a hex dump.

/// A payload that did not decode. Every variant is a property of the input;
/// none means a bug in the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended inside a value.
    #[error("truncated input: needed {needed} more bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    /// A varint longer than its type allows.
    #[error("malformed varint at offset {at}")]
    Varint { at: usize },
    /// An integer that does not fit its declared Thrift type.
    #[error("integer out of range for its thrift type at offset {at}")]
    IntegerRange { at: usize },
    /// A type code that Thrift does not define.
    #[error("unknown thrift type code {code} at offset {at}")]
    UnknownType { code: u8, at: usize },
    /// A length or element count that cannot fit in what is left of the input.
    #[error("length {len} at offset {at} exceeds the {remaining} bytes remaining")]
    Length {
        len: i64,
        at: usize,
        remaining: usize,
    },
    /// Containers nested deeper than the decoder follows.
    #[error("thrift values nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// A known field sent with another type than the IDL declares.
    #[error("field {field} of {strukt} has thrift type {found}, expected {expected}")]
    WrongType {
        strukt: &'static str,
        field: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    /// A field the IDL marks required is absent.
    #[error("missing required field {field} of {strukt}")]
    MissingField {
        strukt: &'static str,
        field: &'static str,
    },
    /// The bytes do not start with a Thrift message header of the protocol.
    #[error("not a thrift {protocol} message: {reason}")]
    MessageHeader {
        protocol: &'static str,
        reason: &'static str,
    },
    /// A Thrift message calling another method than `emitBatch`.
    #[error("unexpected thrift method {name:?}, expected \"emitBatch\"")]
    Method { name: String },
    /// A Zipkin body that is not UTF-8, as JSON must be.
    #[error("invalid utf-8 in zipkin json at offset {at}")]
    Utf8 { at: usize },
    /// A Zipkin body that is not valid JSON of the expected shape.
    #[error("invalid zipkin json{}: {source}", span_suffix(*.index))]
    Json {
        /// The span (array element) being read, when the error is inside one.
        index: Option<usize>,
        source: serde_json::Error,
    },
    /// A Zipkin span with a missing or malformed id.
    #[error("span {index}: invalid {field}: {reason}")]
    ZipkinId {
        index: usize,
        field: &'static str,
        reason: &'static str,
    },
}

fn span_suffix(index: Option<usize>) -> String {
    match index {
        Some(i) => format!(" in span {i}"),
        None => String::new(),
    }
}
