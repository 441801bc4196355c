//! Conditions: the boolean expressions of the `filter` and `route`
//! transforms, in a small VRL-shaped language.
//!
//! ```text
//! .level != "debug" && .status >= 500
//! ```
//!
//! A condition is compiled once, when the config is loaded
//! ([`Condition::compile`]); a mistake is a [`ConditionError`] that points at
//! the offending spot. [`Condition::check`] then answers `true` or `false`
//! for each event. Checking never fails and never panics, whatever the
//! event holds, and the common forms (a field compared with a literal,
//! `exists`, `match`, `contains`, `starts_with`, `ends_with`) allocate
//! nothing when they read a log's fields (metadata such as `%severity_text`
//! and a metric's or span's fields are built by the event when read).
//!
//! This crate only reads events; it does no I/O and keeps no state between
//! checks.
//!
//! # Values
//!
//! | Syntax | Meaning |
//! |---|---|
//! | `.status`, `.http.method`, `."user-agent"`, `.tags[0]`, `.tags[-1]` | a field of the event (see below) |
//! | `%severity_text`, `%timestamp`, `%resource."service.name"` | metadata of the event |
//! | `"text"` | a string; escapes `\"` `\\` `\n` `\t` `\r` `\u{1F600}` `\u00e9` |
//! | `r'^\d+$'` | a raw string: no escapes, cannot contain `'` (for regexes) |
//! | `500`, `-1` | a 64-bit integer |
//! | `1.5`, `-2e3` | a float |
//! | `true`, `false`, `null` | |
//!
//! Paths have the syntax of every option that names a field
//! ([`logbridge_event::Path`]). On logs, `.message` is the body and any other
//! top-level name an attribute; metrics have `.name`, `.kind`, `.value`,
//! `.unit` and `.labels.NAME`; spans have `.name`, `.kind`, `.status`,
//! `.duration_ns`, `.attributes.NAME` and more (see
//! [`logbridge_event::Event::get`]). **A missing field is `null`.**
//!
//! # Operators
//!
//! From the tightest to the loosest:
//!
//! | Operators | |
//! |---|---|
//! | `!x` | not |
//! | `==` `!=` `<` `<=` `>` `>=` | comparison; cannot be chained: `a < b < c` is an error |
//! | `a && b` | and (stops at the first false) |
//! | `a \|\| b` | or (stops at the first true) |
//!
//! Parentheses group as usual. Because `!` binds tightest, `!.a == .b` means
//! `(!.a) == .b`; write `!(.a == .b)` or `.a != .b`.
//!
//! # Comparisons
//!
//! * Integers and floats compare numerically with each other (exactly:
//!   `9007199254740993 > 9007199254740992.0` holds).
//! * Strings compare bytewise (`"B" < "a"`; no locale, no Unicode
//!   collation).
//! * Timestamps compare with timestamps, such as `%timestamp` with
//!   `%observed_timestamp`. There are no timestamp literals.
//! * `==` between values of different types is `false` (so `!=` is `true`),
//!   except integer with float: `.status == "500"` is false when `.status`
//!   is the integer 500. Booleans, arrays and objects compare by value with
//!   `==` and `!=` (arrays and objects deeply).
//! * `null == null` is true, so `.user == null` holds when `.user` is
//!   missing or `null`; `.user != null` holds when it is anything else.
//! * `<`, `<=`, `>`, `>=` between values that have no order (different
//!   types, booleans, null, arrays, objects, NaN) are `false`, and so is
//!   their negation with these operators: both `.a < 1` and `.a >= 1` are
//!   false when `.a` is a string. Use `!(.a < 1)` to mean "not less than".
//!
//! # Truthiness
//!
//! A path or literal used where a condition is expected (`.debug`,
//! `.debug && .status >= 500`, `!.debug`) is true **only when its value is
//! the boolean `true`**. The string `"true"`, `1` and missing fields are
//! false, so `!.debug` holds when `.debug` is missing. Conditions are
//! values too: `(.status >= 500) == .alert` compares two booleans.
//!
//! # Functions
//!
//! | Function | True when |
//! |---|---|
//! | `exists(.f)` | the path is present in the event, even with the value `null` |
//! | `match(.f, r'regex')` | the value is a string with a match of the regex anywhere (anchor with `^` and `$`) |
//! | `contains(.f, "s")` | the value is a string that contains `s` |
//! | `starts_with(.f, "s")` | the value is a string that starts with `s` |
//! | `ends_with(.f, "s")` | the value is a string that ends with `s` |
//!
//! * The first argument may be any value (normally a path); the argument of
//!   `exists` must be a path.
//! * The second argument must be a string literal. For `match` it is a
//!   regex in the syntax of the [`regex`] crate, compiled once; either kind
//!   of string literal works, but a raw string is needed for backslashes:
//!   `"\d"` is an unknown escape, `r'\d'` the digit class. `(?i)` in the
//!   pattern ignores case. Strings that are not UTF-8 are matched bytewise.
//! * `contains`, `starts_with` and `ends_with` take an optional third
//!   argument, which must be named: `case_sensitive: false` ignores case
//!   (Unicode simple case folding, as the regex `(?i)` flag does).
//!   `case_sensitive: true` is the default.
//! * On a value that is not a string (a number, a missing field, ...) all
//!   four string functions are false; numbers are not converted to text.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use logbridge_condition::Condition;
//! use logbridge_event::{Event, LogRecord, Path};
//!
//! let mut log = LogRecord::from_line(Bytes::from_static(b"GET /api/users 503"), 0);
//! log.insert(&Path::parse(".status").unwrap(), 503.into()).unwrap();
//! log.insert(&Path::parse(".level").unwrap(), "error".into()).unwrap();
//! let event = Event::Log(log);
//!
//! let errors = Condition::compile(r#".level != "debug" && .status >= 500"#).unwrap();
//! assert!(errors.check(&event));
//! let api = Condition::compile(r"match(.message, r'^GET /api/')").unwrap();
//! assert!(api.check(&event));
//! let bots = Condition::compile(r#"contains(.message, "BOT", case_sensitive: false)"#).unwrap();
//! assert!(!bots.check(&event));
//!
//! let err = Condition::compile(".status >= ").unwrap_err();
//! assert_eq!(err.offset, 11);
//! assert_eq!(err.to_string(), "expected a value after `>=` at column 12");
//! ```
//!
//! # Errors
//!
//! Compilation fails, with the byte offset of the problem, on a syntax
//! error, an unknown name or function (the message lists the functions),
//! a bad argument, an invalid regex, an integer beyond 64 bits, or nesting
//! of parentheses, `!` and calls deeper than 64.
//! [`ConditionError::render`] shows the spot under the source line.

mod error;
mod eval;
mod lexer;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

use logbridge_event::Event;

pub use crate::error::ConditionError;
use crate::eval::Expr;

/// A compiled condition. Cheap to share between threads; cloning copies the
/// tree (compiled regexes are shared).
#[derive(Clone)]
pub struct Condition {
    source: Box<str>,
    expr: Expr,
}

impl Condition {
    /// Compiles `source`; see the [crate documentation](crate) for the
    /// language.
    pub fn compile(source: &str) -> Result<Condition, ConditionError> {
        let expr = parser::parse(source)?;
        Ok(Condition {
            source: source.into(),
            expr,
        })
    }

    /// Whether `event` satisfies the condition. Never fails: values of the
    /// wrong type and missing fields make comparisons and functions false
    /// as documented.
    pub fn check(&self, event: &Event) -> bool {
        self.expr.truthy(event)
    }

    /// Whether the condition is also a VRL program that VRL evaluates
    /// exactly as [`Condition::check`] does on logs: `==` and `!=` between
    /// a field of `.` and a boolean, integer or string literal, `exists`
    /// of a field of `.`, and `!`, `&&`, `||` over those. (VRL sees a NaN
    /// as `null`, so comparisons of two fields, and with `null` or float
    /// literals, are left out; ordering comparisons and the string
    /// functions are fallible in VRL on fields of unknown type.)
    pub fn agrees_with_vrl(&self) -> bool {
        self.expr.agrees_with_vrl()
    }

    /// The text the condition was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Shows the source and how it was understood, fully parenthesized:
/// `Condition { source: ".a || .b && .c", parsed: "(|| .a (&& .b .c))" }`.
impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .field("parsed", &self.expr.to_string())
            .finish()
    }
}
