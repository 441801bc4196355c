//! Turns config files into a validated pipeline description.
//!
//! Loading reads each file (TOML, or YAML by extension), interpolates
//! `${VAR}` / `${VAR:-default}` from the environment, parses every component
//! through the [`Registry`] the caller passes (the binary holds the list of
//! component types; this crate depends on no component), builds it once to
//! surface option errors (bad conditions, regexes, templates), merges the
//! files and checks the graph (inputs, outputs, cycles, data kinds). Every
//! problem is collected with its file, line and a hint, so `logbridge
//! validate` reports them all at once.
//!
//! Vector configs load as they are wherever logbridge has the components:
//! wildcard `inputs`, `[api]`, `acknowledgements` and a sink's
//! `healthcheck` are taken (`globals`, `vector`, `wildcard`), and what
//! logbridge lacks is named as such, with a hint.

mod error;
mod globals;
mod graph;
mod interpolate;
mod load;
mod model;
mod positions;
mod redact;
pub mod registry;
mod suggest;
mod vector;
mod wildcard;

pub use error::{ConfigError, ConfigErrors, Severity};
pub use load::{load_files, load_str};
pub use model::{
    AdminConfig, BufferConfig, BufferType, Config, DEFAULT_BUFFER_BYTES, DEFAULT_BUFFER_EVENTS,
    DEFAULT_DISK_BUFFER_BYTES, Origin, SinkSpec, SourceSpec, TransformSpec, WhenFull,
};
pub use registry::{ComponentType, LeftOut, Registry, VectorComponent, VectorOption};
