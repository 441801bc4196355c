//! The `logfmt` codec: `key=value` pairs, sorted, nested values flattened
//! (`http.method=GET`, `tags[0]=a`). The rules are in the module docs of
//! [`crate::encode`].

use logbridge_event::{Event, Value};

use super::view::{self, Field};
use super::write;

pub(super) fn encode(event: &Event, out: &mut Vec<u8>) {
    let start = out.len();
    let mut key = Vec::new();
    match event {
        Event::Log(log) => view::log_fields(log, |name, field| {
            key.clear();
            push_key(&mut key, name);
            match field {
                Field::Value(v) => pair(out, start, &mut key, v, 0),
                Field::Timestamp(ns) => {
                    separator(out, start);
                    out.extend_from_slice(&key);
                    out.push(b'=');
                    write::timestamp(out, ns);
                }
            }
        }),
        Event::Metric(m) => object(out, start, &mut key, &view::metric_object(m)),
        Event::Span(s) => object(out, start, &mut key, &view::span_object(s)),
    }
}

fn object(out: &mut Vec<u8>, start: usize, key: &mut Vec<u8>, map: &logbridge_event::ObjectMap) {
    for (name, value) in map {
        key.clear();
        push_key(key, name);
        pair(out, start, key, value, 0);
    }
}

/// A space before every pair but the first of the line.
fn separator(out: &mut Vec<u8>, start: usize) {
    if out.len() > start {
        out.push(b' ');
    }
}

/// Writes `value` under `key`, flattening containers (up to
/// [`write::MAX_DEPTH`] levels); `key` is restored to what it was on
/// return.
fn pair(out: &mut Vec<u8>, start: usize, key: &mut Vec<u8>, value: &Value, depth: usize) {
    let key_len = key.len();
    match value {
        Value::Object(_) | Value::Array(_) if depth >= write::MAX_DEPTH => {}
        Value::Object(m) if !m.is_empty() => {
            for (name, v) in m {
                key.truncate(key_len);
                key.push(b'.');
                push_key(key, name);
                pair(out, start, key, v, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                key.truncate(key_len);
                key.push(b'[');
                write::int(key, i64::try_from(i).unwrap_or(i64::MAX));
                key.push(b']');
                pair(out, start, key, v, depth + 1);
            }
        }
        scalar => {
            separator(out, start);
            out.extend_from_slice(key);
            out.push(b'=');
            scalar_value(out, scalar);
        }
    }
    key.truncate(key_len);
}

fn scalar_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => text(out, s),
            Err(_) => text(out, &String::from_utf8_lossy(b)),
        },
        Value::Timestamp(ns) => write::timestamp(out, *ns),
        Value::Integer(i) => write::int(out, *i),
        Value::Float(f) if f.is_finite() => write::json_f64(out, *f),
        // Empty containers, booleans and the other floats: their canonical
        // text, which needs no quotes (`{}`, `[]`, `true`, `NaN`, `inf`).
        other => out.extend_from_slice(other.to_string_lossy().as_bytes()),
    }
}

/// A key, with the bytes logfmt keys cannot hold replaced by `_`; an
/// empty key is `_`.
fn push_key(key: &mut Vec<u8>, name: &str) {
    if name.is_empty() {
        key.push(b'_');
        return;
    }
    key.extend(name.bytes().map(|b| {
        if b <= b' ' || b == b'=' || b == b'"' || b == 0x7f {
            b'_'
        } else {
            b
        }
    }));
}

/// A string value, quoted and escaped when it needs to be.
fn text(out: &mut Vec<u8>, s: &str) {
    let needs_quotes = s.is_empty()
        || s.bytes()
            .any(|b| b <= b' ' || b == b'=' || b == b'"' || b == 0x7f);
    if !needs_quotes {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            b if b < b' ' || b == 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[from..i]);
        if escape.is_empty() {
            write::unicode_escape(out, b);
        } else {
            out.extend_from_slice(escape);
        }
        from = i + 1;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}
