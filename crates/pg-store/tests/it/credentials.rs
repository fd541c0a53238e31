//! The credentials every node of a cluster shares: a write is a merge
//! (new client ids added, revocations sticking, nothing else changed), and
//! the version moves only when a row changed.

use pg_store::{CredentialRow, PgCredentials};

use crate::support::Schema;

fn row(id: &str, revoked: bool) -> CredentialRow {
    CredentialRow {
        client_id: id.to_string(),
        record: format!(r#"{{"client_id":"{id}","revoked":{revoked}}}"#),
        revoked,
    }
}

#[test]
fn credential_writes_merge_and_a_revocation_sticks() {
    let schema = Schema::new("credentials");
    pg_store::migrate(&schema.options).expect("migrate");
    let a = PgCredentials::open(&schema.options).expect("open a");
    let b = PgCredentials::open(&schema.options).expect("open b");
    assert_eq!(a.rows().expect("rows"), (0, vec![]));

    assert_eq!(
        a.merge(&[row("c1", false), row("c2", false)]).expect("a"),
        2
    );
    let v1 = b.version().expect("version");
    assert!(v1 > 0, "a change moves the version");
    // The same rows again: nothing changes, the version stays.
    assert_eq!(
        b.merge(&[row("c1", false), row("c2", false)]).expect("b"),
        0
    );
    assert_eq!(a.version().expect("version"), v1);
    // b revokes c1 and adds c3; a, holding an older copy, writes c1 active.
    assert_eq!(b.merge(&[row("c1", true), row("c3", false)]).expect("b"), 2);
    assert_eq!(
        a.merge(&[row("c1", false)]).expect("a"),
        0,
        "a revocation is never undone"
    );
    let (v2, rows) = a.rows().expect("rows");
    assert!(v2 > v1);
    // (JSONB keeps the record's meaning, not its spelling.)
    let meaning = |rows: &[CredentialRow]| -> Vec<(String, bool, serde_json::Value)> {
        rows.iter()
            .map(|r| {
                let record = serde_json::from_str(&r.record).expect("a JSON record");
                (r.client_id.clone(), r.revoked, record)
            })
            .collect()
    };
    assert_eq!(
        meaning(&rows),
        meaning(&[row("c1", true), row("c2", false), row("c3", false)])
    );
}
