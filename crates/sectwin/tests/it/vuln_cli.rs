//! `sectwin vuln import|show|list` end to end on a temporary data directory:
//! the import summary (table and `--json`), a re-import with everything
//! unchanged, `show` by id and by alias, `list --kev`, and exit code 1 with a
//! clear message for a missing path or an unknown id. The store itself is
//! tested in `crates/advisory-store`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vuln-formats/tests/data")
}

/// Runs `sectwin vuln ARGS`; returns (exit code, stdout, stderr).
fn vuln(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sectwin"))
        .arg("vuln")
        .args(args)
        .env_remove("SECTWIN_DATA")
        .output()
        .expect("run sectwin");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_then_show_and_list() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path().to_str().expect("utf-8 path");
    let osv = samples().join("osv");
    let cve5 = samples().join("cve5");
    let (osv, cve5) = (osv.to_str().expect("utf-8"), cve5.to_str().expect("utf-8"));

    let (code, out, err) = vuln(&["import", "--data", d, osv, cve5]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("new               14"), "{out}");
    assert!(out.contains("records/s"), "{out}");
    assert!(
        !err.contains("records ("),
        "no progress bars off a terminal: {err}"
    );
    assert!(data.path().join("advisories").is_dir());

    let (code, out, err) = vuln(&["import", "--data", d, "--json", "--quiet", osv, cve5]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON summary");
    assert_eq!(v["unchanged"], 14, "{v}");
    assert_eq!(v["new"], 0, "{v}");
    // A no-op import leaves the generation (and caches keyed by it) alone.
    assert_eq!(v["generation"], 1, "{v}");
    assert_eq!(v["changed_ids"], serde_json::json!([]), "{v}");

    // A record that cannot be imported makes the exit status say so.
    let junk = data.path().join("junk.json");
    std::fs::write(&junk, r#"{"hello": 1}"#).expect("write");
    let (code, out, err) = vuln(&[
        "import",
        "--data",
        d,
        "--quiet",
        junk.to_str().expect("utf-8"),
        osv,
    ]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(err.contains("could not be imported"), "{err}");

    let (code, out, err) = vuln(&["show", "--data", d, "CVE-2012-4792"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("CVE-2012-4792"), "{out}");
    assert!(out.contains("KEV:       listed"), "{out}");
    assert!(
        out.contains("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H  recomputed 8.8 (High), published 8.8: agrees"),
        "{out}"
    );
    assert!(out.contains("cpe:2.3:a:microsoft:ie:6.0"), "{out}");

    // As JSON, and by alias.
    let (code, out, err) = vuln(&["show", "--data", d, "--json", "GHSA-9v2f-6vcg-3hgv"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(v["advisory"]["id"], "GHSA-9v2f-6vcg-3hgv", "{v}");
    assert_eq!(v["scores"][0]["recomputed_base_score"], 9.8, "{v}");
    assert_eq!(v["severity"], "Critical", "{v}");
    let (code, out, err) = vuln(&["show", "--data", d, "CVE-2020-36567"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("GO-2020-0001"), "{out}");

    let (code, out, err) = vuln(&["list", "--data", d, "--kev"]);
    assert_eq!(code, Some(0), "{err}");
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert!(ids.contains(&"CVE-2012-4792"), "{out}");
    assert!(!ids.contains(&"CVE-1999-0006"), "{out}");

    let (code, _, err) = vuln(&["show", "--data", d, "CVE-0000-0000"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no advisory CVE-0000-0000"), "{err}");

    let missing = data.path().join("missing.json");
    let (code, _, err) = vuln(&["import", "--data", d, missing.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("missing.json") && err.contains("No such file"),
        "{err}"
    );
}

/// `sectwin vuln kev|epss` on CISA's real catalogue and two days of EPSS
/// scores; `show` names the listing and the score with the one before; a
/// stale day and a broken list exit 1 saying why.
#[test]
fn kev_and_epss_imports_and_what_show_adds() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path().to_str().expect("utf-8 path");
    let cve5 = samples().join("cve5");
    let (code, _, err) = vuln(&["import", "--data", d, cve5.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{err}");
    let kev = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/kev/known_exploited_vulnerabilities-2025-08-25.json.gz");
    let kev = kev.to_str().expect("utf-8");
    let (code, out, err) = vuln(&["kev", "--data", d, kev]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.trim(),
        "cisa-kev 2025.08.25 (1404 entries): 1404 added, 0 updated, 0 removed, 0 unchanged"
    );
    let day = |name: &str, score: &str| {
        let p = data.path().join(name);
        std::fs::write(
            &p,
            format!(
                "#model_version:v2025.03.14,score_date:{}T00:00:00Z\ncve,epss,percentile\nCVE-2012-4792,{score},0.99\n",
                &name[..10]
            ),
        )
        .expect("write");
        p.to_str().expect("utf-8").to_string()
    };
    let (first, second) = (day("2026-12-01.csv", "0.05"), day("2026-12-02.csv", "0.42"));
    let (code, _, err) = vuln(&["epss", "--data", d, &first]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = vuln(&["epss", "--data", d, &second]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("1 jumps") && out.contains("CVE-2012-4792  0.05000 → 0.42000"),
        "{out}"
    );
    let (code, out, err) = vuln(&["show", "--data", d, "CVE-2012-4792"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("listed:    cisa-kev: CVE-2012-4792 added"),
        "{out}"
    );
    assert!(
        out.contains("EPSS:      CVE-2012-4792 0.42000, percentile 0.99000 (was 0.05000)"),
        "{out}"
    );
    let (code, _, err) = vuln(&["epss", "--data", d, &first]);
    assert_eq!(code, Some(1));
    assert!(err.contains("older than those of 2026-12-02"), "{err}");
    let broken = data.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"catalogVersion":"1","dateReleased":"x","count":2,"vulnerabilities":[]}"#,
    )
    .expect("write");
    let (code, _, err) = vuln(&["kev", "--data", d, broken.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("count 2 but lists 0"), "{err}");
}
