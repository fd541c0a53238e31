//! C2SP signed-note: parsing and encoding notes and signature lines, Ed25519
//! note signers (Go `sumdb/note` private key format), verifier keys (vkeys)
//! for Ed25519 (type 0x01) and Ed25519 cosignatures (type 0x04), and note
//! verification with the spec's known/unknown key semantics.
//!
//! This module deliberately does not interpret the note text (see
//! [`crate::checkpoint`]), does not support ECDSA, RFC 6962 or ML-DSA keys, and
//! takes randomness only through an injected `CryptoRngCore`.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};

use crate::cosignature::{cosigned_message, COSIGNATURE_TIMESTAMP_MAX};

/// Largest note accepted by [`Note::parse`], in bytes.
pub const NOTE_BYTES_MAX: usize = 256 * 1024;
/// Most signature lines accepted in one note (the spec requires at least 16).
pub const NOTE_SIGNATURES_MAX: usize = 100;
/// Longest key name accepted, in bytes.
pub const KEY_NAME_BYTES_MAX: usize = 1024;
/// Signature type byte for Ed25519 note signatures (c2sp signed-note).
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte for timestamped Ed25519 cosignatures (c2sp tlog-cosignature).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Ed25519 signature length in bytes.
pub const ED25519_SIGNATURE_BYTES: usize = 64;
/// Cosignature (timestamp + Ed25519 signature) length in bytes.
pub const COSIGNATURE_BYTES: usize = 8 + ED25519_SIGNATURE_BYTES;

const SIG_LINE_PREFIX: &str = "\u{2014} ";
const SKEY_PREFIX: &str = "PRIVATE+KEY+";

/// Errors parsing, building, signing or verifying notes and keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`NOTE_BYTES_MAX`].
    #[error("note is larger than {NOTE_BYTES_MAX} bytes")]
    TooLarge,
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// The note contains an ASCII control character other than newline.
    #[error("note contains a control character")]
    ControlCharacter,
    /// The note (or note text) does not end with a newline.
    #[error("note does not end with a newline")]
    MissingFinalNewline,
    /// There is no blank line separating text and signatures.
    #[error("note has no blank line before the signatures")]
    MissingBlankLine,
    /// The note text is empty.
    #[error("note text is empty")]
    EmptyText,
    /// The signature block is empty.
    #[error("note has no signatures")]
    NoSignatures,
    /// More than [`NOTE_SIGNATURES_MAX`] signatures.
    #[error("note has more than {NOTE_SIGNATURES_MAX} signatures")]
    TooManySignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("malformed signature line")]
    MalformedSignatureLine,
    /// A key name is empty, too long, or contains spaces or `+`.
    #[error("invalid key name")]
    BadKeyName,
    /// A signature is not valid base64.
    #[error("signature is not valid base64")]
    SignatureBase64,
    /// A signature is shorter than the 4-byte key ID plus one byte.
    #[error("signature is too short")]
    SignatureTooShort,
    /// A key string does not have the expected `+`-separated shape.
    #[error("malformed key")]
    BadKeyFormat,
    /// A key ID is not 8 lowercase hex digits.
    #[error("malformed key ID")]
    BadKeyIdHex,
    /// Key material is not valid base64.
    #[error("key material is not valid base64")]
    KeyBase64,
    /// The key's signature type byte is not supported here.
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// The key material has the wrong length.
    #[error("key material has the wrong length")]
    BadKeyLength,
    /// The public key is not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    BadPublicKey,
    /// The key ID does not match the one computed from name, type and key.
    #[error("key ID does not match the key")]
    KeyIdMismatch,
    /// The key has the wrong signature type for this use.
    #[error("key has the wrong signature type for this use")]
    WrongKeyType,
    /// A signature from a known key failed to verify; the whole note is rejected.
    #[error("invalid signature from known key {name}+{key_id:08x}")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature from a known key verified.
    #[error("no signature from a known key")]
    NoVerifiedSignature,
    /// A cosignature timestamp is above 2^63-1.
    #[error("cosignature timestamp out of range")]
    TimestampOutOfRange,
}

/// Checks a key name: non-empty, bounded, no Unicode spaces, no `+`, no
/// control characters (c2sp signed-note "Format").
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name.len() > KEY_NAME_BYTES_MAX
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::BadKeyName);
    }
    Ok(())
}

/// Checks note text: non-empty, ends in newline, no control characters other
/// than newline.
pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::EmptyText);
    }
    if text.len() > NOTE_BYTES_MAX {
        return Err(NoteError::TooLarge);
    }
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    if !text.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    Ok(())
}

/// The signature type of a key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum KeyType {
    /// Ed25519 note signature (0x01).
    Ed25519,
    /// Timestamped Ed25519 checkpoint cosignature, `cosignature/v1` (0x04).
    CosignatureV1,
}

impl KeyType {
    /// The signature type identifier byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => SIG_TYPE_ED25519,
            KeyType::CosignatureV1 => SIG_TYPE_COSIGNATURE_V1,
        }
    }
    fn from_byte(b: u8) -> Result<Self, NoteError> {
        match b {
            SIG_TYPE_ED25519 => Ok(KeyType::Ed25519),
            SIG_TYPE_COSIGNATURE_V1 => Ok(KeyType::CosignatureV1),
            other => Err(NoteError::UnsupportedKeyType(other)),
        }
    }
}

/// Key ID = SHA-256(name || 0x0A || type || public key)`[:4]`, big-endian
/// (c2sp signed-note "Signatures"; c2sp tlog-cosignature "Format" for 0x04).
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', key_type.byte()]);
    h.update(public_key);
    let d = h.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(id)
}

fn parse_key_id_hex(s: &str) -> Result<u32, NoteError> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::BadKeyIdHex);
    }
    u32::from_str_radix(s, 16).map_err(|_| NoteError::BadKeyIdHex)
}

/// One signature line of a note: key name, key ID and signature bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Checked constructor (`signature` excludes the 4-byte key ID).
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<Self, NoteError> {
        check_key_name(name)?;
        if signature.is_empty() {
            return Err(NoteError::SignatureTooShort);
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        })
    }
    /// Constructor for callers that already hold a validated key name and a
    /// non-empty signature (our own signers).
    pub(crate) fn from_trusted_parts(name: &str, key_id: u32, signature: Vec<u8>) -> Self {
        NoteSignature {
            name: name.to_owned(),
            key_id,
            signature,
        }
    }
    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// Signature bytes (after the key ID).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    /// The line `— <name> base64(key ID || signature)\n` (c2sp signed-note
    /// "Signatures").
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_LINE_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }
    /// Parses one line without its trailing newline.
    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line
            .strip_prefix(SIG_LINE_PREFIX)
            .ok_or(NoteError::MalformedSignatureLine)?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::MalformedSignatureLine)?;
        check_key_name(name)?;
        let raw = BASE64
            .decode(b64.as_bytes())
            .map_err(|_| NoteError::SignatureBase64)?;
        let (id, sig) = raw
            .split_first_chunk::<4>()
            .ok_or(NoteError::SignatureTooShort)?;
        if sig.is_empty() {
            return Err(NoteError::SignatureTooShort);
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes(*id),
            signature: sig.to_vec(),
        })
    }
}

/// Parses a block of signature lines (each `— name base64\n`), e.g. a
/// tlog-witness add-checkpoint response body.
pub fn parse_signature_lines(bytes: &[u8]) -> Result<Vec<NoteSignature>, NoteError> {
    if bytes.len() > NOTE_BYTES_MAX {
        return Err(NoteError::TooLarge);
    }
    let s = core::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
    if s.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    if s.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    if !s.ends_with('\n') {
        return Err(NoteError::MissingFinalNewline);
    }
    let mut out = Vec::new();
    for line in s.split_terminator('\n') {
        if out.len() >= NOTE_SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures);
        }
        out.push(NoteSignature::parse_line(line)?);
    }
    Ok(out)
}

/// A parsed signed note: the text (including its final newline) and its
/// signature lines, in order. Signatures are not verified by parsing.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Builds a note from text and signatures (at least one).
    pub fn new(text: &str, signatures: Vec<NoteSignature>) -> Result<Self, NoteError> {
        check_text(text)?;
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if signatures.len() > NOTE_SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Parses a signed note (c2sp signed-note "Format").
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > NOTE_BYTES_MAX {
            return Err(NoteError::TooLarge);
        }
        let s = core::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if s.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(NoteError::ControlCharacter);
        }
        if !s.ends_with('\n') {
            return Err(NoteError::MissingFinalNewline);
        }
        // The text is separated from the signatures by the last empty line.
        let split = s.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let text = s.get(..split + 1).ok_or(NoteError::MissingBlankLine)?;
        let sigs = s.get(split + 2..).ok_or(NoteError::MissingBlankLine)?;
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let signatures = parse_signature_lines(sigs.as_bytes())?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, including the final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature (e.g. a witness cosignature).
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() >= NOTE_SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Encodes the note: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone().into_bytes();
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(s.to_line().as_bytes());
        }
        out
    }
}

/// An Ed25519 private key with its key name and ID, shared by [`Signer`] and
/// [`crate::cosignature::Cosigner`].
#[derive(Clone)]
pub(crate) struct KeyPair {
    name: String,
    key_id: u32,
    key_type: KeyType,
    sk: SigningKey,
}

impl KeyPair {
    pub(crate) fn generate(
        name: &str,
        key_type: KeyType,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let sk = SigningKey::generate(rng);
        Ok(Self::from_parts(name, key_type, sk))
    }

    fn from_parts(name: &str, key_type: KeyType, sk: SigningKey) -> Self {
        let key_id = key_id(name, key_type, sk.verifying_key().as_bytes());
        KeyPair {
            name: name.to_owned(),
            key_id,
            key_type,
            sk,
        }
    }

    /// `PRIVATE+KEY+<name>+<hex id>+base64(type || 32-byte seed)` (Go
    /// `sumdb/note` private key format).
    pub(crate) fn from_skey(skey: &str, key_type: KeyType) -> Result<Self, NoteError> {
        let rest = skey
            .strip_prefix(SKEY_PREFIX)
            .ok_or(NoteError::BadKeyFormat)?;
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, id_hex, b64] = parts.as_slice() else {
            return Err(NoteError::BadKeyFormat);
        };
        check_key_name(name)?;
        let id = parse_key_id_hex(id_hex)?;
        let raw = BASE64
            .decode(b64.as_bytes())
            .map_err(|_| NoteError::KeyBase64)?;
        let (ty, seed) = raw.split_first().ok_or(NoteError::BadKeyLength)?;
        if KeyType::from_byte(*ty)? != key_type {
            return Err(NoteError::WrongKeyType);
        }
        let seed: [u8; 32] = seed.try_into().map_err(|_| NoteError::BadKeyLength)?;
        let kp = Self::from_parts(name, key_type, SigningKey::from_bytes(&seed));
        if kp.key_id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(kp)
    }

    pub(crate) fn skey(&self) -> String {
        let mut raw = vec![self.key_type.byte()];
        raw.extend_from_slice(self.sk.as_bytes());
        format!(
            "{SKEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(raw)
        )
    }

    pub(crate) fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: self.key_type,
            key: self.sk.verifying_key(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn key_id(&self) -> u32 {
        self.key_id
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; ED25519_SIGNATURE_BYTES] {
        self.sk.sign(msg).to_bytes()
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 note signer (signature type 0x01).
#[derive(Clone, Debug)]
pub struct Signer {
    key: KeyPair,
}

impl Signer {
    /// Generates a new key for `name`.
    pub fn generate(name: &str, rng: &mut impl CryptoRngCore) -> Result<Self, NoteError> {
        Ok(Signer {
            key: KeyPair::generate(name, KeyType::Ed25519, rng)?,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+base64(0x01 || 32-byte seed)`.
    pub fn from_skey(skey: &str) -> Result<Self, NoteError> {
        Ok(Signer {
            key: KeyPair::from_skey(skey, KeyType::Ed25519)?,
        })
    }

    /// The private key string (secret!).
    pub fn skey(&self) -> String {
        self.key.skey()
    }

    /// The verifier key string `<name>+<hex id>+base64(0x01 || public key)`.
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

    /// Signs note text (which must be valid note text ending in a newline)
    /// and returns the signature.
    pub fn sign(&self, text: &str) -> NoteSignature {
        // c2sp signed-note "Ed25519 signatures": RFC 8032 over the note text.
        NoteSignature::from_trusted_parts(
            self.key.name(),
            self.key.key_id(),
            self.key.sign(text.as_bytes()).to_vec(),
        )
    }

    /// Signs note text and returns the signature line
    /// `— <name> base64(key ID || signature)\n`. The caller must pass valid
    /// note text (see [`Signer::sign_note`] for a checked variant).
    pub fn sign_line(&self, text: &str) -> String {
        self.sign(text).to_line()
    }

    /// Checks `text` and returns a note signed by this key.
    pub fn sign_note(&self, text: &str) -> Result<Note, NoteError> {
        check_text(text)?;
        Note::new(text, vec![self.sign(text)])
    }
}

/// A verifier key (vkey): name, key ID, signature type and Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses `<name>+<hex id>+base64(type || public key)` for types 0x01 and
    /// 0x04, checking that the key ID matches (c2sp signed-note "Verifier keys").
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let parts: Vec<&str> = vkey.splitn(3, '+').collect();
        let [name, id_hex, b64] = parts.as_slice() else {
            return Err(NoteError::BadKeyFormat);
        };
        check_key_name(name)?;
        let id = parse_key_id_hex(id_hex)?;
        let raw = BASE64
            .decode(b64.as_bytes())
            .map_err(|_| NoteError::KeyBase64)?;
        let (ty, pk) = raw.split_first().ok_or(NoteError::BadKeyLength)?;
        let key_type = KeyType::from_byte(*ty)?;
        let pk: [u8; 32] = pk.try_into().map_err(|_| NoteError::BadKeyLength)?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::BadPublicKey)?;
        if key_id(name, key_type, &pk) != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(Verifier {
            name: (*name).to_owned(),
            key_id: id,
            key_type,
            key,
        })
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Re-encodes the vkey string.
    pub fn vkey(&self) -> String {
        let mut raw = vec![self.key_type.byte()];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(raw))
    }

    /// Whether a signature line claims to be from this key (name and ID match).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Verifies one signature over `text`; returns the cosignature timestamp
    /// for type 0x04 keys.
    pub(crate) fn verify(&self, text: &str, sig: &NoteSignature) -> Result<Option<u64>, NoteError> {
        let bad = || NoteError::InvalidSignature {
            name: self.name.clone(),
            key_id: self.key_id,
        };
        match self.key_type {
            KeyType::Ed25519 => {
                let s: [u8; ED25519_SIGNATURE_BYTES] =
                    sig.signature.as_slice().try_into().map_err(|_| bad())?;
                self.key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(&s))
                    .map_err(|_| bad())?;
                Ok(None)
            }
            KeyType::CosignatureV1 => {
                // c2sp tlog-cosignature: timestamped_signature = u64 BE || sig[64].
                let (ts, s) = sig.signature.split_first_chunk::<8>().ok_or_else(bad)?;
                let s: [u8; ED25519_SIGNATURE_BYTES] = s.try_into().map_err(|_| bad())?;
                let ts = u64::from_be_bytes(*ts);
                if ts > COSIGNATURE_TIMESTAMP_MAX {
                    return Err(bad());
                }
                let msg = cosigned_message(text, ts);
                self.key
                    .verify_strict(&msg, &Signature::from_bytes(&s))
                    .map_err(|_| bad())?;
                Ok(Some(ts))
            }
        }
    }
}

/// A signature that verified against a known key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedSignature {
    name: String,
    key_id: u32,
    key_type: KeyType,
    timestamp: Option<u64>,
}

impl VerifiedSignature {
    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }
    /// Signature type of the key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
    /// Cosignature timestamp (seconds since the Epoch) for type 0x04 keys.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }
}

/// Verifies a note against known keys (c2sp signed-note "Signatures"):
/// signatures from unknown keys (name or ID differ) are ignored; a signature
/// from a known key that fails rejects the whole note; at least one known
/// signature must verify. Returns one entry per distinct verified key.
pub fn verify_note(
    note: &Note,
    verifiers: &[Verifier],
) -> Result<Vec<VerifiedSignature>, NoteError> {
    let mut out: Vec<VerifiedSignature> = Vec::new();
    for sig in &note.signatures {
        let Some(v) = verifiers.iter().find(|v| v.matches(sig)) else {
            continue;
        };
        let timestamp = v.verify(&note.text, sig)?;
        if !out.iter().any(|o| o.name == v.name && o.key_id == v.key_id) {
            out.push(VerifiedSignature {
                name: v.name.clone(),
                key_id: v.key_id,
                key_type: v.key_type,
                timestamp,
            });
        }
    }
    if out.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(out)
}
