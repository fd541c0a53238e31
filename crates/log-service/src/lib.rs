//! The sectwin log service: the only writer of a log.
//!
//! * [`Log::open`] recovers from the store, re-derives what a crash may have
//!   lost, and refuses to start if the stored tree is not consistent with the
//!   latest checkpoint it signed.
//! * The **sequencer** (one OS thread) batches appends (group commit: one
//!   `fdatasync` per batch) and acknowledges an index only once it is durable.
//! * The **checkpointer** (one OS thread) integrates tiles and bundles, checks
//!   the new tree against the previous checkpoint, collects witness
//!   cosignatures under the policy, and publishes.
//! * [`Prover`] answers inclusion and consistency proofs from stored tiles.
//!
//! This crate knows nothing of HTTP routes or JSON; `http-api` does.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod checkpointer;
pub mod cluster;
mod config;
pub mod fsck;
pub mod metrics;
pub mod mirror;
mod prover;
mod sequencer;
pub mod verify;

pub use cluster::{Forward, ForwardError, ForwardFuture, Role};
pub use config::{LogConfig, WitnessConfig};
pub use prover::{Prover, ProverError, StoreTiles};
pub use sequencer::{AppendError, Appended, LatencySummary, Log, OpenError, Published};

/// The injected wall clock (shared with the witness crate).
pub use witness::{Clock, FixedClock, SystemClock};
