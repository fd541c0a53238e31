//! The release manifest as the device reads it: the payload of a
//! `firmware-released` statement (`twin::StatementBody::FirmwareReleased`,
//! which parses it strictly when it is registered). The device reads only the
//! fields it checks; a test in `sectwin` keeps the two in step.

use alloc::string::String;
use alloc::vec::Vec;
use serde::Deserialize;

/// What a device checks in a `firmware-released` payload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Manifest {
    /// Must be `firmware-released`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The release's version.
    pub version: String,
    /// SHA-256 of the image, lowercase hex.
    pub image_sha256: String,
    /// SHA-512 of the image, lowercase hex.
    #[serde(default)]
    pub image_sha512: Option<String>,
    /// The image's length in bytes.
    #[serde(default)]
    pub image_length: Option<u64>,
    /// The hardware ids the image is for.
    #[serde(default)]
    pub hardware_ids: Vec<String>,
    /// Anti-rollback counter.
    #[serde(default)]
    pub release_counter: Option<u64>,
    /// Lowest version a device may run after installing this one.
    #[serde(default)]
    pub min_version: Option<String>,
    /// Last day of promised security updates (`YYYY-MM-DD`), for display.
    #[serde(default)]
    pub support_end: Option<String>,
}

impl Manifest {
    /// Parses a statement payload (JSON).
    pub fn parse(payload: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

/// Decodes `n` bytes of lowercase (or uppercase) hex.
pub(crate) fn hex_exact<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}
