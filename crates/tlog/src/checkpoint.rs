//! C2SP tlog-checkpoint: the checkpoint note text (origin, tree size, root
//! hash, optional extension lines), its strict parser and encoder, signing a
//! checkpoint as a signed note, and opening one against a log key.
//!
//! This module deliberately does not check consistency between checkpoints
//! (see [`crate::merkle`]) or witness quorums (see [`crate::policy`]).

use crate::hash::{parse_decimal_u64, DecimalError, Hash, HashError, TreeSize};
use crate::note::{verify_note, KeyType, Note, NoteError, Signer, Verifier, NOTE_BYTES_MAX};
#[allow(unused_imports)]
use crate::prelude::*;

/// Most extension lines accepted in a checkpoint.
pub const CHECKPOINT_EXTENSIONS_MAX: usize = 32;

/// Errors building, parsing or opening checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is larger than a note may be.
    #[error("checkpoint text too large")]
    TooLarge,
    /// The text contains a control character other than newline.
    #[error("checkpoint contains a control character")]
    ControlCharacter,
    /// The text does not end with a newline.
    #[error("checkpoint text does not end with a newline")]
    MissingFinalNewline,
    /// Fewer than three lines.
    #[error("checkpoint has fewer than three lines")]
    MissingLines,
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The origin contains a newline (constructor only).
    #[error("checkpoint origin contains a newline")]
    OriginNewline,
    /// The size line has a leading zero.
    #[error("checkpoint size has a leading zero")]
    SizeLeadingZero,
    /// The size line is empty or not ASCII decimal.
    #[error("checkpoint size is not a decimal number")]
    SizeNotDecimal,
    /// The size does not fit in 64 bits.
    #[error("checkpoint size overflows u64")]
    SizeOverflow,
    /// The root hash line is not base64 of 32 bytes.
    #[error("checkpoint root hash: {0}")]
    BadRoot(HashError),
    /// An extension line is empty or contains a newline.
    #[error("checkpoint extension line is empty or contains a newline")]
    BadExtension,
    /// More than [`CHECKPOINT_EXTENSIONS_MAX`] extension lines.
    #[error("checkpoint has more than {CHECKPOINT_EXTENSIONS_MAX} extension lines")]
    TooManyExtensions,
    /// The note could not be parsed or verified.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The origin line does not equal the log key's name.
    #[error("checkpoint origin {origin:?} does not match log key name {key_name:?}")]
    OriginMismatch {
        /// Checkpoint origin.
        origin: String,
        /// Log key name.
        key_name: String,
    },
}

/// A transparency log checkpoint (the note text, unsigned).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    origin: String,
    size: TreeSize,
    root: Hash,
    extensions: Vec<String>,
}

fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20)
}

impl Checkpoint {
    /// Builds a checkpoint; the origin must be non-empty and free of control
    /// characters (including newline).
    pub fn new(origin: &str, size: TreeSize, root: Hash) -> Result<Self, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if origin.contains('\n') {
            return Err(CheckpointError::OriginNewline);
        }
        if has_control(origin) {
            return Err(CheckpointError::ControlCharacter);
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Replaces the extension lines (each non-empty, without newlines or
    /// control characters). Extension lines are NOT RECOMMENDED by the spec.
    pub fn with_extensions(mut self, extensions: Vec<String>) -> Result<Self, CheckpointError> {
        if extensions.len() > CHECKPOINT_EXTENSIONS_MAX {
            return Err(CheckpointError::TooManyExtensions);
        }
        for e in &extensions {
            if e.is_empty() || e.contains('\n') {
                return Err(CheckpointError::BadExtension);
            }
            if has_control(e) {
                return Err(CheckpointError::ControlCharacter);
            }
        }
        self.extensions = extensions;
        Ok(self)
    }

    /// Parses checkpoint note text (c2sp tlog-checkpoint "Note text"),
    /// including the final newline.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > NOTE_BYTES_MAX {
            return Err(CheckpointError::TooLarge);
        }
        if text.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(CheckpointError::ControlCharacter);
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MissingLines);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_decimal_u64(size).map_err(|e| match e {
            DecimalError::LeadingZero => CheckpointError::SizeLeadingZero,
            DecimalError::Overflow => CheckpointError::SizeOverflow,
            DecimalError::Empty | DecimalError::NotDigits => CheckpointError::SizeNotDecimal,
        })?;
        let root = Hash::from_base64(root).map_err(CheckpointError::BadRoot)?;
        let mut extensions = Vec::new();
        for e in lines {
            if e.is_empty() {
                return Err(CheckpointError::BadExtension);
            }
            if extensions.len() >= CHECKPOINT_EXTENSIONS_MAX {
                return Err(CheckpointError::TooManyExtensions);
            }
            extensions.push(e.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size: TreeSize::new(size),
            root,
            extensions,
        })
    }

    /// Encodes the note text: origin, decimal size, base64 root, extension
    /// lines, each newline-terminated (c2sp tlog-checkpoint "Note text").
    pub fn to_text(&self) -> String {
        // c2sp tlog-checkpoint "Note text": three mandatory lines then
        // optional extension lines, each ending in U+000A.
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size.get(),
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Tree size.
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// Root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Extension lines (without newlines).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

/// Signs a checkpoint and returns the whole signed note bytes (text, blank
/// line, one Ed25519 signature line).
pub fn sign_checkpoint(cp: &Checkpoint, signer: &Signer) -> Vec<u8> {
    let text = cp.to_text();
    // c2sp signed-note "Format": text, blank line, signature lines.
    let mut out = text.clone().into_bytes();
    out.push(b'\n');
    out.extend_from_slice(signer.sign_line(&text).as_bytes());
    out
}

/// Parses a signed checkpoint, verifies the log's Ed25519 signature (other
/// signatures are ignored, per signed-note) and requires the origin to equal
/// the log key name.
pub fn open_checkpoint(
    note_bytes: &[u8],
    log: &Verifier,
) -> Result<(Checkpoint, Note), CheckpointError> {
    if log.key_type() != KeyType::Ed25519 {
        return Err(CheckpointError::Note(NoteError::WrongKeyType));
    }
    let note = Note::parse(note_bytes)?;
    verify_note(&note, core::slice::from_ref(log))?;
    let cp = Checkpoint::parse_text(note.text())?;
    if cp.origin != log.name() {
        return Err(CheckpointError::OriginMismatch {
            origin: cp.origin,
            key_name: log.name().to_owned(),
        });
    }
    Ok((cp, note))
}
