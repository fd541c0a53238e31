//! The trust state a device persists between updates (JSON): what it trusts
//! (the log and its witnesses as a C2SP tlog-policy, its manufacturer's keys
//! and the registry authority's, each with the log positions where it was
//! valid) and what it has accepted (the last checkpoint, the release counter,
//! the running version and the minimum version).

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The first field of every trust state.
pub const STATE_FORMAT: &str = "sectwin-ota-state/1";

/// Whose key it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyOwner {
    /// The device's manufacturer: signs release manifests and its own key events.
    Manufacturer,
    /// The registry authority: may add and revoke the manufacturer's keys.
    Authority,
}

/// A registered key and the log positions where it may sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// Whose.
    pub owner: KeyOwner,
    /// RFC 9679 thumbprint, hex (checked against the key when used).
    pub kid: String,
    /// The public key, PEM (Ed25519 or P-256).
    pub pem: String,
    /// The log entry that registered it: it signs only later entries.
    pub added: u64,
    /// The log entry that revoked it: it signs no entry from there on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<u64>,
    /// Not valid for statements issued before (unix seconds, the `iat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// Not valid for statements issued after (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
}

/// What a device persists between updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustState {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// The log's key, the witnesses' keys and the quorum: a C2SP tlog-policy.
    pub policy: String,
    /// The manufacturer's stakeholder id (the manifests' `iss`).
    pub manufacturer: String,
    /// The registry authority's stakeholder id, if its keys are trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The device's model subject, `model:<vendor>/<model>` (the manifests' `sub`).
    pub model: String,
    /// This device's hardware id.
    pub hardware_id: String,
    /// Keys of the manufacturer and the authority.
    pub keys: Vec<TrustedKey>,
    /// The last checkpoint accepted: a signed note, verbatim.
    pub checkpoint: String,
    /// The release counter of the running image.
    pub release_counter: u64,
    /// The running version.
    pub version: String,
    /// No image below this version is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// The log entry of the manifest of the running image, once updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_entry: Option<u64>,
}

impl TrustState {
    /// Parses a persisted state.
    pub fn parse(bytes: &[u8]) -> Result<TrustState, String> {
        if bytes.len() > crate::STATE_BYTES_MAX {
            return Err(alloc::format!(
                "{} bytes; at most {}",
                bytes.len(),
                crate::STATE_BYTES_MAX
            ));
        }
        let s: TrustState = serde_json::from_slice(bytes).map_err(|e| alloc::format!("{e}"))?;
        if s.format != STATE_FORMAT {
            return Err(alloc::format!(
                "format {:?}, expected {STATE_FORMAT:?}",
                s.format
            ));
        }
        if s.keys.len() > crate::TRUSTED_KEYS_MAX {
            return Err(alloc::format!(
                "{} keys; at most {}",
                s.keys.len(),
                crate::TRUSTED_KEYS_MAX
            ));
        }
        Ok(s)
    }

    /// The state as persisted (pretty JSON, ending in a newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}
