//! The published-score check on real records: every record of the vendored
//! vulnrichment subset (`testdata/cve/vulnrichment-subset.jsonl.gz`) goes
//! through `PreparedAdvisory::new`, and the records it flags as publishing a
//! base score that is not their vector's must be exactly those listed in
//! `testdata/cve/score-mismatches.tsv`, which `testdata/make-cve-subset.py`
//! derived with an independent implementation (PyPI `cvss` 3.6). The subset
//! holds every such record of the dump (361: mostly a temporal or
//! environmental score published as the base score) and a sample of the
//! rest, which must not be flagged.

use std::collections::BTreeSet;
use std::path::PathBuf;

use vuln::index::PreparedAdvisory;
use vuln_formats::cve5::{self, JsonlOptions};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cve")
        .join(name)
}

#[test]
fn flagged_published_scores_are_the_independent_list() {
    let listed: BTreeSet<String> = std::fs::read_to_string(testdata("score-mismatches.tsv"))
        .expect("the mismatch list")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(listed.len(), 361);

    let file = std::fs::File::open(testdata("vulnrichment-subset.jsonl.gz")).expect("the subset");
    let mut flagged = BTreeSet::new();
    let mut scored = 0usize;
    let summary = cve5::parse_jsonl_gz(file, &JsonlOptions::default(), |line, result| {
        let a = result.unwrap_or_else(|e| panic!("line {line}: {e}"));
        let prepared = PreparedAdvisory::new(&a);
        scored += prepared.scores().len();
        if prepared.has_score_mismatch() {
            flagged.insert(a.id.as_str().to_string());
        }
    })
    .expect("read the subset");
    assert_eq!(summary.records, 5_981);
    assert!(scored > 2_500, "only {scored} scores recomputed");
    let not_flagged: Vec<_> = listed.difference(&flagged).collect();
    let not_listed: Vec<_> = flagged.difference(&listed).collect();
    assert!(
        not_flagged.is_empty() && not_listed.is_empty(),
        "mismatches PyPI cvss finds that we do not: {not_flagged:?}; \
         that we flag and it does not: {not_listed:?}"
    );
}
