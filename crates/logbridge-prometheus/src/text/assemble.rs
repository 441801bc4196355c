//! The assembler: turns scanned lines into [`Metric`] points. It tracks the
//! current family (HELP/TYPE/UNIT), groups the lines of one histogram or
//! summary series into one point, and enforces the OpenMetrics rules that
//! span lines (family grouping, metadata placement, histogram shape,
//! counter values, timestamp order).

use std::hash::Hasher;

use bytes::Bytes;
use logbridge_event::{
    Bucket, Exemplar, KeyString, Metric, MetricKind, MetricValue, Number, ObjectMap, Quantile,
    SpanId, TraceId, Value,
};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use super::number::{parse_bound, parse_seconds};
use super::scan::{LabelSpan, RawExemplar, RawLine, RawSample, Scanner};
use super::{FamilyType, Format, ParseError, ParseErrorKind as K, unescape};

/// Which sample of a family a line is, by its name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    Bare,
    Total,
    Created,
    Bucket,
    Count,
    Sum,
    GCount,
    GSum,
    Info,
}

const SUFFIXES: [(&[u8], Suffix); 8] = [
    (b"_total", Suffix::Total),
    (b"_created", Suffix::Created),
    (b"_bucket", Suffix::Bucket),
    (b"_count", Suffix::Count),
    (b"_sum", Suffix::Sum),
    (b"_gcount", Suffix::GCount),
    (b"_gsum", Suffix::GSum),
    (b"_info", Suffix::Info),
];

fn allowed(ty: FamilyType, suffix: Suffix, strict: bool) -> bool {
    use Suffix::*;
    match ty {
        FamilyType::Counter => matches!(suffix, Total | Created) || (!strict && suffix == Bare),
        FamilyType::Gauge | FamilyType::Unknown | FamilyType::StateSet => suffix == Bare,
        FamilyType::Histogram => matches!(suffix, Bucket | Count | Sum | Created),
        FamilyType::GaugeHistogram => {
            matches!(suffix, Bucket | GCount | GSum) || (!strict && matches!(suffix, Count | Sum))
        }
        FamilyType::Summary => matches!(suffix, Bare | Count | Sum | Created),
        FamilyType::Info => suffix == Info || (!strict && suffix == Bare),
    }
}

#[inline]
fn split_suffix(sample: &[u8], family: &[u8]) -> Option<Suffix> {
    let rest = sample.strip_prefix(family)?;
    if rest.is_empty() {
        return Some(Suffix::Bare);
    }
    SUFFIXES
        .iter()
        .find(|(text, _)| *text == rest)
        .map(|(_, s)| *s)
}

/// Whether a family of `closed` could write a sample named `sample`.
fn produced(closed: &FxHashMap<&[u8], FamilyType>, sample: &[u8]) -> bool {
    if closed
        .get(sample)
        .is_some_and(|&ty| allowed(ty, Suffix::Bare, true))
    {
        return true;
    }
    SUFFIXES.iter().any(|&(text, suffix)| {
        sample
            .strip_suffix(text)
            .and_then(|base| closed.get(base))
            .is_some_and(|&ty| allowed(ty, suffix, true))
    })
}

/// OpenMetrics: "The name of a MetricFamily MUST NOT result in a potential
/// clash for sample metric names [...] with another MetricFamily", e.g. a
/// gauge `a_created` and a counter `a` (whose `_created` sample would be
/// `a_created`), whichever comes first and whether or not either has
/// samples.
fn clashes(closed: &FxHashMap<&[u8], FamilyType>, name: &[u8], ty: FamilyType) -> bool {
    let mut sample = Vec::with_capacity(name.len() + 8);
    std::iter::once((&b""[..], Suffix::Bare))
        .chain(SUFFIXES)
        .filter(|&(_, suffix)| allowed(ty, suffix, true))
        .any(|(text, _)| {
            sample.clear();
            sample.extend_from_slice(name);
            sample.extend_from_slice(text);
            produced(closed, &sample)
        })
}

/// What a point accumulates, by family type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    Counter,
    Histogram,
    Summary,
}

fn shape_of(ty: FamilyType) -> Shape {
    match ty {
        FamilyType::Counter => Shape::Counter,
        FamilyType::Histogram | FamilyType::GaugeHistogram => Shape::Histogram,
        FamilyType::Summary => Shape::Summary,
        _ => Shape::Scalar,
    }
}

struct Family<'a> {
    name: &'a [u8],
    ty: FamilyType,
    typed: bool,
    help: Option<String>,
    unit: Option<String>,
    has_samples: bool,
    /// The family name as a key, built once.
    key: Option<KeyString>,
}

impl<'a> Family<'a> {
    fn new(name: &'a [u8]) -> Family<'a> {
        Family {
            name,
            ty: FamilyType::Unknown,
            typed: false,
            help: None,
            unit: None,
            has_samples: false,
            key: None,
        }
    }
}

/// The point being assembled.
struct Point {
    active: bool,
    shape: Shape,
    line: usize,
    name: Option<KeyString>,
    timestamp: Option<i64>,
    value: Option<f64>,
    created: Option<i64>,
    /// `(le, cumulative count)` in input order.
    buckets: Vec<(f64, f64)>,
    quantiles: Vec<Quantile>,
    count: Option<f64>,
    sum: Option<f64>,
    exemplars: Vec<Exemplar>,
}

pub(crate) struct Assembler<'a> {
    bytes: &'a Bytes,
    input: &'a [u8],
    scanner: Scanner<'a>,
    strict: bool,
    default_timestamp: i64,
    out: Vec<Metric>,
    family: Option<Family<'a>>,
    /// Families already ended (OpenMetrics: each appears once).
    closed: FxHashMap<&'a [u8], FamilyType>,
    /// Series identities seen in the current family (OpenMetrics).
    series_seen: FxHashSet<u64>,
    point: Point,
    /// Labels of the current series (without `le`/`quantile`).
    series: Vec<LabelSpan>,
    /// Labels of this line's series, compared against `series`.
    line_series: Vec<LabelSpan>,
    have_series: bool,
    last_timestamp: Option<i64>,
    spans: Vec<LabelSpan>,
    exemplar_spans: Vec<LabelSpan>,
    /// The last sample name turned into a key.
    name_cache: (&'a [u8], KeyString),
    /// The label names of the last point, by position, as keys: the series
    /// of a family repeat their label names in the same order, so a point's
    /// keys are usually copies of the last one's (no UTF-8 check, no build).
    label_keys: Vec<(&'a [u8], KeyString)>,
}

impl<'a> Assembler<'a> {
    pub fn new(
        bytes: &'a Bytes,
        format: Format,
        default_timestamp: i64,
    ) -> Result<Assembler<'a>, ParseError> {
        let input: &'a [u8] = bytes;
        Ok(Assembler {
            bytes,
            input,
            scanner: Scanner::new(input, format)?,
            strict: format == Format::OpenMetrics,
            default_timestamp,
            // About one point per 60 bytes in typical expositions.
            out: Vec::with_capacity(input.len() / 64),
            family: None,
            // Sized for a typical exposition, so a parse rarely rehashes.
            closed: FxHashMap::with_capacity_and_hasher(64, Default::default()),
            series_seen: FxHashSet::with_capacity_and_hasher(64, Default::default()),
            point: Point {
                active: false,
                shape: Shape::Scalar,
                line: 0,
                name: None,
                timestamp: None,
                value: None,
                created: None,
                buckets: Vec::new(),
                quantiles: Vec::new(),
                count: None,
                sum: None,
                exemplars: Vec::new(),
            },
            series: Vec::new(),
            line_series: Vec::new(),
            have_series: false,
            last_timestamp: None,
            spans: Vec::with_capacity(8),
            exemplar_spans: Vec::new(),
            name_cache: (&[], KeyString::default()),
            label_keys: Vec::new(),
        })
    }

    fn err(&self, kind: K) -> ParseError {
        ParseError {
            line: self.scanner.line,
            kind,
        }
    }

    pub fn run(mut self) -> Result<Vec<Metric>, ParseError> {
        let mut spans = std::mem::take(&mut self.spans);
        let mut exemplar_spans = std::mem::take(&mut self.exemplar_spans);
        while let Some(line) = self.scanner.next_line(&mut spans, &mut exemplar_spans)? {
            match line {
                RawLine::Sample(s) => self.sample(s, &spans, &exemplar_spans)?,
                RawLine::Help { name, text } => {
                    let text = unescape_text(text, self.strict);
                    self.metadata(name, |f| {
                        let repeated = f.help.is_some();
                        f.help = Some(text);
                        Ok(repeated)
                    })?
                }
                RawLine::Type { name, kind } => {
                    let strict = self.strict;
                    self.metadata(name, |f| {
                        if strict
                            && f.unit.as_ref().is_some_and(|u| !u.is_empty())
                            && matches!(kind, FamilyType::Info | FamilyType::StateSet)
                        {
                            return Err(K::UnitNotAllowed);
                        }
                        let repeated = f.typed;
                        f.ty = kind;
                        f.typed = true;
                        Ok(repeated)
                    })?
                }
                RawLine::Unit { name, unit } => {
                    let strict = self.strict;
                    let unit_text = String::from_utf8_lossy(unit).into_owned();
                    self.metadata(name, |f| {
                        if strict && !unit.is_empty() {
                            let fits = f.name.len() > unit.len()
                                && f.name.ends_with(unit)
                                && f.name.get(f.name.len() - unit.len() - 1) == Some(&b'_');
                            if !fits {
                                return Err(K::UnitMismatch);
                            }
                            if matches!(f.ty, FamilyType::Info | FamilyType::StateSet) {
                                return Err(K::UnitNotAllowed);
                            }
                        }
                        let repeated = f.unit.is_some();
                        f.unit = Some(unit_text);
                        Ok(repeated)
                    })?
                }
                RawLine::Eof => {}
            }
        }
        self.close_family()?;
        Ok(self.out)
    }

    /// Applies a HELP/TYPE/UNIT line; `set` returns whether the field was
    /// already set.
    fn metadata(
        &mut self,
        name: &'a [u8],
        set: impl FnOnce(&mut Family<'a>) -> Result<bool, K>,
    ) -> Result<(), ParseError> {
        let same = self.family.as_ref().is_some_and(|f| f.name == name);
        if same {
            let has_samples = self.family.as_ref().is_some_and(|f| f.has_samples);
            if has_samples && self.strict {
                return Err(self.err(K::MetadataAfterSamples));
            }
        } else {
            self.close_family()?;
            if self.strict && self.closed.contains_key(name) {
                return Err(self.err(K::FamilyClash));
            }
            self.family = Some(Family::new(name));
        }
        let strict = self.strict;
        let result = match self.family.as_mut() {
            Some(f) => set(f),
            None => Ok(false),
        };
        match result {
            Ok(true) if strict => Err(self.err(K::RepeatedMetadata)),
            Ok(_) => Ok(()),
            Err(kind) => Err(self.err(kind)),
        }
    }

    /// Ends the current family: its open point is emitted. OpenMetrics:
    /// its type is final now, so its sample names are checked against the
    /// families before it.
    fn close_family(&mut self) -> Result<(), ParseError> {
        self.finish_point()?;
        if let Some(f) = self.family.take()
            && self.strict
        {
            if clashes(&self.closed, f.name, f.ty) {
                return Err(self.err(K::FamilyClash));
            }
            self.closed.insert(f.name, f.ty);
            self.series_seen.clear();
        }
        self.have_series = false;
        Ok(())
    }

    /// Starts a family for a sample that does not belong to the current
    /// one: an untyped family named after the sample.
    fn implicit_family(&mut self, name: &'a [u8]) -> Result<(), ParseError> {
        self.close_family()?;
        if self.strict && (self.closed.contains_key(name) || produced(&self.closed, name)) {
            return Err(self.err(K::FamilyClash));
        }
        self.family = Some(Family::new(name));
        Ok(())
    }

    fn sample(
        &mut self,
        s: RawSample<'a>,
        spans: &[LabelSpan],
        exemplar_spans: &[LabelSpan],
    ) -> Result<(), ParseError> {
        let strict = self.strict;
        // Which family and sample this line is.
        let mut suffix = None;
        if let Some(f) = &self.family
            && let Some(sx) = split_suffix(s.name, f.name)
            && allowed(f.ty, sx, strict)
        {
            suffix = Some(sx);
        }
        let suffix = match suffix {
            Some(sx) => sx,
            None => {
                self.implicit_family(s.name)?;
                Suffix::Bare
            }
        };
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        family.has_samples = true;
        let ty = family.ty;
        let family_name = family.name;
        let shape = shape_of(ty);

        // Series labels: all but `le` of buckets and `quantile` of
        // quantiles, whose values are read here.
        let skip: &[u8] = match (shape, suffix) {
            (Shape::Histogram, Suffix::Bucket) => b"le",
            (Shape::Summary, Suffix::Bare) => b"quantile",
            _ => b"",
        };
        self.line_series.clear();
        let mut special: Option<&'a [u8]> = None;
        for span in spans {
            if !skip.is_empty() && span.name(self.input) == skip {
                special = Some(span.raw_value(self.input));
            } else {
                self.line_series.push(*span);
            }
        }

        // Per-sample checks.
        let v = s.value;
        let bad_counter = v.is_nan() || v < 0.0;
        let mut bound = 0.0;
        match (shape, suffix) {
            (Shape::Histogram, Suffix::Bucket) => {
                bound = special
                    .and_then(|raw| parse_bound(raw, strict))
                    .ok_or_else(|| self.err(K::InvalidLe))?;
                if strict && (bound.is_nan() || bad_counter) {
                    return Err(self.err(if bound.is_nan() {
                        K::InvalidLe
                    } else {
                        K::InvalidCounterValue
                    }));
                }
            }
            (Shape::Summary, Suffix::Bare) => {
                bound = special
                    .and_then(|raw| parse_bound(raw, strict))
                    .filter(|q| !strict || (0.0..=1.0).contains(q))
                    .ok_or_else(|| self.err(K::InvalidQuantile))?;
                // "Quantile values MUST NOT be negative"; NaN is how a
                // quantile without events is written, so it stays.
                if strict && v < 0.0 {
                    return Err(self.err(K::NegativeQuantileValue));
                }
            }
            (Shape::Counter, Suffix::Total | Suffix::Bare)
            | (_, Suffix::Count | Suffix::GCount)
            | (Shape::Summary, Suffix::Sum)
                if strict && bad_counter =>
            {
                return Err(self.err(K::InvalidCounterValue));
            }
            _ => {}
        }
        if strict {
            match ty {
                FamilyType::StateSet => {
                    let has_state = spans.iter().any(|sp| sp.name(self.input) == family_name);
                    if !has_state || !(v == 0.0 || v == 1.0) {
                        return Err(self.err(K::InvalidStateSet));
                    }
                }
                FamilyType::Info if v != 1.0 => return Err(self.err(K::InvalidInfo)),
                _ => {}
            }
            if s.exemplar.is_some()
                && !matches!(
                    (shape, suffix),
                    (Shape::Counter, Suffix::Total) | (Shape::Histogram, Suffix::Bucket)
                )
            {
                return Err(self.err(K::ExemplarNotAllowed));
            }
        }

        // Same series as the previous line?
        let same_series = self.have_series && self.same_labels();
        if !same_series {
            // The open point belongs to the previous series.
            self.finish_point()?;
            if strict {
                let h = self.series_hash();
                if !self.series_seen.insert(h) {
                    return Err(self.err(K::DuplicateSeries));
                }
            }
            std::mem::swap(&mut self.series, &mut self.line_series);
            self.have_series = true;
        }

        // Does the line join the open point?
        let p = &self.point;
        let slot_free = match suffix {
            Suffix::Bucket => true,
            Suffix::Bare => shape == Shape::Summary,
            Suffix::Count | Suffix::GCount => p.count.is_none(),
            Suffix::Sum | Suffix::GSum => p.sum.is_none(),
            Suffix::Created => p.created.is_none(),
            Suffix::Total | Suffix::Info => p.value.is_none(),
        } && !(shape == Shape::Scalar);
        let join = p.active && same_series && p.timestamp == s.timestamp && slot_free;
        if !join {
            self.finish_point()?;
            if same_series && strict {
                match (self.last_timestamp, s.timestamp) {
                    (Some(a), Some(b)) if b < a => return Err(self.err(K::TimestampOrder)),
                    (Some(_), Some(_)) => {}
                    (None, None) => return Err(self.err(K::DuplicateSeries)),
                    _ => return Err(self.err(K::MixedTimestamps)),
                }
            }
            let p = &mut self.point;
            p.active = true;
            p.shape = shape;
            p.line = self.scanner.line;
            p.timestamp = s.timestamp;
        }
        self.last_timestamp = s.timestamp;

        let p = &mut self.point;
        match suffix {
            Suffix::Bucket => {
                if let Some(&(last, _)) = p.buckets.last()
                    && strict
                    && bound <= last
                {
                    return Err(self.err(K::BucketsOutOfOrder));
                }
                p.buckets.push((bound, v));
            }
            Suffix::Bare if shape == Shape::Summary => p.quantiles.push(Quantile {
                quantile: bound,
                value: v,
            }),
            Suffix::Count | Suffix::GCount => p.count = Some(v),
            Suffix::Sum | Suffix::GSum => p.sum = Some(v),
            Suffix::Created => {
                p.created = Some(parse_seconds(s.value_token).unwrap_or_else(|| created_nanos(v)))
            }
            Suffix::Bare | Suffix::Total | Suffix::Info => p.value = Some(v),
        }
        if matches!(suffix, Suffix::Bare | Suffix::Total | Suffix::Info) && shape != Shape::Summary
        {
            let key = self.key_for(s.name);
            self.point.name = Some(key);
        }
        if let Some(e) = s.exemplar {
            let exemplar = self.exemplar(e, exemplar_spans);
            self.point.exemplars.push(exemplar);
        }
        if shape == Shape::Scalar {
            // Nothing else can join a scalar point.
            self.finish_point()?;
        }
        Ok(())
    }

    fn same_labels(&self) -> bool {
        let input = self.input;
        self.series.len() == self.line_series.len()
            && self.series.iter().zip(&self.line_series).all(|(a, b)| {
                a.name(input) == b.name(input) && a.raw_value(input) == b.raw_value(input)
            })
    }

    /// A series' identity for the duplicate check. Fx hashes a word at a
    /// time (a byte-wise hash was a tenth of the parse); lengths go first so
    /// that name/value boundaries count.
    fn series_hash(&self) -> u64 {
        let mut h = FxHasher::default();
        for s in &self.line_series {
            let (name, value) = (s.name(self.input), s.raw_value(self.input));
            h.write_usize(name.len());
            h.write(name);
            h.write_usize(value.len());
            h.write(value);
        }
        h.finish()
    }

    fn key_for(&mut self, name: &'a [u8]) -> KeyString {
        if self.name_cache.0 != name {
            // Names were checked to be ASCII by the scanner.
            self.name_cache = (
                name,
                KeyString::new(std::str::from_utf8(name).unwrap_or("")),
            );
        }
        self.name_cache.1.clone()
    }

    fn value_of(&self, span: &LabelSpan) -> Value {
        let raw = span.raw_value(self.input);
        if span.escaped {
            Value::Bytes(Bytes::from(unescape(raw, true)))
        } else {
            let (a, b) = (span.value_start as usize, span.value_end as usize);
            if a <= b && b <= self.bytes.len() {
                Value::Bytes(self.bytes.slice(a..b))
            } else {
                Value::Bytes(Bytes::new())
            }
        }
    }

    fn labels_of(&mut self, spans: &[LabelSpan]) -> ObjectMap {
        let input = self.input;
        let mut entries = Vec::with_capacity(spans.len());
        for (i, span) in spans.iter().enumerate() {
            let name = span.name(input);
            let key = match self.label_keys.get(i) {
                Some((cached, key)) if *cached == name => key.clone(),
                _ => {
                    let key = KeyString::new(std::str::from_utf8(name).unwrap_or(""));
                    self.label_keys.truncate(i);
                    self.label_keys.push((name, key.clone()));
                    key
                }
            };
            entries.push((key, self.value_of(span)));
        }
        ObjectMap::from_entries(entries)
    }

    fn exemplar(&self, e: RawExemplar, spans: &[LabelSpan]) -> Exemplar {
        let mut exemplar = Exemplar {
            value: Number::Float(e.value),
            time_unix_nano: e.timestamp.unwrap_or(0),
            filtered_attributes: ObjectMap::new(),
            trace_id: None,
            span_id: None,
        };
        for span in spans {
            let name = span.name(self.input);
            let raw = span.raw_value(self.input);
            let text = std::str::from_utf8(raw).unwrap_or("");
            if name == b"trace_id"
                && !span.escaped
                && let Some(id) = TraceId::from_hex(text)
            {
                exemplar.trace_id = Some(id);
                continue;
            }
            if name == b"span_id"
                && !span.escaped
                && let Some(id) = SpanId::from_hex(text)
            {
                exemplar.span_id = Some(id);
                continue;
            }
            let name = std::str::from_utf8(name).unwrap_or("");
            exemplar
                .filtered_attributes
                .insert(KeyString::new(name), self.value_of(span));
        }
        exemplar
    }

    /// Emits the open point, after the OpenMetrics shape checks.
    fn finish_point(&mut self) -> Result<(), ParseError> {
        if !self.point.active {
            return Ok(());
        }
        self.point.active = false;
        let strict = self.strict;
        let line = self.point.line;
        let fail = |kind| Err(ParseError { line, kind });
        // Built first so the point is written once, in place in `out`.
        let series = std::mem::take(&mut self.series);
        let labels = self.labels_of(&series);
        self.series = series;
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        let ty = family.ty;
        let p = &mut self.point;
        let (kind, value) = match p.shape {
            Shape::Scalar => (
                MetricKind::Gauge,
                MetricValue::Scalar(p.value.unwrap_or(0.0)),
            ),
            Shape::Counter => match p.value {
                Some(v) => (MetricKind::Counter, MetricValue::Scalar(v)),
                None if strict => return fail(K::InvalidSampleName),
                None => return Ok(()),
            },
            Shape::Summary => {
                if strict && p.sum.is_some() != p.count.is_some() {
                    return fail(K::SumWithoutCount);
                }
                (
                    MetricKind::Summary,
                    MetricValue::Summary {
                        quantiles: std::mem::take(&mut p.quantiles),
                        count: p.count.unwrap_or(0.0) as u64,
                        sum: p.sum.unwrap_or(0.0),
                    },
                )
            }
            Shape::Histogram => {
                let negative = p.buckets.first().is_some_and(|&(le, _)| le < 0.0);
                let gauge = ty == FamilyType::GaugeHistogram;
                if strict {
                    let Some(&(last_le, inf)) = p.buckets.last() else {
                        return fail(K::MissingInfBucket);
                    };
                    if last_le != f64::INFINITY {
                        return fail(K::MissingInfBucket);
                    }
                    if p.buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                        return fail(K::DecreasingBuckets);
                    }
                    if p.count.is_some_and(|c| c != inf) {
                        return fail(K::CountMismatch);
                    }
                    // "If and only if a Sum Value is present [...] the +Inf
                    // Bucket value MUST also appear in a Sample with [...]
                    // `_count`": a count without a sum is as wrong as the
                    // reverse, for histograms as for gauge histograms.
                    if p.sum.is_some() != p.count.is_some() {
                        return fail(K::SumWithoutCount);
                    }
                    if let Some(sum) = p.sum {
                        if negative && !gauge {
                            return fail(K::NegativeBucketSum);
                        }
                        if sum.is_nan() || (sum < 0.0 && !negative) {
                            return fail(K::InvalidCounterValue);
                        }
                    }
                } else if p.buckets.windows(2).any(|w| w[1].0 < w[0].0) {
                    p.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                let total = p
                    .count
                    .or_else(|| p.buckets.last().map(|b| b.1))
                    .unwrap_or(0.0);
                let mut buckets = Vec::with_capacity(p.buckets.len() + 1);
                let mut prev = 0.0;
                for &(le, cum) in &p.buckets {
                    buckets.push(Bucket {
                        upper_bound: le,
                        count: (cum - prev).max(0.0) as u64,
                    });
                    prev = cum.max(prev);
                }
                if p.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                    buckets.push(Bucket {
                        upper_bound: f64::INFINITY,
                        count: (total - prev).max(0.0) as u64,
                    });
                }
                p.buckets.clear();
                (
                    MetricKind::Histogram,
                    MetricValue::Histogram {
                        buckets,
                        count: total as u64,
                        sum: p.sum,
                        min: None,
                        max: None,
                    },
                )
            }
        };
        let name = match p.name.take() {
            Some(name) => name,
            None => family
                .key
                .get_or_insert_with(|| {
                    KeyString::new(std::str::from_utf8(family.name).unwrap_or(""))
                })
                .clone(),
        };
        self.out.push(Metric {
            name,
            labels,
            kind,
            value,
            time_unix_nano: p.timestamp.unwrap_or(self.default_timestamp),
            start_time_unix_nano: p.created.take().unwrap_or(0),
            description: family.help.clone().unwrap_or_default(),
            unit: family.unit.clone().unwrap_or_default(),
            exemplars: std::mem::take(&mut p.exemplars),
            ..Metric::default()
        });
        p.value = None;
        p.count = None;
        p.sum = None;
        Ok(())
    }
}

/// `_created` values are seconds since the epoch (as floats in both
/// formats).
fn created_nanos(seconds: f64) -> i64 {
    (seconds * 1e9).round() as i64
}

fn unescape_text(raw: &[u8], strict: bool) -> String {
    if memchr::memchr(b'\\', raw).is_none() {
        return String::from_utf8_lossy(raw).into_owned();
    }
    match String::from_utf8(unescape(raw, strict)) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
