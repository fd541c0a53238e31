//! Devices speak for themselves: the device channel.
//!
//! Devices publish signed reports (`docs/device-reports.md`) on
//! `sectwin/devices/{id}/reports` ([`topic`]) with QoS 1; the [`ingest`]er
//! subscribes with a persistent session, checks each report (size, COSE,
//! issuer and subject, the strict payload parse of `posture::report`,
//! freshness and counter), registers the accepted ones in the log through
//! the registration policy (signatures batch-verified with the key the
//! device's twin holds) and acknowledges a message only once its fate is
//! durable. Refusals are counted per reason ([`stats`]). [`simulate`] is a
//! fleet of simulated devices.
//!
//! **Architecture invariant:** an edge, like `http-api`: it decides nothing
//! a stakeholder's statement could not (the twin's rules decide through the
//! registration policy), and acknowledges nothing that is not durable.

pub mod ingest;
pub mod simulate;
pub mod stats;
pub mod topic;

pub use ingest::{IngestConfig, Ingester};
pub use stats::{IngestStats, StatsSnapshot};
