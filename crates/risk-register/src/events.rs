//! [`notifications`]: what a change from one register to the next calls
//! for: a device newly exposed, a fixed firmware now available for an
//! exposed device, a deadline approaching or past, a VEX status changed, a
//! posture finding newly open on a device.
//!
//! Each event has a stable id (kind, risk key, and what changed), so a
//! delivery layer that deduplicates by id tells each recipient once.
//!
//! Deliberately absent: who may see what (the caller filters the
//! recipients by sharing policy) and delivery.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{Register, Risk, RiskKind};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A device is newly exposed to a vulnerability.
    NewVulnerableDevice,
    /// A later firmware release without the vulnerability is available for an exposed device.
    FixedFirmwareAvailable,
    /// An unresolved risk's deadline is within the approaching window.
    DeadlineApproaching,
    /// An unresolved risk is past its deadline.
    DeadlineOverdue,
    /// A release-scoped VEX status changed.
    VexChanged,
    /// A posture audit finding on a device is newly open (a new report
    /// shows a weakness, or its suppression ended).
    NewPostureFinding,
    /// A vulnerability a firmware release is exposed to is now on a
    /// known-exploited list (a new KEV entry touching the fleet).
    NowKnownExploited,
    /// The EPSS score of a vulnerability a release is exposed to jumped
    /// (see `vuln::exploit::is_jump`).
    ExploitationLikelier,
}

impl EventKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::NewVulnerableDevice => "new-vulnerable-device",
            EventKind::FixedFirmwareAvailable => "fixed-firmware-available",
            EventKind::DeadlineApproaching => "deadline-approaching",
            EventKind::DeadlineOverdue => "deadline-overdue",
            EventKind::VexChanged => "vex-changed",
            EventKind::NewPostureFinding => "new-posture-finding",
            EventKind::NowKnownExploited => "now-known-exploited",
            EventKind::ExploitationLikelier => "exploitation-likelier",
        }
    }
}

/// One event, for its recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable id (deduplication key).
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The device (`device:<id>`) or model subject concerned.
    pub subject: String,
    /// The device, if the event is about one (for sharing-policy checks).
    pub device: Option<String>,
    /// The vulnerability, if any.
    pub vulnerability: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// Deadline (`YYYY-MM-DD`), if any.
    pub deadline: Option<String>,
    /// One line.
    pub summary: String,
    /// Who may be told (before the sharing-policy filter).
    pub recipients: Vec<String>,
    /// The risk, if the event is about one.
    pub risk: Option<Risk>,
}

fn event(kind: EventKind, r: &Risk, id_extra: &str, summary: String) -> Event {
    Event {
        id: format!("{}:{}{}", kind.as_str(), r.key, id_extra),
        kind,
        subject: r.subject.to_string(),
        device: r.device.clone(),
        vulnerability: r.vulnerability.as_deref().map(str::to_string),
        severity: Some(r.severity.as_str().to_string()),
        deadline: r.deadline.date.map(|d| d.to_string()),
        summary,
        recipients: r.stakeholders.to_vec(),
        risk: Some(r.clone()),
    }
}

fn approaching(r: &Risk, days: u32) -> bool {
    matches!(r.deadline_status, risk::DeadlineStatus::Due { days_left } if days_left <= i64::from(days))
}

/// The events that the change from `before` to `after` calls for;
/// `approaching_days` is the "deadline approaching" window.
pub fn notifications(before: &Register, after: &Register, approaching_days: u32) -> Vec<Event> {
    events_between(before, after, None, approaching_days, DEVICE_EVENTS_MAX)
}

/// [`notifications`] with another threshold than [`DEVICE_EVENTS_MAX`] for
/// telling device risks release by release.
pub fn notifications_limited(
    before: &Register,
    after: &Register,
    approaching_days: u32,
    device_events_max: usize,
) -> Vec<Event> {
    events_between(before, after, None, approaching_days, device_events_max)
}

/// [`notifications`] when only the risks of `vulnerabilities` can differ
/// between `before` and `after` (a register built by
/// [`crate::Engine::register_delta`]): looks at those risks only.
pub fn notifications_for(
    before: &Register,
    after: &Register,
    vulnerabilities: &BTreeSet<String>,
    approaching_days: u32,
) -> Vec<Event> {
    events_between(
        before,
        after,
        Some(vulnerabilities),
        approaching_days,
        DEVICE_EVENTS_MAX,
    )
}

/// The events of one risk (release, recorded or device) that was `prev`.
fn risk_events(r: &Risk, prev: Option<&Risk>, approaching_days: u32, out: &mut Vec<Event>) {
    let unresolved = r.status.is_unresolved();
    let was_unresolved = prev.is_some_and(|p| p.status.is_unresolved());
    if r.kind == RiskKind::DeviceVulnerability && unresolved && !was_unresolved {
        out.push(event(
            EventKind::NewVulnerableDevice,
            r,
            "",
            format!(
                "{} runs {} firmware {} exposed to {} ({}, fix by {})",
                r.device.as_deref().unwrap_or(""),
                r.model.as_deref().unwrap_or(""),
                r.release.as_deref().unwrap_or(""),
                r.vulnerability.as_deref().unwrap_or(""),
                r.severity.as_str(),
                r.deadline
                    .date
                    .map_or_else(|| "no deadline".to_string(), |d| d.to_string()),
            ),
        ));
    }
    if r.kind == RiskKind::PostureFinding && unresolved && !was_unresolved {
        out.push(event(
            EventKind::NewPostureFinding,
            r,
            "",
            format!(
                "{}: {} ({}, fix by {})",
                r.device.as_deref().unwrap_or(""),
                r.title,
                r.severity.as_str(),
                r.deadline
                    .date
                    .map_or_else(|| "no deadline".to_string(), |d| d.to_string()),
            ),
        ));
    }
    if r.kind == RiskKind::DeviceVulnerability && unresolved {
        if let Some(fix) = &r.fixed_in {
            if prev.and_then(|p| p.fixed_in.as_ref()) != Some(fix) {
                out.push(event(
                    EventKind::FixedFirmwareAvailable,
                    r,
                    &format!("@{fix}"),
                    format!(
                        "firmware {fix} fixes {} on {}",
                        r.vulnerability.as_deref().unwrap_or(""),
                        r.device.as_deref().unwrap_or("")
                    ),
                ));
            }
        }
    }
    // Exploitation news about a known exposure, told once per release risk
    // (its stakeholders include those of the devices running it).
    if r.kind == RiskKind::ReleaseVulnerability && unresolved {
        if let Some(p) = prev {
            let vuln = r.vulnerability.as_deref().unwrap_or("");
            let on = format!(
                "{} firmware {}",
                r.model.as_deref().unwrap_or(""),
                r.release.as_deref().unwrap_or("")
            );
            if r.kev && !p.kev {
                let facts = r.exploit.as_deref();
                out.push(event(
                    EventKind::NowKnownExploited,
                    r,
                    "",
                    format!(
                        "{vuln}, which {on} is exposed to, is now known exploited{}{}; fix by {}",
                        facts
                            .and_then(|f| f.kev_due())
                            .map(|d| format!(" (listed, due {d})"))
                            .unwrap_or_default(),
                        if facts.is_some_and(|f| f.ransomware()) {
                            ", used by ransomware"
                        } else {
                            ""
                        },
                        r.deadline
                            .date
                            .map_or_else(|| "no deadline".to_string(), |d| d.to_string()),
                    ),
                ));
            }
            let epss = r.exploit.as_deref().and_then(|f| f.epss);
            if let Some(e) = epss.filter(|e| e.jumped()) {
                if p.priority.epss != r.priority.epss {
                    out.push(event(
                        EventKind::ExploitationLikelier,
                        r,
                        &format!("@{}", e.day),
                        format!(
                            "the EPSS score of {vuln}, which {on} is exposed to, rose from {:.3} to {:.3}",
                            e.previous.map_or(0.0, |(s, _)| s),
                            e.score
                        ),
                    ));
                }
            }
        }
    }
    if unresolved {
        let deadline = r.deadline.date.map(|d| d.to_string()).unwrap_or_default();
        if r.overdue && !prev.is_some_and(|p| p.overdue) {
            out.push(event(
                EventKind::DeadlineOverdue,
                r,
                &format!("@{deadline}"),
                format!(
                    "{} on {} is past its deadline {deadline}",
                    r.title, r.subject
                ),
            ));
        } else if approaching(r, approaching_days)
            && !prev.is_some_and(|p| approaching(p, approaching_days) || p.overdue)
        {
            out.push(event(
                EventKind::DeadlineApproaching,
                r,
                &format!("@{deadline}"),
                format!("{} on {} is due by {deadline}", r.title, r.subject),
            ));
        }
    }
}

/// Device risks one change tells device by device, at most: past this, a
/// "new vulnerable device" or "fixed firmware available" event names the
/// release and how many of its devices, once per release risk (a first
/// import of a whole advisory feed into a large fleet would otherwise queue
/// hundreds of millions of notifications).
pub const DEVICE_EVENTS_MAX: usize = 10_000;

/// The device events of release risk `r` (that was `prev`), told once for
/// all its devices.
fn release_device_events(after: &Register, r: &Risk, prev: Option<&Risk>, out: &mut Vec<Event>) {
    let Some(key) = crate::devices::release_key_of(r) else {
        return;
    };
    let devices = after.devices.count_on(&key);
    if devices == 0 || !r.status.is_unresolved() {
        return;
    }
    let what = format!(
        "{devices} devices running {} firmware {}",
        r.model.as_deref().unwrap_or(""),
        r.release.as_deref().unwrap_or("")
    );
    if !prev.is_some_and(|p| p.status.is_unresolved()) {
        out.push(event(
            EventKind::NewVulnerableDevice,
            r,
            ":devices",
            format!(
                "{what} are exposed to {} ({}, fix by {})",
                r.vulnerability.as_deref().unwrap_or(""),
                r.severity.as_str(),
                r.deadline
                    .date
                    .map_or_else(|| "no deadline".to_string(), |d| d.to_string()),
            ),
        ));
    }
    if let Some(fix) = &r.fixed_in {
        if prev.and_then(|p| p.fixed_in.as_ref()) != Some(fix) {
            out.push(event(
                EventKind::FixedFirmwareAvailable,
                r,
                &format!(":devices@{fix}"),
                format!(
                    "firmware {fix} fixes {} on {what}",
                    r.vulnerability.as_deref().unwrap_or("")
                ),
            ));
        }
    }
}

/// Device `d`'s risk in `before` with the key of `now` (a device risk of
/// `after`), derived from the release risk it stood for then.
fn device_risk_before(before: &Register, now: &Risk) -> Option<Risk> {
    let row = before.devices.get(now.device.as_deref()?)?;
    for (key, since) in &row.releases {
        for r in before.risks_of_release(key) {
            if r.vulnerability != now.vulnerability {
                continue;
            }
            if let Some(d) = before.device_risk(r, row, *since) {
                if d.key == now.key {
                    return Some(d);
                }
            }
        }
    }
    None
}

fn events_between<'r>(
    before: &'r Register,
    after: &'r Register,
    only: Option<&BTreeSet<String>>,
    approaching_days: u32,
    device_events_max: usize,
) -> Vec<Event> {
    // The risks looked at: all, or those of the rebuilt vulnerabilities.
    let of = |reg: &'r Register| -> Vec<&'r std::sync::Arc<Risk>> {
        match only {
            None => reg.risks.iter().collect(),
            Some(v) => v
                .iter()
                .flat_map(|x| reg.risks_of_vulnerability(x).iter())
                .collect(),
        }
    };
    let (before_list, after_list) = (of(before), of(after));
    let old: HashMap<&str, &Risk> = before_list
        .iter()
        .map(|r| (r.key.as_str(), &***r))
        .collect();
    // Devices whose facts changed (none when both registers share them).
    let changed: HashSet<&str> = if std::sync::Arc::ptr_eq(&before.devices, &after.devices) {
        HashSet::new()
    } else {
        after.devices.changed(&before.devices)
    };
    let (then, now) = (before.day(), after.day());
    let mut per_key: HashMap<String, (Vec<risk::Date>, Vec<&crate::DeviceRow>)> = HashMap::new();
    let mut out = Vec::new();
    // A change that reaches more device risks than this is told release by
    // release (how many devices, not which).
    let reached: usize = after_list
        .iter()
        .filter(|r| {
            r.kind == RiskKind::ReleaseVulnerability && old.get(r.key.as_str()) != Some(&&****r)
        })
        .filter_map(|r| crate::devices::release_key_of(r))
        .map(|k| after.devices.count_on(&k))
        .sum();
    let per_release = reached > device_events_max;
    for r in after_list.iter().copied() {
        let prev = old.get(r.key.as_str()).copied();
        risk_events(r, prev, approaching_days, &mut out);
        if r.kind != RiskKind::ReleaseVulnerability {
            continue;
        }
        if per_release {
            release_device_events(after, r, prev, &mut out);
            continue;
        }
        // Its devices: all of them when the release risk changed; else
        // those whose facts changed, and on a new day those whose deadline
        // may have crossed a threshold.
        if prev != Some(&**r) {
            for d in after.device_risks(r) {
                let p = device_risk_before(before, &d);
                risk_events(&d, p.as_ref(), approaching_days, &mut out);
            }
            continue;
        }
        let Some(key) = crate::devices::release_key_of(r) else {
            continue;
        };
        let (sinces, changed_rows) = per_key.entry(key.clone()).or_insert_with(|| {
            let mut sinces: Vec<risk::Date> = Vec::new();
            let mut rows = Vec::new();
            for row in after.devices.on(&key) {
                if let Some(d) = row.since(&key) {
                    if !sinces.contains(&d) {
                        sinces.push(d);
                    }
                }
                if changed.contains(row.device.as_str()) {
                    rows.push(row);
                }
            }
            (sinces, rows)
        });
        let crossing: Vec<risk::Date> = if then == now {
            Vec::new()
        } else {
            sinces
                .iter()
                .copied()
                .filter(|since| {
                    let deadline = match r.discovered {
                        Some(d) if *since > d => after
                            .deadlines
                            .for_model(r.model.as_deref().unwrap_or(&r.subject))
                            .deadline(r.severity, *since),
                        _ => r.deadline.clone(),
                    };
                    let flags = |day: risk::Date| {
                        let overdue = deadline.is_overdue(day);
                        let soon = matches!(deadline.status(day), risk::DeadlineStatus::Due { days_left } if days_left <= i64::from(approaching_days));
                        (overdue, soon)
                    };
                    flags(then) != flags(now)
                })
                .collect()
        };
        let mut look: Vec<&crate::DeviceRow> = changed_rows.clone();
        if !crossing.is_empty() {
            look.extend(after.devices.on(&key).filter(|row| {
                !changed.contains(row.device.as_str())
                    && row.since(&key).is_some_and(|d| crossing.contains(&d))
            }));
        }
        for row in look {
            let Some(since) = row.since(&key) else {
                continue;
            };
            if let Some(d) = after.device_risk(r, row, since) {
                let p = device_risk_before(before, &d);
                risk_events(&d, p.as_ref(), approaching_days, &mut out);
            }
        }
    }
    let vex_of = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| {
                only.is_none_or(|v| k.rsplit_once(' ').is_some_and(|(_, x)| v.contains(x)))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (before_vex, after_vex) = (vex_of(&before.vex_state), vex_of(&after.vex_state));
    let before_risks: Vec<&Risk> = before_list.iter().map(|r| &***r).collect();
    let after_risks: Vec<&Risk> = after_list.iter().map(|r| &***r).collect();
    vex_events(
        &before_risks,
        &after_risks,
        &before_vex,
        &after_vex,
        &mut out,
    );
    out
}

fn vex_events(
    before: &[&Risk],
    after: &[&Risk],
    before_vex: &BTreeMap<String, String>,
    after_vex: &BTreeMap<String, String>,
    out: &mut Vec<Event>,
) {
    // VEX changes, told to whoever has a risk or had one on that release.
    let mut keys: Vec<&String> = after_vex.keys().chain(before_vex.keys()).collect();
    keys.sort();
    keys.dedup();
    let changed: Vec<&String> = keys
        .into_iter()
        .filter(|k| after_vex.get(*k) != before_vex.get(*k))
        .collect();
    if changed.is_empty() {
        return;
    }
    // (model, release, vulnerability) → who has or had a risk there.
    let mut told: HashMap<(&str, &str, &str), Vec<String>> = HashMap::new();
    for r in after.iter().chain(before.iter()) {
        let (Some(m), Some(v), Some(x)) = (&r.model, &r.release, &r.vulnerability) else {
            continue;
        };
        let list = told.entry((&**m, &**v, &**x)).or_default();
        for s in r.stakeholders.iter() {
            if !list.contains(s) {
                list.push(s.clone());
            }
        }
    }
    for key in changed {
        let now = after_vex.get(key);
        let then = before_vex.get(key);
        let Some((release, vuln)) = key.split_once(' ') else {
            continue;
        };
        let Some((model, version)) = release.rsplit_once('@') else {
            continue;
        };
        let recipients = told
            .get(&(model, version, vuln))
            .cloned()
            .unwrap_or_default();
        let status = now.map_or("none", String::as_str);
        out.push(Event {
            id: format!("vex-changed:{key}:{status}"),
            kind: EventKind::VexChanged,
            subject: model.to_string(),
            device: None,
            vulnerability: Some(vuln.to_string()),
            severity: None,
            deadline: None,
            summary: format!(
                "VEX for {vuln} on {release}: {} -> {status}",
                then.map_or("none", String::as_str)
            ),
            recipients,
            risk: None,
        });
    }
}
