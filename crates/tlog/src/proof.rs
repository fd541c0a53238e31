//! C2SP tlog-proof: the offline-verifiable `c2sp.org/tlog-proof@v1` text
//! format (optional extra data, leaf index, inclusion proof, checkpoint), its
//! strict parser and encoder, and verification against a [`Policy`].
//!
//! This module deliberately does not compute the leaf hash (that is
//! application specific; the caller passes it) and does not trust the `extra`
//! data in any way.

#[allow(unused_imports)]
use crate::prelude::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{
    parse_decimal_u64, take_line, take_proof_lines, Hash, LeafIndex, ProofLinesError,
};
use crate::merkle::{verify_inclusion, ProofError, PROOF_HASHES_MAX};
use crate::note::{Note, NOTE_BYTES_MAX};
use crate::policy::{Policy, PolicyError, VerifiedCheckpoint};

/// First line of a tlog proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest decoded `extra` data accepted, in bytes.
pub const TLOG_PROOF_EXTRA_BYTES_MAX: usize = 16 * 1024;
/// Largest tlog proof accepted, in bytes.
pub const TLOG_PROOF_BYTES_MAX: usize =
    NOTE_BYTES_MAX + TLOG_PROOF_EXTRA_BYTES_MAX * 2 + (PROOF_HASHES_MAX + 4) * 64;

/// Errors parsing, encoding or verifying a tlog proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    /// The proof is larger than [`TLOG_PROOF_BYTES_MAX`].
    #[error("tlog proof too large")]
    TooLarge,
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("missing c2sp.org/tlog-proof@v1 header")]
    BadHeader,
    /// The `extra` line is not valid base64.
    #[error("extra data is not valid base64")]
    BadExtra,
    /// The extra data is larger than [`TLOG_PROOF_EXTRA_BYTES_MAX`].
    #[error("extra data too large")]
    ExtraTooLarge,
    /// No `index <n>` line where one is required.
    #[error("missing index line")]
    MissingIndex,
    /// The index is not canonical ASCII decimal.
    #[error("index is not a canonical decimal")]
    BadIndex,
    /// A proof line is not a base64 SHA-256 hash.
    #[error("proof line {0} is not a base64 hash")]
    BadProofLine(usize),
    /// More than 63 proof lines.
    #[error("more than {PROOF_HASHES_MAX} proof lines")]
    TooManyProofLines,
    /// The proof lines are not followed by an empty line.
    #[error("missing empty line before the checkpoint")]
    MissingBlankLine,
    /// The checkpoint is malformed.
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The checkpoint does not satisfy the policy.
    #[error("policy: {0}")]
    Policy(PolicyError),
    /// The inclusion proof does not verify against the checkpoint.
    #[error("inclusion proof: {0}")]
    Inclusion(ProofError),
}

/// A parsed tlog proof. Fields are public for construction; [`TlogProof::encode`]
/// re-validates them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Index of the entry in the log.
    pub index: LeafIndex,
    /// Inclusion proof, leaf sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

fn check_checkpoint(bytes: &[u8]) -> Result<(), TlogProofError> {
    let note =
        Note::parse(bytes).map_err(|e| TlogProofError::Checkpoint(CheckpointError::Note(e)))?;
    Checkpoint::parse_text(note.text()).map_err(TlogProofError::Checkpoint)?;
    Ok(())
}

impl TlogProof {
    /// Parses a tlog proof (c2sp tlog-proof "Format"). The checkpoint must be
    /// a well-formed signed checkpoint note; signatures are not verified here.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, TlogProofError> {
        if bytes.len() > TLOG_PROOF_BYTES_MAX {
            return Err(TlogProofError::TooLarge);
        }
        let (header, mut rest) = take_line(bytes).ok_or(TlogProofError::BadHeader)?;
        if header != TLOG_PROOF_HEADER.as_bytes() {
            return Err(TlogProofError::BadHeader);
        }
        let (mut line, mut after) = take_line(rest).ok_or(TlogProofError::MissingIndex)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix(b"extra ") {
            if b64.len() > TLOG_PROOF_EXTRA_BYTES_MAX * 4 / 3 + 4 {
                return Err(TlogProofError::ExtraTooLarge);
            }
            let data = BASE64.decode(b64).map_err(|_| TlogProofError::BadExtra)?;
            if data.len() > TLOG_PROOF_EXTRA_BYTES_MAX {
                return Err(TlogProofError::ExtraTooLarge);
            }
            extra = Some(data);
            (line, after) = take_line(after).ok_or(TlogProofError::MissingIndex)?;
        }
        let idx = line
            .strip_prefix(b"index ")
            .ok_or(TlogProofError::MissingIndex)?;
        let idx = core::str::from_utf8(idx).map_err(|_| TlogProofError::BadIndex)?;
        let index = parse_decimal_u64(idx).map_err(|_| TlogProofError::BadIndex)?;
        rest = after;
        let (proof, after) = take_proof_lines(rest).map_err(|e| match e {
            ProofLinesError::MissingBlankLine => TlogProofError::MissingBlankLine,
            ProofLinesError::TooMany => TlogProofError::TooManyProofLines,
            ProofLinesError::BadLine(n) => TlogProofError::BadProofLine(n),
        })?;
        rest = after;
        check_checkpoint(rest)?;
        Ok(TlogProof {
            extra,
            index: LeafIndex::new(index),
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// Encodes the proof (c2sp tlog-proof "Format"), validating the fields.
    pub fn encode(&self) -> Result<Vec<u8>, TlogProofError> {
        if self.proof.len() > PROOF_HASHES_MAX {
            return Err(TlogProofError::TooManyProofLines);
        }
        if self
            .extra
            .as_ref()
            .is_some_and(|e| e.len() > TLOG_PROOF_EXTRA_BYTES_MAX)
        {
            return Err(TlogProofError::ExtraTooLarge);
        }
        check_checkpoint(&self.checkpoint)?;
        // c2sp tlog-proof "Format": header, optional extra, index, proof
        // lines, empty line, checkpoint verbatim.
        let mut s = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", BASE64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index.get()));
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        if out.len() > TLOG_PROOF_BYTES_MAX {
            return Err(TlogProofError::TooLarge);
        }
        Ok(out)
    }

    /// Verifies the proof for `leaf` (c2sp tlog-proof "Verifying a tlog
    /// proof" steps 2-4): the checkpoint satisfies `policy`, and the inclusion
    /// proof binds `leaf` at `index` to the checkpoint's root.
    pub fn verify(
        &self,
        leaf: &Hash,
        policy: &Policy,
    ) -> Result<VerifiedCheckpoint, TlogProofError> {
        let vc = policy
            .verify_checkpoint(&self.checkpoint)
            .map_err(TlogProofError::Policy)?;
        let cp = vc.checkpoint();
        verify_inclusion(leaf, self.index, cp.size(), &self.proof, &cp.root())
            .map_err(TlogProofError::Inclusion)?;
        Ok(vc)
    }
}
