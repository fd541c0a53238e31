//! The advisory store against the real samples of `vuln-formats`
//! (`crates/vuln-formats/tests/data/`: OSV, CVE 5, NVD 2.0, CSAF 2.0):
//! first import, re-import (all unchanged), one modified record (one
//! updated, and `changed_ids` names it), reopening, JSON lines and gzip,
//! malformed input listed as failures while the rest is imported, lookups by
//! alias, and the exact round trip of every stored advisory.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use advisory_store::{AdvisoryStore, NoProgress, StoreError};
use vuln_formats::Advisory;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vuln-formats/tests/data")
}

/// Copies the advisory samples into `dir` (osv/, cve5/, nvd/, csaf/).
fn copy_samples(dir: &Path) {
    for sub in ["osv", "cve5", "nvd", "csaf"] {
        let to = dir.join(sub);
        std::fs::create_dir_all(&to).expect("mkdir");
        for e in std::fs::read_dir(samples().join(sub)).expect("samples") {
            let p = e.expect("entry").path();
            std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
        }
    }
}

/// Every advisory of the samples, parsed directly, by id (the last
/// occurrence in walk order is irrelevant: only ids are compared).
fn sample_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for sub in ["osv", "cve5", "nvd", "csaf"] {
        for e in std::fs::read_dir(samples().join(sub)).expect("samples") {
            let bytes = std::fs::read(e.expect("entry").path()).expect("read");
            let parsed: Vec<Advisory> = match vuln_formats::detect(&bytes) {
                Some(vuln_formats::DocumentFormat::Osv) => {
                    vuln_formats::osv::parse(&bytes).unwrap_or_default()
                }
                Some(vuln_formats::DocumentFormat::Cve5) => {
                    vuln_formats::cve5::parse(&bytes).into_iter().collect()
                }
                Some(vuln_formats::DocumentFormat::NvdApi2) => {
                    vuln_formats::nvd::parse(&bytes).unwrap_or_default()
                }
                Some(vuln_formats::DocumentFormat::Csaf) => {
                    vuln_formats::csaf::parse(&bytes).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            ids.extend(parsed.into_iter().map(|a| a.id.as_str().to_string()));
        }
    }
    ids
}

#[test]
fn import_reimport_modify_and_reopen() {
    let input = tempfile::tempdir().expect("tempdir");
    copy_samples(input.path());
    let db = tempfile::tempdir().expect("tempdir");
    let ids = sample_ids();
    assert!(ids.len() >= 15, "{ids:?}");

    // First import: every distinct id is new; the legacy NVD 1.1 feed fails.
    let store = AdvisoryStore::open(db.path()).expect("open");
    let paths = vec![input.path().to_path_buf()];
    let first = store.import_paths(&paths, &NoProgress).expect("import");
    assert_eq!(first.new, ids.len(), "{first:#?}");
    assert_eq!((first.updated, first.unchanged), (0, 0));
    assert_eq!(first.generation, 1);
    assert_eq!(first.changed_ids.len(), ids.len());
    assert_eq!(store.len(), ids.len());
    assert!(first.duplicates >= 3, "the OSV samples repeat three ids");
    assert!(first.withdrawn >= 1, "CVE-2019-25161 is rejected");
    let rejected = store.get("CVE-2019-25161").expect("get").expect("stored");
    assert!(rejected.withdrawn.is_some());
    assert_eq!(first.failed, 1, "{:#?}", first.failures);
    assert!(first.failures[0]
        .file
        .ends_with("nvd/handwritten-legacy-1.1-feed.json"));
    assert!(first.failures[0].reason.contains("unsupported NVD version"));
    assert_eq!(first.failures[0].record, "document");
    assert!(first.files >= 24);

    // Re-import: all unchanged, nothing changed since generation 1, and
    // the generation stays (a cache keyed by it stays valid).
    let again = store.import_paths(&paths, &NoProgress).expect("re-import");
    assert_eq!(again.unchanged, ids.len(), "{again:#?}");
    assert_eq!((again.new, again.updated), (0, 0));
    assert!(again.changed_ids.is_empty());
    assert_eq!(again.generation, 1);
    assert_eq!(store.generation().expect("generation"), 1);
    assert_eq!(
        store.ids_changed_since(1).expect("since"),
        Vec::<String>::new()
    );
    assert_eq!(store.ids_changed_since(0).expect("since").len(), ids.len());

    // Modify one record: one updated, and only it changed since.
    let file = input.path().join("cve5/kev-CVE-2012-4792.json");
    let text = std::fs::read_to_string(&file).expect("read");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    doc["containers"]["cna"]["descriptions"][0]["value"] =
        serde_json::Value::String("changed description".into());
    std::fs::write(&file, serde_json::to_vec(&doc).expect("json")).expect("write");
    let third = store.import_paths(&paths, &NoProgress).expect("import");
    assert_eq!(third.updated, 1, "{third:#?}");
    assert_eq!(third.unchanged, ids.len() - 1);
    assert_eq!(third.changed_ids, vec!["CVE-2012-4792".to_string()]);
    assert_eq!(
        store
            .ids_changed_since(third.generation - 1)
            .expect("since"),
        vec!["CVE-2012-4792".to_string()]
    );
    let changed = store.get("CVE-2012-4792").expect("get").expect("stored");
    assert_eq!(changed.description.as_deref(), Some("changed description"));
    assert_eq!(third.generation, 2);

    // An older version (an earlier `dateUpdated`, other content) never
    // replaces the newer one; the generation stays.
    let newer = doc.clone();
    doc["cveMetadata"]["dateUpdated"] = serde_json::Value::String("2001-01-01T00:00:00Z".into());
    doc["containers"]["cna"]["descriptions"][0]["value"] =
        serde_json::Value::String("an old description".into());
    std::fs::write(&file, serde_json::to_vec(&doc).expect("json")).expect("write");
    let stale = store.import_paths(&paths, &NoProgress).expect("import");
    assert_eq!((stale.older, stale.updated), (1, 0), "{stale:#?}");
    assert!(stale.changed_ids.is_empty());
    assert_eq!(stale.generation, 2);
    let kept = store.get("CVE-2012-4792").expect("get").expect("stored");
    assert_eq!(kept.description.as_deref(), Some("changed description"));
    std::fs::write(&file, serde_json::to_vec(&newer).expect("json")).expect("write");
    let changes = store.changes_since(1).expect("changes");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].id, "CVE-2012-4792");
    assert_eq!(changes[0].generation, 2);

    // Reopen: the same contents.
    let before: Vec<Advisory> = ids
        .iter()
        .map(|id| store.get(id).expect("get").expect("stored"))
        .collect();
    drop(store);
    let store = AdvisoryStore::open(db.path()).expect("reopen");
    assert_eq!(store.len(), ids.len());
    assert_eq!(store.generation().expect("generation"), 2);
    let after: Vec<Advisory> = ids
        .iter()
        .map(|id| store.get(id).expect("get").expect("stored"))
        .collect();
    assert_eq!(before, after);
    let index = store.load_index().expect("index");
    assert_eq!(index.len(), ids.len());
    let fourth = store.import_paths(&paths, &NoProgress).expect("import");
    assert_eq!(fourth.unchanged, ids.len());
}

#[test]
fn stored_advisories_round_trip_exactly_and_aliases_find_them() {
    let db = tempfile::tempdir().expect("tempdir");
    let store = AdvisoryStore::open(db.path()).expect("open");
    let bytes = std::fs::read(samples().join("osv/GHSA-9v2f-6vcg-3hgv.json")).expect("read");
    let parsed = vuln_formats::osv::parse(&bytes).expect("parse");
    let alias = parsed[0].aliases[0].as_str().to_string();
    let mut all = parsed.clone();
    for f in [
        "cve5/kev-CVE-2012-4792.json",
        "cve5/cvss4-CVE-2005-10003.json",
    ] {
        let bytes = std::fs::read(samples().join(f)).expect("read");
        all.push(vuln_formats::cve5::parse(&bytes).expect("parse"));
    }
    let summary = store.import(all.clone()).expect("import");
    assert_eq!((summary.new, summary.records), (3, 3));
    for a in &all {
        assert_eq!(store.get(a.id.as_str()).expect("get").as_ref(), Some(a));
    }
    assert_eq!(
        store.get(&alias).expect("get").map(|a| a.id),
        Some(parsed[0].id.clone())
    );
    assert_eq!(store.get("CVE-0000-0000").expect("get"), None);
}

#[test]
fn malformed_files_are_listed_and_the_rest_is_imported() {
    let input = tempfile::tempdir().expect("tempdir");
    let dir = input.path();
    std::fs::copy(samples().join("osv/GO-2020-0001.json"), dir.join("a.json")).expect("copy");
    std::fs::write(dir.join("broken.json"), b"{\"id\": \"GHSA-").expect("write");
    std::fs::write(
        dir.join("sbom.json"),
        std::fs::read(samples().join("cyclonedx/valid-bom-1.7.json")).expect("read"),
    )
    .expect("write");
    std::fs::write(dir.join("notgzip.json.gz"), b"plain text").expect("write");
    std::fs::write(dir.join("ignored.txt"), b"not read").expect("write");
    // JSON lines, gzip-compressed: two CVE 5 records around a broken line.
    let mut lines = Vec::new();
    for f in [
        "cve5/kev-CVE-2012-4792.json",
        "cve5/first-CVE-1999-0006.json",
    ] {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(samples().join(f)).expect("read")).expect("json");
        lines.push(serde_json::to_string(&v).expect("json"));
    }
    let jsonl = format!("{}\n{{\"broken\n\n{}\n", lines[0], lines[1]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(jsonl.as_bytes()).expect("gzip");
    std::fs::write(dir.join("dump.jsonl.gz"), gz.finish().expect("gzip")).expect("write");

    let db = tempfile::tempdir().expect("tempdir");
    let store = AdvisoryStore::open(db.path()).expect("open");
    let s = store
        .import_paths(&[dir.to_path_buf()], &NoProgress)
        .expect("import");
    assert_eq!(s.files, 5, "{s:#?}");
    assert_eq!(s.new, 3, "{s:#?}");
    assert_eq!(s.failed, 4, "{s:#?}");
    let failed: Vec<(String, String)> = s
        .failures
        .iter()
        .map(|f| {
            (
                f.file
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                f.record.clone(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            ("broken.json".into(), "document".into()),
            ("dump.jsonl.gz".into(), "line 2".into()),
            ("notgzip.json.gz".into(), "file".into()),
            ("sbom.json".into(), "document".into()),
        ]
    );
    assert_eq!(s.files_failed, 1);
    assert!(s.failures[3].reason.contains("CycloneDx"), "{s:#?}");
    assert!(store.get("CVE-1999-0006").expect("get").is_some());

    // A path that does not exist is an error before anything is imported.
    let missing = dir.join("missing");
    match store.import_paths(std::slice::from_ref(&missing), &NoProgress) {
        Err(StoreError::Path { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected a path error, got {other:?}"),
    }
}

/// Issue 13, item 10: an import on a full disk failed, and every later one
/// too until a restart (a failed write poisons fjall's keyspace). The store
/// now reopens itself before its next write: once space is back, the same
/// store imports again, and nothing is lost. Needs the right to mount a
/// tmpfs (root or CAP_SYS_ADMIN); fails saying so otherwise.
#[test]
fn an_import_on_a_full_disk_fails_and_the_next_one_works_once_space_is_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = testkit::Tmpfs::mount(&dir.path().join("fs"), "64m");
    let store = AdvisoryStore::open(&fs.dir().join("advisories")).expect("open");
    let bytes = std::fs::read(samples().join("osv/GHSA-9v2f-6vcg-3hgv.json")).expect("read");
    let first = vuln_formats::osv::parse(&bytes).expect("parse");
    store
        .import(first.clone())
        .expect("import before the disk is full");
    let bytes = std::fs::read(samples().join("cve5/kev-CVE-2012-4792.json")).expect("read");
    let second = vuln_formats::cve5::parse(&bytes).expect("parse");
    let filler = fs.fill();
    let full = store.import(vec![second.clone()]);
    assert!(
        full.is_err(),
        "an import on a full disk succeeded: {full:?}"
    );
    std::fs::remove_file(filler).expect("free the space");
    let summary = store
        .import(vec![second.clone()])
        .expect("the import once space is back");
    assert_eq!(summary.records, 1);
    assert_eq!(store.get(second.id.as_str()).expect("get"), Some(second));
    assert_eq!(
        store.get(first[0].id.as_str()).expect("get").as_ref(),
        first.first()
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn discoveries_are_kept_in_batches_across_reopens() {
    let db = tempfile::tempdir().expect("tempdir");
    // Enough risks for several stored values.
    let many: Vec<(String, String)> = (0..40_000)
        .map(|i| {
            (
                format!(
                    "model:acme/cam-{} vuln/CVE-2024-{i:05}@1.{}.0",
                    i % 7,
                    i % 13
                ),
                format!("2026-12-{:02}", 1 + i % 28),
            )
        })
        .collect();
    {
        let store = AdvisoryStore::open(db.path()).expect("open");
        store
            .record_discoveries(&many[..30_000])
            .expect("first batch");
        store
            .record_discoveries(&many[30_000..])
            .expect("second batch");
        store
            .record_discoveries::<&str, &str>(&[])
            .expect("nothing");
        let long = "k".repeat(advisory_store::DISCOVERY_KEY_BYTES_MAX + 1);
        let refused = store.record_discoveries(&[
            ("fine".to_string(), "2026-12-01".to_string()),
            (long, "2026-12-01".to_string()),
        ]);
        assert!(refused.is_err(), "a key past the limit is refused");
        let bad_day = store.record_discoveries(&[("k".to_string(), "tomorrow".to_string())]);
        assert!(bad_day.is_err(), "a day is YYYY-MM-DD");
    }
    let store = AdvisoryStore::open(db.path()).expect("reopen");
    let mut read = store.discoveries().expect("read");
    read.sort();
    let mut expect = many.clone();
    expect.sort();
    assert_eq!(read, expect, "every discovery, once, and nothing refused");
}
