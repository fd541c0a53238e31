//! A C2SP transparency-log witness (c2sp.org/tlog-witness, Ed25519
//! cosignatures of c2sp.org/tlog-cosignature, type 0x04).
//!
//! Two halves:
//! - [`Witness`]: the server core. It checks an `add-checkpoint` body
//!   (log signature, old size, consistency proof), records the new checkpoint
//!   durably, and only then cosigns it. It never cosigns a checkpoint
//!   inconsistent with one it cosigned before, across restarts.
//! - [`WitnessClient`]: what a log uses to get a cosignature from one remote
//!   witness (ours or anyone's) and verify it.
//!
//! Deliberately absent: HTTP routing and status-code mapping of the server
//! (that is `http-api`'s `witness` module; this crate only says which spec
//! status each error stands for), the log math (crate `tlog`), ML-DSA-44
//! cosignatures and the optional `sign-subtree` call.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod client;
mod clock;
mod server;
mod store;

pub use self::clock::{Clock, FixedClock, SystemClock};
pub use client::{
    WitnessClient, WitnessClientError, CLIENT_REQUEST_TIMEOUT_S, CLIENT_RESPONSE_BYTES_MAX,
};
pub use server::{
    AddCheckpointError, BadRequestReason, ForbiddenReason, UnprocessableReason, Witness,
    WitnessError, ADD_CHECKPOINT_BODY_BYTES_MAX, TLOG_SIZE_CONTENT_TYPE,
};
pub use store::origin_sha256_hex;
