//! From log entries to twins: parse the Signed Statement, find the key its
//! issuer held *at this log position*, verify the signature, and apply the
//! payload. Entries that are not Signed Statements about twins (`device:`,
//! `model:`, `stakeholder:` subjects) are skipped: the log may hold other
//! things. The same function serves the live projector, `reindex`, and the
//! registration pre-check, so that all three agree by construction.

use scitt::{PublicKey, SignedStatement, StatementError};

use crate::model::DeviceId;
use crate::projection::{Applied, ApplyError, Projection, Registered, State};
use crate::registry::{stakeholder_of, RegistryError};
use crate::statement::{Delegated, StatementBody, StatementParseError};

/// Why an entry that is a twin statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The issuer holds no usable key with this kid here.
    #[error(transparent)]
    Key(#[from] RegistryError),
    /// A device-signed statement whose device has no such key.
    #[error("device {device:?} has no registered key with kid {kid}")]
    DeviceKey {
        /// The device.
        device: String,
        /// The kid, hex.
        kid: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify: {0}")]
    Signature(String),
    /// A hash envelope (or detached payload) whose content is not available.
    #[error("the payload is not in the log (hash envelope or detached) and was not supplied")]
    PayloadUnavailable,
    /// A supplied payload that does not match the envelope's digest.
    #[error("the supplied payload does not match the statement: {0}")]
    PayloadMismatch(String),
    /// The model refuses the statement.
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Whether a statement subject belongs to the twins.
pub fn is_twin_subject(subject: &str) -> bool {
    subject.starts_with("device:")
        || subject.starts_with("model:")
        || stakeholder_of(subject).is_some()
}

/// A twin statement's content: its payload, attached or supplied.
fn content<'a>(
    st: &'a SignedStatement,
    supplied: Option<&'a [u8]>,
) -> Result<&'a [u8], IngestError> {
    if st.payload_hash().is_some() {
        let preimage = supplied.ok_or(IngestError::PayloadUnavailable)?;
        st.check_preimage(preimage)
            .map_err(|e| IngestError::PayloadMismatch(e.to_string()))?;
        return Ok(preimage);
    }
    st.payload().ok_or(IngestError::PayloadUnavailable)
}

impl<S: State> Projection<S> {
    /// The key that must have signed `st` at the current log position.
    pub fn resolve_key(
        &self,
        st: &SignedStatement,
        supplied: Option<&[u8]>,
    ) -> Result<PublicKey, IngestError> {
        let issuer = st.issuer();
        let kid = st.key_id();
        if let Some(device) = DeviceId::from_subject(issuer) {
            let key = self
                .device_key_pem(&device)
                .and_then(|pem| PublicKey::from_pem(&pem).ok())
                .filter(|k| k.thumbprint().as_slice() == kid);
            return key.ok_or_else(|| IngestError::DeviceKey {
                device: device.to_string(),
                kid: crate::registry::hex_lower(kid),
            });
        }
        let registry = self.registry();
        if registry.is_bootstrap(issuer, st.subject()) {
            // The bootstrap is signed by one of the keys it registers.
            let payload = content(st, supplied)?;
            if let Ok(StatementBody::StakeholderRegistered { keys, .. }) =
                StatementBody::parse(payload)
            {
                for (key, _) in crate::registry::Registry::parse_keys(&keys)? {
                    if key.thumbprint().as_slice() == kid {
                        return Ok(key);
                    }
                }
            }
            return Err(RegistryError::UnknownIssuer(issuer.to_string()).into());
        }
        Ok(registry.key(issuer, kid, st.issued_at())?.clone())
    }

    /// The device key its twin records (`device-registered.device_key`,
    /// PEM), if any.
    pub fn device_key_pem(&self, device: &DeviceId) -> Option<String> {
        self.twin(device).and_then(|t| t.device_key)
    }

    /// The registration pre-check of a twin statement: the key that must
    /// verify it here (the caller checks the signature) and what applying it
    /// would do. Changes nothing.
    pub fn admit(
        &self,
        st: &SignedStatement,
        supplied: Option<&[u8]>,
    ) -> Result<(PublicKey, Applied), IngestError> {
        let key = self.resolve_key(st, supplied)?;
        let applied = self.admit_resolved(st, supplied)?;
        Ok((key, applied))
    }

    /// [`Projection::admit`] of a statement whose key the caller resolved
    /// ([`Projection::resolve_key`]) and checked the signature with at this
    /// log position: what applying it would do. Changes nothing.
    pub fn admit_resolved(
        &self,
        st: &SignedStatement,
        supplied: Option<&[u8]>,
    ) -> Result<Applied, IngestError> {
        let payload = content(st, supplied)?;
        let applied = self.check(Registered {
            issued_at: st.issued_at(),
            entry: u64::MAX,
            issuer: st.issuer(),
            subject: st.subject(),
            payload,
        })?;
        Ok(applied)
    }

    /// Ingests log entry `entry`. `verified`: the signature was already
    /// checked under the key with this kid (batch verification ahead of the
    /// ordered fold); the key's validity here is checked regardless.
    /// `Ok(None)`: not a twin statement (skipped).
    pub fn ingest_statement(
        &mut self,
        entry: u64,
        st: &SignedStatement,
        verified: bool,
        supplied: Option<&[u8]>,
    ) -> Result<Option<Applied>, IngestError> {
        self.ingest_parsed(entry, st, verified, supplied, None)
    }

    /// [`Projection::ingest_statement`] with the attached payload already
    /// parsed (`parsed`: what [`StatementBody::parse_delegated`] answers
    /// for `st.payload()`; ignored for a hash envelope, whose content is
    /// `supplied`).
    pub fn ingest_parsed(
        &mut self,
        entry: u64,
        st: &SignedStatement,
        verified: bool,
        supplied: Option<&[u8]>,
        parsed: Option<Result<Delegated, StatementParseError>>,
    ) -> Result<Option<Applied>, IngestError> {
        if !is_twin_subject(st.subject()) {
            return Ok(None);
        }
        let key = self.resolve_key(st, supplied)?;
        if !verified {
            verify(st, &key, supplied)?;
        }
        let payload = content(st, supplied)?;
        let parsed = match parsed {
            Some(p) if st.payload_hash().is_none() => p,
            _ => StatementBody::parse_delegated(payload),
        };
        let registered = Registered {
            issued_at: st.issued_at(),
            entry,
            issuer: st.issuer(),
            subject: st.subject(),
            payload,
        };
        Ok(Some(self.apply_parsed(registered, parsed)?))
    }

    /// Ingests the raw bytes of log entry `entry` (see
    /// [`Projection::ingest_statement`]); entries that are not Signed
    /// Statements are skipped. Advances the projection's size past `entry`.
    pub fn ingest(&mut self, entry: u64, bytes: &[u8]) -> Result<Option<Applied>, IngestError> {
        let result = match SignedStatement::parse(bytes) {
            Ok(st) => self.ingest_statement(entry, &st, false, None),
            Err(_) => Ok(None),
        };
        self.settle(entry, &result);
        result
    }

    /// Books the outcome of entry `entry`: counts a refusal, advances the size.
    pub fn settle<T>(&mut self, entry: u64, result: &Result<T, IngestError>) {
        let meta = self.meta_mut();
        if result.is_err() {
            meta.refused += 1;
        }
        meta.size = meta.size.max(entry + 1);
    }
}

fn verify(
    st: &SignedStatement,
    key: &PublicKey,
    supplied: Option<&[u8]>,
) -> Result<(), IngestError> {
    let r: Result<(), StatementError> = if st.payload().is_some() {
        st.verify(key)
    } else if let Some(p) = supplied.filter(|_| st.payload_hash().is_none()) {
        st.verify_detached(key, p)
    } else {
        st.verify(key)
    };
    r.map_err(|e| IngestError::Signature(e.to_string()))
}
