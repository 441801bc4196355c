//! Writing OTLP/JSON objects the way the spec asks: lowerCamelCase names
//! (given by the callers), 64-bit integers as decimal strings, enums as
//! numbers, ids as lower-case hex, non-finite doubles as `"NaN"`,
//! `"Infinity"`, `"-Infinity"`. Fields at their default are left out, as
//! proto3 JSON does, except where presence means something: members of a
//! oneof, `optional` fields and embedded messages are written when set.

use serde_json::{Map, Number, Value};

/// An object under construction.
#[derive(Default)]
pub(super) struct Out(Map<String, Value>);

impl Out {
    pub(super) fn new() -> Out {
        Out::default()
    }

    pub(super) fn done(self) -> Value {
        Value::Object(self.0)
    }

    /// Always written, default or not.
    pub(super) fn put(&mut self, field: &str, value: Value) {
        self.0.insert(field.to_owned(), value);
    }

    pub(super) fn string(&mut self, field: &str, s: &str) {
        if !s.is_empty() {
            self.put(field, Value::String(s.to_owned()));
        }
    }

    pub(super) fn boolean(&mut self, field: &str, b: bool) {
        if b {
            self.put(field, Value::Bool(true));
        }
    }

    pub(super) fn uint64(&mut self, field: &str, n: u64) {
        if n != 0 {
            self.put(field, Value::String(n.to_string()));
        }
    }

    /// 32-bit integers and enums: plain numbers.
    pub(super) fn int(&mut self, field: &str, n: impl Into<i64>) {
        let n = n.into();
        if n != 0 {
            self.put(field, Value::from(n));
        }
    }

    pub(super) fn double(&mut self, field: &str, f: f64) {
        // By bits: -0.0 equals 0.0 but is not the default.
        if f.to_bits() != 0 {
            self.put(field, double(f));
        }
    }

    pub(super) fn optional_double(&mut self, field: &str, f: Option<f64>) {
        if let Some(f) = f {
            self.put(field, double(f));
        }
    }

    pub(super) fn strings(&mut self, field: &str, values: &[String]) {
        if !values.is_empty() {
            let items = values.iter().map(|s| Value::String(s.clone()));
            self.put(field, Value::Array(items.collect()));
        }
    }

    pub(super) fn uint64s(&mut self, field: &str, values: &[u64]) {
        if !values.is_empty() {
            let items = values.iter().map(|n| Value::String(n.to_string()));
            self.put(field, Value::Array(items.collect()));
        }
    }

    pub(super) fn doubles(&mut self, field: &str, values: &[f64]) {
        if !values.is_empty() {
            self.put(
                field,
                Value::Array(values.iter().map(|&f| double(f)).collect()),
            );
        }
    }

    pub(super) fn hex(&mut self, field: &str, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.put(field, Value::String(hex(bytes)));
        }
    }

    /// An embedded message, written when present even if empty.
    pub(super) fn message<T>(&mut self, field: &str, value: Option<&T>, write: fn(&T) -> Value) {
        if let Some(value) = value {
            self.put(field, write(value));
        }
    }

    pub(super) fn messages<T>(&mut self, field: &str, values: &[T], write: fn(&T) -> Value) {
        if !values.is_empty() {
            self.put(field, Value::Array(values.iter().map(write).collect()));
        }
    }
}

/// A double: a JSON number when finite, else the name proto3 JSON gives it.
pub(super) fn double(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}
