//! Label sets of series, as PromQL sees them: sorted by name, compared and
//! ordered the way Prometheus orders series in query results.

use std::fmt;
use std::sync::Arc;

/// The label holding a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label. Names and values are shared: a store holds each string once
/// per series, and query results reuse them instead of copying.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub name: Arc<str>,
    pub value: Arc<str>,
}

/// A set of labels, sorted by name, without empty values (PromQL treats an
/// empty value as an absent label).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<Label>);

impl Labels {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a set from pairs in any order; a later duplicate name wins and
    /// empty values are left out.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut labels = Self::new();
        for (name, value) in pairs {
            labels.set(name.as_ref(), value.as_ref());
        }
        labels
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| &*self.0[i].value)
    }

    /// The value of `name`, or "" when the label is absent (PromQL's view).
    pub fn value_of(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|label| (*label.name).cmp(name))
    }

    /// Sets a label; an empty value removes it.
    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.remove(name);
            return;
        }
        match self.position(name) {
            Ok(i) => {
                if &*self.0[i].value != value {
                    self.0[i].value = Arc::from(value);
                }
            }
            Err(i) => self.0.insert(
                i,
                Label {
                    name: Arc::from(name),
                    value: Arc::from(value),
                },
            ),
        }
    }

    /// Sets a label from shared strings, without copying them.
    pub fn set_shared(&mut self, label: Label) {
        if label.value.is_empty() {
            self.remove(&label.name);
            return;
        }
        match self.position(&label.name) {
            Ok(i) => self.0[i] = label,
            Err(i) => self.0.insert(i, label),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.position(name) {
            self.0.remove(i);
        }
    }

    /// The same set without the metric name.
    pub fn without_name(&self) -> Labels {
        let mut labels = self.clone();
        labels.remove(METRIC_NAME);
        labels
    }

    /// Only the labels whose names are listed.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|label| names.iter().any(|n| *n == *label.name))
                .cloned()
                .collect(),
        )
    }

    /// All labels except the listed ones.
    pub fn drop_names(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|label| !names.iter().any(|n| *n == *label.name))
                .cloned()
                .collect(),
        )
    }

    /// The pairs as owned strings, for callers outside the engine.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|label| (label.name.to_string(), label.value.to_string()))
            .collect()
    }
}

impl FromIterator<Label> for Labels {
    fn from_iter<I: IntoIterator<Item = Label>>(iter: I) -> Self {
        let mut labels = Labels::new();
        for label in iter {
            labels.set_shared(label);
        }
        labels
    }
}

impl Labels {
    /// `{__name__="x", a="b"}`: every label inside the braces, as
    /// Prometheus prints label sets in error messages.
    pub fn to_braced_string(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|label| format!("{}={:?}", label.name, &*label.value))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// Writes `name{a="b", c="d"}` as PromQL prints a series.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for label in self.0.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, &*label.value)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_empty_values_absent() {
        let labels = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("__name__", "up")]);
        let names: Vec<&str> = labels.iter().map(|l| &*l.name).collect();
        assert_eq!(names, ["__name__", "a", "b"]);
        assert_eq!(labels.value_of("c"), "");
        assert_eq!(labels.to_string(), r#"up{a="1", b="2"}"#);
        assert_eq!(labels.without_name().to_string(), r#"{a="1", b="2"}"#);
    }
}
