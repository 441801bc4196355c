//! Condition options as Vector writes them, shared by every transform that
//! takes one (`filter`, `route`, `sample.exclude`, `throttle.exclude`,
//! `reduce.starts_when`, ...): a string (`condition = '.status >= 500'`)
//! or a table with a `type` (`vrl` with `source`, `is_log`, `is_metric`,
//! `is_trace`).
//!
//! This module only parses the option and picks an evaluator; it does not
//! define a language.

use logbridge_component::BuildError;
use logbridge_condition::Condition;
use logbridge_event::{DataKind, Event};
use serde::Deserialize;

/// A condition option: a program as a string, or a table naming its type.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(
    untagged,
    expecting = "a condition: a string such as '.status >= 500', or a table such as { type = \"vrl\", source = \"...\" } or { type = \"is_log\" }"
)]
pub enum ConditionConfig {
    /// `condition = '.status >= 500'`.
    Source(String),
    /// `condition.type = "vrl"` with `condition.source`, or one of
    /// `is_log`, `is_metric`, `is_trace`.
    Typed(TypedCondition),
}

/// The table form of a condition.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TypedCondition {
    /// A program whose result is the condition.
    Vrl { source: String },
    /// Holds for logs.
    IsLog,
    /// Holds for metrics.
    IsMetric,
    /// Holds for spans.
    IsTrace,
}

impl From<&str> for ConditionConfig {
    fn from(source: &str) -> ConditionConfig {
        ConditionConfig::Source(source.to_owned())
    }
}

/// A compiled condition, ready to check events.
#[derive(Debug, Clone)]
pub struct EventCondition {
    check: Check,
}

#[derive(Debug, Clone)]
enum Check {
    Program(Condition),
    Kind(DataKind),
}

impl EventCondition {
    /// Compiles the condition given in `option`; an error names the option
    /// and shows where the program went wrong.
    pub fn compile(option: &str, config: &ConditionConfig) -> Result<EventCondition, BuildError> {
        let check = match config {
            ConditionConfig::Source(source)
            | ConditionConfig::Typed(TypedCondition::Vrl { source }) => {
                Check::Program(compile_program(option, source)?)
            }
            ConditionConfig::Typed(TypedCondition::IsLog) => Check::Kind(DataKind::LOG),
            ConditionConfig::Typed(TypedCondition::IsMetric) => Check::Kind(DataKind::METRIC),
            ConditionConfig::Typed(TypedCondition::IsTrace) => Check::Kind(DataKind::SPAN),
        };
        Ok(EventCondition { check })
    }

    /// Whether `event` meets the condition. Never fails: a program that
    /// errors on an event does not hold for it.
    pub fn check(&self, event: &Event) -> bool {
        match &self.check {
            Check::Program(condition) => condition.check(event),
            Check::Kind(kind) => event.kind() == *kind,
        }
    }
}

fn compile_program(option: &str, source: &str) -> Result<Condition, BuildError> {
    Condition::compile(source).map_err(|e| {
        let mut err = BuildError::new(option, format!("invalid condition: {}", e.message));
        err.hint = Some(e.render(source));
        err
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_event::{LogRecord, Metric};

    fn parse(toml_text: &str) -> ConditionConfig {
        #[derive(Deserialize)]
        struct Holder {
            condition: ConditionConfig,
        }
        let holder: Holder = serde_json::from_str(toml_text).unwrap();
        holder.condition
    }

    #[test]
    fn string_and_table_forms() {
        assert_eq!(
            parse(r#"{"condition": ".a == 1"}"#),
            ConditionConfig::Source(".a == 1".into())
        );
        assert_eq!(
            parse(r#"{"condition": {"type": "vrl", "source": ".a == 1"}}"#),
            ConditionConfig::Typed(TypedCondition::Vrl {
                source: ".a == 1".into()
            })
        );
        let is_log =
            EventCondition::compile("c", &parse(r#"{"condition": {"type": "is_log"}}"#)).unwrap();
        assert!(is_log.check(&Event::Log(LogRecord::default())));
        assert!(!is_log.check(&Event::Metric(Metric::gauge("m", 1.0, 0))));
    }

    #[test]
    fn a_bad_program_names_the_option() {
        let err = EventCondition::compile("exclude", &".a >=".into()).unwrap_err();
        assert_eq!(err.option.as_deref(), Some("exclude"));
    }
}
