//! A program converts only the log fields it can reach; the rest must
//! come back untouched, or go when the program replaces `.`. Every program
//! here runs both ways over the same events and must give the same result.

use logbridge_event::{Event, KeyString, LogRecord, ObjectMap, Value};
use proptest::prelude::*;

use super::*;
use crate::value::tests::value;

const PROGRAMS: &[&str] = &[
    ". = parse_json!(.message)",
    ".env = \"prod\"\ndel(.b)\n.c = del(.a)",
    ".a.b = 1",
    ".message = upcase(string(.message) ?? \"\")",
    "if .a == 1 { . = {\"only\": true} }",
    "if exists(.b) { . = [.b, .c] } else { .x = 1 }",
    ". |= {\"x\": 1}",
    ". = merge(., {\"a\": null})",
    "del(.)",
    ". = compact(.)",
    ".keys = keys(.)",
    "x = get!(., [\"a\"])\n.got = x",
    ". = unnest!(.arr)",
    "%seen = .a\n.meta = %seen",
    ".a = .b\n.b = .c\ndel(.c)",
    "for_each(object(.a) ?? {}) -> |k, v| { .copied = v }",
    "abort",
    ".n = to_int!(.a) + 1",
    "true",
];

/// A log with any of a few fields set to any value.
fn event() -> impl Strategy<Value = Event> {
    let field = prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("arr"),
        Just("x"),
        Just("zz")
    ];
    (
        proptest::option::of(value()),
        proptest::collection::vec((field, value()), 0..6),
    )
        .prop_map(|(body, fields)| {
            Event::Log(LogRecord {
                body: body.unwrap_or(Value::Null),
                attributes: ObjectMap::from_entries(
                    fields
                        .into_iter()
                        .map(|(k, v)| (KeyString::from(k), v))
                        .collect(),
                ),
                ..Default::default()
            })
        })
}

/// What a run gives, in a form that tells NaNs apart only as `NaN`.
fn outcome(program: &Program, event: &Event) -> String {
    let mut out = Vec::new();
    let result = program.run(event.clone(), &mut ProgramRuntime::default(), &mut out);
    let checked = program.check(event, &mut ProgramRuntime::default());
    format!("{result:?} {out:?} {checked:?}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn converting_only_reached_fields_changes_nothing(e in event()) {
        for source in PROGRAMS {
            let program = Program::compile(source, &CompileOptions::default()).unwrap();
            let mut whole = program.clone();
            whole.reach = Reach::Whole;
            prop_assert_eq!(outcome(&program, &e), outcome(&whole, &e), "{}", source);
        }
    }
}

fn reach(source: &str) -> Reach {
    Program::compile(source, &CompileOptions::default())
        .unwrap()
        .reach
}

fn fields(names: &[&str]) -> Reach {
    Reach::Fields(names.iter().map(|n| KeyString::from(*n)).collect())
}

#[test]
fn reach_is_what_the_program_names() {
    assert_eq!(reach(". = parse_json!(.message)"), fields(&["message"]));
    assert_eq!(
        reach(".env = \"prod\"\ndel(.b)\n.c = del(.a)"),
        fields(&["a", "b", "c", "env"])
    );
    assert_eq!(reach(".a.b[0] = %m"), fields(&["a"]));
    assert_eq!(reach("%m = 1"), fields(&[]));
    for whole in [
        ". |= {}",
        ". = merge(., {})",
        "del(.)",
        "x = get!(., [\"a\"])",
        ". = unnest!(.arr)",
        "keys(.)",
    ] {
        assert_eq!(reach(whole), Reach::Whole, "{whole}");
    }
}

#[test]
fn fields_out_of_reach_come_back_as_they_were() {
    let mut log = LogRecord {
        body: Value::from("{\"k\":1}"),
        ..Default::default()
    };
    log.attributes.insert(
        KeyString::from("nan"),
        Value::Float(f64::from_bits(0x7ff0_0000_0000_0002)),
    );
    log.attributes
        .insert(KeyString::from("t"), Value::Timestamp(1));
    let program = Program::compile(".seen = .message", &CompileOptions::default()).unwrap();
    let mut out = Vec::new();
    program
        .run(Event::Log(log), &mut ProgramRuntime::default(), &mut out)
        .unwrap();
    let Event::Log(log) = &out[0] else {
        unreachable!()
    };
    let Some(Value::Float(nan)) = log.attributes.get("nan") else {
        panic!("{log:?}")
    };
    assert_eq!(
        nan.to_bits(),
        0x7ff0_0000_0000_0002,
        "the staleness marker's bits"
    );
    assert_eq!(log.attributes.get("t"), Some(&Value::Timestamp(1)));
    assert_eq!(log.attributes.get("seen"), Some(&Value::from("{\"k\":1}")));
}
