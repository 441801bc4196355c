//! The recursive-descent parser: tokens to a compiled [`Expr`].
//!
//! Grammar, loosest first (`||` and `&&` build flat lists, not deep trees):
//!
//! ```text
//! or      = and ( "||" and )*
//! and     = cmp ( "&&" cmp )*
//! cmp     = unary ( CMP unary )?          a second CMP is an error
//! unary   = "!" unary | primary
//! primary = "(" or ")" | PATH | STRING | NUMBER | true | false | null
//!         | NAME "(" [ arg ( "," arg )* [","] ] ")"
//! arg     = [ NAME ":" ] or
//! ```
//!
//! Function calls are checked and prepared here (regexes compiled,
//! literals turned into matchers), so evaluation has nothing left to fail.
//! Parentheses, `!` and calls nest at most [`MAX_DEPTH`] deep, which bounds
//! the recursion of both parsing and evaluation.

use logbridge_event::Value;
use memchr::memmem::Finder;
use regex::bytes::RegexBuilder;

use crate::error::ConditionError;
use crate::eval::{Expr, Matcher, StrFunc, StrTest};
use crate::lexer::{Tok, Token, tokenize};

/// How deep parentheses, `!` and function calls may nest.
pub(crate) const MAX_DEPTH: usize = 64;

/// The functions, in the order error messages list them.
const FUNCTIONS: &[&str] = &["exists", "match", "contains", "starts_with", "ends_with"];

const VALUE_HINT: &str = "a value is a path such as `.status`, a literal such as `500` or \
                          \"GET\", or a function call such as `exists(.user)`";

pub(crate) fn parse(src: &str) -> Result<Expr, ConditionError> {
    let mut parser = Parser {
        src,
        tokens: tokenize(src),
        pos: 0,
    };
    if matches!(parser.peek()?.tok, Tok::Eof) {
        return Err(ConditionError::new(0, "empty condition")
            .hint("write a condition such as `.status >= 500`"));
    }
    let expr = parser.or(0)?;
    let token = parser.peek()?;
    if matches!(token.tok, Tok::Eof) {
        return Ok(expr);
    }
    let err = ConditionError::new(
        token.start,
        format!("unexpected {}", parser.describe(token)),
    );
    Err(match token.tok {
        Tok::RParen => err.hint("there is no `(` for this `)` to close"),
        _ => err.hint(join_hint(token)),
    })
}

/// What to say about a token found where a condition should have ended.
fn join_hint(token: &Token<'_>) -> &'static str {
    let word = match token.tok {
        Tok::Ident(name) => name.to_ascii_lowercase(),
        Tok::LParen => return "only functions are called: `exists(.a)`",
        _ => String::new(),
    };
    match word.as_str() {
        "and" => "write `&&` for \"and\"",
        "or" => "write `||` for \"or\"",
        _ => "join conditions with `&&` or `||`; compare values with `==`, `<`, ...",
    }
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
}

/// A parsed function argument, with where it starts.
struct Arg<'a> {
    name: Option<&'a str>,
    start: usize,
    value_start: usize,
    expr: Expr,
}

impl<'a> Parser<'a> {
    /// The current token, or the lexer's error when the parser reaches it.
    fn peek(&self) -> Result<&Token<'a>, ConditionError> {
        match self.tokens.get(self.pos) {
            Some(Token {
                tok: Tok::Error(e), ..
            }) => Err((**e).clone()),
            Some(token) => Ok(token),
            // The list always ends with Eof or Error and `bump` stops there.
            None => Err(ConditionError::new(
                self.src.len(),
                "unexpected end of condition",
            )),
        }
    }

    fn bump(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    /// The source text of a token, shortened, in backquotes.
    fn describe(&self, token: &Token<'_>) -> String {
        if matches!(token.tok, Tok::Eof) {
            return "end of condition".into();
        }
        let text = self.src.get(token.start..token.end).unwrap_or("?");
        match text.char_indices().nth(24) {
            Some((cut, _)) => format!("`{}...`", &text[..cut]),
            None => format!("`{text}`"),
        }
    }

    fn enter(&self, depth: usize, offset: usize) -> Result<(), ConditionError> {
        if depth >= MAX_DEPTH {
            return Err(
                ConditionError::new(offset, "condition nested too deeply").hint(format!(
                    "parentheses, `!` and function calls nest at most {MAX_DEPTH} deep"
                )),
            );
        }
        Ok(())
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ConditionError> {
        let first = self.and(depth)?;
        if !matches!(self.peek()?.tok, Tok::Or) {
            return Ok(first);
        }
        let mut items = vec![first];
        while matches!(self.peek()?.tok, Tok::Or) {
            self.bump();
            items.push(self.and(depth)?);
        }
        Ok(Expr::Or(items))
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ConditionError> {
        let first = self.cmp(depth)?;
        if !matches!(self.peek()?.tok, Tok::And) {
            return Ok(first);
        }
        let mut items = vec![first];
        while matches!(self.peek()?.tok, Tok::And) {
            self.bump();
            items.push(self.cmp(depth)?);
        }
        Ok(Expr::And(items))
    }

    fn cmp(&mut self, depth: usize) -> Result<Expr, ConditionError> {
        let lhs = self.unary(depth)?;
        let Tok::Cmp(op) = self.peek()?.tok else {
            return Ok(lhs);
        };
        self.bump();
        let rhs = self.unary(depth)?;
        let next = self.peek()?;
        if let Tok::Cmp(second) = next.tok {
            return Err(ConditionError::new(
                next.start,
                format!(
                    "comparisons cannot be chained: `{}` after `{}`",
                    second.as_str(),
                    op.as_str()
                ),
            )
            .hint("join two comparisons with `&&`, as in `.a < .b && .b < .c`"));
        }
        Ok(Expr::Compare(Box::new((op, lhs, rhs))))
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ConditionError> {
        let token = self.peek()?;
        if !matches!(token.tok, Tok::Not) {
            return self.primary(depth);
        }
        self.enter(depth, token.start)?;
        self.bump();
        Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ConditionError> {
        let token = self.peek()?.clone();
        let literal = |v: Value| Ok(Expr::Literal(v));
        match token.tok {
            Tok::LParen => {
                self.enter(depth, token.start)?;
                self.bump();
                let inner = self.or(depth + 1)?;
                let close = self.peek()?;
                match close.tok {
                    Tok::RParen => {
                        self.bump();
                        Ok(inner)
                    }
                    Tok::Eof => {
                        Err(ConditionError::new(token.start, "unclosed `(`")
                            .hint("close it with `)`"))
                    }
                    _ => Err(ConditionError::new(
                        close.start,
                        format!(
                            "expected `)` to close the `(` at column {}, found {}",
                            token.start + 1,
                            self.describe(close)
                        ),
                    )
                    .hint(join_hint(close))),
                }
            }
            Tok::Path(path) => {
                self.bump();
                Ok(Expr::Path(path))
            }
            Tok::Str(s) => {
                self.bump();
                literal(Value::from(s))
            }
            Tok::Int(n) => {
                self.bump();
                literal(Value::Integer(n))
            }
            Tok::Float(x) => {
                self.bump();
                literal(Value::Float(x))
            }
            Tok::Ident(name) => {
                self.bump();
                match name {
                    "true" => literal(Value::Bool(true)),
                    "false" => literal(Value::Bool(false)),
                    "null" => literal(Value::Null),
                    _ if matches!(self.peek()?.tok, Tok::LParen) => {
                        self.call(name, token.start, depth)
                    }
                    _ => Err(unknown_name(name, token.start)),
                }
            }
            _ => Err(self.expected_value(&token)),
        }
    }

    fn expected_value(&self, found: &Token<'_>) -> ConditionError {
        let after = self
            .pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map(|prev| format!(" after {}", self.describe(prev)))
            .unwrap_or_default();
        let message = match found.tok {
            Tok::Eof => format!("expected a value{after}"),
            _ => format!("expected a value{after}, found {}", self.describe(found)),
        };
        ConditionError::new(found.start, message).hint(VALUE_HINT)
    }

    /// `name(args)`; the current token is the `(`.
    fn call(&mut self, name: &'a str, start: usize, depth: usize) -> Result<Expr, ConditionError> {
        let func = match name {
            "exists" => None,
            "match" => Some(StrFunc::Match),
            "contains" => Some(StrFunc::Contains),
            "starts_with" => Some(StrFunc::StartsWith),
            "ends_with" => Some(StrFunc::EndsWith),
            _ => return Err(unknown_function(name, start)),
        };
        self.enter(depth, start)?;
        let open = self.peek()?.start;
        self.bump();
        let mut args = Vec::new();
        let close = loop {
            let token = self.peek()?;
            if matches!(token.tok, Tok::RParen) {
                let close = token.start;
                self.bump();
                break close;
            }
            let arg_start = token.start;
            let arg_name = match (&token.tok, self.tokens.get(self.pos + 1).map(|t| &t.tok)) {
                (Tok::Ident(n), Some(Tok::Colon)) => Some(*n),
                _ => None,
            };
            if arg_name.is_some() {
                self.bump();
                self.bump();
            }
            let value_start = self.peek()?.start;
            let expr = self.or(depth + 1)?;
            args.push(Arg {
                name: arg_name,
                start: arg_start,
                value_start,
                expr,
            });
            let token = self.peek()?;
            match token.tok {
                Tok::Comma => self.bump(),
                Tok::RParen => {}
                Tok::Eof => {
                    return Err(
                        ConditionError::new(open, format!("unclosed `(` of `{name}(`"))
                            .hint("close the arguments with `)`"),
                    );
                }
                _ => {
                    return Err(ConditionError::new(
                        token.start,
                        format!(
                            "expected `,` or `)` in the arguments of `{name}`, found {}",
                            self.describe(token)
                        ),
                    ));
                }
            }
        };
        match func {
            None => exists(close, args),
            Some(func) => string_function(func, close, args),
        }
    }
}

fn unknown_name(name: &str, offset: usize) -> ConditionError {
    let err = ConditionError::new(offset, format!("unknown name `{name}`"));
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "and" => err.hint("write `&&` for \"and\""),
        "or" => err.hint("write `||` for \"or\""),
        "not" => err.hint("write `!` for \"not\""),
        "true" | "false" | "null" => err.hint(format!("literals are lower case: `{lower}`")),
        _ if FUNCTIONS.contains(&name) => err.hint(format!("call it: `{name}(...)`")),
        _ => err.hint(format!("field paths start with `.`: `.{name}`")),
    }
}

fn unknown_function(name: &str, offset: usize) -> ConditionError {
    let err = ConditionError::new(
        offset,
        format!(
            "unknown function `{name}`; the functions are {}",
            FUNCTIONS.join(", ")
        ),
    );
    match FUNCTIONS.iter().find(|known| similar(name, known)) {
        Some(known) => err.hint(format!("did you mean `{known}`?")),
        None => err,
    }
}

/// Whether `name` is a likely misspelling of `known`: the same letters
/// ignoring case and underscores, or at most two edits away.
fn similar(name: &str, known: &str) -> bool {
    let squash = |s: &str| -> Vec<u8> {
        s.bytes()
            .filter(|&c| c != b'_')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let (a, b) = (squash(name), squash(known));
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    // Levenshtein distance, one row at a time.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()] <= 2
}

fn exists(close: usize, args: Vec<Arg<'_>>) -> Result<Expr, ConditionError> {
    let usage = "exists(.user.id)";
    if let Some(named) = args.iter().find(|a| a.name.is_some()) {
        return Err(
            ConditionError::new(named.start, "`exists` takes no named arguments").hint(usage),
        );
    }
    let arg = match <[Arg<'_>; 1]>::try_from(args) {
        Ok([arg]) => arg,
        Err(args) => {
            let offset = args.get(1).map_or(close, |extra| extra.start);
            return Err(
                ConditionError::new(offset, "`exists` takes one argument, a path").hint(usage),
            );
        }
    };
    match arg.expr {
        Expr::Path(path) => Ok(Expr::Exists(path)),
        _ => Err(
            ConditionError::new(arg.start, "the argument of `exists` must be a path").hint(usage),
        ),
    }
}

fn string_function(
    func: StrFunc,
    close: usize,
    args: Vec<Arg<'_>>,
) -> Result<Expr, ConditionError> {
    let name = func.name();
    let usage = match func {
        StrFunc::Match => "match(.message, r'^GET /api/')",
        StrFunc::Contains => "contains(.message, \"timeout\", case_sensitive: false)",
        StrFunc::StartsWith => "starts_with(.path, \"/api/\", case_sensitive: false)",
        StrFunc::EndsWith => "ends_with(.path, \".png\", case_sensitive: false)",
    };
    let arity = if func == StrFunc::Match {
        "`match` takes 2 arguments: a value and a regex".to_owned()
    } else {
        format!(
            "`{name}` takes 2 arguments, a value and a string, and optionally `case_sensitive: false`"
        )
    };
    let mut positional = Vec::new();
    let mut case_sensitive = None;
    for arg in args {
        match arg.name {
            None if case_sensitive.is_some() => {
                return Err(ConditionError::new(
                    arg.start,
                    "positional argument after a named one",
                )
                .hint(usage));
            }
            None => positional.push(arg),
            Some("case_sensitive") if func != StrFunc::Match => {
                if case_sensitive.is_some() {
                    return Err(ConditionError::new(
                        arg.start,
                        "`case_sensitive` given twice",
                    ));
                }
                let Expr::Literal(Value::Bool(flag)) = arg.expr else {
                    return Err(ConditionError::new(
                        arg.value_start,
                        "`case_sensitive` must be `true` or `false`",
                    ));
                };
                case_sensitive = Some(flag);
            }
            Some(other) => {
                let err = ConditionError::new(
                    arg.start,
                    format!("unknown argument `{other}` of `{name}`"),
                );
                return Err(if func == StrFunc::Match {
                    err.hint(
                        "`match` takes no named arguments; write (?i) in the regex to ignore case",
                    )
                } else {
                    err.hint(format!(
                        "the only named argument is `case_sensitive`: {usage}"
                    ))
                });
            }
        }
    }
    let case_sensitive = case_sensitive.unwrap_or(true);
    let [subject, needle] = match <[Arg<'_>; 2]>::try_from(positional) {
        Ok(pair) => pair,
        Err(positional) => {
            let err = match positional.get(2) {
                Some(third) if func != StrFunc::Match => {
                    let err = ConditionError::new(
                        third.start,
                        format!("the third argument of `{name}` must be named"),
                    );
                    if matches!(third.expr, Expr::Literal(Value::Bool(_))) {
                        err.hint(format!("write `case_sensitive: {}`", third.expr))
                    } else {
                        err.hint(usage)
                    }
                }
                Some(extra) => ConditionError::new(extra.start, arity).hint(usage),
                None => ConditionError::new(close, arity).hint(usage),
            };
            return Err(err);
        }
    };
    let Expr::Literal(Value::Bytes(bytes)) = &needle.expr else {
        let what = if func == StrFunc::Match {
            "a regex literal such as r'^GET '"
        } else {
            "a string literal"
        };
        return Err(ConditionError::new(
            needle.start,
            format!("the second argument of `{name}` must be {what}"),
        )
        .hint(usage));
    };
    // Literals come from `&str` source, so they are UTF-8.
    let text = String::from_utf8_lossy(bytes).into_owned();
    let regex = |pattern: &str, case_insensitive: bool| {
        RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .build()
            .map(Matcher::Regex)
            .map_err(|e| regex_error(&e, needle.start))
    };
    let matcher = match (func, case_sensitive) {
        (StrFunc::Match, _) => regex(&text, false)?,
        (StrFunc::Contains, true) => Matcher::Contains(Finder::new(text.as_bytes()).into_owned()),
        (StrFunc::StartsWith, true) => Matcher::StartsWith(text.as_bytes().into()),
        (StrFunc::EndsWith, true) => Matcher::EndsWith(text.as_bytes().into()),
        (StrFunc::Contains, false) => regex(&regex::escape(&text), true)?,
        (StrFunc::StartsWith, false) => regex(&format!(r"\A(?:{})", regex::escape(&text)), true)?,
        (StrFunc::EndsWith, false) => regex(&format!(r"(?:{})\z", regex::escape(&text)), true)?,
    };
    Ok(Expr::Str(Box::new(StrTest {
        func,
        subject: subject.expr,
        needle: text.into(),
        case_sensitive,
        matcher,
    })))
}

fn regex_error(e: &regex::Error, offset: usize) -> ConditionError {
    match e {
        regex::Error::Syntax(text) => {
            // The last line is `error: what went wrong`; the whole text
            // shows the pattern with its own caret.
            let what = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or("syntax error");
            ConditionError::new(offset, format!("invalid regex: {what}")).hint(text.trim())
        }
        regex::Error::CompiledTooBig(limit) => ConditionError::new(
            offset,
            format!("regex too large: it compiles to more than {limit} bytes"),
        ),
        other => ConditionError::new(offset, format!("invalid regex: {other}")),
    }
}
