//! C2SP tlog-witness `add-checkpoint` wire formats: the request body (old
//! size line, consistency proof lines, blank line, checkpoint), the 409
//! `text/x.tlog.size` body, and the response body of cosignature lines.
//!
//! This module deliberately does not verify signatures or proofs and keeps no
//! witness state: each parse violation is a distinct error so a witness
//! server can map it to the spec's status code (all are "400 Bad Request";
//! the 403/404/409/422 checks need keys and state and belong to the witness).

use crate::hash::{
    parse_decimal_u64, take_line, take_proof_lines, DecimalError, Hash, ProofLinesError, TreeSize,
};
use crate::merkle::PROOF_HASHES_MAX;
use crate::note::{parse_signature_lines, NoteError, NoteSignature, NOTE_BYTES_MAX};
#[allow(unused_imports)]
use crate::prelude::*;

/// Content type of the 409 Conflict body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// Largest add-checkpoint request body accepted, in bytes.
pub const ADD_CHECKPOINT_BODY_BYTES_MAX: usize = NOTE_BYTES_MAX + 32 + PROOF_HASHES_MAX * 45 + 1;

/// add-checkpoint wire format violations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessWireError {
    /// The body is larger than [`ADD_CHECKPOINT_BODY_BYTES_MAX`].
    #[error("request body too large")]
    BodyTooLarge,
    /// The body does not start with a newline-terminated `old ` line.
    #[error("missing old size line")]
    MissingOldLine,
    /// The old size is empty or not ASCII decimal.
    #[error("old size is not a decimal number")]
    OldSizeNotDecimal,
    /// The old size has a leading zero.
    #[error("old size has a leading zero")]
    OldSizeLeadingZero,
    /// The old size does not fit in 64 bits.
    #[error("old size overflows u64")]
    OldSizeOverflow,
    /// A consistency proof line is not a base64 SHA-256 hash.
    #[error("proof line {0} is not a base64 hash")]
    BadProofLine(usize),
    /// More than 63 consistency proof lines.
    #[error("more than {PROOF_HASHES_MAX} proof lines")]
    TooManyProofLines,
    /// The body ends before the empty line separating proof and checkpoint.
    #[error("missing empty line before the checkpoint")]
    MissingBlankLine,
    /// Nothing follows the empty line.
    #[error("missing checkpoint")]
    EmptyCheckpoint,
    /// The 409 size body is not `<decimal>\n`.
    #[error("malformed size body")]
    BadSizeBody,
    /// The response is not a sequence of signature lines.
    #[error("malformed cosignature response: {0}")]
    BadResponse(NoteError),
}

/// An add-checkpoint request. Fields are public for construction;
/// [`AddCheckpointRequest::encode`] re-validates them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AddCheckpointRequest {
    /// Size of the latest checkpoint the client believes the witness cosigned.
    pub old_size: TreeSize,
    /// Consistency proof from `old_size` to the checkpoint size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim (not parsed here).
    pub checkpoint: Vec<u8>,
}

impl AddCheckpointRequest {
    /// Parses a request body (c2sp tlog-witness "add-checkpoint").
    pub fn parse(body: &[u8]) -> Result<Self, WitnessWireError> {
        if body.len() > ADD_CHECKPOINT_BODY_BYTES_MAX {
            return Err(WitnessWireError::BodyTooLarge);
        }
        let (line, mut rest) = take_line(body).ok_or(WitnessWireError::MissingOldLine)?;
        let old = line
            .strip_prefix(b"old ")
            .ok_or(WitnessWireError::MissingOldLine)?;
        let old = core::str::from_utf8(old).map_err(|_| WitnessWireError::OldSizeNotDecimal)?;
        let old_size = parse_decimal_u64(old).map_err(|e| match e {
            DecimalError::LeadingZero => WitnessWireError::OldSizeLeadingZero,
            DecimalError::Overflow => WitnessWireError::OldSizeOverflow,
            DecimalError::Empty | DecimalError::NotDigits => WitnessWireError::OldSizeNotDecimal,
        })?;
        let (proof, after) = take_proof_lines(rest).map_err(|e| match e {
            ProofLinesError::MissingBlankLine => WitnessWireError::MissingBlankLine,
            ProofLinesError::TooMany => WitnessWireError::TooManyProofLines,
            ProofLinesError::BadLine(n) => WitnessWireError::BadProofLine(n),
        })?;
        rest = after;
        if rest.is_empty() {
            return Err(WitnessWireError::EmptyCheckpoint);
        }
        Ok(AddCheckpointRequest {
            old_size: TreeSize::new(old_size),
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// Encodes the request body (c2sp tlog-witness "add-checkpoint").
    pub fn encode(&self) -> Result<Vec<u8>, WitnessWireError> {
        if self.proof.len() > PROOF_HASHES_MAX {
            return Err(WitnessWireError::TooManyProofLines);
        }
        if self.checkpoint.is_empty() {
            return Err(WitnessWireError::EmptyCheckpoint);
        }
        // c2sp tlog-witness "add-checkpoint": "old <size>\n", proof lines,
        // empty line, checkpoint.
        let mut s = format!("old {}\n", self.old_size.get());
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        if out.len() > ADD_CHECKPOINT_BODY_BYTES_MAX {
            return Err(WitnessWireError::BodyTooLarge);
        }
        Ok(out)
    }
}

/// Encodes the 409 Conflict body: the size in decimal and a newline.
pub fn encode_size_body(size: TreeSize) -> String {
    format!("{}\n", size.get())
}

/// Parses the 409 Conflict `text/x.tlog.size` body.
pub fn parse_size_body(body: &[u8]) -> Result<TreeSize, WitnessWireError> {
    let digits = body
        .strip_suffix(b"\n")
        .ok_or(WitnessWireError::BadSizeBody)?;
    let s = core::str::from_utf8(digits).map_err(|_| WitnessWireError::BadSizeBody)?;
    parse_decimal_u64(s)
        .map(TreeSize::new)
        .map_err(|_| WitnessWireError::BadSizeBody)
}

/// Parses a 200 response body: one or more note signature lines.
pub fn parse_add_checkpoint_response(body: &[u8]) -> Result<Vec<NoteSignature>, WitnessWireError> {
    parse_signature_lines(body).map_err(WitnessWireError::BadResponse)
}
