//! Counting what a request will build before building it: the events, the
//! nodes below them (attributes, labels, JSON values, nested messages) and
//! the bytes decoding copies, for a [`Charge`](super::Charge) to pay for.
//!
//! Each count is a single pass over the decoded body that allocates
//! nothing per item, so a body that would build millions of events costs
//! a scan, not the events: [`lines`] for line-oriented bodies, [`json`]
//! for JSON (events found by a path of keys, nodes by structural tokens),
//! and [`protobuf`] for protobuf, read against a [`Message`] table of the
//! fields that build something. The counts are upper bounds of what the
//! decoders build for well-formed input; a body the count cannot read is
//! refused as the decoder would refuse it (400). Nothing here decodes.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::HttpError;

/// What decoding a request will build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Events.
    pub events: usize,
    /// Things below events that take an allocation or an entry each.
    pub nodes: usize,
    /// Bytes decoding copies out of the body (with what each copy costs
    /// beyond its length).
    pub copied: usize,
}

/// The non-empty lines of a body (`\n` or `\r\n` ended): the events of a
/// line-oriented body.
pub fn lines(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|line| !matches!(line, [] | [b'\r']))
        .count()
}

/// A JSON body (or newline-delimited JSON values): nodes are its
/// structural tokens (each value and key takes at most one), copied bytes
/// its length, and events the elements of the arrays found by following
/// `path` from the top: each step names the keys (any of them) to go down
/// through objects, arrays on the way are gone through element by
/// element, and the array the path ends at is counted, or 1 for an object
/// there. An empty path counts the top-level array's elements (or 1 for
/// an object). For newline-delimited JSON the caller counts events by
/// [`lines`].
pub fn json(body: &[u8], path: &[&[&str]]) -> Result<Census, HttpError> {
    let mut events = 0;
    let mut reader = serde_json::Deserializer::from_slice(body);
    Count {
        path,
        events: &mut events,
    }
    .deserialize(&mut reader)
    .and_then(|()| reader.end())
    .map_err(|e| HttpError::bad_request(format!("invalid JSON: {e}")))?;
    Ok(Census {
        events,
        nodes: json_tokens(body),
        copied: body.len(),
    })
}

/// Structural tokens outside strings, plus one for the top value: an upper
/// bound of the values and keys a JSON text holds. Raw newlines cannot
/// stand inside a JSON string, so a line ends any string (which keeps the
/// count right for newline-delimited JSON with a broken line).
pub fn json_tokens(body: &[u8]) -> usize {
    let mut tokens = 1;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' | b'\n' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' | b',' | b':' => tokens += 1,
                _ => {}
            }
        }
    }
    tokens
}

/// Follows a path of keys through a JSON value, counting what it ends at.
struct Count<'a> {
    path: &'a [&'a [&'a str]],
    events: &'a mut usize,
}

/// An object key, borrowed from the body unless it has escapes.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.path.is_empty() {
            while seq.next_element::<IgnoredAny>()?.is_some() {
                *self.events += 1;
            }
        } else {
            while seq
                .next_element_seed(Count {
                    path: self.path,
                    events: &mut *self.events,
                })?
                .is_some()
            {}
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((step, rest)) = self.path.split_first() else {
            *self.events += 1;
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        while let Some(Key(key)) = map.next_key()? {
            if step.contains(&key.as_ref()) {
                map.next_value_seed(Count {
                    path: rest,
                    events: &mut *self.events,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A protobuf message type as a census reads it: the fields that build
/// something when decoded (others are skipped, as decoders skip them).
pub struct Message {
    pub fields: &'static [(u32, Field)],
}

/// What a field of a [`Message`] builds.
#[derive(Clone, Copy)]
pub enum Field {
    /// A repeated nested message (one node: an element of a vector, and
    /// what the event model makes of it), read with its own table.
    Message(&'static Message),
    /// A singular nested message, held inside its parent (no node of its
    /// own), read with its own table.
    Inline(&'static Message),
    /// A nested message that becomes one event.
    Event(&'static Message),
    /// A string or bytes field: an allocation of its length.
    Bytes,
    /// A repeated varint field: a packed byte may become eight.
    Varints,
    /// A repeated fixed-size field (`fixed64`, `double`).
    Fixed,
}

/// What an allocation costs beyond its length (the allocator's rounding
/// and bookkeeping, a second small copy).
const ALLOCATION_BYTES: usize = 32;

/// Protobuf nests at most this deep, as prost decodes it.
const MAX_DEPTH: usize = 100;

/// Reads a protobuf body against `root`, counting its events, nodes and
/// copied bytes. A body that is not protobuf is refused (400).
pub fn protobuf(body: &[u8], root: &Message) -> Result<Census, HttpError> {
    let mut census = Census::default();
    walk(body, root, 0, &mut census)
        .map_err(|reason| HttpError::bad_request(format!("invalid protobuf: {reason}")))?;
    Ok(census)
}

fn walk(buf: &[u8], message: &Message, depth: usize, out: &mut Census) -> Result<(), &'static str> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply");
    }
    let mut cursor = Cursor { buf, at: 0 };
    while !cursor.done() {
        let (number, wire) = cursor.key()?;
        let field = message
            .fields
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, f)| *f);
        match wire {
            0 => {
                cursor.varint()?;
                if matches!(field, Some(Field::Varints)) {
                    out.copied += 8;
                }
            }
            1 | 5 => {
                cursor.take(if wire == 1 { 8 } else { 4 })?;
                if matches!(field, Some(Field::Fixed)) {
                    out.copied += 8;
                }
            }
            2 => {
                let len = usize::try_from(cursor.varint()?).map_err(|_| "length too large")?;
                let payload = cursor.take(len)?;
                match field {
                    Some(Field::Message(m)) => {
                        out.nodes += 1;
                        walk(payload, m, depth + 1, out)?;
                    }
                    Some(Field::Inline(m)) => walk(payload, m, depth + 1, out)?,
                    Some(Field::Event(m)) => {
                        out.events += 1;
                        walk(payload, m, depth + 1, out)?;
                    }
                    Some(Field::Bytes) => out.copied += len + ALLOCATION_BYTES,
                    Some(Field::Varints) => out.copied += len.saturating_mul(8),
                    Some(Field::Fixed) => out.copied += len,
                    None => {}
                }
            }
            3 => cursor.skip_group(number, depth)?,
            _ => return Err("invalid wire type"),
        }
    }
    Ok(())
}

/// A position in a protobuf buffer.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.at >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let &byte = self.buf.get(self.at).ok_or("truncated varint")?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift.min(63);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long")
    }

    fn key(&mut self) -> Result<(u32, u64), &'static str> {
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number too large")?;
        if number == 0 {
            return Err("field number 0");
        }
        Ok((number, key & 7))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], &'static str> {
        let end = self.at.checked_add(len).ok_or("length too large")?;
        let bytes = self.buf.get(self.at..end).ok_or("truncated field")?;
        self.at = end;
        Ok(bytes)
    }

    /// Skips a (deprecated) group up to its end tag; groups build nothing
    /// a census counts.
    fn skip_group(&mut self, number: u32, depth: usize) -> Result<(), &'static str> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply");
        }
        loop {
            if self.done() {
                return Err("unterminated group");
            }
            let (inner, wire) = self.key()?;
            match wire {
                0 => drop(self.varint()?),
                1 => drop(self.take(8)?),
                5 => drop(self.take(4)?),
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
                    self.take(len)?;
                }
                3 => self.skip_group(inner, depth + 1)?,
                4 if inner == number => return Ok(()),
                _ => return Err("invalid wire type"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LEAF: Message = Message {
        fields: &[(1, Field::Bytes), (2, Field::Varints)],
    };
    static ROOT: Message = Message {
        fields: &[(1, Field::Event(&LEAF)), (2, Field::Message(&ROOT))],
    };

    #[test]
    fn lines_are_the_non_empty_ones() {
        assert_eq!(lines(b""), 0);
        assert_eq!(lines(b"a\nb"), 2);
        assert_eq!(lines(b"a\r\n\r\n\nb\n"), 2);
        assert_eq!(lines(&b"x\n".repeat(1000)), 1000);
    }

    #[test]
    fn json_events_follow_the_path_and_tokens_bound_the_values() {
        let body = br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"],["2","y"]]},{"values":[["3","z"]]}]}"#;
        let c = json(body, &[&["streams"], &["values"]]).unwrap();
        assert_eq!(c.events, 3);
        assert!(c.nodes >= 20, "{c:?}");
        let metrics = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
            {"name":"a","gauge":{"dataPoints":[{},{}]}},
            {"name":"b","sum":{"dataPoints":[{}]}}]}]}]}"#;
        let path: &[&[&str]] = &[
            &["resourceMetrics"],
            &["scopeMetrics"],
            &["metrics"],
            &["gauge", "sum"],
            &["dataPoints"],
        ];
        assert_eq!(json(metrics, path).unwrap().events, 3);
        assert_eq!(json(b"[{},{},{}]", &[]).unwrap().events, 3);
        assert_eq!(json(br#"{"a":1}"#, &[]).unwrap().events, 1);
        assert_eq!(json_tokens(br#"{"a,b:":"[{"}"#), 3);
        assert!(json(b"[{]", &[]).is_err());
        assert!(json(b"[] x", &[]).is_err());
    }

    #[test]
    fn protobuf_counts_events_nodes_and_copies() {
        // ROOT { 1: LEAF { 1: "abc", 2: [1, 2] }, 2: ROOT { 1: LEAF {} }, 9: 5 }
        let body = [
            0x0a, 0x09, 0x0a, 0x03, b'a', b'b', b'c', 0x12, 0x02, 0x01, 0x02, 0x12, 0x02, 0x0a,
            0x00, 0x48, 0x05,
        ];
        let c = protobuf(&body, &ROOT).unwrap();
        assert_eq!(
            c,
            Census {
                events: 2,
                nodes: 1,
                copied: 3 + ALLOCATION_BYTES + 16
            }
        );
        assert!(protobuf(&[0x0a, 0x05, 0x00], &ROOT).is_err());
        assert!(protobuf(&[0x07], &ROOT).is_err());
        // A group is skipped whole.
        assert_eq!(
            protobuf(&[0x1b, 0x08, 0x01, 0x1c], &ROOT).unwrap(),
            Census::default()
        );
        // Nesting beyond what prost decodes is refused, not recursed into.
        fn wrap(inner: Vec<u8>) -> Vec<u8> {
            let mut out = vec![0x12];
            let mut n = inner.len();
            while n >= 0x80 {
                out.push((n as u8) | 0x80);
                n >>= 7;
            }
            out.push(n as u8);
            out.extend(inner);
            out
        }
        let nest = |levels| (0..levels).fold(Vec::new(), |inner, _| wrap(inner));
        assert_eq!(protobuf(&nest(50), &ROOT).unwrap().nodes, 50);
        assert!(protobuf(&nest(150), &ROOT).is_err());
    }
}
