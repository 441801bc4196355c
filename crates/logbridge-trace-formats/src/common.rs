//! Pieces of the OpenTelemetry mapping that both formats share: keys,
//! zero-copy string values, times, kinds and the status rules.

use bytes::Bytes;
use logbridge_event::{KeyString, SpanKind, StatusCode, Value};

pub(crate) const SERVICE_NAME: &str = "service.name";
pub(crate) const SPAN_KIND: &str = "span.kind";
pub(crate) const ERROR: &str = "error";
pub(crate) const OTEL_STATUS_CODE: &str = "otel.status_code";
pub(crate) const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
pub(crate) const HTTP_STATUS_CODE: &str = "http.status_code";
pub(crate) const HTTP_STATUS_MESSAGE: &str = "http.status_message";

/// A key from wire bytes. Keys are almost always ASCII; invalid UTF-8 is
/// replaced rather than rejected, so one odd tag cannot drop a batch.
#[inline]
pub(crate) fn key(bytes: &[u8]) -> KeyString {
    match std::str::from_utf8(bytes) {
        Ok(s) => key_str(s),
        Err(_) => KeyString::new(String::from_utf8_lossy(bytes)),
    }
}

/// A key from text. Keys of up to 24 bytes are stored inline; the longer
/// conventional ones are matched to static strings so they cost no
/// allocation either.
#[inline]
pub(crate) fn key_str(s: &str) -> KeyString {
    if s.len() <= 24 {
        return KeyString::new(s);
    }
    match long_static_key(s) {
        Some(k) => KeyString::const_new(k),
        None => KeyString::new(s),
    }
}

#[cold]
fn long_static_key(s: &str) -> Option<&'static str> {
    const KEYS: &[&str] = &[
        "http.response_content_length",
        "http.request_content_length",
        "http.response.body.size",
        "http.request.method_original",
        "messaging.destination.name",
        "messaging.message.payload_size_bytes",
        "net.sock.peer.addr",
        "otel.zipkin.absentField.startTime",
        "opencensus.exporterversion",
        "db.cassandra.consistency_level",
        "rpc.grpc.status_code",
        "user_agent.original",
    ];
    KEYS.iter().copied().find(|k| *k == s)
}

/// What decoding one payload keeps across its values: the payload, to
/// slice string values from, and the keys met so far.
pub(crate) struct Ctx<'a> {
    pub(crate) base: &'a Bytes,
    keys: KeyCache<'a>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(base: &'a Bytes) -> Ctx<'a> {
        Ctx {
            base,
            keys: KeyCache::default(),
        }
    }

    /// A string value sliced from the payload.
    #[inline]
    pub(crate) fn bytes(&self, part: &[u8]) -> Bytes {
        share(self.base, part)
    }

    /// A key from bytes of the payload, through the cache.
    #[inline]
    pub(crate) fn key(&mut self, bytes: &'a [u8]) -> KeyString {
        self.keys.get(bytes)
    }

    /// A key from a string value: through the cache when the value is a
    /// slice of the payload (event names repeat as much as keys do).
    pub(crate) fn key_of_value(&mut self, v: &Value) -> KeyString {
        match v {
            Value::Bytes(b) => {
                let start = self.base.as_ptr() as usize;
                let at = b.as_ptr() as usize;
                if at >= start && at + b.len() <= start + self.base.len() {
                    let base: &'a [u8] = self.base;
                    self.keys.get(&base[at - start..at - start + b.len()])
                } else {
                    key(b)
                }
            }
            _ => KeyString::default(),
        }
    }
}

/// A small cache of keys (open addressing, a few probes). Payloads repeat the same few dozen
/// keys in every span; a hit costs a hash of three bytes, a compare and a
/// 24-byte copy, where a miss validates UTF-8 and builds the key.
struct KeyCache<'a> {
    slots: [(&'a [u8], KeyString); KEY_SLOTS],
}

const KEY_SLOTS: usize = 256;
/// Slots tried from the hashed one before evicting it.
const KEY_PROBES: usize = 4;

impl Default for KeyCache<'_> {
    fn default() -> Self {
        KeyCache {
            slots: std::array::from_fn(|_| (&[][..], KeyString::const_new(""))),
        }
    }
}

impl<'a> KeyCache<'a> {
    #[inline]
    fn get(&mut self, bytes: &'a [u8]) -> KeyString {
        let n = bytes.len();
        if n == 0 {
            // Empty slots hold the empty slice, so it must not be looked up.
            return KeyString::const_new("");
        }
        // The first and last eight bytes (overlapping when short) and the
        // length tell keys apart well enough for a 64-slot table.
        let (head, tail) = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
            _ => {
                let mut p = [0u8; 8];
                p[..n].copy_from_slice(bytes);
                (u64::from_le_bytes(p), 0)
            }
        };
        let h = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let first = (h >> 56) as usize;
        for probe in 0..KEY_PROBES {
            let slot = &self.slots[(first + probe) % KEY_SLOTS];
            if slot.0 == bytes {
                return slot.1.clone();
            }
            if slot.0.is_empty() {
                // Never used: the key is not further on either.
                let k = key(bytes);
                self.slots[(first + probe) % KEY_SLOTS] = (bytes, k.clone());
                return k;
            }
        }
        let k = key(bytes);
        self.slots[first % KEY_SLOTS] = (bytes, k.clone());
        k
    }
}

/// `part` as a slice of `base` when it lies inside it (no copy: a reference
/// count), else copied.
#[inline]
pub(crate) fn share(base: &Bytes, part: &[u8]) -> Bytes {
    let start = base.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start && at + part.len() <= start + base.len() {
        let offset = at - start;
        base.slice(offset..offset + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

/// Microseconds since the epoch to nanoseconds; out-of-range values
/// saturate rather than wrap.
#[inline]
pub(crate) fn micros_to_nanos(us: i64) -> i64 {
    us.saturating_mul(1000)
}

/// The text of a string value, or "" (as OpenTelemetry's `Str()` of a
/// non-string value).
pub(crate) fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Jaeger's `span.kind` tag values.
pub(crate) fn kind_from_tag(v: &Value) -> SpanKind {
    match str_of(v) {
        "client" => SpanKind::Client,
        "server" => SpanKind::Server,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    }
}

/// The status an HTTP status code implies: 4xx is an error for the client
/// only, 5xx and anything outside the defined range is an error, the rest
/// is unset (399 counts as an error, as in the collector). `None` when the
/// value is not a number.
pub(crate) fn status_from_http(v: &Value, kind: SpanKind) -> Option<StatusCode> {
    let code = match v {
        Value::Integer(i) => *i,
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok()?,
        _ => return None,
    };
    Some(match code {
        400..=499 if kind == SpanKind::Client => StatusCode::Error,
        400..=499 if kind == SpanKind::Server => StatusCode::Unset,
        100..=398 => StatusCode::Unset,
        _ => StatusCode::Error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_slices_inside_and_copies_outside() {
        let base = Bytes::from_static(b"hello world");
        let inside = share(&base, &base[6..]);
        assert_eq!(inside, "world");
        assert_eq!(inside.as_ptr(), base[6..].as_ptr());
        let outside = share(&base, b"other");
        assert_eq!(outside, "other");
    }

    #[test]
    fn keys_long_and_short() {
        assert_eq!(key(b"http.method"), "http.method");
        assert_eq!(
            key(b"http.response_content_length"),
            "http.response_content_length"
        );
        assert_eq!(
            key(b"a.key.that.is.longer.than.inline"),
            "a.key.that.is.longer.than.inline"
        );
        assert_eq!(key(b"bad\xffkey"), "bad\u{fffd}key");
    }

    #[test]
    fn http_status_rules() {
        let s = |c: i64, k| status_from_http(&Value::Integer(c), k);
        assert_eq!(s(200, SpanKind::Server), Some(StatusCode::Unset));
        assert_eq!(s(404, SpanKind::Server), Some(StatusCode::Unset));
        assert_eq!(s(404, SpanKind::Client), Some(StatusCode::Error));
        assert_eq!(s(404, SpanKind::Unspecified), Some(StatusCode::Error));
        assert_eq!(s(503, SpanKind::Server), Some(StatusCode::Error));
        assert_eq!(
            status_from_http(&Value::from("502"), SpanKind::Server),
            Some(StatusCode::Error)
        );
        assert_eq!(status_from_http(&Value::from("x"), SpanKind::Server), None);
        assert_eq!(status_from_http(&Value::Bool(true), SpanKind::Server), None);
    }

    #[test]
    fn times_saturate() {
        assert_eq!(
            micros_to_nanos(1_700_000_000_000_000),
            1_700_000_000_000_000_000
        );
        assert_eq!(micros_to_nanos(i64::MAX), i64::MAX);
    }
}
