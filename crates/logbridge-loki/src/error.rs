//! [`Error`]: what can go wrong decoding or encoding a push request.

use crate::labels::LabelError;

/// The longest stretch of a stream's label text quoted in an error.
const QUOTED_LABELS: usize = 120;

/// A push request that cannot be decoded, or records that cannot be
/// encoded into one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid snappy block: {0}")]
    Snappy(#[from] snap::Error),
    #[error("the body decompresses to {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("invalid protobuf push request: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("invalid json push request: {0}")]
    Json(#[from] serde_json::Error),
    /// A stream whose labels are malformed.
    #[error("stream {stream} `{labels}`: {source}")]
    Labels {
        /// The stream's position in the request, from 0.
        stream: usize,
        /// The start of its label text.
        labels: String,
        source: LabelError,
    },
    /// An entry that cannot become a log.
    #[error("stream {stream} `{labels}`, entry {entry}: {reason}")]
    Entry {
        stream: usize,
        labels: String,
        entry: usize,
        reason: &'static str,
    },
    /// A record whose labels (from the caller's function) Loki would reject.
    #[error("record {record}: {source}")]
    RecordLabels { record: usize, source: LabelError },
}

/// The start of a stream's label text, for an error message.
pub(crate) fn quote_labels(text: &str) -> String {
    if text.len() <= QUOTED_LABELS {
        return text.to_string();
    }
    let mut end = QUOTED_LABELS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
