//! Re-prioritizing a register when only what is known about exploitation
//! changed (a known-exploited list, a day of EPSS scores, the
//! manufacturers' SSVC statements): no risk is assembled again, only the
//! fields that follow from exploitation are worked out for each release
//! risk; a risk whose fields did not change is kept as it was, and the
//! order, the indexes and the counts are made again only as far as the
//! changed risks reach.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use vuln::exploit::{ExploitFacts, MissionWellbeing, Priority, SsvcInputs};

use super::{
    indexed_and_counted, join, policy_for, risk_order, spliced, threads, Advised, Engine, Exposure,
};
use crate::{Devices, Register, ReleaseFacts, Risk, RiskKind, Snapshot};

/// Changed risks above this share of the register (in percent) re-sort the
/// whole list rather than splice each into place.
const SPLICE_PERCENT_MAX: usize = 10;
/// Fewer risks than this per thread are re-prioritized on one.
const RISKS_PER_THREAD_MIN: usize = 256;

/// What the vulnerability risks of one release share when their priority
/// is worked out.
pub(super) struct Terms<'a> {
    release: &'a ReleaseFacts,
    /// The product the manufacturers' SSVC statements name.
    product: &'a str,
    policy: risk::DeadlinePolicy,
    /// SSVC's Mission & Well-being: the highest stated for a device on the
    /// release, else the snapshot's.
    mission: MissionWellbeing,
}

impl<'a> Terms<'a> {
    pub(super) fn of(
        snapshot: &Snapshot,
        release: &'a ReleaseFacts,
        key: &str,
        devices: &Devices,
    ) -> Terms<'a> {
        let subject_model =
            crate::split_ai_line(&release.model).map_or(release.model.as_str(), |(m, _)| m);
        Terms {
            release,
            product: crate::cra::product_of(subject_model),
            policy: policy_for(snapshot, &release.model),
            mission: devices.mission_on(key).unwrap_or(snapshot.mission),
        }
    }
}

/// What an advisory's risks share when no manufacturer's statement applies
/// (its exploitation facts, whether it is listed, its SSVC inputs), by the
/// address of its [`Advised`].
#[derive(Default)]
struct AdvisoryFacts(HashMap<usize, AdvisoryShared>);

type AdvisoryShared = (Option<Arc<ExploitFacts>>, bool, Option<Arc<SsvcInputs>>);

/// `a`'s exploitation facts, whether it is listed, and its SSVC inputs
/// (CISA's, with the manufacturer of `terms`'s release's statement over
/// them).
fn advisory_facts(snapshot: &Snapshot, terms: &Terms<'_>, a: &Advised) -> AdvisoryShared {
    let exploit = a.exploit(snapshot);
    let kev = a.kev || exploit.as_ref().is_some_and(|f| !f.kev.is_empty());
    let stated = if snapshot.ssvc_statements.is_empty() {
        None
    } else {
        a.ids.iter().find_map(|id| {
            snapshot.ssvc_statements.get(&(
                terms.release.manufacturer.clone(),
                terms.product.to_string(),
                id.to_string(),
            ))
        })
    };
    let ssvc_inputs = crate::merge_ssvc(a.ssvc.as_ref(), stated, kev).map(Arc::new);
    (exploit, kev, ssvc_inputs)
}

/// The fields of a release risk that follow from what is known about the
/// exploitation of its vulnerability.
pub(super) struct Prioritized {
    pub(super) exploit: Option<Arc<ExploitFacts>>,
    pub(super) kev: bool,
    pub(super) ssvc_inputs: Option<Arc<SsvcInputs>>,
    pub(super) priority: Priority,
    pub(super) deadline: risk::Deadline,
}

impl Prioritized {
    /// The fields of a risk of `a` on the release of `terms`, first known
    /// on `discovered`.
    pub(super) fn of(
        snapshot: &Snapshot,
        terms: &Terms<'_>,
        a: &Advised,
        discovered: risk::Date,
    ) -> Prioritized {
        let facts = advisory_facts(snapshot, terms, a);
        Prioritized::with(facts, terms, a, discovered)
    }

    /// As [`Prioritized::of`], what `a`'s risks share worked out once per
    /// advisory in `shared` while no manufacturer's SSVC statement can apply
    /// (the usual case: then only the mission, the deadline and the
    /// priority differ from risk to risk).
    fn of_shared(
        snapshot: &Snapshot,
        terms: &Terms<'_>,
        a: &Arc<Advised>,
        discovered: risk::Date,
        shared: &mut AdvisoryFacts,
    ) -> Prioritized {
        let facts = if snapshot.ssvc_statements.is_empty() {
            shared
                .0
                .entry(Arc::as_ptr(a) as usize)
                .or_insert_with(|| advisory_facts(snapshot, terms, a))
                .clone()
        } else {
            advisory_facts(snapshot, terms, a)
        };
        Prioritized::with(facts, terms, a, discovered)
    }

    /// The fields of a risk of `a` with `facts` (see [`advisory_facts`]).
    fn with(
        (exploit, kev, ssvc_inputs): AdvisoryShared,
        terms: &Terms<'_>,
        a: &Advised,
        discovered: risk::Date,
    ) -> Prioritized {
        let priority = Priority::of(
            exploit.as_deref(),
            ssvc_inputs.as_deref(),
            terms.mission,
            a.score,
        );
        let deadline = terms.policy.deadline_of(a.severity, discovered, kev);
        Prioritized {
            exploit,
            kev,
            ssvc_inputs,
            priority,
            deadline,
        }
    }

    /// Whether `risk` has these fields already.
    fn same_as(&self, risk: &Risk) -> bool {
        risk.kev == self.kev
            && risk.priority == self.priority
            && risk.deadline == self.deadline
            && risk.ssvc_inputs == self.ssvc_inputs
            && risk.exploit == self.exploit
    }

    /// `risk` with these fields, on `today`.
    fn applied(self, risk: &Risk, today: risk::Date) -> Risk {
        Risk {
            kev: self.kev,
            ssvc: self.priority.ssvc,
            ssvc_inputs: self.ssvc_inputs,
            priority: self.priority,
            exploit: self.exploit,
            deadline_status: self.deadline.status(today),
            overdue: risk.status.is_unresolved() && self.deadline.is_overdue(today),
            deadline: self.deadline,
            ..risk.clone()
        }
    }
}

impl Engine {
    /// The register of `snapshot` when only what is known about
    /// exploitation differs from what `previous` (built by this engine from
    /// the same twins, on the same day) was built with: each release risk's
    /// exploitation-driven fields are worked out again, and only the risks
    /// whose fields changed are replaced. A few are spliced into place; many
    /// re-sort the list. `only`: the vulnerabilities whose facts changed,
    /// when known (their risks alone are looked at), else every release
    /// risk is. Also answers the vulnerabilities whose risks changed;
    /// `None` when no risk changed.
    pub fn register_reprioritized(
        &self,
        snapshot: &Snapshot,
        previous: &Register,
        only: Option<&BTreeSet<String>>,
    ) -> Option<(Register, BTreeSet<String>)> {
        let changed = match only {
            Some(vulnerabilities) => self.reprioritized_only(snapshot, previous, vulnerabilities),
            None => self.reprioritized(snapshot, previous),
        };
        let vulnerabilities: BTreeSet<String> = changed
            .values()
            .filter_map(|r| r.vulnerability.as_deref().map(str::to_string))
            .collect();
        if changed.is_empty() {
            return None;
        }
        if changed.len() * 100 > previous.risks.len() * SPLICE_PERCENT_MAX {
            return Some((resorted(previous, &changed), vulnerabilities));
        }
        let mut fresh: Vec<Arc<Risk>> = vulnerabilities
            .iter()
            .flat_map(|v| previous.risks_of_vulnerability(v))
            .map(|r| changed.get(&address(r)).unwrap_or(r).clone())
            .collect();
        fresh.sort_by(|a, b| risk_order(a, b));
        let register = spliced(
            previous,
            &vulnerabilities,
            fresh,
            previous.vex_state.clone(),
        );
        Some((register, vulnerabilities))
    }

    /// The release risks of `previous` whose exploitation-driven fields
    /// differ in `snapshot`, made again, by the address of the old risk.
    fn reprioritized(&self, snapshot: &Snapshot, previous: &Register) -> HashMap<usize, Arc<Risk>> {
        let releases: Vec<(&String, &crate::ranked::Ranked)> = previous
            .indexes
            .by_release
            .iter()
            .map(|(k, v)| (k, &**v))
            .collect();
        let chunk = releases.len().div_ceil(threads()).max(1);
        let parts = std::thread::scope(|scope| {
            let handles: Vec<_> = releases
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut changed = Vec::new();
                        let mut shared = AdvisoryFacts::default();
                        for (key, risks) in part {
                            self.release_reprioritized(
                                snapshot,
                                key,
                                risks,
                                previous,
                                &mut shared,
                                &mut changed,
                            );
                        }
                        changed
                    })
                })
                .collect();
            handles.into_iter().map(join).collect::<Vec<_>>()
        });
        parts.into_iter().flatten().collect()
    }

    /// As [`Engine::reprioritized`], the risks of `vulnerabilities` alone.
    fn reprioritized_only(
        &self,
        snapshot: &Snapshot,
        previous: &Register,
        vulnerabilities: &BTreeSet<String>,
    ) -> HashMap<usize, Arc<Risk>> {
        let risks: Vec<&Arc<Risk>> = vulnerabilities
            .iter()
            .flat_map(|v| previous.risks_of_vulnerability(v))
            .collect();
        let parts = super::in_parts(&risks, RISKS_PER_THREAD_MIN, |part| {
            let mut changed = Vec::new();
            let mut shared = AdvisoryFacts::default();
            for r in part {
                let Some(key) = crate::devices::release_key_of(r) else {
                    continue;
                };
                if let Some((by_vuln, terms)) = self.release_terms(snapshot, &key, previous) {
                    reprioritize_into(snapshot, &terms, by_vuln, r, &mut shared, &mut changed);
                }
            }
            changed
        });
        parts.into_iter().flatten().collect()
    }

    /// The exposures of release `key` and what its risks share.
    fn release_terms<'s>(
        &'s self,
        snapshot: &'s Snapshot,
        key: &str,
        previous: &Register,
    ) -> Option<(&'s BTreeMap<String, Exposure>, Terms<'s>)> {
        let by_vuln = self.exposures.get(key)?;
        let release = snapshot.releases.get(*self.assessed.get(key)?)?;
        Some((
            by_vuln,
            Terms::of(snapshot, release, key, &previous.devices),
        ))
    }

    /// The risks of release `key` (`risks`, from `previous`) whose fields
    /// changed, made again into `changed`.
    fn release_reprioritized(
        &self,
        snapshot: &Snapshot,
        key: &str,
        risks: &crate::ranked::Ranked,
        previous: &Register,
        shared: &mut AdvisoryFacts,
        changed: &mut Vec<(usize, Arc<Risk>)>,
    ) {
        let Some((by_vuln, terms)) = self.release_terms(snapshot, key, previous) else {
            return;
        };
        for r in risks.iter() {
            reprioritize_into(snapshot, &terms, by_vuln, r, shared, changed);
        }
    }
}

/// Release risk `r` (on the release of `terms`, whose exposures are
/// `by_vuln`) made again into `changed` if its fields changed.
fn reprioritize_into(
    snapshot: &Snapshot,
    terms: &Terms<'_>,
    by_vuln: &BTreeMap<String, Exposure>,
    r: &Arc<Risk>,
    shared: &mut AdvisoryFacts,
    changed: &mut Vec<(usize, Arc<Risk>)>,
) {
    if r.kind != RiskKind::ReleaseVulnerability {
        return;
    }
    let (Some(v), Some(discovered)) = (&r.vulnerability, r.discovered) else {
        return;
    };
    let Some(e) = by_vuln.get(&**v) else { return };
    let p = Prioritized::of_shared(snapshot, terms, &e.advised, discovered, shared);
    if !p.same_as(r) {
        changed.push((address(r), Arc::new(p.applied(r, snapshot.today))));
    }
}

/// A risk's address: which risk of the previous register a changed one
/// replaces.
fn address(r: &Arc<Risk>) -> usize {
    Arc::as_ptr(r) as usize
}

/// `previous` with `changed` (by the address of the risk each replaces)
/// and its list sorted again: sorted in parts side by side, then merged.
fn resorted(previous: &Register, changed: &HashMap<usize, Arc<Risk>>) -> Register {
    let all: Vec<Arc<Risk>> = previous
        .risks
        .iter()
        .map(|r| changed.get(&address(r)).unwrap_or(r).clone())
        .collect();
    let chunk = all.len().div_ceil(threads()).max(1);
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut part = part.to_vec();
                    part.sort_by(|a, b| risk_order(a, b));
                    part
                })
            })
            .collect();
        handles.into_iter().map(join).collect::<Vec<_>>()
    });
    drop(all);
    let mut risks = Vec::new();
    for part in parts {
        risks = super::merge_sorted(risks.into_iter(), part);
    }
    let mut register = Register {
        today: previous.today.clone(),
        risks: crate::ranked::Ranked::from_vec(risks),
        unassessed: previous.unassessed.clone(),
        vex_state: previous.vex_state.clone(),
        summary: crate::Summary {
            devices: previous.summary.devices,
            devices_assessed: previous.summary.devices_assessed,
            releases_assessed: previous.summary.releases_assessed,
            ..crate::Summary::default()
        },
        indexes: crate::Indexes::default(),
        devices: previous.devices.clone(),
        deadlines: previous.deadlines.clone(),
    };
    indexed_and_counted(&mut register);
    register
}
