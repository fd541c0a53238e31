//! The risk register of a node: the twins' snapshot (read from the store)
//! and the advisories it holds, built into a [`risk_register::Register`] by the
//! pure `risk-register` crate, cached until the projection, the advisories or the
//! day change.
//!
//! Deliberately absent: matching and risk logic (crates `vuln`, `risk-register`),
//! HTTP, and who may see which risk (the API decides per caller).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use risk_register::{DeviceFacts, Register, Snapshot};
use vuln::index::{AdvisoryIndex, ImportReport, PreparedAdvisory};
use vuln_formats::model::Advisory;

use crate::{Projector, StoreError};

mod exploit;

pub use exploit::ExploitError;

/// Devices read per page while taking a snapshot.
const SNAPSHOT_PAGE_DEVICES: usize = 1024;

/// Statements registered per batch when recording advisory changes (the
/// transparency service's batch limit).
const RECORD_BATCH_STATEMENTS_MAX: usize = 4096;

/// Stakeholders whose own advisories a node keeps at most (each has its
/// own store).
pub const SUBMITTING_STAKEHOLDERS_MAX: usize = 256;

/// The risk register over a projector's twins.
pub struct RiskService {
    projector: Projector,
    policy: risk::DeadlinePolicy,
    /// The shared advisories: changed only by the node's administrator
    /// (`sectwin vuln import`, a configured feed).
    advisories: RwLock<AdvisoryIndex>,
    /// Where the shared advisories are kept (`DATA/advisories`), if anywhere.
    store: Option<advisory_store::AdvisoryStore>,
    /// Advisories stakeholders submitted themselves, by stakeholder id:
    /// each stakeholder's own, never mixed with another source's.
    submitted: RwLock<BTreeMap<String, Submitted>>,
    /// Where submitted advisories are kept (`DATA/advisories-submitted`),
    /// one store per stakeholder, if anywhere.
    submitted_dir: Option<PathBuf>,
    /// When each risk was first held by a register (risk key → day), kept
    /// in the shared advisory store.
    discovered: RwLock<Arc<std::collections::HashMap<String, risk::Date>>>,
    /// Serializes [`RiskService::record_changes`] (a change is recorded once).
    recording: tokio::sync::Mutex<()>,
    /// Advisory ids changed since the register last looked, and whether
    /// every advisory may have changed.
    changed: Mutex<Changed>,
    /// Woken when the advisories change.
    advisories_changed: tokio::sync::Notify,
    /// What the last register was built from (the next builds on it).
    built: Mutex<Option<Built>>,
    /// The latest registers, each with what changed from the one before
    /// (see [`RiskService::changes_between`]).
    lineage: Mutex<std::collections::VecDeque<(std::sync::Weak<Register>, Delta)>>,
    /// What the last step that made a new register cost, in microseconds.
    last_build_us: std::sync::atomic::AtomicU64,
    /// The posture rules whose open findings are device risks.
    rules: Arc<posture::audit::RuleSet>,
    /// What is known about exploitation (known-exploited lists, EPSS),
    /// loaded from the store and replaced by each import.
    exploitation: RwLock<Arc<vuln::exploit::ExploitIndex>>,
}

/// Registers [`RiskService::changes_between`] looks back over at most.
const LINEAGE_REGISTERS_MAX: usize = 32;

/// What changed from one register to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    /// Only the risks of these vulnerabilities.
    Vulnerabilities(BTreeSet<String>),
    /// Anything.
    Everything,
}

#[derive(Default)]
struct Changed {
    generation: u64,
    ids: BTreeSet<String>,
    everything: bool,
    /// Exploitation facts changed for many vulnerabilities: every risk's
    /// priority is worked out again (no matching).
    reprioritize: bool,
    /// Exploitation facts changed for the vulnerabilities of these
    /// advisories only: their risks are assembled again (no matching).
    reprioritize_ids: BTreeSet<String>,
}

/// Which risks' priorities a register step works out again without
/// matching: every risk, or those of these advisories.
#[derive(Clone, Copy)]
struct Reprioritize<'a> {
    all: bool,
    ids: &'a BTreeSet<String>,
}

/// What the last register was built from.
struct Built {
    /// The projection size the snapshot's devices reflect.
    size: u64,
    /// The projection's meta the snapshot was taken from.
    meta: Arc<twin::Meta>,
    models: BTreeMap<(String, String), String>,
    snapshot: Snapshot,
    /// Device id → its position in the snapshot.
    positions: std::collections::HashMap<String, usize>,
    engine: risk_register::Engine,
    /// The advisory generation the engine reflects.
    generation: u64,
    register: Arc<Register>,
    /// What the posture audit keeps between builds.
    book: crate::posture::PostureBook,
}

/// One stakeholder's own advisories.
struct Submitted {
    store: Option<advisory_store::AdvisoryStore>,
    index: AdvisoryIndex,
}

/// Why a stakeholder's advisories were not taken.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The node keeps advisories of this many stakeholders already.
    #[error(
        "this node keeps the advisories of {SUBMITTING_STAKEHOLDERS_MAX} stakeholders already"
    )]
    TooManyStakeholders,
    /// Storing failed.
    #[error("storing advisories: {0}")]
    Store(String),
}

/// An advisory change to record in the log: what an advisory of a source
/// is after a change ([`RiskService::unrecorded_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedChange {
    /// `None` for the shared advisories, else the stakeholder that
    /// submitted it.
    pub submitted_by: Option<String>,
    /// The change.
    pub change: advisory_store::Change,
}

/// A source of advisories (`None`: the shared ones; else the submitting
/// stakeholder) and a generation of its store.
pub type SourceGeneration = (Option<String>, u64);

/// The directory of `stakeholder`'s advisories under `dir`: a hash of its
/// id (ids may hold any character), with the id itself in a file beside.
fn submitted_store_dir(dir: &Path, stakeholder: &str) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(stakeholder.as_bytes());
    dir.join(hex::encode(&digest[..16]))
}

/// Opens every stakeholder's advisory store under `dir`.
fn open_submitted(dir: &Path) -> Result<BTreeMap<String, Submitted>, StoreError> {
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::Db(format!("{}: {e}", dir.display()))),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| StoreError::Db(format!("{}: {e}", dir.display())))?
            .path();
        let Ok(stakeholder) = std::fs::read_to_string(path.join("stakeholder")) else {
            continue;
        };
        let store = advisory_store::AdvisoryStore::open(&path)
            .map_err(|e| StoreError::Db(format!("{}: {e}", path.display())))?;
        let index = store
            .load_index()
            .map_err(|e| StoreError::Db(format!("loading advisories: {e}")))?;
        out.insert(
            stakeholder.trim_end().to_string(),
            Submitted {
                store: Some(store),
                index,
            },
        );
    }
    Ok(out)
}

/// The posture rule library (embedded; a library that does not load, a
/// programming error caught by the `posture` tests, audits nothing).
fn posture_rules() -> Arc<posture::audit::RuleSet> {
    Arc::new(
        posture::audit::RuleSet::default_library().unwrap_or_else(|e| {
            tracing::error!("the posture rule library does not load: {e}");
            posture::audit::RuleSet::default()
        }),
    )
}

/// Today (UTC) by `clock`, as a [`risk::Date`]: the day a register is
/// built for is the caller's clock's, never read here.
pub fn today(clock: &dyn clock::Clock) -> risk::Date {
    day_of_unix_s(clock.now_unix_s())
}

/// The UTC day of `unix_s` (seconds since the epoch; before it counts as
/// 1970-01-01).
pub fn day_of_unix_s(unix_s: i64) -> risk::Date {
    let days = u64::try_from(unix_s).unwrap_or(0) / 86_400;
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
            submitted: RwLock::new(BTreeMap::new()),
            submitted_dir: None,
            discovered: RwLock::new(Arc::default()),
            recording: tokio::sync::Mutex::new(()),
            changed: Mutex::new(Changed::default()),
            advisories_changed: tokio::sync::Notify::new(),
            built: Mutex::new(None),
            lineage: Mutex::new(std::collections::VecDeque::new()),
            last_build_us: std::sync::atomic::AtomicU64::new(0),
            rules: posture_rules(),
            exploitation: RwLock::new(Arc::default()),
        })
    }

    /// A register over `projector`'s twins whose shared advisories are kept
    /// in `store` (loaded now; imports are durable there before they count),
    /// and stakeholders' own advisories under `submitted_dir`, if given.
    pub fn with_store(
        projector: Projector,
        policy: risk::DeadlinePolicy,
        store: advisory_store::AdvisoryStore,
        submitted_dir: Option<&Path>,
    ) -> Result<Arc<RiskService>, StoreError> {
        let index = store
            .load_index()
            .map_err(|e| StoreError::Db(format!("loading advisories: {e}")))?;
        let exploitation = store
            .load_exploitation()
            .map_err(|e| StoreError::Db(format!("loading exploitation data: {e}")))?;
        let submitted = match submitted_dir {
            Some(dir) => open_submitted(dir)?,
            None => BTreeMap::new(),
        };
        let mut discovered = std::collections::HashMap::new();
        for (key, day) in store
            .discoveries()
            .map_err(|e| StoreError::Db(format!("loading discovery dates: {e}")))?
        {
            if let Ok(day) = risk::Date::parse(&day) {
                discovered.insert(key, day);
            }
        }
        Ok(Arc::new(RiskService {
            projector,
            policy,
            advisories: RwLock::new(index),
            store: Some(store),
            submitted: RwLock::new(submitted),
            submitted_dir: submitted_dir.map(Path::to_path_buf),
            // Kept across restarts: a deadline never moves.
            discovered: RwLock::new(Arc::new(discovered)),
            recording: tokio::sync::Mutex::new(()),
            changed: Mutex::new(Changed::default()),
            advisories_changed: tokio::sync::Notify::new(),
            built: Mutex::new(None),
            lineage: Mutex::new(std::collections::VecDeque::new()),
            last_build_us: std::sync::atomic::AtomicU64::new(0),
            rules: posture_rules(),
            exploitation: RwLock::new(Arc::new(exploitation)),
        }))
    }

    /// Adds or updates shared advisories (by id), durably first when the
    /// service keeps a store; the next register reflects them. For the
    /// node's administrator (stakeholders' own advisories go through
    /// [`RiskService::submit`]). An older `modified` never replaces a newer
    /// version.
    pub fn import_shared(
        &self,
        advisories: &[Advisory],
    ) -> Result<advisory_store::ImportSummary, StoreError> {
        let summary = match &self.store {
            Some(store) => {
                let started = std::time::Instant::now();
                let (prepared, encoded) = prepare_all(advisories)?;
                let ready = started.elapsed();
                let summary = store
                    .import_encoded(encoded)
                    .map_err(|e| StoreError::Db(format!("storing advisories: {e}")))?;
                let stored = started.elapsed();
                apply_prepared(
                    store,
                    &mut self.advisories.write(),
                    &summary,
                    advisories,
                    prepared,
                )?;
                tracing::debug!(
                    prepare_ms = ready.as_secs_f64() * 1e3,
                    store_ms = (stored - ready).as_secs_f64() * 1e3,
                    index_ms = (started.elapsed() - stored).as_secs_f64() * 1e3,
                    changed = summary.changed_ids.len(),
                    "shared advisories imported"
                );
                summary
            }
            None => in_memory(&mut self.advisories.write(), advisories),
        };
        self.note_changed(&summary.changed_ids);
        Ok(summary)
    }

    /// Takes `stakeholder`'s own advisories into its own store: they never
    /// replace another source's (the shared advisories or another
    /// stakeholder's), an older `modified` never replaces a newer version,
    /// and the register applies them to the releases `stakeholder` released
    /// only ([`risk_register::build_with`]).
    pub fn submit(
        &self,
        stakeholder: &str,
        advisories: &[Advisory],
    ) -> Result<advisory_store::ImportSummary, SubmitError> {
        let store_err = |e: &dyn std::fmt::Display| SubmitError::Store(e.to_string());
        let mut submitted = self.submitted.write();
        if !submitted.contains_key(stakeholder) {
            if submitted.len() >= SUBMITTING_STAKEHOLDERS_MAX {
                return Err(SubmitError::TooManyStakeholders);
            }
            let store = match &self.submitted_dir {
                Some(dir) => {
                    let path = submitted_store_dir(dir, stakeholder);
                    std::fs::create_dir_all(&path).map_err(|e| store_err(&e))?;
                    std::fs::write(path.join("stakeholder"), stakeholder)
                        .map_err(|e| store_err(&e))?;
                    Some(advisory_store::AdvisoryStore::open(&path).map_err(|e| store_err(&e))?)
                }
                None => None,
            };
            submitted.insert(
                stakeholder.to_string(),
                Submitted {
                    store,
                    index: AdvisoryIndex::new(),
                },
            );
        }
        let Some(own) = submitted.get_mut(stakeholder) else {
            return Err(SubmitError::Store("not opened".into()));
        };
        let summary = match &own.store {
            Some(store) => {
                let (prepared, encoded) = prepare_all(advisories).map_err(|e| store_err(&e))?;
                let summary = store.import_encoded(encoded).map_err(|e| store_err(&e))?;
                apply_prepared(store, &mut own.index, &summary, advisories, prepared)
                    .map_err(|e| store_err(&e))?;
                summary
            }
            None => in_memory(&mut own.index, advisories),
        };
        drop(submitted);
        self.note_changed(&summary.changed_ids);
        Ok(summary)
    }

    /// Advisory changes not yet recorded in the log, of every source, with
    /// the generation each source has reached (for
    /// [`RiskService::changes_recorded`]).
    pub fn unrecorded_changes(
        &self,
    ) -> Result<(Vec<SourcedChange>, Vec<SourceGeneration>), StoreError> {
        let db = |e: advisory_store::StoreError| StoreError::Db(e.to_string());
        let mut changes = Vec::new();
        let mut reached = Vec::new();
        let mut collect = |who: Option<&str>, store: &advisory_store::AdvisoryStore| {
            let logged = store.logged_generation().map_err(db)?;
            let now = store.generation().map_err(db)?;
            if now > logged {
                for change in store.changes_since(logged).map_err(db)? {
                    changes.push(SourcedChange {
                        submitted_by: who.map(str::to_string),
                        change,
                    });
                }
                reached.push((who.map(str::to_string), now));
            }
            Ok::<(), StoreError>(())
        };
        if let Some(store) = &self.store {
            collect(None, store)?;
        }
        for (who, own) in self.submitted.read().iter() {
            if let Some(store) = &own.store {
                collect(Some(who), store)?;
            }
        }
        Ok((changes, reached))
    }

    /// Registers in the log a statement for every advisory change not yet
    /// recorded, signed by `sign(subject, payload)` (the node's registry
    /// authority), then marks them recorded; answers the log entries it
    /// registered. Subject `advisory:<id>`; payload `{"type":
    /// "advisory-changed", "source": "shared" | "submitted", "on_behalf_of"
    /// (the submitting stakeholder), "id", "sha256" (of the stored record),
    /// "modified", "withdrawn", "generation"}`. Run after every import and
    /// when a node starts (so an import made offline, or interrupted before
    /// its record, is recorded then).
    pub async fn record_changes(
        &self,
        scitt: &transparency::TransparencyService,
        sign: &(dyn Fn(&str, &[u8]) -> Vec<u8> + Send + Sync),
    ) -> Result<Vec<u64>, StoreError> {
        let _one_at_a_time = self.recording.lock().await;
        let (changes, reached) = self.unrecorded_changes()?;
        let mut recorded = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(RECORD_BATCH_STATEMENTS_MAX) {
            let statements: Vec<Vec<u8>> = chunk
                .iter()
                .map(|c| {
                    let mut payload = serde_json::json!({
                        "type": "advisory-changed",
                        "source": if c.submitted_by.is_some() { "submitted" } else { "shared" },
                        "id": c.change.id,
                        "sha256": hex::encode(c.change.sha256),
                        "modified": c.change.modified,
                        "withdrawn": c.change.withdrawn,
                        "generation": c.change.generation,
                    });
                    if let Some(who) = &c.submitted_by {
                        payload["on_behalf_of"] = serde_json::json!(who);
                    }
                    sign(
                        &format!("advisory:{}", c.change.id),
                        payload.to_string().as_bytes(),
                    )
                })
                .collect();
            for r in scitt.register_batch(statements).await {
                let r = r.map_err(|e| {
                    StoreError::Db(format!("recording advisory changes in the log: {e}"))
                })?;
                recorded.push(r.index.get());
            }
        }
        self.changes_recorded(&reached)?;
        if !recorded.is_empty() {
            tracing::info!(
                recorded = recorded.len(),
                "advisory changes recorded in the log"
            );
        }
        Ok(recorded)
    }

    /// Records that the changes up to each source's generation in `reached`
    /// are in the log.
    pub fn changes_recorded(&self, reached: &[SourceGeneration]) -> Result<(), StoreError> {
        let db = |e: advisory_store::StoreError| StoreError::Db(e.to_string());
        for (who, generation) in reached {
            match who {
                None => {
                    if let Some(store) = &self.store {
                        store.set_logged_generation(*generation).map_err(db)?;
                    }
                }
                Some(who) => {
                    if let Some(store) = self
                        .submitted
                        .read()
                        .get(who)
                        .and_then(|o| o.store.as_ref())
                    {
                        store.set_logged_generation(*generation).map_err(db)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces every advisory.
    pub fn set_advisories(&self, index: AdvisoryIndex) {
        *self.advisories.write() = index;
        {
            let mut c = self.changed.lock();
            c.generation += 1;
            c.everything = true;
        }
        self.advisories_changed.notify_waiters();
    }

    /// Notes advisories whose stored version changed (after the index
    /// holds them).
    fn note_changed(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        {
            let mut c = self.changed.lock();
            c.generation += 1;
            c.ids.extend(ids.iter().cloned());
        }
        self.advisories_changed.notify_waiters();
    }

    /// The advisory store, if the service keeps one.
    pub fn store(&self) -> Option<&advisory_store::AdvisoryStore> {
        self.store.as_ref()
    }

    /// Waits until advisories change (an import, a submission).
    pub async fn advisories_changed(&self) {
        self.advisories_changed.notified().await;
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

    /// The snapshot of the twins as the store holds them now, with the
    /// posture audit's open findings at the end of `today`.
    pub fn snapshot(&self, today: risk::Date) -> Result<Snapshot, StoreError> {
        let meta = self.projector.meta();
        let models = risk_register::model_subjects(&meta);
        let mut devices = self.read_devices(&meta, &models)?;
        let mut book = crate::posture::PostureBook::default();
        self.audit_all(&mut book, &meta, &mut devices, today)?;
        self.snapshot_of(&meta, devices, today)
    }

    /// Audits every device's posture at the end of `today` into `book`,
    /// and gives each of `devices` its open findings; answers whether any
    /// device's findings changed.
    fn audit_all(
        &self,
        book: &mut crate::posture::PostureBook,
        meta: &twin::Meta,
        devices: &mut [DeviceFacts],
        today: risk::Date,
    ) -> Result<bool, StoreError> {
        let now = crate::posture::end_of_day_unix_s(today);
        let mut found = book.audit_all(self.projector.store(), meta, &self.rules, now)?;
        let mut changed = false;
        for d in devices {
            let f = found.remove(&d.device).unwrap_or_default();
            changed |= d.findings != f;
            d.findings = f;
        }
        Ok(changed)
    }

    /// Every device's facts, by id.
    fn read_devices(
        &self,
        meta: &twin::Meta,
        models: &BTreeMap<(String, String), String>,
    ) -> Result<Vec<DeviceFacts>, StoreError> {
        let store = self.projector.store();
        let mut devices = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.devices(after.as_deref(), SNAPSHOT_PAGE_DEVICES)?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.device.to_string());
            for t in &page {
                if let Some(view) = store.view(&meta.policy, &t.device)? {
                    devices.push(DeviceFacts::from_view(&view, models));
                }
            }
            if page.len() < SNAPSHOT_PAGE_DEVICES {
                break;
            }
        }
        Ok(devices)
    }

    /// The snapshot of `meta` with `devices`.
    fn snapshot_of(
        &self,
        meta: &twin::Meta,
        devices: Vec<DeviceFacts>,
        today: risk::Date,
    ) -> Result<Snapshot, StoreError> {
        let store = self.projector.store();
        let missing: std::cell::RefCell<Option<StoreError>> = std::cell::RefCell::new(None);
        let snapshot = Snapshot::from_meta(
            meta,
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
            None => {
                let mut snapshot = snapshot;
                let inputs = crate::ssvc::register_inputs(
                    store,
                    meta,
                    crate::posture::end_of_day_unix_s(today),
                )?;
                snapshot.ssvc_statements = Arc::new(inputs.technical);
                snapshot.missions = Arc::new(inputs.missions);
                Ok(snapshot)
            }
        }
    }

    /// The register for `today`: the last one while nothing changed, else
    /// built from it: the devices whose twins changed are read again (the
    /// projector's change journal says which), changed advisories are
    /// evaluated one by one, and only when the firmware releases, their
    /// SBOMs or VEX changed is the whole fleet evaluated again.
    pub fn register(&self, today: risk::Date) -> Result<Arc<Register>, StoreError> {
        let mut built = self.built.lock();
        let (generation, ids, everything, reprioritize, reprioritize_ids) = {
            let mut c = self.changed.lock();
            (
                c.generation,
                std::mem::take(&mut c.ids),
                std::mem::take(&mut c.everything),
                std::mem::take(&mut c.reprioritize),
                std::mem::take(&mut c.reprioritize_ids),
            )
        };
        let before = built.as_ref().map(|b| b.register.clone());
        let started = std::time::Instant::now();
        let result = self.step(
            &mut built,
            today,
            generation,
            &ids,
            everything,
            Reprioritize {
                all: reprioritize,
                ids: &reprioritize_ids,
            },
        );
        if let Ok(r) = &result {
            if before.is_none_or(|b| !Arc::ptr_eq(&b, r)) {
                let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.last_build_us
                    .store(us, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if result.is_err() {
            // Not taken into account: the next build tries again.
            let mut c = self.changed.lock();
            c.ids.extend(ids);
            c.everything |= everything;
            c.reprioritize |= reprioritize;
            c.reprioritize_ids.extend(reprioritize_ids);
            *built = None;
        }
        result
    }

    fn step(
        &self,
        built: &mut Option<Built>,
        today: risk::Date,
        generation: u64,
        ids: &BTreeSet<String>,
        everything: bool,
        reprioritize: Reprioritize<'_>,
    ) -> Result<Arc<Register>, StoreError> {
        let started = std::time::Instant::now();
        let meta = self.projector.meta();
        let Some(b) = built.as_mut() else {
            let fresh = self.build_fresh(meta, today, generation)?;
            let register = fresh.register.clone();
            *built = Some(fresh);
            self.descend(&register, Delta::Everything);
            return Ok(register);
        };
        // 1. The twins: meta parts and changed devices.
        let same_fleet = b.meta.releases == meta.releases
            && b.meta.sboms == meta.sboms
            && b.meta.release_vex == meta.release_vex;
        let models = risk_register::model_subjects(&meta);
        if b.meta.policy != meta.policy || b.models != models {
            // Every device's facts may differ.
            let fresh = self.build_fresh(meta, today, generation)?;
            let register = fresh.register.clone();
            *built = Some(fresh);
            self.descend(&register, Delta::Everything);
            return Ok(register);
        }
        let mut devices_changed = false;
        let new_day = b.snapshot.today != today;
        if meta.size != b.size {
            match self.projector.devices_changed_since(b.size) {
                Some((upto, changed)) => {
                    let store = self.projector.store();
                    // The posture of every device the change reaches (on a
                    // new day every device is audited again below).
                    let mut found = b.book.update(
                        store,
                        &meta,
                        &self.rules,
                        &changed,
                        crate::posture::end_of_day_unix_s(today),
                    )?;
                    for id in changed {
                        let Ok(device) = twin::DeviceId::new(id.clone()) else {
                            continue;
                        };
                        let view = store.view(&meta.policy, &device)?;
                        let Some(view) = view else { continue };
                        let mut facts = DeviceFacts::from_view(&view, &models);
                        facts.findings = found.remove(&id).unwrap_or_default();
                        match b.positions.get(&id) {
                            Some(&i) => {
                                if let Some(slot) = b.snapshot.devices.get_mut(i) {
                                    devices_changed |= *slot != facts;
                                    *slot = facts;
                                }
                            }
                            None => {
                                b.positions.insert(id, b.snapshot.devices.len());
                                b.snapshot.devices.push(facts);
                                devices_changed = true;
                            }
                        }
                    }
                    // Devices the change reached through a shared
                    // certificate or client id, or a group suppression.
                    for (id, findings) in found {
                        let slot = b
                            .positions
                            .get(&id)
                            .and_then(|&i| b.snapshot.devices.get_mut(i));
                        if let Some(slot) = slot {
                            devices_changed |= slot.findings != findings;
                            slot.findings = findings;
                        }
                    }
                    b.size = upto;
                }
                None => {
                    let fresh = self.build_fresh(meta, today, generation)?;
                    let register = fresh.register.clone();
                    *built = Some(fresh);
                    self.descend(&register, Delta::Everything);
                    return Ok(register);
                }
            }
        }
        if new_day {
            // Expiries and certificate ages move with the day.
            devices_changed |=
                self.audit_all(&mut b.book, &meta, &mut b.snapshot.devices, today)?;
        }
        if !same_fleet {
            // New releases, SBOMs or VEX: evaluate the fleet again.
            let devices = std::mem::take(&mut b.snapshot.devices);
            let snapshot = self.snapshot_of(&meta, devices, today)?;
            let book = std::mem::take(&mut b.book);
            let mut fresh = self.build_from(meta, models, snapshot, b.size, today, generation)?;
            fresh.book = book;
            let register = fresh.register.clone();
            *built = Some(fresh);
            self.descend(&register, Delta::Everything);
            return Ok(register);
        }
        // The manufacturers' SSVC statements: a change re-prioritizes every
        // risk (without matching). The operators' missions: a change is a
        // change of the devices' facts.
        let mut ssvc_changed = false;
        if b.meta.size != meta.size || new_day {
            let inputs = crate::ssvc::register_inputs(
                self.projector.store(),
                &meta,
                crate::posture::end_of_day_unix_s(today),
            )?;
            if *b.snapshot.ssvc_statements != inputs.technical {
                b.snapshot.ssvc_statements = Arc::new(inputs.technical);
                ssvc_changed = true;
            }
            if *b.snapshot.missions != inputs.missions {
                b.snapshot.missions = Arc::new(inputs.missions);
                devices_changed = true;
            }
        }
        let reprioritize_all = reprioritize.all || ssvc_changed;
        let mut facts_changed = devices_changed || b.snapshot.today != today;
        if b.meta.release_plans != meta.release_plans || b.meta.model_risks != meta.model_risks {
            b.snapshot.release_plans = meta
                .release_plans
                .iter()
                .map(|(k, v)| (k.clone(), v.plan.clone()))
                .collect();
            b.snapshot.model_risks = meta.model_risks.clone();
            facts_changed = true;
        }
        b.meta = meta;
        b.snapshot.today = today;
        b.snapshot.discovered = self.discovered.read().clone();
        b.snapshot.exploitation = self.exploitation.read().clone();
        tracing::debug!(
            twins_ms = started.elapsed().as_secs_f64() * 1e3,
            devices_changed,
            ssvc_changed,
            "register step: twins read"
        );
        // 2. The advisories.
        let mut delta = None;
        let mut evaluated_all = false;
        let evaluated_some = generation != b.generation;
        if !reprioritize.ids.is_empty() {
            delta = Some(BTreeSet::new());
        }
        if generation != b.generation {
            delta = self.with_indexes(|index, own| {
                if everything {
                    b.engine = risk_register::Engine::new(&b.snapshot, index, own)
                        .map_err(|e| StoreError::Db(e.to_string()))?;
                    Ok(None)
                } else {
                    Ok(b.engine.update(index, own, ids))
                }
            })?;
            // `None`: every advisory evaluated again (asked for, or too
            // many changed to evaluate one by one).
            evaluated_all = delta.is_none();
            b.generation = generation;
        } else if !facts_changed && !reprioritize_all && reprioritize.ids.is_empty() {
            return Ok(b.register.clone());
        }
        // Exploitation changed for a few: their risks assembled again.
        if let Some(vulns) = &mut delta {
            vulns.extend(reprioritize.ids.iter().cloned());
        }
        let evaluated = started.elapsed();
        let mut only_reprioritized = false;
        let (register, how) = match delta {
            _ if facts_changed => (b.engine.register(&b.snapshot), Delta::Everything),
            // Every advisory evaluated again, the devices unchanged.
            _ if evaluated_all => (
                b.engine.register_reusing(&b.snapshot, &b.register),
                Delta::Everything,
            ),
            // Exploitation changed for a few: their risks' priority worked
            // out again, nothing matched or assembled again.
            Some(vulns) if !reprioritize_all && !evaluated_some => {
                match b
                    .engine
                    .register_reprioritized(&b.snapshot, &b.register, Some(&vulns))
                {
                    Some((register, changed)) => {
                        only_reprioritized = true;
                        (register, Delta::Vulnerabilities(changed))
                    }
                    None => return Ok(b.register.clone()),
                }
            }
            Some(vulns) if !reprioritize_all => (
                b.engine.register_delta(&b.snapshot, &b.register, &vulns),
                Delta::Vulnerabilities(vulns),
            ),
            // Exploitation changed for many vulnerabilities (or the SSVC
            // statements changed): every release risk's priority worked out
            // again, nothing matched or assembled again.
            Some(mut vulns) => {
                let first = b.engine.register_delta(&b.snapshot, &b.register, &vulns);
                match b.engine.register_reprioritized(&b.snapshot, &first, None) {
                    Some((register, changed)) => {
                        vulns.extend(changed);
                        (register, Delta::Vulnerabilities(vulns))
                    }
                    None => (first, Delta::Vulnerabilities(vulns)),
                }
            }
            None => match b
                .engine
                .register_reprioritized(&b.snapshot, &b.register, None)
            {
                Some((register, changed)) => {
                    // The same risks, re-prioritized: none discovered.
                    only_reprioritized = true;
                    (register, Delta::Vulnerabilities(changed))
                }
                // Nothing the fleet runs changed priority.
                None => return Ok(b.register.clone()),
            },
        };
        let devices_rebuilt = !Arc::ptr_eq(&register.devices, &b.register.devices);
        let built_at = started.elapsed();
        // Not shared while new discoveries are added to it.
        b.snapshot.discovered = Arc::default();
        match &how {
            Delta::Vulnerabilities(_) if only_reprioritized => {}
            Delta::Vulnerabilities(v) => self.remember_discoveries(
                v.iter()
                    .flat_map(|x| register.risks_of_vulnerability(x).iter()),
            ),
            Delta::Everything => {
                self.remember_discoveries(register.risks.iter());
                if devices_rebuilt {
                    self.remember_devices(&register);
                }
            }
        }
        let register = Arc::new(register);
        let previous = std::mem::replace(&mut b.register, register.clone());
        drop_elsewhere(previous);
        log_step(
            "changes",
            &how,
            started,
            evaluated,
            built_at,
            register.risks.len(),
        );
        self.descend(&register, how);
        Ok(register)
    }

    /// What the last register step that made a new register cost (zero
    /// before the first).
    pub fn last_build(&self) -> std::time::Duration {
        std::time::Duration::from_micros(
            self.last_build_us
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Runs `f` on the shared advisories and every stakeholder's own.
    fn with_indexes<R>(&self, f: impl FnOnce(&AdvisoryIndex, &[(&str, &AdvisoryIndex)]) -> R) -> R {
        let index = self.advisories.read();
        let submitted = self.submitted.read();
        let own: Vec<(&str, &AdvisoryIndex)> = submitted
            .iter()
            .map(|(who, s)| (who.as_str(), &s.index))
            .collect();
        f(&index, &own)
    }

    /// A register built from every twin, the whole fleet evaluated.
    fn build_fresh(
        &self,
        meta: Arc<twin::Meta>,
        today: risk::Date,
        generation: u64,
    ) -> Result<Built, StoreError> {
        let models = risk_register::model_subjects(&meta);
        let size = meta.size;
        let mut devices = self.read_devices(&meta, &models)?;
        let mut book = crate::posture::PostureBook::default();
        self.audit_all(&mut book, &meta, &mut devices, today)?;
        let snapshot = self.snapshot_of(&meta, devices, today)?;
        let mut built = self.build_from(meta, models, snapshot, size, today, generation)?;
        built.book = book;
        Ok(built)
    }

    fn build_from(
        &self,
        meta: Arc<twin::Meta>,
        models: BTreeMap<(String, String), String>,
        mut snapshot: Snapshot,
        size: u64,
        today: risk::Date,
        generation: u64,
    ) -> Result<Built, StoreError> {
        let started = std::time::Instant::now();
        snapshot.today = today;
        snapshot.discovered = self.discovered.read().clone();
        snapshot.exploitation = self.exploitation.read().clone();
        let engine = self
            .with_indexes(|index, own| risk_register::Engine::new(&snapshot, index, own))
            .map_err(|e| StoreError::Db(e.to_string()))?;
        let evaluated = started.elapsed();
        let register = engine.register(&snapshot);
        let built_at = started.elapsed();
        snapshot.discovered = Arc::default();
        self.remember_discoveries(register.risks.iter());
        self.remember_devices(&register);
        log_step(
            "fleet evaluated",
            &Delta::Everything,
            started,
            evaluated,
            built_at,
            register.risks.len(),
        );
        let positions = snapshot
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.device.clone(), i))
            .collect();
        Ok(Built {
            size,
            meta,
            models,
            snapshot,
            positions,
            engine,
            generation,
            register: Arc::new(register),
            book: crate::posture::PostureBook::default(),
        })
    }

    /// Notes that `risk-register` follows the last one by `delta`.
    fn descend(&self, register: &Arc<Register>, delta: Delta) {
        let mut lineage = self.lineage.lock();
        lineage.push_back((Arc::downgrade(register), delta));
        while lineage.len() > LINEAGE_REGISTERS_MAX {
            lineage.pop_front();
        }
    }

    /// What may differ between register `from` and the later register
    /// `to`, both built by this service: the vulnerabilities whose risks
    /// were built again in between, or [`Delta::Everything`] (also when
    /// `from` is too old to tell).
    pub fn changes_between(&self, from: &Arc<Register>, to: &Arc<Register>) -> Delta {
        let lineage = self.lineage.lock();
        let Some(start) = lineage
            .iter()
            .position(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(from)))
        else {
            return Delta::Everything;
        };
        let mut vulns = BTreeSet::new();
        for (w, delta) in lineage.iter().skip(start + 1) {
            match delta {
                Delta::Everything => return Delta::Everything,
                Delta::Vulnerabilities(v) => vulns.extend(v.iter().cloned()),
            }
            if std::ptr::eq(w.as_ptr(), Arc::as_ptr(to)) {
                return Delta::Vulnerabilities(vulns);
            }
        }
        Delta::Everything
    }
}

/// Drops a register on a thread of its own: the last holder of a register
/// of a million risks would otherwise spend tens of milliseconds of the
/// step that replaced it releasing them while readers wait.
fn drop_elsewhere(register: Arc<Register>) {
    if Arc::strong_count(&register) > 1 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("register-drop".into())
        .spawn(move || drop(register));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "dropping the previous register in place");
    }
}

/// Logs what one register step cost, phase by phase: reading the changes
/// and evaluating advisories, building the register, recording discoveries.
fn log_step(
    path: &'static str,
    how: &Delta,
    started: std::time::Instant,
    evaluated: std::time::Duration,
    built: std::time::Duration,
    release_risks: usize,
) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let total = started.elapsed();
    let vulnerabilities = match how {
        Delta::Vulnerabilities(v) => v.len(),
        Delta::Everything => usize::MAX,
    };
    tracing::debug!(
        evaluate_ms = ms(evaluated),
        build_ms = ms(built - evaluated),
        remember_ms = ms(total - built),
        total_ms = ms(total),
        release_risks,
        rebuilt_vulnerabilities = vulnerabilities,
        path,
        "register step"
    );
}

/// Imports into an index kept in memory only (a service without a store).
fn in_memory(index: &mut AdvisoryIndex, advisories: &[Advisory]) -> advisory_store::ImportSummary {
    let report = index.import(advisories.iter().map(|a| Ok::<_, String>(a.clone())));
    advisory_store::ImportSummary {
        records: advisories.len(),
        new: report.new,
        updated: report.updated,
        unchanged: report.unchanged,
        changed_ids: advisories
            .iter()
            .map(|a| a.id.as_str().to_string())
            .collect(),
        ..Default::default()
    }
}

impl RiskService {
    /// Records the day each device of `risk-register` was first seen on each
    /// release it runs, when not known before (a device risk's deadline
    /// counts from the later of that day and its release risk's).
    fn remember_devices(&self, register: &Register) {
        let new: Vec<(String, risk::Date)> = {
            let known = self.discovered.read();
            register
                .devices
                .rows()
                .iter()
                .flat_map(|row| {
                    row.releases
                        .iter()
                        .map(|(k, d)| (risk_register::device_on_key(&row.device, k), *d))
                })
                .filter(|(k, _)| !known.contains_key(k))
                .collect()
        };
        self.remember(new);
    }

    /// Records the risks not known before as discovered on the
    /// day they carry, so that later builds keep that day (re-imports and
    /// re-evaluations do not move a deadline).
    fn remember_discoveries<'r>(&self, risks: impl Iterator<Item = &'r Arc<risk_register::Risk>>) {
        let new: Vec<(String, risk::Date)> = {
            let known = self.discovered.read();
            risks
                .filter_map(|r| r.discovered.map(|d| (r, d)))
                .filter(|(r, _)| !known.contains_key(&r.key))
                .map(|(r, d)| (r.key.clone(), d))
                .collect()
        };
        self.remember(new);
    }

    /// Stores and keeps `new` discovery days.
    fn remember(&self, new: Vec<(String, risk::Date)>) {
        if new.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let mut known = self.discovered.write();
        let map = Arc::make_mut(&mut known);
        // Written to the store while kept in memory; taken back out if the
        // write fails (not remembered: the next build tries again).
        let stored = std::thread::scope(|scope| {
            let write = scope.spawn(|| match &self.store {
                Some(store) => store.record_discoveries(&new),
                None => Ok(()),
            });
            map.reserve(new.len());
            for (k, d) in &new {
                map.insert(k.clone(), *d);
            }
            match write.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        if let Err(e) = stored {
            for (k, _) in &new {
                map.remove(k);
            }
            tracing::error!(error = %e, "recording when risks were discovered");
            return;
        }
        tracing::debug!(
            count = new.len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "discoveries remembered"
        );
    }
}

/// `advisories` prepared for matching and encoded for the store, split
/// between the cores (a dump holds tens of thousands).
fn prepare_all(
    advisories: &[Advisory],
) -> Result<(Vec<PreparedAdvisory>, Vec<advisory_store::Encoded<'_>>), StoreError> {
    let chunk = advisories.len().div_ceil(cores()).max(1);
    type Part<'a> = Result<Vec<(PreparedAdvisory, advisory_store::Encoded<'a>)>, StoreError>;
    let parts: Vec<Part<'_>> = std::thread::scope(|scope| {
        let handles: Vec<_> = advisories
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|a| {
                            let prepared = PreparedAdvisory::new(a);
                            let encoded = advisory_store::Encoded::new(a, Some(&prepared))
                                .map_err(|e| StoreError::Db(format!("encoding advisory: {e}")))?;
                            Ok((prepared, encoded))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let mut prepared = Vec::with_capacity(advisories.len());
    let mut encoded = Vec::with_capacity(advisories.len());
    for part in parts {
        for (p, e) in part? {
            prepared.push(p);
            encoded.push(e);
        }
    }
    Ok((prepared, encoded))
}

/// Brings `index` up to `store` after it imported `advisories` (prepared
/// as `prepared`, in the same order): the changed ones as stored (the store
/// decided what changed; an older version it refused is not applied). An
/// id read once was stored as read, so its prepared version is taken as
/// is; an id read more than once is read back (the store chose which).
fn apply_prepared(
    store: &advisory_store::AdvisoryStore,
    index: &mut AdvisoryIndex,
    summary: &advisory_store::ImportSummary,
    advisories: &[Advisory],
    prepared: Vec<PreparedAdvisory>,
) -> Result<ImportReport, StoreError> {
    let mut once: std::collections::HashMap<&str, Option<usize>> =
        std::collections::HashMap::with_capacity(advisories.len());
    for (i, a) in advisories.iter().enumerate() {
        once.entry(a.id.as_str())
            .and_modify(|e| *e = None)
            .or_insert(Some(i));
    }
    let mut prepared: Vec<Option<PreparedAdvisory>> = prepared.into_iter().map(Some).collect();
    let reread: Vec<String> = summary
        .changed_ids
        .iter()
        .filter(|id| !matches!(once.get(id.as_str()), Some(Some(_))))
        .cloned()
        .collect();
    let mut read_back: std::collections::HashMap<String, PreparedAdvisory> = reread
        .iter()
        .cloned()
        .zip(read_prepared(store, &reread)?)
        .filter_map(|(id, p)| p.map(|p| (id, p)))
        .collect();
    let mut report = ImportReport::default();
    for id in &summary.changed_ids {
        let p = match once.get(id.as_str()) {
            Some(Some(i)) => prepared.get_mut(*i).and_then(Option::take),
            _ => read_back.remove(id),
        };
        if let Some(p) = p {
            let (outcome, matchable) = index.replace_prepared(p);
            report.count(outcome, matchable);
        }
    }
    report.unchanged = summary.unchanged + summary.older;
    Ok(report)
}

/// The advisories `ids` as stored, prepared for matching (`None` for one
/// not stored), read and prepared on every core.
fn read_prepared(
    store: &advisory_store::AdvisoryStore,
    ids: &[String],
) -> Result<Vec<Option<PreparedAdvisory>>, StoreError> {
    let chunk = ids.len().div_ceil(cores()).max(1);
    let read = |id: &String| {
        store
            .get(id)
            .map(|a| a.map(|a| PreparedAdvisory::new(&a)))
            .map_err(|e| StoreError::Db(format!("reading advisory {id}: {e}")))
    };
    type Read = Result<Option<PreparedAdvisory>, StoreError>;
    let parts: Vec<Vec<Read>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(read).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(join).collect()
    });
    parts.into_iter().flatten().collect()
}

/// Threads for work split between the cores.
fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, CORES_USED_MAX)
}

/// Most threads an import or a build splits its work between.
const CORES_USED_MAX: usize = 8;

/// A scoped thread's result; its panic goes on in the caller.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(t) => t,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Whether `reader` may be shown (or told about) `risk` at `now_unix_s`: it
/// holds a role on its subject (for a device risk, the auditor role counts:
/// an audit grant covering the device now, see `twin::audit`) and, for a
/// device vulnerability risk, the manufacturer's sharing policy shows it
/// the device's SBOM data; for a posture risk, the sharing decision shows
/// it the device's reports whole.
pub fn may_see(
    meta: &twin::Meta,
    store: &crate::TwinStore,
    reader: &twin::StakeholderId,
    risk: &risk_register::Risk,
    now_unix_s: i64,
) -> Result<bool, StoreError> {
    let listed = risk.stakeholders.contains(&reader.0);
    let Some(device) = &risk.device else {
        return Ok(listed);
    };
    if !listed && meta.audits.of(reader).is_empty() {
        return Ok(false);
    }
    let Ok(device) = twin::DeviceId::new(device.clone()) else {
        return Ok(false);
    };
    let Some(t) = store.twin(&device)? else {
        return Ok(false);
    };
    Ok(may_see_twin(meta, &t, reader, risk, now_unix_s))
}

/// [`may_see`] for a device risk whose device's twin the caller read.
pub fn may_see_twin(
    meta: &twin::Meta,
    t: &twin::projection::Twin,
    reader: &twin::StakeholderId,
    risk: &risk_register::Risk,
    now_unix_s: i64,
) -> bool {
    let listed = risk.stakeholders.contains(&reader.0);
    if !listed && meta.audits.of(reader).is_empty() {
        return false;
    }
    if !listed
        && !twin::projection::roles_at(meta, reader, t, now_unix_s).contains(&twin::Role::Auditor)
    {
        return false;
    }
    // A vulnerability risk is derived from the manufacturer's SBOM data; a
    // posture risk from the device's own report, which must be seen whole
    // (as the posture views audit only whole reports).
    if risk.kind == risk_register::RiskKind::PostureFinding {
        let device = twin::StakeholderId(format!("device:{}", t.device.as_str()));
        let (decision, _) = twin::projection::decide_read(
            meta,
            Some(reader),
            t,
            &device,
            crate::posture::REPORT_TYPE,
            now_unix_s,
        );
        return match decision {
            twin::sharing::Decision::Denied => false,
            twin::sharing::Decision::Allowed { fields, .. } => fields.is_none(),
            twin::sharing::Decision::Own => true,
        };
    }
    let (decision, _) = twin::projection::decide_read(
        meta,
        Some(reader),
        t,
        &t.manufacturer,
        "sbom-registered",
        now_unix_s,
    );
    !matches!(decision, twin::sharing::Decision::Denied)
}

#[cfg(test)]
mod tests {
    use super::{day_of_unix_s, today};

    #[test]
    fn the_day_of_a_time_is_its_utc_date() {
        for (unix_s, day) in [
            (-1, "1970-01-01"),
            (0, "1970-01-01"),
            (86_399, "1970-01-01"),
            (86_400, "1970-01-02"),
            (951_782_400, "2000-02-29"),
            (1_700_000_000, "2023-11-14"),
            (1_796_515_199, "2026-12-05"),
        ] {
            assert_eq!(day_of_unix_s(unix_s).to_string(), day, "{unix_s}");
        }
    }

    #[test]
    fn today_is_the_given_clocks_day() {
        let clock = clock::FixedClock::at(1_796_515_199_999);
        assert_eq!(today(&clock).to_string(), "2026-12-05");
        clock.advance_ms(1);
        assert_eq!(today(&clock).to_string(), "2026-12-06", "at midnight UTC");
    }
}
