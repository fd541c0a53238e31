//! Statements the service signs on a caller's behalf: the registry
//! authority signs a payload carrying `on_behalf_of` (the caller), which
//! the fold treats as the caller's own statement (`twin::Delegated`). Used
//! by every write of the API that does not take a statement the caller
//! signed itself (the DataTrails layer, alarm verdicts, incidents, security
//! profiles).

use std::sync::Arc;

use serde_json::{json, Value};
use transparency::TransparencyService;
use twin::StakeholderId;
use twin_store::Projector;

use crate::archivist::{AuthoritySigner, Disclosure, PROJECTED_WAIT_S_MAX, SALT_RANDOM_BYTES};
use crate::ServiceError;

type Res<T> = Result<T, ServiceError>;

/// Registers statements signed by the authority on callers' behalf.
#[derive(Clone)]
pub struct Delegate {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    sign: AuthoritySigner,
}

impl Delegate {
    /// Registration through `scitt`, projection by `projector`, statements
    /// signed by `sign`.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        sign: AuthoritySigner,
    ) -> Delegate {
        Delegate {
            projector,
            scitt,
            sign,
        }
    }

    /// Registers a statement signed by the authority on `caller`'s behalf
    /// and waits until it is projected; answers its entry. A private
    /// statement enters the log as a hash envelope over its salted payload,
    /// and the payload is kept beside the log (under the caller's payload
    /// quota).
    pub async fn register(
        &self,
        caller: &StakeholderId,
        subject: &str,
        mut payload: Value,
        disclosure: Disclosure,
    ) -> Res<u64> {
        // The authority's own statements name no principal.
        let own = self.projector.meta().registry.authority() == Some(caller);
        if !own {
            payload["on_behalf_of"] = json!(caller.0);
        }
        if disclosure == Disclosure::Private {
            payload[twin::statement::SALT] = json!(salt());
        }
        let bytes = serde_json::to_vec(&payload).map_err(ServiceError::internal)?;
        let statement = (self.sign)(subject, &bytes, disclosure);
        let registered = match disclosure {
            Disclosure::Public => self.scitt.register(statement).await,
            Disclosure::Private => self.scitt.register_with_payload(statement, &bytes).await,
        };
        let registered = registered.map_err(|e| match e {
            transparency::RegisterError::Refused(why) => {
                if why.contains("may not")
                    || why.contains("manufacturer")
                    || why.contains("no role")
                    || why.contains("delegation")
                {
                    ServiceError::forbidden(why)
                } else {
                    ServiceError::invalid(why)
                }
            }
            transparency::RegisterError::Append(log_service::AppendError::ReadOnly(why))
                if self.scitt.log().fault().is_some() =>
            {
                log_stopped(&why)
            }
            e @ transparency::RegisterError::PayloadNotKept(_) => {
                ServiceError::storage_full(e.to_string())
            }
            other => ServiceError::internal(other),
        })?;
        let entry = registered.index.get();
        let projected = self
            .projector
            .wait_projected(
                entry + 1,
                std::time::Duration::from_secs(PROJECTED_WAIT_S_MAX),
            )
            .await;
        if !projected {
            // The real reason, not "read it again shortly": a log that
            // stopped writing (a full disk) publishes nothing until it
            // recovers.
            if let Some(why) = self.scitt.log().fault() {
                return Err(log_stopped(&format!(
                    "entry {entry} is durable but not yet published: {why}"
                )));
            }
            if let Some(why) = self.projector.fault() {
                return Err(ServiceError::unavailable(format!(
                    "entry {entry} is registered, but projecting stopped: {why}"
                )));
            }
            return Err(ServiceError::unavailable(format!(
                "entry {entry} is registered but not projected yet; read it again shortly"
            )));
        }
        if let Some(why) = self
            .projector
            .store()
            .refusal(entry)
            .map_err(ServiceError::internal)?
        {
            return Err(ServiceError::invalid(format!(
                "entry {entry} was refused by the twins: {why}"
            )));
        }
        Ok(entry)
    }
}

/// The log stopped writing (read-only after a storage error).
fn log_stopped(why: &str) -> ServiceError {
    ServiceError::storage_full(format!(
        "the log is read-only after a storage error, so nothing can be registered until it recovers: {why}"
    ))
}

/// A salt for a private payload ([`twin::statement::SALT`]).
fn salt() -> String {
    use base64::Engine as _;
    use rand_core::RngCore;
    let mut b = [0u8; SALT_RANDOM_BYTES];
    rand_core::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
