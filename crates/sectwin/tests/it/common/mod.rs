//! Helpers for end-to-end tests of the real `sectwin` binary: start
//! `sectwin serve` on port 0 (the server prints the address it bound, so there
//! is no free-port race), wait until it serves, talk to it over HTTP, and stop
//! it with SIGINT (clean) or SIGKILL (crash).
//!
//! Deliberately absent: mocks and in-process servers. These helpers exist so
//! that a test exercises exactly what a user runs: the binary, a data
//! directory on a real filesystem, a TCP socket.

// Each integration-test binary compiles this module and uses a subset of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tlog::{Checkpoint, Hash, Verifier};

/// The binary under test, built by Cargo for this integration test.
pub const SECTWIN: &str = env!("CARGO_BIN_EXE_sectwin");

/// How long a server may take from spawn to "serving on": recovery replays
/// the journal from the last synced size, so this bounds replay of a few
/// hundred thousand entries on a slow CI machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a clean stop (SIGINT) may take before the test calls it a hang.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The command line of `sectwin serve` on `data`, listening on an ephemeral
/// loopback port, with `extra` arguments appended.
pub fn serve_command(data: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(SECTWIN);
    cmd.arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra);
    cmd
}

/// A running `sectwin serve` child process. Dropping it kills the child
/// (SIGKILL), so a failing test never leaves a server behind.
pub struct Server {
    child: Child,
    exited: Option<ExitStatus>,
    /// Everything the child printed on stdout so far.
    stdout: Arc<Mutex<String>>,
    /// Everything the child printed on stderr so far.
    stderr: Arc<Mutex<String>>,
    ready: mpsc::Receiver<SocketAddr>,
    addr: Option<SocketAddr>,
    spawned_at: Instant,
}

impl Server {
    /// Spawns `cmd` (usually from [`serve_command`]) without waiting for it to
    /// be ready. Its stdout and stderr are captured.
    pub fn spawn(mut cmd: Command) -> Server {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Quiet by default; a test may set RUST_LOG on the command, or in
        // its own environment.
        if !cmd.get_envs().any(|(k, _)| k == "RUST_LOG") {
            cmd.env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            );
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            let buf = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if let Some(addr) = parse_serving_line(&line) {
                        let _ = ready_tx.send(addr);
                    }
                    let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
                    b.push_str(&line);
                    b.push('\n');
                }
            });
        }
        if let Some(mut err) = child.stderr.take() {
            let buf = stderr.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    match err.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push_str(&String::from_utf8_lossy(&chunk[..n])),
                    }
                }
            });
        }
        Server {
            child,
            exited: None,
            stdout,
            stderr,
            ready,
            addr: None,
            spawned_at: Instant::now(),
        }
    }

    /// Spawns `sectwin serve --data <data> --listen 127.0.0.1:0 <extra>` and
    /// waits until it serves.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        let mut s = Server::spawn(serve_command(data, extra));
        s.wait_ready();
        s
    }

    /// Waits for the "serving on http://ADDR/log/" line. Panics with the
    /// child's output if it exits first or takes longer than [`READY_TIMEOUT`].
    pub fn wait_ready(&mut self) -> SocketAddr {
        if let Some(a) = self.addr {
            return a;
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.ready.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => {
                    self.addr = Some(addr);
                    return addr;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed without the line: the child is exiting.
                    let status = self.wait_exit(Duration::from_secs(5));
                    panic!(
                        "sectwin serve exited ({status:?}) before serving\n{}",
                        self.output()
                    );
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                // Give the reader thread a moment to deliver a last line.
                if let Ok(addr) = self.ready.recv_timeout(Duration::from_millis(200)) {
                    self.addr = Some(addr);
                    return addr;
                }
                panic!(
                    "sectwin serve exited ({status}) before serving\n{}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "sectwin serve not ready after {READY_TIMEOUT:?}\n{}",
                    self.output()
                );
            }
        }
    }

    /// Time from spawn until now (useful right after [`Server::wait_ready`]).
    pub fn since_spawn(&self) -> Duration {
        self.spawned_at.elapsed()
    }

    /// The address it serves on. Panics if not ready yet.
    pub fn addr(&self) -> SocketAddr {
        self.addr.unwrap_or_else(|| panic!("server not ready"))
    }

    /// `http://ADDR/log`, without a trailing slash.
    pub fn base(&self) -> String {
        format!("http://{}/log", self.addr())
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exited = Some(status);
                false
            }
            _ => true,
        }
    }

    /// SIGKILL, then reap. A crash at an arbitrary instruction: no handler
    /// runs, nothing is flushed from user space.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.exited = Some(status);
            }
        }
    }

    /// Clean stop: SIGINT (what Ctrl-C sends), then wait for the exit. Panics
    /// if the server does not exit within [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        send_signal(self.child.id(), "INT");
        match self.wait_exit(STOP_TIMEOUT) {
            Some(s) => s,
            None => {
                self.kill();
                panic!(
                    "sectwin serve did not stop within {STOP_TIMEOUT:?} of SIGINT\n{}",
                    self.output()
                );
            }
        }
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exited {
                return Some(s);
            }
            if let Ok(Some(s)) = self.child.try_wait() {
                self.exited = Some(s);
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the child printed so far (stdout, then stderr), for failure messages.
    pub fn output(&self) -> String {
        let out = self
            .stdout
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let err = self
            .stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        format!("--- stdout ---\n{out}--- stderr ---\n{}", tail(&err, 8000))
    }

    /// What the child printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(s: &str, bytes: usize) -> &str {
    if s.len() <= bytes {
        return s;
    }
    let mut start = s.len() - bytes;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Sends a signal by name through the shell's `kill` builtin (no `unsafe`
/// `libc::kill` in tests: the workspace denies unsafe code).
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {pid}"))
        .status()
        .unwrap_or_else(|e| panic!("running kill -{signal} {pid}: {e}"));
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}

/// Parses `serving on http://127.0.0.1:PORT/log/ (Ctrl-C to stop)`.
fn parse_serving_line(line: &str) -> Option<SocketAddr> {
    let rest = line.split("serving on http://").nth(1)?;
    let addr = rest.split('/').next()?;
    addr.parse().ok()
}

/// Runs `sectwin log fsck --data <data>`.
pub fn fsck(data: &Path) -> Output {
    Command::new(SECTWIN)
        .args(["log", "fsck", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("running sectwin log fsck: {e}"))
}

/// Runs fsck and panics with its output unless it succeeds.
pub fn assert_fsck_passes(data: &Path) -> String {
    let out = fsck(data);
    let text = format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "sectwin log fsck failed ({})\n{text}",
        out.status
    );
    text
}

/// The log's verifier key, as `sectwin serve` wrote it into the data directory.
pub fn verifier(data: &Path) -> Verifier {
    let vkey = std::fs::read_to_string(data.join("log.vkey"))
        .unwrap_or_else(|e| panic!("reading {}/log.vkey: {e}", data.display()));
    Verifier::from_vkey(vkey.trim()).unwrap_or_else(|e| panic!("log.vkey does not parse: {e}"))
}

/// The answer to `POST /log/add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddAnswer {
    /// 200 with `{"index":N,"duplicate":b}`.
    Added {
        /// The entry's index.
        index: u64,
        /// Whether it was already in the log.
        duplicate: bool,
    },
    /// Any other status, with the body as text and the Retry-After header.
    Refused {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
        /// `Retry-After`, if present.
        retry_after: Option<String>,
    },
}

/// A small HTTP client for one server's `/log` API.
#[derive(Clone)]
pub struct LogClient {
    http: reqwest::Client,
    base: String,
}

impl LogClient {
    /// A client for `base` (`http://ADDR/log`).
    pub fn new(base: String) -> LogClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_else(|e| panic!("building the HTTP client: {e}"));
        LogClient { http, base }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /log/add`. Transport errors (the server died) are `Err`.
    pub async fn add(&self, entry: Vec<u8>) -> Result<AddAnswer, reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/add", self.base))
            .body(entry)
            .send()
            .await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await?;
        if status != 200 {
            return Ok(AddAnswer::Refused {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
                retry_after,
            });
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!("POST /log/add answered 200 with a body that is not JSON ({e}): {body:?}")
        });
        let index = json["index"]
            .as_u64()
            .unwrap_or_else(|| panic!("no integer \"index\" in {json}"));
        let duplicate = json["duplicate"]
            .as_bool()
            .unwrap_or_else(|| panic!("no boolean \"duplicate\" in {json}"));
        Ok(AddAnswer::Added { index, duplicate })
    }

    /// `GET /log/<path>`: (status, body).
    pub async fn get(&self, path: &str) -> Result<(u16, Vec<u8>), reqwest::Error> {
        let response = self
            .http
            .get(format!("{}/{path}", self.base))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?.to_vec();
        Ok((status, body))
    }

    /// `GET /log/<path>`, panicking unless it answers 200.
    pub async fn get_ok(&self, path: &str) -> Vec<u8> {
        let (status, body) = self
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("GET {}/{path}: {e}", self.base));
        assert_eq!(
            status,
            200,
            "GET {}/{path}: {}",
            self.base,
            String::from_utf8_lossy(&body)
        );
        body
    }

    /// The served checkpoint, with its signature verified by `log`.
    pub async fn checkpoint(&self, log: &Verifier) -> Result<(Checkpoint, Vec<u8>), String> {
        let (status, body) = self.get("checkpoint").await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET checkpoint: {status}"));
        }
        let (cp, _) = tlog::open_checkpoint(&body, log).map_err(|e| {
            format!(
                "served checkpoint does not verify with the log key: {e}\n{}",
                String::from_utf8_lossy(&body)
            )
        })?;
        Ok((cp, body))
    }

    /// The consistency proof `old → new` from `GET /log/proof/consistency`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Vec<Hash> {
        let body = self
            .get_ok(&format!("proof/consistency?old={old}&new={new}"))
            .await;
        let json: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("consistency proof is not JSON ({e})"));
        assert_eq!(json["old"].as_u64(), Some(old), "{json}");
        assert_eq!(json["new"].as_u64(), Some(new), "{json}");
        json["proof"]
            .as_array()
            .unwrap_or_else(|| panic!("no proof array in {json}"))
            .iter()
            .map(|h| {
                let s = h
                    .as_str()
                    .unwrap_or_else(|| panic!("proof hash is not a string: {h}"));
                Hash::from_base64(s).unwrap_or_else(|e| panic!("proof hash {s:?}: {e}"))
            })
            .collect()
    }
}

/// A small deterministic PRNG (SplitMix64) so that a failing run can be
/// replayed from its printed seed; good enough for choosing delays and samples.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed from `env` if set (decimal), else from the clock. Printed by
    /// the caller so a failure can be reproduced.
    pub fn seed_from_env(env: &str) -> u64 {
        match std::env::var(env) {
            Ok(s) => s
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{env}={s:?} is not a u64: {e}")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x5ec7_1a2b),
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]` (inclusive).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Runs `sectwin ARGS`: success, and stdout followed by stderr.
pub fn sectwin(args: &[&str]) -> (bool, String) {
    let out = Command::new(SECTWIN)
        .args(args)
        .output()
        .expect("run sectwin");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `sectwin ARGS`, asserting success; answers stdout alone.
pub fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(SECTWIN)
        .args(args)
        .output()
        .expect("run sectwin");
    assert!(
        out.status.success(),
        "sectwin {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Generates a key with `sectwin key generate`; writes the private key to
/// `name.key` and the public key to `name.pub` in `d`; answers both paths.
pub fn keypair(d: &Path, name: &str, alg: &str) -> (String, String) {
    let key = d.join(format!("{name}.key"));
    let public = d.join(format!("{name}.pub"));
    let pem = stdout_of(&["key", "generate", "--alg", alg, "--out", p(&key)]);
    std::fs::write(&public, pem).expect("write");
    (p(&key).to_string(), p(&public).to_string())
}

/// The client id and secret `sectwin credential create` printed for
/// `stakeholder` on the server's data directory `data`.
pub fn credential(data: &Path, stakeholder: &str) -> (String, String) {
    let out = stdout_of(&[
        "credential",
        "create",
        "--data",
        p(data),
        "--stakeholder",
        stakeholder,
    ]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    (field("client_id:"), field("client_secret:"))
}

/// A bearer token of a new API credential of `stakeholder` (created with
/// the CLI in the server's data directory `data`), from the server at `url`.
pub async fn bearer_token(url: &str, data: &Path, stakeholder: &str) -> String {
    let (id, secret) = credential(data, stakeholder);
    let client = reqwest::Client::new();
    // The server reloads the credentials file on change: retry until it has.
    for _ in 0..100 {
        let r = client
            .post(format!("{url}/oauth/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request");
        if r.status().is_success() {
            let v: serde_json::Value = r.json().await.expect("token json");
            return v["access_token"]
                .as_str()
                .expect("access_token")
                .to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no token for {stakeholder}");
}

/// Signs `payload` as `issuer` about `subject` with the CLI and submits it
/// to the server at `url` (whose data directory is `d/data`); the receipt,
/// if one came, is verified offline. Answers success and the CLI's output.
pub fn submit(
    url: &str,
    d: &Path,
    key: &str,
    issuer: &str,
    subject: &str,
    payload: &str,
) -> (bool, String) {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let file = d.join(format!("p{n}.json"));
    let statement = d.join(format!("s{n}.cose"));
    let receipt = d.join(format!("r{n}.cose"));
    std::fs::write(&file, payload).expect("write");
    let (ok, out) = sectwin(&[
        "statement",
        "sign",
        "--key",
        key,
        "--issuer",
        issuer,
        "--subject",
        subject,
        "--payload",
        p(&file),
        "--out",
        p(&statement),
    ]);
    assert!(ok, "{out}");
    let (ok, out) = sectwin(&[
        "statement",
        "submit",
        url,
        p(&statement),
        "--receipt",
        p(&receipt),
    ]);
    if ok {
        let (vok, vout) = sectwin(&[
            "statement",
            "verify-receipt",
            "--receipt",
            p(&receipt),
            "--statement",
            p(&statement),
            "--service-key",
            p(&d.join("data").join("scitt.key")),
        ]);
        assert!(vok && vout.contains("OK: the statement is entry"), "{vout}");
    }
    (ok, out)
}

/// Registers stakeholders `(id, role, public key file)` with the CLI, signed
/// by the registry authority's key `authority`.
pub fn register_stakeholders(url: &str, authority: &Path, stakeholders: &[(&str, &str, &str)]) {
    for (id, role, key) in stakeholders {
        stdout_of(&[
            "stakeholder",
            "register",
            "--server",
            url,
            "--authority-key",
            p(authority),
            "--id",
            id,
            "--name",
            id,
            "--role",
            role,
            "--key",
            key,
        ]);
    }
}

/// The PostgreSQL server the tests use: `$SECTWIN_TEST_DATABASE`, else the
/// local one this machine kind runs (trust auth, database `test`).
pub fn database_url() -> String {
    std::env::var("SECTWIN_TEST_DATABASE")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_string())
}

/// A schema of its own for one test, made by `sectwin db migrate` and
/// dropped when it goes.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    /// Migrates a fresh, uniquely named schema; fails saying how to get a
    /// server when there is none.
    pub fn new(test: &str) -> PgSchema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("t_{test}_{}_{nanos}", std::process::id());
        let url = database_url();
        let (ok, out) = sectwin(&["db", "migrate", "--database", &url, "--schema", &name]);
        assert!(
            ok,
            "sectwin db migrate failed:\n{out}\nThese tests need a PostgreSQL server: start the \
             local one (127.0.0.1:5432, trust auth, database `test`), or point \
             SECTWIN_TEST_DATABASE at one (postgres://user@host:port/db)."
        );
        PgSchema { url, name }
    }

    /// `serve`'s flags for a log in this schema.
    pub fn serve_args(&self) -> Vec<String> {
        vec![
            "--database".into(),
            self.url.clone(),
            "--database-schema".into(),
            self.name.clone(),
        ]
    }

    /// The size of the checkpoint the log's state serves (the last one a
    /// sequencer published), read from the database.
    pub fn stored_checkpoint_size(&self) -> u64 {
        let n = self.scalar(
            "SELECT COALESCE(split_part(convert_from(checkpoint, 'UTF8'), E'\n', 2)::BIGINT, 0) \
             FROM log_state WHERE id = 1",
        );
        u64::try_from(n).unwrap_or(0)
    }

    /// The rows of `table` in the schema (the synchronous client runs on a
    /// thread of its own: it may not block a runtime's).
    pub fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}"))
    }

    /// One BIGINT `sql` answers.
    pub fn scalar(&self, sql: &str) -> i64 {
        let options = pg_store::PgOptions::new(&self.url).with_schema(&self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut c = pg_store::connect(&options).unwrap_or_else(|e| panic!("{e}"));
                c.query_one(sql, &[])
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .get(0)
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let options = pg_store::PgOptions::new(&self.url).with_schema(&self.name);
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        // On a thread of its own: the synchronous client may not block a
        // runtime's thread.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = pg_store::connect(&options) {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}
