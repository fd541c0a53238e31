//! `sectwin log …`: print the log's verifier key, verify a tiled log (URL or
//! directory), check a stopped server's data directory (fsck), and mirror a
//! remote log into a directory.
//!
//! Argument parsing and output only: every check lives in
//! `log_service::{verify, fsck, mirror}`. Exit status: 0 when everything
//! verified, 1 on any verification failure (the reason on stderr, and with
//! `--json` also as `{"ok": false, …}` on stdout); operational errors (a file
//! that cannot be read) go through `anyhow` like every other subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use log_service::fsck::{fsck, FsckError, FsckReport};
use log_service::mirror::{mirror, MirrorError, MirrorOptions, MirrorReport};
use log_service::verify::{
    load_policy, verify_log, AnySource, SavedRelation, VerifyError, VerifyOptions, VerifyReport,
};
use serde_json::{json, Value};

use node::{key_path, vkey_path};

/// `sectwin log …` subcommands.
#[derive(Subcommand)]
pub enum LogCmd {
    /// Print the log's verifier key (DATA/log.vkey, or derived from DATA/log.key).
    Vkey {
        /// Data directory of the log.
        #[arg(long, env = "SECTWIN_DATA")]
        data: PathBuf,
    },
    /// Verify a tiled log completely: checkpoint signature and witness policy,
    /// every tile and entry bundle up to the root, and consistency with a
    /// previously saved checkpoint.
    Verify {
        /// URL prefix (`http://host:port/log`) or a directory in the C2SP layout.
        source: String,
        #[command(flatten)]
        key: KeyArgs,
        /// A c2sp tlog-policy file: witness cosignatures must meet its quorum.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// A checkpoint of this log saved by an earlier run; the log must be
        /// consistent with it. A missing file means "first run".
        #[arg(long)]
        saved: Option<PathBuf>,
        /// After a successful check, write the verified checkpoint to --saved
        /// (never replacing a larger one).
        #[arg(long, requires = "saved")]
        update_saved: bool,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Check a stopped log's data directory: everything `verify` checks, plus
    /// the checkpoint history, the dedup index and the journal. With
    /// `--database`, the log in PostgreSQL (its entries stand in for the
    /// journal; no node may sequence meanwhile).
    Fsck {
        /// Data directory of the log (the server must not be running); with
        /// `--database`, only its key is read.
        #[arg(long, env = "SECTWIN_DATA", required_unless_present = "database")]
        data: Option<PathBuf>,
        /// The PostgreSQL database holding the log (`serve --database`).
        #[arg(long, env = "SECTWIN_DATABASE")]
        database: Option<String>,
        /// The schema of `--database` holding sectwin's tables.
        #[arg(long, default_value = pg_store::SCHEMA_DEFAULT, env = "SECTWIN_DATABASE_SCHEMA")]
        database_schema: String,
        /// The log's verifier key, if not DATA/log.vkey.
        #[arg(long)]
        vkey: Option<String>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Mirror a remote log into a directory (servable and verifiable as
    /// is), verifying every checkpoint, tile and bundle; stops loudly on a
    /// split view.
    Mirror {
        /// URL prefix of the log to mirror (or a directory).
        url: String,
        /// Destination directory (C2SP layout).
        #[arg(long)]
        dest: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
        /// A c2sp tlog-policy file every mirrored checkpoint must satisfy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Keep polling the log (until Ctrl-C or an error).
        #[arg(long)]
        follow: bool,
        /// Pause between polls with --follow, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        interval_ms: u64,
        /// Stop after this many polls with --follow.
        #[arg(long)]
        iterations_max: Option<u64>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// How the log's verifier key is given. Without either, a policy that lists
/// exactly one log supplies it.
#[derive(Args)]
pub struct KeyArgs {
    /// The log's verifier key (`<origin>+<key id>+<base64 key>`).
    #[arg(long, conflicts_with = "vkey_file")]
    vkey: Option<String>,
    /// A file holding the log's verifier key (e.g. DATA/log.vkey).
    #[arg(long)]
    vkey_file: Option<PathBuf>,
}

/// Exit status for a verification failure.
const FAILED: u8 = 1;

/// Runs one `sectwin log` subcommand.
pub async fn run(cmd: LogCmd) -> Result<ExitCode> {
    match cmd {
        LogCmd::Vkey { data } => {
            println!("{}", data_vkey(&data)?);
            Ok(ExitCode::SUCCESS)
        }
        LogCmd::Verify {
            source,
            key,
            policy,
            saved,
            update_saved,
            json,
        } => run_verify(source, key, policy, saved, update_saved, json).await,
        LogCmd::Fsck {
            data,
            database,
            database_schema,
            vkey,
            json,
        } => {
            let vkey = match (vkey, &data) {
                (Some(v), _) => v,
                (None, Some(data)) => data_vkey(data)?,
                (None, None) => anyhow::bail!("name the log's key: --vkey or --data"),
            };
            match (database, data) {
                (Some(url), _) => {
                    let options = pg_store::PgOptions::new(&url).with_schema(&database_schema);
                    let what = format!("{} (schema {database_schema})", pg_store::redacted(&url));
                    let store = pg_store::PgLogStore::open(options)?;
                    let result =
                        log_service::fsck::fsck_store(std::sync::Arc::new(store), &vkey).await;
                    Ok(print_fsck(&what, result, json))
                }
                (None, Some(data)) => {
                    let result = fsck(&data, &vkey).await;
                    Ok(print_fsck(&data.display().to_string(), result, json))
                }
                (None, None) => anyhow::bail!("name the log: --data or --database"),
            }
        }
        LogCmd::Mirror {
            url,
            dest,
            key,
            policy,
            follow,
            interval_ms,
            iterations_max,
            json,
        } => {
            let policy_text = read_optional(policy.as_deref())?;
            let vkey = resolve_vkey(&key, policy_text.as_deref())?;
            let mut options = MirrorOptions::new(vkey.clone());
            options.policy = match &policy_text {
                Some(text) => match load_policy(text, &vkey) {
                    Ok(p) => Some(p),
                    Err(e) => return Ok(verify_failure(&e, json)),
                },
                None => None,
            };
            options.follow = follow;
            options.interval = Duration::from_millis(interval_ms.max(1));
            options.iterations_max = iterations_max;
            let source = AnySource::parse(&url).with_context(|| format!("source {url:?}"))?;
            let result = tokio::select! {
                r = mirror(&source, &dest, &options) => r,
                _ = tokio::signal::ctrl_c() => {
                    // Every step commits atomically, so stopping here is safe.
                    eprintln!("interrupted; the mirror in {} is consistent", dest.display());
                    return Ok(ExitCode::SUCCESS);
                }
            };
            Ok(print_mirror(&dest, result, json))
        }
    }
}

/// The verifier key of the log in `data`: `log.vkey`, else derived from `log.key`.
fn data_vkey(data: &Path) -> Result<String> {
    let vkey_file = vkey_path(data);
    match std::fs::read_to_string(&vkey_file) {
        Ok(v) => return Ok(v.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", vkey_file.display())),
    }
    let key_file = key_path(data);
    let skey = std::fs::read_to_string(&key_file)
        .with_context(|| format!("{} has neither log.vkey nor log.key", data.display()))?;
    let signer = tlog::Signer::from_skey(skey.trim())
        .map_err(|e| anyhow::anyhow!("{}: {e}", key_file.display()))?;
    Ok(signer.vkey())
}

fn read_optional(path: Option<&Path>) -> Result<Option<Vec<u8>>> {
    path.map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

fn resolve_vkey(key: &KeyArgs, policy_text: Option<&[u8]>) -> Result<String> {
    if let Some(v) = &key.vkey {
        return Ok(v.trim().to_owned());
    }
    if let Some(path) = &key.vkey_file {
        let v =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(v.trim().to_owned());
    }
    if let Some(text) = policy_text {
        let policy = tlog::Policy::parse_bytes(text).map_err(|e| anyhow::anyhow!("policy: {e}"))?;
        let mut logs = policy.logs();
        if let (Some(log), None) = (logs.next(), logs.next()) {
            return Ok(log.vkey());
        }
        bail!("the policy does not name exactly one log: give --vkey or --vkey-file");
    }
    bail!("give the log's verifier key with --vkey or --vkey-file (or a --policy naming one log)")
}

async fn run_verify(
    source: String,
    key: KeyArgs,
    policy: Option<PathBuf>,
    saved: Option<PathBuf>,
    update_saved: bool,
    json: bool,
) -> Result<ExitCode> {
    let policy_text = read_optional(policy.as_deref())?;
    let vkey = resolve_vkey(&key, policy_text.as_deref())?;
    let mut options = VerifyOptions::new(vkey.clone());
    if let Some(text) = &policy_text {
        match load_policy(text, &vkey) {
            Ok(p) => options.policy = Some(p),
            Err(e) => return Ok(verify_failure(&e, json)),
        }
    }
    if let Some(path) = &saved {
        match std::fs::read(path) {
            Ok(bytes) => options.saved_checkpoint = Some(bytes),
            // First run: nothing saved yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
        if update_saved {
            options.write_checkpoint = Some(path.clone());
        }
    }
    let source = AnySource::parse(&source).with_context(|| format!("source {source:?}"))?;
    match verify_log(&source, &options).await {
        Ok(report) => {
            if json {
                println!("{}", verify_json(&report));
            } else {
                print_verify(&report, saved.is_some());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(verify_failure(&e, json)),
    }
}

// ---------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------

/// A stable name for each kind of verification failure (for `--json`).
fn verify_error_kind(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Fetch { .. } => "fetch",
        VerifyError::Missing { .. } => "missing",
        VerifyError::Config(_) => "config",
        VerifyError::MalformedCheckpoint(_) => "malformed_checkpoint",
        VerifyError::BadSignature { .. } => "bad_signature",
        VerifyError::UnknownKey { .. } => "unknown_key",
        VerifyError::OriginMismatch { .. } => "origin_mismatch",
        VerifyError::QuorumNotMet { .. } => "quorum_not_met",
        VerifyError::TamperedTile { .. } => "tampered_tile",
        VerifyError::TamperedBundle { .. } => "tampered_bundle",
        VerifyError::RootMismatch { .. } => "root_mismatch",
        VerifyError::Inconsistent { .. } => "inconsistent",
        VerifyError::Saved(_) => "saved_checkpoint",
        VerifyError::Write { .. } => "write",
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Prints a verification failure (stderr, and JSON on stdout) and returns
/// the failure exit code.
fn verify_failure(e: &VerifyError, json: bool) -> ExitCode {
    eprintln!("verification FAILED: {e}");
    if let VerifyError::Inconsistent { saved, fetched, .. } = e {
        eprintln!("--- saved checkpoint ---\n{}", lossy(saved));
        eprintln!("--- fetched checkpoint ---\n{}", lossy(fetched));
    }
    if json {
        let mut v = json!({
            "ok": false,
            "error": verify_error_kind(e),
            "message": e.to_string(),
        });
        if let VerifyError::Inconsistent { saved, fetched, .. } = e {
            v["saved_checkpoint"] = Value::String(lossy(saved));
            v["fetched_checkpoint"] = Value::String(lossy(fetched));
        }
        println!("{v}");
    }
    ExitCode::from(FAILED)
}

fn relation_name(r: SavedRelation) -> &'static str {
    match r {
        SavedRelation::Same => "same",
        SavedRelation::Extends => "extends",
        SavedRelation::Behind => "behind",
    }
}

fn verify_json(r: &VerifyReport) -> Value {
    json!({
        "ok": true,
        "source": r.source,
        "origin": r.origin,
        "size": r.size.get(),
        "root": r.root.to_base64(),
        "tiles": r.counts.tiles,
        "bundles": r.counts.bundles,
        "entries": r.counts.entries,
        "quorum_checked": r.quorum_checked,
        "cosigners": r.cosigners.iter()
            .map(|(name, ts)| json!({"name": name, "timestamp": ts}))
            .collect::<Vec<_>>(),
        "saved": r.saved.map(|(size, rel)| json!({"size": size.get(), "relation": relation_name(rel)})),
        "checkpoint_written": r.checkpoint_written.as_ref().map(|p| p.display().to_string()),
    })
}

fn print_verify(r: &VerifyReport, show_saved: bool) {
    println!("verified {} at {}", r.origin, r.source);
    println!("  size       {}", r.size);
    println!("  root       {}", r.root);
    println!(
        "  recomputed {} hash tiles, {} entry bundles, {} entries",
        r.counts.tiles, r.counts.bundles, r.counts.entries
    );
    if r.quorum_checked {
        let names: Vec<&str> = r.cosigners.iter().map(|(n, _)| n.as_str()).collect();
        println!("  witnesses  quorum met; cosigned by: {}", names.join(", "));
    } else {
        println!("  witnesses  not checked (no --policy)");
    }
    match r.saved {
        None if !show_saved => {}
        None => println!("  saved      none (first run)"),
        Some((size, SavedRelation::Same)) => println!("  saved      same tree as the saved checkpoint ({size})"),
        Some((size, SavedRelation::Extends)) => {
            println!("  saved      consistent: extends the saved checkpoint of size {size}")
        }
        Some((size, SavedRelation::Behind)) => println!(
            "  saved      the source is BEHIND the saved checkpoint of size {size} (stale, not forked)"
        ),
    }
    if let Some(p) = &r.checkpoint_written {
        println!("  wrote      {}", p.display());
    }
}

fn print_fsck(data: &str, result: Result<FsckReport, FsckError>, json: bool) -> ExitCode {
    match result {
        Ok(r) => {
            if json {
                let mut v = verify_json(&r.verify);
                v["durable_size"] = json!(r.durable_size);
                v["synced_size"] = json!(r.synced_size);
                v["checkpoints_checked"] = json!(r.checkpoints_checked);
                v["dedup_keys_checked"] = json!(r.dedup_keys_checked);
                v["dedup_keys_missing_above_synced"] = json!(r.dedup_keys_missing_above_synced);
                v["journal_entries_replayed"] = json!(r.journal_entries_replayed);
                v["journal_entries_matched"] = json!(r.journal_entries_matched);
                v["journal_entries_unintegrated"] = json!(r.journal_entries_unintegrated);
                println!("{v}");
            } else {
                print_verify(&r.verify, false);
                println!("fsck of {data}: OK");
                println!(
                    "  durable    {} entries (synced {})",
                    r.durable_size, r.synced_size
                );
                println!(
                    "  history    {} checkpoints verified and consistent",
                    r.checkpoints_checked
                );
                println!(
                    "  dedup      {} keys checked, {} missing above the synced size (recovery re-adds them)",
                    r.dedup_keys_checked, r.dedup_keys_missing_above_synced
                );
                println!(
                    "  journal    {} entries replayed, {} matched their bundles, {} not yet integrated",
                    r.journal_entries_replayed, r.journal_entries_matched, r.journal_entries_unintegrated
                );
            }
            ExitCode::SUCCESS
        }
        Err(FsckError::Verify(e)) => verify_failure(&e, json),
        Err(e) => {
            eprintln!("fsck of {data} FAILED: {e}");
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "error": "fsck", "message": e.to_string()})
                );
            }
            ExitCode::from(FAILED)
        }
    }
}

fn mirror_json(r: &MirrorReport) -> Value {
    json!({
        "ok": true,
        "iterations": r.iterations,
        "updates": r.updates,
        "remote_behind": r.remote_behind,
        "fetch_failures": r.fetch_failures,
        "size": r.size.get(),
        "root": r.root.map(|h| h.to_base64()),
        "tiles_fetched": r.tiles_fetched,
        "bundles_fetched": r.bundles_fetched,
    })
}

fn print_mirror(dest: &Path, result: Result<MirrorReport, MirrorError>, json: bool) -> ExitCode {
    match result {
        Ok(r) => {
            if json {
                println!("{}", mirror_json(&r));
            } else {
                println!("mirror in {}: size {}", dest.display(), r.size);
                if let Some(root) = r.root {
                    println!("  root       {root}");
                }
                println!(
                    "  polls      {} ({} advanced, {} behind, {} failed fetches)",
                    r.iterations, r.updates, r.remote_behind, r.fetch_failures
                );
                println!(
                    "  fetched    {} hash tiles, {} entry bundles (all verified)",
                    r.tiles_fetched, r.bundles_fetched
                );
            }
            ExitCode::SUCCESS
        }
        Err(MirrorError::Verify(e)) => verify_failure(&e, json),
        Err(MirrorError::SplitView {
            ours,
            theirs,
            evidence,
            reason,
        }) => {
            eprintln!("!!! SPLIT VIEW DETECTED !!!");
            eprintln!("the log served a checkpoint that is inconsistent with the one this mirror holds: {reason}");
            eprintln!("--- ours (kept, still served) ---\n{}", lossy(&ours));
            eprintln!("--- theirs (refused) ---\n{}", lossy(&theirs));
            eprintln!("evidence written to {}", evidence.display());
            if json {
                println!(
                    "{}",
                    json!({
                        "ok": false,
                        "error": "split_view",
                        "message": reason,
                        "ours": lossy(&ours),
                        "theirs": lossy(&theirs),
                        "evidence": evidence.display().to_string(),
                    })
                );
            }
            ExitCode::from(FAILED)
        }
        Err(e) => {
            eprintln!("mirror FAILED: {e}");
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "error": "mirror", "message": e.to_string()})
                );
            }
            ExitCode::from(FAILED)
        }
    }
}
