//! `blobs`: uploads kept content-addressed beside the log (its events hold
//! their hashes), readable by their uploader's organization only.

use sha2::{Digest, Sha256};
use twin::StakeholderId;
use twin_store::archivist::{BlobHash, BlobInfo};

use super::{new_uuid, side_error, ArchivistService, Res, BLOB_BYTES_MAX};
use crate::ServiceError;

/// A blob and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its media type.
    pub mime_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

impl ArchivistService {
    /// Keeps `data` for `caller` (within its quota and the log's reserve);
    /// answers its record.
    pub async fn upload_blob(
        &self,
        caller: &StakeholderId,
        mime_type: Option<String>,
        data: Vec<u8>,
    ) -> Res<BlobInfo> {
        if data.len() > BLOB_BYTES_MAX {
            return Err(ServiceError::too_large(format!(
                "a blob holds at most {BLOB_BYTES_MAX} bytes"
            )));
        }
        let info = BlobInfo {
            identity: format!("blobs/{}", new_uuid()),
            hash: BlobHash {
                alg: "SHA256".into(),
                value: hex::encode(Sha256::digest(&data)),
            },
            mime_type: mime_type.unwrap_or_else(|| "application/octet-stream".into()),
            size: data.len() as u64,
            timestamp_accepted: self.now_rfc3339(),
            tenant_identity: format!("tenant/{}", caller.0),
        };
        let blobs = self.blobs.clone();
        let kept = info.clone();
        tokio::task::spawn_blocking(move || blobs.put_blob(&kept, &data))
            .await
            .map_err(ServiceError::internal)?
            .map_err(side_error)?;
        Ok(info)
    }

    /// The record of blob `id`, if `caller`'s organization uploaded it.
    pub fn blob_info(&self, caller: &StakeholderId, id: &str) -> Res<BlobInfo> {
        let not_found = || ServiceError::not_found(format!("blobs/{id} not found"));
        let info = self
            .blobs
            .blob_info(id)
            .map_err(side_error)?
            .ok_or_else(not_found)?;
        if info.owner() != Some(caller.0.as_str()) {
            return Err(not_found());
        }
        Ok(info)
    }

    /// Blob `id`, if `caller`'s organization uploaded it.
    pub async fn download_blob(&self, caller: &StakeholderId, id: &str) -> Res<Blob> {
        let info = self.blob_info(caller, id)?;
        let blobs = self.blobs.clone();
        let mime_type = info.mime_type.clone();
        let data = tokio::task::spawn_blocking(move || blobs.read_blob(&info))
            .await
            .map_err(ServiceError::internal)?
            .map_err(side_error)?;
        Ok(Blob { mime_type, data })
    }
}
