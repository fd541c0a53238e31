//! Scoring and matching primitives for vulnerability management: CVSS
//! scores recomputed from vectors ([`cvss`]), CPE 2.3 names and their
//! matching ([`cpe`]), version orderings per ecosystem and version ranges
//! ([`version`]), and package URLs ([`purl`]).
//!
//! Deliberately absent: parsing advisory documents (OSV, CVE JSON 5, NVD,
//! CSAF live in `vuln-formats`), SBOMs, the matcher that joins them, and any
//! I/O. Every parser here takes outside input, so none of them panics and
//! each refuses with a precise error instead of guessing.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod cpe;
pub mod cvss;
pub mod purl;
pub mod version;
