//! The `logbridge` binary: command line, exit codes, signals and wiring.
//! Glue only: the work happens in the library crates.

mod cli;
#[cfg(feature = "vrl")]
mod config_tests;
mod memory;
mod reference;
mod registry;
mod seed;
#[cfg(feature = "rules")]
mod test_files;
mod vector;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use logbridge_component::ShutdownSignal;
use logbridge_component::telemetry::Registry;
use logbridge_config::{Config, ConfigErrors};
use logbridge_topology::{Health, Topology};
use tracing::{error, info};

#[cfg(any(feature = "rules", feature = "vrl"))]
use crate::cli::TestCommand;
use crate::cli::{BufferCommand, Cli, Command, RunArgs};
use crate::registry::COMPONENTS;

// Events are many small allocations (maps, keys, values) made on one thread
// and freed on another; mimalloc handles that pattern much better than the
// system allocator (see scripts/bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits.h EX_CONFIG: the configuration is invalid.
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    memory::keep_heap_in_small_pages();
    let cli = Cli::parse();
    init_logging();
    raise_open_files_limit();
    match cli.command {
        Some(Command::Run(args)) => run(*args),
        None => run(cli.run),
        Some(Command::Validate(args)) => validate(&args.config),
        Some(Command::ConfigReference) => {
            print!("{}", reference::markdown(&COMPONENTS));
            ExitCode::SUCCESS
        }
        Some(Command::Buffer(BufferCommand::Inspect { dir })) => inspect_buffer(&dir),
        #[cfg(feature = "vrl")]
        Some(Command::Test(TestCommand::Config { files, verbose })) => {
            config_tests::run(&files, verbose)
        }
        #[cfg(feature = "rules")]
        Some(Command::Test(TestCommand::Promql { files, verbose })) => {
            test_files::promql(&files, verbose)
        }
        #[cfg(feature = "rules")]
        Some(Command::Test(TestCommand::Rules { files, verbose })) => {
            test_files::rules(&files, verbose)
        }
    }
}

/// Raises the soft limit on open files to the hard one: every connection,
/// file and socket takes a descriptor, and the common soft default (1024)
/// lets a few hundred clients starve every listener, the admin server
/// included. Listeners bound their connections (`max_connections`) within
/// what this gives.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(error) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::warn!(message = "Cannot raise the open files limit.", soft, hard, %error);
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(message = "Cannot read the open files limit.", %error),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn inspect_buffer(dir: &std::path::Path) -> ExitCode {
    match logbridge_buffer::disk::inspect(dir) {
        Ok(report) => match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot render the report: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: cannot read the buffer in {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn report(errors: &ConfigErrors) {
    let n = errors.error_count();
    eprintln!("{errors}");
    eprintln!(
        "\n{n} error{} in the configuration.",
        if n == 1 { "" } else { "s" }
    );
}

fn validate(paths: &[std::path::PathBuf]) -> ExitCode {
    match logbridge_config::load_files(&COMPONENTS, paths) {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("{warning}");
            }
            let mut problems = 0;
            for (id, spec) in &config.transforms {
                for problem in spec.config.problems() {
                    let line = spec.origin.line.map_or(String::new(), |l| format!(":{l}"));
                    eprintln!(
                        "{}{line}: error: in `{id}`: {problem}",
                        spec.origin.file.display()
                    );
                    problems += 1;
                }
            }
            if problems > 0 {
                eprintln!(
                    "\n{problems} error{} in the configuration.",
                    if problems == 1 { "" } else { "s" }
                );
                return ExitCode::from(EXIT_CONFIG);
            }
            let warnings = match config.warnings.len() {
                0 => String::new(),
                1 => " (1 warning)".to_owned(),
                n => format!(" ({n} warnings)"),
            };
            println!(
                "Configuration is valid: {} source(s), {} transform(s), {} sink(s){warnings}.",
                config.sources.len(),
                config.transforms.len(),
                config.sinks.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            report(&errors);
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let flags_config = match seed::config_from_flags(&args.seed) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.seed.print_config {
        return match &flags_config {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "error: --print-config shows the config of pipeline flags such as --input-kafka; none were given"
                );
                ExitCode::from(EXIT_CONFIG)
            }
        };
    }
    let loaded = match (&flags_config, args.config.is_empty()) {
        (Some(text), _) => logbridge_config::load_str(
            &COMPONENTS,
            std::path::Path::new("<command-line flags>"),
            text,
            &|name| std::env::var(name).ok(),
        ),
        (None, false) => logbridge_config::load_files(&COMPONENTS, &args.config),
        (None, true) => {
            eprintln!(
                "error: nothing to run: pass -c CONFIG, or pipeline flags such as --input-kafka and --output-s3 (see --help)"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut config: Config = match loaded {
        Ok(c) => c,
        Err(errors) => {
            report(&errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &config.warnings {
        tracing::warn!(message = "Configuration warning.", warning = %warning);
    }
    if let Some(address) = args.admin_address {
        config.admin.address = address;
        config.admin.enabled = true;
    }
    if args.no_admin {
        config.admin.enabled = false;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("logbridge")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_pipeline(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(message = "logbridge stopped with an error.", error = %e);
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_pipeline(config: Config) -> anyhow::Result<()> {
    let registry = Registry::new();
    let health = Arc::new(Health::default());
    let stop = ShutdownSignal::new();
    let admin_stop = ShutdownSignal::new();

    let admin = if config.admin.enabled {
        let topology = logbridge_admin::describe(&config);
        let (addr, server) = logbridge_admin::bind(
            config.admin.address,
            registry.clone(),
            health.clone(),
            topology,
            admin_stop.clone(),
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on the admin address {}: {e} (set [admin] address, pass --admin-address, or disable it with --no-admin)",
                config.admin.address
            )
        })?;
        info!(message = "Admin server listening.", address = %addr);
        Some(tokio::spawn(server))
    } else {
        None
    };

    let topology = Topology::build(&config, &registry, health.clone())?;
    memory::release_startup_pages();
    info!(
        message = "Pipeline started.",
        sources = config.sources.len(),
        transforms = config.transforms.len(),
        sinks = config.sinks.len()
    );
    tokio::spawn(watch_signals(stop.clone()));
    let result = topology.run(stop).await;
    admin_stop.trigger();
    if let Some(handle) = admin {
        let _ = handle.await;
    }
    result?;
    info!(message = "Pipeline stopped.");
    Ok(())
}

/// The first SIGINT or SIGTERM drains gracefully; a second one exits at
/// once.
async fn watch_signals(stop: ShutdownSignal) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        error!(message = "Cannot install signal handlers; stop the process with SIGKILL.");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    info!(message = "Signal received; shutting down gracefully. Send it again to exit at once.");
    stop.trigger();
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    error!(message = "Second signal received; exiting now.");
    std::process::exit(130);
}
