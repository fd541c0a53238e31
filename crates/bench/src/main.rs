//! `sectwin-bench`: every figure the issues name, each measured together
//! with the ceiling or peer it is compared with, in the same run; tables of
//! medians and ratios. Not part of the product: the `sectwin` binary ships
//! none of this (nor the engines and load generators it compares with).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The product's allocator, so that `bench memory` measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_index;
mod bench_log;
mod bench_peer;
mod bench_register;
mod bench_scitt;
mod bench_threat;
mod bench_twin;
mod bench_vuln;
mod cmd;
mod load;
mod scratch;

#[derive(Parser)]
#[command(
    name = "sectwin-bench",
    version,
    about = "sectwin's benchmarks (tables of medians and ratios)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: cmd::BenchCmd,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    let result = runtime.block_on(cmd::run(cli.cmd));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
