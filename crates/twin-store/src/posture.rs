//! What the posture audit reads of the twins, and the audit behind the risk
//! register's posture risks.
//!
//! A device's latest report is its twin's current `device-report` claim. A
//! *suppression* is a `finding-suppressed` claim (a built-in custom type,
//! keyed by rule and group: the twin keeps the latest per rule and scope)
//! that the device's operator or owner asserted on it: it accepts one
//! rule's finding, with a reason, until `expires_at`, on the device it is
//! asserted on or, with a `group`, on every device of that group on which
//! its issuer holds the operator or owner role. A later statement for the
//! same rule and scope replaces it; one whose `expires_at` is not after its
//! issue time lifts it. All of it is read from the twins, so `reindex`
//! gives the same suppressions and the same findings.
//!
//! [`PostureBook`] keeps what the register's audit needs between builds
//! (each device's certificate, client id, groups and risk owner, and every
//! suppression), so that a change re-audits only the devices it can reach:
//! the changed ones, those sharing a certificate or client id with them,
//! and the members of a group whose suppressions changed. Fleet-wide checks
//! (a certificate or client id on several devices) look only at devices
//! with the same risk owner, so a register risk never reveals another
//! organization's device.
//!
//! Deliberately absent: the rules and their evaluation (`posture`), the
//! sharing decisions of the API (`service`), and the clock (`now` is an
//! argument).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use posture::audit::{Auditor, DevicePosture, FleetIndex, RuleSet, Suppression, SuppressionScope};
use posture::report::{DeviceReport, Sha256};
use risk_register::PostureFinding;
use twin::projection::{Claim, Twin};
use twin::{AttributeClass, DeviceId, Role, StakeholderId, StatementBody};

use crate::store::{TwinStore, KEYED_ATTRIBUTE};
use crate::StoreError;

/// The statement type of device reports (`service::devices::REPORT_TYPE`).
pub const REPORT_TYPE: &str = "device-report";
/// The statement type of suppressions.
pub const SUPPRESSION_TYPE: &str = "finding-suppressed";
/// The payload fields a suppression is keyed by: one per rule and scope.
pub const SUPPRESSION_KEY_FIELDS: [&str; 2] = ["rule", "group"];
/// Who may suppress a finding on a device, and in whose name a group
/// suppression reaches another device.
pub const SUPPRESSING_ROLES: [Role; 2] = [Role::Operator, Role::Owner];
/// Longest reason of a suppression, in bytes.
pub const SUPPRESSION_REASON_BYTES_MAX: usize = 1024;
/// Longest group name of a suppression, in bytes.
pub const SUPPRESSION_GROUP_BYTES_MAX: usize = 128;

/// Devices read per page when looking for the holders of suppressions.
const HOLDERS_PAGE: usize = 1024;

/// A suppression as the log holds it: a `finding-suppressed` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionRecord {
    /// Its log entry.
    pub entry: u64,
    /// The device it is asserted on.
    pub device: String,
    /// Who suppressed (the effective issuer).
    pub issuer: StakeholderId,
    /// The registry authority, when it signed on the issuer's behalf.
    pub signed_by: Option<StakeholderId>,
    /// The rule id.
    pub rule: String,
    /// The group it covers, or `None` for the device alone.
    pub group: Option<String>,
    /// Why.
    pub reason: String,
    /// Until when, Unix seconds (a finding is open again from that second).
    pub expires_at: i64,
}

impl SuppressionRecord {
    /// The suppression a claim asserts, if it is one.
    pub fn of(claim: &Claim) -> Option<SuppressionRecord> {
        let StatementBody::Custom {
            custom_type,
            content,
        } = &claim.body
        else {
            return None;
        };
        if custom_type != SUPPRESSION_TYPE {
            return None;
        }
        Some(SuppressionRecord {
            entry: claim.entry,
            device: claim.device.to_string(),
            issuer: claim.issuer.clone(),
            signed_by: claim.signed_by.clone(),
            rule: content.get("rule")?.as_str()?.to_string(),
            group: content
                .get("group")
                .and_then(|g| g.as_str())
                .map(str::to_string),
            reason: content.get("reason")?.as_str()?.to_string(),
            expires_at: content.get("expires_at")?.as_i64()?,
        })
    }

    /// Whether it holds at `now_unix_s`.
    pub fn in_force(&self, now_unix_s: i64) -> bool {
        self.expires_at > now_unix_s
    }

    /// Whether it covers `twin` at `now_unix_s` (in force or not): the
    /// device it is asserted on, or a device of its group; in both cases
    /// while its issuer is the device's operator or owner.
    pub fn covers(&self, meta: &twin::Meta, twin: &Twin, now_unix_s: i64) -> bool {
        let scoped = match &self.group {
            None => twin.device.as_str() == self.device,
            Some(g) => twin.groups.iter().any(|x| x == g),
        };
        scoped
            && twin::projection::roles_at(meta, &self.issuer, twin, now_unix_s)
                .iter()
                .any(|r| SUPPRESSING_ROLES.contains(r))
    }

    /// As the audit takes it.
    pub fn as_posture(&self) -> Suppression {
        Suppression {
            rule: self.rule.clone(),
            scope: match &self.group {
                None => SuppressionScope::Device(self.device.clone()),
                Some(g) => SuppressionScope::Group(g.clone()),
            },
            reason: self.reason.clone(),
            expires_at: self.expires_at,
        }
    }

    /// Whether `s` (a suppression the audit applied) is this one's.
    pub fn is(&self, s: &Suppression) -> bool {
        let scope = match &s.scope {
            SuppressionScope::Device(d) => self.group.is_none() && *d == self.device,
            SuppressionScope::Group(g) => self.group.as_deref() == Some(g.as_str()),
        };
        scope && s.rule == self.rule && s.reason == self.reason && s.expires_at == self.expires_at
    }
}

/// Every suppression asserted on `twin` (in force or not), by rule and scope.
pub fn suppressions_on(
    store: &TwinStore,
    twin: &Twin,
) -> Result<Vec<SuppressionRecord>, StoreError> {
    let mut out = Vec::new();
    for (class, entry) in &twin.current {
        let AttributeClass::Custom(k) = class else {
            continue;
        };
        if twin::projection::custom_type_of(k) != (SUPPRESSION_TYPE, true) {
            continue;
        }
        if let Some(r) = store
            .claim(*entry)?
            .as_ref()
            .and_then(SuppressionRecord::of)
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// The devices holding suppressions, in id order.
pub fn holders(store: &TwinStore) -> Result<Vec<DeviceId>, StoreError> {
    let mut out: Vec<DeviceId> = Vec::new();
    loop {
        let after = out.last().map(|d| d.as_str().to_string());
        let page = store.search(
            KEYED_ATTRIBUTE,
            SUPPRESSION_TYPE,
            after.as_deref(),
            HOLDERS_PAGE,
        )?;
        let full = page.len() == HOLDERS_PAGE;
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Every suppression of the log (in force or not), by device then rule.
pub fn all_suppressions(store: &TwinStore) -> Result<Vec<SuppressionRecord>, StoreError> {
    let mut out = Vec::new();
    for id in holders(store)? {
        if let Some(t) = store.twin(&id)? {
            out.extend(suppressions_on(store, &t)?);
        }
    }
    Ok(out)
}

/// The suppressions of `all` that cover `twin` and hold at `now_unix_s`.
pub fn covering<'a>(
    all: &'a [SuppressionRecord],
    meta: &twin::Meta,
    twin: &Twin,
    now_unix_s: i64,
) -> Vec<&'a SuppressionRecord> {
    all.iter()
        .filter(|s| s.in_force(now_unix_s) && s.covers(meta, twin, now_unix_s))
        .collect()
}

/// The log entry of `twin`'s latest report, if it has one.
pub fn latest_report_entry(twin: &Twin) -> Option<u64> {
    twin.current
        .get(&AttributeClass::Custom(REPORT_TYPE.into()))
        .copied()
}

/// The report a `device-report` claim holds, as its device signed it (the
/// fold keeps the payload without its `v`), and parsed strictly.
pub fn report_of(claim: &Claim) -> (serde_json::Value, Result<DeviceReport, String>) {
    let mut wire = claim.body.to_wire();
    if let Some(m) = wire.as_object_mut() {
        m.entry("v").or_insert(serde_json::json!(1));
    }
    let parsed = DeviceReport::parse(wire.to_string().as_bytes()).map_err(|e| e.to_string());
    (wire, parsed)
}

/// The end of `day` (its last second, UTC), in Unix seconds: the time the
/// register's posture audit is made at, so that a suppression counts for a
/// day only if it holds the whole day (a lifted one is gone the day it is
/// lifted) and a certificate check looks as far as the day goes.
pub fn end_of_day_unix_s(day: risk::Date) -> i64 {
    #[allow(clippy::expect_used)]
    let epoch = risk::Date::from_ymd(1970, 1, 1).expect("1970-01-01 is a date");
    epoch.days_until(day) * 86_400 + 86_399
}

/// What the register's audit keeps of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Keys {
    /// Whose risks the device's are (operator, else owner, else
    /// manufacturer): the scope of fleet-wide checks.
    scope: String,
    groups: Vec<String>,
    certificate: Option<Sha256>,
    client_id: Option<String>,
}

/// One device read for the audit: its twin and latest report.
struct Read {
    twin: Twin,
    report: Option<DeviceReport>,
}

/// What the register's posture audit keeps between builds (see the module
/// documentation): enough to tell which devices a change can reach.
#[derive(Default)]
pub struct PostureBook {
    devices: HashMap<String, Keys>,
    certificates: HashMap<(String, Sha256), BTreeSet<String>>,
    client_ids: HashMap<(String, String), BTreeSet<String>>,
    members: HashMap<String, BTreeSet<String>>,
    /// Every suppression, by the device it is asserted on.
    suppressions: BTreeMap<String, Vec<SuppressionRecord>>,
    /// The group suppressions, by group (made again when one changes).
    by_group: HashMap<String, Vec<SuppressionRecord>>,
}

impl PostureBook {
    /// Audits every device of `store` at `now_unix_s`: the open findings of
    /// each device with any, by device id.
    pub fn audit_all(
        &mut self,
        store: &TwinStore,
        meta: &twin::Meta,
        rules: &RuleSet,
        now_unix_s: i64,
    ) -> Result<HashMap<String, Vec<PostureFinding>>, StoreError> {
        *self = PostureBook::default();
        for r in all_suppressions(store)? {
            self.suppressions
                .entry(r.device.clone())
                .or_default()
                .push(r);
        }
        self.index_groups();
        let mut out = HashMap::new();
        let mut shared = BTreeSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.devices(after.as_deref(), HOLDERS_PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some(last.device.to_string());
            for twin in page {
                let read = read_device(store, twin)?;
                let keys = keys_of(&read);
                self.insert(read.twin.device.as_str(), keys);
                // Alone for now: a device found to share a certificate or
                // client id is audited again once every device is indexed.
                let findings = self.audit_read(&read, &[], meta, rules, now_unix_s);
                if !findings.is_empty() {
                    out.insert(read.twin.device.to_string(), findings);
                }
            }
        }
        for holders in self.certificates.values().chain(self.client_ids.values()) {
            if holders.len() > 1 {
                shared.extend(holders.iter().cloned());
            }
        }
        for (id, findings) in self.audit(store, meta, rules, &shared, now_unix_s)? {
            if findings.is_empty() {
                out.remove(&id);
            } else {
                out.insert(id, findings);
            }
        }
        Ok(out)
    }

    /// Takes the twins of `changed` devices again and audits every device
    /// the change can reach (see the module documentation) at `now_unix_s`:
    /// their findings, by device id (empty for a device with none).
    pub fn update(
        &mut self,
        store: &TwinStore,
        meta: &twin::Meta,
        rules: &RuleSet,
        changed: &BTreeSet<String>,
        now_unix_s: i64,
    ) -> Result<HashMap<String, Vec<PostureFinding>>, StoreError> {
        let mut reach: BTreeSet<String> = BTreeSet::new();
        for id in changed {
            let Ok(device) = DeviceId::new(id.clone()) else {
                continue;
            };
            reach.insert(id.clone());
            // What it shared before.
            if let Some(old) = self.devices.get(id).cloned() {
                reach.extend(self.co_holders(&old));
                self.remove(id, &old);
            }
            let Some(twin) = store.twin(&device)? else {
                continue;
            };
            let before = self.suppressions.remove(id).unwrap_or_default();
            let now = suppressions_on(store, &twin)?;
            if before != now {
                for g in before
                    .iter()
                    .chain(now.iter())
                    .filter_map(|s| s.group.as_ref())
                {
                    if let Some(m) = self.members.get(g) {
                        reach.extend(m.iter().cloned());
                    }
                }
            }
            let moved = before != now;
            if !now.is_empty() {
                self.suppressions.insert(id.clone(), now);
            }
            if moved {
                self.index_groups();
            }
            let keys = keys_of(&read_device(store, twin)?);
            reach.extend(self.co_holders(&keys));
            self.insert(id, keys);
        }
        self.audit(store, meta, rules, &reach, now_unix_s)
    }

    /// Audits `devices` (read again, with their co-holders of a
    /// certificate or client id), by device id.
    fn audit(
        &self,
        store: &TwinStore,
        meta: &twin::Meta,
        rules: &RuleSet,
        devices: &BTreeSet<String>,
        now_unix_s: i64,
    ) -> Result<HashMap<String, Vec<PostureFinding>>, StoreError> {
        let mut out = HashMap::with_capacity(devices.len());
        for id in devices {
            let Ok(device) = DeviceId::new(id.clone()) else {
                continue;
            };
            let Some(twin) = store.twin(&device)? else {
                out.insert(id.clone(), Vec::new());
                continue;
            };
            let read = read_device(store, twin)?;
            let mut others = Vec::new();
            if let Some(keys) = self.devices.get(id) {
                for other in self.co_holders(keys) {
                    if other == *id {
                        continue;
                    }
                    let Ok(o) = DeviceId::new(other) else {
                        continue;
                    };
                    if let Some(t) = store.twin(&o)? {
                        others.push(read_device(store, t)?);
                    }
                }
            }
            out.insert(
                id.clone(),
                self.audit_read(&read, &others, meta, rules, now_unix_s),
            );
        }
        Ok(out)
    }

    /// The open findings of one device read, with the devices sharing its
    /// certificate or client id.
    fn audit_read(
        &self,
        read: &Read,
        others: &[Read],
        meta: &twin::Meta,
        rules: &RuleSet,
        now_unix_s: i64,
    ) -> Vec<PostureFinding> {
        let Some(report) = &read.report else {
            return Vec::new();
        };
        let posture = posture_of(&read.twin, report);
        let mut postures = vec![posture];
        postures.extend(
            others
                .iter()
                .filter_map(|o| Some(posture_of(&o.twin, o.report.as_ref()?))),
        );
        let fleet = FleetIndex::build(&postures);
        let suppressions: Vec<Suppression> = self
            .candidate_suppressions(&read.twin)
            .filter(|s| s.in_force(now_unix_s) && s.covers(meta, &read.twin, now_unix_s))
            .map(SuppressionRecord::as_posture)
            .collect();
        let mut found = Vec::new();
        Auditor::new(rules, &suppressions, now_unix_s).audit_device(&posture, &fleet, &mut found);
        found
            .iter()
            .filter(|f| f.is_open())
            .map(|f| PostureFinding {
                rule: f.rule.id().to_string(),
                title: f.rule.title().to_string(),
                severity: f.severity(),
                cvss: f
                    .rule
                    .cvss()
                    .map(|c| (c.to_string(), c.base_score().value())),
            })
            .collect()
    }

    /// The suppressions that may cover `twin`: its own and those of its
    /// groups (whoever holds them).
    fn candidate_suppressions<'a>(
        &'a self,
        twin: &'a Twin,
    ) -> impl Iterator<Item = &'a SuppressionRecord> + 'a {
        let own = self
            .suppressions
            .get(twin.device.as_str())
            .into_iter()
            .flatten()
            .filter(|s| s.group.is_none());
        let groups = twin
            .groups
            .iter()
            .filter_map(|g| self.by_group.get(g))
            .flatten();
        own.chain(groups)
    }

    /// Makes [`PostureBook::by_group`] again from the suppressions.
    fn index_groups(&mut self) {
        self.by_group.clear();
        for s in self.suppressions.values().flatten() {
            if let Some(g) = &s.group {
                self.by_group.entry(g.clone()).or_default().push(s.clone());
            }
        }
    }

    /// The devices sharing a certificate or client id with `keys` (in its
    /// scope), itself included.
    fn co_holders(&self, keys: &Keys) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &keys.certificate {
            if let Some(h) = self.certificates.get(&(keys.scope.clone(), *c)) {
                out.extend(h.iter().cloned());
            }
        }
        if let Some(id) = &keys.client_id {
            if let Some(h) = self.client_ids.get(&(keys.scope.clone(), id.clone())) {
                out.extend(h.iter().cloned());
            }
        }
        out
    }

    fn insert(&mut self, device: &str, keys: Keys) {
        if let Some(c) = &keys.certificate {
            self.certificates
                .entry((keys.scope.clone(), *c))
                .or_default()
                .insert(device.to_string());
        }
        if let Some(id) = &keys.client_id {
            self.client_ids
                .entry((keys.scope.clone(), id.clone()))
                .or_default()
                .insert(device.to_string());
        }
        for g in &keys.groups {
            self.members
                .entry(g.clone())
                .or_default()
                .insert(device.to_string());
        }
        self.devices.insert(device.to_string(), keys);
    }

    fn remove(&mut self, device: &str, keys: &Keys) {
        fn take<K: std::hash::Hash + Eq>(
            map: &mut HashMap<K, BTreeSet<String>>,
            key: K,
            device: &str,
        ) {
            if let Some(set) = map.get_mut(&key) {
                set.remove(device);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
        if let Some(c) = &keys.certificate {
            take(&mut self.certificates, (keys.scope.clone(), *c), device);
        }
        if let Some(id) = &keys.client_id {
            take(
                &mut self.client_ids,
                (keys.scope.clone(), id.clone()),
                device,
            );
        }
        for g in &keys.groups {
            take(&mut self.members, g.clone(), device);
        }
        self.devices.remove(device);
    }
}

/// A device's twin and its latest readable report (none for a
/// decommissioned device: it carries no risk).
fn read_device(store: &TwinStore, twin: Twin) -> Result<Read, StoreError> {
    let report = match latest_report_entry(&twin) {
        Some(entry) if twin.lifecycle != twin::Lifecycle::Decommissioned => store
            .claim(entry)?
            .and_then(|claim| report_of(&claim).1.ok()),
        _ => None,
    };
    Ok(Read { twin, report })
}

fn keys_of(read: &Read) -> Keys {
    let t = &read.twin;
    let scope = t
        .operator
        .as_ref()
        .or(t.owner.as_ref())
        .unwrap_or(&t.manufacturer)
        .0
        .clone();
    Keys {
        scope,
        groups: t.groups.clone(),
        certificate: read
            .report
            .as_ref()
            .and_then(|r| r.certificate.as_ref())
            .map(|c| c.fingerprint_sha256),
        client_id: read
            .report
            .as_ref()
            .and_then(|r| r.client_id.as_ref())
            .map(|c| c.as_str().to_string()),
    }
}

/// The audit's view of a device: its report, groups and model.
pub fn posture_of<'a>(twin: &'a Twin, report: &'a DeviceReport) -> DevicePosture<'a> {
    let mut p = DevicePosture::new(twin.device.as_str(), report);
    p.groups = &twin.groups;
    p.model = Some(twin.model.as_str());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_audits_at_the_last_second_of_its_day() {
        for (day, unix_s) in [("1970-01-01", 86_399), ("2026-12-05", 1_796_515_199)] {
            let d = risk::Date::parse(day).expect("date");
            assert_eq!(end_of_day_unix_s(d), unix_s, "{day}");
            assert_eq!(crate::risks::day_of_unix_s(unix_s), d);
            assert_ne!(crate::risks::day_of_unix_s(unix_s + 1), d);
        }
    }

    #[test]
    fn a_record_knows_the_suppression_the_audit_applied() {
        let r = SuppressionRecord {
            entry: 7,
            device: "cam-1".into(),
            issuer: StakeholderId("op.test".into()),
            signed_by: None,
            rule: "LOGGING_DISABLED_CHECK".into(),
            group: None,
            reason: "logs go to the NVR".into(),
            expires_at: 100,
        };
        assert!(r.is(&r.as_posture()));
        let mut grouped = r.clone();
        grouped.group = Some("lobby".into());
        assert!(!r.is(&grouped.as_posture()));
        assert!(grouped.is(&grouped.as_posture()));
        assert!(r.in_force(99) && !r.in_force(100));
    }
}
