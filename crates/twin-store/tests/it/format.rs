//! The twin store's format: a store written in an older format (a marker
//! saying so, or data from before markers existed) is emptied at open, for
//! the projector to fold the log again; the current format is kept as is;
//! a newer one is refused. An upgrade interrupted before its marker is
//! written starts again at the next open.

use std::path::Path;

use durable::format::FORMAT_FILE;
use twin_store::{TwinStore, TWIN_STORE_FORMAT};

fn marker(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(FORMAT_FILE)).expect("marker")
}

/// A store folded by an earlier format: data, and a marker (or none).
fn old_store(dir: &Path, marker: Option<&str>) {
    std::fs::create_dir_all(dir.join("partitions/twins")).expect("dir");
    std::fs::write(dir.join("partitions/twins/segment"), b"old twins").expect("data");
    std::fs::write(dir.join("journal"), b"old journal").expect("data");
    if let Some(m) = marker {
        std::fs::write(dir.join(FORMAT_FILE), m).expect("marker");
    }
}

fn holds_old_data(dir: &Path) -> bool {
    dir.join("partitions/twins/segment").exists() || dir.join("journal").exists()
}

#[test]
fn an_older_twin_store_is_emptied_to_be_folded_again() {
    let current = format!("twins {TWIN_STORE_FORMAT}\n");
    for (case, old_marker) in [("format 1", Some("twins 1\n")), ("before markers", None)] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("twins");
        old_store(&dir, old_marker);
        let store = TwinStore::open(&dir).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(!holds_old_data(&dir), "{case}: the old data is gone");
        assert_eq!(marker(&dir), current, "{case}");
        assert!(store.load_meta().expect("meta").is_none(), "{case}: empty");
    }
}

#[test]
fn a_current_twin_store_is_kept_and_a_newer_one_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("twins");
    drop(TwinStore::open(&dir).expect("new store"));
    std::fs::write(dir.join("kept"), b"x").expect("a file of the store");
    drop(TwinStore::open(&dir).expect("again"));
    assert!(
        dir.join("kept").exists(),
        "the current format is not emptied"
    );

    let newer = tmp.path().join("newer");
    old_store(&newer, Some(&format!("twins {}\n", TWIN_STORE_FORMAT + 1)));
    let e = TwinStore::open(&newer)
        .err()
        .expect("a newer format is refused");
    assert!(e.to_string().contains("newer"), "{e}");
    assert!(holds_old_data(&newer), "a refused store is left alone");
}

#[test]
fn an_interrupted_upgrade_starts_again() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("twins");
    // Emptying stopped half way: part of the old data, the old marker.
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("journal"), b"old journal").expect("data");
    std::fs::write(dir.join(FORMAT_FILE), "twins 1\n").expect("marker");
    drop(TwinStore::open(&dir).expect("open"));
    assert!(!holds_old_data(&dir));
    assert_eq!(marker(&dir), format!("twins {TWIN_STORE_FORMAT}\n"));
}
