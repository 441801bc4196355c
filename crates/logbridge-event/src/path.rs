//! Paths into events: `.a.b`, `."odd key"`, `.list[0]` address a log's
//! fields; `%name` addresses its OpenTelemetry metadata (`%timestamp`,
//! `%severity_text`, `%resource."service.name"`, ...).
//!
//! The same syntax is used by config options that name a field and by the
//! condition language, which parses paths with [`Path::parse_prefix`].

use std::fmt;

use crate::value::{KeyString, ObjectMap, Value};

/// Which part of an event a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// `.`: the event's fields (for logs: `.message` is the body, every other
    /// top-level name an attribute).
    Event,
    /// `%`: metadata kept outside the fields (timestamps, severity, trace
    /// context, resource and scope).
    Metadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Field(KeyString),
    /// An array index; negative counts from the end.
    Index(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub root: PathRoot,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError {
    /// Byte offset in the parsed text where the problem is.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

impl std::error::Error for PathError {}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

impl Path {
    /// A path into the event's fields, from plain segment names.
    pub fn field(names: &[&str]) -> Path {
        Path {
            root: PathRoot::Event,
            segments: names
                .iter()
                .map(|n| Segment::Field(KeyString::new(n)))
                .collect(),
        }
    }

    /// `.message`, where a raw line lands.
    pub fn message() -> Path {
        Path::field(&["message"])
    }

    /// Parses a whole path. A bare name without a leading `.` (as config
    /// options such as `field = "message"` are often written) is accepted.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let trimmed = text.trim();
        let owned;
        let src = if trimmed.starts_with('.') || trimmed.starts_with('%') {
            trimmed
        } else {
            owned = format!(".{trimmed}");
            owned.as_str()
        };
        let (path, used) = Path::parse_prefix(src)?;
        if used != src.len() {
            return Err(PathError {
                offset: used,
                message: format!("unexpected `{}` in path", &src[used..]),
            });
        }
        Ok(path)
    }

    /// Parses the longest path at the start of `text`; returns it and the
    /// number of bytes used. `text` must start with `.` or `%`.
    pub fn parse_prefix(text: &str) -> Result<(Path, usize), PathError> {
        let b = text.as_bytes();
        let root = match b.first() {
            Some(b'.') => PathRoot::Event,
            Some(b'%') => PathRoot::Metadata,
            _ => {
                return Err(PathError {
                    offset: 0,
                    message: "a path starts with `.` or `%`".into(),
                });
            }
        };
        let mut i = 1;
        let mut segments = Vec::new();
        // The first segment follows the root sigil directly (`.a`, `%a`, `."a"`).
        let mut need_field = true;
        loop {
            if need_field {
                match b.get(i) {
                    Some(b'"') => {
                        let (name, used) = parse_quoted(text, i)?;
                        segments.push(Segment::Field(name));
                        i += used;
                    }
                    Some(&c) if is_ident_char(c) => {
                        let start = i;
                        while i < b.len() && is_ident_char(b[i]) {
                            i += 1;
                        }
                        segments.push(Segment::Field(KeyString::new(&text[start..i])));
                    }
                    _ if segments.is_empty() && root == PathRoot::Event => {
                        // `.` alone is the root of the event.
                    }
                    _ => {
                        return Err(PathError {
                            offset: i,
                            message: "expected a field name after `.`".into(),
                        });
                    }
                }
                need_field = false;
            }
            match b.get(i) {
                Some(b'.') if segments.is_empty() => break,
                Some(b'.') => {
                    i += 1;
                    need_field = true;
                }
                Some(b'[') => {
                    let close = text[i..].find(']').ok_or(PathError {
                        offset: i,
                        message: "unclosed `[`".into(),
                    })?;
                    let inner = text[i + 1..i + close].trim();
                    let idx: i64 = inner.parse().map_err(|_| PathError {
                        offset: i + 1,
                        message: format!("`{inner}` is not an array index"),
                    })?;
                    segments.push(Segment::Index(idx));
                    i += close + 1;
                }
                _ => break,
            }
        }
        Ok((Path { root, segments }, i))
    }

    /// The first segment's field name, if any.
    pub fn first_field(&self) -> Option<&str> {
        match self.segments.first() {
            Some(Segment::Field(f)) => Some(f.as_str()),
            _ => None,
        }
    }
}

fn parse_quoted(text: &str, start: usize) -> Result<(KeyString, usize), PathError> {
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((j, c)) = chars.next() {
        match c {
            '"' => return Ok((KeyString::from(out), j + 2)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => out.push(e),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                _ => {
                    return Err(PathError {
                        offset: start + 1 + j,
                        message: "invalid escape in quoted field name".into(),
                    });
                }
            },
            c => out.push(c),
        }
    }
    Err(PathError {
        offset: start,
        message: "unterminated quoted field name".into(),
    })
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sigil = match self.root {
            PathRoot::Event => '.',
            PathRoot::Metadata => '%',
        };
        if self.segments.is_empty() {
            return write!(f, "{sigil}");
        }
        for (n, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Field(name) => {
                    if n == 0 {
                        write!(f, "{sigil}")?;
                    } else {
                        f.write_str(".")?;
                    }
                    if !name.is_empty() && name.bytes().all(is_ident_char) {
                        f.write_str(name)?;
                    } else {
                        write!(f, "{:?}", name.as_str())?;
                    }
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn resolve_index(len: usize, i: i64) -> Option<usize> {
    if i >= 0 {
        let i = i as usize;
        (i < len).then_some(i)
    } else {
        let back = i.unsigned_abs() as usize;
        len.checked_sub(back)
    }
}

impl Value {
    /// The value at `segments` below this one.
    pub fn get_path(&self, segments: &[Segment]) -> Option<&Value> {
        let mut cur = self;
        for seg in segments {
            cur = match (seg, cur) {
                (Segment::Field(k), Value::Object(m)) => m.get(k.as_str())?,
                (Segment::Index(i), Value::Array(a)) => a.get(resolve_index(a.len(), *i)?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    pub fn get_path_mut(&mut self, segments: &[Segment]) -> Option<&mut Value> {
        let mut cur = self;
        for seg in segments {
            cur = match (seg, cur) {
                (Segment::Field(k), Value::Object(m)) => m.get_mut(k.as_str())?,
                (Segment::Index(i), Value::Array(a)) => {
                    let idx = resolve_index(a.len(), *i)?;
                    a.get_mut(idx)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Sets the value at `segments`, creating objects (and growing arrays with
    /// nulls) on the way; a scalar in the way is replaced. Returns the old
    /// value.
    pub fn insert_path(&mut self, segments: &[Segment], value: Value) -> Option<Value> {
        let Some((last, parents)) = segments.split_last() else {
            return Some(std::mem::replace(self, value));
        };
        let mut cur = self;
        for seg in parents {
            cur = step_or_create(cur, seg);
        }
        match last {
            Segment::Field(k) => {
                if !matches!(cur, Value::Object(_)) {
                    *cur = Value::Object(ObjectMap::new());
                }
                match cur {
                    Value::Object(m) => m.insert(k.clone(), value),
                    _ => None,
                }
            }
            Segment::Index(i) => {
                let slot = step_or_create(cur, &Segment::Index(*i));
                Some(std::mem::replace(slot, value)).filter(|v| !v.is_null())
            }
        }
    }

    /// Removes and returns the value at `segments`.
    pub fn remove_path(&mut self, segments: &[Segment]) -> Option<Value> {
        let (last, parents) = segments.split_last()?;
        let parent = self.get_path_mut(parents)?;
        match (last, parent) {
            (Segment::Field(k), Value::Object(m)) => m.remove(k.as_str()),
            (Segment::Index(i), Value::Array(a)) => {
                let idx = resolve_index(a.len(), *i)?;
                Some(a.remove(idx))
            }
            _ => None,
        }
    }
}

fn step_or_create<'a>(cur: &'a mut Value, seg: &Segment) -> &'a mut Value {
    match seg {
        Segment::Field(k) => {
            if !matches!(cur, Value::Object(_)) {
                *cur = Value::Object(ObjectMap::new());
            }
            let Value::Object(m) = cur else {
                unreachable!("just made an object")
            };
            m.entry(k.clone()).or_insert(Value::Null)
        }
        Segment::Index(i) => {
            if !matches!(cur, Value::Array(_)) {
                *cur = Value::Array(Vec::new());
            }
            let Value::Array(a) = cur else {
                unreachable!("just made an array")
            };
            let idx = if *i >= 0 {
                let idx = (*i as usize).min(a.len() + 65_536);
                if idx >= a.len() {
                    a.resize(idx + 1, Value::Null);
                }
                idx
            } else {
                match resolve_index(a.len(), *i) {
                    Some(idx) => idx,
                    None => {
                        a.insert(0, Value::Null);
                        0
                    }
                }
            };
            &mut a[idx]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path {
        Path::parse(s).unwrap()
    }

    #[test]
    fn parses_fields_quotes_and_indexes() {
        assert_eq!(p(".a.b").segments.len(), 2);
        assert_eq!(p("message"), Path::message());
        let q = p(r#"."odd key".x[2]"#);
        assert_eq!(
            q.segments,
            vec![
                Segment::Field("odd key".into()),
                Segment::Field("x".into()),
                Segment::Index(2)
            ]
        );
        assert_eq!(q.to_string(), r#"."odd key".x[2]"#);
        assert_eq!(p("%resource.\"service.name\"").root, PathRoot::Metadata);
        assert_eq!(p(".").segments, vec![]);
    }

    #[test]
    fn parse_prefix_stops_at_operators() {
        let (path, used) = Path::parse_prefix(".status >= 500").unwrap();
        assert_eq!(path, p(".status"));
        assert_eq!(used, 7);
    }

    #[test]
    fn rejects_bad_paths() {
        assert!(Path::parse(".a.").is_err());
        assert!(Path::parse(".a[x]").is_err());
        assert!(Path::parse(".\"open").is_err());
        assert!(Path::parse(".a b").is_err());
    }

    #[test]
    fn insert_get_remove() {
        let mut v = Value::Null;
        v.insert_path(&p(".a.b[1]").segments, Value::Integer(3));
        assert_eq!(v.get_path(&p(".a.b[1]").segments), Some(&Value::Integer(3)));
        assert_eq!(
            v.get_path(&p(".a.b[-1]").segments),
            Some(&Value::Integer(3))
        );
        assert_eq!(v.get_path(&p(".a.b[0]").segments), Some(&Value::Null));
        assert_eq!(
            v.remove_path(&p(".a.b").segments).map(|x| x.kind_name()),
            Some("array")
        );
        assert_eq!(v.get_path(&p(".a.b").segments), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Path::parse(&s);
            let _ = Path::parse_prefix(&s);
        }

        #[test]
        fn display_round_trips(names in proptest::collection::vec("[a-z_ .\"]{1,8}", 1..4)) {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let path = Path::field(&refs);
            proptest::prop_assert_eq!(Path::parse(&path.to_string()).unwrap(), path);
        }
    }
}
