//! The KEV flag the CVE 5 parser reads from CISA's ADP container, checked
//! against CISA's own Known Exploited Vulnerabilities catalogue (vendored
//! in `testdata/kev/`, catalogVersion 2025.08.25, with its JSON Schema): every
//! record of the vendored vulnrichment subset that the parser says is known
//! exploited is in the catalogue, added on the same day. Also checks the
//! catalogue against the fields its schema requires, so that a re-vendored
//! file of another shape is noticed here rather than in a confusing failure.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;
use vuln_formats::cve5::{self, JsonlOptions};

use crate::vulnrichment::subset_path;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/kev")
        .join(name)
}

fn catalogue() -> Value {
    let file = std::fs::File::open(testdata(
        "known_exploited_vulnerabilities-2025-08-25.json.gz",
    ))
    .expect("the vendored KEV catalogue");
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gunzip");
    serde_json::from_str(&text).expect("KEV JSON")
}

/// Records CISA's ADP flagged as known exploited in the 2024-10-24
/// vulnrichment snapshot that the 2025-08-25 catalogue no longer lists.
const LEFT_THE_CATALOGUE: [&str; 1] = ["CVE-2021-4043"];

#[test]
fn kev_flags_of_the_subset_are_in_cisas_catalogue() {
    let kev = catalogue();
    assert_eq!(kev["catalogVersion"], "2025.08.25");
    let entries = kev["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(kev["count"].as_u64(), Some(entries.len() as u64));
    assert_eq!(entries.len(), 1_404);

    // The schema's required fields, on the catalogue and on every entry.
    let schema: Value = serde_json::from_slice(
        &std::fs::read(testdata("known_exploited_vulnerabilities_schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let required = |v: &Value| -> Vec<String> {
        v["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|f| f.as_str().expect("field name").to_string())
            .collect()
    };
    for field in required(&schema) {
        assert!(!kev[&field].is_null(), "catalogue lacks {field}");
    }
    let entry_fields = required(&schema["$defs"]["vulnerability"]);
    assert!(entry_fields.iter().any(|f| f == "dateAdded"));
    let mut date_added = BTreeMap::new();
    for e in entries {
        for field in &entry_fields {
            assert!(!e[field].is_null(), "{e}: lacks {field}");
        }
        let id = e["cveID"].as_str().expect("cveID").to_string();
        let date = e["dateAdded"].as_str().expect("dateAdded").to_string();
        assert!(date_added.insert(id, date).is_none(), "{e}: listed twice");
    }

    let file = std::fs::File::open(subset_path()).expect("the vendored subset");
    let mut flagged = Vec::new();
    cve5::parse_jsonl_gz(file, &JsonlOptions::default(), |_, result| {
        let Ok(a) = result else { return };
        if let Some(k) = a.cisa_adp.as_ref().and_then(|c| c.kev.as_ref()) {
            let date = k.date_added.as_ref().map(|t| t.as_str().to_string());
            flagged.push((a.id.as_str().to_string(), date));
        }
    })
    .expect("read the subset");
    assert_eq!(flagged.len(), 179, "every KEV record of the dump");
    let mut gone = Vec::new();
    for (id, date) in &flagged {
        let Some(listed) = date_added.get(id) else {
            gone.push(id.as_str());
            continue;
        };
        let date = date
            .as_deref()
            .unwrap_or_else(|| panic!("{id}: no dateAdded"));
        assert!(
            date.starts_with(&format!("{listed}T")),
            "{id}: added {date} by the ADP, {listed} by the catalogue"
        );
    }
    assert_eq!(gone, LEFT_THE_CATALOGUE);
}
