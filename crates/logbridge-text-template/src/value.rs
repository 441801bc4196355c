//! Runtime values: the subset of Go types that Prometheus templates can produce.

use std::rc::Rc;

use super::timefmt::Time;

/// A `map[string]string`, sorted by key (Go prints and ranges maps in key order).
pub(crate) type LabelMap = Vec<(String, String)>;

/// Builds a sorted label map; on duplicate names the last one wins.
pub(crate) fn label_map(pairs: &[(String, String)]) -> LabelMap {
    let mut v: LabelMap = pairs.to_vec();
    v.reverse();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

pub(crate) fn label_get<'a>(m: &'a LabelMap, key: &str) -> Option<&'a str> {
    m.binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .and_then(|i| m.get(i))
        .map(|(_, v)| v.as_str())
}

/// Prometheus' `*template.sample`.
#[derive(Debug)]
pub(crate) struct Sample {
    pub labels: Rc<LabelMap>,
    pub value: f64,
}

/// The `map[string]interface{}` built by `args`, sorted by key.
#[derive(Debug)]
pub(crate) struct ArgsMap {
    pub entries: Vec<(String, Value)>,
    /// Nesting depth, bounded so printing and dropping cannot recurse unboundedly.
    pub depth: usize,
}

/// The alert template data struct (`.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`).
#[derive(Debug)]
pub(crate) struct Data {
    pub labels: Rc<LabelMap>,
    pub external_labels: Rc<LabelMap>,
    pub external_url: Rc<str>,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// Go's invalid `reflect.Value` / nil interface: prints as `<no value>`.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Labels(Rc<LabelMap>),
    Map(Rc<ArgsMap>),
    Sample(Rc<Sample>),
    Samples(Rc<Vec<Rc<Sample>>>),
    Time(Time),
    Data(Rc<Data>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    pub fn string(s: String) -> Value {
        Value::Str(Rc::from(s))
    }

    /// Go's `reflect.Type.String()` of the value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Labels(_) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::Sample(_) => "*template.sample",
            Value::Samples(_) => "template.queryResult",
            Value::Time(_) => "*time.Time",
            Value::Data(_) => {
                "struct { Labels map[string]string; ExternalLabels map[string]string; \
                 ExternalURL string; Value interface {} }"
            }
        }
    }

    /// Go template truth (`text/template.IsTrue`).
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Labels(m) => !m.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Samples(s) => !s.is_empty(),
            Value::Sample(_) | Value::Time(_) | Value::Data(_) => true,
        }
    }

    /// Nesting depth of container values (only `args` maps nest).
    pub fn depth(&self) -> usize {
        match self {
            Value::Map(m) => m.depth,
            _ => 0,
        }
    }

    /// Approximate heap size, used to enforce the size limit on built values.
    pub fn approx_len(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            _ => 0,
        }
    }
}
