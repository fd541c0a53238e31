//! The EU Cyber Resilience Act's reporting use cases (`twin::cra` keeps the
//! cases, `risk_register::cra` drafts and exports them).
//!
//! - A manufacturer lists its report cases with each stage's clock, reads
//!   the draft of a stage written from the twins, states its awareness and
//!   signs each stage; the service signs the statements on its behalf (as
//!   the registry authority, `on_behalf_of`), so the receipt of each proves
//!   when it was made. A stage signed is exported with the reporting
//!   platform's fields, and a vulnerability's fix as a CSAF 2.0 advisory.
//! - Any registered stakeholder reports an exploitation or an incident of a
//!   manufacturer's product, which opens a case on that manufacturer.
//! - The node opens a case itself ([`CraService::open_exploited`]) when a
//!   known-exploited list names a vulnerability the register finds in a
//!   manufacturer's releases, and tells the manufacturer
//!   ([`CraService::due`]: opened, due soon, overdue).
//! - Support periods: a manufacturer promises the end of security support
//!   of a model; the list flags promises cut short and devices past it.
//!
//! Who may see a manufacturer's cases: the manufacturer and the node's
//! administrator (the registry authority).

use std::collections::BTreeMap;
use std::sync::Arc;

use api_types::cra::{
    Awareness, CaseList, CaseQuery, CaseStamp, CaseView, CutShort, OpenCase, PromiseSupport,
    SignStage, StageView, SupportList, SupportView,
};
use serde_json::{Map, Value};
use transparency::TransparencyService;
use twin::cra::{Case, CaseKind, CaseSource, Stage, StageStatus, Stamp};
use twin::{Meta, StakeholderId, StatementBody};
use twin_store::{Projector, RiskService};

use crate::archivist::AuthoritySigner;
use crate::archivist::Disclosure;
use crate::delegate::Delegate;
use crate::ServiceError;

type Res<T> = Result<T, ServiceError>;

/// When each open case's fix became available, by (manufacturer, case).
type FixTimes = BTreeMap<(String, String), Option<i64>>;

/// Fix times with the register and log size they are for.
type CachedFixes = (Arc<risk_register::Register>, u64, Arc<FixTimes>);

/// A register and the log size it was looked at with.
type LookedAt = (Arc<risk_register::Register>, u64);

/// Largest signed report, in bytes of JSON (the statement holds at most
/// 60 KiB).
pub const REPORT_BYTES_MAX: usize = 48 * 1024;

/// A notification the reporting clock calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// Stable id (the outbox deduplicates by it).
    pub id: String,
    /// `opened`, `due-soon` or `overdue`.
    pub what: StageStatus,
    /// Whether it tells of an opening (then `what` is `Pending`).
    pub opened: bool,
    /// The manufacturer to tell.
    pub manufacturer: String,
    /// The case.
    pub case: String,
    /// The vulnerability.
    pub vulnerability: Option<String>,
    /// The stage.
    pub stage: Option<Stage>,
    /// Its deadline.
    pub due_at: Option<i64>,
    /// One line.
    pub summary: String,
}

/// The reporting use cases.
#[derive(Clone)]
pub struct CraService {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    risks: Arc<RiskService>,
    delegate: Delegate,
    clock: Arc<dyn clock::Clock>,
    /// The register and log size [`CraService::open_exploited`] last
    /// looked at: nothing to open until either changes.
    looked_at: Arc<parking_lot::Mutex<Option<LookedAt>>>,
    /// [`CraService::fix_times`]' last answer, with the register and log
    /// size it is for.
    fixes: Arc<parking_lot::Mutex<Option<CachedFixes>>>,
}

/// A refusal of the fold's rules, before anything is signed.
fn refusal(e: twin::cra::CraError) -> ServiceError {
    match e {
        twin::cra::CraError::NotTheManufacturer { .. } => ServiceError::forbidden(e.to_string()),
        twin::cra::CraError::CaseExists(_) | twin::cra::CraError::AwareAlready(_) => {
            ServiceError::conflict(e.to_string())
        }
        twin::cra::CraError::NoCase(_) => ServiceError::not_found(e.to_string()),
        _ => ServiceError::invalid(e.to_string()),
    }
}

fn stamp_view(s: &Stamp) -> CaseStamp {
    CaseStamp {
        entry: s.entry,
        receipt: format!("/entries/{}", s.entry),
        at: s.at,
        by: s.by.0.clone(),
    }
}

fn wire<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl CraService {
    /// The use cases over `projector`'s twins and `risks`' register,
    /// registering through `scitt` statements signed by `sign`.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        risks: Arc<RiskService>,
        sign: AuthoritySigner,
        clock: Arc<dyn clock::Clock>,
    ) -> CraService {
        let delegate = Delegate::new(projector.clone(), scitt.clone(), sign);
        CraService {
            projector,
            scitt,
            risks,
            delegate,
            clock,
            looked_at: Arc::default(),
            fixes: Arc::default(),
        }
    }

    fn register(&self) -> Res<Arc<risk_register::Register>> {
        let today = twin_store::risks::today(&*self.clock);
        self.risks.register(today).map_err(ServiceError::internal)
    }

    /// Whose cases `who` asks for: its own, or any for the administrator.
    fn manufacturer(
        &self,
        meta: &Meta,
        who: Option<&StakeholderId>,
        named: Option<&str>,
    ) -> Res<StakeholderId> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("report cases are the manufacturer's: give its bearer token")
        })?;
        let admin = meta.registry.authority() == Some(who);
        match named {
            None if admin => Err(ServiceError::invalid(
                "manufacturer: name the manufacturer whose cases (the administrator has none)",
            )),
            None => Ok(who.clone()),
            Some(m) if m == who.0 || admin => Ok(StakeholderId(m.to_string())),
            Some(m) => Err(ServiceError::forbidden(format!(
                "{m}'s report cases are its own (and the node administrator's) to see, not {}'s",
                who.0
            ))),
        }
    }

    fn name_of(meta: &Meta, id: &StakeholderId) -> String {
        meta.registry
            .get(id)
            .map_or_else(|| id.0.clone(), |s| s.name.clone())
    }

    fn view(
        &self,
        meta: &Meta,
        register: &risk_register::Register,
        m: &StakeholderId,
        c: &Case,
        now: i64,
    ) -> CaseView {
        let facts = risk_register::cra::case_facts(register, &meta.releases, m, c);
        let stages: Vec<StageView> = c
            .clock(facts.fix_available_at, now)
            .into_iter()
            .map(|s| StageView {
                stage: s.stage.as_str().into(),
                due_at: s.due_at,
                due: s.due_at.map(risk_register::cra::rfc3339),
                basis: s.basis.into(),
                status: s.status.as_str().into(),
                submitted: s.submitted.as_ref().map(stamp_view),
            })
            .collect();
        let rank = |s: &str| match s {
            "overdue" => 0,
            "due-soon" => 1,
            "pending" => 2,
            "waiting" => 3,
            "submitted-late" => 4,
            _ => 5,
        };
        let status = stages
            .iter()
            .map(|s| s.status.clone())
            .min_by_key(|s| rank(s))
            .unwrap_or_default();
        CaseView {
            manufacturer: m.0.clone(),
            case: c.id.clone(),
            kind: wire(&c.kind),
            vulnerability: c.vulnerability.clone(),
            source: wire(&c.source),
            products: c.products.clone(),
            evidence: c.evidence.clone(),
            opened: stamp_view(&c.opened),
            awareness: c.awareness.as_ref().map(|(s, _)| stamp_view(s)),
            aware_at: c.awareness.as_ref().map(|(_, at)| *at),
            fix_available_at: facts.fix_available_at,
            fixed_in: {
                let f = facts.fixes();
                (!f.is_empty()).then(|| f.join(", "))
            },
            stages,
            status,
            closed: c.closed(),
        }
    }

    /// The cases of the manufacturer `who` is (or names, for the
    /// administrator), with their clocks now.
    pub fn cases(&self, who: Option<StakeholderId>, q: &CaseQuery) -> Res<CaseList> {
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), q.manufacturer.as_deref())?;
        let register = self.register()?;
        let now = self.clock.now_unix_s();
        let mut cases: Vec<CaseView> = meta
            .cra
            .of(&m)
            .map(|c| self.view(&meta, &register, &m, c, now))
            .collect();
        cases.sort_by_key(|c| {
            (
                c.closed,
                c.stages
                    .iter()
                    .filter(|s| s.submitted.is_none())
                    .filter_map(|s| s.due_at)
                    .min()
                    .unwrap_or(i64::MAX),
                c.case.clone(),
            )
        });
        let overdue = cases
            .iter()
            .flat_map(|c| &c.stages)
            .filter(|s| s.status == "overdue")
            .count();
        Ok(CaseList {
            manufacturer: m.0,
            cases,
            overdue,
            now,
        })
    }

    /// The stamp a statement by `by` made now would have (to check it
    /// before it is signed).
    fn provisional(by: &StakeholderId, now: i64) -> Stamp {
        Stamp {
            entry: u64::MAX,
            at: Some(now),
            by: by.clone(),
        }
    }

    fn case_of<'m>(meta: &'m Meta, m: &StakeholderId, id: &str) -> Res<&'m Case> {
        meta.cra
            .get(m, id)
            .ok_or_else(|| ServiceError::not_found(format!("{} has no report case {id:?}", m.0)))
    }

    /// One case.
    pub fn case(&self, who: Option<StakeholderId>, q: &CaseQuery, id: &str) -> Res<CaseView> {
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), q.manufacturer.as_deref())?;
        let c = Self::case_of(&meta, &m, id)?;
        let register = self.register()?;
        Ok(self.view(&meta, &register, &m, c, self.clock.now_unix_s()))
    }

    /// The draft of `stage` of case `id`, written from the twins.
    pub fn draft(
        &self,
        who: Option<StakeholderId>,
        q: &CaseQuery,
        id: &str,
        stage: &str,
    ) -> Res<Map<String, Value>> {
        let stage: Stage = stage.parse().map_err(ServiceError::invalid)?;
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), q.manufacturer.as_deref())?;
        let c = Self::case_of(&meta, &m, id)?;
        let register = self.register()?;
        let facts = risk_register::cra::case_facts(&register, &meta.releases, &m, c);
        Ok(risk_register::cra::draft(
            stage,
            (&m, &Self::name_of(&meta, &m)),
            c,
            &facts,
        ))
    }

    /// Opens a case: `who` is the manufacturer itself or a stakeholder
    /// reporting on the manufacturer's product.
    pub async fn open(&self, who: Option<StakeholderId>, req: &OpenCase) -> Res<CaseView> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("opening a report case needs a bearer token")
        })?;
        let kind: CaseKind = serde_json::from_value(Value::String(req.kind.clone()))
            .map_err(|_| ServiceError::invalid("kind: vulnerability or incident"))?;
        let meta = self.projector.meta();
        let m = StakeholderId(req.manufacturer.clone());
        if !meta.registry.has_role(&m, twin::Role::Manufacturer) {
            return Err(ServiceError::invalid(format!(
                "manufacturer: {:?} is not a registered manufacturer",
                req.manufacturer
            )));
        }
        let source = if who == m {
            CaseSource::Manufacturer
        } else if kind == CaseKind::Incident {
            CaseSource::Incident
        } else {
            CaseSource::Stakeholder
        };
        let products = match &req.products {
            Some(p) => p.clone(),
            None => match &req.vulnerability {
                Some(v) => {
                    let register = self.register()?;
                    risk_register::cra::exposed_products(&register, &meta.releases, &m, v)
                }
                None => Vec::new(),
            },
        };
        if products.is_empty() {
            return Err(ServiceError::invalid(
                "products: name the products concerned (the register finds none of the manufacturer's releases exposed)",
            ));
        }
        let now = self.clock.now_unix_s();
        let base = match (&req.case, &req.vulnerability) {
            (Some(c), _) => c.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) if who == m => format!("incident-{}", meta.cra.of(&m).count() + 1),
            (None, None) => format!("incident-{now}"),
        };
        // A reporter's case is named after it too: whether the
        // manufacturer has a case of that name (or how many) is not the
        // reporter's to learn from a refusal.
        let case = if who == m {
            base
        } else {
            format!("{base}:{}", who.0)
        };
        let opening = twin::cra::Opening {
            case: case.clone(),
            kind,
            vulnerability: req.vulnerability.clone(),
            source,
            products,
            evidence: req.evidence.clone().unwrap_or_default(),
        };
        meta.cra
            .check_open(
                m.clone(),
                opening.clone(),
                Self::provisional(&who, self.clock.now_unix_s()),
            )
            .map_err(refusal)?;
        let body = StatementBody::CraCaseOpened {
            case: opening.case,
            kind: opening.kind,
            vulnerability: opening.vulnerability,
            source: opening.source,
            products: opening.products,
            evidence: opening.evidence,
        };
        drop(meta);
        self.delegate
            .register(
                &who,
                &format!("stakeholder:{}", m.0),
                body.to_wire(),
                Disclosure::Public,
            )
            .await?;
        // Answered as opened (the reporter does not see the case later).
        let meta = self.projector.meta();
        let c = Self::case_of(&meta, &m, &case)?;
        let register = self.register()?;
        Ok(self.view(&meta, &register, &m, c, self.clock.now_unix_s()))
    }

    /// The manufacturer states its awareness of case `id`.
    pub async fn aware(
        &self,
        who: Option<StakeholderId>,
        id: &str,
        req: &Awareness,
    ) -> Res<CaseView> {
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), None)?;
        Self::case_of(&meta, &m, id)?;
        let now = self.clock.now_unix_s();
        let aware_at = req.aware_at.unwrap_or(now);
        if aware_at > now {
            return Err(ServiceError::invalid(format!(
                "aware_at: {aware_at} is in the future (now is {now})"
            )));
        }
        meta.cra
            .check_awareness(
                m.clone(),
                id.to_string(),
                aware_at,
                Self::provisional(&m, now),
            )
            .map_err(refusal)?;
        drop(meta);
        let body = StatementBody::CraAwareness {
            case: id.to_string(),
            aware_at,
        };
        self.delegate
            .register(
                &m,
                &format!("stakeholder:{}", m.0),
                body.to_wire(),
                Disclosure::Public,
            )
            .await?;
        self.case(Some(m), &CaseQuery::default(), id)
    }

    /// The manufacturer signs `stage` of case `id`.
    pub async fn sign(
        &self,
        who: Option<StakeholderId>,
        id: &str,
        stage: &str,
        req: SignStage,
    ) -> Res<CaseView> {
        let stage: Stage = stage.parse().map_err(ServiceError::invalid)?;
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), None)?;
        Self::case_of(&meta, &m, id)?;
        let bytes = serde_json::to_vec(&req.report).map_err(ServiceError::internal)?;
        if bytes.len() > REPORT_BYTES_MAX {
            return Err(ServiceError::too_large(format!(
                "report: {} bytes of JSON, at most {REPORT_BYTES_MAX}",
                bytes.len()
            )));
        }
        meta.cra
            .check_report(
                m.clone(),
                id.to_string(),
                stage,
                Self::provisional(&m, self.clock.now_unix_s()),
            )
            .map_err(refusal)?;
        drop(meta);
        let body = StatementBody::CraReport {
            case: id.to_string(),
            stage,
            report: req.report,
        };
        self.delegate
            .register(
                &m,
                &format!("stakeholder:{}", m.0),
                body.to_wire(),
                Disclosure::Public,
            )
            .await?;
        self.case(Some(m), &CaseQuery::default(), id)
    }

    /// A signed stage with the reporting platform's fields.
    pub fn export(
        &self,
        who: Option<StakeholderId>,
        q: &CaseQuery,
        id: &str,
        stage: &str,
    ) -> Res<Value> {
        let stage: Stage = stage.parse().map_err(ServiceError::invalid)?;
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), q.manufacturer.as_deref())?;
        let c = Self::case_of(&meta, &m, id)?;
        let stamp = c.report(stage).ok_or_else(|| {
            ServiceError::not_found(format!(
                "the {} of case {id:?} is not signed yet (GET its draft, edit it, POST it)",
                stage.as_str()
            ))
        })?;
        let bytes = self
            .scitt
            .statement(tlog::LeafIndex::new(stamp.entry))
            .map_err(ServiceError::internal)?;
        let st = scitt::SignedStatement::parse(&bytes).map_err(ServiceError::internal)?;
        let report = match st.payload().map(StatementBody::parse) {
            Some(Ok(StatementBody::CraReport { report, .. })) => report,
            _ => {
                return Err(ServiceError::internal(format!(
                    "entry {} holds no report",
                    stamp.entry
                )))
            }
        };
        let register = self.register()?;
        let facts = risk_register::cra::case_facts(&register, &meta.releases, &m, c);
        let clock = c.clock(facts.fix_available_at, self.clock.now_unix_s());
        let due_at = clock
            .iter()
            .find(|s| s.stage == stage)
            .and_then(|s| s.due_at);
        let name = Self::name_of(&meta, &m);
        Ok(risk_register::cra::Export {
            manufacturer: (&m, &name),
            case: c,
            stage,
            report: &report,
            submitted: stamp,
            due_at,
            statement_sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        }
        .to_json())
    }

    /// The fix of a vulnerability case as a CSAF 2.0 security advisory.
    pub fn csaf(&self, who: Option<StakeholderId>, q: &CaseQuery, id: &str) -> Res<Value> {
        let meta = self.projector.meta();
        let m = self.manufacturer(&meta, who.as_ref(), q.manufacturer.as_deref())?;
        let c = Self::case_of(&meta, &m, id)?;
        if c.kind != CaseKind::Vulnerability {
            return Err(ServiceError::invalid(format!(
                "case {id:?} is an incident: a CSAF advisory is about a vulnerability"
            )));
        }
        let register = self.register()?;
        let facts = risk_register::cra::case_facts(&register, &meta.releases, &m, c);
        let name = Self::name_of(&meta, &m);
        Ok(risk_register::cra::csaf_advisory(
            (&m, &name),
            c,
            &facts,
            self.clock.now_unix_s(),
        ))
    }

    /// Opens, as the registry authority, a case on every manufacturer whose
    /// releases the register finds exposed to a vulnerability on a
    /// known-exploited list, unless one is open; answers the
    /// (manufacturer, case) pairs opened.
    pub async fn open_exploited(&self) -> Res<Vec<(String, String)>> {
        let meta = self.projector.meta();
        let Some(authority) = meta.registry.authority().cloned() else {
            return Ok(Vec::new());
        };
        let register = self.register()?;
        {
            let mut last = self.looked_at.lock();
            if last
                .as_ref()
                .is_some_and(|(r, size)| Arc::ptr_eq(r, &register) && *size == meta.size)
            {
                return Ok(Vec::new());
            }
            *last = Some((register.clone(), meta.size));
        }
        // (manufacturer, vulnerability) → products, list evidence.
        let mut wanted: BTreeMap<(StakeholderId, String), (Vec<String>, String)> = BTreeMap::new();
        let releasers: BTreeMap<&str, &StakeholderId> = meta
            .releases
            .iter()
            .filter_map(|(m, r)| Some((m.as_str(), &r.first()?.issuer)))
            .collect();
        for r in register.risks.iter() {
            let (Some(model), Some(exploit)) = (r.model.as_deref(), r.exploit.as_deref()) else {
                continue;
            };
            // Named by the CVE id the list names (the advisory's may be
            // another's, an OSV or GHSA id with the CVE as an alias).
            let v = if exploit.cve.is_empty() {
                match r.vulnerability.as_deref() {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                exploit.cve.as_str()
            };
            let Some(k) = exploit.kev.first() else {
                continue;
            };
            let Some(m) = releasers.get(model) else {
                continue;
            };
            if meta.cra.about(m, v).is_some() || meta.cra.get(m, v).is_some() {
                continue;
            }
            let e = wanted
                .entry(((*m).clone(), v.to_string()))
                .or_insert_with(|| {
                    (
                        Vec::new(),
                        format!(
                            "{v} is on the {} list since {} (due {}{})",
                            k.list,
                            k.date_added,
                            k.due_date,
                            if k.ransomware {
                                "; ransomware use known"
                            } else {
                                ""
                            }
                        ),
                    )
                });
            let product = risk_register::cra::product_of(model).to_string();
            if !e.0.contains(&product) {
                e.0.push(product);
            }
        }
        drop(meta);
        let mut opened = Vec::new();
        for ((m, v), (mut products, evidence)) in wanted {
            products.sort();
            products.truncate(twin::cra::CASE_PRODUCTS_MAX);
            let body = StatementBody::CraCaseOpened {
                case: v.clone(),
                kind: CaseKind::Vulnerability,
                vulnerability: Some(v.clone()),
                source: CaseSource::KnownExploited,
                products,
                evidence,
            };
            match self
                .delegate
                .register(
                    &authority,
                    &format!("stakeholder:{}", m.0),
                    body.to_wire(),
                    Disclosure::Public,
                )
                .await
            {
                Ok(_) => opened.push((m.0, v)),
                Err(e) => {
                    tracing::warn!(manufacturer = %m.0, vulnerability = %v, "opening a report case: {}", e.message())
                }
            }
        }
        Ok(opened)
    }

    /// When each open case's fix became available, worked out once per
    /// register and log size (the clock asks every few seconds; finding a
    /// case's risks may take a pass over the register).
    fn fix_times(&self, meta: &Meta, register: &Arc<risk_register::Register>) -> Arc<FixTimes> {
        let mut cached = self.fixes.lock();
        if let Some((r, size, fixes)) = cached.as_ref() {
            if Arc::ptr_eq(r, register) && *size == meta.size {
                return fixes.clone();
            }
        }
        let open: std::collections::BTreeSet<&str> = meta
            .cra
            .iter()
            .filter(|(_, c)| !c.closed())
            .filter_map(|(_, c)| c.vulnerability.as_deref())
            .collect();
        let about = risk_register::cra::risks_about_each(register, &open);
        let fixes: FixTimes = meta
            .cra
            .iter()
            .filter(|(_, c)| !c.closed())
            .map(|(m, c)| {
                let risks = c
                    .vulnerability
                    .as_deref()
                    .and_then(|v| about.get(v))
                    .map_or(&[][..], Vec::as_slice);
                let facts =
                    risk_register::cra::case_facts_of(register, &meta.releases, m, c, risks);
                ((m.0.clone(), c.id.clone()), facts.fix_available_at)
            })
            .collect();
        let fixes = Arc::new(fixes);
        *cached = Some((register.clone(), meta.size, fixes.clone()));
        fixes
    }

    /// What the reporting clock calls for now: every case opened, every
    /// stage due soon, every stage overdue (stable ids: the outbox tells
    /// each once).
    pub fn due(&self) -> Res<Vec<Due>> {
        let meta = self.projector.meta();
        if meta.cra.0.is_empty() {
            return Ok(Vec::new());
        }
        let register = self.register()?;
        let now = self.clock.now_unix_s();
        let fixes = self.fix_times(&meta, &register);
        let mut out = Vec::new();
        for (m, c) in meta.cra.iter() {
            let base = Due {
                id: format!("cra/{}/{}/opened", m.0, c.id),
                what: StageStatus::Pending,
                opened: true,
                manufacturer: m.0.clone(),
                case: c.id.clone(),
                vulnerability: c.vulnerability.clone(),
                stage: None,
                due_at: None,
                summary: format!(
                    "Report case {} opened ({}): {}",
                    c.id,
                    wire(&c.source),
                    c.evidence
                ),
            };
            if c.closed() {
                continue;
            }
            out.push(base.clone());
            let fix_at = fixes.get(&(m.0.clone(), c.id.clone())).copied().flatten();
            for s in c.clock(fix_at, now) {
                if !matches!(s.status, StageStatus::DueSoon | StageStatus::Overdue) {
                    continue;
                }
                let due = s
                    .due_at
                    .map(risk_register::cra::rfc3339)
                    .unwrap_or_default();
                out.push(Due {
                    id: format!(
                        "cra/{}/{}/{}/{}",
                        m.0,
                        c.id,
                        s.stage.as_str(),
                        s.status.as_str()
                    ),
                    what: s.status,
                    opened: false,
                    stage: Some(s.stage),
                    due_at: s.due_at,
                    summary: match s.status {
                        StageStatus::Overdue => format!(
                            "The {} of report case {} was due {due} and is not signed",
                            s.stage.as_str(),
                            c.id
                        ),
                        _ => format!(
                            "The {} of report case {} is due {due}",
                            s.stage.as_str(),
                            c.id
                        ),
                    },
                    ..base.clone()
                });
            }
        }
        Ok(out)
    }

    /// The support periods of the models `who` manufactures or has devices
    /// of, with the devices past them.
    pub fn support(&self, who: Option<StakeholderId>) -> Res<SupportList> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("support periods are listed for a bearer token's holder")
        })?;
        let meta = self.projector.meta();
        let admin = meta.registry.authority() == Some(&who);
        let register = self.register()?;
        let today = register.day();
        let mut out = Vec::new();
        for (model, promises) in meta.support.iter() {
            let Some(current) = promises.last() else {
                continue;
            };
            let maker = &current.stamp.by;
            let prefix = format!("{model}@");
            let mut devices = 0;
            let mut sample = Vec::new();
            let ended = today > current.end;
            for row in register.devices.rows() {
                if !row.releases.iter().any(|(k, _)| k.starts_with(&prefix)) {
                    continue;
                }
                if !(admin || maker == &who || row.stakeholders.iter().any(|s| s == &who.0)) {
                    continue;
                }
                devices += 1;
                if ended && sample.len() < 100 {
                    sample.push(row.device.clone());
                }
            }
            if !(admin || maker == &who || devices > 0) {
                continue;
            }
            out.push(SupportView {
                model: model.clone(),
                manufacturer: maker.0.clone(),
                end: current.end.to_string(),
                promised: stamp_view(&current.stamp),
                cut_short: meta.support.cut_short(model).map(|p| CutShort {
                    was: p.end.to_string(),
                    entry: p.stamp.entry,
                    days: current.end.days_until(p.end),
                }),
                ended,
                days_left: today.days_until(current.end),
                devices,
                devices_past_end: if ended { devices } else { 0 },
                past_end_sample: sample,
            });
        }
        Ok(SupportList {
            models: out,
            today: today.to_string(),
        })
    }

    /// The manufacturer promises a support period for one of its models.
    pub async fn promise(
        &self,
        who: Option<StakeholderId>,
        req: &PromiseSupport,
    ) -> Res<SupportView> {
        let who = who.ok_or_else(|| {
            ServiceError::unauthorized("promising a support period needs the manufacturer's token")
        })?;
        let end = risk::Date::parse(&req.end)
            .map_err(|_| ServiceError::invalid(format!("end: {:?} is not YYYY-MM-DD", req.end)))?;
        if !req.model.starts_with("model:") {
            return Err(ServiceError::invalid(format!(
                "model: {:?} is not a model subject (model:<vendor>/<model>)",
                req.model
            )));
        }
        let body = StatementBody::SupportPeriod {
            end,
            note: req.note.clone(),
        };
        self.delegate
            .register(&who, &req.model, body.to_wire(), Disclosure::Public)
            .await?;
        self.support(Some(who))?
            .models
            .into_iter()
            .find(|m| m.model == req.model)
            .ok_or_else(|| ServiceError::internal("the promise is not in the list"))
    }
}
