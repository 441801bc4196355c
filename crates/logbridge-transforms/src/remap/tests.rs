//! Unit tests of the `remap` transform: options, failures, metadata and the
//! metric view.

use super::*;
use bytes::Bytes;
use logbridge_component::telemetry::ComponentKind;
use logbridge_event::{LogRecord, Metric, Path};

fn cx() -> BuildContext {
    BuildContext::detached("r", ComponentKind::Transform, std::env::temp_dir())
}

fn remap(toml_text: &str) -> Result<Box<dyn Transform>, BuildError> {
    let config: RemapConfig = toml::from_str(toml_text).unwrap();
    config.build(&cx())
}

fn line(text: &str) -> Event {
    Event::Log(LogRecord::from_line(
        Bytes::copy_from_slice(text.as_bytes()),
        1,
    ))
}

fn run(t: &mut Box<dyn Transform>, events: Vec<Event>) -> Vec<(Option<String>, Vec<Event>)> {
    let mut out = TransformOutputs::new(vec![None, Some(DROPPED_OUTPUT.into())]);
    t.transform(EventBatch::new(events), &mut out);
    let names = out.names().to_vec();
    out.drain()
        .map(|(port, batch)| (names[port].clone(), batch.events().to_vec()))
        .collect()
}

fn field(e: &Event, path: &str) -> Option<Value> {
    e.get(&Path::parse(path).unwrap()).map(|v| v.into_owned())
}

#[test]
fn parses_json_and_edits_fields() {
    let mut t = remap(
        r#"source = '''
. = parse_json!(.message)
.status = to_int!(.status)
.seen = true
del(.drop_me)
'''"#,
    )
    .unwrap();
    let out = run(
        &mut t,
        vec![line(r#"{"message":"hi","status":"500","drop_me":1}"#)],
    );
    let events = &out.iter().find(|(n, _)| n.is_none()).unwrap().1;
    assert_eq!(events.len(), 1);
    assert_eq!(field(&events[0], ".message"), Some(Value::from("hi")));
    assert_eq!(field(&events[0], ".status"), Some(Value::Integer(500)));
    assert_eq!(field(&events[0], ".seen"), Some(Value::Bool(true)));
    assert_eq!(field(&events[0], ".drop_me"), None);
}

#[test]
fn an_array_root_gives_one_event_per_element() {
    let mut t = remap(r#"source = '. = [{"a": 1}, {"a": 2}, "plain"]'"#).unwrap();
    let out = run(&mut t, vec![line("x")]);
    let events = &out[0].1;
    assert_eq!(events.len(), 3);
    assert_eq!(field(&events[1], ".a"), Some(Value::Integer(2)));
    assert_eq!(field(&events[2], ".message"), Some(Value::from("plain")));
}

#[test]
fn failures_pass_unchanged_drop_or_reroute_as_configured() {
    let program = r#"source = '. = parse_json!(.message)'"#;
    // drop_on_error = false: the event passes on as it came.
    let mut t = remap(program).unwrap();
    let out = run(&mut t, vec![line("not json")]);
    assert_eq!(
        field(&out[0].1[0], ".message"),
        Some(Value::from("not json"))
    );

    let mut t = remap(&format!("{program}\ndrop_on_error = true")).unwrap();
    let out = run(&mut t, vec![line("not json")]);
    assert!(out.iter().all(|(_, e)| e.is_empty()));

    let mut t = remap(&format!(
        "{program}\ndrop_on_error = true\nreroute_dropped = true"
    ))
    .unwrap();
    let out = run(&mut t, vec![line("not json"), line("{}")]);
    let dropped = &out
        .iter()
        .find(|(n, _)| n.as_deref() == Some("dropped"))
        .unwrap()
        .1;
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        field(&dropped[0], ".message"),
        Some(Value::from("not json"))
    );
    assert_eq!(
        field(&dropped[0], ".metadata.dropped.reason"),
        Some(Value::from("error"))
    );
    assert_eq!(
        field(&dropped[0], ".metadata.dropped.component_id"),
        Some(Value::from("r"))
    );
    assert_eq!(
        field(&dropped[0], ".metadata.dropped.component_type"),
        Some(Value::from("remap"))
    );
    let message = field(&dropped[0], ".metadata.dropped.message").unwrap();
    assert!(
        message.to_string_lossy().contains("unable to parse json"),
        "{message:?}"
    );
}

#[test]
fn abort_drops_by_default_and_carries_its_message() {
    let mut t = remap("source = 'abort \"no\"'\nreroute_dropped = true").unwrap();
    let out = run(&mut t, vec![line("x")]);
    let dropped = &out
        .iter()
        .find(|(n, _)| n.as_deref() == Some("dropped"))
        .unwrap()
        .1;
    assert_eq!(
        field(&dropped[0], ".metadata.dropped.reason"),
        Some(Value::from("abort"))
    );
    assert_eq!(
        field(&dropped[0], ".metadata.dropped.message"),
        Some(Value::from("no"))
    );
    let mut t = remap("source = 'abort'\ndrop_on_abort = false").unwrap();
    let out = run(&mut t, vec![line("x")]);
    assert_eq!(out[0].1.len(), 1);
}

#[test]
fn metadata_and_kafka_metadata_are_at_percent() {
    let mut t = remap(
        r#"source = '''
.topic = %kafka.topic
%severity_text = "WARN"
.ts = %timestamp
'''"#,
    )
    .unwrap();
    let mut log = LogRecord::from_line(Bytes::from_static(b"x"), 1);
    log.time_unix_nano = 1_700_000_000_123_456_789;
    log.insert(&Path::parse("%kafka.topic").unwrap(), "logs".into())
        .unwrap();
    let out = run(&mut t, vec![Event::Log(log)]);
    let e = &out[0].1[0];
    assert_eq!(field(e, ".topic"), Some(Value::from("logs")));
    assert_eq!(
        field(e, ".ts"),
        Some(Value::Timestamp(1_700_000_000_123_456_789))
    );
    let log = e.as_log().unwrap();
    assert_eq!(log.severity_text.as_deref(), Some("WARN"));
    assert_eq!(field(e, "%kafka.topic"), Some(Value::from("logs")), "kept");
}

#[test]
fn metrics_show_name_tags_kind_and_value() {
    let mut t = remap(
        r#"source = '''
.tags.env = "prod"
.name = string!(.name) + "_total"
.counter.value = to_float!(.counter.value) * 2
'''"#,
    )
    .unwrap();
    let metric = Metric::counter("requests", 3.0, 5).with_label("code", "200");
    let out = run(&mut t, vec![Event::Metric(metric)]);
    let Event::Metric(m) = &out[0].1[0] else {
        panic!("a metric")
    };
    assert_eq!(m.name.as_str(), "requests_total");
    assert_eq!(m.labels["env"], Value::from("prod"));
    assert_eq!(m.labels["code"], Value::from("200"));
    assert_eq!(m.value.as_f64(), Some(6.0));
}

#[test]
fn a_program_that_does_not_compile_shows_vrls_diagnostic() {
    let Err(err) = remap("source = '''\n.a = 1\n.b = parse_json(.message)\n'''") else {
        panic!("compiled")
    };
    assert_eq!(err.option.as_deref(), Some("source"));
    assert!(
        err.message.contains("line 2 of the program"),
        "{}",
        err.message
    );
    let hint = err.hint.unwrap();
    assert!(hint.contains("^^^^"), "{hint}");
    assert!(remap("").is_err());
    assert!(remap("source = '.'\ntimezone = \"Mars/Olympus\"").is_err());
}

#[test]
fn an_unreadable_table_fails_only_the_programs_that_look_it_up() {
    use logbridge_component::enrichment::EnrichmentTableConfig;
    let table: EnrichmentTableConfig = toml::from_str(
        "type = \"file\"\nfile.path = \"/nonexistent/codes.csv\"\nfile.encoding.type = \"csv\"",
    )
    .unwrap();
    let cx = cx().with_enrichment_tables(std::sync::Arc::new(
        [("codes".to_owned(), table)].into_iter().collect(),
    ));
    let build = |source: &str| {
        let config: RemapConfig = toml::from_str(&format!("source = '{source}'")).unwrap();
        config.build(&cx)
    };
    assert!(build(".a = 1").is_ok());
    let Err(err) = build(r#"r = get_enrichment_table_record("codes", {"code": 1}) ?? {}"#) else {
        panic!("compiled")
    };
    let hint = err.hint.unwrap_or_default();
    assert!(hint.contains("/nonexistent/codes.csv"), "{hint}");
}

#[test]
fn secrets_stay_beside_the_event() {
    let mut t = remap(
        r#"source = '''
set_secret("token", "s3cr3t")
.had = get_secret("token")
remove_secret("token")
.after = get_secret("token")
'''"#,
    )
    .unwrap();
    let out = run(&mut t, vec![line("x")]);
    let e = &out[0].1[0];
    assert_eq!(field(e, ".had"), Some(Value::from("s3cr3t")));
    assert_eq!(field(e, ".after"), Some(Value::Null));
    let all = Value::Object(e.as_log().unwrap().fields_object())
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        all.matches("s3cr3t").count(),
        1,
        "only where the program put it: {all}"
    );
}
