//! Small hand-written documents pinning the normalization rules: version
//! events and bounds → intervals, `all_versions` only when said, firmware
//! SBOMs with name and version only, timestamps, limits and the exact
//! errors (field path and index) of rejection paths.

use vuln_formats::{
    cve5, cyclonedx, nvd, osv, spdx, AdvisoryParseError, Bound, ComponentKind, Limits, PackageId,
    SbomParseError, ScorePublisher, Timestamp, VersionRange,
};

fn range(scheme: &str, from: Option<(&str, bool)>, to: Option<(&str, bool)>) -> VersionRange {
    let b = |(v, inclusive): (&str, bool)| Bound {
        version: v.into(),
        inclusive,
    };
    VersionRange {
        scheme: scheme.into(),
        introduced: from.map(b),
        end: to.map(b),
    }
}

#[test]
fn osv_events_fold_into_intervals() {
    let doc = br#"{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[
      {"package":{"ecosystem":"PyPI","name":"x","purl":"pkg:pypi/x"},
       "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"},{"introduced":"2.0"},{"last_affected":"2.3"},{"introduced":"3.0"}]}],
       "versions":["1.0","1.1"]},
      {"package":{"ecosystem":"npm","name":"y"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#;
    let a = osv::parse(doc).expect("parse");
    let first = &a[0].affected[0];
    assert_eq!(
        first.ranges,
        vec![
            range("ECOSYSTEM:PyPI", None, Some(("1.2", false))),
            range("ECOSYSTEM:PyPI", Some(("2.0", true)), Some(("2.3", true))),
            range("ECOSYSTEM:PyPI", Some(("3.0", true)), None),
        ]
    );
    assert!(!first.all_versions);
    assert_eq!(first.versions, vec!["1.0", "1.1"]);
    let second = &a[0].affected[1];
    assert!(second.all_versions && second.ranges.is_empty());
}

#[test]
fn osv_unknown_range_type_names_the_field() {
    let doc = br#"[{"id":"A-1","modified":"2024-01-01T00:00:00Z"},
      {"id":"A-2","modified":"2024-01-01T00:00:00Z","affected":[{"ranges":[{"type":"CALVER","events":[]}]}]}]"#;
    let err = osv::parse(doc).expect_err("refused");
    assert_eq!(
        err,
        AdvisoryParseError::Invalid {
            field: "[1].affected[0].ranges[0].type".into(),
            value: "CALVER".into(),
            expected: "SEMVER, ECOSYSTEM or GIT".into()
        }
    );
}

fn cve(affected: &str) -> Vec<u8> {
    format!(
        r#"{{"dataType":"CVE_RECORD","dataVersion":"5.1","cveMetadata":{{"cveId":"CVE-2024-0001","state":"PUBLISHED","datePublished":"2024-01-01T00:00:00"}},
        "containers":{{"cna":{{"providerMetadata":{{"shortName":"acme"}},"affected":[{affected}],
        "metrics":[{{"cvssV3_1":{{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":9.8}}}}]}}}}}}"#
    )
    .into_bytes()
}

#[test]
fn cve5_versions_normalize() {
    let a = cve5::parse(&cve(
        r#"{"vendor":"acme","product":"gw","defaultStatus":"unaffected","cpes":["cpe:2.3:o:acme:gw:*:*:*:*:*:*:*:*"],"versions":[
          {"version":"0","lessThan":"1.4","status":"affected","versionType":"semver"},
          {"version":"2.0","lessThanOrEqual":"2.*","status":"affected","versionType":"semver","changes":[{"at":"2.0.5","status":"unaffected"}]},
          {"version":"3.1","status":"affected"},
          {"version":"n/a","status":"affected"},
          {"version":"3.2","status":"unaffected"}]}"#,
    ))
    .expect("parse");
    assert_eq!(
        a.published.as_ref().map(Timestamp::as_str),
        Some("2024-01-01T00:00:00Z")
    );
    assert_eq!(
        a.severities[0].publisher,
        ScorePublisher::Cna(Some("acme".into()))
    );
    let x = &a.affected[0];
    assert_eq!(
        x.ranges,
        vec![
            range("semver", None, Some(("1.4", false))),
            range("semver", Some(("2.0", true)), Some(("2.0.5", false))),
        ]
    );
    assert_eq!(
        x.unaffected_ranges,
        vec![range("semver", Some(("2.0.5", true)), Some(("2.*", true)))]
    );
    assert_eq!(x.versions, vec!["3.1"]);
    assert_eq!(x.unaffected_versions, vec!["3.2"]);
    assert!(!x.all_versions);
    assert!(x.package.contains(&PackageId::VendorProduct {
        vendor: "acme".into(),
        product: "gw".into()
    }));
}

#[test]
fn cve5_all_versions_only_when_said() {
    let star = cve5::parse(&cve(
        r#"{"vendor":"a","product":"b","versions":[{"version":"*","status":"affected"}]}"#,
    ))
    .expect("parse");
    assert!(star.affected[0].all_versions);
    let zero_star = cve5::parse(&cve(
        r#"{"vendor":"a","product":"b","versions":[{"version":"0","lessThan":"*","status":"affected","versionType":"custom"}]}"#,
    ))
    .expect("parse");
    assert!(zero_star.affected[0].all_versions);
    let default_affected = cve5::parse(&cve(
        r#"{"vendor":"a","product":"b","defaultStatus":"affected"}"#,
    ))
    .expect("parse");
    assert!(default_affected.affected[0].all_versions);
    let unspecified = cve5::parse(&cve(r#"{"vendor":"a","product":"b","versions":[{"version":"unspecified","status":"affected"}]}"#)).expect("parse");
    assert!(!unspecified.affected[0].all_versions);
    assert!(unspecified.affected[0].versions.is_empty());
}

#[test]
fn cve5_wrong_version_and_bad_status_are_precise() {
    let v4 =
        br#"{"dataType":"CVE_RECORD","dataVersion":"4.0","cveMetadata":{"cveId":"CVE-2024-0001"}}"#;
    assert_eq!(
        cve5::parse(v4),
        Err(AdvisoryParseError::UnsupportedVersion {
            format: "CVE JSON",
            field: "dataVersion",
            found: "4.0".into(),
            supported: "5.x"
        })
    );
    let bad = cve5::parse(&cve(
        r#"{"vendor":"a","product":"b","versions":[{"version":"1","status":"vulnerable"}]}"#,
    ));
    assert_eq!(
        bad,
        Err(AdvisoryParseError::Invalid {
            field: "containers.cna.affected[0].versions[0].status".into(),
            value: "vulnerable".into(),
            expected: "affected, unaffected or unknown".into()
        })
    );
}

#[test]
fn nvd_bounds_platforms_and_kev() {
    let a = nvd::parse(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/nvd/handwritten-cves-2.0.json"),
        )
        .expect("read"),
    )
    .expect("parse");
    let log4j = &a[0];
    assert_eq!(log4j.cwes, vec!["CWE-502", "CWE-400", "CWE-20", "CWE-917"]);
    assert_eq!(
        log4j.affected[0].ranges,
        vec![range("nvd", Some(("2.0.1", true)), Some(("2.3.1", false)))]
    );
    assert_eq!(log4j.affected[2].versions, vec!["2.0"]);
    let fw = &log4j.affected[3];
    assert!(fw.all_versions);
    assert_eq!(
        fw.platforms,
        vec!["cpe:2.3:h:siemens:sppa-t3000_ses3000:-:*:*:*:*:*:*:*"]
    );
    assert!(log4j
        .cisa_adp
        .as_ref()
        .and_then(|c| c.kev.as_ref())
        .is_some());
    assert!(matches!(
        log4j.severities[0].publisher,
        ScorePublisher::NvdPrimary(Some(_))
    ));
    assert!(a[1].withdrawn.is_some());
}

#[test]
fn firmware_sbom_with_name_and_version_only() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
      "metadata":{"timestamp":"2024-03-01T10:00:00+01:00","component":{"type":"firmware","name":"gw-fw","version":"4.2.1","supplier":{"name":"ACME"}}},
      "components":[{"type":"operating-system","name":"linux","version":"5.10.120"},
                    {"type":"library","name":"busybox","version":1.36},
                    {"type":"machine-learning-model","name":"anomaly-detector","version":"2024.1"}]}"#;
    let sbom = cyclonedx::parse(doc).expect("parse");
    let subject = sbom.subject.expect("subject");
    assert_eq!(
        (subject.kind, subject.supplier.as_deref()),
        (ComponentKind::Firmware, Some("ACME"))
    );
    assert_eq!(sbom.components.len(), 3);
    assert_eq!(sbom.components[1].version.as_deref(), Some("1.36"));
    assert_eq!(sbom.components[2].kind, ComponentKind::MachineLearningModel);
    assert!(sbom
        .components
        .iter()
        .all(|c| c.purl.is_none() && c.cpes.is_empty()));
    assert_eq!(
        sbom.created.as_ref().map(Timestamp::as_str),
        Some("2024-03-01T10:00:00+01:00")
    );
}

#[test]
fn sbom_errors_name_field_and_index() {
    let bad_purl = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"a"},{"type":"library","name":"b","purl":"npm/b@1"}]}"#;
    assert_eq!(
        cyclonedx::parse(bad_purl),
        Err(SbomParseError::Invalid {
            field: "components[1].purl".into(),
            value: "npm/b@1".into(),
            expected: "a package URL starts with `pkg:`".into()
        })
    );
    let wrong_type = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"a","hashes":[{"alg":"SHA-256","content":7}]}]}"#;
    match cyclonedx::parse(wrong_type) {
        Err(SbomParseError::Json { path, .. }) => {
            assert_eq!(path, "components[0].hashes[0].content")
        }
        other => panic!("{other:?}"),
    }
    let spdx21 = br#"{"spdxVersion":"SPDX-2.1","packages":[]}"#;
    assert_eq!(
        spdx::parse(spdx21),
        Err(SbomParseError::UnsupportedVersion {
            format: "SPDX",
            field: "spdxVersion",
            found: "SPDX-2.1".into(),
            supported: "SPDX-2.2, SPDX-2.3"
        })
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        components_max: 2,
        ..Limits::DEFAULT
    };
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"a"},{"type":"library","name":"b"},{"type":"library","name":"c"}]}"#;
    assert_eq!(
        cyclonedx::parse_with(doc, &limits),
        Err(SbomParseError::TooMany {
            field: "components".into(),
            count_max: 2
        })
    );
    let small = Limits {
        document_bytes_max: 10,
        ..Limits::DEFAULT
    };
    assert_eq!(
        cyclonedx::parse_with(doc, &small),
        Err(SbomParseError::TooLarge {
            bytes: doc.len(),
            bytes_max: 10
        })
    );
}

#[test]
fn timestamps_normalize() {
    for (input, output) in [
        ("2024-01-02", "2024-01-02T00:00:00Z"),
        ("2024-01-02T03:04:05", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05.123Z"),
        ("2024-01-02T03:04", "2024-01-02T03:04:00Z"),
        (
            "2023-08-29T18:02:25.456783-04:00",
            "2023-08-29T18:02:25.456783-04:00",
        ),
    ] {
        assert_eq!(
            Timestamp::new(input).map(|t| t.as_str().to_string()),
            Ok(output.to_string())
        );
    }
    for bad in [
        "yesterday",
        "2024-1-2",
        "2024-01-02T03:04:05+0100",
        "2024-01-02T03:04:05.Z",
    ] {
        assert!(Timestamp::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn jsonl_reports_bad_lines_in_order_and_keeps_going() {
    let good = String::from_utf8(cve(r#"{"vendor":"a","product":"b"}"#))
        .expect("utf8")
        .replace('\n', " ");
    let input = format!("{good}\n\nnot json\n{good}\n");
    let mut seen = Vec::new();
    let summary = cve5::parse_jsonl(
        input.as_bytes(),
        &cve5::JsonlOptions {
            threads: 2,
            batch_bytes: 16,
            ..Default::default()
        },
        |line, r| seen.push((line, r.is_ok())),
    )
    .expect("read");
    assert_eq!(seen, vec![(1, true), (3, false), (4, true)]);
    assert_eq!((summary.records, summary.parsed, summary.failed), (3, 2, 1));
}
