//! The Archivist side store (`twin_store::archivist`): what it keeps
//! survives a reopen, a write refused by the disk changes nothing, quotas
//! and limits hold, and data in the first layout opens with nothing lost.

use std::path::Path;

use serde_json::{json, Value};
use twin_store::archivist::{
    BlobHash, BlobInfo, BlobStore, Collection, ConfigStore, FileArchivistStore, SideError,
};
use twin_store::StorageLimits;

fn item(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn open(dir: &Path) -> FileArchivistStore {
    FileArchivistStore::open(dir, StorageLimits::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn blob(owner: &str, id: &str, data: &[u8]) -> BlobInfo {
    use sha2::Digest as _;
    BlobInfo {
        identity: format!("blobs/{id}"),
        hash: BlobHash {
            alg: "SHA256".into(),
            value: hex::encode(sha2::Sha256::digest(data)),
        },
        mime_type: "text/plain".into(),
        size: data.len() as u64,
        timestamp_accepted: "2026-12-06T00:00:00Z".into(),
        tenant_identity: format!("tenant/{owner}"),
    }
}

const ID_A: &str = "5a2c8b6d-9fa7-4b60-8c5d-0e1f2a3b4c56";
const ID_B: &str = "6b3d9c7e-a0b8-4c71-9d6e-1f2a3b4c5d67";

#[test]
fn items_survive_a_reopen_per_owner() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let s = open(dir.path());
        let l = item(json!({"display_name": "HQ", "identity": "locations/1"}));
        s.put_item(Collection::Locations, "acme", "locations/1", l, 10)
            .unwrap_or_else(|e| panic!("{e}"));
        let l = item(json!({"display_name": "Plant", "identity": "locations/2"}));
        s.put_item(Collection::Locations, "other/org", "locations/2", l, 10)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(s
            .remove_item(Collection::Locations, "other/org", "locations/2")
            .unwrap_or_else(|e| panic!("{e}")));
        assert!(!s
            .remove_item(Collection::Locations, "other/org", "locations/2")
            .unwrap_or_else(|e| panic!("{e}")));
    }
    let s = open(dir.path());
    let acme = s.items(Collection::Locations, "acme");
    assert_eq!(acme.len(), 1);
    assert_eq!(acme["locations/1"]["display_name"], "HQ");
    assert!(s.items(Collection::Locations, "other/org").is_empty());
    assert!(s.items(Collection::Subjects, "acme").is_empty());
    let marker = std::fs::read_to_string(dir.path().join("FORMAT")).unwrap_or_default();
    assert_eq!(marker.trim(), "archivist 2");
}

#[test]
fn a_collection_refuses_new_items_past_its_limit_but_replaces_old_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = open(dir.path());
    for i in 0..2 {
        let id = format!("subjects/{i}");
        s.put_item(
            Collection::Subjects,
            "acme",
            &id,
            item(json!({"display_name": "x"})),
            2,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let third = s.put_item(
        Collection::Subjects,
        "acme",
        "subjects/2",
        item(json!({})),
        2,
    );
    assert!(
        matches!(third, Err(SideError::TooMany { max_items: 2, .. })),
        "{third:?}"
    );
    s.put_item(
        Collection::Subjects,
        "acme",
        "subjects/1",
        item(json!({"display_name": "y"})),
        2,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.items(Collection::Subjects, "acme")["subjects/1"]["display_name"],
        "y"
    );
}

#[test]
fn blobs_are_kept_under_their_owners_quota() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let limits = StorageLimits {
        stakeholder_blob_bytes_max: 10,
        log_reserve_bytes: 0,
        ..StorageLimits::default()
    };
    let s = FileArchivistStore::open(dir.path(), limits).unwrap_or_else(|e| panic!("{e}"));
    let a = blob("acme", ID_A, b"12345678");
    s.put_blob(&a, b"12345678")
        .unwrap_or_else(|e| panic!("{e}"));
    let over = s.put_blob(&blob("acme", ID_B, b"abc"), b"abc");
    assert!(
        over.as_ref().is_err_and(SideError::is_storage_full),
        "{over:?}"
    );
    // Another owner has its own quota.
    s.put_blob(&blob("other", ID_B, b"abc"), b"abc")
        .unwrap_or_else(|e| panic!("{e}"));
    // A record that does not describe its data is refused.
    let lying = blob("other", ID_A, b"abc");
    assert!(s.put_blob(&lying, b"abd").is_err());
    drop(s);
    // Usage is counted again at open: the quota still holds.
    let s = FileArchivistStore::open(dir.path(), limits).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.put_blob(&blob("acme", ID_B, b"abc"), b"abc").is_err());
    let info = s.blob_info(ID_A).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info.as_ref(), Some(&a));
    assert_eq!(
        s.read_blob(&a).unwrap_or_else(|e| panic!("{e}")),
        b"12345678"
    );
    assert_eq!(
        s.blob_info("../../etc/passwd")
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
}

#[test]
fn a_write_the_disk_refuses_changes_nothing() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fs = testkit::Tmpfs::mount(&root.path().join("small"), "1m");
    let dir = fs.dir().join("archivist");
    let s = open(&dir);
    s.put_item(
        Collection::Locations,
        "acme",
        "locations/1",
        item(json!({"display_name": "HQ"})),
        100,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let filler = fs.fill();
    let big = "x".repeat(64 * 1024);
    let refused = s.put_item(
        Collection::Locations,
        "acme",
        "locations/2",
        item(json!({"display_name": big})),
        100,
    );
    assert!(
        refused.as_ref().is_err_and(SideError::is_storage_full),
        "{refused:?}"
    );
    // Neither in memory nor on disk.
    assert_eq!(s.items(Collection::Locations, "acme").len(), 1);
    std::fs::remove_file(filler).unwrap_or_else(|e| panic!("{e}"));
    drop(s);
    let s = open(&dir);
    let items = s.items(Collection::Locations, "acme");
    assert_eq!(items.len(), 1);
    assert_eq!(items["locations/1"]["display_name"], "HQ");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Data written by the first layout (`tests/golden/archivist-v1`, see its
/// README) opens with every item and blob, in the new layout, and opens
/// again after that.
#[test]
fn data_in_the_first_layout_opens_with_nothing_lost() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/archivist-v1");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("archivist");
    copy_dir(&golden, &data);
    for _ in 0..2 {
        let s = open(&data);
        let locations = s.items(Collection::Locations, "acme.example");
        assert_eq!(
            locations["locations/0b7f3c1e-4a52-4c1b-9d0e-5f6a7b8c9d01"]["description"],
            "Main office"
        );
        assert_eq!(s.items(Collection::Locations, "other.example").len(), 1);
        let policies = s.items(Collection::AccessPolicies, "acme.example");
        let p = &policies["access_policies/3e0a6f4b-7d85-4f4e-8a3b-8c9d0e1f2a34"];
        assert_eq!(p["filters"][0]["or"][0], "attributes.arc_display_type=door");
        assert_eq!(s.items(Collection::Subjects, "acme.example").len(), 1);
        let info = s
            .blob_info("4f1b7a5c-8e96-4a5f-9b4c-9d0e1f2a3b45")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the blob's record is lost"));
        assert_eq!(info.owner(), Some("acme.example"));
        assert_eq!(
            s.read_blob(&info).unwrap_or_else(|e| panic!("{e}")),
            b"JPEG photo of the door controller\n"
        );
        for old in ["locations.json", "subjects.json", "access_policies.json"] {
            assert!(!data.join(old).exists(), "{old} is still there");
        }
    }
}
