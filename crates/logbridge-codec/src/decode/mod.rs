//! Parsers that turn one record (a line) into fields: `json`, `logfmt`,
//! `regex` and `syslog`, as used by the `parse` transform.
//!
//! A [`Parser`] is built once from a [`ParserConfig`] (all validation, such
//! as compiling the regex, happens there) and then parses records with
//! [`Parser::parse`]. Parsing never panics and never reads the clock: bad
//! input is a [`ParseError`], short enough to attach to a dropped event, and
//! the syslog parser gets the current time from the caller
//! ([`Parser::parse_at`]). Inputs over [`MAX_PARSE_INPUT_BYTES`] are rejected
//! before any work.
//!
//! Strings in the result are [`bytes::Bytes`]; [`Parser::parse_bytes`] makes
//! them slices of the input instead of copies wherever no unescaping is
//! needed, which is the fast path for lines that are already `Bytes`.
//!
//! Formats, in short:
//! - `json`: the record must be one JSON object (RFC 8259; anything else is
//!   [`ParseError::NotAnObject`] or [`ParseError::InvalidJson`]); numbers
//!   that fit an `i64` are integers, other numbers floats (correctly
//!   rounded). Nesting is limited to 128 levels. A duplicated key keeps its
//!   last value. A hand-written parser, tested against serde_json.
//! - `logfmt`: `key=value key2="quoted \"value\"" flag`. Every value stays a
//!   string (no guessing of numbers: `version=1.10` must not become `1.1`);
//!   a bare key is `true`; `key=` is the empty string. Dotted keys are kept
//!   as they are (`http.method` is one top-level field).
//! - `regex`: the named groups of the first match (anywhere in the line, as
//!   `Regex::captures` finds it) become string fields; a named group that
//!   did not take part in the match is left out. Invalid UTF-8 in the line
//!   is replaced by U+FFFD before matching.
//! - `syslog`: RFC 5424 or RFC 3164 (see [`Parser::parse_at`] for the
//!   fields and for how a year-less timestamp gets its year).

mod json;
mod logfmt;
mod pattern;
mod syslog;

pub use json::{EventValues, JsonBuilder, parse_object as parse_json_object};

use bytes::Bytes;
use logbridge_event::ObjectMap;

/// Records larger than this (1 MiB) are rejected with [`ParseError::TooLarge`].
pub const MAX_PARSE_INPUT_BYTES: usize = 1 << 20;

/// Which format to parse, as written in a config
/// (`format = "regex"`, `pattern = "..."`).
///
/// Unknown fields are not denied here: the enum is meant to be flattened
/// into a transform's config, which denies them itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum ParserConfig {
    Json,
    Logfmt,
    Regex {
        /// A regular expression (Rust `regex` syntax) with named groups,
        /// `(?P<name>...)`; each named group becomes a field.
        pattern: String,
    },
    Syslog,
}

/// A config that cannot make a parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    #[error(
        "regex `{pattern}` has no named capture groups, so it would make no fields; \
         name them with (?P<name>...)"
    )]
    NoNamedCaptures { pattern: String },
}

/// Why a record could not be parsed. Messages are short, lower-case and
/// meant to be attached to the dropped event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("input of {len} bytes is over the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("empty input")]
    Empty,
    #[error("invalid json at line {line} column {column}: {message}")]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("json is not an object")]
    NotAnObject,
    #[error("invalid logfmt at byte {offset}: {message}")]
    InvalidLogfmt {
        offset: usize,
        message: &'static str,
    },
    #[error("line does not match the pattern")]
    NoMatch,
    #[error("invalid syslog message: {0}")]
    InvalidSyslog(&'static str),
}

/// A parser for one format. Cheap to clone; shareable between threads.
#[derive(Debug, Clone)]
pub struct Parser {
    format: Format,
    /// Year for syslog timestamps that have none; overrides the year taken
    /// from the time passed to [`Parser::parse_at`].
    year: Option<i32>,
}

#[derive(Debug, Clone)]
enum Format {
    Json,
    Logfmt,
    Regex(pattern::PatternParser),
    Syslog,
}

/// The time a record is parsed at, for the year of syslog timestamps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum YearHint {
    Fixed(i32),
    Now(i64),
    Unknown,
}

impl Parser {
    /// Builds a parser; a regex that does not compile or has no named
    /// group is an error.
    pub fn new(config: &ParserConfig) -> Result<Parser, ConfigError> {
        let format = match config {
            ParserConfig::Json => Format::Json,
            ParserConfig::Logfmt => Format::Logfmt,
            ParserConfig::Regex { pattern } => Format::Regex(pattern::PatternParser::new(pattern)?),
            ParserConfig::Syslog => Format::Syslog,
        };
        Ok(Parser { format, year: None })
    }

    /// Sets the year given to syslog timestamps that have none (RFC 3164's
    /// `Oct 11 22:14:15`), whatever time is passed to [`Parser::parse_at`].
    pub fn with_year(mut self, year: i32) -> Parser {
        self.year = Some(year);
        self
    }

    /// Parses one record into fields; strings are copied out of `input`.
    ///
    /// Without a time, a year-less syslog timestamp gets the year set by
    /// [`Parser::with_year`], and is left out when none was set.
    pub fn parse(&self, input: &[u8]) -> Result<ObjectMap, ParseError> {
        self.run(input, None, self.year_hint(None))
    }

    /// Like [`Parser::parse`], with the current time (nanoseconds since the
    /// epoch, usually the event's observed time) for syslog timestamps
    /// without a year: they get the year of `now_unix_nano` in UTC, or the
    /// year before for a December timestamp seen in January.
    pub fn parse_at(&self, input: &[u8], now_unix_nano: i64) -> Result<ObjectMap, ParseError> {
        self.run(input, None, self.year_hint(Some(now_unix_nano)))
    }

    /// Like [`Parser::parse_at`], but strings that need no unescaping are
    /// slices of `input` (sharing its buffer) instead of copies.
    pub fn parse_bytes(&self, input: &Bytes, now_unix_nano: i64) -> Result<ObjectMap, ParseError> {
        self.run(input, Some(input), self.year_hint(Some(now_unix_nano)))
    }

    fn year_hint(&self, now_unix_nano: Option<i64>) -> YearHint {
        match (self.year, now_unix_nano) {
            (Some(year), _) => YearHint::Fixed(year),
            (None, Some(now)) => YearHint::Now(now),
            (None, None) => YearHint::Unknown,
        }
    }

    fn run(
        &self,
        input: &[u8],
        source: Option<&Bytes>,
        year: YearHint,
    ) -> Result<ObjectMap, ParseError> {
        if input.len() > MAX_PARSE_INPUT_BYTES {
            return Err(ParseError::TooLarge {
                len: input.len(),
                max: MAX_PARSE_INPUT_BYTES,
            });
        }
        let text = Text { input, source };
        match &self.format {
            Format::Json => json::parse(text),
            Format::Logfmt => logfmt::parse(text),
            Format::Regex(p) => p.parse(text),
            Format::Syslog => syslog::parse(text, year),
        }
    }
}

/// The record being parsed, and the `Bytes` holding it when there is one.
#[derive(Clone, Copy)]
pub(crate) struct Text<'a> {
    input: &'a [u8],
    source: Option<&'a Bytes>,
}

impl Text<'_> {
    /// A `Bytes` of `part`: a slice of the source when `part` lies inside
    /// it, a copy otherwise.
    fn share(&self, part: &[u8]) -> Bytes {
        if let Some(src) = self.source {
            // Compare addresses (safe arithmetic, never dereferenced) rather
            // than trust `part` to come from `src`: `Bytes::slice_ref`
            // panics when it does not.
            let start = (part.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
            if start <= src.len() && part.len() <= src.len() - start {
                return src.slice(start..start + part.len());
            }
        }
        Bytes::copy_from_slice(part)
    }
}

#[cfg(test)]
mod tests;
