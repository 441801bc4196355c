//! The `json` parser: one JSON object per record, into an [`ObjectMap`],
//! or into any value type through [`JsonBuilder`] (VRL's `parse_json`
//! builds VRL's values with it, with no logbridge value in between).
//!
//! This is the hot path of the pipeline, so it is a small hand-written
//! parser rather than serde_json: one pass over the bytes, strings without
//! escapes become slices of the input's `Bytes` (one reference-count
//! increment, no copy), strings are scanned eight bytes at a time, and
//! the record is checked to be UTF-8 once instead of string by string.
//! Object entries are collected in input order and sorted once into the
//! event's vector-backed `ObjectMap`.
//!
//! It accepts exactly RFC 8259 JSON and behaves as serde_json does, which
//! a property test checks: the same values (numbers that fit an `i64` are
//! integers, others, `-0` included, floats; a float out of range is an
//! error), the same error messages and positions for the usual mistakes,
//! and the same nesting limit (128). Floats are parsed by the standard
//! library, so they are correctly rounded and round-trip exactly.

use std::marker::PhantomData;

use bytes::Bytes;
use logbridge_event::{KeyString, ObjectMap, Value};

use super::{MAX_PARSE_INPUT_BYTES, ParseError, Text};

/// The values a parse builds. Monomorphized, so the parser is as fast for
/// any builder as a parser written for it.
pub trait JsonBuilder {
    type Key;
    type Value;
    type Object;
    fn key(text: &str) -> Self::Key;
    fn string(bytes: Bytes) -> Self::Value;
    fn integer(n: i64) -> Self::Value;
    /// Always finite.
    fn float(f: f64) -> Self::Value;
    fn boolean(b: bool) -> Self::Value;
    fn null() -> Self::Value;
    fn array(items: Vec<Self::Value>) -> Self::Value;
    /// Entries in input order; of duplicate keys the last must win.
    fn object(entries: Vec<(Self::Key, Self::Value)>) -> Self::Object;
    fn object_value(object: Self::Object) -> Self::Value;
}

/// logbridge's own values (what the `json` parser builds).
pub struct EventValues;

impl JsonBuilder for EventValues {
    type Key = KeyString;
    type Value = Value;
    type Object = ObjectMap;

    #[inline(always)]
    fn key(text: &str) -> KeyString {
        KeyString::new(text)
    }
    #[inline(always)]
    fn string(bytes: Bytes) -> Value {
        Value::Bytes(bytes)
    }
    #[inline(always)]
    fn integer(n: i64) -> Value {
        Value::Integer(n)
    }
    #[inline(always)]
    fn float(f: f64) -> Value {
        Value::Float(f)
    }
    fn boolean(b: bool) -> Value {
        Value::Bool(b)
    }
    fn null() -> Value {
        Value::Null
    }
    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    #[inline(always)]
    fn object(entries: Vec<(KeyString, Value)>) -> ObjectMap {
        ObjectMap::from_entries(entries)
    }
    fn object_value(object: ObjectMap) -> Value {
        Value::Object(object)
    }
}

/// The JSON object in `input` (strings that need no unescaping are slices
/// of it), built by `B`; the same checks and errors as the `json` parser.
pub fn parse_object<B: JsonBuilder>(input: &Bytes) -> Result<B::Object, ParseError> {
    if input.len() > MAX_PARSE_INPUT_BYTES {
        return Err(ParseError::TooLarge {
            len: input.len(),
            max: MAX_PARSE_INPUT_BYTES,
        });
    }
    parse_with::<B>(Text {
        input,
        source: Some(input),
    })
}

/// Containers nested deeper than this are an error (serde_json's limit).
const MAX_DEPTH: usize = 128;

pub(super) fn parse(text: Text<'_>) -> Result<ObjectMap, ParseError> {
    parse_with::<EventValues>(text)
}

fn parse_with<B: JsonBuilder>(text: Text<'_>) -> Result<B::Object, ParseError> {
    let mut p = JsonParser::<B> {
        builder: PhantomData,
        text,
        input: text.input,
        // Valid JSON is UTF-8. Checking the whole record at once is much
        // cheaper than checking each key and string; when it fails, the
        // strings are checked one by one to find the error's position.
        utf8: std::str::from_utf8(text.input).ok(),
        pos: 0,
        depth: 0,
    };
    p.skip_whitespace();
    let result = match p.peek() {
        None => return Err(ParseError::Empty),
        Some(b'{') => p.object().map(Some),
        // Any other value is parsed too, so that invalid JSON is reported
        // as such rather than as "not an object".
        Some(_) => p.value().map(|_| None),
    };
    let result = result.and_then(|map| {
        p.skip_whitespace();
        if p.pos < p.input.len() {
            return Err(p.error("trailing characters"));
        }
        Ok(map)
    });
    match result {
        Ok(Some(map)) => Ok(map),
        Ok(None) => Err(ParseError::NotAnObject),
        Err(e) => Err(e.into_parse_error(p.input)),
    }
}

/// A syntax error: what, and the byte it is about (the input length at
/// the end of the input).
struct Error {
    at: usize,
    message: &'static str,
}

impl Error {
    /// Line and column as serde_json counts them: 1-based line, 1-based
    /// byte column of the offending byte (of the last byte at the end).
    fn into_parse_error(self, input: &[u8]) -> ParseError {
        let end = (self.at + 1).min(input.len());
        let line_start = memchr::memrchr(b'\n', &input[..end]).map_or(0, |i| i + 1);
        ParseError::InvalidJson {
            line: 1 + memchr::memchr_iter(b'\n', &input[..line_start]).count(),
            column: end - line_start,
            message: self.message.to_owned(),
        }
    }
}

type JsonResult<T> = Result<T, Error>;

enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    #[inline(always)]
    fn into_value<B: JsonBuilder>(self) -> B::Value {
        match self {
            Number::Integer(i) => B::integer(i),
            Number::Float(f) => B::float(f),
        }
    }
}

/// A string's content: where it is in the input when it had no escapes.
enum Str {
    Borrowed { start: usize, end: usize },
    Owned(Vec<u8>),
}

struct JsonParser<'a, B> {
    builder: PhantomData<B>,
    text: Text<'a>,
    input: &'a [u8],
    /// The input, when it is valid UTF-8.
    utf8: Option<&'a str>,
    pos: usize,
    depth: usize,
}

impl<'a, B: JsonBuilder> JsonParser<'a, B> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn error(&self, message: &'static str) -> Error {
        Error {
            at: self.pos,
            message,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A value; whitespace before it is already skipped.
    #[inline(always)]
    fn value(&mut self) -> JsonResult<B::Value> {
        match self.peek() {
            Some(b'"') => self.string_bytes().map(B::string),
            Some(b'{') => self.object().map(B::object_value),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true").map(|()| B::boolean(true)),
            Some(b'f') => self.literal(b"false").map(|()| B::boolean(false)),
            Some(b'n') => self.literal(b"null").map(|()| B::null()),
            Some(b'-' | b'0'..=b'9') => self.number().map(Number::into_value::<B>),
            Some(_) => Err(self.error("expected value")),
            None => Err(self.error("EOF while parsing a value")),
        }
    }

    /// A string value; `self.pos` is on its opening quote.
    #[inline(always)]
    fn string_bytes(&mut self) -> JsonResult<Bytes> {
        Ok(match self.string()? {
            Str::Borrowed { start, end } => self.text.share(&self.input[start..end]),
            Str::Owned(v) => Bytes::from(v),
        })
    }

    fn enter(&mut self) -> JsonResult<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.pos += 1;
        Ok(())
    }

    fn object(&mut self) -> JsonResult<B::Object> {
        self.enter()?;
        // Entries are collected in input order and sorted once at the end
        // (`ObjectMap::from_entries`, where the last duplicate wins).
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(B::object(Vec::new()));
        }
        let mut map: Vec<(B::Key, B::Value)> = Vec::with_capacity(12);
        loop {
            match self.peek() {
                Some(b'"') => {}
                Some(_) => return Err(self.error("key must be a string")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            let key = self.string()?;
            let key = match &key {
                Str::Borrowed { start, end } => match self.utf8.and_then(|s| s.get(*start..*end)) {
                    Some(s) => B::key(s),
                    None => key_string::<B>(&self.input[*start..*end]),
                },
                Str::Owned(v) => key_string::<B>(v),
            };
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.pos += 1,
                Some(_) => return Err(self.error("expected `:`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            self.skip_whitespace();
            // Of duplicated keys, the last wins. Strings and numbers, the
            // usual values, are built right where they are inserted: moving
            // a `Value` out of a `Result<Value>` measured slower.
            match self.peek() {
                Some(b'"') => {
                    let bytes = self.string_bytes()?;
                    map.push((key, B::string(bytes)));
                }
                Some(b'-' | b'0'..=b'9') => {
                    let number = self.number()?;
                    map.push((key, number.into_value::<B>()));
                }
                _ => {
                    let value = self.value()?;
                    map.push((key, value));
                }
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return Err(self.error("expected `,` or `}`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
        }
        self.depth -= 1;
        Ok(B::object(map))
    }

    fn array(&mut self) -> JsonResult<B::Value> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(B::array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return Err(self.error("expected `,` or `]`")),
                None => return Err(self.error("EOF while parsing a list")),
            }
        }
        self.depth -= 1;
        Ok(B::array(items))
    }

    fn literal(&mut self, word: &'static [u8]) -> JsonResult<()> {
        for &expected in word {
            match self.peek() {
                Some(b) if b == expected => self.pos += 1,
                Some(_) => return Err(self.error("expected ident")),
                None => return Err(self.error("EOF while parsing a value")),
            }
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> JsonResult<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error("invalid number"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            Some(_) => return Err(self.error("invalid number")),
            None => return Err(self.error("EOF while parsing a value")),
        }
        let int_end = self.pos;
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.eof_or("invalid number"));
            }
            integral = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.eof_or("invalid number"));
            }
            integral = false;
        }
        if integral {
            let digits = &self.input[start + usize::from(negative)..int_end];
            if let Some(n) = small_integer(digits, negative) {
                return Ok(Number::Integer(n));
            }
        }
        // Only ASCII digits, signs, `.` and `e` were accepted above, so
        // this is a valid float for `str::parse` too.
        let number = std::str::from_utf8(&self.input[start..self.pos])
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|f| f.is_finite());
        match number {
            Some(f) => Ok(Number::Float(f)),
            None => Err(Error {
                at: start,
                message: "number out of range",
            }),
        }
    }

    fn eof_or(&self, message: &'static str) -> Error {
        if self.pos >= self.input.len() {
            self.error("EOF while parsing a value")
        } else {
            self.error(message)
        }
    }

    /// A string; `self.pos` is on its opening quote.
    #[inline(always)]
    fn string(&mut self) -> JsonResult<Str> {
        let start = self.pos + 1;
        let rest = self.input.get(start..).unwrap_or_default();
        let (len, high) = scan_string(rest);
        let Some(&end) = rest.get(len) else {
            self.pos = self.input.len();
            return Err(self.error("EOF while parsing a string"));
        };
        if high & 0x80 != 0 && self.utf8.is_none() {
            check_utf8(&rest[..len], start)?;
        }
        self.pos = start + len;
        match end {
            b'"' => {
                self.pos += 1;
                Ok(Str::Borrowed {
                    start,
                    end: start + len,
                })
            }
            b'\\' => self.escaped_string(start),
            _ => Err(self.control_character()),
        }
    }

    fn control_character(&self) -> Error {
        self.error("control character (\\u0000-\\u001F) found while parsing a string")
    }

    /// The rest of a string that has escapes, from the first backslash at
    /// `self.pos`; `start` is where its content begins, and the content up
    /// to `self.pos` is already checked.
    #[cold]
    fn escaped_string(&mut self, start: usize) -> JsonResult<Str> {
        let mut out = Vec::with_capacity(self.pos - start + 16);
        out.extend_from_slice(&self.input[start..self.pos]);
        loop {
            // On a backslash.
            self.pos += 1;
            self.escape(&mut out)?;
            let chunk_start = self.pos;
            let rest = self.input.get(chunk_start..).unwrap_or_default();
            let (len, high) = scan_string(rest);
            let Some(&end) = rest.get(len) else {
                self.pos = self.input.len();
                return Err(self.error("EOF while parsing a string"));
            };
            let chunk = &rest[..len];
            if high & 0x80 != 0 && self.utf8.is_none() {
                check_utf8(chunk, chunk_start)?;
            }
            out.extend_from_slice(chunk);
            self.pos = chunk_start + len;
            match end {
                b'"' => {
                    self.pos += 1;
                    return Ok(Str::Owned(out));
                }
                b'\\' => {}
                _ => return Err(self.control_character()),
            }
        }
    }

    /// One escape; `self.pos` is just past its backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> JsonResult<()> {
        let Some(&c) = self.input.get(self.pos) else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos += 1;
        let byte = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape(out),
            _ => {
                self.pos -= 1;
                return Err(self.error("invalid escape"));
            }
        };
        out.push(byte);
        Ok(())
    }

    /// `\uXXXX`, and the `\uXXXX` of the low surrogate after a high one.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> JsonResult<()> {
        let high = self.hex4()?;
        let code = match high {
            0xDC00..=0xDFFF => return Err(self.error("lone leading surrogate in hex escape")),
            0xD800..=0xDBFF => {
                if self.input.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(match self.peek() {
                        None => self.error("EOF while parsing a string"),
                        Some(_) => self.error("unexpected end of hex escape"),
                    });
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x1_0000 + ((u32::from(high) - 0xD800) << 10 | (u32::from(low) - 0xDC00))
            }
            other => u32::from(other),
        };
        let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> JsonResult<u16> {
        let mut n: u16 = 0;
        for _ in 0..4 {
            let Some(&b) = self.input.get(self.pos) else {
                return Err(self.error("EOF while parsing a string"));
            };
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return Err(self.error("invalid escape")),
            };
            n = n << 4 | u16::from(digit);
            self.pos += 1;
        }
        Ok(n)
    }
}

/// The length of the plain run at the start of `s` (up to a `"`, a
/// backslash, a control character or the end) and the OR of its bytes (bit
/// 7 set when it holds non-ASCII bytes). Eight bytes at a time while none
/// of them is special.
fn scan_string(s: &[u8]) -> (usize, u8) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// Bit 7 of each byte that is zero (or, after a zero byte, possibly
    /// set for others: any() is exact, positions are not).
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGHS
    }
    let mut i = 0;
    let mut high = 0u64;
    while let Some(word) = s.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*word);
        let special = zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS);
        if special != 0 {
            break;
        }
        high |= x;
        i += 8;
    }
    let mut high = if high & HIGHS != 0 { 0x80 } else { 0 };
    while let Some(&b) = s.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        high |= b;
        i += 1;
    }
    (i, high)
}

/// A key from a string's content, already checked to be UTF-8 (so the
/// lossy branch is never taken).
fn key_string<B: JsonBuilder>(content: &[u8]) -> B::Key {
    B::key(&String::from_utf8_lossy(content))
}

/// Checks a string's content, which starts at `start` in the input.
fn check_utf8(content: &[u8], start: usize) -> JsonResult<()> {
    match std::str::from_utf8(content) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error {
            at: start + e.valid_up_to(),
            message: "invalid unicode code point",
        }),
    }
}

/// The integer written as `digits` (ASCII digits, no sign), negated when
/// `negative`, if it fits an `i64`; `-0` does not (it is a float).
fn small_integer(digits: &[u8], negative: bool) -> Option<i64> {
    if digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if n == 0 {
            return None;
        }
        0i64.checked_sub_unsigned(n)
    } else {
        i64::try_from(n).ok()
    }
}
