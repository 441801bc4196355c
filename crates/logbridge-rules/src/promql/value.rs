//! The values a PromQL expression evaluates to.

use crate::labels::Labels;

/// Prometheus' staleness marker: a NaN with this exact bit pattern ends a
/// series before the lookback period would.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

pub fn stale_marker() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    pub v: f64,
    /// The metric name is to be removed when the query ends (Prometheus'
    /// delayed name removal): kept until then so that `label_replace` and
    /// grouping by `__name__` still see it.
    pub drop_name: bool,
}

/// One element of a range vector, or one series of a range query's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
    pub drop_name: bool,
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(_) => "scalar",
            Value::String(_) => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
