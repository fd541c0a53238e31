//! IETF SCITT signed statements and COSE receipts, as pure functions over
//! bytes: no I/O, no clock (times are passed in), no randomness except an
//! injected RNG.
//!
//! - [`key`]: issuer and service keys (Ed25519 / EdDSA, P-256 / ES256), their
//!   COSE_Key form and RFC 9679 thumbprint key ids.
//! - [`statement`]: parsing, verifying and signing Signed Statements
//!   (COSE_Sign1, CWT claims `iss`/`sub` in the protected header, attached or
//!   detached payloads, COSE hash envelopes).
//! - [`receipt`]: issuing and verifying RFC 9942 receipts of inclusion for the
//!   RFC9162_SHA256 verifiable data structure (`vds` = 1), whose leaves are
//!   the registered Signed Statements' bytes.
//!
//! Specs: `../shared/specs/ietf-scitt-architecture.md`,
//! `ietf-cose-receipts.md`, `ietf-scitt-scrapi.md`.

#![no_std]
// Parses bytes from outside (statements, COSE, JSON): no panics on them.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// What `std`'s prelude would give: the crate is `no_std` + `alloc`, so that
/// a device's update verifier (`ota-verify`) can link it on a microcontroller.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use alloc::{
        borrow::ToOwned,
        boxed::Box,
        format,
        string::{String, ToString},
        vec,
        vec::Vec,
    };
}

pub mod key;
pub mod labels;
pub mod receipt;
pub mod statement;

pub use key::{Algorithm, KeyError, PublicKey, SigningKey};
pub use receipt::{
    attach_receipts, issue_receipt, verify_receipt, ReceiptClaims, ReceiptError, VerifiedReceipt,
};
pub use statement::{verify_many, PayloadHash, SignedStatement, StatementBuilder, StatementError};

/// Largest Signed Statement accepted: a log entry (C2SP entry bundles use a
/// 16-bit length), so large payloads travel detached, as hash envelopes.
pub const STATEMENT_BYTES_MAX: usize = tlog::ENTRY_BYTES_MAX;
