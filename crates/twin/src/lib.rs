//! The security twin's domain model, as pure functions: no I/O, no clock, no
//! randomness. Everything a twin shows is a *projection of the log*: the same
//! statements applied in log order always give the same twins, which is what
//! `reindex` relies on.
//!
//! - [`model`]: stakeholders and their roles, devices, the lifecycle and its
//!   allowed transitions.
//! - [`statement`]: the typed, versioned statement payloads (JSON with a
//!   `type` tag), strictly parsed: unknown types and fields are refused.
//! - [`audit`]: audit grants, the only source of the auditor role on a
//!   device; auditors read within their grant and sign only their findings.
//! - [`consensus`]: per attribute class, who asserts and who must endorse;
//!   each attribute's status is agreed, claimed or disputed.
//! - [`cra`]: the EU Cyber Resilience Act's report cases (Art. 14) and
//!   support periods (Art. 13), and the reporting clock.
//! - [`update`]: firmware updates as devices tell of them, and what a twin
//!   keeps of them.
//! - [`projection`]: [`projection::Projection::apply`] folds one registered
//!   statement into the twins, or refuses it with a [`projection::ApplyError`].
//! - [`store`]: the contract of a store of the projection
//!   ([`store::ProjectionStore`]), and the fold's state over one.

// Parses bytes from outside (statements, COSE, JSON): no panics on them.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod audit;
pub mod consensus;
pub mod cra;
pub mod ingest;
pub mod model;
pub mod projection;
pub mod published;
pub mod registry;
pub mod sharing;
pub mod statement;
pub mod store;
pub mod update;

#[cfg(feature = "testing")]
pub mod conformance;

pub use consensus::{AttributeClass, ConsensusPolicy, Rule, Status};
pub use ingest::IngestError;
pub use model::{DeviceId, InvalidDeviceId, Lifecycle, Role, StakeholderId};
pub use projection::{
    ApplyError, BuiltinType, BuiltinTypes, FoldRules, MemState, Meta, Projection, Registered, State,
};
pub use registry::Registry;
pub use statement::{StatementBody, StatementParseError};
