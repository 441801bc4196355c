//! Fuzzes the condition language: compiles arbitrary UTF-8 and, when it
//! compiles, checks it against a few fixed events. Neither may panic; an
//! error must point inside the source; `!(c)` must answer the opposite of
//! `c`.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use logbridge_condition::Condition;
use logbridge_event::{Event, LogRecord, Metric, Path, Value};

static EVENTS: LazyLock<Vec<Event>> = LazyLock::new(|| {
    let mut log = LogRecord::from_line("GET /api/users/42 HTTP/1.1".into(), 1);
    let fields: [(&str, Value); 8] = [
        (".status", Value::Integer(503)),
        (".level", "error".into()),
        (".duration_ms", Value::Float(12.5)),
        (".debug", Value::Bool(true)),
        (".nothing", Value::Null),
        (".tags", Value::Array(vec!["a".into(), Value::Integer(-1)])),
        (".http.method", "POST".into()),
        (".raw", Value::Bytes(b"\xff\xfeab"[..].into())),
    ];
    for (path, value) in fields {
        if let Ok(path) = Path::parse(path) {
            let _ = log.insert(&path, value);
        }
    }
    if let Ok(path) = Path::parse("%severity_text") {
        let _ = log.insert(&path, "ERROR".into());
    }
    vec![
        Event::Log(log),
        Event::Log(LogRecord::default()),
        Event::Metric(Metric::counter("requests_total", 3.0, 0).with_label("code", "500")),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    match Condition::compile(source) {
        Ok(condition) => {
            assert_eq!(condition.source(), source);
            let negated = Condition::compile(&format!("!({source})")).ok();
            for event in EVENTS.iter() {
                let answer = condition.check(event);
                if let Some(negated) = &negated {
                    assert_eq!(negated.check(event), !answer, "!({source})");
                }
            }
        }
        Err(error) => {
            assert!(error.offset <= source.len(), "{error:?}");
            assert!(source.is_char_boundary(error.offset), "{error:?}");
            let _ = error.render(source);
            let _ = error.to_string();
        }
    }
});
