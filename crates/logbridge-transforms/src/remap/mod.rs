//! The `remap` transform: runs a VRL program over each event, as Vector's
//! `remap` does, with Vector's options (`source` or `file`,
//! `drop_on_error`, `drop_on_abort`, `reroute_dropped`, `timezone`).
//!
//! The program is compiled once, when the config loads; a program that
//! does not compile is a config error showing VRL's diagnostic. An event
//! the program fails on (a runtime error, or `abort`) is, as configured,
//! passed on as it came, discarded, or sent to the `dropped` output with
//! `metadata.dropped` = `{ reason, message, component_id, component_type,
//! component_kind }` (on metrics, tags of those names). Running never
//! panics on input and never stops the transform.

use std::path::PathBuf;
use std::sync::Arc;

use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use logbridge_component::{
    BuildContext, BuildError, DROPPED_OUTPUT, OutputDef, Transform, TransformConfig,
    TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch, KeyString, ObjectMap, Value};
use logbridge_vrl::{CompileOptions, Failure, Program, ProgramRuntime, Tables};
use serde::Deserialize;
use tracing::warn;

/// Runs a VRL program over each event.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemapConfig {
    /// The VRL program, e.g. `. = parse_json!(.message)`.
    #[serde(default)]
    pub source: Option<String>,
    /// A file holding the program (instead of `source`); a relative path
    /// is taken from the working directory.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Discard (or with `reroute_dropped`, send to `dropped`) events the
    /// program fails on; when false they pass on unchanged.
    #[serde(default)]
    pub drop_on_error: bool,
    /// Discard (or with `reroute_dropped`, send to `dropped`) events the
    /// program aborts; when false they pass on unchanged.
    #[serde(default = "default_true")]
    pub drop_on_abort: bool,
    /// Send dropped events to the `dropped` output (addressed as
    /// `ID.dropped`) with the reason under `metadata.dropped`.
    #[serde(default)]
    pub reroute_dropped: bool,
    /// The time zone functions use when a time carries none: `local` or
    /// an IANA name; UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// How metric tags are shown: only `single` (one value per tag, the
    /// event model's labels) is supported.
    #[serde(default)]
    pub metric_tag_values: Option<MetricTagValues>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricTagValues {
    Single,
    Full,
}

fn default_true() -> bool {
    true
}

impl RemapConfig {
    /// The program's text, from `source` or `file`.
    fn program_text(&self) -> Result<(String, &'static str), BuildError> {
        match (&self.source, &self.file) {
            (Some(source), None) => Ok((source.clone(), "source")),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| (text, "file"))
                .map_err(|e| {
                    BuildError::new("file", format!("cannot read {}: {e}", file.display()))
                }),
            (Some(_), Some(_)) => Err(BuildError::new(
                "source",
                "give `source` or `file`, not both",
            )),
            (None, None) => Err(BuildError::new("source", "remap needs a program")
                .with_hint("add source = '...' (a VRL program) or file = \"program.vrl\"")),
        }
    }
}

/// Compiles a program given in option `option`, turning VRL's diagnostic
/// into a build error that shows it.
pub(crate) fn compile_program(
    option: &str,
    text: &str,
    options: &CompileOptions,
) -> Result<Program, BuildError> {
    Program::compile(text, options).map_err(|e| compile_error(option, e))
}

/// A build error pointing at `option` that shows VRL's diagnostic.
pub(crate) fn compile_error(option: &str, e: logbridge_vrl::CompileError) -> BuildError {
    let at = e
        .line
        .map(|l| format!(" (line {} of the program)", l + 1))
        .unwrap_or_default();
    let mut err = BuildError::new(
        option,
        format!("the VRL program does not compile: {}{at}", e.message),
    );
    if !e.rendered.trim().is_empty() {
        err.hint = Some(e.rendered.trim_end().to_owned());
    }
    err
}

/// The config's enrichment tables, loaded once for every program built
/// from it (a table that cannot be read fails only the programs that look
/// it up).
fn load_tables(cx: &BuildContext) -> Option<Arc<Tables>> {
    (!cx.enrichment_tables.is_empty()).then(|| Tables::shared(&cx.enrichment_tables))
}

impl TransformConfig for RemapConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.metric_tag_values == Some(MetricTagValues::Full) {
            return Err(BuildError::new(
                "metric_tag_values",
                "logbridge's metric labels hold one value each",
            )
            .with_hint("remove it, or set metric_tag_values = \"single\""));
        }
        let (text, option) = self.program_text()?;
        let options = CompileOptions {
            timezone: self.timezone.clone(),
            tables: load_tables(cx),
        };
        let program = compile_program(option, &text, &options)?;
        Ok(Box::new(Remap {
            id: cx.id.clone(),
            program,
            runtime: ProgramRuntime::default(),
            drop_on_error: self.drop_on_error,
            drop_on_abort: self.drop_on_abort,
            reroute_dropped: self.reroute_dropped,
            metrics: cx.metrics.clone(),
            warn_limit: RateLimit::default(),
        }))
    }

    /// A program sees one event at a time and keeps nothing between them,
    /// so batches run on every core, as Vector runs `remap`.
    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        let mut outputs = vec![OutputDef::default_output(input)];
        if self.reroute_dropped {
            outputs.push(OutputDef::named(DROPPED_OUTPUT, input));
        }
        outputs
    }
}

struct Remap {
    id: String,
    program: Program,
    runtime: ProgramRuntime,
    drop_on_error: bool,
    drop_on_abort: bool,
    reroute_dropped: bool,
    metrics: Arc<ComponentMetrics>,
    warn_limit: RateLimit,
}

impl Transform for Remap {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let size = batch.byte_size();
        let count = batch.len().max(1);
        let finalizers = batch.finalizers.clone();
        let events = batch.take_events();
        let mut passed = Vec::with_capacity(events.len());
        let mut dropped = Vec::new();
        let mut discarded = 0;
        let mut first_failure: Option<String> = None;
        for event in events {
            let Err(failure) = self.program.run(event, &mut self.runtime, &mut passed) else {
                continue;
            };
            let Failure {
                reason,
                message,
                mut event,
            } = *failure;
            let drop = match reason {
                logbridge_vrl::FailureReason::Error => {
                    self.metrics.add_error();
                    self.drop_on_error
                }
                logbridge_vrl::FailureReason::Abort => self.drop_on_abort,
            };
            if first_failure.is_none() {
                first_failure = Some(format!("{}: {message}", reason.as_str()));
            }
            if !drop {
                passed.push(event);
            } else if self.reroute_dropped {
                annotate_dropped(&mut event, reason.as_str(), &message, &self.id);
                dropped.push(event);
            } else {
                discarded += 1;
            }
        }
        if let Some(failure) = first_failure
            && self.warn_limit.allow()
        {
            warn!(
                message = "The VRL program failed on events.",
                component_id = %self.id,
                error = %failure
            );
        }
        if discarded > 0 {
            self.metrics.add_discarded(discarded, false);
        }
        let passed_size = size * passed.len().min(count) / count;
        if !dropped.is_empty() {
            let dropped_size = size.saturating_sub(passed_size);
            out.push_named(
                DROPPED_OUTPUT,
                EventBatch::with_size(dropped, dropped_size).with_finalizers(finalizers.clone()),
            );
        }
        out.push(EventBatch::with_size(passed, passed_size).with_finalizers(finalizers));
    }
}

/// Records why an event was dropped where Vector records it.
fn annotate_dropped(event: &mut Event, reason: &str, message: &str, id: &str) {
    let fields = [
        ("reason", reason),
        ("message", message),
        ("component_id", id),
        ("component_type", "remap"),
        ("component_kind", "transform"),
    ];
    match event {
        Event::Log(log) => {
            let info: ObjectMap = fields
                .iter()
                .map(|(k, v)| (KeyString::from(*k), Value::from(*v)))
                .collect();
            let metadata = log
                .attributes
                .entry(KeyString::const_new("metadata"))
                .or_insert_with(|| Value::Object(ObjectMap::new()));
            if !matches!(metadata, Value::Object(_)) {
                *metadata = Value::Object(ObjectMap::new());
            }
            if let Value::Object(map) = metadata {
                map.insert(KeyString::const_new("dropped"), Value::Object(info));
            }
        }
        Event::Metric(metric) => {
            for (k, v) in fields {
                metric.labels.insert(
                    KeyString::from(format!("metadata.dropped.{k}")),
                    Value::from(v),
                );
            }
        }
        Event::Span(span) => {
            for (k, v) in fields {
                span.attributes.insert(
                    KeyString::from(format!("metadata.dropped.{k}")),
                    Value::from(v),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
