//! Version orderings per scheme and version ranges, data-driven: ordered
//! chains from the Debian Policy (§5.6.12), rpm's own rpmvercmp test table
//! (`tests/rpmvercmp.at`), PEP 440's examples, SemVer 2.0 §11, and the
//! generic firmware scheme; ranges from OSV, CVE 5, NVD and VERS.

use std::cmp::Ordering;

use vuln::purl::Purl;
use vuln::version::{
    Containment, Cve5Change, Cve5Status, Cve5Version, NvdBounds, OsvEvent, RangeError,
    VersionRange, VersionScheme,
};

/// Each chain is strictly increasing; every pair is checked both ways.
fn check_chain(scheme: VersionScheme, chain: &[&str]) {
    for (i, a) in chain.iter().enumerate() {
        for (j, b) in chain.iter().enumerate() {
            let got = scheme.compare(a, b).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, i.cmp(&j), "{scheme}: {a} vs {b}");
        }
    }
}

#[test]
fn increasing_chains() {
    use VersionScheme::*;
    let chains: &[(VersionScheme, &[&str])] = &[
        // SemVer 2.0 §11 precedence example.
        (
            Semver,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.1.0",
                "2.0.0",
            ],
        ),
        (Semver, &["v0.9.0", "v1.2.9", "v1.2.10", "v1.10.0"]),
        // Debian Policy §5.6.12: ~ sorts before everything, even the end.
        (
            Debian,
            &[
                "1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a", "1.0+b1", "1.0.1", "1:0.9",
            ],
        ),
        (
            Debian,
            &[
                "2.30-1",
                "2.30-1ubuntu1",
                "2.30-2",
                "2.30a-1",
                "2.31~rc1-1",
                "2.31-1",
                "1:2.0-1",
            ],
        ),
        (
            Debian,
            &[
                "7.4.052-1ubuntu3",
                "7.4.052-1ubuntu3.1",
                "7.4.052-1ubuntu10",
                "7.4.1689-3ubuntu1",
            ],
        ),
        // rpm (tests/rpmvercmp.at), with ~ and ^.
        (
            Rpm,
            &[
                "1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0a", "1.0.1", "1.1", "2.0", "1:0.1",
            ],
        ),
        (
            Rpm,
            &["2.0-1.el8", "2.0-1.el8_1", "2.0-2.el8", "2.0.1-1.el8"],
        ),
        (Rpm, &["5.5p1", "5.5p2", "5.5p10", "5.6p1"]),
        // PEP 440 (the specification's summary of permitted suffixes and ordering).
        (
            Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
                "1!0.1",
            ],
        ),
        // Generic firmware versions.
        (Generic, &["1.2.9", "1.2.10", "1.10"]),
        (
            Generic,
            &[
                "v2.0.1-dev",
                "v2.0.1-alpha",
                "v2.0.1-beta2",
                "v2.0.1-rc1",
                "v2.0.1-rc2",
                "v2.0.1",
                "v2.0.1a",
                "v2.0.1-p1",
                "v2.0.2",
            ],
        ),
        (
            Generic,
            &["2023.12.31", "2024.05.01", "2024.5.2", "2024.10.01"],
        ),
        (Generic, &["1.1.1", "1.1.1a", "1.1.1b", "1.1.1w", "1.1.2"]),
        (Generic, &["R7000_V1.0.9.88", "R7000_V1.0.11.100"]),
    ];
    for (scheme, chain) in chains {
        check_chain(*scheme, chain);
    }
}

#[test]
fn equal_versions() {
    use VersionScheme::*;
    for (scheme, a, b) in [
        (Semver, "1.0.0+build.1", "1.0.0+build.2"), // build metadata has no precedence
        (Semver, "v1.2.3", "1.2.3"),
        (Debian, "1.0", "0:1.0"),
        (Debian, "1.0", "1.0-0"),
        (Debian, "1.01", "1.1"),
        (Rpm, "1.0", "0:1.0"),
        (Rpm, "1.0", "1.0-5"), // release compared only when both have one
        (Rpm, "1_0", "1.0"),
        (Rpm, "1.01", "1.1"),
        (Pep440, "1.0RC1", "1.0rc1"),
        (Pep440, "1.0", "1.0.0"),
        (Generic, "1.0", "1.0.0"),
        (Generic, "v1.2", "1.2"),
        (Generic, "2024.05.01", "2024.5.1"),
    ] {
        assert_eq!(
            scheme.compare(a, b),
            Ok(Ordering::Equal),
            "{scheme}: {a} = {b}"
        );
    }
}

#[test]
fn invalid_versions_are_errors() {
    use VersionScheme::*;
    for (scheme, v, reason) in [
        (Semver, "1.2.x", "unexpected character 'x'"),
        (
            Debian,
            "a1.0",
            "the upstream version does not start with a digit",
        ),
        (Debian, "x:1.0", "the epoch is not a number"),
        (Debian, "1.0-", "empty revision after '-'"),
        (
            Debian,
            "1.0 beta",
            "the upstream version has a character outside [A-Za-z0-9.+~-]",
        ),
        (Rpm, "", "empty version"),
        (Rpm, "e:1.0", "the epoch is not a number"),
        (Generic, "", "empty"),
        (
            Generic,
            "1.0/2",
            "character '/' is not a letter, digit, space or one of . - _ + ~ ( )",
        ),
        (Generic, "..", "no letter or digit"),
    ] {
        let err = scheme.validate(v).expect_err(v);
        assert!(err.reason.contains(reason), "{scheme} {v}: {}", err.reason);
    }
    assert!(Pep440.validate("1.0-foo-bar").is_err());
}

#[test]
fn schemes_of_ecosystems_and_purl_types() {
    use VersionScheme::*;
    for (ecosystem, scheme) in [
        ("Debian", Debian),
        ("Debian:12", Debian),
        ("Ubuntu:22.04:LTS", Debian),
        ("PyPI", Pep440),
        ("npm", Semver),
        ("crates.io", Semver),
        ("Go", Semver),
        ("Red Hat", Rpm),
        ("Rocky Linux:9", Rpm),
        ("Alpine:v3.19", Generic),
        ("Maven", Generic),
        ("SomethingNew", Generic),
    ] {
        assert_eq!(
            VersionScheme::from_osv_ecosystem(ecosystem),
            scheme,
            "{ecosystem}"
        );
    }
    for (ty, scheme) in [
        ("deb", Debian),
        ("rpm", Rpm),
        ("pypi", Pep440),
        ("npm", Semver),
        ("cargo", Semver),
        ("golang", Semver),
        ("generic", Generic),
        ("maven", Generic),
    ] {
        assert_eq!(VersionScheme::from_purl_type(ty), scheme, "{ty}");
    }
}

fn describe(c: &Containment<'_>) -> String {
    match c {
        Containment::Affected(i) => format!("affected {i}"),
        Containment::Unaffected(i) => format!("unaffected {i}"),
        Containment::Outside => "outside".into(),
        Containment::Unknown(_) => "unknown".into(),
    }
}

fn check(range: &VersionRange, cases: &[(&str, &str)]) {
    for (version, expected) in cases {
        assert_eq!(describe(&range.contains(version)), *expected, "{version}");
    }
}

#[test]
fn osv_events() {
    let osv =
        |scheme, events: Vec<OsvEvent>| VersionRange::from_osv(scheme, &events).expect("range");
    use OsvEvent::*;
    let r = osv(
        VersionScheme::Semver,
        vec![
            Introduced("0".into()),
            Fixed("1.2.3".into()),
            Introduced("2.0.0".into()),
            LastAffected("2.1.0".into()),
        ],
    );
    check(
        &r,
        &[
            ("0.1.0", "affected <1.2.3"),
            ("1.2.3", "outside"),
            ("1.9.0", "outside"),
            ("2.0.0", "affected >=2.0.0, <=2.1.0"),
            ("2.1.0", "affected >=2.0.0, <=2.1.0"),
            ("2.1.1", "outside"),
            ("1.2.x", "unknown"), // not semver: never silently in or out
            // npm's loose reading: 1.2 is 1.2.0, 01.02.03 is 1.2.3.
            ("1.2", "affected <1.2.3"),
            ("01.02.03", "outside"),
        ],
    );
    let open = osv(VersionScheme::Debian, vec![Introduced("1.0-1".into())]);
    check(
        &open,
        &[("0.9-1", "outside"), ("1:0.1-1", "affected >=1.0-1")],
    );
    let limited = osv(
        VersionScheme::Generic,
        vec![Introduced("0".into()), Limit("3.0".into())],
    );
    check(&limited, &[("2.9", "affected <3.0"), ("3.0", "outside")]);
    assert!(matches!(
        VersionRange::from_osv(VersionScheme::Semver, &[Introduced("1.0.x".into())]),
        Err(RangeError::Version(_))
    ));
}

#[test]
fn cve5_versions() {
    let entry =
        |version: &str, status, lt: Option<&str>, le: Option<&str>, changes: Vec<Cve5Change>| {
            Cve5Version {
                version: version.into(),
                status,
                less_than: lt.map(Into::into),
                less_than_or_equal: le.map(Into::into),
                changes,
            }
        };
    use Cve5Status::*;
    let r = VersionRange::from_cve5(
        VersionScheme::Generic,
        &[
            entry(
                "2.0",
                Affected,
                Some("2.5"),
                None,
                vec![Cve5Change {
                    at: "2.3.1".into(),
                    status: Unaffected,
                }],
            ),
            entry("3.0", Affected, None, Some("3.2"), vec![]),
            entry("3.1.7", Unaffected, None, None, vec![]),
            entry("4.0", Unknown, Some("*"), None, vec![]),
            entry("1.5", Affected, None, None, vec![]),
        ],
    )
    .expect("range");
    check(
        &r,
        &[
            ("1.5", "affected =1.5"),
            ("1.6", "outside"),
            ("2.1", "affected >=2.0, <2.3.1"),
            ("2.3.1", "unaffected >=2.3.1, <2.5"),
            ("3.2", "affected >=3.0, <=3.2"),
            ("3.1.7", "unaffected =3.1.7"),
            ("5.0", "unknown"),
        ],
    );
    // A series bound is only read under the generic scheme.
    assert!(matches!(
        VersionRange::from_cve5(
            VersionScheme::Semver,
            &[entry("5.0.0", Affected, None, Some("5.*"), vec![])]
        ),
        Err(RangeError::Unsupported(_))
    ));
    assert!(matches!(
        VersionRange::from_cve5(
            VersionScheme::Generic,
            &[entry("5.0", Affected, Some("5.*.3"), None, vec![])]
        ),
        Err(RangeError::Unsupported(_))
    ));
    let from_zero = VersionRange::from_cve5(
        VersionScheme::Semver,
        &[entry("0", Affected, Some("1.4.2"), None, vec![])],
    )
    .expect("range");
    check(
        &from_zero,
        &[("1.4.1", "affected <1.4.2"), ("1.4.2", "outside")],
    );
}

/// The Linux kernel CNA's release block (CVE-2019-25160): introduced in
/// 2.6.19, fixed in stable branches at a release (`lessThanOrEqual:
/// "4.19.*"`) and in mainline 5.0; every other release is affected
/// (`defaultStatus: affected`, evaluated by the matcher).
#[test]
fn kernel_stable_branches_are_series_bounds() {
    let entry = |version: &str, status, lt: Option<&str>, le: Option<&str>| Cve5Version {
        version: version.into(),
        status,
        less_than: lt.map(Into::into),
        less_than_or_equal: le.map(Into::into),
        changes: Vec::new(),
    };
    use Cve5Status::*;
    let r = VersionRange::from_cve5(
        VersionScheme::Generic,
        &[
            entry("0", Unaffected, Some("2.6.19"), None),
            entry("4.4.177", Unaffected, None, Some("4.4.*")),
            entry("4.19.28", Unaffected, None, Some("4.19.*")),
            entry("5.0", Unaffected, None, Some("*")),
            entry("2.6.19", Affected, None, None),
        ],
    )
    .expect("range");
    check(
        &r,
        &[
            ("2.6.18", "unaffected <2.6.19"),
            ("2.6.19", "affected =2.6.19"),
            ("4.19.27", "outside"),
            ("4.19.28", "unaffected >=4.19.28, <=4.19.*"),
            ("4.19.300", "unaffected >=4.19.28, <=4.19.*"),
            ("4.4.177", "unaffected >=4.4.177, <=4.4.*"),
            // 4.40 is not in the 4.4 series.
            ("4.40.1", "outside"),
            ("4.20.1", "outside"),
            ("6.1.80", "unaffected >=5.0"),
        ],
    );
    // `lessThan` a series is read as through its end (Juniper's `21.1R1`
    // to `lessThan: "21.1*"`).
    let train = VersionRange::from_cve5(
        VersionScheme::Generic,
        &[entry("21.1R1", Affected, Some("21.1*"), None)],
    )
    .expect("range");
    check(
        &train,
        &[
            ("21.1R3-S2", "affected >=21.1R1, <21.1*"),
            ("21.1", "outside"),
            ("21.10R1", "outside"),
            ("21.2R1", "outside"),
        ],
    );
}

#[test]
fn nvd_bounds() {
    let r = VersionRange::from_nvd(
        VersionScheme::Generic,
        &NvdBounds {
            start_excluding: Some("1.0".into()),
            end_including: Some("1.4".into()),
            ..NvdBounds::default()
        },
    )
    .expect("range");
    check(
        &r,
        &[
            ("1.0", "outside"),
            ("1.0.1", "affected >1.0, <=1.4"),
            ("1.4", "affected >1.0, <=1.4"),
            ("1.4.1", "outside"),
        ],
    );
    assert!(matches!(
        VersionRange::from_nvd(VersionScheme::Generic, &NvdBounds::default()),
        Err(RangeError::Invalid(_))
    ));
    assert!(matches!(
        VersionRange::from_nvd(
            VersionScheme::Generic,
            &NvdBounds {
                start_including: Some("1".into()),
                start_excluding: Some("1".into()),
                ..NvdBounds::default()
            }
        ),
        Err(RangeError::Invalid(_))
    ));
}

#[test]
fn vers_uris() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "vers:npm/>=1.0.0|<1.3.0|>=2.0.0|<2.1.0",
            &[
                ("1.2.9", "affected >=1.0.0, <1.3.0"),
                ("1.3.0", "outside"),
                ("2.0.5", "affected >=2.0.0, <2.1.0"),
            ],
        ),
        (
            "vers:pypi/<=2.0|!=1.5",
            &[
                ("1.4", "affected <=2.0"),
                ("1.5", "unaffected =1.5"),
                ("2.0.1", "outside"),
            ],
        ),
        (
            "vers:deb/>=1:1.0-1",
            &[("1:1.0-1", "affected >=1:1.0-1"), ("2.0-1", "outside")],
        ),
        ("vers:generic/*", &[("anything1", "affected *")]),
        (
            "vers:rpm/1.2-3|1.2-5",
            &[("1.2-5", "affected =1.2-5"), ("1.2-4", "outside")],
        ),
        (
            "vers:npm/>=1.0.0-beta%2B1",
            &[("1.0.0", "affected >=1.0.0-beta+1")],
        ),
    ];
    for (uri, expected) in cases {
        let r = VersionRange::from_vers(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        check(&r, expected);
    }
    for bad in [
        "npm/1.0",
        "vers:npm",
        "vers:npm/>=1.0.0|>=2.0.0",
        "vers:npm/<1.0.0|<2.0.0",
        "vers:npm/>=1.0.x",
    ] {
        assert!(VersionRange::from_vers(bad).is_err(), "{bad}");
    }
}

#[test]
fn purls() {
    for (input, ty, ns, name, version, scheme) in [
        (
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
            "deb",
            Some("debian"),
            "openssl",
            Some("3.0.11-1~deb12u2"),
            VersionScheme::Debian,
        ),
        (
            "pkg:npm/%40angular/core@16.2.0",
            "npm",
            Some("@angular"),
            "core",
            Some("16.2.0"),
            VersionScheme::Semver,
        ),
        (
            "pkg:pypi/Django@4.2",
            "pypi",
            None,
            "django",
            Some("4.2"),
            VersionScheme::Pep440,
        ),
        (
            "pkg:golang/github.com/gorilla/mux@v1.8.0#pkg",
            "golang",
            Some("github.com/gorilla"),
            "mux",
            Some("v1.8.0"),
            VersionScheme::Semver,
        ),
        (
            "pkg:generic/acme/dc200-firmware@2.4.1",
            "generic",
            Some("acme"),
            "dc200-firmware",
            Some("2.4.1"),
            VersionScheme::Generic,
        ),
    ] {
        let p = Purl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (p.ty(), p.namespace(), p.name(), p.version(), p.scheme()),
            (ty, ns, name, version, scheme),
            "{input}"
        );
    }
    let p =
        Purl::parse("pkg:deb/debian/openssl@3.0.11?distro=debian-12&arch=amd64").expect("parses");
    assert_eq!(
        p.qualifiers().get("arch").map(String::as_str),
        Some("amd64")
    );
    assert_eq!(
        p.to_string(),
        "pkg:deb/debian/openssl@3.0.11?arch=amd64&distro=debian-12"
    );
    let p = Purl::parse("pkg:golang/github.com/gorilla/mux@v1.8.0#pkg/sub").expect("parses");
    assert_eq!(p.subpath(), Some("pkg/sub"));
    for bad in ["npm/foo@1", "pkg:/foo", "pkg:npm/"] {
        assert!(Purl::parse(bad).is_err(), "{bad}");
    }
}
