//! Go's `text/template` language with Prometheus' template functions: the
//! templates of alerting-rule `labels` and `annotations`.
//!
//! Prometheus templates are Go `text/template` text plus Prometheus' template
//! functions. This crate implements that language (lexer, parser, executor)
//! and those functions with Go's exact output formatting, so existing rule
//! files work unchanged:
//!
//! ```rust
//! use logbridge_text_template::{Template, TemplateData};
//!
//! let t = Template::compile("summary", "{{ $labels.instance }} down; value {{ $value | humanize }}")
//!     .unwrap();
//! let labels = vec![("instance".to_string(), "db1:9100".to_string())];
//! let data = TemplateData { labels: &labels, external_labels: &[], external_url: "", value: 1234567.0 };
//! let out = t.expand(&data, &mut |_promql: &str| Ok(vec![])).unwrap();
//! assert_eq!(out, "db1:9100 down; value 1.235M");
//! ```
//!
//! # What it must not do
//!
//! Expansion is a pure function of the template, its [`TemplateData`] and
//! the answers of the `query` callback: the crate does no I/O and reads no
//! clock. Time functions (`humanizeTimestamp`, `toTime`, `.Format`) format
//! the times they are given, in UTC. What is Prometheus' own — running a
//! PromQL query for the `query` function — is the caller's, passed to
//! [`Template::expand`] as a callback; the crate depends on no rules engine.
//! [`calendar`] is public because PromQL's date functions share it.
//!
//! # Semantics
//!
//! * As in Prometheus, `$labels`, `$externalLabels`, `$externalURL` and `$value`
//!   are predeclared from `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`,
//!   and the template runs with Go's `missingkey=zero`: a missing label prints
//!   as the empty string (Prometheus' own tests pin this), while a missing key of
//!   an `args` map or any other nil value prints `<no value>`.
//! * Syntax: text and actions with `{{-`/`-}}` trimming and comments,
//!   pipelines, `$x := ...` / `$x = ...`, `if`/`else if`, `with`/`else with`,
//!   `range` (slices, maps in key order, integers) with `else`, `$i, $e :=`,
//!   `break`, `continue`, `define`/`template`/`block`, parentheses, field
//!   chains, and string/raw/char/number/bool/nil literals.
//! * Go builtins: `and or not len index slice eq ne lt le gt ge print printf
//!   println html js urlquery` (`and`/`or` short-circuit; `printf` implements
//!   Go's verbs, flags, width/precision, `%[n]` and `%!v(...)` error forms).
//!   Prometheus: `query first label value strvalue sortByLabel args reReplaceAll
//!   match safeHtml title toUpper toLower graphLink tableLink stripPort
//!   stripDomain humanize humanize1024 humanizeDuration humanizePercentage
//!   humanizeTimestamp toTime pathPrefix externalURL parseDuration`. `toTime`
//!   values support `.Format`, `.Unix`, `.UnixMilli`, `.UnixNano`, `.UTC`,
//!   `.Year` and the other integer accessors.
//! * Values keep Go's types: literals are `int` or `float64` as in Go, so
//!   `gt $value 1` fails with "incompatible types for comparison" exactly as in
//!   Prometheus (users write `gt $value 1.0`); `gt NaN x` is true, as in Go.
//! * Unknown functions and undefined variables are compile errors, as in Go.
//!   Errors carry a 1-based `line:col` (characters) within the template text;
//!   Go prints 0-based byte columns. Messages otherwise follow Go's wording.
//!
//! The output was checked against Go 1.19's `text/template` with Prometheus'
//! function map on ~40,000 generated templates and 8,000 random floats:
//! identical apart from the differences listed below.
//!
//! # Limits
//!
//! Compilation limits nesting of control structures and parentheses to 100
//! levels. Expansion is bounded by [`Limits`]: execution depth (control
//! structures, parentheses and `{{template}}` calls; the worst case needs under
//! 512 KiB of stack in a debug build), a step budget (a `range` over a 100k
//! series result is fine, exponential recursion is stopped), and the output
//! size, which also caps every string a function builds. No template text or
//! data can make this crate panic (it is fuzzed); it forbids `unsafe`.
//!
//! # Why hand-written
//!
//! The Go-template crates on crates.io were evaluated. `gtmpl` 0.7 is
//! unmaintained (2018 edition), reports errors by line only and formats
//! through Rust's `fmt` rather than Go's. `gotmpl` 0.6 is thorough but months
//! old with a single maintainer. It registers functions as `'static` closures
//! before parsing, so the per-call `query` callback cannot be passed in
//! without a thread hop, and its untyped values cannot express
//! `missingkey=zero` (it prints `<no value>` where Prometheus prints ""). The
//! subset Prometheus needs is small enough to own, with no dependency beyond
//! `regex`.
//!
//! # Known differences from Go / Prometheus
//!
//! * Strings are UTF-8: bytes that do not form UTF-8 (from `\x` escapes or
//!   `slice` mid-character) become U+FFFD; `index` on a string yields an `int`,
//!   not a `uint8`.
//! * Pointers nested in printed values show as `&{...}` where Go prints an
//!   address; `%#v` is not Go-syntax; a `toTime` value with a verb other than
//!   `%v %s %q %x %X` prints `%!verb(*time.Time=...)` rather than Go's struct dump.
//! * Complex numbers, `call` and `tmpl` (HTML mode only in Prometheus) are not
//!   supported; `{{template}}` cannot name the root template itself.
//! * Regular expressions run on the `regex` crate after translating Go-specific
//!   syntax (ASCII `\d \w \s \b`, `\Q...\E`, literal `{`, flat classes);
//!   error texts differ, and patterns RE2 rejects may be accepted.
//! * `title` follows x/text's word-break approximation with Rust's Unicode
//!   tables; `toUpper`/`toLower` use single-character mappings like Go.
//! * Float-to-int conversions mimic Go on amd64 (out of range gives `MinInt64`).

#![forbid(unsafe_code)]

pub mod calendar;
mod exec;
mod format;
mod functions;
mod lexer;
mod parser;
mod regexp;
mod timefmt;
mod value;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Variables Prometheus declares before the user's template text.
const PREDECLARED: [&str; 4] = ["$labels", "$externalLabels", "$externalURL", "$value"];

/// Resource limits for [`Template::expand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of the expanded output and of any string a function builds.
    pub max_output_bytes: usize,
    /// Maximum number of evaluation steps (nodes, commands, calls, iterations).
    pub max_steps: u64,
    /// Maximum execution nesting (control structures, parentheses, template calls).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output_bytes: 4 << 20,
            max_steps: 10_000_000,
            max_depth: 200,
        }
    }
}

/// A compiled template. It is `Send + Sync`: compile once, expand from any thread.
#[derive(Debug)]
pub struct Template {
    name: String,
    source: String,
    parsed: parser::Parsed,
    limits: Limits,
    /// Regexes compiled by `match` / `reReplaceAll`, shared across expansions.
    regex_cache: Mutex<HashMap<String, Arc<regex::Regex>>>,
}

impl Clone for Template {
    fn clone(&self) -> Self {
        Template {
            name: self.name.clone(),
            source: self.source.clone(),
            parsed: self.parsed.clone(),
            limits: self.limits,
            regex_cache: Mutex::default(),
        }
    }
}

/// The data a template is expanded with (Prometheus' alert template data).
#[derive(Debug, Clone, Copy)]
pub struct TemplateData<'a> {
    pub labels: &'a [(String, String)],
    pub external_labels: &'a [(String, String)],
    pub external_url: &'a str,
    pub value: f64,
}

/// One sample of a `query` result.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// What kind of failure a [`TemplateError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template text does not compile.
    Compile,
    /// Execution failed (bad types, failing function, query error, ...).
    Execute,
    /// Execution hit one of the [`Limits`].
    LimitExceeded,
}

/// A compile or expansion error, positioned within the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub kind: ErrorKind,
    /// Name given to [`Template::compile`].
    pub template: String,
    /// 1-based line within the template text.
    pub line: usize,
    /// 1-based column (in characters) within the line.
    pub col: usize,
    pub message: String,
    /// For execution errors: the (sub)template being executed (`{{define}}` name or the root).
    pub executing: Option<String>,
    /// For execution errors: the source text of the failing node (shortened like Go's).
    pub context: Option<String>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template: {}:{}:{}: ",
            self.template, self.line, self.col
        )?;
        if let (Some(name), Some(ctx)) = (&self.executing, &self.context) {
            write!(f, "executing {name:?} at <{ctx}>: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// 1-based line and character column of byte offset `pos` in `src`.
pub(crate) fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl Template {
    /// Compiles; the error names the position (line:col within the template text) and what is wrong.
    pub fn compile(name: &str, text: &str) -> Result<Template, TemplateError> {
        match parser::parse(name, text, &PREDECLARED) {
            Ok(parsed) => Ok(Template {
                name: name.to_string(),
                source: text.to_string(),
                parsed,
                limits: Limits::default(),
                regex_cache: Mutex::default(),
            }),
            Err(e) => {
                let (line, col) = line_col(text, e.pos);
                Err(TemplateError {
                    kind: ErrorKind::Compile,
                    template: name.to_string(),
                    line,
                    col,
                    message: e.msg,
                    executing: None,
                    context: None,
                })
            }
        }
    }

    /// Replaces the execution limits (see [`Limits::default`]).
    pub fn with_limits(mut self, limits: Limits) -> Template {
        self.limits = limits;
        self
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template calls `query`, and so may read any series.
    pub fn calls_query(&self) -> bool {
        lexer::lex(&self.source).iter().any(|item| {
            item.tok == lexer::Tok::Identifier
                && self.source.get(item.start..item.end) == Some("query")
        })
    }

    /// Expands the template. `query` answers the `query` function (a PromQL
    /// instant query at the evaluation time); its error is reported as
    /// `error calling query: ...`.
    pub fn expand(
        &self,
        data: &TemplateData<'_>,
        query: &mut dyn FnMut(&str) -> Result<Vec<QuerySample>, String>,
    ) -> Result<String, TemplateError> {
        exec::execute(self, data, query).map_err(|e| *e)
    }
}
