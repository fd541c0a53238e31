//! Fleet exposure on a small fleet: views by device, release and
//! vulnerability, the summary, VEX inheritance across the releases of a
//! product line (inherited while the component is unchanged, by identity or
//! digest, not after it changes), and the impact of one advisory equal to
//! the full evaluation restricted to it, for every advisory (property).

use vuln::exposure::{ComponentSelector, Fleet, FleetBuilder, FleetError, ReleaseId, ScopedVex};
use vuln::index::AdvisoryIndex;
use vuln::matcher::MatchRule;
use vuln_formats::model::{
    Advisory, AdvisoryFormat, Affected, Bound, Component, ComponentKind, Cpe, Digest,
    Justification, PackageId, Purl, ScorePublisher, Severity, SeverityScheme, VersionRange,
    VexStatus, VulnId,
};

fn comp(name: &str, version: &str) -> Component {
    Component {
        bom_ref: None,
        kind: ComponentKind::Library,
        name: name.into(),
        group: None,
        version: Some(version.into()),
        supplier: None,
        purl: None,
        cpes: Vec::new(),
        hashes: Vec::new(),
    }
}

fn purl_comp(purl: &str) -> Component {
    let mut c = comp("", "");
    c.version = None;
    c.name = purl
        .rsplit('/')
        .next()
        .unwrap_or("")
        .split('@')
        .next()
        .unwrap_or("")
        .into();
    c.purl = Some(Purl::new(purl).expect("purl"));
    c
}

fn cpe_comp(cpe: &str) -> Component {
    let mut c = comp("x", "");
    c.version = None;
    c.cpes = vec![Cpe::new(cpe).expect("cpe")];
    c
}

fn with_digest(mut c: Component, hex: &str) -> Component {
    c.hashes = vec![Digest::new("SHA-256", hex).expect("digest")];
    c
}

fn advisory(id: &str, vector: &str, affected: Vec<Affected>) -> Advisory {
    Advisory {
        id: VulnId::new(id).expect("id"),
        aliases: Vec::new(),
        source: AdvisoryFormat::Osv,
        published: None,
        modified: None,
        withdrawn: None,
        summary: None,
        description: None,
        cwes: Vec::new(),
        references: Vec::new(),
        severities: vec![Severity {
            scheme: SeverityScheme::from_vector(vector),
            vector: vector.into(),
            score: None,
            publisher: ScorePublisher::Publisher(None),
        }],
        cisa_adp: None,
        affected,
        dropped: Vec::new(),
    }
}

fn entry(package: PackageId, scheme: &str, from: Option<&str>, fixed: &str) -> Affected {
    let mut a = Affected::new(vec![package]);
    a.ranges = vec![VersionRange {
        scheme: scheme.into(),
        introduced: from.map(Bound::including),
        end: Some(Bound::excluding(fixed)),
    }];
    a
}

fn rid(s: &str) -> ReleaseId {
    ReleaseId::new(s).expect("release id")
}

const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:N";

fn index() -> AdvisoryIndex {
    let mut index = AdvisoryIndex::new();
    let report = index.import([
        // openssl by name only (firmware SBOMs), generic versions.
        Ok::<_, String>(advisory(
            "CVE-2099-0001",
            CRITICAL,
            vec![entry(
                PackageId::VendorProduct {
                    vendor: "openssl".into(),
                    product: "openssl".into(),
                },
                "custom",
                Some("3.0.0"),
                "3.0.14",
            )],
        )),
        // lodash by purl.
        Ok(advisory(
            "GHSA-aaaa-bbbb-cccc",
            MEDIUM,
            vec![entry(
                PackageId::Purl {
                    purl: Purl::new("pkg:npm/lodash").expect("purl"),
                },
                "SEMVER",
                None,
                "4.17.21",
            )],
        )),
        // busybox by CPE.
        Ok(advisory(
            "CVE-2099-0002",
            MEDIUM,
            vec![entry(
                PackageId::Cpe {
                    cpe: Cpe::new("cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*").expect("cpe"),
                },
                "custom",
                None,
                "1.36.0",
            )],
        )),
        // Matches nothing in the fleet.
        Ok(advisory(
            "CVE-2099-0003",
            CRITICAL,
            vec![entry(
                PackageId::Name {
                    name: "nothing-here".into(),
                },
                "custom",
                None,
                "9",
            )],
        )),
    ]);
    assert_eq!(report.new, 4);
    index
}

/// Line `gw`: 1.0 → 1.1 (openssl unchanged, lodash fixed) → 1.2 (openssl
/// changed, still affected). Line `cam`: one release. Devices: 3 on gw-1.0,
/// 2 on gw-1.1, 1 on gw-1.2, 4 on cam-1.
fn fleet(vex: Vec<ScopedVex>) -> Fleet {
    let busybox = cpe_comp("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*");
    let mut b = FleetBuilder::new();
    let releases: [(&str, &str, Vec<Component>); 4] = [
        (
            "gw-1.0",
            "gw",
            vec![
                with_digest(comp("openssl", "3.0.1"), "aa11"),
                purl_comp("pkg:npm/lodash@4.17.20"),
                busybox.clone(),
            ],
        ),
        (
            "gw-1.1",
            "gw",
            vec![
                with_digest(comp("openssl", "3.0.1"), "aa11"),
                purl_comp("pkg:npm/lodash@4.17.21"),
                busybox.clone(),
            ],
        ),
        (
            "gw-1.2",
            "gw",
            vec![
                with_digest(comp("openssl", "3.0.13"), "bb22"),
                purl_comp("pkg:npm/lodash@4.17.21"),
                busybox,
            ],
        ),
        (
            "cam-1",
            "cam",
            vec![comp("OpenSSL", "3.0.2"), comp("fw-blob", "7")],
        ),
    ];
    for (id, line, comps) in releases {
        b.add_release_components(rid(id), line, &comps)
            .expect("release");
    }
    for (i, r) in [
        "gw-1.0", "gw-1.0", "gw-1.0", "gw-1.1", "gw-1.1", "gw-1.2", "cam-1", "cam-1", "cam-1",
        "cam-1",
    ]
    .iter()
    .enumerate()
    {
        b.add_device(&format!("d{i}"), &rid(r)).expect("device");
    }
    for v in vex {
        b.add_vex(v).expect("vex");
    }
    b.build()
}

fn vex(
    release: &str,
    vuln: &str,
    component: Option<ComponentSelector>,
    status: VexStatus,
) -> ScopedVex {
    ScopedVex {
        release: rid(release),
        vulnerability: VulnId::new(vuln).expect("id"),
        component,
        status,
        justification: (status == VexStatus::NotAffected)
            .then_some(Justification::VulnerableCodeNotInExecutePath),
        impact_statement: None,
        stakeholder: "maker.example".into(),
    }
}

#[test]
fn exposures_by_device_release_and_vulnerability() {
    let index = index();
    let fleet = fleet(Vec::new());
    assert_eq!(fleet.distinct_component_count(), 7);
    let eval = fleet.evaluate(&index);

    let (release, exposures) = eval.by_device("d0").expect("device");
    assert_eq!(release.as_str(), "gw-1.0");
    let mut got: Vec<(String, MatchRule)> = exposures
        .iter()
        .map(|e| (e.vulnerability().as_str().to_string(), e.matched.rule))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("CVE-2099-0001".to_string(), MatchRule::NameVersion),
            ("CVE-2099-0002".to_string(), MatchRule::Cpe),
            ("GHSA-aaaa-bbbb-cccc".to_string(), MatchRule::Purl),
        ]
    );
    assert_eq!(
        eval.by_release(&rid("gw-1.1")).len(),
        2,
        "lodash fixed in 1.1"
    );
    assert!(eval.by_device("nobody").is_none());

    let openssl = eval
        .by_vulnerability(&VulnId::new("CVE-2099-0001").expect("id"))
        .expect("exposes");
    let releases: Vec<&str> = openssl.releases.iter().map(|r| r.as_str()).collect();
    assert_eq!(releases, ["gw-1.0", "gw-1.1", "gw-1.2", "cam-1"]);
    assert_eq!(openssl.device_count, 10);
    assert_eq!(
        openssl.worst_score.map(|s| s.to_string()),
        Some("9.8".into())
    );
    let lodash = eval
        .by_vulnerability(&VulnId::new("GHSA-aaaa-bbbb-cccc").expect("id"))
        .expect("exposes");
    assert_eq!(lodash.device_count, 3);
    assert!(eval
        .by_vulnerability(&VulnId::new("CVE-2099-0003").expect("id"))
        .is_none());
    // Worst first.
    assert_eq!(
        eval.vulnerabilities()[0].advisory.id().as_str(),
        "CVE-2099-0001"
    );

    let s = eval.summary();
    assert_eq!(
        (s.exposed_devices, s.exposed_releases, s.exposed_pairs),
        (10, 4, 8)
    );
    let critical = &s.by_severity[0];
    assert_eq!(
        (
            critical.vulnerabilities,
            critical.release_pairs,
            critical.devices
        ),
        (1, 4, 10)
    );
}

fn vex_of<'a>(
    eval: &'a vuln::exposure::Evaluation<'a>,
    release: &str,
    vuln: &str,
) -> Option<(VexStatus, String, bool)> {
    eval.by_release(&rid(release))
        .into_iter()
        .find(|e| e.vulnerability().as_str() == vuln)
        .and_then(|e| e.vex)
        .map(|v| (v.status, v.from_release.as_str().to_string(), v.inherited))
}

#[test]
fn vex_is_inherited_while_the_component_is_unchanged() {
    let index = index();
    let openssl = ComponentSelector::Name {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
    };
    let fleet = fleet(vec![vex(
        "gw-1.0",
        "CVE-2099-0001",
        Some(openssl),
        VexStatus::NotAffected,
    )]);
    let eval = fleet.evaluate(&index);
    assert_eq!(
        vex_of(&eval, "gw-1.0", "CVE-2099-0001"),
        Some((VexStatus::NotAffected, "gw-1.0".into(), false))
    );
    assert_eq!(
        vex_of(&eval, "gw-1.1", "CVE-2099-0001"),
        Some((VexStatus::NotAffected, "gw-1.0".into(), true)),
        "openssl unchanged in gw-1.1"
    );
    assert_eq!(
        vex_of(&eval, "gw-1.2", "CVE-2099-0001"),
        None,
        "openssl changed"
    );
    assert_eq!(
        vex_of(&eval, "cam-1", "CVE-2099-0001"),
        None,
        "another line"
    );
    let v = eval
        .by_vulnerability(&VulnId::new("CVE-2099-0001").expect("id"))
        .expect("still exposes");
    assert_eq!(v.device_count, 5, "gw-1.2 and cam-1 only");
}

#[test]
fn release_wide_vex_is_inherited_by_digest_and_the_nearest_wins() {
    let index = index();
    let mut later = vex("gw-1.1", "CVE-2099-0002", None, VexStatus::Affected);
    later.justification = None;
    let fleet = fleet(vec![
        vex("gw-1.0", "CVE-2099-0002", None, VexStatus::NotAffected),
        later,
    ]);
    let eval = fleet.evaluate(&index);
    assert_eq!(
        vex_of(&eval, "gw-1.0", "CVE-2099-0002").map(|v| v.0),
        Some(VexStatus::NotAffected)
    );
    assert_eq!(
        vex_of(&eval, "gw-1.1", "CVE-2099-0002"),
        Some((VexStatus::Affected, "gw-1.1".into(), false))
    );
    assert_eq!(
        vex_of(&eval, "gw-1.2", "CVE-2099-0002"),
        Some((VexStatus::Affected, "gw-1.1".into(), true))
    );
}

#[test]
fn not_affected_needs_a_justification() {
    let mut b = FleetBuilder::new();
    b.add_release_components(rid("r1"), "l", &[comp("a", "1")])
        .expect("release");
    let mut v = vex("r1", "CVE-2099-0001", None, VexStatus::NotAffected);
    v.justification = None;
    assert!(matches!(
        b.add_vex(v),
        Err(FleetError::NotAffectedWithoutJustification(..))
    ));
    assert!(matches!(
        b.add_device("d", &rid("r2")),
        Err(FleetError::UnknownRelease(_))
    ));
}

/// Property: for every advisory, the impact found through the inverted
/// index equals the full evaluation restricted to that advisory (same
/// release/component/VEX triples, same device count), with and without VEX.
#[test]
fn impact_of_one_advisory_equals_the_restricted_full_evaluation() {
    let index = index();
    let vexes = vec![
        vex("gw-1.0", "CVE-2099-0001", None, VexStatus::NotAffected),
        vex("cam-1", "GHSA-aaaa-bbbb-cccc", None, VexStatus::Fixed),
    ];
    for fleet in [fleet(Vec::new()), fleet(vexes)] {
        let eval = fleet.evaluate(&index);
        for adv in index.advisories() {
            let id = adv.id();
            let impact = fleet.impact(&index, id).expect("known");
            let key = |e: &vuln::exposure::ReleaseExposure<'_>| {
                (
                    e.release.as_str().to_string(),
                    e.component.name().to_string(),
                    e.component.version().map(str::to_string),
                    e.matched.clone().reason,
                    e.vex
                        .map(|v| (v.status, v.from_release.as_str().to_string())),
                )
            };
            let mut from_impact: Vec<_> = impact.exposures().iter().map(key).collect();
            let mut from_full: Vec<_> = eval
                .exposures()
                .filter(|e| e.vulnerability() == id)
                .map(|e| key(&e))
                .collect();
            from_impact.sort();
            from_full.sort();
            assert_eq!(from_impact, from_full, "{}", id.as_str());
            assert_eq!(
                impact.device_count(),
                eval.device_count_of(id),
                "{}",
                id.as_str()
            );
        }
    }
}
