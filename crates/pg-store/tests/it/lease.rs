//! The sequencer's lease of several nodes on one database: who may take it,
//! and the fencing of a former holder's writes.

use log_store::{Integration, LogStore, StoreError};
use pg_store::{ClusterOptions, PgLogStore, PgOptions};
use tlog::{LeafIndex, TreeSize};

use crate::support::Schema;

/// A long term: only the tests' own moves end a lease.
const LONG_LEASE_MS: u64 = 60_000;

fn node(schema: &Schema, name: &str, lease_ms: u64) -> PgLogStore {
    let mut options: PgOptions = schema.options.clone();
    options.cluster = Some(ClusterOptions {
        node: name.into(),
        url: format!("http://{name}.invalid:8470"),
        lease_ms,
    });
    PgLogStore::open(options).expect("open a node's store")
}

/// Ends the current lease term now, as a sequencer paused past its expiry
/// would find it.
fn expire(schema: &Schema) {
    let mut c = pg_store::connect(&schema.options).expect("connect");
    c.execute(
        "UPDATE log_lease SET expires_at = clock_timestamp() - INTERVAL '1 second' WHERE id = 1",
        &[],
    )
    .expect("expire the lease");
}

fn fenced<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Fenced(why)) => assert!(why.contains("lease"), "{what}: {why}"),
        other => panic!("{what}: expected a fenced write, got {other:?}"),
    }
}

#[test]
fn one_node_holds_the_lease_and_a_former_holder_is_fenced() {
    let schema = Schema::new("lease");
    pg_store::migrate(&schema.options).expect("migrate");
    let a = node(&schema, "a", LONG_LEASE_MS);
    let b = node(&schema, "b", LONG_LEASE_MS);
    let (la, lb) = (a.lease().expect("a lease"), b.lease().expect("b lease"));
    assert_eq!(
        la.cluster_secret(),
        lb.cluster_secret(),
        "one secret per store"
    );
    assert_eq!(la.cluster_secret().len(), 32);

    // Nobody holds it: a takes it; b is told who holds it.
    assert_eq!(la.acquire().expect("a acquires"), None);
    assert!(la.held());
    let holder = lb.acquire().expect("b asks").expect("a holds it");
    assert!(holder.node.starts_with("a-"), "{holder:?}");
    assert_eq!(holder.url, "http://a.invalid:8470");
    let first_token = holder.token;
    assert!(!lb.held());
    // A holder's acquire renews, keeping its token.
    assert_eq!(la.acquire().expect("a renews"), None);
    assert_eq!(
        lb.holder().expect("holder").expect("held").token,
        first_token
    );

    // b may not write while a holds the lease.
    fenced("b appends", b.append(LeafIndex::new(0), &[b"from b"]));
    a.append(LeafIndex::new(0), &[b"from a"])
        .expect("a appends");
    let leaf = tlog::leaf_hash(b"from a");
    a.integrate(&Integration {
        from: 0,
        to: 1,
        leaves: vec![(leaf, LeafIndex::new(0))],
        ..Integration::default()
    })
    .expect("a integrates");
    // A follower's lookup sees the holder's integration (in the database).
    assert_eq!(b.lookup(&leaf).expect("lookup"), Some(LeafIndex::new(0)));

    // a pauses past its term; b takes over with a new token.
    expire(&schema);
    assert_eq!(lb.acquire().expect("b takes over"), None);
    let now = lb.holder().expect("holder").expect("held");
    assert!(
        now.node.starts_with("b-") && now.token > first_token,
        "{now:?}"
    );

    // a wakes: every write of its is refused, nothing of them committed.
    fenced("a appends", a.append(LeafIndex::new(1), &[b"late a"]));
    assert!(!la.held(), "a learns it lost the lease");
    fenced(
        "a publishes",
        a.publish_checkpoint(TreeSize::new(1), b"note"),
    );
    fenced("a integrates", a.integrate(&Integration::default()));
    fenced("a syncs", a.sync(TreeSize::new(1)));
    // b writes on from what is durable, and knows the leaf a integrated.
    assert_eq!(b.recover().expect("recover").durable_size, TreeSize::new(1));
    assert_eq!(b.lookup(&leaf).expect("lookup"), Some(LeafIndex::new(0)));
    b.append(LeafIndex::new(1), &[b"from b"])
        .expect("b appends");
    let mut seen = Vec::new();
    b.replay(TreeSize::new(0), &mut |_, e| {
        seen.push(e.to_vec());
        Ok(())
    })
    .expect("replay");
    assert_eq!(seen, vec![b"from a".to_vec(), b"from b".to_vec()]);

    // a asks again: b holds it, unexpired and connected.
    assert!(la.acquire().expect("a asks").is_some());
}

#[test]
fn a_holder_whose_connection_is_gone_is_replaced_at_once_and_a_release_frees_it() {
    let schema = Schema::new("lease_gone");
    pg_store::migrate(&schema.options).expect("migrate");
    let a = node(&schema, "a", LONG_LEASE_MS);
    assert_eq!(a.lease().expect("lease").acquire().expect("a"), None);
    let b = node(&schema, "b", LONG_LEASE_MS);
    assert!(b.lease().expect("lease").acquire().expect("b").is_some());
    // a's process ends (its connections close with it): no waiting for
    // the term (a minute) to end.
    drop(a);
    let lb = b.lease().expect("lease");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while lb.acquire().expect("b").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease of a closed connection was not taken over"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let token = lb.holder().expect("holder").expect("held").token;
    // A release lets the next node in at once, with a new token.
    let c = node(&schema, "c", LONG_LEASE_MS);
    let lc = c.lease().expect("lease");
    assert!(lc.acquire().expect("c").is_some());
    lb.release();
    assert!(!lb.held());
    assert_eq!(lc.acquire().expect("c"), None);
    assert!(lc.holder().expect("holder").expect("held").token > token);
}
