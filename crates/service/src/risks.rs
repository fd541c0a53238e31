//! The risk register as each reader may see it: list (filtered, paged),
//! summary and exposure. Who sees a risk: a stakeholder listed on it (a role
//! on its subject: for a release, on the release or on a device running it)
//! or an auditor whose audit grant covers the device now; for a device risk,
//! only when the manufacturer's sharing policy lets the reader see its SBOM
//! data for that device (the risk is derived from it), and that
//! cross-organization read is recorded before the answer.
//!
//! The register is built on the calling thread (seconds on a large fleet):
//! an async edge calls these from a blocking thread.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use risk_register::{Register, Risk, RiskKind, RiskStatus, Selector};
use serde::{Deserialize, Serialize};
use twin::sharing::ReadKind;
use twin::{DeviceId, Role, StakeholderId};
use twin_store::{Projector, RiskService};

use crate::{Audit, ReadRecorder, Reader, ServiceError};

/// Largest page of risks.
pub const RISK_PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const RISK_PAGE_SIZE_DEFAULT: usize = 100;

/// Which kind of risk a query asks for (`kind=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KindFilter {
    /// Device vulnerabilities.
    Device,
    /// Release vulnerabilities.
    Release,
    /// Risks recorded on a model (threat modeling).
    Recorded,
}

impl From<KindFilter> for RiskKind {
    fn from(k: KindFilter) -> RiskKind {
        match k {
            KindFilter::Device => RiskKind::DeviceVulnerability,
            KindFilter::Release => RiskKind::ReleaseVulnerability,
            KindFilter::Recorded => RiskKind::Recorded,
        }
    }
}

/// A query of the register: every filter optional, then a page.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiskQuery {
    /// Only this device's risks.
    pub device: Option<String>,
    /// Only this vulnerability's.
    pub vulnerability: Option<String>,
    /// Only this model's.
    pub model: Option<String>,
    /// Only this release's (version).
    pub release: Option<String>,
    /// Only the risks of devices of this site.
    pub site: Option<String>,
    /// Only risks in this status.
    pub status: Option<RiskStatus>,
    /// Only risks of this severity.
    pub severity: Option<risk::Severity>,
    /// Only this kind.
    pub kind: Option<KindFilter>,
    /// Only overdue (`true`) or not overdue (`false`) risks.
    pub overdue: Option<bool>,
    /// Risks per page (1 to [`RISK_PAGE_SIZE_MAX`]; default [`RISK_PAGE_SIZE_DEFAULT`]).
    pub page_size: Option<usize>,
    /// Risks to skip.
    pub offset: Option<usize>,
}

impl RiskQuery {
    fn page_size(&self) -> Result<usize, ServiceError> {
        match self.page_size {
            None => Ok(RISK_PAGE_SIZE_DEFAULT),
            Some(n) if (1..=RISK_PAGE_SIZE_MAX).contains(&n) => Ok(n),
            Some(n) => Err(ServiceError::invalid(format!(
                "page_size must be an integer from 1 to {RISK_PAGE_SIZE_MAX}, not {n}"
            ))),
        }
    }

    fn selector(&self) -> Selector<'_> {
        Selector {
            device: self.device.as_deref(),
            vulnerability: self.vulnerability.as_deref(),
            model: self.model.as_deref(),
            release: self.release.as_deref(),
            site: self.site.as_deref(),
            kind: self.kind.map(RiskKind::from),
        }
    }

    /// Whether `r` passes every filter.
    pub fn matches(&self, r: &Risk) -> bool {
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        eq(&self.device, r.device.as_deref())
            && eq(&self.vulnerability, r.vulnerability.as_deref())
            && eq(&self.model, r.model.as_deref())
            && eq(&self.release, r.release.as_deref())
            && eq(&self.site, r.site.as_deref())
            && self.status.is_none_or(|s| r.status == s)
            && self.severity.is_none_or(|s| r.severity == s)
            && self.kind.is_none_or(|k| r.kind == RiskKind::from(k))
            && self.overdue.is_none_or(|o| r.overdue == o)
    }
}

/// A page of the risks a reader may see.
#[derive(Debug, Clone, Serialize)]
pub struct RiskPage {
    /// The day the register is for (`YYYY-MM-DD`).
    pub today: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Advisories held.
    pub advisories: usize,
    /// Risks matching the query that the reader may see.
    pub total: usize,
    /// Offset of the next page, if any.
    pub next_offset: Option<usize>,
    /// This page.
    pub risks: Vec<Risk>,
}

/// The register's counts over the risks a reader may see.
#[derive(Debug, Clone, Serialize)]
pub struct RiskSummary {
    /// The day the register is for.
    pub today: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// Advisories held.
    pub advisories: usize,
    /// Risks the reader may see.
    pub risks: usize,
    /// Those by status.
    pub by_status: BTreeMap<&'static str, u64>,
    /// Unresolved ones by severity.
    pub open_by_severity: BTreeMap<&'static str, u64>,
    /// Unresolved ones past their deadline.
    pub overdue: u64,
    /// Devices with an unresolved device risk.
    pub devices_exposed: usize,
    /// Releases with an unresolved release risk.
    pub releases_exposed: usize,
    /// Vulnerabilities with an unresolved risk.
    pub vulnerabilities: usize,
    /// The fleet's counts (every risk, whoever reads).
    pub fleet: risk_register::Summary,
}

/// How exposure is grouped (`by=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExposureBy {
    /// By vulnerability (the default).
    #[default]
    Vulnerability,
    /// By device.
    Device,
    /// By firmware (`model@version`).
    Firmware,
    /// By site.
    Site,
}

/// The exposure query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureQuery {
    /// The grouping.
    #[serde(default)]
    pub by: ExposureBy,
}

/// One group of exposure.
#[derive(Debug, Clone, Serialize)]
pub struct ExposureGroup {
    /// The vulnerability, device, `model@version` or site.
    pub key: String,
    /// Risks in it.
    pub risks: u64,
    /// Unresolved ones.
    pub unresolved: u64,
    /// Unresolved ones past their deadline.
    pub overdue: u64,
    /// The worst severity of the unresolved ones.
    pub worst_severity: Option<risk::Severity>,
    /// Distinct devices.
    pub devices: usize,
    /// Distinct vulnerabilities.
    pub vulnerabilities: usize,
}

/// Exposure, worst group first.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    /// The day the register is for.
    pub today: String,
    /// The grouping.
    pub by: ExposureBy,
    /// The groups.
    pub groups: Vec<ExposureGroup>,
}

/// The VEX query: a model, and optionally one of its releases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VexQuery {
    /// The model subject (`model:<vendor>/<model>`).
    pub model: Option<String>,
    /// Only this release (version).
    pub release: Option<String>,
}

/// The VEX statements a manufacturer made for a model's releases.
#[derive(Debug, Clone, Serialize)]
pub struct VexView {
    /// The model subject.
    pub model: String,
    /// The log size the twins were read at.
    pub as_of: u64,
    /// The statements, per release.
    pub statements: Vec<twin::projection::ReleaseVex>,
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
        let limit = query.page_size()?;
        let offset = query.offset.unwrap_or(0);
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let all = self.visible(
            &reader,
            register
                .select(&query.selector())
                .filter(|r| query.matches(r)),
            &mut audit,
        )?;
        let total = all.len();
        let risks: Vec<Risk> = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(Cow::into_owned)
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

    /// The counts of the risks `who` may see, and the fleet's.
    pub fn summary(&self, who: Option<StakeholderId>) -> Result<RiskSummary, ServiceError> {
        let who = signed_in(who)?;
        let register = self.register()?;
        let meta = self.projector.meta();
        let reader = self.recorder.reader(Some(who), &meta);
        let mut audit = Audit::default();
        let risks = self.visible(&reader, register.iter(), &mut audit)?;
        let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut open_by_severity: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut devices = BTreeSet::new();
        let mut releases = BTreeSet::new();
        let mut vulnerabilities = BTreeSet::new();
        let mut overdue = 0u64;
        for r in &risks {
            *by_status.entry(r.status.as_str()).or_default() += 1;
            if !r.status.is_unresolved() {
                continue;
            }
            *open_by_severity.entry(r.severity.as_str()).or_default() += 1;
            overdue += u64::from(r.overdue);
            match r.kind {
                RiskKind::DeviceVulnerability => {
                    devices.insert(r.device.clone());
                }
                RiskKind::ReleaseVulnerability => {
                    releases.insert((r.model.clone(), r.release.clone()));
                }
                RiskKind::Recorded => {}
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
            fleet: register.summary.clone(),
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
        for r in risks.iter().filter(|r| r.kind != RiskKind::Recorded) {
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
                    worst_severity: g.worst,
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
                    .cloned()
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
