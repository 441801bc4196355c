//! Rule file parsing and checking: Prometheus' own sample files, every
//! error with its position, and what promtool accepts or refuses.

use super::*;

/// Prometheus' own sample rule file (`cmd/promtool/testdata/rules.yml`),
/// kept with the peer test suites next to the repository.
fn promtool_rules() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/peer/promtool/rules.yml"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn pos(line: usize, column: usize) -> Position {
    Position { line, column }
}

fn parse_ok(text: &str) -> RuleFile {
    match parse_rule_file("t.yml", text) {
        Ok(file) => file,
        Err(errors) => panic!("unexpected errors:\n{}", render(&errors)),
    }
}

fn render(errors: &[RuleFileError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn errors_of(text: &str) -> Vec<String> {
    errors_with(text, &ParseOptions::default())
}

fn errors_with(text: &str, options: &ParseOptions) -> Vec<String> {
    match parse_rule_file_with("t.yml", text, options) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn d(s: &str) -> Duration {
    parse_duration(s).expect("test duration")
}

#[test]
fn promtool_sample_loads() {
    let file = parse_ok(&promtool_rules());
    assert_eq!(file.path, "t.yml");
    assert_eq!(file.groups.len(), 2);

    let alerts = &file.groups[0];
    assert_eq!(alerts.name, "alerts");
    assert_eq!(alerts.position, pos(4, 5));
    assert_eq!(alerts.interval, None);
    assert_eq!(alerts.query_offset, None);
    assert_eq!(alerts.limit, 0);
    assert_eq!(alerts.rules.len(), 2);
    let down = &alerts.rules[0];
    assert_eq!(
        down.kind,
        RuleKind::Alert {
            name: "InstanceDown".into()
        }
    );
    assert_eq!(down.expr, "up == 0");
    assert_eq!(down.for_, d("5m"));
    assert_eq!(down.keep_firing_for, Duration::ZERO);
    assert_eq!(down.labels, vec![("severity".into(), "page".into())]);
    assert_eq!(down.annotations.len(), 2);
    assert_eq!(down.annotations[0].0, "summary");
    assert_eq!(
        down.annotations[0].1,
        "Instance {{ $labels.instance }} down"
    );
    assert_eq!(down.position, pos(6, 9));
    assert_eq!(down.expr_position, pos(7, 15));
    // `expr: 1` is a YAML integer; it is kept as the text "1".
    assert_eq!(alerts.rules[1].expr, "1");
    assert!(matches!(alerts.rules[1].expr_ast, Expr::NumberLiteral(_)));

    let rules = &file.groups[1];
    assert_eq!(rules.name, "rules");
    let names: Vec<&str> = rules.rules.iter().map(|r| r.kind.name()).collect();
    assert_eq!(
        names,
        [
            "job:test:count_over_time1m",
            "fixed_data",
            "suquery_interval_test"
        ]
    );
    assert!(rules.rules.iter().all(|r| !r.kind.is_alert()));
    assert_eq!(rules.rules[2].position, pos(27, 9));
    assert_eq!(rules.rules[2].expr, "count_over_time(up[5m:])");
}

#[test]
fn crlf_files_load_with_the_same_positions() {
    let crlf = promtool_rules().replace('\n', "\r\n");
    let file = parse_ok(&crlf);
    let rule = &file.groups[0].rules[0];
    assert_eq!(rule.expr, "up == 0");
    assert_eq!(rule.position, pos(6, 9));
    assert_eq!(rule.expr_position, pos(7, 15));
    let text =
        "groups:\r\n  - name: g\r\n    rules:\r\n      - record: r\r\n        expr: x + rat(y)\r\n";
    assert_eq!(
        errors_of(text),
        [r#"t.yml:5:19: group "g", rule 1 (record "r"): expr: unknown function with name 'rat'"#]
    );
}

#[test]
fn all_features_load() {
    let text = r#"
groups:
  - name: full
    interval: 1h30m
    query_offset: 0
    limit: 0x10
    labels:
      team: api
      "service.name": checkout
    rules:
      - alert: A
        expr: |
          sum by (job) (
            rate(errors_total[5m])
          ) > 1
        for: 5m
        keep_firing_for: 10m
        labels: &common {severity: page, tier: "1"}
        annotations:
          summary: 'it ''broke'''
          empty:
      - record: "job:errors:rate5m"
        expr: sum by (job) (rate(errors_total[5m]))
        labels:
          <<: *common
          tier: 2
        for: 0s
      - record: version
        expr: 2.5
      - record: "http.server.requests:rate5m"
        expr: '{"http.server.requests", job="x"}'
  - name: "second"
    interval: 0
    limit: -1
    rules:
  - name: third
---
this: second document is ignored, as in Prometheus
"#;
    let file = parse_ok(text);
    let names: Vec<&str> = file.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["full", "second", "third"]);
    let g = &file.groups[0];
    assert_eq!(g.interval, Some(d("1h30m")));
    assert_eq!(g.query_offset, Some(Duration::ZERO));
    assert_eq!(g.limit, 16);
    assert_eq!(
        g.labels,
        vec![
            ("team".into(), "api".into()),
            ("service.name".into(), "checkout".into())
        ]
    );
    let a = &g.rules[0];
    assert_eq!(a.expr, "sum by (job) (\n  rate(errors_total[5m])\n) > 1\n");
    assert_eq!(a.expr_position, pos(13, 11));
    assert_eq!(a.keep_firing_for, d("10m"));
    assert_eq!(
        a.labels,
        vec![
            ("severity".into(), "page".into()),
            ("tier".into(), "1".into())
        ]
    );
    assert_eq!(
        a.annotations,
        vec![
            ("summary".into(), "it 'broke'".into()),
            ("empty".into(), String::new())
        ]
    );
    let r = &g.rules[1];
    assert_eq!(r.kind.name(), "job:errors:rate5m");
    // Explicit keys win over merged ones; merged ones follow in order.
    assert_eq!(
        r.labels,
        vec![
            ("tier".into(), "2".into()),
            ("severity".into(), "page".into())
        ]
    );
    assert_eq!(g.rules[2].expr, "2.5");
    assert_eq!(g.rules[3].kind.name(), "http.server.requests:rate5m");
    assert_eq!(g.rules[3].expr, r#"{"http.server.requests", job="x"}"#);
    let second = &file.groups[1];
    assert_eq!(second.interval, None);
    assert_eq!(second.limit, 0);
    assert!(second.rules.is_empty());
}

#[test]
fn empty_and_trivial_files_have_no_groups() {
    for text in [
        "",
        "\n\n",
        "# only a comment\n",
        "---\n",
        "~\n",
        "groups:\n",
        "groups: []\n",
        "groups: ~\n",
    ] {
        let file = parse_ok(text);
        assert!(file.groups.is_empty(), "{text:?}");
    }
}

/// Each case: a file and the complete list of expected errors, in order.
#[test]
fn invalid_files() {
    let cases: &[(&str, &[&str])] = &[
        (
            "group:\n  - name: g\n",
            &[r#"t.yml:1:1: field "group" not found in the rule file (valid fields: groups)"#],
        ),
        (
            "- name: g\n",
            &[
                r#"t.yml:1:1: expected a mapping with a "groups" key at the top level, found a sequence"#,
            ],
        ),
        (
            "hello\n",
            &[
                r#"t.yml:1:1: expected a mapping with a "groups" key at the top level, found "hello""#,
            ],
        ),
        (
            "groups: foo\n",
            &[r#"t.yml:1:9: groups: expected a sequence of rule groups, found "foo""#],
        ),
        (
            "groups:\n  - name: g\n    intervl: 1m\n    rules: []\n",
            &[
                r#"t.yml:3:5: group "g": field "intervl" not found in a rule group (valid fields: name, interval, query_offset, limit, labels, rules)"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules: []\n  - name: g\n",
            &[
                r#"t.yml:4:11: group "g": group name "g" is repeated in the same file (first defined at line 2)"#,
            ],
        ),
        (
            "groups:\n  - rules: []\n",
            &["t.yml:2:5: group #1: group name must not be empty"],
        ),
        (
            "groups:\n  - name: ''\n",
            &["t.yml:2:11: group #1: group name must not be empty"],
        ),
        (
            "groups:\n  - name: [g]\n",
            &["t.yml:2:11: group #1: name: expected a string, found a sequence"],
        ),
        (
            "groups:\n  - just a string\n",
            &[
                r#"t.yml:2:5: group #1: expected a rule group to be a mapping, found "just a string""#,
            ],
        ),
        (
            "groups:\n  - name: g\n    interval: 1.5m\n",
            &[r#"t.yml:3:15: group "g": interval: unknown unit "." in duration "1.5m""#],
        ),
        (
            "groups:\n  - name: g\n    query_offset: -1m\n",
            &[r#"t.yml:3:19: group "g": query_offset: not a valid duration string: "-1m""#],
        ),
        (
            "groups:\n  - name: g\n    interval: \"\"\n",
            &[r#"t.yml:3:15: group "g": interval: empty duration string"#],
        ),
        (
            "groups:\n  - name: g\n    limit: \"5\"\n",
            &[r#"t.yml:3:12: group "g": limit: expected an integer, found "5""#],
        ),
        (
            "groups:\n  - name: g\n    limit: 1.5\n",
            &[r#"t.yml:3:12: group "g": limit: expected an integer, found "1.5""#],
        ),
        (
            "groups:\n  - name: g\n    labels: {__name__: x}\n",
            &[
                r#"t.yml:3:14: group "g": invalid label name: "__name__" (the metric name cannot be set as a label)"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules: {}\n",
            &[r#"t.yml:3:12: group "g": rules: expected a sequence of rules, found a mapping"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n",
            &[
                r#"t.yml:6:9: group "g", rule 1 (alert "A"): field "fro" not found in a rule (valid fields: record, alert, expr, for, keep_firing_for, labels, annotations)"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        alert: A\n        expr: up\n",
            &[
                r#"t.yml:5:9: group "g", rule 1 (alert "A"): only one of 'record' and 'alert' must be set"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up\n",
            &[r#"t.yml:4:9: group "g", rule 1: one of 'record' or 'alert' must be set"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: ''\n        expr: up\n",
            &[r#"t.yml:4:9: group "g", rule 1: one of 'record' or 'alert' must be set"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: [A]\n        expr: up\n",
            &[r#"t.yml:4:16: group "g", rule 1: alert: expected a string, found a sequence"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - up == 0\n",
            &[r#"t.yml:4:9: group "g", rule 1: expected a rule to be a mapping, found "up == 0""#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n",
            &[r#"t.yml:4:9: group "g", rule 1 (alert "A"): field 'expr' must be set in rule"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: \"\"\n",
            &[r#"t.yml:5:15: group "g", rule 1 (alert "A"): field 'expr' must be set in rule"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ~\n",
            &[r#"t.yml:5:15: group "g", rule 1 (alert "A"): field 'expr' must be set in rule"#],
        ),
        (
            "groups:\n  - name: api\n    rules:\n      - alert: HighErrorRate\n        expr: rat(errors_total[5m]) > 1\n",
            &[
                r#"t.yml:5:15: group "api", rule 1 (alert "HighErrorRate"): expr: unknown function with name 'rat'"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(rat(x[5m]))\n",
            &[
                r#"t.yml:5:19: group "g", rule 1 (record "r"): expr: unknown function with name 'rat'"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up[5x]\n",
            &[
                r#"t.yml:5:18: group "g", rule 1 (record "r"): expr: bad number or duration syntax: 5x"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: \"sum(up) by\"\n",
            &[r#"t.yml:5:15: group "g", rule 1 (record "r"): expr: invalid promql query"#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x offset nan\n",
            &[
                r#"t.yml:5:24: group "g", rule 1 (record "r"): expr: invalid duration "nan": a number used as a duration must be finite and below 2^64 seconds"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: rate(x[1e300])\n",
            &[
                r#"t.yml:5:22: group "g", rule 1 (record "r"): expr: invalid duration "1e300": a number used as a duration must be finite and below 2^64 seconds"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n",
            &[
                r#"t.yml:6:14: group "g", rule 1 (alert "A"): for: not a valid duration string: "5""#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        keep_firing_for: 1h1h\n",
            &[
                r#"t.yml:6:26: group "g", rule 1 (alert "A"): keep_firing_for: not a valid duration string: "1h1h""#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 1m\n        keep_firing_for: 1m\n        annotations:\n          a: b\n",
            &[
                r#"t.yml:6:9: group "g", rule 1 (record "r"): invalid field 'for' in recording rule"#,
                r#"t.yml:7:9: group "g", rule 1 (record "r"): invalid field 'keep_firing_for' in recording rule"#,
                r#"t.yml:8:9: group "g", rule 1 (record "r"): invalid field 'annotations' in recording rule"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: foo{}\n        expr: up\n",
            &[
                r#"t.yml:4:17: group "g", rule 1 (record "foo{}"): braces present in the recording rule name; should it be in expr?: "foo{}""#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          __name__: x\n          \"\": y\n",
            &[
                r#"t.yml:7:11: group "g", rule 1 (alert "A"): invalid label name: "__name__" (the metric name cannot be set as a label)"#,
                r#"t.yml:8:11: group "g", rule 1 (alert "A"): invalid label name: "" (must not be empty)"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {'': y}\n",
            &[r#"t.yml:6:23: group "g", rule 1 (alert "A"): invalid annotation name: """#],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: [a, b]\n",
            &[
                r#"t.yml:6:17: group "g", rule 1 (alert "A"): labels: expected a mapping of names to strings, found a sequence"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          severity: {a: b}\n",
            &[
                r#"t.yml:7:21: group "g", rule 1 (alert "A"): labels: value of "severity" must be a string, found a mapping"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: down\n",
            &[
                r#"t.yml:6:9: group "g", rule 1 (alert "A"): mapping key "expr" already defined at line 5"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          a: x\n          a: y\n",
            &[
                r#"t.yml:8:11: group "g", rule 1 (alert "A"): mapping key "a" already defined at line 7"#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          <<: x\n",
            &[
                r#"t.yml:7:15: group "g", rule 1 (alert "A"): merge key (<<) needs a mapping or a sequence of mappings, found "x""#,
            ],
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        ? [x]\n        : y\n        expr: up\n",
            &[r#"t.yml:5:11: group "g", rule 1 (alert "A"): mapping keys must be scalars"#],
        ),
        (
            "groups:\n  - name: g\n    rules: *nope\n",
            &["t.yml:3:12: YAML syntax error: while parsing node, found unknown anchor"],
        ),
        (
            "groups:\n  - name: g\n\trules: []\n",
            &["t.yml:2:11: YAML syntax error: while scanning a plain scalar, found a tab"],
        ),
        (
            "groups:\n  - name: 'g\n",
            &[
                "t.yml:2:11: YAML syntax error: while scanning a quoted scalar, found unexpected end of stream",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let actual = errors_of(text);
        if actual != *expected {
            failures.push(format!(
                "--- file:\n{text}--- expected:\n{}\n--- actual:\n{}\n",
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn collects_all_errors_in_position_order() {
    let text = r#"groups:
  - name: first
    interval: 5
    rules:
      - alert: A
        expr: up ==
        for: 5m
      - record: bad{}
        expr: sum(rate(x[5m]))
        annotations:
          a: b
      - alert: Fine
        expr: up == 0
  - name: first
    bogus: true
    rules:
      - alert: B
        expr: nosuchfn(up)
        labels:
          __name__: x
"#;
    let errors = match parse_rule_file("rules/api.yml", text) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    };
    let rendered: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        rendered,
        [
            r#"rules/api.yml:3:15: group "first": interval: not a valid duration string: "5""#,
            r#"rules/api.yml:6:15: group "first", rule 1 (alert "A"): expr: invalid promql query"#,
            r#"rules/api.yml:8:17: group "first", rule 2 (record "bad{}"): braces present in the recording rule name; should it be in expr?: "bad{}""#,
            r#"rules/api.yml:10:9: group "first", rule 2 (record "bad{}"): invalid field 'annotations' in recording rule"#,
            r#"rules/api.yml:14:11: group "first": group name "first" is repeated in the same file (first defined at line 2)"#,
            r#"rules/api.yml:15:5: group "first": field "bogus" not found in a rule group (valid fields: name, interval, query_offset, limit, labels, rules)"#,
            r#"rules/api.yml:18:15: group "first", rule 1 (alert "B"): expr: unknown function with name 'nosuchfn'"#,
            r#"rules/api.yml:20:11: group "first", rule 1 (alert "B"): invalid label name: "__name__" (the metric name cannot be set as a label)"#,
        ]
    );
    // Structured fields, not only the text.
    let e = &errors[6];
    assert_eq!(e.path, "rules/api.yml");
    assert_eq!(e.position, Some(pos(18, 15)));
    assert_eq!(
        e.group,
        Some(GroupRef {
            index: 2,
            name: "first".into()
        })
    );
    assert_eq!(
        e.rule,
        Some(RuleRef {
            index: 1,
            kind: Some(RuleKind::Alert { name: "B".into() })
        })
    );
    assert_eq!(e.message, "expr: unknown function with name 'nosuchfn'");
}

#[test]
fn expr_error_columns() {
    let wrap = |expr_lines: &str| {
        format!("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: {expr_lines}\n")
    };
    let position_of = |text: &str| match parse_rule_file("t.yml", text) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e[0].position,
    };
    // Plain scalar: `expr: ` ends at column 14.
    assert_eq!(position_of(&wrap("rate(x[5m]) + rat(y)")), Some(pos(5, 29)));
    // Names in strings and comments are skipped.
    assert_eq!(
        position_of(&wrap("label_replace(up, 'rat(', 'x', '', '') + rat(y)")),
        Some(pos(5, 56))
    );
    // Anchored plain scalar: the anchor is skipped.
    assert_eq!(position_of(&wrap("&e x + rat(y)")), Some(pos(5, 22)));
    // Double-quoted: the opening quote is skipped.
    assert_eq!(position_of(&wrap("\"sum(rat(x))\"")), Some(pos(5, 20)));
    // Escapes after the token do not matter.
    assert_eq!(
        position_of(&wrap(r#""sum(rat(x{a=\"b\"}))""#)),
        Some(pos(5, 20))
    );
    // Escapes before the token: only the start of the string is known.
    assert_eq!(
        position_of(&wrap(r#""x{a=\"b\"} + rat(y)""#)),
        Some(pos(5, 16))
    );
    // Single-quoted.
    assert_eq!(position_of(&wrap("'1 + rat(y)'")), Some(pos(5, 20)));
    // Literal block: line and column inside the block.
    assert_eq!(
        position_of(&wrap(
            "|\n          sum(\n            rat(x[5m])\n          )"
        )),
        Some(pos(7, 13))
    );
    // Folded block: the position of the value.
    assert_eq!(
        position_of(&wrap(
            ">\n          sum(\n            rat(x[5m])\n          )"
        )),
        Some(pos(6, 11))
    );
    // Multi-line plain scalar: the position of the value.
    assert_eq!(
        position_of(&wrap("sum(\n          rat(x[5m]))")),
        Some(pos(5, 15))
    );
    // Error without a locatable token: the position of the value.
    assert_eq!(position_of(&wrap("sum(up) by")), Some(pos(5, 15)));
    // A function the parser knows but the evaluator does not run.
    assert_eq!(position_of(&wrap("up * on() info(up)")), Some(pos(5, 25)));
}

#[test]
fn functions_the_evaluator_lacks_are_refused_at_load() {
    for (expr, name) in [
        ("info(up)", "info"),
        ("sum(integral(x[5m]))", "integral"),
        ("start_timestamp(x)", "start_timestamp"),
    ] {
        let text =
            format!("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: {expr}\n");
        let errors = parse_rule_file("t.yml", &text).unwrap_err();
        assert_eq!(
            errors[0].message,
            format!("expr: unsupported function with name '{name}'")
        );
    }
}

/// promql-parser 0.11.1 panics on these; they must be plain errors.
#[test]
fn number_durations_that_crash_the_parser_are_rejected() {
    for expr in [
        "x offset nan",
        "x offset -Inf",
        "x OFFSET +nan",
        "x offset - 1e300",
        "x offset\n# comment\nnan",
        "x[1e300]",
        "x[ 1e30 ]",
        "x[5m:1e20]",
        "x[1e30:1m]",
        "x offset 0x1ffffffffffffffff",
    ] {
        let result = parse_expr(expr);
        let err = result.err().unwrap_or_default();
        assert!(err.starts_with("invalid duration "), "{expr:?}: {err}");
    }
    for expr in [
        "x offset 5m",
        "x offset -5m",
        "x offset 5",
        "x offset 1e18",
        "x[5]",
        "x[5m:1m]",
        "x + inf",
        "nan",
        "sum by (offset) (x)",
        "x{offset=\"nan\"}",
        "job:nan:rate5m offset 1m",
        "x[1e-5]",
    ] {
        assert!(
            parse_expr(expr).is_ok(),
            "{expr:?}: {:?}",
            parse_expr(expr).err()
        );
    }
}

#[test]
fn aliased_expr_points_at_the_alias() {
    let text = "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: &e rat(x)\n      - record: b\n        expr: *e\n";
    let errors = errors_of(text);
    assert_eq!(
        errors,
        [
            r#"t.yml:5:18: group "g", rule 1 (record "a"): expr: unknown function with name 'rat'"#,
            r#"t.yml:7:15: group "g", rule 2 (record "b"): expr: unknown function with name 'rat'"#,
        ]
    );
}

#[test]
fn legacy_name_validation() {
    let legacy = ParseOptions {
        name_validation: NameValidation::Legacy,
        ..ParseOptions::default()
    };
    let text = "groups:\n  - name: g\n    labels: {a.b: x}\n    rules:\n      - record: http.requests:rate5m\n        expr: up\n        labels: {a-b: x, ok_1: y}\n        annotations: {}\n";
    assert_eq!(
        errors_with(text, &legacy),
        [
            r#"t.yml:3:14: group "g": invalid label name: "a.b" (must match [a-zA-Z_][a-zA-Z0-9_]*)"#,
            r#"t.yml:5:17: group "g", rule 1 (record "http.requests:rate5m"): invalid recording rule name: "http.requests:rate5m" (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"#,
            r#"t.yml:7:18: group "g", rule 1 (record "http.requests:rate5m"): invalid label name: "a-b" (must match [a-zA-Z_][a-zA-Z0-9_]*)"#,
        ]
    );
    // The default (Prometheus 3) accepts UTF-8 names.
    assert!(errors_of(text).is_empty());
    assert!(is_valid_metric_name("job:up:sum", NameValidation::Legacy));
    assert!(!is_valid_metric_name("1up", NameValidation::Legacy));
    assert!(is_valid_metric_name("1up", NameValidation::Utf8));
    assert!(!is_valid_metric_name("", NameValidation::Utf8));
    assert!(!is_valid_label_name("a:b", NameValidation::Legacy));
    assert!(is_valid_label_name("_a1", NameValidation::Legacy));
}

fn balanced_braces(text: &str) -> Result<(), String> {
    if text.matches("{{").count() == text.matches("}}").count() {
        Ok(())
    } else {
        Err("unbalanced {{ }}".to_string())
    }
}

#[test]
fn template_hook_is_called_for_alert_labels_and_annotations() {
    let options = ParseOptions {
        template_check: Some(balanced_braces),
        ..ParseOptions::default()
    };
    let text = r#"groups:
  - name: g
    rules:
      - alert: A
        expr: up
        labels:
          instance: "{{ $labels.instance"
        annotations:
          summary: "fine {{ $value }}"
          description: "{{ oops"
      - record: r
        expr: up
        labels:
          x: "{{ not checked for recording rules"
"#;
    assert_eq!(
        errors_with(text, &options),
        [
            r#"t.yml:7:21: group "g", rule 1 (alert "A"): label "instance": unbalanced {{ }}"#,
            r#"t.yml:10:24: group "g", rule 1 (alert "A"): annotation "description": unbalanced {{ }}"#,
        ]
    );
    assert!(errors_of(text).is_empty());
}

#[test]
fn scalars_are_read_like_go_strings() {
    let text = "groups:\n  - name: 2024\n    rules:\n      - alert: true\n        expr: 0x10\n        labels: {n: 1.50, b: no, e: ~}\n";
    let file = parse_ok(text);
    let g = &file.groups[0];
    assert_eq!(g.name, "2024");
    let r = &g.rules[0];
    assert_eq!(
        r.kind,
        RuleKind::Alert {
            name: "true".into()
        }
    );
    assert_eq!(r.expr, "0x10");
    assert_eq!(
        r.labels,
        vec![
            ("n".into(), "1.50".into()),
            ("b".into(), "no".into()),
            ("e".into(), String::new())
        ]
    );
}

#[test]
fn limit_values() {
    let limit = |v: &str| {
        let text = format!("groups:\n  - name: g\n    limit: {v}\n");
        parse_rule_file("t.yml", &text).map(|f| f.groups[0].limit)
    };
    for (v, want) in [
        ("0", 0),
        ("10", 10),
        ("+10", 10),
        ("1_000", 1000),
        ("0x1f", 31),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("1e3", 1000),
        ("10.0", 10),
        ("-5", 0),
        ("~", 0),
        ("!!int 7", 7),
    ] {
        assert_eq!(limit(v).ok(), Some(want), "limit: {v}");
    }
    for v in [
        "1.5",
        "'5'",
        "five",
        "true",
        "[1]",
        "99999999999999999999999",
        ".inf",
    ] {
        assert!(limit(v).is_err(), "limit: {v}");
    }
}

#[test]
fn merge_keys_and_anchors() {
    let text = r#"groups:
  - name: g
    rules:
      - &base
        alert: A
        expr: up == 0
        for: 5m
        labels: &labels {severity: page}
      - <<: *base
        alert: B
      - <<: [{labels: {team: x}}, *base]
        alert: C
"#;
    let file = parse_ok(text);
    let rules = &file.groups[0].rules;
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[1].kind.name(), "B");
    assert_eq!(rules[1].expr, "up == 0");
    assert_eq!(rules[1].for_, d("5m"));
    assert_eq!(rules[1].position, pos(9, 9));
    // Earlier merge sources win.
    assert_eq!(rules[2].labels, vec![("team".into(), "x".into())]);
    assert_eq!(rules[2].for_, d("5m"));
}

#[test]
fn excessive_aliasing_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("excessive aliasing"), "{errors:?}");

    // Merge chains are bounded as well.
    let mut text = String::from("m0: &m0 {a: 1}\n");
    for i in 1..40 {
        text.push_str(&format!("m{i}: &m{i} {{<<: *m{}}}\n", i - 1));
    }
    text.push_str("groups:\n  - name: g\n    labels: {<<: *m39}\n");
    let errors = errors_of(&text);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("merge keys (<<) nested too deeply")),
        "{errors:?}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let flow = format!("groups: {}{}\n", "[".repeat(100), "]".repeat(100));
    let errors = errors_of(&flow);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("nesting deeper than 64"), "{errors:?}");

    let mut block = String::from("groups:\n");
    for i in 0..200 {
        block.push_str(&" ".repeat(2 * i + 2));
        block.push_str("- \n");
    }
    let errors = errors_of(&block);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("nesting deeper than 64"), "{errors:?}");

    // Nesting reached through aliases counts too.
    let deep = format!("{}x{}", "[".repeat(60), "]".repeat(60));
    let text = format!("a: &a {deep}\nb: &b [[[[[[*a]]]]]]\ngroups: []\n");
    let errors = errors_of(&text);
    assert!(errors[0].contains("nesting deeper than 64"), "{errors:?}");
}

#[test]
fn position_and_error_display() {
    assert_eq!(pos(3, 7).to_string(), "3:7");
    let mut e = RuleFileError {
        path: "a.yml".into(),
        position: None,
        group: None,
        rule: None,
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "a.yml: boom");
    e.position = Some(pos(1, 2));
    assert_eq!(e.to_string(), "a.yml:1:2: boom");
    e.group = Some(GroupRef {
        index: 3,
        name: String::new(),
    });
    e.rule = Some(RuleRef {
        index: 2,
        kind: Some(RuleKind::Record { name: "r".into() }),
    });
    assert_eq!(
        e.to_string(),
        r#"a.yml:1:2: group #3, rule 2 (record "r"): boom"#
    );
}

/// Parses `text` and checks that nothing fell back on a caught panic.
fn assert_no_internal_error(text: &str) {
    if let Err(errors) = parse_rule_file("t.yml", text) {
        for e in errors {
            assert!(!e.message.contains("internal error"), "{e} for {text:?}");
        }
    }
}

#[test]
fn every_truncation_and_deletion_of_the_sample_is_handled() {
    let chars: Vec<char> = promtool_rules().chars().collect();
    for i in 0..=chars.len() {
        let truncated: String = chars[..i].iter().collect();
        assert_no_internal_error(&truncated);
        if i < chars.len() {
            let deleted: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
            assert_no_internal_error(&deleted);
        }
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// A valid file to start edits from, besides Prometheus' sample.
    const OWN_SEED: &str = "groups:\n  - name: g\n    interval: 1m\n    labels: &l {a: b}\n    rules:\n      - alert: A\n        expr: |\n          sum(rate(x[5m])) > 1\n        for: 5m\n        labels: {<<: *l, c: \"d\"}\n        annotations: {s: '{{ $value }}'}\n      - record: r\n        expr: 1\n";

    /// Characters that matter to YAML and PromQL.
    const ALPHABET: &[char] = &[
        ' ', ' ', '\n', '\t', '-', ':', '#', '&', '*', '!', '|', '>', '\'', '"', '[', ']', '{',
        '}', ',', '?', '<', '%', '@', '`', '\\', '(', ')', '=', '~', 'a', 'x', '0', '5', 'm', '.',
        'é', '\u{feff}', '\r',
    ];

    #[derive(Debug, Clone)]
    enum Edit {
        Delete(usize),
        Insert(usize, char),
        Replace(usize, char),
        DuplicateLine(usize),
        DeleteLine(usize),
        Indent(usize, usize),
    }

    fn edit() -> impl Strategy<Value = Edit> {
        let c = proptest::sample::select(ALPHABET);
        prop_oneof![
            any::<usize>().prop_map(Edit::Delete),
            (any::<usize>(), c.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
            (any::<usize>(), c).prop_map(|(i, c)| Edit::Replace(i, c)),
            any::<usize>().prop_map(Edit::DuplicateLine),
            any::<usize>().prop_map(Edit::DeleteLine),
            (any::<usize>(), 0usize..6).prop_map(|(i, n)| Edit::Indent(i, n)),
        ]
    }

    fn apply(text: &str, edits: &[Edit]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for e in edits {
            let len = chars.len().max(1);
            match *e {
                Edit::Delete(i) => {
                    if !chars.is_empty() {
                        chars.remove(i % len);
                    }
                }
                Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
                Edit::Replace(i, c) => {
                    if !chars.is_empty() {
                        chars[i % len] = c;
                    }
                }
                Edit::DuplicateLine(i) | Edit::DeleteLine(i) | Edit::Indent(i, _) => {
                    let s: String = chars.iter().collect();
                    let mut lines: Vec<String> = s.split('\n').map(str::to_string).collect();
                    let n = i % lines.len();
                    match *e {
                        Edit::DuplicateLine(_) => {
                            let line = lines[n].clone();
                            lines.insert(n, line);
                        }
                        Edit::DeleteLine(_) => {
                            lines.remove(n);
                        }
                        Edit::Indent(_, k) => lines[n] = format!("{}{}", " ".repeat(k), lines[n]),
                        _ => {}
                    }
                    chars = lines.join("\n").chars().collect();
                }
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>()) {
            assert_no_internal_error(&text);
        }

        #[test]
        fn yaml_like_strings_never_panic(
            chars in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..200)
        ) {
            let text: String = chars.into_iter().collect();
            assert_no_internal_error(&text);
        }

        #[test]
        fn mutated_valid_files_never_panic(
            seed in 0..2usize,
            edits in proptest::collection::vec(edit(), 1..8),
        ) {
            let base = if seed == 0 { promtool_rules() } else { OWN_SEED.to_string() };
            let text = apply(&base, &edits);
            assert_no_internal_error(&text);
            // Errors always name the file and carry a position.
            if let Err(errors) = parse_rule_file("t.yml", &text) {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(e.position.is_some(), "{}", e);
                    prop_assert!(e.to_string().starts_with("t.yml:"));
                }
            }
        }
    }
}
