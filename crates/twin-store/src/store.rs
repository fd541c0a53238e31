//! The twins in fjall. Partitions:
//!
//! | partition | key | value |
//! |---|---|---|
//! | `twins` | device id | twin (JSON) |
//! | `claims` | entry (u64 BE) | claim (JSON) |
//! | `history` | device id, NUL, entry (u64 BE) | statement type |
//! | `index` | attribute, NUL, value, NUL, device id | empty |
//! | `refused` | entry (u64 BE) | why (UTF-8) |
//! | `sboms` | entry (u64 BE) | the components of an SBOM part (JSON) |
//! | `digests` | SHA-256 (32 bytes), entry (u64 BE) | what the digest is (`firmware image`, ...) |
//! | `meta` | `meta` | [`twin::Meta`] (JSON): registry, releases, policies, size |
//!
//! The projector writes through [`StoreState`], an overlay flushed as one
//! atomic batch together with the meta (and so the log size it reflects):
//! after a crash the store is the fold of some prefix of the log, and the
//! projector resumes from there.

use std::collections::HashMap;
use std::path::Path;

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use twin::projection::{Claim, Twin};
use twin::statement::SbomComponent;
use twin::{DeviceId, Meta, StakeholderId, State};

/// Block cache of the twin store.
const CACHE_BYTES: u64 = 256 * 1024 * 1024;
/// Memtable budget.
const WRITE_BUFFER_BYTES: u64 = 128 * 1024 * 1024;
/// Decoded twins the live projector keeps (about 1 KiB each: ~256 MiB).
pub const CACHED_TWINS_MAX: usize = 256 * 1024;
/// Decoded twins a reindex keeps (about 1 KiB each: ~4 GiB at most, on a
/// machine class with 24 GiB), so a fleet of up to 4M devices is folded
/// without reading back a twin it wrote.
pub const REINDEX_CACHED_TWINS_MAX: usize = 4 * 1024 * 1024;

/// A bulk load (a reindex into a fresh store, [`StoreState::bulk`]) holds up
/// to this many twins in memory and writes them once, at the end...
pub const BULK_TWINS_MAX: usize = 4 * 1024 * 1024;
/// ...up to this many history rows (about 130 B each in memory)...
pub const BULK_HISTORY_MAX: usize = 32 * 1024 * 1024;
/// ...and up to this many claims, encoded (about 500 B each in memory, some
/// 8 GiB at most; decoded, they would take twice that).
pub const BULK_CLAIMS_MAX: usize = 16 * 1024 * 1024;

pub use twin::store::{lifecycle_name, KEYED_ATTRIBUTE, SEARCH_ATTRIBUTES};

pub use twin::store::StoreError;

/// The format the twin store writes (its `FORMAT` marker; see
/// `durable::format`). A twin store can always be rebuilt from the log, so
/// a store in an older format is emptied at open and the projector folds
/// the log again ([`TwinStore::open`]).
///
/// - 1: the first.
/// - 2: DataTrails events are a built-in custom type (`archivist-event`,
///   class `custom`), no longer a class of their own.
pub const TWIN_STORE_FORMAT: u32 = 2;
/// The format the payload store (confidential payloads, read records,
/// usage) writes: data the log cannot rebuild.
pub const PAYLOAD_STORE_FORMAT: u32 = 1;

fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt {
        what,
        why: e.to_string(),
    })
}

/// The twin store.
///
/// A failed write (a full disk) poisons a fjall keyspace: it refuses every
/// later write until opened again. [`TwinStore::reopen`] does that in place
/// for every clone, so the projector writes again once space is back,
/// without a restart.
#[derive(Clone)]
pub struct TwinStore {
    dir: std::sync::Arc<std::path::PathBuf>,
    parts: std::sync::Arc<reopen::Reopening<Parts>>,
}

/// The open keyspace of a [`TwinStore`] and its partitions.
struct Parts {
    keyspace: Keyspace,
    twins: PartitionHandle,
    claims: PartitionHandle,
    history: PartitionHandle,
    index: PartitionHandle,
    refused: PartitionHandle,
    sboms: PartitionHandle,
    digests: PartitionHandle,
    meta: PartitionHandle,
}

/// How long [`TwinStore::reopen`] waits for reads in flight on the old
/// keyspace to finish before giving up (and trying again later).
const REOPEN_WAIT_MS_MAX: u64 = 10_000;

impl Parts {
    fn open(dir: &Path) -> Result<Parts, StoreError> {
        let keyspace = Config::new(dir)
            .cache_size(CACHE_BYTES)
            .max_write_buffer_size(WRITE_BUFFER_BYTES)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let open = |name: &str, bloom: bool| {
            let mut opts = PartitionCreateOptions::default();
            if bloom {
                opts = opts.bloom_filter_bits(Some(10));
            }
            keyspace.open_partition(name, opts).map_err(db)
        };
        Ok(Parts {
            twins: open("twins", true)?,
            claims: open("claims", true)?,
            history: open("history", false)?,
            index: open("index", false)?,
            refused: open("refused", true)?,
            sboms: open("sboms", true)?,
            digests: open("digests", false)?,
            meta: open("meta", false)?,
            keyspace,
        })
    }
}

/// What is kept beside the log and is not derived from it, so `reindex`
/// (which rebuilds `DATA/twins`) leaves it alone (`DATA/payloads`):
///
/// - the payloads of hash envelopes, supplied beside their statements at
///   registration (keyed by the statement's leaf hash); the log holds only
///   their digest, and they are served only through the twins' API, under
///   the owner's sharing policy;
/// - the read-transparency records (key: owner, NUL, time in ms, sequence;
///   value: the record's JSON).
///
/// A write that fails (a full disk) leaves fjall's keyspace poisoned: it
/// refuses every later write until it is opened again. So the store drops
/// its handles after a failed write and reopens the keyspace on the next
/// write (fjall's journal recovery truncates a torn tail first): writing
/// resumes by itself once space is back, without a restart. Reads keep the
/// old handles until then (a poisoned keyspace still reads).
#[derive(Clone)]
pub struct PayloadStore {
    dir: std::sync::Arc<std::path::PathBuf>,
    handles: std::sync::Arc<reopen::Reopening<PayloadHandles>>,
    /// Serializes [`PayloadStore::put_for`]: a quota is read, checked and
    /// raised by one writer at a time.
    quota: std::sync::Arc<parking_lot::Mutex<()>>,
}

/// Why a payload was not kept ([`PayloadStore::put_for`]).
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The stakeholder's quota or the log's reserve would be exceeded.
    #[error(transparent)]
    Space(#[from] crate::space::SpaceError),
    /// The store failed (a full disk, an I/O error).
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct PayloadHandles {
    keyspace: Keyspace,
    payloads: PartitionHandle,
    reads: PartitionHandle,
    /// Payload bytes kept per stakeholder: stakeholder id → u64 BE.
    usage: PartitionHandle,
}

impl PayloadHandles {
    fn open(dir: &Path) -> Result<PayloadHandles, StoreError> {
        let keyspace = Config::new(dir)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let payloads = keyspace
            .open_partition(
                "payloads",
                PartitionCreateOptions::default().bloom_filter_bits(Some(10)),
            )
            .map_err(db)?;
        let reads = keyspace
            .open_partition("reads", PartitionCreateOptions::default())
            .map_err(db)?;
        let usage = keyspace
            .open_partition("usage", PartitionCreateOptions::default())
            .map_err(db)?;
        Ok(PayloadHandles {
            keyspace,
            payloads,
            reads,
            usage,
        })
    }
}

impl PayloadStore {
    /// Opens (or creates) the payload store in `dir`.
    pub fn open(dir: &Path) -> Result<PayloadStore, StoreError> {
        durable::format::check_or_init(dir, "payloads", PAYLOAD_STORE_FORMAT)
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let handles = PayloadHandles::open(dir)?;
        Ok(PayloadStore {
            dir: std::sync::Arc::new(dir.to_path_buf()),
            handles: std::sync::Arc::new(reopen::Reopening::new(handles)),
            quota: std::sync::Arc::new(parking_lot::Mutex::new(())),
        })
    }

    /// Runs `write` on healthy handles: reopens the keyspace first if an
    /// earlier write failed, and marks it for reopening if this one fails.
    fn write(
        &self,
        write: impl FnOnce(&PayloadHandles) -> Result<(), fjall::Error>,
    ) -> Result<(), StoreError> {
        self.handles
            .reopen_if_broken(
                std::time::Duration::from_millis(REOPEN_WAIT_MS_MAX),
                || {
                    let reopened = PayloadHandles::open(&self.dir)?;
                    tracing::info!(dir = %self.dir.display(), "payload store reopened after a write error");
                    Ok::<_, StoreError>(reopened)
                },
            )
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let h = self.handles()?;
        write(&h).map_err(|e| {
            self.handles.mark_broken();
            db(e)
        })
    }

    fn handles(&self) -> Result<std::sync::Arc<PayloadHandles>, StoreError> {
        self.handles.get().ok_or_else(|| {
            StoreError::Db(
                "payload store is not open (reopening after a write error failed)".into(),
            )
        })
    }

    fn read<T>(
        &self,
        read: impl FnOnce(&PayloadHandles) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let h = self.handles()?;
        read(&h)
    }

    /// Appends the read-transparency records of one read (one per owner
    /// whose data it returns), all or none, and hands them to the kernel
    /// before it returns, so that a full disk is an error here (the caller
    /// must then refuse the read) and a crash of the process cannot lose a
    /// record of data already served. Not `fdatasync`ed: a power cut may
    /// lose the records of the last moments (a sync per read would bound
    /// reads of other organizations' data by the disk's sync rate).
    pub fn record_reads(&self, records: &[NewReadRecord<'_>]) -> Result<(), StoreError> {
        self.write(|h| {
            let mut batch = h.keyspace.batch().durability(Some(PersistMode::Buffer));
            for r in records {
                let mut k = r.owner.as_bytes().to_vec();
                k.push(0);
                k.extend_from_slice(&r.at_ms.to_be_bytes());
                k.extend_from_slice(&r.seq.to_be_bytes());
                batch.insert(&h.reads, k, r.record);
            }
            // A failed flush fails the commit before the batch is applied,
            // so a refused read leaves no record. (fjall ignores the error of
            // a journal write larger than its 8 KiB buffer and would apply
            // such a batch: a record of a read that was then refused, the
            // safe side.)
            batch.commit()
        })
    }

    /// Read records of `owner`'s data, oldest first, after cursor `after`
    /// (an opaque `time.seq`).
    pub fn reads(
        &self,
        owner: &str,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let mut prefix = owner.as_bytes().to_vec();
        prefix.push(0);
        let mut start = prefix.clone();
        if let Some((t, s)) = after {
            start.extend_from_slice(&t.to_be_bytes());
            start.extend_from_slice(&(s + 1).to_be_bytes());
        }
        self.read(|h| {
            let mut out = Vec::new();
            for kv in h.reads.range(start..) {
                let (k, v) = kv.map_err(db)?;
                if !k.starts_with(&prefix) || out.len() >= limit {
                    break;
                }
                let rest = &k[prefix.len()..];
                if rest.len() != 16 {
                    continue;
                }
                let mut t = [0u8; 8];
                let mut s = [0u8; 8];
                t.copy_from_slice(&rest[..8]);
                s.copy_from_slice(&rest[8..]);
                out.push(((u64::from_be_bytes(t), u64::from_be_bytes(s)), v.to_vec()));
            }
            Ok(out)
        })
    }

    /// Keeps `payload` for the statement whose leaf hash is `leaf`, durably
    /// (before the statement is appended).
    pub fn put(&self, leaf: &[u8; 32], payload: &[u8]) -> Result<(), StoreError> {
        self.write(|h| {
            h.payloads.insert(leaf, payload)?;
            h.keyspace.persist(PersistMode::SyncData)
        })
    }

    /// Keeps `payload` for the statement with leaf hash `leaf`, counted
    /// against `stakeholder`'s quota, durably (synced) before it returns.
    /// Refused when the stakeholder would keep more than
    /// `limits.stakeholder_payload_bytes_max` bytes or the volume would keep
    /// less than `limits.log_reserve_bytes` free. A payload already kept is
    /// not counted again. (Payloads kept before quotas existed are not
    /// counted.)
    pub fn put_for(
        &self,
        stakeholder: &str,
        leaf: &[u8; 32],
        payload: &[u8],
        limits: &crate::StorageLimits,
    ) -> Result<(), PutError> {
        let _one_writer = self.quota.lock();
        if self.get(leaf)?.is_some() {
            return Ok(());
        }
        let used = self.usage_bytes(stakeholder)?;
        let adding = payload.len() as u64;
        crate::space::check_quota(
            stakeholder,
            "payloads",
            used,
            adding,
            limits.stakeholder_payload_bytes_max,
        )?;
        crate::space::check_reserve(&self.dir, adding, limits.log_reserve_bytes)?;
        let total = used.saturating_add(adding);
        self.write(|h| {
            let mut batch = h.keyspace.batch().durability(Some(PersistMode::SyncData));
            batch.insert(&h.payloads, leaf, payload);
            batch.insert(&h.usage, stakeholder.as_bytes(), total.to_be_bytes());
            batch.commit()?;
            h.keyspace.persist(PersistMode::SyncData)
        })?;
        Ok(())
    }

    /// Payload bytes kept for `stakeholder` (by [`PayloadStore::put_for`]).
    pub fn usage_bytes(&self, stakeholder: &str) -> Result<u64, StoreError> {
        self.read(|h| {
            let Some(v) = h.usage.get(stakeholder.as_bytes()).map_err(db)? else {
                return Ok(0);
            };
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "payload usage",
                why: format!("{} bytes, expected 8", v.len()),
            })?;
            Ok(u64::from_be_bytes(bytes))
        })
    }

    /// The payload kept for the statement with leaf hash `leaf`.
    pub fn get(&self, leaf: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|h| Ok(h.payloads.get(leaf).map_err(db)?.map(|b| b.to_vec())))
    }

    /// Calls `f` with every row of one kind, in key order: to move the
    /// store elsewhere (`sectwin migrate-store`). `f`'s error stops it.
    pub fn export<E: From<StoreError>>(
        &self,
        kind: SideKind,
        mut f: impl FnMut(SideRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let h = self.handles()?;
        let part = match kind {
            SideKind::Payloads => &h.payloads,
            SideKind::Usage => &h.usage,
            SideKind::Reads => &h.reads,
        };
        for kv in part.iter() {
            let (k, v) = kv.map_err(db)?;
            match kind {
                SideKind::Payloads => {
                    let leaf: &[u8; 32] =
                        k.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                            what: "payload key",
                            why: format!("{} bytes, expected 32", k.len()),
                        })?;
                    f(SideRow::Payload { leaf, payload: &v })?;
                }
                SideKind::Usage => {
                    let bytes: [u8; 8] =
                        v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                            what: "payload usage",
                            why: format!("{} bytes, expected 8", v.len()),
                        })?;
                    f(SideRow::Usage {
                        stakeholder: &String::from_utf8_lossy(&k),
                        bytes: u64::from_be_bytes(bytes),
                    })?;
                }
                SideKind::Reads => {
                    let Some(nul) = k.iter().position(|b| *b == 0) else {
                        continue;
                    };
                    let (owner, rest) = k.split_at(nul);
                    let Some((t, q)) = rest
                        .get(1..)
                        .filter(|r| r.len() == 16)
                        .map(|r| r.split_at(8))
                    else {
                        continue;
                    };
                    let mut tb = [0u8; 8];
                    let mut qb = [0u8; 8];
                    tb.copy_from_slice(t);
                    qb.copy_from_slice(q);
                    f(SideRow::Read {
                        owner: &String::from_utf8_lossy(owner),
                        at_ms: u64::from_be_bytes(tb),
                        seq: u64::from_be_bytes(qb),
                        record: &v,
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// A kind of row of the payload store ([`PayloadStore::export`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideKind {
    /// Payloads by leaf hash.
    Payloads,
    /// Payload bytes per stakeholder.
    Usage,
    /// Read records.
    Reads,
}

/// A row of the payload store ([`PayloadStore::export`]).
#[derive(Debug)]
pub enum SideRow<'a> {
    /// A payload kept for the statement with leaf hash `leaf`.
    Payload {
        /// The leaf hash.
        leaf: &'a [u8; 32],
        /// The payload.
        payload: &'a [u8],
    },
    /// The payload bytes counted for a stakeholder.
    Usage {
        /// Whose.
        stakeholder: &'a str,
        /// How many.
        bytes: u64,
    },
    /// A read record.
    Read {
        /// Whose data was read.
        owner: &'a str,
        /// When, in ms.
        at_ms: u64,
        /// Its sequence in that millisecond.
        seq: u64,
        /// The record (JSON).
        record: &'a [u8],
    },
}

/// A read-transparency record to append ([`PayloadStore::record_reads`]).
#[derive(Debug, Clone, Copy)]
pub struct NewReadRecord<'a> {
    /// The stakeholder whose data was read (who lists the record).
    pub owner: &'a str,
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Orders records of the same millisecond.
    pub seq: u64,
    /// The record (JSON).
    pub record: &'a [u8],
}

/// A stored read record: its cursor (time in ms, sequence) and its JSON.
pub type ReadRow = ((u64, u64), Vec<u8>);

/// A page of results and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Brings the twin store in `dir` to [`TWIN_STORE_FORMAT`]: a store in an
/// older format (a marker saying so, or data without a marker, which
/// predates markers: format 1) is emptied, for the projector to fold the
/// log again from its first entry. Crash-safe: the marker is written last,
/// so an interrupted upgrade is started again at the next open.
fn upgrade(dir: &Path) -> Result<(), StoreError> {
    let db_err = |e: std::io::Error| StoreError::Db(format!("upgrading {}: {e}", dir.display()));
    let marker = dir.join(durable::format::FORMAT_FILE);
    let unmarked_data = !marker.exists()
        && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    let version = if unmarked_data {
        1
    } else {
        durable::format::check_or_init(dir, "twins", TWIN_STORE_FORMAT)
            .map_err(|e| StoreError::Db(e.to_string()))?
    };
    if version == TWIN_STORE_FORMAT {
        return Ok(());
    }
    tracing::warn!(
        dir = %dir.display(),
        from = version,
        to = TWIN_STORE_FORMAT,
        "the twin store is in an older format: emptying it; the twins are folded again from the log"
    );
    for entry in std::fs::read_dir(dir).map_err(db_err)? {
        let entry = entry.map_err(db_err)?;
        if entry.file_name() == durable::format::FORMAT_FILE {
            continue;
        }
        if entry.file_type().map_err(db_err)?.is_dir() {
            std::fs::remove_dir_all(entry.path()).map_err(db_err)?;
        } else {
            std::fs::remove_file(entry.path()).map_err(db_err)?;
        }
    }
    durable::sync_dir(dir).map_err(db_err)?;
    durable::write(&marker, format!("twins {TWIN_STORE_FORMAT}\n").as_bytes()).map_err(db_err)
}

impl TwinStore {
    /// Opens (or creates) the store in `dir`, upgrading an older format
    /// ([`TWIN_STORE_FORMAT`]).
    pub fn open(dir: &Path) -> Result<TwinStore, StoreError> {
        // A reindex that stopped while swapping stores is settled first.
        crate::swap::recover(dir)
            .map_err(|e| StoreError::Db(format!("recovering {}: {e}", dir.display())))?;
        upgrade(dir)?;
        let parts = Parts::open(dir)?;
        Ok(TwinStore {
            dir: std::sync::Arc::new(dir.to_path_buf()),
            parts: std::sync::Arc::new(reopen::Reopening::new(parts)),
        })
    }

    fn parts(&self) -> Result<std::sync::Arc<Parts>, StoreError> {
        self.parts.get().ok_or_else(|| {
            StoreError::Db(
                "the twin store is not open (reopening it after a write error failed)".into(),
            )
        })
    }

    /// Closes the keyspace and opens it again (fjall recovers its journal),
    /// for every clone of this store: after a failed write, writes work
    /// again once the cause is gone. Waits for reads in flight to finish
    /// (new ones wait for the reopen).
    pub fn reopen(&self) -> Result<(), StoreError> {
        self.parts
            .reopen(std::time::Duration::from_millis(REOPEN_WAIT_MS_MAX), || {
                Parts::open(&self.dir)
            })
            .map_err(|e| StoreError::Db(e.to_string()))?;
        tracing::info!(dir = %self.dir.display(), "twin store reopened after a write error");
        Ok(())
    }

    /// The persisted meta, if the store holds a projection.
    pub fn load_meta(&self) -> Result<Option<Meta>, StoreError> {
        let s = self.parts()?;
        match s.meta.get(b"meta").map_err(db)? {
            None => Ok(None),
            Some(b) => {
                let mut m: Meta = decode("meta", &b)?;
                m.reload();
                Ok(Some(m))
            }
        }
    }

    /// The log size the stored projection reflects.
    pub fn size(&self) -> Result<u64, StoreError> {
        Ok(self.load_meta()?.map_or(0, |m| m.size))
    }

    /// A twin.
    pub fn twin(&self, device: &DeviceId) -> Result<Option<Twin>, StoreError> {
        let s = self.parts()?;
        s.twins
            .get(device.as_str().as_bytes())
            .map_err(db)?
            .map(|b| decode("twin", &b))
            .transpose()
    }

    /// The components of the SBOM part registered as `entry`.
    pub fn sbom_part(&self, entry: u64) -> Result<Option<Vec<SbomComponent>>, StoreError> {
        let s = self.parts()?;
        s.sboms
            .get(entry.to_be_bytes())
            .map_err(db)?
            .map(|b| decode("sbom part", &b))
            .transpose()
    }

    /// A claim.
    pub fn claim(&self, entry: u64) -> Result<Option<Claim>, StoreError> {
        let s = self.parts()?;
        s.claims
            .get(entry.to_be_bytes())
            .map_err(db)?
            .map(|b| decode("claim", &b))
            .transpose()
    }

    /// The twin of `device` with each current attribute's consensus status
    /// under `policy` (see [`twin::projection::view`]).
    pub fn view(
        &self,
        policy: &twin::ConsensusPolicy,
        device: &DeviceId,
    ) -> Result<Option<twin::projection::TwinView>, StoreError> {
        let Some(twin) = self.twin(device)? else {
            return Ok(None);
        };
        let mut attributes = Vec::with_capacity(twin.current.len());
        for (class, entry) in &twin.current {
            if let Some(claim) = self.claim(*entry)? {
                if let Some(status) = twin::projection::status_of(policy, &claim) {
                    attributes.push(twin::projection::AttributeView {
                        attribute: class.clone(),
                        claim,
                        status,
                    });
                }
            }
        }
        Ok(Some(twin::projection::TwinView { twin, attributes }))
    }

    /// Why entry `entry` was refused, if it was.
    pub fn refusal(&self, entry: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .parts()?
            .refused
            .get(entry.to_be_bytes())
            .map_err(db)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Devices in id order, after `after`, at most `limit`.
    pub fn devices(&self, after: Option<&str>, limit: usize) -> Result<Vec<Twin>, StoreError> {
        let s = self.parts()?;
        let iter: Box<dyn Iterator<Item = _>> = match after {
            Some(a) => {
                let mut start = a.as_bytes().to_vec();
                start.push(0);
                Box::new(s.twins.range(start..))
            }
            None => Box::new(s.twins.iter()),
        };
        let mut out = Vec::new();
        for kv in iter.take(limit) {
            let (_, v) = kv.map_err(db)?;
            out.push(decode("twin", &v)?);
        }
        Ok(out)
    }

    /// Number of devices (a full scan of the keys: use for small fleets or
    /// with filters; the projection's meta has no count).
    pub fn device_count(&self) -> Result<u64, StoreError> {
        let s = self.parts()?;
        let mut n = 0u64;
        for kv in s.twins.keys() {
            kv.map_err(db)?;
            n += 1;
        }
        Ok(n)
    }

    /// Device ids with `attribute = value`, in id order, after `after`.
    pub fn search(
        &self,
        attribute: &str,
        value: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeviceId>, StoreError> {
        let s = self.parts()?;
        let prefix = index_prefix(attribute, value);
        let start = match after {
            Some(a) => {
                let mut k = prefix.clone();
                k.extend_from_slice(a.as_bytes());
                k.push(0);
                k
            }
            None => prefix.clone(),
        };
        let mut out = Vec::new();
        for kv in s.index.range(start..) {
            let (k, _) = kv.map_err(db)?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            out.push(DeviceId::new(id).map_err(|e| StoreError::Db(format!("device index: {e}")))?);
        }
        Ok(out)
    }

    /// The entries about `device` (entry, type, issuer), in log order, after `after`.
    pub fn history(
        &self,
        device: &DeviceId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String, StakeholderId)>, StoreError> {
        let s = self.parts()?;
        let mut prefix = device.as_str().as_bytes().to_vec();
        prefix.push(0);
        let mut start = prefix.clone();
        if let Some(a) = after {
            start.extend_from_slice(&(a + 1).to_be_bytes());
        }
        let mut out = Vec::new();
        for kv in s.history.range(start..) {
            let (k, v) = kv.map_err(db)?;
            if !k.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let mut e = [0u8; 8];
            e.copy_from_slice(&k[prefix.len()..prefix.len() + 8]);
            let v = String::from_utf8_lossy(&v);
            let (kind, issuer) = v.split_once('\0').unwrap_or((&v, ""));
            out.push((
                u64::from_be_bytes(e),
                kind.to_string(),
                StakeholderId(issuer.to_string()),
            ));
        }
        Ok(out)
    }

    /// Up to `limit` entries whose statements name the SHA-256 `digest`
    /// (entry, what the digest is there), in log order, after `after`.
    pub fn digest_entries(
        &self,
        digest: &[u8; 32],
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let s = self.parts()?;
        let mut start = digest.to_vec();
        if let Some(a) = after {
            start.extend_from_slice(&(a.saturating_add(1)).to_be_bytes());
        }
        let mut out = Vec::new();
        for kv in s.digests.range(start..) {
            let (k, v) = kv.map_err(db)?;
            if !k.starts_with(digest) || k.len() != 40 || out.len() >= limit {
                break;
            }
            let mut e = [0u8; 8];
            e.copy_from_slice(&k[32..40]);
            out.push((
                u64::from_be_bytes(e),
                String::from_utf8_lossy(&v).into_owned(),
            ));
        }
        Ok(out)
    }

    /// Makes everything written so far durable.
    pub fn persist(&self) -> Result<(), StoreError> {
        let s = self.parts()?;
        s.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }
}

impl twin::store::ProjectionStore for TwinStore {
    fn load_meta(&self) -> Result<Option<Meta>, StoreError> {
        TwinStore::load_meta(self)
    }
    fn size(&self) -> Result<u64, StoreError> {
        TwinStore::size(self)
    }
    fn twin(&self, device: &DeviceId) -> Result<Option<Twin>, StoreError> {
        TwinStore::twin(self, device)
    }
    fn claim(&self, entry: u64) -> Result<Option<Claim>, StoreError> {
        TwinStore::claim(self, entry)
    }
    fn sbom_part(&self, entry: u64) -> Result<Option<Vec<SbomComponent>>, StoreError> {
        TwinStore::sbom_part(self, entry)
    }
    fn refusal(&self, entry: u64) -> Result<Option<String>, StoreError> {
        TwinStore::refusal(self, entry)
    }
    fn devices(&self, after: Option<&str>, limit: usize) -> Result<Vec<Twin>, StoreError> {
        TwinStore::devices(self, after, limit)
    }
    fn device_count(&self) -> Result<u64, StoreError> {
        TwinStore::device_count(self)
    }
    fn search(
        &self,
        attribute: &str,
        value: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeviceId>, StoreError> {
        TwinStore::search(self, attribute, value, after, limit)
    }
    fn history(
        &self,
        device: &DeviceId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String, StakeholderId)>, StoreError> {
        TwinStore::history(self, device, after, limit)
    }
    fn digest_entries(
        &self,
        digest: &[u8; 32],
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        TwinStore::digest_entries(self, digest, after, limit)
    }
    /// One fjall batch, then an fsync. The size check is not atomic with
    /// the batch: the embedded store has one writer, its projector.
    fn write(
        &self,
        changes: twin::store::Changes,
        meta: Option<&Meta>,
        from_size: u64,
    ) -> Result<(), StoreError> {
        let stored = TwinStore::size(self)?;
        if stored != from_size {
            return Err(StoreError::Moved {
                expected: from_size,
                stored,
            });
        }
        let meta = meta.map(serde_json::to_vec).transpose().map_err(db)?;
        let overlay = Overlay {
            twins: changes.twins,
            claims: changes.claims,
            spilled: HashMap::new(),
            history: changes.history,
            refused: changes.refused,
            sboms: changes.sboms,
            digests: changes.digests,
        };
        overlay.write(self, meta.as_deref(), None)?;
        self.persist()
    }
}

fn index_prefix(attribute: &str, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(attribute.len() + value.len() + 2);
    k.extend_from_slice(attribute.as_bytes());
    k.push(0);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// The index keys of a twin: one per searchable attribute value
/// ([`twin::store::index_pairs`]).
pub fn index_keys(t: &Twin) -> Vec<Vec<u8>> {
    twin::store::index_pairs(t)
        .into_iter()
        .map(|(a, v)| {
            let mut k = index_prefix(a, v);
            k.extend_from_slice(t.device.as_str().as_bytes());
            k
        })
        .collect()
}

/// Unflushed writes.
#[derive(Default)]
struct Overlay {
    /// device → (current value, value in the store when first touched).
    twins: HashMap<DeviceId, (Twin, Option<Twin>)>,
    claims: HashMap<u64, Claim>,
    /// Claims a bulk load held, encoded, until it outgrew its bound.
    spilled: HashMap<u64, Box<[u8]>>,
    history: Vec<HistoryRow>,
    refused: Vec<(u64, String)>,
    sboms: HashMap<u64, Vec<SbomComponent>>,
    digests: Vec<([u8; 32], u64, &'static str)>,
}

impl Overlay {
    /// An empty overlay with room for as much as `like` held (a fold writes
    /// about as much per flush each time: no rehashing while it grows).
    fn sized_like(like: &Overlay) -> Overlay {
        Overlay {
            twins: HashMap::with_capacity(like.twins.len()),
            claims: HashMap::with_capacity(like.claims.len()),
            spilled: HashMap::new(),
            history: Vec::with_capacity(like.history.len()),
            refused: Vec::new(),
            sboms: HashMap::new(),
            digests: Vec::new(),
        }
    }

    /// Writes the overlay and `meta` (if any) as one batch; its claims go
    /// to `held` instead, if given.
    fn write(
        &self,
        s: &TwinStore,
        meta: Option<&[u8]>,
        held: Option<&HeldClaims>,
    ) -> Result<(), StoreError> {
        if let Some(held) = held {
            let mut encoded = Vec::with_capacity(self.claims.len());
            for (entry, claim) in &self.claims {
                encoded.push((
                    *entry,
                    serde_json::to_vec(claim).map_err(db)?.into_boxed_slice(),
                ));
            }
            held.write().extend(encoded);
        }
        let s = s.parts()?;
        let mut batch = s.keyspace.batch();
        for (device, (twin, before)) in &self.twins {
            // Only the index keys that changed: most statements change no
            // searchable attribute.
            let new_keys = index_keys(twin);
            let old_keys = before.as_ref().map(index_keys).unwrap_or_default();
            for k in &old_keys {
                if !new_keys.contains(k) {
                    batch.remove(&s.index, k.clone());
                }
            }
            for k in new_keys {
                if !old_keys.contains(&k) {
                    batch.insert(&s.index, k, []);
                }
            }
            let v = serde_json::to_vec(twin).map_err(db)?;
            batch.insert(&s.twins, device.as_str().as_bytes(), v);
        }
        if held.is_none() {
            for (entry, claim) in &self.claims {
                let v = serde_json::to_vec(claim).map_err(db)?;
                batch.insert(&s.claims, entry.to_be_bytes(), v);
            }
        }
        for (entry, v) in &self.spilled {
            // A claim the overlay rewrote supersedes its held encoding.
            if !self.claims.contains_key(entry) {
                batch.insert(&s.claims, entry.to_be_bytes(), v.to_vec());
            }
        }
        for row in &self.history {
            let (k, v) = history_row(row);
            batch.insert(&s.history, k, v);
        }
        for (entry, components) in &self.sboms {
            let v = serde_json::to_vec(components).map_err(db)?;
            batch.insert(&s.sboms, entry.to_be_bytes(), v);
        }
        for (entry, why) in &self.refused {
            batch.insert(&s.refused, entry.to_be_bytes(), why.as_bytes());
        }
        for (digest, entry, field) in &self.digests {
            let mut k = Vec::with_capacity(40);
            k.extend_from_slice(digest);
            k.extend_from_slice(&entry.to_be_bytes());
            batch.insert(&s.digests, k, field.as_bytes());
        }
        if let Some(meta) = meta {
            batch.insert(&s.meta, b"meta", meta);
        }
        batch.commit().map_err(db)
    }
}

/// Claims a bulk load holds, encoded as stored, by entry (shared with the
/// flush thread that encodes them).
type HeldClaims = std::sync::Arc<parking_lot::RwLock<HashMap<u64, Box<[u8]>>>>;

/// Drops `value` on a thread of its own (here, if none can be started: a
/// closure that could not be spawned is dropped with what it holds).
fn drop_elsewhere<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("twin-drop".into())
        .spawn(move || drop(value));
}

use twin::store::HistoryRow;

/// The key and value of a history row in the `history` partition.
fn history_row((device, entry, kind, issuer): &HistoryRow) -> (Vec<u8>, Vec<u8>) {
    let mut k = Vec::with_capacity(device.as_str().len() + 9);
    k.extend_from_slice(device.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&entry.to_be_bytes());
    let mut v = Vec::with_capacity(kind.len() + issuer.0.len() + 1);
    v.extend_from_slice(kind.as_bytes());
    v.push(0);
    v.extend_from_slice(issuer.0.as_bytes());
    (k, v)
}

/// Which partitions a bulk load still holds back for sorted ingestion.
#[derive(Debug, Clone, Copy, Default)]
struct Bulk {
    /// Twins and their index keys.
    twins: bool,
    /// The history.
    history: bool,
    /// The claims.
    claims: bool,
}

impl Bulk {
    /// Whether it holds anything back (then no flush writes the meta).
    fn holds(self) -> bool {
        self.twins || self.history || self.claims
    }
}

/// Signals that a flush started by [`StoreState::flush_async`] ended
/// (committed or failed: [`StoreState::wait_flushing`] says which).
pub struct FlushDone(std::sync::mpsc::Receiver<()>);

impl FlushDone {
    /// Blocks until the flush ended.
    pub fn wait(self) {
        let _ = self.0.recv();
    }
}

/// A flush in progress on its own thread; its overlay stays readable until
/// it is committed.
struct Flushing {
    overlay: std::sync::Arc<Overlay>,
    thread: std::thread::JoinHandle<Result<(), StoreError>>,
}

/// The projector's view of the store: reads fall through an overlay of
/// unflushed writes (and the one being flushed); [`StoreState::flush`]
/// writes the overlay and the meta in one atomic batch, on another thread
/// while the fold goes on ([`StoreState::flush_async`]) or before returning.
pub struct StoreState {
    store: TwinStore,
    cur: Overlay,
    flushing: Option<Flushing>,
    /// Decoded twins equal to their stored value, kept across flushes so
    /// that a fold over many devices reads neither fjall nor JSON for a twin
    /// it has seen; shadowed by the overlays, refilled from each committed one.
    cache: parking_lot::Mutex<HashMap<DeviceId, Twin>>,
    cached_twins_max: usize,
    /// First store error met by a read (reads cannot fail through [`State`]);
    /// reported by the next flush, which then writes nothing.
    error: parking_lot::Mutex<Option<String>>,
    /// What a bulk load holds back (nothing outside one), and its bounds.
    bulk: Bulk,
    bulk_twins_max: usize,
    bulk_history_max: usize,
    bulk_claims_max: usize,
    /// The claims a bulk load holds (see [`BULK_CLAIMS_MAX`]).
    held_claims: HeldClaims,
}

impl StoreState {
    /// A state over `store`.
    pub fn new(store: TwinStore) -> StoreState {
        StoreState::with_cache(store, CACHED_TWINS_MAX)
    }

    /// A state over `store` keeping up to `cached_twins_max` decoded twins.
    pub fn with_cache(store: TwinStore, cached_twins_max: usize) -> StoreState {
        StoreState {
            store,
            cur: Overlay::default(),
            flushing: None,
            cache: parking_lot::Mutex::new(HashMap::new()),
            cached_twins_max,
            error: parking_lot::Mutex::new(None),
            bulk: Bulk::default(),
            bulk_twins_max: BULK_TWINS_MAX,
            bulk_history_max: BULK_HISTORY_MAX,
            bulk_claims_max: BULK_CLAIMS_MAX,
            held_claims: HeldClaims::default(),
        }
    }

    /// Starts a bulk load (a reindex into a fresh store): twins, their
    /// index keys, the history and the claims are held in memory (up to
    /// [`BULK_TWINS_MAX`] twins, [`BULK_HISTORY_MAX`] rows and
    /// [`BULK_CLAIMS_MAX`] claims; past a bound, that part is written by the
    /// flushes as usual) and written once by [`StoreState::finish`] with
    /// sorted ingestion, which bypasses the memtable and the journal. A fold
    /// rewrites a twin for every statement about it, and a claim for every
    /// endorsement of it; this writes each once. Until `finish`, flushes write
    /// no meta, so an interrupted bulk load leaves a store that claims
    /// nothing. Only for partitions that are empty; others are flushed as
    /// usual.
    pub fn bulk(&mut self) -> Result<(), StoreError> {
        self.bulk_bounded(BULK_TWINS_MAX, BULK_HISTORY_MAX, BULK_CLAIMS_MAX)
    }

    /// [`StoreState::bulk`] with other bounds.
    pub fn bulk_bounded(
        &mut self,
        twins_max: usize,
        history_max: usize,
        claims_max: usize,
    ) -> Result<(), StoreError> {
        self.bulk_twins_max = twins_max;
        self.bulk_history_max = history_max;
        self.bulk_claims_max = claims_max;
        let fresh = self.store.load_meta()?.is_none();
        let s = self.store.parts()?;
        let empty = |p: &PartitionHandle| p.is_empty().map_err(db);
        self.bulk = Bulk {
            twins: empty(&s.twins)? && empty(&s.index)? && fresh,
            history: empty(&s.history)? && fresh,
            claims: empty(&s.claims)? && fresh,
        };
        Ok(())
    }

    /// Ends a bulk load: ingests what it held, sorted, one partition per
    /// thread, then flushes the rest with `meta`. Outside a bulk load, a
    /// plain [`StoreState::flush`].
    pub fn finish(&mut self, meta: &Meta) -> Result<(), StoreError> {
        self.wait_flushing()?;
        let bulk = std::mem::take(&mut self.bulk);
        let twins = if bulk.twins {
            std::mem::take(&mut self.cur.twins)
        } else {
            HashMap::new()
        };
        let history = if bulk.history {
            std::mem::take(&mut self.cur.history)
        } else {
            Vec::new()
        };
        // The claims since the last flush join those held, encoded.
        let claims = if bulk.claims {
            let mut held = std::mem::take(&mut *self.held_claims.write());
            for (entry, claim) in std::mem::take(&mut self.cur.claims) {
                held.insert(
                    entry,
                    serde_json::to_vec(&claim).map_err(db)?.into_boxed_slice(),
                );
            }
            held
        } else {
            HashMap::new()
        };
        let parts = self.store.parts()?;
        let store = &*parts;
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let mut jobs = Vec::new();
            if bulk.twins {
                let mut index: Vec<Vec<u8>> =
                    twins.values().flat_map(|(t, _)| index_keys(t)).collect();
                jobs.push(scope.spawn(move || {
                    index.sort_unstable();
                    index.dedup();
                    store
                        .index
                        .ingest(index.into_iter().map(|k| (k, Vec::<u8>::new())))
                        .map_err(db)
                }));
                let mut sorted: Vec<(DeviceId, Twin)> =
                    twins.into_iter().map(|(d, (t, _))| (d, t)).collect();
                jobs.push(scope.spawn(move || {
                    sorted.sort_unstable_by(|a, b| {
                        a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes())
                    });
                    let mut failed = None;
                    let rows = sorted
                        .iter()
                        .map_while(|(d, t)| match serde_json::to_vec(t) {
                            Ok(v) => Some((d.as_str().as_bytes().to_vec(), v)),
                            Err(e) => {
                                failed = Some(db(e));
                                None
                            }
                        });
                    store.twins.ingest(rows).map_err(db)?;
                    failed.map_or(Ok(()), Err)
                }));
            }
            if bulk.history {
                let mut rows: Vec<(Vec<u8>, Vec<u8>)> = history.iter().map(history_row).collect();
                drop(history);
                jobs.push(scope.spawn(move || {
                    rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    store.history.ingest(rows.into_iter()).map_err(db)
                }));
            }
            if bulk.claims {
                jobs.push(scope.spawn(move || {
                    let mut sorted: Vec<(u64, Box<[u8]>)> = claims.into_iter().collect();
                    sorted.sort_unstable_by_key(|(entry, _)| *entry);
                    let rows = sorted
                        .into_iter()
                        .map(|(entry, v)| (entry.to_be_bytes(), v.into_vec()));
                    store.claims.ingest(rows).map_err(db)
                }));
            }
            for j in jobs {
                j.join()
                    .map_err(|_| StoreError::Db("an ingestion thread panicked".into()))??;
            }
            Ok(())
        })?;
        self.flush(meta)
    }

    /// Keeps `twin` (equal to its stored value) in the cache, first making
    /// room by dropping an arbitrary eighth of it when full.
    fn cache_put(cache: &mut HashMap<DeviceId, Twin>, max: usize, device: DeviceId, twin: Twin) {
        if max == 0 {
            return;
        }
        if cache.len() >= max && !cache.contains_key(&device) {
            let mut n = 0usize;
            cache.retain(|_, _| {
                n += 1;
                !n.is_multiple_of(8)
            });
        }
        cache.insert(device, twin);
    }

    /// The store.
    pub fn store(&self) -> &TwinStore {
        &self.store
    }

    /// Records why `entry` was refused (written at the next flush).
    pub fn refuse(&mut self, entry: u64, why: String) {
        self.cur.refused.push((entry, why));
    }

    /// Twins the next flush writes (none while a bulk load holds them).
    pub fn dirty_twins(&self) -> usize {
        if self.bulk.twins {
            0
        } else {
            self.cur.twins.len()
        }
    }

    /// Waits for the flush in progress, if any, to be committed (and
    /// reports its error); its twins then fill the cache.
    pub fn wait_flushing(&mut self) -> Result<(), StoreError> {
        if let Some(f) = self.flushing.take() {
            f.thread
                .join()
                .map_err(|_| StoreError::Db("the flush thread panicked".into()))??;
            // Committed: its twins are now the stored values. The thread's
            // handle on the overlay is gone, so this is the only one.
            if let Ok(mut overlay) = std::sync::Arc::try_unwrap(f.overlay) {
                let cache = self.cache.get_mut();
                for (device, (twin, _)) in std::mem::take(&mut overlay.twins) {
                    Self::cache_put(cache, self.cached_twins_max, device, twin);
                }
                // Freeing a flush's claims and history is work the fold
                // need not wait for.
                drop_elsewhere(overlay);
            }
        }
        Ok(())
    }

    /// Starts writing the overlay and `meta` as one batch on another thread
    /// (after the previous flush is committed, so batches commit in order).
    /// The answer tells when the batch is committed, without holding `self`
    /// (reads fall through the overlay until then); [`StoreState::wait_flushing`]
    /// then reports its outcome.
    pub fn flush_async(&mut self, meta: &Meta) -> Result<FlushDone, StoreError> {
        self.wait_flushing()?;
        if let Some(e) = self.error.lock().take() {
            return Err(StoreError::Db(e));
        }
        let meta = if self.bulk.holds() {
            None
        } else {
            Some(serde_json::to_vec(meta).map_err(db)?)
        };
        // A bulk load keeps what it holds in the overlay (reads find it
        // there), unless it outgrew its bound: then this flush writes it.
        if self.bulk.twins && self.cur.twins.len() > self.bulk_twins_max {
            self.bulk.twins = false;
        }
        if self.bulk.history && self.cur.history.len() > self.bulk_history_max {
            self.bulk.history = false;
        }
        // Held claims past the bound are spilled into this flush's batch.
        if self.bulk.claims && self.held_claims.read().len() > self.bulk_claims_max {
            self.bulk.claims = false;
            self.cur.spilled = std::mem::take(&mut *self.held_claims.write());
        }
        let held = self.bulk.claims.then(|| self.held_claims.clone());
        let held_twins = self.bulk.twins.then(|| std::mem::take(&mut self.cur.twins));
        let held_history = self
            .bulk
            .history
            .then(|| std::mem::take(&mut self.cur.history));
        let mut next = Overlay::sized_like(&self.cur);
        if let Some(t) = held_twins {
            next.twins = t;
        }
        if let Some(h) = held_history {
            next.history = h;
        }
        let overlay = std::sync::Arc::new(std::mem::replace(&mut self.cur, next));
        let store = self.store.clone();
        let o = overlay.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("twin-flush".into())
            .spawn(move || {
                let r = o.write(&store, meta.as_deref(), held.as_ref());
                let _ = tx.send(());
                r
            })
            .map_err(db)?;
        self.flushing = Some(Flushing { overlay, thread });
        Ok(FlushDone(rx))
    }

    /// Writes the overlay and `meta` atomically; returns once committed.
    pub fn flush(&mut self, meta: &Meta) -> Result<(), StoreError> {
        self.flush_async(meta)?;
        self.wait_flushing()
    }

    fn read_twin(&self, device: &DeviceId) -> Option<Twin> {
        if let Some((t, _)) = self.cur.twins.get(device) {
            return Some(t.clone());
        }
        self.stored_twin(device)
    }

    /// The twin of `device` beneath the current overlay: in the overlay
    /// being flushed, the cache, or the store.
    fn stored_twin(&self, device: &DeviceId) -> Option<Twin> {
        if let Some(f) = &self.flushing {
            if let Some((t, _)) = f.overlay.twins.get(device) {
                return Some(t.clone());
            }
        }
        if let Some(t) = self.cache.lock().get(device) {
            return Some(t.clone());
        }
        match self.store.twin(device) {
            Ok(Some(t)) => {
                Self::cache_put(
                    &mut self.cache.lock(),
                    self.cached_twins_max,
                    device.clone(),
                    t.clone(),
                );
                Some(t)
            }
            Ok(None) => None,
            Err(e) => {
                self.error.lock().get_or_insert(e.to_string());
                None
            }
        }
    }
}

impl State for StoreState {
    fn twin(&self, device: &DeviceId) -> Option<Twin> {
        self.read_twin(device)
    }

    fn claim(&self, entry: u64) -> Option<Claim> {
        if let Some(c) = self.cur.claims.get(&entry) {
            return Some(c.clone());
        }
        let decoded = |b: &[u8]| match decode("claim", b) {
            Ok(c) => Some(c),
            Err(e) => {
                self.error.lock().get_or_insert(e.to_string());
                None
            }
        };
        if let Some(f) = &self.flushing {
            if let Some(c) = f.overlay.claims.get(&entry) {
                return Some(c.clone());
            }
            if let Some(b) = f.overlay.spilled.get(&entry) {
                return decoded(b);
            }
        }
        if self.bulk.claims {
            if let Some(b) = self.held_claims.read().get(&entry) {
                return decoded(b);
            }
        }
        match self.store.claim(entry) {
            Ok(c) => c,
            Err(e) => {
                self.error.lock().get_or_insert(e.to_string());
                None
            }
        }
    }

    fn put_twin(&mut self, twin: Twin) {
        match self.cur.twins.get_mut(&twin.device) {
            Some(slot) => slot.0 = twin,
            None => {
                // First write since the last flush: the value it replaces is
                // the one the next flush's index diff starts from.
                let stored = self.stored_twin(&twin.device);
                self.cur.twins.insert(twin.device.clone(), (twin, stored));
            }
        }
    }

    fn put_claim(&mut self, claim: Claim) {
        self.cur.claims.insert(claim.entry, claim);
    }

    fn record(&mut self, device: &DeviceId, entry: u64, kind: &str, issuer: &StakeholderId) {
        self.cur
            .history
            .push((device.clone(), entry, kind.to_string(), issuer.clone()));
    }

    fn put_sbom_part(&mut self, entry: u64, components: Vec<SbomComponent>) {
        self.cur.sboms.insert(entry, components);
    }

    fn record_digest(&mut self, digest: [u8; 32], entry: u64, field: &'static str) {
        self.cur.digests.push((digest, entry, field));
    }

    fn sbom_part(&self, entry: u64) -> Option<Vec<SbomComponent>> {
        if let Some(c) = self.cur.sboms.get(&entry) {
            return Some(c.clone());
        }
        if let Some(f) = &self.flushing {
            if let Some(c) = f.overlay.sboms.get(&entry) {
                return Some(c.clone());
            }
        }
        match self.store.sbom_part(entry) {
            Ok(c) => c,
            Err(e) => {
                self.error.lock().get_or_insert(e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin::projection::{Projection, Registered};
    use twin::ConsensusPolicy;

    /// Every key and value of every partition.
    fn dump(s: &TwinStore) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        let s = s.parts().expect("open");
        let parts = [
            ("twins", &s.twins),
            ("claims", &s.claims),
            ("history", &s.history),
            ("index", &s.index),
            ("refused", &s.refused),
            ("sboms", &s.sboms),
            ("digests", &s.digests),
            ("meta", &s.meta),
        ];
        let mut all = Vec::new();
        for (name, p) in parts {
            for kv in p.iter() {
                let (k, v) = kv.expect("read");
                all.push((name, k.to_vec(), v.to_vec()));
            }
        }
        all
    }

    /// The statements of `devices` devices, round by round across the
    /// fleet (so a twin changes many times between two flushes), with
    /// endorsements, disputes and refusals: the projection store
    /// conformance suite's fleet.
    fn statements(devices: u64) -> Vec<(String, String, String)> {
        twin::conformance::statements(devices)
    }

    /// Folds `entries` into a fresh store, flushing every `flush_every`
    /// entries; a bulk load with the bounds `bulk` if given.
    fn fold(
        dir: &Path,
        entries: &[(String, String, String)],
        flush_every: usize,
        bulk: Option<(usize, usize, usize)>,
    ) -> TwinStore {
        let store = TwinStore::open(dir).expect("open");
        let mut state = StoreState::with_cache(store.clone(), 64);
        if let Some((twins, history, claims)) = bulk {
            state.bulk_bounded(twins, history, claims).expect("bulk");
        }
        let mut p = Projection::with_state(
            Meta {
                policy: ConsensusPolicy::default(),
                ..Meta::default()
            },
            state,
        );
        for (i, (issuer, subject, payload)) in entries.iter().enumerate() {
            let entry = i as u64;
            let r = p
                .apply(Registered {
                    issued_at: None,
                    entry,
                    issuer,
                    subject,
                    payload: payload.as_bytes(),
                })
                .map_err(twin::ingest::IngestError::from);
            if let Err(e) = &r {
                p.state_mut().refuse(entry, e.to_string());
            }
            p.settle(entry, &r);
            if (i + 1) % flush_every == 0 {
                let meta = p.meta().clone();
                p.state_mut().flush_async(&meta).expect("flush");
            }
        }
        let meta = p.meta().clone();
        p.state_mut().finish(&meta).expect("finish");
        store
    }

    #[test]
    fn a_bulk_load_writes_what_the_flushes_write() {
        let entries = statements(500);
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = fold(&dir.path().join("plain"), &entries, 700, None);
        let expected = dump(&plain);
        assert!(expected.iter().any(|(p, _, _)| *p == "refused"));
        assert!(expected.iter().filter(|(p, _, _)| *p == "claims").count() > 500 * 3);
        assert!(expected.iter().filter(|(p, _, _)| *p == "index").count() > 500 * 8);
        // Every device's installed image, by its digest.
        assert_eq!(
            expected.iter().filter(|(p, _, _)| *p == "digests").count(),
            500
        );
        // Held to the end; outgrowing the twins', the history's or the
        // claims' bound midway; all three.
        for (i, bounds) in [
            (1 << 20, 1 << 20, 1 << 20),
            (300, 1 << 20, 1 << 20),
            (1 << 20, 1000, 1 << 20),
            (1 << 20, 1 << 20, 900),
            (10, 10, 10),
        ]
        .into_iter()
        .enumerate()
        {
            let bulk = fold(
                &dir.path().join(format!("bulk{i}")),
                &entries,
                700,
                Some(bounds),
            );
            let got = dump(&bulk);
            assert_eq!(got.len(), expected.len(), "bounds {bounds:?}");
            for (a, b) in got.iter().zip(&expected) {
                assert_eq!(a, b, "bounds {bounds:?}");
            }
        }
    }

    #[test]
    fn an_unfinished_bulk_load_claims_nothing() {
        let entries = statements(50);
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TwinStore::open(dir.path()).expect("open");
        let mut state = StoreState::new(store.clone());
        state.bulk().expect("bulk");
        let mut p = Projection::with_state(Meta::default(), state);
        for (i, (issuer, subject, payload)) in entries.iter().enumerate() {
            let r = p
                .apply(Registered {
                    issued_at: None,
                    entry: i as u64,
                    issuer,
                    subject,
                    payload: payload.as_bytes(),
                })
                .map_err(twin::ingest::IngestError::from);
            p.settle(i as u64, &r);
        }
        let meta = p.meta().clone();
        p.state_mut().flush(&meta).expect("flush");
        assert_eq!(store.load_meta().expect("meta").map(|m| m.size), None);
        let parts = store.parts().expect("open");
        assert!(parts.twins.is_empty().expect("twins"));
        assert!(parts.claims.is_empty().expect("claims"));
    }
}
