//! Prometheus remote-write 1.0: snappy block-compressed protobuf
//! `WriteRequest`s to and from [`Metric`]s.
//!
//! Decoding keeps each series as its own points: one [`Metric`] per sample,
//! named by `__name__`, with the kind, help and unit of its family's
//! metadata. The series of a classic histogram (`_bucket`, `_sum`,
//! `_count`) and summary (`_sum`, `_count`) become counters (what they are
//! in Prometheus' storage) and quantile series gauges; they are NOT
//! reassembled into histogram points, because remote write gives no such
//! guarantee: Prometheus shards series across concurrent requests, so the
//! buckets of one histogram routinely arrive in different requests.
//! Prometheus sends metadata in requests of their own, apart from the
//! samples (every `metadata_config.send_interval`), so a receiver keeps
//! what it was sent in a [`Metadata`] and decodes with
//! [`decode_write_request_with`]: a series gets its family's metadata from
//! its own request, else from what was remembered, else none (a gauge).
//! Prometheus' stale marker (NaN with bits `0x7ff0000000000002`) becomes
//! [`FLAG_NO_RECORDED_VALUE`]. Exemplars attach to the series' last point
//! (series without samples drop theirs).
//!
//! Encoding expands histograms and summaries into the classic series,
//! keeps counters by their name (no `_total` is added), sorts labels by
//! name as Prometheus requires, merges the points of one series into one
//! `TimeSeries` in time order, and adds one metadata entry per family.

pub mod proto;

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;
use logbridge_event::{
    Exemplar, FLAG_NO_RECORDED_VALUE, KeyString, Metric, MetricKind, MetricValue, Number,
    ObjectMap, SpanId, TraceId, Value,
};
use prost::Message;

use proto::{Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest};

/// Prometheus' staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("invalid snappy block: {0}")]
    Snappy(#[from] snap::Error),
    #[error("decompressed size of {claimed} bytes exceeds the limit of {limit}")]
    TooLarge { claimed: usize, limit: usize },
    #[error("invalid protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("series without a __name__ label")]
    MissingName,
}

/// Decodes a remote-write body (snappy block format, then protobuf). The
/// decompressed length in the snappy header is checked against
/// `max_decompressed` before anything is allocated.
pub fn decode_write_request(
    body: &[u8],
    max_decompressed: usize,
) -> Result<Vec<Metric>, RemoteWriteError> {
    request_to_metrics(read_write_request(body, max_decompressed)?)
}

/// [`decode_write_request`] for a receiver that remembers metadata: the
/// request's metadata is added to `metadata` (under a write lock, taken
/// only when it brings something new), then its series are decoded with
/// it.
pub fn decode_write_request_with(
    body: &[u8],
    max_decompressed: usize,
    metadata: &RwLock<Metadata>,
) -> Result<Vec<Metric>, RemoteWriteError> {
    let request = read_write_request(body, max_decompressed)?;
    remember_metadata(&request, metadata);
    convert(&request, &read_metadata(metadata))
}

/// Adds a request's metadata to what `metadata` remembers (under a write
/// lock, taken only when the request brings something new).
pub fn remember_metadata(request: &WriteRequest, metadata: &RwLock<Metadata>) {
    let new = !request.metadata.is_empty() && !read_metadata(metadata).knows(&request.metadata);
    if new {
        metadata
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remember(&request.metadata);
    }
}

/// What `metadata` remembers, for [`request_point_copies`] and
/// [`request_to_metrics_with`].
pub fn read_metadata(metadata: &RwLock<Metadata>) -> std::sync::RwLockReadGuard<'_, Metadata> {
    // A panic elsewhere while holding the lock leaves the map whole (each
    // entry is replaced in one step), so a poisoned lock is still used.
    metadata.read().unwrap_or_else(|e| e.into_inner())
}

/// [`request_to_metrics`] with the metadata remembered from earlier
/// requests.
pub fn request_to_metrics_with(
    request: &WriteRequest,
    remembered: &Metadata,
) -> Result<Vec<Metric>, RemoteWriteError> {
    convert(request, remembered)
}

/// Families' metadata (type, help, unit) by family name, as remembered
/// from earlier requests; at most [`Metadata::MAX_FAMILIES`] of them, so a
/// sender cannot grow it without bound (past that, new families are not
/// remembered; known ones are still updated).
#[derive(Debug, Default)]
pub struct Metadata {
    families: HashMap<String, MetricMetadata>,
}

impl Metadata {
    /// Ten times the families of a large Prometheus (a few thousand).
    pub const MAX_FAMILIES: usize = 100_000;

    /// How many families are remembered.
    pub fn len(&self) -> usize {
        self.families.len()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Whether every entry is already remembered as it is (Prometheus sends
    /// the same metadata again and again).
    fn knows(&self, entries: &[MetricMetadata]) -> bool {
        entries.iter().all(|m| {
            self.families.get(&m.metric_family_name) == Some(m)
                || (self.families.len() >= Self::MAX_FAMILIES
                    && !self.families.contains_key(&m.metric_family_name))
        })
    }

    fn remember(&mut self, entries: &[MetricMetadata]) {
        for m in entries {
            if let Some(known) = self.families.get_mut(&m.metric_family_name) {
                if known != m {
                    *known = m.clone();
                }
            } else if self.families.len() < Self::MAX_FAMILIES {
                self.families
                    .insert(m.metric_family_name.clone(), m.clone());
            }
        }
    }
}

/// The snappy-framed protobuf request, size-checked (see
/// [`decode_write_request`]).
fn read_write_request(
    body: &[u8],
    max_decompressed: usize,
) -> Result<WriteRequest, RemoteWriteError> {
    let claimed = snap::raw::decompress_len(body)?;
    if claimed > max_decompressed {
        return Err(RemoteWriteError::TooLarge {
            claimed,
            limit: max_decompressed,
        });
    }
    let mut buf = vec![0; claimed];
    let n = snap::raw::Decoder::new().decompress(body, &mut buf)?;
    buf.truncate(n);
    Ok(WriteRequest::decode(buf.as_slice())?)
}

/// Decodes an already decompressed `WriteRequest` protobuf.
pub fn decode_uncompressed(protobuf: &[u8]) -> Result<Vec<Metric>, RemoteWriteError> {
    request_to_metrics(WriteRequest::decode(protobuf)?)
}

/// What [`request_to_metrics`] copies for every sample beyond what the
/// request holds, as `(entries, bytes)`: each point gets its series'
/// labels (one map entry each, and their names) and its family's help and
/// unit (from the request, else from `remembered`). For a caller that
/// bounds memory before converting.
pub fn request_point_copies(request: &WriteRequest, remembered: &Metadata) -> (usize, usize) {
    let own = families(request);
    let family = |name: &str| {
        own.get(name)
            .copied()
            .or_else(|| remembered.families.get(name))
    };
    let (mut entries, mut bytes) = (0usize, 0usize);
    for series in &request.timeseries {
        let samples = series.samples.len();
        let name = series
            .labels
            .iter()
            .find(|l| l.name == "__name__")
            .map_or("", |l| l.value.as_str());
        let meta = kind_of(name, &family).1;
        let each = name.len()
            + series.labels.iter().map(|l| l.name.len()).sum::<usize>()
            + meta.map_or(0, |m| m.help.len() + m.unit.len());
        entries = entries.saturating_add(samples.saturating_mul(series.labels.len()));
        bytes = bytes.saturating_add(samples.saturating_mul(each));
    }
    (entries, bytes)
}

/// The request's metadata by family name.
fn families(request: &WriteRequest) -> HashMap<&str, &MetricMetadata> {
    request
        .metadata
        .iter()
        .map(|m| (m.metric_family_name.as_str(), m))
        .collect()
}

/// Converts a decoded request into points (see the module doc).
pub fn request_to_metrics(request: WriteRequest) -> Result<Vec<Metric>, RemoteWriteError> {
    convert(&request, &Metadata::default())
}

/// Converts a request, its series typed by its own metadata first, then by
/// `remembered`.
fn convert(request: &WriteRequest, remembered: &Metadata) -> Result<Vec<Metric>, RemoteWriteError> {
    let own = families(request);
    let family = |name: &str| {
        own.get(name)
            .copied()
            .or_else(|| remembered.families.get(name))
    };
    let total: usize = request.timeseries.iter().map(|s| s.samples.len()).sum();
    let mut out = Vec::with_capacity(total);
    for series in &request.timeseries {
        let mut name = None;
        let mut entries = Vec::with_capacity(series.labels.len());
        for label in &series.labels {
            if label.name == "__name__" {
                name = Some(label.value.as_str());
            } else {
                entries.push((
                    KeyString::new(&label.name),
                    Value::Bytes(Bytes::copy_from_slice(label.value.as_bytes())),
                ));
            }
        }
        let name = name.ok_or(RemoteWriteError::MissingName)?;
        let labels = ObjectMap::from_entries(entries);
        let (kind, meta) = kind_of(name, &family);
        let key = KeyString::new(name);
        let first = out.len();
        for sample in &series.samples {
            let stale = sample.value.to_bits() == STALE_NAN_BITS;
            out.push(Metric {
                name: key.clone(),
                labels: labels.clone(),
                kind,
                value: MetricValue::Scalar(sample.value),
                time_unix_nano: sample.timestamp.saturating_mul(1_000_000),
                description: meta.map(|m| m.help.clone()).unwrap_or_default(),
                unit: meta.map(|m| m.unit.clone()).unwrap_or_default(),
                flags: if stale { FLAG_NO_RECORDED_VALUE } else { 0 },
                ..Metric::default()
            });
        }
        if out.len() > first
            && let Some(last) = out.last_mut()
        {
            last.exemplars = series.exemplars.iter().map(exemplar_from_proto).collect();
        }
    }
    Ok(out)
}

const SUFFIXES: [&str; 8] = [
    "_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info",
];

/// The kind of a series and its family's metadata: by exact name, else by
/// a family whose type has samples with the series' suffix.
fn kind_of<'m>(
    name: &str,
    families: &dyn Fn(&str) -> Option<&'m MetricMetadata>,
) -> (MetricKind, Option<&'m MetricMetadata>) {
    if let Some(m) = families(name) {
        let kind = match MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown) {
            MetricType::Counter => MetricKind::Counter,
            _ => MetricKind::Gauge,
        };
        return (kind, Some(m));
    }
    for suffix in SUFFIXES {
        let Some(base) = name.strip_suffix(suffix) else {
            continue;
        };
        let Some(m) = families(base) else {
            continue;
        };
        let ty = MetricType::try_from(m.r#type).unwrap_or(MetricType::Unknown);
        let kind = match (ty, suffix) {
            (MetricType::Counter, "_total") => MetricKind::Counter,
            (MetricType::Histogram, "_bucket" | "_count" | "_sum") => MetricKind::Counter,
            (MetricType::Summary, "_count" | "_sum") => MetricKind::Counter,
            (MetricType::Gaugehistogram, "_bucket" | "_gcount" | "_gsum") => MetricKind::Gauge,
            (MetricType::Counter | MetricType::Histogram | MetricType::Summary, "_created") => {
                MetricKind::Gauge
            }
            (MetricType::Info, "_info") => MetricKind::Gauge,
            _ => continue,
        };
        return (kind, Some(m));
    }
    (MetricKind::Gauge, None)
}

fn exemplar_from_proto(e: &proto::Exemplar) -> Exemplar {
    let mut exemplar = Exemplar {
        value: Number::Float(e.value),
        time_unix_nano: e.timestamp.saturating_mul(1_000_000),
        filtered_attributes: ObjectMap::new(),
        trace_id: None,
        span_id: None,
    };
    for label in &e.labels {
        if label.name == "trace_id"
            && let Some(id) = TraceId::from_hex(&label.value)
        {
            exemplar.trace_id = Some(id);
            continue;
        }
        if label.name == "span_id"
            && let Some(id) = SpanId::from_hex(&label.value)
        {
            exemplar.span_id = Some(id);
            continue;
        }
        exemplar
            .filtered_attributes
            .insert(KeyString::new(&label.name), label.value.as_str().into());
    }
    exemplar
}

/// Encodes points as a remote-write body: protobuf, then snappy block
/// format. Snappy refuses only inputs beyond 4 GiB; such a request (far
/// past any receiver's limit) comes back empty.
pub fn encode_write_request(metrics: &[Metric]) -> Vec<u8> {
    let raw = metrics_to_request(metrics).encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .unwrap_or_default()
}

/// Builds the request (see the module doc).
pub fn metrics_to_request<'m>(metrics: impl IntoIterator<Item = &'m Metric>) -> WriteRequest {
    let mut request = WriteRequest::default();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut families: HashMap<&str, ()> = HashMap::new();
    let mut key = Vec::new();
    for m in metrics {
        let ty = match (&m.value, m.kind) {
            (MetricValue::ExponentialHistogram(_), _) => continue,
            (MetricValue::Histogram { .. }, _) => MetricType::Histogram,
            (MetricValue::Summary { .. }, _) => MetricType::Summary,
            (_, MetricKind::Counter) => MetricType::Counter,
            _ => MetricType::Gauge,
        };
        if families.insert(m.name.as_str(), ()).is_none() {
            request.metadata.push(MetricMetadata {
                r#type: ty as i32,
                metric_family_name: m.name.to_string(),
                help: m.description.clone(),
                unit: m.unit.clone(),
            });
        }
        let ts = m.time_unix_nano.div_euclid(1_000_000);
        let stale = m.flags & FLAG_NO_RECORDED_VALUE != 0;
        let mut push = |suffix: &str, extra: Option<(&str, f64)>, value: f64, ex: &[Exemplar]| {
            let value = if stale {
                f64::from_bits(STALE_NAN_BITS)
            } else {
                value
            };
            let labels = series_labels(m, suffix, extra);
            key.clear();
            for l in &labels {
                key.extend_from_slice(l.name.as_bytes());
                key.push(0);
                key.extend_from_slice(l.value.as_bytes());
                key.push(0);
            }
            let i = match index.get(&key) {
                Some(&i) => i,
                None => {
                    request.timeseries.push(TimeSeries {
                        labels,
                        ..TimeSeries::default()
                    });
                    index.insert(key.clone(), request.timeseries.len() - 1);
                    request.timeseries.len() - 1
                }
            };
            if let Some(series) = request.timeseries.get_mut(i) {
                series.samples.push(Sample {
                    value,
                    timestamp: ts,
                });
                series.exemplars.extend(ex.iter().map(exemplar_to_proto));
            }
        };
        match &m.value {
            MetricValue::Scalar(v) => push("", None, *v, &m.exemplars),
            MetricValue::Integer(v) => push("", None, *v as f64, &m.exemplars),
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                ..
            } => {
                let mut cumulative: u64 = 0;
                let mut lower = f64::NEG_INFINITY;
                let mut has_inf = false;
                for b in buckets {
                    cumulative = cumulative.saturating_add(b.count);
                    has_inf |= b.upper_bound == f64::INFINITY;
                    // Exemplars go to the bucket series their value falls in.
                    let ex: Vec<Exemplar> = m
                        .exemplars
                        .iter()
                        .filter(|e| {
                            let v = e.value.as_f64();
                            v > lower && v <= b.upper_bound
                        })
                        .cloned()
                        .collect();
                    lower = b.upper_bound;
                    push(
                        "_bucket",
                        Some(("le", b.upper_bound)),
                        cumulative as f64,
                        &ex,
                    );
                }
                if !has_inf {
                    push(
                        "_bucket",
                        Some(("le", f64::INFINITY)),
                        (*count).max(cumulative) as f64,
                        &[],
                    );
                }
                if let Some(sum) = sum {
                    push("_sum", None, *sum, &[]);
                }
                push("_count", None, *count as f64, &[]);
            }
            MetricValue::Summary {
                quantiles,
                count,
                sum,
            } => {
                for q in quantiles {
                    push("", Some(("quantile", q.quantile)), q.value, &[]);
                }
                push("_sum", None, *sum, &[]);
                push("_count", None, *count as f64, &[]);
            }
            MetricValue::ExponentialHistogram(_) => {}
        }
    }
    for series in &mut request.timeseries {
        series.samples.sort_by_key(|s| s.timestamp);
    }
    request
}

/// `__name__` and the point's labels (plus `le`/`quantile`), sorted by
/// name, without duplicates.
fn series_labels(m: &Metric, suffix: &str, extra: Option<(&str, f64)>) -> Vec<Label> {
    let mut labels = Vec::with_capacity(m.labels.len() + 2);
    labels.push(Label {
        name: "__name__".to_string(),
        value: format!("{}{}", m.name, suffix),
    });
    for (k, v) in m.labels.iter() {
        if k.as_str() == "__name__" || extra.is_some_and(|(name, _)| name == k.as_str()) {
            continue;
        }
        labels.push(Label {
            name: k.to_string(),
            value: v.to_string_lossy().into_owned(),
        });
    }
    if let Some((name, bound)) = extra {
        labels.push(Label {
            name: name.to_string(),
            value: format_bound(bound),
        });
    }
    labels.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    labels
}

/// `le`/`quantile` values as the text formats write them.
fn format_bound(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else {
        ryu::Buffer::new().format_finite(v).to_string()
    }
}

fn exemplar_to_proto(e: &Exemplar) -> proto::Exemplar {
    let mut labels = Vec::with_capacity(e.filtered_attributes.len() + 2);
    if let Some(id) = e.trace_id {
        labels.push(Label {
            name: "trace_id".to_string(),
            value: id.to_hex(),
        });
    }
    if let Some(id) = e.span_id {
        labels.push(Label {
            name: "span_id".to_string(),
            value: id.to_hex(),
        });
    }
    for (k, v) in e.filtered_attributes.iter() {
        labels.push(Label {
            name: k.to_string(),
            value: v.to_string_lossy().into_owned(),
        });
    }
    proto::Exemplar {
        labels,
        value: e.value.as_f64(),
        timestamp: e.time_unix_nano.div_euclid(1_000_000),
    }
}
