//! The device side of sectwin's secure updates (`docs/secure-updates.md`).
//!
//! A device accepts a firmware image only if, checked by itself and offline:
//!
//! 1. the image's length and digest match a release manifest (a
//!    `firmware-released` statement) for the device's model and hardware id;
//! 2. the manifest is signed by a key its manufacturer had registered at the
//!    manifest's log position (key rotation and revocation carried in the
//!    bundle as `key-added`/`key-revoked` statements, each itself proven);
//! 3. the manifest is included in the log under a checkpoint signed by the
//!    log and cosigned by the witness quorum of the device's C2SP tlog-policy;
//! 4. that checkpoint is consistent with the last one the device accepted and
//!    not older than it (a forked or rolled-back log is refused; with a
//!    trusted time, a frozen one too);
//! 5. the release counter does not go backwards and the version is not below
//!    the minimum an earlier manifest set.
//!
//! On success [`verify`] returns the new [`TrustState`] to persist; otherwise
//! the one [`Refusal`] that failed. The crate is `no_std` + `alloc`: no I/O, no
//! clock (a time, if the device has a trusted one, is an input), and every
//! allocation bounded by the input limits below, checked before parsing.
//! `crates/ota-verify-ffi` gives it a C ABI.
#![no_std]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod bundle;
mod manifest;
mod state;
mod verify;
mod version;

pub use bundle::{Bundle, ConsistencyProof, ProvenStatement, BUNDLE_FORMAT};
pub use manifest::Manifest;
pub use state::{KeyOwner, TrustState, TrustedKey, STATE_FORMAT};
pub use verify::{digest_image, verify, Accepted, ImageDigests, Options, Refusal};
pub use version::{compare_versions, VersionError};

/// Largest proof bundle accepted, in bytes (a bundle for a log of 10^9 entries
/// with a few key events is under 16 KiB).
pub const BUNDLE_BYTES_MAX: usize = 64 * 1024;
/// Largest trust state accepted, in bytes.
pub const STATE_BYTES_MAX: usize = 64 * 1024;
/// Most key events one bundle may carry.
pub const KEY_EVENTS_MAX: usize = 16;
/// Most keys a trust state may hold (manufacturer and authority together).
pub const TRUSTED_KEYS_MAX: usize = 32;
/// Most hashes in a consistency proof (two per tree level).
pub const CONSISTENCY_HASHES_MAX: usize = 128;
