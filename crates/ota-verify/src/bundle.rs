//! The offline proof bundle (JSON), built by `sectwin ota bundle` for one
//! device state: the manifest statement with its C2SP tlog-proof, the key
//! events since the device's checkpoint with theirs (all under the same
//! checkpoint), and the consistency proof from the device's checkpoint.

use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The first field of every bundle.
pub const BUNDLE_FORMAT: &str = "sectwin-ota-bundle/1";

/// A log entry (a registered signed statement) and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenStatement {
    /// The entry's bytes (a COSE_Sign1 signed statement), base64.
    pub statement: String,
    /// Its C2SP tlog-proof (index, inclusion proof, signed checkpoint).
    pub proof: String,
}

/// A consistency proof from the device's last accepted tree size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The old tree size (the device's checkpoint's).
    pub from: u64,
    /// The proof's hashes, base64.
    pub proof: Vec<String>,
}

/// An offline proof bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The release manifest and its proof.
    pub manifest: ProvenStatement,
    /// `key-added` / `key-revoked` statements about the manufacturer (or the
    /// authority) after the device's checkpoint, in log order.
    #[serde(default)]
    pub key_events: Vec<ProvenStatement>,
    /// From the device's checkpoint to the bundle's.
    pub consistency: ConsistencyProof,
}

/// Why a bundle could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Larger than [`crate::BUNDLE_BYTES_MAX`].
    #[error("bundle is {0} bytes; at most {max}", max = crate::BUNDLE_BYTES_MAX)]
    TooLarge(usize),
    /// Not the bundle JSON.
    #[error("bundle is not a {BUNDLE_FORMAT} document: {0}")]
    Json(String),
    /// Another format.
    #[error("bundle format {0:?}, expected {BUNDLE_FORMAT:?}")]
    Format(String),
    /// Too many key events.
    #[error("{0} key events; at most {max}", max = crate::KEY_EVENTS_MAX)]
    TooManyKeyEvents(usize),
    /// Too many consistency hashes.
    #[error("{0} consistency hashes; at most {max}", max = crate::CONSISTENCY_HASHES_MAX)]
    TooManyHashes(usize),
    /// A statement is not base64.
    #[error("a statement is not base64")]
    StatementBase64,
    /// Built for another device state.
    #[error("it was built for a device whose checkpoint has size {from}; this device's has size {size} (ask for a bundle from size {size})")]
    OtherState {
        /// The bundle's consistency proof's old size.
        from: u64,
        /// The device's checkpoint size.
        size: u64,
    },
    /// A hash is not a base64 SHA-256.
    #[error("consistency hash {0} is not a base64 SHA-256")]
    Hash(usize),
}

impl Bundle {
    /// Parses a bundle, checking its limits first.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > crate::BUNDLE_BYTES_MAX {
            return Err(BundleError::TooLarge(bytes.len()));
        }
        let b: Bundle =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Json(alloc::format!("{e}")))?;
        if b.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(b.format));
        }
        if b.key_events.len() > crate::KEY_EVENTS_MAX {
            return Err(BundleError::TooManyKeyEvents(b.key_events.len()));
        }
        if b.consistency.proof.len() > crate::CONSISTENCY_HASHES_MAX {
            return Err(BundleError::TooManyHashes(b.consistency.proof.len()));
        }
        Ok(b)
    }

    /// The bundle as written (compact JSON).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The consistency proof's hashes.
    pub(crate) fn consistency_hashes(&self) -> Result<Vec<tlog::Hash>, BundleError> {
        self.consistency
            .proof
            .iter()
            .enumerate()
            .map(|(i, h)| tlog::Hash::from_base64(h).map_err(|_| BundleError::Hash(i)))
            .collect()
    }
}

impl ProvenStatement {
    /// The statement's bytes.
    pub(crate) fn statement_bytes(&self) -> Result<Vec<u8>, BundleError> {
        if self.statement.len() > crate::BUNDLE_BYTES_MAX {
            return Err(BundleError::StatementBase64);
        }
        BASE64
            .decode(&self.statement)
            .map_err(|_| BundleError::StatementBase64)
    }

    /// A statement and its proof, encoded.
    pub fn new(statement: &[u8], proof: &[u8]) -> ProvenStatement {
        ProvenStatement {
            statement: BASE64.encode(statement),
            proof: String::from_utf8_lossy(proof).into_owned(),
        }
    }
}
