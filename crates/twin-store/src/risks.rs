//! The risk register of a node: the twins' snapshot (read from the store)
//! and the advisories it holds, built into a [`register::Register`] by the
//! pure `register` crate, cached until the projection, the advisories or the
//! day change.
//!
//! Deliberately absent: matching and risk logic (crates `vuln`, `register`),
//! HTTP, and who may see which risk (the API decides per caller).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use register::{DeviceFacts, Register, Snapshot};
use vuln::index::{AdvisoryIndex, ImportReport};
use vuln_formats::model::Advisory;

use crate::{Projector, StoreError};

/// Devices read per page while taking a snapshot.
const SNAPSHOT_PAGE_DEVICES: usize = 1024;

/// The risk register over a projector's twins.
pub struct RiskService {
    projector: Projector,
    policy: risk::DeadlinePolicy,
    advisories: RwLock<AdvisoryIndex>,
    /// Where imported advisories are kept (`DATA/advisories`), if anywhere.
    store: Option<advisory_store::AdvisoryStore>,
    generation: AtomicU64,
    /// (projection size, advisory generation, day) → register.
    cache: Mutex<Option<(CacheKey, Arc<Register>)>>,
}

/// What a cached register was built from: projection size, advisory
/// generation, day.
type CacheKey = (u64, u64, risk::Date);

/// Today (UTC) as a [`risk::Date`].
pub fn today() -> risk::Date {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    #[allow(clippy::expect_used)]
    let epoch = risk::Date::from_ymd(1970, 1, 1).expect("1970-01-01 is a date");
    epoch.add_days(u32::try_from(days).unwrap_or(u32::MAX))
}

impl RiskService {
    /// A register over `projector`'s twins under `policy`, with no advisories yet.
    pub fn new(projector: Projector, policy: risk::DeadlinePolicy) -> Arc<RiskService> {
        Arc::new(RiskService {
            projector,
            policy,
            advisories: RwLock::new(AdvisoryIndex::new()),
            store: None,
            generation: AtomicU64::new(0),
            cache: Mutex::new(None),
        })
    }

    /// A register over `projector`'s twins whose advisories are kept in
    /// `store` (loaded now; imports are durable there before they count).
    pub fn with_store(
        projector: Projector,
        policy: risk::DeadlinePolicy,
        store: advisory_store::AdvisoryStore,
    ) -> Result<Arc<RiskService>, StoreError> {
        let index = store
            .load_index()
            .map_err(|e| StoreError::Db(format!("loading advisories: {e}")))?;
        Ok(Arc::new(RiskService {
            projector,
            policy,
            advisories: RwLock::new(index),
            store: Some(store),
            generation: AtomicU64::new(0),
            cache: Mutex::new(None),
        }))
    }

    /// Adds or updates advisories (by id), durably first when the service
    /// keeps a store; the next register reflects them.
    pub fn import(&self, advisories: &[Advisory]) -> Result<ImportReport, StoreError> {
        if let Some(store) = &self.store {
            store
                .import(advisories.iter().cloned())
                .map_err(|e| StoreError::Db(format!("storing advisories: {e}")))?;
        }
        let report = {
            let mut index = self.advisories.write();
            index.import(advisories.iter().map(|a| Ok::<_, String>(a.clone())))
        };
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(report)
    }

    /// Replaces every advisory.
    pub fn set_advisories(&self, index: AdvisoryIndex) {
        *self.advisories.write() = index;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Advisories held.
    pub fn advisory_count(&self) -> usize {
        self.advisories.read().len()
    }

    /// Runs `f` on the advisory index.
    pub fn with_advisories<R>(&self, f: impl FnOnce(&AdvisoryIndex) -> R) -> R {
        f(&self.advisories.read())
    }

    /// The deadline policy.
    pub fn policy(&self) -> &risk::DeadlinePolicy {
        &self.policy
    }

    /// The snapshot of the twins as the store holds them now.
    pub fn snapshot(&self, today: risk::Date) -> Result<Snapshot, StoreError> {
        let meta = self.projector.meta();
        let store = self.projector.store();
        let models = register::model_subjects(&meta);
        let mut devices = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.devices(after.as_deref(), SNAPSHOT_PAGE_DEVICES)?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.device.0.clone());
            for t in &page {
                if let Some(view) = store.view(&meta.policy, &t.device)? {
                    devices.push(DeviceFacts::from_view(&view, &models));
                }
            }
            if page.len() < SNAPSHOT_PAGE_DEVICES {
                break;
            }
        }
        let missing: std::cell::RefCell<Option<StoreError>> = std::cell::RefCell::new(None);
        let snapshot = Snapshot::from_meta(
            &meta,
            devices,
            |entry| match store.sbom_part(entry) {
                Ok(c) => c,
                Err(e) => {
                    missing.borrow_mut().get_or_insert(e);
                    None
                }
            },
            today,
            self.policy.clone(),
        );
        match missing.into_inner() {
            Some(e) => Err(e),
            None => Ok(snapshot),
        }
    }

    /// The register for `today` (cached while nothing changed).
    pub fn register(&self, today: risk::Date) -> Result<Arc<Register>, StoreError> {
        let key = (
            self.projector.size(),
            self.generation.load(Ordering::SeqCst),
            today,
        );
        if let Some((k, r)) = &*self.cache.lock() {
            if *k == key {
                return Ok(r.clone());
            }
        }
        let snapshot = self.snapshot(today)?;
        let built = {
            let index = self.advisories.read();
            register::build(&snapshot, &index)
        }
        .map_err(|e| StoreError::Db(e.to_string()))?;
        let built = Arc::new(built);
        *self.cache.lock() = Some((key, built.clone()));
        Ok(built)
    }
}

/// Whether `reader` may be shown (or told about) `risk` at `now_unix_s`: it
/// holds a role on its subject (for a device risk, the auditor role counts:
/// an audit grant covering the device now, see `twin::audit`) and, for a
/// device risk, the manufacturer's sharing policy shows it the device's SBOM
/// data.
pub fn may_see(
    meta: &twin::Meta,
    store: &crate::TwinStore,
    reader: &twin::StakeholderId,
    risk: &register::Risk,
    now_unix_s: i64,
) -> Result<bool, StoreError> {
    let listed = risk.stakeholders.contains(&reader.0);
    let Some(device) = &risk.device else {
        return Ok(listed);
    };
    if !listed && meta.audits.of(reader).is_empty() {
        return Ok(false);
    }
    let Some(t) = store.twin(&twin::DeviceId(device.clone()))? else {
        return Ok(false);
    };
    if !listed
        && !twin::projection::roles_at(meta, reader, &t, now_unix_s).contains(&twin::Role::Auditor)
    {
        return Ok(false);
    }
    let (decision, _) = twin::projection::decide_read(
        meta,
        Some(reader),
        &t,
        &t.manufacturer,
        "sbom-registered",
        now_unix_s,
    );
    Ok(!matches!(decision, twin::sharing::Decision::Denied))
}
