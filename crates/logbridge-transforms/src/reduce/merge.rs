//! How `reduce` combines the values one field takes across the logs of a
//! group: Vector's merge strategies, and its defaults by type (numbers
//! summed, timestamps kept first and last, anything else kept first). It
//! knows nothing of groups or events.

use std::collections::HashSet;

use logbridge_event::Value;
use serde::Deserialize;

use crate::fingerprint;

/// How the values of a field are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// Every value, in an array.
    Array,
    /// Strings joined with a space; arrays concatenated.
    Concat,
    /// Strings joined with a newline.
    ConcatNewline,
    /// Strings joined with nothing between them.
    ConcatRaw,
    /// The first value; later ones are discarded.
    Discard,
    /// The last value that is not null.
    Retain,
    /// The sum of the numbers.
    Sum,
    /// The largest number.
    Max,
    /// The smallest number.
    Min,
    /// The distinct values, arrays and objects flattened into them.
    FlatUnique,
    /// The shortest array.
    ShortestArray,
    /// The longest array.
    LongestArray,
}

/// A field's combined value so far.
#[derive(Debug, Clone)]
pub(crate) enum Merger {
    Discard(Value),
    Retain(Value),
    Sum(Value),
    Max(Value),
    Min(Value),
    Array(Vec<Value>),
    Concat {
        text: Vec<u8>,
        separator: &'static [u8],
    },
    ConcatArray(Vec<Value>),
    FlatUnique {
        values: Vec<Value>,
        seen: HashSet<u128>,
    },
    ShortestArray(Vec<Value>),
    LongestArray(Vec<Value>),
    /// A timestamp field without a strategy: the first, and the last as
    /// `<field>_end`.
    Window {
        first: i64,
        last: i64,
    },
}

/// Why a value could not be merged.
pub(crate) type MergeError = String;

fn expected(what: &str, got: &Value) -> MergeError {
    format!("expected {what}, found a {}", got.kind_name())
}

impl Merger {
    /// Vector's default for a field without a strategy, by its first value.
    pub(crate) fn default_for(value: Value) -> Merger {
        match value {
            Value::Integer(_) | Value::Float(_) => Merger::Sum(value),
            Value::Timestamp(t) => Merger::Window { first: t, last: t },
            other => Merger::Discard(other),
        }
    }

    /// A merger for `strategy` starting with `value`.
    pub(crate) fn new(strategy: MergeStrategy, value: Value) -> Result<Merger, MergeError> {
        let numeric = |v: &Value| matches!(v, Value::Integer(_) | Value::Float(_));
        Ok(match strategy {
            MergeStrategy::Discard => Merger::Discard(value),
            MergeStrategy::Retain => Merger::Retain(value),
            MergeStrategy::Sum | MergeStrategy::Max | MergeStrategy::Min if !numeric(&value) => {
                return Err(expected("a number", &value));
            }
            MergeStrategy::Sum => Merger::Sum(value),
            MergeStrategy::Max => Merger::Max(value),
            MergeStrategy::Min => Merger::Min(value),
            MergeStrategy::Array => Merger::Array(vec![value]),
            MergeStrategy::Concat => match value {
                Value::Array(items) => Merger::ConcatArray(items),
                other => concat(other, b" ")?,
            },
            MergeStrategy::ConcatNewline => concat(value, b"\n")?,
            MergeStrategy::ConcatRaw => concat(value, b"")?,
            MergeStrategy::FlatUnique => {
                let mut merger = Merger::FlatUnique {
                    values: Vec::new(),
                    seen: HashSet::new(),
                };
                merger.add(value)?;
                merger
            }
            MergeStrategy::ShortestArray => Merger::ShortestArray(array(value)?),
            MergeStrategy::LongestArray => Merger::LongestArray(array(value)?),
        })
    }

    /// Adds a later value.
    pub(crate) fn add(&mut self, value: Value) -> Result<(), MergeError> {
        match self {
            Merger::Discard(_) => {}
            Merger::Retain(kept) => {
                if !value.is_null() {
                    *kept = value;
                }
            }
            Merger::Sum(total) => *total = sum(total, &value)?,
            Merger::Max(best) => {
                if compare(&value, best)? == std::cmp::Ordering::Greater {
                    *best = value;
                }
            }
            Merger::Min(best) => {
                if compare(&value, best)? == std::cmp::Ordering::Less {
                    *best = value;
                }
            }
            Merger::Array(items) => items.push(value),
            Merger::Concat { text, separator } => match value {
                Value::Bytes(b) => {
                    text.extend_from_slice(separator);
                    text.extend_from_slice(&b);
                }
                other => return Err(expected("a string", &other)),
            },
            Merger::ConcatArray(items) => match value {
                Value::Array(more) => items.extend(more),
                other => items.push(other),
            },
            Merger::FlatUnique { values, seen } => {
                let flat: Vec<Value> = match value {
                    Value::Array(items) => items,
                    Value::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
                    other => vec![other],
                };
                for v in flat {
                    if seen.insert(fingerprint::of_value(&v)) {
                        values.push(v);
                    }
                }
            }
            Merger::ShortestArray(items) => {
                let other = array(value)?;
                if other.len() < items.len() {
                    *items = other;
                }
            }
            Merger::LongestArray(items) => {
                let other = array(value)?;
                if other.len() > items.len() {
                    *items = other;
                }
            }
            Merger::Window { last, .. } => match value {
                Value::Timestamp(t) => *last = t,
                other => return Err(expected("a timestamp", &other)),
            },
        }
        Ok(())
    }

    /// The combined value, and for timestamps the `_end` value as well.
    pub(crate) fn finish(self) -> (Value, Option<Value>) {
        let value = match self {
            Merger::Discard(v)
            | Merger::Retain(v)
            | Merger::Sum(v)
            | Merger::Max(v)
            | Merger::Min(v) => v,
            Merger::Array(items)
            | Merger::ConcatArray(items)
            | Merger::ShortestArray(items)
            | Merger::LongestArray(items)
            | Merger::FlatUnique { values: items, .. } => Value::Array(items),
            Merger::Concat { text, .. } => Value::Bytes(text.into()),
            Merger::Window { first, last } => {
                return (Value::Timestamp(first), Some(Value::Timestamp(last)));
            }
        };
        (value, None)
    }
}

fn array(value: Value) -> Result<Vec<Value>, MergeError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(expected("an array", &other)),
    }
}

fn concat(value: Value, separator: &'static [u8]) -> Result<Merger, MergeError> {
    match value {
        Value::Bytes(b) => Ok(Merger::Concat {
            text: b.to_vec(),
            separator,
        }),
        other => Err(expected("a string", &other)),
    }
}

/// Integers stay integers while they fit; a float (or an overflow) turns
/// the sum into a float.
fn sum(a: &Value, b: &Value) -> Result<Value, MergeError> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Ok(x
            .checked_add(*y)
            .map(Value::Integer)
            .unwrap_or(Value::Float(*x as f64 + *y as f64))),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Ok(Value::Float(x + y)),
            _ => Err(expected("a number", b)),
        },
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, MergeError> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Ok(x.cmp(y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Ok(x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)),
            _ => Err(expected("a number", a)),
        },
    }
}
