//! Scoring and matching primitives for vulnerability management: CVSS
//! scores recomputed from vectors ([`cvss`]), CPE 2.3 names and their
//! matching ([`cpe`]), version orderings per ecosystem and version ranges
//! ([`version`]), and package URLs ([`purl`]); on top of them, the matcher
//! of SBOM components against advisories ([`matcher`]), an index of prepared
//! advisories with incremental import ([`index`]) and fleet exposure with VEX
//! inheritance ([`exposure`]), over the normalized model of `vuln-formats`.
//!
//! Deliberately absent: parsing advisory, SBOM and VEX documents (in
//! `vuln-formats`), twins, and any I/O. Every parser here takes outside input, so none of them panics and
//! each refuses with a precise error instead of guessing.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod cpe;
pub mod cvss;
pub mod exploit;
pub mod exposure;
pub mod index;
pub mod matcher;
pub mod purl;
pub mod version;
