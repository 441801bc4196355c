//! The event model shared by every logbridge component.
//!
//! One [`Event`] type carries the three kinds of telemetry, aligned with the
//! OpenTelemetry data model: [`LogRecord`], [`Metric`] and [`Span`]. Components
//! exchange [`EventBatch`]es; each batch carries [`Finalizers`] that sinks
//! resolve once the data is durably written, so sources learn which positions
//! are safe to commit.
//!
//! This crate does no I/O and never reads the clock: callers pass timestamps in.

mod batch;
mod event;
mod finalizer;
mod log;
mod map;
mod metric;
mod path;
mod span;
mod value;

pub use batch::EventBatch;
pub use event::{DataKind, Event};
pub use finalizer::{BatchNotifier, BatchStatus, Finalizers, HeldFinalizers};
pub use log::{EMPTY_RESOURCE, EMPTY_SCOPE, KafkaPosition, LogRecord, Resource, Scope};
pub use map::{Entry, cmp_key};
pub use metric::{
    Bucket, Exemplar, ExponentialBuckets, ExponentialHistogram, FLAG_NO_RECORDED_VALUE, Metric,
    MetricKind, MetricValue, Number, Quantile, Temporality, same_bounds,
};
pub use path::{Path, PathError, PathRoot, Segment};
pub use span::{Span, SpanEvent, SpanId, SpanKind, SpanLink, SpanStatus, StatusCode, TraceId};
pub use value::{KeyString, ObjectMap, Value};
