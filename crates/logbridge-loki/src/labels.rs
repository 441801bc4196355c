//! [`LabelSet`]: a Loki stream's labels, and their text form
//! (`{app="api", env="prod"}`), parsed and rendered by hand.
//!
//! A label set is kept sorted by name with unique, valid names, so two sets
//! with the same pairs are equal (and hash alike) whatever order they were
//! given in: the encoder groups records into streams by this equality.
//!
//! The text form follows the PromQL selector syntax that Loki parses:
//! identifiers for names, and Go-style quoted strings for values (`"..."`
//! and `'...'` with backslash escapes, or raw `` `...` ``). Rendering uses
//! double quotes and escapes only what must be escaped, so Loki reads the
//! value back unchanged.

use std::fmt;

use logbridge_event::{KeyString, ObjectMap, Resource, Value};

/// Why a label set is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("expected {expected} at byte {offset}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("invalid escape sequence at byte {offset}")]
    Escape { offset: usize },
    #[error("label value of `{name}` is not valid utf-8")]
    InvalidUtf8 { name: String },
    #[error("the label set is not valid utf-8")]
    NotUtf8,
    #[error("label value of `{name}` is not a string")]
    NotAString { name: String },
    #[error("invalid label name `{0}`")]
    InvalidName(String),
    #[error("duplicate label name `{0}`")]
    DuplicateName(String),
    #[error("a stream needs at least one label")]
    Empty,
}

/// Label names as Loki accepts them: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `name` made into a valid label name: every other character becomes `_`,
/// and a leading digit (or an empty name) gets a `_` before it. Valid
/// names come back unchanged, so labels read from Loki keep their names.
pub fn sanitize_label_name(name: &str) -> KeyString {
    if is_valid_label_name(name) {
        return KeyString::new(name);
    }
    let mut out = KeyString::default();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// A stream's labels: sorted by name, names unique and valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LabelSet {
    pairs: Vec<(KeyString, String)>,
}

impl LabelSet {
    pub fn new() -> LabelSet {
        LabelSet::default()
    }

    /// A set from pairs in any order; an invalid or repeated name is an
    /// error (Loki rejects both).
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<LabelSet, LabelError>
    where
        N: Into<KeyString>,
        V: Into<String>,
    {
        let mut pairs: Vec<(KeyString, String)> = pairs
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        if let Some((name, _)) = pairs.iter().find(|(n, _)| !is_valid_label_name(n)) {
            return Err(LabelError::InvalidName(name.to_string()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(LabelError::DuplicateName(w[0].0.to_string()));
        }
        Ok(LabelSet { pairs })
    }

    /// Sets `name` to `value`; returns the value it replaced.
    pub fn insert(
        &mut self,
        name: impl Into<KeyString>,
        value: impl Into<String>,
    ) -> Result<Option<String>, LabelError> {
        let name = name.into();
        if !is_valid_label_name(&name) {
            return Err(LabelError::InvalidName(name.to_string()));
        }
        let value = value.into();
        match self.pairs.binary_search_by(|(n, _)| n.as_str().cmp(&name)) {
            Ok(i) => Ok(Some(std::mem::replace(&mut self.pairs[i].1, value))),
            Err(i) => {
                self.pairs.insert(i, (name, value));
                Ok(None)
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| self.pairs[i].1.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Pairs in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The labels of a resource: its attributes, names sanitized (see
    /// [`sanitize_label_name`]; of two attributes that sanitize to the same
    /// name the first in key order wins), values as text, nulls left out.
    pub fn from_resource(resource: &Resource) -> LabelSet {
        LabelSet::from_attributes(&resource.attributes)
    }

    /// Like [`LabelSet::from_resource`], from any map.
    pub fn from_attributes(map: &ObjectMap) -> LabelSet {
        let mut pairs: Vec<(KeyString, String)> = Vec::with_capacity(map.len());
        for (name, value) in map {
            if value.is_null() {
                continue;
            }
            pairs.push((
                sanitize_label_name(name),
                value.to_string_lossy().into_owned(),
            ));
        }
        // Stable: among names that sanitized alike, key order is kept.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, kept| later.0 == kept.0);
        LabelSet { pairs }
    }

    /// The labels as a map of string values (the decoder's resource
    /// attributes).
    pub fn to_attributes(&self) -> ObjectMap {
        // Already sorted by name, which is the map's order too.
        ObjectMap::from_entries(
            self.pairs
                .iter()
                .map(|(n, v)| (n.clone(), Value::from(v.as_str())))
                .collect(),
        )
    }

    /// Parses the text form, `{name="value", ...}`.
    pub fn parse(text: &str) -> Result<LabelSet, LabelError> {
        Parser { text, pos: 0 }.label_set()
    }
}

impl fmt::Display for LabelSet {
    /// The text form, as Loki writes it: `{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
            f.write_str("=\"")?;
            write_escaped(value, f)?;
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// Escapes `value` for a double-quoted label value. Printable text,
/// non-ASCII included, is written as is; control characters get escapes
/// that every Go-style string parser reads.
fn write_escaped(value: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 | 0x7f => "",
            _ => continue,
        };
        f.write_str(&value[start..i])?;
        if escape.is_empty() {
            write!(f, "\\x{b:02x}")?;
        } else {
            f.write_str(escape)?;
        }
        start = i + 1;
    }
    f.write_str(&value[start..])
}

/// A recursive-descent parser over the text form; `pos` is a byte offset.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), LabelError> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn error(&self, expected: &'static str) -> LabelError {
        LabelError::Syntax {
            offset: self.pos,
            expected,
        }
    }

    fn label_set(mut self) -> Result<LabelSet, LabelError> {
        self.expect(b'{', "`{`")?;
        let mut pairs = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let name = self.name()?;
            self.expect(b'=', "`=` after a label name")?;
            self.skip_space();
            let value = self.quoted(&name)?;
            pairs.push((name, value));
            self.skip_space();
            match self.peek() {
                // A trailing comma before `}` is allowed, as in PromQL.
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.error("`,` or `}`")),
            }
        }
        self.skip_space();
        if self.pos != self.text.len() {
            return Err(self.error("the end after `}`"));
        }
        LabelSet::from_pairs(pairs)
    }

    fn name(&mut self) -> Result<KeyString, LabelError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        let name = &self.text[start..self.pos];
        if name.is_empty() {
            self.pos = start;
            return Err(self.error("a label name"));
        }
        if !is_valid_label_name(name) {
            return Err(LabelError::InvalidName(name.to_string()));
        }
        Ok(KeyString::new(name))
    }

    /// A quoted value, the opening quote at `pos`.
    fn quoted(&mut self, name: &str) -> Result<String, LabelError> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'' | b'`')) => q,
            _ => return Err(self.error("a quoted label value")),
        };
        self.pos += 1;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let Some(len) = bytes[start..]
            .iter()
            .position(|&b| b == quote || (b == b'\\' && quote != b'`'))
        else {
            self.pos = self.text.len();
            return Err(self.error("a closing quote"));
        };
        if bytes[start + len] == quote {
            // No escapes: the common case, one copy.
            self.pos = start + len + 1;
            return Ok(self.text[start..start + len].to_string());
        }
        let mut out: Vec<u8> = bytes[start..start + len].to_vec();
        self.pos = start + len;
        loop {
            match self.peek() {
                None => return Err(self.error("a closing quote")),
                Some(b) if b == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // `\x` and octal escapes write raw bytes, which may not be UTF-8.
        String::from_utf8(out).map_err(|_| LabelError::InvalidUtf8 {
            name: name.to_string(),
        })
    }

    /// One backslash escape, the backslash at `pos`: Go's set.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), LabelError> {
        let at = self.pos;
        let bad = LabelError::Escape { offset: at };
        let bytes = self.text.as_bytes();
        let Some(&kind) = bytes.get(at + 1) else {
            return Err(bad);
        };
        let simple = match kind {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\\' | b'"' | b'\'' => Some(kind),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            self.pos = at + 2;
            return Ok(());
        }
        let (digits, radix) = match kind {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => (3, 8),
            _ => return Err(bad),
        };
        let first = if radix == 8 { at + 1 } else { at + 2 };
        let code = bytes
            .get(first..first + digits)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            .ok_or(bad.clone())?;
        match kind {
            b'x' | b'0'..=b'7' => out.push(u8::try_from(code).map_err(|_| bad)?),
            _ => {
                let c = char::from_u32(code).ok_or(bad)?;
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
        self.pos = first + digits;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        LabelSet::from_pairs(pairs.iter().map(|&(n, v)| (n, v))).unwrap()
    }

    #[test]
    fn parses_and_sorts() {
        assert_eq!(
            LabelSet::parse(r#"{job="api", app="b"}"#).unwrap(),
            set(&[("app", "b"), ("job", "api")])
        );
        assert_eq!(
            LabelSet::parse(" { a = 'x' ,b=`raw\\n`, } ").unwrap(),
            set(&[("a", "x"), ("b", "raw\\n")])
        );
        assert_eq!(LabelSet::parse("{}").unwrap(), LabelSet::new());
    }

    #[test]
    fn parses_escapes() {
        let got = LabelSet::parse(r#"{a="d\"e\\f\n\t\x41\101\u00e9\U0001F600'"}"#).unwrap();
        assert_eq!(got.get("a"), Some("d\"e\\f\n\tAAé😀'"));
        assert_eq!(
            LabelSet::parse(r#"{a='it\'s'}"#).unwrap().get("a"),
            Some("it's")
        );
    }

    #[test]
    fn rejects_malformed_sets() {
        let cases: &[(&str, LabelError)] = &[
            (
                "",
                LabelError::Syntax {
                    offset: 0,
                    expected: "`{`",
                },
            ),
            (
                r#"{a="b""#,
                LabelError::Syntax {
                    offset: 6,
                    expected: "`,` or `}`",
                },
            ),
            (
                r#"{a="b}"#,
                LabelError::Syntax {
                    offset: 6,
                    expected: "a closing quote",
                },
            ),
            (
                r#"{a=~"b"}"#,
                LabelError::Syntax {
                    offset: 3,
                    expected: "a quoted label value",
                },
            ),
            (
                r#"{="b"}"#,
                LabelError::Syntax {
                    offset: 1,
                    expected: "a label name",
                },
            ),
            (r#"{1a="b"}"#, LabelError::InvalidName("1a".into())),
            (r#"{a="b", a="c"}"#, LabelError::DuplicateName("a".into())),
            (r#"{a="\q"}"#, LabelError::Escape { offset: 4 }),
            (r#"{a="\x4"}"#, LabelError::Escape { offset: 4 }),
            (r#"{a="\777"}"#, LabelError::Escape { offset: 4 }),
            (r#"{a="\uD800"}"#, LabelError::Escape { offset: 4 }),
            (
                r#"{a="\xff"}"#,
                LabelError::InvalidUtf8 { name: "a".into() },
            ),
            (
                r#"{a="b"} x"#,
                LabelError::Syntax {
                    offset: 8,
                    expected: "the end after `}`",
                },
            ),
            (
                r#"{a="b",,}"#,
                LabelError::Syntax {
                    offset: 7,
                    expected: "a label name",
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&LabelSet::parse(text).unwrap_err(), expected, "{text}");
        }
    }

    #[test]
    fn renders_as_loki_does_and_reads_back() {
        let labels = set(&[("job", "a\"b\\c\nd\u{1}é"), ("app", "x")]);
        let text = labels.to_string();
        assert_eq!(text, r#"{app="x", job="a\"b\\c\nd\x01é"}"#);
        assert_eq!(LabelSet::parse(&text).unwrap(), labels);
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(sanitize_label_name("service.name"), "service_name");
        assert_eq!(sanitize_label_name("9lives"), "_9lives");
        assert_eq!(sanitize_label_name(""), "_");
        assert_eq!(sanitize_label_name("ok_1"), "ok_1");
        let mut map = ObjectMap::new();
        map.insert("a.b".into(), "first".into());
        map.insert("a_b".into(), "second".into());
        map.insert("n".into(), Value::Integer(3));
        map.insert("gone".into(), Value::Null);
        let labels = LabelSet::from_attributes(&map);
        assert_eq!(labels, set(&[("a_b", "first"), ("n", "3")]));
    }

    #[test]
    fn insert_keeps_order_and_validates() {
        let mut labels = LabelSet::new();
        assert_eq!(labels.insert("b", "1"), Ok(None));
        assert_eq!(labels.insert("a", "2"), Ok(None));
        assert_eq!(labels.insert("b", "3"), Ok(Some("1".into())));
        assert_eq!(labels.to_string(), r#"{a="2", b="3"}"#);
        assert!(labels.insert("a-b", "x").is_err());
        assert_eq!(
            LabelSet::from_pairs([("b", "1"), ("b", "2")]),
            Err(LabelError::DuplicateName("b".into()))
        );
    }
}
