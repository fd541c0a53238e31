//! The EU Cyber Resilience Act's obligations as the log holds them: report
//! cases for actively exploited vulnerabilities and severe incidents
//! (Article 14) and the support periods manufacturers promise (Article 13).
//!
//! A **report case** is opened on a manufacturer (subject
//! `stakeholder:<manufacturer>`) by a `cra-case-opened` statement: by the
//! manufacturer itself, by the registry authority (the node opens one when a
//! known-exploited list names a vulnerability of the manufacturer's
//! products), or by any registered stakeholder that reports an exploitation
//! or an incident. The manufacturer states when it became aware
//! (`cra-awareness`, once per case) and signs each stage of its report
//! (`cra-report`: early warning, notification, final report, in that order,
//! each once). The statements' `iat` are the times the clock compares; the
//! receipts prove them. The report texts stay in the log (the entries are
//! kept here, not the texts), so this module keeps the projection small.
//!
//! The **clock** ([`Case::clock`]) follows Article 14: an early warning
//! within 24 hours of awareness, a notification within 72 hours, and a final
//! report no later than 14 days after a corrective or mitigating measure is
//! available (a vulnerability) or within one month of the notification (an
//! incident). Until the manufacturer states its awareness, the clock runs
//! from the case's opening: the latest time it can say it learnt of it.
//!
//! A **support period** (`support-period`, subject `model:<vendor>/<model>`,
//! by the model's manufacturer) is the end of security support promised for
//! a model; every promise is kept, so one that ends earlier than a promise
//! made before it is *cut short* ([`SupportPeriods::cut_short`]).
//!
//! Pure: no I/O, no clock (`now` is an argument).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::StakeholderId;

/// Longest case id, in bytes (`[A-Za-z0-9._:-]`).
pub const CASE_ID_BYTES_MAX: usize = 128;
/// Most cases a manufacturer may have in the log (open or closed).
pub const CASES_PER_MANUFACTURER_MAX: usize = 4096;
/// Most products a case names.
pub const CASE_PRODUCTS_MAX: usize = 64;
/// Longest evidence text of a case, in bytes.
pub const CASE_EVIDENCE_BYTES_MAX: usize = 4096;
/// Promises kept per model (the oldest beyond it are dropped, but the
/// earliest promise, which a cut is measured against, is kept).
pub const SUPPORT_PROMISES_KEPT_MAX: usize = 64;
/// Longest note of a support promise, in bytes.
pub const SUPPORT_NOTE_BYTES_MAX: usize = 1024;

/// Early warning: within 24 hours of awareness (Art. 14(2)(a), 14(4)(a)).
pub const EARLY_WARNING_WITHIN_S: i64 = 24 * 3600;
/// Notification: within 72 hours of awareness (Art. 14(2)(b), 14(4)(b)).
pub const NOTIFICATION_WITHIN_S: i64 = 72 * 3600;
/// A vulnerability's final report: no later than 14 days after a corrective
/// or mitigating measure is available (Art. 14(2)(c)).
pub const FINAL_AFTER_FIX_S: i64 = 14 * 86_400;
/// An incident's final report: within one calendar month of the
/// notification (Art. 14(4)(c)).
pub const FINAL_AFTER_NOTIFICATION_MONTHS: u32 = 1;

/// What a case reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseKind {
    /// An actively exploited vulnerability in the manufacturer's product.
    Vulnerability,
    /// A severe incident having an impact on the security of the product.
    Incident,
}

/// How the case came to be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaseSource {
    /// A known-exploited list (CISA KEV or another) names the vulnerability.
    KnownExploited,
    /// A stakeholder reported the exploitation.
    Stakeholder,
    /// Confirmed from an incident on a device.
    Incident,
    /// The manufacturer opened it itself.
    Manufacturer,
}

/// A stage of a report, in the order they are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The early warning (24 hours).
    EarlyWarning,
    /// The vulnerability or incident notification (72 hours).
    Notification,
    /// The final report.
    FinalReport,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 3] = [Stage::EarlyWarning, Stage::Notification, Stage::FinalReport];

    /// The stage before this one, if any.
    pub fn previous(self) -> Option<Stage> {
        match self {
            Stage::EarlyWarning => None,
            Stage::Notification => Some(Stage::EarlyWarning),
            Stage::FinalReport => Some(Stage::Notification),
        }
    }

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::EarlyWarning => "early-warning",
            Stage::Notification => "notification",
            Stage::FinalReport => "final-report",
        }
    }

    /// How long before its deadline it is "due soon", in seconds: a quarter
    /// of the first two stages' windows, three days of the final report.
    pub fn due_soon_s(self) -> i64 {
        match self {
            Stage::EarlyWarning => 6 * 3600,
            Stage::Notification => 18 * 3600,
            Stage::FinalReport => 3 * 86_400,
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a stage (early-warning, notification, final-report)")
            })
    }
}

/// Who made a statement of a case, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Its log entry.
    pub entry: u64,
    /// Its `iat` (unix seconds), if it has one.
    pub at: Option<i64>,
    /// The effective issuer.
    pub by: StakeholderId,
}

/// A report case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The manufacturer's case id.
    pub id: String,
    /// Vulnerability or incident.
    pub kind: CaseKind,
    /// The vulnerability (a CVE or EUVD id), for a vulnerability case.
    pub vulnerability: Option<String>,
    /// How it was opened.
    pub source: CaseSource,
    /// The products (model names) concerned.
    pub products: Vec<String>,
    /// What it rests on (a list entry, a report, an incident).
    pub evidence: String,
    /// The opening statement.
    pub opened: Stamp,
    /// The manufacturer's awareness statement and the time it states.
    pub awareness: Option<(Stamp, i64)>,
    /// The stages signed, in log order.
    pub reports: Vec<(Stage, Stamp)>,
}

/// Where a stage stands at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    /// Not due yet (no deadline yet: the final report of a vulnerability
    /// without a fix, or of an incident without a notification).
    Waiting,
    /// Due, with time left.
    Pending,
    /// Due within [`Stage::due_soon_s`].
    DueSoon,
    /// Past its deadline and not submitted.
    Overdue,
    /// Submitted by its deadline.
    Submitted,
    /// Submitted after its deadline.
    SubmittedLate,
}

impl StageStatus {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Waiting => "waiting",
            StageStatus::Pending => "pending",
            StageStatus::DueSoon => "due-soon",
            StageStatus::Overdue => "overdue",
            StageStatus::Submitted => "submitted",
            StageStatus::SubmittedLate => "submitted-late",
        }
    }
}

/// One stage's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    /// The stage.
    pub stage: Stage,
    /// Its deadline (unix seconds), once it has one.
    pub due_at: Option<i64>,
    /// What the deadline counts from, in words.
    pub basis: &'static str,
    /// The signed stage, if submitted.
    pub submitted: Option<Stamp>,
    /// Where it stands at the time asked.
    pub status: StageStatus,
}

impl Case {
    /// When the clock starts: the stated awareness, else the opening.
    pub fn clock_start(&self) -> Option<i64> {
        match &self.awareness {
            Some((_, aware_at)) => Some(*aware_at),
            None => self.opened.at,
        }
    }

    /// The signed stage, if any.
    pub fn report(&self, stage: Stage) -> Option<&Stamp> {
        self.reports
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, st)| st)
    }

    /// Every stage's clock at `now`; `fix_at` is when a corrective or
    /// mitigating measure became available (a vulnerability's final report
    /// counts from it).
    pub fn clock(&self, fix_at: Option<i64>, now: i64) -> Vec<StageClock> {
        let start = self.clock_start();
        Stage::ALL
            .into_iter()
            .map(|stage| {
                let (due_at, basis) = match stage {
                    Stage::EarlyWarning => (
                        start.map(|s| s.saturating_add(EARLY_WARNING_WITHIN_S)),
                        if self.awareness.is_some() {
                            "24 hours after awareness"
                        } else {
                            "24 hours after the case was opened (no awareness stated)"
                        },
                    ),
                    Stage::Notification => (
                        start.map(|s| s.saturating_add(NOTIFICATION_WITHIN_S)),
                        if self.awareness.is_some() {
                            "72 hours after awareness"
                        } else {
                            "72 hours after the case was opened (no awareness stated)"
                        },
                    ),
                    Stage::FinalReport => match self.kind {
                        CaseKind::Vulnerability => (
                            fix_at.map(|f| f.saturating_add(FINAL_AFTER_FIX_S)),
                            "14 days after a fix is available",
                        ),
                        CaseKind::Incident => (
                            self.report(Stage::Notification)
                                .and_then(|n| n.at)
                                .map(one_month_after),
                            "one month after the notification",
                        ),
                    },
                };
                let submitted = self.report(stage).cloned();
                let status = match (&submitted, due_at) {
                    (Some(s), Some(due)) if s.at.is_some_and(|at| at > due) => {
                        StageStatus::SubmittedLate
                    }
                    (Some(_), _) => StageStatus::Submitted,
                    (None, None) => StageStatus::Waiting,
                    (None, Some(due)) if now > due => StageStatus::Overdue,
                    (None, Some(due)) if due - now <= stage.due_soon_s() => StageStatus::DueSoon,
                    (None, Some(_)) => StageStatus::Pending,
                };
                StageClock {
                    stage,
                    due_at,
                    basis,
                    submitted,
                    status,
                }
            })
            .collect()
    }

    /// Whether every stage is submitted.
    pub fn closed(&self) -> bool {
        Stage::ALL.iter().all(|s| self.report(*s).is_some())
    }
}

/// The same time of day one calendar month later (UTC).
fn one_month_after(unix_s: i64) -> i64 {
    let day = risk::Date::from_unix_s(unix_s);
    let into_day = unix_s - day.unix_s();
    day.add_months(FINAL_AFTER_NOTIFICATION_MONTHS).unix_s() + into_day
}

/// Why a CRA statement does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CraError {
    /// The case id is malformed.
    #[error("case {0:?}: 1 to {CASE_ID_BYTES_MAX} of A-Z a-z 0-9 . _ : -")]
    BadCaseId(String),
    /// A case with this id is already open on the manufacturer.
    #[error("case {0:?} is already open (a case is opened once)")]
    CaseExists(String),
    /// No such case.
    #[error("no case {0:?} on this manufacturer")]
    NoCase(String),
    /// The manufacturer has too many cases.
    #[error("the manufacturer has {CASES_PER_MANUFACTURER_MAX} cases, the most kept")]
    TooManyCases,
    /// A field is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Only the manufacturer may state this.
    #[error("only the manufacturer {manufacturer} may {what}, not {issuer}")]
    NotTheManufacturer {
        /// The case's manufacturer.
        manufacturer: String,
        /// Who tried.
        issuer: String,
        /// What.
        what: &'static str,
    },
    /// Awareness is stated once.
    #[error("the manufacturer's awareness of case {0:?} is already stated")]
    AwareAlready(String),
    /// A stage before awareness, or out of order, or twice.
    #[error("stage {stage} of case {case:?}: {why}")]
    StageOrder {
        /// The case.
        case: String,
        /// The stage.
        stage: &'static str,
        /// Why not.
        why: String,
    },
}

fn valid_case_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= CASE_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A vulnerability id a case may name: a CVE id, an EUVD id, or another
/// advisory id of the same alphabet.
fn valid_vulnerability(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// What an opening asks, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    /// The case id.
    pub case: String,
    /// The kind.
    pub kind: CaseKind,
    /// The vulnerability.
    pub vulnerability: Option<String>,
    /// The source.
    pub source: CaseSource,
    /// The products.
    pub products: Vec<String>,
    /// The evidence.
    pub evidence: String,
}

/// A checked change to the cases.
#[derive(Debug, Clone, PartialEq)]
pub enum CraChange {
    /// A case opened on `manufacturer`.
    Open(StakeholderId, Box<Case>),
    /// Awareness stated.
    Aware(StakeholderId, String, Stamp, i64),
    /// A stage signed.
    Report(StakeholderId, String, Stage, Stamp),
}

impl CraChange {
    /// The statement type it comes from.
    pub fn kind(&self) -> &'static str {
        match self {
            CraChange::Open(..) => "cra-case-opened",
            CraChange::Aware(..) => "cra-awareness",
            CraChange::Report(..) => "cra-report",
        }
    }
}

/// Every manufacturer's report cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cases(pub BTreeMap<StakeholderId, BTreeMap<String, Case>>);

impl Cases {
    /// The case `id` of `manufacturer`.
    pub fn get(&self, manufacturer: &StakeholderId, id: &str) -> Option<&Case> {
        self.0.get(manufacturer)?.get(id)
    }

    /// Every case of `manufacturer`.
    pub fn of(&self, manufacturer: &StakeholderId) -> impl Iterator<Item = &Case> {
        self.0
            .get(manufacturer)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Every (manufacturer, case).
    pub fn iter(&self) -> impl Iterator<Item = (&StakeholderId, &Case)> {
        self.0
            .iter()
            .flat_map(|(m, cases)| cases.values().map(move |c| (m, c)))
    }

    /// The case of `manufacturer` about `vulnerability`, if one is open.
    pub fn about(&self, manufacturer: &StakeholderId, vulnerability: &str) -> Option<&Case> {
        self.of(manufacturer)
            .find(|c| c.vulnerability.as_deref() == Some(vulnerability))
    }

    /// Checks an opening on `manufacturer` by `stamp.by`.
    pub fn check_open(
        &self,
        manufacturer: StakeholderId,
        o: Opening,
        stamp: Stamp,
    ) -> Result<CraChange, CraError> {
        if !valid_case_id(&o.case) {
            return Err(CraError::BadCaseId(o.case));
        }
        let cases = self.0.get(&manufacturer);
        if cases.is_some_and(|c| c.contains_key(&o.case)) {
            return Err(CraError::CaseExists(o.case));
        }
        if cases.map_or(0, BTreeMap::len) >= CASES_PER_MANUFACTURER_MAX {
            return Err(CraError::TooManyCases);
        }
        match (&o.kind, &o.vulnerability) {
            (CaseKind::Vulnerability, None) => {
                return Err(CraError::Invalid(
                    "vulnerability: a vulnerability case names it (a CVE or EUVD id)".into(),
                ))
            }
            (_, Some(v)) if !valid_vulnerability(v) => {
                return Err(CraError::Invalid(format!(
                    "vulnerability {v:?}: 1 to 64 of A-Z a-z 0-9 . _ : -"
                )))
            }
            _ => {}
        }
        if o.products.is_empty() || o.products.len() > CASE_PRODUCTS_MAX {
            return Err(CraError::Invalid(format!(
                "products: 1 to {CASE_PRODUCTS_MAX} model names, not {}",
                o.products.len()
            )));
        }
        if o.products
            .iter()
            .any(|p| p.trim().is_empty() || p.len() > 256)
        {
            return Err(CraError::Invalid(
                "products: each a model name of 1 to 256 bytes".into(),
            ));
        }
        if o.evidence.len() > CASE_EVIDENCE_BYTES_MAX {
            return Err(CraError::Invalid(format!(
                "evidence: at most {CASE_EVIDENCE_BYTES_MAX} bytes"
            )));
        }
        Ok(CraChange::Open(
            manufacturer,
            Box::new(Case {
                id: o.case,
                kind: o.kind,
                vulnerability: o.vulnerability,
                source: o.source,
                products: o.products,
                evidence: o.evidence,
                opened: stamp,
                awareness: None,
                reports: Vec::new(),
            }),
        ))
    }

    fn case_of_manufacturer(
        &self,
        manufacturer: &StakeholderId,
        case: &str,
        by: &StakeholderId,
        what: &'static str,
    ) -> Result<&Case, CraError> {
        if by != manufacturer {
            return Err(CraError::NotTheManufacturer {
                manufacturer: manufacturer.0.clone(),
                issuer: by.0.clone(),
                what,
            });
        }
        self.get(manufacturer, case)
            .ok_or_else(|| CraError::NoCase(case.to_string()))
    }

    /// Checks the manufacturer's awareness statement.
    pub fn check_awareness(
        &self,
        manufacturer: StakeholderId,
        case: String,
        aware_at: i64,
        stamp: Stamp,
    ) -> Result<CraChange, CraError> {
        let c = self.case_of_manufacturer(&manufacturer, &case, &stamp.by, "state awareness")?;
        if c.awareness.is_some() {
            return Err(CraError::AwareAlready(case));
        }
        if aware_at <= 0 {
            return Err(CraError::Invalid(
                "aware_at: unix seconds after the epoch".into(),
            ));
        }
        if let Some(at) = stamp.at {
            if aware_at > at {
                return Err(CraError::Invalid(format!(
                    "aware_at {aware_at} is after the statement was issued ({at}): awareness is stated once it happened"
                )));
            }
        }
        Ok(CraChange::Aware(manufacturer, case, stamp, aware_at))
    }

    /// Checks a stage signed by the manufacturer.
    pub fn check_report(
        &self,
        manufacturer: StakeholderId,
        case: String,
        stage: Stage,
        stamp: Stamp,
    ) -> Result<CraChange, CraError> {
        let c = self.case_of_manufacturer(&manufacturer, &case, &stamp.by, "sign its report")?;
        let order = |why: String| CraError::StageOrder {
            case: case.clone(),
            stage: stage.as_str(),
            why,
        };
        if c.awareness.is_none() {
            return Err(order(
                "state awareness first (cra-awareness): the clock counts from it".into(),
            ));
        }
        if c.report(stage).is_some() {
            return Err(order("already signed (each stage is signed once)".into()));
        }
        if let Some(previous) = stage.previous() {
            if c.report(previous).is_none() {
                return Err(order(format!("sign the {} first", previous.as_str())));
            }
        }
        Ok(CraChange::Report(manufacturer, case, stage, stamp))
    }

    /// Applies a checked change.
    pub fn apply(&mut self, change: CraChange) {
        match change {
            CraChange::Open(m, case) => {
                self.0.entry(m).or_default().insert(case.id.clone(), *case);
            }
            CraChange::Aware(m, case, stamp, aware_at) => {
                if let Some(c) = self.0.get_mut(&m).and_then(|c| c.get_mut(&case)) {
                    c.awareness = Some((stamp, aware_at));
                }
            }
            CraChange::Report(m, case, stage, stamp) => {
                if let Some(c) = self.0.get_mut(&m).and_then(|c| c.get_mut(&case)) {
                    c.reports.push((stage, stamp));
                }
            }
        }
    }
}

/// One promise of a support period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportPromise {
    /// The statement.
    pub stamp: Stamp,
    /// The last day of security support.
    pub end: risk::Date,
    /// What the manufacturer says of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The support periods promised, by model subject, in log order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SupportPeriods(pub BTreeMap<String, Vec<SupportPromise>>);

impl SupportPeriods {
    /// The promise in force for `model` (the latest).
    pub fn current(&self, model: &str) -> Option<&SupportPromise> {
        self.0.get(model)?.last()
    }

    /// The longest promise made before the current one, if the current one
    /// ends earlier: the promise it cut short.
    pub fn cut_short(&self, model: &str) -> Option<&SupportPromise> {
        let promises = self.0.get(model)?;
        let (current, before) = promises.split_last()?;
        before
            .iter()
            .filter(|p| p.end > current.end)
            .max_by_key(|p| p.end)
    }

    /// Records a promise (checked by the caller: the manufacturer's).
    pub fn promise(&mut self, model: String, promise: SupportPromise) {
        let list = self.0.entry(model).or_default();
        list.push(promise);
        if list.len() > SUPPORT_PROMISES_KEPT_MAX {
            // Keep the longest promise ever made: a cut is measured against it.
            let longest = list
                .iter()
                .enumerate()
                .max_by_key(|(_, p)| p.end)
                .map_or(0, |(i, _)| i);
            let drop = if longest == 0 { 1 } else { 0 };
            list.remove(drop);
        }
    }

    /// Every model with a promise.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<SupportPromise>)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(entry: u64, at: i64, by: &str) -> Stamp {
        Stamp {
            entry,
            at: Some(at),
            by: StakeholderId(by.into()),
        }
    }

    const T0: i64 = 1_790_000_000;

    fn opened(kind: CaseKind) -> (Cases, StakeholderId) {
        let m = StakeholderId("acme".into());
        let mut cases = Cases::default();
        let change = cases
            .check_open(
                m.clone(),
                Opening {
                    case: "CVE-2024-3400".into(),
                    kind,
                    vulnerability: Some("CVE-2024-3400".into()),
                    source: CaseSource::KnownExploited,
                    products: vec!["DC-200".into()],
                    evidence: "cisa-kev".into(),
                },
                stamp(10, T0, "authority"),
            )
            .expect("open");
        cases.apply(change);
        (cases, m)
    }

    fn statuses(c: &Case, fix: Option<i64>, now: i64) -> Vec<StageStatus> {
        c.clock(fix, now).into_iter().map(|s| s.status).collect()
    }

    #[test]
    fn the_clock_runs_from_opening_until_awareness_then_from_awareness() {
        let (mut cases, m) = opened(CaseKind::Vulnerability);
        let c = cases.get(&m, "CVE-2024-3400").expect("case").clone();
        assert_eq!(
            c.clock(None, T0)[0].due_at,
            Some(T0 + EARLY_WARNING_WITHIN_S)
        );
        use StageStatus::*;
        assert_eq!(statuses(&c, None, T0), [Pending, Pending, Waiting]);
        assert_eq!(
            statuses(&c, None, T0 + 19 * 3600),
            [DueSoon, Pending, Waiting]
        );
        assert_eq!(
            statuses(&c, None, T0 + 24 * 3600 + 1),
            [Overdue, Pending, Waiting]
        );
        // Awareness an hour before the opening moves the clock earlier.
        let aware = cases
            .check_awareness(
                m.clone(),
                c.id.clone(),
                T0 - 3600,
                stamp(11, T0 + 60, "acme"),
            )
            .expect("aware");
        cases.apply(aware);
        let c = cases.get(&m, "CVE-2024-3400").expect("case").clone();
        assert_eq!(c.clock(None, T0)[0].due_at, Some(T0 + 23 * 3600));
        assert_eq!(c.clock(None, T0)[1].due_at, Some(T0 + 71 * 3600));
    }

    #[test]
    fn stages_are_signed_in_order_once_each_by_the_manufacturer_alone() {
        let (mut cases, m) = opened(CaseKind::Vulnerability);
        let id = "CVE-2024-3400".to_string();
        let early = cases.check_report(
            m.clone(),
            id.clone(),
            Stage::EarlyWarning,
            stamp(12, T0, "acme"),
        );
        assert!(
            matches!(early, Err(CraError::StageOrder { .. })),
            "{early:?}"
        );
        let other = cases.check_awareness(m.clone(), id.clone(), T0, stamp(12, T0, "globex"));
        assert!(
            matches!(other, Err(CraError::NotTheManufacturer { .. })),
            "{other:?}"
        );
        let future = cases.check_awareness(m.clone(), id.clone(), T0 + 10, stamp(12, T0, "acme"));
        assert!(matches!(future, Err(CraError::Invalid(_))), "{future:?}");
        cases.apply(
            cases
                .check_awareness(m.clone(), id.clone(), T0, stamp(12, T0, "acme"))
                .expect("aware"),
        );
        let skipped = cases.check_report(
            m.clone(),
            id.clone(),
            Stage::Notification,
            stamp(13, T0, "acme"),
        );
        assert!(
            matches!(skipped, Err(CraError::StageOrder { .. })),
            "{skipped:?}"
        );
        cases.apply(
            cases
                .check_report(
                    m.clone(),
                    id.clone(),
                    Stage::EarlyWarning,
                    stamp(13, T0 + 3600, "acme"),
                )
                .expect("early warning"),
        );
        let twice = cases.check_report(
            m.clone(),
            id.clone(),
            Stage::EarlyWarning,
            stamp(14, T0, "acme"),
        );
        assert!(
            matches!(twice, Err(CraError::StageOrder { .. })),
            "{twice:?}"
        );
        // The notification, four days late.
        cases.apply(
            cases
                .check_report(
                    m.clone(),
                    id.clone(),
                    Stage::Notification,
                    stamp(14, T0 + 7 * 86_400, "acme"),
                )
                .expect("notification"),
        );
        let c = cases.get(&m, &id).expect("case");
        use StageStatus::*;
        assert_eq!(
            statuses(c, None, T0 + 8 * 86_400),
            [Submitted, SubmittedLate, Waiting]
        );
        // A fix: the final report is due 14 days later.
        let fix = T0 + 8 * 86_400;
        assert_eq!(
            c.clock(Some(fix), fix)[2].due_at,
            Some(fix + FINAL_AFTER_FIX_S)
        );
        assert_eq!(statuses(c, Some(fix), fix + 15 * 86_400)[2], Overdue);
        let again = cases.check_open(
            m,
            Opening {
                case: id.clone(),
                kind: CaseKind::Vulnerability,
                vulnerability: Some(id),
                source: CaseSource::Manufacturer,
                products: vec!["DC-200".into()],
                evidence: String::new(),
            },
            stamp(15, T0, "acme"),
        );
        assert!(matches!(again, Err(CraError::CaseExists(_))), "{again:?}");
    }

    #[test]
    fn an_incident_final_report_is_due_a_calendar_month_after_the_notification() {
        let (mut cases, m) = opened(CaseKind::Incident);
        let id = "CVE-2024-3400".to_string();
        for (stage, at) in [
            (None, T0),
            (Some(Stage::EarlyWarning), T0 + 10),
            (Some(Stage::Notification), T0 + 20),
        ] {
            let change = match stage {
                None => cases.check_awareness(m.clone(), id.clone(), T0, stamp(20, at, "acme")),
                Some(s) => cases.check_report(m.clone(), id.clone(), s, stamp(21, at, "acme")),
            };
            cases.apply(change.expect("stage"));
        }
        let c = cases.get(&m, &id).expect("case");
        let due = c.clock(None, T0)[2].due_at.expect("due");
        // T0 + 20 is 2026-09-21T12:33:40Z; a month later is 2026-10-21, same time.
        assert_eq!(due - (T0 + 20), 30 * 86_400);
    }

    #[test]
    fn a_promise_ending_earlier_than_one_before_it_is_cut_short() {
        let mut s = SupportPeriods::default();
        let d = |x: &str| risk::Date::parse(x).expect("date");
        let p = |entry, end| SupportPromise {
            stamp: stamp(entry, T0, "acme"),
            end: d(end),
            note: None,
        };
        s.promise("model:acme/DC-200".into(), p(1, "2031-12-31"));
        assert!(s.cut_short("model:acme/DC-200").is_none());
        s.promise("model:acme/DC-200".into(), p(2, "2032-12-31"));
        assert!(s.cut_short("model:acme/DC-200").is_none());
        s.promise("model:acme/DC-200".into(), p(3, "2028-06-30"));
        assert_eq!(
            s.cut_short("model:acme/DC-200").map(|p| p.stamp.entry),
            Some(2)
        );
        assert_eq!(
            s.current("model:acme/DC-200").map(|p| p.stamp.entry),
            Some(3)
        );
        for i in 0..100 {
            s.promise("model:acme/DC-200".into(), p(10 + i, "2028-06-30"));
        }
        assert_eq!(s.0["model:acme/DC-200"].len(), SUPPORT_PROMISES_KEPT_MAX);
        assert_eq!(
            s.cut_short("model:acme/DC-200").map(|p| p.stamp.entry),
            Some(2)
        );
    }
}
