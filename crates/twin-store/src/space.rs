//! Free space on the data volume and the per-stakeholder byte quotas of what
//! stakeholders store beside the log (Archivist blobs, hash envelopes'
//! payloads). The log shares its volume with them: without a reserve, one
//! stakeholder uploading blobs could fill the disk and stop the log (which
//! turns read-only on a write error). So a blob or payload write is refused
//! when it would leave less than [`StorageLimits::log_reserve_bytes`] free,
//! and each stakeholder stores at most its quota. This module measures and
//! decides; it writes nothing.

use std::path::Path;

/// Free space kept for the log by default: writes of blobs and payloads stop
/// this far above a full disk, so the log keeps appending (its journal,
/// tiles and checkpoints) for a long while after they are refused.
pub const LOG_RESERVE_BYTES: u64 = 512 * 1024 * 1024;
/// Archivist blob bytes one stakeholder may keep, by default.
pub const STAKEHOLDER_BLOB_BYTES_MAX: u64 = 4 * 1024 * 1024 * 1024;
/// Hash-envelope payload bytes one stakeholder may keep, by default.
pub const STAKEHOLDER_PAYLOAD_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// The storage limits of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimits {
    /// Free bytes a blob or payload write must leave on the data volume.
    pub log_reserve_bytes: u64,
    /// Blob bytes per stakeholder (by its uploads; identical content
    /// uploaded twice counts twice, as it is the uploader's budget).
    pub stakeholder_blob_bytes_max: u64,
    /// Payload bytes per stakeholder (by the statements' issuers).
    pub stakeholder_payload_bytes_max: u64,
}

impl Default for StorageLimits {
    fn default() -> Self {
        StorageLimits {
            log_reserve_bytes: LOG_RESERVE_BYTES,
            stakeholder_blob_bytes_max: STAKEHOLDER_BLOB_BYTES_MAX,
            stakeholder_payload_bytes_max: STAKEHOLDER_PAYLOAD_BYTES_MAX,
        }
    }
}

/// Why a write of stored bytes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaceError {
    /// The stakeholder's quota would be exceeded.
    #[error(
        "{stakeholder} keeps {used_bytes} bytes of {what}; {adding_bytes} more would exceed its quota of {quota_bytes} bytes"
    )]
    Quota {
        /// Whose.
        stakeholder: String,
        /// `blobs` or `payloads`.
        what: &'static str,
        /// Bytes kept now.
        used_bytes: u64,
        /// Bytes of this write.
        adding_bytes: u64,
        /// The quota.
        quota_bytes: u64,
    },
    /// The volume would fall below the log's reserve.
    #[error(
        "the data volume has {free_bytes} bytes free; {adding_bytes} more would eat into the {reserve_bytes} bytes kept for the log"
    )]
    Reserve {
        /// Free bytes now.
        free_bytes: u64,
        /// Bytes of this write.
        adding_bytes: u64,
        /// The reserve.
        reserve_bytes: u64,
    },
    /// Free space could not be measured.
    #[error("measuring free space: {0}")]
    Measure(String),
}

/// Bytes available to an unprivileged writer on the volume holding `dir`.
pub fn free_bytes(dir: &Path) -> Result<u64, SpaceError> {
    let st = rustix::fs::statvfs(dir).map_err(|e| SpaceError::Measure(e.to_string()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Refuses a write of `adding_bytes` into `dir` that would leave less than
/// `reserve_bytes` free.
pub fn check_reserve(dir: &Path, adding_bytes: u64, reserve_bytes: u64) -> Result<(), SpaceError> {
    let free = free_bytes(dir)?;
    if free < adding_bytes.saturating_add(reserve_bytes) {
        return Err(SpaceError::Reserve {
            free_bytes: free,
            adding_bytes,
            reserve_bytes,
        });
    }
    Ok(())
}

/// Refuses `adding_bytes` more for a stakeholder keeping `used_bytes` under
/// a quota of `quota_bytes`.
pub fn check_quota(
    stakeholder: &str,
    what: &'static str,
    used_bytes: u64,
    adding_bytes: u64,
    quota_bytes: u64,
) -> Result<(), SpaceError> {
    if used_bytes.saturating_add(adding_bytes) > quota_bytes {
        return Err(SpaceError::Quota {
            stakeholder: stakeholder.to_string(),
            what,
            used_bytes,
            adding_bytes,
            quota_bytes,
        });
    }
    Ok(())
}
