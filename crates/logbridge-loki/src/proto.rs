//! The messages of Loki's push API (`logproto.PushRequest` and the types
//! inside it), declared with prost's derive; field tags follow Loki's
//! `push.proto`.
//!
//! Text fields the schema declares as `string` are read as `bytes`: both
//! are length-delimited on the wire, so the encoding is the same, and
//! reading bytes lets a line be a zero-copy slice of the request and lets
//! the decoder, not prost, decide what to do with invalid UTF-8 (it keeps
//! lines and metadata as they are and names the stream whose labels are
//! bad). Fields Loki reserves for its own use (`PushRequest.format`,
//! `EntryAdapter.parsed`) are not declared; prost skips them.

use bytes::Bytes;

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`: one stream, its labels in text form.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// `{name="value", ...}`, UTF-8.
    #[prost(bytes = "bytes", tag = "1")]
    pub labels: Bytes,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// A hash of the labels that Loki computes itself; clients leave it 0.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.LabelPairAdapter`: one pair of structured metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

/// `logproto.EntryAdapter`: one log line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(bytes = "bytes", tag = "2")]
    pub line: Bytes,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// `google.protobuf.Timestamp`, declared here rather than pulled from
/// `prost-types` for two fields.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// 0 to 999,999,999 in a valid timestamp.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;

impl Timestamp {
    /// The timestamp of `ns` nanoseconds since the epoch; every `i64` has
    /// one (seconds rounded down, so nanos are never negative).
    pub fn from_unix_nanos(ns: i64) -> Timestamp {
        Timestamp {
            seconds: ns.div_euclid(NANOS_PER_SECOND),
            // In 0..1e9, so it fits.
            nanos: ns.rem_euclid(NANOS_PER_SECOND) as i32,
        }
    }

    /// Nanoseconds since the epoch; `None` when nanos are out of range or
    /// the instant does not fit in an `i64` (years beyond 1677-2262).
    pub fn to_unix_nanos(self) -> Option<i64> {
        if !(0..NANOS_PER_SECOND).contains(&i64::from(self.nanos)) {
            return None;
        }
        let ns = i128::from(self.seconds) * i128::from(NANOS_PER_SECOND) + i128::from(self.nanos);
        i64::try_from(ns).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn timestamps_convert_both_ways() {
        for ns in [0, 1, -1, 1_700_000_000_123_456_789, i64::MIN, i64::MAX] {
            assert_eq!(Timestamp::from_unix_nanos(ns).to_unix_nanos(), Some(ns));
        }
        let bad = Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(bad.to_unix_nanos(), None);
        let far = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert_eq!(far.to_unix_nanos(), None);
    }

    /// The wire layout, checked byte by byte against the schema's tags.
    #[test]
    fn wire_tags_match_the_schema() {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: Bytes::from_static(b"{a=\"b\"}"),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1,
                        nanos: 2,
                    }),
                    line: Bytes::from_static(b"hi"),
                    structured_metadata: vec![LabelPairAdapter {
                        name: Bytes::from_static(b"k"),
                        value: Bytes::from_static(b"v"),
                    }],
                }],
                hash: 5,
            }],
        };
        let entry: &[u8] = &[
            0x0a, 4, 0x08, 1, 0x10, 2, // timestamp (1): seconds (1), nanos (2)
            0x12, 2, b'h', b'i', // line (2)
            0x1a, 6, 0x0a, 1, b'k', 0x12, 1, b'v', // structuredMetadata (3)
        ];
        let mut stream = vec![0x0a, 7];
        stream.extend_from_slice(b"{a=\"b\"}"); // labels (1)
        stream.extend_from_slice(&[0x12, entry.len() as u8]); // entries (2)
        stream.extend_from_slice(entry);
        stream.extend_from_slice(&[0x18, 5]); // hash (3)
        let mut expected = vec![0x0a, stream.len() as u8]; // streams (1)
        expected.extend_from_slice(&stream);
        assert_eq!(request.encode_to_vec(), expected);
    }
}
