//! Condition options as Vector writes them, shared by every transform that
//! takes one (`filter`, `route`, `sample.exclude`, `throttle.exclude`,
//! `reduce.starts_when`, ...): a string (`condition = '.status >= 500'`)
//! or a table with a `type` (`vrl` with `source`, `is_log`, `is_metric`,
//! `is_trace`).
//!
//! A program is VRL. Programs that logbridge's own condition language
//! (`logbridge-condition`) also reads, and that it evaluates exactly as
//! VRL does (comparisons for equality, `exists`, `!`, `&&`, `||` over a
//! log's fields and literals other than null), run on that evaluator for
//! logs, which reads fields in place instead of converting the event; a
//! property test holds the two to the same results. A string that VRL
//! does not compile but the condition language does (`.status >= 500`,
//! which VRL rejects because `.status` may not be a number) keeps the
//! condition language's meaning, as in earlier logbridge configs.
//!
//! This module only parses the option and picks an evaluator; it does not
//! define a language.

use logbridge_component::BuildError;
use logbridge_condition::Condition;
use logbridge_event::{DataKind, Event};
use serde::Deserialize;

#[cfg(feature = "vrl")]
use logbridge_vrl::{CompileOptions, Program, ProgramRuntime};

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
    /// logbridge's condition language, for a string VRL does not compile.
    Native(Condition),
    /// VRL, with the condition language as a fast path for logs when it
    /// evaluates the program identically.
    #[cfg(feature = "vrl")]
    Vrl {
        program: Program,
        fast: Option<Condition>,
    },
    Kind(DataKind),
}

impl EventCondition {
    /// Compiles the condition given in `option`; an error names the option
    /// and shows where the program went wrong.
    pub fn compile(option: &str, config: &ConditionConfig) -> Result<EventCondition, BuildError> {
        let check = match config {
            ConditionConfig::Source(source) => compile_source(option, source, false)?,
            ConditionConfig::Typed(TypedCondition::Vrl { source }) => {
                compile_source(option, source, true)?
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
            Check::Native(condition) => condition.check(event),
            #[cfg(feature = "vrl")]
            Check::Vrl { program, fast } => match (fast, event) {
                (Some(fast), Event::Log(_)) => fast.check(event),
                _ => check_vrl(program, event),
            },
            Check::Kind(kind) => event.kind() == *kind,
        }
    }
}

#[cfg(feature = "vrl")]
thread_local! {
    /// Conditions are checked through `&self` from any thread: each thread
    /// keeps the program-local state VRL needs.
    static RUNTIME: std::cell::RefCell<ProgramRuntime> = Default::default();
}

/// A VRL condition's verdict: only `true` holds; a runtime error does not.
#[cfg(feature = "vrl")]
fn check_vrl(program: &Program, event: &Event) -> bool {
    RUNTIME.with(|r| program.check(event, &mut r.borrow_mut()).unwrap_or(false))
}

/// Compiles a program string: VRL first; a string VRL rejects falls back
/// to the condition language unless it was declared `type = "vrl"`.
#[cfg_attr(not(feature = "vrl"), allow(unused_variables))]
fn compile_source(option: &str, source: &str, vrl_only: bool) -> Result<Check, BuildError> {
    let native = Condition::compile(source);
    #[cfg(feature = "vrl")]
    {
        let vrl = Program::compile(source, &CompileOptions::default());
        match vrl {
            Ok(program) if program.returns_boolean() => {
                let fast = native.ok().filter(Condition::agrees_with_vrl);
                return Ok(Check::Vrl { program, fast });
            }
            Ok(_) => {
                if let (false, Ok(native)) = (vrl_only, &native) {
                    return Ok(Check::Native(native.clone()));
                }
                return Err(BuildError::new(
                    option,
                    "the condition does not always return a boolean",
                )
                .with_hint(
                    "end the program with a comparison, or coerce it: `to_bool(...) ?? false`",
                ));
            }
            Err(e) => {
                if let (false, Ok(native)) = (vrl_only, native) {
                    return Ok(Check::Native(native));
                }
                return Err(crate::remap::compile_error(option, e));
            }
        }
    }
    #[allow(unreachable_code)]
    native.map(Check::Native).map_err(|e| {
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

    #[cfg(feature = "vrl")]
    mod against_vrl {
        use super::*;
        use logbridge_event::{KeyString, ObjectMap, Value};
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = Option<Value>> {
            prop_oneof![
                Just(None),
                Just(Some(Value::Null)),
                any::<bool>().prop_map(|b| Some(Value::Bool(b))),
                (-2i64..3).prop_map(|i| Some(Value::Integer(i))),
                prop_oneof![
                    Just(1.0),
                    Just(-0.0),
                    Just(0.5),
                    Just(f64::NAN),
                    Just(f64::INFINITY)
                ]
                .prop_map(|f| Some(Value::Float(f))),
                prop_oneof![Just("1"), Just("a"), Just(""), Just("A"), Just("true")]
                    .prop_map(|s| Some(Value::from(s))),
                Just(Some(Value::Bytes(bytes::Bytes::from_static(b"\xff")))),
                (-2i64..3).prop_map(|i| {
                    let mut m = ObjectMap::new();
                    m.insert(KeyString::from("b"), Value::Integer(i));
                    Some(Value::Object(m))
                }),
                Just(Some(Value::Array(vec![Value::Integer(1)]))),
            ]
        }

        fn log() -> impl Strategy<Value = Event> {
            (value(), value(), value()).prop_map(|(message, a, c)| {
                let mut log = LogRecord::default();
                if let Some(m) = message {
                    log.body = m;
                }
                for (k, v) in [("a", a), ("c", c)] {
                    if let Some(v) = v {
                        log.attributes.insert(KeyString::from(k), v);
                    }
                }
                Event::Log(log)
            })
        }

        fn operand() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(".a".to_owned()),
                Just(".c".to_owned()),
                Just(".message".to_owned()),
                Just(".a.b".to_owned()),
                Just(".c[0]".to_owned()),
            ]
        }

        fn literal() -> impl Strategy<Value = String> {
            prop_oneof![
                (-2i64..3).prop_map(|i| i.to_string()),
                Just("true".to_owned()),
                Just("false".to_owned()),
                Just(r#""1""#.to_owned()),
                Just(r#""a""#.to_owned()),
                Just(r#""""#.to_owned()),
            ]
        }

        fn program() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                (operand(), prop_oneof![Just("=="), Just("!=")], literal())
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                (literal(), prop_oneof![Just("=="), Just("!=")], operand())
                    .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
                operand().prop_map(|p| format!("exists({p})")),
            ];
            leaf.prop_recursive(3, 12, 3, |inner| {
                prop_oneof![
                    inner.clone().prop_map(|e| format!("!({e})")),
                    (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
                    (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) || ({b})")),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            /// The fast path answers as VRL does wherever it is used.
            #[test]
            fn the_fast_path_agrees_with_vrl(source in program(), event in log()) {
                let native = Condition::compile(&source).unwrap();
                prop_assert!(native.agrees_with_vrl(), "{source} should be in the shared subset");
                let vrl = Program::compile(&source, &CompileOptions::default()).unwrap();
                prop_assert!(vrl.returns_boolean());
                prop_assert_eq!(
                    native.check(&event),
                    check_vrl(&vrl, &event),
                    "{} on {:?}", source, event
                );
            }
        }

        #[test]
        fn vrl_programs_outside_the_subset_run_on_vrl() {
            let check =
                |source: &str| match EventCondition::compile("c", &source.into()).unwrap().check {
                    Check::Vrl { fast, .. } => fast.is_some(),
                    Check::Native(_) => panic!("{source} compiled as the condition language"),
                    Check::Kind(_) => unreachable!(),
                };
            assert!(check(r#".level == "error""#));
            assert!(!check(r#"contains(string!(.message), "x")"#));
            assert!(!check(r#".a == .b"#));
            // Not VRL (`>=` on a field of unknown type is fallible there):
            // the condition language keeps it.
            let native = EventCondition::compile("c", &".status >= 500".into()).unwrap();
            assert!(matches!(native.check, Check::Native(_)));
            // Declared VRL: VRL's diagnostic, no fallback.
            let typed = ConditionConfig::Typed(TypedCondition::Vrl {
                source: ".status >= 500".into(),
            });
            let err = EventCondition::compile("c", &typed).unwrap_err();
            assert!(err.hint.unwrap().contains("^"));
        }
    }
}
