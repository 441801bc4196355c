//! Tests of the language through the public API: tables of conditions with
//! their expected answer on a fixture event, of sources with their parsed
//! form, and of bad sources with the offset and message of their error.
//! Property tests are in `props.rs` beside this file.

mod props;

use bytes::Bytes;
use logbridge_event::{Event, LogRecord, Metric, Path, Span, Value};

use crate::{Condition, ConditionError};

fn compile(src: &str) -> Condition {
    Condition::compile(src).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

fn path(text: &str) -> Path {
    Path::parse(text).unwrap()
}

/// A parsed JSON access log with metadata.
fn log_event() -> Event {
    let mut log = LogRecord::from_line(Bytes::from_static(b"GET /api/users/42 HTTP/1.1"), 0);
    let fields = serde_json::json!({
        "status": 503,
        "level": "error",
        "duration_ms": 12.5,
        "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "debug": true,
        "flag_str": "true",
        "nothing": null,
        "tags": ["a", "b"],
        "http": {"method": "POST", "code": 200},
        "odd key": "x",
        "city": "München",
    });
    let fields: Value = serde_json::from_value(fields).unwrap();
    for (key, value) in fields.as_object().unwrap() {
        log.insert(&Path::field(&[key.as_str()]), value.clone())
            .unwrap();
    }
    log.insert(&path(".bytes"), Value::Bytes(Bytes::from_static(b"\xffa")))
        .unwrap();
    log.insert(&path("%timestamp"), Value::Timestamp(1_000))
        .unwrap();
    log.insert(&path("%observed_timestamp"), Value::Timestamp(2_000))
        .unwrap();
    log.insert(&path("%severity_text"), "ERROR".into()).unwrap();
    log.insert(&path("%severity_number"), Value::Integer(17))
        .unwrap();
    log.insert(&path("%resource.\"service.name\""), "api".into())
        .unwrap();
    Event::Log(log)
}

/// Checks every `(condition, expected)` pair and reports all mismatches.
fn cases(event: &Event, table: &[(&str, bool)]) {
    let failures: Vec<String> = table
        .iter()
        .filter_map(|&(src, want)| {
            let got = compile(src).check(event);
            (got != want).then(|| format!("  {src}  =>  {got}, expected {want}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "wrong answers:\n{}",
        failures.join("\n")
    );
}

/// Checks every `(source, parsed form)` pair.
fn parses(table: &[(&str, &str)]) {
    let failures: Vec<String> = table
        .iter()
        .filter_map(|&(src, want)| {
            let got = compile(src).expr.to_string();
            (got != want).then(|| format!("  {src}  =>  {got}, expected {want}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "wrong parses:\n{}",
        failures.join("\n")
    );
}

/// Checks every `(source, offset, message)` triple: the source must fail to
/// compile with exactly that offset and message.
fn errors(table: &[(&str, usize, &str)]) {
    let failures: Vec<String> = table
        .iter()
        .filter_map(|&(src, offset, message)| match Condition::compile(src) {
            Ok(c) => Some(format!("  {src}  compiled to {c:?}")),
            Err(e) if e.offset == offset && e.message == message => None,
            Err(e) => Some(format!(
                "  {src}  =>  {}: {}, expected {offset}: {message}",
                e.offset, e.message
            )),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "wrong errors:\n{}",
        failures.join("\n")
    );
}

fn error(src: &str) -> ConditionError {
    Condition::compile(src).unwrap_err()
}

#[test]
fn condition_is_send_sync_clone_debug() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Condition>();
    assert_traits::<ConditionError>();
    let c = compile(".a || .b && .c");
    assert_eq!(c.source(), ".a || .b && .c");
    assert_eq!(
        format!("{:?}", c.clone()),
        r#"Condition { source: ".a || .b && .c", parsed: "(|| .a (&& .b .c))" }"#
    );
}

#[test]
fn numeric_comparisons() {
    cases(
        &log_event(),
        &[
            (".status == 503", true),
            (".status == 503.0", true),
            (".status != 503", false),
            (".status != 504", true),
            (".status > 500", true),
            (".status > 503", false),
            (".status >= 503", true),
            (".status < 503", false),
            (".status < 503.5", true),
            (".status <= 503", true),
            (".status > 502.5", true),
            (".status < 1e3", true),
            (".duration_ms > 12", true),
            (".duration_ms == 12.5", true),
            (".duration_ms < 13", true),
            (".duration_ms >= 12.5", true),
            (".http.code == 200", true),
            ("-1 < 0", true),
            ("-2e3 == -2000", true),
            ("9007199254740993 > 9007199254740992.0", true),
        ],
    );
}

#[test]
fn string_comparisons_are_bytewise() {
    cases(
        &log_event(),
        &[
            (r#".level == "error""#, true),
            (r#".level != "debug""#, true),
            (r#".level != "error""#, false),
            (r#".level < "f""#, true),
            (r#".level > "erro""#, true),
            (r#".level >= "error""#, true),
            (r#".level <= "e""#, false),
            (r#""B" < "a""#, true),
            (r#".bytes > "a""#, true),
            (r#".city == "München""#, true),
            (r#".city == "M\u00fcnchen""#, true),
            (r#"."odd key" == "x""#, true),
            (r#".http.method == "POST""#, true),
            (r#".tags[0] == "a" && .tags[-1] == "b""#, true),
        ],
    );
}

#[test]
fn comparisons_across_types() {
    cases(
        &log_event(),
        &[
            (r#".status == "503""#, false),
            (r#".status != "503""#, true),
            (r#".status > "1""#, false),
            (r#".status <= "1""#, false),
            (".debug == true", true),
            (".debug != false", true),
            (".debug == 1", false),
            (".debug > false", false),
            (".debug <= true", false),
            (r#".flag_str == true"#, false),
            (".tags == .tags", true),
            (".http == .http", true),
            (".tags == .http", false),
            (".tags != .http", true),
            (".tags < .tags", false),
            ("%timestamp < %observed_timestamp", true),
            ("%timestamp > %observed_timestamp", false),
            ("%timestamp == %timestamp", true),
            ("%timestamp > 0", false),
            ("%timestamp == 1000", false),
        ],
    );
}

#[test]
fn null_and_missing_fields() {
    cases(
        &log_event(),
        &[
            (".missing == null", true),
            (".nothing == null", true),
            ("null == null", true),
            (".missing == .also_missing", true),
            (".missing != null", false),
            (".status != null", true),
            (".status == null", false),
            (".missing < 1", false),
            (".missing >= 1", false),
            (".missing <= null", false),
            (r#".missing != "x""#, true),
            (".missing.deeper[3] == null", true),
            (".status.deeper == null", true),
        ],
    );
}

#[test]
fn truthiness_and_logic() {
    cases(
        &log_event(),
        &[
            (".debug", true),
            (".flag_str", false),
            (".status", false),
            (".missing", false),
            (".nothing", false),
            ("true", true),
            ("false", false),
            ("null", false),
            (r#""true""#, false),
            ("1", false),
            ("!.debug", false),
            ("!.missing", true),
            ("!.flag_str", true),
            ("!!.debug", true),
            ("!(.status == 503)", false),
            ("!false", true),
            (".debug && .status == 503", true),
            (".debug && false", false),
            ("false && .debug", false),
            ("false || .debug", true),
            ("false || false || .missing", false),
            ("true && true && true", true),
            ("true && true && false", false),
            ("(.status >= 500) == .debug", true),
            (".debug == (.status >= 500)", true),
            ("exists(.missing) == false", true),
        ],
    );
}

#[test]
fn precedence_by_answer() {
    cases(
        &log_event(),
        &[
            // `&&` binds tighter than `||`.
            ("true || false && false", true),
            ("(true || false) && false", false),
            // `!` binds tighter than `&&`.
            ("!false && false", false),
            ("!(false && false)", true),
            // `!` binds tighter than comparison: (!.status) == false.
            ("!.status == false", false),
            ("!(.status == false)", true),
        ],
    );
}

#[test]
fn precedence_by_parse() {
    parses(&[
        (".a || .b && .c", "(|| .a (&& .b .c))"),
        (".a && .b || .c", "(|| (&& .a .b) .c)"),
        (".a && .b && .c", "(&& .a .b .c)"),
        (".a || .b || .c && .d", "(|| .a .b (&& .c .d))"),
        ("(.a || .b) && .c", "(&& (|| .a .b) .c)"),
        ("!.a && .b", "(&& (! .a) .b)"),
        ("!.a == .b", "(== (! .a) .b)"),
        ("!!.a", "(! (! .a))"),
        ("!(.a)", "(! .a)"),
        ("((.a))", ".a"),
        (
            ".a == 1 && .b != 2 || !(.c < 3)",
            "(|| (&& (== .a 1) (!= .b 2)) (! (< .c 3)))",
        ),
        (".a<=1&&.b>=2", "(&& (<= .a 1) (>= .b 2))"),
        ("(.a < .b) < .c", "(< (< .a .b) .c)"),
        (".a > (.b > .c)", "(> .a (> .b .c))"),
        ("-2e3 == -2000", "(== -2000.0 -2000)"),
        ("true || null", "(|| true null)"),
        (r#""a\tb" == r'\t'"#, r#"(== "a\tb" "\\t")"#),
        (
            r#"%resource."service.name" == "api""#,
            r#"(== %resource."service.name" "api")"#,
        ),
        (".tags[-1] == .", "(== .tags[-1] .)"),
        ("exists(.a)", "(exists .a)"),
        (r"match(.a, r'\d')", r#"(match .a "\\d")"#),
        (r#"match(.a, "x")"#, r#"(match .a "x")"#),
        (
            r#"contains(.a, "x", case_sensitive: false)"#,
            r#"(contains .a "x" case_sensitive: false)"#,
        ),
        (
            r#"contains(.a, "x", case_sensitive: true)"#,
            r#"(contains .a "x")"#,
        ),
        (r#"contains(.a, "x",)"#, r#"(contains .a "x")"#),
        (
            r#"starts_with(.a == 1, "t")"#,
            r#"(starts_with (== .a 1) "t")"#,
        ),
        (
            r#"!ends_with(.a, "x") && exists(.b)"#,
            r#"(&& (! (ends_with .a "x")) (exists .b))"#,
        ),
        ("  .a\n\t&&\r\n.b  ", "(&& .a .b)"),
    ]);
}

#[test]
fn exists() {
    cases(
        &log_event(),
        &[
            ("exists(.status)", true),
            ("exists(.nothing)", true),
            ("exists(.missing)", false),
            ("exists(.http.method)", true),
            ("exists(.http.missing)", false),
            ("exists(.tags[1])", true),
            ("exists(.tags[2])", false),
            ("exists(.message)", true),
            ("exists(%severity_text)", true),
            ("exists(%trace_id)", false),
            ("exists(.)", true),
            ("exists(.status) && !exists(.missing)", true),
        ],
    );
}

#[test]
fn match_function() {
    cases(
        &log_event(),
        &[
            (r"match(.message, r'^GET /api/users/\d+')", true),
            (r"match(.message, r'users')", true),
            (r#"match(.message, "users/4")"#, true),
            (r"match(.message, r'^POST')", false),
            (r"match(.message, r'(?i)get /API')", true),
            (r"match(.message, r'^get')", false),
            (r"match(.status, r'5')", false),
            (r"match(.missing, r'')", false),
            (r"match(.nothing, r'')", false),
            (r"match(.tags, r'a')", false),
            (r"match(.bytes, r'a$')", true),
            (r"match(.city, r'^M.nchen$')", true),
            (r"match(%severity_text, r'^ERR')", true),
            (r#"match("literal", r'^lit')"#, true),
        ],
    );
}

#[test]
fn string_functions() {
    cases(
        &log_event(),
        &[
            (r#"contains(.message, "/api/")"#, true),
            (r#"contains(.message, "API")"#, false),
            (r#"contains(.message, "API", case_sensitive: false)"#, true),
            (r#"contains(.message, "API", case_sensitive: true)"#, false),
            (r#"contains(.message, "")"#, true),
            (r#"contains(.status, "50")"#, false),
            (r#"contains(.missing, "")"#, false),
            (
                r#"contains(.user_agent, "(COMPATIBLE;", case_sensitive: false)"#,
                true,
            ),
            (
                r#"contains(.user_agent, "googlebot/2.1", case_sensitive: false)"#,
                true,
            ),
            (
                r#"contains(.user_agent, "googlebot/2x1", case_sensitive: false)"#,
                false,
            ),
            (r#"contains(.city, "MÜNCHEN", case_sensitive: false)"#, true),
            (r#"contains(.bytes, "a")"#, true),
            (r#"contains("hello world", "o w")"#, true),
            (r#"contains(.status == 503, "t")"#, false),
            (r#"starts_with(.message, "GET ")"#, true),
            (r#"starts_with(.message, "get ")"#, false),
            (
                r#"starts_with(.message, "get ", case_sensitive: false)"#,
                true,
            ),
            (
                r#"starts_with(.message, "/API", case_sensitive: false)"#,
                false,
            ),
            (r#"starts_with(.message, "")"#, true),
            (r#"starts_with(.http.method, "PO")"#, true),
            (r#"starts_with(.tags, "a")"#, false),
            (r#"ends_with(.message, "HTTP/1.1")"#, true),
            (r#"ends_with(.message, "http/1.1")"#, false),
            (
                r#"ends_with(.message, "http/1.1", case_sensitive: false)"#,
                true,
            ),
            (
                r#"ends_with(.message, "GET", case_sensitive: false)"#,
                false,
            ),
            (r#"ends_with(."odd key", "x")"#, true),
            (r#"ends_with(.duration_ms, "5")"#, false),
        ],
    );
}

#[test]
fn metrics() {
    let event =
        Event::Metric(Metric::counter("http_requests_total", 3.0, 0).with_label("code", "500"));
    cases(
        &event,
        &[
            (r#".name == "http_requests_total""#, true),
            (r#"starts_with(.name, "http_")"#, true),
            (r#".labels.code == "500""#, true),
            (r#".labels.code == 500"#, false),
            (r#"exists(.labels.code) && !exists(.labels.missing)"#, true),
            (".value > 2", true),
            (".value == 3", true),
            (r#".kind == "counter""#, true),
            (".message == null", true),
            (r#".name == "http_requests_total" && .value >= 3.0"#, true),
        ],
    );
}

#[test]
fn spans() {
    let mut span = Span {
        name: "GET /users".into(),
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        ..Span::default()
    };
    span.attributes
        .insert("http.route".into(), Value::from("/users"));
    cases(
        &Event::Span(Box::new(span)),
        &[
            (r#".name == "GET /users""#, true),
            (".duration_ns > 3000", true),
            (r#".attributes."http.route" == "/users""#, true),
            (r#".status == "unset""#, true),
        ],
    );
}

#[test]
fn metadata() {
    cases(
        &log_event(),
        &[
            (r#"%severity_text == "ERROR""#, true),
            (r#"%severity_text != "INFO""#, true),
            ("%severity_number >= 17", true),
            (r#"%resource."service.name" == "api""#, true),
            (r#"%resource."service.name" == "web""#, false),
            ("%trace_id == null", true),
            (r#"%scope.name == """#, true),
        ],
    );
}

#[test]
fn syntax_errors() {
    errors(&[
        (".a >= ", 6, "expected a value after `>=`"),
        (".a >=", 5, "expected a value after `>=`"),
        ("", 0, "empty condition"),
        ("  \n ", 0, "empty condition"),
        ("!", 1, "expected a value after `!`"),
        ("(", 1, "expected a value after `(`"),
        (")", 0, "expected a value, found `)`"),
        (".a == )", 6, "expected a value after `==`, found `)`"),
        (".a && || .b", 6, "expected a value after `&&`, found `||`"),
        (".a ==", 5, "expected a value after `==`"),
        (".a && ", 6, "expected a value after `&&`"),
        (".a .b", 3, "unexpected `.b`"),
        (".a == 1 and .b", 8, "unexpected `and`"),
        (".a == 1)", 7, "unexpected `)`"),
        ("(.a == 1", 0, "unclosed `(`"),
        ("((.a) ", 0, "unclosed `(`"),
        ("(.a || (.b)", 0, "unclosed `(`"),
        (
            "(.a .b)",
            4,
            "expected `)` to close the `(` at column 1, found `.b`",
        ),
        (".a()", 2, "unexpected `(`"),
        (
            ".a < .b < .c",
            8,
            "comparisons cannot be chained: `<` after `<`",
        ),
        (
            ".a == 1 == true",
            8,
            "comparisons cannot be chained: `==` after `==`",
        ),
        (
            ".a >= 1 != .b",
            8,
            "comparisons cannot be chained: `!=` after `>=`",
        ),
        (".a = 1", 3, "`=` is not an operator"),
        (".user-agent == 1", 5, "`-` is not an operator"),
        (".a == 5xx", 6, "invalid number `5xx`"),
        (
            ".a == 99999999999999999999",
            6,
            "integer `99999999999999999999` does not fit in 64 bits",
        ),
        (".a.", 3, "expected a field name after `.`"),
        ("%", 1, "expected a field name after `.`"),
        (".a[x] == 1", 3, "`x` is not an array index"),
        (r#".a == "open"#, 6, "unterminated string"),
        (
            ".a == 'x'",
            6,
            "single-quoted strings are raw strings and start with `r`",
        ),
        ("level == 1", 0, "unknown name `level`"),
        ("True", 0, "unknown name `True`"),
        ("exists", 0, "unknown name `exists`"),
        (".a == \"x\" ¿", 10, "unexpected character `¿`"),
    ]);
}

#[test]
fn function_errors() {
    errors(&[
        (
            "foo(.a)",
            0,
            "unknown function `foo`; the functions are exists, match, contains, starts_with, ends_with",
        ),
        (
            ".a && lower(.b)",
            6,
            "unknown function `lower`; the functions are exists, match, contains, starts_with, ends_with",
        ),
        (r#"match(.a, "\d")"#, 11, r"unknown escape `\d`"),
        (r"match(.a, r'(')", 10, "invalid regex: unclosed group"),
        (
            r"match(.a, .b)",
            10,
            "the second argument of `match` must be a regex literal such as r'^GET '",
        ),
        (
            r"match(.a, 1)",
            10,
            "the second argument of `match` must be a regex literal such as r'^GET '",
        ),
        (
            r"match(.a)",
            8,
            "`match` takes 2 arguments: a value and a regex",
        ),
        (
            r"match()",
            6,
            "`match` takes 2 arguments: a value and a regex",
        ),
        (
            r#"match(.a, r'x', "y")"#,
            16,
            "`match` takes 2 arguments: a value and a regex",
        ),
        (
            r#"match(.a, r'x', case_sensitive: false)"#,
            16,
            "unknown argument `case_sensitive` of `match`",
        ),
        (
            r#"contains(.a)"#,
            11,
            "`contains` takes 2 arguments, a value and a string, and optionally `case_sensitive: false`",
        ),
        (
            r#"contains(.a, .b)"#,
            13,
            "the second argument of `contains` must be a string literal",
        ),
        (
            r#"contains(.a, "x", false)"#,
            18,
            "the third argument of `contains` must be named",
        ),
        (
            r#"starts_with(.a, "x", .b)"#,
            21,
            "the third argument of `starts_with` must be named",
        ),
        (
            r#"ends_with(.a, "x", "y", "z")"#,
            19,
            "the third argument of `ends_with` must be named",
        ),
        (
            r#"contains(.a, "x", case_sensitive: "no")"#,
            34,
            "`case_sensitive` must be `true` or `false`",
        ),
        (
            r#"contains(.a, "x", case_sensitive: !true)"#,
            34,
            "`case_sensitive` must be `true` or `false`",
        ),
        (
            r#"contains(.a, "x", ignore_case: true)"#,
            18,
            "unknown argument `ignore_case` of `contains`",
        ),
        (
            r#"contains(case_sensitive: false, .a, "x")"#,
            32,
            "positional argument after a named one",
        ),
        (
            r#"contains(.a, "x", case_sensitive: true, case_sensitive: false)"#,
            40,
            "`case_sensitive` given twice",
        ),
        (
            "exists(.a == 1)",
            7,
            "the argument of `exists` must be a path",
        ),
        (
            r#"exists("a")"#,
            7,
            "the argument of `exists` must be a path",
        ),
        ("exists()", 7, "`exists` takes one argument, a path"),
        ("exists(.a, .b)", 11, "`exists` takes one argument, a path"),
        ("exists(x: .a)", 7, "`exists` takes no named arguments"),
        ("exists(.a", 6, "unclosed `(` of `exists(`"),
        (
            "exists(.a .b)",
            10,
            "expected `,` or `)` in the arguments of `exists`, found `.b`",
        ),
        ("exists(,)", 7, "expected a value after `(`, found `,`"),
    ]);
}

#[test]
fn hints() {
    let hint = |src: &str| error(src).hint.unwrap_or_default();
    assert_eq!(hint("startswith(.a, \"x\")"), "did you mean `starts_with`?");
    assert_eq!(hint("Contains(.a, \"x\")"), "did you mean `contains`?");
    assert_eq!(hint("exist(.a)"), "did you mean `exists`?");
    assert_eq!(hint("frobnicate(.a)"), "");
    assert_eq!(hint("level == 1"), "field paths start with `.`: `.level`");
    assert_eq!(hint(".a == 1 and .b"), "write `&&` for \"and\"");
    assert_eq!(hint(".a == 1 OR .b"), "write `||` for \"or\"");
    assert_eq!(hint("not .a"), "write `!` for \"not\"");
    assert_eq!(hint("True"), "literals are lower case: `true`");
    assert_eq!(hint("exists"), "call it: `exists(...)`");
    assert_eq!(hint(".a = 1"), "compare with `==`");
    assert_eq!(
        hint(r#"contains(.a, "x", false)"#),
        "write `case_sensitive: false`"
    );
    assert_eq!(hint(".a == 1)"), "there is no `(` for this `)` to close");
    assert!(hint(r#"match(.a, "\d")"#).contains("r'\\d+'"));
    assert!(hint(".a < .b < .c").contains("&&"));
    assert!(hint(".a >= ").starts_with("a value is a path"));
    // The regex crate's own report, with its caret inside the pattern.
    assert!(hint(r"match(.a, r'a{2,1}')").contains("a{2,1}"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nested = |n: usize| format!("{}.a{}", "(".repeat(n), ")".repeat(n));
    assert!(Condition::compile(&nested(64)).is_ok());
    let e = error(&nested(65));
    assert_eq!(
        (e.offset, e.message.as_str()),
        (64, "condition nested too deeply")
    );
    let e = error(&format!("{}.a", "!".repeat(100_000)));
    assert_eq!(
        (e.offset, e.message.as_str()),
        (64, "condition nested too deeply")
    );
    let calls = format!("{}.a{}", "exists(".repeat(100), ")".repeat(100));
    assert_eq!(error(&calls).message, "condition nested too deeply");
    // Long flat chains are lists, not deep trees.
    let chain = vec![".a == 1"; 10_000].join(" || ");
    assert!(!compile(&chain).check(&log_event()));
}

#[test]
fn error_display_and_render() {
    let src = r#".level != "debug" && .status >="#;
    let e = error(src);
    assert_eq!(e.offset, src.len());
    assert_eq!(e.to_string(), "expected a value after `>=` at column 32");
    let e = error(r#"contains(.a, "x", false)"#);
    assert_eq!(
        e.render(r#"contains(.a, "x", false)"#),
        "the third argument of `contains` must be named at line 1, column 19\n  \
         contains(.a, \"x\", false)\n  \
         \x20                 ^\n  \
         hint: write `case_sensitive: false`"
    );
}

#[test]
fn every_error_offset_is_inside_the_source() {
    for src in [
        "",
        ".a >= ",
        "é",
        "\"é",
        "é é",
        ".\"é",
        "r'é",
        ".a == é",
        "\"\\u{é}\"",
        "match(.a, r'é(')",
    ] {
        let e = error(src);
        assert!(
            e.offset <= src.len() && src.is_char_boundary(e.offset),
            "{src:?}: {e:?}"
        );
        let _ = e.render(src);
    }
}
