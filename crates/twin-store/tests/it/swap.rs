//! `reindex` swaps the rebuilt twin store in with two renames; a crash at
//! any point must leave a whole store named `twins`, never none. Each state
//! a crash can leave is set up on disk and settled the way a restarted
//! node settles it.

use std::path::Path;

use twin_store::swap::{old_of, recover, swap_in};

fn store(dir: &Path, marker: &str) {
    std::fs::create_dir_all(dir.join("sub")).expect("dir");
    std::fs::write(dir.join("sub").join("marker"), marker).expect("marker");
}

fn marker(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sub").join("marker")).expect("marker")
}

#[test]
fn a_finished_swap_leaves_only_the_new_store() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (live, fresh) = (tmp.path().join("twins"), tmp.path().join("twins.reindex"));
    store(&live, "old");
    store(&fresh, "new");
    swap_in(&live, &fresh).expect("swap");
    assert_eq!(marker(&live), "new");
    assert!(!fresh.exists() && !old_of(&live).exists());
    // The first swap of a directory that had no store yet.
    let other = tmp.path().join("other");
    store(&fresh, "first");
    swap_in(&other, &fresh).expect("swap");
    assert_eq!(marker(&other), "first");
}

#[test]
fn a_crash_between_the_renames_puts_the_old_store_back() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (live, fresh) = (tmp.path().join("twins"), tmp.path().join("twins.reindex"));
    // `twins` was renamed to `twins.old`, `twins.reindex` not yet to `twins`.
    store(&old_of(&live), "old");
    store(&fresh, "new");
    recover(&live).expect("recover");
    assert_eq!(marker(&live), "old");
    assert!(!old_of(&live).exists());
    // The reindex can run again and finish.
    swap_in(&live, &fresh).expect("swap");
    assert_eq!(marker(&live), "new");
}

#[test]
fn a_crash_after_the_renames_keeps_the_new_store() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let live = tmp.path().join("twins");
    store(&live, "new");
    store(&old_of(&live), "old");
    recover(&live).expect("recover");
    assert_eq!(marker(&live), "new");
    assert!(!old_of(&live).exists());
}

#[test]
fn opening_the_twin_store_settles_an_interrupted_swap() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let live = tmp.path().join("twins");
    drop(twin_store::TwinStore::open(&old_of(&live)).expect("old store"));
    assert!(!live.exists());
    drop(twin_store::TwinStore::open(&live).expect("open"));
    assert!(live.exists(), "the old store was not put back");
    assert!(!old_of(&live).exists());
}
