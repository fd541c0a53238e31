//! One writer per data directory: the open store holds an exclusive lock,
//! so a second `serve` or a `reindex` on a directory in use is refused
//! with a clear error instead of writing beside the first.

use log_store::{EmbeddedStore, EmbeddedStoreOptions, StoreError, DATA_DIR_LOCK_FILE};

fn open(dir: &std::path::Path) -> Result<EmbeddedStore, StoreError> {
    EmbeddedStore::open(EmbeddedStoreOptions {
        dir: dir.to_path_buf(),
    })
}

#[test]
fn a_second_writer_is_refused_until_the_first_closes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let first = open(tmp.path()).expect("first open");
    assert!(tmp.path().join(DATA_DIR_LOCK_FILE).exists());
    match open(tmp.path()) {
        Err(StoreError::InUse { dir }) => assert_eq!(dir, tmp.path()),
        Err(e) => panic!("expected InUse, got {e}"),
        Ok(_) => panic!("two stores opened one data directory"),
    }
    let message = open(tmp.path()).err().expect("refused").to_string();
    assert!(message.contains("in use by another process"), "{message}");
    drop(first);
    // The lock goes with the store (and with the process that held it).
    open(tmp.path()).expect("open after the first closed");
}

#[test]
fn another_process_holding_the_lock_is_seen() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(tmp.path()).expect("dir");
    // flock(1) from util-linux holds the lock in a separate process.
    let mut holder = std::process::Command::new("flock")
        .arg(tmp.path().join(DATA_DIR_LOCK_FILE))
        .args(["sleep", "30"])
        .spawn()
        .expect("flock(1) from util-linux is needed: apt-get install util-linux");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let refused = loop {
        match open(tmp.path()) {
            Err(StoreError::InUse { .. }) => break true,
            Ok(store) => {
                drop(store);
                if std::time::Instant::now() > deadline {
                    break false;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    };
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(refused, "the lock held by another process was not seen");
}
