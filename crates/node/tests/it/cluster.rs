//! The pieces of several nodes on one database that need no database: the
//! framing of forwarded batches, and what a passive node recalls of what
//! it noticed (the three-node tests are in `sectwin`'s `cluster.rs`).

use std::time::{Duration, Instant};

use node::cluster::{frame, unframe, FORWARD_BATCH_ENTRIES_MAX};
use node::detection::Recall;

#[test]
fn batches_frame_and_unframe_and_broken_ones_are_refused() {
    let entries: Vec<&[u8]> = vec![b"one", b"", &[0u8; 300], b"\x00\xff"];
    assert_eq!(
        unframe(&frame(&entries)),
        Some(entries.iter().map(|e| e.to_vec()).collect())
    );
    assert_eq!(unframe(&[]), Some(vec![]));
    let framed = frame(&entries);
    assert_eq!(
        unframe(&framed[..framed.len() - 1]),
        None,
        "a cut last entry"
    );
    assert_eq!(unframe(&framed[..2]), None, "a cut length");
    let many: Vec<&[u8]> = vec![b"x"; FORWARD_BATCH_ENTRIES_MAX + 1];
    assert_eq!(unframe(&frame(&many)), None, "too many entries");
    let full: Vec<&[u8]> = vec![b"x"; FORWARD_BATCH_ENTRIES_MAX];
    assert_eq!(
        unframe(&frame(&full)).map(|e| e.len()),
        Some(FORWARD_BATCH_ENTRIES_MAX)
    );
}

#[test]
fn a_passive_node_recalls_what_it_noticed_within_the_window_only() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    let mut r = Recall::new(Duration::from_secs(60));
    r.hold(s(0), "a");
    r.hold(s(30), "b");
    r.hold(s(61), "c"); // "a" is now older than the window
    assert_eq!(
        r.take(s(62)),
        vec!["b", "c"],
        "oldest first, the stale one gone"
    );
    assert!(r.take(s(62)).is_empty(), "nothing is told twice");
    r.hold(s(100), "d");
    assert!(
        r.take(s(161)).is_empty(),
        "too old when the node became active"
    );
}
