//! The validated pipeline description that the topology builds from.

use std::net::SocketAddr;
use std::path::PathBuf;

use indexmap::IndexMap;
use logbridge_component::enrichment::EnrichmentTables;
use logbridge_component::{OutputDef, SinkConfig, SourceConfig, TransformConfig};
use logbridge_event::DataKind;

/// Where a component was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    /// The line of the component's header.
    pub line: Option<usize>,
    /// The line of its `inputs` option.
    pub inputs_line: Option<usize>,
}

/// `[admin]`: the HTTP server for metrics, health and the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub enabled: bool,
    pub address: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            address: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

#[derive(Debug)]
pub struct SourceSpec {
    pub type_name: String,
    pub config: Box<dyn SourceConfig>,
    pub origin: Origin,
}

#[derive(Debug)]
pub struct TransformSpec {
    pub type_name: String,
    pub config: Box<dyn TransformConfig>,
    pub inputs: Vec<String>,
    pub origin: Origin,
    /// The kinds of events that reach it, from its inputs.
    pub input_kinds: DataKind,
}

#[derive(Debug)]
pub struct SinkSpec {
    pub type_name: String,
    pub config: Box<dyn SinkConfig>,
    pub inputs: Vec<String>,
    pub origin: Origin,
    pub buffer: BufferConfig,
}

/// Where a buffer keeps events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferType {
    #[default]
    Memory,
    Disk,
}

/// What a full buffer does (`block`, `drop_newest`): the type channels and
/// disk buffers take.
pub use logbridge_component::WhenFull;

/// `buffer` of a sink: the queue in front of it (Vector's option names).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    #[serde(rename = "type", default)]
    pub kind: BufferType,
    /// Memory buffers: the most events queued.
    pub max_events: Option<usize>,
    /// The most bytes queued.
    pub max_size: Option<u64>,
    #[serde(default)]
    pub when_full: WhenFull,
}

/// Default capacity of a disk buffer.
pub const DEFAULT_DISK_BUFFER_BYTES: u64 = 256 * 1024 * 1024;

/// Default capacity of a memory buffer.
pub const DEFAULT_BUFFER_EVENTS: usize = 512;
pub const DEFAULT_BUFFER_BYTES: u64 = 16 * 1024 * 1024;

/// A whole pipeline.
#[derive(Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub admin: AdminConfig,
    pub shutdown_timeout_secs: u64,
    pub sources: IndexMap<String, SourceSpec>,
    pub transforms: IndexMap<String, TransformSpec>,
    pub sinks: IndexMap<String, SinkSpec>,
    /// `[enrichment_tables.NAME]`, for VRL lookups.
    pub enrichment_tables: EnrichmentTables,
    /// Problems that did not stop the config from loading (an option that
    /// has no effect in logbridge, say), each with its file and line.
    pub warnings: Vec<crate::ConfigError>,
}

impl Config {
    /// The outputs of a source or transform.
    pub fn outputs_of(&self, id: &str) -> Option<Vec<OutputDef>> {
        if let Some(s) = self.sources.get(id) {
            return Some(s.config.outputs());
        }
        self.transforms
            .get(id)
            .map(|t| t.config.outputs(t.input_kinds))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("/var/lib/logbridge"),
            admin: AdminConfig::default(),
            shutdown_timeout_secs: 30,
            sources: IndexMap::new(),
            transforms: IndexMap::new(),
            sinks: IndexMap::new(),
            enrichment_tables: EnrichmentTables::default(),
            warnings: Vec::new(),
        }
    }
}
