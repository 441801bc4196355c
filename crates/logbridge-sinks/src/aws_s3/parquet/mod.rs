//! Parquet encoding for object-store sinks (`encoding.codec = "parquet"`):
//! a [`ParquetBatch`] buffers the events of one batch and [`finish`]es into
//! one complete Parquet file, written with the `parquet` crate's low-level
//! column writer (no Arrow, to keep the build small).
//!
//! Each event becomes one row:
//! - a log's row is its fields (the attributes, and the body as `message`)
//!   plus `timestamp`: the event time, or the observed time when the event
//!   time is unknown, unless an attribute is itself named `timestamp`;
//! - a metric or span's row is the object the `json` codec writes for it
//!   (`name`, `kind`, `labels`, `value`, ... for metrics; `name`,
//!   `trace_id`, `attributes`, ... for spans), with its timestamps and
//!   float values kept typed rather than as JSON text.
//!
//! Without a `schema` the columns are the union of the batch's top-level
//! fields, sorted by name with `timestamp` always first, each typed from the
//! values seen (see [`ParquetOptions::schema`]). Every column is OPTIONAL: a
//! missing field is a null. Files therefore differ in columns from batch to
//! batch; readers that need one schema across files should set `schema`.
//!
//! Bad input is data, not a crash: no event content can make this module
//! panic. With a `schema`, a value that does not fit its column is written
//! as null and counted in [`ParquetOutput::mistyped_values`]. An empty
//! batch still yields a valid file, with zero rows.
//!
//! This module does no I/O: it hands back bytes for the sink to upload.
//!
//! [`finish`]: ParquetBatch::finish

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ::parquet::basic::{
    Compression, GzipLevel, LogicalType, Repetition, TimeUnit, Type as PhysicalType, ZstdLevel,
};
use ::parquet::column::writer::ColumnWriter;
use ::parquet::data_type::ByteArray;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::writer::SerializedFileWriter;
use ::parquet::schema::types::{Type, TypePtr};
use bytes::Bytes;
use logbridge_codec::{Codec, Encoder};
use logbridge_event::{Event, KeyString, LogRecord, Metric, MetricValue, ObjectMap, Span, Value};
use serde::Deserialize;

#[cfg(test)]
mod tests;

/// At this depth, `nested = "struct"` writes objects as JSON text: it
/// bounds the recursion on hostile input, and deeper structs are rarely
/// queried column by column anyway.
const MAX_STRUCT_DEPTH: usize = 16;

const TIMESTAMP: &str = "timestamp";

/// `encoding.parquet`: how events are laid out in Parquet files.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParquetOptions {
    /// The columns to write, in this order. Each column takes the top-level
    /// field of its name (`timestamp` is the event time unless an event has
    /// a field of that name); a value that does not fit the column's type is
    /// written as null and counted. When unset, every file holds the union
    /// of the top-level fields of its batch, sorted by name with `timestamp`
    /// first, typed from the values seen: only integers make `int64`, only
    /// numbers with at least one float make `double`, only booleans make
    /// `boolean`, only timestamps make `timestamp`, and anything else
    /// (strings, arrays, objects, a mix of types) makes a string column,
    /// with strings written as they are and other values as text (objects
    /// and arrays as JSON).
    #[serde(default)]
    pub schema: Option<Vec<ParquetColumn>>,
    /// How object fields are written when no `schema` is set: `json` writes
    /// each object as a JSON string; `struct` writes a field whose values
    /// are all objects as a Parquet group, with the union of their fields
    /// typed the same way, recursively (objects nested 16 levels deep
    /// become JSON strings). Arrays are JSON strings in both modes.
    #[serde(default)]
    pub nested: NestedMode,
    /// The compression of the data pages inside the file: `none`, `snappy`,
    /// `zstd` or `gzip`. The file itself stays a plain Parquet file, so do
    /// not also set the sink's `compression`.
    #[serde(default)]
    pub compression: ParquetCompression,
    /// The most rows in one row group; a larger batch is written as several
    /// row groups of one file.
    #[serde(default = "default_row_group_max_rows")]
    pub row_group_max_rows: usize,
}

fn default_row_group_max_rows() -> usize {
    128 * 1024
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            schema: None,
            nested: NestedMode::default(),
            compression: ParquetCompression::default(),
            row_group_max_rows: default_row_group_max_rows(),
        }
    }
}

/// One column of `encoding.parquet.schema`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParquetColumn {
    /// The column name, which is also the top-level event field it is taken
    /// from.
    pub name: String,
    /// The column type: `string` (strings as they are, and numbers,
    /// booleans and timestamps as text; objects and arrays do not fit),
    /// `int64` (integers, and floats with no fractional part), `double`
    /// (integers and floats), `boolean`, `timestamp` (nanoseconds, UTC; from
    /// timestamps and RFC 3339 strings) or `json` (any value as JSON text).
    #[serde(rename = "type")]
    pub r#type: ColumnType,
}

/// The type of a `schema` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// A signed 64-bit integer.
    Int64,
    /// A 64-bit float.
    Double,
    /// `true` or `false`.
    Boolean,
    /// Nanoseconds since the Unix epoch, UTC.
    Timestamp,
    /// Any value as JSON text, in a UTF-8 string column.
    Json,
}

/// How objects are written when the schema is inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NestedMode {
    /// Objects and arrays as JSON strings.
    #[default]
    Json,
    /// Objects as Parquet groups (structs); arrays as JSON strings.
    Struct,
}

/// Compression of the data pages inside a Parquet file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParquetCompression {
    /// Uncompressed pages.
    None,
    /// Snappy: fast, and read by every Parquet reader.
    #[default]
    Snappy,
    /// Zstandard at its default level: smaller files for a little more CPU.
    Zstd,
    /// Gzip at its default level.
    Gzip,
}

impl ParquetCompression {
    fn to_parquet(self) -> Compression {
        match self {
            ParquetCompression::None => Compression::UNCOMPRESSED,
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::Gzip => Compression::GZIP(GzipLevel::default()),
        }
    }
}

/// Checks what serde cannot: a schema has columns, each named once, and a
/// row group has room for a row.
pub fn validate(options: &ParquetOptions) -> Result<(), String> {
    if options.row_group_max_rows == 0 {
        return Err("row_group_max_rows must be at least 1".into());
    }
    let Some(columns) = &options.schema else {
        return Ok(());
    };
    if columns.is_empty() {
        return Err("schema needs at least one column".into());
    }
    let mut names = std::collections::HashSet::new();
    for column in columns {
        if column.name.is_empty() {
            return Err("schema has a column with an empty name".into());
        }
        if !names.insert(column.name.as_str()) {
            return Err(format!("schema names the column `{}` twice", column.name));
        }
    }
    Ok(())
}

/// Why a batch could not be written.
#[derive(Debug)]
pub struct ParquetError(ErrorKind);

#[derive(Debug)]
enum ErrorKind {
    Options(String),
    Write(::parquet::errors::ParquetError),
}

impl fmt::Display for ParquetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ErrorKind::Options(message) => write!(f, "invalid parquet options: {message}"),
            ErrorKind::Write(error) => write!(f, "cannot write parquet file: {error}"),
        }
    }
}

impl std::error::Error for ParquetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            ErrorKind::Options(_) => None,
            ErrorKind::Write(error) => Some(error),
        }
    }
}

/// A broken invariant of this module, reported rather than panicking.
fn internal(message: &str) -> ParquetError {
    ::parquet::errors::ParquetError::General(message.to_owned()).into()
}

impl From<::parquet::errors::ParquetError> for ParquetError {
    fn from(error: ::parquet::errors::ParquetError) -> Self {
        ParquetError(ErrorKind::Write(error))
    }
}

/// One finished Parquet file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetOutput {
    /// The complete file.
    pub bytes: Vec<u8>,
    /// Rows written: one per event pushed.
    pub rows: usize,
    /// Values written as null because they did not fit their column's type.
    pub mistyped_values: u64,
}

/// The events of one batch, buffered until [`finish`](Self::finish) writes
/// them. Rows are kept as field maps (strings share the events' buffers)
/// because an inferred schema is only known once every row is seen.
#[derive(Debug, Clone)]
pub struct ParquetBatch {
    options: ParquetOptions,
    rows: Vec<ObjectMap>,
    estimated_bytes: usize,
}

impl ParquetBatch {
    pub fn new(options: &ParquetOptions) -> ParquetBatch {
        ParquetBatch {
            options: options.clone(),
            rows: Vec::new(),
            estimated_bytes: 0,
        }
    }

    /// Buffers one event as one row.
    pub fn push(&mut self, event: &Event) {
        self.estimated_bytes += event.estimated_size();
        self.rows.push(match event {
            Event::Log(log) => log_row(log),
            Event::Metric(metric) => metric_row(metric, event),
            Event::Span(span) => span_row(span, event),
        });
    }

    /// Events pushed so far.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The events' estimated size, for `batch.max_bytes`. The file is
    /// usually much smaller: columns compress well.
    pub fn estimated_bytes(&self) -> usize {
        self.estimated_bytes
    }

    /// Writes the buffered events as one Parquet file.
    pub fn finish(self) -> Result<ParquetOutput, ParquetError> {
        validate(&self.options).map_err(|m| ParquetError(ErrorKind::Options(m)))?;
        let nodes = match &self.options.schema {
            Some(columns) => schema_nodes(columns),
            None => infer_nodes(&self.rows, self.options.nested),
        };
        write_file(&nodes, &self.rows, &self.options)
    }
}

// ---------------------------------------------------------------------------
// Events to rows

fn log_row(log: &LogRecord) -> ObjectMap {
    let mut row = log.fields_object();
    // OpenTelemetry's advice: use the observed time when the event time is
    // unknown, so that the column partitioning usually relies on is filled.
    let time = match log.time_unix_nano {
        0 => log.observed_time_unix_nano,
        t => t,
    };
    if time != 0 && !row.contains_key(TIMESTAMP) {
        row.insert(KeyString::const_new(TIMESTAMP), Value::Timestamp(time));
    }
    row
}

/// The `json` codec's view of a metric or span, so that both codecs agree
/// on field names, read back into a [`Value`]. JSON has no timestamps and
/// no NaN, so those fields are put back from the event afterwards.
fn json_row(event: &Event) -> ObjectMap {
    let mut text = Vec::new();
    Encoder::new(Codec::Json).encode(event, &mut text);
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        // Only reachable past serde_json's nesting limit: keep the text.
        _ => {
            let mut map = ObjectMap::new();
            let line = text.trim_ascii_end().to_vec();
            map.insert(KeyString::const_new("message"), Value::Bytes(line.into()));
            map
        }
    }
}

fn put_time(row: &mut ObjectMap, key: &'static str, ns: i64) {
    if ns != 0 && row.contains_key(key) {
        row.insert(KeyString::const_new(key), Value::Timestamp(ns));
    }
}

fn put_float(row: &mut ObjectMap, key: &'static str, value: f64) {
    if row.contains_key(key) {
        row.insert(KeyString::const_new(key), Value::Float(value));
    }
}

fn metric_row(metric: &Metric, event: &Event) -> ObjectMap {
    let mut row = json_row(event);
    put_time(&mut row, TIMESTAMP, metric.time_unix_nano);
    put_time(&mut row, "start_timestamp", metric.start_time_unix_nano);
    match &metric.value {
        MetricValue::Scalar(v) => put_float(&mut row, "value", *v),
        // The JSON view already holds integers as integers.
        MetricValue::Integer(_) => {}
        MetricValue::Histogram { sum, .. } => {
            if let Some(sum) = sum {
                put_float(&mut row, "sum", *sum)
            }
        }
        MetricValue::ExponentialHistogram(h) => {
            if let Some(sum) = h.sum {
                put_float(&mut row, "sum", sum)
            }
        }
        MetricValue::Summary { sum, .. } => put_float(&mut row, "sum", *sum),
    }
    row
}

fn span_row(span: &Span, event: &Event) -> ObjectMap {
    let mut row = json_row(event);
    put_time(&mut row, "start_timestamp", span.start_time_unix_nano);
    put_time(&mut row, "end_timestamp", span.end_time_unix_nano);
    // Spans have no `timestamp` of their own; their start is the natural
    // time to sort and partition by.
    if span.start_time_unix_nano != 0 && !row.contains_key(TIMESTAMP) {
        let start = Value::Timestamp(span.start_time_unix_nano);
        row.insert(KeyString::const_new(TIMESTAMP), start);
    }
    row
}

// ---------------------------------------------------------------------------
// Schemas

/// A column or group of the file's schema, in file order.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf {
        name: KeyString,
        kind: LeafKind,
    },
    Group {
        name: KeyString,
        children: Vec<Node>,
    },
}

/// How a leaf column's values are converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeafKind {
    /// An inferred string column: anything, non-strings as text.
    Text,
    /// A `string` schema column: scalars only.
    String,
    /// Any value as JSON.
    Json,
    Int64,
    Double,
    Boolean,
    Timestamp,
}

fn schema_nodes(columns: &[ParquetColumn]) -> Vec<Node> {
    columns
        .iter()
        .map(|c| Node::Leaf {
            name: KeyString::from(c.name.as_str()),
            kind: match c.r#type {
                ColumnType::String => LeafKind::String,
                ColumnType::Int64 => LeafKind::Int64,
                ColumnType::Double => LeafKind::Double,
                ColumnType::Boolean => LeafKind::Boolean,
                ColumnType::Timestamp => LeafKind::Timestamp,
                ColumnType::Json => LeafKind::Json,
            },
        })
        .collect()
}

/// The kinds of values seen in one field across the batch.
#[derive(Debug, Default)]
struct Seen {
    int: bool,
    float: bool,
    boolean: bool,
    timestamp: bool,
    string: bool,
    array: bool,
    object: bool,
    /// Sub-fields of object values; only filled in `struct` mode.
    fields: BTreeMap<KeyString, Seen>,
}

impl Seen {
    /// Only nulls seen.
    fn is_empty(&self) -> bool {
        !(self.int
            || self.float
            || self.boolean
            || self.timestamp
            || self.string
            || self.array
            || self.object)
    }

    fn observe(&mut self, value: &Value, descend: bool, depth: usize) {
        match value {
            Value::Null => {}
            Value::Bool(_) => self.boolean = true,
            Value::Integer(_) => self.int = true,
            Value::Float(_) => self.float = true,
            Value::Bytes(_) => self.string = true,
            Value::Timestamp(_) => self.timestamp = true,
            Value::Array(_) => self.array = true,
            Value::Object(map) => {
                self.object = true;
                if descend && depth < MAX_STRUCT_DEPTH {
                    for (key, value) in map {
                        let child = self.fields.entry(key.clone()).or_default();
                        child.observe(value, descend, depth + 1);
                    }
                }
            }
        }
    }

    fn node(self, name: KeyString, descend: bool) -> Node {
        let only = |flag: bool, others: &[bool]| flag && !others.iter().any(|o| *o);
        let Seen {
            int,
            float,
            boolean,
            timestamp,
            string,
            array,
            object,
            fields,
        } = self;
        let other = string || array || object;
        let kind = if only(object, &[int, float, boolean, timestamp, string, array])
            && descend
            && !fields.is_empty()
        {
            let children = fields
                .into_iter()
                .map(|(name, seen)| seen.node(name, descend))
                .collect();
            return Node::Group { name, children };
        } else if only(int, &[float, boolean, timestamp, other]) {
            LeafKind::Int64
        } else if float && !(boolean || timestamp || other) {
            LeafKind::Double
        } else if only(boolean, &[int, float, timestamp, other]) {
            LeafKind::Boolean
        } else if only(timestamp, &[int, float, boolean, other]) {
            LeafKind::Timestamp
        } else {
            LeafKind::Text
        };
        Node::Leaf { name, kind }
    }
}

/// Columns of an inferred schema: `timestamp` first (always present, so a
/// file always has a column even when its events have no fields), then the
/// other top-level fields by name.
fn infer_nodes(rows: &[ObjectMap], nested: NestedMode) -> Vec<Node> {
    let descend = nested == NestedMode::Struct;
    let mut fields: BTreeMap<KeyString, Seen> = BTreeMap::new();
    for row in rows {
        for (key, value) in row {
            fields
                .entry(key.clone())
                .or_default()
                .observe(value, descend, 1);
        }
    }
    let timestamp = match fields.remove(TIMESTAMP) {
        Some(seen) if !seen.is_empty() => seen.node(KeyString::const_new(TIMESTAMP), descend),
        _ => Node::Leaf {
            name: KeyString::const_new(TIMESTAMP),
            kind: LeafKind::Timestamp,
        },
    };
    std::iter::once(timestamp)
        .chain(
            fields
                .into_iter()
                .map(|(name, seen)| seen.node(name, descend)),
        )
        .collect()
}

fn parquet_type(node: &Node) -> Result<TypePtr, ParquetError> {
    let built = match node {
        Node::Group { name, children } => {
            let fields = children
                .iter()
                .map(parquet_type)
                .collect::<Result<Vec<_>, _>>()?;
            Type::group_type_builder(name)
                .with_repetition(Repetition::OPTIONAL)
                .with_fields(fields)
                .build()?
        }
        Node::Leaf { name, kind } => {
            let (physical, logical) = match kind {
                LeafKind::Text | LeafKind::String | LeafKind::Json => {
                    (PhysicalType::BYTE_ARRAY, Some(LogicalType::String))
                }
                LeafKind::Int64 => (PhysicalType::INT64, None),
                LeafKind::Double => (PhysicalType::DOUBLE, None),
                LeafKind::Boolean => (PhysicalType::BOOLEAN, None),
                LeafKind::Timestamp => (
                    PhysicalType::INT64,
                    Some(LogicalType::timestamp(true, TimeUnit::NANOS)),
                ),
            };
            Type::primitive_type_builder(name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(logical)
                .build()?
        }
    };
    Ok(Arc::new(built))
}

// ---------------------------------------------------------------------------
// Writing

/// A leaf column with the field path that feeds it.
struct Leaf {
    path: Vec<KeyString>,
    kind: LeafKind,
}

fn leaves(nodes: &[Node], prefix: &mut Vec<KeyString>, out: &mut Vec<Leaf>) {
    for node in nodes {
        match node {
            Node::Leaf { name, kind } => {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push(Leaf { path, kind: *kind });
            }
            Node::Group { name, children } => {
                prefix.push(name.clone());
                leaves(children, prefix, out);
                prefix.pop();
            }
        }
    }
}

fn write_file(
    nodes: &[Node],
    rows: &[ObjectMap],
    options: &ParquetOptions,
) -> Result<ParquetOutput, ParquetError> {
    let fields = nodes
        .iter()
        .map(parquet_type)
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?,
    );
    let properties = WriterProperties::builder()
        .set_compression(options.compression.to_parquet())
        .build();
    let mut leaf_columns = Vec::new();
    leaves(nodes, &mut Vec::new(), &mut leaf_columns);

    let mut writer = SerializedFileWriter::new(Vec::new(), schema, Arc::new(properties))?;
    let mut mistyped_values = 0;
    // `validate` rejected 0, so `chunks` cannot panic; `max` keeps it so.
    for group in rows.chunks(options.row_group_max_rows.max(1)) {
        let mut row_group = writer.next_row_group()?;
        for leaf in &leaf_columns {
            let Some(mut column) = row_group.next_column()? else {
                return Err(internal("the file has fewer columns than its schema"));
            };
            mistyped_values += write_column(column.untyped(), leaf, group)?;
            column.close()?;
        }
        row_group.close()?;
    }
    let bytes = writer.into_inner()?;
    Ok(ParquetOutput {
        bytes,
        rows: rows.len(),
        mistyped_values,
    })
}

/// The value at `path` and the number of enclosing groups present (the
/// definition level of a null there). `None` when the value or a group
/// is missing or null; `Err` when a group's value is not an object.
fn lookup<'a>(row: &'a ObjectMap, path: &[KeyString]) -> (i16, Result<Option<&'a Value>, ()>) {
    let mut map = row;
    let last = path.len().saturating_sub(1);
    for (depth, key) in path.iter().enumerate() {
        // Paths are at most MAX_STRUCT_DEPTH long, so this cannot wrap.
        let level = depth as i16;
        match map.get(key) {
            None | Some(Value::Null) => return (level, Ok(None)),
            Some(value) if depth == last => return (level, Ok(Some(value))),
            Some(Value::Object(inner)) => map = inner,
            Some(_) => return (level, Err(())),
        }
    }
    (0, Ok(None))
}

/// Converts values of one column in a typed buffer and its definition
/// levels; counts the values that do not fit.
struct Column<T> {
    values: Vec<T>,
    levels: Vec<i16>,
    mistyped: u64,
}

impl<T> Column<T> {
    fn fill(leaf: &Leaf, rows: &[ObjectMap], convert: impl Fn(&Value) -> Option<T>) -> Self {
        let max_level = leaf.path.len() as i16;
        let mut column = Column {
            values: Vec::with_capacity(rows.len()),
            levels: Vec::with_capacity(rows.len()),
            mistyped: 0,
        };
        for row in rows {
            let (level, found) = lookup(row, &leaf.path);
            let converted = match found {
                Ok(Some(value)) => {
                    let converted = convert(value);
                    column.mistyped += u64::from(converted.is_none());
                    converted
                }
                Ok(None) => None,
                Err(()) => {
                    column.mistyped += 1;
                    None
                }
            };
            match converted {
                Some(value) => {
                    column.values.push(value);
                    column.levels.push(max_level);
                }
                None => column.levels.push(level),
            }
        }
        column
    }
}

fn write_column(
    writer: &mut ColumnWriter<'_>,
    leaf: &Leaf,
    rows: &[ObjectMap],
) -> Result<u64, ParquetError> {
    macro_rules! write {
        ($writer:expr, $convert:expr) => {{
            let column = Column::fill(leaf, rows, $convert);
            $writer.write_batch(&column.values, Some(&column.levels), None)?;
            Ok(column.mistyped)
        }};
    }
    match (writer, leaf.kind) {
        (ColumnWriter::ByteArrayColumnWriter(w), LeafKind::Text) => write!(w, to_text),
        (ColumnWriter::ByteArrayColumnWriter(w), LeafKind::String) => write!(w, to_string),
        (ColumnWriter::ByteArrayColumnWriter(w), LeafKind::Json) => write!(w, to_json),
        (ColumnWriter::Int64ColumnWriter(w), LeafKind::Int64) => write!(w, to_int64),
        (ColumnWriter::Int64ColumnWriter(w), LeafKind::Timestamp) => write!(w, to_timestamp),
        (ColumnWriter::DoubleColumnWriter(w), LeafKind::Double) => write!(w, Value::as_f64),
        (ColumnWriter::BoolColumnWriter(w), LeafKind::Boolean) => write!(w, to_bool),
        _ => Err(internal(&format!(
            "column `{}` has an unexpected physical type",
            leaf.path.join(".")
        ))),
    }
}

/// UTF-8 text, sharing the event's buffer when it is valid UTF-8 already
/// (Parquet strings must be valid UTF-8, so invalid sequences are replaced).
fn utf8(bytes: &Bytes) -> ByteArray {
    match String::from_utf8_lossy(bytes) {
        std::borrow::Cow::Borrowed(_) => ByteArray::from(bytes.clone()),
        std::borrow::Cow::Owned(text) => ByteArray::from(text.into_bytes()),
    }
}

fn json_text(value: &Value) -> Option<ByteArray> {
    serde_json::to_vec(value).ok().map(ByteArray::from)
}

fn to_text(value: &Value) -> Option<ByteArray> {
    match value {
        Value::Bytes(bytes) => Some(utf8(bytes)),
        Value::Array(_) | Value::Object(_) => json_text(value),
        scalar => Some(ByteArray::from(
            scalar.to_string_lossy().into_owned().into_bytes(),
        )),
    }
}

fn to_string(value: &Value) -> Option<ByteArray> {
    match value {
        Value::Array(_) | Value::Object(_) => None,
        scalar => to_text(scalar),
    }
}

fn to_json(value: &Value) -> Option<ByteArray> {
    json_text(value)
}

fn to_int64(value: &Value) -> Option<i64> {
    // 2^63 as f64: the first float past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match *value {
        Value::Integer(i) => Some(i),
        Value::Float(f) if f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) => Some(f as i64),
        _ => None,
    }
}

fn to_timestamp(value: &Value) -> Option<i64> {
    match value {
        Value::Timestamp(ns) => Some(*ns),
        Value::Bytes(_) => chrono::DateTime::parse_from_rfc3339(value.as_str()?.trim())
            .ok()?
            .timestamp_nanos_opt(),
        _ => None,
    }
}

fn to_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}
