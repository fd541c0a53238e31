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
