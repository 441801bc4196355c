//! Reading OTLP/JSON fields out of a parsed object, with the spec's
//! leniency: an absent or `null` field is the default, 64-bit integers come
//! as decimal strings or as numbers, doubles as numbers or as `"NaN"`,
//! `"Infinity"`, `"-Infinity"`, enums as integers (or, beyond the spec, as
//! their names), ids as hex in either case. Each reader removes its field,
//! so strings and arrays move out instead of being copied; what is left
//! over is unknown fields, which the spec says to ignore.

use serde_json::{Map, Value};

use super::Reason;

pub(super) type Object = Map<String, Value>;
pub(super) type Result<T> = std::result::Result<T, Reason>;

fn bad(field: &'static str, expected: &'static str) -> Reason {
    Reason::field(field, expected)
}

/// The field's value; `None` when absent or `null`.
pub(super) fn take(obj: &mut Object, field: &str) -> Option<Value> {
    obj.remove(field).filter(|v| !v.is_null())
}

pub(super) fn object(value: Value, field: &'static str) -> Result<Object> {
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err(bad(field, "an object")),
    }
}

pub(super) fn string(obj: &mut Object, field: &'static str) -> Result<String> {
    match take(obj, field) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(field, "a string")),
    }
}

pub(super) fn boolean(obj: &mut Object, field: &'static str) -> Result<bool> {
    match take(obj, field) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(bad(field, "a boolean")),
    }
}

/// Any integer type: JSON numbers that are whole (`5`, `5.0`, `5e3`) and
/// decimal strings, within `T`'s range.
fn integer<T>(value: Value, field: &'static str, expected: &'static str) -> Result<T>
where
    T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr,
{
    let parsed = match &value {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                T::try_from(u).ok()
            } else if let Some(i) = n.as_i64() {
                T::try_from(i).ok()
            } else {
                // A whole float such as 1e3. `as` saturates, so the range
                // check is a round trip through f64.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .and_then(whole_float)
                    .and_then(|i| T::try_from(i).ok())
            }
        }
        Value::String(s) => s.trim().parse::<T>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| bad(field, expected))
}

/// A whole float as an integer, when it is one exactly (2^63 is not: `as`
/// would saturate it to 2^63 - 1).
fn whole_float(f: f64) -> Option<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    let i = f as i64;
    (i as f64 == f && f < LIMIT).then_some(i)
}

pub(super) fn uint64(obj: &mut Object, field: &'static str) -> Result<u64> {
    take(obj, field).map_or(Ok(0), |v| integer(v, field, "an unsigned 64-bit integer"))
}

pub(super) fn int64(obj: &mut Object, field: &'static str) -> Result<i64> {
    take(obj, field).map_or(Ok(0), |v| integer(v, field, "a 64-bit integer"))
}

pub(super) fn uint32(obj: &mut Object, field: &'static str) -> Result<u32> {
    take(obj, field).map_or(Ok(0), |v| integer(v, field, "an unsigned 32-bit integer"))
}

pub(super) fn int32(obj: &mut Object, field: &'static str) -> Result<i32> {
    take(obj, field).map_or(Ok(0), |v| integer(v, field, "a 32-bit integer"))
}

/// An enum: its number, or its name as `from_name` knows it.
pub(super) fn enumeration(
    obj: &mut Object,
    field: &'static str,
    from_name: fn(&str) -> Option<i32>,
) -> Result<i32> {
    match take(obj, field) {
        None => Ok(0),
        Some(Value::String(s)) => match from_name(&s) {
            Some(n) => Ok(n),
            None => integer(Value::String(s), field, "an enum number or name"),
        },
        Some(v) => integer(v, field, "an enum number or name"),
    }
}

pub(super) fn double_value(value: Value, field: &'static str) -> Result<f64> {
    let parsed = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            // Proto3 JSON also allows a number in a string; Rust's parser
            // would take "inf" and "nan" too, which JSON does not.
            s if s
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
            {
                s.parse().ok()
            }
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| bad(field, "a number, \"NaN\", \"Infinity\" or \"-Infinity\""))
}

pub(super) fn double(obj: &mut Object, field: &'static str) -> Result<f64> {
    take(obj, field).map_or(Ok(0.0), |v| double_value(v, field))
}

/// A `optional double`: absent stays absent.
pub(super) fn optional_double(obj: &mut Object, field: &'static str) -> Result<Option<f64>> {
    take(obj, field).map(|v| double_value(v, field)).transpose()
}

fn array(obj: &mut Object, field: &'static str) -> Result<Vec<Value>> {
    match take(obj, field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad(field, "an array")),
    }
}

pub(super) fn strings(obj: &mut Object, field: &'static str) -> Result<Vec<String>> {
    array(obj, field)?
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            _ => Err(bad(field, "an array of strings")),
        })
        .collect()
}

pub(super) fn uint64s(obj: &mut Object, field: &'static str) -> Result<Vec<u64>> {
    array(obj, field)?
        .into_iter()
        .map(|v| integer(v, field, "an array of unsigned 64-bit integers"))
        .collect()
}

pub(super) fn doubles(obj: &mut Object, field: &'static str) -> Result<Vec<f64>> {
    array(obj, field)?
        .into_iter()
        .map(|v| double_value(v, field))
        .collect()
}

/// An embedded message; `None` when absent (presence matters for
/// messages: an empty resource is not no resource).
pub(super) fn message<T>(
    obj: &mut Object,
    field: &'static str,
    read: impl FnOnce(Object) -> Result<T>,
) -> Result<Option<T>> {
    take(obj, field)
        .map(|v| object(v, field).and_then(read))
        .transpose()
}

pub(super) fn messages<T>(
    obj: &mut Object,
    field: &'static str,
    mut read: impl FnMut(Object) -> Result<T>,
) -> Result<Vec<T>> {
    array(obj, field)?
        .into_iter()
        .map(|v| read(object(v, field)?))
        .collect()
}

/// A trace or span id: hex digits, either case. The length is not checked
/// here: the protobuf field is plain bytes, and the event mapping decides
/// what a wrong length means.
pub(super) fn hex(obj: &mut Object, field: &'static str) -> Result<Vec<u8>> {
    let text = match take(obj, field) {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad(field, "a hex string")),
    };
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(bad(field, "an even number of hex digits"));
    }
    digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| bad(field, "a hex string"))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
