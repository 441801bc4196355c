//! Tokenizer for Go `text/template` source, following `text/template/parse/lex.go`.
//!
//! The whole input is tokenized up front; a lexical error becomes the last item
//! (like Go's `itemError`), so the parser reports errors in source order.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Identifier,
    Field,
    Variable,
    Str,
    RawStr,
    CharConst,
    Number,
    Bool,
    Nil,
    Dot,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// A printable ASCII character that has no other meaning, e.g. `,`.
    Char,
    Keyword(Kw),
    Eof,
    Error,
}

/// One token. `start..end` indexes the template source; for [`Tok::Error`] the
/// message is in `msg`.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
    pub msg: String,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// Go's `%#U` rendering of a rune, e.g. `U+003D '='`.
pub(crate) fn sharp_u(c: char) -> String {
    if c.is_control() || (c.is_whitespace() && c != ' ') {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    start: usize,
    items: Vec<Item>,
    paren_depth: i64,
}

pub(crate) fn lex(src: &str) -> Vec<Item> {
    let mut l = Lexer {
        src,
        pos: 0,
        start: 0,
        items: Vec::new(),
        paren_depth: 0,
    };
    l.run();
    l.items
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn emit(&mut self, tok: Tok) {
        self.items.push(Item {
            tok,
            start: self.start,
            end: self.pos,
            msg: String::new(),
        });
        self.start = self.pos;
    }

    fn error(&mut self, msg: String) {
        self.items.push(Item {
            tok: Tok::Error,
            start: self.start,
            end: self.pos,
            msg,
        });
    }

    /// Whether the input at `pos` is a right delimiter with a trim marker (`" -}}"`).
    fn at_right_trim(&self, pos: usize) -> bool {
        let s = self.src.get(pos..).unwrap_or("");
        let b = s.as_bytes();
        b.len() >= 4 && is_space(b[0] as char) && b[1] == b'-' && s[2..].starts_with(RIGHT)
    }

    fn run(&mut self) {
        loop {
            // Text state.
            let Some(rel) = self.rest().find(LEFT) else {
                self.pos = self.src.len();
                if self.pos > self.start {
                    self.emit(Tok::Text);
                }
                self.emit(Tok::Eof);
                return;
            };
            let delim = self.pos + rel;
            let after = &self.src[delim + LEFT.len()..];
            let ab = after.as_bytes();
            let trim = ab.len() >= 2 && ab[0] == b'-' && is_space(ab[1] as char);
            let mut text_end = delim;
            if trim {
                text_end =
                    self.src[self.start..delim].trim_end_matches(is_space).len() + self.start;
            }
            if text_end > self.start {
                self.pos = text_end;
                self.emit(Tok::Text);
            }
            self.start = delim;
            self.pos = delim + LEFT.len() + if trim { 2 } else { 0 };
            if self.rest().starts_with("/*") {
                if !self.lex_comment() {
                    return;
                }
                continue;
            }
            self.emit(Tok::LeftDelim);
            self.paren_depth = 0;
            if !self.lex_inside_action() {
                return;
            }
        }
    }

    /// Skips a comment; `pos` is at `/*`. Returns false after an error.
    fn lex_comment(&mut self) -> bool {
        let Some(close) = self.rest().get(2..).and_then(|r| r.find("*/")) else {
            self.error("unclosed comment".into());
            return false;
        };
        self.pos += close + 4;
        let trim = self.at_right_trim(self.pos);
        if trim {
            self.pos += 2;
        }
        if !self.rest().starts_with(RIGHT) {
            self.error("comment ends before closing delimiter".into());
            return false;
        }
        self.pos += RIGHT.len();
        if trim {
            self.pos = self.src.len() - self.rest().trim_start_matches(is_space).len();
        }
        self.start = self.pos;
        true
    }

    /// Lexes the inside of an action; returns false after an error.
    fn lex_inside_action(&mut self) -> bool {
        loop {
            let trim = self.at_right_trim(self.pos);
            if trim || self.rest().starts_with(RIGHT) {
                if self.paren_depth != 0 {
                    self.error("unclosed left paren".into());
                    return false;
                }
                if trim {
                    self.pos += 2;
                    self.start = self.pos;
                }
                self.pos += RIGHT.len();
                self.emit(Tok::RightDelim);
                if trim {
                    self.pos = self.src.len() - self.rest().trim_start_matches(is_space).len();
                    self.start = self.pos;
                }
                return true;
            }
            let Some(c) = self.next() else {
                self.error("unclosed action".into());
                return false;
            };
            let ok = match c {
                c if is_space(c) => {
                    self.lex_space();
                    true
                }
                '=' => {
                    self.emit(Tok::Assign);
                    true
                }
                ':' => {
                    if self.next() != Some('=') {
                        self.error("expected :=".into());
                        return false;
                    }
                    self.emit(Tok::Declare);
                    true
                }
                '|' => {
                    self.emit(Tok::Pipe);
                    true
                }
                '"' => self.lex_quote(),
                '`' => self.lex_raw_quote(),
                '$' => self.lex_field_or_variable(Tok::Variable),
                '\'' => self.lex_char(),
                '.' => {
                    // Like Go, a '.' followed by a digit or at end of input starts a number.
                    if self.peek().is_none_or(|d| d.is_ascii_digit()) {
                        self.pos = self.start;
                        self.lex_number()
                    } else {
                        self.lex_field_or_variable(Tok::Field)
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.pos = self.start;
                    self.lex_number()
                }
                c if is_alnum(c) => self.lex_identifier(),
                '(' => {
                    self.paren_depth += 1;
                    self.emit(Tok::LeftParen);
                    true
                }
                ')' => {
                    self.emit(Tok::RightParen);
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        self.error("unexpected right paren".into());
                        return false;
                    }
                    true
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(Tok::Char);
                    true
                }
                c => {
                    self.error(format!("unrecognized character in action: {}", sharp_u(c)));
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn lex_space(&mut self) {
        let mut n = 1;
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
            n += 1;
        }
        // A space directly before "-}}" belongs to the trim marker.
        if self.at_right_trim(self.pos - 1) {
            self.pos -= 1;
            if n == 1 {
                self.start = self.pos;
                return;
            }
        }
        self.emit(Tok::Space);
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT),
        }
    }

    fn lex_field_or_variable(&mut self, tok: Tok) -> bool {
        if self.at_terminator() {
            self.emit(if tok == Tok::Variable {
                Tok::Variable
            } else {
                Tok::Dot
            });
            return true;
        }
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            self.error(format!("bad character {}", sharp_u(c)));
            return false;
        }
        self.emit(tok);
        true
    }

    fn lex_identifier(&mut self) -> bool {
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            self.error(format!("bad character {}", sharp_u(c)));
            return false;
        }
        let tok = match &self.src[self.start..self.pos] {
            "block" => Tok::Keyword(Kw::Block),
            "break" => Tok::Keyword(Kw::Break),
            "continue" => Tok::Keyword(Kw::Continue),
            "define" => Tok::Keyword(Kw::Define),
            "else" => Tok::Keyword(Kw::Else),
            "end" => Tok::Keyword(Kw::End),
            "if" => Tok::Keyword(Kw::If),
            "range" => Tok::Keyword(Kw::Range),
            "template" => Tok::Keyword(Kw::Template),
            "with" => Tok::Keyword(Kw::With),
            "nil" => Tok::Nil,
            "true" | "false" => Tok::Bool,
            _ => Tok::Identifier,
        };
        self.emit(tok);
        true
    }

    fn lex_quote(&mut self) -> bool {
        self.lex_escaped('"', Tok::Str, "unterminated quoted string")
    }

    fn lex_raw_quote(&mut self) -> bool {
        match self.rest().find('`') {
            Some(i) => {
                self.pos += i + 1;
                self.emit(Tok::RawStr);
                true
            }
            None => {
                self.error("unterminated raw quoted string".into());
                false
            }
        }
    }

    fn lex_char(&mut self) -> bool {
        self.lex_escaped('\'', Tok::CharConst, "unterminated character constant")
    }

    /// The rest of a quoted token with backslash escapes, up to `close` on
    /// the same line; `unterminated` is the error otherwise.
    fn lex_escaped(&mut self, close: char, tok: Tok, unterminated: &str) -> bool {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => break,
                    _ => {}
                },
                Some('\n') | None => break,
                Some(c) if c == close => {
                    self.emit(tok);
                    return true;
                }
                _ => {}
            }
        }
        self.error(unterminated.into());
        false
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }

    fn lex_number(&mut self) -> bool {
        let mut ok = self.scan_number();
        // A sign right after a number starts the imaginary part of a complex literal.
        if ok && matches!(self.peek(), Some('+' | '-')) {
            ok = self.scan_number() && self.src[..self.pos].ends_with('i');
        }
        if !ok {
            let text = self.src[self.start..self.pos].to_string();
            self.error(format!("bad number syntax: {text:?}"));
            return false;
        }
        self.emit(Tok::Number);
        true
    }
}
