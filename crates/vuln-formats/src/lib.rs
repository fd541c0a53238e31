//! SBOM, advisory and VEX documents parsed into one normalized model
//! ([`model`]), and VEX statements exported back to the three VEX formats
//! ([`export`]).
//!
//! | module | format and versions | gives |
//! | --- | --- | --- |
//! | [`cyclonedx`] | CycloneDX JSON 1.4–1.7 | [`Sbom`], [`VexStatement`]s |
//! | [`spdx`] | SPDX JSON 2.2, 2.3 | [`Sbom`] |
//! | [`osv`] | OSV JSON 1.x (one record or an array) | [`Advisory`]s |
//! | [`cve5`] | CVE JSON 5.x records, CISA ADP (vulnrichment) | [`Advisory`] |
//! | [`nvd`] | NVD CVE API 2.0 responses | [`Advisory`]s |
//! | [`csaf`] | CSAF 2.0 (and its VEX profile) | [`Advisory`]s, [`VexStatement`]s |
//! | [`openvex`] | OpenVEX 0.0.1, 0.2.0 | [`VexStatement`]s |
//! | [`kev`] | CISA KEV catalogue JSON (and lists in its format) | [`kev::KevCatalog`] |
//! | [`epss`] | FIRST EPSS daily CSV | [`epss::EpssRow`]s |
//!
//! Each module has `parse(bytes)` and `detect(bytes)`; [`detect`] tells the
//! format of any document. Every count is bounded by [`Limits`].
//!
//! Pure: no I/O (a reader is passed in where a stream is read, as in
//! [`cve5::parse_jsonl_gz`]), no clock, no async. Versions, CPEs and purls stay
//! strings with their scheme named: comparing and matching them is the
//! `vuln` crate's job, deliberately not this one's.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;
pub mod csaf;
pub mod cve5;
pub mod cyclonedx;
pub mod epss;
pub mod error;
pub mod export;
mod json;
pub mod kev;
pub mod limits;
pub mod model;
pub mod nvd;
pub mod openvex;
pub mod osv;
pub mod prose;
pub mod spdx;

pub use error::{AdvisoryParseError, FieldError, SbomParseError, VexExportError, VexParseError};
pub use limits::Limits;
pub use model::{
    Advisory, AdvisoryFormat, Affected, Bound, CisaAdp, Component, ComponentKind, Cpe,
    DefaultStatus, Dependency, Digest, Dropped, HashAlgorithm, Justification, Kev, PackageId,
    Product, Purl, Reference, Sbom, SbomFormat, ScorePublisher, Severity, SeverityScheme, Ssvc,
    Timestamp, VersionRange, VexFormat, VexStatement, VexStatus, VulnId,
};

/// The document formats this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// CycloneDX JSON (SBOM, possibly with VEX).
    CycloneDx,
    /// SPDX JSON.
    Spdx,
    /// OSV JSON.
    Osv,
    /// CVE JSON 5.x.
    Cve5,
    /// NVD CVE API 2.0.
    NvdApi2,
    /// CSAF 2.0.
    Csaf,
    /// OpenVEX.
    OpenVex,
}

/// Tells the format of a document from its top-level fields, `None` when it
/// is none of [`DocumentFormat`]. It does not check the spec version: the
/// parser does, with a precise error.
pub fn detect(bytes: &[u8]) -> Option<DocumentFormat> {
    // Cheapest and most specific first; each probe reads only top-level keys.
    if cyclonedx::detect(bytes) {
        Some(DocumentFormat::CycloneDx)
    } else if spdx::detect(bytes) {
        Some(DocumentFormat::Spdx)
    } else if openvex::detect(bytes) {
        Some(DocumentFormat::OpenVex)
    } else if csaf::detect(bytes) {
        Some(DocumentFormat::Csaf)
    } else if cve5::detect(bytes) {
        Some(DocumentFormat::Cve5)
    } else if nvd::detect(bytes) {
        Some(DocumentFormat::NvdApi2)
    } else if osv::detect(bytes) {
        Some(DocumentFormat::Osv)
    } else {
        None
    }
}
