//! Parses all of `shared/data/cve/vulnrichment-public.jsonl.gz` (41,905 CVE 5
//! records with CISA ADP enrichment) through `cve5::parse_jsonl_gz` and pins
//! the counts; prints the time and records/s (run it with `--release
//! --nocapture` for the figure). It skips itself, saying so, when the shared
//! data directory is not beside the checkout.

use std::path::PathBuf;
use std::time::Instant;

use vuln_formats::cve5::{self, JsonlOptions};
use vuln_formats::{PackageId, ScorePublisher};

fn data_file() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/cve/vulnrichment-public.jsonl.gz"),
        PathBuf::from("/work/shared/data/cve/vulnrichment-public.jsonl.gz"),
    ];
    candidates.into_iter().find(|p| p.exists())
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

#[test]
fn whole_vulnrichment_export_parses() {
    let Some(path) = data_file() else {
        eprintln!("SKIPPED: vulnrichment-public.jsonl.gz not found beside the checkout");
        return;
    };
    let file = std::fs::File::open(&path).expect("open data file");
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
        "vulnrichment: {} records ({} MB uncompressed) in {:.3} s = {:.0} records/s; {:?}",
        summary.records,
        summary.bytes / 1_000_000,
        elapsed.as_secs_f64(),
        summary.records as f64 / elapsed.as_secs_f64(),
        counts
    );
    assert_eq!(summary.records, 41_905);
    assert_eq!(counts.records, 41_905);
    assert!(
        counts.failures.is_empty(),
        "failures: {:#?}",
        counts.failures
    );
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
    // Explained: IBM's CNA wrote five malformed CPEs (a CPE pasted into
    // another, and `sterling_connect:direct` with an unescaped colon); each
    // is dropped into `Advisory::dropped` and the record kept.
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
}
