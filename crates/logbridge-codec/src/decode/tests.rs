//! Tests of the parsers: data-driven cases per format through one helper,
//! then properties (no input panics; `parse_bytes` agrees with `parse`).

use bytes::Bytes;
use logbridge_event::{ObjectMap, Value};
use proptest::prelude::*;

use super::*;

/// Renders parsed fields as JSON with sorted keys, except that a timestamp
/// shows as `ts(RFC 3339)` so that its type is visible; an error as its
/// message.
fn render(result: Result<ObjectMap, ParseError>) -> String {
    fn value(v: &Value, out: &mut String) {
        match v {
            Value::Timestamp(_) => {
                out.push_str("ts(");
                out.push_str(&v.to_string_lossy());
                out.push(')');
            }
            Value::Object(m) => object(m, out),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    value(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&serde_json::to_string(other).unwrap()),
        }
    }
    fn object(m: &ObjectMap, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(k.as_str()).unwrap());
            out.push(':');
            value(v, out);
        }
        out.push('}');
    }
    match result {
        Ok(m) => {
            let mut out = String::new();
            object(&m, &mut out);
            out
        }
        Err(e) => format!("error: {e}"),
    }
}

/// Parses every input with `parser` (also through `parse_bytes`, which
/// must agree) and compares the rendering with the expected one.
fn check(parser: &Parser, cases: &[(&[u8], &str)]) {
    for (input, expected) in cases {
        let got = render(parser.parse(input));
        let shown: String = String::from_utf8_lossy(input).chars().take(200).collect();
        assert_eq!(&got, expected, "input: {shown:?}");
        let shared = render(parser.parse_bytes(&Bytes::copy_from_slice(input), 0));
        if !matches!(parser.format, Format::Syslog) {
            assert_eq!(got, shared, "parse_bytes differs");
        }
    }
}

fn parser(config: ParserConfig) -> Parser {
    Parser::new(&config).unwrap()
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = String::from("{\"a\":");
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s.push('}');
    s.into_bytes()
}

fn oversized() -> Vec<u8> {
    let mut s = b"{\"a\":\"".to_vec();
    s.resize(MAX_PARSE_INPUT_BYTES, b'x');
    s.extend_from_slice(b"\"}");
    s
}

#[test]
fn json() {
    let deep_ok = nested(120);
    let deep_ok_expected = format!("{{\"a\":{}{}}}", "[".repeat(120), "]".repeat(120));
    let big = oversized();
    check(
        &parser(ParserConfig::Json),
        &[
            (
                br#"{"level":"info","status":200,"ms":1.5,"ok":true,"none":null}"#,
                r#"{"level":"info","ms":1.5,"none":null,"ok":true,"status":200}"#,
            ),
            (
                b" \t{\"a\":{\"b\":[1,\"x\",{\"c\":-2}]}} \r\n",
                r#"{"a":{"b":[1,"x",{"c":-2}]}}"#,
            ),
            (
                br#"{"big":18446744073709551615,"neg":-9223372036854775808,"e":1e3}"#,
                r#"{"big":1.8446744073709552e+19,"e":1000.0,"neg":-9223372036854775808}"#,
            ),
            (
                br#"{"esc":"\u00e9\n\"q\"","k\u0041":1}"#,
                r#"{"esc":"é\n\"q\"","kA":1}"#,
            ),
            (br#"{"dup":1,"dup":2}"#, r#"{"dup":2}"#),
            (b"{}", "{}"),
            (&deep_ok, &deep_ok_expected),
            (b"", "error: empty input"),
            (b" \n ", "error: empty input"),
            (
                br#"{"a":1"#,
                "error: invalid json at line 1 column 6: EOF while parsing an object",
            ),
            (
                br#"{"a":1 "b":2}"#,
                "error: invalid json at line 1 column 8: expected `,` or `}`",
            ),
            (
                br#"{"a":1,}"#,
                "error: invalid json at line 1 column 8: trailing comma",
            ),
            (
                br#"{"a":1} x"#,
                "error: invalid json at line 1 column 9: trailing characters",
            ),
            (
                b"{\"a\":\"\xff\"}",
                "error: invalid json at line 1 column 7: invalid unicode code point",
            ),
            (b"[1,2]", "error: json is not an object"),
            (b"\"text\"", "error: json is not an object"),
            (b"42", "error: json is not an object"),
            (b"null", "error: json is not an object"),
            (
                b"hello",
                "error: invalid json at line 1 column 1: expected value",
            ),
            (
                &nested(200),
                "error: invalid json at line 1 column 132: recursion limit exceeded",
            ),
            (
                &big,
                "error: input of 1048578 bytes is over the limit of 1048576 bytes",
            ),
        ],
    );
}

#[test]
fn json_strings_share_the_input_buffer() {
    let input = Bytes::from_static(br#"{"plain":"abc","escaped":"a\"b"}"#);
    let map = parser(ParserConfig::Json).parse_bytes(&input, 0).unwrap();
    let inside = |v: &Value| {
        let p = v.as_bytes().unwrap().as_ptr() as usize;
        let base = input.as_ptr() as usize;
        p >= base && p < base + input.len()
    };
    assert!(inside(&map["plain"]));
    assert!(!inside(&map["escaped"]));
}

#[test]
fn logfmt() {
    check(
        &parser(ParserConfig::Logfmt),
        &[
            (
                b"level=info status=200 msg=\"hello world\" flag",
                r#"{"flag":true,"level":"info","msg":"hello world","status":"200"}"#,
            ),
            (
                br#"k="quoted \"value\" \\ end""#,
                r#"{"k":"quoted \"value\" \\ end"}"#,
            ),
            (br#"a= b="" c"#, r#"{"a":"","b":"","c":true}"#),
            (
                br#"e="l1\nl2\tx\u00e9\q\u12""#,
                r#"{"e":"l1\nl2\txé\\q\\u12"}"#,
            ),
            (br#"u="\u+0ab""#, r#"{"u":"\\u+0ab"}"#),
            (br#"s="\ud800""#, r#"{"s":"�"}"#),
            (b"a=b=c d=x\"y", r#"{"a":"b=c","d":"x\"y"}"#),
            (b" \t a=1 \t\r\n b=2  ", r#"{"a":"1","b":"2"}"#),
            (b"http.method=GET", r#"{"http.method":"GET"}"#),
            (b"dup=1 dup=2", r#"{"dup":"2"}"#),
            (b"k=\xff\xfe", r#"{"k":"��"}"#),
            (b"\xff=1", r#"{"�":"1"}"#),
            (b"", "error: empty input"),
            (b"   ", "error: empty input"),
            (
                b"=x",
                "error: invalid logfmt at byte 0: missing key before `=`",
            ),
            (
                b"a=1 \"b\"=2",
                "error: invalid logfmt at byte 4: unexpected `\"` in a key",
            ),
            (
                b"a\"b=1",
                "error: invalid logfmt at byte 1: unexpected `\"` in a key",
            ),
            (
                b"a=\"open",
                "error: invalid logfmt at byte 2: unterminated quoted value",
            ),
            (
                b"a=\"ends with escape\\",
                "error: invalid logfmt at byte 2: unterminated quoted value",
            ),
            (
                b"a=\"x\"b",
                "error: invalid logfmt at byte 5: missing space after a quoted value",
            ),
            (
                &oversized(),
                "error: input of 1048578 bytes is over the limit of 1048576 bytes",
            ),
        ],
    );
}

#[test]
fn regex() {
    let p = parser(ParserConfig::Regex {
        pattern: r"^(?P<method>[A-Z]+) (?P<path>\S+)(?: (?P<status>\d+))?( .*)?$".into(),
    });
    check(
        &p,
        &[
            (
                b"GET /index.html 200",
                r#"{"method":"GET","path":"/index.html","status":"200"}"#,
            ),
            (b"POST /x", r#"{"method":"POST","path":"/x"}"#),
            (
                b"PUT /a\xffb 201 trailing words",
                r#"{"method":"PUT","path":"/a�b","status":"201"}"#,
            ),
            (b"get /x", "error: line does not match the pattern"),
            (b"", "error: line does not match the pattern"),
        ],
    );
    // Not anchored: the first match anywhere in the line.
    let p = parser(ParserConfig::Regex {
        pattern: r"user=(?P<user>\w+)".into(),
    });
    check(
        &p,
        &[(b"login ok user=ada from 10.0.0.1", r#"{"user":"ada"}"#)],
    );
}

#[test]
fn regex_config_errors() {
    let err = |pattern: &str| {
        Parser::new(&ParserConfig::Regex {
            pattern: pattern.into(),
        })
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        err(r"(\d+) (\w+)"),
        r"regex `(\d+) (\w+)` has no named capture groups, so it would make no fields; name them with (?P<name>...)"
    );
    let invalid = err(r"(?P<a>\d+");
    assert!(invalid.starts_with("invalid regex: "), "{invalid}");
    assert!(invalid.contains("unclosed group"), "{invalid}");
}

#[test]
fn syslog() {
    check(
        &parser(ParserConfig::Syslog),
        &[
            (
                b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 \
                  [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]\
                  [examplePriority@32473 class=\"high\"] An application event",
                concat!(
                    r#"{"appname":"evntslog","examplePriority@32473":{"class":"high"},"#,
                    r#""exampleSDID@32473":{"eventID":"1011","eventSource":"Application","iut":"3"},"#,
                    r#""facility":"local4","hostname":"mymachine.example.com","message":"An application event","#,
                    r#""msgid":"ID47","procid":"1234","severity":"notice","timestamp":ts(2003-10-11T22:14:15.003Z),"version":1}"#
                ),
            ),
            (
                b"<34>1 - - - - - - just the message",
                r#"{"facility":"auth","message":"just the message","severity":"crit","version":1}"#,
            ),
            (
                b"<13>1 2003-08-24T05:14:15.000003-07:00 host app worker-1 - [id p=\"a\\\"b\\]c\"] m",
                concat!(
                    r#"{"appname":"app","facility":"user","hostname":"host","id":{"p":"a\"b]c"},"#,
                    r#""message":"m","procid":"worker-1","severity":"notice","timestamp":ts(2003-08-24T12:14:15.000003Z),"version":1}"#
                ),
            ),
            // RFC 3164 with a year: no year is needed.
            (
                b"<34>Oct 11 2019 22:14:15 mymachine su: 'su root' failed",
                concat!(
                    r#"{"appname":"su","facility":"auth","hostname":"mymachine","message":"'su root' failed","#,
                    r#""severity":"crit","timestamp":ts(2019-10-11T22:14:15Z)}"#
                ),
            ),
            // RFC 3164 without a year and no time given: no timestamp.
            (
                b"<38>Feb 29 01:02:03 host sshd[4321]: Accepted publickey",
                r#"{"appname":"sshd","facility":"auth","hostname":"host","message":"Accepted publickey","procid":4321,"severity":"info"}"#,
            ),
            (
                b"<13>Oct 11 22:14:15 host app: caf\xc3\xa9 \xff",
                concat!(
                    r#"{"appname":"app","facility":"user","hostname":"host","message":"café �","#,
                    r#""severity":"notice"}"#
                ),
            ),
            (b"", "error: empty input"),
            (
                b"hello world",
                "error: invalid syslog message: missing <PRI> at the start",
            ),
            (
                b"<1000>1 - - - - - - x",
                "error: invalid syslog message: missing <PRI> at the start",
            ),
            (
                b"<>1 - - - - - - x",
                "error: invalid syslog message: missing <PRI> at the start",
            ),
            (
                b"<192>1 - - - - - - x",
                "error: invalid syslog message: priority over 191",
            ),
            (
                b"<13>hello",
                "error: invalid syslog message: unrecognized header",
            ),
        ],
    );
}

/// What syslog senders wrote comes out as written: repeated parameter
/// names (RFC 5424 6.3.3), the message's own leading and trailing spaces,
/// and RFC 5424's PROCID as the string the RFC defines; the single space
/// that separates the message, and RFC 3164's header padding, are syntax.
#[test]
fn regression_syslog_keeps_what_was_sent() {
    check(
        &parser(ParserConfig::Syslog),
        &[
            (
                b"<165>1 2003-10-11T22:14:15.003Z host app 0042 - [dup@32473 a=\"1\" b=\"x\" a=\"2\" a=\"3\"]   indented  ",
                concat!(
                    r#"{"appname":"app","dup@32473":{"a":["1","2","3"],"b":"x"},"facility":"local4","#,
                    r#""hostname":"host","message":"  indented  ","procid":"0042","severity":"notice","#,
                    r#""timestamp":ts(2003-10-11T22:14:15.003Z),"version":1}"#
                ),
            ),
            // One space is the separator, nothing more to keep.
            (
                b"<34>1 - - - 7 - - m\r\n",
                r#"{"facility":"auth","message":"m","procid":"7","severity":"crit","version":1}"#,
            ),
            // After an RFC 3164 tag's colon, one space is the separator.
            (
                b"<38>Oct 11 2019 22:14:15 host sshd[4321]:   two more",
                concat!(
                    r#"{"appname":"sshd","facility":"auth","hostname":"host","message":"  two more","#,
                    r#""procid":4321,"severity":"info","timestamp":ts(2019-10-11T22:14:15Z)}"#
                ),
            ),
            (
                b"<38>Oct 11 2019 22:14:15 host sshd[4321]: one",
                concat!(
                    r#"{"appname":"sshd","facility":"auth","hostname":"host","message":"one","#,
                    r#""procid":4321,"severity":"info","timestamp":ts(2019-10-11T22:14:15Z)}"#
                ),
            ),
            // RFC 3164 header padding before the message is not content.
            (
                b"<13>Feb  5 2019 17:32:18 10.0.0.99   Use the BFG!",
                concat!(
                    r#"{"facility":"user","hostname":"10.0.0.99","message":"Use the BFG!","#,
                    r#""severity":"notice","timestamp":ts(2019-02-05T17:32:18Z)}"#
                ),
            ),
        ],
    );
}

#[test]
fn syslog_year_comes_from_the_caller() {
    let line = b"<34>Dec 31 23:59:59 host app: late";
    let ts = |map: ObjectMap| map["timestamp"].to_string_lossy().into_owned();
    let p = parser(ParserConfig::Syslog);
    // 2024-01-01T00:00:05Z: a December line seen in January is last year's.
    let jan_2024 = 1_704_067_205_000_000_000;
    assert_eq!(
        ts(p.parse_at(line, jan_2024).unwrap()),
        "2023-12-31T23:59:59Z"
    );
    // 2024-06-01: the current year.
    let jun_2024 = 1_717_200_000_000_000_000;
    assert_eq!(
        ts(p.parse_at(line, jun_2024).unwrap()),
        "2024-12-31T23:59:59Z"
    );
    let fixed = p.clone().with_year(2011);
    assert_eq!(ts(fixed.parse(line).unwrap()), "2011-12-31T23:59:59Z");
    assert_eq!(
        ts(fixed.parse_at(line, jan_2024).unwrap()),
        "2011-12-31T23:59:59Z"
    );
    let shared = Bytes::from_static(line);
    assert_eq!(
        ts(p.parse_bytes(&shared, jun_2024).unwrap()),
        "2024-12-31T23:59:59Z"
    );
    assert!(!p.parse(line).unwrap().contains_key("timestamp"));
}

#[test]
fn parser_config_deserializes_from_a_tagged_table() {
    let config: ParserConfig =
        serde_json::from_str(r#"{"format":"regex","pattern":"(?P<a>.)"}"#).unwrap();
    assert_eq!(
        config,
        ParserConfig::Regex {
            pattern: "(?P<a>.)".into()
        }
    );
    let config: ParserConfig = serde_json::from_str(r#"{"format":"syslog"}"#).unwrap();
    assert_eq!(config, ParserConfig::Syslog);
}

#[test]
fn parser_is_shareable() {
    fn shareable<T: Clone + Send + Sync + std::fmt::Debug>() {}
    shareable::<Parser>();
}

fn all_parsers() -> Vec<Parser> {
    vec![
        parser(ParserConfig::Json),
        parser(ParserConfig::Logfmt),
        parser(ParserConfig::Regex {
            pattern: r"(?P<a>\w+)=(?P<b>[^ ]*)".into(),
        }),
        parser(ParserConfig::Syslog),
    ]
}

/// Inputs that start like each format, so that the parsers get past their
/// first checks.
fn input_strategy() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop::sample::select(vec![
        &b""[..],
        b"{",
        b"{\"a\":",
        b"a=",
        b"<13>",
        b"<165>1 ",
        b"<34>Oct 11 22:14:15 ",
        b"<13>1 - - - - - [",
    ]);
    let tail = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b" =\"\\[]{}:,<>0123456789-".to_vec()),
        ],
        0..80,
    );
    (prefix, tail).prop_map(|(p, t)| [p, &t[..]].concat())
}

proptest! {
    #[test]
    fn no_input_makes_a_parser_panic(input in input_strategy()) {
        for p in all_parsers() {
            let _ = p.parse(&input);
            let _ = p.parse_at(&input, i64::MIN);
            let _ = p.parse_bytes(&Bytes::from(input.clone()), i64::MAX);
        }
    }

    #[test]
    fn parse_bytes_agrees_with_parse(input in input_strategy(), now in any::<i64>()) {
        for p in all_parsers() {
            let shared = Bytes::from(input.clone());
            prop_assert_eq!(p.parse_at(&input, now), p.parse_bytes(&shared, now));
        }
    }
}

/// Floats equal but for serde_json's default parsing, which may be off by
/// a unit in the last place, and by more for subnormal numbers (ours is
/// correctly rounded, which the round-trip tests check).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            let diff = (x - y).abs();
            x == y || diff <= 4.0 * f64::EPSILON * x.abs().max(y.abs()) || diff <= f64::MIN_POSITIVE
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => a == b,
    }
}

fn same_map(x: &ObjectMap, y: &ObjectMap) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|((kx, vx), (ky, vy))| kx == ky && same_value(vx, vy))
}

/// Our JSON parser against serde_json (through the event crate's
/// `Deserialize for Value`): the same values, an error exactly when
/// serde_json fails, "not an object" exactly when it returns another value.
fn agrees_with_serde_json(input: &[u8]) -> Result<(), String> {
    let ours = parser(ParserConfig::Json).parse(input);
    let theirs = serde_json::from_slice::<Value>(input);
    match (&ours, &theirs) {
        (Ok(a), Ok(Value::Object(b))) if same_map(a, b) => Ok(()),
        (Err(ParseError::NotAnObject), Ok(v)) if v.as_object().is_none() => Ok(()),
        (Err(ParseError::InvalidJson { .. } | ParseError::Empty), Err(_)) => Ok(()),
        _ => Err(format!(
            "input {:?}: ours {ours:?}, serde_json {theirs:?}",
            String::from_utf8_lossy(input)
        )),
    }
}

#[test]
fn json_agrees_with_serde_json_on_edge_cases() {
    let cases: &[&[u8]] = &[
        b"{}",
        b"{\"a\":-0}",
        b"{\"a\":-0.0,\"b\":0e0,\"c\":1E+2,\"d\":1e-400}",
        b"{\"a\":9223372036854775807,\"b\":9223372036854775808,\"c\":-9223372036854775809}",
        b"{\"a\":123456789012345678901234567890}",
        b"{\"a\":1e400}",
        b"{\"a\":01}",
        b"{\"a\":1.}",
        b"{\"a\":.5}",
        b"{\"a\":-}",
        b"{\"a\":+1}",
        b"{\"a\":\"\\ud83d\\ude00\"}",
        b"{\"a\":\"\\ud83d\"}",
        b"{\"a\":\"\\ud83dx\"}",
        b"{\"a\":\"\\ud83d\\u0041\"}",
        b"{\"a\":\"\\udc00\"}",
        b"{\"a\":\"\\u00zz\"}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":\"tab\there\"}",
        b"{\"a\":\"del\x7f\"}",
        b"{\"\xc3\xa9\":\"\xe2\x82\xac\"}",
        b"{\"a\":\"\xc3\"}",
        b"{\"a\":1}\xff",
        b"\xef\xbb\xbf{}",
        b"\x0c{}",
        b"{\"a\" : [ 1 , 2 ] , \"b\" : { } }",
        b"{\"a\":[1,]}",
        b"{,}",
        b"{\"a\"}",
        b"{\"a\":}",
        b"{1:2}",
        b"[] x",
        b"1 2",
        b"  ",
        b"nul",
        b"truex",
        b"{\"a\":tru}",
        b"\"unterminated",
        b"{\"a\":\"\\",
    ];
    for input in cases {
        agrees_with_serde_json(input).unwrap();
    }
    // The nesting limit: 127 levels are fine, 128 are not, for both.
    for depth in [126, 127, 128] {
        agrees_with_serde_json(&nested(depth)).unwrap();
    }
}

fn json_value_strategy() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        "[a-z\\\\\"\u{0}-\u{1f}\u{e9}\u{1f600}]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{0,3}|.{0,4}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Valid JSON, sometimes with whitespace and sometimes damaged.
fn json_text_strategy() -> impl Strategy<Value = Vec<u8>> {
    let object = prop::collection::btree_map(".{0,6}", json_value_strategy(), 0..6)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()));
    let text = prop_oneof![
        3 => object.prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => json_value_strategy().prop_map(|v| serde_json::to_vec_pretty(&v).unwrap()),
    ];
    let edit = (
        any::<prop::sample::Index>(),
        prop::sample::select(b"{}[]\",:\\ \n0123456789-+.eEtrufalsn\xff\x01u".to_vec()),
        0u8..4,
    );
    (text, prop::collection::vec(edit, 0..3)).prop_map(|(mut text, edits)| {
        for (at, byte, kind) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, byte),
                1 if i < text.len() => text[i] = byte,
                2 if i < text.len() => {
                    text.remove(i);
                }
                _ => text.truncate(i),
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn json_parser_agrees_with_serde_json(input in json_text_strategy()) {
        agrees_with_serde_json(&input).map_err(TestCaseError::fail)?;
    }
}
