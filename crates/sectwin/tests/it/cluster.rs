//! Several `sectwin serve` nodes on one PostgreSQL log (issue 21).
//!
//! Three nodes share a schema and the first node's keys. Under appenders on
//! every node (a follower forwards its appends to the sequencer), the test
//! kills the sequencer with SIGKILL again and again and restarts it, then
//! pauses one with SIGSTOP past its lease and lets it go on. It checks:
//!
//! * exactly one node sequences at a time (`/readyz` roles), and another
//!   takes over after each kill and after the pause;
//! * from the outside, as the crash tests do: every acknowledged entry, on
//!   any node, is at its index in the served bundles of every node; every
//!   checkpoint any node served is consistent with every later one (no
//!   fork: the paused sequencer's writes are fenced when it wakes);
//! * `sectwin log verify` over HTTP accepts the log, and `sectwin log fsck
//!   --database` the database's after the nodes stopped;
//! * in the interop stage (`tests-interop/cluster/run.sh`), an independent
//!   C2SP verifier, `aics-tlog` from PyPI, accepts each node's checkpoint,
//!   its consistency with an early one, and sampled inclusions, from the
//!   node's tiles.
//!
//! It prints the failover time of each kill: from the SIGKILL to the first
//! checkpoint larger than the last one the killed sequencer published.
//! `SECTWIN_CLUSTER_KILLS=20` measures the failover figure (p50, p99).

use crate::common;
use crate::crash::{verify_log, History, Load, LoadOptions};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{LogClient, PgSchema, Rng, Server};

/// Nodes on the one database.
const NODES: usize = 3;
/// SIGKILLs of the sequencer (override: `SECTWIN_CLUSTER_KILLS`).
const KILLS_DEFAULT: usize = 3;
/// The nodes' lease: a paused sequencer is replaced after this.
const LEASE_MS: u64 = 1_500;
/// Appenders per running node.
const CLIENTS_PER_NODE: usize = 4;
/// Longest a takeover may take (a kill, or a pause past the lease).
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(20);
/// The nodes' checkpoint interval.
const CHECKPOINT_INTERVAL_MS: &str = "50";
/// Load before each kill (uniformly random, ms).
const LOAD_MS_MIN: u64 = 300;
const LOAD_MS_MAX: u64 = 900;

/// Three nodes on one schema, each with a data directory of its own holding
/// the first node's keys.
pub(crate) struct Cluster {
    schema: PgSchema,
    _dir: tempfile::TempDir,
    datas: Vec<PathBuf>,
    ports: Vec<u16>,
    /// More `serve` arguments for every node.
    extra: Vec<String>,
    /// And for node 0 only.
    first_extra: Vec<String>,
    pub(crate) servers: Vec<Option<Server>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Cluster {
    /// Migrates a schema and starts every node (the first alone, until it
    /// made the keys the others copy).
    pub(crate) fn start(test: &str, nodes: usize) -> Cluster {
        Cluster::start_with(test, nodes, &[], &[])
    }

    /// [`Cluster::start`], with `extra` arguments to every `serve`, and
    /// `first_extra` to node 0's.
    pub(crate) fn start_with(
        test: &str,
        nodes: usize,
        extra: &[&str],
        first_extra: &[&str],
    ) -> Cluster {
        let schema = PgSchema::new(test);
        let dir = tempfile::tempdir().expect("temp dir");
        let datas = (0..nodes)
            .map(|i| dir.path().join(format!("node{i}")))
            .collect();
        let ports = (0..nodes).map(|_| free_port()).collect();
        let mut cluster = Cluster {
            schema,
            _dir: dir,
            datas,
            ports,
            extra: extra.iter().map(|a| a.to_string()).collect(),
            first_extra: first_extra.iter().map(|a| a.to_string()).collect(),
            servers: (0..nodes).map(|_| None).collect(),
        };
        cluster.spawn(0);
        for i in 1..nodes {
            std::fs::create_dir_all(&cluster.datas[i]).expect("data dir");
            for file in node::CLUSTER_SHARED_FILES {
                let from = cluster.datas[0].join(file);
                if from.exists() {
                    std::fs::copy(&from, cluster.datas[i].join(file)).expect("copy a key");
                }
            }
        }
        for i in 1..nodes {
            cluster.spawn(i);
        }
        cluster
    }

    pub(crate) fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// Node `i`'s log API (what [`LogClient`] takes).
    pub(crate) fn log_base(&self, i: usize) -> String {
        format!("{}/log", self.base(i))
    }

    pub(crate) fn data(&self, i: usize) -> &std::path::Path {
        &self.datas[i]
    }

    /// Starts node `i` and waits until it serves.
    pub(crate) fn spawn(&mut self, i: usize) {
        let listen = format!("127.0.0.1:{}", self.ports[i]);
        let mut cmd = std::process::Command::new(common::SECTWIN);
        cmd.arg("serve")
            .arg("--data")
            .arg(&self.datas[i])
            .args(["--listen", &listen])
            .args(["--advertise-url", &self.base(i)])
            .args(["--node-name", &format!("node{i}")])
            .args(["--lease-ms", &LEASE_MS.to_string()])
            .args(["--checkpoint-interval-ms", CHECKPOINT_INTERVAL_MS])
            .args(self.schema.serve_args())
            .args(&self.extra);
        if i == 0 {
            cmd.args(&self.first_extra);
        }
        let mut server = Server::spawn(cmd);
        server.wait_ready();
        self.servers[i] = Some(server);
    }

    /// The role node `i` reports at `/readyz` (`None`: it does not answer).
    pub(crate) async fn role(&self, i: usize) -> Option<String> {
        let answer = reqwest::Client::new()
            .get(format!("{}/readyz", self.base(i)))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = answer.json().await.ok()?;
        body["role"].as_str().map(str::to_string)
    }

    /// Waits until exactly one node of `among` reports `sequencer` and the
    /// others `follower`; answers the sequencer.
    pub(crate) async fn wait_sequencer(&self, among: &[usize]) -> usize {
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            let mut roles = Vec::new();
            for &i in among {
                roles.push((i, self.role(i).await));
            }
            let sequencers: Vec<usize> = roles
                .iter()
                .filter(|(_, r)| r.as_deref() == Some("sequencer"))
                .map(|(i, _)| *i)
                .collect();
            let followers = roles
                .iter()
                .filter(|(_, r)| r.as_deref() == Some("follower"))
                .count();
            if sequencers.len() == 1 && followers == among.len() - 1 {
                return sequencers[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single sequencer among nodes {among:?} within {TAKEOVER_TIMEOUT:?}: {roles:?}\n{}",
                self.outputs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn outputs(&self) -> String {
        self.servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| format!("--- node{i}:\n{}", s.output())))
            .collect()
    }

    fn running(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&i| self.servers[i].is_some())
            .collect()
    }
}

/// The published size a node serves, or 0.
async fn served_size(client: &LogClient, verifier: &tlog::Verifier) -> u64 {
    client
        .checkpoint(verifier)
        .await
        .map_or(0, |(cp, _)| cp.size().get())
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn load_on(
    cluster: &Cluster,
    i: usize,
    verifier: &tlog::Verifier,
    rng: &mut Rng,
    tag: String,
) -> Load {
    Load::start(
        LogClient::new(cluster.log_base(i)),
        verifier.clone(),
        rng,
        LoadOptions {
            tag,
            clients: CLIENTS_PER_NODE,
            entry_bytes_min: 16,
            entry_bytes_max: 300,
            lenient_resubmits: true,
        },
    )
}

/// Appenders on each of `nodes`, tagged `tag` and the node.
fn loads_on(
    cluster: &Cluster,
    nodes: &[usize],
    verifier: &tlog::Verifier,
    rng: &mut Rng,
    tag: &str,
) -> Vec<(usize, Load)> {
    nodes
        .iter()
        .map(|&i| {
            (
                i,
                load_on(cluster, i, verifier, rng, format!("{tag} node={i}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_sequencer_kills_and_a_pause_with_one_history() {
    let kills: usize = std::env::var("SECTWIN_CLUSTER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KILLS_DEFAULT);
    scenario(kills, None).await;
}

/// The same, shorter, with the history checked at the end by an independent
/// C2SP verifier too: `aics-tlog` (PyPI), over each node's tiles. Run by
/// `tests-interop/cluster/run.sh`, which installs it and names its
/// virtualenv in `SECTWIN_AICS_VENV`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs aics-tlog: run by tests-interop/cluster/run.sh"]
async fn three_nodes_keep_one_history_by_an_independent_verifier() {
    let venv = std::env::var("SECTWIN_AICS_VENV").unwrap_or_else(|_| {
        panic!("SECTWIN_AICS_VENV is not set: run tests-interop/cluster/run.sh, which installs aics-tlog")
    });
    scenario(2, Some(PathBuf::from(venv).join("bin").join("aics-tlog"))).await;
}

/// Runs `aics-tlog` with `args`; panics with its report unless it succeeds.
fn aics(tool: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", tool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "aics-tlog {args:?} failed:\n{text}");
    text
}

/// `kills` SIGKILLs of the sequencer and one SIGSTOP under load, then the
/// checks; `aics`: the independent verifier to run too.
async fn scenario(kills: usize, aics_tool: Option<PathBuf>) {
    let seed = Rng::seed_from_env("SECTWIN_CRASH_SEED");
    println!("cluster test seed: {seed} (replay with SECTWIN_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut cluster = Cluster::start("cluster", NODES);
    let verifier = common::verifier(cluster.data(0));
    let all: Vec<usize> = (0..NODES).collect();
    let first = cluster.wait_sequencer(&all).await;
    assert_eq!(first, 0, "the first node started sequences");
    twins_through_followers(&cluster).await;
    let mut history = History::default();
    let mut failover_ms = Vec::new();
    // An early checkpoint, for the independent verifier's consistency check.
    let mut early: Option<Vec<u8>> = None;

    for kill in 0..kills {
        let running = cluster.running();
        let sequencer = cluster.wait_sequencer(&running).await;
        let loads = loads_on(
            &cluster,
            &running,
            &verifier,
            &mut rng,
            &format!("seed={seed} kill={kill}"),
        );
        tokio::time::sleep(Duration::from_millis(rng.range(LOAD_MS_MIN, LOAD_MS_MAX))).await;
        if early.is_none() {
            let client = LogClient::new(cluster.log_base(sequencer));
            early = client
                .checkpoint(&verifier)
                .await
                .ok()
                .map(|(_, note)| note);
        }
        for (i, load) in &loads {
            if *i == sequencer {
                load.expect_death();
            }
        }
        let killed_at = Instant::now();
        if let Some(server) = cluster.servers[sequencer].as_mut() {
            server.kill();
        }
        cluster.servers[sequencer] = None;
        // The last checkpoint the dead sequencer published.
        let before = cluster.schema.stored_checkpoint_size();
        // The first checkpoint past the dead sequencer's last, on a survivor.
        let survivor = *running
            .iter()
            .find(|&&i| i != sequencer)
            .expect("a survivor");
        let client = LogClient::new(cluster.log_base(survivor));
        let took = loop {
            if served_size(&client, &verifier).await > before {
                break killed_at.elapsed();
            }
            assert!(
                killed_at.elapsed() < TAKEOVER_TIMEOUT,
                "kill {kill}: no checkpoint past {before} within {TAKEOVER_TIMEOUT:?} after killing node{sequencer}\n{}",
                cluster.outputs()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        failover_ms.push(took.as_millis());
        let survivors: Vec<usize> = running
            .iter()
            .copied()
            .filter(|&i| i != sequencer)
            .collect();
        let next = cluster.wait_sequencer(&survivors).await;
        // The survivors' appenders keep going through the failover.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut acked = 0;
        for (_, load) in loads {
            let report = load.finish().await;
            acked += report.acked.len();
            history.absorb(&report);
        }
        history.assert_ok(&format!("kill {kill} (seed {seed})"));
        cluster.spawn(sequencer);
        println!(
            "kill {kill:2}: node{sequencer} killed at size {before}, node{next} took over; \
             first new checkpoint after {} ms; {acked} acknowledged",
            took.as_millis()
        );
    }

    // A pause past the lease: the paused sequencer is replaced, and when it
    // wakes its writes are fenced (no fork) and it follows.
    let running = cluster.running();
    let paused = cluster.wait_sequencer(&running).await;
    let loads = loads_on(
        &cluster,
        &running,
        &verifier,
        &mut rng,
        &format!("seed={seed} pause"),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, load) in &loads {
        if *i == paused {
            load.expect_death();
        }
    }
    let pid = cluster.servers[paused].as_ref().expect("running").pid();
    common::send_signal(pid, "STOP");
    let others: Vec<usize> = running.iter().copied().filter(|&i| i != paused).collect();
    let next = cluster.wait_sequencer(&others).await;
    tokio::time::sleep(Duration::from_millis(LEASE_MS)).await;
    common::send_signal(pid, "CONT");
    let after = cluster.wait_sequencer(&running).await;
    assert_eq!(after, next, "the woken node took the lease back");
    assert_eq!(cluster.role(paused).await.as_deref(), Some("follower"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (_, load) in loads {
        history.absorb(&load.finish().await);
    }
    history.assert_ok(&format!("pause (seed {seed})"));
    println!(
        "pause: node{paused} stopped past its lease; node{next} took over; node{paused} follows"
    );

    // Every node serves the one history holding every acknowledged entry.
    let mut size = 0;
    for i in cluster.running() {
        let server = cluster.servers[i].as_ref().expect("running");
        let client = LogClient::new(cluster.log_base(i));
        size = verify_log(server, &client, &verifier, &mut history, &mut rng)
            .await
            .size;
    }
    // Every node is ready, its projection caught up with the shared log.
    for i in cluster.running() {
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            let ready: serde_json::Value = reqwest::get(format!("{}/readyz", cluster.base(i)))
                .await
                .expect("GET /readyz")
                .json()
                .await
                .expect("readiness JSON");
            if ready["ready"] == true {
                break;
            }
            assert!(Instant::now() < deadline, "node{i} is not ready: {ready}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let vkey = cluster.data(0).join("log.vkey");
    let (ok, out) = common::sectwin(&[
        "log",
        "verify",
        &format!("{}/log", cluster.base(next)),
        "--vkey-file",
        common::p(&vkey),
        "--json",
    ]);
    assert!(ok, "sectwin log verify over HTTP:\n{out}");
    if let Some(tool) = &aics_tool {
        independent(
            tool,
            &cluster,
            &history,
            early.as_deref().expect("an early checkpoint"),
            &vkey,
        );
    }
    for i in cluster.running() {
        let status = cluster.servers[i].as_mut().expect("running").stop();
        assert!(
            status.success(),
            "node{i} exited with {status} on SIGINT\n{}",
            cluster.outputs()
        );
    }
    // fsck of the log in the database, every node stopped.
    let (ok, out) = common::sectwin(&[
        "log",
        "fsck",
        "--data",
        common::p(cluster.data(0)),
        "--database",
        &cluster.schema.url,
        "--database-schema",
        &cluster.schema.name,
        "--json",
    ]);
    assert!(ok, "sectwin log fsck --database:\n{out}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).expect("fsck's JSON");
    assert_eq!(report["size"], size, "{report}");
    assert!(report["checkpoints_checked"].as_u64() > Some(0), "{report}");
    failover_ms.sort_unstable();
    if !failover_ms.is_empty() {
        println!(
            "cluster: {kills} kills + 1 pause, {} acknowledged entries, log size {size}, \
             {} checkpoints consistent; failover p50 {} ms, p99 {} ms, max {} ms; {:.1} s",
            history.acked_count(),
            history.checkpoints_seen(),
            percentile(&failover_ms, 0.5),
            percentile(&failover_ms, 0.99),
            failover_ms[failover_ms.len() - 1],
            started.elapsed().as_secs_f64()
        );
    }
}

/// The independent verifier's checks, on every node: the served checkpoint
/// verifies with the log key and is consistent, proved from the node's
/// tiles, with the early checkpoint; sampled acknowledged entries are
/// included, proved from the tiles.
fn independent(
    tool: &std::path::Path,
    cluster: &Cluster,
    history: &History,
    early: &[u8],
    vkey_file: &std::path::Path,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let early_file = dir.path().join("early.note");
    std::fs::write(&early_file, early).expect("write the early checkpoint");
    let vkey = common::p(vkey_file);
    let samples = history.sample_acked(8);
    for i in cluster.running() {
        let tiles = cluster.log_base(i);
        aics(
            tool,
            &["verify-checkpoint", "--tiles", &tiles, "--vkey-file", vkey],
        );
        aics(
            tool,
            &[
                "verify-consistency",
                "--old-checkpoint",
                common::p(&early_file),
                "--tiles",
                &tiles,
                "--vkey-file",
                vkey,
            ],
        );
        for (index, entry) in &samples {
            let leaf = dir.path().join(format!("leaf-{index}"));
            std::fs::write(&leaf, entry).expect("write a leaf");
            aics(
                tool,
                &[
                    "verify-inclusion",
                    "--leaf",
                    common::p(&leaf),
                    "--index",
                    &index.to_string(),
                    "--tiles",
                    &tiles,
                    "--vkey-file",
                    vkey,
                ],
            );
        }
    }
    println!(
        "independent verifier (aics-tlog): {} nodes, checkpoint, consistency with size {}, {} inclusions each",
        cluster.running().len(),
        String::from_utf8_lossy(early).lines().nth(1).unwrap_or("?"),
        samples.len()
    );
}

/// Signed statements through the followers: a stakeholder registered on
/// one, a device statement on another (its receipt verified offline), and
/// the stakeholder visible in every node's projection of the shared log.
async fn twins_through_followers(cluster: &Cluster) {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).expect("dir");
    std::fs::copy(
        cluster.data(0).join("scitt.key"),
        d.join("data").join("scitt.key"),
    )
    .expect("the receipt key");
    let (acme_key, acme_pub) = common::keypair(d, "acme", "eddsa");
    common::register_stakeholders(
        &cluster.base(1),
        &cluster.data(0).join("authority.key"),
        &[("acme.example", "manufacturer", &acme_pub)],
    );
    let (ok, out) = common::submit(
        &cluster.base(2),
        d,
        &acme_key,
        "acme.example",
        "device:door-1",
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#,
    );
    assert!(ok, "a device statement through a follower:\n{out}");
    for i in 0..cluster.servers.len() {
        let url = format!("{}/api/v1/stakeholders/acme.example", cluster.base(i));
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            let status = reqwest::get(&url).await.map(|r| r.status().as_u16());
            if status.as_ref().is_ok_and(|s| *s == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node{i} does not show the stakeholder registered through node1: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Registers Acme and its customer Op through node 1, and through node 2
/// Acme's door controller `door-1`, handed over to Op. Answers the
/// directory holding Op's key, and the key's path.
fn operated_door(cluster: &Cluster) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).expect("dir");
    std::fs::copy(
        cluster.data(0).join("scitt.key"),
        d.join("data").join("scitt.key"),
    )
    .expect("the receipt key");
    let (acme_key, acme_pub) = common::keypair(d, "acme", "eddsa");
    let (op_key, op_pub) = common::keypair(d, "op", "eddsa");
    common::register_stakeholders(
        &cluster.base(1),
        &cluster.data(0).join("authority.key"),
        &[
            ("acme.example", "manufacturer", &acme_pub),
            ("op.example", "operator", &op_pub),
        ],
    );
    for payload in [
        r#"{"type":"device-registered","manufacturer":"Acme","model":"DC-200","serial":"1"}"#,
        r#"{"type":"ownership-transferred","owner":"op.example","operator":"op.example","site":"Building A"}"#,
    ] {
        let (ok, out) = common::submit(
            &cluster.base(2),
            d,
            &acme_key,
            "acme.example",
            "device:door-1",
            payload,
        );
        assert!(ok, "{payload} through a follower:\n{out}");
    }
    (dir, op_key)
}

/// Reports an incident on `door-1` as Op through node `via`.
fn report_incident(cluster: &Cluster, via: usize, op: &(tempfile::TempDir, String), n: usize) {
    let payload =
        format!(r#"{{"type":"incident-reported","severity":"high","summary":"tamper alarm {n}"}}"#);
    let (ok, out) = common::submit(
        &cluster.base(via),
        op.0.path(),
        &op.1,
        "op.example",
        "device:door-1",
        &payload,
    );
    assert!(ok, "incident {n} through node{via}:\n{out}");
}

/// The notification ids the receiver got, each with how many times its
/// `webhook-id` came.
fn told(received: &crate::vuln_e2e::Received) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for (headers, _) in received.lock().expect("lock").iter() {
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *out.entry(id).or_insert(0) += 1;
    }
    out
}

/// Waits until the receiver has `want` distinct notifications, then a while
/// longer for any duplicate to arrive; answers what it got.
async fn told_settled(
    cluster: &Cluster,
    received: &crate::vuln_e2e::Received,
    want: usize,
) -> std::collections::BTreeMap<String, usize> {
    let deadline = Instant::now() + TAKEOVER_TIMEOUT;
    while told(received).len() < want {
        assert!(
            Instant::now() < deadline,
            "{} of {want} incidents told within {TAKEOVER_TIMEOUT:?}: {:?}\n{}",
            told(received).len(),
            told(received),
            cluster.outputs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every node's pumps have run several times by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    told(received)
}

/// Each event is told once by the cluster, not once per node: a stakeholder
/// subscribes through a follower, incidents are reported through another,
/// and only the sequencer's notifier sends (the outbox is shared in
/// PostgreSQL). After the sequencer is killed, the node that takes over
/// sends what comes next and nothing told before. A follower lists the
/// deliveries from the shared outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_tell_each_incident_once_across_a_failover() {
    let (hook, received) = crate::vuln_e2e::webhook_receiver().await;
    let mut cluster = Cluster::start_with(
        "notify",
        NODES,
        &["--webhook-allow-private", "--risk-interval-ms", "200"],
        &["--entry-bytes-max", "4096"],
    );
    let all: Vec<usize> = (0..NODES).collect();
    assert_eq!(cluster.wait_sequencer(&all).await, 0);
    // The sequencer takes forwarded appends only with the cluster's secret.
    for path in ["/cluster/v1/entries", "/cluster/v1/batch"] {
        let status = reqwest::Client::new()
            .post(format!("{}{path}", cluster.base(0)))
            .bearer_auth("00")
            .body(vec![0, 0, 0, 1, 7])
            .send()
            .await
            .expect("POST")
            .status();
        assert_eq!(status, 401, "{path} without the cluster's secret");
    }
    // An entry the follower takes but the sequencer's smaller limit refuses
    // is answered 413 with the sequencer's limit, not as a failure.
    match LogClient::new(cluster.log_base(1))
        .add(vec![7; 10_000])
        .await
        .expect("add through a follower")
    {
        common::AddAnswer::Refused { status, body, .. } => {
            assert_eq!(status, 413, "{body}");
            assert!(body.contains("maximum of 4096 bytes"), "{body}");
        }
        other => panic!("a 10,000-byte entry over node 0's 4,096-byte limit: {other:?}"),
    }
    let op = operated_door(&cluster);
    // Op's API credential, made with the CLI in node 0's data directory:
    // node 0 shares it through the database, and node 1 accepts it.
    let (id, secret) = common::credential(cluster.data(0), "op.example");
    let token = crate::vuln_e2e::token(&cluster.base(1), &id, &secret).await;
    // A credential revoked on node 2 is refused by node 0.
    let (doomed, doomed_secret) = common::credential(cluster.data(0), "op.example");
    crate::vuln_e2e::token(&cluster.base(2), &doomed, &doomed_secret).await;
    let mut revoked = false;
    for _ in 0..50 {
        // Node 2's file holds the credential once node 2 took it.
        if common::sectwin(&[
            "credential",
            "revoke",
            "--data",
            common::p(cluster.data(2)),
            &doomed,
        ])
        .0
        {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        revoked,
        "node 2's file never held the credential made on node 0"
    );
    let deadline = Instant::now() + TAKEOVER_TIMEOUT;
    loop {
        let status = reqwest::Client::new()
            .post(format!("{}/oauth/token", cluster.base(0)))
            .basic_auth(&doomed, Some(&doomed_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request")
            .status();
        if status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 0 still accepts the credential revoked on node 2 ({status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, sub) = crate::vuln_e2e::post(
        &cluster.base(1),
        "/api/v1/subscriptions",
        &token,
        format!(r#"{{"id":"op-incidents","webhook":{{"url":"{hook}"}},"kinds":["incident"]}}"#)
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 201, "subscribing through a follower: {sub}");
    // Every node lists the subscription.
    for i in 0..NODES {
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            // (A 401 until the node reloaded the credentials file.)
            let (status, list) =
                crate::vuln_e2e::get(&cluster.base(i), "/api/v1/subscriptions", &token).await;
            if status == 200
                && list["subscriptions"]
                    .as_array()
                    .is_some_and(|s| s.len() == 1)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node{i} does not list the subscription: {list}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    for n in 0..4 {
        report_incident(&cluster, 2, &op, n);
    }
    let first = told_settled(&cluster, &received, 4).await;
    assert!(
        first.values().all(|&times| times == 1),
        "three nodes, each incident told once: {first:?}"
    );
    // A follower lists the four deliveries from the shared outbox.
    let (status, list) = crate::vuln_e2e::get(
        &cluster.base(2),
        "/api/v1/deliveries?status=delivered",
        &token,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["deliveries"].as_array().map(Vec::len),
        Some(4),
        "the deliveries, listed by a follower: {list}"
    );

    // The sequencer dies; the node that takes over tells what comes next,
    // and nothing told before.
    if let Some(server) = cluster.servers[0].as_mut() {
        server.kill();
    }
    cluster.servers[0] = None;
    let next = cluster.wait_sequencer(&[1, 2]).await;
    let via = if next == 1 { 2 } else { 1 };
    for n in 4..7 {
        report_incident(&cluster, via, &op, n);
    }
    let all_told = told_settled(&cluster, &received, 7).await;
    assert!(
        all_told.values().all(|&times| times == 1),
        "after the failover, each incident told once, none again: {all_told:?}"
    );
    for id in first.keys() {
        assert!(all_told.contains_key(id));
    }
    // A confidential incident through one survivor: the log holds its
    // digest, the payload is kept in the schema, so every node folds it.
    let d = op.0.path();
    let incident = d.join("confidential.json");
    std::fs::write(
        &incident,
        r#"{"type":"incident-reported","severity":"high","summary":"case opened, confidential"}"#,
    )
    .expect("write");
    let envelope = d.join("confidential.cose");
    let (ok, out) = common::sectwin(&[
        "statement",
        "sign",
        "--key",
        &op.1,
        "--issuer",
        "op.example",
        "--subject",
        "device:door-1",
        "--payload",
        common::p(&incident),
        "--hash-envelope",
        "--out",
        common::p(&envelope),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = common::sectwin(&[
        "statement",
        "submit",
        &cluster.base(via),
        common::p(&envelope),
        "--receipt",
        common::p(&d.join("confidential.receipt")),
        "--payload",
        common::p(&incident),
    ]);
    assert!(ok && out.contains("registered as"), "{out}");
    for i in [1, 2] {
        let deadline = Instant::now() + TAKEOVER_TIMEOUT;
        loop {
            let (status, twin) =
                crate::vuln_e2e::get(&cluster.base(i), "/api/v1/devices/door-1", &token).await;
            if status == 200 && twin.to_string().contains("case opened, confidential") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node{i} does not show the payload node{via} took: {status} {twin}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(cluster.schema.count("side_payload"), 1);
    // The twins in the schema: node 0 wrote them while it sequenced, and
    // the node that took over goes on from what the store holds, up to
    // the log's last checkpoint, with the door's twin, index and history.
    let size = cluster.schema.stored_checkpoint_size();
    let deadline = Instant::now() + TAKEOVER_TIMEOUT;
    while cluster
        .schema
        .scalar("SELECT size FROM twin_meta WHERE id = 1")
        < i64::try_from(size).expect("size")
    {
        assert!(
            Instant::now() < deadline,
            "the shared projection does not reach the log's size {size}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cluster.schema.scalar(
            "SELECT COUNT(*) FROM twin WHERE device = 'door-1' \
             AND convert_from(body, 'UTF8')::jsonb->>'site' = 'Building A'"
        ),
        1,
        "the door's twin in the schema"
    );
    assert_eq!(
        cluster.schema.scalar(
            "SELECT COUNT(*) FROM twin_index WHERE attribute = 'site' \
             AND value = convert_to('Building A', 'UTF8')"
        ),
        1
    );
    assert!(
        cluster
            .schema
            .scalar("SELECT COUNT(*) FROM twin_history WHERE device = 'door-1'")
            >= 10,
        "the door's history: registered, transferred, eight incidents (10)"
    );
    // The survivors stop cleanly (the shared outbox closes off the runtime).
    for i in [1, 2] {
        if let Some(mut server) = cluster.servers[i].take() {
            let status = server.stop();
            assert!(
                status.success(),
                "node{i} exited with {status}\n{}",
                server.output()
            );
        }
    }
}
