//! C2SP tlog-cosignature, Ed25519 `cosignature/v1` (signature type 0x04):
//! the signed message encoder, a [`Cosigner`] that produces timestamped
//! cosignature lines, and [`verify_cosignature`].
//!
//! This module deliberately does not implement ML-DSA-44 subtree
//! cosignatures, does not read a clock (the caller passes the timestamp), and
//! does not decide whether a timestamp is acceptable.

#[allow(unused_imports)]
use crate::prelude::*;
use rand_core::CryptoRngCore;

use crate::note::{check_text, KeyPair, KeyType, Note, NoteError, NoteSignature, Verifier};

/// Largest cosignature timestamp allowed (2^63 - 1 seconds).
pub const COSIGNATURE_TIMESTAMP_MAX: u64 = i64::MAX as u64;

/// The Ed25519 cosignature signed message: `cosignature/v1\n`,
/// `time <timestamp>\n`, then the checkpoint note text
/// (c2sp tlog-cosignature "Ed25519 signed message").
pub fn cosigned_message(checkpoint_text: &str, timestamp_s: u64) -> Vec<u8> {
    // c2sp tlog-cosignature "Ed25519 signed message": header line, timestamp
    // line (ASCII decimal, no leading zeroes), whole note body.
    let mut m = format!("cosignature/v1\ntime {timestamp_s}\n").into_bytes();
    m.extend_from_slice(checkpoint_text.as_bytes());
    m
}

/// An Ed25519 cosigner (witness key, signature type 0x04).
#[derive(Clone, Debug)]
pub struct Cosigner {
    key: KeyPair,
}

impl Cosigner {
    /// Generates a new cosigner key for `name`.
    pub fn generate(name: &str, rng: &mut impl CryptoRngCore) -> Result<Self, NoteError> {
        Ok(Cosigner {
            key: KeyPair::generate(name, KeyType::CosignatureV1, rng)?,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+base64(0x04 || 32-byte seed)`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        Ok(Cosigner {
            key: KeyPair::from_skey(skey, KeyType::CosignatureV1)?,
        })
    }

    /// The private key string (secret!).
    pub fn skey(&self) -> String {
        self.key.skey()
    }

    /// The verifier key string with type 0x04.
    pub fn vkey(&self) -> String {
        self.key.verifier().vkey()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        self.key.verifier()
    }

    /// Key name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key.key_id()
    }

    /// Cosigns checkpoint note text at `timestamp_s` and returns the
    /// signature. Errors if the text is not valid note text or the timestamp
    /// is above [`COSIGNATURE_TIMESTAMP_MAX`].
    pub fn try_cosign_signature(
        &self,
        checkpoint_text: &str,
        timestamp_s: u64,
    ) -> Result<NoteSignature, NoteError> {
        check_text(checkpoint_text)?;
        if timestamp_s > COSIGNATURE_TIMESTAMP_MAX {
            return Err(NoteError::TimestampOutOfRange);
        }
        Ok(self.cosign_unchecked(checkpoint_text, timestamp_s))
    }

    fn cosign_unchecked(&self, checkpoint_text: &str, timestamp_s: u64) -> NoteSignature {
        let sig = self
            .key
            .sign(&cosigned_message(checkpoint_text, timestamp_s));
        // c2sp tlog-cosignature "Format": timestamped_signature is the u64
        // big-endian timestamp followed by the 64-byte Ed25519 signature.
        let mut raw = Vec::with_capacity(72);
        raw.extend_from_slice(&timestamp_s.to_be_bytes());
        raw.extend_from_slice(&sig);
        NoteSignature::from_trusted_parts(self.key.name(), self.key.key_id(), raw)
    }

    /// Checked variant of [`Cosigner::cosign`].
    pub fn try_cosign(&self, checkpoint_text: &str, timestamp_s: u64) -> Result<String, NoteError> {
        Ok(self
            .try_cosign_signature(checkpoint_text, timestamp_s)?
            .to_line())
    }

    /// Cosigns checkpoint note text at `timestamp_s` (seconds since the
    /// Epoch) and returns the signature line. Timestamps above
    /// [`COSIGNATURE_TIMESTAMP_MAX`] are clamped to it; use
    /// [`Cosigner::try_cosign`] to get an error instead.
    pub fn cosign(&self, checkpoint_text: &str, timestamp_s: u64) -> String {
        self.cosign_unchecked(checkpoint_text, timestamp_s.min(COSIGNATURE_TIMESTAMP_MAX))
            .to_line()
    }
}

/// Looks for cosignatures by `witness` (a type 0x04 verifier) in `note`.
/// Returns `Ok(None)` if there is none, the timestamp if it verifies, and an
/// error if a matching line fails to verify (or the key is not type 0x04).
pub fn verify_cosignature(note: &Note, witness: &Verifier) -> Result<Option<u64>, NoteError> {
    if witness.key_type() != KeyType::CosignatureV1 {
        return Err(NoteError::WrongKeyType);
    }
    let mut found = None;
    for sig in note.signatures().iter().filter(|s| witness.matches(s)) {
        let ts = witness.verify(note.text(), sig)?;
        if found.is_none() {
            found = ts;
        }
    }
    Ok(found)
}
