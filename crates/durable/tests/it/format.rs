//! Format markers (`durable::format`): written on first open, read back,
//! and a directory this build must not read is refused with a message that
//! says why.

use durable::format::{check_or_init, FormatError, FORMAT_FILE};

#[test]
fn a_new_directory_gets_the_current_format_and_keeps_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("twins");
    assert_eq!(check_or_init(&store, "twins", 3).expect("new"), 3);
    assert_eq!(
        std::fs::read_to_string(store.join(FORMAT_FILE)).expect("marker"),
        "twins 3\n"
    );
    assert_eq!(check_or_init(&store, "twins", 3).expect("again"), 3);
    // A later build reads the older format and is told which it is.
    assert_eq!(check_or_init(&store, "twins", 4).expect("upgrade"), 3);
}

#[test]
fn data_this_build_must_not_read_is_refused_saying_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    /// (marker, store opened, the error expected, what its message says).
    type Case = (
        &'static str,
        &'static str,
        fn(&FormatError) -> bool,
        &'static str,
    );
    let cases: [Case; 3] = [
        (
            "twins 2\n",
            "twins",
            |e| {
                matches!(
                    e,
                    FormatError::Newer {
                        found: 2,
                        supported: 1,
                        ..
                    }
                )
            },
            "written by a newer sectwin; this build reads formats up to 1",
        ),
        (
            "advisories 1\n",
            "twins",
            |e| matches!(e, FormatError::WrongStore { .. }),
            "holds the advisories store's data, not the twins store's",
        ),
        (
            "twins one\n",
            "twins",
            |e| matches!(e, FormatError::Malformed { .. }),
            "is not a format marker",
        ),
    ];
    for (n, (marker, store, kind, message)) in cases.into_iter().enumerate() {
        let d = dir.path().join(n.to_string());
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::write(d.join(FORMAT_FILE), marker).expect("marker");
        let e = check_or_init(&d, store, 1).expect_err(marker);
        assert!(kind(&e), "{marker:?}: {e:?}");
        assert!(e.to_string().contains(message), "{marker:?}: {e}");
        // Refusing changes nothing.
        assert_eq!(
            std::fs::read_to_string(d.join(FORMAT_FILE)).expect("marker"),
            marker
        );
    }
}
