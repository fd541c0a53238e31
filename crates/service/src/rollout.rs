//! The verified roll-out (issue 18): how far a firmware release, or the
//! fix of a vulnerability, has reached the fleet, told from the devices'
//! own signed statements only (their installed update reports and
//! `firmware-installed` statements, kept on the twin as
//! [`twin::update::Updates`]): how many of the model's devices the reader
//! may see run the release or a later one, day by day by the times of
//! those statements, each device's time-to-fix (from the release's
//! registration, or from when it was exposed to the vulnerability), the
//! devices that are stuck (their last update failed or never finished, or
//! they are still below the target `stuck_after_days` after it), and those
//! running a release past its `support_end`. Every device row names the
//! entry of the device's own statement it rests on.
//!
//! [`Measure`] is the pure part (a fold over twins, no store, no clock):
//! the views feed it the twins the reader may see from a [`RolloutIndex`]
//! (slim twins in memory, loaded on the first view and refreshed from the
//! projector's change journal: a million twins decode from the store in
//! seconds, the fold takes a fraction of one), and the benchmark feeds it
//! a generated fleet. Every device counted is a read of its reports
//! (`device-report`, the operator's data by default), decided by the
//! device's data holder's sharing policy and recorded before the answer.
//!
//! Deliberately absent: HTTP, and any opinion on the firmware itself (the
//! detector's `firmware-not-released` alarm judges an image no release names).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use api_types::rollout::{
    RolloutDay, RolloutDevice, RolloutQuery, RolloutState, RolloutTarget, RolloutView, TimeToFix,
    UpdateView, ROLLOUT_ROWS_DEFAULT, ROLLOUT_ROWS_MAX, STUCK_AFTER_DAYS_DEFAULT,
    STUCK_AFTER_DAYS_MAX,
};
use tlog::LeafIndex;
use twin::projection::{Release, Twin};
use twin::sharing::ReadKind;
use twin::update::UpdateState;
use twin::{AttributeClass, DeviceId, Lifecycle, StakeholderId};
use twin_store::{Projector, RiskService, TwinStore};

use crate::devices::REPORT_TYPE;
use crate::{Audit, ReadRecorder, Reader, ServiceError};

type Res<T> = Result<T, ServiceError>;

/// Most devices one roll-out view counts: a bound on the memory of one
/// answer (a compact record per device), above the million-device
/// figure.
pub const ROLLOUT_DEVICES_MAX: usize = 4_000_000;
/// Most days of a series (the latest ones are kept): ten years.
pub const SERIES_DAYS_MAX: i64 = 3_660;
/// How long an update may stay `attempted` before the device counts as
/// stuck, in seconds: a device reports the outcome within minutes; an hour
/// leaves room for a slow download without flagging every update in flight.
pub const ATTEMPT_GRACE_S: i64 = 3_600;
/// Twins read per page from the store.
const DEVICE_PAGE: usize = 1_024;
const DAY_S: i64 = 86_400;

/// What one model's devices are measured against.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The model subject (`model:<vendor>/<model>`).
    pub model: String,
    /// The manufacturer that released the model's firmware.
    pub manufacturer: StakeholderId,
    /// The model name, as its devices' twins name it.
    pub name: String,
    /// The target release (a vulnerability: the nearest fix), if any.
    pub version: Option<String>,
    /// Its entry.
    pub release_entry: Option<u64>,
    /// When the clock starts for every device: the release's registration
    /// (a vulnerability: the day it was known), Unix seconds.
    pub since_s: Option<i64>,
    /// Versions that count as patched.
    pub patched: BTreeSet<String>,
    /// A vulnerability roll-out: the versions exposed to it (only devices
    /// that ran one are counted).
    pub affected: Option<BTreeSet<String>>,
    /// Each release's `support_end`, by version.
    pub support_end: HashMap<String, risk::Date>,
}

impl Plan {
    /// The plan of release `version` of `model` among the model's
    /// `releases` (log order): it and every later release not withdrawn
    /// count as patched.
    pub fn release(model: &str, releases: &[Release], version: &str) -> Option<Plan> {
        let at = releases.iter().position(|r| r.version == version)?;
        let target = releases.get(at)?;
        let patched = releases
            .iter()
            .skip(at)
            .filter(|r| r.version == version || r.withdrawn.is_none())
            .map(|r| r.version.clone())
            .collect();
        Some(Plan {
            model: model.to_string(),
            manufacturer: target.issuer.clone(),
            name: model.rsplit('/').next().unwrap_or(model).to_string(),
            version: Some(version.to_string()),
            release_entry: Some(target.entry),
            since_s: None,
            patched,
            affected: None,
            support_end: support_ends(releases),
        })
    }

    fn covers(&self, twin: &Twin) -> bool {
        twin.manufacturer == self.manufacturer
            && twin.model == self.name
            && twin.lifecycle != Lifecycle::Decommissioned
    }

    fn target(&self) -> RolloutTarget {
        RolloutTarget {
            model: self.model.clone(),
            version: self.version.clone(),
            release_entry: self.release_entry,
            released_at: if self.affected.is_none() {
                self.since_s
            } else {
                None
            },
            patched_versions: self.patched.iter().cloned().collect(),
            affected_versions: self
                .affected
                .iter()
                .flat_map(|a| a.iter().cloned())
                .collect(),
        }
    }
}

fn support_ends(releases: &[Release]) -> HashMap<String, risk::Date> {
    releases
        .iter()
        .filter_map(|r| {
            let end = risk::Date::parse(r.manifest.support_end.as_deref()?).ok()?;
            Some((r.version.clone(), end))
        })
        .collect()
}

/// One counted device, compactly (a million of them fit in tens of MB).
struct Counted {
    device: DeviceId,
    plan: usize,
    state: RolloutState,
    time_to_fix_s: Option<i64>,
}

/// The roll-out fold: [`Measure::add`] each twin the reader may see (of
/// any model: those the plans do not cover are skipped), then
/// [`Measure::finish`].
pub struct Measure {
    plans: Vec<Plan>,
    now_s: i64,
    today: risk::Date,
    stuck_after_s: i64,
    stuck_after_days: u32,
    rows: usize,
    counted: Vec<Counted>,
    support_ended: u64,
    /// Patched devices by the day they were first patched (`None`: a
    /// device running the target whose statements do not say since when).
    patched_on: BTreeMap<Option<i64>, u64>,
    first_day: Option<i64>,
}

/// What [`Measure::add`] made of a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// No plan covers it (another model, decommissioned, never exposed).
    Skipped,
    /// Counted.
    Counted,
    /// Over [`ROLLOUT_DEVICES_MAX`].
    Full,
}

impl Measure {
    /// A fold over `plans` at `now_s` under `query` (checked).
    ///
    /// # Errors
    /// A query value out of range.
    pub fn new(plans: Vec<Plan>, now_s: i64, query: &RolloutQuery) -> Res<Measure> {
        let stuck_after_days = query.stuck_after_days.unwrap_or(STUCK_AFTER_DAYS_DEFAULT);
        if !(1..=STUCK_AFTER_DAYS_MAX).contains(&stuck_after_days) {
            return Err(ServiceError::invalid(format!(
                "stuck_after_days must be from 1 to {STUCK_AFTER_DAYS_MAX}, not {stuck_after_days}"
            )));
        }
        let rows = query.rows.unwrap_or(ROLLOUT_ROWS_DEFAULT);
        if rows > ROLLOUT_ROWS_MAX {
            return Err(ServiceError::invalid(format!(
                "rows must be from 0 to {ROLLOUT_ROWS_MAX}, not {rows}"
            )));
        }
        let first_day = plans.iter().filter_map(|p| p.since_s).min().map(day_of);
        Ok(Measure {
            plans,
            now_s,
            today: date_of_day(day_of(now_s)),
            stuck_after_s: i64::from(stuck_after_days) * DAY_S,
            stuck_after_days,
            rows,
            counted: Vec::new(),
            support_ended: 0,
            patched_on: BTreeMap::new(),
            first_day,
        })
    }

    /// The plan that covers `twin`, if one does.
    pub fn covering(&self, twin: &Twin) -> Option<usize> {
        self.plans.iter().position(|p| p.covers(twin))
    }

    /// Counts `twin` (which the reader may see).
    pub fn add(&mut self, twin: &Twin) -> Added {
        let Some(at) = self.covering(twin) else {
            return Added::Skipped;
        };
        if self.counted.len() >= ROLLOUT_DEVICES_MAX {
            return Added::Full;
        }
        let Some(plan) = self.plans.get(at) else {
            return Added::Skipped;
        };
        let Some(d) = assess(plan, twin, self.now_s, self.stuck_after_s) else {
            return Added::Skipped;
        };
        if d.state == RolloutState::Patched {
            *self.patched_on.entry(d.patched_at.map(day_of)).or_insert(0) += 1;
        }
        if let Some(start) = d.exposed_at {
            let day = day_of(start);
            self.first_day = Some(self.first_day.map_or(day, |f| f.min(day)));
        }
        if support_ended(plan, twin, self.today).is_some() {
            self.support_ended += 1;
        }
        self.counted.push(Counted {
            device: twin.device.clone(),
            plan: at,
            state: d.state,
            time_to_fix_s: d.time_to_fix_s,
        });
        Added::Counted
    }

    /// The devices whose rows the view shows: stuck first (longest waiting
    /// first), then the slowest to be patched, then by device id.
    pub fn shown(&mut self) -> Vec<DeviceId> {
        fn rank(c: &Counted) -> (bool, std::cmp::Reverse<Option<i64>>, &str) {
            (
                c.state != RolloutState::Stuck,
                std::cmp::Reverse(c.time_to_fix_s),
                c.device.as_str(),
            )
        }
        let k = self.rows.min(self.counted.len());
        if k == 0 {
            return Vec::new();
        }
        if k < self.counted.len() {
            self.counted
                .select_nth_unstable_by(k - 1, |a, b| rank(a).cmp(&rank(b)));
        }
        let mut top: Vec<&Counted> = self.counted.iter().take(k).collect();
        top.sort_by(|a, b| rank(a).cmp(&rank(b)));
        top.into_iter().map(|c| c.device.clone()).collect()
    }

    /// The view, with the rows of `shown` (as [`Measure::shown`] chose them;
    /// `twin` reads one again).
    pub fn finish(
        self,
        shown: &[DeviceId],
        vulnerability: Option<String>,
        as_of: u64,
        mut twin: impl FnMut(&DeviceId) -> Res<Option<Twin>>,
    ) -> Res<RolloutView> {
        let mut rows = Vec::with_capacity(shown.len());
        for id in shown {
            let Some(t) = twin(id)? else { continue };
            let Some(at) = self.covering(&t) else {
                continue;
            };
            let Some(plan) = self.plans.get(at) else {
                continue;
            };
            if let Some(d) = assess(plan, &t, self.now_s, self.stuck_after_s) {
                rows.push(row(plan, &t, d, self.today));
            }
        }
        let count = |s: RolloutState| self.counted.iter().filter(|c| c.state == s).count() as u64;
        let mut fixes: Vec<i64> = self
            .counted
            .iter()
            .filter_map(|c| c.time_to_fix_s)
            .collect();
        fixes.sort_unstable();
        let pct = |p: usize| -> Option<i64> {
            let last = fixes.len().checked_sub(1)?;
            fixes.get(last * p / 100).copied()
        };
        let time_to_fix = TimeToFix {
            devices: fixes.len() as u64,
            median_s: pct(50),
            p90_s: pct(90),
            max_s: fixes.last().copied(),
        };
        let today = day_of(self.now_s);
        let series = series(&self.patched_on, self.first_day, today);
        let used: BTreeSet<usize> = self.counted.iter().map(|c| c.plan).collect();
        Ok(RolloutView {
            vulnerability,
            targets: self
                .plans
                .iter()
                .enumerate()
                .filter(|(i, p)| p.affected.is_none() || used.contains(i))
                .map(|(_, p)| p.target())
                .collect(),
            devices: self.counted.len() as u64,
            patched: count(RolloutState::Patched),
            pending: count(RolloutState::Pending),
            stuck: count(RolloutState::Stuck),
            support_ended: self.support_ended,
            series,
            time_to_fix,
            stuck_after_days: self.stuck_after_days,
            rows_truncated: rows.len() < self.counted.len(),
            rows,
            as_of,
        })
    }
}

/// One device against its plan.
struct Assessed<'t> {
    state: RolloutState,
    stuck_reason: Option<String>,
    evidence: Option<u64>,
    patched_at: Option<i64>,
    patched_entry: Option<u64>,
    exposed_at: Option<i64>,
    time_to_fix_s: Option<i64>,
    update: Option<&'t twin::update::UpdateRecord>,
}

fn assess<'t>(plan: &Plan, t: &'t Twin, now_s: i64, stuck_after_s: i64) -> Option<Assessed<'t>> {
    let firmware = t.firmware.as_deref();
    let installs = &t.updates.installs;
    let running = t
        .updates
        .running(t.current.get(&AttributeClass::Firmware).copied());
    let exposed_at = match &plan.affected {
        None => None,
        Some(affected) => {
            let first = installs.iter().find(|i| affected.contains(&i.version));
            let runs = firmware.is_some_and(|f| affected.contains(f));
            if first.is_none() && !runs {
                return None;
            }
            match (first.and_then(|i| i.at), plan.since_s) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
    };
    let patched = firmware.is_some_and(|f| plan.patched.contains(f));
    // Since when: the first of the device's latest installs that are all
    // the target or later, ending with the one its firmware rests on.
    let first_patched = if patched && running.is_some() {
        installs
            .iter()
            .rev()
            .take_while(|i| plan.patched.contains(&i.version))
            .last()
    } else {
        None
    };
    let patched_at = first_patched.and_then(|i| i.at);
    let start = exposed_at.or(plan.since_s);
    let time_to_fix_s = match (patched_at, start) {
        (Some(a), Some(s)) => Some((a - s).max(0)),
        _ => None,
    };
    let latest = t.updates.latest.as_ref();
    let (state, stuck_reason) = if patched {
        (RolloutState::Patched, None)
    } else {
        match latest {
            Some(u) if u.state == UpdateState::Failed => (
                RolloutState::Stuck,
                Some(format!(
                    "the update to {} failed: {}",
                    u.version,
                    u.reason.as_deref().unwrap_or("no reason given")
                )),
            ),
            Some(u)
                if u.state == UpdateState::Attempted
                    && u.at.is_none_or(|at| now_s - at > ATTEMPT_GRACE_S) =>
            {
                (
                    RolloutState::Stuck,
                    Some(format!(
                        "the update to {} was attempted and never reported installed",
                        u.version
                    )),
                )
            }
            _ => match start {
                Some(s) if now_s - s > stuck_after_s => (
                    RolloutState::Stuck,
                    Some(format!(
                        "still on {} {} days after {}",
                        firmware.unwrap_or("an unknown firmware"),
                        (now_s - s) / DAY_S,
                        if plan.affected.is_some() {
                            "it was exposed"
                        } else {
                            "the release"
                        }
                    )),
                ),
                _ => (RolloutState::Pending, None),
            },
        }
    };
    Some(Assessed {
        state,
        stuck_reason,
        evidence: running.map(|i| i.entry),
        patched_at,
        patched_entry: first_patched.map(|i| i.entry),
        exposed_at,
        time_to_fix_s,
        update: latest,
    })
}

fn support_ended(plan: &Plan, t: &Twin, today: risk::Date) -> Option<risk::Date> {
    let end = *plan.support_end.get(t.firmware.as_deref()?)?;
    (end < today).then_some(end)
}

fn row(plan: &Plan, t: &Twin, d: Assessed<'_>, today: risk::Date) -> RolloutDevice {
    RolloutDevice {
        device: t.device.to_string(),
        model: plan.model.clone(),
        firmware: t.firmware.clone(),
        state: d.state,
        stuck_reason: d.stuck_reason,
        evidence_entry: d.evidence,
        patched_at: d.patched_at,
        patched_entry: d.patched_entry,
        exposed_at: d.exposed_at,
        time_to_fix_s: d.time_to_fix_s,
        update: d.update.map(|u| UpdateView {
            state: u.state.as_str().to_string(),
            version: u.version.clone(),
            image_sha256: u.image_sha256.clone(),
            entry: u.entry,
            at: u.at,
            reason: u.reason.clone(),
        }),
        support_ended: support_ended(plan, t, today).map(|d| d.to_string()),
    }
}

/// Days since the epoch of `unix_s`.
fn day_of(unix_s: i64) -> i64 {
    unix_s.div_euclid(DAY_S)
}

fn date_of_day(day: i64) -> risk::Date {
    twin_store::risks::day_of_unix_s(day.saturating_mul(DAY_S))
}

fn series(
    patched_on: &BTreeMap<Option<i64>, u64>,
    first_day: Option<i64>,
    today: i64,
) -> Vec<RolloutDay> {
    let known_first = patched_on.keys().flatten().next().copied();
    let Some(first) = [first_day, known_first].into_iter().flatten().min() else {
        return Vec::new();
    };
    let first = first.max(today - SERIES_DAYS_MAX + 1).min(today);
    // Devices patched before the first day shown (or without a time) are
    // patched from its start.
    let mut patched: u64 = patched_on
        .iter()
        .filter(|(d, _)| d.is_none_or(|d| d < first))
        .map(|(_, n)| n)
        .sum();
    let mut out = Vec::with_capacity(usize::try_from(today - first + 1).unwrap_or(0));
    for day in first..=today {
        patched += patched_on.get(&Some(day)).copied().unwrap_or(0);
        out.push(RolloutDay {
            day: date_of_day(day).to_string(),
            patched,
        });
    }
    out
}

/// What the register says of one model's exposure to a vulnerability.
#[derive(Default)]
struct Exposed {
    /// Its releases exposed.
    affected: BTreeSet<String>,
    /// The nearest later release not exposed.
    fixed_in: Option<String>,
    /// The first day the register held one of its risks.
    discovered: Option<risk::Date>,
}

/// The roll-out views over the twins, as each reader may see them.
#[derive(Clone)]
pub struct RolloutViews {
    projector: Projector,
    scitt: Arc<transparency::TransparencyService>,
    reads: ReadRecorder,
    risks: Option<Arc<RiskService>>,
    /// The twins a roll-out reads, loaded on the first view and brought up
    /// to date from the projector's change journal on each one.
    index: Arc<std::sync::Mutex<Option<RolloutIndex>>>,
}

impl RolloutViews {
    /// The views over `projector`'s twins and `scitt`'s log, recording
    /// reads with `reads`.
    pub fn new(
        projector: Projector,
        scitt: Arc<transparency::TransparencyService>,
        reads: ReadRecorder,
    ) -> RolloutViews {
        RolloutViews {
            projector,
            scitt,
            reads,
            risks: None,
            index: Arc::default(),
        }
    }

    /// The same views, with vulnerability roll-outs from `risks`' register.
    pub fn with_risks(mut self, risks: Arc<RiskService>) -> RolloutViews {
        self.risks = Some(risks);
        self
    }

    /// The roll-out of release `version` of `model:<vendor>/<model>`.
    ///
    /// # Errors
    /// No such release (not found), a bad query (invalid), or a read that
    /// could not be recorded.
    pub fn release(
        &self,
        who: Option<StakeholderId>,
        vendor: &str,
        model: &str,
        version: &str,
        query: &RolloutQuery,
    ) -> Res<RolloutView> {
        let meta = self.projector.meta();
        let subject = format!("model:{vendor}/{model}");
        let releases = meta
            .releases
            .get(&subject)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let Some(mut plan) = Plan::release(&subject, releases, version) else {
            return Err(ServiceError::not_found(format!(
                "no release {version:?} of {subject:?}"
            )));
        };
        plan.since_s = plan.release_entry.and_then(|e| self.issued_at(e));
        self.measure(who, vec![plan], None, query)
    }

    /// The roll-out of the fix of vulnerability `id`: per model with a
    /// release exposed to it (the risk register's release risks), the
    /// devices that ran an exposed release, against the nearest later
    /// release not exposed and every later one.
    ///
    /// # Errors
    /// No release exposed to it (not found), no register here
    /// (unavailable), a bad query, or a read that could not be recorded.
    pub fn vulnerability(
        &self,
        who: Option<StakeholderId>,
        id: &str,
        query: &RolloutQuery,
    ) -> Res<RolloutView> {
        if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "a vulnerability id is 1 to 128 bytes without control characters",
            ));
        }
        let Some(risks) = &self.risks else {
            return Err(ServiceError::unavailable(
                "this node keeps no risk register",
            ));
        };
        let today = twin_store::risks::day_of_unix_s(self.reads.clock().now_unix_s());
        let register = risks.register(today).map_err(ServiceError::internal)?;
        // Per model: the releases exposed, the fix, the day it was known.
        let mut exposed: BTreeMap<String, Exposed> = BTreeMap::new();
        let releases_only = risk_register::Selector {
            vulnerability: Some(id),
            kind: Some(risk_register::RiskKind::ReleaseVulnerability),
            ..risk_register::Selector::default()
        };
        for r in register.select(&releases_only) {
            if r.kind != risk_register::RiskKind::ReleaseVulnerability {
                continue;
            }
            let (Some(model), Some(release)) = (&r.model, &r.release) else {
                continue;
            };
            let slot = exposed.entry(model.to_string()).or_default();
            slot.affected.insert(release.to_string());
            if let Some(f) = &r.fixed_in {
                slot.fixed_in = Some(f.to_string());
            }
            if let Some(d) = r.discovered {
                slot.discovered = Some(slot.discovered.map_or(d, |o: risk::Date| o.min(d)));
            }
        }
        if exposed.is_empty() {
            return Err(ServiceError::not_found(format!(
                "no firmware release is exposed to {id:?}"
            )));
        }
        let meta = self.projector.meta();
        let epoch = twin_store::risks::day_of_unix_s(0);
        let mut plans = Vec::new();
        for (
            model,
            Exposed {
                affected,
                fixed_in,
                discovered,
            },
        ) in exposed
        {
            let releases = meta.releases.get(&model).map(Vec::as_slice).unwrap_or(&[]);
            let Some(first) = releases.first() else {
                continue;
            };
            let mut plan = match fixed_in.as_deref() {
                Some(v) => Plan::release(&model, releases, v),
                None => None,
            }
            .unwrap_or_else(|| Plan {
                model: model.clone(),
                manufacturer: first.issuer.clone(),
                name: model.rsplit('/').next().unwrap_or(&model).to_string(),
                version: None,
                release_entry: None,
                since_s: None,
                patched: BTreeSet::new(),
                affected: None,
                support_end: support_ends(releases),
            });
            plan.patched.retain(|v| !affected.contains(v));
            plan.since_s = discovered.map(|d| epoch.days_until(d) * DAY_S);
            plan.affected = Some(affected);
            plans.push(plan);
        }
        self.measure(who, plans, Some(id.to_string()), query)
    }

    /// The time (`iat`) of the statement at `entry`, if it has one.
    fn issued_at(&self, entry: u64) -> Option<i64> {
        let bytes = self.scitt.statement(LeafIndex::new(entry)).ok()?;
        scitt::SignedStatement::parse(&bytes).ok()?.issued_at()
    }

    fn measure(
        &self,
        who: Option<StakeholderId>,
        plans: Vec<Plan>,
        vulnerability: Option<String>,
        query: &RolloutQuery,
    ) -> Res<RolloutView> {
        let mut guard = self
            .index
            .lock()
            .map_err(|_| ServiceError::internal("the roll-out index lock is poisoned"))?;
        let store = self.projector.store();
        let changed = guard
            .as_ref()
            .and_then(|ix| self.projector.devices_changed_since(ix.size));
        match (guard.as_mut(), changed) {
            (Some(ix), Some((upto, devices))) => {
                ix.refresh(store, devices.iter().map(String::as_str))?;
                ix.size = upto;
            }
            // First use, or the journal no longer reaches back: load.
            _ => *guard = Some(RolloutIndex::load(store, self.projector.size())?),
        }
        let Some(ix) = guard.as_ref() else {
            return Err(ServiceError::internal("the roll-out index is not loaded"));
        };
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let (view, audit) = measure_index(ix, &reader, plans, vulnerability, meta.size, query)?;
        drop(guard);
        audit.write(&self.reads, &reader.who, ReadKind::List, None)?;
        Ok(view)
    }
}

/// The twins a roll-out reads, in memory: a million twins decode from the
/// store in seconds, the fold over them takes a fraction of one. Each twin
/// is kept slim (what the fold and the sharing decisions read: its
/// parties, groups, site, lifecycle, firmware and its claim, its updates,
/// whether it is public), grouped by manufacturer and model, and brought
/// up to date device by device from the projector's change journal.
pub struct RolloutIndex {
    /// The log size it reflects (every change below it is in).
    pub size: u64,
    by_model: HashMap<(StakeholderId, String), BTreeMap<DeviceId, Twin>>,
    twins: usize,
}

impl RolloutIndex {
    /// Every twin of `store`, which reflects at least `size` (read the size
    /// first: a change while loading is read again on the next refresh).
    ///
    /// # Errors
    /// A store that cannot be read, or more than [`ROLLOUT_DEVICES_MAX`] twins.
    pub fn load(store: &TwinStore, size: u64) -> Res<RolloutIndex> {
        let mut ix = RolloutIndex {
            size,
            by_model: HashMap::new(),
            twins: 0,
        };
        let mut after: Option<String> = None;
        loop {
            let page = store
                .devices(after.as_deref(), DEVICE_PAGE)
                .map_err(ServiceError::internal)?;
            let Some(last) = page.last() else { break };
            after = Some(last.device.to_string());
            for twin in page {
                ix.put(twin)?;
            }
        }
        Ok(ix)
    }

    /// Reads `devices` again from `store`.
    ///
    /// # Errors
    /// A store that cannot be read, or too many twins.
    pub fn refresh<'d>(
        &mut self,
        store: &TwinStore,
        devices: impl Iterator<Item = &'d str>,
    ) -> Res<()> {
        for d in devices {
            let Ok(id) = DeviceId::new(d) else { continue };
            if let Some(twin) = store.twin(&id).map_err(ServiceError::internal)? {
                self.put(twin)?;
            }
        }
        Ok(())
    }

    /// How many twins it holds.
    pub fn len(&self) -> usize {
        self.twins
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.twins == 0
    }

    fn put(&mut self, mut twin: Twin) -> Res<()> {
        twin.current
            .retain(|class, _| *class == AttributeClass::Firmware);
        twin.clocks = Default::default();
        twin.asset_attributes
            .retain(|k, _| k == twin::projection::PUBLIC_ATTRIBUTE);
        let group = self
            .by_model
            .entry((twin.manufacturer.clone(), twin.model.clone()))
            .or_default();
        let id = twin.device.clone();
        if group.insert(id, twin).is_none() {
            self.twins += 1;
            if self.twins > ROLLOUT_DEVICES_MAX {
                return Err(ServiceError::too_large(format!(
                    "a roll-out reads at most {ROLLOUT_DEVICES_MAX} twins"
                )));
            }
        }
        Ok(())
    }

    fn group(&self, plan: &Plan) -> Option<&BTreeMap<DeviceId, Twin>> {
        self.by_model
            .get(&(plan.manufacturer.clone(), plan.name.clone()))
    }
}

/// The roll-out of `plans` over the twins of `index` as `reader` may see
/// them (the device itself, and its reports whole or in part), with the
/// reads of other organizations' data it made, to record before answering.
///
/// # Errors
/// A bad query.
pub fn measure_index(
    index: &RolloutIndex,
    reader: &Reader<'_>,
    plans: Vec<Plan>,
    vulnerability: Option<String>,
    as_of: u64,
    query: &RolloutQuery,
) -> Res<(RolloutView, Audit)> {
    let groups: Vec<&BTreeMap<DeviceId, Twin>> =
        plans.iter().filter_map(|p| index.group(p)).collect();
    let mut m = Measure::new(plans, reader.at_s, query)?;
    let mut audit = Audit::default();
    'groups: for group in &groups {
        for twin in group.values() {
            if m.covering(twin).is_none() || reader.sees_device(twin).is_none() {
                continue;
            }
            let device = StakeholderId(format!("device:{}", twin.device.as_str()));
            let Some(seen) = reader.decide(twin, &device, REPORT_TYPE) else {
                continue;
            };
            match m.add(twin) {
                Added::Counted => {
                    // The latest of the device's own statements counted.
                    let entry = twin
                        .updates
                        .latest
                        .as_ref()
                        .map(|u| u.entry)
                        .into_iter()
                        .chain(twin.updates.installs.iter().map(|i| i.entry))
                        .max()
                        .unwrap_or(twin.registered_at);
                    audit.note(&device, seen, entry, Some(&twin.device));
                }
                Added::Skipped => {}
                Added::Full => break 'groups,
            }
        }
    }
    let shown = m.shown();
    let view = m.finish(&shown, vulnerability, as_of, |id| {
        Ok(groups.iter().find_map(|g| g.get(id)).cloned())
    })?;
    Ok((view, audit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin::update::{Install, Updates};

    const D: i64 = 1_900_000_000;

    fn twin_with(id: &str, installs: &[(&str, i64)]) -> Twin {
        let mut updates = Updates::default();
        for (i, (version, at)) in installs.iter().enumerate() {
            updates.installed(Install {
                entry: 100 + i as u64,
                at: Some(*at),
                version: (*version).into(),
                image_sha256: "00".repeat(32),
                kind: "device-report".into(),
            });
        }
        let mut current = BTreeMap::new();
        if let Some(last) = updates.installs.last() {
            current.insert(AttributeClass::Firmware, last.entry);
        }
        Twin {
            device: DeviceId::new(id).expect("id"),
            manufacturer: StakeholderId("acme".into()),
            model: "door".into(),
            serial: id.into(),
            hardware_id: None,
            device_key: None,
            lifecycle: Lifecycle::Deployed,
            owner: None,
            operator: None,
            maintainer: None,
            site: None,
            location: None,
            groups: Vec::new(),
            firmware: installs.last().map(|(v, _)| (*v).to_string()),
            current,
            registered_at: 1,
            updated_at: 1,
            statements: 1,
            asset_attributes: BTreeMap::new(),
            clocks: Default::default(),
            updates,
        }
    }

    fn vulnerability_plan() -> Plan {
        Plan {
            model: "model:acme/door".into(),
            manufacturer: StakeholderId("acme".into()),
            name: "door".into(),
            version: Some("2.0".into()),
            release_entry: Some(5),
            since_s: Some(D),
            patched: ["2.0".to_string(), "3.0".to_string()].into(),
            affected: Some(["1.0".to_string()].into()),
            support_end: HashMap::new(),
        }
    }

    /// A vulnerability roll-out counts only the devices that ran an exposed
    /// release; time-to-fix runs from the later of the device's exposure
    /// and the day the vulnerability was known.
    #[test]
    fn a_vulnerability_rollout_counts_the_exposed_from_their_exposure() {
        /// (device, its installs, where it stands, its time-to-fix).
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, i64)],
            Option<RolloutState>,
            Option<i64>,
        );
        let cases: [Case<'_>; 5] = [
            // Exposed before it was known, fixed two days after.
            (
                "a",
                &[("1.0", D - 100), ("2.0", D + 2 * DAY_S)],
                Some(RolloutState::Patched),
                Some(2 * DAY_S),
            ),
            // Installed the exposed release after it was known: from then.
            (
                "b",
                &[("1.0", D + DAY_S), ("3.0", D + 3 * DAY_S)],
                Some(RolloutState::Patched),
                Some(2 * DAY_S),
            ),
            // Never ran an exposed release: not counted.
            ("c", &[("2.0", D - 10)], None, None),
            // Still exposed, 40 days on: stuck.
            ("d", &[("1.0", D - 10)], Some(RolloutState::Stuck), None),
            // Back on the exposed release after the fix: not patched.
            (
                "e",
                &[("1.0", D - 10), ("2.0", D + DAY_S), ("1.0", D + 2 * DAY_S)],
                Some(RolloutState::Stuck),
                None,
            ),
        ];
        let now = D + 40 * DAY_S;
        let query = RolloutQuery::default();
        let mut m = Measure::new(vec![vulnerability_plan()], now, &query).expect("query");
        let twins: Vec<Twin> = cases.iter().map(|(id, i, _, _)| twin_with(id, i)).collect();
        for (t, (id, _, state, ttf)) in twins.iter().zip(&cases) {
            let added = m.add(t);
            assert_eq!(added == Added::Counted, state.is_some(), "{id}");
            let plan = vulnerability_plan();
            let got = assess(&plan, t, now, 30 * DAY_S);
            assert_eq!(got.as_ref().map(|g| g.state), *state, "{id}");
            assert_eq!(got.and_then(|g| g.time_to_fix_s), *ttf, "{id}");
        }
        let shown = m.shown();
        let view = m
            .finish(&shown, Some("CVE-1".into()), 9, |id| {
                Ok(twins.iter().find(|t| &t.device == id).cloned())
            })
            .expect("view");
        assert_eq!((view.devices, view.patched, view.stuck), (4, 2, 2));
        assert_eq!(view.time_to_fix.devices, 2);
        assert_eq!(view.time_to_fix.median_s, Some(2 * DAY_S));
        // The series runs from the first exposure (the day it was known).
        assert_eq!(view.series.len(), 41);
        assert_eq!(view.series.first().map(|d| d.patched), Some(0));
        assert_eq!(view.series.last().map(|d| d.patched), Some(2));
        let rows: Vec<&str> = view.rows.iter().map(|r| r.device.as_str()).collect();
        assert_eq!(rows, ["d", "e", "a", "b"], "stuck first");
        assert_eq!(view.targets.len(), 1);
        assert_eq!(
            view.targets.first().map(|t| t.affected_versions.clone()),
            Some(vec!["1.0".to_string()])
        );
    }

    #[test]
    fn queries_out_of_range_are_refused_with_their_name() {
        for (q, says) in [
            (
                RolloutQuery {
                    stuck_after_days: Some(0),
                    rows: None,
                },
                "stuck_after_days",
            ),
            (
                RolloutQuery {
                    stuck_after_days: Some(STUCK_AFTER_DAYS_MAX + 1),
                    rows: None,
                },
                "stuck_after_days",
            ),
            (
                RolloutQuery {
                    stuck_after_days: None,
                    rows: Some(ROLLOUT_ROWS_MAX + 1),
                },
                "rows",
            ),
        ] {
            let err = Measure::new(Vec::new(), D, &q).err().expect("refused");
            assert!(err.message().contains(says), "{}", err.message());
        }
    }
}
