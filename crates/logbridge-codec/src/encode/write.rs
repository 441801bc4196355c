//! Low-level writers shared by the codecs: JSON strings and values, numbers
//! and RFC 3339 timestamps, appended straight to a `Vec<u8>`.
//!
//! Everything here is infallible: it writes into memory, never does I/O,
//! and turns what JSON cannot hold into something it can (invalid UTF-8 to
//! U+FFFD, NaN and infinities to the strings `"NaN"`, `"+Inf"`, `"-Inf"`).

use logbridge_event::{ObjectMap, Value};
use serde_json::ser::{CompactFormatter, Formatter};

/// A JSON string of `s`, quoted and escaped.
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    json_escaped(out, s.as_bytes());
}

/// Quotes and escapes `bytes`, which must be UTF-8.
fn json_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(offset) = find_escape(&bytes[start..]) {
        let i = start + offset;
        out.extend_from_slice(&bytes[start..i]);
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => unicode_escape(out, b),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The index of the first byte that JSON needs escaped (`"`, `\\`, or a
/// control byte), looking at eight bytes at a time: most strings in logs
/// need no escape at all, so this mostly runs over whole words.
fn find_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        // Bytes below 0x20, equal to `"` (0x22) or to `\\` (0x5c).
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let hit = control | has_zero(w ^ (ONES * 0x22)) | has_zero(w ^ (ONES * 0x5c));
        if hit != 0 {
            // The flags are exact for the lowest flagged byte; scan from there.
            let first = (hit.trailing_zeros() / 8) as usize;
            return chunk[first..]
                .iter()
                .position(|&b| needs_escape(b))
                .map(|p| base + first + p);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| needs_escape(b))
        .map(|p| base + p)
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `\u00XX` for a control byte.
pub(crate) fn unicode_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u00");
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 0xf)]);
}

/// A JSON string of bytes that should be UTF-8; invalid sequences become
/// U+FFFD.
pub(crate) fn json_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.is_ascii() {
        // ASCII is UTF-8; `is_ascii` checks a word at a time, far cheaper
        // than full validation for the usual log string.
        return json_escaped(out, b);
    }
    match std::str::from_utf8(b) {
        Ok(s) => json_str(out, s),
        Err(_) => json_str(out, &String::from_utf8_lossy(b)),
    }
}

/// Containers nested deeper than this are written as `null` (JSON) or left
/// out (logfmt): the writers recurse, and a value built by some source
/// without a depth limit must not overflow the stack. Parsers in this crate
/// never build values this deep.
pub(crate) const MAX_DEPTH: usize = 128;

pub(crate) fn json_value(out: &mut Vec<u8>, v: &Value) {
    json_value_at(out, v, 0);
}

fn json_value_at(out: &mut Vec<u8>, v: &Value, depth: usize) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Integer(i) => int(out, *i),
        Value::Float(f) => json_f64(out, *f),
        Value::Bytes(b) => json_bytes(out, b),
        Value::Timestamp(ns) => {
            out.push(b'"');
            timestamp(out, *ns);
            out.push(b'"');
        }
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => {
            out.extend_from_slice(b"null");
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value_at(out, x, depth + 1);
            }
            out.push(b']');
        }
        Value::Object(m) => json_object_at(out, m, depth),
    }
}

pub(crate) fn json_object(out: &mut Vec<u8>, m: &ObjectMap) {
    json_object_at(out, m, 0);
}

fn json_object_at(out: &mut Vec<u8>, m: &ObjectMap, depth: usize) {
    out.push(b'{');
    for (i, (k, x)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, k);
        out.push(b':');
        json_value_at(out, x, depth + 1);
    }
    out.push(b'}');
}

/// A float in JSON: shortest round-trip form (`2.5`, `3.0`, `1e300`);
/// NaN and the infinities, which JSON numbers cannot hold,
/// as the strings Prometheus' JSON API writes (`"NaN"`, `"+Inf"`,
/// `"-Inf"`), so that they read back as what they were. `-0.0` keeps its
/// sign.
pub(crate) fn json_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        // Writing into a Vec cannot fail.
        let _ = CompactFormatter.write_f64(out, f);
    } else if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f > 0.0 {
        out.extend_from_slice(b"\"+Inf\"");
    } else {
        out.extend_from_slice(b"\"-Inf\"");
    }
}

/// A decimal integer.
pub(crate) fn int(out: &mut Vec<u8>, i: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = i.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

/// Nanoseconds since the epoch as RFC 3339 in UTC, with 0, 3, 6 or 9
/// fraction digits as needed (`2024-05-01T12:00:00.123Z`): the same text
/// as the event crate's `format_timestamp`, without its allocation for
/// years 0 to 9999.
pub(crate) fn timestamp(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let Some(dt) = chrono::DateTime::from_timestamp(secs, nanos) else {
        // Out of chrono's range: the number itself, as the event crate does.
        int(out, ns);
        return;
    };
    use chrono::{Datelike, Timelike};
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        let text = dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        out.extend_from_slice(text.as_bytes());
        return;
    }
    digits(out, year as u32, 4);
    out.push(b'-');
    digits(out, dt.month(), 2);
    out.push(b'-');
    digits(out, dt.day(), 2);
    out.push(b'T');
    digits(out, dt.hour(), 2);
    out.push(b':');
    digits(out, dt.minute(), 2);
    out.push(b':');
    digits(out, dt.second(), 2);
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            digits(out, nanos / 1_000, 6);
        } else {
            digits(out, nanos, 9);
        }
    }
    out.push(b'Z');
}

/// `n` as exactly `width` decimal digits, zero-padded (`n` must fit).
fn digits(out: &mut Vec<u8>, mut n: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            text(|o| json_str(o, "a\"b\\c\nd\te\u{1}é")),
            r#""a\"b\\c\nd\te\u0001é""#
        );
        assert_eq!(text(|o| json_bytes(o, b"ok\xffok")), "\"ok\u{fffd}ok\"");
    }

    #[test]
    fn numbers() {
        for i in [0, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            assert_eq!(text(|o| int(o, i)), i.to_string());
        }
        assert_eq!(text(|o| json_f64(o, 3.0)), "3.0");
        assert_eq!(text(|o| json_f64(o, 2.5)), "2.5");
        assert_eq!(text(|o| json_f64(o, -0.0)), "-0.0");
        assert_eq!(text(|o| json_f64(o, f64::NAN)), "\"NaN\"");
        assert_eq!(text(|o| json_f64(o, f64::INFINITY)), "\"+Inf\"");
        assert_eq!(text(|o| json_f64(o, f64::NEG_INFINITY)), "\"-Inf\"");
    }

    #[test]
    fn deep_values_are_cut_instead_of_overflowing_the_stack() {
        let mut v = Value::Integer(1);
        for _ in 0..MAX_DEPTH + 5 {
            v = Value::Array(vec![v]);
        }
        let json = text(|o| json_value(o, &v));
        assert_eq!(
            json,
            format!("{}null{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH))
        );
        // Dropping is recursive too (in the event crate), so unwind by hand.
        while let Value::Array(mut a) = v {
            v = a.pop().unwrap_or_default();
        }
    }

    #[test]
    fn timestamps() {
        for (ns, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_700_000_000_123_000_000, "2023-11-14T22:13:20.123Z"),
            (1_700_000_000_000_001_000, "2023-11-14T22:13:20.000001Z"),
            (1_700_000_000_000_000_001, "2023-11-14T22:13:20.000000001Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
        ] {
            assert_eq!(text(|o| timestamp(o, ns)), expected);
        }
    }

    proptest! {
        #[test]
        fn timestamps_match_the_event_crate(ns in any::<i64>()) {
            let ours = text(|o| timestamp(o, ns));
            let theirs = Value::Timestamp(ns).to_string_lossy().into_owned();
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn json_strings_read_back(s in any::<String>()) {
            let json = text(|o| json_str(o, &s));
            let back: String = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, s);
        }
    }
}
