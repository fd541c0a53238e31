//! The SCITT transparency service over the sectwin log.
//!
//! Registration (SCRAPI `POST /entries`) runs the *registration policy* and
//! appends the Signed Statement's exact bytes to the log; a receipt (RFC 9942,
//! [`scitt::issue_receipt`]) is issued against the latest published
//! checkpoint once one covers the entry. Because the receipt's Merkle tree
//! *is* the log's tree, every receipt is also checkable against the
//! witnessed C2SP checkpoints.
//!
//! The registration policy, in this order (nothing about the twins is
//! consulted before the signature verified, so a refusal tells only a
//! holder of a registered key anything about what the service holds):
//! 1. the statement parses and carries the SCITT headers (`alg`, `kid`, CWT
//!    `iss` and `sub`), see [`scitt::SignedStatement::parse`]; statements with
//!    detached payloads are refused, since the service could not check what
//!    they sign;
//! 2. a statement already registered, under any encoding, answers its
//!    existing entry: the log holds each statement in its *registration
//!    form* ([`scitt::SignedStatement::registration_form`]: tagged, empty
//!    unprotected header, shortest CBOR), so a signed statement is
//!    identified by what its signature covers and by its signature, never
//!    by its encoding (an ES256 signature's malleable twin `(r, n - s)`
//!    included);
//! 3. its CWT `iat` lies within the [`RegistrationPolicy`]'s window around
//!    the service's clock (an old statement cannot be replayed as news);
//! 4. `kid` names a key that the [`KeyDirectory`] holds for `iss` (unknown or
//!    revoked keys are refused) and the signature verifies with it (over an
//!    attached payload, or over the digest of a hash envelope);
//! 5. the directory's own checks ([`KeyDirectory::admit`]: for the twins,
//!    that the statement fits them, which includes that it is not older than
//!    the issuer's own latest statement on the same attribute).
//!
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

    /// The key that must have signed `statement` (`payload`: a hash
    /// envelope's content, supplied beside it). Called *before* the
    /// signature is verified, so the answer may depend only on the issuer,
    /// the key id and the issued-at, and a refusal must not tell more than
    /// "no such key". The default: [`KeyDirectory::key`].
    fn verifying_key(
        &self,
        statement: &SignedStatement,
        _payload: Option<&[u8]>,
    ) -> Result<PublicKey, Refusal> {
        self.key(statement.issuer(), statement.key_id())
            .ok_or_else(|| Refusal::UnknownKey {
                issuer: statement.issuer().to_string(),
                kid_hex: hex::encode(statement.key_id()),
            })
    }

    /// [`KeyDirectory::verifying_key`] for each of `statements`, in order
    /// (an implementation may look them all up under one look at its state).
    fn verifying_keys(&self, statements: &[&SignedStatement]) -> Vec<Result<PublicKey, Refusal>> {
        statements
            .iter()
            .map(|st| self.verifying_key(st, None))
            .collect()
    }

    /// Whatever else the registration policy demands of `statement`, whose
    /// signature verified (`payload`: a hash envelope's content, supplied
    /// beside it and checked against its digest). The default: nothing.
    fn admit(&self, _statement: &SignedStatement, _payload: Option<&[u8]>) -> Result<(), Refusal> {
        Ok(())
    }

    /// [`KeyDirectory::admit`] for each of `statements`, in order (an
    /// implementation may check them all under one look at its state).
    /// Called only on statements whose keys [`KeyDirectory::verifying_keys`]
    /// answered and whose signatures verified under them, so it need not
    /// resolve the keys again.
    fn admit_many(&self, statements: &[&SignedStatement]) -> Vec<Result<(), Refusal>> {
        statements.iter().map(|st| self.admit(st, None)).collect()
    }

    /// Whether this directory keeps hash envelopes' payloads beside the log
    /// (then [`KeyDirectory::keep_payload`] is called before the append).
    fn keeps_payloads(&self) -> bool {
        false
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

/// Why a [`KeyDirectory`] refused a statement.
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
    /// The statement does not say when it was issued.
    #[error("the CWT Claims have no iat (6): this service registers only statements that say when they were issued (seconds since 1970-01-01 UTC)")]
    IssuedAtMissing,
    /// The statement was issued too long ago to be registered as news.
    #[error("the statement was issued at {issued_at} (iat), {age_s} s before the service's clock; statements are registered at most {age_s_max} s after they were issued: sign it again")]
    IssuedTooLongAgo {
        /// Its `iat`.
        issued_at: i64,
        /// How long ago, by the service's clock.
        age_s: u64,
        /// The policy's limit.
        age_s_max: u64,
    },
    /// The statement claims to be issued in the future.
    #[error("the statement was issued at {issued_at} (iat), {ahead_s} s ahead of the service's clock; at most {ahead_s_max} s of clock skew is accepted: check the signer's clock")]
    IssuedInTheFuture {
        /// Its `iat`.
        issued_at: i64,
        /// How far ahead, by the service's clock.
        ahead_s: u64,
        /// The policy's limit.
        ahead_s_max: u64,
    },
    /// The log refused the append (busy, read-only, too large).
    #[error(transparent)]
    Append(#[from] AppendError),
    /// A hash envelope's payload could not be kept beside the log (the
    /// issuer's quota, the free space kept for the log, a full disk);
    /// nothing was appended.
    #[error("the payload could not be kept: {0}")]
    PayloadNotKept(String),
}

impl RegisterError {
    /// Every [`RegisterError::reason`].
    pub const REASONS: [&'static str; 10] = [
        "bad_statement",
        "unknown_key",
        "key_not_valid",
        "refused_by_policy",
        "detached_payload",
        "issued_at_missing",
        "issued_too_long_ago",
        "issued_in_the_future",
        "log_refused",
        "payload_not_kept",
    ];

    /// Why, in one word (for counters).
    pub fn reason(&self) -> &'static str {
        let i = match self {
            RegisterError::Statement(_) => 0,
            RegisterError::UnknownKey { .. } => 1,
            RegisterError::KeyNotValid(_) => 2,
            RegisterError::Refused(_) => 3,
            RegisterError::DetachedPayload => 4,
            RegisterError::IssuedAtMissing => 5,
            RegisterError::IssuedTooLongAgo { .. } => 6,
            RegisterError::IssuedInTheFuture { .. } => 7,
            RegisterError::Append(_) => 8,
            RegisterError::PayloadNotKept(_) => 9,
        };
        Self::REASONS[i]
    }

    /// Whether the refusal may be due to statements registered but not yet
    /// reflected by the directory (then it is worth checking again once the
    /// directory settled).
    fn may_settle(&self) -> bool {
        matches!(
            self,
            RegisterError::UnknownKey { .. }
                | RegisterError::KeyNotValid(_)
                | RegisterError::Refused(_)
        )
    }
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

/// The freshness rule of the registration policy: how far a statement's CWT
/// `iat` may lie from the service's clock. The window bounds how old a
/// statement may be when it is *first* registered (replaying it later answers
/// its existing entry); that a statement does not go back in time with
/// respect to the issuer's earlier statements on the same attribute is the
/// directory's check (for the twins: `twin::projection`), under the
/// issuer's own clock, so that skew between issuers does not matter there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationPolicy {
    /// Refuse statements without `iat`.
    pub issued_at_required: bool,
    /// Oldest `iat` accepted, in seconds before the service's clock: long
    /// enough for a statement signed offline (a device's buffered report, a
    /// signing ceremony) to reach the service, short enough that a statement
    /// superseded long ago cannot be registered for the first time as news.
    pub issued_at_age_s_max: u64,
    /// Furthest `iat` accepted ahead of the service's clock: the clock skew
    /// tolerated between a signer and the service.
    pub issued_at_ahead_s_max: u64,
}

/// [`RegistrationPolicy::issued_at_age_s_max`] by default: one day.
pub const ISSUED_AT_AGE_S_MAX_DEFAULT: u64 = 24 * 60 * 60;
/// [`RegistrationPolicy::issued_at_ahead_s_max`] by default: five minutes.
pub const ISSUED_AT_AHEAD_S_MAX_DEFAULT: u64 = 5 * 60;

impl Default for RegistrationPolicy {
    fn default() -> RegistrationPolicy {
        RegistrationPolicy {
            issued_at_required: true,
            issued_at_age_s_max: ISSUED_AT_AGE_S_MAX_DEFAULT,
            issued_at_ahead_s_max: ISSUED_AT_AHEAD_S_MAX_DEFAULT,
        }
    }
}

impl RegistrationPolicy {
    /// Checks `issued_at` against the window around `now_unix_s`.
    pub fn check_issued_at(
        &self,
        issued_at: Option<i64>,
        now_unix_s: i64,
    ) -> Result<(), RegisterError> {
        let Some(issued_at) = issued_at else {
            return if self.issued_at_required {
                Err(RegisterError::IssuedAtMissing)
            } else {
                Ok(())
            };
        };
        let delta = i128::from(now_unix_s) - i128::from(issued_at);
        let clamp = |d: i128| u64::try_from(d).unwrap_or(u64::MAX);
        if delta > i128::from(self.issued_at_age_s_max) {
            return Err(RegisterError::IssuedTooLongAgo {
                issued_at,
                age_s: clamp(delta),
                age_s_max: self.issued_at_age_s_max,
            });
        }
        if -delta > i128::from(self.issued_at_ahead_s_max) {
            return Err(RegisterError::IssuedInTheFuture {
                issued_at,
                ahead_s: clamp(-delta),
                ahead_s_max: self.issued_at_ahead_s_max,
            });
        }
        Ok(())
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
    policy: RegistrationPolicy,
    clock: Arc<dyn clock::Clock>,
    counts: Arc<RegistrationCounts>,
}

/// Registrations answered since the service started: accepted (new or
/// registered before), and refused by reason ([`RegisterError::reason`]).
#[derive(Debug, Default)]
pub struct RegistrationCounts {
    accepted: std::sync::atomic::AtomicU64,
    refused: parking_lot::Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl RegistrationCounts {
    fn count(&self, result: &Result<Registered, RegisterError>) {
        match result {
            Ok(_) => {
                self.accepted
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => *self.refused.lock().entry(e.reason()).or_default() += 1,
        }
    }

    /// Accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Refused so far, by reason (every reason, zero where none was).
    pub fn refused(&self) -> Vec<(&'static str, u64)> {
        let counted = self.refused.lock();
        RegisterError::REASONS
            .iter()
            .map(|r| (*r, counted.get(r).copied().unwrap_or(0)))
            .collect()
    }
}

/// A statement through steps 1–3 of the policy.
enum Prepared {
    /// Registered before (under any encoding).
    Existing(Registered),
    /// New, in its registration form and fresh.
    New(Box<SignedStatement>),
}

impl TransparencyService {
    /// A service registering into `log`, checking issuers' keys in `keys`,
    /// signing receipts with `receipt_key` as `issuer`, under the default
    /// [`RegistrationPolicy`] and the system clock.
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
            policy: RegistrationPolicy::default(),
            clock: Arc::new(clock::SystemClock),
            counts: Arc::default(),
        }
    }

    /// The same service under `policy`.
    pub fn with_policy(mut self, policy: RegistrationPolicy) -> TransparencyService {
        self.policy = policy;
        self
    }

    /// The same service reading time from `clock` (the node's; a fixed one
    /// in tests).
    pub fn with_clock(mut self, clock: Arc<dyn clock::Clock>) -> TransparencyService {
        self.clock = clock;
        self
    }

    /// The registration policy's freshness rule.
    pub fn policy(&self) -> RegistrationPolicy {
        self.policy
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

    /// Applies the registration policy to `bytes` without the log (steps 1,
    /// 3, 4 and 5): the statement in its registration form.
    pub fn check(&self, bytes: &[u8]) -> Result<SignedStatement, RegisterError> {
        let statement = Self::parse(bytes)?.into_registration_form();
        self.fresh(&statement)?;
        self.check_signed(&statement, None)?;
        Ok(statement)
    }

    /// Step 1.
    fn parse(bytes: &[u8]) -> Result<SignedStatement, RegisterError> {
        let statement = SignedStatement::parse(bytes)?;
        if statement.payload().is_none() {
            return Err(RegisterError::DetachedPayload);
        }
        Ok(statement)
    }

    /// Step 2: the entry that registered the same signed statement, if any.
    fn existing(&self, statement: &SignedStatement) -> Result<Option<Registered>, RegisterError> {
        for form in statement.registration_forms() {
            let leaf = tlog::leaf_hash(&form);
            if let Some(index) = self.log.lookup(&leaf)? {
                return Ok(Some(Registered {
                    index,
                    leaf,
                    duplicate: true,
                }));
            }
        }
        Ok(None)
    }

    /// Step 3.
    fn fresh(&self, statement: &SignedStatement) -> Result<(), RegisterError> {
        self.policy
            .check_issued_at(statement.issued_at(), self.clock.now_unix_s())
    }

    /// Steps 1–3.
    fn prepare(&self, bytes: &[u8]) -> Result<Prepared, RegisterError> {
        self.prepare_parsed(Self::parse(bytes)?)
    }

    /// Steps 2 and 3 (and step 1's attached-payload rule) of a statement
    /// parsed already.
    fn prepare_parsed(&self, statement: SignedStatement) -> Result<Prepared, RegisterError> {
        if statement.payload().is_none() {
            return Err(RegisterError::DetachedPayload);
        }
        if let Some(existing) = self.existing(&statement)? {
            return Ok(Prepared::Existing(existing));
        }
        let statement = statement.into_registration_form();
        self.fresh(&statement)?;
        Ok(Prepared::New(Box::new(statement)))
    }

    /// Steps 4 and 5: the signature first, then the directory's checks.
    fn check_signed(
        &self,
        statement: &SignedStatement,
        payload: Option<&[u8]>,
    ) -> Result<(), RegisterError> {
        let key = self.keys.verifying_key(statement, payload)?;
        statement.verify(&key)?;
        self.keys.admit(statement, payload)?;
        Ok(())
    }

    /// Steps 4 and 5, waiting once for pending state if the directory asks.
    async fn check_settled(
        &self,
        statement: &SignedStatement,
        payload: Option<&[u8]>,
    ) -> Result<(), RegisterError> {
        match self.check_signed(statement, payload) {
            Err(e) if e.may_settle() && self.keys.settle(statement).await => {
                self.check_signed(statement, payload)
            }
            other => other,
        }
    }

    /// The durable append of a statement that passed the policy.
    async fn append(&self, statement: SignedStatement) -> Result<Registered, RegisterError> {
        let bytes = statement.bytes().to_vec();
        let leaf = tlog::leaf_hash(&bytes);
        let appended = self.log.try_append(bytes).await?;
        self.keys.appended(&statement, appended.index);
        Ok(Registered {
            index: appended.index,
            leaf,
            duplicate: appended.duplicate,
        })
    }

    /// Registers many Signed Statements: the policy for each (keys looked up
    /// and statements admitted under one look at the directory each, Ed25519
    /// signatures checked with batch verification), then durable appends of
    /// the accepted ones, submitted together so they share group commits.
    /// One result per input, in order.
    pub async fn register_batch(
        &self,
        statements: Vec<Vec<u8>>,
    ) -> Vec<Result<Registered, RegisterError>> {
        let mut results: Vec<Option<Result<Registered, RegisterError>>> =
            Vec::with_capacity(statements.len());
        let mut parsed = Vec::with_capacity(statements.len());
        let mut at = Vec::with_capacity(statements.len());
        for (i, bytes) in statements.iter().enumerate() {
            match SignedStatement::parse(bytes) {
                Ok(st) => {
                    parsed.push(st);
                    at.push(i);
                    results.push(None);
                }
                Err(e) => {
                    let refused = Err(e.into());
                    self.counts.count(&refused);
                    results.push(Some(refused));
                }
            }
        }
        drop(statements);
        for (i, result) in at.into_iter().zip(self.register_parsed_batch(parsed).await) {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(result);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(RegisterError::Refused("no decision".into()))))
            .collect()
    }

    /// [`TransparencyService::register_batch`] of statements the caller
    /// parsed already (the device channel parses each report to check it
    /// first; parsing again would cost as much as the check).
    pub async fn register_parsed_batch(
        &self,
        statements: Vec<SignedStatement>,
    ) -> Vec<Result<Registered, RegisterError>> {
        let mut results: Vec<Option<Result<Registered, RegisterError>>> =
            Vec::with_capacity(statements.len());
        let mut pending: Vec<(usize, SignedStatement)> = Vec::new();
        for (i, statement) in statements.into_iter().enumerate() {
            results.push(match self.prepare_parsed(statement) {
                Ok(Prepared::Existing(r)) => Some(Ok(r)),
                Ok(Prepared::New(st)) => {
                    pending.push((i, *st));
                    None
                }
                Err(e) => Some(Err(e)),
            });
        }
        let refs: Vec<&SignedStatement> = pending.iter().map(|(_, st)| st).collect();
        let keys = self.keys.verifying_keys(&refs);
        let mut verdicts: Vec<Result<(), RegisterError>> = Vec::with_capacity(pending.len());
        let mut items: Vec<(usize, (&SignedStatement, PublicKey))> = Vec::new();
        for (k, (st, key)) in refs.iter().zip(keys).enumerate() {
            match key {
                Ok(key) => {
                    verdicts.push(Ok(()));
                    items.push((k, (*st, key)));
                }
                Err(e) => verdicts.push(Err(e.into())),
            }
        }
        let pairs: Vec<(&SignedStatement, &PublicKey)> =
            items.iter().map(|(_, (st, key))| (*st, key)).collect();
        for ((k, _), verdict) in items.iter().zip(scitt::verify_many(&pairs)) {
            if let Err(e) = verdict {
                verdicts[*k] = Err(RegisterError::Statement(e));
            }
        }
        let verified: Vec<usize> = (0..refs.len()).filter(|k| verdicts[*k].is_ok()).collect();
        let admit: Vec<&SignedStatement> = verified.iter().map(|k| refs[*k]).collect();
        for (k, admitted) in verified.iter().zip(self.keys.admit_many(&admit)) {
            if let Err(e) = admitted {
                verdicts[*k] = Err(e.into());
            }
        }
        for (k, st) in refs.iter().enumerate() {
            if verdicts[k].as_ref().is_err_and(RegisterError::may_settle)
                && self.keys.settle(st).await
            {
                verdicts[k] = self.check_signed(st, None);
            }
        }
        let appends = pending
            .into_iter()
            .zip(verdicts)
            .map(|((i, st), verdict)| async move {
                match verdict {
                    Ok(()) => (i, self.append(st).await),
                    Err(e) => (i, Err(e)),
                }
            });
        for (i, result) in futures::future::join_all(appends).await {
            results[i] = Some(result);
        }
        let results: Vec<Result<Registered, RegisterError>> = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(RegisterError::Refused("no decision".into()))))
            .collect();
        for r in &results {
            self.counts.count(r);
        }
        results
    }

    /// Registers a Signed Statement: the policy, then a durable append of its
    /// registration form. Answers once the entry is durable (not yet covered
    /// by a checkpoint).
    pub async fn register(&self, bytes: Vec<u8>) -> Result<Registered, RegisterError> {
        let result = self.register_uncounted(bytes).await;
        self.counts.count(&result);
        result
    }

    /// What the service answered so far.
    pub fn registration_counts(&self) -> &RegistrationCounts {
        &self.counts
    }

    async fn register_uncounted(&self, bytes: Vec<u8>) -> Result<Registered, RegisterError> {
        let statement = match self.prepare(&bytes)? {
            // It passed the policy then, and what it says has been folded in
            // since.
            Prepared::Existing(r) => return Ok(r),
            Prepared::New(st) => *st,
        };
        drop(bytes);
        self.check_settled(&statement, None).await?;
        self.append(statement).await
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
        let result = self.register_with_payload_uncounted(bytes, payload).await;
        self.counts.count(&result);
        result
    }

    async fn register_with_payload_uncounted(
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
        if !self.keys.keeps_payloads() {
            return Err(RegisterError::Refused(
                "this service does not keep payloads beside statements".into(),
            ));
        }
        if let Some(existing) = self.existing(&statement)? {
            return Ok(existing);
        }
        let statement = statement.into_registration_form();
        self.fresh(&statement)?;
        self.check_settled(&statement, Some(payload)).await?;
        self.keys
            .keep_payload(&statement, payload)
            .map_err(RegisterError::PayloadNotKept)?;
        self.append(statement).await
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
