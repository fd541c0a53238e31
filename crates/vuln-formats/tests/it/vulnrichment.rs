//! CISA's vulnrichment export (CVE 5 records with CISA ADP enrichment)
//! through `cve5::parse_jsonl_gz`, with the counts pinned.
//!
//! `vendored_subset_parses` reads the repository's subset,
//! `testdata/cve/vulnrichment-subset.jsonl.gz` (5,981 whole records of the
//! 2024-10-24 snapshot, chosen and counted by `testdata/make-cve-subset.py`;
//! see `testdata/README.md`). Its expected counts were derived by that script
//! from the raw JSON, not by this parser; the same derivation over the full
//! dump gives exactly the counts `whole_vulnrichment_export_parses` pins.
//!
//! `whole_vulnrichment_export_parses` reads all 41,905 records of the full
//! dump (`$SECTWIN_CVE_DUMP` or `../shared/data/cve` beside the repository);
//! it is ignored by default and run by `.ci/test`'s `full-dump` stage when the
//! dump is there. Both print the time and records/s (run with `--nocapture`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use vuln_formats::cve5::{self, JsonlOptions, JsonlSummary};
use vuln_formats::{PackageId, ScorePublisher};

/// The vendored subset.
pub fn subset_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cve/vulnrichment-subset.jsonl.gz")
}

#[derive(Default, Debug)]
struct Counts {
    records: usize,
    with_adp_cvss: usize,
    with_cpes: usize,
    with_kev: usize,
    with_ssvc: usize,
    rejected: usize,
    with_dropped: Vec<String>,
    failures: Vec<String>,
}

fn count(path: &Path) -> (JsonlSummary, Counts) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut counts = Counts::default();
    let started = Instant::now();
    let summary = cve5::parse_jsonl_gz(file, &JsonlOptions::default(), |line, result| {
        counts.records += 1;
        match result {
            Ok(a) => {
                if a.severities
                    .iter()
                    .any(|s| s.publisher == ScorePublisher::CisaAdp)
                {
                    counts.with_adp_cvss += 1;
                }
                if a.affected
                    .iter()
                    .any(|x| x.package.iter().any(|p| matches!(p, PackageId::Cpe { .. })))
                {
                    counts.with_cpes += 1;
                }
                if let Some(adp) = &a.cisa_adp {
                    counts.with_kev += usize::from(adp.kev.is_some());
                    counts.with_ssvc += usize::from(adp.ssvc.is_some());
                }
                counts.rejected += usize::from(a.withdrawn.is_some());
                if !a.dropped.is_empty() {
                    counts.with_dropped.push(a.id.as_str().to_string());
                }
            }
            Err(e) => counts.failures.push(format!("line {line}: {e}")),
        }
    })
    .expect("read the stream");
    let elapsed = started.elapsed();
    println!(
        "{}: {} records ({} MB uncompressed) in {:.3} s = {:.0} records/s; {:?}",
        path.display(),
        summary.records,
        summary.bytes / 1_000_000,
        elapsed.as_secs_f64(),
        summary.records as f64 / elapsed.as_secs_f64(),
        counts
    );
    assert!(
        counts.failures.is_empty(),
        "failures: {:#?}",
        counts.failures
    );
    // Explained: IBM's CNA wrote five malformed CPEs (a CPE pasted into
    // another, and `sterling_connect:direct` with an unescaped colon); each
    // is dropped into `Advisory::dropped` and the record kept. Both files
    // hold all five (the subset takes every record with an invalid CPE).
    assert_eq!(
        counts.with_dropped,
        [
            "CVE-2023-33860",
            "CVE-2023-35006",
            "CVE-2024-39744",
            "CVE-2024-39745",
            "CVE-2024-39746"
        ]
    );
    (summary, counts)
}

#[test]
fn vendored_subset_parses() {
    let (summary, counts) = count(&subset_path());
    // Counted by testdata/make-cve-subset.py from the raw JSON (see the
    // module docs), not by this parser.
    assert_eq!(summary.records, 5_981);
    assert_eq!(counts.records, 5_981);
    assert_eq!(summary.parsed, 5_981);
    assert_eq!(
        counts.with_adp_cvss, 517,
        "records with a CISA ADP CVSS score"
    );
    assert_eq!(
        counts.with_cpes, 1_469,
        "records with at least one valid CPE"
    );
    assert_eq!(
        counts.with_kev, 179,
        "records in CISA KEV (all of the dump's)"
    );
    assert_eq!(
        counts.with_ssvc, 5_877,
        "records with CISA SSVC decision points"
    );
    assert_eq!(counts.rejected, 104, "rejected records (all of the dump's)");
}

/// The full dump: `$SECTWIN_CVE_DUMP`, or the shared snapshot beside the
/// repository; panics saying how to get it when neither is there.
fn full_dump() -> PathBuf {
    let (path, from) = match std::env::var_os("SECTWIN_CVE_DUMP") {
        Some(p) => (PathBuf::from(p), "SECTWIN_CVE_DUMP"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/cve/vulnrichment-public.jsonl.gz"),
            "../shared/data/cve beside the repository",
        ),
    };
    assert!(
        path.is_file(),
        "needs the full CVE dump: {} (from {from}) does not exist. Put the shared checkout \
         beside the repository or set SECTWIN_CVE_DUMP to cisagov/vulnrichment's snapshot of \
         2024-10-24 as JSON lines, gzip (see ../shared/data/README.md)",
        path.display()
    );
    path
}

#[test]
#[ignore = "needs the full CVE dump: ../shared/data/cve or SECTWIN_CVE_DUMP"]
fn whole_vulnrichment_export_parses() {
    let (summary, counts) = count(&full_dump());
    assert_eq!(summary.records, 41_905);
    assert_eq!(counts.records, 41_905);
    assert_eq!(summary.parsed, 41_905);
    // Pinned counts of the 2024-10-24 snapshot.
    assert_eq!(
        counts.with_adp_cvss, 5_292,
        "records with a CISA ADP CVSS score"
    );
    assert_eq!(counts.with_cpes, 17_207, "records with at least one CPE");
    assert_eq!(counts.with_kev, 179, "records in CISA KEV");
    assert_eq!(
        counts.with_ssvc, 41_801,
        "records with CISA SSVC decision points"
    );
    assert_eq!(counts.rejected, 104, "rejected records");
}
