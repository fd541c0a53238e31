//! Peer benchmark: durable appends/s of `siglog` (crates.io `siglog` 0.1.0, prefix-dev,
//! "A minimal Tessera-compatible transparency log server") measured in the same run as ours.
//!
//! What it does:
//! - finds the `siglog` binary (`target/peers/bin` where `bench/install-peers.sh` puts it,
//!   PATH, `$CARGO_HOME/bin`, `~/.cargo/bin`); if absent it fails with an error telling you
//!   to run that script;
//! - starts it as a child process with all state under `dir`: SQLite database
//!   `dir/siglog.db` (siglog switches it to WAL mode; the SQLite `synchronous` pragma is left at
//!   its compiled-in default, FULL, so every sequencing transaction's commit syncs the WAL),
//!   tile storage on the local filesystem (`STORAGE_BACKEND=fs`, `FS_ROOT=dir/tiles`), a fixed
//!   benchmark-only Ed25519 signing key, checkpoint interval 1 s (siglog's default);
//! - sets siglog's sequencer batch to `clients` entries (capped at 1024, siglog's channel size)
//!   and its batch age to 20 ms, so that with `clients` closed-loop clients a batch is flushed
//!   as soon as every client has a request outstanding (siglog's defaults, 256 entries / 1000
//!   ms, would make runs with fewer than 256 clients wait out the 1 s timer on every batch);
//! - waits for `GET /health` to answer 200, then runs `clients` concurrent HTTP/1.1 clients that
//!   `POST /add` `entries` unique raw entries of `entry_bytes` bytes (8-byte run id, 8-byte
//!   big-endian counter, filler); siglog answers 200 with the decimal index once the batch's
//!   database transaction has committed;
//! - retries (after a short sleep) responses 429 and 503, and 500 "database is locked"
//!   (siglog 0.1.0 on SQLite: the batch transaction hit SQLITE_BUSY and was rolled back), and
//!   counts them as back-pressure (logged as `pushback`);
//! - stops the child (SIGINT via `kill`, then SIGKILL) and returns acknowledged entries/s,
//!   timed from the first request to the last acknowledgement.
//!
//! What it does not do:
//! - it does not wait for siglog's asynchronous integration (tiles) or checkpoint publication:
//!   siglog acknowledges after *sequencing* (an SQL commit into `pending_entries`), and tiles
//!   and checkpoints follow later from background workers; it does not verify the tree;
//! - it does not measure latency percentiles, and it does not tune SQLite or the OS;
//! - the child's log (siglog logs every HTTP request at INFO level; that cannot be switched off
//!   from the environment) goes to `dir/siglog.log`, which costs siglog some CPU.
//!
//! Setting `SIGLOG_BENCH_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/siglog_x`)
//! uses that database instead of SQLite; it must be fresh and exist already.

use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmark-only signing key in Go note format (`PRIVATE+KEY+name+keyid_hex+base64(0x01||seed)`).
/// The seed is SHA-256 of a public string; it protects nothing.
const BENCH_KEY: &str =
    "PRIVATE+KEY+sectwin-bench/siglog+02387cbf+ARmAA0cAu5AjtdKOdDgRZSsnG7Zn+gp2zK+8W7lQCdSB";
const BENCH_ORIGIN: &str = "sectwin-bench/siglog";

/// Kills the child process when dropped (also on early return or panic).
struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Asks siglog to shut down gracefully (it handles SIGINT only), then kills it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(child.id().to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn find_siglog() -> anyhow::Result<PathBuf> {
    let mut candidates = Vec::new();
    // Where bench/install-peers.sh puts it.
    if let Some(peers) = std::env::var_os("SECTWIN_PEERS") {
        candidates.push(PathBuf::from(peers).join("bin").join("siglog"));
    }
    candidates
        .push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/bin/siglog"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("siglog")));
    }
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(cargo_home).join("bin").join("siglog"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(
            PathBuf::from(home)
                .join(".cargo")
                .join("bin")
                .join("siglog"),
        );
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        anyhow!(
            "siglog binary not found in target/peers/bin, on PATH or in ~/.cargo/bin; \
             install it with `bash bench/install-peers.sh` (crates.io siglog 0.1.0)"
        )
    })
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?.port())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Starts siglog as a child process in `dir` (finding the binary on PATH or in ~/.cargo/bin; a clear error saying `cargo install siglog` if absent), loads it with `clients` concurrent HTTP clients posting `entries` unique entries of `entry_bytes` bytes each, waits for all acknowledgements, stops the child, and returns entries/s.
pub async fn siglog_appends(
    dir: &std::path::Path,
    entries: u64,
    entry_bytes: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    if entry_bytes < 16 {
        bail!("entry_bytes must be at least 16 (8-byte run id + 8-byte counter)");
    }
    if entries == 0 || clients == 0 {
        bail!("entries and clients must be positive");
    }
    let bin = find_siglog()?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let tiles = dir.join("tiles");
    std::fs::create_dir_all(&tiles)?;
    let database_url = match std::env::var("SIGLOG_BENCH_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => format!("sqlite://{}?mode=rwc", dir.join("siglog.db").display()),
    };
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let log_path = dir.join("siglog.log");
    let log = std::fs::File::create(&log_path)?;
    let batch = clients.clamp(1, 1024);

    let child = Command::new(&bin)
        .current_dir(&dir)
        .env("DATABASE_URL", &database_url)
        .env("STORAGE_BACKEND", "fs")
        .env("FS_ROOT", &tiles)
        .env("LOG_ORIGIN", BENCH_ORIGIN)
        .env("LOG_PRIVATE_KEY", BENCH_KEY)
        .env("LISTEN_ADDR", &addr)
        .env("CHECKPOINT_INTERVAL", "1")
        .env("BATCH_MAX_SIZE", batch.to_string())
        .env("BATCH_MAX_AGE_MS", "20")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut guard = ChildGuard { child: Some(child) };

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = format!("http://{addr}");

    // Readiness: /health answers 200 (after migrations); bail if the child exits.
    let ready_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(child) = guard.child.as_mut() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "siglog exited during startup ({status}); last log lines:\n{}",
                    log_tail(&log_path)
                );
            }
        }
        if let Ok(resp) = http.get(format!("{base}/health")).send().await {
            if resp.status().is_success() {
                break;
            }
        }
        if Instant::now() > ready_deadline {
            bail!(
                "siglog did not become ready on {addr} within 60 s; last log lines:\n{}",
                log_tail(&log_path)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let run_id = (nanos ^ (u64::from(std::process::id()) << 32)).to_be_bytes();
    let next = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let pushback = Arc::new(AtomicU64::new(0));
    let url = Arc::new(format!("{base}/add"));

    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (http, url, next, acked, pushback) = (
            http.clone(),
            url.clone(),
            next.clone(),
            acked.clone(),
            pushback.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut body = vec![b'.'; entry_bytes];
            body[..8].copy_from_slice(&run_id);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= entries {
                    return anyhow::Ok(());
                }
                body[8..16].copy_from_slice(&i.to_be_bytes());
                loop {
                    let resp = http
                        .post(url.as_str())
                        .header("content-type", "application/octet-stream")
                        .body(body.clone())
                        .send()
                        .await
                        .with_context(|| format!("POST /add for entry {i}"))?;
                    let status = resp.status();
                    if status == reqwest::StatusCode::TOO_MANY_REQUESTS
                        || status == reqwest::StatusCode::SERVICE_UNAVAILABLE
                    {
                        pushback.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    let text = resp.text().await.unwrap_or_default();
                    // siglog 0.1.0 on SQLite: its sequencing transaction can hit SQLITE_BUSY
                    // against the integration worker; the batch is rolled back, so retry.
                    if status.is_server_error() && text.contains("database is locked") {
                        pushback.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    if !status.is_success() {
                        bail!("siglog rejected entry {i}: {status}: {text}");
                    }
                    text.trim().parse::<u64>().with_context(|| {
                        format!("siglog answered entry {i} with a non-index body {text:?}")
                    })?;
                    acked.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }));
    }
    let mut first_err = None;
    for res in futures::future::join_all(tasks).await {
        let r = res.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let acked = acked.load(Ordering::Relaxed);
    let pushback = pushback.load(Ordering::Relaxed);
    guard.stop();
    if let Some(e) = first_err {
        return Err(e.context(format!(
            "siglog load failed; last log lines:\n{}",
            log_tail(&log_path)
        )));
    }
    if acked != entries {
        bail!("siglog acknowledged {acked} of {entries} entries");
    }
    let rate = acked as f64 / elapsed.max(1e-9);
    tracing::info!(
        entries,
        entry_bytes,
        clients,
        batch,
        pushback,
        elapsed_s = elapsed,
        rate,
        "siglog appends"
    );
    Ok(rate)
}
