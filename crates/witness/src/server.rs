//! The witness server core: c2sp.org/tlog-witness `add-checkpoint` and the
//! monitoring read, as plain functions from request bytes to response bytes
//! or a classified error.
//!
//! The order of checks follows the spec: body format (400), origin (404), log
//! signature (403), old size <= size (400), then, under the origin's lock,
//! old size == latest cosigned size (409), empty-tree root, proof shape, root
//! equality and the consistency proof (422). Only if all pass is the new
//! checkpoint persisted (fsync'd) and, after that, cosigned and returned.
//!
//! Deliberately absent: HTTP (status codes are only named here, in
//! [`AddCheckpointError::status`]), key management (the caller hands in a
//! ready [`Cosigner`]), and the optional `sign-subtree` call.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use tlog::{
    empty_root, verify_consistency, verify_note, Checkpoint, Cosigner, Hash, Note, NoteError,
    TreeSize, Verifier,
};

use crate::clock::Clock;
use crate::store::{OriginHex, Store};
use tlog::witness_wire::AddCheckpointRequest;

/// Largest `add-checkpoint` body accepted, in bytes: tlog's wire limit (a
/// maximal note plus 63 proof lines), so parser, core and HTTP layer agree.
pub const ADD_CHECKPOINT_BODY_BYTES_MAX: usize = tlog::witness_wire::ADD_CHECKPOINT_BODY_BYTES_MAX;

/// The content type of a 409 body (c2sp.org/tlog-witness).
pub const TLOG_SIZE_CONTENT_TYPE: &str = tlog::witness_wire::SIZE_CONTENT_TYPE;

/// Errors opening the witness or reading its state.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The state directory could not be read or written.
    #[error("witness state: {0}")]
    Io(#[from] io::Error),
    /// A stored cosigned checkpoint does not parse, or belongs to another
    /// origin. The witness refuses to start rather than guess what it cosigned.
    #[error("witness state for origin {origin:?} is corrupt: {reason}")]
    CorruptState {
        /// The origin whose state file is bad.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The monitoring request's origin hash is not 64 lowercase hex digits.
    #[error("origin hash must be 64 lowercase hex digits")]
    BadOriginHash,
}

/// Why an `add-checkpoint` request was refused. One variant per status code
/// of c2sp.org/tlog-witness, see [`AddCheckpointError::status`].
#[derive(Debug, thiserror::Error)]
pub enum AddCheckpointError {
    /// 400: the body is malformed or asks something impossible.
    #[error("bad request: {0}")]
    BadRequest(BadRequestReason),
    /// 404: the checkpoint's origin is not a log this witness serves.
    #[error("unknown log origin")]
    UnknownOrigin,
    /// 403: no valid signature from a trusted log key.
    #[error("forbidden: {0}")]
    Forbidden(ForbiddenReason),
    /// 409: the old size is not the latest size this witness cosigned.
    #[error("old size does not match the latest cosigned size {latest}")]
    Conflict {
        /// The latest cosigned size for the origin (0 if never cosigned).
        latest: TreeSize,
    },
    /// 422: the checkpoint is not consistent with what was cosigned before.
    #[error("unprocessable: {0}")]
    Unprocessable(UnprocessableReason),
    /// 500: the new state could not be persisted (or an earlier failure left
    /// the origin's state unknown). Nothing was cosigned.
    #[error("witness storage failure")]
    Storage(#[source] io::Error),
    /// 500: the clock reads 0, and the spec forbids a zero timestamp.
    #[error("witness clock is not set")]
    ClockUnset,
}

/// The 400 cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRequestReason {
    /// Longer than [`ADD_CHECKPOINT_BODY_BYTES_MAX`].
    #[error("body longer than {ADD_CHECKPOINT_BODY_BYTES_MAX} bytes")]
    BodyTooLarge,
    /// Not `old N`, proof lines, empty line, signed checkpoint (includes more
    /// than 63 proof lines and a malformed checkpoint or note).
    #[error("malformed body: {0}")]
    Malformed(String),
    /// The old size is larger than the checkpoint size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldSizeAboveSize {
        /// Old size of the request.
        old: TreeSize,
        /// Checkpoint size.
        size: TreeSize,
    },
}

/// The 403 cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenReason {
    /// No signature line from a trusted key of the origin.
    #[error("no signature from a trusted log key")]
    NoTrustedSignature,
    /// A line's name and key ID match a trusted key but it does not verify.
    #[error("a signature from a trusted log key does not verify")]
    BadSignature,
}

/// The 422 cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnprocessableReason {
    /// A size-0 checkpoint whose root is not the empty-tree hash.
    #[error("size 0 with a root other than the empty tree's")]
    EmptyTreeRoot,
    /// Old size 0 with proof lines.
    #[error("consistency proof given with old size 0")]
    ProofFromEmptyTree,
    /// Same size as the latest cosigned checkpoint, different root.
    #[error("same size as the latest cosigned checkpoint, different root")]
    SameSizeDifferentRoot,
    /// The consistency proof does not verify.
    #[error("consistency proof does not verify: {0}")]
    BadProof(String),
}

impl AddCheckpointError {
    /// The HTTP status c2sp.org/tlog-witness assigns to this error.
    pub fn status(&self) -> u16 {
        match self {
            AddCheckpointError::BadRequest(_) => 400,
            AddCheckpointError::Forbidden(_) => 403,
            AddCheckpointError::UnknownOrigin => 404,
            AddCheckpointError::Conflict { .. } => 409,
            AddCheckpointError::Unprocessable(_) => 422,
            AddCheckpointError::Storage(_) | AddCheckpointError::ClockUnset => 500,
        }
    }
}

/// A witness: one cosigner key, a fixed set of trusted logs, durable state.
pub struct Witness {
    cosigner: Cosigner,
    vkey: String,
    logs: HashMap<String, LogEntry>,
    store: Store,
    clock: Arc<dyn Clock>,
}

/// One trusted log: its keys, and its latest cosigned state behind the lock
/// that makes check-and-persist atomic (the race in c2sp.org/tlog-witness).
struct LogEntry {
    verifiers: Vec<Verifier>,
    origin_hex: OriginHex,
    state: Mutex<LogState>,
}

enum LogState {
    /// Never cosigned anything for this origin.
    Empty,
    /// Cosigned this size and root last.
    Cosigned { size: TreeSize, root: Hash },
    /// A write failed: what is on disk is the old or the new state and we do
    /// not know which, so this origin refuses everything until a restart
    /// re-reads the disk. Better unavailable than cosign a fork.
    Unknown,
}

impl Witness {
    /// Opens (creating if needed) the witness state in `state_dir`.
    ///
    /// Each trusted log is identified by its origin, taken to be the key name
    /// of its verifier(s) (c2sp.org/tlog-checkpoint: the log's key name
    /// SHOULD match the origin); several verifiers with one name are several
    /// accepted keys of that log (rotation).
    pub fn open(
        state_dir: &Path,
        cosigner: Cosigner,
        logs: Vec<Verifier>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WitnessError> {
        let store = Store::open(state_dir)?;
        let mut by_origin: HashMap<String, Vec<Verifier>> = HashMap::new();
        for v in logs {
            by_origin.entry(v.name().to_owned()).or_default().push(v);
        }
        let mut entries = HashMap::with_capacity(by_origin.len());
        for (origin, verifiers) in by_origin {
            let origin_hex = OriginHex::of_origin(&origin);
            let state = match store.latest(&origin_hex)? {
                None => LogState::Empty,
                Some(bytes) => {
                    let (size, root) = parse_stored(&origin, &bytes)?;
                    LogState::Cosigned { size, root }
                }
            };
            entries.insert(
                origin,
                LogEntry {
                    verifiers,
                    origin_hex,
                    state: Mutex::new(state),
                },
            );
        }
        let vkey = cosigner.vkey();
        Ok(Self {
            cosigner,
            vkey,
            logs: entries,
            store,
            clock,
        })
    }

    /// c2sp tlog-witness add-checkpoint: body bytes in, signature lines out.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddCheckpointError> {
        use AddCheckpointError as E;
        if body.len() > ADD_CHECKPOINT_BODY_BYTES_MAX {
            return Err(E::BadRequest(BadRequestReason::BodyTooLarge));
        }
        let req = AddCheckpointRequest::parse(body)
            .map_err(|e| E::BadRequest(BadRequestReason::Malformed(e.to_string())))?;
        let note = Note::parse(&req.checkpoint)
            .map_err(|e| E::BadRequest(BadRequestReason::Malformed(e.to_string())))?;
        let checkpoint = Checkpoint::parse_text(note.text())
            .map_err(|e| E::BadRequest(BadRequestReason::Malformed(e.to_string())))?;
        let log = self.logs.get(checkpoint.origin()).ok_or(E::UnknownOrigin)?;
        let verified_lines = verify_log_signatures(&note, &log.verifiers)?;
        let (old, size, root) = (req.old_size, checkpoint.size(), checkpoint.root());
        if old > size {
            return Err(E::BadRequest(BadRequestReason::OldSizeAboveSize {
                old,
                size,
            }));
        }

        // From here to the durable write, one request per origin at a time.
        let mut state = log.state.lock();
        let latest = match &*state {
            LogState::Empty => None,
            LogState::Cosigned { size, root } => Some((*size, *root)),
            LogState::Unknown => {
                return Err(E::Storage(io::Error::other(
                    "an earlier write failed; restart the witness",
                )))
            }
        };
        let latest_size = latest.map_or(TreeSize::new(0), |(s, _)| s);
        if old != latest_size {
            if let Some((s, r)) = latest {
                if s == size && r != root {
                    // Whatever old size came with it, a signed checkpoint of
                    // the cosigned size with another root proves a fork.
                    self.keep_evidence(log, body, "same size different root (409)");
                }
            }
            return Err(E::Conflict {
                latest: latest_size,
            });
        }
        if let Err(reason) = check_consistency(old, size, &root, latest, &req.proof) {
            self.keep_evidence(log, body, &reason.to_string());
            return Err(E::Unprocessable(reason));
        }

        // A clock before 1970 reads as 0, which the spec forbids: refused.
        let timestamp_s = u64::try_from(self.clock.now_unix_s()).unwrap_or(0);
        if timestamp_s == 0 {
            return Err(E::ClockUnset);
        }
        // Only fails for a timestamp above 2^63-1: a broken clock too.
        let cosignature = self
            .cosigner
            .try_cosign(note.text(), timestamp_s)
            .map_err(|_| E::ClockUnset)?;
        let mut stored = String::with_capacity(note.text().len() + 512);
        stored.push_str(note.text());
        stored.push('\n');
        for line in &verified_lines {
            stored.push_str(line);
        }
        stored.push_str(&cosignature);
        // Persist before answering: the cosignature leaves this process only
        // once the state it commits to survives a crash.
        if let Err(e) = self
            .store
            .replace_latest(&log.origin_hex, stored.as_bytes())
        {
            *state = LogState::Unknown;
            tracing::error!(origin = checkpoint.origin(), error = %e, "witness state write failed");
            return Err(E::Storage(e));
        }
        *state = LogState::Cosigned { size, root };
        Ok(cosignature)
    }

    /// Latest cosigned checkpoint (with the log signature and our cosignature)
    /// for the origin whose SHA-256 hex is given (monitoring API).
    pub fn latest_checkpoint(
        &self,
        origin_sha256_hex: &str,
    ) -> Result<Option<Vec<u8>>, WitnessError> {
        let origin_hex = OriginHex::parse(origin_sha256_hex).ok_or(WitnessError::BadOriginHash)?;
        // Read from disk, not memory: only committed state is ever served.
        Ok(self.store.latest(&origin_hex)?)
    }

    /// The cosigner's verifier key (type 0x04).
    pub fn vkey(&self) -> String {
        self.vkey.clone()
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        self.cosigner.name()
    }

    /// Keeps a validly signed but refused request (c2sp.org/tlog-witness: MAY,
    /// "as it might be proof of log misbehavior"). Failure to keep it is
    /// logged, not returned: the refusal itself is what protects clients.
    fn keep_evidence(&self, log: &LogEntry, body: &[u8], reason: &str) {
        let mut record = String::new();
        let _ = writeln!(
            record,
            "evidence v1 time={} bytes={} reason={}",
            self.clock.now_unix_s(),
            body.len(),
            reason.replace('\n', " ")
        );
        let mut bytes = record.into_bytes();
        bytes.extend_from_slice(body);
        bytes.push(b'\n');
        match self.store.append_evidence(&log.origin_hex, &bytes) {
            Ok(true) => tracing::warn!(reason, "kept a refused, log-signed checkpoint as evidence"),
            Ok(false) => tracing::warn!(reason, "evidence file full; refused checkpoint not kept"),
            Err(e) => tracing::error!(error = %e, "could not keep evidence"),
        }
    }
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("vkey", &self.vkey)
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The 422 checks, once the old size matched the latest cosigned size.
fn check_consistency(
    old: TreeSize,
    size: TreeSize,
    root: &Hash,
    latest: Option<(TreeSize, Hash)>,
    proof: &[Hash],
) -> Result<(), UnprocessableReason> {
    if size.get() == 0 && *root != empty_root() {
        return Err(UnprocessableReason::EmptyTreeRoot);
    }
    if old.get() == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(UnprocessableReason::ProofFromEmptyTree)
        };
    }
    // old == latest size > 0, so there is a latest root.
    let Some((_, old_root)) = latest else {
        return Err(UnprocessableReason::BadProof("no cosigned root".into()));
    };
    if old == size {
        return if old_root == *root && proof.is_empty() {
            Ok(())
        } else if old_root != *root {
            Err(UnprocessableReason::SameSizeDifferentRoot)
        } else {
            Err(UnprocessableReason::BadProof(
                "proof must be empty for equal sizes".into(),
            ))
        };
    }
    verify_consistency(old, size, &old_root, root, proof)
        .map_err(|e| UnprocessableReason::BadProof(e.to_string()))
}

/// Verifies the log's signatures with the origin's trusted keys: lines from
/// unknown keys are ignored; one trusted line that fails to verify rejects the
/// note. Returns the verified lines (to keep with the cosigned checkpoint).
fn verify_log_signatures(
    note: &Note,
    verifiers: &[Verifier],
) -> Result<Vec<String>, AddCheckpointError> {
    match verify_note(note, verifiers) {
        // verify_note checked every line matching a trusted key; keep those
        // lines, once each.
        Ok(_) => {
            let mut lines: Vec<String> = Vec::new();
            for sig in note.signatures() {
                let line = sig.to_line();
                if verifiers.iter().any(|v| v.matches(sig)) && !lines.contains(&line) {
                    lines.push(line);
                }
            }
            Ok(lines)
        }
        Err(NoteError::NoVerifiedSignature) => Err(AddCheckpointError::Forbidden(
            ForbiddenReason::NoTrustedSignature,
        )),
        Err(_) => Err(AddCheckpointError::Forbidden(ForbiddenReason::BadSignature)),
    }
}

/// Reads back a stored cosigned checkpoint: its size and root.
fn parse_stored(origin: &str, bytes: &[u8]) -> Result<(TreeSize, Hash), WitnessError> {
    let corrupt = |reason: String| WitnessError::CorruptState {
        origin: origin.to_owned(),
        reason,
    };
    let note = Note::parse(bytes).map_err(|e| corrupt(e.to_string()))?;
    let cp = Checkpoint::parse_text(note.text()).map_err(|e| corrupt(e.to_string()))?;
    if cp.origin() != origin {
        return Err(corrupt(format!("file holds origin {:?}", cp.origin())));
    }
    Ok((cp.size(), cp.root()))
}
