//! `parse_json` here against VRL's own, on the same programs and inputs.

use bytes::Bytes;
use proptest::prelude::*;
use vrl::compiler::runtime::Runtime;
use vrl::compiler::{Function, TargetValue, TimeZone};
use vrl::value::{Secrets, Value};

/// Runs `source` over an event whose `.m` is `input`, with `parse_json`
/// from VRL (`ours == false`) or from this module; an error comes back as
/// VRL's message.
fn run(source: &str, input: &[u8], ours: bool) -> Result<Value, String> {
    let mut fns = vrl::stdlib::all();
    if ours {
        fns.retain(|f| f.identifier() != "parse_json");
        fns.push(Box::new(super::ParseJson) as Box<dyn Function>);
    }
    let program = vrl::compiler::compile(source, &fns)
        .map_err(|d| format!("compile: {d:?}"))?
        .program;
    let mut target = TargetValue {
        value: Value::from_iter([("m".to_owned(), Value::Bytes(input.to_vec().into()))]),
        metadata: Value::Object(Default::default()),
        secrets: Secrets::default(),
    };
    Runtime::default()
        .resolve(&mut target, &program, &TimeZone::default())
        .map_err(|e| e.to_string())
}

const PROGRAMS: [&str; 3] = [
    "parse_json!(.m)",
    "parse_json!(.m, lossy: false)",
    "parse_json(.m) ?? \"fallback\"",
];

fn same_as_vrl(input: &[u8]) {
    for source in PROGRAMS {
        let ours = run(source, input, true);
        let theirs = run(source, input, false);
        assert_eq!(
            ours,
            theirs,
            "{source} on {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn cases_at_the_edges() {
    let cases: &[&[u8]] = &[
        br#"{"a":1,"b":"x","c":[1,2.5,-0,null,true],"d":{}}"#,
        br#"{"a":1,"a":2}"#,
        br#"{"big":18446744073709551615,"neg":-9223372036854775809,"e":1e400}"#,
        br#"{"f":0.1,"g":1.7976931348623157e308,"h":5e-324,"i":-0.0}"#,
        br#"{"esc":"a\"b\\c\u00e9\ud83d\ude00\n"}"#,
        br#"{"lone":"\ud800"}"#,
        b"\xef\xbb\xbf{\"bom\":1}",
        b"\xef\xbb\xbf\xef\xbb\xbf{\"two boms\":1}",
        b"{\"bad\":\"\xff\"}",
        b"{\"ctl\":\"\x01\"}",
        br#"[1,2]"#,
        br#""text""#,
        br#"42"#,
        br#"{"a":1} trailing"#,
        br#"{"a":1,}"#,
        br#"{"#,
        b"",
        b"   ",
        br#"{ "spaced" : [ 1 , { "x" : "y" } ] }"#,
    ];
    for case in cases {
        same_as_vrl(case);
    }
    let deep = format!("{}1{}", "{\"a\":".repeat(130), "}".repeat(130));
    same_as_vrl(deep.as_bytes());
    let deep_ok = format!("{}1{}", "{\"a\":".repeat(120), "}".repeat(120));
    same_as_vrl(deep_ok.as_bytes());
}

#[test]
fn only_a_clean_object_takes_the_fast_path() {
    let fast = |input: &[u8]| super::parse_object(&Bytes::from(input.to_vec()));
    assert_eq!(
        fast(br#"{"a":"x","b":[1,2.5]}"#),
        Some(Value::from_iter([
            ("a".to_owned(), Value::from("x")),
            (
                "b".to_owned(),
                Value::from(vec![Value::from(1), Value::from_f64_or_zero(2.5)])
            ),
        ]))
    );
    for other in [
        &b"[1]"[..],
        b"1",
        b"\xef\xbb\xbf{}",
        b"{\"a\":\"\xff\"}",
        b"{",
    ] {
        assert_eq!(fast(other), None, "{other:?}");
    }
}

#[test]
fn max_depth_is_vrls_own() {
    let input = br#"{"a":{"b":{"c":1}}}"#;
    let source = "parse_json!(.m, max_depth: 1)";
    assert_eq!(run(source, input, true), run(source, input, false));
    assert_eq!(
        run(source, input, true).unwrap(),
        Value::from_iter([("a".to_owned(), Value::from(r#"{"b":{"c":1}}"#))])
    );
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let number = prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        number,
        ".{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-c]{0,2}|.{0,6}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object's text, with keys repeated now and then (serde_json's own
/// maps cannot hold a repeated key).
fn object_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(("[a-c]{1,2}", json_value()), 0..8).prop_map(|entries| {
        let fields: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), v))
            .collect();
        format!("{{{}}}", fields.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_value_parses_as_vrl_parses_it(value in json_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        same_as_vrl(text.as_bytes());
    }

    #[test]
    fn objects_with_repeated_keys_parse_as_vrl_parses_them(text in object_text()) {
        same_as_vrl(text.as_bytes());
    }

    #[test]
    fn damaged_json_fails_or_parses_as_vrl_says(
        text in object_text(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut bytes = text.into_bytes();
        let i = at.index(bytes.len() + 1);
        match how {
            0 => bytes.insert(i, byte),
            1 if i < bytes.len() => bytes[i] = byte,
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => bytes.push(byte),
        }
        same_as_vrl(&bytes);
    }

    #[test]
    fn any_bytes_fail_or_parse_as_vrl_says(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        same_as_vrl(&bytes);
    }
}
