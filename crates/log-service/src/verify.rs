//! A client-side verifier of a C2SP tiled log (tlog-tiles), reading from an
//! HTTP(S) URL prefix or a local directory in the same layout.
//!
//! [`verify_log`] trusts nothing it reads: it checks the checkpoint's log
//! signature (and origin) against a given verifier key, witness cosignatures
//! against a c2sp tlog-policy quorum, then recomputes the tree from *every*
//! hash tile and entry bundle of the checkpoint's size (each entry hashes to
//! its level-0 tile hash, each full tile hashes to its entry one tile level
//! up, the partial tiles fold to the checkpoint's root), and finally proves
//! consistency with a previously saved checkpoint from the verified tiles.
//! Tiles are checked top-down, so a mismatch names the tile (or bundle) that
//! is wrong, not its parent.
//!
//! Memory is bounded regardless of log size: one verified tile per tile level
//! plus a bounded window of in-flight fetches ([`VerifyOptions::fetch_concurrency`]).
//!
//! Deliberately absent: caching across runs (see `mirror` for a local copy
//! that is verified incrementally), pruned logs (every tile must be
//! available), and any trust in TLS (the signature is what is trusted; TLS
//! support depends on the `reqwest` features the workspace enables).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use parking_lot::Mutex;
use tlog::tile::{partial_tiles_for_size, BUNDLE_BYTES_MAX, TILE_BYTES_MAX};
use tlog::{
    empty_root, leaf_hash, node_hash, verify_cosignature, BundleId, Checkpoint, CheckpointError,
    Hash, Note, NoteError, TileEdge, TileError, TileHashReader, TileId, TileReader, TreeSize,
    Verifier,
};

/// Largest checkpoint accepted from a source, in bytes: the signed-note limit.
pub const CHECKPOINT_BYTES_MAX: usize = tlog::note::NOTE_BYTES_MAX;

/// Default number of tile/bundle fetches in flight: enough to hide HTTP
/// latency, small enough that the worst case (every bundle at its 16 MiB
/// maximum) stays around 128 MiB.
pub const FETCH_CONCURRENCY_DEFAULT: usize = 8;

/// Per-request timeout for HTTP sources. A tile is at most 8 KiB and a bundle
/// at most 16 MiB; 60 s covers the latter on a slow link.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Rounds of "fetch what the proof needs" when building a consistency proof
/// from a remote source. One round suffices in practice (the first pass
/// records every tile); the bound stops a misbehaving source from looping us.
const PREFETCH_ROUNDS_MAX: usize = 8;

const TILE_HASHES: u64 = 256;

// ---------------------------------------------------------------------------
// Sources.
// ---------------------------------------------------------------------------

/// Why a source could not deliver a resource (absence is `Ok(None)`, not an error).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading a local file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP request failed (connection, TLS, timeout, body).
    #[error("GET {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with a status other than 200 or 404.
    #[error("GET {url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The resource is larger than any valid one can be.
    #[error("{what} is larger than {bytes_max} bytes")]
    TooLarge {
        /// The resource.
        what: String,
        /// The limit.
        bytes_max: usize,
    },
    /// Reading a log's store failed.
    #[error("reading the store: {0}")]
    Store(String),
    /// The source string is neither an http(s) URL nor a usable directory.
    #[error("bad source {0:?}")]
    BadSource(String),
}

/// Where a tiled log's static resources are read from. Every method answers
/// `Ok(None)` for an absent resource and never interprets the bytes.
pub trait TileSource: Send + Sync {
    /// `<prefix>/checkpoint`.
    fn checkpoint(&self) -> impl Future<Output = Result<Option<Vec<u8>>, SourceError>> + Send;
    /// `<prefix>/tile/<L>/<N>[.p/<W>]`, exactly as named (no fallback to a wider tile).
    fn tile(&self, id: TileId)
        -> impl Future<Output = Result<Option<Vec<u8>>, SourceError>> + Send;
    /// `<prefix>/tile/entries/<N>[.p/<W>]`, exactly as named.
    fn bundle(
        &self,
        id: BundleId,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, SourceError>> + Send;
    /// A human-readable name for reports.
    fn describe(&self) -> String;
}

/// A log in the C2SP layout in a local directory (e.g. `DATA/log/` or a mirror).
///
/// Several roots may be layered: a path is read from the first root that has
/// it (the mirror stages new tiles in front of its current files this way).
#[derive(Debug, Clone)]
pub struct DirSource {
    roots: Vec<PathBuf>,
}

impl DirSource {
    /// A source reading `dir/checkpoint`, `dir/tile/...`.
    pub fn new(dir: impl Into<PathBuf>) -> DirSource {
        DirSource {
            roots: vec![dir.into()],
        }
    }

    /// A layered source: `front` shadows `back`.
    pub(crate) fn layered(front: PathBuf, back: PathBuf) -> DirSource {
        DirSource {
            roots: vec![front, back],
        }
    }

    async fn read(&self, relative: &str, bytes_max: usize) -> Result<Option<Vec<u8>>, SourceError> {
        for root in &self.roots {
            let path = root.join(relative);
            let io = |source| SourceError::Io {
                path: path.clone(),
                source,
            };
            let len = match tokio::fs::metadata(&path).await {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            if len > bytes_max as u64 {
                return Err(SourceError::TooLarge {
                    what: path.display().to_string(),
                    bytes_max,
                });
            }
            match tokio::fs::read(&path).await {
                Ok(data) if data.len() <= bytes_max => return Ok(Some(data)),
                Ok(_) => {
                    return Err(SourceError::TooLarge {
                        what: path.display().to_string(),
                        bytes_max,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            }
        }
        Ok(None)
    }
}

impl TileSource for DirSource {
    async fn checkpoint(&self) -> Result<Option<Vec<u8>>, SourceError> {
        self.read("checkpoint", CHECKPOINT_BYTES_MAX).await
    }
    async fn tile(&self, id: TileId) -> Result<Option<Vec<u8>>, SourceError> {
        self.read(&id.path(), TILE_BYTES_MAX).await
    }
    async fn bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, SourceError> {
        self.read(&id.path(), BUNDLE_BYTES_MAX).await
    }
    fn describe(&self) -> String {
        self.roots
            .first()
            .map(|r| r.display().to_string())
            .unwrap_or_default()
    }
}

/// A log served over HTTP(S) at a URL prefix (c2sp tlog-tiles "APIs").
#[derive(Debug, Clone)]
pub struct HttpSource {
    prefix: String,
    client: reqwest::Client,
}

impl HttpSource {
    /// A source for `prefix` (e.g. `http://127.0.0.1:8080/log`), with a
    /// per-request timeout of [`HTTP_TIMEOUT`].
    pub fn new(prefix: &str) -> Result<HttpSource, SourceError> {
        if !(prefix.starts_with("http://") || prefix.starts_with("https://")) {
            return Err(SourceError::BadSource(prefix.to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .user_agent(concat!("sectwin-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::Http {
                url: prefix.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(HttpSource {
            prefix: prefix.trim_end_matches('/').to_owned(),
            client,
        })
    }

    async fn get(&self, relative: &str, bytes_max: usize) -> Result<Option<Vec<u8>>, SourceError> {
        let url = format!("{}/{relative}", self.prefix);
        let http = |e: reqwest::Error| SourceError::Http {
            url: url.clone(),
            reason: e.to_string(),
        };
        let mut response = self.client.get(&url).send().await.map_err(http)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(SourceError::Status {
                url,
                status: status.as_u16(),
            });
        }
        let too_large = || SourceError::TooLarge {
            what: url.clone(),
            bytes_max,
        };
        if response
            .content_length()
            .is_some_and(|n| n > bytes_max as u64)
        {
            return Err(too_large());
        }
        // Read in chunks so that a lying or absent Content-Length cannot make
        // us buffer more than the limit.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > bytes_max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }
}

impl TileSource for HttpSource {
    async fn checkpoint(&self) -> Result<Option<Vec<u8>>, SourceError> {
        self.get("checkpoint", CHECKPOINT_BYTES_MAX).await
    }
    async fn tile(&self, id: TileId) -> Result<Option<Vec<u8>>, SourceError> {
        self.get(&id.path(), TILE_BYTES_MAX).await
    }
    async fn bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, SourceError> {
        self.get(&id.path(), BUNDLE_BYTES_MAX).await
    }
    fn describe(&self) -> String {
        self.prefix.clone()
    }
}

/// Either kind of source, chosen from a command-line string.
#[derive(Debug, Clone)]
pub enum AnySource {
    /// An `http://` or `https://` prefix.
    Http(HttpSource),
    /// A local directory.
    Dir(DirSource),
}

impl AnySource {
    /// `http://…` / `https://…` is a URL prefix; anything else a directory.
    pub fn parse(s: &str) -> Result<AnySource, SourceError> {
        if s.starts_with("http://") || s.starts_with("https://") {
            Ok(AnySource::Http(HttpSource::new(s)?))
        } else if s.is_empty() {
            Err(SourceError::BadSource(s.to_owned()))
        } else {
            Ok(AnySource::Dir(DirSource::new(s)))
        }
    }
}

impl TileSource for AnySource {
    async fn checkpoint(&self) -> Result<Option<Vec<u8>>, SourceError> {
        match self {
            AnySource::Http(s) => s.checkpoint().await,
            AnySource::Dir(s) => s.checkpoint().await,
        }
    }
    async fn tile(&self, id: TileId) -> Result<Option<Vec<u8>>, SourceError> {
        match self {
            AnySource::Http(s) => s.tile(id).await,
            AnySource::Dir(s) => s.tile(id).await,
        }
    }
    async fn bundle(&self, id: BundleId) -> Result<Option<Vec<u8>>, SourceError> {
        match self {
            AnySource::Http(s) => s.bundle(id).await,
            AnySource::Dir(s) => s.bundle(id).await,
        }
    }
    fn describe(&self) -> String {
        match self {
            AnySource::Http(s) => s.describe(),
            AnySource::Dir(s) => s.describe(),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors, options, report.
// ---------------------------------------------------------------------------

/// Why a log failed verification. Each rejection has its own variant so that
/// callers (and tests) can tell a forged signature from a tampered tile from
/// a fork.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A resource could not be fetched (network, I/O, oversized).
    #[error("fetching {path}: {source}")]
    Fetch {
        /// The resource path relative to the log prefix.
        path: String,
        /// The underlying error.
        #[source]
        source: SourceError,
    },
    /// A resource the checkpoint requires is absent.
    #[error("{path} is missing from the source")]
    Missing {
        /// The resource path relative to the log prefix.
        path: String,
    },
    /// A configured key or policy is unusable (not the log's fault).
    #[error("bad configuration: {0}")]
    Config(String),
    /// The checkpoint is not a well-formed signed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// A signature line from a known key (the log's or a policy witness's)
    /// does not verify: the note is forged or corrupted.
    #[error("invalid signature by {key} on the checkpoint")]
    BadSignature {
        /// Name of the key whose signature failed.
        key: String,
    },
    /// The checkpoint carries no signature by the log key (unknown key).
    #[error("the checkpoint has no signature by the log key {key}")]
    UnknownKey {
        /// The log key name we looked for.
        key: String,
    },
    /// The checkpoint's origin is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log's origin {expected:?}")]
    OriginMismatch {
        /// The origin line of the checkpoint.
        origin: String,
        /// The origin the log key names.
        expected: String,
    },
    /// Too few policy witnesses cosigned the checkpoint.
    #[error("witness quorum not met; valid cosignatures from: [{}]", cosigners.join(", "))]
    QuorumNotMet {
        /// Policy names of the witnesses whose cosignatures verified.
        cosigners: Vec<String>,
    },
    /// A hash tile does not match the (already verified) tile above it, or
    /// has the wrong length.
    #[error("tampered tile {path}: {reason}")]
    TamperedTile {
        /// The tile's path.
        path: String,
        /// What does not match.
        reason: String,
    },
    /// An entry bundle does not match its verified level-0 tile.
    #[error("tampered entry bundle {path}: {reason}")]
    TamperedBundle {
        /// The bundle's path.
        path: String,
        /// What does not match.
        reason: String,
    },
    /// The right-edge (partial) tiles do not hash to the checkpoint's root.
    #[error("root mismatch at size {size}: the tiles do not hash to the checkpoint's root {checkpoint}{}",
        computed.map(|c| format!(" (they give {c})")).unwrap_or_default())]
    RootMismatch {
        /// Tree size.
        size: u64,
        /// Root in the signed checkpoint.
        checkpoint: Hash,
        /// Root computed from the tiles, when known.
        computed: Option<Hash>,
    },
    /// The fetched checkpoint and the saved one cannot both be honest views
    /// of one append-only log.
    #[error(
        "checkpoint of size {fetched_size} is INCONSISTENT with the saved checkpoint of size {saved_size}: {reason}"
    )]
    Inconsistent {
        /// Size of the saved checkpoint.
        saved_size: u64,
        /// Size of the fetched checkpoint.
        fetched_size: u64,
        /// The saved checkpoint note, as read.
        saved: Vec<u8>,
        /// The fetched checkpoint note, as read.
        fetched: Vec<u8>,
        /// Why they are inconsistent.
        reason: String,
    },
    /// The saved checkpoint cannot be used (unreadable, not signed by the log).
    #[error("saved checkpoint: {0}")]
    Saved(String),
    /// Writing the verified checkpoint failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`verify_log`] checks beyond the tiles.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The log's verifier key (`<origin>+<id>+<key>`, type 0x01). The
    /// checkpoint's origin must equal its name.
    pub log_vkey: String,
    /// A c2sp tlog-policy: its witnesses' cosignatures are verified and its
    /// quorum must be met. `None`: cosignatures are not looked at.
    pub policy: Option<tlog::Policy>,
    /// A checkpoint of this log verified earlier (note bytes). The fetched
    /// checkpoint must be consistent with it.
    pub saved_checkpoint: Option<Vec<u8>>,
    /// Where to write the fetched checkpoint after everything verified
    /// (atomically). Not written if the saved checkpoint is larger.
    pub write_checkpoint: Option<PathBuf>,
    /// Fetches in flight at once (at least 1).
    pub fetch_concurrency: usize,
}

impl VerifyOptions {
    /// Options that only check the log key and the tiles.
    pub fn new(log_vkey: impl Into<String>) -> VerifyOptions {
        VerifyOptions {
            log_vkey: log_vkey.into(),
            policy: None,
            saved_checkpoint: None,
            write_checkpoint: None,
            fetch_concurrency: FETCH_CONCURRENCY_DEFAULT,
        }
    }
}

/// How the fetched checkpoint relates to the saved one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedRelation {
    /// Same size, same root.
    Same,
    /// The fetched tree extends the saved one (consistency proof verified).
    Extends,
    /// The source serves an older tree that the saved one extends (proved
    /// from the source's tiles of the saved size): stale, not forked.
    Behind,
}

/// Counts from a tree check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeCounts {
    /// Hash tiles verified (full and partial, all levels).
    pub tiles: u64,
    /// Entry bundles verified.
    pub bundles: u64,
    /// Entries hashed and matched.
    pub entries: u64,
}

/// What [`verify_log`] established.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The source, as described by [`TileSource::describe`].
    pub source: String,
    /// The log origin.
    pub origin: String,
    /// Verified tree size.
    pub size: TreeSize,
    /// Verified root hash.
    pub root: Hash,
    /// The checkpoint note as fetched.
    pub checkpoint: Vec<u8>,
    /// Policy name and cosignature timestamp (seconds since the Epoch) of
    /// each witness whose cosignature verified (empty without a policy).
    pub cosigners: Vec<(String, u64)>,
    /// Whether a policy quorum was checked (and met).
    pub quorum_checked: bool,
    /// What was recomputed.
    pub counts: TreeCounts,
    /// The relation to the saved checkpoint, if one was given.
    pub saved: Option<(TreeSize, SavedRelation)>,
    /// Where the verified checkpoint was written, if it was.
    pub checkpoint_written: Option<PathBuf>,
}

// ---------------------------------------------------------------------------
// verify_log.
// ---------------------------------------------------------------------------

/// Verifies the log at `source` completely. See the module documentation.
pub async fn verify_log<S: TileSource>(
    source: &S,
    options: &VerifyOptions,
) -> Result<VerifyReport, VerifyError> {
    let verifier = log_verifier(&options.log_vkey, options.policy.as_ref())?;
    let note_bytes = source
        .checkpoint()
        .await
        .map_err(|source| VerifyError::Fetch {
            path: "checkpoint".into(),
            source,
        })?
        .ok_or_else(|| VerifyError::Missing {
            path: "checkpoint".into(),
        })?;
    let opened = open_checkpoint(&note_bytes, &verifier, options.policy.as_ref())?;
    let size = opened.checkpoint.size();
    let root = opened.checkpoint.root();

    let concurrency = options.fetch_concurrency.max(1);
    let counts = verify_tree(source, size, root, 0, concurrency).await?;

    let saved = match &options.saved_checkpoint {
        None => None,
        Some(saved_bytes) => {
            let saved = tlog::open_checkpoint(saved_bytes, &verifier)
                .map_err(|e| VerifyError::Saved(e.to_string()))?
                .0;
            let relation = check_consistency(
                source,
                (&saved, saved_bytes),
                (&opened.checkpoint, &note_bytes),
                concurrency,
            )
            .await?;
            Some((saved.size(), relation))
        }
    };

    let mut checkpoint_written = None;
    if let Some(path) = &options.write_checkpoint {
        if saved.map(|(_, r)| r) != Some(SavedRelation::Behind) {
            write_atomic(path, &note_bytes).map_err(|source| VerifyError::Write {
                path: path.clone(),
                source,
            })?;
            checkpoint_written = Some(path.clone());
        }
    }

    Ok(VerifyReport {
        source: source.describe(),
        origin: opened.checkpoint.origin().to_owned(),
        size,
        root,
        checkpoint: note_bytes,
        cosigners: opened.cosigners,
        quorum_checked: options.policy.is_some(),
        counts,
        saved,
        checkpoint_written,
    })
}

/// A checkpoint whose log signature, origin and (if asked) witness quorum verified.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) cosigners: Vec<(String, u64)>,
}

/// Parses the log verifier key; with a policy that lists logs, the key must
/// be one of them (c2sp tlog-policy "Defining a log").
pub(crate) fn log_verifier(
    vkey: &str,
    policy: Option<&tlog::Policy>,
) -> Result<Verifier, VerifyError> {
    let verifier = Verifier::from_vkey(vkey.trim())
        .map_err(|e| VerifyError::Config(format!("log key {vkey:?}: {e}")))?;
    if let Some(policy) = policy {
        policy_accepts_log(policy, &verifier)?;
    }
    Ok(verifier)
}

/// Opens a signed checkpoint: log signature, origin, then witness cosignatures
/// under `policy`.
pub(crate) fn open_checkpoint(
    note_bytes: &[u8],
    log: &Verifier,
    policy: Option<&tlog::Policy>,
) -> Result<Opened, VerifyError> {
    let (checkpoint, note) = tlog::open_checkpoint(note_bytes, log).map_err(|e| match e {
        CheckpointError::Note(NoteError::NoVerifiedSignature) => VerifyError::UnknownKey {
            key: log.name().to_owned(),
        },
        CheckpointError::Note(NoteError::InvalidSignature { name, .. }) => {
            VerifyError::BadSignature { key: name }
        }
        CheckpointError::OriginMismatch { origin, key_name } => VerifyError::OriginMismatch {
            origin,
            expected: key_name,
        },
        other => VerifyError::MalformedCheckpoint(other.to_string()),
    })?;
    let cosigners = match policy {
        None => Vec::new(),
        Some(policy) => check_quorum(note_bytes, &note, policy)?,
    };
    Ok(Opened {
        checkpoint,
        cosigners,
    })
}

// ---------------------------------------------------------------------------
// Policy (c2sp tlog-policy).
// ---------------------------------------------------------------------------

/// Parses a c2sp tlog-policy file for verifying the log whose key is
/// `log_vkey`. A policy without `log` lines (allowed when the log is known
/// from context) gets one for `log_vkey`, so that its quorum can be applied;
/// a policy with `log` lines must list `log_vkey`.
pub fn load_policy(text: &[u8], log_vkey: &str) -> Result<tlog::Policy, VerifyError> {
    let bad = |e: tlog::PolicyError| VerifyError::Config(format!("policy: {e}"));
    let policy = tlog::Policy::parse_bytes(text).map_err(bad)?;
    if policy.logs().next().is_some() {
        return Ok(policy);
    }
    // Group and quorum lines only name witnesses and groups, so an added log
    // line changes nothing else about the policy. The key is checked first
    // so that a bad key is reported as such, not as "policy line 1" (the
    // policy's own lines already parsed above).
    Verifier::from_vkey(log_vkey.trim())
        .map_err(|e| VerifyError::Config(format!("log key {log_vkey:?}: {e}")))?;
    let mut with_log = format!("log {}\n", log_vkey.trim()).into_bytes();
    with_log.extend_from_slice(text);
    tlog::Policy::parse_bytes(&with_log).map_err(bad)
}

fn policy_accepts_log(policy: &tlog::Policy, log: &Verifier) -> Result<(), VerifyError> {
    if policy
        .logs()
        .any(|l| l.name() == log.name() && l.public_key() == log.public_key())
    {
        Ok(())
    } else {
        Err(VerifyError::Config(format!(
            "the policy does not list the log key {}",
            log.vkey()
        )))
    }
}

/// Verifies every policy witness's cosignature (a failing one from a known
/// witness key rejects the note, per signed-note) and applies the quorum.
/// Returns (policy name, timestamp) of each witness that cosigned.
fn check_quorum(
    note_bytes: &[u8],
    note: &Note,
    policy: &tlog::Policy,
) -> Result<Vec<(String, u64)>, VerifyError> {
    let mut cosigners = Vec::new();
    for (name, witness) in policy.witnesses() {
        match verify_cosignature(note, witness) {
            Ok(Some(timestamp)) => cosigners.push((name.to_owned(), timestamp)),
            Ok(None) => {}
            Err(_) => {
                return Err(VerifyError::BadSignature {
                    key: format!("witness {name}"),
                })
            }
        }
    }
    match policy.verify_checkpoint(note_bytes) {
        Ok(_) => Ok(cosigners),
        Err(tlog::PolicyError::QuorumNotMet) => Err(VerifyError::QuorumNotMet {
            cosigners: cosigners.into_iter().map(|(n, _)| n).collect(),
        }),
        Err(e) => Err(VerifyError::MalformedCheckpoint(format!("policy: {e}"))),
    }
}

// ---------------------------------------------------------------------------
// The tree check.
// ---------------------------------------------------------------------------

/// `size >> (8 * level)`: number of hashes at tile level `level`.
fn hashes_at(size: u64, level: usize) -> u64 {
    u32::try_from(8 * level)
        .ok()
        .and_then(|shift| size.checked_shr(shift))
        .unwrap_or(0)
}

/// Number of tile levels a tree of `size` has (0 for the empty tree).
fn tile_levels(size: u64) -> usize {
    (0..64).take_while(|&l| hashes_at(size, l) > 0).count()
}

/// Hash of a complete subtree from its `2^k` leaves (here: a full tile).
fn perfect_root(hashes: &[Hash]) -> Option<Hash> {
    let mut row: Vec<Hash> = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks(2)
            .map(|p| match p {
                [l, r] => node_hash(l, r),
                [l] => *l,
                _ => empty_root(),
            })
            .collect();
    }
    row.first().copied()
}

fn split_hashes(data: &[u8]) -> Vec<Hash> {
    data.chunks_exact(32)
        .filter_map(|c| Hash::from_slice(c).ok())
        .collect()
}

/// Fetches a hash tile; a missing partial tile is answered from the full
/// tile's prefix (c2sp tlog-tiles "Partial Tiles": clients MAY fall back).
/// The length is checked; the content is not.
pub(crate) async fn fetch_tile<S: TileSource>(
    source: &S,
    id: TileId,
) -> Result<Vec<u8>, VerifyError> {
    let fetch = |path: String| move |source| VerifyError::Fetch { path, source };
    let want = id.byte_len();
    match source.tile(id).await.map_err(fetch(id.path()))? {
        Some(data) if data.len() == want => return Ok(data),
        Some(data) => {
            return Err(VerifyError::TamperedTile {
                path: id.path(),
                reason: format!("{} bytes, want {want}", data.len()),
            })
        }
        None => {}
    }
    if !id.is_full() {
        let full = id.full();
        if let Some(data) = source.tile(full).await.map_err(fetch(full.path()))? {
            return match data.get(..want) {
                Some(prefix) if data.len() == full.byte_len() => Ok(prefix.to_vec()),
                _ => Err(VerifyError::TamperedTile {
                    path: full.path(),
                    reason: format!("{} bytes, want {}", data.len(), full.byte_len()),
                }),
            };
        }
    }
    Err(VerifyError::Missing { path: id.path() })
}

/// Fetches an entry bundle and parses it into exactly `id.width()` entries,
/// falling back to the full bundle for a missing partial one. Returns the
/// path actually read (for error messages) with the entries.
pub(crate) async fn fetch_bundle<S: TileSource>(
    source: &S,
    id: BundleId,
) -> Result<(String, Vec<Vec<u8>>), VerifyError> {
    let fetch = |path: String| move |source| VerifyError::Fetch { path, source };
    let parse = |read: BundleId, data: &[u8]| -> Result<Vec<Vec<u8>>, VerifyError> {
        let entries =
            tlog::tile::parse_bundle_for(read, data).map_err(|e| VerifyError::TamperedBundle {
                path: read.path(),
                reason: e.to_string(),
            })?;
        Ok(entries
            .into_iter()
            .take(usize::from(id.width()))
            .map(<[u8]>::to_vec)
            .collect())
    };
    if let Some(data) = source.bundle(id).await.map_err(fetch(id.path()))? {
        return Ok((id.path(), parse(id, &data)?));
    }
    if !id.is_full() {
        if let Ok(full) = BundleId::new(id.index(), tlog::TILE_WIDTH_MAX) {
            if let Some(data) = source.bundle(full).await.map_err(fetch(full.path()))? {
                return Ok((full.path(), parse(full, &data)?));
            }
        }
    }
    Err(VerifyError::Missing { path: id.path() })
}

/// Verified tiles kept while walking the tree: per tile level, the partial
/// tile (verified against the root) and the last full tile verified.
struct TileCache {
    size: u64,
    partial: Vec<Option<(u64, Vec<Hash>)>>,
    full: Vec<Option<(u64, Vec<Hash>)>>,
}

impl TileCache {
    fn lookup(&self, level: usize, index: u64) -> Option<&[Hash]> {
        fn hit(slot: &Option<(u64, Vec<Hash>)>, index: u64) -> Option<&[Hash]> {
            match slot {
                Some((i, h)) if *i == index => Some(h.as_slice()),
                _ => None,
            }
        }
        self.partial
            .get(level)
            .and_then(|s| hit(s, index))
            .or_else(|| self.full.get(level).and_then(|s| hit(s, index)))
    }

    /// The hash that the full tile (`level`, `index`) must have, read from
    /// the verified tile above it.
    fn expected(&self, level: usize, index: u64) -> Option<Hash> {
        let parent = self.lookup(level + 1, index / TILE_HASHES)?;
        parent.get((index % TILE_HASHES) as usize).copied()
    }

    fn is_partial(&self, level: usize, index: u64) -> bool {
        hashes_at(self.size, level) < (index + 1) * TILE_HASHES
    }
}

/// Makes sure the full tile (`level`, `index`) is verified and cached; its
/// parent must already be.
async fn ensure_full_tile<S: TileSource>(
    source: &S,
    cache: &mut TileCache,
    counts: &mut TreeCounts,
    level: usize,
    index: u64,
) -> Result<(), VerifyError> {
    if cache.lookup(level, index).is_some() {
        return Ok(());
    }
    let id = TileId::new(level as u8, index, tlog::TILE_WIDTH_MAX)
        .map_err(|e| VerifyError::Config(format!("tile id: {e}")))?;
    let data = fetch_tile(source, id).await?;
    let hashes = split_hashes(&data);
    check_full_tile(cache, id, &hashes)?;
    counts.tiles += 1;
    if let Some(slot) = cache.full.get_mut(level) {
        *slot = Some((index, hashes));
    }
    Ok(())
}

fn check_full_tile(cache: &TileCache, id: TileId, hashes: &[Hash]) -> Result<(), VerifyError> {
    let level = usize::from(id.level());
    let want = cache
        .expected(level, id.index())
        .ok_or_else(|| VerifyError::TamperedTile {
            path: id.path(),
            reason: "internal: parent tile not verified first".into(),
        })?;
    if perfect_root(hashes) != Some(want) {
        return Err(VerifyError::TamperedTile {
            path: id.path(),
            reason: format!(
                "hashes to {}, the tile above says {want}",
                perfect_root(hashes).unwrap_or_else(empty_root)
            ),
        });
    }
    Ok(())
}

/// A [`TileReader`] over tiles already in memory.
#[derive(Default)]
struct MapTiles {
    tiles: HashMap<TileId, Vec<u8>>,
    /// Record-only mode: answer zeroes for unknown tiles and note them.
    zero_fill: bool,
    missing: Mutex<BTreeSet<TileId>>,
}

/// A tile the in-memory reader does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("tile {0} not fetched")]
struct NotFetched(TileId);

impl TileReader for MapTiles {
    type Error = NotFetched;
    fn read_tile(&self, id: TileId) -> Result<Vec<u8>, NotFetched> {
        if let Some(data) = self.tiles.get(&id) {
            return Ok(data.clone());
        }
        self.missing.lock().insert(id);
        if self.zero_fill {
            Ok(vec![0; id.byte_len()])
        } else {
            Err(NotFetched(id))
        }
    }
}

/// Verifies the tree of `size` with `root` from the source's tiles and
/// bundles: the partial tiles against the root, then every level-0 tile from
/// index `first_tile` on (with its chain of ancestors, top-down) and its
/// bundle. `first_tile = 0` checks the whole tree; a mirror passes the first
/// tile that changed since its last verified size.
pub(crate) async fn verify_tree<S: TileSource>(
    source: &S,
    size: TreeSize,
    root: Hash,
    first_tile: u64,
    concurrency: usize,
) -> Result<TreeCounts, VerifyError> {
    let size_n = size.get();
    let mut counts = TreeCounts::default();
    if size_n == 0 {
        if root != empty_root() {
            return Err(VerifyError::RootMismatch {
                size: 0,
                checkpoint: root,
                computed: Some(empty_root()),
            });
        }
        return Ok(counts);
    }
    let levels = tile_levels(size_n);

    // 1. The right edge: partial tiles must fold to the root.
    let mut edge_tiles = MapTiles::default();
    for id in partial_tiles_for_size(size) {
        let data = fetch_tile(source, id).await?;
        edge_tiles.tiles.insert(id, data);
    }
    let edge = TileEdge::from_reader(size, &edge_tiles).map_err(|e| match e {
        TileError::TileLength { tile, got, want } => VerifyError::TamperedTile {
            path: tile.path(),
            reason: format!("{got} bytes, want {want}"),
        },
        // Every partial tile was fetched above; nothing else can fail here.
        other => VerifyError::Config(format!("internal: rebuilding the right edge: {other}")),
    })?;
    if edge.root() != root {
        return Err(VerifyError::RootMismatch {
            size: size_n,
            checkpoint: root,
            computed: Some(edge.root()),
        });
    }
    let mut cache = TileCache {
        size: size_n,
        partial: vec![None; levels + 1],
        full: vec![None; levels + 1],
    };
    for (id, data) in &edge_tiles.tiles {
        if let Some(slot) = cache.partial.get_mut(usize::from(id.level())) {
            *slot = Some((id.index(), split_hashes(data)));
        }
    }
    counts.tiles += edge_tiles.tiles.len() as u64;

    // 2. Every level-0 tile from `first_tile`, with its bundle, in order.
    let level0_tiles = size_n.div_ceil(TILE_HASHES);
    let mut fetched = futures::stream::iter(first_tile..level0_tiles)
        .map(|index| {
            let width = (size_n - index * TILE_HASHES).min(TILE_HASHES) as u16;
            let partial = width < tlog::TILE_WIDTH_MAX;
            async move {
                let bundle_id = BundleId::new(index, width)
                    .map_err(|e| VerifyError::Config(format!("bundle id: {e}")))?;
                let tile_id = TileId::new(0, index, width)
                    .map_err(|e| VerifyError::Config(format!("tile id: {e}")))?;
                // The partial level-0 tile is already in the edge.
                let tile = if partial {
                    None
                } else {
                    Some(fetch_tile(source, tile_id).await?)
                };
                let bundle = fetch_bundle(source, bundle_id).await?;
                Ok::<_, VerifyError>((tile_id, tile, bundle))
            }
        })
        .buffered(concurrency);

    while let Some(item) = fetched.next().await {
        let (tile_id, tile, (bundle_path, entries)) = item?;
        let index = tile_id.index();
        // Ancestors first, top-down, so a mismatch blames the lower tile.
        for level in (1..levels).rev() {
            let ancestor = index >> (8 * level);
            if !cache.is_partial(level, ancestor) {
                ensure_full_tile(source, &mut cache, &mut counts, level, ancestor).await?;
            }
        }
        let hashes = match tile {
            Some(data) => {
                let hashes = split_hashes(&data);
                check_full_tile(&cache, tile_id, &hashes)?;
                counts.tiles += 1;
                hashes
            }
            None => cache
                .lookup(0, index)
                .map(<[Hash]>::to_vec)
                .ok_or_else(|| VerifyError::Missing {
                    path: tile_id.path(),
                })?,
        };
        if entries.len() != hashes.len() {
            return Err(VerifyError::TamperedBundle {
                path: bundle_path,
                reason: format!("{} entries, want {}", entries.len(), hashes.len()),
            });
        }
        for (position, (entry, want)) in entries.iter().zip(&hashes).enumerate() {
            if leaf_hash(entry) != *want {
                return Err(VerifyError::TamperedBundle {
                    path: bundle_path,
                    reason: format!(
                        "entry {} does not hash to its level-0 tile hash",
                        index * TILE_HASHES + position as u64
                    ),
                });
            }
        }
        counts.bundles += 1;
        counts.entries += entries.len() as u64;
    }

    // The pair of the loop above: a full walk must have seen every tile of
    // the tree exactly once.
    if first_tile == 0 {
        let want_tiles: u64 = (0..levels)
            .map(|l| hashes_at(size_n, l).div_ceil(TILE_HASHES))
            .sum();
        if counts.tiles != want_tiles || counts.entries != size_n {
            return Err(VerifyError::Config(format!(
                "internal: walked {} tiles and {} entries, the tree has {want_tiles} and {size_n}",
                counts.tiles, counts.entries
            )));
        }
    }
    Ok(counts)
}

/// A consistency proof from `old` to the tree of `new` entries with root
/// `new_root`, built from the source's tiles, each verified against
/// `new_root` as it is used.
pub(crate) async fn prove_consistency_from<S: TileSource>(
    source: &S,
    old: TreeSize,
    new: TreeSize,
    new_root: Hash,
    concurrency: usize,
) -> Result<Vec<Hash>, VerifyError> {
    let mut reader = MapTiles {
        zero_fill: true,
        ..MapTiles::default()
    };
    for round in 0..=PREFETCH_ROUNDS_MAX {
        let result =
            tlog::prove_consistency(old, new, &TileHashReader::verified(new, new_root, &reader));
        let missing: Vec<TileId> = std::mem::take(&mut *reader.missing.lock())
            .into_iter()
            .collect();
        if missing.is_empty() && !reader.zero_fill {
            return result.map_err(|e| proof_error(e, new, new_root));
        }
        if round == PREFETCH_ROUNDS_MAX {
            break;
        }
        let fetched: Vec<Result<(TileId, Vec<u8>), VerifyError>> = futures::stream::iter(missing)
            .map(|id| async move { Ok((id, fetch_tile(source, id).await?)) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for item in fetched {
            let (id, data) = item?;
            reader.tiles.insert(id, data);
        }
        reader.zero_fill = false;
    }
    Err(VerifyError::Config(format!(
        "the consistency proof {old} → {new} still needs tiles after {PREFETCH_ROUNDS_MAX} rounds"
    )))
}

fn proof_error(
    e: tlog::ProofError<TileError<NotFetched>>,
    size: TreeSize,
    root: Hash,
) -> VerifyError {
    match e {
        tlog::ProofError::Reader(TileError::TileHashMismatch(id)) => VerifyError::TamperedTile {
            path: id.path(),
            reason: "does not match the tile above it".into(),
        },
        tlog::ProofError::Reader(TileError::TileLength { tile, got, want }) => {
            VerifyError::TamperedTile {
                path: tile.path(),
                reason: format!("{got} bytes, want {want}"),
            }
        }
        tlog::ProofError::Reader(TileError::RootMismatch) => VerifyError::RootMismatch {
            size: size.get(),
            checkpoint: root,
            computed: None,
        },
        tlog::ProofError::Reader(TileError::Reader(NotFetched(id))) => {
            VerifyError::Missing { path: id.path() }
        }
        other => VerifyError::Config(format!("consistency proof: {other}")),
    }
}

/// Checks `fetched` against `saved` (both already signature-verified), with
/// proofs from the source's tiles. See [`SavedRelation`].
pub(crate) async fn check_consistency<S: TileSource>(
    source: &S,
    saved: (&Checkpoint, &[u8]),
    fetched: (&Checkpoint, &[u8]),
    concurrency: usize,
) -> Result<SavedRelation, VerifyError> {
    let (saved_cp, saved_bytes) = saved;
    let (fetched_cp, fetched_bytes) = fetched;
    let inconsistent = |reason: String| VerifyError::Inconsistent {
        saved_size: saved_cp.size().get(),
        fetched_size: fetched_cp.size().get(),
        saved: saved_bytes.to_vec(),
        fetched: fetched_bytes.to_vec(),
        reason,
    };
    let (old, new, relation) = if saved_cp.size() <= fetched_cp.size() {
        (saved_cp, fetched_cp, SavedRelation::Extends)
    } else {
        (fetched_cp, saved_cp, SavedRelation::Behind)
    };
    if old.size() == new.size() {
        return if old.root() == new.root() {
            Ok(SavedRelation::Same)
        } else {
            Err(inconsistent("same size, different roots".into()))
        };
    }
    if old.size().get() == 0 {
        // Every tree extends the empty tree; only its root can be wrong.
        return if old.root() == empty_root() {
            Ok(relation)
        } else {
            Err(inconsistent(
                "a size-0 checkpoint with a non-empty root".into(),
            ))
        };
    }
    let proof = prove_consistency_from(source, old.size(), new.size(), new.root(), concurrency)
        .await
        .map_err(|e| match e {
            // The tiles of the larger tree do not verify against its own
            // root: when that tree is the saved one, the source cannot
            // produce the tree we saw before, which is the fork.
            VerifyError::RootMismatch { .. } | VerifyError::TamperedTile { .. }
                if relation == SavedRelation::Behind =>
            {
                inconsistent(format!(
                    "the source's tiles do not reproduce the saved tree: {e}"
                ))
            }
            other => other,
        })?;
    tlog::verify_consistency(old.size(), new.size(), &old.root(), &new.root(), &proof)
        .map_err(|e| inconsistent(e.to_string()))?;
    Ok(relation)
}

// ---------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------

/// Writes `data` to `path` atomically and durably ([`durable::write`]),
/// creating its directory first.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(durable::parent_of(path))?;
    durable::write(path, data)
}

/// Sorted, deduplicated list of the tiles a tree of `new` entries has that a
/// tree of `old` entries did not have in final form: at each level, the tile
/// that held `old`'s partial hashes and everything to its right.
pub(crate) fn new_tiles(old: TreeSize, new: TreeSize) -> Vec<TileId> {
    let mut out = BTreeMap::new();
    for level in 0..tile_levels(new.get()) {
        let n = hashes_at(new.get(), level);
        let first = hashes_at(old.get(), level) / TILE_HASHES;
        for index in first..n.div_ceil(TILE_HASHES) {
            let width = (n - index * TILE_HASHES).min(TILE_HASHES) as u16;
            if let Ok(id) = TileId::new(level as u8, index, width) {
                out.insert(id, ());
            }
        }
    }
    out.into_keys().collect()
}

/// The entry bundles a tree of `new` entries has beyond those final in `old`.
pub(crate) fn new_bundles(old: TreeSize, new: TreeSize) -> Vec<BundleId> {
    let n = new.get();
    (old.get() / TILE_HASHES..n.div_ceil(TILE_HASHES))
        .filter_map(|index| {
            let width = (n - index * TILE_HASHES).min(TILE_HASHES) as u16;
            BundleId::new(index, width).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn new_tiles_cover_the_difference() {
        let all = |n| tlog::tiles_for_size(TreeSize::new(n));
        // From empty: every tile.
        assert_eq!(
            new_tiles(TreeSize::new(0), TreeSize::new(70_000)),
            all(70_000)
        );
        // Same size: the partial tiles again (they are re-verified), nothing else.
        assert_eq!(
            new_tiles(TreeSize::new(300), TreeSize::new(300)),
            vec![
                TileId::new(0, 1, 44).unwrap(),
                TileId::new(1, 0, 1).unwrap()
            ]
        );
        // Growing past a tile boundary: the old partial becomes full.
        let got = new_tiles(TreeSize::new(300), TreeSize::new(600));
        assert_eq!(
            got,
            vec![
                TileId::new(0, 1, 256).unwrap(),
                TileId::new(0, 2, 88).unwrap(),
                TileId::new(1, 0, 2).unwrap()
            ]
        );
        assert_eq!(
            new_bundles(TreeSize::new(300), TreeSize::new(600)),
            vec![
                BundleId::new(1, 256).unwrap(),
                BundleId::new(2, 88).unwrap()
            ]
        );
        assert!(new_bundles(TreeSize::new(512), TreeSize::new(512)).is_empty());
    }

    #[test]
    fn tile_levels_counts() {
        assert_eq!(tile_levels(0), 0);
        assert_eq!(tile_levels(1), 1);
        assert_eq!(tile_levels(255), 1);
        assert_eq!(tile_levels(256), 2);
        assert_eq!(tile_levels(70_000), 3);
        assert_eq!(tile_levels(u64::MAX), 8);
    }
}
