//! What a config section builds: the `*Config` traits, the build context and
//! build errors.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;

use logbridge_event::DataKind;

use crate::enrichment::EnrichmentTables;
use crate::telemetry::{ComponentKind, ComponentMetrics, Registry};
use crate::traits::{Sink, Source, Transform};

/// An output a component declares: `None` is the default output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDef {
    pub name: Option<String>,
    pub kinds: DataKind,
}

impl OutputDef {
    pub fn default_output(kinds: DataKind) -> OutputDef {
        OutputDef { name: None, kinds }
    }
    pub fn named(name: &str, kinds: DataKind) -> OutputDef {
        OutputDef {
            name: Some(name.to_owned()),
            kinds,
        }
    }
}

/// What building a component may need to know.
#[derive(Debug, Clone)]
pub struct BuildContext {
    pub id: String,
    /// The global `data_dir`.
    pub data_dir: PathBuf,
    /// The component's counters (transforms count what they discard here).
    pub metrics: Arc<ComponentMetrics>,
    /// The process's telemetry: every component's counters, and the views
    /// components publish for the admin API.
    pub registry: Arc<Registry>,
    /// The config's enrichment tables, for components that look data up.
    pub enrichment_tables: EnrichmentTables,
}

impl BuildContext {
    /// A context with fresh counters, for `validate` and tests.
    pub fn detached(id: &str, kind: ComponentKind, data_dir: PathBuf) -> BuildContext {
        BuildContext {
            id: id.to_owned(),
            data_dir,
            metrics: Arc::new(ComponentMetrics::new(id, kind, "")),
            registry: Registry::new(),
            enrichment_tables: EnrichmentTables::default(),
        }
    }

    /// The same context, with the config's enrichment tables.
    pub fn with_enrichment_tables(mut self, tables: EnrichmentTables) -> BuildContext {
        self.enrichment_tables = tables;
        self
    }

    /// This component's own state directory.
    pub fn component_dir(&self) -> PathBuf {
        self.data_dir.join(&self.id)
    }
}

/// An option that is well-formed but unusable (a regex that does not
/// compile, a condition with a syntax error, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// The option at fault, so the error can point at its line.
    pub option: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl BuildError {
    pub fn new(option: &str, message: impl Into<String>) -> BuildError {
        BuildError {
            option: Some(option.to_owned()),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> BuildError {
        self.hint = Some(hint.into());
        self
    }
}

pub trait SourceConfig: Debug + Send + Sync {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError>;
    fn outputs(&self) -> Vec<OutputDef>;
    /// Whether the source waits for sinks to acknowledge before committing
    /// its position.
    fn can_acknowledge(&self) -> bool {
        false
    }

    /// Whether clients push to it and wait for its answer (with
    /// acknowledgements on, it answers once the sinks have the data).
    fn answers_requests(&self) -> bool {
        false
    }
}

pub trait TransformConfig: Debug + Send + Sync {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError>;
    /// The kinds of events it accepts.
    fn input_kinds(&self) -> DataKind;
    /// Its outputs, given the kinds of events that reach it.
    fn outputs(&self, input: DataKind) -> Vec<OutputDef>;

    /// Whether each batch is handled independently of the others (no state
    /// kept between batches, no ticks). Such transforms run on several
    /// batches at once, on several cores, with the order of batches kept.
    fn is_stateless(&self) -> bool {
        false
    }

    /// How long it may hold an event before passing it on (`tail_sample`'s
    /// decision wait), when that is by design rather than by load.
    fn holds_events_secs(&self) -> Option<f64> {
        None
    }

    /// Problems that do not stop the transform from running (it works
    /// around them and reports them when it starts) but that
    /// `logbridge validate` reports as errors: say, one rule file of several
    /// that does not load.
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}

pub trait SinkConfig: Debug + Send + Sync {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError>;
    fn input_kinds(&self) -> DataKind;
}
