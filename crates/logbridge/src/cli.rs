//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// logbridge moves logs, metrics and traces from where they are produced to
/// where they are stored, transforming them on the way.
#[derive(Debug, Parser)]
#[command(name = "logbridge", version, about, long_about = None, disable_help_subcommand = false)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline.
    Run(RunArgs),
    /// Check configuration files and report every problem.
    Validate(ConfigArgs),
    /// Print the configuration reference (Markdown), generated from the
    /// component definitions.
    ConfigReference,
    /// Look at a sink's disk buffer.
    #[command(subcommand)]
    Buffer(BufferCommand),
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
    #[arg(short, long = "config", required = true, num_args = 1.., env = "LOGBRIDGE_CONFIG", value_delimiter = ',')]
    pub config: Vec<PathBuf>,
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
