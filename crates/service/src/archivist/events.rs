//! `assets/{id}/events` and `publicassets/{id}/events`: record (an
//! `archivist-event` statement), read, list (one asset's or every asset's,
//! `-`).

use serde_json::{json, Map, Value};
use twin::projection::{Twin, PUBLIC_ATTRIBUTE};
use twin::sharing::ReadKind;
use twin::{DeviceId, StakeholderId};

use super::views::{event_json, is_event_type, Scope, Viewer};
use super::{device_of, ArchivistService, Disclosure, ListQuery, Listing, Res, SCAN_DEVICES_MAX};
use crate::{Audit, ServiceError};

/// The filters the event lists understand.
pub const EVENT_FILTERS: &[&str] = &[
    "event_attributes.",
    "asset_attributes.",
    "operation",
    "behaviour",
    "confirmation_status",
    "asset_identity",
    "from",
    "signed_by_service",
];

/// Devices read from the store per batch when listing every asset's events.
const DEVICE_BATCH: usize = 64;
/// History entries read per batch.
const HISTORY_BATCH: usize = 256;

/// A new event, checked: the `archivist-event` payload without its
/// acceptance time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    payload: Map<String, Value>,
}

impl NewEvent {
    /// Checks a request body: `operation` and `behaviour` (non-empty
    /// strings), optionally `event_attributes`, `asset_attributes` and
    /// `principal_declared` (objects) and `timestamp_declared` (a string).
    pub fn parse(body: Map<String, Value>) -> Res<NewEvent> {
        let mut payload = Map::new();
        payload.insert("type".into(), json!(super::EVENT_TYPE));
        for (k, v) in body {
            match (k.as_str(), &v) {
                ("operation" | "behaviour", Value::String(s)) if !s.is_empty() => {
                    payload.insert(k, v);
                }
                ("event_attributes" | "asset_attributes", Value::Object(_)) => {
                    payload.insert(k, v);
                }
                ("timestamp_declared", Value::String(_))
                | ("principal_declared", Value::Object(_)) => {
                    payload.insert(k, v);
                }
                ("operation" | "behaviour", _) => {
                    return Err(ServiceError::invalid(format!(
                        "{k} must be a non-empty string"
                    )))
                }
                ("event_attributes" | "asset_attributes" | "principal_declared", _) => {
                    return Err(ServiceError::invalid(format!("{k} must be an object")))
                }
                ("timestamp_declared", _) => {
                    return Err(ServiceError::invalid(
                        "timestamp_declared must be an RFC 3339 string",
                    ))
                }
                _ => {
                    return Err(ServiceError::invalid(format!(
                        "unknown event field {k:?} (expected operation, behaviour, event_attributes, asset_attributes, timestamp_declared, principal_declared)"
                    )))
                }
            }
        }
        for k in ["operation", "behaviour"] {
            if !payload.contains_key(k) {
                return Err(ServiceError::invalid(format!("an event needs {k}")));
            }
        }
        if payload
            .get("asset_attributes")
            .is_some_and(|a| a.get(PUBLIC_ATTRIBUTE).is_some())
        {
            return Err(ServiceError::invalid(format!(
                "{PUBLIC_ATTRIBUTE} is reserved"
            )));
        }
        Ok(NewEvent { payload })
    }
}

impl ArchivistService {
    /// Records an event on asset `id` for `caller`, who must see the asset.
    pub async fn create_event(
        &self,
        caller: &StakeholderId,
        id: &str,
        event: NewEvent,
    ) -> Res<Value> {
        let (device, _) = device_of(id)?;
        let not_found = || ServiceError::not_found(format!("assets/{device} not found"));
        let mut payload = event.payload;
        payload.insert("timestamp_accepted".into(), json!(self.now_rfc3339()));
        let twin = self.load_twin(&device)?.ok_or_else(not_found)?;
        {
            let meta = self.projector.meta();
            let reader = self.reads.reader(Some(caller.clone()), &meta);
            reader.sees_device(&twin).ok_or_else(not_found)?;
        }
        // Public only where anyone may read it: a public asset's creator's
        // events.
        let disclosure = if twin.public_by() == Some(caller) {
            Disclosure::Public
        } else {
            Disclosure::Private
        };
        let entry = self
            .register_delegated(
                caller,
                &device.subject(),
                Value::Object(payload),
                disclosure,
            )
            .await?;
        let claim = self
            .projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?
            .ok_or_else(|| ServiceError::internal("event not projected"))?;
        let meta = self.projector.meta();
        let seen = self
            .reads
            .reader(Some(caller.clone()), &meta)
            .decide(&twin, &claim.issuer, super::EVENT_TYPE)
            .ok_or_else(|| ServiceError::internal("event not visible to its issuer"))?;
        Ok(event_json(&twin, &claim, &seen, &meta, self.published()))
    }

    /// One event (`<entry>`), or its public URL (`<entry>:publicurl`), of
    /// asset `id` as `scope` sees it; the read is recorded.
    pub fn read_event(&self, scope: &Scope, id: &str, eid: &str) -> Res<Value> {
        let (device, _) = device_of(id)?;
        let (eid, publicurl) = match eid.strip_suffix(":publicurl") {
            Some(e) => (e, true),
            None => (eid, false),
        };
        let not_found =
            || ServiceError::not_found(format!("assets/{device}/events/{eid} not found"));
        let entry: u64 = eid.parse().map_err(|_| not_found())?;
        let twin = self.load_twin(&device)?.ok_or_else(not_found)?;
        let claim = self
            .projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?
            .filter(|c| c.device == device && is_event_type(c.body.kind()))
            .ok_or_else(not_found)?;
        let meta = self.projector.meta();
        let viewer = Viewer {
            reader: self.reads.reader(scope.who(), &meta),
            public_only: *scope == Scope::Public,
        };
        viewer.sees_device(&twin).ok_or_else(not_found)?;
        let seen = viewer
            .decide(&twin, &claim.issuer, claim.body.type_name())
            .ok_or_else(not_found)?;
        let mut audit = Audit::default();
        audit.note(&claim.issuer, seen.clone(), entry, Some(&device));
        audit.write(&self.reads, &viewer.reader.who, ReadKind::Statement, None)?;
        if publicurl {
            if twin.public_by().is_none() {
                return Err(ServiceError::not_found(format!(
                    "assets/{device} is not public"
                )));
            }
            return Ok(json!({
                "publicurl": format!("/archivist/v2/publicassets/{device}/events/{entry}")
            }));
        }
        Ok(event_json(&twin, &claim, &seen, &meta, self.published()))
    }

    /// Events of asset `id`, or of every asset (`-`), that `scope` sees and
    /// that meet the query, in (device, entry) order: one page, or the count.
    pub fn list_events(&self, scope: &Scope, id: &str, q: &ListQuery) -> Res<Listing> {
        if id == "-" && *scope == Scope::Public {
            return Err(ServiceError::unauthorized(
                "public event lists need an asset",
            ));
        }
        let meta = self.projector.meta();
        let viewer = Viewer {
            reader: self.reads.reader(scope.who(), &meta),
            public_only: *scope == Scope::Public,
        };
        let published = self.published();
        let store = self.projector.store();
        // Position: [device, entry] of the last event served.
        let (mut dev_cursor, mut entry_cursor) = match &q.after {
            Some(Value::Array(a)) => (
                a.first().and_then(Value::as_str).map(String::from),
                a.get(1).and_then(Value::as_u64),
            ),
            _ => (None, None),
        };
        let single = if id == "-" {
            None
        } else {
            Some(device_of(id)?.0)
        };
        if let Some(d) = &single {
            let not_found = || ServiceError::not_found(format!("assets/{d} not found"));
            let twin = self.load_twin(d)?.ok_or_else(not_found)?;
            viewer.sees_device(&twin).ok_or_else(not_found)?;
        }
        let mut audit = Audit::default();
        let mut items: Vec<Value> = Vec::new();
        let mut total = 0u64;
        let mut next = String::new();
        let mut scanned = 0usize;
        'devices: loop {
            let twins: Vec<Twin> = match &single {
                Some(d) => {
                    if scanned > 0 {
                        break;
                    }
                    self.load_twin(d)?.into_iter().collect()
                }
                None => {
                    // Resume inside the cursor's device first.
                    let mut v = Vec::new();
                    if let (Some(d), Some(_)) = (&dev_cursor, entry_cursor) {
                        if let Ok(d) = DeviceId::new(d.clone()) {
                            v.extend(self.load_twin(&d)?);
                        }
                    }
                    v.extend(
                        store
                            .devices(dev_cursor.as_deref(), DEVICE_BATCH)
                            .map_err(ServiceError::internal)?,
                    );
                    v
                }
            };
            if twins.is_empty() {
                break;
            }
            for twin in twins {
                scanned += 1;
                if scanned > SCAN_DEVICES_MAX {
                    break 'devices;
                }
                let resume = if dev_cursor.as_deref() == Some(twin.device.as_str()) {
                    entry_cursor
                } else {
                    None
                };
                dev_cursor = Some(twin.device.to_string());
                entry_cursor = None;
                if viewer.sees_device(&twin).is_none() {
                    continue;
                }
                let mut after = resume;
                loop {
                    let batch = store
                        .history(&twin.device, after, HISTORY_BATCH)
                        .map_err(ServiceError::internal)?;
                    let more = batch.len() == HISTORY_BATCH;
                    for (entry, kind, issuer) in batch {
                        after = Some(entry);
                        if !is_event_type(&kind) {
                            continue;
                        }
                        let Some(seen) = viewer.decide(&twin, &issuer, &kind) else {
                            continue;
                        };
                        let Some(claim) = store.claim(entry).map_err(ServiceError::internal)?
                        else {
                            continue;
                        };
                        let event = event_json(&twin, &claim, &seen, &meta, published);
                        if !q.matches(&event) {
                            continue;
                        }
                        total += 1;
                        if q.count_only {
                            audit.note(&issuer, seen, entry, Some(&twin.device));
                            continue;
                        }
                        if items.len() == q.page_size {
                            let last_entry = items
                                .last()
                                .and_then(|e| e.pointer("/sectwin/entry"))
                                .and_then(Value::as_u64);
                            let last_dev = items
                                .last()
                                .and_then(|e| e.get("asset_identity"))
                                .and_then(Value::as_str)
                                .and_then(|s| s.strip_prefix("assets/"))
                                .map(String::from);
                            next = q.next_token(json!([last_dev, last_entry]));
                            break 'devices;
                        }
                        audit.note(&issuer, seen, entry, Some(&twin.device));
                        items.push(event);
                    }
                    if !more {
                        break;
                    }
                }
            }
            if single.is_some() {
                break;
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
        audit.write(&self.reads, &who, ReadKind::Timeline, None)?;
        Ok(Listing {
            items,
            next_page_token: next,
            total: None,
        })
    }
}
