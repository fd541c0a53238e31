//! Data-driven tests over the real documents in `tests/data/<format>/` (see
//! `tests/data/PROVENANCE.md`): every file is detected as its format and
//! parses, or fails with exactly the error pinned here; a few have their
//! counts pinned. Files are read by the test, never by the library.

use std::path::{Path, PathBuf};

use vuln_formats::{csaf, cve5, cyclonedx, nvd, openvex, osv, spdx, DocumentFormat};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn files(sub: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data_dir().join(sub))
        .expect("data dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One line per file: `ok <summary>` or `err <error>`.
fn outcome(format: &str, bytes: &[u8]) -> String {
    fn show<T, E: std::fmt::Display>(r: Result<T, E>, f: impl Fn(&T) -> String) -> String {
        match r {
            Ok(v) => format!("ok {}", f(&v)),
            Err(e) => format!("err {e}"),
        }
    }
    match format {
        "cyclonedx" => {
            let sbom = show(cyclonedx::parse(bytes), |s| {
                format!(
                    "components={} deps={} subject={}",
                    s.components.len(),
                    s.dependencies.len(),
                    s.subject.as_ref().map_or("-", |c| c.name.as_str())
                )
            });
            let vex = show(cyclonedx::parse_vex(bytes), |v| {
                format!("statements={}", v.len())
            });
            format!("{sbom} | vex {vex}")
        }
        "spdx" => show(spdx::parse(bytes), |s| {
            format!(
                "components={} deps={} subject={}",
                s.components.len(),
                s.dependencies.len(),
                s.subject.as_ref().map_or("-", |c| c.name.as_str())
            )
        }),
        "osv" => show(osv::parse(bytes), |a| {
            let affected: usize = a.iter().map(|x| x.affected.len()).sum();
            format!("advisories={} affected={affected}", a.len())
        }),
        "cve5" => show(cve5::parse(bytes), |a| {
            format!(
                "affected={} severities={} dropped={}",
                a.affected.len(),
                a.severities.len(),
                a.dropped.len()
            )
        }),
        "nvd" => show(nvd::parse(bytes), |a| {
            let affected: usize = a.iter().map(|x| x.affected.len()).sum();
            format!("advisories={} affected={affected}", a.len())
        }),
        "csaf" => {
            let adv = show(csaf::parse(bytes), |a| {
                let affected: usize = a.iter().map(|x| x.affected.len()).sum();
                format!("advisories={} affected={affected}", a.len())
            });
            let vex = show(csaf::parse_vex(bytes), |v| {
                format!("statements={}", v.len())
            });
            format!("{adv} | vex {vex}")
        }
        "openvex" => show(openvex::parse(bytes), |v| format!("statements={}", v.len())),
        _ => String::from("unknown format dir"),
    }
}

fn expected_format(dir: &str) -> DocumentFormat {
    match dir {
        "cyclonedx" => DocumentFormat::CycloneDx,
        "spdx" => DocumentFormat::Spdx,
        "osv" => DocumentFormat::Osv,
        "cve5" => DocumentFormat::Cve5,
        "nvd" => DocumentFormat::NvdApi2,
        "csaf" => DocumentFormat::Csaf,
        _ => DocumentFormat::OpenVex,
    }
}

/// Every file's detected format and outcome, compared with the snapshot in
/// `tests/data/outcomes.txt` (rewrite it with `UPDATE_EXPECT=1`).
#[test]
fn every_document_parses_or_fails_as_pinned() {
    let mut lines = Vec::new();
    for dir in ["cyclonedx", "spdx", "osv", "cve5", "nvd", "csaf", "openvex"] {
        for f in files(dir) {
            let bytes = std::fs::read(&f).expect("read");
            let detected = vuln_formats::detect(&bytes);
            let n = name(&f);
            // Only the schema's own "invalid-bomformat" files are not
            // detected as what their folder says.
            if !n.starts_with("invalid-bomformat") {
                assert_eq!(detected, Some(expected_format(dir)), "{dir}/{n}");
            }
            lines.push(format!("{dir}/{n}: {detected:?} {}", outcome(dir, &bytes)));
        }
    }
    let actual = lines.join("\n") + "\n";
    let path = data_dir().join("outcomes.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &actual).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let diff: Vec<String> = actual
            .lines()
            .filter(|l| !expected.lines().any(|e| e == *l))
            .map(|l| format!("+ {l}"))
            .chain(
                expected
                    .lines()
                    .filter(|e| !actual.lines().any(|l| l == *e))
                    .map(|l| format!("- {l}")),
            )
            .collect();
        panic!(
            "outcomes differ from tests/data/outcomes.txt (UPDATE_EXPECT=1 to accept):\n{}",
            diff.join("\n")
        );
    }
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(rel)).expect("read data file")
}

#[test]
fn cisco_csaf_resolves_products_and_scores() {
    let advisories = csaf::parse(&read("csaf/CVE-2018-0171-modified.json")).expect("parse");
    let [a] = advisories.as_slice() else {
        panic!("one advisory expected, got {}", advisories.len());
    };
    assert_eq!(a.id.as_str(), "CVE-2018-0171");
    assert_eq!(a.affected.len(), 259);
    assert!(a
        .severities
        .iter()
        .any(|s| s.scheme == vuln_formats::SeverityScheme::CvssV30
            || s.scheme == vuln_formats::SeverityScheme::CvssV31));
    // Every affected product was resolved to a full product name.
    assert!(a.affected.iter().all(|x| x
        .package
        .iter()
        .any(|p| matches!(p, vuln_formats::PackageId::Name { .. }))));
}

#[test]
fn red_hat_csaf_vex_statements_carry_purls_and_cpes() {
    let statements = csaf::parse_vex(&read("csaf/rhba-2023_0564.json")).expect("parse");
    assert_eq!(statements.len(), 2);
    let products: usize = statements.iter().map(|s| s.products.len()).sum();
    assert!(products > 0);
    assert!(statements
        .iter()
        .all(|s| s.author.as_deref() == Some("Red Hat Product Security")));
}

#[test]
fn vulnrichment_samples_keep_adp_data() {
    use vuln_formats::{ScorePublisher, SeverityScheme};
    let kev = cve5::parse(&read("cve5/kev-CVE-2012-4792.json")).expect("parse");
    let adp = kev.cisa_adp.expect("CISA ADP");
    assert!(adp.kev.is_some() && adp.ssvc.is_some());
    let v4 = cve5::parse(&read("cve5/cvss4-CVE-2005-10003.json")).expect("parse");
    assert!(v4
        .severities
        .iter()
        .any(|s| s.scheme == SeverityScheme::CvssV40
            && matches!(s.publisher, ScorePublisher::Cna(_))));
    let ibm = cve5::parse(&read("cve5/ibm-malformed-cpe-CVE-2023-33860.json")).expect("parse");
    let [dropped] = ibm.dropped.as_slice() else {
        panic!("one dropped value expected: {:?}", ibm.dropped);
    };
    assert_eq!(dropped.field, "containers.cna.affected[0].cpes[0]");
    let rejected = cve5::parse(&read("cve5/rejected-CVE-2019-25161.json")).expect("parse");
    assert!(rejected.withdrawn.is_some());
}

#[test]
fn trivy_spdx_packages_have_purls() {
    let sbom = spdx::parse(&read("spdx/spdx-trivy-fluentd.json")).expect("parse");
    assert_eq!(sbom.components.len(), 514);
    let with_purl = sbom.components.iter().filter(|c| c.purl.is_some()).count();
    assert!(with_purl > 400, "{with_purl}");
}

#[test]
fn cyclonedx_vulnerability_analysis_is_a_vex_statement() {
    for v in ["1.4", "1.5", "1.6", "1.7"] {
        let statements =
            cyclonedx::parse_vex(&read(&format!("cyclonedx/valid-vulnerability-{v}.json")))
                .expect("parse");
        let [s] = statements.as_slice() else {
            panic!("{v}: one statement expected");
        };
        assert_eq!(s.products.len(), 1, "{v}");
        assert!(
            s.products.iter().all(|p| p.name.is_some()),
            "{v}: affects resolved to the component"
        );
    }
}
