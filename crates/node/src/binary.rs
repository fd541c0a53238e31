//! What the workspace's binaries (`sectwin`, `sectwin-bench`) do around
//! their command: logs to stderr (filtered by `RUST_LOG`, `warn` when it is
//! unset or invalid; as text, or as one JSON object a line with the
//! request's span and id), a multi-threaded runtime to run the command on, two
//! seconds for the tasks still running to stop, and an error turned into its
//! message on stderr and a failing exit code.
//!
//! Deliberately absent: argument parsing and output (each binary's).

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// How long the tasks still running when the command returns get to stop.
const SHUTDOWN_TIMEOUT_MS: u64 = 2_000;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line (timestamp, level, target, fields, and the
    /// spans it happened in: an HTTP request's carries its id).
    Json,
}

/// Runs `command` as a binary's `main` does (see the module documentation),
/// logging as text.
pub fn run(command: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    run_with(LogFormat::Text, command)
}

/// As [`run`], logging in `format`.
pub fn run_with(
    format: LogFormat,
    command: impl Future<Output = anyhow::Result<ExitCode>>,
) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(command);
    runtime.shutdown_timeout(Duration::from_millis(SHUTDOWN_TIMEOUT_MS));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
