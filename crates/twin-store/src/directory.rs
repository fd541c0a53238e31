//! The registration policy of the security twins, for the SCITT transparency
//! service: keys come from the stakeholder registry in the log (and device
//! keys from the twins), and a twin statement must fit the twins as they are
//! (the same check the projector applies), so that a client gets its precise
//! 4xx and nothing is appended.
//!
//! The twins reflect published checkpoints, so a statement may depend on
//! one registered a moment ago and not yet projected (a device registered,
//! then transferred at once). The directory remembers the last entry
//! registered per subject; a refusal that may be due to such an entry waits
//! (at most [`SETTLE_WAIT_MS_MAX`]) for the projector and is checked again.
//! A statement that passes the pre-check but loses a race with another
//! registration is refused by the projector, deterministically, and shows
//! as refused in the device's timeline.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use scitt::{PublicKey, SignedStatement};
use tlog::LeafIndex;
use transparency::{KeyDirectory, Refusal};
use twin::ingest::{is_twin_subject, IngestError};
use twin::model::{DeviceId, StakeholderId};

use crate::projector::Projector;

/// Longest wait for the projector to catch up before a second check.
pub const SETTLE_WAIT_MS_MAX: u64 = 10_000;
/// Subjects remembered before pruning those already projected.
const INFLIGHT_SUBJECTS_MAX: usize = 100_000;
/// Device keys kept parsed (PEM → key and its thumbprint); past it the memo
/// starts afresh. Parsing an Ed25519 key decompresses a curve point, which
/// costs about as much as a third of verifying a signature, for every
/// report.
const PARSED_DEVICE_KEYS_MAX: usize = 262_144;

/// See the module documentation.
pub struct TwinDirectory {
    projector: Projector,
    fallback: Option<Arc<dyn KeyDirectory>>,
    inflight: Mutex<HashMap<String, u64>>,
    limits: parking_lot::RwLock<crate::StorageLimits>,
    /// Device keys parsed already, by PEM.
    device_keys: Mutex<HashMap<String, (PublicKey, [u8; 32])>>,
}

impl TwinDirectory {
    /// A directory over `projector`; statements about other subjects than
    /// twins may also use keys of `fallback` (statically configured issuers).
    pub fn new(projector: Projector, fallback: Option<Arc<dyn KeyDirectory>>) -> TwinDirectory {
        TwinDirectory {
            projector,
            fallback,
            inflight: Mutex::new(HashMap::new()),
            limits: parking_lot::RwLock::new(crate::StorageLimits::default()),
            device_keys: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the quotas and the log's reserve that kept payloads obey.
    pub fn set_limits(&self, limits: crate::StorageLimits) {
        *self.limits.write() = limits;
    }

    /// The key `st`'s device issuer signs with, as its twin records it
    /// here: [`Projection::resolve_key`]'s answer for a device, with the
    /// parsed key remembered. `None`: `st` is not a device's.
    fn device_key<S: twin::projection::State>(
        &self,
        p: &twin::projection::Projection<S>,
        st: &SignedStatement,
    ) -> Option<Result<PublicKey, Refusal>> {
        let device = DeviceId::from_subject(st.issuer())?;
        let unknown = || Refusal::UnknownKey {
            issuer: st.issuer().to_string(),
            kid_hex: hex::encode(st.key_id()),
        };
        let Some(pem) = p.device_key_pem(&device) else {
            return Some(Err(unknown()));
        };
        let mut memo = self.device_keys.lock();
        if !memo.contains_key(&pem) {
            let Ok(key) = PublicKey::from_pem(&pem) else {
                return Some(Err(unknown()));
            };
            if memo.len() >= PARSED_DEVICE_KEYS_MAX {
                memo.clear();
            }
            let thumbprint = key.thumbprint();
            memo.insert(pem.clone(), (key, thumbprint));
        }
        Some(match memo.get(&pem) {
            Some((key, thumbprint)) if thumbprint.as_slice() == st.key_id() => Ok(key.clone()),
            _ => Err(unknown()),
        })
    }

    fn pending_for(&self, st: &SignedStatement) -> Option<u64> {
        let inflight = self.inflight.lock();
        let keys = [
            st.subject().to_string(),
            format!("stakeholder:{}", st.issuer()),
            st.issuer().to_string(),
        ];
        keys.iter().filter_map(|k| inflight.get(k).copied()).max()
    }
}

fn refusal(st: &SignedStatement, e: IngestError) -> Refusal {
    use twin::registry::RegistryError as R;
    match e {
        IngestError::Key(R::UnknownIssuer(_) | R::UnknownKey { .. })
        | IngestError::DeviceKey { .. } => Refusal::UnknownKey {
            issuer: st.issuer().to_string(),
            kid_hex: hex::encode(st.key_id()),
        },
        IngestError::Key(e) => Refusal::KeyNotValid(e.to_string()),
        other => Refusal::Refused(other.to_string()),
    }
}

/// The refusal of a statement about a device, worded so that it tells the
/// issuer nothing it may not read: one who holds no role on the device
/// learns neither whether it exists nor its state (lifecycle,
/// decommissioning, who holds roles), only that it may not make this
/// statement there. (Device ids themselves are public: every statement's
/// subject is in the log.)
fn redacted<S: twin::projection::State>(
    p: &twin::projection::Projection<S>,
    st: &SignedStatement,
    e: IngestError,
) -> Refusal {
    use twin::projection::ApplyError as A;
    let hidden = matches!(
        e,
        IngestError::Apply(
            A::UnknownDevice(_)
                | A::Decommissioned(_)
                | A::IllegalTransition { .. }
                | A::NotAllowed { .. }
                | A::NoRole { .. }
                | A::BackInTime { .. }
        )
    );
    let Some(device) = DeviceId::from_subject(st.subject()).filter(|_| hidden) else {
        return refusal(st, e);
    };
    let issuer = StakeholderId(st.issuer().to_string());
    let holds_role = p
        .twin(&device)
        .is_some_and(|t| !p.roles_of(&issuer, &t).is_empty());
    if holds_role {
        return refusal(st, e);
    }
    Refusal::Refused(format!(
        "{} holds no role on device {:?} that allows this statement (or the device is not registered)",
        issuer.0, device.as_str()
    ))
}

impl KeyDirectory for TwinDirectory {
    fn key(&self, issuer: &str, kid: &[u8]) -> Option<PublicKey> {
        self.projector
            .with(|p| p.registry().key(issuer, kid, None).ok().cloned())
            .or_else(|| self.fallback.as_ref()?.key(issuer, kid))
    }

    fn verifying_key(
        &self,
        st: &SignedStatement,
        payload: Option<&[u8]>,
    ) -> Result<PublicKey, Refusal> {
        if is_twin_subject(st.subject()) {
            return self
                .projector
                .with(|p| p.resolve_key(st, payload))
                .map_err(|e| refusal(st, e));
        }
        let registered = self.projector.with(|p| {
            p.registry()
                .key(st.issuer(), st.key_id(), st.issued_at())
                .cloned()
        });
        match registered {
            Ok(k) => Ok(k),
            Err(e) => self
                .fallback
                .as_ref()
                .and_then(|f| f.key(st.issuer(), st.key_id()))
                .ok_or_else(|| refusal(st, IngestError::Key(e))),
        }
    }

    fn verifying_keys(&self, statements: &[&SignedStatement]) -> Vec<Result<PublicKey, Refusal>> {
        // Twin statements under one hold of the projection.
        let mut twins = if statements.iter().any(|st| is_twin_subject(st.subject())) {
            self.projector.with(|p| {
                statements
                    .iter()
                    .filter(|st| is_twin_subject(st.subject()))
                    .map(|st| {
                        self.device_key(p, st)
                            .unwrap_or_else(|| p.resolve_key(st, None).map_err(|e| refusal(st, e)))
                    })
                    .collect::<Vec<_>>()
            })
        } else {
            Vec::new()
        }
        .into_iter();
        statements
            .iter()
            .map(|st| {
                if is_twin_subject(st.subject()) {
                    twins
                        .next()
                        .unwrap_or_else(|| Err(Refusal::Refused("no key decision".into())))
                } else {
                    self.verifying_key(st, None)
                }
            })
            .collect()
    }

    fn admit(&self, st: &SignedStatement, payload: Option<&[u8]>) -> Result<(), Refusal> {
        if payload.is_some() {
            if !is_twin_subject(st.subject()) {
                return Err(Refusal::Refused(
                    "payloads are kept beside statements about twins only".into(),
                ));
            }
            if self.projector.payloads().is_none() {
                return Err(Refusal::Refused("this node keeps no payloads".into()));
            }
        }
        if !is_twin_subject(st.subject()) {
            return Ok(());
        }
        self.projector.with(|p| {
            p.admit(st, payload)
                .map(|_| ())
                .map_err(|e| redacted(p, st, e))
        })
    }

    fn admit_many(&self, statements: &[&SignedStatement]) -> Vec<Result<(), Refusal>> {
        // Twin statements under one hold of the projection (a batch waits
        // for the projector once, not once per statement). Their keys were
        // resolved by `verifying_keys` and their signatures checked with
        // them just before (the registration policy's order), so only the
        // twin's rules are left.
        if !statements.iter().any(|st| is_twin_subject(st.subject())) {
            return vec![Ok(()); statements.len()];
        }
        self.projector.with(|p| {
            statements
                .iter()
                .map(|st| {
                    if !is_twin_subject(st.subject()) {
                        return Ok(());
                    }
                    p.admit_resolved(st, None)
                        .map(|_| ())
                        .map_err(|e| redacted(p, st, e))
                })
                .collect()
        })
    }

    fn keeps_payloads(&self) -> bool {
        self.projector.payloads().is_some()
    }

    fn keep_payload(&self, st: &SignedStatement, payload: &[u8]) -> Result<(), String> {
        let store = self
            .projector
            .payloads()
            .ok_or_else(|| "this node keeps no payloads".to_string())?;
        // Counted against the stakeholder the statement is made by: the
        // one the registry authority signs for, if it delegates (admission
        // checked the delegation already), else the issuer.
        let on_behalf_of = twin::StatementBody::peek_on_behalf_of(payload);
        let stakeholder = on_behalf_of.as_ref().map_or(st.issuer(), |s| s.0.as_str());
        let limits = *self.limits.read();
        store
            .put_for(
                stakeholder,
                tlog::leaf_hash(st.bytes()).as_bytes(),
                payload,
                &limits,
            )
            .map_err(|e| e.to_string())
    }

    fn appended(&self, st: &SignedStatement, index: LeafIndex) {
        let mut inflight = self.inflight.lock();
        if inflight.len() >= INFLIGHT_SUBJECTS_MAX {
            let projected = self.projector.size();
            inflight.retain(|_, i| *i >= projected);
        }
        let slot = inflight.entry(st.subject().to_string()).or_insert(0);
        *slot = (*slot).max(index.get());
    }

    fn settle<'a>(
        &'a self,
        st: &'a SignedStatement,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            match self.pending_for(st) {
                Some(index) if index >= self.projector.size() => {
                    self.projector
                        .wait_projected(index + 1, Duration::from_millis(SETTLE_WAIT_MS_MAX))
                        .await
                }
                _ => false,
            }
        })
    }
}
