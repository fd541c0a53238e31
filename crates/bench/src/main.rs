//! `sectwin-bench`: every figure the issues name, each measured together
//! with the ceiling or peer it is compared with, in the same run; tables of
//! medians and ratios. Not part of the product: the `sectwin` binary ships
//! none of this (nor the engines and load generators it compares with).

use std::process::ExitCode;

use clap::Parser;

/// The product's allocator, so that `bench memory` measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_device;
mod bench_exploit;
mod bench_index;
mod bench_log;
mod bench_ota;
mod bench_peer;
mod bench_register;
mod bench_reprioritize;
mod bench_rollout;
mod bench_scitt;
mod bench_stores;
mod bench_threat;
mod bench_twin;
mod bench_twin_reads;
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
    let cli = Cli::parse();
    node::binary::run(async move { cmd::run(cli.cmd).await.map(|()| ExitCode::SUCCESS) })
}
