//! The matcher, the advisory index and score checks, data-driven: a table
//! of components × advisory entries with the expected rule, confidence and
//! interval (or the reason of a non-match), real vulnrichment records for
//! CPE matching and published-score mismatches, and the index's upsert.

use vuln::cvss::ScoreKind;
use vuln::index::{AdvisoryIndex, PreparedAdvisory, Upsert};
use vuln::matcher::{explain, Confidence, MatchKey, MatchRule, Outcome};
use vuln_formats::model::{
    Advisory, Affected, Bound, Component, ComponentKind, Cpe, DefaultStatus, PackageId, Purl,
    ScorePublisher, Timestamp, VersionRange, VulnId,
};

fn component(
    name: &str,
    version: Option<&str>,
    purl: Option<&str>,
    cpe: Option<&str>,
) -> Component {
    Component {
        bom_ref: None,
        kind: ComponentKind::Library,
        name: name.into(),
        group: None,
        version: version.map(Into::into),
        supplier: None,
        purl: purl.map(|p| Purl::new(p).expect("purl")),
        cpes: cpe.map(|c| Cpe::new(c).expect("cpe")).into_iter().collect(),
        hashes: Vec::new(),
    }
}

fn purl_id(p: &str) -> PackageId {
    PackageId::Purl {
        purl: Purl::new(p).expect("purl"),
    }
}

fn cpe_id(c: &str) -> PackageId {
    PackageId::Cpe {
        cpe: Cpe::new(c).expect("cpe"),
    }
}

fn eco(ecosystem: &str, name: &str) -> PackageId {
    PackageId::Ecosystem {
        ecosystem: ecosystem.into(),
        name: name.into(),
    }
}

fn range(scheme: &str, introduced: Option<&str>, fixed: Option<&str>) -> VersionRange {
    VersionRange {
        scheme: scheme.into(),
        introduced: introduced.map(Bound::including),
        end: fixed.map(Bound::excluding),
    }
}

fn affected(package: Vec<PackageId>, ranges: Vec<VersionRange>) -> Affected {
    let mut a = Affected::new(package);
    a.ranges = ranges;
    a
}

/// What a row of the table expects.
enum Expect {
    Match(MatchRule, Confidence, &'static str),
    NoMatch(&'static str),
    Undecided(&'static str),
}

fn check(name: &str, c: &Component, a: &Affected, expect: Expect) {
    let id = VulnId::new("TEST-1").expect("id");
    let got = explain(c, &id, a);
    match (&got, &expect) {
        (Outcome::Match(m), Expect::Match(rule, confidence, interval)) => {
            assert_eq!(
                (m.rule, m.confidence, m.range.as_str()),
                (*rule, *confidence, *interval),
                "{name}: {m:?}"
            );
            assert!(!m.reason.is_empty(), "{name}: a match says why");
        }
        (Outcome::NoMatch { reason }, Expect::NoMatch(part))
        | (Outcome::Undecided { reason }, Expect::Undecided(part)) => {
            assert!(reason.contains(part), "{name}: {reason:?} lacks {part:?}");
        }
        _ => panic!("{name}: got {got:?}"),
    }
}

#[test]
fn match_table() {
    use Confidence::*;
    use Expect::*;
    let npm = affected(
        vec![purl_id("pkg:npm/lodash")],
        vec![range("SEMVER", None, Some("4.17.21"))],
    );
    let pypi = affected(
        vec![eco("PyPI", "Django")],
        vec![range("ECOSYSTEM:PyPI", Some("4.2"), Some("4.2.11"))],
    );
    let pypi_norm = affected(
        vec![eco("PyPI", "foo-bar")],
        vec![range("ECOSYSTEM:PyPI", None, Some("1.1"))],
    );
    let deb = affected(
        vec![eco("Debian:12", "openssl")],
        vec![range("ECOSYSTEM:Debian:12", None, Some("3.0.11-1~deb12u2"))],
    );
    let rpm = affected(
        vec![purl_id("pkg:rpm/redhat/openssl")],
        vec![range("rpm", None, Some("1:3.0.7-25.el9"))],
    );
    let generic = affected(
        vec![purl_id("pkg:generic/acme/fw")],
        vec![range("custom", Some("2.0.0"), Some("2.4.1"))],
    );
    let scoped = affected(
        vec![purl_id("pkg:npm/%40a/x")],
        vec![range("SEMVER", None, Some("2.0.0"))],
    );
    let mut versionless_cpe =
        Affected::new(vec![cpe_id("cpe:2.3:a:acme:router_os:*:*:*:*:*:*:*:*")]);
    versionless_cpe.default_status = Some(DefaultStatus::Unknown);
    let cpe_range = affected(
        vec![cpe_id("cpe:2.3:a:acme:router_os:*:*:*:*:*:*:*:*")],
        vec![range("custom", Some("1.0"), Some("1.5"))],
    );
    let vendor_product = affected(
        vec![PackageId::VendorProduct {
            vendor: "Acme".into(),
            product: "Router OS".into(),
        }],
        vec![range("custom", Some("1.0"), Some("1.5"))],
    );
    let mut all = Affected::new(vec![PackageId::Name {
        name: "bootrom".into(),
    }]);
    all.all_versions = true;
    let mut with_unaffected = vendor_product.clone();
    with_unaffected.unaffected_versions = vec!["1.2.1".into()];
    // A listed version that cannot be ordered (issue 14, item 3).
    let mut with_text = vendor_product.clone();
    with_text.versions = vec!["4.2/ESR".into()];

    let rows: Vec<(&str, Component, &Affected, Expect)> = vec![
        (
            "purl npm semver in",
            component("lodash", None, Some("pkg:npm/lodash@4.17.20"), None),
            &npm,
            Match(MatchRule::Purl, High, "<4.17.21"),
        ),
        (
            "purl npm semver fixed",
            component("lodash", None, Some("pkg:npm/lodash@4.17.21"), None),
            &npm,
            NoMatch("outside every affected interval"),
        ),
        (
            "purl pypi PEP 440 from the OSV ecosystem",
            component("django", None, Some("pkg:pypi/django@4.2.10"), None),
            &pypi,
            Match(MatchRule::Purl, High, ">=4.2, <4.2.11"),
        ),
        (
            "purl pypi pre-release below the interval",
            component("django", None, Some("pkg:pypi/django@4.2rc1"), None),
            &pypi,
            NoMatch("outside"),
        ),
        (
            "purl pypi name normalization",
            component("Foo_Bar", None, Some("pkg:pypi/Foo_Bar@1.0"), None),
            &pypi_norm,
            Match(MatchRule::Purl, High, "<1.1"),
        ),
        (
            "purl deb Debian ordering with ~",
            component(
                "openssl",
                None,
                Some("pkg:deb/debian/openssl@3.0.11-1~deb12u1"),
                None,
            ),
            &deb,
            Match(MatchRule::Purl, High, "<3.0.11-1~deb12u2"),
        ),
        (
            "purl rpm with epoch",
            component(
                "openssl",
                None,
                Some("pkg:rpm/redhat/openssl@1:3.0.7-24.el9"),
                None,
            ),
            &rpm,
            Match(MatchRule::Purl, High, "<1:3.0.7-25.el9"),
        ),
        (
            "purl generic, scheme inferred",
            component("fw", None, Some("pkg:generic/acme/fw@2.3.1"), None),
            &generic,
            Match(MatchRule::Purl, Medium, ">=2.0.0, <2.4.1"),
        ),
        (
            "purl namespace disagrees",
            component("x", None, Some("pkg:npm/%40b/x@1.0.0"), None),
            &scoped,
            NoMatch("no identifier"),
        ),
        (
            "version-less CPE never matches everything",
            component(
                "router_os",
                None,
                None,
                Some("cpe:2.3:a:acme:router_os:1.2:*:*:*:*:*:*:*"),
            ),
            &versionless_cpe,
            NoMatch("never a version-less match"),
        ),
        (
            "CPE with range",
            component(
                "router_os",
                None,
                None,
                Some("cpe:2.3:a:acme:router_os:1.2:*:*:*:*:*:*:*"),
            ),
            &cpe_range,
            Match(MatchRule::Cpe, High, ">=1.0, <1.5"),
        ),
        (
            "CPE vendor disagrees",
            component(
                "router_os",
                None,
                None,
                Some("cpe:2.3:a:other:router_os:1.2:*:*:*:*:*:*:*"),
            ),
            &cpe_range,
            NoMatch("no identifier"),
        ),
        (
            "CPE without version, version from the component",
            component(
                "router_os",
                Some("1.3"),
                None,
                Some("cpe:2.3:a:acme:router_os:*:*:*:*:*:*:*:*"),
            ),
            &cpe_range,
            Match(MatchRule::Cpe, Medium, ">=1.0, <1.5"),
        ),
        (
            "CPE against free-text vendor and product",
            component(
                "router_os",
                None,
                None,
                Some("cpe:2.3:a:acme:router_os:1.4:*:*:*:*:*:*:*"),
            ),
            &vendor_product,
            Match(MatchRule::CpeVendorProduct, Medium, ">=1.0, <1.5"),
        ),
        (
            "name and version only: low confidence",
            component("router-os", Some("1.4"), None, None),
            &vendor_product,
            Match(MatchRule::NameVersion, Low, ">=1.0, <1.5"),
        ),
        (
            "name and version only: unaffected version wins",
            component("router-os", Some("1.2.1"), None, None),
            &with_unaffected,
            NoMatch("unaffected"),
        ),
        (
            "a version listed as text: exact match only, low confidence",
            component("router-os", Some("4.2/esr"), None, None),
            &with_text,
            Match(MatchRule::NameVersion, Low, "=4.2/esr"),
        ),
        (
            "a version listed as text: anything else does not match it",
            component("router-os", Some("4.2"), None, None),
            &with_text,
            NoMatch("outside"),
        ),
        (
            "incomparable version: no match, with the reason",
            component("router-os", Some("1.4/build=7"), None, None),
            &vendor_product,
            Undecided("cannot be compared"),
        ),
        (
            "missing version: no match",
            component("router-os", None, None, None),
            &vendor_product,
            Undecided("no version"),
        ),
        (
            "every version stated: matches without a version",
            component("bootrom", None, None, None),
            &all,
            Match(MatchRule::NameVersion, Low, "*"),
        ),
        (
            "name differs",
            component("router-fw", Some("1.4"), None, None),
            &vendor_product,
            NoMatch("not a product or package name"),
        ),
    ];
    for (name, c, a, expect) in rows {
        check(name, &c, a, expect);
    }
}

fn record(id: &str) -> Advisory {
    let path = format!("{}/tests/data/cve/{id}.json", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("record");
    vuln_formats::cve5::parse(&bytes).expect("parses")
}

/// CVE-2024-33328: CISA's ADP gives `cpe:...:15.0.0` with the range
/// 15.0.0 ≤ v < 16.2.0 (versionType custom): the range decides.
#[test]
fn real_cisa_adp_cpe_range() {
    let adv = record("CVE-2024-33328");
    let hit = component(
        "lumis_experience_platform",
        None,
        None,
        Some("cpe:2.3:a:lumis:lumis_experience_platform:16.0.0:*:*:*:*:*:*:*"),
    );
    let out = component(
        "lumis_experience_platform",
        None,
        None,
        Some("cpe:2.3:a:lumis:lumis_experience_platform:16.2.0:*:*:*:*:*:*:*"),
    );
    let other_vendor = component(
        "lumis_experience_platform",
        None,
        None,
        Some("cpe:2.3:a:acme:lumis_experience_platform:16.0.0:*:*:*:*:*:*:*"),
    );
    let matches = |c: &Component| {
        adv.affected
            .iter()
            .filter_map(|a| vuln::matcher::match_component(c, &adv.id, a))
            .collect::<Vec<_>>()
    };
    let m = matches(&hit);
    assert!(
        m.iter()
            .any(|m| m.rule == MatchRule::Cpe && m.range == ">=15.0.0, <16.2.0"),
        "{m:?}"
    );
    assert!(matches(&out).is_empty());
    assert!(matches(&other_vendor).is_empty());
}

/// Fortinet (CNA) published the temporal score 6.0 as the base score of
/// `.../E:U/RL:X/RC:X`, whose base is 6.5.
#[test]
fn published_temporal_score_as_base_is_flagged() {
    let p = PreparedAdvisory::new(&record("CVE-2024-31493"));
    let s = p
        .scores()
        .iter()
        .find(|s| matches!(s.publisher, ScorePublisher::Cna(_)))
        .expect("CNA score");
    assert!(s.published_mismatch());
    let check = s.check.as_ref().expect("checked");
    assert_eq!(check.published.to_string(), "6.0");
    assert_eq!(check.base.to_string(), "6.5");
    assert_eq!(check.matches, Some(ScoreKind::Temporal));
    assert!(p.has_score_mismatch());
}

/// CISA's ADP published 8.4 for `AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H`
/// (6.2): flagged, and equal to no recomputed score.
#[test]
fn cisa_adp_score_disagreeing_with_its_vector_is_flagged() {
    let p = PreparedAdvisory::new(&record("CVE-2024-28575"));
    let s = p
        .scores()
        .iter()
        .find(|s| s.publisher == ScorePublisher::CisaAdp)
        .expect("CISA score");
    assert!(s.published_mismatch());
    let check = s.check.as_ref().expect("checked");
    assert_eq!(
        (
            check.published.to_string(),
            check.base.to_string(),
            check.matches
        ),
        ("8.4".to_string(), "6.2".to_string(), None)
    );
}

#[test]
fn index_upsert_and_incremental_reimport() {
    let ids = ["CVE-2024-33328", "CVE-2024-31493", "CVE-2024-28575"];
    let records: Vec<Advisory> = ids.iter().map(|id| record(id)).collect();
    let mut index = AdvisoryIndex::new();
    let mut input: Vec<Result<Advisory, String>> = records.iter().cloned().map(Ok).collect();
    input.push(Err("line 4: not JSON".into()));
    let report = index.import(input);
    assert_eq!(
        (report.new, report.updated, report.unchanged, report.failed),
        (3, 0, 0, 1)
    );
    assert_eq!(report.failures[0].reason, "line 4: not JSON");

    // Same `modified`: skipped.
    let again = index.import(records.iter().cloned().map(Ok::<_, String>));
    assert_eq!((again.new, again.updated, again.unchanged), (0, 0, 3));

    let key = MatchKey::VendorProduct {
        vendor: "lumis".into(),
        product: "lumis_experience_platform".into(),
    };
    assert!(index
        .candidates(&key)
        .any(|(id, _)| id.as_str() == "CVE-2024-33328"));

    // A modified record replaces the old one and its keys.
    let mut changed = records[0].clone();
    changed.modified = Some(Timestamp::new("2025-01-01T00:00:00Z").expect("ts"));
    changed.affected = vec![affected(
        vec![cpe_id("cpe:2.3:a:lumis:lumis_portal:*:*:*:*:*:*:*:*")],
        vec![range("custom", Some("1.0"), Some("2.0"))],
    )];
    assert_eq!(index.upsert(&changed), Upsert::Updated);
    assert_eq!(index.len(), 3);
    assert!(!index
        .candidates(&key)
        .any(|(id, _)| id.as_str() == "CVE-2024-33328"));
    let new_key = MatchKey::VendorProduct {
        vendor: "lumis".into(),
        product: "lumis_portal".into(),
    };
    assert_eq!(index.candidates(&new_key).count(), 1);
    assert_eq!(index.upsert(&changed), Upsert::Unchanged);
}

/// Issue 14, item 2: Linux kernel records, as the kernel CNA writes them (a
/// block of git commit ranges, and a block of releases with `defaultStatus:
/// affected`, the introducing release, and each fixed stable branch as
/// `lessThanOrEqual: "X.Y.*"`), and CISA's enrichment of them (git ranges
/// copied as `custom`, one ADP entry per row, one with `defaultStatus:
/// affected` and nothing but a commit range). A kernel named by its CPE
/// (`linux:linux_kernel`, where the CNA writes Linux/Linux) matches exactly
/// the releases the CNA says are affected.
#[test]
fn linux_kernel_records_match_the_releases_their_cna_names() {
    let mut index = AdvisoryIndex::new();
    for id in ["CVE-2019-25160", "CVE-2021-47284", "CVE-2024-36970"] {
        index.upsert(&record(id));
    }
    let kernel = |v: &str| {
        component(
            "linux",
            Some(v),
            None,
            Some(&format!("cpe:2.3:o:linux:linux_kernel:{v}:*:*:*:*:*:*:*")),
        )
    };
    let cases: &[(&str, &[&str])] = &[
        // CVE-2019-25160: introduced 2.6.19, fixed 4.19.28 in 4.19, 5.0 in mainline.
        // CVE-2021-47284: affected from the start, fixed 4.19.195, 5.10.44, 5.13.
        ("2.6.18", &["CVE-2021-47284"]),
        ("4.19.27", &["CVE-2019-25160", "CVE-2021-47284"]),
        ("4.19.28", &["CVE-2021-47284"]),
        ("4.19.195", &[]),
        ("4.20.1", &["CVE-2019-25160", "CVE-2021-47284"]),
        ("5.10.43", &["CVE-2021-47284"]),
        ("5.10.200", &[]),
        // CVE-2024-36970: introduced before 6.9 (v6.9-rc1~118), fixed 6.9.2.
        ("6.1.80", &[]),
        ("6.9.1", &["CVE-2024-36970"]),
        ("6.9.2", &[]),
        ("6.10", &[]),
    ];
    for (version, expected) in cases {
        let mut fleet = vuln::exposure::FleetBuilder::new();
        let release = vuln::exposure::ReleaseId::new("r").expect("id");
        fleet
            .add_release_components(release.clone(), "kernel", &[kernel(version)])
            .expect("release");
        let fleet = fleet.build();
        let evaluation = fleet.evaluate(&index);
        let mut got: Vec<String> = evaluation
            .by_release(&release)
            .iter()
            .map(|e| e.vulnerability().as_str().to_string())
            .collect();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got, *expected, "kernel {version}");
    }
    // Git commit ranges are said to be left out, not compared as versions.
    let notes = PreparedAdvisory::new(&record("CVE-2021-47284")).notes();
    assert!(notes.iter().any(|n| n.contains("git commit")), "{notes:?}");
}

/// The advisories of `ids` that `c` matches, through the register's
/// evaluation.
fn matched(ids: &[&str], c: Component) -> Vec<String> {
    let mut index = AdvisoryIndex::new();
    for id in ids {
        index.upsert(&record(id));
    }
    let mut fleet = vuln::exposure::FleetBuilder::new();
    let release = vuln::exposure::ReleaseId::new("r").expect("id");
    fleet
        .add_release_components(release.clone(), "line", &[c])
        .expect("release");
    let fleet = fleet.build();
    let evaluation = fleet.evaluate(&index);
    let mut got: Vec<String> = evaluation
        .by_release(&release)
        .iter()
        .map(|e| e.vulnerability().as_str().to_string())
        .collect();
    got.sort_unstable();
    got.dedup();
    got
}

/// Issue 14, item 3: real records whose versions are vendor syntaxes or
/// text, which could match no device before.
#[test]
fn vendor_version_syntaxes_of_real_records_match() {
    let cases: &[(&str, Component, bool)] = &[
        // Juniper writes `21.2R3-S5` and declares it semver: ordered as Junos
        // releases (R3-S4 before R3-S5).
        (
            "CVE-2023-36839",
            component(
                "junos",
                None,
                None,
                Some("cpe:2.3:o:juniper_networks:junos_os:21.2R3-S4:*:*:*:*:*:*:*"),
            ),
            true,
        ),
        (
            "CVE-2023-36839",
            component(
                "junos",
                None,
                None,
                Some("cpe:2.3:o:juniper_networks:junos_os:21.2R3-S5:*:*:*:*:*:*:*"),
            ),
            false,
        ),
        // Juniper's release train `21.1R1` up to `21.1*`.
        (
            "CVE-2023-36839",
            component(
                "junos",
                None,
                None,
                Some("cpe:2.3:o:juniper_networks:junos_os:21.1R3-S2:*:*:*:*:*:*:*"),
            ),
            true,
        ),
        // Cisco's `12.6(2)_ES4`.
        (
            "CVE-2021-1245",
            component(
                "Cisco Unified Customer Voice Portal (CVP)",
                Some("12.6(2)_ES4"),
                None,
                None,
            ),
            true,
        ),
        // `< 5.1.1` written in `version`.
        (
            "CVE-2020-11053",
            component("OAuth2 Proxy", Some("5.1.0"), None, None),
            true,
        ),
        (
            "CVE-2020-11053",
            component("OAuth2 Proxy", Some("5.1.1"), None, None),
            false,
        ),
        // Declared semver `2.4` (npm's loose reading: 2.4.0) up to 2.4.54.
        (
            "CVE-2006-20001",
            component("Apache HTTP Server", Some("2.4.53"), None, None),
            true,
        ),
        (
            "CVE-2006-20001",
            component("Apache HTTP Server", Some("2.4.55"), None, None),
            false,
        ),
        // CISA's CPE with version `-` (NA): the versionless product only.
        (
            "CVE-2017-9230",
            component(
                "bitcoin",
                None,
                None,
                Some("cpe:2.3:a:bitcoin:bitcoin:-:*:*:*:*:*:*:*"),
            ),
            true,
        ),
        (
            "CVE-2017-9230",
            component(
                "bitcoin",
                None,
                None,
                Some("cpe:2.3:a:bitcoin:bitcoin:0.14.1:*:*:*:*:*:*:*"),
            ),
            false,
        ),
    ];
    for (id, c, expected) in cases {
        let got = matched(&[id], c.clone());
        assert_eq!(
            !got.is_empty(),
            *expected,
            "{id} with {} {:?} {:?}: {got:?}\nnotes: {:?}",
            c.name,
            c.version,
            c.cpes.first().map(|c| c.as_str()),
            PreparedAdvisory::new(&record(id)).notes()
        );
    }
}
