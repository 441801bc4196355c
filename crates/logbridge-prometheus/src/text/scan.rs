//! The zero-copy layer: a byte-level scanner that splits an exposition into
//! lines and tokenizes each one (metadata, or a sample with its labels,
//! value, timestamp and exemplar) without allocating. Labels are recorded
//! as byte ranges into the input; nothing is unescaped or copied here.
//!
//! Syntax is checked here; the rules that span lines (families, histogram
//! shape, ordering) belong to the assembler.

use memchr::memchr;

use super::number::{parse_millis, parse_seconds, parse_value};
use super::{FamilyType, Format, ParseError, ParseErrorKind as K};

const METRIC_START: u8 = 1;
const METRIC_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

/// Character classes of names, one lookup per byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= METRIC_START | METRIC_CHAR;
        }
        if digit {
            v |= METRIC_CHAR | LABEL_CHAR;
        }
        if alpha {
            v |= LABEL_START | LABEL_CHAR;
        }
        t[c] = v;
        c += 1;
    }
    t
};

/// Whether `name` is a valid metric name.
pub(crate) fn is_metric_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            CLASS[usize::from(*first)] & METRIC_START != 0
                && rest
                    .iter()
                    .all(|&c| CLASS[usize::from(c)] & METRIC_CHAR != 0)
        }
        None => false,
    }
}

/// One label of a sample or exemplar: offsets into the whole input (u32:
/// inputs are capped at 4 GiB), the value still escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LabelSpan {
    pub name_start: u32,
    pub name_end: u32,
    pub value_start: u32,
    pub value_end: u32,
    /// The raw value contains a backslash and must be unescaped.
    pub escaped: bool,
}

impl LabelSpan {
    #[inline]
    pub fn name<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        input
            .get(self.name_start as usize..self.name_end as usize)
            .unwrap_or_default()
    }
    #[inline]
    pub fn raw_value<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        input
            .get(self.value_start as usize..self.value_end as usize)
            .unwrap_or_default()
    }
}

/// A scanned exemplar: labels in the scanner's exemplar span buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawExemplar {
    /// Byte range of the text between the braces.
    pub labels: (u32, u32),
    pub value: f64,
    pub timestamp: Option<i64>,
}

/// A scanned sample line; its labels are in the span buffer passed to
/// [`Scanner::next_line`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSample<'a> {
    pub name: &'a [u8],
    /// Byte range of the text between the braces (empty without braces).
    pub labels: (u32, u32),
    pub value: f64,
    /// The value as written (`_created` is re-read from it exactly).
    pub value_token: &'a [u8],
    /// Nanoseconds.
    pub timestamp: Option<i64>,
    pub exemplar: Option<RawExemplar>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RawLine<'a> {
    Sample(RawSample<'a>),
    /// The help text, still escaped.
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

pub(crate) struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
    /// 1-based number of the line last returned.
    pub line: usize,
    strict: bool,
    done: bool,
    /// The previous sample line, for reusing its parse: the offset of its
    /// start, its length, its name length, and checkpoints `(offset in the
    /// line, labels complete)` at which the parser state depends only on
    /// the bytes before the offset.
    prev: Option<(usize, usize, usize)>,
    checkpoints: Vec<(u32, u32)>,
}

impl<'a> Scanner<'a> {
    pub fn new(input: &'a [u8], format: Format) -> Result<Scanner<'a>, ParseError> {
        if u32::try_from(input.len()).is_err() {
            return Err(ParseError {
                line: 0,
                kind: K::InputTooLarge,
            });
        }
        Ok(Scanner {
            input,
            pos: 0,
            line: 0,
            strict: format == Format::OpenMetrics,
            done: false,
            prev: None,
            checkpoints: Vec::new(),
        })
    }

    fn err(&self, kind: K) -> ParseError {
        ParseError {
            line: self.line,
            kind,
        }
    }

    /// The next meaningful line. `spans` and `exemplar_spans` are cleared
    /// and refilled with the labels of a returned sample. `Ok(None)` at the
    /// end of the input (in OpenMetrics, only after `# EOF`).
    pub fn next_line(
        &mut self,
        spans: &mut Vec<LabelSpan>,
        exemplar_spans: &mut Vec<LabelSpan>,
    ) -> Result<Option<RawLine<'a>>, ParseError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let input = self.input;
            if self.pos >= input.len() {
                self.done = true;
                if self.strict {
                    self.line += 1;
                    return Err(self.err(K::MissingEof));
                }
                return Ok(None);
            }
            let start = self.pos;
            let rest = input.get(start..).unwrap_or_default();
            self.line += 1;
            if rest
                .first()
                .is_some_and(|&c| CLASS[usize::from(c)] & METRIC_START != 0)
            {
                // A sample: tokenized straight from the input, the line end
                // found on the way (no separate search for it).
                exemplar_spans.clear();
                let (sample, eol) = self.sample_reusing(rest, start, spans, exemplar_spans)?;
                self.prev = Some((start, eol, sample.name.len()));
                self.pos = (start + eol + 1).min(input.len());
                return Ok(Some(RawLine::Sample(sample)));
            }
            let (end, next) = match memchr(b'\n', rest) {
                Some(i) => (start + i, start + i + 1),
                None => (input.len(), input.len()),
            };
            self.pos = next;
            let mut line = input.get(start..end).unwrap_or_default();
            if !self.strict {
                // Tolerate CRLF and blanks around lines of hand-written files.
                while let Some((&last, head)) = line.split_last() {
                    if last == b'\r' || last == b' ' || last == b'\t' {
                        line = head;
                    } else {
                        break;
                    }
                }
            }
            match line.first() {
                None => {
                    if self.strict {
                        return Err(self.err(K::BlankLine));
                    }
                }
                Some(b'#') => {
                    if let Some(meta) = self.metadata(line)? {
                        if let RawLine::Eof = meta {
                            self.done = true;
                            if next < input.len() {
                                self.line += 1;
                                return Err(self.err(K::TextAfterEof));
                            }
                        }
                        return Ok(Some(meta));
                    }
                }
                Some(b' ' | b'\t') if !self.strict => {
                    let skip = skip_blanks(line, 0);
                    let line = line.get(skip..).unwrap_or_default();
                    if line.first() == Some(&b'#') {
                        continue;
                    }
                    self.prev = None;
                    exemplar_spans.clear();
                    return self
                        .sample(line, start + skip, spans, exemplar_spans)
                        .map(|(s, _)| Some(RawLine::Sample(s)));
                }
                Some(_) => {
                    self.prev = None;
                    exemplar_spans.clear();
                    return self
                        .sample(line, start, spans, exemplar_spans)
                        .map(|(s, _)| Some(RawLine::Sample(s)));
                }
            }
        }
    }

    /// A line starting with `#`: metadata, `# EOF`, or (0.0.4 only) a
    /// comment, for which `None` is returned.
    fn metadata(&self, line: &'a [u8]) -> Result<Option<RawLine<'a>>, ParseError> {
        let body = line.get(1..).unwrap_or_default();
        let body = if self.strict {
            if body == b" EOF" {
                return Ok(Some(RawLine::Eof));
            }
            match body.strip_prefix(b" ") {
                Some(b) => b,
                None => return Err(self.err(K::InvalidMetadata)),
            }
        } else {
            trim_start(body)
        };
        let (keyword, rest) = match memchr(b' ', body) {
            Some(i) => (
                body.get(..i).unwrap_or_default(),
                body.get(i + 1..).unwrap_or_default(),
            ),
            None => (body, &b""[..]),
        };
        let which = match keyword {
            b"HELP" => 0,
            b"TYPE" => 1,
            b"UNIT" if self.strict => 2,
            _ if self.strict => return Err(self.err(K::InvalidMetadata)),
            _ => return Ok(None),
        };
        if self.strict && keyword.len() == body.len() {
            // `# HELP` with nothing after it.
            return Err(self.err(K::InvalidMetadata));
        }
        let rest = if self.strict { rest } else { trim_start(rest) };
        let (name, text, has_text) = match memchr(b' ', rest) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i + 1..).unwrap_or_default(),
                true,
            ),
            None => (rest, &b""[..], false),
        };
        if !is_metric_name(name) {
            if self.strict {
                return Err(self.err(K::InvalidMetricName));
            }
            // A comment that happens to start with HELP or TYPE.
            return Ok(None);
        }
        if self.strict && !has_text {
            return Err(self.err(K::InvalidMetadata));
        }
        Ok(Some(match which {
            0 => RawLine::Help {
                name,
                text: if self.strict { text } else { trim_start(text) },
            },
            1 => {
                let word = if self.strict { text } else { trim_start(text) };
                let kind = match word {
                    b"counter" => FamilyType::Counter,
                    b"gauge" => FamilyType::Gauge,
                    b"histogram" => FamilyType::Histogram,
                    b"summary" => FamilyType::Summary,
                    b"unknown" => FamilyType::Unknown,
                    b"untyped" if !self.strict => FamilyType::Unknown,
                    b"info" => FamilyType::Info,
                    b"stateset" => FamilyType::StateSet,
                    b"gaugehistogram" => FamilyType::GaugeHistogram,
                    _ => return Err(self.err(K::UnknownType)),
                };
                RawLine::Type { name, kind }
            }
            _ => RawLine::Unit { name, unit: text },
        }))
    }

    /// A sample line starting at `line` (which may run past the line's
    /// end: a `\n` ends it); `base` is its offset in the input. Returns the
    /// sample and the offset of the line end in `line`.
    fn sample(
        &mut self,
        line: &'a [u8],
        base: usize,
        spans: &mut Vec<LabelSpan>,
        exemplar_spans: &mut Vec<LabelSpan>,
    ) -> Result<(RawSample<'a>, usize), ParseError> {
        // Metric name.
        let mut i = match line.first() {
            Some(&c) if CLASS[usize::from(c)] & METRIC_START != 0 => 1,
            _ => return Err(self.err(K::InvalidMetricName)),
        };
        while let Some(&c) = line.get(i) {
            if CLASS[usize::from(c)] & METRIC_CHAR == 0 {
                break;
            }
            i += 1;
        }
        let name = line.get(..i).unwrap_or_default();
        let mut labels = ((base + i) as u32, (base + i) as u32);
        if line.get(i) == Some(&b'{') {
            let open = i + 1;
            spans.clear();
            self.checkpoints.clear();
            i = self.labels(line, open, base, spans, false)?;
            labels = ((base + open) as u32, (base + i - 1) as u32);
        } else {
            spans.clear();
            self.checkpoints.clear();
        }
        self.rest_of_sample(line, base, name, labels, i, exemplar_spans)
    }

    /// [`Scanner::sample`], reusing the parse of the previous sample line
    /// for the prefix the two lines share (the name and leading labels of
    /// histogram buckets and of labelled counters repeat line after line).
    fn sample_reusing(
        &mut self,
        line: &'a [u8],
        base: usize,
        spans: &mut Vec<LabelSpan>,
        exemplar_spans: &mut Vec<LabelSpan>,
    ) -> Result<(RawSample<'a>, usize), ParseError> {
        let Some((prev_start, prev_len, name_len)) = self.prev else {
            return self.sample(line, base, spans, exemplar_spans);
        };
        let prev = self
            .input
            .get(prev_start..prev_start + prev_len)
            .unwrap_or_default();
        let common = common_prefix(prev, line);
        // The latest checkpoint inside the shared prefix.
        let Some(at) = self
            .checkpoints
            .iter()
            .rposition(|&(offset, _)| offset as usize <= common)
        else {
            return self.sample(line, base, spans, exemplar_spans);
        };
        let (offset, done) = self.checkpoints.get(at).copied().unwrap_or_default();
        self.checkpoints.truncate(at);
        spans.truncate(done as usize);
        // Same bytes, new place: shift the kept labels to this line.
        let delta = (base - prev_start) as u32;
        for s in spans.iter_mut() {
            s.name_start += delta;
            s.name_end += delta;
            s.value_start += delta;
            s.value_end += delta;
        }
        let name = line.get(..name_len).unwrap_or_default();
        let open = name_len + 1;
        let i = self.labels(line, offset as usize, base, spans, false)?;
        let labels = ((base + open) as u32, (base + i - 1) as u32);
        self.rest_of_sample(line, base, name, labels, i, exemplar_spans)
    }

    /// The part of a sample line after its labels.
    fn rest_of_sample(
        &mut self,
        line: &'a [u8],
        base: usize,
        name: &'a [u8],
        labels: (u32, u32),
        mut i: usize,
        exemplar_spans: &mut Vec<LabelSpan>,
    ) -> Result<(RawSample<'a>, usize), ParseError> {
        // Value.
        if is_eol(line, i) {
            return Err(self.err(K::MissingValue));
        }
        i = self.separator(line, i)?;
        let value_end = self.token_end(line, i);
        let tok = line.get(i..value_end).unwrap_or_default();
        if tok.is_empty() {
            return Err(self.err(K::MissingValue));
        }
        let value = parse_value(tok).ok_or_else(|| self.err(K::InvalidValue))?;
        i = self.trailing(line, value_end);
        let mut sample = RawSample {
            name,
            labels,
            value,
            value_token: tok,
            timestamp: None,
            exemplar: None,
        };
        if is_eol(line, i) {
            return Ok((sample, i));
        }
        i = self.separator(line, i)?;
        if line.get(i) != Some(&b'#') {
            let ts_end = self.token_end(line, i);
            let tok = line.get(i..ts_end).unwrap_or_default();
            let ts = if self.strict {
                parse_seconds(tok)
            } else {
                parse_millis(tok)
            };
            sample.timestamp = Some(ts.ok_or_else(|| self.err(K::InvalidTimestamp))?);
            i = self.trailing(line, ts_end);
            if is_eol(line, i) {
                return Ok((sample, i));
            }
            i = self.separator(line, i)?;
            if line.get(i) != Some(&b'#') {
                return Err(self.err(K::TrailingText));
            }
        }
        if !self.strict {
            // 0.0.4 has no exemplars: the rest of the line is a comment.
            let eol =
                memchr(b'\n', line.get(i..).unwrap_or_default()).map_or(line.len(), |j| i + j);
            return Ok((sample, eol));
        }
        let (exemplar, eol) = self.exemplar(line, i + 1, base, exemplar_spans)?;
        sample.exemplar = Some(exemplar);
        Ok((sample, eol))
    }

    /// In 0.0.4, blanks and a CR before the line end are skipped.
    #[inline]
    fn trailing(&self, line: &[u8], mut i: usize) -> usize {
        if !self.strict {
            let j = skip_blanks(line, i);
            let k = if line.get(j) == Some(&b'\r') {
                j + 1
            } else {
                j
            };
            if is_eol(line, k) {
                i = k;
            }
        }
        i
    }

    /// End of the token starting at `i`: the next space or line end (or
    /// tab or CR in 0.0.4). Tokens are short, so a plain loop beats a
    /// vectorized search here.
    #[inline]
    fn token_end(&self, line: &[u8], mut i: usize) -> usize {
        if self.strict {
            while let Some(&c) = line.get(i) {
                if c == b' ' || c == b'\n' {
                    break;
                }
                i += 1;
            }
        } else {
            while let Some(&c) = line.get(i) {
                if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                    break;
                }
                i += 1;
            }
        }
        i
    }

    /// The exemplar after `#` at `i`: ` {labels} value[ timestamp]`.
    fn exemplar(
        &mut self,
        line: &'a [u8],
        mut i: usize,
        base: usize,
        spans: &mut Vec<LabelSpan>,
    ) -> Result<(RawExemplar, usize), ParseError> {
        let line_no = self.line;
        let bad = move || ParseError {
            line: line_no,
            kind: K::InvalidExemplar,
        };
        if line.get(i) != Some(&b' ') || line.get(i + 1) != Some(&b'{') {
            return Err(bad());
        }
        let open = i + 2;
        i = self.labels(line, open, base, spans, true)?;
        let labels = ((base + open) as u32, (base + i - 1) as u32);
        // OpenMetrics caps the label text at 128 code points.
        let mut chars = 0;
        for s in spans.iter() {
            chars += count_chars(s.name(self.input));
            chars += count_chars(s.raw_value(self.input));
        }
        if chars > 128 {
            return Err(self.err(K::ExemplarTooLong));
        }
        if line.get(i) != Some(&b' ') {
            return Err(bad());
        }
        i += 1;
        let end = self.token_end(line, i);
        let value = line.get(i..end).and_then(parse_value).ok_or_else(bad)?;
        let mut exemplar = RawExemplar {
            labels,
            value,
            timestamp: None,
        };
        if is_eol(line, end) {
            return Ok((exemplar, end));
        }
        i = end + 1;
        if line.get(end) != Some(&b' ') {
            return Err(bad());
        }
        let ts_end = self.token_end(line, i);
        if !is_eol(line, ts_end) {
            return Err(bad());
        }
        exemplar.timestamp = Some(
            line.get(i..ts_end)
                .and_then(parse_seconds)
                .ok_or_else(bad)?,
        );
        Ok((exemplar, ts_end))
    }

    /// Labels from just after `{`; returns the offset just after `}`.
    fn labels(
        &mut self,
        line: &[u8],
        mut i: usize,
        base: usize,
        spans: &mut Vec<LabelSpan>,
        exemplar: bool,
    ) -> Result<usize, ParseError> {
        let mut after_comma = !spans.is_empty();
        if !exemplar {
            self.checkpoints.push((i as u32, spans.len() as u32));
        }
        loop {
            if !self.strict {
                i = skip_blanks(line, i);
            }
            match line.get(i) {
                Some(b'}') => {
                    if after_comma && self.strict {
                        return Err(self.err(K::TrailingComma));
                    }
                    return Ok(i + 1);
                }
                Some(&c) if CLASS[usize::from(c)] & LABEL_START != 0 => {}
                _ => {
                    return Err(self.err(if exemplar {
                        K::InvalidExemplar
                    } else {
                        K::InvalidLabelName
                    }));
                }
            }
            let name_start = i;
            i += 1;
            while let Some(&c) = line.get(i) {
                if CLASS[usize::from(c)] & LABEL_CHAR == 0 {
                    break;
                }
                i += 1;
            }
            let name_end = i;
            if !self.strict {
                i = skip_blanks(line, i);
            }
            if line.get(i) != Some(&b'=') {
                return Err(
                    self.err(if line.get(i).is_some_and(|&c| c == b'"' || c == b'}') {
                        K::ExpectedEquals
                    } else {
                        K::InvalidLabelName
                    }),
                );
            }
            i += 1;
            if !self.strict {
                i = skip_blanks(line, i);
            }
            if line.get(i) != Some(&b'"') {
                return Err(self.err(K::ExpectedQuote));
            }
            i += 1;
            let value_start = i;
            let mut escaped = false;
            // Eight bytes at a time to the next quote, backslash or newline.
            loop {
                i = find_special(line, i);
                match line.get(i) {
                    Some(b'"') => break,
                    Some(b'\\') => {
                        escaped = true;
                        // Skip the escaped character, whatever it is.
                        if matches!(line.get(i + 1), None | Some(b'\n')) {
                            return Err(self.err(K::UnterminatedLabelValue));
                        }
                        i += 2;
                    }
                    _ => return Err(self.err(K::UnterminatedLabelValue)),
                }
            }
            let span = LabelSpan {
                name_start: (base + name_start) as u32,
                name_end: (base + name_end) as u32,
                value_start: (base + value_start) as u32,
                value_end: (base + i) as u32,
                escaped,
            };
            i += 1;
            let new_name = line.get(name_start..name_end).unwrap_or_default();
            for s in spans.iter() {
                if s.name(self.input) == new_name {
                    return Err(self.err(K::DuplicateLabel));
                }
            }
            spans.push(span);
            if !self.strict {
                i = skip_blanks(line, i);
            }
            match line.get(i) {
                Some(b',') => {
                    after_comma = true;
                    i += 1;
                    if !exemplar {
                        self.checkpoints.push((i as u32, spans.len() as u32));
                    }
                }
                Some(b'}') => return Ok(i + 1),
                _ => return Err(self.err(K::ExpectedCommaOrBrace)),
            }
        }
    }

    /// Exactly one space in OpenMetrics; one or more blanks in 0.0.4.
    #[inline]
    fn separator(&self, line: &[u8], i: usize) -> Result<usize, ParseError> {
        match line.get(i) {
            Some(b' ') if self.strict => {
                if line.get(i + 1) == Some(&b' ') {
                    Err(self.err(K::ExpectedSpace))
                } else {
                    Ok(i + 1)
                }
            }
            Some(b' ' | b'\t') if !self.strict => Ok(skip_blanks(line, i)),
            _ => Err(self.err(K::ExpectedSpace)),
        }
    }
}

#[inline]
fn count_chars(s: &[u8]) -> usize {
    s.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

#[inline]
fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = line.get(i) {
        i += 1;
    }
    i
}

fn trim_start(s: &[u8]) -> &[u8] {
    let i = skip_blanks(s, 0);
    s.get(i..).unwrap_or_default()
}

/// Whether `i` is at the end of the line.
#[inline]
fn is_eol(line: &[u8], i: usize) -> bool {
    matches!(line.get(i), None | Some(b'\n'))
}

/// Length of the common prefix of two slices, compared eight bytes at a
/// time.
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let (Some(x), Some(y)) = (a.get(i..i + 8), b.get(i..i + 8)) else {
            break;
        };
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        let diff = x ^ y;
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a.get(i) == b.get(i) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit) the bytes of `word` equal to `byte`; the lowest mark
/// is exact (borrows can only add marks above a true match).
#[inline]
fn marks(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Offset of the first `"`, `\\` or newline at or after `i`, or the end.
#[inline]
fn find_special(line: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = line.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let m = marks(w, b'"') | marks(w, b'\\') | marks(w, b'\n');
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = line.get(i) {
        if c == b'"' || c == b'\\' || c == b'\n' {
            break;
        }
        i += 1;
    }
    i
}
