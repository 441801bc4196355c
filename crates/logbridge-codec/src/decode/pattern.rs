//! The `regex` parser: named capture groups become string fields.
//!
//! A line that is not UTF-8 has its invalid bytes replaced by U+FFFD
//! before matching, so that `.` and `\S` still match them (on raw bytes, a
//! Unicode-aware regex would not). Unnamed groups are ignored; a named
//! group that did not take part in the match is left out.

use std::borrow::Cow;

use bytes::Bytes;
use logbridge_event::{KeyString, ObjectMap, Value};
use regex::Regex;

use super::{ConfigError, ParseError, Text};

#[derive(Debug, Clone)]
pub(super) struct PatternParser {
    regex: Regex,
    /// Group index and field name of every named group.
    names: Vec<(usize, KeyString)>,
}

impl PatternParser {
    pub(super) fn new(pattern: &str) -> Result<PatternParser, ConfigError> {
        let regex = Regex::new(pattern).map_err(|e| ConfigError::InvalidRegex(e.to_string()))?;
        let names: Vec<(usize, KeyString)> = regex
            .capture_names()
            .enumerate()
            .filter_map(|(i, name)| Some((i, KeyString::new(name?))))
            .collect();
        if names.is_empty() {
            return Err(ConfigError::NoNamedCaptures {
                pattern: pattern.to_owned(),
            });
        }
        Ok(PatternParser { regex, names })
    }

    pub(super) fn parse(&self, text: Text<'_>) -> Result<ObjectMap, ParseError> {
        let line = String::from_utf8_lossy(text.input);
        let caps = self.regex.captures(&line).ok_or(ParseError::NoMatch)?;
        let mut out = ObjectMap::new();
        for (index, name) in &self.names {
            if let Some(m) = caps.get(*index) {
                let value = match &line {
                    Cow::Borrowed(_) => text.share(m.as_str().as_bytes()),
                    Cow::Owned(_) => Bytes::copy_from_slice(m.as_str().as_bytes()),
                };
                out.insert(name.clone(), Value::Bytes(value));
            }
        }
        Ok(out)
    }
}
