//! `assets` and `publicassets`: create (a `device-registered` statement and
//! a `NewAsset` event), read, list.

use serde_json::{json, Map, Value};
use twin::projection::{Twin, PUBLIC_ATTRIBUTE};
use twin::sharing::ReadKind;
use twin::{DeviceId, StakeholderId};

use super::views::{asset_json, AssetContext, Scope, Viewer};
use super::SCAN_DEVICES_MAX;
use super::{device_of, new_uuid, ArchivistService, Disclosure, ListQuery, Listing, Res};
use crate::{Audit, ServiceError};

/// The filters the asset lists understand.
pub const ASSET_FILTERS: &[&str] = &[
    "attributes.",
    "confirmation_status",
    "tracked",
    "public",
    "owner",
];

/// Devices read from the store per batch.
const STORE_BATCH: usize = 256;

/// A new asset, as the client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    /// Its attributes (`arc_manufacturer`, `arc_model` or
    /// `arc_display_type`, `arc_serial_number` name the device).
    pub attributes: Map<String, Value>,
    /// Whether anyone may read it (and its creator's events).
    pub public: bool,
}

impl NewAsset {
    /// Checks a request body: an object with `attributes` and optionally
    /// `behaviours`, `public` and the fixed storage fields.
    pub fn parse(mut body: Map<String, Value>) -> Res<NewAsset> {
        for k in body.keys() {
            if !matches!(
                k.as_str(),
                "behaviours"
                    | "attributes"
                    | "public"
                    | "storage_integrity"
                    | "proof_mechanism"
                    | "chain_id"
            ) {
                return Err(ServiceError::invalid(format!(
                    "unknown asset field {k:?} (expected behaviours, attributes, public, proof_mechanism, storage_integrity)"
                )));
            }
        }
        let attributes = match body.remove("attributes") {
            Some(Value::Object(m)) => m,
            Some(_) => return Err(ServiceError::invalid("attributes must be an object")),
            None => return Err(ServiceError::invalid("an asset needs attributes")),
        };
        if let Some(b) = body.get("behaviours") {
            if !b.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Err(ServiceError::invalid(
                    "behaviours must be a list of strings",
                ));
            }
        }
        let public = match body.get("public") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ServiceError::invalid("public must be true or false")),
        };
        if attributes.contains_key(PUBLIC_ATTRIBUTE) {
            return Err(ServiceError::invalid(format!(
                "{PUBLIC_ATTRIBUTE} is reserved: use \"public\": true"
            )));
        }
        Ok(NewAsset { attributes, public })
    }
}

fn string_attr<'a>(attrs: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| attrs.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

impl ArchivistService {
    fn asset_context<'a>(&self, at_time: &'a str, base: Option<&'a str>) -> AssetContext<'a> {
        AssetContext {
            published: self.published(),
            at_time,
            public_base: base,
        }
    }

    /// Creates an asset for `caller`: a device it manufactures, registered
    /// on its behalf, with its attributes set by a `NewAsset` event.
    pub async fn create_asset(
        &self,
        caller: &StakeholderId,
        asset: NewAsset,
        public_base: Option<&str>,
    ) -> Res<Value> {
        let NewAsset {
            mut attributes,
            public,
        } = asset;
        let uuid = new_uuid();
        let subject = format!("device:{uuid}");
        let manufacturer = string_attr(&attributes, &["arc_manufacturer"])
            .map(str::to_string)
            .unwrap_or_else(|| {
                self.projector
                    .meta()
                    .registry
                    .get(caller)
                    .map_or_else(|| caller.0.clone(), |s| s.name.clone())
            });
        let registered = json!({
            "type": "device-registered",
            "manufacturer": manufacturer,
            "model": string_attr(&attributes, &["arc_model", "arc_display_type"]).unwrap_or("asset"),
            "serial": string_attr(&attributes, &["arc_serial_number"]).unwrap_or(&uuid),
        });
        let disclosure = if public {
            Disclosure::Public
        } else {
            Disclosure::Private
        };
        self.register_delegated(caller, &subject, registered, disclosure)
            .await?;
        if public {
            attributes.insert(PUBLIC_ATTRIBUTE.into(), Value::Bool(true));
        }
        let event = json!({
            "type": super::EVENT_TYPE,
            "operation": "NewAsset",
            "behaviour": "AssetCreator",
            "event_attributes": {},
            "asset_attributes": attributes,
            "timestamp_accepted": self.now_rfc3339(),
        });
        self.register_delegated(caller, &subject, event, disclosure)
            .await?;
        let device = DeviceId::new(uuid).map_err(ServiceError::internal)?;
        let twin = self
            .load_twin(&device)?
            .ok_or_else(|| ServiceError::internal("created asset not projected"))?;
        let asset = {
            let meta = self.projector.meta();
            let viewer = Viewer {
                reader: self.reads.reader(Some(caller.clone()), &meta),
                public_only: false,
            };
            let now = self.now_rfc3339();
            asset_json(
                &viewer,
                &twin,
                &mut Audit::default(),
                &self.asset_context(&now, public_base),
            )
            .ok_or_else(|| ServiceError::internal("created asset not visible to its creator"))?
        };
        self.republish_access_policies(caller).await?;
        Ok(asset)
    }

    /// One asset (`<uuid>`), or its public URL (`<uuid>:publicurl`), as
    /// `scope` sees it; the read is recorded.
    pub fn read_asset(&self, scope: &Scope, id: &str, public_base: Option<&str>) -> Res<Value> {
        let (device, publicurl) = device_of(id)?;
        let not_found = || ServiceError::not_found(format!("assets/{device} not found"));
        let twin = self.load_twin(&device)?.ok_or_else(not_found)?;
        let meta = self.projector.meta();
        let viewer = Viewer {
            reader: self.reads.reader(scope.who(), &meta),
            public_only: *scope == Scope::Public,
        };
        let mut audit = Audit::default();
        let now = self.now_rfc3339();
        let asset = asset_json(
            &viewer,
            &twin,
            &mut audit,
            &self.asset_context(&now, public_base),
        )
        .ok_or_else(not_found)?;
        audit.write(&self.reads, &viewer.reader.who, ReadKind::Twin, None)?;
        if publicurl {
            let url = asset
                .get("publicurl")
                .cloned()
                .ok_or_else(|| ServiceError::not_found(format!("assets/{device} is not public")))?;
            return Ok(json!({ "publicurl": url }));
        }
        Ok(asset)
    }

    /// The assets `scope` sees that meet the query, one page (or the count),
    /// in device id order.
    pub fn list_assets(
        &self,
        scope: &Scope,
        q: &ListQuery,
        public_base: Option<&str>,
    ) -> Res<Listing> {
        self.list_assets_where(scope, q, public_base, |_, _| true)
    }

    /// [`ArchivistService::list_assets`] of the assets that also meet
    /// `keep` (given the twin and the asset as seen).
    pub(super) fn list_assets_where(
        &self,
        scope: &Scope,
        q: &ListQuery,
        public_base: Option<&str>,
        keep: impl Fn(&Twin, &Value) -> bool,
    ) -> Res<Listing> {
        let meta = self.projector.meta();
        let viewer = Viewer {
            reader: self.reads.reader(scope.who(), &meta),
            public_only: *scope == Scope::Public,
        };
        let now = self.now_rfc3339();
        let cx = self.asset_context(&now, public_base);
        let store = self.projector.store();
        let mut cursor: Option<String> = q.after.as_ref().and_then(Value::as_str).map(String::from);
        let mut audit = Audit::default();
        let mut items: Vec<Value> = Vec::new();
        let mut total = 0u64;
        let mut next = String::new();
        let mut scanned = 0usize;
        'scan: loop {
            let batch = store
                .devices(cursor.as_deref(), STORE_BATCH)
                .map_err(ServiceError::internal)?;
            if batch.is_empty() {
                break;
            }
            for twin in batch {
                scanned += 1;
                cursor = Some(twin.device.to_string());
                if scanned > SCAN_DEVICES_MAX {
                    break 'scan;
                }
                let mut seen = Audit::default();
                let Some(asset) = asset_json(&viewer, &twin, &mut seen, &cx) else {
                    continue;
                };
                if !q.matches(&asset) || !keep(&twin, &asset) {
                    continue;
                }
                total += 1;
                if q.count_only {
                    continue;
                }
                if items.len() == q.page_size {
                    let last = items
                        .last()
                        .and_then(|a| a.get("identity"))
                        .and_then(Value::as_str)
                        .and_then(|s| s.strip_prefix("assets/"))
                        .unwrap_or_default();
                    next = q.next_token(json!(last));
                    break 'scan;
                }
                audit.merge(seen);
                items.push(asset);
            }
        }
        let who = viewer.reader.who.clone();
        if q.count_only {
            audit.write(&self.reads, &who, ReadKind::Count, Some(total))?;
            return Ok(Listing {
                items: Vec::new(),
                next_page_token: String::new(),
                total: Some(total),
            });
        }
        audit.write(&self.reads, &who, ReadKind::List, None)?;
        Ok(Listing {
            items,
            next_page_token: next,
            total: None,
        })
    }
}
