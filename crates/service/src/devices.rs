//! What devices say about themselves: the `device-report` statement type
//! (a device's signed report, see `docs/device-reports.md`), as a built-in
//! custom type of the fold, and the use cases on reports.
//!
//! A report enters the log as a statement the device signs with its
//! registered key (`device-registered.device_key`); only the device itself
//! may assert it (role `device`), never on a decommissioned twin. The
//! projection keeps the latest as the twin's `custom:device-report`
//! attribute; the strict parse of the payload (`posture::report`) is the
//! ingester's, before registration.

use std::collections::BTreeMap;
use std::sync::Arc;

use api_types::devices::{
    DevicePostureView, FindingView, FindingsPage, FindingsQuery, ReportRef, SuppressionView,
};
use posture::audit::{Auditor, DevicePosture, Finding, FleetIndex, RuleSet};
use posture::report::DeviceReport;
use risk::Severity;
use serde_json::json;
use twin::projection::Twin;
use twin::{AttributeClass, DeviceId, StakeholderId};
use twin_store::Projector;

use crate::reads::{Audit, ReadRecorder, Reader};
use crate::{Clock, ServiceError};

/// The statement type of device reports.
pub const REPORT_TYPE: &str = "device-report";

/// The device report as a built-in statement type. The fold checks its
/// shape's outline (a counter and a timestamp, integers) and its `update`
/// section (`twin::update`: an installed update sets the device's
/// firmware); the device channel parses every field strictly before it
/// registers one.
pub fn report_type() -> twin::BuiltinType {
    twin::BuiltinType {
        name: REPORT_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "counter": {"type": "integer", "minimum": 0},
                "timestamp": {"type": "integer", "minimum": 0}
            },
            "required": ["counter", "timestamp"]
        }),
        rule: twin::Rule::new(&[twin::Role::Device], &[]),
        sets_attributes: None,
        update_field: Some("update".into()),
        description: "a device's signed report of its own state (docs/device-reports.md)".into(),
    }
}

/// The counter of a `device-report` claim's payload, if it is one.
pub fn report_counter(body: &twin::StatementBody) -> Option<u64> {
    match body {
        twin::StatementBody::Custom {
            custom_type,
            content,
        } if custom_type == REPORT_TYPE => content.get("counter").and_then(|c| c.as_u64()),
        _ => None,
    }
}

type Res<T> = Result<T, ServiceError>;

/// Twins read per batch when auditing a fleet.
const DEVICE_BATCH: usize = 256;

/// The posture views: each device's latest report and the posture audit of
/// it (`posture::audit`, rules as data), as the reader may see them. A
/// reader sees a device's reports when the sharing decision lets it read
/// the device's `device-report` statements (by default: any role on the
/// device); fleet-wide checks (a certificate or client id shared by
/// several devices) look only at devices the reader sees, so a finding
/// never reveals a device it may not read. Reads of another
/// organization's data are recorded before they are answered.
#[derive(Clone)]
pub struct DeviceViews {
    projector: Projector,
    scitt: Arc<transparency::TransparencyService>,
    reads: ReadRecorder,
    rules: Arc<RuleSet>,
    clock: Arc<dyn Clock>,
    /// Manufacturers' `not_affected` VEX contradicted by devices
    /// (`vex_check`), among the findings.
    vex: crate::vex_check::VexCheck,
}

/// One device's latest report, parsed, with where it is.
struct Latest {
    twin: Twin,
    entry: u64,
    report: Result<DeviceReport, String>,
    wire: serde_json::Value,
}

impl DeviceViews {
    /// The views over `projector`'s twins and `scitt`'s log, with the
    /// built-in rule library.
    pub fn new(
        projector: Projector,
        scitt: Arc<transparency::TransparencyService>,
        reads: ReadRecorder,
        clock: Arc<dyn Clock>,
    ) -> Res<DeviceViews> {
        let rules = RuleSet::default_library().map_err(ServiceError::internal)?;
        Ok(DeviceViews {
            projector,
            scitt,
            reads,
            rules: Arc::new(rules),
            clock,
            vex: crate::vex_check::VexCheck::default(),
        })
    }

    /// The log whose reports the views read.
    pub fn scitt(&self) -> &Arc<transparency::TransparencyService> {
        &self.scitt
    }

    /// The same views, rating VEX contradictions by the severity of the
    /// vulnerability in `risks`' advisories.
    pub fn with_advisories(mut self, risks: Arc<twin_store::RiskService>) -> DeviceViews {
        self.vex = crate::vex_check::VexCheck::new(Some(risks));
        self
    }

    /// The rule library.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The latest report of `twin` the reader may see, noted in `audit`.
    fn latest(&self, reader: &Reader<'_>, twin: Twin, audit: &mut Audit) -> Res<Option<Latest>> {
        let class = AttributeClass::Custom(REPORT_TYPE.into());
        let Some(&entry) = twin.current.get(&class) else {
            return Ok(None);
        };
        let owner = StakeholderId(format!("device:{}", twin.device.as_str()));
        let Some(seen) = reader.decide(&twin, &owner, REPORT_TYPE) else {
            return Ok(None);
        };
        let claim = self
            .projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?;
        let Some(claim) = claim else {
            return Ok(None);
        };
        let mut wire = claim.body.to_wire();
        if let Some(m) = wire.as_object_mut() {
            m.entry("v").or_insert(serde_json::json!(1));
        }
        let whole = seen.fields.is_none();
        let report = if whole {
            DeviceReport::parse(wire.to_string().as_bytes()).map_err(|e| e.to_string())
        } else {
            Err("the sharing policy shows only some fields of this device's reports".into())
        };
        let shown = twin::sharing::redact(&wire, seen.fields.as_deref());
        audit.note(&owner, seen, entry, Some(&twin.device));
        Ok(Some(Latest {
            twin,
            entry,
            report,
            wire: shown,
        }))
    }

    /// `device`'s latest report and its findings.
    pub fn posture(&self, who: Option<StakeholderId>, device: &str) -> Res<DevicePostureView> {
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let not_found =
            || ServiceError::not_found(format!("no device {device:?} (or not shared with you)"));
        let id = DeviceId::new(device).map_err(|_| not_found())?;
        let twin = self
            .projector
            .store()
            .twin(&id)
            .map_err(ServiceError::internal)?
            .ok_or_else(not_found)?;
        reader.sees_device(&twin).ok_or_else(not_found)?;
        let mut audit = Audit::default();
        let latest = self.latest(&reader, twin, &mut audit)?;
        let now = self.clock.now_unix_s();
        let mut view = DevicePostureView {
            device: device.to_string(),
            report: None,
            unreadable: None,
            findings: Vec::new(),
            as_of: meta.size,
        };
        if let Some(l) = &latest {
            match &l.report {
                Ok(report) => {
                    let p = posture_of(&l.twin, report);
                    let fleet = FleetIndex::build(std::slice::from_ref(&p));
                    let suppressions = crate::suppressions::InForce::load(&self.projector)?;
                    let mut found = Vec::new();
                    let covering = suppressions.covering(&meta, &l.twin, now);
                    Auditor::new(&self.rules, &covering, now).audit_device(&p, &fleet, &mut found);
                    view.findings = found
                        .iter()
                        .map(|f| {
                            finding_view(f, suppressions.shown(f, &reader, &l.twin, &mut audit))
                        })
                        .collect();
                    let conditioned = crate::vex_check::Conditioned::of(&meta);
                    let vex = self.vex.findings(&conditioned, &l.twin, report);
                    view.findings.extend(vex.into_iter().map(|(_, f)| f));
                    view.report = Some(report_ref(l, report.counter, report.timestamp));
                }
                Err(why) => {
                    view.unreadable = Some(why.clone());
                    view.report = Some(report_ref(
                        l,
                        l.wire["counter"].as_u64().unwrap_or_default(),
                        l.wire["timestamp"].as_i64().unwrap_or_default(),
                    ));
                }
            }
        }
        audit.write(
            &self.reads,
            &reader.who,
            twin::sharing::ReadKind::Twin,
            None,
        )?;
        Ok(view)
    }

    /// The findings over every device the reader may see, filtered.
    pub fn findings(&self, who: Option<StakeholderId>, q: &FindingsQuery) -> Res<FindingsPage> {
        let min = match q.severity.as_deref() {
            None => Severity::None,
            Some("low") => Severity::Low,
            Some("medium") => Severity::Medium,
            Some("high") => Severity::High,
            Some("critical") => Severity::Critical,
            Some(other) => {
                return Err(ServiceError::invalid(format!(
                    "severity={other:?}: expected low, medium, high or critical"
                )))
            }
        };
        if let Some(rule) = &q.rule {
            if self.rules.get(rule).is_none() && rule != crate::vex_check::RULE_ID {
                return Err(ServiceError::invalid(format!("no posture rule {rule:?}")));
            }
        }
        let meta = self.projector.meta();
        let reader = self.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let latest = self.visible_reports(&reader, &mut audit)?;
        let pairs: Vec<(&Twin, DevicePosture<'_>)> = latest
            .iter()
            .filter_map(|l| {
                l.report
                    .as_ref()
                    .ok()
                    .map(|r| (&l.twin, posture_of(&l.twin, r)))
            })
            .collect();
        let postures: Vec<DevicePosture<'_>> = pairs.iter().map(|(_, p)| *p).collect();
        let fleet = FleetIndex::build(&postures);
        let now = self.clock.now_unix_s();
        let conditioned = crate::vex_check::Conditioned::of(&meta);
        let vex: Vec<(Severity, FindingView)> = latest
            .iter()
            .filter_map(|l| Some((&l.twin, l.report.as_ref().ok()?)))
            .flat_map(|(twin, report)| self.vex.findings(&conditioned, twin, report))
            .collect();
        // Each device with the suppressions that cover it.
        let suppressions = crate::suppressions::InForce::load(&self.projector)?;
        let mut found = Vec::new();
        let mut found_on: Vec<&Twin> = Vec::new();
        for (twin, p) in &pairs {
            let covering = suppressions.covering(&meta, twin, now);
            let before = found.len();
            Auditor::new(&self.rules, &covering, now).audit_device(p, &fleet, &mut found);
            found_on.extend(std::iter::repeat_n(*twin, found.len() - before));
        }
        let mut open_by_severity = BTreeMap::new();
        let open = found.iter().filter(|f| f.is_open()).map(|f| f.severity());
        for severity in open.chain(vex.iter().map(|(s, _)| *s)) {
            *open_by_severity
                .entry(severity.as_str().to_string())
                .or_insert(0u64) += 1;
        }
        let findings = found
            .iter()
            .zip(found_on)
            .filter(|(f, _)| q.suppressed.unwrap_or(false) || f.is_open())
            .filter(|(f, _)| f.severity() >= min)
            .filter(|(f, _)| q.rule.as_deref().is_none_or(|r| f.rule.id() == r))
            .map(|(f, twin)| finding_view(f, suppressions.shown(f, &reader, twin, &mut audit)))
            .collect::<Vec<_>>()
            .into_iter()
            .chain(
                vex.into_iter()
                    .filter(|(s, _)| *s >= min)
                    .filter(|(_, f)| q.rule.as_deref().is_none_or(|r| f.rule == r))
                    .map(|(_, f)| f),
            )
            .collect();
        audit.write(
            &self.reads,
            &reader.who,
            twin::sharing::ReadKind::Search,
            None,
        )?;
        Ok(FindingsPage {
            findings,
            devices_audited: postures.len() as u64,
            open_by_severity,
            as_of: meta.size,
        })
    }
}

impl DeviceViews {
    /// The readable latest report of every device the reader may see.
    fn visible_reports(&self, reader: &Reader<'_>, audit: &mut Audit) -> Res<Vec<Latest>> {
        let store = self.projector.store();
        let mut latest = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .devices(after.as_deref(), DEVICE_BATCH)
                .map_err(ServiceError::internal)?;
            let Some(last) = page.last() else { break };
            after = Some(last.device.to_string());
            for twin in page {
                if let Some(l) = self.latest(reader, twin, audit)? {
                    if l.report.is_ok() {
                        latest.push(l);
                    }
                }
            }
        }
        Ok(latest)
    }
}

fn posture_of<'a>(twin: &'a Twin, report: &'a DeviceReport) -> DevicePosture<'a> {
    let mut p = DevicePosture::new(twin.device.as_str(), report);
    p.groups = &twin.groups;
    p.model = Some(twin.model.as_str());
    p
}

fn report_ref(l: &Latest, counter: u64, timestamp: i64) -> ReportRef {
    ReportRef {
        entry: l.entry,
        counter,
        timestamp,
        receipt: format!("/entries/{}", l.entry),
        report: l.wire.clone(),
    }
}

fn finding_view(f: &Finding, suppressed: Option<SuppressionView>) -> FindingView {
    FindingView {
        rule: f.rule.id().to_string(),
        title: f.rule.title().to_string(),
        severity: f.severity().as_str().to_string(),
        cvss: f.rule.cvss().map(|c| c.to_string()),
        device: f.device.clone(),
        mitigation: f.rule.mitigation().to_string(),
        references: f.rule.references().to_vec(),
        evidence: serde_json::to_value(&f.evidence).unwrap_or_default(),
        rules: format!("{} v{}", f.rule.file(), f.rule.rules_version()),
        suppressed,
    }
}
