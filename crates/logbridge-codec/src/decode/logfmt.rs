//! The `logfmt` parser: `key=value key2="quoted \"value\"" flag`.
//!
//! Grammar, byte by byte (any bytes, UTF-8 or not):
//! - pairs are separated by ASCII whitespace;
//! - a key is a run of bytes other than whitespace, `=` and `"`; a key that
//!   is not valid UTF-8 is converted lossily;
//! - `key` alone is `true`; `key=` is the empty string;
//! - an unquoted value runs to the next whitespace (it may hold `=`/`"`);
//! - a quoted value ends at the next unescaped `"`, which must be followed
//!   by whitespace or the end; escapes are `\"`, `\\`, `\n`, `\r`, `\t` and
//!   `\uXXXX` (an invalid code point becomes U+FFFD); any other `\x` is kept
//!   as the two bytes `\x`.
//!
//! Values stay strings. A duplicated key keeps its last value. Errors: a
//! `"` or `=` where a key should start, an unterminated quoted value.

use bytes::Bytes;
use logbridge_event::{KeyString, ObjectMap, Value};

use super::{ParseError, Text};

pub(super) fn parse(text: Text<'_>) -> Result<ObjectMap, ParseError> {
    let input = text.input;
    let mut out = ObjectMap::new();
    let mut pos = 0;
    loop {
        while input.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let Some(&first) = input.get(pos) else {
            break;
        };
        if first == b'=' {
            return Err(error(pos, "missing key before `=`"));
        }
        if first == b'"' {
            return Err(error(pos, "unexpected `\"` in a key"));
        }
        let key_start = pos;
        while input
            .get(pos)
            .is_some_and(|&b| !b.is_ascii_whitespace() && b != b'=' && b != b'"')
        {
            pos += 1;
        }
        let key = KeyString::from(String::from_utf8_lossy(&input[key_start..pos]));
        let value = match input.get(pos) {
            None => Value::Bool(true),
            Some(b) if b.is_ascii_whitespace() => Value::Bool(true),
            Some(b'"') => return Err(error(pos, "unexpected `\"` in a key")),
            Some(_) => {
                // The `=`.
                pos += 1;
                match input.get(pos) {
                    Some(b'"') => {
                        let (value, end) = quoted(text, pos)?;
                        pos = end;
                        if input.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return Err(error(pos, "missing space after a quoted value"));
                        }
                        Value::Bytes(value)
                    }
                    _ => {
                        let start = pos;
                        while input.get(pos).is_some_and(|b| !b.is_ascii_whitespace()) {
                            pos += 1;
                        }
                        Value::Bytes(text.share(&input[start..pos]))
                    }
                }
            }
        };
        out.insert(key, value);
    }
    if out.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(out)
}

fn error(offset: usize, message: &'static str) -> ParseError {
    ParseError::InvalidLogfmt { offset, message }
}

/// The quoted value whose opening `"` is at `open`, and the position after
/// its closing `"`.
fn quoted(text: Text<'_>, open: usize) -> Result<(Bytes, usize), ParseError> {
    let input = text.input;
    let body_start = open + 1;
    let rest = input.get(body_start..).unwrap_or_default();
    let unterminated = || error(open, "unterminated quoted value");
    // Fast path: no backslash before the closing quote.
    let quote = memchr::memchr2(b'"', b'\\', rest).ok_or_else(unterminated)?;
    if rest[quote] == b'"' {
        let value = text.share(&rest[..quote]);
        return Ok((value, body_start + quote + 1));
    }
    let mut out = Vec::with_capacity(rest.len().min(256));
    out.extend_from_slice(&rest[..quote]);
    let mut i = quote;
    while let Some(&b) = rest.get(i) {
        match b {
            b'"' => return Ok((Bytes::from(out), body_start + i + 1)),
            b'\\' => {
                let Some(&next) = rest.get(i + 1) else {
                    break;
                };
                i += 2;
                match next {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let c = rest
                            .get(i..i + 4)
                            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                            .and_then(|hex| std::str::from_utf8(hex).ok())
                            .and_then(|hex| u32::from_str_radix(hex, 16).ok());
                        match c {
                            Some(code) => {
                                i += 4;
                                let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
                                let mut utf8 = [0; 4];
                                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                            }
                            None => out.extend_from_slice(b"\\u"),
                        }
                    }
                    other => out.extend_from_slice(&[b'\\', other]),
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err(unterminated())
}
