//! The twin projection's store contract: what a store of the fold of the log
//! keeps and answers, whichever engine holds it.
//!
//! A projection store holds the twins (with an index of their searchable
//! attributes), the claims, each device's history, the refusals, the SBOM
//! parts, the digests statements name, and the [`Meta`] with the log size
//! the rest reflects. It is written only by [`ProjectionStore::write`]: one
//! batch of [`Changes`] and the meta, atomically, so that after a crash the
//! store is the fold of some prefix of the log. `twin_store::TwinStore` is
//! the embedded one (fjall) and `pg_store::PgTwins` the one several nodes
//! share; `twin::conformance` (feature `testing`) checks both.
//!
//! [`OverlayState`] is the projection's [`State`] over any such store: reads
//! fall through the writes not yet flushed.

use std::collections::HashMap;

use crate::projection::{Claim, Twin};
use crate::statement::SbomComponent;
use crate::{DeviceId, Meta, StakeholderId, State};

/// Why a projection store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (I/O, a lost connection, a full disk).
    #[error("twin store: {0}")]
    Db(String),
    /// A stored value does not decode.
    #[error("twin store: corrupt {what}: {why}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// The stored projection is not the one the write starts from: another
    /// writer moved it ([`ProjectionStore::write`]'s `from_size`).
    #[error(
        "twin store: the projection is at entry {stored}, not {expected}: another writer moved it"
    )]
    Moved {
        /// The size the writer started from.
        expected: u64,
        /// The size stored.
        stored: u64,
    },
}

/// A history row: (device, entry, statement type, issuer).
pub type HistoryRow = (DeviceId, u64, String, StakeholderId);

/// What one flush writes.
#[derive(Debug, Default)]
pub struct Changes {
    /// device → (current value, value in the store when first touched): the
    /// index changes are the difference of the two.
    pub twins: HashMap<DeviceId, (Twin, Option<Twin>)>,
    /// Claims written, by entry.
    pub claims: HashMap<u64, Claim>,
    /// History rows added.
    pub history: Vec<HistoryRow>,
    /// Entries refused, and why.
    pub refused: Vec<(u64, String)>,
    /// SBOM parts, by entry.
    pub sboms: HashMap<u64, Vec<SbomComponent>>,
    /// (digest, entry, what the digest is there) rows added.
    pub digests: Vec<([u8; 32], u64, &'static str)>,
}

impl Changes {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.twins.is_empty()
            && self.claims.is_empty()
            && self.history.is_empty()
            && self.refused.is_empty()
            && self.sboms.is_empty()
            && self.digests.is_empty()
    }
}

/// A store of the twin projection.
///
/// Orders: devices and search results in the byte order of their ids;
/// history and digest rows in log order. Pages start after a cursor.
pub trait ProjectionStore: Send + Sync {
    /// The stored meta, if the store holds a projection.
    fn load_meta(&self) -> Result<Option<Meta>, StoreError>;
    /// The log size the stored projection reflects (0 if none).
    fn size(&self) -> Result<u64, StoreError>;
    /// A twin.
    fn twin(&self, device: &DeviceId) -> Result<Option<Twin>, StoreError>;
    /// The claim registered as `entry`.
    fn claim(&self, entry: u64) -> Result<Option<Claim>, StoreError>;
    /// The components of the SBOM part registered as `entry`.
    fn sbom_part(&self, entry: u64) -> Result<Option<Vec<SbomComponent>>, StoreError>;
    /// Why entry `entry` was refused, if it was.
    fn refusal(&self, entry: u64) -> Result<Option<String>, StoreError>;
    /// Twins in id order, after `after`, at most `limit`.
    fn devices(&self, after: Option<&str>, limit: usize) -> Result<Vec<Twin>, StoreError>;
    /// How many twins there are.
    fn device_count(&self) -> Result<u64, StoreError>;
    /// Device ids with `attribute = value` ([`index_pairs`]), in id order,
    /// after `after`, at most `limit`.
    fn search(
        &self,
        attribute: &str,
        value: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeviceId>, StoreError>;
    /// The entries about `device` (entry, type, issuer), in log order,
    /// after `after`, at most `limit`.
    fn history(
        &self,
        device: &DeviceId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String, StakeholderId)>, StoreError>;
    /// The entries naming `digest` (entry, what it is there), in log
    /// order, after `after`, at most `limit`.
    fn digest_entries(
        &self,
        digest: &[u8; 32],
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError>;
    /// Writes `changes` and `meta` (if given) as one atomic batch, durable
    /// when it returns. `from_size`: the size of the projection the changes
    /// were folded onto; the write is refused with [`StoreError::Moved`],
    /// and nothing written, if the store's is another (two writers never
    /// interleave their batches).
    fn write(
        &self,
        changes: Changes,
        meta: Option<&Meta>,
        from_size: u64,
    ) -> Result<(), StoreError>;
}

impl<T: ProjectionStore + ?Sized> ProjectionStore for std::sync::Arc<T> {
    fn load_meta(&self) -> Result<Option<Meta>, StoreError> {
        (**self).load_meta()
    }
    fn size(&self) -> Result<u64, StoreError> {
        (**self).size()
    }
    fn twin(&self, device: &DeviceId) -> Result<Option<Twin>, StoreError> {
        (**self).twin(device)
    }
    fn claim(&self, entry: u64) -> Result<Option<Claim>, StoreError> {
        (**self).claim(entry)
    }
    fn sbom_part(&self, entry: u64) -> Result<Option<Vec<SbomComponent>>, StoreError> {
        (**self).sbom_part(entry)
    }
    fn refusal(&self, entry: u64) -> Result<Option<String>, StoreError> {
        (**self).refusal(entry)
    }
    fn devices(&self, after: Option<&str>, limit: usize) -> Result<Vec<Twin>, StoreError> {
        (**self).devices(after, limit)
    }
    fn device_count(&self) -> Result<u64, StoreError> {
        (**self).device_count()
    }
    fn search(
        &self,
        attribute: &str,
        value: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeviceId>, StoreError> {
        (**self).search(attribute, value, after, limit)
    }
    fn history(
        &self,
        device: &DeviceId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String, StakeholderId)>, StoreError> {
        (**self).history(device, after, limit)
    }
    fn digest_entries(
        &self,
        digest: &[u8; 32],
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        (**self).digest_entries(digest, after, limit)
    }
    fn write(
        &self,
        changes: Changes,
        meta: Option<&Meta>,
        from_size: u64,
    ) -> Result<(), StoreError> {
        (**self).write(changes, meta, from_size)
    }
}

/// The wire name of a lifecycle state.
pub fn lifecycle_name(l: crate::Lifecycle) -> &'static str {
    use crate::Lifecycle::*;
    match l {
        Manufactured => "manufactured",
        Provisioned => "provisioned",
        Deployed => "deployed",
        InMaintenance => "in_maintenance",
        Decommissioned => "decommissioned",
    }
}

/// The index attribute under which a twin is found by the keyed built-in
/// types it holds claims of (`BuiltinTypes::keyed`), e.g.
/// `finding-suppressed`: not one of [`SEARCH_ATTRIBUTES`].
pub const KEYED_ATTRIBUTE: &str = "keyed";

/// The searchable attributes (see [`index_pairs`]).
pub const SEARCH_ATTRIBUTES: &[&str] = &[
    "manufacturer",
    "model",
    "serial",
    "hardware_id",
    "site",
    "location",
    "group",
    "lifecycle",
    "owner",
    "operator",
    "maintainer",
    "firmware",
];

/// The (attribute, value) pairs a twin is found by: one per searchable
/// attribute value, and one per keyed built-in type it holds claims of.
pub fn index_pairs(t: &Twin) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = vec![
        ("manufacturer", &t.manufacturer.0),
        ("model", &t.model),
        ("serial", &t.serial),
        ("lifecycle", lifecycle_name(t.lifecycle)),
    ];
    let opt = [
        ("hardware_id", &t.hardware_id),
        ("site", &t.site),
        ("location", &t.location),
        ("firmware", &t.firmware),
    ];
    for (a, v) in opt {
        if let Some(v) = v {
            pairs.push((a, v));
        }
    }
    for (a, v) in [
        ("owner", &t.owner),
        ("operator", &t.operator),
        ("maintainer", &t.maintainer),
    ] {
        if let Some(v) = v {
            pairs.push((a, &v.0));
        }
    }
    for g in &t.groups {
        pairs.push(("group", g));
    }
    for class in t.current.keys() {
        if let crate::AttributeClass::Custom(k) = class {
            if let (name, true) = crate::projection::custom_type_of(k) {
                if !pairs.contains(&(KEYED_ATTRIBUTE, name)) {
                    pairs.push((KEYED_ATTRIBUTE, name));
                }
            }
        }
    }
    pairs
}

/// Decoded twins an [`OverlayState`] keeps unless told otherwise.
pub const OVERLAY_CACHED_TWINS_MAX: usize = 64 * 1024;

/// The projection's [`State`] over a [`ProjectionStore`]: writes gather in
/// an overlay of [`Changes`] until [`OverlayState::flush`] writes them with
/// the meta; reads fall through the overlay, a cache of decoded twins, then
/// the store. A read that fails is kept and reported by the next flush,
/// which then writes nothing ([`State`]'s reads cannot fail).
pub struct OverlayState<S> {
    store: S,
    cur: Changes,
    /// The size of the stored projection the overlay is folded onto.
    from_size: u64,
    cache: std::sync::Mutex<HashMap<DeviceId, Twin>>,
    cached_twins_max: usize,
    error: std::sync::Mutex<Option<String>>,
    /// On a store that was empty at open: every device written since, so
    /// that a device never seen is known absent without asking the store
    /// (a fold into an empty store registers most devices first).
    written: Option<std::collections::HashSet<DeviceId>>,
}

impl<S: ProjectionStore> OverlayState<S> {
    /// A state over `store`, folding onto what it holds.
    pub fn new(store: S) -> Result<OverlayState<S>, StoreError> {
        let from_size = store.size()?;
        let empty = from_size == 0 && store.devices(None, 1)?.is_empty();
        Ok(OverlayState {
            store,
            cur: Changes::default(),
            from_size,
            cache: std::sync::Mutex::new(HashMap::new()),
            cached_twins_max: OVERLAY_CACHED_TWINS_MAX,
            error: std::sync::Mutex::new(None),
            written: empty.then(std::collections::HashSet::new),
        })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Records why `entry` was refused (written at the next flush).
    pub fn refuse(&mut self, entry: u64, why: String) {
        self.cur.refused.push((entry, why));
    }

    /// Twins the next flush writes.
    pub fn dirty_twins(&self) -> usize {
        self.cur.twins.len()
    }

    /// Writes the overlay and `meta` atomically; returns once durable. On
    /// an error the overlay is dropped: the caller opens the state again and
    /// folds from what the store holds (after [`StoreError::Moved`], another
    /// writer's fold).
    pub fn flush(&mut self, meta: &Meta) -> Result<(), StoreError> {
        if let Some(e) = self.lock_error().take() {
            return Err(StoreError::Db(e));
        }
        let changes = std::mem::take(&mut self.cur);
        let twins: Vec<(DeviceId, Twin)> = changes
            .twins
            .iter()
            .map(|(d, (t, _))| (d.clone(), t.clone()))
            .collect();
        self.store.write(changes, Some(meta), self.from_size)?;
        self.from_size = meta.size;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for (device, twin) in twins {
            if cache.len() >= self.cached_twins_max && !cache.contains_key(&device) {
                cache.clear();
            }
            if self.cached_twins_max > 0 {
                cache.insert(device, twin);
            }
        }
        Ok(())
    }

    fn lock_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.error.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed<T>(&self, r: Result<Option<T>, StoreError>) -> Option<T> {
        r.unwrap_or_else(|e| {
            self.lock_error().get_or_insert(e.to_string());
            None
        })
    }

    fn stored_twin(&self, device: &DeviceId) -> Option<Twin> {
        if let Some(t) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
        {
            return Some(t.clone());
        }
        if self.written.as_ref().is_some_and(|w| !w.contains(device)) {
            return None;
        }
        self.failed(self.store.twin(device))
    }
}

impl<S: ProjectionStore> State for OverlayState<S> {
    fn twin(&self, device: &DeviceId) -> Option<Twin> {
        if let Some((t, _)) = self.cur.twins.get(device) {
            return Some(t.clone());
        }
        self.stored_twin(device)
    }

    fn claim(&self, entry: u64) -> Option<Claim> {
        if let Some(c) = self.cur.claims.get(&entry) {
            return Some(c.clone());
        }
        self.failed(self.store.claim(entry))
    }

    fn put_twin(&mut self, twin: Twin) {
        match self.cur.twins.get_mut(&twin.device) {
            Some(slot) => slot.0 = twin,
            None => {
                let stored = self.stored_twin(&twin.device);
                if let Some(w) = self.written.as_mut() {
                    w.insert(twin.device.clone());
                }
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

    fn sbom_part(&self, entry: u64) -> Option<Vec<SbomComponent>> {
        if let Some(c) = self.cur.sboms.get(&entry) {
            return Some(c.clone());
        }
        self.failed(self.store.sbom_part(entry))
    }

    fn record_digest(&mut self, digest: [u8; 32], entry: u64, field: &'static str) {
        self.cur.digests.push((digest, entry, field));
    }
}
