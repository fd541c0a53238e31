//! What the Archivist (DataTrails) API keeps beside the log, behind two
//! contracts:
//!
//! - [`ConfigStore`]: per-stakeholder configuration collections (locations,
//!   IAM subjects, access policies), each item a JSON object named by its
//!   identity (`locations/<uuid>`);
//! - [`BlobStore`]: uploaded blobs, content-addressed, with an info record
//!   per upload (the log holds their hashes through the events that name
//!   them), under a per-stakeholder quota and the volume's reserve.
//!
//! [`FileArchivistStore`] keeps both under `DATA/archivist`:
//! `config/<collection>/<hex of the stakeholder id>.json` (one file per
//! stakeholder and collection, so a write rewrites only its owner's items),
//! `blobs/<sha256>` and `blobs/<uuid>.json`.
//!
//! **Durability**: every put or remove is durable before it returns (temp
//! file, fsync, rename, directory fsync: [`durable::write`]); a failed write
//! changes nothing, in memory or on disk. Configuration is read from memory
//! (loaded at open). A directory written in the first layout (one file per
//! collection for every stakeholder, `locations.json`) is moved to this one
//! at open; the move is idempotent, so a crash during it is repaired by the
//! next open.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::space::{self, SpaceError, StorageLimits};

/// The format of the Archivist side data this build writes (2: one file
/// per stakeholder and collection; 1 had one file per collection).
pub const ARCHIVIST_STORE_FORMAT: u32 = 2;

/// One configuration item: a JSON object (its `identity` among its fields).
pub type Item = Map<String, Value>;

/// A per-stakeholder configuration collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Collection {
    /// `locations/<uuid>`.
    Locations,
    /// `subjects/<uuid>`: other organizations, by name, for access policies.
    Subjects,
    /// `access_policies/<uuid>`: who may read which assets.
    AccessPolicies,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 3] = [
        Collection::Locations,
        Collection::Subjects,
        Collection::AccessPolicies,
    ];

    /// Its name in identities, routes and file names.
    pub fn label(self) -> &'static str {
        match self {
            Collection::Locations => "locations",
            Collection::Subjects => "subjects",
            Collection::AccessPolicies => "access_policies",
        }
    }
}

/// Why side data could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SideError {
    /// A quota, the log's reserve, or the volume's free space.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The owner keeps the most items a collection holds.
    #[error("at most {max_items} {collection} per stakeholder")]
    TooMany {
        /// The collection's label.
        collection: &'static str,
        /// The limit.
        max_items: usize,
    },
    /// Reading or writing failed (a full disk is [`io::ErrorKind::StorageFull`]).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file is not what this store wrote.
    #[error("{path}: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

impl SideError {
    fn io(path: &Path, source: io::Error) -> SideError {
        SideError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    /// Whether the volume is full.
    pub fn is_storage_full(&self) -> bool {
        match self {
            SideError::Space(_) => true,
            SideError::Io { source, .. } => source.kind() == io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}

/// The configuration collections, per stakeholder.
pub trait ConfigStore: Send + Sync {
    /// `owner`'s items of `collection`, by identity.
    fn items(&self, collection: Collection, owner: &str) -> BTreeMap<String, Item>;
    /// Inserts or replaces `owner`'s item `identity`; a new item is refused
    /// when `owner` keeps `max_items` already. Durable when it returns.
    fn put_item(
        &self,
        collection: Collection,
        owner: &str,
        identity: &str,
        item: Item,
        max_items: usize,
    ) -> Result<(), SideError>;
    /// Removes `owner`'s item `identity`; answers whether there was one.
    /// Durable when it returns.
    fn remove_item(
        &self,
        collection: Collection,
        owner: &str,
        identity: &str,
    ) -> Result<bool, SideError>;
}

/// A blob's record, as DataTrails serves it (`blobs/<uuid>/info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// `blobs/<uuid>`.
    pub identity: String,
    /// Its digest.
    pub hash: BlobHash,
    /// Its media type.
    pub mime_type: String,
    /// Its length in bytes.
    pub size: u64,
    /// When it was accepted (RFC 3339).
    pub timestamp_accepted: String,
    /// `tenant/<stakeholder>`: who uploaded it (only they may read it).
    pub tenant_identity: String,
}

/// A blob's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobHash {
    /// `SHA256`.
    pub alg: String,
    /// Lower-case hex.
    pub value: String,
}

impl BlobInfo {
    /// The uploader's stakeholder id.
    pub fn owner(&self) -> Option<&str> {
        self.tenant_identity.strip_prefix("tenant/")
    }
    /// The upload's id (the uuid of `blobs/<uuid>`).
    pub fn id(&self) -> Option<&str> {
        self.identity.strip_prefix("blobs/")
    }
}

/// The blobs.
pub trait BlobStore: Send + Sync {
    /// Keeps `data` under `info` (its id, owner, SHA-256 and size), within
    /// the owner's blob quota and the log's reserve. Durable when it returns.
    fn put_blob(&self, info: &BlobInfo, data: &[u8]) -> Result<(), SideError>;
    /// The record of upload `id`, if there is one.
    fn blob_info(&self, id: &str) -> Result<Option<BlobInfo>, SideError>;
    /// The bytes of a blob.
    fn read_blob(&self, info: &BlobInfo) -> Result<Vec<u8>, SideError>;
}

/// Both stores in a directory (`DATA/archivist`).
pub struct FileArchivistStore {
    dir: PathBuf,
    limits: RwLock<StorageLimits>,
    config: RwLock<BTreeMap<(Collection, String), BTreeMap<String, Item>>>,
    /// Serializes configuration writes (each rewrites its owner's file).
    config_writes: Mutex<()>,
    /// Blob bytes kept per stakeholder, counted at open and as uploads land.
    blob_usage: Mutex<BTreeMap<String, u64>>,
}

impl FileArchivistStore {
    /// Opens (creating) the store in `dir`, under `limits`.
    pub fn open(dir: &Path, limits: StorageLimits) -> Result<FileArchivistStore, SideError> {
        std::fs::create_dir_all(dir).map_err(|e| SideError::io(dir, e))?;
        durable::format::check_or_init(dir, "archivist", ARCHIVIST_STORE_FORMAT).map_err(|e| {
            SideError::Corrupt {
                path: dir.to_path_buf(),
                why: e.to_string(),
            }
        })?;
        let blobs = dir.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| SideError::io(&blobs, e))?;
        for c in Collection::ALL {
            let d = dir.join("config").join(c.label());
            std::fs::create_dir_all(&d).map_err(|e| SideError::io(&d, e))?;
        }
        let store = FileArchivistStore {
            dir: dir.to_path_buf(),
            limits: RwLock::new(limits),
            config: RwLock::new(BTreeMap::new()),
            config_writes: Mutex::new(()),
            blob_usage: Mutex::new(BTreeMap::new()),
        };
        store.move_first_layout()?;
        store.load_config()?;
        *store.blob_usage.lock() = store.count_blobs()?;
        Ok(store)
    }

    /// Sets the blob quota and the log's reserve from now on.
    pub fn set_limits(&self, limits: StorageLimits) {
        *self.limits.write() = limits;
    }

    fn config_file(&self, c: Collection, owner: &str) -> PathBuf {
        self.dir
            .join("config")
            .join(c.label())
            .join(format!("{}.json", hex::encode(owner)))
    }

    /// Moves `<collection>.json` (every stakeholder's items in one file) to
    /// one file per stakeholder, then removes it.
    fn move_first_layout(&self) -> Result<(), SideError> {
        for c in Collection::ALL {
            let old = self.dir.join(format!("{}.json", c.label()));
            let bytes = match std::fs::read(&old) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(SideError::io(&old, e)),
            };
            let all: BTreeMap<String, BTreeMap<String, Item>> = serde_json::from_slice(&bytes)
                .map_err(|e| SideError::Corrupt {
                    path: old.clone(),
                    why: e.to_string(),
                })?;
            for (owner, items) in &all {
                self.write_owner(c, owner, items)?;
            }
            std::fs::remove_file(&old).map_err(|e| SideError::io(&old, e))?;
            durable::sync_dir(&self.dir).map_err(|e| SideError::io(&self.dir, e))?;
        }
        Ok(())
    }

    fn load_config(&self) -> Result<(), SideError> {
        let mut config = BTreeMap::new();
        for c in Collection::ALL {
            let d = self.dir.join("config").join(c.label());
            for entry in std::fs::read_dir(&d).map_err(|e| SideError::io(&d, e))? {
                let path = entry.map_err(|e| SideError::io(&d, e))?.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if durable::is_temp_name(name) {
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                let corrupt = |why: String| SideError::Corrupt {
                    path: path.clone(),
                    why,
                };
                let owner = name
                    .strip_suffix(".json")
                    .and_then(|h| hex::decode(h).ok())
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| corrupt("not <hex of a stakeholder id>.json".into()))?;
                let bytes = std::fs::read(&path).map_err(|e| SideError::io(&path, e))?;
                let items: BTreeMap<String, Item> =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                config.insert((c, owner), items);
            }
        }
        *self.config.write() = config;
        Ok(())
    }

    fn write_owner(
        &self,
        c: Collection,
        owner: &str,
        items: &BTreeMap<String, Item>,
    ) -> Result<(), SideError> {
        let path = self.config_file(c, owner);
        let bytes = serde_json::to_vec_pretty(items).map_err(|e| SideError::Corrupt {
            path: path.clone(),
            why: e.to_string(),
        })?;
        durable::write(&path, &bytes).map_err(|e| SideError::io(&path, e))
    }

    fn blob_dir(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// Blob bytes per stakeholder, from the info files; removes the
    /// temporary files an interrupted upload left behind.
    fn count_blobs(&self) -> Result<BTreeMap<String, u64>, SideError> {
        let dir = self.blob_dir();
        let mut usage = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| SideError::io(&dir, e))? {
            let path = entry.map_err(|e| SideError::io(&dir, e))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if durable::is_temp_name(name) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| SideError::io(&path, e))?;
            let info: BlobInfo =
                serde_json::from_slice(&bytes).map_err(|e| SideError::Corrupt {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
            if let Some(owner) = info.owner() {
                *usage.entry(owner.to_string()).or_insert(0) += info.size;
            }
        }
        Ok(usage)
    }
}

/// Whether `id` is a UUID as the API issues them (ids become file names).
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn is_sha256_hex(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ConfigStore for FileArchivistStore {
    fn items(&self, c: Collection, owner: &str) -> BTreeMap<String, Item> {
        self.config
            .read()
            .get(&(c, owner.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    fn put_item(
        &self,
        c: Collection,
        owner: &str,
        identity: &str,
        item: Item,
        max_items: usize,
    ) -> Result<(), SideError> {
        let _w = self.config_writes.lock();
        let mut items = self.items(c, owner);
        if !items.contains_key(identity) && items.len() >= max_items {
            return Err(SideError::TooMany {
                collection: c.label(),
                max_items,
            });
        }
        items.insert(identity.to_string(), item);
        self.write_owner(c, owner, &items)?;
        self.config.write().insert((c, owner.to_string()), items);
        Ok(())
    }

    fn remove_item(&self, c: Collection, owner: &str, identity: &str) -> Result<bool, SideError> {
        let _w = self.config_writes.lock();
        let mut items = self.items(c, owner);
        if items.remove(identity).is_none() {
            return Ok(false);
        }
        self.write_owner(c, owner, &items)?;
        self.config.write().insert((c, owner.to_string()), items);
        Ok(true)
    }
}

impl BlobStore for FileArchivistStore {
    fn put_blob(&self, info: &BlobInfo, data: &[u8]) -> Result<(), SideError> {
        let dir = self.blob_dir();
        let bad = |why: &str| SideError::Corrupt {
            path: dir.clone(),
            why: format!("blob record {}: {why}", info.identity),
        };
        let owner = info.owner().ok_or_else(|| bad("no tenant"))?.to_string();
        let id = info
            .id()
            .filter(|i| is_uuid(i))
            .ok_or_else(|| bad("no uuid"))?;
        use sha2::Digest as _;
        if info.hash.value != hex::encode(sha2::Sha256::digest(data))
            || info.size != data.len() as u64
        {
            return Err(bad("hash or size does not describe the data"));
        }
        let size = info.size;
        let limits = *self.limits.read();
        // Quota and reserve first, under the lock that counts usage, so
        // that concurrent uploads cannot pass the check together.
        {
            let mut usage = self.blob_usage.lock();
            let used = usage.get(&owner).copied().unwrap_or(0);
            space::check_quota(
                &owner,
                "blobs",
                used,
                size,
                limits.stakeholder_blob_bytes_max,
            )?;
            space::check_reserve(&dir, size, limits.log_reserve_bytes)?;
            *usage.entry(owner.clone()).or_insert(0) += size;
        }
        let written = (|| {
            let content = dir.join(&info.hash.value);
            if !content.exists() {
                durable::write(&content, data).map_err(|e| SideError::io(&content, e))?;
            }
            // If this fails the content stays, unnamed: a concurrent upload
            // of the same content may already name it.
            let record = dir.join(format!("{id}.json"));
            let bytes = serde_json::to_vec(info).map_err(|e| bad(&e.to_string()))?;
            durable::write(&record, &bytes).map_err(|e| SideError::io(&record, e))
        })();
        if written.is_err() {
            if let Some(used) = self.blob_usage.lock().get_mut(&owner) {
                *used = used.saturating_sub(size);
            }
        }
        written
    }

    fn blob_info(&self, id: &str) -> Result<Option<BlobInfo>, SideError> {
        if !is_uuid(id) {
            return Ok(None);
        }
        let path = self.blob_dir().join(format!("{id}.json"));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SideError::io(&path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SideError::Corrupt {
                path,
                why: e.to_string(),
            })
    }

    fn read_blob(&self, info: &BlobInfo) -> Result<Vec<u8>, SideError> {
        let dir = self.blob_dir();
        if !is_sha256_hex(&info.hash.value) {
            return Err(SideError::Corrupt {
                path: dir,
                why: format!("blob record {} has no SHA-256", info.identity),
            });
        }
        let path = dir.join(&info.hash.value);
        std::fs::read(&path).map_err(|e| SideError::io(&path, e))
    }
}
