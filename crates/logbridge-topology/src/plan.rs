//! What a config asks the topology to run, as plain data: the components
//! with their kinds and outputs, one input queue per transform and sink
//! with its limits and the outputs that feed it, which transforms run
//! several instances and which sinks write through a disk buffer.
//!
//! Planning builds and starts nothing and reads nothing but the config, so
//! it is tested on its own, and a reload can compare the plans of two
//! configs. [`crate::Topology::start`] turns a plan into running tasks.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use logbridge_component::OutputDef;
use logbridge_component::WhenFull;
use logbridge_component::telemetry::ComponentKind;
use logbridge_config::{
    BufferConfig, BufferType, Config, DEFAULT_BUFFER_BYTES, DEFAULT_BUFFER_EVENTS,
    DEFAULT_DISK_BUFFER_BYTES,
};

/// Everything the topology starts for one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Sources, then transforms, then sinks, each in config order: the
    /// order they are built and started in.
    pub components: Vec<PlannedComponent>,
    /// The input queue of every transform and sink, in the same order.
    pub channels: Vec<PlannedChannel>,
    /// The global `data_dir`; each component keeps its state in
    /// `data_dir/<id>`.
    pub data_dir: PathBuf,
    /// How long a shutdown may take before what is left is aborted.
    pub shutdown_timeout: Duration,
}

/// One component to build and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedComponent {
    pub id: String,
    /// Its `type` in the config.
    pub type_name: String,
    pub role: Role,
    /// What it emits on, as consumers address it; none for a sink.
    pub outputs: Vec<OutputDef>,
}

/// What a component is, with what its kind decides about running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Source,
    Transform {
        /// Stateless: one instance per core, working on several batches
        /// at once (the order of batches kept).
        concurrent: bool,
    },
    Sink {
        /// The disk buffer its input queue is written through, if its
        /// `buffer.type` is `disk`.
        disk_buffer: Option<DiskBufferPlan>,
    },
}

/// A sink's disk buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskBufferPlan {
    /// `data_dir/<sink>/buffer`.
    pub dir: PathBuf,
    /// Bytes of unacknowledged records it holds.
    pub max_size: u64,
    pub when_full: WhenFull,
}

/// The input queue of a transform or sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChannel {
    /// The transform or sink it feeds.
    pub consumer: String,
    /// The outputs it reads, in the order of the consumer's `inputs`.
    pub producers: Vec<OutputRef>,
    pub max_events: usize,
    pub max_bytes: usize,
    pub when_full: WhenFull,
}

/// An output of a source or transform: `id` (the default output) or
/// `id.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OutputRef {
    pub component: String,
    /// `None` for the default output.
    pub output: Option<String>,
}

impl OutputRef {
    /// Reads an entry of `inputs`: `id` or `id.name`.
    pub fn parse(input: &str) -> OutputRef {
        match input.split_once('.') {
            Some((component, output)) => OutputRef {
                component: component.to_owned(),
                output: Some(output.to_owned()),
            },
            None => OutputRef {
                component: input.to_owned(),
                output: None,
            },
        }
    }
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.output {
            Some(name) => write!(f, "{}.{name}", self.component),
            None => f.write_str(&self.component),
        }
    }
}

impl PlannedComponent {
    pub fn kind(&self) -> ComponentKind {
        match self.role {
            Role::Source => ComponentKind::Source,
            Role::Transform { .. } => ComponentKind::Transform,
            Role::Sink { .. } => ComponentKind::Sink,
        }
    }
}

impl Plan {
    pub fn component(&self, id: &str) -> Option<&PlannedComponent> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The input queue of a transform or sink.
    pub fn channel(&self, consumer: &str) -> Option<&PlannedChannel> {
        self.channels.iter().find(|c| c.consumer == consumer)
    }

    /// The transforms and sinks that read `output`, in plan order.
    pub fn consumers_of(&self, output: &OutputRef) -> Vec<&str> {
        self.channels
            .iter()
            .filter(|c| c.producers.contains(output))
            .map(|c| c.consumer.as_str())
            .collect()
    }
}

/// What `config` asks to run.
pub fn plan(config: &Config) -> Plan {
    let mut components = Vec::new();
    let mut channels = Vec::new();
    for (id, spec) in &config.sources {
        components.push(PlannedComponent {
            id: id.clone(),
            type_name: spec.type_name.clone(),
            role: Role::Source,
            outputs: spec.config.outputs(),
        });
    }
    // Transforms get the default queue; a sink's queue is its `buffer`.
    let default_buffer = BufferConfig::default();
    for (id, spec) in &config.transforms {
        components.push(PlannedComponent {
            id: id.clone(),
            type_name: spec.type_name.clone(),
            role: Role::Transform {
                concurrent: spec.config.is_stateless(),
            },
            outputs: spec.config.outputs(spec.input_kinds),
        });
        channels.push(channel(id, &spec.inputs, &default_buffer));
    }
    for (id, spec) in &config.sinks {
        let disk_buffer = (spec.buffer.kind == BufferType::Disk).then(|| DiskBufferPlan {
            dir: config.data_dir.join(id).join("buffer"),
            max_size: spec.buffer.max_size.unwrap_or(DEFAULT_DISK_BUFFER_BYTES),
            when_full: spec.buffer.when_full,
        });
        // A disk buffer is fed by a default memory queue; its own limits
        // apply on disk.
        let queue = if disk_buffer.is_some() {
            &default_buffer
        } else {
            &spec.buffer
        };
        channels.push(channel(id, &spec.inputs, queue));
        components.push(PlannedComponent {
            id: id.clone(),
            type_name: spec.type_name.clone(),
            role: Role::Sink { disk_buffer },
            outputs: Vec::new(),
        });
    }
    Plan {
        components,
        channels,
        data_dir: config.data_dir.clone(),
        shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
    }
}

fn channel(consumer: &str, inputs: &[String], buffer: &BufferConfig) -> PlannedChannel {
    PlannedChannel {
        consumer: consumer.to_owned(),
        producers: inputs.iter().map(|i| OutputRef::parse(i)).collect(),
        max_events: buffer.max_events.unwrap_or(DEFAULT_BUFFER_EVENTS),
        max_bytes: usize::try_from(buffer.max_size.unwrap_or(DEFAULT_BUFFER_BYTES))
            .unwrap_or(usize::MAX),
        when_full: buffer.when_full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::{
        BuildContext, BuildError, DROPPED_OUTPUT, Sink, SinkConfig, Source, SourceConfig,
        Transform, TransformConfig,
    };
    use logbridge_config::{Origin, SinkSpec, SourceSpec, TransformSpec};
    use logbridge_event::DataKind;

    /// Configs that are planned, never built.
    #[derive(Debug)]
    struct Logs;

    impl SourceConfig for Logs {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
            Err(BuildError::new("type", "not for running"))
        }
        fn outputs(&self) -> Vec<OutputDef> {
            vec![OutputDef::default_output(DataKind::LOG)]
        }
    }

    /// A parse-like transform: stateless, with a `dropped` output.
    #[derive(Debug)]
    struct Parse {
        stateless: bool,
    }

    impl TransformConfig for Parse {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
            Err(BuildError::new("type", "not for running"))
        }
        fn input_kinds(&self) -> DataKind {
            DataKind::LOG
        }
        fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
            vec![
                OutputDef::default_output(input),
                OutputDef::named(DROPPED_OUTPUT, input),
            ]
        }
        fn is_stateless(&self) -> bool {
            self.stateless
        }
    }

    #[derive(Debug)]
    struct Out;

    impl SinkConfig for Out {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
            Err(BuildError::new("type", "not for running"))
        }
        fn input_kinds(&self) -> DataKind {
            DataKind::ALL
        }
    }

    fn origin() -> Origin {
        Origin {
            file: "p.toml".into(),
            line: None,
            inputs_line: None,
        }
    }

    fn source(config: &mut Config, id: &str) {
        let spec = SourceSpec {
            type_name: "logs".into(),
            config: Box::new(Logs),
            origin: origin(),
        };
        config.sources.insert(id.into(), spec);
    }

    fn transform(config: &mut Config, id: &str, inputs: &[&str], stateless: bool) {
        let spec = TransformSpec {
            type_name: "parse".into(),
            config: Box::new(Parse { stateless }),
            inputs: inputs.iter().map(|i| i.to_string()).collect(),
            origin: origin(),
            input_kinds: DataKind::LOG,
        };
        config.transforms.insert(id.into(), spec);
    }

    fn sink(config: &mut Config, id: &str, inputs: &[&str], buffer: BufferConfig) {
        let spec = SinkSpec {
            type_name: "out".into(),
            config: Box::new(Out),
            inputs: inputs.iter().map(|i| i.to_string()).collect(),
            origin: origin(),
            buffer,
        };
        config.sinks.insert(id.into(), spec);
    }

    fn output(component: &str, output: Option<&str>) -> OutputRef {
        OutputRef {
            component: component.into(),
            output: output.map(str::to_owned),
        }
    }

    /// app -> parsed -> (store, audit); parsed.dropped -> dead.
    fn pipeline() -> Config {
        let mut config = Config {
            data_dir: "/data".into(),
            shutdown_timeout_secs: 7,
            ..Config::default()
        };
        source(&mut config, "app");
        transform(&mut config, "parsed", &["app"], true);
        transform(&mut config, "tally", &["app"], false);
        sink(&mut config, "store", &["parsed"], BufferConfig::default());
        let small = BufferConfig {
            max_events: Some(10),
            max_size: Some(1000),
            when_full: WhenFull::DropNewest,
            ..BufferConfig::default()
        };
        sink(&mut config, "audit", &["parsed", "tally"], small);
        let disk = BufferConfig {
            kind: BufferType::Disk,
            max_size: Some(1 << 20),
            ..BufferConfig::default()
        };
        sink(&mut config, "dead", &["parsed.dropped"], disk);
        config
    }

    #[test]
    fn components_in_start_order_with_their_kinds_and_outputs() {
        let plan = plan(&pipeline());
        let ids: Vec<(&str, ComponentKind)> = plan
            .components
            .iter()
            .map(|c| (c.id.as_str(), c.kind()))
            .collect();
        assert_eq!(
            ids,
            [
                ("app", ComponentKind::Source),
                ("parsed", ComponentKind::Transform),
                ("tally", ComponentKind::Transform),
                ("store", ComponentKind::Sink),
                ("audit", ComponentKind::Sink),
                ("dead", ComponentKind::Sink),
            ]
        );
        let parsed = plan.component("parsed").unwrap();
        assert_eq!(parsed.type_name, "parse");
        assert_eq!(
            parsed.outputs,
            [
                OutputDef::default_output(DataKind::LOG),
                OutputDef::named("dropped", DataKind::LOG)
            ]
        );
        assert!(plan.component("store").unwrap().outputs.is_empty());
        assert_eq!(plan.data_dir, PathBuf::from("/data"));
        assert_eq!(plan.shutdown_timeout, Duration::from_secs(7));
    }

    #[test]
    fn fan_out_gives_every_consumer_its_own_queue() {
        let plan = plan(&pipeline());
        assert_eq!(plan.consumers_of(&output("app", None)), ["parsed", "tally"]);
        assert_eq!(
            plan.consumers_of(&output("parsed", None)),
            ["store", "audit"]
        );
        let consumers: Vec<&str> = plan.channels.iter().map(|c| c.consumer.as_str()).collect();
        assert_eq!(consumers, ["parsed", "tally", "store", "audit", "dead"]);
        assert_eq!(
            plan.channel("audit").unwrap().producers,
            [output("parsed", None), output("tally", None)]
        );
    }

    #[test]
    fn a_named_output_is_wired_apart_from_the_default_one() {
        let plan = plan(&pipeline());
        let dropped = output("parsed", Some("dropped"));
        assert_eq!(dropped.to_string(), "parsed.dropped");
        assert_eq!(OutputRef::parse("parsed.dropped"), dropped);
        assert_eq!(plan.consumers_of(&dropped), ["dead"]);
        assert!(!plan.consumers_of(&output("parsed", None)).contains(&"dead"));
        assert!(
            plan.consumers_of(&output("tally", Some("dropped")))
                .is_empty()
        );
    }

    #[test]
    fn queues_take_the_sinks_buffer_limits() {
        let plan = plan(&pipeline());
        let audit = plan.channel("audit").unwrap();
        assert_eq!(
            (audit.max_events, audit.max_bytes, audit.when_full),
            (10, 1000, WhenFull::DropNewest)
        );
        for id in ["parsed", "tally", "store"] {
            let c = plan.channel(id).unwrap();
            assert_eq!(
                (c.max_events, c.max_bytes, c.when_full),
                (DEFAULT_BUFFER_EVENTS, 16 << 20, WhenFull::Block),
                "{id}"
            );
        }
    }

    #[test]
    fn a_disk_buffered_sink_reads_a_default_queue_into_its_buffer() {
        let plan = plan(&pipeline());
        assert_eq!(
            plan.component("dead").unwrap().role,
            Role::Sink {
                disk_buffer: Some(DiskBufferPlan {
                    dir: "/data/dead/buffer".into(),
                    max_size: 1 << 20,
                    when_full: WhenFull::Block,
                })
            }
        );
        let queue = plan.channel("dead").unwrap();
        assert_eq!(
            (queue.max_events, queue.max_bytes, queue.when_full),
            (DEFAULT_BUFFER_EVENTS, 16 << 20, WhenFull::Block)
        );
        assert_eq!(
            plan.component("store").unwrap().role,
            Role::Sink { disk_buffer: None }
        );
    }

    #[test]
    fn only_stateless_transforms_run_concurrently() {
        let plan = plan(&pipeline());
        assert_eq!(
            plan.component("parsed").unwrap().role,
            Role::Transform { concurrent: true }
        );
        assert_eq!(
            plan.component("tally").unwrap().role,
            Role::Transform { concurrent: false }
        );
    }

    #[test]
    fn the_same_config_plans_the_same() {
        assert_eq!(plan(&pipeline()), plan(&pipeline()));
        let mut other = pipeline();
        other.sinks.shift_remove("audit");
        assert_ne!(plan(&pipeline()), plan(&other));
    }
}
