//! Compiling a VRL program once, and running it over events.
//!
//! A compile error carries VRL's own diagnostic (with its caret under the
//! fault) and the line of the program it points at, so configuration
//! errors can name the config file's line. Running never panics on
//! input: a runtime error or `abort` comes back as a [`Failure`] holding
//! the event as it was before the program touched it.

use std::sync::Arc;

use logbridge_event::Event;
use vrl::compiler::runtime::{Runtime, Terminate};
use vrl::compiler::state::RuntimeState;
use vrl::compiler::{CompileConfig, Function, TimeZone, TypeState};
use vrl::diagnostic::Formatter;
use vrl::path::PathPrefix;
use vrl::value::Value as VrlValue;

use crate::enrichment::Tables;
use crate::target::{EventTarget, Reach};

/// A program that did not compile.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// The first error's message, one line.
    pub message: String,
    /// VRL's diagnostic: the program's lines with a caret under each fault.
    pub rendered: String,
    /// The 0-based line within the program of the first fault.
    pub line: Option<usize>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What to compile against.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// VRL's `timezone` (`local` or an IANA name) for functions that parse
    /// or format times without one; UTC when unset.
    pub timezone: Option<String>,
    /// Enrichment tables for `get_enrichment_table_record` and
    /// `find_enrichment_table_records`.
    pub tables: Option<Arc<Tables>>,
}

/// A compiled program, cheap to clone and share.
#[derive(Debug, Clone)]
pub struct Program {
    program: Arc<vrl::compiler::Program>,
    timezone: TimeZone,
    uses_metadata: bool,
    /// Which of a log's fields the program can see.
    reach: Reach,
    /// Whether a run can fail, so the event must be kept to route it.
    can_fail: bool,
    result_is_boolean: bool,
}

/// Why a run produced no events.
#[derive(Debug)]
pub struct Failure {
    pub reason: FailureReason,
    /// VRL's message (for `abort` with a message, that message).
    pub message: String,
    /// The event as it came in.
    pub event: Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// A runtime error, or a value the event cannot hold.
    Error,
    /// The program called `abort`.
    Abort,
}

impl FailureReason {
    /// As Vector names it in `metadata.dropped.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Error => "error",
            FailureReason::Abort => "abort",
        }
    }
}

/// Every function a program may call: VRL's standard library (without
/// network access, and `parse_json` on logbridge's parser), the
/// enrichment-table functions and Vector's secret functions.
fn functions(tables: Option<Arc<Tables>>) -> Vec<Box<dyn Function>> {
    let mut fns = vrl::stdlib::all();
    fns.retain(|f| f.identifier() != crate::json::ParseJson.identifier());
    fns.push(Box::new(crate::json::ParseJson));
    fns.extend(crate::enrichment::functions(tables));
    fns.extend(crate::secrets::functions());
    fns
}

impl Program {
    /// Compiles `source`. Warnings are not errors.
    pub fn compile(source: &str, options: &CompileOptions) -> Result<Program, CompileError> {
        let timezone = match &options.timezone {
            None => TimeZone::default(),
            Some(name) => TimeZone::parse(name).ok_or_else(|| CompileError {
                message: format!("`{name}` is not a time zone (use `local` or an IANA name such as `Europe/Paris`)"),
                rendered: String::new(),
                line: None,
            })?,
        };
        let fns = functions(options.tables.clone());
        let state = TypeState::default();
        let mut config = CompileConfig::default();
        // An expression whose value is unused is a warning, not an error.
        config.disable_unused_expression_check();
        let compiled = vrl::compiler::compile_with_state(source, &fns, &state, config).map_err(
            |diagnostics| {
                let first = diagnostics.errors().first().map(|d| {
                    let offset = d
                        .labels()
                        .iter()
                        .find(|l| l.primary)
                        .map(|l| l.span.start());
                    (d.message().to_owned(), offset)
                });
                let (message, offset) = first.unwrap_or_else(|| ("invalid program".into(), None));
                CompileError {
                    message,
                    rendered: Formatter::new(source, diagnostics).to_string(),
                    line: offset.map(|o| source[..o.min(source.len())].matches('\n').count()),
                }
            },
        )?;
        let program = compiled.program;
        let info = program.info();
        let uses_metadata = info
            .target_queries
            .iter()
            .chain(&info.target_assignments)
            .any(|p| p.prefix == PathPrefix::Metadata);
        // `unnest` reads `.` whole while VRL records only its path; a
        // mention anywhere (even in a string) just costs the shortcut.
        let reach = Reach::of(info, source.contains("unnest"));
        let can_fail = info.fallible || info.abortable;
        let result_is_boolean = program.final_type_info().result.is_boolean();
        Ok(Program {
            program: Arc::new(program),
            timezone,
            uses_metadata,
            reach,
            can_fail,
            result_is_boolean,
        })
    }

    /// Whether the program always evaluates to a boolean (what a
    /// condition must do).
    pub fn returns_boolean(&self) -> bool {
        self.result_is_boolean
    }

    /// Runs the program over `event`, pushing what comes out (none, one,
    /// or one per element of an array) to `out`.
    pub fn run(
        &self,
        event: Event,
        runtime: &mut ProgramRuntime,
        out: &mut Vec<Event>,
    ) -> Result<(), Box<Failure>> {
        // The event is kept only when the program can fail, so that a
        // failure can hand it on as it came.
        let mut target = EventTarget::new(event, self.uses_metadata, &self.reach, self.can_fail);
        let result = runtime
            .runtime
            .resolve(&mut target, &self.program, &self.timezone);
        runtime.runtime.clear();
        let failure = |reason, message: String, original: Option<Event>| {
            Box::new(Failure {
                reason,
                message,
                event: original.unwrap_or_else(|| Event::Log(Default::default())),
            })
        };
        match result {
            Ok(_) => {
                // Putting the event back can fail only where the program
                // reached a log's metadata, a metric or a span, whose
                // originals are whole copies.
                let kept = target.take_whole_original();
                target
                    .into_events(out)
                    .map_err(|message| failure(FailureReason::Error, message, kept))
            }
            Err(Terminate::Abort(e)) => Err(failure(
                FailureReason::Abort,
                abort_message(e),
                target.into_original(),
            )),
            Err(e) => Err(failure(
                FailureReason::Error,
                e.to_string(),
                target.into_original(),
            )),
        }
    }

    /// Runs the program over an empty event and returns what it left in
    /// `.` and `%`: how Vector's config tests build an input from a
    /// program.
    pub fn build_values(&self) -> Result<(logbridge_event::Value, logbridge_event::Value), String> {
        let mut target = vrl::compiler::TargetValue {
            value: VrlValue::Object(Default::default()),
            metadata: VrlValue::Object(Default::default()),
            secrets: Default::default(),
        };
        let mut runtime = Runtime::new(RuntimeState::default());
        runtime
            .resolve(&mut target, &self.program, &self.timezone)
            .map_err(|e| e.to_string())?;
        Ok((
            crate::value::convert_out(target.value),
            crate::value::convert_out(target.metadata),
        ))
    }

    /// Evaluates the program as a condition over a copy of `event`: true
    /// only when it returns `true`. `Err` carries a runtime error.
    pub fn check(&self, event: &Event, runtime: &mut ProgramRuntime) -> Result<bool, String> {
        let mut target = EventTarget::copied(event, self.uses_metadata, &self.reach);
        let result = runtime
            .runtime
            .resolve(&mut target, &self.program, &self.timezone);
        runtime.runtime.clear();
        match result {
            Ok(VrlValue::Boolean(b)) => Ok(b),
            Ok(other) => Err(format!("the condition returned {other}, not a boolean")),
            Err(Terminate::Abort(e)) => Err(abort_message(e)),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn abort_message(e: vrl::compiler::ExpressionError) -> String {
    match e {
        vrl::compiler::ExpressionError::Abort {
            message: Some(m), ..
        } => m,
        other => other.to_string(),
    }
}

/// The mutable state one running copy of a program needs (its local
/// variables). One per transform instance; not shared between threads.
#[derive(Debug)]
pub struct ProgramRuntime {
    runtime: Runtime,
}

impl Default for ProgramRuntime {
    fn default() -> Self {
        ProgramRuntime {
            runtime: Runtime::new(RuntimeState::default()),
        }
    }
}

#[cfg(test)]
mod tests;
