//! SCITT Signed Statements: COSE_Sign1 (RFC 9052) whose protected header
//! carries `alg`, `kid` and `CWT Claims` (RFC 9597) with `iss` and `sub`
//! (SCITT architecture §"Signed Statements"). The payload is attached, or
//! detached; a *hash envelope* signs the hash of a payload kept elsewhere
//! (labels 258–260), which is how large or confidential payloads are
//! registered: the log holds the envelope, the payload is served under policy.

#[allow(unused_imports)]
use crate::prelude::*;
use ciborium::Value;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, Label, TaggedCborSerializable,
};
use sha2::{Digest, Sha256};

use crate::key::{Algorithm, KeyError, PublicKey, SigningKey};
use crate::labels;
use crate::STATEMENT_BYTES_MAX;

/// Longest `iss` accepted (SCITT architecture: 1 to 8192 characters).
pub const ISSUER_CHARS_MAX: usize = 8192;
/// Longest `sub` accepted.
pub const SUBJECT_CHARS_MAX: usize = 8192;

/// Why a Signed Statement was refused. Each variant is a distinct client
/// error with a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Larger than a log entry may be.
    #[error("signed statement of {bytes} bytes exceeds {max_bytes} bytes; register a hash envelope (detached payload) instead")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// Not a COSE_Sign1 in CBOR.
    #[error("not a COSE_Sign1 message: {0}")]
    Malformed(String),
    /// No `alg` in the protected header.
    #[error("the protected header has no alg (1)")]
    MissingAlgorithm,
    /// An algorithm other than EdDSA or ES256.
    #[error("unsupported algorithm {0}; use EdDSA (-8) or ES256 (-7)")]
    UnsupportedAlgorithm(String),
    /// No `kid` in the protected header.
    #[error("the protected header has no kid (4)")]
    MissingKeyId,
    /// No CWT Claims in the protected header.
    #[error("the protected header has no CWT Claims (15)")]
    MissingClaims,
    /// The CWT Claims lack a string `iss` (or it is too long).
    #[error("the CWT Claims have no valid iss (1): {0}")]
    BadIssuer(String),
    /// The CWT Claims lack a string `sub` (or it is too long).
    #[error("the CWT Claims have no valid sub (2): {0}")]
    BadSubject(String),
    /// A header is present with the wrong type.
    #[error("header {label}: {why}")]
    BadHeader {
        /// The label.
        label: i64,
        /// What is wrong.
        why: String,
    },
    /// `crit` names a header this implementation does not understand.
    #[error("critical header {0} is not understood")]
    UnknownCritical(String),
    /// A detached payload was needed to verify but not given.
    #[error("the payload is detached; supply it to verify the signature")]
    DetachedPayload,
    /// A detached payload was given, but the statement carries its payload.
    #[error("the payload is attached; verify the statement without a detached payload")]
    AttachedPayload,
    /// The signature does not verify with the key.
    #[error("signature: {0}")]
    Signature(#[from] KeyError),
    /// The key's algorithm differs from the statement's `alg`.
    #[error("the statement says alg {statement}, the key is {key}")]
    AlgorithmMismatch {
        /// `alg` of the statement.
        statement: &'static str,
        /// Algorithm of the key.
        key: &'static str,
    },
    /// A hash envelope's payload does not hash to the signed digest.
    #[error("the payload does not match the hash envelope's digest")]
    PayloadHashMismatch,
}

/// The hash-envelope part of a statement (COSE hash envelope labels 258–260).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadHash {
    /// `payload_hash_alg` (only SHA-256, -16, is supported).
    pub alg: i64,
    /// `preimage_content_type`, the media type of the hashed payload.
    pub preimage_content_type: Option<String>,
    /// `payload_location`, where the payload can be fetched.
    pub location: Option<String>,
}

/// A parsed (not yet verified) Signed Statement.
#[derive(Debug, Clone)]
pub struct SignedStatement {
    bytes: Vec<u8>,
    tagged: bool,
    sign1: CoseSign1,
    alg: Algorithm,
    kid: Vec<u8>,
    issuer: String,
    subject: String,
    issued_at: Option<i64>,
    content_type: Option<String>,
    typ: Option<String>,
    payload_hash: Option<PayloadHash>,
}

fn int_label(label: &Label) -> Option<i64> {
    match label {
        Label::Int(i) => Some(*i),
        Label::Text(_) => None,
    }
}

fn value_int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

fn rest(header: &coset::Header, label: i64) -> Option<&Value> {
    header
        .rest
        .iter()
        .find_map(|(l, v)| (int_label(l) == Some(label)).then_some(v))
}

fn text_header(header: &coset::Header, label: i64) -> Result<Option<String>, StatementError> {
    match rest(header, label) {
        None => Ok(None),
        Some(Value::Text(t)) => Ok(Some(t.clone())),
        Some(_) => Err(StatementError::BadHeader {
            label,
            why: "must be a text string".into(),
        }),
    }
}

impl SignedStatement {
    /// Parses a Signed Statement (tagged or untagged COSE_Sign1) and checks
    /// the headers SCITT requires. The signature is *not* verified here.
    pub fn parse(bytes: &[u8]) -> Result<SignedStatement, StatementError> {
        if bytes.len() > STATEMENT_BYTES_MAX {
            return Err(StatementError::TooLarge {
                bytes: bytes.len(),
                max_bytes: STATEMENT_BYTES_MAX,
            });
        }
        let (sign1, tagged) = match CoseSign1::from_tagged_slice(bytes) {
            Ok(s) => (s, true),
            Err(_) => (
                CoseSign1::from_slice(bytes)
                    .map_err(|e| StatementError::Malformed(e.to_string()))?,
                false,
            ),
        };
        let header = &sign1.protected.header;

        let alg = match &header.alg {
            None => return Err(StatementError::MissingAlgorithm),
            Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => Algorithm::from_cose(*a as i64)
                .ok_or_else(|| StatementError::UnsupportedAlgorithm(format!("{a:?}")))?,
            Some(other) => return Err(StatementError::UnsupportedAlgorithm(format!("{other:?}"))),
        };
        for c in &header.crit {
            let understood = match c {
                coset::RegisteredLabel::Assigned(_) => true,
                coset::RegisteredLabel::Text(_) => false,
            };
            if !understood {
                return Err(StatementError::UnknownCritical(format!("{c:?}")));
            }
        }
        if header.key_id.is_empty() {
            return Err(StatementError::MissingKeyId);
        }
        let claims = match rest(header, labels::CWT_CLAIMS) {
            Some(Value::Map(m)) => m,
            Some(_) => {
                return Err(StatementError::BadHeader {
                    label: labels::CWT_CLAIMS,
                    why: "CWT Claims must be a map".into(),
                })
            }
            None => return Err(StatementError::MissingClaims),
        };
        let claim = |label: i64| {
            claims
                .iter()
                .find_map(|(k, v)| (value_int(k) == Some(label)).then_some(v))
        };
        let issuer = match claim(labels::CWT_ISS) {
            Some(Value::Text(t)) if !t.is_empty() && t.chars().count() <= ISSUER_CHARS_MAX => {
                t.clone()
            }
            Some(Value::Text(t)) if t.is_empty() => {
                return Err(StatementError::BadIssuer("empty".into()))
            }
            Some(Value::Text(_)) => return Err(StatementError::BadIssuer("too long".into())),
            Some(_) => return Err(StatementError::BadIssuer("not a text string".into())),
            None => return Err(StatementError::BadIssuer("missing".into())),
        };
        let subject = match claim(labels::CWT_SUB) {
            Some(Value::Text(t)) if !t.is_empty() && t.chars().count() <= SUBJECT_CHARS_MAX => {
                t.clone()
            }
            Some(Value::Text(t)) if t.is_empty() => {
                return Err(StatementError::BadSubject("empty".into()))
            }
            Some(Value::Text(_)) => return Err(StatementError::BadSubject("too long".into())),
            Some(_) => return Err(StatementError::BadSubject("not a text string".into())),
            None => return Err(StatementError::BadSubject("missing".into())),
        };
        let issued_at = match claim(labels::CWT_IAT) {
            None => None,
            Some(v) => Some(value_int(v).ok_or(StatementError::BadHeader {
                label: labels::CWT_CLAIMS,
                why: "iat (6) must be an integer".into(),
            })?),
        };
        let content_type = match &header.content_type {
            None => None,
            Some(coset::ContentType::Text(t)) => Some(t.clone()),
            Some(coset::ContentType::Assigned(a)) => {
                Some(format!("coap-content-format:{}", *a as i64))
            }
        };
        let typ = text_header(header, labels::TYP)?;
        let payload_hash = match rest(header, labels::PAYLOAD_HASH_ALG) {
            None => None,
            Some(v) => {
                let alg = value_int(v).ok_or(StatementError::BadHeader {
                    label: labels::PAYLOAD_HASH_ALG,
                    why: "must be an integer".into(),
                })?;
                if alg != labels::ALG_SHA256 {
                    return Err(StatementError::BadHeader {
                        label: labels::PAYLOAD_HASH_ALG,
                        why: format!("hash algorithm {alg} is not supported; use SHA-256 (-16)"),
                    });
                }
                if sign1.payload.as_ref().is_some_and(|p| p.len() != 32) {
                    return Err(StatementError::BadHeader {
                        label: labels::PAYLOAD_HASH_ALG,
                        why: "a SHA-256 hash envelope's payload is a 32-byte digest".into(),
                    });
                }
                Some(PayloadHash {
                    alg,
                    preimage_content_type: text_header(header, labels::PREIMAGE_CONTENT_TYPE)?,
                    location: text_header(header, labels::PAYLOAD_LOCATION)?,
                })
            }
        };
        Ok(SignedStatement {
            bytes: bytes.to_vec(),
            tagged,
            alg,
            kid: header.key_id.clone(),
            issuer,
            subject,
            issued_at,
            content_type,
            typ,
            payload_hash,
            sign1,
        })
    }

    /// The statement's bytes exactly as parsed (for a registered statement:
    /// its log entry, which is always its [`SignedStatement::registration_form`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the message carried the COSE_Sign1 tag (18).
    pub fn is_tagged(&self) -> bool {
        self.tagged
    }

    /// The form in which the statement is registered: the SCITT architecture
    /// (§"Registration") has the unprotected header "set to an empty map
    /// before the Signed Statement can be included", and shows a Signed
    /// Statement as a tagged COSE_Sign1 (18); the message is re-encoded so,
    /// with definite lengths and the shortest heads (RFC 8949 §4.2.1),
    /// keeping exactly what the signature covers (the protected header's
    /// bytes, the payload) and the signature. Every re-encoding of one signed
    /// statement (untagged, with receipts or other unprotected headers,
    /// indefinite lengths, longer heads) has the same registration form.
    pub fn registration_form(&self) -> Vec<u8> {
        self.encode(&self.sign1.signature)
    }

    /// This statement as registered: [`SignedStatement::registration_form`]
    /// becomes its bytes.
    pub fn into_registration_form(mut self) -> SignedStatement {
        self.bytes = self.registration_form();
        self.tagged = true;
        self.sign1.unprotected = coset::Header::default();
        self
    }

    /// Every registration form of the *same* signed statement, this one's
    /// first: for ES256 also the form with the other valid signature (ECDSA
    /// signatures are malleable: anyone can turn `(r, s)` into `(r, n - s)`
    /// without the key, and both verify). A service that registers only
    /// registration forms finds any earlier registration of what the issuer
    /// signed by looking these up.
    pub fn registration_forms(&self) -> Vec<Vec<u8>> {
        let mut forms = vec![self.registration_form()];
        if self.alg == Algorithm::ES256 {
            if let Some(other) = other_ecdsa_signature(&self.sign1.signature) {
                forms.push(self.encode(&other));
            }
        }
        forms
    }

    fn encode(&self, signature: &[u8]) -> Vec<u8> {
        let sign1 = CoseSign1 {
            protected: self.sign1.protected.clone(),
            unprotected: coset::Header::default(),
            payload: self.sign1.payload.clone(),
            signature: signature.to_vec(),
        };
        // Serializing a COSE_Sign1 that was just parsed cannot fail (its
        // protected header keeps its original bytes).
        sign1.to_tagged_vec().unwrap_or_default()
    }

    /// `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// `kid`.
    pub fn key_id(&self) -> &[u8] {
        &self.kid
    }

    /// CWT `iss`: who asserts the statement.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// CWT `sub`: what the statement is about.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// CWT `iat`, seconds since the epoch, if present.
    pub fn issued_at(&self) -> Option<i64> {
        self.issued_at
    }

    /// `content type` of the payload (of the envelope for hash envelopes).
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// `typ`, if present.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The hash-envelope parameters, for statements over a payload digest.
    pub fn payload_hash(&self) -> Option<&PayloadHash> {
        self.payload_hash.as_ref()
    }

    /// The attached payload (for a hash envelope: the digest), if any.
    pub fn payload(&self) -> Option<&[u8]> {
        self.sign1.payload.as_deref()
    }

    /// Verifies the signature with `key` over the attached payload.
    pub fn verify(&self, key: &PublicKey) -> Result<(), StatementError> {
        self.check_alg(key)?;
        if self.sign1.payload.is_none() {
            return Err(StatementError::DetachedPayload);
        }
        self.sign1
            .verify_signature(b"", |sig, data| key.verify(data, sig))
            .map_err(StatementError::Signature)
    }

    /// The bytes the signature covers (the COSE `Sig_structure` over the
    /// attached payload), or `None` for a detached payload.
    pub fn to_be_signed(&self) -> Option<Vec<u8>> {
        self.sign1.payload.as_ref()?;
        Some(self.sign1.tbs_data(b""))
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.sign1.signature
    }

    /// Verifies the signature with `key` over a detached payload.
    pub fn verify_detached(&self, key: &PublicKey, payload: &[u8]) -> Result<(), StatementError> {
        self.check_alg(key)?;
        if self.sign1.payload.is_some() {
            return Err(StatementError::AttachedPayload);
        }
        self.sign1
            .verify_detached_signature(payload, b"", |sig, data| key.verify(data, sig))
            .map_err(StatementError::Signature)
    }

    /// For a hash envelope: checks that `preimage` hashes to the signed digest.
    pub fn check_preimage(&self, preimage: &[u8]) -> Result<(), StatementError> {
        let digest = Sha256::digest(preimage);
        match (&self.payload_hash, self.payload()) {
            (Some(_), Some(signed)) if signed == digest.as_slice() => Ok(()),
            _ => Err(StatementError::PayloadHashMismatch),
        }
    }

    fn check_alg(&self, key: &PublicKey) -> Result<(), StatementError> {
        if key.algorithm() != self.alg {
            return Err(StatementError::AlgorithmMismatch {
                statement: self.alg.name(),
                key: key.algorithm().name(),
            });
        }
        Ok(())
    }
}

/// `(r, n - s)` for an ES256 signature `(r, s)` (both verify), or `None` if
/// `signature` is not one.
fn other_ecdsa_signature(signature: &[u8]) -> Option<Vec<u8>> {
    let sig = p256::ecdsa::Signature::from_slice(signature).ok()?;
    let (r, s) = sig.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -*s).ok()?;
    Some(flipped.to_bytes().to_vec())
}

/// Builds and signs Signed Statements (for the CLI, devices and tests).
#[derive(Debug, Clone, Default)]
pub struct StatementBuilder {
    issuer: String,
    subject: String,
    content_type: Option<String>,
    issued_at: Option<i64>,
    payload: Vec<u8>,
    hash_envelope: Option<(Option<String>, Option<String>)>,
    detached: bool,
}

impl StatementBuilder {
    /// A statement by `issuer` about `subject` carrying `payload`.
    pub fn new(issuer: &str, subject: &str, payload: &[u8]) -> StatementBuilder {
        StatementBuilder {
            issuer: issuer.into(),
            subject: subject.into(),
            payload: payload.to_vec(),
            ..StatementBuilder::default()
        }
    }

    /// Sets the payload's media type.
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets CWT `iat`.
    pub fn issued_at(mut self, seconds: i64) -> Self {
        self.issued_at = Some(seconds);
        self
    }

    /// Signs the SHA-256 digest of the payload instead of the payload (a COSE
    /// hash envelope); `content_type` becomes the preimage content type.
    pub fn hash_envelope(mut self, location: Option<&str>) -> Self {
        self.hash_envelope = Some((self.content_type.take(), location.map(str::to_string)));
        self
    }

    /// Leaves the payload out of the message (it is still signed).
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// Signs with `key` (its thumbprint becomes `kid`) and returns the tagged
    /// COSE_Sign1 bytes.
    pub fn sign(self, key: &SigningKey) -> Vec<u8> {
        let public = key.public_key();
        let mut claims = vec![
            (Value::from(labels::CWT_ISS), Value::Text(self.issuer)),
            (Value::from(labels::CWT_SUB), Value::Text(self.subject)),
        ];
        if let Some(iat) = self.issued_at {
            claims.push((Value::from(labels::CWT_IAT), Value::from(iat)));
        }
        let mut header = HeaderBuilder::new()
            .algorithm(match public.algorithm() {
                Algorithm::EdDSA => coset::iana::Algorithm::EdDSA,
                Algorithm::ES256 => coset::iana::Algorithm::ES256,
            })
            .key_id(public.thumbprint().to_vec());
        let payload = match self.hash_envelope {
            Some((preimage_type, location)) => {
                header = header.value(labels::PAYLOAD_HASH_ALG, Value::from(labels::ALG_SHA256));
                if let Some(t) = preimage_type {
                    header = header.value(labels::PREIMAGE_CONTENT_TYPE, Value::Text(t));
                }
                if let Some(l) = location {
                    header = header.value(labels::PAYLOAD_LOCATION, Value::Text(l));
                }
                Sha256::digest(&self.payload).to_vec()
            }
            None => {
                if let Some(t) = self.content_type {
                    header = header.content_type(t);
                }
                self.payload
            }
        };
        let header = header.value(labels::CWT_CLAIMS, Value::Map(claims)).build();
        let builder = CoseSign1Builder::new().protected(header);
        let sign1 = if self.detached {
            builder
                .create_detached_signature(&payload, b"", |data| key.sign(data))
                .build()
        } else {
            builder
                .payload(payload)
                .create_signature(b"", |data| key.sign(data))
                .build()
        };
        // Serializing a COSE_Sign1 we just built cannot fail.
        sign1.to_tagged_vec().unwrap_or_default()
    }
}

/// Verifies many statements, each with its key: Ed25519 ones together with
/// Ed25519 batch verification (one multi-scalar multiplication; if the batch
/// fails, each is checked alone to find the culprits), the others one by one.
/// Answers one result per input, in order.
pub fn verify_many(items: &[(&SignedStatement, &PublicKey)]) -> Vec<Result<(), StatementError>> {
    let mut results: Vec<Option<Result<(), StatementError>>> = Vec::with_capacity(items.len());
    // Where each batched statement's result goes, with the statement.
    let mut batched: Vec<(usize, &SignedStatement, &PublicKey)> = Vec::new();
    let mut messages = Vec::new();
    let mut signatures = Vec::new();
    let mut keys = Vec::new();
    for (statement, key) in items.iter().copied() {
        if let Err(e) = statement.check_alg(key) {
            results.push(Some(Err(e)));
            continue;
        }
        let (PublicKey::Ed25519(vk), Some(tbs)) = (key, statement.to_be_signed()) else {
            results.push(Some(statement.verify(key)));
            continue;
        };
        match ed25519_dalek::Signature::from_slice(statement.signature()) {
            Ok(sig) => {
                batched.push((results.len(), statement, key));
                results.push(None);
                messages.push(tbs);
                signatures.push(sig);
                keys.push(*vk);
            }
            Err(_) => results.push(Some(statement.verify(key))),
        }
    }
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let batch_ok =
        !batched.is_empty() && ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_ok();
    for (at, statement, key) in batched {
        if let Some(slot) = results.get_mut(at) {
            *slot = Some(if batch_ok {
                Ok(())
            } else {
                statement.verify(key)
            });
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(StatementError::DetachedPayload)))
        .collect()
}
