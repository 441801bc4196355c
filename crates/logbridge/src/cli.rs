//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// logbridge moves logs, metrics and traces from where they are produced to
/// where they are stored, transforming them on the way.
///
/// Without a subcommand, the flags describe a pipeline to run, e.g.
/// `logbridge --input-kafka=127.0.0.1:9092 --kafka-topic=logs
/// --output-s3=s3://logs-bucket/app --admin-address=127.0.0.1:8080`.
#[derive(Debug, Parser)]
#[command(name = "logbridge", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline.
    Run(Box<RunArgs>),
    /// Check configuration files and report every problem.
    Validate(ConfigArgs),
    /// Print the configuration reference (Markdown), generated from the
    /// component definitions.
    ConfigReference,
    /// Look at a sink's disk buffer.
    #[command(subcommand)]
    Buffer(BufferCommand),
    /// Run test files: rules engine tests, and config unit tests.
    #[cfg(any(feature = "rules", feature = "vrl"))]
    #[command(subcommand)]
    Test(TestCommand),
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run the unit tests of config files in Vector's format (`tests` with
    /// `inputs`, `outputs` and VRL `conditions`) and print the tests
    /// passed, failed and skipped per file, then in total.
    #[cfg(feature = "vrl")]
    Config {
        /// The config files (TOML, YAML or JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list the skipped tests and why.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run PromQL test files in Prometheus' `promqltest` format and print
    /// the cases passed, failed and skipped per file, then in total.
    #[cfg(feature = "rules")]
    Promql {
        /// The `.test` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list the skipped cases and why.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Run rule unit tests in the `promtool test rules` format and print the
    /// cases passed, failed and skipped per file, then in total.
    #[cfg(feature = "rules")]
    Rules {
        /// The test files (YAML); their `rule_files` are relative to them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list the skipped cases and why.
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BufferCommand {
    /// Report a disk buffer's state and damage as JSON, changing nothing:
    /// segments, bytes, records not yet acknowledged, damaged records and
    /// quarantined files. DIR is `data_dir/<sink>/buffer`.
    Inspect {
        /// The buffer's folder.
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Configuration files (TOML, or YAML by extension); several are merged.
    #[arg(short, long = "config", required = true, num_args = 1.., env = "LOGBRIDGE_CONFIG", value_delimiter = ',')]
    pub config: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration files (TOML, or YAML by extension); several are merged.
    /// Not with the pipeline flags below.
    #[arg(short, long = "config", num_args = 1.., env = "LOGBRIDGE_CONFIG", value_delimiter = ',', conflicts_with_all = ["input_kafka", "output_s3", "output_kafka"])]
    pub config: Vec<PathBuf>,
    #[command(flatten)]
    pub seed: SeedArgs,
    /// Serve the admin API here instead of the configured address.
    #[arg(long)]
    pub admin_address: Option<SocketAddr>,
    /// Do not start the admin server.
    #[arg(long, conflicts_with = "admin_address")]
    pub no_admin: bool,
    /// Keep state (checkpoints, buffers) here instead of the configured
    /// `data_dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// A pipeline from flags alone, without a config file.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
#[command(next_help_heading = "Pipeline from flags")]
pub struct SeedArgs {
    /// Read from Kafka: bootstrap servers, `host:port[,host:port...]`.
    #[arg(long, value_name = "BROKERS")]
    pub input_kafka: Option<String>,
    /// Topics to read (comma-separated; `^regex` for a pattern).
    #[arg(long, value_name = "TOPIC", value_delimiter = ',')]
    pub kafka_topic: Vec<String>,
    /// The consumer group.
    #[arg(long, value_name = "GROUP", default_value = "logbridge")]
    pub kafka_group: String,
    /// How Kafka record payloads are decoded: text, json, logfmt or otlp.
    #[arg(long, value_name = "CODEC", default_value = "text")]
    pub decoding: String,
    /// Write objects to S3 (`s3://BUCKET/PREFIX`; endpoint and credentials
    /// from the AWS_* variables and files) or to a local folder with the
    /// same layout (`file:///PATH`).
    #[arg(long, value_name = "URL")]
    pub output_s3: Option<String>,
    /// Write records to Kafka: bootstrap servers.
    #[arg(long, value_name = "BROKERS")]
    pub output_kafka: Option<String>,
    /// The topic for --output-kafka (a template: `logs-{{ service }}`).
    #[arg(long, value_name = "TOPIC")]
    pub output_kafka_topic: Option<String>,
    /// Put a disk buffer in front of each output (under --data-dir).
    #[arg(long)]
    pub disk_buffer: bool,
    /// Print the config the flags stand for, and exit.
    #[arg(long)]
    pub print_config: bool,
}
