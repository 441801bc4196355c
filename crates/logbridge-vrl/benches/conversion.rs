//! What a `remap` program costs per event, and how much of it is the
//! conversion between logbridge's values and VRL's: the figures behind
//! converting rather than adopting VRL's value type for events
//! (ARCHITECTURE.md, `crates/logbridge-vrl`).
//!
//! One line of `scripts/bench`'s input (a 206-byte JSON access log):
//! - `build/vrl`: parsing it into VRL's value (what `parse_json` does);
//! - `build/logbridge`: parsing it into logbridge's (the `parse` transform);
//! - `convert/in`, `convert/out`: the parsed object across the boundary,
//!   each way;
//! - `program/remap`: the bench's whole program on an event, conversions
//!   included; `program/vrl_only`: the same program on a VRL value, with
//!   no conversion, what adopting VRL's value type would leave;
//! - `parse_json/vrl`, `parse_json/logbridge`: `. = parse_json!(.message)`
//!   with VRL's function and with the one on logbridge's parser.
//!
//! Uses mimalloc, like the binary.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use logbridge_codec::decode::{Parser, ParserConfig};
use logbridge_event::{Event, LogRecord, Value};
use logbridge_vrl::value::{NanSlots, convert_out, to_vrl};
use logbridge_vrl::{CompileOptions, Program, ProgramRuntime};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LINE: &str = r#"{"timestamp":"2024-05-01T12:00:00.000Z","level":"info","service":"api-0","method":"POST","path":"/api/v1/users","status":200,"duration_ms":507.7,"request_id":"78e51061","message":"request 0 handled"}"#;

const PROGRAM: &str = r#". = parse_json!(.message)
.env = "prod"
del(.request_id)
.latency_ms = del(.duration_ms)"#;

fn benches(c: &mut Criterion) {
    let parser = Parser::new(&ParserConfig::Json).unwrap();
    let parsed = Value::Object(parser.parse(LINE.as_bytes()).unwrap());
    let vrl_parsed = to_vrl(parsed.clone(), &mut NanSlots::default());

    let mut build = c.benchmark_group("build");
    build.bench_function("vrl", |b| {
        b.iter(|| serde_json::from_str::<vrl::value::Value>(black_box(LINE)).unwrap())
    });
    build.bench_function("logbridge", |b| {
        b.iter(|| parser.parse(black_box(LINE.as_bytes())).unwrap())
    });
    build.finish();

    let mut convert = c.benchmark_group("convert");
    convert.bench_function("in", |b| {
        b.iter_batched(
            || parsed.clone(),
            |v| to_vrl(v, &mut NanSlots::default()),
            criterion::BatchSize::SmallInput,
        )
    });
    convert.bench_function("out", |b| {
        b.iter_batched(
            || vrl_parsed.clone(),
            convert_out,
            criterion::BatchSize::SmallInput,
        )
    });
    convert.finish();

    let program = Program::compile(PROGRAM, &CompileOptions::default()).unwrap();
    let mut runtime = ProgramRuntime::default();
    let event = || {
        Event::Log(LogRecord {
            body: Value::from(LINE),
            ..Default::default()
        })
    };
    let mut group = c.benchmark_group("program");
    group.bench_function("remap", |b| {
        let mut out = Vec::with_capacity(1);
        b.iter_batched(
            event,
            |e| {
                program.run(e, &mut runtime, &mut out).unwrap();
                out.pop()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let compiled = vrl::compiler::compile(PROGRAM, &vrl::stdlib::all())
        .unwrap()
        .program;
    let mut vrl_runtime = vrl::compiler::runtime::Runtime::default();
    group.bench_function("vrl_only", |b| {
        b.iter_batched(
            || vrl::compiler::TargetValue {
                value: vrl::value::Value::from(std::collections::BTreeMap::from([(
                    "message".into(),
                    vrl::value::Value::from(LINE),
                )])),
                metadata: vrl::value::Value::Object(Default::default()),
                secrets: Default::default(),
            },
            |mut target| {
                vrl_runtime
                    .resolve(&mut target, &compiled, &Default::default())
                    .unwrap();
                vrl_runtime.clear();
                target.value
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut parse_json = c.benchmark_group("parse_json");
    let mut ours = vrl::stdlib::all();
    ours.retain(|f| f.identifier() != "parse_json");
    ours.push(Box::new(logbridge_vrl::json::ParseJson));
    for (name, fns) in [("vrl", vrl::stdlib::all()), ("logbridge", ours)] {
        let compiled = vrl::compiler::compile(". = parse_json!(.message)", &fns)
            .unwrap()
            .program;
        parse_json.bench_function(name, |b| {
            b.iter_batched(
                || vrl::compiler::TargetValue {
                    value: vrl::value::Value::from(std::collections::BTreeMap::from([(
                        "message".into(),
                        vrl::value::Value::from(LINE),
                    )])),
                    metadata: vrl::value::Value::Object(Default::default()),
                    secrets: Default::default(),
                },
                |mut target| {
                    vrl_runtime
                        .resolve(&mut target, &compiled, &Default::default())
                        .unwrap();
                    vrl_runtime.clear();
                    target.value
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    parse_json.finish();
}

criterion_group!(conversion, benches);
criterion_main!(conversion);
