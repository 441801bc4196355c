//! Parser of the Prometheus text exposition formats: 0.0.4 (`text/plain`)
//! and OpenMetrics 1.0 (`application/openmetrics-text`).
//!
//! [`parse`] turns an exposition into [`Metric`]s, one per point: counters,
//! gauges and unknown/untyped samples each become a point; the
//! `_bucket`/`_sum`/`_count`/`_created` lines of one histogram series, and
//! the quantile/`_sum`/`_count` lines of one summary series, are assembled
//! into ONE point (bucket counts turned from cumulative into per-bucket).
//! [`samples`] is the zero-copy layer underneath: an iterator over the
//! lines, with borrowed names and labels, for callers that do not need
//! events.
//!
//! Mapping choices:
//! - a counter is named as its sample (`a_total`), like the series
//!   Prometheus stores; histograms and summaries by their family name;
//!   `info` points as their sample (`a_info`, value 1) and `stateset`
//!   states as gauges labelled with the state; `unknown`/`untyped` as
//!   gauges; gauge histograms as histograms (`_gcount`, `_gsum`);
//! - `_created` sets `start_time_unix_nano`; HELP sets `description`,
//!   UNIT sets `unit`;
//! - exemplar labels `trace_id` (32 hex digits) and `span_id` (16) become
//!   the exemplar's ids, other labels its `filtered_attributes`.
//!
//! OpenMetrics input is checked strictly (as the format's conformance
//! suite expects: `# EOF`, no blank lines, single spaces, families not
//! interleaved, metadata before samples, histogram and summary shape,
//! counter values, timestamp order). 0.0.4 input is read leniently, like
//! the output of real exporters: comments, blank lines, CRLF, repeated
//! blanks, trailing commas in label sets, missing `+Inf` buckets.
//!
//! Why hand-written: scrapes and remote pushes make this a hot path, with a
//! budget of a few microseconds per 16 KiB payload (5x faster than a Go
//! implementation; see `benches/prometheus.rs`). A regex or parser
//! combinator would cost several times that. The scanner is a byte loop
//! over the input with table-driven character classes and `memchr` for
//! line ends and quoted values; label values are `Bytes` slices of the
//! input (no copy unless escaped), label names are inline `KeyString`s,
//! and the strings repeated within a parse (metric names, help texts) are
//! built once per family.

mod assemble;
mod number;
mod scan;

use bytes::Bytes;
use logbridge_event::Metric;

use scan::{LabelSpan, RawLine, Scanner};

/// Which text format a payload is in; callers derive it from the
/// Content-Type (see [`Format::from_content_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4; timestamps in milliseconds.
    Prometheus,
    /// OpenMetrics 1.0 text; timestamps in seconds.
    OpenMetrics,
}

impl Format {
    /// `application/openmetrics-text` is OpenMetrics; anything else
    /// (`text/plain; version=0.0.4`, missing, unknown) is the 0.0.4 format,
    /// as Prometheus falls back to it.
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The Content-Type to serve the format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A metric family type as declared by `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    /// `unknown` (OpenMetrics) or `untyped` (0.0.4), and families without
    /// a `# TYPE`.
    Unknown,
    Info,
    StateSet,
}

/// Why a payload was refused, with the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    #[error("input larger than 4 GiB")]
    InputTooLarge,
    #[error("invalid metric name")]
    InvalidMetricName,
    #[error("invalid label name")]
    InvalidLabelName,
    #[error("expected `=` after the label name")]
    ExpectedEquals,
    #[error("expected a quoted label value")]
    ExpectedQuote,
    #[error("unterminated label value")]
    UnterminatedLabelValue,
    #[error("expected `,` or `}}` after a label value")]
    ExpectedCommaOrBrace,
    #[error("trailing comma in the label set")]
    TrailingComma,
    #[error("duplicate label name")]
    DuplicateLabel,
    #[error("expected a single space")]
    ExpectedSpace,
    #[error("missing value")]
    MissingValue,
    #[error("invalid value")]
    InvalidValue,
    #[error("invalid timestamp")]
    InvalidTimestamp,
    #[error("unexpected text after the sample")]
    TrailingText,
    #[error("invalid exemplar")]
    InvalidExemplar,
    #[error("exemplar labels longer than 128 characters")]
    ExemplarTooLong,
    #[error("exemplars are only allowed on counter totals and histogram buckets")]
    ExemplarNotAllowed,
    #[error("blank line")]
    BlankLine,
    #[error("invalid comment or metadata line")]
    InvalidMetadata,
    #[error("unknown metric type")]
    UnknownType,
    #[error("metadata repeated for the family")]
    RepeatedMetadata,
    #[error("metadata after the family's samples")]
    MetadataAfterSamples,
    #[error("metric family appears twice or interleaves with another")]
    FamilyClash,
    #[error("unit is not a suffix of the metric name")]
    UnitMismatch,
    #[error("unit not allowed for info and stateset families")]
    UnitNotAllowed,
    #[error("missing `# EOF`")]
    MissingEof,
    #[error("text after `# EOF`")]
    TextAfterEof,
    #[error("sample name does not fit the family's type")]
    InvalidSampleName,
    #[error("missing or invalid `le` label")]
    InvalidLe,
    #[error("histogram buckets out of order")]
    BucketsOutOfOrder,
    #[error("histogram without a `+Inf` bucket")]
    MissingInfBucket,
    #[error("cumulative bucket counts decrease")]
    DecreasingBuckets,
    #[error("count differs from the `+Inf` bucket")]
    CountMismatch,
    #[error("sum and count must come together")]
    SumWithoutCount,
    #[error("sum not allowed with negative buckets")]
    NegativeBucketSum,
    #[error("counter value negative or NaN")]
    InvalidCounterValue,
    #[error("missing or invalid `quantile` label")]
    InvalidQuantile,
    #[error("quantile value negative")]
    NegativeQuantileValue,
    #[error("stateset samples need a label named after the family and value 0 or 1")]
    InvalidStateSet,
    #[error("info samples must be named `*_info` with value 1")]
    InvalidInfo,
    #[error("timestamps of a series go backwards")]
    TimestampOrder,
    #[error("samples of a series mix with and without timestamps")]
    MixedTimestamps,
    #[error("series appears twice in the family")]
    DuplicateSeries,
}

/// Parses an exposition into metric points. `default_timestamp`
/// (nanoseconds) is used for samples without one. Label values are slices
/// of `input` (no copy); pass the body as received.
pub fn parse(
    input: &Bytes,
    format: Format,
    default_timestamp: i64,
) -> Result<Vec<Metric>, ParseError> {
    assemble::Assembler::new(input, format, default_timestamp)?.run()
}

/// [`parse`] for a borrowed buffer: copies it once into a [`Bytes`].
pub fn parse_slice(
    input: &[u8],
    format: Format,
    default_timestamp: i64,
) -> Result<Vec<Metric>, ParseError> {
    parse(&Bytes::copy_from_slice(input), format, default_timestamp)
}

/// The zero-copy layer: iterates over the lines of an exposition with
/// syntax checked (each line on its own), borrowing from `input`. The rules
/// that span lines (families, histogram shape, ordering) are not checked.
pub fn samples(input: &[u8], format: Format) -> Samples<'_> {
    let (scanner, error) = match Scanner::new(input, format) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    Samples {
        scanner,
        error,
        input,
        spans: Vec::new(),
        exemplar_spans: Vec::new(),
    }
}

/// Iterator returned by [`samples`].
pub struct Samples<'a> {
    scanner: Option<Scanner<'a>>,
    error: Option<ParseError>,
    input: &'a [u8],
    spans: Vec<LabelSpan>,
    exemplar_spans: Vec<LabelSpan>,
}

/// One meaningful line of an exposition, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    Sample(SampleRef<'a>),
    /// Help text as written (escaped).
    Help {
        name: &'a [u8],
        text: &'a [u8],
    },
    Type {
        name: &'a [u8],
        kind: FamilyType,
    },
    Unit {
        name: &'a [u8],
        unit: &'a [u8],
    },
    Eof,
}

/// A sample line, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    pub name: &'a [u8],
    pub labels: RawLabels<'a>,
    pub value: f64,
    /// Nanoseconds since the epoch, if the line has a timestamp.
    pub timestamp: Option<i64>,
    pub exemplar: Option<ExemplarRef<'a>>,
}

/// An OpenMetrics exemplar, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct ExemplarRef<'a> {
    pub labels: RawLabels<'a>,
    pub value: f64,
    pub timestamp: Option<i64>,
}

/// The text between a label set's braces, already validated.
#[derive(Debug, Clone, Copy)]
pub struct RawLabels<'a>(&'a [u8]);

impl<'a> RawLabels<'a> {
    /// `(name, escaped value)` pairs; unescape values with [`unescape`].
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let text = self.0;
        let mut i = 0;
        std::iter::from_fn(move || {
            while let Some(b' ' | b'\t' | b',') = text.get(i) {
                i += 1;
            }
            let rest = text.get(i..)?;
            let eq = memchr::memchr(b'=', rest)?;
            let name = trim_end(rest.get(..eq)?);
            let quote = memchr::memchr(b'"', rest)?;
            let mut j = quote + 1;
            loop {
                match memchr::memchr2(b'"', b'\\', rest.get(j..)?) {
                    Some(k) if rest.get(j + k) == Some(&b'"') => {
                        let value = rest.get(quote + 1..j + k)?;
                        i += j + k + 1;
                        return Some((name, value));
                    }
                    Some(k) => j += k + 2,
                    None => return None,
                }
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

fn trim_end(s: &[u8]) -> &[u8] {
    let mut s = s;
    while let Some((b' ' | b'\t', head)) = s.split_last() {
        s = head;
    }
    s
}

impl<'a> Iterator for Samples<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let scanner = self.scanner.as_mut()?;
        let input = self.input;
        let raw = match scanner.next_line(&mut self.spans, &mut self.exemplar_spans) {
            Ok(Some(raw)) => raw,
            Ok(None) => return None,
            Err(e) => {
                self.scanner = None;
                return Some(Err(e));
            }
        };
        let slice = |(a, b): (u32, u32)| input.get(a as usize..b as usize).unwrap_or_default();
        Some(Ok(match raw {
            RawLine::Sample(s) => Entry::Sample(SampleRef {
                name: s.name,
                labels: RawLabels(slice(s.labels)),
                value: s.value,
                timestamp: s.timestamp,
                exemplar: s.exemplar.map(|e| ExemplarRef {
                    labels: RawLabels(slice(e.labels)),
                    value: e.value,
                    timestamp: e.timestamp,
                }),
            }),
            RawLine::Help { name, text } => Entry::Help { name, text },
            RawLine::Type { name, kind } => Entry::Type { name, kind },
            RawLine::Unit { name, unit } => Entry::Unit { name, unit },
            RawLine::Eof => Entry::Eof,
        }))
    }
}

/// Unescapes a label value or help text: `\\`, `\n` and `\"` (the last
/// only when `quotes`); any other backslash is kept as written.
pub fn unescape(raw: &[u8], quotes: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(j) = raw.get(i..).and_then(|r| memchr::memchr(b'\\', r)) {
        out.extend_from_slice(raw.get(i..i + j).unwrap_or_default());
        let at = i + j;
        match raw.get(at + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'"') if quotes => out.push(b'"'),
            Some(&c) => {
                out.push(b'\\');
                out.push(c);
            }
            None => {
                out.push(b'\\');
                i = at + 1;
                break;
            }
        }
        i = at + 2;
    }
    out.extend_from_slice(raw.get(i..).unwrap_or_default());
    out
}
