//! `durable::write` replaces whole files and leaves nothing behind.

use std::os::unix::fs::PermissionsExt;

#[test]
fn replaces_the_whole_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.json");
    durable::write(&path, b"first").expect("write");
    durable::write(&path, b"second, longer").expect("write");
    assert_eq!(std::fs::read(&path).expect("read"), b"second, longer");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[test]
fn private_files_are_readable_by_their_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("credentials.json");
    durable::write_private(&path, b"{}").expect("write");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_failed_write_keeps_the_old_contents_and_no_temporary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.json");
    durable::write(&path, b"old").expect("write");
    // Renaming a file over a directory fails after the temporary is written.
    let target = dir.path().join("a-directory");
    std::fs::create_dir(&target).expect("dir");
    std::fs::write(target.join("inside"), b"x").expect("inside");
    assert!(durable::write(&target, b"new").is_err());
    assert_eq!(std::fs::read(&path).expect("read"), b"old");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| durable::is_temp_name(n))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn concurrent_writers_never_share_a_temporary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("shared");
    std::thread::scope(|s| {
        for t in 0..8u8 {
            let path = &path;
            s.spawn(move || {
                for _ in 0..50 {
                    durable::write(path, &[t; 64]).expect("write");
                }
            });
        }
    });
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(bytes.len(), 64);
    assert!(bytes.iter().all(|b| *b == bytes[0]), "a torn file");
}
