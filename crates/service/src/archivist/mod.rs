//! The DataTrails (Jitsuin Archivist) use cases, mapped onto the security
//! twins; the HTTP edge (`http_api::archivist`) only extracts, calls and
//! maps. See `docs/design/archivist.md` for the mapping, field by field.
//!
//! * Assets are twins: asset `assets/<uuid>` is the device `<uuid>`
//!   (subject `device:<uuid>`); creating one registers a `device-registered`
//!   statement and a `NewAsset` `archivist-event` carrying its attributes.
//!   Every twin shows as an asset, including those registered natively.
//! * Events are statements: `archivist-event` statements (and, read-only,
//!   the twin's native statements, with their type as the operation).
//!   `archivist-event` is not in the twin's core vocabulary: it is a
//!   built-in custom type ([`event_type`]), defined here as data (a JSON
//!   Schema, a consensus rule) and given to every fold of the log by the
//!   node. It sets the twin's asset attributes from its `asset_attributes`
//!   (so `reindex` rebuilds them).
//! * Everything written is signed by the service (the registry authority)
//!   *on behalf of* the caller's stakeholder (`on_behalf_of`); the projection
//!   treats the stakeholder as the issuer for every check and marks the
//!   claim as service-signed.
//! * Reads decide per statement with the one sharing decision
//!   (`twin::projection::decide_read`, which also makes a public asset's
//!   creator's statements readable by anyone), and record reads of another
//!   organization's data before they answer.
//! * Blobs and per-stakeholder configuration (locations, subjects, access
//!   policies) are kept beside the log behind store contracts
//!   (`twin_store::archivist`); saving an access policy publishes the
//!   stakeholder's sharing policy derived from all its access policies
//!   ([`access`]).
//!
//! | module | resource |
//! |---|---|
//! | [`assets`] | `assets`, `publicassets` |
//! | [`events`] | `assets/{id}/events`, `publicassets/{id}/events` |
//! | [`blobs`] | `blobs` |
//! | [`config`] | `locations`, `subjects`, `access_policies` |
//! | [`access`] | access policies → the owner's sharing policy |
//! | [`query`] | list filters, pages and tokens |
//! | [`views`] | twins and claims as assets and events |

pub mod access;
pub mod assets;
pub mod blobs;
pub mod config;
pub mod events;
pub mod query;
pub mod views;

use std::sync::Arc;

use serde_json::{json, Value};
use transparency::TransparencyService;
use twin::projection::Twin;
use twin::{DeviceId, StakeholderId};
use twin_store::archivist::{BlobStore, ConfigStore, SideError};
use twin_store::Projector;

use crate::{Clock, ReadRecorder, ServiceError};

pub use query::{ListQuery, Listing};
pub use views::Scope;

type Res<T> = Result<T, ServiceError>;

/// The statement type of DataTrails events.
pub const EVENT_TYPE: &str = "archivist-event";

/// The DataTrails event as a built-in statement type: its payload (besides
/// `type`, `v`, `salt` and `on_behalf_of`) is the event as submitted, plus
/// the service's acceptance time; its `asset_attributes` set the asset's
/// attributes. Anyone with a role on the device records events (in
/// DataTrails, events are evidence, not consensus), except auditors, who
/// are read-only. Logs hold events of this shape since the first Archivist
/// release: the schema accepts exactly what that release accepted.
pub fn event_type() -> twin::BuiltinType {
    use twin::Role::{Device, Maintainer, Manufacturer, Operator, Owner};
    twin::BuiltinType {
        name: EVENT_TYPE.into(),
        schema: json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string"},
                "behaviour": {"type": "string"},
                "event_attributes": {"type": "object"},
                "asset_attributes": {"type": "object"},
                "timestamp_declared": {"type": ["string", "null"]},
                "timestamp_accepted": {"type": ["string", "null"]},
                "principal_declared": {}
            },
            "required": ["operation", "behaviour"],
            "additionalProperties": false
        }),
        rule: twin::Rule::new(&[Manufacturer, Owner, Operator, Maintainer, Device], &[]),
        sets_attributes: Some("asset_attributes".into()),
        update_field: None,
        description: "an event recorded through the DataTrails (Archivist) API".into(),
    }
}

/// Signs a statement payload (JSON bytes) about a subject as the registry
/// authority (the node's key stays with the node): attached for
/// [`Disclosure::Public`], a COSE hash envelope over the payload for
/// [`Disclosure::Private`].
pub type AuthoritySigner = Arc<dyn Fn(&str, &[u8], Disclosure) -> Vec<u8> + Send + Sync>;

/// Who may read a statement the service registers for a client, and so how
/// it enters the log (which anyone may mirror).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Readable by anyone (a public asset's creator's statements, sharing
    /// policies): the payload is attached, in the log.
    Public,
    /// Readable only under the owner's sharing policy: the log holds a hash
    /// envelope (the digest of a salted payload), and the payload is kept
    /// beside the log and served through the API only.
    Private,
}

/// Random bytes of the salt of a private payload (128 bits).
pub(crate) const SALT_RANDOM_BYTES: usize = 16;

/// Largest blob, in bytes (DataTrails' limit is larger; photos and SBOMs fit).
pub const BLOB_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Largest JSON body of an asset or event, in bytes (a statement payload is
/// at most `twin::statement::PAYLOAD_BYTES_MAX`).
pub const JSON_BODY_BYTES_MAX: usize = 256 * 1024;
/// Largest page.
pub const PAGE_SIZE_MAX: usize = 1000;
/// Page size when none is asked for.
pub const PAGE_SIZE_DEFAULT: usize = 100;
/// Devices examined at most to answer one list or count.
pub const SCAN_DEVICES_MAX: usize = 100_000;
/// Most items of one configuration collection per stakeholder.
pub const SIDE_ITEMS_MAX: usize = 10_000;
/// How long a write waits for its statements to be projected.
pub const PROJECTED_WAIT_S_MAX: u64 = 30;

/// The Archivist use cases over a node's twins, log and side stores.
#[derive(Clone)]
pub struct ArchivistService {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    reads: ReadRecorder,
    sign: AuthoritySigner,
    config: Arc<dyn ConfigStore>,
    blobs: Arc<dyn BlobStore>,
    /// Serializes read-modify-write of configuration items.
    config_updates: Arc<parking_lot::Mutex<()>>,
}

impl ArchivistService {
    /// The service over `projector`'s twins, registering through `scitt`
    /// statements signed by `sign`, recording reads with `reads`, keeping
    /// configuration in `config` and blobs in `blobs`.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        reads: ReadRecorder,
        sign: AuthoritySigner,
        config: Arc<dyn ConfigStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> ArchivistService {
        ArchivistService {
            projector,
            scitt,
            reads,
            sign,
            config,
            blobs,
            config_updates: Arc::new(parking_lot::Mutex::new(())),
        }
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        self.reads.clock()
    }

    /// The time now as DataTrails writes it (RFC 3339, UTC, seconds).
    fn now_rfc3339(&self) -> String {
        rfc3339(self.clock().now_unix_s())
    }

    /// The log size published now (entries below it are `CONFIRMED`).
    fn published(&self) -> u64 {
        self.scitt.log().published().size.get()
    }

    fn load_twin(&self, device: &DeviceId) -> Res<Option<Twin>> {
        self.projector
            .store()
            .twin(device)
            .map_err(ServiceError::internal)
    }

    /// Registers a statement signed by the authority on `caller`'s behalf
    /// and waits until it is projected ([`crate::delegate::Delegate`]).
    async fn register_delegated(
        &self,
        caller: &StakeholderId,
        subject: &str,
        payload: Value,
        disclosure: Disclosure,
    ) -> Res<u64> {
        crate::delegate::Delegate::new(
            self.projector.clone(),
            self.scitt.clone(),
            self.sign.clone(),
        )
        .register(caller, subject, payload, disclosure)
        .await
    }
}

/// Side data could not be read or kept: a full volume or a quota is
/// [`crate::ErrorKind::StorageFull`], anything else internal.
fn side_error(e: SideError) -> ServiceError {
    match e {
        SideError::TooMany { .. } => ServiceError::invalid(e.to_string()),
        SideError::Space(twin_store::SpaceError::Measure(detail)) => ServiceError::internal(detail),
        SideError::Space(e) => ServiceError::storage_full(e.to_string()),
        // The detail names files of the node: logged, not answered.
        e if e.is_storage_full() => {
            tracing::warn!(error = %e, "archivist: storage full");
            ServiceError::storage_full("the node's storage is full; nothing was kept")
        }
        e => ServiceError::internal(e),
    }
}

/// Unix seconds as RFC 3339 (UTC, seconds).
pub fn rfc3339(unix_s: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_s)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// A new random (v4) UUID, as identities carry it.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The device named by an asset id (`<uuid>` or `<uuid>:publicurl`), and
/// whether the public URL is asked for.
pub fn device_of(id: &str) -> Res<(DeviceId, bool)> {
    let (device, publicurl) = match id.strip_suffix(":publicurl") {
        Some(d) => (d, true),
        None => (id, false),
    };
    let device = DeviceId::new(device)
        .map_err(|e| ServiceError::not_found(format!("no asset {id:?}: {e}")))?;
    Ok((device, publicurl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ids() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        let u = new_uuid();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(u.as_bytes()[14], b'4', "{u}");
    }
}
