//! Table tests (expected outputs follow Go's `text/template` + Prometheus), compile
//! and execution errors with positions, limits, and property-based fuzzing.

use super::{ErrorKind, Limits, QuerySample, Template, TemplateData, TemplateError};

fn labels() -> Vec<(String, String)> {
    [
        ("__name__", "up"),
        ("instance", "db1:9100"),
        ("job", "node"),
        ("x", "aXa"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn sample(pairs: &[(&str, &str)], value: f64) -> QuerySample {
    QuerySample {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

fn query(q: &str) -> Result<Vec<QuerySample>, String> {
    Ok(match q {
        "up" => vec![
            sample(&[("__name__", "up"), ("instance", "b")], 1.0),
            sample(&[("__name__", "up"), ("instance", "a")], 0.0),
        ],
        "x" => vec![sample(&[], 0.123456)],
        "strv" => vec![sample(&[("__value__", "hello")], 0.0)],
        "fail" => return Err("boom".into()),
        _ => vec![],
    })
}

fn run_with(tmpl: &Template, value: f64) -> Result<String, TemplateError> {
    let l = labels();
    let ext = vec![("cluster".to_string(), "eu1".to_string())];
    let data = TemplateData {
        labels: &l,
        external_labels: &ext,
        external_url: "http://prom.example:9090/prefix",
        value,
    };
    tmpl.expand(&data, &mut query)
}

fn run(text: &str, value: f64) -> Result<String, TemplateError> {
    let t = Template::compile("t", text)?;
    run_with(&t, value)
}

const V: f64 = 0.75;

/// (template, $value, expected output)
const CASES: &[(&str, f64, &str)] = &[
    // Literals and printing of values.
    ("plain text", V, "plain text"),
    ("{{ 1 }}", V, "1"),
    ("{{ 1.5 }}", V, "1.5"),
    ("{{ 1e3 }}", V, "1000"),
    ("{{ 0x1F }}", V, "31"),
    ("{{ 1_000 }}", V, "1000"),
    ("{{ 'a' }}", V, "97"),
    ("{{ -0.22222 }}", V, "-0.22222"),
    ("{{ true }}", V, "true"),
    (r#"{{ "a\tb\u00e9" }}"#, V, "a\tb\u{e9}"),
    ("{{ `raw\\n` }}", V, "raw\\n"),
    ("{{ $value }}", V, "0.75"),
    ("{{ $value }}", 1.0, "1"),
    ("{{ $value }}", 1e21, "1e+21"),
    ("{{ $value }}", 1e6, "1e+06"),
    ("{{ $value }}", 123456.0, "123456"),
    ("{{ $value }}", 0.0001, "0.0001"),
    ("{{ $value }}", 0.00001, "1e-05"),
    ("{{ $value }}", f64::NAN, "NaN"),
    ("{{ $value }}", f64::INFINITY, "+Inf"),
    ("{{ $value }}", f64::NEG_INFINITY, "-Inf"),
    ("{{ $value }}", -0.0, "-0"),
    ("{{ $value }}", 0.30000000000000004, "0.30000000000000004"),
    ("{{ $value }}", 123456789.0, "1.23456789e+08"),
    ("{{ .Value }}", V, "0.75"),
    // Data access.
    (
        "Instance {{ $labels.instance }} down",
        V,
        "Instance db1:9100 down",
    ),
    ("{{ .Labels.job }}", V, "node"),
    ("[{{ $labels.missing }}]", V, "[]"),
    ("{{ $externalLabels.cluster }}", V, "eu1"),
    ("{{ .ExternalLabels.cluster }}", V, "eu1"),
    (
        "{{ $externalURL }}|{{ .ExternalURL }}",
        V,
        "http://prom.example:9090/prefix|http://prom.example:9090/prefix",
    ),
    (
        r#"{{ index $labels "job" }}[{{ index $labels "nope" }}]"#,
        V,
        "node[]",
    ),
    (
        "{{ $labels }}",
        V,
        "map[__name__:up instance:db1:9100 job:node x:aXa]",
    ),
    (
        "{{ $ }}",
        2.0,
        "{map[__name__:up instance:db1:9100 job:node x:aXa] map[cluster:eu1] http://prom.example:9090/prefix 2}",
    ),
    ("{{ $.Labels.job }}", V, "node"),
    (
        "{{ $labels.instance }} of job {{ $labels.job }} has been down; value {{ $value | humanize }}",
        V,
        "db1:9100 of job node has been down; value 750m",
    ),
    // Conditionals and comparisons.
    (
        "{{ if gt $value 0.5 }}high{{ else }}low{{ end }}",
        V,
        "high",
    ),
    (
        "{{ if gt $value 0.5 }}high{{ else }}low{{ end }}",
        0.2,
        "low",
    ),
    (r#"{{ if eq $labels.job "node" }}yes{{ end }}"#, V, "yes"),
    (
        "{{ if ne 1 2 }}ne{{ end }}{{ if lt 1 2 }}lt{{ end }}{{ if le 2 2 }}le{{ end }}",
        V,
        "neltle",
    ),
    (
        r#"{{ if ge "b" "a" }}ge{{ end }}{{ if lt "a" "b" }}lt{{ end }}"#,
        V,
        "gelt",
    ),
    (
        "{{ eq 1 2 3 1 }} {{ eq 1 2 }} {{ eq true true }}",
        V,
        "true false true",
    ),
    ("{{ gt (len \"abc\") 2 }}", V, "true"),
    ("{{ gt $value 0.5 }}", f64::NAN, "true"),
    (
        "{{ and 1 0 2 }}|{{ and 1 2 }}|{{ or 0 \"\" \"x\" }}|{{ or 0 \"\" }}",
        V,
        "0|2|x|",
    ),
    ("{{ not 0 }} {{ not \"a\" }}", V, "true false"),
    ("{{ and 0 (index $labels 5) }}", V, "0"),
    ("{{ 1 | and true }}|{{ 0 | or false }}", V, "1|0"),
    (
        r#"{{ if and (eq $labels.job "node") (gt $value 0.5) }}both{{ end }}"#,
        V,
        "both",
    ),
    (
        "{{ if eq 1 2 }}a{{ else if eq 1 1 }}b{{ else }}c{{ end }}",
        V,
        "b",
    ),
    (
        "{{ if eq 1 2 }}a{{ else if eq 1 3 }}b{{ else }}c{{ end }}",
        V,
        "c",
    ),
    (
        "{{ with $labels.missing }}x{{ else }}none{{ end }}",
        V,
        "none",
    ),
    ("{{ with $labels.job }}{{ . }}{{ end }}", V, "node"),
    (
        "{{ with $labels.missing }}a{{ else with $labels.job }}{{ . }}{{ end }}",
        V,
        "node",
    ),
    (
        "{{ if $labels.missing }}x{{ end }}{{ if query \"empty\" }}y{{ end }}",
        V,
        "",
    ),
    // Range.
    (
        r#"{{ range query "up" }}{{ .Labels.instance }} {{ .Value }};{{ end }}"#,
        V,
        "b 1;a 0;",
    ),
    (
        r#"{{ range query "empty" }}x{{ else }}no results{{ end }}"#,
        V,
        "no results",
    ),
    (
        r#"{{ range $i, $s := query "up" }}{{ $i }}={{ $s.Labels.instance }} {{ end }}"#,
        V,
        "0=b 1=a ",
    ),
    (
        "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
        V,
        "__name__=up,instance=db1:9100,job=node,x=aXa,",
    ),
    (
        "{{ range $labels }}{{ . }},{{ end }}",
        V,
        "up,db1:9100,node,aXa,",
    ),
    ("{{ range 3 }}{{ . }}{{ end }}", V, "012"),
    ("{{ range $i := 3 }}{{ $i }}{{ end }}", V, "012"),
    (
        r#"{{ range $i, $e := query "up" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $e.Value }}{{ end }}"#,
        V,
        "1",
    ),
    (
        "{{ range 5 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
        V,
        "0134",
    ),
    (
        "{{ range $k, $v := args 1 \"a\" }}{{ $k }}:{{ $v }} {{ end }}",
        V,
        "arg0:1 arg1:a ",
    ),
    // Variables and scoping.
    ("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}", V, "12"),
    (
        r#"{{ $n := 0.5 }}{{ range query "up" }}{{ $n = .Value }}{{ end }}{{ $n }}"#,
        V,
        "0",
    ),
    ("{{ if true }}{{ $y := 5 }}{{ $y }}{{ end }}", V, "5"),
    ("{{ $value := 3 }}{{ $value }}", V, "3"),
    (
        "{{ $x := \"a\" }}{{ range 2 }}{{ $x := \"b\" }}{{ $x }}{{ end }}{{ $x }}",
        V,
        "bba",
    ),
    // Whitespace trimming and comments.
    ("a  {{- 1 -}}  b", V, "a1b"),
    ("a \n{{- /* comment */ -}}\n b", V, "ab"),
    ("x {{/* c */}} y", V, "x  y"),
    ("{{ 3 -}} \n {{- 4 }}", V, "34"),
    ("{{ -3 }}", V, "-3"),
    // Templates.
    (
        r#"{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" 5 }}"#,
        V,
        "[5]",
    ),
    (
        r#"{{ define "x" }}{{ .arg0 }} {{ .arg1 }}{{ end }}{{ template "x" (args 1 "2") }}"#,
        V,
        "1 2",
    ),
    (
        r#"{{ define "x" }}{{ .arg2 }}{{ end }}{{ template "x" (args 1) }}"#,
        V,
        "<no value>",
    ),
    (
        r#"{{ define "u" }}{{ . }}{{ end }}{{ template "u" }}"#,
        V,
        "<no value>",
    ),
    (
        r#"{{ block "b" $labels.job }}<{{ . }}>{{ end }}"#,
        V,
        "<node>",
    ),
    (
        r#"{{ define "r" }}{{ if gt . 0 }}{{ . }}{{ template "r" (len (slice "aaaaaaaaaa" 1 .)) }}{{ end }}{{ end }}{{ template "r" 3 }}"#,
        V,
        "321",
    ),
    // Pipelines, parentheses and chains.
    (r#"{{ (query "up" | first).Labels.instance }}"#, V, "b"),
    (r#"{{ (index (query "up") 1).Value }}"#, V, "0"),
    (r#"{{ "x" | printf "%s-%s" "a" }}"#, V, "a-x"),
    ("{{ $labels.job | len }}", V, "4"),
    (
        r#"{{ with query "x" }}{{ . | first | value | humanizePercentage }}{{ end }}"#,
        V,
        "12.35%",
    ),
    // print / println / printf.
    (r#"{{ print 1 2 "a" 3 "b" "c" }}"#, V, "1 2a3bc"),
    (r#"{{ println 1 "a" }}"#, V, "1 a\n"),
    (
        r#"{{ printf "%.2f" $value }}|{{ printf "%.2f" 3.14159 }}"#,
        V,
        "0.75|3.14",
    ),
    (
        r#"{{ printf "%s|%d|%v|%q|%5.1f|%-4d|%04d|%x|%X|%o|%b|%e|%g|%t|%%|%c|%U" "s" 42 1.5 "q" 3.14159 7 -7 255 255 8 5 1234.5678 0.000012 true 65 65 }}"#,
        V,
        "s|42|1.5|\"q\"|  3.1|7   |-007|ff|FF|10|101|1.234568e+03|1.2e-05|true|%|A|U+0041",
    ),
    (
        r#"{{ printf "%d" "x" }}|{{ printf "%s" }}|{{ printf "a" 1 }}"#,
        V,
        "%!d(string=x)|%!s(MISSING)|a%!(EXTRA int=1)",
    ),
    (
        r#"{{ printf "%f" 3 }}|{{ printf "%s" $value }}|{{ printf "%d" nil }}"#,
        V,
        "%!f(int=3)|%!s(float64=0.75)|%!d(<nil>)",
    ),
    (
        r#"{{ printf "%[2]s %[1]s" "a" "b" }}|{{ printf "%*d" 5 42 }}|{{ printf "%.3s" "abcdef" }}"#,
        V,
        "b a|   42|abc",
    ),
    (
        r#"{{ printf "%q" 65 }}|{{ printf "%6.2f%%" 12.3456 }}|{{ printf "%+d" 5 }}|{{ printf "%x" "hi" }}"#,
        V,
        "'A'| 12.35%|+5|6869",
    ),
    (
        r#"{{ printf "%5s|%-5s|" "r" "l" }}{{ printf "%.0f %.1f" 2.5 0.05 }}"#,
        V,
        "    r|l    |2 0.1",
    ),
    (
        r#"{{ printf "%T %T %T %T" 1.5 1 "s" $labels }}"#,
        V,
        "float64 int string map[string]string",
    ),
    (
        r#"{{ printf "%v %v" nil 1 }}|{{ printf "%v" $labels }}"#,
        V,
        "<nil> 1|map[__name__:up instance:db1:9100 job:node x:aXa]",
    ),
    (
        r#"{{ printf "%08.3f|%+.2e|%G|%#x|%#o|% d" 3.14159 12345.678 1e-7 255 8 5 }}"#,
        V,
        "0003.142|+1.23e+04|1E-07|0xff|010| 5",
    ),
    (
        r#"{{ printf "%.3g|%g|%g|%.0e" 1234567.0 100000.0 1000000.0 5.5 }}"#,
        V,
        "1.23e+06|100000|1e+06|6e+00",
    ),
    (
        r#"{{ printf "%d%%" }}|{{ printf "%!" }}|{{ printf "%z" 1 }}"#,
        V,
        "%!d(MISSING)%|%!!(MISSING)|%!z(int=1)",
    ),
    (
        r#"{{ printf "%v" (query "up" | first) }}"#,
        V,
        "&{map[__name__:up instance:b] 1}",
    ),
    // Found by differential testing against Go's text/template.
    (
        r#"{{ printf "%x|%X|%b|%.3x|%#x" 1.5 -0.1 0.5 3600.0 1.0 }}"#,
        V,
        "0x1.8p+00|-0X1.999999999999AP-04|4503599627370496p-53|0x1.c20p+11|0x1.0000p+00",
    ),
    (
        r#"{{ printf "%#g|%#.3g|%#e|%#.0f" 1.0 100.0 2.0 3.0 }}"#,
        V,
        "1.00000|100.|2.000000e+00|3.",
    ),
    (
        r#"{{ printf "%08c|%+v|%v" 3 (query "up" | first) (query "up" | first) }}"#,
        V,
        "0000000\u{3}|&{Labels:map[__name__:up instance:b] Value:1}|&{map[__name__:up instance:b] 1}",
    ),
    (
        r#"{{ html (query "up" | first) }}|{{ urlquery "a" 1 2 "b" }}"#,
        V,
        "{map[__name__:up instance:b] 1}|a1+2b",
    ),
    (
        "{{ humanizeDuration 1e21 }}",
        V,
        "-106751991167300d -15h -30m -8s",
    ),
    (
        r#"{{ printf "%.70f" 1e-70 }}"#,
        V,
        "0.0000000000000000000000000000000000000000000000000000000000000000000001",
    ),
    (
        "{{ printf \"%v %.3v %10.2e|%-8.3f|\" 1e100 3.14159 -12345.678 2.0 }}",
        V,
        "1e+100 3.14  -1.23e+04|2.000   |",
    ),
    // Prometheus functions: numbers.
    (
        "{{ humanize 0.0 }}|{{ humanize 1 }}|{{ humanize 1234567.0 }}|{{ humanize 0.12 }}",
        V,
        "0|1|1.235M|120m",
    ),
    (
        r#"{{ humanize "1234" }}|{{ humanize -1500 }}|{{ humanize 0.000001 }}|{{ humanize 999999 }}"#,
        V,
        "1.234k|-1.5k|1u|1000k",
    ),
    (
        "{{ humanize $value }}|{{ humanize1024 $value }}|{{ humanizeDuration $value }}|{{ humanizeTimestamp $value }}",
        f64::INFINITY,
        "+Inf|+Inf|+Inf|+Inf",
    ),
    (
        "{{ humanize $value }}|{{ humanize1024 $value }}|{{ humanizeDuration $value }}|{{ humanizeTimestamp $value }}",
        f64::NAN,
        "NaN|NaN|NaN|NaN",
    ),
    (
        "{{ humanize $value }}|{{ humanizePercentage $value }}",
        f64::NEG_INFINITY,
        "-Inf|-Inf%",
    ),
    (
        "{{ humanize1024 1048576.0 }}|{{ humanize1024 0.12 }}|{{ humanize1024 1500 }}|{{ humanize1024 0 }}",
        V,
        "1Mi|0.12|1.465ki|0",
    ),
    (
        "{{ humanizeDuration 3600 }}|{{ humanizeDuration 0 }}|{{ humanizeDuration 1 }}|{{ humanizeDuration 60 }}",
        V,
        "1h 0m 0s|0s|1s|1m 0s",
    ),
    (
        "{{ humanizeDuration 90000 }}|{{ humanizeDuration -183845 }}|{{ humanizeDuration 899.99 }}",
        V,
        "1d 1h 0m 0s|-2d 3h 4m 5s|14m 59s",
    ),
    (
        "{{ humanizeDuration 0.1 }}|{{ humanizeDuration 0.0001 }}|{{ humanizeDuration 0.12345 }}|{{ humanizeDuration 60.5 }}",
        V,
        "100ms|100us|123.5ms|1m 0s",
    ),
    (
        r#"{{ humanizeDuration 1.2345 }}|{{ humanizeDuration 12.345 }}|{{ humanizeDuration "3600" }}|{{ humanizeDuration 1.5 }}"#,
        V,
        "1.234s|12.35s|1h 0m 0s|1.5s",
    ),
    (
        "{{ humanizeDuration 0.5 }}|{{ humanizeDuration 1234567 }}",
        V,
        "500ms|14d 6h 56m 7s",
    ),
    (
        "{{ -0.22222 | humanizePercentage }}|{{ 0.0 | humanizePercentage }}|{{ 0.1234567 | humanizePercentage }}|{{ 1.23456 | humanizePercentage }}",
        V,
        "-22.22%|0%|12.35%|123.5%",
    ),
    (
        "{{ 1435065584.128 | humanizeTimestamp }}",
        V,
        "2015-06-23 13:19:44.128 +0000 UTC",
    ),
    (
        r#"{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp -1 }}|{{ humanizeTimestamp "1234567" }}"#,
        V,
        "1970-01-01 00:00:00 +0000 UTC|1969-12-31 23:59:59 +0000 UTC|1970-01-15 06:56:07 +0000 UTC",
    ),
    (
        "{{ humanizeTimestamp 9223372036 }}",
        V,
        "2262-04-11 23:47:16 +0000 UTC",
    ),
    (
        "{{ toTime 1435065584.128 }}",
        V,
        "2015-06-23 13:19:44.128 +0000 UTC",
    ),
    (
        r#"{{ (toTime 1435065584).Format "2006-01-02T15:04:05Z07:00" }}|{{ (toTime 1435065584).Unix }}"#,
        V,
        "2015-06-23T13:19:44Z|1435065584",
    ),
    (
        r#"{{ (toTime 0).Format "Mon Jan _2 3:04PM 2006 MST .000 -0700" }}"#,
        V,
        "Thu Jan  1 12:00AM 1970 UTC .000 +0000",
    ),
    (
        r#"{{ (toTime 1700000000.5).Format "Monday, 02-January-06 15h04m05.999s pm __2" }}"#,
        V,
        "Tuesday, 14-November-23 22h13m20.5s pm 318",
    ),
    (
        "{{ (toTime 1435065584.128).UnixMilli }}|{{ (toTime 1435065584).Year }}|{{ (toTime 1435065584).UTC.Hour }}",
        V,
        "1435065584128|2015|13",
    ),
    (
        r#"{{ parseDuration "1h30m" }}|{{ parseDuration "500ms" }}|{{ parseDuration "1w" }}|{{ parseDuration "0" }}"#,
        V,
        "5400|0.5|604800|0",
    ),
    // Prometheus functions: strings.
    (
        r#"{{ "aa bb CC" | title }}|{{ title "hello_world foo-bar don't x.y 1st" }}"#,
        V,
        "Aa Bb CC|Hello_world Foo-Bar Don't X.y 1St",
    ),
    (
        r#"{{ "abc" | toUpper }}|{{ "aA bB CC" | toLower }}|{{ toUpper "straße" }}"#,
        V,
        "ABC|aa bb cc|STRAßE",
    ),
    (
        r#"{{ match "a+" "aa" }} {{ match "a+" "b" }} {{ match "^\\d+$" "123" }} {{ match "\\d" "٣" }}"#,
        V,
        "true false true false",
    ),
    (
        r#"{{ reReplaceAll "(a)" "$1b" .Labels.x }}|{{ reReplaceAll "(a)" "${1}b" .Labels.x }}"#,
        V,
        "X|abXab",
    ),
    (
        r#"{{ reReplaceAll "localhost:(.*)" "my.domain:$1" "localhost:3000" }}"#,
        V,
        "my.domain:3000",
    ),
    (
        r#"{{ reReplaceAll "a*" "X" "baaac" }}|{{ reReplaceAll "" "-" "ab" }}"#,
        V,
        "XbXcX|-a-b-",
    ),
    (
        r#"{{ reReplaceAll "(?P<host>[^:]+):(?P<port>\\d+)" "${port}@${host} $$" "h:80" }}"#,
        V,
        "80@h $",
    ),
    (
        r#"{{ reReplaceAll "{" "(" "a{b}" }}|{{ reReplaceAll "[[]" "<" "a[b" }}|{{ reReplaceAll "\\Q.*\\E" "!" "a.*b" }}"#,
        V,
        "a(b}|a<b|a!b",
    ),
    (
        r#"{{ reReplaceAll ":[0-9]{2,4}$" "" $labels.instance }}"#,
        V,
        "db1",
    ),
    (
        r#"{{ graphLink "up" }}|{{ tableLink "rate(x[5m]) > 1" }}"#,
        V,
        "/graph?g0.expr=up&g0.tab=0|/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=1",
    ),
    (
        r#"{{ "<b>" | safeHtml }}|{{ html "<b>&'\"" }}|{{ js "a'b<" }}|{{ urlquery "a b&c" }}"#,
        V,
        "<b>|&lt;b&gt;&amp;&#39;&#34;|a\\'b\\u003C|a+b%26c",
    ),
    (
        r#"{{ html 1 "a" }}|{{ urlquery nil }}"#,
        V,
        "1a|%3Cno+value%3E",
    ),
    (
        r#"{{ stripPort "db1:9100" }}|{{ stripPort "[::1]:80" }}|{{ stripPort "host" }}|{{ stripPort "::1" }}"#,
        V,
        "db1|::1|host|::1",
    ),
    (
        r#"{{ stripDomain "db1.example.com:9100" }}|{{ stripDomain "db1.example.com" }}|{{ stripDomain "10.0.0.1:9100" }}|{{ stripDomain "[fe80::1]:80" }}"#,
        V,
        "db1:9100|db1|10.0.0.1:9100|[fe80::1]:80",
    ),
    (
        "{{ externalURL }}|{{ pathPrefix }}",
        V,
        "http://prom.example:9090/prefix|/prefix",
    ),
    // Prometheus functions: queries.
    (
        r#"{{ query "up" | sortByLabel "instance" | first | label "instance" }}"#,
        V,
        "a",
    ),
    (
        r#"{{ range sortByLabel "instance" (query "up") }}{{ .Labels.instance }}{{ end }}"#,
        V,
        "ab",
    ),
    (
        r#"{{ range query "up" | sortByLabel "instance" }}{{.Labels.instance}}:{{.Value}}: {{end}}"#,
        V,
        "a:0: b:1: ",
    ),
    (
        r#"{{ query "strv" | first | strvalue }}|{{ query "up" | len }}|{{ query "up" | first | label "nope" }}"#,
        V,
        "hello|2|",
    ),
    (
        r#"{{ (query "up" | first).Labels }}|{{ $x := query "up" | first }}{{ $x.Labels.foo }}"#,
        V,
        "map[__name__:up instance:b]|",
    ),
    (
        r#"{{ query "up" | first }}"#,
        V,
        "{map[__name__:up instance:b] 1}",
    ),
    (
        r#"{{ index "abc" 1 }}|{{ slice "abcdef" 1 3 }}|{{ slice "abc" 1 }}|{{ len (slice (query "up") 1) }}|{{ index (args 1 2) "arg1" }}"#,
        V,
        "98|bc|bc|1|2",
    ),
    (
        r#"{{ args 1 "a" }}|{{ (args 1).arg5 }}|{{ print (args).x }}"#,
        V,
        "map[arg0:1 arg1:a]|<no value>|<nil>",
    ),
];

#[test]
fn table() {
    let mut failures = Vec::new();
    for (i, (text, value, want)) in CASES.iter().enumerate() {
        match run(text, *value) {
            Ok(got) if got == *want => {}
            Ok(got) => failures.push(format!("#{i} {text:?}\n   got  {got:?}\n   want {want:?}")),
            Err(e) => failures.push(format!("#{i} {text:?}\n   error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// (template, line, col, message substring)
const COMPILE_ERRORS: &[(&str, usize, usize, &str)] = &[
    ("{{", 1, 3, "unclosed action"),
    ("{{ foo }}", 1, 4, "function \"foo\" not defined"),
    ("line1\n  {{ $x }}", 2, 6, "undefined variable \"$x\""),
    ("{{ if 1 }}x", 1, 12, "unexpected EOF"),
    ("a{{ end }}", 1, 2, "unexpected {{end}}"),
    ("{{ else }}", 1, 1, "unexpected {{else}}"),
    (
        "{{ 3 | 4 }}",
        1,
        8,
        "non executable command in pipeline stage 2",
    ),
    ("{{ \"abc }}", 1, 4, "unterminated quoted string"),
    ("{{ 'a }}", 1, 4, "unterminated character constant"),
    ("{{ 1x }}", 1, 4, "bad number syntax: \"1x\""),
    (
        "{{ $a, $b, $c := . }}",
        1,
        6,
        "too many declarations in command",
    ),
    (
        "{{ $i, $e := 1 }}",
        1,
        6,
        "too many declarations in command",
    ),
    (
        "{{ range $a, $b, $c := . }}{{ end }}",
        1,
        16,
        "too many declarations in range",
    ),
    (
        "{{ range $a, 1 }}{{ end }}",
        1,
        14,
        "range can only initialize variables",
    ),
    ("{{ break }}", 1, 4, "{{break}} outside {{range}}"),
    ("{{ (1 }}", 1, 7, "unclosed left paren"),
    ("{{ ) }}", 1, 4, "unexpected \")\" in command"),
    ("{{ 1 ) }}", 1, 6, "unexpected \")\" in command"),
    ("{{ tmpl \"x\" . }}", 1, 4, "function \"tmpl\" not defined"),
    ("{{/* x }}", 1, 1, "unclosed comment"),
    (
        "{{/* x */ }}",
        1,
        1,
        "comment ends before closing delimiter",
    ),
    (
        "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
        1,
        32,
        "multiple definition of template \"a\"",
    ),
    (
        "{{\u{a0}}}",
        1,
        3,
        "unrecognized character in action: U+00A0",
    ),
    (
        "{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}",
        1,
        39,
        "undefined variable \"$y\"",
    ),
    ("{{ $x=1 }}", 1, 4, "bad character U+003D '='"),
    ("{{ .x- }}", 1, 4, "bad character U+002D '-'"),
    ("{{ 3 , }}", 1, 6, "unexpected \",\" in operand"),
    ("{{ \"\\q\" }}", 1, 4, "invalid syntax"),
    ("{{ 'ab' }}", 1, 4, "malformed character constant: 'ab'"),
    ("{{ 99999999999999999999 }}", 1, 4, "integer overflow"),
    ("{{ 1.foo }}", 1, 4, "bad number syntax"),
    (
        "{{ \"a\".b }}",
        1,
        4,
        "unexpected . after term \"\\\"a\\\"\"",
    ),
    (
        "{{ template 3 }}",
        1,
        13,
        "unexpected \"3\" in template clause",
    ),
    (
        "{{ range . }}{{ else if 1 }}{{ end }}",
        1,
        22,
        "unexpected <if> in input",
    ),
    ("{{ if }}{{ end }}", 1, 7, "missing value for if"),
    ("{{ $x := }}", 1, 10, "missing value for command"),
    ("{{ 1 2i }}", 1, 6, "complex numbers are not supported"),
    ("x\ny\n  {{ end }}", 3, 3, "unexpected {{end}}"),
    ("x\ny\n  {{ end", 3, 9, "unclosed action"),
];

#[test]
fn compile_errors() {
    let mut failures = Vec::new();
    for (text, line, col, msg) in COMPILE_ERRORS {
        match Template::compile("t", text) {
            Ok(_) => failures.push(format!("{text:?}: compiled")),
            Err(e) => {
                if e.kind != ErrorKind::Compile
                    || (e.line, e.col) != (*line, *col)
                    || !e.message.contains(msg)
                {
                    failures.push(format!(
                        "{text:?}: got {}:{} {:?}",
                        e.line, e.col, e.message
                    ));
                }
            }
        }
    }
    let deep = "{{ if 1 }}".repeat(150);
    let e = Template::compile("t", &deep).unwrap_err();
    if !e.message.contains("nesting depth exceeds the limit of 100") {
        failures.push(format!("deep nesting: {e}"));
    }
    let parens = format!("{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
    let e = Template::compile("t", &parens).unwrap_err();
    if !e.message.contains("nesting depth") {
        failures.push(format!("deep parens: {e}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compile_error_display() {
    let e = Template::compile("alert_summary", "ok\n{{ $labels.a | nope }}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: alert_summary:2:16: function \"nope\" not defined"
    );
}

/// (template, message substring, kind)
const EXEC_ERRORS: &[(&str, &str)] = &[
    (r#"{{ query "fail" }}"#, "error calling query: boom"),
    (
        r#"{{ query "empty" | first }}"#,
        "error calling first: first() called on vector with no elements",
    ),
    (
        "{{ $labels.job.foo }}",
        "can't evaluate field foo in type string",
    ),
    (
        r#"{{ (query "missing").banana }}"#,
        "can't evaluate field banana in type template.queryResult",
    ),
    ("{{ .Nope }}", "can't evaluate field Nope in type struct {"),
    (
        "{{ toUpper $value }}",
        "wrong type for value; expected string; got float64",
    ),
    (
        r#"{{ humanize "abc" }}"#,
        "error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax",
    ),
    (
        r#"{{ humanize (query "up") }}"#,
        "can't convert template.queryResult to float",
    ),
    (r#"{{ template "nope" }}"#, "template \"nope\" not defined"),
    (
        "{{ index $labels 1 }}",
        "error calling index: value has type int; should be string",
    ),
    (
        "{{ index \"abc\" 5 }}",
        "error calling index: index out of range: 5",
    ),
    (
        "{{ humanize }}",
        "wrong number of args for humanize: want 1 got 0",
    ),
    (
        "{{ eq 1 }}",
        "error calling eq: missing argument for comparison",
    ),
    ("{{ 1 2 }}", "can't give argument to non-function 1"),
    ("{{ nil }}", "nil is not a command"),
    ("{{ len 3 }}", "error calling len: len of type int"),
    ("{{ range 1.5 }}{{ end }}", "range can't iterate over 1.5"),
    (
        "{{ range $i, $e := 3 }}{{ end }}",
        "can't use 3 to iterate over more than one variable",
    ),
    (
        "{{ gt $value 1 }}",
        "error calling gt: incompatible types for comparison",
    ),
    (
        "{{ lt $labels $labels }}",
        "error calling lt: invalid type for comparison",
    ),
    ("{{ eq $labels $labels }}", "non-comparable type"),
    (
        r#"{{ reReplaceAll "(" "x" "y" }}"#,
        "error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp:",
    ),
    (
        r#"{{ match "(" "x" }}"#,
        "error calling match: error parsing regexp:",
    ),
    (
        r#"{{ toTime "NaN" }}"#,
        "error calling toTime: value is NaN or Inf",
    ),
    (
        "{{ humanizeTimestamp 1e20 }}",
        "1e+20 cannot be represented as a nanoseconds timestamp since it overflows int64",
    ),
    (
        r#"{{ parseDuration "1.5s" }}"#,
        "error calling parseDuration: unknown unit \".\" in duration \"1.5s\"",
    ),
    (
        r#"{{ parseDuration "1m1h" }}"#,
        "not a valid duration string: \"1m1h\"",
    ),
    (r#"{{ label "a" nil }}"#, "nil pointer dereference"),
    (
        "{{ first 3 }}",
        "can't handle 3 for arg of type template.queryResult",
    ),
    ("{{ printf 3 }}", "expected string; found 3"),
    (
        "{{ $labels.job 1 }}",
        "job is not a method but has arguments",
    ),
    (
        "{{ .Value 1 }}",
        "Value has arguments but cannot be invoked as function",
    ),
    (
        r#"{{ (toTime 0).Format }}"#,
        "wrong number of args for Format: want 1 got 0",
    ),
    ("{{ 99999999999999999999.0 | printf \"%d\" }}", ""),
    (
        "{{ 18446744073709551615 }}",
        "18446744073709551615 overflows int",
    ),
    ("{{ slice \"abc\" 2 1 }}", "invalid slice index: 2 > 1"),
    ("{{ (nil).x }}", "nil is not a command"),
    ("{{ (args).a.b }}", "nil pointer evaluating interface {}.b"),
    (
        "{{ .Value.x }}",
        "can't evaluate field x in type interface {}",
    ),
    ("{{ $value.x }}", "can't evaluate field x in type float64"),
    (
        "{{ index (toTime 0) 1 }}",
        "can't index item of type time.Time",
    ),
    ("{{ range nil }}x{{ end }}", "nil is not a command"),
];

#[test]
fn exec_errors() {
    let mut failures = Vec::new();
    for (text, msg) in EXEC_ERRORS {
        let t = match Template::compile("t", text) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{text:?}: compile error {e}"));
                continue;
            }
        };
        match run_with(&t, V) {
            Ok(out) if msg.is_empty() => {
                let _ = out;
            }
            Ok(out) => failures.push(format!("{text:?}: expanded to {out:?}")),
            Err(e) => {
                if e.kind != ErrorKind::Execute || !e.to_string().contains(msg) {
                    failures.push(format!("{text:?}: got {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn exec_error_display() {
    let e = run("x\n  {{ query \"empty\" | first }}", V).unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: t:2:22: executing \"t\" at <first>: error calling first: \
         first() called on vector with no elements"
    );
    let e = run(
        r#"{{ define "d" }}{{ .arg0.x }}{{ end }}{{ template "d" (args 1) }}"#,
        V,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "template: t:1:20: executing \"d\" at <.arg0.x>: can't evaluate field x in type interface {}"
    );
}

fn limit_kind(text: &str, limits: Limits) -> ErrorKind {
    let t = Template::compile("t", text).unwrap().with_limits(limits);
    match run_with(&t, V) {
        Ok(out) => panic!("{text:?} expanded to {} bytes", out.len()),
        Err(e) => e.kind,
    }
}

#[test]
fn limits() {
    let small = Limits {
        max_output_bytes: 1000,
        max_steps: 100_000,
        max_depth: 50,
    };
    // Unbounded recursion.
    let rec = r#"{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" }}"#;
    assert_eq!(limit_kind(rec, Limits::default()), ErrorKind::LimitExceeded);
    // Exponential recursion within the depth limit.
    let exp = r#"{{ define "a" }}{{ if lt (len .) 40 }}{{ template "a" (printf "%sx" .) }}{{ template "a" (printf "%sx" .) }}{{ end }}{{ end }}{{ template "a" "" }}"#;
    assert_eq!(limit_kind(exp, small), ErrorKind::LimitExceeded);
    // Long loops.
    assert_eq!(
        limit_kind("{{ range 100000000 }}{{ end }}", small),
        ErrorKind::LimitExceeded
    );
    // Output size.
    assert_eq!(
        limit_kind("{{ range 1000 }}xxxxxxxxxx{{ end }}", small),
        ErrorKind::LimitExceeded
    );
    // Values that double in size.
    let dbl = r#"{{ $s := "ab" }}{{ range 100 }}{{ $s = printf "%s%s" $s $s }}{{ end }}"#;
    assert_eq!(limit_kind(dbl, Limits::default()), ErrorKind::LimitExceeded);
    // Deeply nested args values.
    let nest = "{{ $a := args 1 }}{{ range 100 }}{{ $a = args $a }}{{ end }}{{ $a }}";
    let t = Template::compile("t", nest).unwrap();
    assert!(
        run_with(&t, V)
            .unwrap_err()
            .message
            .contains("nested deeper")
    );
    // Huge printf width is rejected like Go does.
    assert_eq!(
        run(r#"{{ printf "%99999999d" 1 }}"#, V).unwrap(),
        "%!(NOVERB)%!(EXTRA int=1)"
    );
    // Precisions beyond Rust's u16 format limit behave like Go (exact digits, then zeros).
    let long = run(
        r#"{{ printf "%.70000f|%.70000e|%.70000g|%.70000U" 0.1 2.5 1.5 65 }}"#,
        V,
    )
    .unwrap();
    assert!(
        long.starts_with("0.1000000000000000055511151231257827"),
        "{}",
        &long[..40]
    );
    assert_eq!(long.len(), 70_002 + 1 + 70_006 + 1 + 3 + 1 + 70_002);
    // A large query result is fine within the default budget.
    let t = Template::compile("t", "{{ range query \"big\" }}{{ .Value }},{{ end }}").unwrap();
    let data = TemplateData {
        labels: &[],
        external_labels: &[],
        external_url: "",
        value: 0.0,
    };
    let mut big = |_: &str| Ok((0..100_000).map(|i| sample(&[], f64::from(i))).collect());
    let out = t.expand(&data, &mut big).unwrap();
    assert!(out.starts_with("0,1,2,") && out.ends_with("99999,"));
}

/// The worst-case recursion the limits allow (template recursion through nested
/// `if`s, then maximally nested parentheses) must fit in 1 MiB of stack even in
/// debug builds, half of the usual 2 MiB thread stack.
#[test]
fn max_depth_fits_stack() {
    let ifs = "{{ if 1 }}".repeat(40);
    let ends = "{{ end }}".repeat(40);
    let parens = format!("{}\"x\"{}", "(print (len ".repeat(29), "))".repeat(29));
    let text = format!(
        r#"{{{{ define "a" }}}}{ifs}{{{{ len {parens} }}}}{{{{ template "a" }}}}{ends}{{{{ end }}}}{{{{ template "a" }}}}"#
    );
    let t = Template::compile("t", &text).unwrap();
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || run_with(&t, V).unwrap_err())
        .unwrap();
    let e = handle.join().unwrap();
    assert_eq!(e.kind, ErrorKind::LimitExceeded);
    assert!(e.message.contains("maximum template depth"), "{e}");
}

#[test]
fn template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Template>();
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        " ",
        "\n",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "$x",
        "$",
        ":=",
        "=",
        "|",
        "(",
        ")",
        ".",
        ".Labels",
        ".Value",
        ".arg0",
        "$labels",
        "$value",
        "$labels.job",
        "\"a\"",
        "\"x\"",
        "`r`",
        "'c'",
        "1",
        "0",
        "-1",
        "1.5",
        "1e9",
        "0x10",
        "nil",
        "true",
        "printf",
        "\"%d%s%v\"",
        "query",
        "\"up\"",
        "first",
        "value",
        "label",
        "humanize",
        "humanizeDuration",
        "humanizeTimestamp",
        "toTime",
        "title",
        "reReplaceAll",
        "\"(a*)\"",
        "\"$1\"",
        "match",
        "index",
        "slice",
        "len",
        "eq",
        "lt",
        "and",
        "or",
        "not",
        "args",
        "print",
        "sortByLabel",
        "stripDomain",
        "parseDuration",
        "\"1h\"",
        "/*",
        "*/",
        ",",
        "$i",
        "$e",
        "html",
        "js",
        "toUpper",
        "urlquery",
        "externalURL",
        ".Format",
        "\"2006\"",
        "99999999999999999999",
    ];

    fn check(text: &str) {
        if let Ok(t) = Template::compile("fuzz", text) {
            let t = t.with_limits(Limits {
                max_output_bytes: 1 << 16,
                max_steps: 20_000,
                max_depth: 200,
            });
            let _ = run_with(&t, 1.5);
            let _ = run_with(&t, f64::NAN);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_strings_do_not_panic(s in any::<String>()) {
            check(&s);
            check(&format!("{{{{ {s} }}}}"));
        }

        #[test]
        fn token_soup_does_not_panic(toks in prop::collection::vec(prop::sample::select(TOKENS), 0..40)) {
            check(&toks.concat());
            check(&toks.join(" "));
        }

        #[test]
        fn printf_does_not_panic(f in "[%a-zA-Z0-9.+\\-# *\\[\\]]{0,16}", n in any::<i64>(), x in any::<f64>()) {
            let text = format!("{{{{ printf {:?} {} {:?} \"s\" }}}}", f, n, x);
            check(&text);
        }

        #[test]
        fn numbers_do_not_panic(x in any::<f64>()) {
            for f in ["humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime"] {
                check(&format!("{{{{ {f} $value }}}}"));
                let t = Template::compile("t", &format!("{{{{ {f} $value }}}}|{{{{ $value }}}}")).unwrap();
                let _ = run_with(&t, x);
            }
        }
    }

    proptest! {
        // Each case formats strings up to ~1 MB wide, so keep the count low.
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn printf_widths_do_not_panic(
            w in 0u32..1_100_000,
            p in 0u32..1_100_000,
            verb in prop::sample::select(&['v', 'd', 's', 'f', 'e', 'g', 'x', 'X', 'q', 'U', 'c', 'b', 'o', 't'][..]),
            x in any::<f64>(),
        ) {
            for arg in [format!("{x:?}"), "42".to_string(), "\"str\"".to_string()] {
                check(&format!("{{{{ printf \"%{w}.{p}{verb}|%-0{w}{verb}|%.*{verb}\" {arg} {arg} {p} {arg} }}}}"));
            }
        }
    }
}
