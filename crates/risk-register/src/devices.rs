//! Device risks without a copy per (device, vulnerability).
//!
//! A device's vulnerability risks are its release's, seen from the device:
//! a firmware release with 600 exposures running on 500 devices stands for
//! 300,000 device risks, and a fleet of a million devices for hundreds of
//! millions. The register keeps the release risks and, once, every device
//! ([`DeviceRow`]: its roles, site, the releases it runs and since when, and
//! the rare device-level VEX statements and decisions); a device risk is
//! derived when it is read ([`crate::Register::device_risk`]). Counts are
//! computed per release, device by device only where a device has a
//! statement of its own.
//!
//! A device risk's deadline counts from when it became known for that
//! device: the later of the day its release's risk was first known and the
//! day the register first saw the device on that release.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::{Decision, DeviceVex, Register, Risk, RiskKind, RiskStatus, Summary, VexInfo};
use twin::statement::VexStatus;

/// A device as the register keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// Device id (without `device:`).
    pub device: String,
    /// Its site.
    pub site: Option<String>,
    /// Who owns its risks unless a decision transfers them.
    pub owner: crate::Text,
    /// Every stakeholder with a role on it.
    pub stakeholders: std::sync::Arc<[String]>,
    /// The consensus status of its firmware claim.
    pub firmware_status: Option<String>,
    /// The releases (and AI model packages) it runs, by release key
    /// (`<model>@<version>`), each with the day the register first saw it
    /// there.
    pub releases: Vec<(String, risk::Date)>,
    /// Device-level VEX by vulnerability id.
    pub vex: BTreeMap<String, DeviceVex>,
    /// Decisions by device risk id.
    pub decisions: BTreeMap<String, Decision>,
    /// The Mission & Well-being its operator or owner stated, if any.
    pub mission: Option<vuln::exploit::MissionWellbeing>,
}

impl DeviceRow {
    /// Whether it has a statement of its own (VEX or a decision).
    fn is_special(&self) -> bool {
        !self.vex.is_empty() || !self.decisions.is_empty()
    }

    /// The day it was first seen on release `key`.
    pub fn since(&self, key: &str) -> Option<risk::Date> {
        self.releases
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, d)| *d)
    }
}

/// One release's devices.
#[derive(Debug, Clone, Default, PartialEq)]
struct Members {
    /// Rows, by device id.
    all: Vec<u32>,
    /// Rows with a statement of their own.
    special: Vec<u32>,
    /// The other rows by the day they were first seen on the release.
    plain_since: Vec<(risk::Date, u64)>,
    /// Every stakeholder with a role on one of them, in the order first
    /// seen (rows by device id).
    stakeholders: Vec<String>,
    /// The highest Mission & Well-being stated for one of them.
    mission: Option<vuln::exploit::MissionWellbeing>,
}

/// The devices of a register.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Devices {
    rows: Vec<DeviceRow>,
    index: HashMap<String, u32>,
    members: HashMap<String, Members>,
}

impl Devices {
    /// The table of `rows`.
    pub fn new(mut rows: Vec<DeviceRow>) -> Devices {
        rows.sort_by(|a, b| a.device.cmp(&b.device));
        let mut index = HashMap::with_capacity(rows.len());
        let mut members: HashMap<String, Members> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index.insert(row.device.clone(), i);
            for (key, since) in &row.releases {
                let m = members.entry(key.clone()).or_default();
                m.all.push(i);
                m.mission = m.mission.max(row.mission);
                for s in row.stakeholders.iter() {
                    if !m.stakeholders.contains(s) {
                        m.stakeholders.push(s.clone());
                    }
                }
                if row.is_special() {
                    m.special.push(i);
                } else {
                    match m.plain_since.iter_mut().find(|(d, _)| d == since) {
                        Some((_, n)) => *n += 1,
                        None => m.plain_since.push((*since, 1)),
                    }
                }
            }
        }
        Devices {
            rows,
            index,
            members,
        }
    }

    /// Every device.
    pub fn rows(&self) -> &[DeviceRow] {
        &self.rows
    }

    /// A device by id.
    pub fn get(&self, device: &str) -> Option<&DeviceRow> {
        self.rows.get(*self.index.get(device)? as usize)
    }

    /// The devices on release `key`, by id.
    pub fn on(&self, key: &str) -> impl Iterator<Item = &DeviceRow> + '_ {
        self.members
            .get(key)
            .map(|m| m.all.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter_map(|&i| self.rows.get(i as usize))
    }

    /// Every stakeholder with a role on a device on release `key`, in the
    /// order first seen (devices by id).
    pub fn stakeholders_on(&self, key: &str) -> &[String] {
        self.members
            .get(key)
            .map(|m| m.stakeholders.as_slice())
            .unwrap_or(&[])
    }

    /// The highest Mission & Well-being stated for a device on release
    /// `key`, if any is.
    pub fn mission_on(&self, key: &str) -> Option<vuln::exploit::MissionWellbeing> {
        self.members.get(key)?.mission
    }

    /// How many devices run release `key`.
    pub fn count_on(&self, key: &str) -> usize {
        self.members.get(key).map_or(0, |m| m.all.len())
    }

    /// The devices whose row differs between `self` and `other`, or that
    /// only one of them has.
    pub fn changed<'a>(&'a self, other: &'a Devices) -> HashSet<&'a str> {
        let mut out = HashSet::new();
        for row in &self.rows {
            if other.get(&row.device) != Some(row) {
                out.insert(row.device.as_str());
            }
        }
        for row in &other.rows {
            if self.get(&row.device).is_none() {
                out.insert(row.device.as_str());
            }
        }
        out
    }
}

/// The release key of a release risk.
pub(crate) fn release_key_of(r: &Risk) -> Option<String> {
    Some(format!("{}@{}", r.model.as_deref()?, r.release.as_deref()?))
}

/// The device risk id of release risk `r` (`vuln/<ID>`, or
/// `vuln/<ID>@ai-model:<name>` for an AI model package).
fn device_risk_id(r: &Risk) -> Option<String> {
    let vuln = r.vulnerability.as_deref()?;
    Some(match r.model.as_deref().and_then(crate::split_ai_line) {
        None => format!("vuln/{vuln}"),
        Some((_, name)) => format!("vuln/{vuln}@ai-model:{name}"),
    })
}

/// Which risks [`crate::Register::select`] yields; `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct Selector<'a> {
    /// Only this device's risks.
    pub device: Option<&'a str>,
    /// Only this vulnerability's.
    pub vulnerability: Option<&'a str>,
    /// Only this model line's (`model` of the risk).
    pub model: Option<&'a str>,
    /// Only this release's (version).
    pub release: Option<&'a str>,
    /// Only the risks of devices of this site.
    pub site: Option<&'a str>,
    /// Only this kind.
    pub kind: Option<RiskKind>,
}

impl crate::Register {
    /// The device risk that release risk `r` stands for on `row`, which
    /// runs its release since `since`; `None` when a device-level VEX
    /// statement clears it.
    pub fn device_risk(&self, r: &Risk, row: &DeviceRow, since: risk::Date) -> Option<Risk> {
        let vuln = r.vulnerability.as_deref()?;
        if let Some(v) = row.vex.get(vuln) {
            if matches!(v.status, VexStatus::NotAffected | VexStatus::Fixed) {
                return None;
            }
        }
        let id = device_risk_id(r)?;
        let today = self.day();
        // The device's own decision, else the release's.
        let decision = row
            .decisions
            .get(&id)
            .cloned()
            .or_else(|| r.decision.clone());
        let status = crate::build::status_of(decision.as_ref(), today);
        // The device's own Mission & Well-being decides its SSVC outcome
        // (the release risk's takes the highest of its devices').
        let priority = match &r.ssvc_inputs {
            Some(inputs) => vuln::exploit::Priority::of(
                r.exploit.as_deref(),
                Some(inputs),
                row.mission.unwrap_or(self.deadlines.mission),
                r.score,
            ),
            None => r.priority,
        };
        let (discovered, deadline) = match r.discovered {
            Some(d) if since > d => {
                let policy = self
                    .deadlines
                    .for_model(r.model.as_deref().unwrap_or(&r.subject));
                (Some(since), policy.deadline_of(r.severity, since, r.kev))
            }
            other => (other, r.deadline.clone()),
        };
        let device_vex = row.vex.get(vuln).map(|v| VexInfo {
            status: match v.status {
                VexStatus::Affected => "affected",
                VexStatus::UnderInvestigation => "under_investigation",
                VexStatus::NotAffected => "not_affected",
                VexStatus::Fixed => "fixed",
            }
            .to_string(),
            justification: v.justification.clone(),
            from: "device".into(),
            inherited: false,
            stakeholder: v.issuer.clone(),
        });
        Some(Risk {
            key: format!("device:{} {id}", row.device),
            subject: format!("device:{}", row.device).into(),
            risk: id,
            kind: RiskKind::DeviceVulnerability,
            device: Some(row.device.clone()),
            model: r.model.clone(),
            release: r.release.clone(),
            site: row.site.clone(),
            vulnerability: r.vulnerability.clone(),
            title: r.title.clone(),
            severity: r.severity,
            score: r.score,
            cvss_vector: r.cvss_vector.clone(),
            kev: r.kev,
            exploit: r.exploit.clone(),
            ssvc: priority.ssvc,
            ssvc_inputs: r.ssvc_inputs.clone(),
            priority,
            owner: crate::build::owner_after(decision.as_ref(), row.owner.clone()),
            status,
            decision,
            found: r.found.clone(),
            discovered,
            deadline_status: deadline.status(today),
            overdue: status.is_unresolved() && deadline.is_overdue(today),
            deadline,
            matches: r.matches.clone(),
            vex: device_vex.or_else(|| r.vex.clone()),
            fixed_in: r.fixed_in.clone(),
            firmware_status: row.firmware_status.clone(),
            stakeholders: row.stakeholders.clone(),
            source: r.source.clone(),
            element: None,
        })
    }

    /// The device risks release risk `r` stands for, by device id.
    pub fn device_risks<'a>(&'a self, r: &'a Risk) -> impl Iterator<Item = Risk> + 'a {
        let key = if r.kind == RiskKind::ReleaseVulnerability {
            release_key_of(r)
        } else {
            None
        };
        let rows: Vec<&DeviceRow> = match &key {
            Some(k) => self.devices.on(k).collect(),
            None => Vec::new(),
        };
        rows.into_iter().filter_map(move |row| {
            let since = row.since(key.as_deref()?)?;
            self.device_risk(r, row, since)
        })
    }

    /// Every risk: each release risk followed by its devices' risks (by
    /// device id), recorded risks in their place; worst first by severity,
    /// then by the release's deadline.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, Risk>> + '_ {
        self.select(&Selector::default())
    }

    /// The risks `s` selects, in [`crate::Register::iter`]'s order; only
    /// what can match is derived.
    pub fn select<'a>(&'a self, s: &Selector<'_>) -> Box<dyn Iterator<Item = Cow<'a, Risk>> + 'a> {
        let want_device = s.kind.is_none_or(|k| k == RiskKind::DeviceVulnerability);
        let want_other = s.device.is_none() && s.site.is_none();
        let kind = s.kind;
        let (model, release) = (s.model.map(str::to_string), s.release.map(str::to_string));
        let site = s.site.map(str::to_string);
        let matches_release = move |r: &Risk| {
            model
                .as_deref()
                .is_none_or(|m| r.model.as_deref() == Some(m))
                && release
                    .as_deref()
                    .is_none_or(|v| r.release.as_deref() == Some(v))
        };
        // A device's own risks (posture findings) are in the register as
        // they are, with the device's site.
        let own_site_ok = {
            let site = site.clone();
            move |r: &Risk| site.as_ref().is_none_or(|x| r.site.as_ref() == Some(x))
        };
        if let Some(device) = s.device {
            // One device: the release risks of the releases it runs, then
            // its own.
            let vuln = s.vulnerability.map(str::to_string);
            let mut out: Vec<Cow<'a, Risk>> = Vec::new();
            let row = self.devices.get(device).filter(|row| {
                want_device && site.as_ref().is_none_or(|x| row.site.as_ref() == Some(x))
            });
            for (key, since) in row.iter().flat_map(|row| row.releases.iter()) {
                for r in self.risks_of_release(key) {
                    if vuln
                        .as_ref()
                        .is_some_and(|v| r.vulnerability.as_deref() != Some(v.as_str()))
                        || !matches_release(r)
                    {
                        continue;
                    }
                    if let Some(d) = row.and_then(|row| self.device_risk(r, row, *since)) {
                        out.push(Cow::Owned(d));
                    }
                }
            }
            for r in self.own_risks_of_device(device) {
                if kind.is_none_or(|k| k == r.kind)
                    && vuln.is_none()
                    && matches_release(r)
                    && own_site_ok(r)
                {
                    out.push(Cow::Borrowed(&**r));
                }
            }
            return Box::new(out.into_iter());
        }
        let candidates: Box<dyn Iterator<Item = &'a std::sync::Arc<Risk>> + 'a> =
            match s.vulnerability {
                Some(v) => Box::new(self.risks_of_vulnerability(v).iter()),
                None => Box::new(self.risks.iter()),
            };
        Box::new(
            candidates
                .filter(move |r| matches_release(r))
                .flat_map(move |r| {
                    let shown = if r.device.is_some() {
                        own_site_ok(r)
                    } else {
                        want_other
                    };
                    let own: Option<Cow<'a, Risk>> =
                        (shown && kind.is_none_or(|k| k == r.kind)).then(|| Cow::Borrowed(&**r));
                    let site = site.clone();
                    let devices: Box<dyn Iterator<Item = Cow<'a, Risk>> + 'a> =
                        if want_device && r.kind == RiskKind::ReleaseVulnerability {
                            Box::new(
                                self.device_risks(r)
                                    .filter(move |d| {
                                        site.as_ref().is_none_or(|x| d.site.as_ref() == Some(x))
                                    })
                                    .map(Cow::Owned),
                            )
                        } else {
                            Box::new(std::iter::empty())
                        };
                    own.into_iter().chain(devices)
                }),
        )
    }

    /// The counts of the fleet summary that depend on the risks: by
    /// status, open by severity, overdue, due soon, devices, releases and
    /// vulnerabilities exposed (device risks counted release by release;
    /// device by device only where a device has a statement of its own).
    pub(crate) fn count(&self, approaching_days: u32, s: &mut Summary) {
        let mut tally = Tally::new(self.day(), approaching_days);
        let mut releases: HashSet<String> = HashSet::new();
        let mut key = String::new();
        let mut vulns: HashSet<&str> = HashSet::new();
        let mut exposed_rows: Vec<bool> = vec![false; self.devices.rows.len()];
        let mut unresolved_keys: HashSet<String> = HashSet::new();
        for r in &self.risks {
            if r.kind == RiskKind::ReleaseVulnerability {
                key.clear();
                key.push_str(r.model.as_deref().unwrap_or(""));
                key.push('@');
                key.push_str(r.release.as_deref().unwrap_or(""));
            }
            let mut special_exposed = |i: u32| {
                if let Some(e) = exposed_rows.get_mut(i as usize) {
                    *e = true;
                }
            };
            if self.tally_risk(r, &key, 1, &mut tally, &mut special_exposed) {
                if let Some(v) = &r.vulnerability {
                    vulns.insert(v);
                }
            }
            if r.kind == RiskKind::ReleaseVulnerability && r.status.is_unresolved() {
                if !releases.contains(&key) {
                    releases.insert(key.clone());
                }
                let plain = self
                    .devices
                    .members
                    .get(&key)
                    .is_some_and(|m| !m.plain_since.is_empty());
                if plain && !unresolved_keys.contains(&key) {
                    unresolved_keys.insert(key.clone());
                }
            }
        }
        for key in &unresolved_keys {
            if let Some(m) = self.devices.members.get(key) {
                for &i in &m.all {
                    let special = self
                        .devices
                        .rows
                        .get(i as usize)
                        .is_some_and(DeviceRow::is_special);
                    if !special {
                        if let Some(e) = exposed_rows.get_mut(i as usize) {
                            *e = true;
                        }
                    }
                }
            }
        }
        *s = Summary {
            devices_exposed: exposed_rows.iter().filter(|e| **e).count() as u64,
            releases_exposed: releases.len() as u64,
            vulnerabilities: vulns.len() as u64,
            ..tally.into_summary(std::mem::take(s))
        };
    }

    /// The counts of [`Register::count`] for `self`, a register that
    /// differs from `previous` only by the risks of `vulnerabilities`
    /// (and shares its devices): `previous`'s counts with the old risks of
    /// those vulnerabilities taken out and the new ones put in. Work in
    /// proportion to their risks and to the devices of the releases whose
    /// exposure changed, not to the register.
    pub(crate) fn count_delta(
        &self,
        previous: &Register,
        vulnerabilities: &std::collections::BTreeSet<String>,
        approaching_days: u32,
        s: &mut Summary,
    ) {
        let mut tally = Tally::new(self.day(), approaching_days);
        let mut keys: HashSet<String> = HashSet::new();
        let mut vulnerabilities_exposed =
            i64::try_from(previous.summary.vulnerabilities).unwrap_or(0);
        for v in vulnerabilities {
            let mut before = false;
            for r in previous.risks_of_vulnerability(v) {
                let key = release_key_of(r).unwrap_or_default();
                before |= previous.tally_risk(r, &key, -1, &mut tally, &mut |_| {});
                keys.insert(key);
            }
            let mut after = false;
            for r in self.risks_of_vulnerability(v) {
                let key = release_key_of(r).unwrap_or_default();
                after |= self.tally_risk(r, &key, 1, &mut tally, &mut |_| {});
                keys.insert(key);
            }
            vulnerabilities_exposed += i64::from(after) - i64::from(before);
        }
        keys.remove("");
        let mut releases_exposed = i64::try_from(previous.summary.releases_exposed).unwrap_or(0);
        let mut old_keys: HashMap<&str, bool> = HashMap::new();
        let mut new_keys: HashMap<&str, bool> = HashMap::new();
        let mut rows: Vec<u32> = Vec::new();
        for key in &keys {
            let before = previous.release_unresolved(key);
            let after = self.release_unresolved(key);
            old_keys.insert(key, before);
            new_keys.insert(key, after);
            releases_exposed += i64::from(after) - i64::from(before);
            if let Some(m) = self.devices.members.get(key.as_str()) {
                // Plain devices change only when their release's does;
                // devices with statements of their own, with any risk.
                if before != after {
                    rows.extend_from_slice(&m.all);
                } else {
                    rows.extend_from_slice(&m.special);
                }
            }
        }
        rows.sort_unstable();
        rows.dedup();
        let mut devices_exposed = i64::try_from(previous.summary.devices_exposed).unwrap_or(0);
        for i in rows {
            let Some(row) = self.devices.rows.get(i as usize) else {
                continue;
            };
            let before = previous.row_exposed(row, &mut old_keys);
            let after = self.row_exposed(row, &mut new_keys);
            devices_exposed += i64::from(after) - i64::from(before);
        }
        let mut from = previous.summary.clone();
        from.devices = s.devices;
        from.devices_assessed = s.devices_assessed;
        from.releases_assessed = s.releases_assessed;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        *s = Summary {
            devices_exposed: unsigned(devices_exposed),
            releases_exposed: unsigned(releases_exposed),
            vulnerabilities: unsigned(vulnerabilities_exposed),
            ..tally.into_summary(from)
        };
    }

    /// Adds `sign` times what risk `r` (on release `key`, if a release
    /// risk) and the device risks it stands for count to `tally`; calls
    /// `special_exposed` with each device with a statement of its own whose
    /// risk is unresolved. Answers whether it makes its vulnerability count
    /// as exposed (some of these risks unresolved).
    fn tally_risk(
        &self,
        r: &Risk,
        key: &str,
        sign: i64,
        tally: &mut Tally,
        special_exposed: &mut dyn FnMut(u32),
    ) -> bool {
        tally.add(r.status, r.severity, &r.deadline, sign);
        let mut exposed = r.status.is_unresolved();
        if r.kind != RiskKind::ReleaseVulnerability {
            return exposed;
        }
        let Some(m) = self.devices.members.get(key) else {
            return exposed;
        };
        // Devices without a statement of their own: the release's
        // status; the deadline moves only for those that came later.
        for (since, n) in &m.plain_since {
            let n = sign * i64::try_from(*n).unwrap_or(i64::MAX);
            match r.discovered {
                Some(d) if *since > d => {
                    let later = self
                        .deadlines
                        .for_model(r.model.as_deref().unwrap_or(&r.subject))
                        .deadline_of(r.severity, *since, r.kev);
                    tally.add(r.status, r.severity, &later, n);
                }
                _ => tally.add(r.status, r.severity, &r.deadline, n),
            }
        }
        for &i in &m.special {
            let Some(row) = self.devices.rows.get(i as usize) else {
                continue;
            };
            let Some(since) = row.since(key) else {
                continue;
            };
            if let Some(d) = self.device_risk(r, row, since) {
                tally.add(d.status, d.severity, &d.deadline, sign);
                if d.status.is_unresolved() && r.vulnerability.is_some() {
                    special_exposed(i);
                    exposed = true;
                }
            }
        }
        exposed
    }

    /// Whether release `key` has an unresolved vulnerability risk.
    fn release_unresolved(&self, key: &str) -> bool {
        self.risks_of_release(key)
            .iter()
            .any(|r| r.kind == RiskKind::ReleaseVulnerability && r.status.is_unresolved())
    }

    /// Whether `row` has an unresolved vulnerability risk; `keys` caches
    /// [`Register::release_unresolved`].
    fn row_exposed<'k>(&self, row: &'k DeviceRow, keys: &mut HashMap<&'k str, bool>) -> bool {
        row.releases.iter().any(|(key, since)| {
            if row.is_special() {
                self.risks_of_release(key).iter().any(|r| {
                    r.kind == RiskKind::ReleaseVulnerability
                        && self
                            .device_risk(r, row, *since)
                            .is_some_and(|d| d.status.is_unresolved())
                })
            } else {
                *keys
                    .entry(key.as_str())
                    .or_insert_with(|| self.release_unresolved(key))
            }
        })
    }
}

/// Risk counts by status, open by severity, overdue and due soon, signed
/// (a delta takes old risks out).
struct Tally {
    today: risk::Date,
    approaching_days: u32,
    by_status: HashMap<RiskStatus, i64>,
    open_by_severity: HashMap<risk::Severity, i64>,
    overdue: i64,
    due_soon: i64,
}

impl Tally {
    fn new(today: risk::Date, approaching_days: u32) -> Tally {
        Tally {
            today,
            approaching_days,
            by_status: HashMap::new(),
            open_by_severity: HashMap::new(),
            overdue: 0,
            due_soon: 0,
        }
    }

    fn add(
        &mut self,
        status: RiskStatus,
        severity: risk::Severity,
        deadline: &risk::Deadline,
        n: i64,
    ) {
        *self.by_status.entry(status).or_default() += n;
        if !status.is_unresolved() {
            return;
        }
        *self.open_by_severity.entry(severity).or_default() += n;
        if deadline.is_overdue(self.today) {
            self.overdue += n;
        } else if let Some(d) = deadline.date {
            if self.today.days_until(d) <= i64::from(self.approaching_days) {
                self.due_soon += n;
            }
        }
    }

    /// `base` with these counts added (entries that reach zero removed).
    fn into_summary(self, mut base: Summary) -> Summary {
        fn apply(map: &mut BTreeMap<String, u64>, key: &str, n: i64) {
            let now = i64::try_from(map.get(key).copied().unwrap_or(0)).unwrap_or(i64::MAX) + n;
            if now > 0 {
                map.insert(key.to_string(), u64::try_from(now).unwrap_or(0));
            } else {
                map.remove(key);
            }
        }
        for (k, n) in self.by_status {
            apply(&mut base.by_status, k.as_str(), n);
        }
        for (k, n) in self.open_by_severity {
            apply(&mut base.open_by_severity, k.as_str(), n);
        }
        let add =
            |x: u64, n: i64| u64::try_from(i64::try_from(x).unwrap_or(i64::MAX) + n).unwrap_or(0);
        base.overdue = add(base.overdue, self.overdue);
        base.due_soon = add(base.due_soon, self.due_soon);
        base
    }
}

/// How device risks' deadlines and priorities are computed: the policy,
/// with each model's announced release plan, and the Mission & Well-being
/// assumed where none is stated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deadlines {
    /// The node's policy.
    pub policy: risk::DeadlinePolicy,
    /// Announced release plans, by model subject.
    pub plans: BTreeMap<String, risk::ReleasePlan>,
    /// The Mission & Well-being assumed where no one stated one.
    pub mission: vuln::exploit::MissionWellbeing,
}

impl Deadlines {
    /// The policy for `model` (a model subject).
    pub fn for_model(&self, model: &str) -> risk::DeadlinePolicy {
        let mut p = self.policy.clone();
        if let Some(plan) = self.plans.get(model) {
            p.release_plan = Some(plan.clone());
        }
        p
    }
}
