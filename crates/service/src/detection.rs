//! Detection over the log: the alarms devices' reports raise, the
//! operators' verdicts on them, and the incidents with their life cycle.
//!
//! [`Detector`] is a fold over the statements of the log in log order, so
//! that what it holds is a function of the log (a `reindex`, or a restart,
//! folds the same statements and holds the same alarms):
//!
//! - a `device-report` is measured against the built-in incident rules of
//!   `posture::incident` (an image no release covers, an AI model that is
//!   not the endorsed one, a new listening port or destination against the
//!   device's learned baseline, an authentication-failure spike against
//!   its own history, a firmware downgrade below the highest version it
//!   ran, a split view of the log) and against the behaviours of the
//!   security profiles that cover the device (`posture::detect`, Device
//!   Defender's rules-based detection; profiles are `security-profile`
//!   statements). A rule that holds raises an alarm, named
//!   `<rule>@<entry of the report that raised it>`; the alarm stays active
//!   while the rule keeps holding, and is cleared by the first report on
//!   which it no longer does;
//! - an `alarm-verified` statement (an operator, owner or maintainer of the
//!   device) sets an alarm's verification state (Device Defender's:
//!   unknown, true positive, benign positive, false positive). A benign or
//!   false positive on a new port or destination teaches the baseline the
//!   device's next report;
//! - an `incident-reported` statement opens an incident (naming the alarm
//!   it confirms, when it confirms one) and `incident-updated` statements
//!   acknowledge and resolve it.
//!
//! A device gone silent is the one rule that needs the clock: it is
//! evaluated when asked ([`Detector::silent`]), from the last report's
//! timestamp and the interval the device reports at.
//!
//! Deliberately absent: I/O (the node's driver reads the log and the
//! twins, `node::detection`), who may see an alarm (the views), and
//! notifications (the driver, from the [`Change`]s a fold step returns).

use std::collections::{BTreeMap, HashMap, VecDeque};

use posture::detect::{AlarmEvent, Behaviour, BehaviourDef, MetricWindow, Monitor, Verification};
use posture::incident::{AuthFailureSpike, Incident, IncidentKind, NetworkBaseline, Releases};
use posture::report::{DeviceReport, Sha256};
use risk::Severity;
use serde_json::{json, Value};
use twin::StakeholderId;

use crate::ServiceError;

/// The statement type of an operator's verdict on an alarm.
pub const ALARM_VERIFIED_TYPE: &str = "alarm-verified";
/// The statement type of a step in an incident's life cycle.
pub const INCIDENT_UPDATED_TYPE: &str = "incident-updated";
/// The group a device is moved into when quarantined.
pub const QUARANTINE_GROUP: &str = "quarantine";

/// Reports whose listening ports and destinations make a device's network
/// baseline before new ones raise alarms.
pub const NETWORK_LEARNING_REPORTS: u32 = 3;
/// The window of a device's own authentication failures that a spike is
/// measured against, in seconds.
pub const AUTH_WINDOW_S: u64 = 24 * 60 * 60;
/// Values kept in that window, at most.
pub const AUTH_WINDOW_SAMPLES_MAX: usize = 512;
/// Report intervals without a report after which a device is silent.
pub const SILENT_INTERVALS: u32 = 3;
/// The shortest report interval silence is measured in, in seconds: a
/// device that sent a burst of reports is not silent a few seconds later.
pub const REPORT_INTERVAL_MIN_S: u64 = 60;
/// Cleared alarms kept per device (older ones stay in the log).
pub const CLEARED_ALARMS_PER_DEVICE_MAX: usize = 32;
/// Longest note on a verdict or an incident update, in bytes.
pub const NOTE_BYTES_MAX: usize = 2048;

/// The verdict on an alarm as a built-in statement type (subject: the
/// device; asserted by its operator, owner or maintainer).
pub fn alarm_verified_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: ALARM_VERIFIED_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "alarm": {"type": "string", "minLength": 3, "maxLength": 400},
                "verification": {"enum": ["unknown", "true-positive", "benign-positive", "false-positive"]},
                "note": {"type": "string", "maxLength": NOTE_BYTES_MAX}
            },
            "required": ["alarm", "verification"],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(
            &[
                twin::Role::Operator,
                twin::Role::Owner,
                twin::Role::Maintainer,
            ],
            &[],
        ),
        sets_attributes: None,
        update_field: None,
        description: "an operator's verdict on a device's alarm (true, benign or false positive)"
            .into(),
    }
}

/// A step of an incident's life cycle as a built-in statement type
/// (subject: the device of the incident).
pub fn incident_updated_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: INCIDENT_UPDATED_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "incident": {"type": "integer", "minimum": 0},
                "status": {"enum": ["acknowledged", "resolved"]},
                "note": {"type": "string", "maxLength": NOTE_BYTES_MAX}
            },
            "required": ["incident", "status"],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(
            &[
                twin::Role::Operator,
                twin::Role::Owner,
                twin::Role::Maintainer,
            ],
            &[],
        ),
        sets_attributes: None,
        update_field: None,
        description: "an incident acknowledged or resolved".into(),
    }
}

/// The rule ids of the built-in incident rules, as alarms name them.
pub fn rule_id(kind: IncidentKind) -> &'static str {
    match kind {
        IncidentKind::FirmwareNotReleased => "firmware-not-released",
        IncidentKind::AiModelSubstituted => "ai-model-substituted",
        IncidentKind::NewListeningPort => "new-listening-port",
        IncidentKind::NewDestination => "new-destination",
        IncidentKind::AuthFailureSpike => "auth-failure-spike",
        IncidentKind::FirmwareBelowMinimum => "firmware-downgrade",
        IncidentKind::DeviceSilent => "device-silent",
        IncidentKind::SplitView => "split-view",
    }
}

/// An alarm: a rule that held on a device's reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmRecord {
    /// `<rule>@<raised_entry>`.
    pub id: String,
    /// The rule: a built-in rule id, or `profile:<owner>/<profile>/<behaviour>`.
    pub rule: String,
    /// One line.
    pub title: String,
    /// How severe.
    pub severity: Severity,
    /// What it is known as.
    pub references: Vec<String>,
    /// The device.
    pub device: String,
    /// The entry of the report that raised it.
    pub raised_entry: u64,
    /// That report's timestamp.
    pub raised_at: i64,
    /// The facts it rests on (the raising report's).
    pub evidence: Value,
    /// The latest report on which the rule held.
    pub last_entry: u64,
    /// The report that cleared it (entry, timestamp), if cleared.
    pub cleared: Option<(u64, i64)>,
    /// What operators decided it was.
    pub verification: Verification,
    /// Who decided, the verdict's entry and note.
    pub verified: Option<Verdict>,
    /// The incident that confirms it, if any (its entry).
    pub incident: Option<u64>,
}

/// An operator's verdict on an alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Who.
    pub by: StakeholderId,
    /// The verdict's entry.
    pub entry: u64,
    /// Why.
    pub note: Option<String>,
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IncidentStatus {
    /// Reported, nobody has acknowledged it.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl IncidentStatus {
    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }

    /// Parses a label.
    pub fn parse(s: &str) -> Option<IncidentStatus> {
        [
            IncidentStatus::Open,
            IncidentStatus::Acknowledged,
            IncidentStatus::Resolved,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One step of an incident's life cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentStep {
    /// The statement's entry.
    pub entry: u64,
    /// Who.
    pub by: StakeholderId,
    /// The status it moved to.
    pub status: IncidentStatus,
    /// Why.
    pub note: Option<String>,
}

/// An incident, from its `incident-reported` statement and its updates.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    /// The `incident-reported` entry (the incident's id).
    pub entry: u64,
    /// The device.
    pub device: String,
    /// Who reported it.
    pub reported_by: StakeholderId,
    /// How severe.
    pub severity: Severity,
    /// What happened.
    pub summary: String,
    /// The alarm it confirms, if any.
    pub alarm: Option<String>,
    /// Where it stands.
    pub status: IncidentStatus,
    /// Its updates, in log order.
    pub steps: Vec<IncidentStep>,
}

/// What one fold step changed, for those who are told (notifications).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// An alarm was raised.
    Raised(AlarmRecord),
    /// An alarm was cleared.
    Cleared(AlarmRecord),
    /// An incident was reported.
    IncidentOpened(IncidentRecord),
    /// An incident moved on.
    IncidentUpdated(IncidentRecord),
}

/// What the detector needs to know about the rest of the log when it
/// measures a report: the device's model's releases, the endorsed AI
/// models, the log's history, the profiles that cover the device.
pub struct ReportContext<'a> {
    /// The releases of the device's model, when it has any.
    pub releases: Option<&'a Releases>,
    /// The endorsed digest of an AI model, by the id the device reports.
    pub endorsed_model: &'a dyn Fn(&str) -> Option<Sha256>,
    /// Whether the twin records an AI model deployment at all.
    pub has_endorsed_models: bool,
    /// The log's published size.
    pub log_size: u64,
    /// The log's root at a size.
    pub root_at: &'a dyn Fn(u64) -> Option<Sha256>,
    /// The keys (`owner/id`) of the profiles covering the device.
    pub profiles: &'a [String],
}

/// A security profile the detector runs.
struct ProfileRun {
    entry: u64,
    monitor: Monitor,
}

/// A profile the detector cannot run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    /// `owner/id`.
    pub key: String,
    /// Its entry.
    pub entry: u64,
    /// Why.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Watch {
    /// The last history entry of the device the fold has seen.
    cursor: Option<u64>,
    reports: u32,
    last: Option<(u64, i64, u64)>,
    interval_s: u64,
    highest_version: Option<String>,
    network: NetworkBaseline,
    relearn: bool,
    auth: Option<MetricWindow>,
    active: BTreeMap<String, AlarmRecord>,
    cleared: VecDeque<AlarmRecord>,
}

/// The fold. See the module documentation.
#[derive(Default)]
pub struct Detector {
    devices: HashMap<String, Watch>,
    profiles: BTreeMap<String, ProfileRun>,
    profile_errors: BTreeMap<String, ProfileError>,
    incidents: BTreeMap<u64, IncidentRecord>,
    /// Verdicts and updates that named no alarm or incident the detector
    /// knows (kept in the log; counted here).
    pub unmatched: u64,
    /// Reports measured.
    pub reports_measured: u64,
}

impl Detector {
    /// An empty detector.
    pub fn new() -> Detector {
        Detector::default()
    }

    /// The last history entry of `device` the fold has seen.
    pub fn cursor(&self, device: &str) -> Option<u64> {
        self.devices.get(device).and_then(|w| w.cursor)
    }

    /// Notes that the fold has seen `device`'s history up to `entry`.
    pub fn advance(&mut self, device: &str, entry: u64) {
        let w = self.devices.entry(device.to_string()).or_default();
        w.cursor = Some(w.cursor.map_or(entry, |c| c.max(entry)));
    }

    /// Brings the running profiles in line with the published ones (`key`
    /// `owner/id`, entry, behaviours as written). A profile published
    /// again starts afresh; one no longer published stops, and its active
    /// alarms are cleared.
    pub fn set_profiles(&mut self, published: &[(String, u64, Vec<Value>)]) {
        let keep: std::collections::BTreeSet<&str> =
            published.iter().map(|(k, _, _)| k.as_str()).collect();
        let gone: Vec<String> = self
            .profiles
            .keys()
            .filter(|k| !keep.contains(k.as_str()))
            .cloned()
            .collect();
        for k in gone {
            self.profiles.remove(&k);
            let prefix = format!("profile:{k}/");
            for w in self.devices.values_mut() {
                w.active.retain(|rule, _| !rule.starts_with(&prefix));
            }
        }
        for (key, entry, behaviours) in published {
            if self.profiles.get(key).is_some_and(|p| p.entry == *entry)
                || self
                    .profile_errors
                    .get(key)
                    .is_some_and(|e| e.entry == *entry)
            {
                continue;
            }
            let prefix = format!("profile:{key}/");
            for w in self.devices.values_mut() {
                w.active.retain(|rule, _| !rule.starts_with(&prefix));
            }
            match compile_profile(behaviours) {
                Ok(monitor) => {
                    self.profile_errors.remove(key);
                    self.profiles.insert(
                        key.clone(),
                        ProfileRun {
                            entry: *entry,
                            monitor,
                        },
                    );
                }
                Err(reason) => {
                    self.profiles.remove(key);
                    self.profile_errors.insert(
                        key.clone(),
                        ProfileError {
                            key: key.clone(),
                            entry: *entry,
                            reason,
                        },
                    );
                }
            }
        }
    }

    /// Profiles in the log the detector cannot run.
    pub fn profile_errors(&self) -> impl Iterator<Item = &ProfileError> {
        self.profile_errors.values()
    }

    /// Measures `device`'s report at `entry` against every rule; says what
    /// it raised and cleared.
    pub fn report(
        &mut self,
        device: &str,
        entry: u64,
        report: &DeviceReport,
        ctx: &ReportContext<'_>,
    ) -> Vec<Change> {
        self.reports_measured += 1;
        let w = self.devices.entry(device.to_string()).or_default();
        let mut changes = Vec::new();
        let mut held: Vec<(String, Option<Incident>)> = Vec::new();

        held.push((
            rule_id(IncidentKind::FirmwareNotReleased).into(),
            ctx.releases
                .and_then(|r| posture::incident::firmware_not_released(device, report, r)),
        ));
        held.push((
            rule_id(IncidentKind::FirmwareBelowMinimum).into(),
            w.highest_version
                .as_deref()
                .and_then(|v| posture::incident::firmware_below_minimum(device, report, v)),
        ));
        held.push((
            rule_id(IncidentKind::AiModelSubstituted).into(),
            if ctx.has_endorsed_models {
                posture::incident::ai_model_substituted(device, report, ctx.endorsed_model)
            } else {
                None
            },
        ));
        held.push((
            rule_id(IncidentKind::SplitView).into(),
            posture::incident::split_view(device, report, ctx.log_size, ctx.root_at),
        ));
        if w.relearn {
            w.network.learn(report);
            w.relearn = false;
        }
        let learned = w.reports >= NETWORK_LEARNING_REPORTS;
        let new = if learned {
            w.network.new_activity(device, report)
        } else {
            w.network.learn(report);
            Vec::new()
        };
        let mut new_port = None;
        let mut new_destination = None;
        for i in new {
            match i.kind {
                IncidentKind::NewListeningPort => new_port = Some(i),
                IncidentKind::NewDestination => new_destination = Some(i),
                _ => {}
            }
        }
        held.push((rule_id(IncidentKind::NewListeningPort).into(), new_port));
        held.push((
            rule_id(IncidentKind::NewDestination).into(),
            new_destination,
        ));
        let auth = w
            .auth
            .get_or_insert_with(|| MetricWindow::new(AUTH_WINDOW_S, AUTH_WINDOW_SAMPLES_MAX));
        let spike = AuthFailureSpike::default().check(device, report, auth);
        if spike.is_none() {
            // A spike does not become the baseline it is measured against.
            if let Some(n) = report
                .metrics
                .as_ref()
                .and_then(|m| m.authentication_failures)
            {
                auth.push(report.timestamp, n);
            }
        }
        held.push((rule_id(IncidentKind::AuthFailureSpike).into(), spike));

        for (rule, incident) in held {
            step_rule(w, device, entry, report, &rule, incident, &mut changes);
        }

        for key in ctx.profiles {
            let Some(run) = self.profiles.get_mut(key) else {
                continue;
            };
            for event in run.monitor.observe(device, report) {
                match event {
                    AlarmEvent::Raised(a) => {
                        let rule = format!("profile:{key}/{}", a.behaviour);
                        let record = AlarmRecord {
                            id: format!("{rule}@{entry}"),
                            title: format!(
                                "Behaviour {} of security profile {key} violated",
                                a.behaviour
                            ),
                            rule: rule.clone(),
                            severity: Severity::Medium,
                            references: vec!["AWS IoT Device Defender rules-based detection".into()],
                            device: device.to_string(),
                            raised_entry: entry,
                            raised_at: a.raised_at,
                            evidence: serde_json::to_value(&a.evidence).unwrap_or_default(),
                            last_entry: entry,
                            cleared: None,
                            verification: Verification::Unknown,
                            verified: None,
                            incident: None,
                        };
                        w.active.insert(rule, record.clone());
                        changes.push(Change::Raised(record));
                    }
                    AlarmEvent::Cleared { alarm, .. } => {
                        let rule = format!("profile:{key}/{}", alarm.behaviour);
                        if let Some(mut record) = w.active.remove(&rule) {
                            record.cleared = Some((entry, report.timestamp));
                            push_cleared(w, record.clone());
                            changes.push(Change::Cleared(record));
                        }
                    }
                }
            }
            let prefix = format!("profile:{key}/");
            for a in w.active.values_mut() {
                if a.rule.starts_with(&prefix) {
                    a.last_entry = entry;
                }
            }
        }

        if let Some((_, ts, _)) = w.last {
            if let Ok(gap) = u64::try_from(report.timestamp.saturating_sub(ts)) {
                if gap > 0 {
                    w.interval_s = gap;
                }
            }
        }
        w.last = Some((entry, report.timestamp, report.counter));
        w.reports = w.reports.saturating_add(1);
        if let Some(f) = &report.firmware {
            let v = f.version.as_str();
            let higher = match &w.highest_version {
                None => true,
                Some(h) => vuln::version::VersionScheme::Generic
                    .compare(v, h)
                    .is_ok_and(|o| o.is_gt()),
            };
            if higher {
                w.highest_version = Some(v.to_string());
            }
        }
        changes
    }

    /// An `alarm-verified` statement at `entry` by `by` about `device`.
    pub fn verdict(
        &mut self,
        device: &str,
        entry: u64,
        by: &StakeholderId,
        alarm: &str,
        verification: Verification,
        note: Option<String>,
    ) -> bool {
        let Some(w) = self.devices.get_mut(device) else {
            self.unmatched += 1;
            return false;
        };
        let found = w
            .active
            .values_mut()
            .chain(w.cleared.iter_mut())
            .find(|a| a.id == alarm);
        let Some(a) = found else {
            self.unmatched += 1;
            return false;
        };
        a.verification = verification;
        a.verified = Some(Verdict {
            by: by.clone(),
            entry,
            note,
        });
        let teaches = matches!(
            verification,
            Verification::BenignPositive | Verification::FalsePositive
        ) && (a.rule == rule_id(IncidentKind::NewListeningPort)
            || a.rule == rule_id(IncidentKind::NewDestination));
        if teaches {
            w.relearn = true;
        }
        true
    }

    /// An `incident-reported` statement.
    pub fn incident(&mut self, record: IncidentRecord) -> Change {
        if let Some(alarm) = &record.alarm {
            if let Some(w) = self.devices.get_mut(&record.device) {
                if let Some(a) = w
                    .active
                    .values_mut()
                    .chain(w.cleared.iter_mut())
                    .find(|a| &a.id == alarm)
                {
                    a.incident = Some(record.entry);
                }
            }
        }
        self.incidents.insert(record.entry, record.clone());
        Change::IncidentOpened(record)
    }

    /// An `incident-updated` statement about `device`'s incident.
    pub fn incident_step(
        &mut self,
        device: &str,
        incident: u64,
        step: IncidentStep,
    ) -> Option<Change> {
        let Some(i) = self
            .incidents
            .get_mut(&incident)
            .filter(|i| i.device == device)
        else {
            self.unmatched += 1;
            return None;
        };
        i.status = step.status;
        i.steps.push(step);
        Some(Change::IncidentUpdated(i.clone()))
    }

    /// Every alarm of `device`, active first, then cleared ones (newest
    /// first).
    pub fn alarms_of(&self, device: &str) -> impl Iterator<Item = &AlarmRecord> {
        self.devices
            .get(device)
            .into_iter()
            .flat_map(|w| w.active.values().chain(w.cleared.iter().rev()))
    }

    /// The alarm `id` of `device`.
    pub fn alarm(&self, device: &str, id: &str) -> Option<&AlarmRecord> {
        self.alarms_of(device).find(|a| a.id == id)
    }

    /// Every device the detector has seen a report of.
    pub fn devices(&self) -> impl Iterator<Item = &str> {
        self.devices
            .iter()
            .filter(|(_, w)| w.last.is_some())
            .map(|(d, _)| d.as_str())
    }

    /// Every incident, in log order.
    pub fn incidents(&self) -> impl Iterator<Item = &IncidentRecord> {
        self.incidents.values()
    }

    /// The incident reported at `entry`.
    pub fn incident_at(&self, entry: u64) -> Option<&IncidentRecord> {
        self.incidents.get(&entry)
    }

    /// `device` gone silent at `now` (unix seconds): no report for
    /// [`SILENT_INTERVALS`] of the intervals it reports at. An alarm that
    /// needs the clock, so it is computed when asked, not folded.
    pub fn silent(&self, device: &str, now: i64) -> Option<AlarmRecord> {
        let w = self.devices.get(device)?;
        let (entry, ts, counter) = w.last?;
        let i = posture::incident::device_silent(
            device,
            counter,
            ts,
            w.interval_s.max(REPORT_INTERVAL_MIN_S),
            SILENT_INTERVALS,
            now,
        )?;
        let rule = rule_id(IncidentKind::DeviceSilent);
        Some(AlarmRecord {
            id: format!("{rule}@{entry}"),
            rule: rule.into(),
            title: i.kind.title().into(),
            severity: i.severity(),
            references: i.kind.references().iter().map(|r| r.to_string()).collect(),
            device: device.to_string(),
            raised_entry: entry,
            raised_at: ts,
            evidence: serde_json::to_value(&i.evidence).unwrap_or_default(),
            last_entry: entry,
            cleared: None,
            verification: Verification::Unknown,
            verified: None,
            incident: None,
        })
    }
}

fn push_cleared(w: &mut Watch, record: AlarmRecord) {
    w.cleared.push_back(record);
    while w.cleared.len() > CLEARED_ALARMS_PER_DEVICE_MAX {
        w.cleared.pop_front();
    }
}

fn step_rule(
    w: &mut Watch,
    device: &str,
    entry: u64,
    report: &DeviceReport,
    rule: &str,
    incident: Option<Incident>,
    changes: &mut Vec<Change>,
) {
    match incident {
        Some(i) => {
            if let Some(a) = w.active.get_mut(rule) {
                a.last_entry = entry;
                return;
            }
            let record = AlarmRecord {
                id: format!("{rule}@{entry}"),
                rule: rule.to_string(),
                title: i.kind.title().into(),
                severity: i.severity(),
                references: i.kind.references().iter().map(|r| r.to_string()).collect(),
                device: device.to_string(),
                raised_entry: entry,
                raised_at: report.timestamp,
                evidence: serde_json::to_value(&i.evidence).unwrap_or_default(),
                last_entry: entry,
                cleared: None,
                verification: Verification::Unknown,
                verified: None,
                incident: None,
            };
            w.active.insert(rule.to_string(), record.clone());
            changes.push(Change::Raised(record));
        }
        None => {
            if let Some(mut a) = w.active.remove(rule) {
                a.cleared = Some((entry, report.timestamp));
                push_cleared(w, a.clone());
                changes.push(Change::Cleared(a));
            }
        }
    }
}

/// Compiles a profile's behaviours as written; the first error says which
/// behaviour and why.
pub fn compile_profile(behaviours: &[Value]) -> Result<Monitor, String> {
    let mut out = Vec::with_capacity(behaviours.len());
    for (i, b) in behaviours.iter().enumerate() {
        let def: BehaviourDef =
            serde_json::from_value(b.clone()).map_err(|e| format!("behaviours[{i}]: {e}"))?;
        out.push(Behaviour::new(&def).map_err(|e| format!("behaviours[{i}]: {e}"))?);
    }
    Monitor::new(out).map_err(|e| e.to_string())
}

/// Parses a verification label.
pub fn parse_verification(s: &str) -> Option<Verification> {
    [
        Verification::Unknown,
        Verification::TruePositive,
        Verification::BenignPositive,
        Verification::FalsePositive,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

/// The statement types the detector folds.
pub const FOLDED_TYPES: [&str; 4] = [
    crate::devices::REPORT_TYPE,
    ALARM_VERIFIED_TYPE,
    "incident-reported",
    INCIDENT_UPDATED_TYPE,
];

/// History entries read per device and call.
const HISTORY_PAGE: usize = 4096;
/// Devices listed per call when the fold starts over.
const DEVICE_PAGE: usize = 1024;

/// A node's detector over its twins and its log: [`DetectionState::catch_up`]
/// folds what the projection added since the last call, in log order.
pub struct DetectionState {
    detector: parking_lot::RwLock<Detector>,
    /// The log size folded so far (every statement below it).
    folded: std::sync::atomic::AtomicU64,
    folded_tx: tokio::sync::watch::Sender<u64>,
    catching_up: parking_lot::Mutex<()>,
}

impl Default for DetectionState {
    fn default() -> Self {
        DetectionState {
            detector: parking_lot::RwLock::new(Detector::new()),
            folded: std::sync::atomic::AtomicU64::new(0),
            folded_tx: tokio::sync::watch::channel(0).0,
            catching_up: parking_lot::Mutex::new(()),
        }
    }
}

/// A change with the twin it is about (as projected when folded).
pub struct Noticed {
    /// The change.
    pub change: Change,
    /// The device's twin.
    pub twin: Option<twin::projection::Twin>,
}

impl DetectionState {
    /// An empty state (it folds the whole log on its first catch-up).
    pub fn new() -> DetectionState {
        DetectionState::default()
    }

    /// The detector, to read.
    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, Detector> {
        self.detector.read()
    }

    /// The log size folded so far.
    pub fn folded(&self) -> u64 {
        self.folded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Watches the folded size.
    pub fn folded_sizes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.folded_tx.subscribe()
    }

    /// Folds every statement the projection holds below its size that the
    /// detector has not seen, in log order; answers the changes.
    pub fn catch_up(
        &self,
        projector: &twin_store::Projector,
        scitt: &transparency::TransparencyService,
    ) -> Result<Vec<Noticed>, ServiceError> {
        let _one = self.catching_up.lock();
        let size = projector.size();
        let from = self.folded();
        if size <= from && from > 0 {
            return Ok(Vec::new());
        }
        let store = projector.store();
        let meta = projector.meta();
        let changed: Vec<String> = match (from > 0)
            .then(|| projector.devices_changed_since(from))
            .flatten()
        {
            Some((_, set)) => set.into_iter().collect(),
            None => {
                let mut all = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = store
                        .devices(after.as_deref(), DEVICE_PAGE)
                        .map_err(ServiceError::internal)?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.device.to_string());
                    all.extend(page.into_iter().map(|t| t.device.to_string()));
                }
                all
            }
        };
        let mut det = self.detector.write();
        let profiles: Vec<(
            String,
            u64,
            Vec<Value>,
            StakeholderId,
            twin::sharing::DeviceFilter,
        )> = meta
            .published
            .security_profiles()
            .map(|(owner, entry, p)| {
                (
                    format!("{}/{}", owner.0, p.id),
                    entry,
                    p.behaviours,
                    owner.clone(),
                    p.devices,
                )
            })
            .collect();
        det.set_profiles(
            &profiles
                .iter()
                .map(|(k, e, b, _, _)| (k.clone(), *e, b.clone()))
                .collect::<Vec<_>>(),
        );
        let mut todo: Vec<(u64, String, String, StakeholderId)> = Vec::new();
        for device in &changed {
            let Ok(id) = twin::DeviceId::new(device.clone()) else {
                continue;
            };
            let mut after = det.cursor(device);
            loop {
                let page = store
                    .history(&id, after, HISTORY_PAGE)
                    .map_err(ServiceError::internal)?;
                let full = page.len() == HISTORY_PAGE;
                let mut last = None;
                for (entry, kind, issuer) in page {
                    if entry >= size {
                        break;
                    }
                    last = Some(entry);
                    if FOLDED_TYPES.contains(&kind.as_str()) {
                        todo.push((entry, device.clone(), kind, issuer));
                    }
                }
                let Some(l) = last else { break };
                det.advance(device, l);
                after = Some(l);
                if !full {
                    break;
                }
            }
        }
        todo.sort_by_key(|t| t.0);

        let models = risk_register::model_subjects(&meta);
        let mut releases: HashMap<String, Option<Releases>> = HashMap::new();
        let log = scitt.log();
        let log_size = log.published().size.get();
        let prover = log.prover();
        let root_at = |s: u64| {
            prover
                .root(tlog::TreeSize::new(s))
                .ok()
                .map(|h| Sha256::from_bytes(*h.as_bytes()))
        };
        let mut twins: HashMap<String, Option<twin::projection::Twin>> = HashMap::new();
        let mut out = Vec::new();
        for (entry, device, kind, issuer) in todo {
            let Some(claim) = store.claim(entry).map_err(ServiceError::internal)? else {
                continue;
            };
            let twin = match twins.get(&device) {
                Some(t) => t.clone(),
                None => {
                    let t = twin::DeviceId::new(device.clone())
                        .ok()
                        .and_then(|id| store.twin(&id).ok().flatten());
                    twins.insert(device.clone(), t.clone());
                    t
                }
            };
            let changes = match (kind.as_str(), &claim.body) {
                (crate::devices::REPORT_TYPE, body) => {
                    let mut wire = body.to_wire();
                    if let Some(m) = wire.as_object_mut() {
                        m.entry("v").or_insert(json!(1));
                    }
                    let Ok(report) = DeviceReport::parse(wire.to_string().as_bytes()) else {
                        continue;
                    };
                    let Some(t) = &twin else { continue };
                    let model = models.get(&(t.manufacturer.0.clone(), t.model.clone()));
                    let rel = match model {
                        Some(subject) => releases
                            .entry(subject.clone())
                            .or_insert_with(|| {
                                meta.releases.get(subject).map(|list| {
                                    Releases::new(list.iter().filter_map(|r| {
                                        Some((
                                            r.version.as_str(),
                                            Sha256::from_hex(&r.image_sha256)?,
                                        ))
                                    }))
                                })
                            })
                            .as_ref(),
                        None => None,
                    };
                    let endorsed = endorsed_model(store, t);
                    let endorsed_fn = |id: &str| {
                        endorsed
                            .as_ref()
                            .filter(|(name, _)| name == id)
                            .map(|(_, d)| *d)
                    };
                    let covering: Vec<String> = profiles
                        .iter()
                        .filter(|(_, e, _, owner, filter)| {
                            *e < entry && operates(t, owner) && filter.matches(&t.facts())
                        })
                        .map(|(k, _, _, _, _)| k.clone())
                        .collect();
                    let ctx = ReportContext {
                        releases: rel,
                        endorsed_model: &endorsed_fn,
                        has_endorsed_models: endorsed.is_some(),
                        log_size,
                        root_at: &root_at,
                        profiles: &covering,
                    };
                    det.report(&device, entry, &report, &ctx)
                }
                (ALARM_VERIFIED_TYPE, twin::StatementBody::Custom { content, .. }) => {
                    let alarm = content.get("alarm").and_then(Value::as_str).unwrap_or("");
                    let Some(v) = content
                        .get("verification")
                        .and_then(Value::as_str)
                        .and_then(parse_verification)
                    else {
                        continue;
                    };
                    let note = content
                        .get("note")
                        .and_then(Value::as_str)
                        .map(String::from);
                    let by = claim.issuer.clone();
                    det.verdict(&device, entry, &by, alarm, v, note);
                    Vec::new()
                }
                (
                    "incident-reported",
                    twin::StatementBody::IncidentReported {
                        severity,
                        summary,
                        alarm,
                    },
                ) => vec![det.incident(IncidentRecord {
                    entry,
                    device: device.clone(),
                    reported_by: issuer.clone(),
                    severity: severity.to_owned(),
                    summary: summary.clone(),
                    alarm: alarm.clone(),
                    status: IncidentStatus::Open,
                    steps: Vec::new(),
                })],
                (INCIDENT_UPDATED_TYPE, twin::StatementBody::Custom { content, .. }) => {
                    let Some(incident) = content.get("incident").and_then(Value::as_u64) else {
                        continue;
                    };
                    let Some(status) = content
                        .get("status")
                        .and_then(Value::as_str)
                        .and_then(IncidentStatus::parse)
                    else {
                        continue;
                    };
                    let note = content
                        .get("note")
                        .and_then(Value::as_str)
                        .map(String::from);
                    let step = IncidentStep {
                        entry,
                        by: claim.issuer.clone(),
                        status,
                        note,
                    };
                    det.incident_step(&device, incident, step)
                        .into_iter()
                        .collect()
                }
                _ => Vec::new(),
            };
            out.extend(changes.into_iter().map(|change| Noticed {
                change,
                twin: twin.clone(),
            }));
        }
        drop(det);
        self.folded
            .store(size.max(from), std::sync::atomic::Ordering::Release);
        self.folded_tx.send_replace(size.max(from));
        Ok(out)
    }
}

/// Whether `who` operates, owns or maintains the device (a security
/// profile covers only such devices).
fn operates(t: &twin::projection::Twin, who: &StakeholderId) -> bool {
    [&t.owner, &t.operator, &t.maintainer]
        .into_iter()
        .any(|s| s.as_ref() == Some(who))
}

/// The AI model deployed on the twin, as its deployment statement names it
/// (name, digest), unless disputed.
fn endorsed_model(
    store: &twin_store::TwinStore,
    t: &twin::projection::Twin,
) -> Option<(String, Sha256)> {
    let entry = *t.current.get(&twin::AttributeClass::AiModel)?;
    let claim = store.claim(entry).ok()??;
    if !claim.disputes.is_empty() {
        return None;
    }
    match claim.body {
        twin::StatementBody::AiModelDeployed {
            name, model_sha256, ..
        } => Some((name, Sha256::from_hex(&model_sha256)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const OTHER: &str = "6d0fd1a5c5a4e6a0b2c9f8e7d6c5b4a392817161514131211100f0e0d0c0b0a0";

    fn report(counter: u64, image: &str, tcp: &[u16]) -> DeviceReport {
        let json = json!({
            "type": "device-report", "v": 1, "counter": counter,
            "timestamp": 1_800_000_000 + counter as i64,
            "firmware": {"version": "2.4.0", "image_sha256": image},
            "metrics": {"listening-tcp-ports": tcp, "authentication-failures": 0}
        });
        DeviceReport::parse(json.to_string().as_bytes()).expect("a report")
    }

    fn step(det: &mut Detector, entry: u64, r: &DeviceReport, profiles: &[String]) -> Vec<Change> {
        let releases = Releases::new([("2.4.0", Sha256::from_hex(IMAGE).expect("hex"))]);
        let none = |_: &str| None;
        let root = |_: u64| None;
        let ctx = ReportContext {
            releases: Some(&releases),
            endorsed_model: &none,
            has_endorsed_models: false,
            log_size: 100,
            root_at: &root,
            profiles,
        };
        det.report("d1", entry, r, &ctx)
    }

    fn raised(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Raised(a) => Some(a.id.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_alarm_is_raised_once_held_cleared_and_raised_again_under_a_new_id() {
        let mut det = Detector::new();
        assert_eq!(
            raised(&step(&mut det, 10, &report(1, OTHER, &[443]), &[])),
            ["firmware-not-released@10"]
        );
        assert!(raised(&step(&mut det, 11, &report(2, OTHER, &[443]), &[])).is_empty());
        assert_eq!(
            det.alarm("d1", "firmware-not-released@10")
                .map(|a| a.last_entry),
            Some(11)
        );
        let c = step(&mut det, 12, &report(3, IMAGE, &[443]), &[]);
        assert!(matches!(&c[..], [Change::Cleared(a)] if a.cleared == Some((12, 1_800_000_003))));
        assert_eq!(
            raised(&step(&mut det, 13, &report(4, OTHER, &[443]), &[])),
            ["firmware-not-released@13"]
        );
        // Cleared ones are kept, newest first after the active one, bounded.
        let ids: Vec<&str> = det.alarms_of("d1").map(|a| a.id.as_str()).collect();
        assert_eq!(
            ids,
            ["firmware-not-released@13", "firmware-not-released@10"]
        );
        for k in 0..(CLEARED_ALARMS_PER_DEVICE_MAX as u64 * 2) {
            step(
                &mut det,
                20 + 2 * k,
                &report(10 + 2 * k, IMAGE, &[443]),
                &[],
            );
            step(
                &mut det,
                21 + 2 * k,
                &report(11 + 2 * k, OTHER, &[443]),
                &[],
            );
        }
        assert_eq!(
            det.alarms_of("d1").count(),
            CLEARED_ALARMS_PER_DEVICE_MAX + 1
        );
    }

    #[test]
    fn a_new_port_after_the_baseline_alarms_until_a_benign_verdict_teaches_it() {
        let mut det = Detector::new();
        for k in 0..u64::from(NETWORK_LEARNING_REPORTS) {
            assert!(raised(&step(&mut det, k, &report(k + 1, IMAGE, &[443]), &[])).is_empty());
        }
        let c = step(&mut det, 10, &report(10, IMAGE, &[443, 4444]), &[]);
        assert_eq!(raised(&c), ["new-listening-port@10"]);
        step(&mut det, 11, &report(11, IMAGE, &[443, 4444]), &[]);
        let ops = StakeholderId("ops".into());
        assert!(!det.verdict(
            "d1",
            12,
            &ops,
            "new-listening-port@9",
            Verification::BenignPositive,
            None
        ));
        assert_eq!(det.unmatched, 1);
        assert!(det.verdict(
            "d1",
            12,
            &ops,
            "new-listening-port@10",
            Verification::BenignPositive,
            Some("approved".into())
        ));
        // The next report is learned before it is measured: cleared.
        let c = step(&mut det, 13, &report(13, IMAGE, &[443, 4444]), &[]);
        assert!(
            matches!(&c[..], [Change::Cleared(a)] if a.verification == Verification::BenignPositive)
        );
        assert!(raised(&step(&mut det, 14, &report(14, IMAGE, &[443, 4444]), &[])).is_empty());
    }

    #[test]
    fn a_profile_runs_its_behaviours_and_starts_afresh_when_published_again() {
        let mut det = Detector::new();
        let behaviours = vec![json!({"name": "no-telnet", "metric": "listening-tcp-ports",
            "criteria": {"comparison_operator": "not-in-port-set", "value": {"ports": [23]},
                         "datapoints_to_alarm": 2}})];
        let key = "ops/cams".to_string();
        det.set_profiles(&[(key.clone(), 5, behaviours.clone())]);
        let profiles = [key.clone()];
        assert!(raised(&step(&mut det, 10, &report(1, IMAGE, &[23]), &profiles)).is_empty());
        assert_eq!(
            raised(&step(&mut det, 11, &report(2, IMAGE, &[23]), &profiles)),
            ["profile:ops/cams/no-telnet@11"]
        );
        // Published again: its alarms go, its counts start over.
        det.set_profiles(&[(key.clone(), 12, behaviours)]);
        assert_eq!(det.alarms_of("d1").count(), 0);
        assert!(raised(&step(&mut det, 13, &report(3, IMAGE, &[23]), &profiles)).is_empty());
        // One the detector cannot run is kept with the reason, and runs nothing.
        det.set_profiles(&[(key.clone(), 14, vec![json!({"name": "x"})])]);
        let errors: Vec<_> = det.profile_errors().collect();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].reason.starts_with("behaviours[0]"),
            "{}",
            errors[0].reason
        );
        assert!(raised(&step(&mut det, 15, &report(4, IMAGE, &[23]), &profiles)).is_empty());
    }

    #[test]
    fn an_incident_links_its_alarm_and_moves_only_forward_on_its_device() {
        let mut det = Detector::new();
        step(&mut det, 10, &report(1, OTHER, &[443]), &[]);
        let ops = StakeholderId("ops".into());
        det.incident(IncidentRecord {
            entry: 11,
            device: "d1".into(),
            reported_by: ops.clone(),
            severity: Severity::Critical,
            summary: "tampered".into(),
            alarm: Some("firmware-not-released@10".into()),
            status: IncidentStatus::Open,
            steps: Vec::new(),
        });
        assert_eq!(
            det.alarm("d1", "firmware-not-released@10")
                .and_then(|a| a.incident),
            Some(11)
        );
        let s = |entry, status| IncidentStep {
            entry,
            by: ops.clone(),
            status,
            note: None,
        };
        assert!(det
            .incident_step("d2", 11, s(12, IncidentStatus::Resolved))
            .is_none());
        assert!(det
            .incident_step("d1", 11, s(13, IncidentStatus::Acknowledged))
            .is_some());
        assert_eq!(
            det.incident_at(11).map(|i| i.status),
            Some(IncidentStatus::Acknowledged)
        );
        assert_eq!(det.unmatched, 1);
    }

    #[test]
    fn silence_is_measured_in_report_intervals_of_at_least_a_minute() {
        let mut det = Detector::new();
        step(&mut det, 1, &report(1, IMAGE, &[443]), &[]);
        step(&mut det, 2, &report(2, IMAGE, &[443]), &[]);
        let last = 1_800_000_002;
        let allowed = i64::from(SILENT_INTERVALS) * REPORT_INTERVAL_MIN_S as i64;
        assert!(det.silent("d1", last + allowed).is_none());
        let a = det.silent("d1", last + allowed + 1).expect("silent");
        assert_eq!(a.id, "device-silent@2");
        assert!(det.silent("nobody", last + 10 * allowed).is_none());
    }
}
