//! Parser producing the template AST, following `text/template/parse/parse.go`:
//! variables and function names are checked at compile time, as Go does.

use std::collections::BTreeMap;

use super::functions::Func;
use super::lexer::{Item, Kw, Tok, lex};

/// Maximum nesting of control structures and parenthesized pipelines.
pub(crate) const MAX_PARSE_DEPTH: usize = 100;

/// A byte range of the template source, used for error positions and context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Control),
    With(Control),
    Range(Control),
    Template {
        span: Span,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub(crate) struct Control {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub span: Span,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub span: Span,
    pub args: Vec<Arg>,
}

/// A parsed number literal; which interpretations are valid mirrors Go's `NumberNode`.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub uint: Option<u64>,
    pub float: Option<f64>,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Field(Span, Vec<String>),
    Variable(Span, String, Vec<String>),
    Chain(Span, Box<Arg>, Vec<String>),
    Ident(Span, Func),
    Dot(Span),
    Nil(Span),
    Bool(Span, bool),
    Number(Span, Number),
    Str(Span, String),
    Pipe(Span, Box<Pipe>),
}

impl Arg {
    pub fn span(&self) -> Span {
        match self {
            Arg::Field(s, _)
            | Arg::Variable(s, ..)
            | Arg::Chain(s, ..)
            | Arg::Ident(s, _)
            | Arg::Dot(s)
            | Arg::Nil(s)
            | Arg::Bool(s, _)
            | Arg::Number(s, _)
            | Arg::Str(s, _)
            | Arg::Pipe(s, _) => *s,
        }
    }
}

#[derive(Debug)]
pub(crate) struct ParseError {
    pub pos: usize,
    pub msg: String,
}

type PResult<T> = Result<T, ParseError>;

/// Result of parsing a compiled template: the root list and `{{define}}`d templates.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub root: Vec<Node>,
    pub defs: BTreeMap<String, Vec<Node>>,
}

enum Step {
    Node(Node),
    End,
    Else,
}

struct Parser<'a> {
    src: &'a str,
    name: &'a str,
    /// Start of the action being parsed, for "in action started at" messages.
    action_start: Option<usize>,
    items: Vec<Item>,
    idx: usize,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    defs: BTreeMap<String, Vec<Node>>,
}

/// Parses `src`; `predeclared` are variables visible in the root template besides `$`.
pub(crate) fn parse(name: &str, src: &str, predeclared: &[&str]) -> PResult<Parsed> {
    let mut vars = vec!["$".to_string()];
    vars.extend(predeclared.iter().map(|s| s.to_string()));
    let mut p = Parser {
        src,
        name,
        action_start: None,
        items: lex(src),
        idx: 0,
        vars,
        range_depth: 0,
        depth: 0,
        defs: BTreeMap::new(),
    };
    let root = p.parse_root()?;
    Ok(Parsed { root, defs: p.defs })
}

fn item_desc(src: &str, it: &Item) -> String {
    let text = src.get(it.start..it.end).unwrap_or("");
    match it.tok {
        Tok::Eof => "EOF".into(),
        Tok::Error => it.msg.clone(),
        Tok::Keyword(_) | Tok::Nil | Tok::Dot => format!("<{text}>"),
        _ if text.chars().count() > 10 => {
            let short: String = text.chars().take(10).collect();
            format!("{short:?}...")
        }
        _ => format!("{text:?}"),
    }
}

impl Parser<'_> {
    fn eof_item(&self) -> Item {
        Item {
            tok: Tok::Eof,
            start: self.src.len(),
            end: self.src.len(),
            msg: String::new(),
        }
    }

    fn next(&mut self) -> Item {
        let it = self.peek();
        self.idx = self.idx.saturating_add(1);
        it
    }

    fn peek(&self) -> Item {
        self.items
            .get(self.idx)
            .cloned()
            .unwrap_or_else(|| self.eof_item())
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.tok != Tok::Space {
                return it;
            }
        }
    }

    /// Like Go's `peekNonSpace`: consumes spaces, leaves the next token pending.
    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn text(&self, it: &Item) -> &str {
        self.src.get(it.start..it.end).unwrap_or("")
    }

    fn err<T>(&self, pos: usize, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            pos,
            msg: msg.into(),
        })
    }

    fn unexpected<T>(&self, it: &Item, context: &str) -> PResult<T> {
        if it.tok == Tok::Error {
            let line = |pos: usize| self.src[..pos.min(self.src.len())].matches('\n').count() + 1;
            let mut msg = it.msg.clone();
            if let Some(start) = self.action_start
                && line(start) != line(it.start)
            {
                let at = if msg.ends_with(" action") {
                    ""
                } else {
                    " in action"
                };
                msg = format!("{msg}{at} started at {}:{}", self.name, line(start));
            }
            return self.err(it.start, msg);
        }
        self.err(
            it.start,
            format!("unexpected {} in {}", item_desc(self.src, it), context),
        )
    }

    fn expect(&mut self, tok: Tok, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.tok != tok {
            return self.unexpected(&it, context);
        }
        Ok(it)
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return self.err(
                pos,
                format!("nesting depth exceeds the limit of {MAX_PARSE_DEPTH}"),
            );
        }
        Ok(())
    }

    fn parse_root(&mut self) -> PResult<Vec<Node>> {
        let mut list = Vec::new();
        loop {
            let it = self.peek();
            if it.tok == Tok::Eof {
                return Ok(list);
            }
            if it.tok == Tok::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next_non_space().tok == Tok::Keyword(Kw::Define) {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                Step::Node(n) => list.push(n),
                Step::End => return self.err(it.start, "unexpected {{end}}"),
                Step::Else => return self.err(it.start, "unexpected {{else}}"),
            }
        }
    }

    fn parse_template_name(&mut self, it: &Item, context: &str) -> PResult<String> {
        match it.tok {
            Tok::Str | Tok::RawStr => unquote(self.text(it)).map_err(|m| ParseError {
                pos: it.start,
                msg: m,
            }),
            _ => self.unexpected(it, context),
        }
    }

    /// Parses the body of a definition in a fresh variable scope and records it.
    fn parse_body(&mut self, name: String, pos: usize, context: &str) -> PResult<()> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if !matches!(end, Step::End) {
            return self.err(pos, format!("unexpected {{{{else}}}} in {context}"));
        }
        let empty = |l: &[Node]| {
            l.iter()
                .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
        };
        match self.defs.get(&name) {
            Some(old) if !empty(old) => {
                if !empty(&list) {
                    return self.err(
                        pos,
                        format!("template: multiple definition of template {name:?}"),
                    );
                }
            }
            _ => {
                self.defs.insert(name, list);
            }
        }
        Ok(())
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let it = self.next_non_space();
        let name = self.parse_template_name(&it, context)?;
        self.expect(Tok::RightDelim, context)?;
        self.parse_body(name, it.start, context)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Step)> {
        let mut list = Vec::new();
        loop {
            let it = self.peek_non_space();
            if it.tok == Tok::Eof {
                return self.err(it.start, "unexpected EOF");
            }
            match self.text_or_action()? {
                Step::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Step> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Text => Ok(Step::Node(Node::Text(self.text(&it).to_string()))),
            Tok::LeftDelim => {
                let saved = self.action_start.replace(it.start);
                let r = self.action();
                self.action_start = saved;
                r
            }
            _ => self.unexpected(&it, "input"),
        }
    }

    fn action(&mut self) -> PResult<Step> {
        let it = self.next_non_space();
        match it.tok {
            Tok::Keyword(Kw::Block) => self.block_control(&it).map(Step::Node),
            Tok::Keyword(Kw::Break) => self.loop_control(&it, "{{break}}", Node::Break),
            Tok::Keyword(Kw::Continue) => self.loop_control(&it, "{{continue}}", Node::Continue),
            Tok::Keyword(Kw::Else) => {
                let peek = self.peek_non_space();
                if !matches!(peek.tok, Tok::Keyword(Kw::If | Kw::With)) {
                    self.expect(Tok::RightDelim, "else")?;
                }
                Ok(Step::Else)
            }
            Tok::Keyword(Kw::End) => {
                self.expect(Tok::RightDelim, "end")?;
                Ok(Step::End)
            }
            Tok::Keyword(Kw::If) => Ok(Step::Node(Node::If(self.parse_control("if", &it)?))),
            Tok::Keyword(Kw::With) => Ok(Step::Node(Node::With(self.parse_control("with", &it)?))),
            Tok::Keyword(Kw::Range) => {
                Ok(Step::Node(Node::Range(self.parse_control("range", &it)?)))
            }
            Tok::Keyword(Kw::Template) => self.template_control(&it).map(Step::Node),
            _ => {
                self.backup();
                Ok(Step::Node(Node::Action(
                    self.pipeline("command", Tok::RightDelim)?,
                )))
            }
        }
    }

    fn loop_control(&mut self, it: &Item, what: &str, node: Node) -> PResult<Step> {
        let next = self.next_non_space();
        if next.tok != Tok::RightDelim {
            return self.unexpected(&next, what);
        }
        if self.range_depth == 0 {
            return self.err(it.start, format!("{what} outside {{{{range}}}}"));
        }
        Ok(Step::Node(node))
    }

    fn parse_control(&mut self, context: &str, it: &Item) -> PResult<Control> {
        self.enter(it.start)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut else_list = None;
        if let Step::Else = next {
            let peek = self.peek();
            if context == "if" && peek.tok == Tok::Keyword(Kw::If) {
                self.next();
                else_list = Some(vec![Node::If(self.parse_control("if", &peek)?)]);
            } else if context == "with" && peek.tok == Tok::Keyword(Kw::With) {
                self.next();
                else_list = Some(vec![Node::With(self.parse_control("with", &peek)?)]);
            } else {
                let (l, n) = self.item_list()?;
                if !matches!(n, Step::End) {
                    return self.err(self.peek().start, "expected end; found {{else}}");
                }
                else_list = Some(l);
            }
        }
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Control {
            pipe,
            list,
            else_list,
        })
    }

    fn template_control(&mut self, kw: &Item) -> PResult<Node> {
        let context = "template clause";
        let it = self.next_non_space();
        let name = self.parse_template_name(&it, context)?;
        let mut pipe = None;
        if self.next_non_space().tok != Tok::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, Tok::RightDelim)?);
        }
        let end = self
            .items
            .get(self.idx.saturating_sub(1))
            .map_or(it.end, |i| i.end);
        Ok(Node::Template {
            span: Span {
                start: kw.start,
                end,
            },
            name,
            pipe,
        })
    }

    fn block_control(&mut self, kw: &Item) -> PResult<Node> {
        let context = "block clause";
        let it = self.next_non_space();
        let name = self.parse_template_name(&it, context)?;
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        let end = self
            .items
            .get(self.idx.saturating_sub(1))
            .map_or(it.end, |i| i.end);
        self.enter(kw.start)?;
        self.parse_body(name.clone(), it.start, context)?;
        self.depth -= 1;
        Ok(Node::Template {
            span: Span {
                start: kw.start,
                end,
            },
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            span: Span {
                start: first.start,
                end: first.start,
            },
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.tok != Tok::Variable {
                break;
            }
            let save = self.idx;
            self.next();
            let next = self.peek_non_space();
            match next.tok {
                Tok::Assign | Tok::Declare => {
                    pipe.is_assign = next.tok == Tok::Assign;
                    self.next_non_space();
                    let name = self.text(&v).to_string();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    break;
                }
                Tok::Char if self.text(&next) == "," => {
                    self.next_non_space();
                    let name = self.text(&v).to_string();
                    pipe.decl.push(name.clone());
                    self.vars.push(name);
                    if context == "range" && pipe.decl.len() < 2 {
                        let p = self.peek_non_space();
                        if matches!(p.tok, Tok::Variable | Tok::RightDelim | Tok::RightParen) {
                            continue;
                        }
                        return self.err(p.start, "range can only initialize variables");
                    }
                    return self.err(next.start, format!("too many declarations in {context}"));
                }
                _ => {
                    self.idx = save;
                    break;
                }
            }
        }
        loop {
            let it = self.next_non_space();
            match it.tok {
                t if t == end => {
                    pipe.span.end = it.start;
                    if pipe.cmds.is_empty() {
                        return self.err(it.start, format!("missing value for {context}"));
                    }
                    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
                        if let Some(
                            Arg::Bool(..)
                            | Arg::Dot(_)
                            | Arg::Nil(_)
                            | Arg::Number(..)
                            | Arg::Str(..),
                        ) = c.args.first()
                        {
                            return self.err(
                                c.span.start,
                                format!("non executable command in pipeline stage {}", i + 1),
                            );
                        }
                    }
                    return Ok(pipe);
                }
                Tok::Bool
                | Tok::CharConst
                | Tok::Dot
                | Tok::Field
                | Tok::Identifier
                | Tok::Number
                | Tok::Nil
                | Tok::RawStr
                | Tok::Str
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&it, context),
            }
        }
    }

    fn command(&mut self) -> PResult<Command> {
        let start = self.peek_non_space().start;
        let mut args = Vec::new();
        let mut end = start;
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                end = op.span().end;
                args.push(op);
            }
            let it = self.next();
            match it.tok {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return self.unexpected(&it, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.err(start, "empty command");
        }
        Ok(Command {
            span: Span { start, end },
            args,
        })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().tok != Tok::Field {
            return Ok(Some(node));
        }
        let mut fields = Vec::new();
        let mut end = node.span().end;
        while self.peek().tok == Tok::Field {
            let f = self.next();
            end = f.end;
            fields.push(self.text(&f).get(1..).unwrap_or("").to_string());
        }
        let span = Span {
            start: node.span().start,
            end,
        };
        Ok(Some(match node {
            Arg::Field(_, mut idents) => {
                idents.extend(fields);
                Arg::Field(span, idents)
            }
            Arg::Variable(_, name, mut idents) => {
                idents.extend(fields);
                Arg::Variable(span, name, idents)
            }
            Arg::Bool(s, _) | Arg::Str(s, _) | Arg::Number(s, _) | Arg::Nil(s) | Arg::Dot(s) => {
                let text = self.src.get(s.start..s.end).unwrap_or("");
                return self.err(s.start, format!("unexpected . after term {text:?}"));
            }
            other => Arg::Chain(span, Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let it = self.next_non_space();
        let span = Span {
            start: it.start,
            end: it.end,
        };
        let text = self.text(&it).to_string();
        Ok(Some(match it.tok {
            Tok::Identifier => match Func::lookup(&text) {
                Some(f) => Arg::Ident(span, f),
                None => return self.err(it.start, format!("function {text:?} not defined")),
            },
            Tok::Dot => Arg::Dot(span),
            Tok::Nil => Arg::Nil(span),
            Tok::Variable => {
                if !self.vars.contains(&text) {
                    return self.err(it.start, format!("undefined variable {text:?}"));
                }
                Arg::Variable(span, text, Vec::new())
            }
            Tok::Field => Arg::Field(span, vec![text.get(1..).unwrap_or("").to_string()]),
            Tok::Bool => Arg::Bool(span, text == "true"),
            Tok::CharConst | Tok::Number => match parse_number(&text, it.tok == Tok::CharConst) {
                Ok(n) => Arg::Number(span, n),
                Err(m) => return self.err(it.start, m),
            },
            Tok::LeftParen => {
                self.enter(it.start)?;
                let pipe = self.pipeline("parenthesized pipeline", Tok::RightParen)?;
                self.depth -= 1;
                let end = self
                    .items
                    .get(self.idx.saturating_sub(1))
                    .map_or(it.end, |i| i.end);
                Arg::Pipe(
                    Span {
                        start: it.start,
                        end,
                    },
                    Box::new(pipe),
                )
            }
            Tok::Str | Tok::RawStr => match unquote(&text) {
                Ok(s) => Arg::Str(span, s),
                Err(m) => return self.err(it.start, m),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` literals. Byte escapes that
/// do not form valid UTF-8 are replaced by U+FFFD.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_string();
    if let Some(raw) = s.strip_prefix('`') {
        let raw = raw.strip_suffix('`').ok_or_else(bad)?;
        return Ok(raw.replace('\r', ""));
    }
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(bad)?;
    let mut out = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while !rest.is_empty() {
        let (bytes, tail) = unquote_char(rest, '"').ok_or_else(bad)?;
        out.extend_from_slice(&bytes);
        rest = tail;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Decodes one (possibly escaped) character; returns its UTF-8 bytes (or a raw
/// byte for `\x`/octal escapes) and the remaining input.
fn unquote_char(s: &str, quote: char) -> Option<(Vec<u8>, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        return Some((c.encode_utf8(&mut buf).as_bytes().to_vec(), chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = |b: u8| Some((vec![b], rest));
    match e {
        'a' => simple(7),
        'b' => simple(8),
        'f' => simple(12),
        'n' => simple(b'\n'),
        'r' => simple(b'\r'),
        't' => simple(b'\t'),
        'v' => simple(11),
        '\\' => simple(b'\\'),
        '\'' | '"' => {
            if e != quote {
                return None;
            }
            simple(e as u8)
        }
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            let v = u32::from_str_radix(digits, 16).ok()?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let tail = rest.get(n..)?;
            if e == 'x' {
                return Some((vec![v as u8], tail));
            }
            let ch = char::from_u32(v)?;
            let mut buf = [0u8; 4];
            Some((ch.encode_utf8(&mut buf).as_bytes().to_vec(), tail))
        }
        '0'..='7' => {
            let digits = s.get(1..4)?;
            if !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = u32::from_str_radix(digits, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((vec![v as u8], s.get(4..)?))
        }
        _ => None,
    }
}

pub(crate) fn strip_underscores(s: &str) -> Option<String> {
    if !s.contains('_') {
        return Some(s.to_string());
    }
    // Go: underscores only between digits (or after a base prefix).
    let b = s.as_bytes();
    let mut prev_digit = false;
    let hex = b.len() >= 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X');
    for (i, &c) in b.iter().enumerate() {
        let digit = c.is_ascii_digit() || (hex && c.is_ascii_hexdigit());
        let prefix = i == 1 && b[0] == b'0' && matches!(c, b'x' | b'X' | b'o' | b'O' | b'b' | b'B');
        if c == b'_' {
            if !prev_digit {
                return None;
            }
            prev_digit = false;
            let next_digit = |n: &u8| n.is_ascii_digit() || (hex && n.is_ascii_hexdigit());
            if !b.get(i + 1).is_some_and(next_digit) {
                return None;
            }
        } else {
            prev_digit = digit || prefix;
        }
    }
    Some(s.replace('_', ""))
}

/// Go's `strconv.ParseUint(s, 0, 64)` on an unsigned literal.
fn parse_uint_base0(s: &str) -> Option<u64> {
    let s = strip_underscores(s)?;
    let (digits, radix) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (r.to_string(), 16)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (r.to_string(), 8)
    } else if let Some(r) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (r.to_string(), 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (s[1..].to_string(), 8)
    } else {
        (s.clone(), 10)
    };
    if digits.is_empty() || digits.starts_with('+') || digits.starts_with('-') {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

/// Go's `strconv.ParseFloat` restricted to literal syntax (decimal and hex floats).
fn parse_float_literal(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let body = strip_underscores(body)?;
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        parse_hex_float(h)?
    } else {
        if !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn parse_hex_float(h: &str) -> Option<f64> {
    let (mant, exp) = match h.find(['p', 'P']) {
        Some(i) => (&h[..i], h[i + 1..].parse::<i32>().ok()?),
        None => return None,
    };
    let (int_part, frac_part) = match mant.find('.') {
        Some(i) => (&mant[..i], &mant[i + 1..]),
        None => (mant, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exp.saturating_sub(4i32.saturating_mul(frac_part.len() as i32));
    Some(v * 2f64.powi(scale))
}

/// Parses a number or character literal like Go's `parse.newNumber`.
pub(crate) fn parse_number(text: &str, is_char: bool) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        int: None,
        uint: None,
        float: None,
    };
    if is_char {
        let inner = text.get(1..).unwrap_or("");
        let (bytes, tail) = unquote_char(inner, '\'').ok_or("invalid syntax")?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        let v = match String::from_utf8(bytes) {
            Ok(s) => s.chars().next().map_or(0, |c| c as u32),
            Err(e) => e.as_bytes().first().map_or(0, |b| u32::from(*b)),
        };
        n.int = Some(i64::from(v));
        n.uint = Some(u64::from(v));
        n.float = Some(f64::from(v));
        return Ok(n);
    }
    if text.ends_with('i') {
        return Err(format!("complex numbers are not supported: {text:?}"));
    }
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if let Some(u) = parse_uint_base0(body) {
        if !neg {
            n.uint = Some(u);
            n.int = i64::try_from(u).ok();
        } else if u <= 1u64 << 63 {
            n.int = Some((u as i64).wrapping_neg());
            if u == 0 {
                n.uint = Some(0);
            }
        }
    }
    if let Some(i) = n.int {
        n.float = Some(i as f64);
    } else if let Some(u) = n.uint {
        n.float = Some(u as f64);
    } else if let Some(f) = parse_float_literal(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {text:?}"));
        }
        n.float = Some(f);
        if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            n.int = Some(f as i64);
        }
        if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            n.uint = Some(f as u64);
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!("illegal number syntax: {text:?}"));
    }
    Ok(n)
}
