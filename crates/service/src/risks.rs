//! The risk register as each reader may see it: list (filtered, paged),
//! summary and exposure. Who sees a risk: a stakeholder listed on it (a role
//! on its subject: for a release, on the release or on a device running it)
//! or an auditor whose audit grant covers the device now; for a device
//! vulnerability risk, only when the manufacturer's sharing policy lets the
//! reader see its SBOM data for that device (the risk is derived from it),
//! for a posture risk only when the reader may see the device's reports
//! whole; that cross-organization read is recorded before the answer.
//!
//! The register is built on the calling thread (seconds on a large fleet):
//! an async edge calls these from a blocking thread.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use risk_register::{Register, Risk, RiskKind, RiskStatus, Selector};
use twin::sharing::ReadKind;
use twin::{DeviceId, Role, StakeholderId};
use twin_store::{Projector, RiskService};

use crate::{Audit, ReadRecorder, Reader, ServiceError};

use api_types::risks as wire;
pub use api_types::risks::{
    Exposure, ExposureBy, ExposureGroup, ExposureQuery, KindFilter, RiskPage, RiskQuery,
    RiskSummary, VexQuery, VexView, RISK_PAGE_SIZE_DEFAULT, RISK_PAGE_SIZE_MAX,
};

/// The page size `query` asks for, checked.
fn page_size(query: &RiskQuery) -> Result<usize, ServiceError> {
    match query.page_size {
        None => Ok(RISK_PAGE_SIZE_DEFAULT),
        Some(n) if (1..=RISK_PAGE_SIZE_MAX).contains(&n) => Ok(n),
        Some(n) => Err(ServiceError::invalid(format!(
            "page_size must be an integer from 1 to {RISK_PAGE_SIZE_MAX}, not {n}"
        ))),
    }
}

/// The register's index lookup for `query`.
fn selector(query: &RiskQuery) -> Selector<'_> {
    Selector {
        device: query.device.as_deref(),
        vulnerability: query.vulnerability.as_deref(),
        model: query.model.as_deref(),
        release: query.release.as_deref(),
        site: query.site.as_deref(),
        kind: query.kind.map(risk_kind),
    }
}

fn risk_kind(k: KindFilter) -> RiskKind {
    match k {
        KindFilter::Device => RiskKind::DeviceVulnerability,
        KindFilter::Release => RiskKind::ReleaseVulnerability,
        KindFilter::Recorded => RiskKind::Recorded,
        KindFilter::Posture => RiskKind::PostureFinding,
    }
}

fn wire_status(s: RiskStatus) -> wire::RiskStatus {
    match s {
        RiskStatus::Open => wire::RiskStatus::Open,
        RiskStatus::Accepted => wire::RiskStatus::Accepted,
        RiskStatus::Mitigated => wire::RiskStatus::Mitigated,
        RiskStatus::Transferred => wire::RiskStatus::Transferred,
        RiskStatus::FalsePositive => wire::RiskStatus::FalsePositive,
    }
}

/// A severity on the wire.
pub fn wire_severity(s: risk::Severity) -> wire::Severity {
    match s {
        risk::Severity::None => wire::Severity::None,
        risk::Severity::Low => wire::Severity::Low,
        risk::Severity::Medium => wire::Severity::Medium,
        risk::Severity::High => wire::Severity::High,
        risk::Severity::Critical => wire::Severity::Critical,
    }
}

fn wire_kind(k: RiskKind) -> wire::RiskKind {
    match k {
        RiskKind::DeviceVulnerability => wire::RiskKind::DeviceVulnerability,
        RiskKind::ReleaseVulnerability => wire::RiskKind::ReleaseVulnerability,
        RiskKind::Recorded => wire::RiskKind::Recorded,
        RiskKind::PostureFinding => wire::RiskKind::PostureFinding,
    }
}

/// Whether `r` passes every filter of `query`.
pub fn matches(query: &RiskQuery, r: &Risk) -> bool {
    let eq =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    eq(&query.device, r.device.as_deref())
        && eq(&query.vulnerability, r.vulnerability.as_deref())
        && eq(&query.model, r.model.as_deref())
        && eq(&query.release, r.release.as_deref())
        && eq(&query.site, r.site.as_deref())
        && query.status.is_none_or(|s| wire_status(r.status) == s)
        && query
            .severity
            .is_none_or(|s| wire_severity(r.severity) == s)
        && query.kind.is_none_or(|k| r.kind == risk_kind(k))
        && query.overdue.is_none_or(|o| r.overdue == o)
        && eq(&query.source, r.source.as_deref())
}

fn decision(d: &risk_register::Decision) -> wire::Decision {
    use risk_register::DecisionKind as D;
    wire::Decision {
        entry: d.entry,
        issuer: d.issuer.clone(),
        kind: match &d.kind {
            D::Accepted { rationale, until } => wire::DecisionKind::Accepted {
                rationale: rationale.clone(),
                until: until.clone(),
            },
            D::Mitigated { how } => wire::DecisionKind::Mitigated { how: how.clone() },
            D::Transferred { to, rationale } => wire::DecisionKind::Transferred {
                to: to.clone(),
                rationale: rationale.clone(),
            },
            D::FalsePositive { rationale } => wire::DecisionKind::FalsePositive {
                rationale: rationale.clone(),
            },
        },
    }
}

fn deadline(d: &risk::Deadline) -> wire::Deadline {
    use risk::DeadlineBasis as B;
    wire::Deadline {
        date: d.date.map(|d| d.to_string()),
        basis: match &d.basis {
            B::Immediate => wire::DeadlineBasis::Immediate,
            B::Days { days } => wire::DeadlineBasis::Days { days: *days },
            B::Release { version } => wire::DeadlineBasis::Release {
                version: version.to_string(),
            },
            B::Fallback { days, wanted } => wire::DeadlineBasis::Fallback {
                days: *days,
                wanted: wanted.clone(),
            },
            B::NoDeadline => wire::DeadlineBasis::NoDeadline,
            B::KnownExploited { days } => wire::DeadlineBasis::KnownExploited { days: *days },
        },
    }
}

/// The day `days` after 1970-01-01.
fn day_of(days: i32) -> String {
    risk::Date::from_ymd(1970, 1, 1)
        .map(|e| e.add_days(u32::try_from(days).unwrap_or(0)).to_string())
        .unwrap_or_default()
}

/// Exploitation facts on the wire.
pub fn exploitation(f: &vuln::exploit::ExploitFacts) -> wire::Exploitation {
    wire::Exploitation {
        kev: f
            .kev
            .iter()
            .map(|k| wire::KevListing {
                list: k.list.clone(),
                date_added: k.date_added.clone(),
                due_date: k.due_date.clone(),
                ransomware: k.ransomware,
                required_action: k.required_action.clone(),
            })
            .collect(),
        epss: f.epss.map(|e| wire::EpssScore {
            score: e.score,
            percentile: e.percentile,
            day: day_of(e.day),
            previous: e.previous.map(|(s, _)| s),
            jumped: e.jumped(),
        }),
        kev_due: f.kev_due().map(str::to_string),
        ransomware: f.ransomware(),
    }
}

fn deadline_status(s: risk::DeadlineStatus) -> wire::DeadlineStatus {
    use risk::DeadlineStatus as S;
    match s {
        S::NoDeadline => wire::DeadlineStatus::NoDeadline,
        S::Due { days_left } => wire::DeadlineStatus::Due { days_left },
        S::Overdue { days_overdue } => wire::DeadlineStatus::Overdue { days_overdue },
    }
}

/// A risk on the wire.
pub fn wire_risk(r: &Risk) -> wire::Risk {
    let text = |t: &Option<risk_register::Text>| t.as_deref().map(str::to_string);
    wire::Risk {
        key: r.key.clone(),
        subject: r.subject.to_string(),
        risk: r.risk.clone(),
        kind: wire_kind(r.kind),
        device: r.device.clone(),
        model: text(&r.model),
        release: text(&r.release),
        site: r.site.clone(),
        vulnerability: text(&r.vulnerability),
        title: r.title.to_string(),
        severity: wire_severity(r.severity),
        score: r.score,
        cvss_vector: text(&r.cvss_vector),
        kev: r.kev,
        exploitation: r.exploit.as_deref().map(exploitation),
        priority: wire::Priority {
            tier: match r.priority.tier {
                vuln::exploit::Tier::Exploited => wire::PriorityTier::Exploited,
                vuln::exploit::Tier::Likely => wire::PriorityTier::Likely,
                vuln::exploit::Tier::Other => wire::PriorityTier::Other,
            },
            ssvc: r.priority.ssvc.map(|d| d.as_str().to_string()),
            epss: r.priority.epss,
        },
        owner: r.owner.to_string(),
        status: wire_status(r.status),
        decision: r.decision.as_ref().map(decision),
        found: text(&r.found),
        discovered: r.discovered.map(|d| d.to_string()),
        deadline: deadline(&r.deadline),
        deadline_status: deadline_status(r.deadline_status),
        overdue: r.overdue,
        matches: r
            .matches
            .iter()
            .map(|m| wire::RiskMatch {
                component: m.component.clone(),
                version: m.version.clone(),
                rule: m.rule.clone(),
                range: m.range.clone(),
                confidence: m.confidence.clone(),
                reason: m.reason.clone(),
            })
            .collect(),
        vex: r.vex.as_ref().map(|v| wire::RiskVex {
            status: v.status.clone(),
            justification: v.justification.clone(),
            from: v.from.clone(),
            inherited: v.inherited,
            stakeholder: v.stakeholder.clone(),
        }),
        fixed_in: text(&r.fixed_in),
        firmware_status: r.firmware_status.clone(),
        stakeholders: r.stakeholders.to_vec(),
        source: r.source.clone(),
        element: r.element.clone(),
    }
}

fn fleet_summary(s: &risk_register::Summary) -> wire::FleetSummary {
    wire::FleetSummary {
        devices: s.devices,
        devices_assessed: s.devices_assessed,
        devices_exposed: s.devices_exposed,
        releases_assessed: s.releases_assessed,
        releases_exposed: s.releases_exposed,
        vulnerabilities: s.vulnerabilities,
        by_status: s.by_status.clone(),
        open_by_severity: s.open_by_severity.clone(),
        overdue: s.overdue,
        due_soon: s.due_soon,
    }
}

fn release_vex(v: &twin::projection::ReleaseVex) -> wire::ReleaseVex {
    use twin::statement::VexStatus as V;
    wire::ReleaseVex {
        entry: v.entry,
        issuer: v.issuer.0.clone(),
        release: v.release.clone(),
        vulnerability: v.vulnerability.clone(),
        status: match v.status {
            V::NotAffected => "not_affected",
            V::Affected => "affected",
            V::Fixed => "fixed",
            V::UnderInvestigation => "under_investigation",
        }
        .to_string(),
        justification: v.justification.clone(),
        component: v.component.clone(),
        impact: v.impact.clone(),
    }
}

/// Devices read per page while looking for a reader's role on a model.
const DEVICE_SCAN_PAGE: usize = 1024;

/// The risk views.
#[derive(Clone)]
pub struct RiskViews {
    projector: Projector,
    risks: Arc<RiskService>,
    recorder: ReadRecorder,
}

impl RiskViews {
    /// The views of `risks` over the twins of `projector`, recording reads
    /// with `recorder`.
    pub fn new(projector: Projector, risks: Arc<RiskService>, recorder: ReadRecorder) -> RiskViews {
        RiskViews {
            projector,
            risks,
            recorder,
        }
    }

    fn register(&self) -> Result<Arc<Register>, ServiceError> {
        // The day is the injected clock's, like every other time here.
        let today = twin_store::risks::day_of_unix_s(self.recorder.clock().now_unix_s());
        self.risks.register(today).map_err(ServiceError::internal)
    }

    /// A page of the risks `who` may see that match `query`.
    pub fn list(
        &self,
        who: Option<StakeholderId>,
        query: &RiskQuery,
    ) -> Result<RiskPage, ServiceError> {
        let limit = page_size(query)?;
        let offset = query.offset.unwrap_or(0);
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let all = self.visible(
            &reader,
            register
                .select(&selector(query))
                .filter(|r| matches(query, r)),
            &mut audit,
        )?;
        let total = all.len();
        let risks: Vec<wire::Risk> = all
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| wire_risk(r))
            .collect();
        let next_offset = (offset + risks.len() < total).then_some(offset + risks.len());
        audit.write(&self.recorder, &reader.who, ReadKind::List, None)?;
        Ok(RiskPage {
            today: register.today.clone(),
            as_of: meta.size,
            advisories: self.risks.advisory_count(),
            total,
            next_offset,
            risks,
        })
    }

    /// The sources of the recorded risks `who` may see (such as
    /// `threat-model:<name>`): whom a threat model concerns. Recorded as a
    /// list read, like [`RiskViews::list`].
    pub fn recorded_sources(
        &self,
        who: Option<StakeholderId>,
    ) -> Result<BTreeSet<String>, ServiceError> {
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let query = RiskQuery {
            kind: Some(api_types::risks::KindFilter::Recorded),
            ..RiskQuery::default()
        };
        let risks = self.visible(&reader, register.select(&selector(&query)), &mut audit)?;
        let sources = risks.iter().filter_map(|r| r.source.clone()).collect();
        audit.write(&self.recorder, &reader.who, ReadKind::List, None)?;
        Ok(sources)
    }

    /// The counts of the risks `who` may see, and the fleet's.
    pub fn summary(&self, who: Option<StakeholderId>) -> Result<RiskSummary, ServiceError> {
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let risks = self.visible(&reader, register.iter(), &mut audit)?;
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        let mut open_by_severity: BTreeMap<String, u64> = BTreeMap::new();
        let mut devices = BTreeSet::new();
        let mut releases = BTreeSet::new();
        let mut vulnerabilities = BTreeSet::new();
        let mut overdue = 0u64;
        for r in &risks {
            *by_status.entry(r.status.as_str().to_string()).or_default() += 1;
            if !r.status.is_unresolved() {
                continue;
            }
            *open_by_severity
                .entry(r.severity.as_str().to_string())
                .or_default() += 1;
            overdue += u64::from(r.overdue);
            match r.kind {
                RiskKind::DeviceVulnerability => {
                    devices.insert(r.device.clone());
                }
                RiskKind::ReleaseVulnerability => {
                    releases.insert((r.model.clone(), r.release.clone()));
                }
                RiskKind::Recorded | RiskKind::PostureFinding => {}
            }
            if let Some(v) = &r.vulnerability {
                vulnerabilities.insert(v.clone());
            }
        }
        audit.write(
            &self.recorder,
            &reader.who,
            ReadKind::Count,
            Some(risks.len() as u64),
        )?;
        Ok(RiskSummary {
            today: register.today.clone(),
            as_of: meta.size,
            advisories: self.risks.advisory_count(),
            risks: risks.len(),
            by_status,
            open_by_severity,
            overdue,
            devices_exposed: devices.len(),
            releases_exposed: releases.len(),
            vulnerabilities: vulnerabilities.len(),
            fleet: fleet_summary(&register.summary),
        })
    }

    /// The vulnerability risks `who` may see, grouped `by`, worst first.
    pub fn exposure(
        &self,
        who: Option<StakeholderId>,
        by: ExposureBy,
    ) -> Result<Exposure, ServiceError> {
        let key_of: fn(&Risk) -> Option<String> = match by {
            ExposureBy::Vulnerability => |r| r.vulnerability.as_deref().map(str::to_string),
            ExposureBy::Device => |r| r.device.clone(),
            ExposureBy::Firmware => |r| {
                r.model
                    .as_ref()
                    .zip(r.release.as_ref())
                    .map(|(m, v)| format!("{m}@{v}"))
            },
            ExposureBy::Site => |r| r.site.clone(),
        };
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let risks = self.visible(&reader, register.iter(), &mut audit)?;
        #[derive(Default)]
        struct Group {
            risks: u64,
            unresolved: u64,
            overdue: u64,
            worst: Option<risk::Severity>,
            devices: BTreeSet<String>,
            vulnerabilities: BTreeSet<String>,
        }
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for r in risks.iter().filter(|r| {
            matches!(
                r.kind,
                RiskKind::DeviceVulnerability | RiskKind::ReleaseVulnerability
            )
        }) {
            let Some(k) = key_of(r) else { continue };
            let g = groups.entry(k).or_default();
            g.risks += 1;
            if r.status.is_unresolved() {
                g.unresolved += 1;
                g.overdue += u64::from(r.overdue);
                g.worst = g.worst.max(Some(r.severity));
            }
            if let Some(d) = &r.device {
                g.devices.insert(d.clone());
            }
            if let Some(v) = &r.vulnerability {
                g.vulnerabilities.insert(v.to_string());
            }
        }
        let mut list: Vec<(String, Group)> = groups.into_iter().collect();
        list.sort_by(|a, b| {
            b.1.worst
                .cmp(&a.1.worst)
                .then(b.1.unresolved.cmp(&a.1.unresolved))
                .then(a.0.cmp(&b.0))
        });
        audit.write(&self.recorder, &reader.who, ReadKind::List, None)?;
        Ok(Exposure {
            today: register.today.clone(),
            by,
            groups: list
                .into_iter()
                .map(|(key, g)| ExposureGroup {
                    key,
                    risks: g.risks,
                    unresolved: g.unresolved,
                    overdue: g.overdue,
                    worst_severity: g.worst.map(wire_severity),
                    devices: g.devices.len(),
                    vulnerabilities: g.vulnerabilities.len(),
                })
                .collect(),
        })
    }

    /// The VEX statements of a model's releases, for its manufacturer, the
    /// holders of a risk on it and the holders of a role on one of its
    /// devices (exposed or not); to anyone else the model has none
    /// (not found, so that a model's existence does not leak).
    pub fn vex(&self, who: StakeholderId, query: &VexQuery) -> Result<VexView, ServiceError> {
        let model = query.model.as_deref().ok_or_else(|| {
            ServiceError::invalid("give the model subject: ?model=model:<vendor>/<model>")
        })?;
        let meta = self.projector.meta();
        let releases = meta.releases.get(model).map(Vec::as_slice).unwrap_or(&[]);
        if releases.is_empty() {
            return Err(ServiceError::not_found(format!(
                "no firmware released for {model:?}"
            )));
        }
        let register = self.register()?;
        let now = self.recorder.clock().now_unix_s();
        let related = releases.iter().any(|r| r.issuer == who)
            || register
                .risks
                .iter()
                .any(|r| r.model.as_deref() == Some(model) && r.stakeholders.contains(&who.0))
            || self.has_role_on_model(&meta, &who, model, now)?;
        if !related {
            return Err(ServiceError::not_found(format!(
                "no VEX for {model:?} shared with you"
            )));
        }
        let statements = meta
            .release_vex
            .get(model)
            .map(|v| {
                v.iter()
                    .filter(|x| query.release.as_ref().is_none_or(|r| &x.release == r))
                    .map(release_vex)
                    .collect()
            })
            .unwrap_or_default();
        Ok(VexView {
            model: model.to_string(),
            as_of: meta.size,
            statements,
        })
    }

    /// Whether `who` holds a role on a device of `model` at `now`.
    fn has_role_on_model(
        &self,
        meta: &twin::Meta,
        who: &StakeholderId,
        model: &str,
        now: i64,
    ) -> Result<bool, ServiceError> {
        let models = risk_register::model_subjects(meta);
        let store = self.projector.store();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .devices(after.as_deref(), DEVICE_SCAN_PAGE)
                .map_err(ServiceError::internal)?;
            let Some(last) = page.last() else {
                return Ok(false);
            };
            after = Some(last.device.to_string());
            for t in &page {
                if models
                    .get(&(t.manufacturer.0.clone(), t.model.clone()))
                    .is_some_and(|m| m == model)
                    && !twin::projection::roles_at(meta, who, t, now).is_empty()
                {
                    return Ok(true);
                }
            }
            if page.len() < DEVICE_SCAN_PAGE {
                return Ok(false);
            }
        }
    }

    /// The risks the reader may see, noting the cross-organization reads.
    fn visible<'a>(
        &self,
        reader: &Reader<'_>,
        risks: impl Iterator<Item = Cow<'a, Risk>>,
        audit: &mut Audit,
    ) -> Result<Vec<Cow<'a, Risk>>, ServiceError> {
        let Some(who) = &reader.who else {
            return Err(unauthenticated());
        };
        // An auditor sees the risks of the devices an audit grant covers now
        // (never of models, nor organization-wide).
        let audits = !reader.meta.audits.of(who).is_empty();
        let store = self.projector.store();
        let mut out = Vec::new();
        // A device's twin, read once per request.
        let mut twins: HashMap<String, Option<twin::projection::Twin>> = HashMap::new();
        for item in risks {
            let r: &Risk = &item;
            let listed = r.stakeholders.contains(&who.0);
            if !(listed || (audits && r.device.is_some())) {
                continue;
            }
            if let Some(device) = &r.device {
                let twin = match twins.entry(device.clone()) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(
                        store
                            .twin(&DeviceId::new(device.clone()).map_err(ServiceError::internal)?)
                            .map_err(ServiceError::internal)?,
                    ),
                };
                let Some(twin) = twin.as_ref() else {
                    continue;
                };
                if !listed
                    && !twin::projection::roles_at(reader.meta, who, twin, reader.at_s)
                        .contains(&Role::Auditor)
                {
                    continue;
                }
                if r.kind == RiskKind::PostureFinding {
                    // Derived from the device's own report, seen whole.
                    let device = StakeholderId(format!("device:{}", twin.device.as_str()));
                    let seen = reader.decide(twin, &device, twin_store::posture::REPORT_TYPE);
                    let Some(seen) = seen.filter(|s| s.fields.is_none()) else {
                        continue;
                    };
                    if let Some(e) = twin_store::posture::latest_report_entry(twin) {
                        audit.note(&device, seen, e, Some(&twin.device));
                    }
                    out.push(item);
                    continue;
                }
                let Some(seen) = reader.decide(twin, &twin.manufacturer, "sbom-registered") else {
                    continue;
                };
                let entries: Vec<u64> = r
                    .model
                    .as_deref()
                    .zip(r.release.as_deref())
                    .and_then(|(m, v)| reader.meta.sboms.get(m)?.get(v))
                    .map(|s| s.entries.values().copied().collect())
                    .unwrap_or_default();
                for e in entries.iter().take(1) {
                    audit.note(&twin.manufacturer, seen.clone(), *e, Some(&twin.device));
                }
                if entries.is_empty() {
                    audit.note(
                        &twin.manufacturer,
                        seen,
                        twin.registered_at,
                        Some(&twin.device),
                    );
                }
            }
            out.push(item);
        }
        Ok(out)
    }
}

fn unauthenticated() -> ServiceError {
    ServiceError::unauthorized(
        "the risk register is shown to authenticated stakeholders only: send a bearer token from /oauth/token",
    )
}

fn signed_in(who: Option<StakeholderId>) -> Result<StakeholderId, ServiceError> {
    who.ok_or_else(unauthenticated)
}
