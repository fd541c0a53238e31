//! The alarms and incidents use cases: what the detector
//! ([`crate::detection`]) holds, as each reader may see it, and the writes
//! that move alarms and incidents on (signed by the service on the
//! caller's behalf, [`crate::delegate`]): a verdict on an alarm, a true
//! positive becoming an incident, an incident acknowledged or resolved, a
//! device quarantined, a security profile published.
//!
//! A reader sees a device's alarms when it may read the device's
//! `device-report` statements (the alarms rest on them), and an incident
//! when it may read its `incident-reported` statement. Reads of another
//! organization's data are recorded before they are answered.

use std::sync::Arc;

use api_types::devices::{
    AlarmVerdict, AlarmView, AlarmsPage, AlarmsQuery, IncidentStepView, IncidentUpdate,
    IncidentView, IncidentsPage, IncidentsQuery, ProfileView, ProfilesPage, QuarantineRequest,
    Registered, VerdictRecorded,
};
use posture::detect::Verification;
use serde_json::{json, Value};
use twin::projection::Twin;
use twin::{DeviceId, StakeholderId};
use twin_store::Projector;

use crate::archivist::Disclosure;
use crate::delegate::Delegate;
use crate::detection::{
    parse_verification, AlarmRecord, DetectionState, IncidentRecord, IncidentStatus,
    ALARM_VERIFIED_TYPE, INCIDENT_UPDATED_TYPE, NOTE_BYTES_MAX, QUARANTINE_GROUP,
};
use crate::devices::REPORT_TYPE;
use crate::reads::{Audit, ReadRecorder};
use crate::{Clock, ServiceError};

type Res<T> = Result<T, ServiceError>;

/// The alarms, incidents and security profiles use cases.
#[derive(Clone)]
pub struct AlarmViews {
    projector: Projector,
    state: Arc<DetectionState>,
    reads: ReadRecorder,
    delegate: Delegate,
    clock: Arc<dyn Clock>,
}

fn owner_of(twin: &Twin) -> StakeholderId {
    StakeholderId(format!("device:{}", twin.device.as_str()))
}

impl AlarmViews {
    /// The views over `state` (the node's detector), writing through `delegate`.
    pub fn new(
        projector: Projector,
        state: Arc<DetectionState>,
        reads: ReadRecorder,
        delegate: Delegate,
        clock: Arc<dyn Clock>,
    ) -> AlarmViews {
        AlarmViews {
            projector,
            state,
            reads,
            delegate,
            clock,
        }
    }

    /// The detector's state.
    pub fn state(&self) -> &Arc<DetectionState> {
        &self.state
    }

    fn twin(&self, device: &str) -> Res<Option<Twin>> {
        let Ok(id) = DeviceId::new(device) else {
            return Ok(None);
        };
        self.projector
            .store()
            .twin(&id)
            .map_err(ServiceError::internal)
    }

    /// The alarms over every device the reader may see.
    pub fn alarms(&self, who: Option<StakeholderId>, q: &AlarmsQuery) -> Res<AlarmsPage> {
        let (active, cleared) = match q.state.as_deref() {
            None | Some("active") => (true, false),
            Some("cleared") => (false, true),
            Some("all") => (true, true),
            Some(other) => {
                return Err(ServiceError::invalid(format!(
                    "state={other:?}: expected active, cleared or all"
                )))
            }
        };
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let now = self.clock.now_unix_s();
        let det = self.state.read();
        let mut devices: Vec<&str> = match &q.device {
            Some(d) => det.devices().filter(|x| x == d).collect(),
            None => det.devices().collect(),
        };
        devices.sort_unstable();
        let mut out = Vec::new();
        let mut checked = 0u64;
        for device in devices {
            let Some(twin) = self.twin(device)? else {
                continue;
            };
            let Some(seen) = reader.decide(&twin, &owner_of(&twin), REPORT_TYPE) else {
                continue;
            };
            checked += 1;
            let mut shown = false;
            let silent = det.silent(device, now);
            let records = silent.iter().chain(det.alarms_of(device));
            for a in records {
                let is_active = a.cleared.is_none();
                if (is_active && !active) || (!is_active && !cleared) {
                    continue;
                }
                if q.rule.as_deref().is_some_and(|r| !a.rule.starts_with(r)) {
                    continue;
                }
                shown = true;
                out.push(alarm_view(a));
            }
            if shown {
                if let Some(entry) = twin
                    .current
                    .get(&twin::AttributeClass::Custom(REPORT_TYPE.into()))
                {
                    audit.note(&owner_of(&twin), seen, *entry, Some(&twin.device));
                }
            }
        }
        drop(det);
        audit.write(
            &self.reads,
            &reader.who,
            twin::sharing::ReadKind::Search,
            None,
        )?;
        Ok(AlarmsPage {
            alarms: out,
            devices_checked: checked,
            as_of: self.state.folded(),
        })
    }

    /// The incidents over every device the reader may see.
    pub fn incidents(&self, who: Option<StakeholderId>, q: &IncidentsQuery) -> Res<IncidentsPage> {
        let wanted: Option<Vec<IncidentStatus>> = match q.status.as_deref() {
            None => None,
            Some("unresolved") => Some(vec![IncidentStatus::Open, IncidentStatus::Acknowledged]),
            Some(s) => match IncidentStatus::parse(s) {
                Some(st) => Some(vec![st]),
                None => {
                    return Err(ServiceError::invalid(format!(
                        "status={s:?}: expected open, acknowledged, resolved or unresolved"
                    )))
                }
            },
        };
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let det = self.state.read();
        let mut out = Vec::new();
        let mut twins: std::collections::HashMap<String, Option<Twin>> = Default::default();
        for i in det.incidents() {
            if q.device.as_deref().is_some_and(|d| d != i.device) {
                continue;
            }
            if wanted.as_ref().is_some_and(|w| !w.contains(&i.status)) {
                continue;
            }
            let twin = match twins.get(&i.device) {
                Some(t) => t.clone(),
                None => {
                    let t = self.twin(&i.device)?;
                    twins.insert(i.device.clone(), t.clone());
                    t
                }
            };
            let Some(twin) = twin else { continue };
            let Some(seen) = reader.decide(&twin, &i.reported_by, "incident-reported") else {
                continue;
            };
            audit.note(&i.reported_by, seen, i.entry, Some(&twin.device));
            out.push(incident_view(i, &twin));
        }
        drop(det);
        out.reverse();
        audit.write(
            &self.reads,
            &reader.who,
            twin::sharing::ReadKind::Search,
            None,
        )?;
        Ok(IncidentsPage {
            incidents: out,
            as_of: self.state.folded(),
        })
    }

    /// Waits until the detector has folded the log up to `size` entries.
    async fn folded(&self, size: u64) -> Res<()> {
        let mut sizes = self.state.folded_sizes();
        let wait = std::time::Duration::from_secs(crate::archivist::PROJECTED_WAIT_S_MAX);
        let done = tokio::time::timeout(wait, sizes.wait_for(|s| *s >= size)).await;
        match done {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ServiceError::unavailable(format!(
                "entry {} is registered but the detector has not folded it yet; read it again shortly",
                size.saturating_sub(1)
            ))),
        }
    }

    /// `caller`'s verdict on `device`'s alarm `alarm`; a true positive is
    /// also reported as an incident.
    pub async fn verify(
        &self,
        caller: &StakeholderId,
        device: &str,
        alarm: &str,
        verdict: &AlarmVerdict,
    ) -> Res<VerdictRecorded> {
        let Some(verification) = parse_verification(&verdict.verification) else {
            return Err(ServiceError::invalid(format!(
                "verification {:?}: expected true-positive, benign-positive, false-positive or unknown",
                verdict.verification
            )));
        };
        let note = check_note(verdict.note.as_deref())?;
        let record = self.visible_alarm(caller, device, alarm)?;
        let mut payload = json!({
            "type": ALARM_VERIFIED_TYPE,
            "alarm": record.id,
            "verification": verification.as_str(),
        });
        if let Some(n) = note {
            payload["note"] = json!(n);
        }
        let subject = format!("device:{device}");
        let entry = self
            .delegate
            .register(caller, &subject, payload, Disclosure::Public)
            .await?;
        let mut incident = None;
        if verification == Verification::TruePositive && record.incident.is_none() {
            let summary = format!(
                "{} on {device} (alarm {}, confirmed by {})",
                record.title, record.id, caller.0
            );
            let payload = json!({
                "type": "incident-reported",
                "severity": record.severity.as_str(),
                "summary": summary,
                "alarm": record.id,
            });
            incident = Some(
                self.delegate
                    .register(caller, &subject, payload, Disclosure::Public)
                    .await?,
            );
        }
        self.folded(incident.unwrap_or(entry) + 1).await?;
        Ok(VerdictRecorded { entry, incident })
    }

    /// The alarm, if the caller may see it.
    fn visible_alarm(&self, caller: &StakeholderId, device: &str, alarm: &str) -> Res<AlarmRecord> {
        let not_found = || {
            ServiceError::not_found(format!(
                "no alarm {alarm:?} on device {device:?} (or not shared with you)"
            ))
        };
        let twin = self.twin(device)?.ok_or_else(not_found)?;
        let meta = self.projector.meta();
        let reader = self.reads.reader(Some(caller.clone()), &meta);
        reader
            .decide(&twin, &owner_of(&twin), REPORT_TYPE)
            .ok_or_else(not_found)?;
        let det = self.state.read();
        det.alarm(device, alarm).cloned().ok_or_else(not_found)
    }

    /// `caller` moves incident `incident` on.
    pub async fn update_incident(
        &self,
        caller: &StakeholderId,
        incident: u64,
        update: &IncidentUpdate,
    ) -> Res<Registered> {
        let status = match update.status.as_str() {
            "acknowledged" => IncidentStatus::Acknowledged,
            "resolved" => IncidentStatus::Resolved,
            other => {
                return Err(ServiceError::invalid(format!(
                    "status {other:?}: expected acknowledged or resolved"
                )))
            }
        };
        let note = check_note(update.note.as_deref())?;
        let record = self.visible_incident(caller, incident)?;
        if record.status == IncidentStatus::Resolved {
            return Err(ServiceError::conflict(format!(
                "incident {incident} is resolved already"
            )));
        }
        let mut payload = json!({
            "type": INCIDENT_UPDATED_TYPE,
            "incident": incident,
            "status": status.as_str(),
        });
        if let Some(n) = note {
            payload["note"] = json!(n);
        }
        let entry = self
            .delegate
            .register(
                caller,
                &format!("device:{}", record.device),
                payload,
                Disclosure::Public,
            )
            .await?;
        self.folded(entry + 1).await?;
        Ok(Registered { entry })
    }

    fn visible_incident(&self, caller: &StakeholderId, incident: u64) -> Res<IncidentRecord> {
        let not_found = || {
            ServiceError::not_found(format!(
                "no incident reported at entry {incident} (or not shared with you)"
            ))
        };
        let record = self
            .state
            .read()
            .incident_at(incident)
            .cloned()
            .ok_or_else(not_found)?;
        let twin = self.twin(&record.device)?.ok_or_else(not_found)?;
        let meta = self.projector.meta();
        let reader = self.reads.reader(Some(caller.clone()), &meta);
        reader
            .decide(&twin, &record.reported_by, "incident-reported")
            .ok_or_else(not_found)?;
        Ok(record)
    }

    /// Moves the device of incident `incident` into the quarantine group
    /// (or out of it): an `ownership-transferred` statement that keeps its
    /// parties and site, signed on the caller's behalf (so the twin's
    /// rules decide who may: its owner).
    pub async fn quarantine(
        &self,
        caller: &StakeholderId,
        incident: u64,
        request: &QuarantineRequest,
    ) -> Res<Registered> {
        let record = self.visible_incident(caller, incident)?;
        let twin = self
            .twin(&record.device)?
            .ok_or_else(|| ServiceError::not_found(format!("no device {:?}", record.device)))?;
        let Some(owner) = &twin.owner else {
            return Err(ServiceError::conflict(format!(
                "device {} has no owner yet: ownership must be transferred before it can be quarantined",
                record.device
            )));
        };
        let on = request.quarantine.unwrap_or(true);
        let mut groups: Vec<String> = twin
            .groups
            .iter()
            .filter(|g| g.as_str() != QUARANTINE_GROUP)
            .cloned()
            .collect();
        if on {
            groups.push(QUARANTINE_GROUP.into());
        }
        let mut payload = json!({
            "type": "ownership-transferred",
            "owner": owner.0,
            "groups": groups,
        });
        for (k, v) in [
            ("operator", twin.operator.as_ref().map(|s| s.0.clone())),
            ("maintainer", twin.maintainer.as_ref().map(|s| s.0.clone())),
            ("site", twin.site.clone()),
            ("location", twin.location.clone()),
        ] {
            if let Some(v) = v {
                payload[k] = Value::from(v);
            }
        }
        let entry = self
            .delegate
            .register(
                caller,
                &format!("device:{}", record.device),
                payload,
                Disclosure::Public,
            )
            .await?;
        Ok(Registered { entry })
    }

    /// The security profiles in force, with what the detector makes of them.
    pub fn profiles(&self) -> ProfilesPage {
        let meta = self.projector.meta();
        let det = self.state.read();
        let errors: std::collections::BTreeMap<String, String> = det
            .profile_errors()
            .map(|e| (e.key.clone(), e.reason.clone()))
            .collect();
        let profiles = meta
            .published
            .versions(None)
            .filter(|(_, v)| {
                v.kind == twin::published::PolicyKind::SecurityProfile && v.superseded_by.is_none()
            })
            .map(|(o, v)| {
                let owner = o.0.clone();
                let key = format!("{owner}/{}", v.id);
                ProfileView {
                    error: errors.get(&key).cloned(),
                    key,
                    owner,
                    id: v.id.clone(),
                    entry: v.entry,
                    profile: v.policy.clone(),
                }
            })
            .collect();
        ProfilesPage { profiles }
    }

    /// Publishes `profile` as `caller`'s security profile (replacing its
    /// profile with the same id), after checking that the detector can run
    /// every behaviour.
    pub async fn publish_profile(&self, caller: &StakeholderId, profile: Value) -> Res<Registered> {
        let parsed = twin::published::SecurityProfile::parse(&profile)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        crate::detection::compile_profile(&parsed.behaviours).map_err(ServiceError::invalid)?;
        let payload = json!({"type": "security-profile", "policy": profile});
        let entry = self
            .delegate
            .register(
                caller,
                &format!("stakeholder:{}", caller.0),
                payload,
                Disclosure::Public,
            )
            .await?;
        Ok(Registered { entry })
    }
}

fn check_note(note: Option<&str>) -> Res<Option<&str>> {
    match note {
        Some(n) if n.len() > NOTE_BYTES_MAX => Err(ServiceError::invalid(format!(
            "note: {} bytes, at most {NOTE_BYTES_MAX}",
            n.len()
        ))),
        other => Ok(other),
    }
}

/// An alarm on the wire.
pub fn alarm_view(a: &AlarmRecord) -> AlarmView {
    AlarmView {
        id: a.id.clone(),
        rule: a.rule.clone(),
        title: a.title.clone(),
        severity: a.severity.as_str().to_string(),
        device: a.device.clone(),
        references: a.references.clone(),
        evidence: a.evidence.clone(),
        state: if a.cleared.is_some() {
            "cleared"
        } else {
            "active"
        }
        .into(),
        report_entry: a.raised_entry,
        raised_at: a.raised_at,
        last_entry: a.last_entry,
        cleared_entry: a.cleared.map(|(e, _)| e),
        verification: a.verification.as_str().into(),
        verified_by: a.verified.as_ref().map(|v| v.by.0.clone()),
        verified_entry: a.verified.as_ref().map(|v| v.entry),
        verification_note: a.verified.as_ref().and_then(|v| v.note.clone()),
        incident: a.incident,
    }
}

/// An incident on the wire.
pub fn incident_view(i: &IncidentRecord, twin: &Twin) -> IncidentView {
    IncidentView {
        entry: i.entry,
        device: i.device.clone(),
        reported_by: i.reported_by.0.clone(),
        severity: i.severity.as_str().into(),
        summary: i.summary.clone(),
        alarm: i.alarm.clone(),
        status: i.status.as_str().into(),
        steps: i
            .steps
            .iter()
            .map(|s| IncidentStepView {
                entry: s.entry,
                by: s.by.0.clone(),
                status: s.status.as_str().into(),
                note: s.note.clone(),
            })
            .collect(),
        quarantined: twin.groups.iter().any(|g| g == QUARANTINE_GROUP),
    }
}
