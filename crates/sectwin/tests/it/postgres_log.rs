//! `sectwin serve --database`: the log kept in PostgreSQL (a schema of its
//! own per test, made by `sectwin db migrate`), through a real server over
//! HTTP: entries land in the database and not in the data directory, a
//! restart resumes the same log, `sectwin log verify` accepts it, and a data
//! directory is never opened on a log elsewhere than where it was made.

use crate::common;

use std::time::{Duration, Instant};

use common::{AddAnswer, LogClient, PgSchema, Server};

/// Appends `n` entries tagged `tag`; answers the log's size after them.
async fn add(client: &LogClient, tag: &str, n: usize) -> u64 {
    let mut size = 0;
    for i in 0..n {
        match client
            .add(format!("{tag} entry {i}").into_bytes())
            .await
            .expect("POST /log/add")
        {
            AddAnswer::Added {
                index,
                duplicate: false,
            } => size = size.max(index + 1),
            other => panic!("append refused or duplicate: {other:?}"),
        }
    }
    size
}

/// Starts `sectwin serve` on `data` with `extra` and expects it to refuse
/// (exit with an error) within a bound; answers what it printed.
fn refused(data: &std::path::Path, extra: &[&str]) -> String {
    let mut server = Server::spawn(common::serve_command(data, extra));
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.is_running() {
        assert!(
            Instant::now() < deadline,
            "the server started instead of refusing:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.output()
}

/// Waits until the served checkpoint covers `size`.
async fn published(client: &LogClient, data: &std::path::Path, size: u64) {
    let log = common::verifier(data);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (cp, _) = client.checkpoint(&log).await.expect("checkpoint");
        if cp.size().get() >= size {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size} in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_lives_in_postgres_and_survives_a_restart() {
    let schema = PgSchema::new("serve");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let args = schema.serve_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--checkpoint-interval-ms", "50"]);

    let mut server = Server::start(&data, &args);
    let client = LogClient::new(server.base());
    let size = add(&client, "first", 40).await;
    published(&client, &data, size).await;
    assert!(server.stop().success(), "{}", server.output());

    // The node's own first entries (the registry's bootstrap) are counted too.
    let first = i64::try_from(size).expect("size");
    assert_eq!(
        schema.count("log_entry"),
        first,
        "the entries are in PostgreSQL"
    );
    assert!(
        !data.join("journal").exists(),
        "no embedded journal beside a PostgreSQL log"
    );

    // A restart resumes the same log, and it goes on growing.
    let mut server = Server::start(&data, &args);
    let client = LogClient::new(server.base());
    published(&client, &data, size).await;
    let before = size;
    let size = add(&client, "second", 10).await;
    assert_eq!(size, before + 10, "appends continue where the log stood");
    published(&client, &data, size).await;
    let vkey = data.join("log.vkey");
    let (ok, out) = common::sectwin(&[
        "log",
        "verify",
        &server.base(),
        "--vkey-file",
        common::p(&vkey),
    ]);
    assert!(ok, "sectwin log verify over HTTP:\n{out}");
    assert!(server.stop().success(), "{}", server.output());

    // The same data directory opened without the database is refused.
    let out = refused(&data, &[]);
    assert!(out.contains("not embedded"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_log_is_not_opened_on_postgres() {
    let schema = PgSchema::new("mixed");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &[]);
    let client = LogClient::new(server.base());
    add(&client, "embedded", 3).await;
    assert!(server.stop().success(), "{}", server.output());
    let args = schema.serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = refused(&data, &args);
    assert!(out.contains("holds an embedded log"), "{out}");
}

/// `sectwin migrate-store`: an embedded log moved into PostgreSQL is the
/// same log (the command proves it: fsck of both, the same checkpoints note
/// for note); `serve --database` then serves its very checkpoint and
/// appends on; the data directory is not opened embedded any more, and a
/// second move is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_store_moves_an_embedded_log_to_postgres_unchanged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let fast = ["--checkpoint-interval-ms", "20"];
    let mut server = Server::start(&data, &fast);
    let client = LogClient::new(server.base());
    // Several checkpoints, more than one entry bundle.
    let mut size = 0;
    for round in 0..3 {
        size = add(&client, &format!("embedded round {round}"), 120).await;
        published(&client, &data, size).await;
    }
    assert!(server.stop().success(), "{}", server.output());
    let log = common::verifier(&data);
    let served_before = std::fs::read(data.join("log").join("checkpoint")).expect("checkpoint");
    let (before, _) = tlog::open_checkpoint(&served_before, &log).expect("checkpoint verifies");
    assert!(before.size().get() >= size);

    let schema = PgSchema::new("move");
    let move_args = [
        "migrate-store",
        "--data",
        common::p(&data),
        "--database",
        &schema.url,
        "--database-schema",
        &schema.name,
    ];
    let (ok, out) = common::sectwin(&move_args);
    assert!(ok, "sectwin migrate-store:\n{out}");
    assert!(out.contains("identical"), "{out}");
    assert_eq!(
        schema.count("log_entry"),
        i64::try_from(before.size().get()).expect("size")
    );
    let (ok, out) = common::sectwin(&move_args);
    assert!(!ok && out.contains("already"), "a second move: {out}");

    // Served from PostgreSQL: the very checkpoint, then more entries.
    let args = schema.serve_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(fast);
    let mut server = Server::start(&data, &args);
    let client = LogClient::new(server.base());
    let (cp, _) = client.checkpoint(&log).await.expect("checkpoint");
    assert_eq!((cp.size(), cp.root()), (before.size(), before.root()));
    let more = add(&client, "after the move", 30).await;
    assert_eq!(
        more,
        before.size().get() + 30,
        "appends go on where the log stood"
    );
    published(&client, &data, more).await;
    let (ok, out) = common::sectwin(&[
        "log",
        "verify",
        &server.base(),
        "--vkey-file",
        common::p(&data.join("log.vkey")),
    ]);
    assert!(ok, "sectwin log verify over HTTP:\n{out}");
    assert!(server.stop().success(), "{}", server.output());
    let out = refused(&data, &[]);
    assert!(out.contains("not embedded"), "{out}");
}
