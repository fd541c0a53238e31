//! What the workspace's binaries (`sectwin`, `sectwin-bench`) do around
//! their command: logs to stderr (filtered by `RUST_LOG`, `warn` when it is
//! unset or invalid), a multi-threaded runtime to run the command on, two
//! seconds for the tasks still running to stop, and an error turned into its
//! message on stderr and a failing exit code.
//!
//! Deliberately absent: argument parsing and output (each binary's).

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// How long the tasks still running when the command returns get to stop.
const SHUTDOWN_TIMEOUT_MS: u64 = 2_000;

/// Runs `command` as a binary's `main` does (see the module documentation).
pub fn run(command: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
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
