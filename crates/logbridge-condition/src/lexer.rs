//! The lexer: condition source to tokens, each with its byte span.
//!
//! Paths are lexed by [`Path::parse_prefix`], so they follow exactly the
//! syntax of config options that name a field. The lexer stops at the first
//! bad character and ends the token list with an error token instead of
//! `Eof`, so that the parser reports whichever mistake comes first in the
//! source. It never panics: every slice is taken at a position it has
//! checked to be a character boundary.

use logbridge_event::Path;

use crate::error::ConditionError;
use crate::eval::CmpOp;

#[derive(Debug, Clone)]
pub(crate) enum Tok<'a> {
    Path(Path),
    /// A string literal, escapes resolved (`"..."`) or raw (`r'...'`).
    Str(String),
    Int(i64),
    Float(f64),
    Ident(&'a str),
    LParen,
    RParen,
    Comma,
    Colon,
    Not,
    And,
    Or,
    Cmp(CmpOp),
    Eof,
    /// The lexer stopped here; always the last token.
    Error(Box<ConditionError>),
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Every token of `src`, ending with `Eof` or `Error`.
pub(crate) fn tokenize(src: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(token) => {
                let eof = matches!(token.tok, Tok::Eof);
                out.push(token);
                if eof {
                    return out;
                }
            }
            Err(e) => {
                out.push(Token {
                    start: e.offset,
                    end: e.offset,
                    tok: Tok::Error(Box::new(e)),
                });
                return out;
            }
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_digit(c: Option<&u8>) -> bool {
    c.is_some_and(u8::is_ascii_digit)
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    fn next_token(&mut self) -> Result<Token<'a>, ConditionError> {
        let b = self.src.as_bytes();
        while b.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(&c) = b.get(start) else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let next = b.get(start + 1).copied();
        let (tok, end) = match (c, next) {
            (b'(', _) => (Tok::LParen, start + 1),
            (b')', _) => (Tok::RParen, start + 1),
            (b',', _) => (Tok::Comma, start + 1),
            (b':', _) => (Tok::Colon, start + 1),
            (b'!', Some(b'=')) => (Tok::Cmp(CmpOp::Ne), start + 2),
            (b'!', _) => (Tok::Not, start + 1),
            (b'=', Some(b'=')) => (Tok::Cmp(CmpOp::Eq), start + 2),
            (b'=', _) => {
                return Err(
                    ConditionError::new(start, "`=` is not an operator").hint("compare with `==`")
                );
            }
            (b'<', Some(b'=')) => (Tok::Cmp(CmpOp::Le), start + 2),
            (b'<', _) => (Tok::Cmp(CmpOp::Lt), start + 1),
            (b'>', Some(b'=')) => (Tok::Cmp(CmpOp::Ge), start + 2),
            (b'>', _) => (Tok::Cmp(CmpOp::Gt), start + 1),
            (b'&', Some(b'&')) => (Tok::And, start + 2),
            (b'&', _) => {
                return Err(ConditionError::new(start, "`&` is not an operator")
                    .hint("write `&&` for \"and\""));
            }
            (b'|', Some(b'|')) => (Tok::Or, start + 2),
            (b'|', _) => {
                return Err(ConditionError::new(start, "`|` is not an operator")
                    .hint("write `||` for \"or\""));
            }
            (b'.' | b'%', _) => self.path(start)?,
            (b'"', _) => self.string(start)?,
            (b'r', Some(b'\'')) => self.raw_string(start)?,
            (b'\'', _) => {
                return Err(ConditionError::new(
                    start,
                    "single-quoted strings are raw strings and start with `r`",
                )
                .hint("write r'...' (no escapes, for regexes) or \"...\""));
            }
            (b'-' | b'0'..=b'9', _) => self.number(start)?,
            (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
                let mut end = start;
                while b.get(end).copied().is_some_and(is_ident_byte) {
                    end += 1;
                }
                (Tok::Ident(&self.src[start..end]), end)
            }
            _ => {
                let ch = self.src[start..].chars().next().unwrap_or('?');
                return Err(ConditionError::new(
                    start,
                    format!("unexpected character `{}`", ch.escape_debug()),
                ));
            }
        };
        self.pos = end;
        Ok(Token { tok, start, end })
    }

    fn path(&self, start: usize) -> Result<(Tok<'a>, usize), ConditionError> {
        match Path::parse_prefix(&self.src[start..]) {
            Ok((path, used)) => Ok((Tok::Path(path), start + used)),
            Err(e) => {
                let mut err = ConditionError::new(start.saturating_add(e.offset), e.message);
                if self.src.as_bytes()[start] == b'%' && err.offset == start + 1 {
                    err = err.hint("name the metadata field, such as `%severity_text`");
                } else if err.message.starts_with("expected a field name") {
                    err = err.hint("quote field names with other characters: .\"user-agent\"");
                }
                Err(err)
            }
        }
    }

    fn number(&self, start: usize) -> Result<(Tok<'a>, usize), ConditionError> {
        let b = self.src.as_bytes();
        let mut i = start;
        if b[i] == b'-' {
            i += 1;
            if !is_digit(b.get(i)) {
                return Err(ConditionError::new(start, "`-` is not an operator").hint(
                    "negative numbers are written `-5`; \
                     quote field names that contain `-`: .\"user-agent\"",
                ));
            }
        }
        while is_digit(b.get(i)) {
            i += 1;
        }
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            if !is_digit(b.get(i + 1)) {
                return Err(ConditionError::new(
                    start,
                    format!("invalid number `{}.`", &self.src[start..i]),
                )
                .hint("write digits after the point, as in `1.0`"));
            }
            float = true;
            i += 1;
            while is_digit(b.get(i)) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if is_digit(b.get(j)) {
                float = true;
                i = j;
                while is_digit(b.get(i)) {
                    i += 1;
                }
            }
        }
        if b.get(i).copied().is_some_and(is_ident_byte) {
            let mut end = i;
            while b.get(end).copied().is_some_and(is_ident_byte) {
                end += 1;
            }
            return Err(ConditionError::new(
                start,
                format!("invalid number `{}`", &self.src[start..end]),
            )
            .hint("write text in quotes: \"5xx\""));
        }
        let text = &self.src[start..i];
        let tok = if float {
            match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Tok::Float(f),
                _ => {
                    return Err(ConditionError::new(
                        start,
                        format!("number `{text}` is out of range"),
                    ));
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(n) => Tok::Int(n),
                Err(_) => {
                    return Err(ConditionError::new(
                        start,
                        format!("integer `{text}` does not fit in 64 bits"),
                    )
                    .hint("write it as a float, such as `1e20`"));
                }
            }
        };
        Ok((tok, i))
    }

    fn raw_string(&self, start: usize) -> Result<(Tok<'a>, usize), ConditionError> {
        let body = start + 2;
        match self.src[body..].find('\'') {
            Some(len) => Ok((
                Tok::Str(self.src[body..body + len].to_owned()),
                body + len + 1,
            )),
            None => Err(ConditionError::new(start, "unterminated raw string").hint(
                "close it with `'`; a raw string cannot contain `'` (in a regex, write \\x27)",
            )),
        }
    }

    fn string(&self, start: usize) -> Result<(Tok<'a>, usize), ConditionError> {
        let unterminated =
            || ConditionError::new(start, "unterminated string").hint("close it with `\"`");
        let mut out = String::new();
        let mut i = start + 1;
        loop {
            let c = self.src[i..].chars().next().ok_or_else(unterminated)?;
            match c {
                '"' => return Ok((Tok::Str(out), i + 1)),
                '\\' => {
                    let escape = i;
                    i += 1;
                    let e = self.src[i..].chars().next().ok_or_else(unterminated)?;
                    i += e.len_utf8();
                    match e {
                        '"' | '\\' => out.push(e),
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'u' => {
                            let (ch, end) = self.unicode_escape(escape, i)?;
                            out.push(ch);
                            i = end;
                        }
                        other => {
                            return Err(ConditionError::new(
                                escape,
                                format!("unknown escape `\\{}`", other.escape_debug()),
                            )
                            .hint(
                                "escapes are \\\" \\\\ \\n \\t \\r \\u{...}; \
                                 write regexes as raw strings: r'\\d+'",
                            ));
                        }
                    }
                }
                c => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
    }

    /// `\u{1F600}` or `\uXXXX` (with `\uXXXX\uXXXX` for a surrogate pair);
    /// `escape` is the offset of the backslash, `i` the byte after `u`.
    fn unicode_escape(&self, escape: usize, i: usize) -> Result<(char, usize), ConditionError> {
        let invalid = || {
            ConditionError::new(escape, "invalid unicode escape")
                .hint("write \\u{1F600} (1 to 6 hex digits) or \\u00e9 (4 hex digits)")
        };
        let hex4 = |at: usize| -> Option<u32> {
            let digits = self.src.get(at..at + 4)?;
            if !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(digits, 16).ok()
        };
        if self.src.as_bytes().get(i) == Some(&b'{') {
            let close = self.src[i..].find('}').ok_or_else(invalid)?;
            let digits = &self.src[i + 1..i + close];
            if digits.is_empty()
                || digits.len() > 6
                || !digits.bytes().all(|d| d.is_ascii_hexdigit())
            {
                return Err(invalid());
            }
            let ch = u32::from_str_radix(digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(invalid)?;
            return Ok((ch, i + close + 1));
        }
        let high = hex4(i).ok_or_else(invalid)?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high).map(|c| (c, i + 4)).ok_or_else(invalid);
        }
        // A high surrogate must be followed by `\u` and a low one.
        if self.src.get(i + 4..i + 6) != Some("\\u") {
            return Err(invalid());
        }
        let low = hex4(i + 6).ok_or_else(invalid)?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(invalid());
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        char::from_u32(code)
            .map(|c| (c, i + 10))
            .ok_or_else(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of `src` in a compact form, or the error's offset and
    /// message.
    fn lex(src: &str) -> Vec<String> {
        tokenize(src)
            .into_iter()
            .map(|t| match t.tok {
                Tok::Path(p) => format!("path {p}"),
                Tok::Str(s) => format!("str {s:?}"),
                Tok::Int(n) => format!("int {n}"),
                Tok::Float(f) => format!("float {f:?}"),
                Tok::Ident(s) => format!("ident {s}"),
                Tok::Cmp(op) => op.as_str().to_owned(),
                Tok::Error(e) => format!("error@{}: {}", e.offset, e.message),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn operators_and_punctuation() {
        assert_eq!(
            lex("== != < <= > >= && || ! ( ) , :"),
            [
                "==", "!=", "<", "<=", ">", ">=", "And", "Or", "Not", "LParen", "RParen", "Comma",
                "Colon", "Eof"
            ]
        );
        assert_eq!(lex(".a>=1"), ["path .a", ">=", "int 1", "Eof"]);
        assert_eq!(lex("!.a"), ["Not", "path .a", "Eof"]);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            lex("0 -7 1.5 -2e3 1E+2 4e-1 -9223372036854775808"),
            [
                "int 0",
                "int -7",
                "float 1.5",
                "float -2000.0",
                "float 100.0",
                "float 0.4",
                "int -9223372036854775808",
                "Eof"
            ]
        );
        assert_eq!(
            lex("9223372036854775808")[0],
            "error@0: integer `9223372036854775808` does not fit in 64 bits"
        );
        assert_eq!(lex("1e999")[0], "error@0: number `1e999` is out of range");
        assert_eq!(lex(".a == 5xx")[2], "error@6: invalid number `5xx`");
        assert_eq!(lex("1e")[0], "error@0: invalid number `1e`");
        assert_eq!(lex("1. ")[0], "error@0: invalid number `1.`");
        assert_eq!(lex(".a - 1")[1], "error@3: `-` is not an operator");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            lex(r#""a\"b\\c\n\t\r" "\u{e9}\u00e9\ud83d\ude00" "" "é""#),
            [
                r#"str "a\"b\\c\n\t\r""#,
                "str \"éé😀\"",
                "str \"\"",
                "str \"é\"",
                "Eof"
            ]
        );
        assert_eq!(lex(r"r'^\d+$' r''"), [r#"str "^\\d+$""#, "str \"\"", "Eof"]);
        assert_eq!(lex(r#""\d""#)[0], "error@1: unknown escape `\\d`");
        assert_eq!(lex(r#""\u{110000}""#)[0], "error@1: invalid unicode escape");
        assert_eq!(lex(r#""\ud800""#)[0], "error@1: invalid unicode escape");
        assert_eq!(lex(r#""\u12""#)[0], "error@1: invalid unicode escape");
        assert_eq!(lex(r#""\u{}""#)[0], "error@1: invalid unicode escape");
        assert_eq!(lex(r#".a == "open"#)[2], "error@6: unterminated string");
        assert_eq!(lex(r#""\"#)[0], "error@0: unterminated string");
        assert_eq!(lex("r'open")[0], "error@0: unterminated raw string");
        assert_eq!(
            lex("'x'")[0],
            "error@0: single-quoted strings are raw strings and start with `r`"
        );
    }

    #[test]
    fn paths_identifiers_and_bad_characters() {
        assert_eq!(
            lex(r#"."odd key".x[0] %severity_text . exists r"#),
            [
                r#"path ."odd key".x[0]"#,
                "path %severity_text",
                "path .",
                "ident exists",
                "ident r",
                "Eof"
            ]
        );
        assert_eq!(lex("= 1")[0], "error@0: `=` is not an operator");
        assert_eq!(lex(".a & .b")[1], "error@3: `&` is not an operator");
        assert_eq!(lex(".a | .b")[1], "error@3: `|` is not an operator");
        assert_eq!(lex(".a # x")[1], "error@3: unexpected character `#`");
        assert_eq!(lex("λ")[0], "error@0: unexpected character `λ`");
        assert_eq!(lex(".a.")[0], "error@3: expected a field name after `.`");
        assert_eq!(lex("%")[0], "error@1: expected a field name after `.`");
    }
}
