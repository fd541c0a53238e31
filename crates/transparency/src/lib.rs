//! The SCITT transparency service over the sectwin log.
//!
//! Registration (SCRAPI `POST /entries`) runs the *registration policy* and
//! appends the Signed Statement's exact bytes to the log; a receipt (RFC 9942,
//! [`scitt::issue_receipt`]) is issued against the latest published
//! checkpoint once one covers the entry. Because the receipt's Merkle tree
//! *is* the log's tree, every receipt is also checkable against the
//! witnessed C2SP checkpoints.
//!
//! The registration policy:
//! 1. the statement parses and carries the SCITT headers (`alg`, `kid`, CWT
//!    `iss` and `sub`), see [`scitt::SignedStatement::parse`];
//! 2. `kid` names a key that the [`KeyDirectory`] holds for `iss` (unknown or
//!    revoked keys are refused);
//! 3. the signature verifies over an attached payload (or over the digest of a
//!    hash envelope); statements with detached payloads are refused, since the
//!    service could not check what they sign.
//!
//! Receipts are signed with the service's own key (not the log's note key:
//! one key, one signature format).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use log_service::{AppendError, Log, ProverError};
use parking_lot::RwLock;
use scitt::{PublicKey, ReceiptClaims, SignedStatement, SigningKey, StatementError};
use tlog::{Hash, LeafIndex, TreeSize};

/// Where the registration policy finds issuers' keys, and what else it
/// checks before an append (the security twins check the statement against
/// the twins: see `twin_store::TwinDirectory`).
pub trait KeyDirectory: Send + Sync {
    /// The key `kid` of issuer `issuer`, if it is registered and usable now.
    fn key(&self, issuer: &str, kid: &[u8]) -> Option<PublicKey>;

    /// The key to verify `statement` with, after checking whatever else the
    /// registration policy demands of it (its signature is checked by the
    /// caller). The default: [`KeyDirectory::key`].
    fn admit(&self, statement: &SignedStatement) -> Result<PublicKey, Refusal> {
        self.key(statement.issuer(), statement.key_id())
            .ok_or_else(|| Refusal::UnknownKey {
                issuer: statement.issuer().to_string(),
                kid_hex: hex::encode(statement.key_id()),
            })
    }

    /// [`KeyDirectory::admit`] for each of `statements`, in order (an
    /// implementation may check them all under one look at its state).
    fn admit_many(&self, statements: &[&SignedStatement]) -> Vec<Result<PublicKey, Refusal>> {
        statements.iter().map(|st| self.admit(st)).collect()
    }

    /// Like [`KeyDirectory::admit`] for a hash envelope whose payload is
    /// supplied beside it (and checked against its digest by the caller).
    fn admit_with_payload(
        &self,
        _statement: &SignedStatement,
        _payload: &[u8],
    ) -> Result<PublicKey, Refusal> {
        Err(Refusal::Refused(
            "this service does not keep payloads beside statements".into(),
        ))
    }

    /// Keeps a hash envelope's payload, durably, before the statement is
    /// appended.
    fn keep_payload(&self, _statement: &SignedStatement, _payload: &[u8]) -> Result<(), String> {
        Err("this service does not keep payloads beside statements".into())
    }

    /// Called once `statement` is durable at `index`.
    fn appended(&self, _statement: &SignedStatement, _index: LeafIndex) {}

    /// If `refusal` may be due to statements registered but not yet reflected
    /// by the state [`KeyDirectory::admit`] checks, waits (bounded) until they
    /// are and answers true: the caller then checks once more.
    fn settle<'a>(
        &'a self,
        _statement: &'a SignedStatement,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async { false })
    }
}

/// Why [`KeyDirectory::admit`] refused a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No usable key.
    #[error("issuer {issuer:?} has no registered key with kid {kid_hex}")]
    UnknownKey {
        /// `iss`.
        issuer: String,
        /// `kid`, hex.
        kid_hex: String,
    },
    /// The key is known but may not sign this statement (revoked, outside
    /// its validity period).
    #[error("{0}")]
    KeyNotValid(String),
    /// The statement does not fit the state (an unknown device, an illegal
    /// transition, a role the issuer does not hold...).
    #[error("{0}")]
    Refused(String),
}

/// A [`KeyDirectory`] held in memory (configuration, tests, the demo). The
/// stakeholder registry of the security twins is another implementation.
#[derive(Default)]
pub struct StaticKeys {
    keys: RwLock<HashMap<(String, Vec<u8>), PublicKey>>,
}

impl StaticKeys {
    /// An empty directory.
    pub fn new() -> StaticKeys {
        StaticKeys::default()
    }

    /// Registers `key` for `issuer` under its thumbprint key id.
    pub fn add(&self, issuer: &str, key: PublicKey) {
        self.keys
            .write()
            .insert((issuer.to_string(), key.thumbprint().to_vec()), key);
    }

    /// Removes a key (revocation).
    pub fn remove(&self, issuer: &str, kid: &[u8]) {
        self.keys
            .write()
            .remove(&(issuer.to_string(), kid.to_vec()));
    }
}

impl KeyDirectory for StaticKeys {
    fn key(&self, issuer: &str, kid: &[u8]) -> Option<PublicKey> {
        self.keys
            .read()
            .get(&(issuer.to_string(), kid.to_vec()))
            .cloned()
    }
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The statement is malformed, lacks a required header, or its signature
    /// does not verify.
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The issuer has no such key (unknown, or revoked).
    #[error("issuer {issuer:?} has no registered key with kid {kid_hex}")]
    UnknownKey {
        /// `iss`.
        issuer: String,
        /// `kid`, hex.
        kid_hex: String,
    },
    /// The key may not sign this statement (revoked, outside its validity).
    #[error("{0}")]
    KeyNotValid(String),
    /// The statement does not fit the security twins.
    #[error("{0}")]
    Refused(String),
    /// A detached payload cannot be checked by the service.
    #[error("the payload is detached; attach it, or register a hash envelope (payload_hash_alg 258) over it")]
    DetachedPayload,
    /// The log refused the append (busy, read-only, too large).
    #[error(transparent)]
    Append(#[from] AppendError),
}

impl From<Refusal> for RegisterError {
    fn from(r: Refusal) -> RegisterError {
        match r {
            Refusal::UnknownKey { issuer, kid_hex } => {
                RegisterError::UnknownKey { issuer, kid_hex }
            }
            Refusal::KeyNotValid(m) => RegisterError::KeyNotValid(m),
            Refusal::Refused(m) => RegisterError::Refused(m),
        }
    }
}

/// A registered statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// Its index in the log (its entry id).
    pub index: LeafIndex,
    /// Its leaf hash.
    pub leaf: Hash,
    /// True if the identical statement was registered before.
    pub duplicate: bool,
}

/// Why a receipt could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptLookupError {
    /// No entry with that index.
    #[error("no entry {0}")]
    NotFound(LeafIndex),
    /// The entry is durable but no checkpoint covers it yet.
    #[error("entry {0} is registered but not yet covered by a published checkpoint")]
    Pending(LeafIndex),
    /// The stored entry is not a Signed Statement (it was appended through
    /// the raw log API).
    #[error("entry {0} is not a signed statement")]
    NotAStatement(LeafIndex),
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] ProverError),
}

/// The transparency service: see the module documentation.
pub struct TransparencyService {
    log: Log,
    keys: Arc<dyn KeyDirectory>,
    receipt_key: SigningKey,
    issuer: String,
}

impl TransparencyService {
    /// A service registering into `log`, checking issuers' keys in `keys`,
    /// signing receipts with `receipt_key` as `issuer`.
    pub fn new(
        log: Log,
        keys: Arc<dyn KeyDirectory>,
        receipt_key: SigningKey,
        issuer: &str,
    ) -> TransparencyService {
        TransparencyService {
            log,
            keys,
            receipt_key,
            issuer: issuer.to_string(),
        }
    }

    /// The service's issuer name (`iss` of its receipts).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys relying parties verify receipts with.
    pub fn service_keys(&self) -> Vec<PublicKey> {
        vec![self.receipt_key.public_key()]
    }

    /// The log behind the service.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Applies the registration policy to `bytes` (no log access).
    pub fn check(&self, bytes: &[u8]) -> Result<SignedStatement, RegisterError> {
        let (statement, key) = self.lookup(bytes)?;
        statement.verify(&key)?;
        Ok(statement)
    }

    /// The policy, waiting once for pending state if the directory asks.
    async fn check_settled(&self, bytes: &[u8]) -> Result<SignedStatement, RegisterError> {
        match self.check(bytes) {
            Err(
                RegisterError::UnknownKey { .. }
                | RegisterError::KeyNotValid(_)
                | RegisterError::Refused(_),
            ) if self.settles(bytes).await => self.check(bytes),
            other => other,
        }
    }

    async fn settles(&self, bytes: &[u8]) -> bool {
        match SignedStatement::parse(bytes) {
            Ok(st) => self.keys.settle(&st).await,
            Err(_) => false,
        }
    }

    /// Registers many Signed Statements: the policy for each (Ed25519
    /// signatures checked with batch verification), then durable appends of
    /// the accepted ones, submitted together so they share group commits.
    /// One result per input, in order.
    pub async fn register_batch(
        &self,
        statements: Vec<Vec<u8>>,
    ) -> Vec<Result<Registered, RegisterError>> {
        let mut checked = self.lookup_many(&statements);
        for (i, c) in checked.iter_mut().enumerate() {
            if matches!(
                c,
                Err(RegisterError::UnknownKey { .. }
                    | RegisterError::KeyNotValid(_)
                    | RegisterError::Refused(_))
            ) && self.settles(&statements[i]).await
            {
                *c = self.lookup(&statements[i]);
            }
        }
        let pairs: Vec<(usize, &SignedStatement, &PublicKey)> = checked
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().ok().map(|(s, k)| (i, s, k)))
            .collect();
        let items: Vec<(&SignedStatement, &PublicKey)> =
            pairs.iter().map(|(_, s, k)| (*s, *k)).collect();
        let verdicts = scitt::verify_many(&items);
        let failed: Vec<(usize, StatementError)> = pairs
            .iter()
            .zip(verdicts)
            .filter_map(|((i, _, _), v)| v.err().map(|e| (*i, e)))
            .collect();
        for (i, e) in failed {
            checked[i] = Err(RegisterError::Statement(e));
        }
        let appends = statements
            .into_iter()
            .zip(checked)
            .map(|(bytes, c)| async move {
                let leaf = tlog::leaf_hash(&bytes);
                if let Some(index) = self.log.lookup(&leaf)? {
                    return Ok(Registered {
                        index,
                        leaf,
                        duplicate: true,
                    });
                }
                let (statement, _) = c?;
                let appended = self.log.append(bytes).await?;
                self.keys.appended(&statement, appended.index);
                Ok(Registered {
                    index: appended.index,
                    leaf,
                    duplicate: appended.duplicate,
                })
            });
        futures::future::join_all(appends).await
    }

    /// [`TransparencyService::lookup`] for many statements, admitted together.
    fn lookup_many(
        &self,
        statements: &[Vec<u8>],
    ) -> Vec<Result<(SignedStatement, PublicKey), RegisterError>> {
        let parsed: Vec<Result<SignedStatement, RegisterError>> = statements
            .iter()
            .map(|bytes| {
                let st = SignedStatement::parse(bytes)?;
                if st.payload().is_none() {
                    return Err(RegisterError::DetachedPayload);
                }
                Ok(st)
            })
            .collect();
        let ok: Vec<&SignedStatement> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
        let mut keys = self.keys.admit_many(&ok).into_iter();
        parsed
            .into_iter()
            .map(|p| {
                let st = p?;
                let key = keys
                    .next()
                    .unwrap_or_else(|| Err(Refusal::Refused("no admission decision".into())))?;
                Ok((st, key))
            })
            .collect()
    }

    /// Parses `bytes` and finds the issuer's key (policy steps 1 and 2).
    fn lookup(&self, bytes: &[u8]) -> Result<(SignedStatement, PublicKey), RegisterError> {
        let statement = SignedStatement::parse(bytes)?;
        if statement.payload().is_none() {
            return Err(RegisterError::DetachedPayload);
        }
        let key = self.keys.admit(&statement)?;
        Ok((statement, key))
    }

    /// Registers a Signed Statement: policy, then a durable append. Answers
    /// once the entry is durable (not yet covered by a checkpoint).
    pub async fn register(&self, bytes: Vec<u8>) -> Result<Registered, RegisterError> {
        let leaf = tlog::leaf_hash(&bytes);
        // The identical statement registered before answers its entry: it
        // passed the policy then, and what it says has been folded in since.
        if let Some(index) = self.log.lookup(&leaf)? {
            return Ok(Registered {
                index,
                leaf,
                duplicate: true,
            });
        }
        let statement = self.check_settled(&bytes).await?;
        let appended = self.log.try_append(bytes).await?;
        self.keys.appended(&statement, appended.index);
        Ok(Registered {
            index: appended.index,
            leaf,
            duplicate: appended.duplicate,
        })
    }

    /// Registers a hash envelope with its payload kept beside it (never in
    /// the log): the payload must match the envelope's digest; the policy
    /// checks the statement with its content; the payload is kept durably
    /// before the statement is appended.
    pub async fn register_with_payload(
        &self,
        bytes: Vec<u8>,
        payload: &[u8],
    ) -> Result<Registered, RegisterError> {
        let statement = SignedStatement::parse(&bytes)?;
        if statement.payload_hash().is_none() {
            return Err(RegisterError::Refused(
                "a payload is supplied beside a hash envelope only; this statement carries its payload".into(),
            ));
        }
        statement.check_preimage(payload)?;
        let leaf = tlog::leaf_hash(&bytes);
        if let Some(index) = self.log.lookup(&leaf)? {
            return Ok(Registered {
                index,
                leaf,
                duplicate: true,
            });
        }
        let admit = |st: &SignedStatement| {
            self.keys
                .admit_with_payload(st, payload)
                .map_err(RegisterError::from)
        };
        let key = match admit(&statement) {
            Err(_) if self.keys.settle(&statement).await => admit(&statement)?,
            other => other?,
        };
        statement.verify(&key)?;
        self.keys
            .keep_payload(&statement, payload)
            .map_err(RegisterError::Refused)?;
        let appended = self.log.try_append(bytes).await?;
        self.keys.appended(&statement, appended.index);
        Ok(Registered {
            index: appended.index,
            leaf,
            duplicate: appended.duplicate,
        })
    }

    /// Waits up to `wait` for a checkpoint covering `index`; true if one is
    /// published.
    pub async fn wait_covered(&self, index: LeafIndex, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.log.wait_published(index.get() + 1))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The registered statement at `index` (covered by a checkpoint).
    pub fn statement(&self, index: LeafIndex) -> Result<Vec<u8>, ReceiptLookupError> {
        let size = self.covering_size(index)?;
        Ok(self.log.prover().entry(index, size)?)
    }

    fn covering_size(&self, index: LeafIndex) -> Result<TreeSize, ReceiptLookupError> {
        let size = self.log.published().size;
        if index.get() < size.get() {
            return Ok(size);
        }
        if index.get() < self.log.durable_size().get() {
            return Err(ReceiptLookupError::Pending(index));
        }
        Err(ReceiptLookupError::NotFound(index))
    }

    /// A receipt for entry `index` against the latest published checkpoint.
    pub fn receipt(
        &self,
        index: LeafIndex,
        now_unix_s: i64,
    ) -> Result<Vec<u8>, ReceiptLookupError> {
        let published = self.log.published();
        let size = published.size;
        if index.get() >= size.get() {
            return Err(self
                .covering_size(index)
                .err()
                .unwrap_or(ReceiptLookupError::Pending(index)));
        }
        let prover = self.log.prover();
        let entry = prover.entry(index, size)?;
        let statement =
            SignedStatement::parse(&entry).map_err(|_| ReceiptLookupError::NotAStatement(index))?;
        let path = prover.inclusion(index, size)?;
        let claims = ReceiptClaims {
            issuer: self.issuer.clone(),
            subject: statement.subject().to_string(),
            issued_at: Some(now_unix_s),
        };
        Ok(scitt::issue_receipt(
            &self.receipt_key,
            &claims,
            size,
            index,
            &path,
            &published.root,
        ))
    }
}
