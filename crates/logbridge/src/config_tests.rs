//! `logbridge test config FILE...`: runs the unit tests a config carries,
//! in Vector's format (`tests` with `inputs` inserted at a transform and
//! `outputs` checked with VRL conditions, or `no_outputs_from`), over the
//! config's transforms built as `run` builds them, without sources, sinks
//! or a runtime.
//!
//! Each test gets fresh transforms; events flow synchronously from where
//! they are inserted through every transform downstream, then each
//! transform is finished in order (so `reduce` and `aggregate` emit what
//! they hold). A test that needs a transform type logbridge lacks is
//! skipped with the reason, never counted as passed. Output: failures
//! (and skips with `--verbose`), one line per file, then
//! `N passed, N failed, N skipped`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use logbridge_component::enrichment::EnrichmentTables;
use logbridge_component::telemetry::ComponentKind;
use logbridge_component::{BuildContext, Transform, TransformConfig, TransformOutputs};
use logbridge_config::registry;
use logbridge_event::{DataKind, Event, EventBatch, LogRecord, Path as EventPath, Value};
use logbridge_vrl::{CompileOptions, Program, ProgramRuntime};
use serde_json::Value as Json;

use crate::registry::COMPONENTS;

/// Runs the tests of each config file and prints the results.
pub fn run(files: &[PathBuf], verbose: bool) -> ExitCode {
    let (mut passed, mut failed, mut skipped, mut broken) = (0, 0, 0, 0);
    for path in files {
        let name = path.display();
        let suite = match std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| Suite::parse(path, &text))
        {
            Ok(suite) => suite,
            Err(e) => {
                println!("{name}: error: {e}");
                broken += 1;
                continue;
            }
        };
        let (mut p, mut f, mut s) = (0, 0, 0);
        for test in &suite.tests {
            let test_name = test
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("(unnamed)");
            match suite.run(test) {
                Outcome::Passed => p += 1,
                Outcome::Failed(reason) => {
                    println!("{name}: test \"{test_name}\": FAILED\n    {reason}");
                    f += 1;
                }
                Outcome::Skipped(reason) => {
                    if verbose {
                        println!("{name}: test \"{test_name}\": skipped\n    {reason}");
                    }
                    s += 1;
                }
            }
        }
        println!("{name}: {p} passed, {f} failed, {s} skipped");
        (passed, failed, skipped) = (passed + p, failed + f, skipped + s);
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 && broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// A config's transforms and tests.
struct Suite {
    /// The transforms logbridge parsed; their inputs are in `inputs`.
    transforms: BTreeMap<String, Box<dyn TransformConfig>>,
    /// Transforms of types logbridge lacks, with why.
    missing: BTreeMap<String, String>,
    /// Transforms whose options or build failed, with the error.
    broken: BTreeMap<String, String>,
    /// The inputs of every declared transform, built or not.
    inputs: BTreeMap<String, Vec<String>>,
    tables: EnrichmentTables,
    tests: Vec<Json>,
}

fn parse_document(path: &Path, text: &str) -> Result<Json, String> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => serde_norway::from_str(text).map_err(|e| e.to_string()),
        Some("json") => serde_json::from_str(text).map_err(|e| e.to_string()),
        _ => toml::from_str(text).map_err(|e| e.to_string()),
    }
}

impl Suite {
    fn parse(path: &Path, text: &str) -> Result<Suite, String> {
        let doc = parse_document(path, text)?;
        let tests = match doc.get("tests") {
            None => Vec::new(),
            Some(Json::Array(tests)) => tests.clone(),
            Some(_) => return Err("`tests` must be a list".into()),
        };
        let tables = match doc.get("enrichment_tables") {
            None => BTreeMap::new(),
            Some(t) => {
                serde_json::from_value(t.clone()).map_err(|e| format!("enrichment_tables: {e}"))?
            }
        };
        let mut transforms = BTreeMap::new();
        let mut missing = BTreeMap::new();
        let mut broken = BTreeMap::new();
        let mut all_inputs = BTreeMap::new();
        let declared = doc
            .get("transforms")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        for (id, body) in declared {
            let Json::Object(mut options) = body else {
                return Err(format!("transform `{id}` must be a table"));
            };
            let inputs: Vec<String> = options
                .remove("inputs")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| format!("transform `{id}`: inputs must be a list of names"))?
                .unwrap_or_default();
            all_inputs.insert(id.clone(), inputs);
            let type_name = options
                .remove("type")
                .and_then(|t| t.as_str().map(str::to_owned))
                .ok_or_else(|| format!("transform `{id}` has no type"))?;
            let Some(component) = registry::find(COMPONENTS.transforms, &type_name) else {
                let vector = COMPONENTS
                    .vector_components
                    .iter()
                    .find(|c| c.kind == ComponentKind::Transform && c.name == type_name);
                let reason = match vector {
                    Some(c) if !c.instead.is_empty() => {
                        format!("logbridge has no `{type_name}` transform ({})", c.instead)
                    }
                    _ => format!("logbridge has no `{type_name}` transform"),
                };
                missing.insert(id, reason);
                continue;
            };
            match (component.parse)(Json::Object(options)) {
                Ok(config) => {
                    transforms.insert(id, config);
                }
                Err(e) => {
                    broken.insert(id, e.to_string());
                }
            }
        }
        let tables = Arc::new(tables);
        // Build each once up front: one that does not build fails the
        // tests that use it, not the whole file.
        transforms.retain(|id, config| match build_one(id, config.as_ref(), &tables) {
            Ok(_) => true,
            Err(e) => {
                broken.insert(id.clone(), e);
                false
            }
        });
        Ok(Suite {
            transforms,
            missing,
            broken,
            inputs: all_inputs,
            tables,
            tests,
        })
    }

    /// Fresh instances of every transform, with their output names.
    fn build(&self) -> Result<BTreeMap<String, Running>, String> {
        self.transforms
            .iter()
            .map(|(id, config)| Ok((id.clone(), build_one(id, config.as_ref(), &self.tables)?)))
            .collect()
    }

    /// The transforms reading `output` (an id, or `id.name`).
    fn consumers(&self, output: &str) -> Vec<&str> {
        self.inputs
            .iter()
            .filter(|(id, inputs)| {
                self.transforms.contains_key(*id) && inputs.iter().any(|i| i == output)
            })
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Transforms in an order where each comes after those it reads from
    /// (cycles, which `validate` rejects, end the walk).
    fn order(&self) -> Vec<&str> {
        let mut order: Vec<&str> = Vec::new();
        let mut pending: Vec<&str> = self.transforms.keys().map(String::as_str).collect();
        while !pending.is_empty() {
            let ready: Vec<&str> = pending
                .iter()
                .copied()
                .filter(|id| {
                    self.inputs[*id].iter().all(|input| {
                        let upstream = input.split('.').next().unwrap_or(input);
                        !pending.contains(&upstream) || upstream == *id
                    })
                })
                .collect();
            if ready.is_empty() {
                order.extend(pending);
                break;
            }
            pending.retain(|id| !ready.contains(id));
            order.extend(ready);
        }
        order
    }

    /// A test that cannot run: skipped when it names, or its events
    /// reach, a transform logbridge lacks; failed when one of those does
    /// not build.
    fn blocked(&self, test: &Json) -> Option<Outcome> {
        let mut named: Vec<String> = Vec::new();
        for input in inputs(test) {
            if let Some(at) = input.get("insert_at").and_then(Json::as_str) {
                named.push(at.to_owned());
            }
        }
        for output in list(test, "outputs") {
            named.extend(targets(output.get("extract_from")));
        }
        named.extend(targets(test.get("no_outputs_from")));
        // Everything downstream of where events go in.
        let mut queue: VecDeque<String> = named.iter().cloned().collect();
        let mut seen = Vec::new();
        while let Some(target) = queue.pop_front() {
            let id = target.split('.').next().unwrap_or(&target).to_owned();
            if let Some(reason) = self.missing.get(&id) {
                return Some(Outcome::Skipped(format!("`{id}`: {reason}")));
            }
            if let Some(error) = self.broken.get(&id) {
                return Some(Outcome::Failed(error.clone()));
            }
            if seen.contains(&id) {
                continue;
            }
            for consumer in self.consumers_of_any(&id) {
                queue.push_back(consumer);
            }
            seen.push(id);
        }
        None
    }

    /// Every declared transform (built or not) reading any output of `id`.
    fn consumers_of_any(&self, id: &str) -> Vec<String> {
        self.inputs
            .iter()
            .filter(|(_, inputs)| {
                inputs
                    .iter()
                    .any(|i| i == id || i.strip_prefix(id).is_some_and(|r| r.starts_with('.')))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn run(&self, test: &Json) -> Outcome {
        if let Some(outcome) = self.blocked(test) {
            return outcome;
        }
        match self.run_checked(test) {
            Ok(()) => Outcome::Passed,
            Err(reason) => Outcome::Failed(reason),
        }
    }

    fn run_checked(&self, test: &Json) -> Result<(), String> {
        let mut running = self.build()?;
        let mut emitted: HashMap<String, Vec<Event>> = HashMap::new();
        for input in inputs(test) {
            let at = input
                .get("insert_at")
                .and_then(Json::as_str)
                .ok_or("an input has no insert_at")?;
            if !running.contains_key(at) {
                return Err(format!(
                    "insert_at `{at}` is not a transform of this config"
                ));
            }
            let event = input_event(input)?;
            self.feed(&mut running, &mut emitted, at, vec![event]);
        }
        for id in self.order() {
            let mut outputs = running[id].outputs();
            running
                .get_mut(id)
                .expect("built")
                .transform
                .finish(&mut outputs);
            self.forward(&mut running, &mut emitted, id, outputs);
        }
        for target in targets(test.get("no_outputs_from")) {
            if let Some(events) = emitted.get(&target).filter(|e| !e.is_empty()) {
                return Err(format!(
                    "`{target}` emitted {} event(s), expected none; the first: {}",
                    events.len(),
                    describe(&events[0])
                ));
            }
        }
        for output in list(test, "outputs") {
            let conditions = list(output, "conditions")
                .iter()
                .map(compile_condition)
                .collect::<Result<Vec<_>, _>>()?;
            for target in targets(output.get("extract_from")) {
                let events = emitted.get(&target).map(Vec::as_slice).unwrap_or_default();
                if events.is_empty() {
                    return Err(format!("`{target}` emitted no events"));
                }
                check_some(&target, events, &conditions)?;
            }
        }
        Ok(())
    }

    /// Runs `events` through transform `id` and on downstream.
    fn feed(
        &self,
        running: &mut BTreeMap<String, Running>,
        emitted: &mut HashMap<String, Vec<Event>>,
        id: &str,
        events: Vec<Event>,
    ) {
        let Some(node) = running.get_mut(id) else {
            return;
        };
        let mut outputs = node.outputs();
        node.transform
            .transform(EventBatch::new(events), &mut outputs);
        self.forward(running, emitted, id, outputs);
    }

    fn forward(
        &self,
        running: &mut BTreeMap<String, Running>,
        emitted: &mut HashMap<String, Vec<Event>>,
        id: &str,
        mut outputs: TransformOutputs,
    ) {
        let names = outputs.names().to_vec();
        let batches: Vec<(usize, EventBatch)> = outputs.drain().collect();
        for (port, batch) in batches {
            if batch.is_empty() {
                continue;
            }
            let key = match &names[port] {
                Some(name) => format!("{id}.{name}"),
                None => id.to_owned(),
            };
            let events = batch.events().to_vec();
            emitted
                .entry(key.clone())
                .or_default()
                .extend(events.iter().cloned());
            for consumer in self.consumers(&key) {
                self.feed(running, emitted, consumer, events.clone());
            }
        }
    }
}

fn build_one(
    id: &str,
    config: &dyn TransformConfig,
    tables: &EnrichmentTables,
) -> Result<Running, String> {
    let cx = BuildContext::detached(id, ComponentKind::Transform, std::env::temp_dir())
        .with_enrichment_tables(tables.clone());
    let transform = config.build(&cx).map_err(|e| match e.hint {
        Some(hint) => format!("transform `{id}`: {}\n{hint}", e.message),
        None => format!("transform `{id}`: {}", e.message),
    })?;
    let outputs = config
        .outputs(DataKind::ALL)
        .into_iter()
        .map(|o| o.name)
        .collect();
    Ok(Running { transform, outputs })
}

struct Running {
    transform: Box<dyn Transform>,
    outputs: Vec<Option<String>>,
}

impl Running {
    fn outputs(&self) -> TransformOutputs {
        TransformOutputs::new(self.outputs.clone())
    }
}

fn list<'a>(value: &'a Json, key: &str) -> &'a [Json] {
    value
        .get(key)
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A test's inputs: `inputs`, or the older single `input`.
fn inputs(test: &Json) -> Vec<&Json> {
    let mut all: Vec<&Json> = list(test, "inputs").iter().collect();
    all.extend(test.get("input").filter(|i| i.is_object()));
    all
}

/// `extract_from` and `no_outputs_from` take a name or a list of names.
fn targets(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// An input as Vector describes it: `raw` (the default, `value` as the
/// message), `log` (`log_fields`), `metric` (`metric`) or `vrl` (a
/// program whose `.` and `%` become the event). Raw and log inputs carry
/// the current time, as Vector's do.
fn input_event(input: &Json) -> Result<Event, String> {
    let now = logbridge_component::now_nanos();
    let kind = input.get("type").and_then(Json::as_str).unwrap_or("raw");
    match kind {
        "raw" => {
            let value = input
                .get("value")
                .and_then(Json::as_str)
                .ok_or("a raw input needs a string `value`")?;
            let mut log = LogRecord::from_line(Bytes::copy_from_slice(value.as_bytes()), now);
            log.time_unix_nano = now;
            Ok(Event::Log(log))
        }
        "log" => {
            let mut log = LogRecord {
                time_unix_nano: now,
                observed_time_unix_nano: now,
                ..LogRecord::default()
            };
            if let Some(fields) = input.get("log_fields").and_then(Json::as_object) {
                for (key, value) in fields {
                    let value: Value = serde_json::from_value(value.clone())
                        .map_err(|e| format!("log_fields.{key}: {e}"))?;
                    let path =
                        EventPath::parse(key).unwrap_or_else(|_| EventPath::field(&[key.as_str()]));
                    log.insert(&path, value)
                        .map_err(|e| format!("log_fields.{key}: {e}"))?;
                }
            }
            Ok(Event::Log(log))
        }
        "metric" => {
            let metric = input.get("metric").ok_or("a metric input needs `metric`")?;
            let Value::Object(fields) = serde_json::from_value::<Value>(metric.clone())
                .map_err(|e| format!("metric: {e}"))?
            else {
                return Err("`metric` must be a table".into());
            };
            let mut metrics = logbridge_transforms::log_to_metric::read_vector_metric(fields, 0)
                .map_err(|e| format!("metric: {e}"))?;
            match metrics.len() {
                1 => Ok(Event::Metric(metrics.remove(0))),
                n => Err(format!("metric: gives {n} metrics, not one")),
            }
        }
        "vrl" => {
            let source = input
                .get("source")
                .and_then(Json::as_str)
                .ok_or("a vrl input needs `source`")?;
            let program = Program::compile(source, &CompileOptions::default())
                .map_err(|e| format!("input program: {}{}", e.message, e.rendered))?;
            let (root, metadata) = program
                .build_values()
                .map_err(|e| format!("input program: {e}"))?;
            Ok(Event::Log(logbridge_vrl::target::log_from_values(
                root, metadata,
            )))
        }
        other => Err(format!(
            "input type `{other}` is not one of raw, log, metric, vrl"
        )),
    }
}

/// A test condition: `{ type = "vrl", source = "..." }`, or the program
/// as a plain string.
fn compile_condition(condition: &Json) -> Result<Program, String> {
    let source = match condition {
        Json::String(s) => s.as_str(),
        Json::Object(o) => match o.get("type").and_then(Json::as_str) {
            // `remap` is what older Vector configs call a VRL condition.
            Some("vrl" | "remap") | None => o
                .get("source")
                .and_then(Json::as_str)
                .ok_or("a vrl condition needs `source`")?,
            Some(other) => {
                return Err(format!(
                    "condition type `{other}` is not supported (write it as a VRL condition)"
                ));
            }
        },
        _ => return Err("a condition must be a table or a string".into()),
    };
    Program::compile(source, &CompileOptions::default())
        .map_err(|e| format!("condition: {}{}", e.message, e.rendered))
}

/// Passes when each condition holds for at least one of `events` (not
/// necessarily the same one), as Vector checks an output.
fn check_some(target: &str, events: &[Event], conditions: &[Program]) -> Result<(), String> {
    let mut runtime = ProgramRuntime::default();
    let mut failed = Vec::new();
    for (i, condition) in conditions.iter().enumerate() {
        let mut last_reason = String::from("it is false for every event");
        let held = events
            .iter()
            .any(|event| match condition.check(event, &mut runtime) {
                Ok(true) => true,
                Ok(false) => false,
                Err(e) => {
                    last_reason = e;
                    false
                }
            });
        if !held {
            failed.push(format!("condition {i}: {last_reason}"));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "no event from `{target}` meets {}; got: {}",
        failed.join("; "),
        events.iter().map(describe).collect::<Vec<_>>().join(", ")
    ))
}

/// An event, briefly, for failure messages.
fn describe(event: &Event) -> String {
    match event {
        Event::Log(log) => Value::Object(log.fields_object())
            .to_string_lossy()
            .into_owned(),
        Event::Metric(m) => format!("metric {} {:?}", m.name, m.value),
        Event::Span(s) => format!("span {}", s.name),
    }
}
