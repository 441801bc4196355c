//! `librdkafka_options`: librdkafka's own settings, passed through as
//! strings. TOML and YAML users write numbers and booleans unquoted, so
//! those are accepted too.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A scalar librdkafka option value.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OptionValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl OptionValue {
    fn render(&self) -> String {
        match self {
            OptionValue::String(s) => s.clone(),
            OptionValue::Integer(i) => i.to_string(),
            OptionValue::Float(f) => f.to_string(),
            OptionValue::Boolean(b) => b.to_string(),
        }
    }
}

/// The options as librdkafka takes them.
pub fn rendered(options: &BTreeMap<String, OptionValue>) -> BTreeMap<String, String> {
    options
        .iter()
        .map(|(k, v)| (k.clone(), v.render()))
        .collect()
}
