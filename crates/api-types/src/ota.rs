//! Secure updates under `/api/v1/ota` (public, as a TUF repository is): a
//! model's release manifests and the queries of the bundle and provisioning
//! routes. The bundle and the trust state themselves are `ota-verify`'s
//! formats (`sectwin-ota-bundle/1`, `sectwin-ota-state/1`), documented in
//! `docs/secure-updates.md`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A release manifest (`firmware-released`) as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseManifestView {
    /// The model subject, `model:<vendor>/<model>`.
    pub model: String,
    /// The version.
    pub version: String,
    /// The log entry of the signed manifest.
    pub entry: u64,
    /// Who released it.
    pub manufacturer: String,
    /// SHA-256 of the image, hex.
    pub image_sha256: String,
    /// SHA-512 of the image, hex.
    pub image_sha512: Option<String>,
    /// Length of the image in bytes.
    pub image_length: Option<u64>,
    /// Hardware ids the image is for.
    pub hardware_ids: Vec<String>,
    /// Anti-rollback counter.
    pub release_counter: Option<u64>,
    /// Lowest version a device may run after installing it.
    pub min_version: Option<String>,
    /// SBOM reference or digest.
    pub sbom: Option<String>,
    /// SHA-256 of the VEX document for this image.
    pub vex: Option<String>,
    /// Last day of promised security updates, `YYYY-MM-DD`.
    pub support_end: Option<String>,
    /// SHA-256 of a reproducible-build attestation.
    pub build_attestation: Option<String>,
    /// The entry of the manufacturer's `firmware-withdrawn`, if withdrawn.
    pub withdrawn: Option<u64>,
    /// Whether a device can check it by itself (length, hardware ids and
    /// counter named).
    pub installable: bool,
}

/// A model's releases, in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Releases {
    /// The model subject.
    pub model: String,
    /// Its releases.
    pub releases: Vec<ReleaseManifestView>,
}

/// `GET /api/v1/ota/releases`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReleasesQuery {
    /// `model:<vendor>/<model>` (or `<vendor>/<model>`); required.
    pub model: Option<String>,
}

/// `GET /api/v1/ota/bundle`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BundleQuery {
    /// `model:<vendor>/<model>` (or `<vendor>/<model>`); required.
    pub model: Option<String>,
    /// The release's version; required.
    pub version: Option<String>,
    /// The size of the checkpoint the device last accepted; required.
    pub from: Option<u64>,
}

/// `GET /api/v1/ota/state`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StateQuery {
    /// `model:<vendor>/<model>` (or `<vendor>/<model>`); required.
    pub model: Option<String>,
    /// The device's hardware id; required.
    pub hardware_id: Option<String>,
    /// The release the device runs now (its counter becomes the state's).
    pub running: Option<String>,
}

/// A log entry with its proof: the entry's exact bytes (a signed statement,
/// base64) and its C2SP tlog-proof under the published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvenEntry {
    /// The entry's bytes, base64.
    pub statement: String,
    /// Its tlog-proof (index, inclusion proof, the signed checkpoint).
    pub proof: String,
}

/// A VEX statement of the manufacturer about a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseVexView {
    /// The vulnerability.
    pub vulnerability: String,
    /// `not_affected`, `affected`, `fixed` or `under_investigation`.
    pub status: String,
    /// Why, if said.
    pub justification: Option<String>,
    /// Its entry.
    pub entry: u64,
}

/// An open vulnerability of devices running a release (from the register).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenVulnerability {
    /// Its advisory id.
    pub id: String,
    /// Its severity.
    pub severity: crate::risks::Severity,
    /// Its CVSS score.
    pub score: Option<f64>,
    /// Listed as known exploited (CISA KEV).
    pub kev: bool,
    /// How many of the caller's visible devices have it open.
    pub devices: usize,
}

/// What an image is, as a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FirmwareRelease {
    /// The manifest.
    pub release: ReleaseManifestView,
    /// The manifest's statement and proof.
    pub proof: ProvenEntry,
    /// The SBOM registered for the release: its document's digest and format.
    pub sbom: Option<SbomSummary>,
    /// The manufacturer's VEX statements about it.
    pub vex: Vec<ReleaseVexView>,
    /// Open vulnerabilities on the devices running it that the caller sees
    /// (the register is shown to authenticated stakeholders only).
    pub open_vulnerabilities: Vec<OpenVulnerability>,
    /// Whether the release's support end date has passed (the node's day).
    pub support_ended: bool,
}

/// An SBOM registered for a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SbomSummary {
    /// Its format, e.g. `CycloneDX 1.6`.
    pub format: String,
    /// SHA-256 of the original document.
    pub document_sha256: String,
    /// Its components.
    pub components: u64,
    /// The entries of its parts.
    pub entries: Vec<u64>,
}

/// A device's own statement that it runs the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FirmwareDevice {
    /// The device.
    pub device: String,
    /// The version it reported.
    pub version: Option<String>,
    /// Who signed it (the device itself, or a stakeholder).
    pub issuer: String,
    /// Whether the twin's firmware is still this version.
    pub current: bool,
    /// The statement's entry.
    pub entry: u64,
    /// The statement and its proof.
    pub proof: ProvenEntry,
}

/// `GET /api/v1/firmware/{sha256}`: what an image is, with proofs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FirmwareLookup {
    /// The image's SHA-256.
    pub sha256: String,
    /// The log's tlog-policy (key, witnesses, quorum) the proofs check under.
    pub policy: String,
    /// The releases naming it (by any manufacturer).
    pub releases: Vec<FirmwareRelease>,
    /// Devices that said they run it, as the caller may see them.
    pub devices: Vec<FirmwareDevice>,
    /// More statements name it beyond this page (`GET /api/v1/digests/{sha256}?after=`).
    pub next_after: Option<u64>,
    /// The log size the answer reflects.
    pub as_of: u64,
}
