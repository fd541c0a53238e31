//! [`notifications`]: what a change from one register to the next calls
//! for: a device newly exposed, a fixed firmware now available for an
//! exposed device, a deadline approaching or past, a VEX status changed.
//!
//! Each event has a stable id (kind, risk key, and what changed), so a
//! delivery layer that deduplicates by id tells each recipient once.
//!
//! Deliberately absent: who may see what (the caller filters the
//! recipients by sharing policy) and delivery.

use std::collections::BTreeMap;

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
        subject: r.subject.clone(),
        device: r.device.clone(),
        vulnerability: r.vulnerability.clone(),
        severity: Some(r.severity.as_str().to_string()),
        deadline: r.deadline.date.map(|d| d.to_string()),
        summary,
        recipients: r.stakeholders.clone(),
        risk: Some(r.clone()),
    }
}

fn approaching(r: &Risk, days: u32) -> bool {
    matches!(r.deadline_status, risk::DeadlineStatus::Due { days_left } if days_left <= i64::from(days))
}

/// The events that the change from `before` to `after` calls for;
/// `approaching_days` is the "deadline approaching" window.
pub fn notifications(before: &Register, after: &Register, approaching_days: u32) -> Vec<Event> {
    let old: BTreeMap<&str, &Risk> = before.risks.iter().map(|r| (r.key.as_str(), r)).collect();
    let mut out = Vec::new();
    for r in &after.risks {
        let prev = old.get(r.key.as_str()).copied();
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
    // VEX changes, told to whoever has a risk or had one on that release.
    let mut keys: Vec<&String> = after
        .vex_state
        .keys()
        .chain(before.vex_state.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let now = after.vex_state.get(key);
        let then = before.vex_state.get(key);
        if now == then {
            continue;
        }
        let Some((release, vuln)) = key.split_once(' ') else {
            continue;
        };
        let Some((model, version)) = release.rsplit_once('@') else {
            continue;
        };
        let mut recipients: Vec<String> = Vec::new();
        for r in after.risks.iter().chain(before.risks.iter()) {
            if r.model.as_deref() == Some(model)
                && r.release.as_deref() == Some(version)
                && r.vulnerability.as_deref() == Some(vuln)
            {
                for s in &r.stakeholders {
                    if !recipients.contains(s) {
                        recipients.push(s.clone());
                    }
                }
            }
        }
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
    out
}
