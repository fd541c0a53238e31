//! The incremental register agrees with a full build: a generated fleet
//! (product lines of releases whose components drift, release-scoped and
//! device-level VEX, decisions, decommissioned devices, devices on releases
//! without an SBOM) and a sequence of advisory changes (new, updated to a
//! narrower or wider range, withdrawn, a stakeholder's own), each applied
//! with `Engine::update` + `Engine::register_delta`, compared after every
//! step with `build_with` on the same inputs; and the notifications of each
//! delta with those of the full comparison.

use std::collections::{BTreeMap, BTreeSet};

use risk_register::{
    build_with, notifications, notifications_for, Decision, DecisionKind, DeviceFacts, DeviceVex,
    Engine, Register, ReleaseFacts, Snapshot,
};
use twin::statement::{SbomComponent, VexStatus};
use vuln::index::AdvisoryIndex;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PACKAGES: u64 = 12;
const MODELS: [&str; 3] = ["model:acme/A", "model:acme/B", "model:globex/C"];
const CLEAN: &str = "model:initech/D";
const VECTORS: [&str; 4] = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:N",
    "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
];

fn osv(
    id: &str,
    package: u64,
    fixed_minor: u64,
    vector: &str,
    modified: &str,
    withdrawn: bool,
) -> String {
    let withdrawn = if withdrawn {
        r#""withdrawn": "2026-12-01T00:00:00Z","#
    } else {
        ""
    };
    format!(
        r#"{{"schema_version":"1.6.0","id":"{id}","published":"2026-10-01T00:00:00Z","modified":"{modified}",{withdrawn}
        "summary":"flaw in p{package}","severity":[{{"type":"CVSS_V3","score":"{vector}"}}],
        "affected":[{{"package":{{"ecosystem":"Generic","name":"p{package}","purl":"pkg:generic/p{package}"}},
        "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"1.{fixed_minor}.0"}}]}}]}}]}}"#
    )
}

fn add(index: &mut AdvisoryIndex, json: &str) {
    for a in vuln_formats::osv::parse(json.as_bytes()).expect("osv parses") {
        index.replace(&a);
    }
}

fn snapshot(rng: &mut Rng) -> Snapshot {
    let mut releases = Vec::new();
    for model in MODELS {
        let manufacturer = if model.contains("globex") {
            "globex"
        } else {
            "acme"
        };
        let mut versions: Vec<u64> = (0..PACKAGES).map(|_| rng.below(4)).collect();
        for v in 0..6 {
            for x in &mut versions {
                if rng.below(3) == 0 {
                    *x += 1;
                }
            }
            let components = (0..PACKAGES)
                .filter(|p| (p + v) % 4 != 0)
                .map(|p| SbomComponent {
                    name: format!("p{p}"),
                    group: None,
                    version: Some(format!("1.{}.0", versions[p as usize])),
                    purl: Some(format!("pkg:generic/p{p}@1.{}.0", versions[p as usize])),
                    cpe: Vec::new(),
                    sha256: None,
                })
                .collect();
            releases.push(ReleaseFacts {
                model: model.to_string(),
                version: format!("2.{v}.0"),
                manufacturer: manufacturer.to_string(),
                // The last release of each line has no SBOM yet.
                components: (v < 5).then_some(components),
            });
        }
    }
    // A line no random advisory reaches: its releases are exposed only by
    // the `CLEAN-` advisories, which come and go (a release and its
    // devices become exposed, then clear).
    for v in 0..3u64 {
        releases.push(ReleaseFacts {
            model: CLEAN.to_string(),
            version: format!("2.{v}.0"),
            manufacturer: "initech".to_string(),
            components: Some(
                [(100, 0), (101, v)]
                    .iter()
                    .map(|(p, minor)| SbomComponent {
                        name: format!("p{p}"),
                        group: None,
                        version: Some(format!("1.{minor}.0")),
                        purl: Some(format!("pkg:generic/p{p}@1.{minor}.0")),
                        cpe: Vec::new(),
                        sha256: None,
                    })
                    .collect(),
            ),
        });
    }
    let mut devices = Vec::new();
    for d in 0..90u64 {
        let mut model = MODELS[rng.below(3) as usize];
        if d % 9 == 4 {
            model = CLEAN;
        }
        let manufacturer = if model.contains("globex") {
            "globex"
        } else if model == CLEAN {
            "initech"
        } else {
            "acme"
        };
        let firmware = (d % 17 != 0).then(|| format!("2.{}.0", rng.below(6)));
        let firmware = if model == CLEAN {
            Some(format!("2.{}.0", d % 3))
        } else {
            firmware
        };
        let mut facts = DeviceFacts {
            device: format!("dev-{d:03}"),
            model: Some(model.to_string()),
            manufacturer: manufacturer.to_string(),
            owner: Some("owner".into()),
            operator: (d % 3 == 0).then(|| "operator".to_string()),
            maintainer: None,
            site: Some(format!("site-{}", d % 4)),
            firmware,
            ai_model: None,
            firmware_status: Some("agreed".into()),
            decommissioned: d % 23 == 0,
            vex: BTreeMap::new(),
            decisions: BTreeMap::new(),
            findings: Vec::new(),
        };
        // Posture findings on some devices (a decision on one of them): a
        // vulnerability delta keeps them as they are.
        if d % 5 == 0 {
            for (rule, severity) in [
                ("POSTURE-NO-SECURE-BOOT", risk::Severity::High),
                ("LOGGING_DISABLED_CHECK", risk::Severity::Low),
            ]
            .iter()
            .take(1 + (d % 2) as usize)
            {
                facts.findings.push(risk_register::PostureFinding {
                    rule: rule.to_string(),
                    title: rule.to_string(),
                    severity: *severity,
                    cvss: None,
                });
            }
        }
        if d % 10 == 0 {
            facts.decisions.insert(
                "posture/POSTURE-NO-SECURE-BOOT".into(),
                Decision {
                    entry: d,
                    issuer: "owner".into(),
                    kind: DecisionKind::Mitigated {
                        how: "sealed".into(),
                    },
                },
            );
        }
        if d % 7 == 0 {
            facts.vex.insert(
                format!("OSV-{}", rng.below(20)),
                DeviceVex {
                    entry: d,
                    issuer: "operator".into(),
                    status: VexStatus::NotAffected,
                    justification: Some("vulnerable_code_not_in_execute_path".into()),
                    agreed: true,
                },
            );
        }
        if d % 11 == 0 {
            facts.decisions.insert(
                format!("vuln/OSV-{}", rng.below(20)),
                Decision {
                    entry: d,
                    issuer: "operator".into(),
                    kind: DecisionKind::Accepted {
                        rationale: "air-gapped".into(),
                        until: None,
                    },
                },
            );
        }
        devices.push(facts);
    }
    let mut release_vex = BTreeMap::new();
    release_vex.insert(
        MODELS[0].to_string(),
        vec![twin::projection::ReleaseVex {
            entry: 1,
            issuer: twin::StakeholderId("acme".into()),
            release: "2.1.0".into(),
            vulnerability: "OSV-3".into(),
            status: VexStatus::NotAffected,
            justification: Some("component_not_present".into()),
            component: None,
            impact: None,
        }],
    );
    Snapshot {
        ssvc_statements: std::sync::Arc::default(),
        today: risk::Date::parse("2026-12-05").expect("date"),
        policy: risk::DeadlinePolicy::default(),
        releases,
        devices,
        release_vex,
        release_plans: BTreeMap::new(),
        model_risks: BTreeMap::new(),
        exploitation: std::sync::Arc::default(),
        mission: vuln::exploit::MissionWellbeing::Medium,
        missions: Default::default(),
        discovered: std::sync::Arc::default(),
    }
}

/// The summary's counts from every risk, device risks derived one by one.
fn brute_counts(reg: &Register) -> risk_register::Summary {
    use std::collections::HashSet;
    let today = reg.day();
    let mut s = risk_register::Summary {
        devices: reg.summary.devices,
        devices_assessed: reg.summary.devices_assessed,
        releases_assessed: reg.summary.releases_assessed,
        ..Default::default()
    };
    let (mut devices, mut releases, mut vulns) = (HashSet::new(), HashSet::new(), HashSet::new());
    for r in reg.iter() {
        *s.by_status
            .entry(r.status.as_str().to_string())
            .or_default() += 1;
        if !r.status.is_unresolved() {
            continue;
        }
        *s.open_by_severity
            .entry(r.severity.as_str().to_string())
            .or_default() += 1;
        if r.overdue {
            s.overdue += 1;
        } else if let Some(d) = r.deadline.date {
            if today.days_until(d) <= i64::from(risk_register::APPROACHING_DAYS_DEFAULT) {
                s.due_soon += 1;
            }
        }
        match r.kind {
            risk_register::RiskKind::DeviceVulnerability => {
                devices.insert(r.device.clone());
            }
            risk_register::RiskKind::ReleaseVulnerability => {
                releases.insert((r.model.clone(), r.release.clone()));
            }
            risk_register::RiskKind::Recorded | risk_register::RiskKind::PostureFinding => {}
        }
        if let Some(v) = &r.vulnerability {
            vulns.insert(v.clone());
        }
    }
    s.devices_exposed = devices.len() as u64;
    s.releases_exposed = releases.len() as u64;
    s.vulnerabilities = vulns.len() as u64;
    s
}

fn sorted_events(mut e: Vec<risk_register::Event>) -> Vec<(String, Vec<String>)> {
    e.sort_by(|a, b| a.id.cmp(&b.id));
    e.into_iter().map(|e| (e.id, e.recipients)).collect()
}

#[test]
fn every_delta_equals_a_full_build() {
    let mut rng = Rng(0x5EC7_3141);
    let snap = snapshot(&mut rng);
    let mut shared = AdvisoryIndex::new();
    for i in 0..20 {
        let p = rng.below(PACKAGES);
        let v = VECTORS[rng.below(4) as usize];
        add(
            &mut shared,
            &osv(
                &format!("OSV-{i}"),
                p,
                1 + rng.below(5),
                v,
                "2026-11-01T00:00:00Z",
                false,
            ),
        );
    }
    let mut own = AdvisoryIndex::new();
    let mut engine = Engine::new(&snap, &shared, &[("acme", &own)]).expect("engine");
    let mut current = engine.register(&snap);
    assert_eq!(
        current,
        build_with(&snap, &shared, &[("acme", &own)]).expect("build")
    );
    assert!(
        current.risks.len() > 50,
        "the fleet is exposed: {}",
        current.risks.len()
    );
    assert!(
        current
            .risks
            .iter()
            .filter(|r| r.kind == risk_register::RiskKind::PostureFinding)
            .count()
            > 5,
        "devices have posture risks"
    );

    let mut steps = 0;
    let mut exposure_moved = 0u32;
    for round in 0..40u64 {
        let id = format!("OSV-{}", rng.below(26));
        let modified = format!("2026-11-{:02}T00:00:00Z", 2 + round % 27);
        let p = rng.below(PACKAGES);
        let v = VECTORS[rng.below(4) as usize];
        let mut changed = BTreeSet::new();
        changed.insert(id.clone());
        match rng.below(4) {
            0 => add(
                &mut shared,
                &osv(&id, p, 1 + rng.below(5), v, &modified, true),
            ),
            1 => add(
                &mut own,
                &osv(&id, p, 1 + rng.below(5), v, &modified, false),
            ),
            _ => add(
                &mut shared,
                &osv(&id, p, 1 + rng.below(5), v, &modified, false),
            ),
        }
        // The clean line's advisories: added, narrowed, withdrawn.
        if round % 3 == 1 {
            let id = format!("CLEAN-{}", round % 2);
            let package = 100 + round % 2;
            let withdrawn = rng.below(3) == 0;
            add(
                &mut shared,
                &osv(
                    &id,
                    package,
                    1 + rng.below(3),
                    VECTORS[1],
                    &modified,
                    withdrawn,
                ),
            );
            changed.insert(id);
        }
        // Sometimes two at once.
        if round % 5 == 0 {
            let other = format!("OSV-{}", rng.below(26));
            add(
                &mut shared,
                &osv(&other, rng.below(PACKAGES), 3, VECTORS[0], &modified, false),
            );
            changed.insert(other);
        }
        let submitted = [("acme", &own)];
        let vulns = engine
            .update(&shared, &submitted, &changed)
            .expect("few changes are evaluated one by one");
        let next = engine.register_delta(&snap, &current, &vulns);
        let full = build_with(&snap, &shared, &submitted).expect("build");
        assert_eq!(
            next.risks.len(),
            full.risks.len(),
            "round {round}: {changed:?}"
        );
        for (a, b) in next.risks.iter().zip(full.risks.iter()) {
            assert_eq!(a, b, "round {round}: {changed:?}");
        }
        assert_eq!(next.vex_state, full.vex_state, "round {round}");
        assert_eq!(next.summary, full.summary, "round {round}");
        assert_eq!(next.summary, brute_counts(&next), "round {round}: counts");
        // The indexes patched by the delta are those of a full build.
        fn keys<'a>(
            l: impl IntoIterator<Item = &'a std::sync::Arc<risk_register::Risk>>,
        ) -> Vec<String> {
            l.into_iter().map(|r| r.key.clone()).collect()
        }
        for r in full.risks.iter().chain(current.risks.iter()) {
            if let Some(d) = &r.device {
                assert_eq!(
                    keys(next.own_risks_of_device(d)),
                    keys(full.own_risks_of_device(d)),
                    "round {round}: {d}"
                );
            }
            if let Some(v) = &r.vulnerability {
                assert_eq!(
                    keys(next.risks_of_vulnerability(v)),
                    keys(full.risks_of_vulnerability(v)),
                    "round {round}: {v}"
                );
            }
            if let (Some(m), Some(x)) = (&r.model, &r.release) {
                let release = format!("{m}@{x}");
                assert_eq!(
                    keys(next.risks_of_release(&release)),
                    keys(full.risks_of_release(&release)),
                    "round {round}: {release}"
                );
            }
        }
        assert_eq!(next, full, "round {round}");
        assert_eq!(
            sorted_events(notifications_for(&current, &next, &vulns, 7)),
            sorted_events(notifications(&current, &full, 7)),
            "round {round}: {changed:?}"
        );
        if next != current {
            steps += 1;
        }
        // The counts a delta works out from the previous ones moved.
        exposure_moved += u32::from(
            next.summary.releases_exposed != current.summary.releases_exposed
                || next.summary.devices_exposed != current.summary.devices_exposed,
        );
        current = next;
    }
    assert!(steps > 20, "most rounds change the register: {steps}");
    assert!(
        exposure_moved > 3,
        "releases and devices become exposed and cleared: {exposure_moved}"
    );
    assert_eq!(
        risk_register::splice_fallbacks(),
        0,
        "every delta spliced its risks into the list in place"
    );
}

#[test]
fn a_change_reaching_many_devices_is_told_release_by_release() {
    let mut rng = Rng(11);
    let snap = snapshot(&mut rng);
    let mut shared = AdvisoryIndex::new();
    let empty = build_with(&snap, &shared, &[]).expect("build");
    for i in 0..20 {
        add(
            &mut shared,
            &osv(
                &format!("OSV-{i}"),
                i % PACKAGES,
                4,
                VECTORS[0],
                "2026-11-01T00:00:00Z",
                false,
            ),
        );
    }
    let exposed = build_with(&snap, &shared, &[]).expect("build");
    let per_device = risk_register::notifications(&empty, &exposed, 7);
    let device_risks = exposed
        .iter()
        .filter(|r| {
            r.kind == risk_register::RiskKind::DeviceVulnerability && r.status.is_unresolved()
        })
        .count();
    let new_device =
        |e: &&risk_register::Event| e.kind == risk_register::EventKind::NewVulnerableDevice;
    assert_eq!(per_device.iter().filter(new_device).count(), device_risks);
    assert!(device_risks > 10, "{device_risks}");
    let told = risk_register::notifications_limited(&empty, &exposed, 7, 10);
    let releases_reaching_devices = exposed
        .risks
        .iter()
        .filter(|r| {
            r.kind == risk_register::RiskKind::ReleaseVulnerability
                && r.status.is_unresolved()
                && exposed.device_risks(r).next().is_some()
        })
        .count();
    let aggregated: Vec<_> = told.iter().filter(new_device).collect();
    assert_eq!(aggregated.len(), releases_reaching_devices);
    assert!(aggregated.iter().all(|e| e.device.is_none()
        && e.id.ends_with(":devices")
        && e.summary.contains(" devices running ")));
}

#[test]
fn many_changes_are_evaluated_again_in_full() {
    let mut rng = Rng(7);
    let snap = snapshot(&mut rng);
    let mut shared = AdvisoryIndex::new();
    for i in 0..20 {
        add(
            &mut shared,
            &osv(
                &format!("OSV-{i}"),
                i % PACKAGES,
                3,
                VECTORS[0],
                "2026-11-01T00:00:00Z",
                false,
            ),
        );
    }
    let mut engine = Engine::new(&snap, &shared, &[]).expect("engine");
    let before = engine.register(&snap);
    let changed: BTreeSet<String> = (0..100).map(|i| format!("OSV-{i}")).collect();
    for i in 0..100 {
        add(
            &mut shared,
            &osv(
                &format!("OSV-{i}"),
                i % PACKAGES,
                4,
                VECTORS[1],
                "2026-11-02T00:00:00Z",
                false,
            ),
        );
    }
    assert_eq!(engine.update(&shared, &[], &changed), None);
    let expect: Register = build_with(&snap, &shared, &[]).expect("build");
    assert_eq!(engine.register(&snap), expect);
    // The devices unchanged, their table is kept.
    let reusing = engine.register_reusing(&snap, &before);
    assert!(std::sync::Arc::ptr_eq(&reusing.devices, &before.devices));
    assert_ne!(reusing.risks, before.risks, "the change is in it");
    assert_eq!(reusing, expect);
}

/// A chunked list spliced again and again (risks out, risks in, across
/// chunk edges, chunks emptied and overfilled) holds what a plain sorted
/// list holds.
#[test]
fn a_ranked_list_spliced_equals_a_sorted_vector() {
    use risk_register::ranked::Ranked;
    use std::sync::Arc;
    let mut rng = Rng(0xC4A7_2718);
    let snap = snapshot(&mut rng);
    let mut shared = AdvisoryIndex::new();
    add(
        &mut shared,
        &osv("OSV-T", 1, 3, VECTORS[0], "2026-11-01T00:00:00Z", false),
    );
    let template = risk_register::build(&snap, &shared)
        .expect("builds")
        .risks
        .first()
        .map(|r| (**r).clone())
        .expect("a risk");
    let risk = |k: u64| {
        let mut r = template.clone();
        r.key = format!("k{k:06}");
        Arc::new(r)
    };
    fn by_key(a: &risk_register::Risk, b: &risk_register::Risk) -> std::cmp::Ordering {
        a.key.cmp(&b.key)
    }
    let mut reference: Vec<Arc<risk_register::Risk>> = (0..1000).map(|k| risk(k * 10)).collect();
    let mut list = Ranked::from_vec(reference.clone());
    for round in 0..300 {
        // Take out a run (or a scatter) of risks and put in new ones.
        let n = reference.len();
        let out: Vec<usize> = if round % 3 == 0 && n > 0 {
            let start = rng.below(n as u64) as usize;
            (start..(start + 1 + rng.below(80) as usize).min(n)).collect()
        } else {
            let mut v: Vec<usize> = (0..rng.below(20))
                .map(|_| rng.below(n.max(1) as u64) as usize)
                .filter(|&i| i < n)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let old: Vec<&Arc<risk_register::Risk>> =
            out.iter().filter_map(|&i| reference.get(i)).collect();
        let mut fresh: Vec<Arc<risk_register::Risk>> =
            (0..rng.below(if round % 5 == 0 { 150 } else { 15 }))
                .map(|_| risk(rng.below(20_000) * 10 + 1 + round))
                .collect();
        fresh.sort_by(|a, b| by_key(a, b));
        fresh.dedup_by(|a, b| a.key == b.key);
        fresh.retain(|f| !reference.iter().any(|r| r.key == f.key));
        let next = list
            .splice(&old, &fresh, by_key)
            .expect("every old risk is found");
        let mut expected: Vec<Arc<risk_register::Risk>> = reference
            .iter()
            .enumerate()
            .filter(|(i, _)| !out.contains(i))
            .map(|(_, r)| r.clone())
            .collect();
        expected.extend(fresh.iter().cloned());
        expected.sort_by(|a, b| by_key(a, b));
        assert_eq!(next.len(), expected.len(), "round {round}");
        assert!(
            next.iter().zip(&expected).all(|(a, b)| Arc::ptr_eq(a, b)),
            "round {round}: the spliced list differs"
        );
        reference = expected;
        list = next;
    }
    // A risk not in the list is not found: the caller falls back.
    let stranger = risk(3);
    assert!(list.splice(&[&stranger], &[], by_key).is_none());
}

/// Exploitation changes (known-exploited listings, EPSS scores, the
/// manufacturers' SSVC statements) applied with
/// `Engine::register_reprioritized` give the register a full build gives:
/// few changed risks spliced into place, many re-sorted; nothing else of
/// the register is made again, and the notifications of the changed
/// vulnerabilities are those of the full comparison.
#[test]
fn exploitation_changes_reprioritize_like_a_full_build() {
    use vuln::exploit::{EpssFacts, ExploitIndex, KevFacts};
    let mut rng = Rng(0xE9_55);
    let mut snap = snapshot(&mut rng);
    // Listed vulnerabilities get a deadline of their own: a listing moves
    // deadlines, and with them the counts of what is due.
    snap.policy.kev_days = Some(3);
    let mut shared = AdvisoryIndex::new();
    for i in 0..40 {
        add(
            &mut shared,
            &osv(
                &format!("OSV-{i}"),
                rng.below(PACKAGES),
                1 + rng.below(5),
                VECTORS[rng.below(4) as usize],
                "2026-11-01T00:00:00Z",
                false,
            ),
        );
    }
    let engine = Engine::new(&snap, &shared, &[]).expect("engine");
    let mut current = engine.register(&snap);
    let mut exploitation = ExploitIndex::new();
    let (mut spliced, mut resorted, mut unchanged) = (0, 0, 0);
    for round in 0..30u64 {
        // Few (one listing) or many (a day of scores for every one).
        let many = round % 3 == 2;
        let touched: Vec<u64> = if many {
            (0..40).collect()
        } else {
            vec![rng.below(40)]
        };
        let ids: BTreeSet<String> = touched.iter().map(|i| format!("OSV-{i}")).collect();
        for i in touched {
            let id = format!("OSV-{i}");
            let facts = exploitation.entry(&id);
            match rng.below(4) {
                0 => facts.kev = vec![],
                1 => {
                    facts.kev = vec![KevFacts {
                        list: "cisa-kev".into(),
                        date_added: "2026-11-20".into(),
                        due_date: format!("2026-12-{:02}", 1 + rng.below(28)),
                        ransomware: rng.below(2) == 0,
                        required_action: "patch".into(),
                    }]
                }
                _ => {
                    facts.epss = Some(EpssFacts {
                        score: rng.below(1000) as f64 / 1000.0,
                        percentile: 0.5,
                        day: 20_400 + round as i32,
                        previous: None,
                    })
                }
            }
        }
        snap.exploitation = std::sync::Arc::new(exploitation.clone());
        // Now and then a manufacturer states SSVC inputs.
        let statement = round % 7 == 3;
        if statement {
            let r = &snap.releases[rng.below(snap.releases.len() as u64) as usize];
            let mut statements = (*snap.ssvc_statements).clone();
            statements.insert(
                (
                    r.manufacturer.clone(),
                    risk_register::cra::product_of(&r.model).to_string(),
                    format!("OSV-{}", rng.below(40)),
                ),
                risk_register::SsvcStatement {
                    entry: round,
                    exploitation: Some(vuln::exploit::Exploitation::Active),
                    automatable: Some(vuln::exploit::Automatable::Yes),
                    technical_impact: Some(vuln::exploit::TechnicalImpact::Total),
                },
            );
            snap.ssvc_statements = std::sync::Arc::new(statements);
        }
        let full = build_with(&snap, &shared, &[]).expect("build");
        // What changed is known for a few listings; a day of scores or a
        // statement looks at every risk.
        let only = (!many && !statement).then_some(&ids);
        let Some((next, vulns)) = engine.register_reprioritized(&snap, &current, only) else {
            assert_eq!(current, full, "round {round}: nothing changed");
            unchanged += 1;
            continue;
        };
        // Risks whose priority did not change are the same risks.
        let replaced = current
            .risks
            .iter()
            .filter(|r| !next.risks.iter().any(|n| std::sync::Arc::ptr_eq(n, r)))
            .count();
        assert!(replaced > 0, "round {round}");
        assert!(
            replaced < current.risks.len() || many,
            "round {round}: a single listing replaced every risk"
        );
        if replaced * 10 > current.risks.len() {
            resorted += 1;
        } else {
            spliced += 1;
        }
        assert!(std::sync::Arc::ptr_eq(&next.devices, &current.devices));
        for (a, b) in next.risks.iter().zip(full.risks.iter()) {
            assert_eq!(a, b, "round {round}");
        }
        for r in full.risks.iter() {
            if let Some(v) = &r.vulnerability {
                let keys = |l: &[std::sync::Arc<risk_register::Risk>]| {
                    l.iter().map(|r| r.key.clone()).collect::<Vec<_>>()
                };
                assert_eq!(
                    keys(next.risks_of_vulnerability(v)),
                    keys(full.risks_of_vulnerability(v)),
                    "round {round}: {v}"
                );
            }
            if let (Some(m), Some(x)) = (&r.model, &r.release) {
                let release = format!("{m}@{x}");
                let a: Vec<_> = next
                    .risks_of_release(&release)
                    .iter()
                    .map(|r| r.key.clone())
                    .collect();
                let b: Vec<_> = full
                    .risks_of_release(&release)
                    .iter()
                    .map(|r| r.key.clone())
                    .collect();
                assert_eq!(a, b, "round {round}: {release}");
            }
        }
        assert_eq!(next.summary, brute_counts(&next), "round {round}: counts");
        assert_eq!(next, full, "round {round}");
        assert_eq!(
            sorted_events(notifications_for(&current, &next, &vulns, 7)),
            sorted_events(notifications(&current, &full, 7)),
            "round {round}"
        );
        current = next;
    }
    assert!(
        spliced > 3 && resorted > 3,
        "both ways taken: {spliced} spliced, {resorted} re-sorted, {unchanged} unchanged"
    );
    assert_eq!(risk_register::splice_fallbacks(), 0);
}
