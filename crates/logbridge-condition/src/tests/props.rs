//! Property tests: compilation never panics on any text, checking never
//! panics on any event, and `!`, `&&`, `||` and the comparisons obey their
//! laws for generated conditions and values.

use std::sync::Arc;

use bytes::Bytes;
use logbridge_event::{Event, LogRecord, Metric, ObjectMap, Resource, Span, Value};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;

use crate::Condition;
use crate::eval::{CmpOp, compare};

const KEYS: &[&str] = &["a", "b", "c", "status", "level", "message", "tags", "http"];

const PATHS: &[&str] = &[
    ".a",
    ".b",
    ".c.d",
    ".status",
    ".level",
    ".message",
    ".tags[0]",
    ".tags[-1]",
    ".http.code",
    ".missing",
    ".",
    "%severity_text",
    "%timestamp",
    "%resource.host",
    ".name",
    ".labels.a",
];

const LITERALS: &[&str] = &[
    "true",
    "false",
    "null",
    "0",
    "-1",
    "500",
    "1.5",
    "-2e3",
    "\"\"",
    "\"debug\"",
    "\"a\"",
    "r'x'",
];

const OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

const REGEXES: &[&str] = &["", "^a", "b$", r"\d+", "(?i)DEBUG", "[a-c]{2}", ".*", "^$"];

/// Tokens, valid and not, for building near-miss sources.
const TOKENS: &[&str] = &[
    ".a",
    ".b.c",
    "%severity_text",
    ".x[1]",
    "(",
    ")",
    ",",
    ":",
    "!",
    "&&",
    "||",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "&",
    "|",
    "1",
    "-2.5",
    "1e",
    "\"s\"",
    "\"\\",
    "r'x'",
    "'",
    "true",
    "null",
    "exists",
    "match",
    "contains",
    "starts_with",
    "case_sensitive",
    "foo",
    "-",
    ".",
    "%",
    "é",
];

/// Conditions that cover every feature, checked against arbitrary events.
const VALID: &[&str] = &[
    r#".level != "debug" && .status >= 500"#,
    ".a == .b",
    ".a < .b || .a >= .b",
    ".a != null && !(.b == 1.5)",
    ".tags == .http",
    ".tags[0] > .tags[-1]",
    ".c.d <= 0",
    ".",
    ". == .",
    ".a",
    "!.a",
    "%timestamp > %timestamp",
    r#"%severity_text == "ERROR""#,
    r#"%resource.host == "web-1""#,
    "exists(.a) && exists(.c.d) || exists(%resource.host)",
    r"match(.message, r'^\d+ (GET|POST)')",
    r"match(.a, r'(?i)ab')",
    r#"contains(.message, "b")"#,
    r#"contains(.message, "B", case_sensitive: false)"#,
    r#"starts_with(.level, "de", case_sensitive: false)"#,
    r#"ends_with(.a, "é", case_sensitive: false)"#,
    r#"starts_with(.b, "")"#,
    r#"ends_with(.b, "x")"#,
    r#".name == "requests" && .labels.a != "x""#,
];

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        (-600_i64..600).prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<i64>().prop_map(Value::Timestamp),
        select(&["", "a", "b", "debug", "error", "ab", "AB", "é", "1 GET"][..])
            .prop_map(Value::from),
        vec(any::<u8>(), 0..8).prop_map(|b| Value::Bytes(Bytes::from(b))),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(select(KEYS).prop_map(Into::into), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_fields() -> impl Strategy<Value = ObjectMap> {
    btree_map(select(KEYS).prop_map(Into::into), arb_value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (arb_fields(), arb_value(), any::<i64>(), proptest::option::of("[A-Z]{0,5}"), arb_fields())
            .prop_map(|(attributes, body, time, severity, resource)| {
                Event::Log(LogRecord {
                    body,
                    attributes,
                    time_unix_nano: time,
                    severity_text: severity.map(Into::into),
                    resource: Some(Arc::new(Resource {
                        attributes: resource,
                        ..Resource::default()
                    })),
                    ..LogRecord::default()
                })
            }),
        1 => (arb_fields(), any::<f64>()).prop_map(|(labels, value)| {
            let mut metric = Metric::gauge("requests", value, 0);
            metric.labels = labels;
            Event::Metric(metric)
        }),
        1 => arb_fields().prop_map(|attributes| Event::Span(Box::new(Span {
            attributes,
            start_time_unix_nano: i64::MIN,
            end_time_unix_nano: i64::MAX,
            ..Span::default()
        }))),
    ]
}

fn value_src() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(PATHS).prop_map(String::from),
        2 => select(LITERALS).prop_map(String::from),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (-1e6_f64..1e6).prop_map(|f| format!("{f:e}")),
        1 => "[a-z é]{0,6}".prop_map(|s| format!("{s:?}")),
    ]
}

/// Source text of valid conditions, with every construct of the language.
fn cond_src() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        value_src(),
        (value_src(), select(OPS), value_src()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        select(PATHS).prop_map(|p| format!("exists({p})")),
        (value_src(), select(REGEXES)).prop_map(|(v, r)| format!("match({v}, r'{r}')")),
        (
            select(&["contains", "starts_with", "ends_with"][..]),
            value_src(),
            "[a-zA-Z(é]{0,3}",
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(f, v, s, case)| match case {
                Some(case) => format!("{f}({v}, {s:?}, case_sensitive: {case})"),
                None => format!("{f}({v}, {s:?})"),
            }),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| format!("!({c})")),
            inner.clone().prop_map(|c| format!("!{c}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) && ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) || ({b})")),
            (inner.clone(), select(OPS), inner).prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
        ]
    })
}

fn compile(src: &str) -> Result<Condition, TestCaseError> {
    Condition::compile(src).map_err(|e| TestCaseError::fail(e.render(src)))
}

/// Compiling must end in a condition or in an error inside the source.
fn compile_any(src: &str) -> Result<(), TestCaseError> {
    if let Err(e) = Condition::compile(src) {
        prop_assert!(e.offset <= src.len(), "{e:?} for {src:?}");
        prop_assert!(src.is_char_boundary(e.offset), "{e:?} for {src:?}");
        let _ = e.render(src);
        let _ = e.to_string();
    }
    Ok(())
}

proptest! {
    #[test]
    fn compile_never_panics_on_text(src in "\\PC{0,64}") {
        compile_any(&src)?;
    }

    #[test]
    fn compile_never_panics_on_token_soup(tokens in vec(select(TOKENS), 0..24), spaced: bool) {
        let src = tokens.join(if spaced { " " } else { "" });
        compile_any(&src)?;
    }

    #[test]
    fn generated_conditions_compile(src in cond_src()) {
        compile(&src)?;
    }

    #[test]
    fn check_never_panics(event in arb_event(), generated in cond_src()) {
        for src in VALID {
            let _ = compile(src)?.check(&event);
        }
        let _ = compile(&generated)?.check(&event);
    }

    #[test]
    fn not_is_negation(src in cond_src(), event in arb_event()) {
        let c = compile(&src)?;
        let not = compile(&format!("!({src})"))?;
        prop_assert_eq!(not.check(&event), !c.check(&event), "{}", src);
    }

    #[test]
    fn and_or_are_conjunction_and_disjunction(a in cond_src(), b in cond_src(), event in arb_event()) {
        let (ca, cb) = (compile(&a)?.check(&event), compile(&b)?.check(&event));
        prop_assert_eq!(compile(&format!("({a}) && ({b})"))?.check(&event), ca && cb);
        prop_assert_eq!(compile(&format!("({a}) || ({b})"))?.check(&event), ca || cb);
    }

    #[test]
    fn comparisons_are_consistent(x in arb_value(), y in arb_value()) {
        let c = |op, a: &Value, b: &Value| compare(op, a, b);
        prop_assert_eq!(c(CmpOp::Eq, &x, &y), c(CmpOp::Eq, &y, &x));
        prop_assert_eq!(c(CmpOp::Ne, &x, &y), !c(CmpOp::Eq, &x, &y));
        prop_assert_eq!(c(CmpOp::Lt, &x, &y), c(CmpOp::Gt, &y, &x));
        prop_assert_eq!(c(CmpOp::Le, &x, &y), c(CmpOp::Ge, &y, &x));
        if c(CmpOp::Lt, &x, &y) {
            prop_assert!(c(CmpOp::Ne, &x, &y) && c(CmpOp::Le, &x, &y) && !c(CmpOp::Ge, &x, &y));
        }
        if c(CmpOp::Le, &x, &y) {
            prop_assert!(c(CmpOp::Lt, &x, &y) || c(CmpOp::Eq, &x, &y));
        }
    }

    #[test]
    fn a_value_equals_itself_unless_it_holds_nan(x in arb_value()) {
        fn has_nan(v: &Value) -> bool {
            match v {
                Value::Float(f) => f.is_nan(),
                Value::Array(a) => a.iter().any(has_nan),
                Value::Object(m) => m.values().any(has_nan),
                _ => false,
            }
        }
        prop_assert_eq!(compare(CmpOp::Eq, &x, &x), !has_nan(&x));
    }
}
