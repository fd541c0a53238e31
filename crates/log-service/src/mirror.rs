//! [`mirror`]: follows a remote tiled log into a local directory in the C2SP
//! layout, so that the mirror is itself servable (by any static file server)
//! and verifiable (by [`crate::verify::verify_log`]).
//!
//! Each step fetches the remote checkpoint, verifies the log signature, the
//! origin and the witness policy, downloads only the tiles and bundles that
//! are new since the mirror's own checkpoint into a staging directory,
//! verifies them against the new root (top-down, as `verify_log` does, but
//! starting at the first changed level-0 tile), proves the new tree
//! consistent with the mirror's checkpoint, and only then moves the files in
//! place and replaces the checkpoint last (temporary file + rename). A crash
//! at any point leaves the previous checkpoint served with all its tiles.
//!
//! When the remote checkpoint is not consistent with the mirror's, the mirror
//! STOPS: it writes both checkpoints as evidence under
//! `split-view-<unix time>/{ours,theirs}` in the destination and returns
//! [`MirrorError::SplitView`]. It never overwrites a checkpoint it holds with
//! one that does not extend it.
//!
//! Deliberately absent: several mirrors writing one directory (not
//! supported), pruning of superseded partial tiles (C2SP allows keeping
//! them), and retrying forever on a remote that serves bad data (any
//! verification failure stops the loop; only fetch failures are retried in
//! follow mode).

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use tlog::{Checkpoint, Hash, TreeSize};

use crate::verify::{
    check_consistency, fetch_bundle, fetch_tile, log_verifier, new_bundles, new_tiles,
    open_checkpoint, verify_tree, write_atomic, DirSource, SavedRelation, TileSource, VerifyError,
    CHECKPOINT_BYTES_MAX, FETCH_CONCURRENCY_DEFAULT,
};

/// Name of the staging directory inside the destination.
const STAGING_DIR: &str = ".mirror-staging";

/// How to mirror.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// The log's verifier key; the remote checkpoint's origin must be its name.
    pub log_vkey: String,
    /// Witness policy every mirrored checkpoint must satisfy.
    pub policy: Option<tlog::Policy>,
    /// Keep polling the remote after the first step.
    pub follow: bool,
    /// Pause between polls in follow mode.
    pub interval: Duration,
    /// Stop after this many polls (follow mode); `None`: until an error.
    pub iterations_max: Option<u64>,
    /// Fetches in flight at once.
    pub fetch_concurrency: usize,
}

impl MirrorOptions {
    /// One step, no policy, default concurrency.
    pub fn new(log_vkey: impl Into<String>) -> MirrorOptions {
        MirrorOptions {
            log_vkey: log_vkey.into(),
            policy: None,
            follow: false,
            interval: Duration::from_secs(10),
            iterations_max: None,
            fetch_concurrency: FETCH_CONCURRENCY_DEFAULT,
        }
    }
}

/// What a mirror run did.
#[derive(Debug, Clone, Default)]
pub struct MirrorReport {
    /// Polls of the remote.
    pub iterations: u64,
    /// Polls that advanced the mirror to a larger tree.
    pub updates: u64,
    /// Polls where the remote served a smaller tree that ours provably extends.
    pub remote_behind: u64,
    /// Polls that failed to fetch and were retried (follow mode only).
    pub fetch_failures: u64,
    /// The mirror's tree size at the end.
    pub size: TreeSize,
    /// The mirror's root at the end (`None` if it has no checkpoint yet).
    pub root: Option<Hash>,
    /// Hash tiles downloaded and verified.
    pub tiles_fetched: u64,
    /// Entry bundles downloaded and verified.
    pub bundles_fetched: u64,
}

/// Why mirroring stopped.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The remote failed verification (signature, policy, tiles, fetch).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The remote's checkpoint is inconsistent with the one the mirror holds:
    /// the log showed us two different trees.
    #[error(
        "SPLIT VIEW: the remote checkpoint is inconsistent with the mirror's ({reason}); evidence in {}",
        evidence.display()
    )]
    SplitView {
        /// The mirror's checkpoint note.
        ours: Vec<u8>,
        /// The remote's checkpoint note.
        theirs: Vec<u8>,
        /// Directory holding `ours` and `theirs`.
        evidence: PathBuf,
        /// Why they are inconsistent.
        reason: String,
    },
    /// The mirror's own checkpoint does not verify with the log key.
    #[error("the mirror's checkpoint in {path} does not verify: {reason}")]
    Local {
        /// The checkpoint file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> MirrorError {
    let context = context.into();
    move |source| MirrorError::Io { context, source }
}

/// Mirrors `source` into `dest` (created if missing). With
/// `options.follow`, keeps polling every `options.interval` until an error or
/// `options.iterations_max` polls. See the module documentation.
pub async fn mirror<S: TileSource>(
    source: &S,
    dest: &Path,
    options: &MirrorOptions,
) -> Result<MirrorReport, MirrorError> {
    std::fs::create_dir_all(dest).map_err(io(format!("create {}", dest.display())))?;
    let mut report = MirrorReport::default();
    loop {
        report.iterations += 1;
        match step(source, dest, options, &mut report).await {
            Ok(()) => {}
            Err(MirrorError::Verify(
                e @ (VerifyError::Fetch { .. } | VerifyError::Missing { .. }),
            )) if options.follow => {
                // A network blip or a remote caught mid-upload: try again
                // next time. Anything that fails verification stops us.
                report.fetch_failures += 1;
                tracing::warn!(error = %e, "mirror poll failed; retrying");
            }
            Err(e) => return Err(e),
        }
        let done = !options.follow
            || options
                .iterations_max
                .is_some_and(|max| report.iterations >= max);
        if done {
            return Ok(report);
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// Reads and verifies the mirror's own checkpoint.
fn read_ours(
    dest: &Path,
    verifier: &tlog::Verifier,
) -> Result<Option<(Checkpoint, Vec<u8>)>, MirrorError> {
    let path = dest.join("checkpoint");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(format!("read {}", path.display()))(e)),
    };
    if bytes.len() > CHECKPOINT_BYTES_MAX {
        return Err(MirrorError::Local {
            path,
            reason: "too large".into(),
        });
    }
    let (cp, _) = tlog::open_checkpoint(&bytes, verifier).map_err(|e| MirrorError::Local {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(Some((cp, bytes)))
}

/// One poll: fetch, verify, stage, prove, commit.
async fn step<S: TileSource>(
    source: &S,
    dest: &Path,
    options: &MirrorOptions,
    report: &mut MirrorReport,
) -> Result<(), MirrorError> {
    let verifier = log_verifier(&options.log_vkey, options.policy.as_ref())?;
    let concurrency = options.fetch_concurrency.max(1);
    let ours = read_ours(dest, &verifier)?;
    if let Some((cp, _)) = &ours {
        report.size = cp.size();
        report.root = Some(cp.root());
    }
    let theirs_bytes = source
        .checkpoint()
        .await
        .map_err(|source| VerifyError::Fetch {
            path: "checkpoint".into(),
            source,
        })?
        .ok_or_else(|| VerifyError::Missing {
            path: "checkpoint".into(),
        })?;
    let theirs = open_checkpoint(&theirs_bytes, &verifier, options.policy.as_ref())?.checkpoint;

    let old_size = match &ours {
        None => TreeSize::new(0),
        Some((ours_cp, ours_bytes)) if theirs.size() <= ours_cp.size() => {
            // Nothing new. Still prove the remote has not forked: from our
            // own (verified) tiles when it is behind us.
            let ours_dir = DirSource::new(dest);
            match check_consistency(
                &ours_dir,
                (ours_cp, ours_bytes),
                (&theirs, &theirs_bytes),
                concurrency,
            )
            .await
            {
                Ok(SavedRelation::Behind) => report.remote_behind += 1,
                Ok(_) => {}
                Err(VerifyError::Inconsistent { reason, .. }) => {
                    return Err(split_view(dest, ours_bytes, &theirs_bytes, reason))
                }
                Err(e) => return Err(e.into()),
            }
            return Ok(());
        }
        Some((ours_cp, _)) => ours_cp.size(),
    };

    // Stage every new tile and bundle.
    let staging = dest.join(STAGING_DIR);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("clear the staging directory"))?;
    }
    std::fs::create_dir_all(&staging).map_err(io("create the staging directory"))?;
    let new_size = theirs.size();
    let mut staged: Vec<String> = Vec::new();
    let tiles = new_tiles(old_size, new_size);
    let mut tile_stream = futures::stream::iter(tiles)
        .map(|id| async move { Ok::<_, VerifyError>((id.path(), fetch_tile(source, id).await?)) })
        .buffer_unordered(concurrency);
    while let Some(item) = tile_stream.next().await {
        let (path, data) = item?;
        stage(&staging, &path, &data)?;
        staged.push(path);
        report.tiles_fetched += 1;
    }
    let bundles = new_bundles(old_size, new_size);
    let mut bundle_stream = futures::stream::iter(bundles)
        .map(|id| async move {
            let (_, entries) = fetch_bundle(source, id).await?;
            // Re-encoding is the identity on a valid bundle, and cuts a full
            // bundle served in place of a missing partial one to its width.
            let data = tlog::encode_bundle(entries.iter().map(Vec::as_slice)).map_err(|e| {
                VerifyError::TamperedBundle {
                    path: id.path(),
                    reason: e.to_string(),
                }
            })?;
            Ok::<_, VerifyError>((id.path(), data))
        })
        .buffer_unordered(concurrency);
    while let Some(item) = bundle_stream.next().await {
        let (path, data) = item?;
        stage(&staging, &path, &data)?;
        staged.push(path);
        report.bundles_fetched += 1;
    }

    // Verify the new tree as it would be served after the commit.
    let layered = DirSource::layered(staging.clone(), dest.to_path_buf());
    let first_tile = old_size.get() / 256;
    verify_tree(&layered, new_size, theirs.root(), first_tile, concurrency).await?;
    if let Some((ours_cp, ours_bytes)) = &ours {
        // The proof comes from the remote's tiles alone (verified against
        // its root as they are read), not from our copies: a remote that
        // rewrote an old full tile must fail as a split view here, not as a
        // "tampered" tile of ours.
        match check_consistency(
            source,
            (ours_cp, ours_bytes),
            (&theirs, &theirs_bytes),
            concurrency,
        )
        .await
        {
            Ok(_) => {}
            Err(VerifyError::Inconsistent { reason, .. }) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(split_view(dest, ours_bytes, &theirs_bytes, reason));
            }
            Err(e) => return Err(e.into()),
        }
    }

    // Commit: files first, the checkpoint last.
    for path in &staged {
        let to = dest.join(path);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("create dir for {path}")))?;
        }
        std::fs::rename(staging.join(path), &to).map_err(io(format!("move {path} in place")))?;
    }
    write_atomic(&dest.join("checkpoint"), &theirs_bytes).map_err(io("write the checkpoint"))?;
    std::fs::remove_dir_all(&staging).map_err(io("remove the staging directory"))?;
    report.updates += 1;
    report.size = new_size;
    report.root = Some(theirs.root());
    tracing::info!(size = new_size.get(), "mirror advanced");
    Ok(())
}

/// Writes one staged file, fsync'd so that once the checkpoint that needs it
/// is renamed in place, the file survives a crash too.
fn stage(staging: &Path, relative: &str, data: &[u8]) -> Result<(), MirrorError> {
    use std::io::Write as _;
    let path = staging.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("stage {relative}")))?;
    }
    std::fs::File::create(&path)
        .and_then(|mut f| {
            f.write_all(data)?;
            f.sync_all()
        })
        .map_err(io(format!("stage {relative}")))
}

/// Writes the evidence of a split view and builds the error.
fn split_view(dest: &Path, ours: &[u8], theirs: &[u8], reason: String) -> MirrorError {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut evidence = dest.join(format!("split-view-{now}"));
    let mut n = 1;
    while evidence.exists() {
        evidence = dest.join(format!("split-view-{now}-{n}"));
        n += 1;
    }
    let written = std::fs::create_dir_all(&evidence)
        .and_then(|()| write_atomic(&evidence.join("ours"), ours))
        .and_then(|()| write_atomic(&evidence.join("theirs"), theirs));
    if let Err(e) = written {
        tracing::error!(error = %e, dir = %evidence.display(), "could not write split-view evidence");
    }
    tracing::error!(
        evidence = %evidence.display(),
        %reason,
        "SPLIT VIEW: the log served a checkpoint inconsistent with the mirror's; stopping"
    );
    MirrorError::SplitView {
        ours: ours.to_vec(),
        theirs: theirs.to_vec(),
        evidence,
        reason,
    }
}
