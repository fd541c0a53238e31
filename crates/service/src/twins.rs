//! The twins as each reader may see them: one device's twin, lists and
//! counts with attribute filters (matching only on what the reader may
//! see), a device's timeline, one statement, and the public records (the
//! stakeholder registry, published policies, the node's status). Every view
//! decides per statement with its owner's sharing policy, redacts field by
//! field, and writes the read records of other organizations' data before
//! it answers.
//!
//! Views are JSON values shaped as the `/api/v1` document describes; page
//! cursors are plain (`after`): the edge turns them into opaque tokens.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tlog::LeafIndex;
use transparency::TransparencyService;
use twin::projection::{roles_of, status_of, Claim, Twin};
use twin::published::{PolicyKind, Published};
use twin::sharing::ReadKind;
use twin::{AttributeClass, DeviceId, Meta, StakeholderId};
use twin_store::store::SEARCH_ATTRIBUTES;
use twin_store::Projector;

use crate::{Audit, ReadRecorder, Reader, Seen, ServiceError};

type Res<T> = Result<T, ServiceError>;

/// Devices examined at most to answer one list or count (policy filtering
/// happens after the index scan).
pub const SCAN_DEVICES_MAX: usize = 100_000;
/// Devices or history entries read from the store per batch.
const STORE_BATCH: usize = 256;

/// A page of devices.
#[derive(Debug, Clone)]
pub struct DevicePage {
    /// The twin summaries the reader may see.
    pub devices: Vec<Value>,
    /// The last device id examined, when there may be more.
    pub next_after: Option<String>,
    /// The log size the twins were read at.
    pub as_of: u64,
}

/// A count of devices.
#[derive(Debug, Clone, Copy)]
pub struct DeviceCount {
    /// Devices the reader may see that match.
    pub count: usize,
    /// Whether every device was examined ([`SCAN_DEVICES_MAX`]).
    pub complete: bool,
    /// The log size the twins were read at.
    pub as_of: u64,
}

/// A page of a device's timeline.
#[derive(Debug, Clone)]
pub struct TimelinePage {
    /// The entries the reader may see.
    pub entries: Vec<Value>,
    /// The last entry examined, when there may be more.
    pub next_after: Option<u64>,
    /// The log size the twins were read at.
    pub as_of: u64,
}

/// A page of read records.
#[derive(Debug, Clone)]
pub struct ReadsPage {
    /// The records, oldest first.
    pub reads: Vec<Value>,
    /// The (time, sequence) of the last record, when there may be more.
    pub next_after: Option<(u64, u64)>,
}

/// The twin views.
#[derive(Clone)]
pub struct TwinViews {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    reads: ReadRecorder,
}

impl TwinViews {
    /// The views of the twins of `projector`, the statements of `scitt`,
    /// recording reads with `reads`.
    pub fn new(
        projector: Projector,
        scitt: Arc<TransparencyService>,
        reads: ReadRecorder,
    ) -> TwinViews {
        TwinViews {
            projector,
            scitt,
            reads,
        }
    }

    /// The node's status: projection, log, faults (public).
    pub fn status(&self) -> Value {
        let meta = self.projector.meta();
        let published = self.scitt.log().published();
        let log_fault = self.scitt.log().fault();
        json!({
            "projected_size": meta.size,
            "published_size": published.size.get(),
            "statements_applied": meta.applied,
            "entries_refused": meta.refused,
            "stakeholders": meta.registry.all().count(),
            "authority": meta.registry.authority().map(|a| a.0.clone()),
            "projector_fault": self.projector.fault(),
            // The log stops writing on a storage error (a full disk): say so.
            // It writes again by itself once the cause is gone.
            "read_only": log_fault.is_some(),
            "log_fault": log_fault,
            "log_restarts": self.scitt.log().restarts(),
        })
    }

    /// The stakeholder registry. It is public: it is in the log, and
    /// relying parties need the keys to verify statements.
    pub fn stakeholders(&self) -> Value {
        let meta = self.projector.meta();
        let list: Vec<Value> = meta.registry.all().map(stakeholder_json).collect();
        json!({ "stakeholders": list, "as_of": meta.size })
    }

    /// One stakeholder of the registry.
    pub fn stakeholder(&self, id: &str) -> Res<Value> {
        let meta = self.projector.meta();
        let s = meta
            .registry
            .get(&StakeholderId(id.to_string()))
            .ok_or_else(|| ServiceError::not_found(format!("no stakeholder {id:?}")))?;
        let mut v = stakeholder_json(s);
        v["as_of"] = json!(meta.size);
        Ok(v)
    }

    /// Published policies (sharing, transparency, AI use) with their
    /// versions: public, like the log they come from. Parameters:
    /// `stakeholder`, `kind`, `at` (a log position).
    pub fn policies(&self, q: &BTreeMap<String, String>) -> Res<Value> {
        let meta = self.projector.meta();
        for k in q.keys() {
            if !["stakeholder", "kind", "at"].contains(&k.as_str()) {
                return Err(ServiceError::invalid(format!(
                    "unknown parameter {k:?}; expected stakeholder, kind or at"
                )));
            }
        }
        let owner = q.get("stakeholder").map(|s| StakeholderId(s.clone()));
        let kind = match q.get("kind") {
            Some(k) => Some(PolicyKind::parse(k).ok_or_else(|| {
                ServiceError::invalid(format!(
                    "unknown policy kind {k:?}; expected sharing, transparency or ai-use"
                ))
            })?),
            None => None,
        };
        let at = match q.get("at") {
            Some(a) => Some(a.parse::<u64>().map_err(|_| {
                ServiceError::invalid(format!("at={a:?} is not a log position (an integer)"))
            })?),
            None => None,
        };
        let list: Vec<Value> = meta
            .published
            .versions(owner.as_ref())
            .filter(|(_, v)| kind.is_none_or(|k| v.kind == k))
            .filter(|(_, v)| at.is_none_or(|at| Published::in_force(v, at)))
            .map(|(o, v)| {
                json!({
                    "owner": o.0,
                    "kind": v.kind.name(),
                    "id": v.id,
                    "entry": v.entry,
                    "receipt": format!("/entries/{}", v.entry),
                    "superseded_by": v.superseded_by,
                    "in_force": v.superseded_by.is_none(),
                    "policy": v.policy,
                })
            })
            .collect();
        Ok(json!({ "policies": list, "as_of": meta.size }))
    }

    /// One device's twin as `who` may see it.
    pub fn device(&self, who: Option<StakeholderId>, id: &str) -> Res<Value> {
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let not_found =
            || ServiceError::not_found(format!("no device {id:?} (or not shared with you)"));
        let device = DeviceId::new(id.to_string()).map_err(|_| not_found())?;
        let twin = api
            .projector
            .store()
            .twin(&device)
            .map_err(ServiceError::internal)?
            .ok_or_else(not_found)?;
        let mut audit = Audit::default();
        let mut view = twin_view(api, &reader, &twin, &mut audit)?.ok_or_else(not_found)?;
        view["as_of"] = json!(meta.size);
        audit.write(&api.reads, &reader.who, ReadKind::Twin, None)?;
        Ok(view)
    }

    /// Up to `page_size` devices after `after` (in id order) that `who` may
    /// see and that match `filters` ([`device_filters`]).
    pub fn devices(
        &self,
        who: Option<StakeholderId>,
        filters: &[(String, String)],
        page_size: usize,
        after: Option<String>,
    ) -> Res<DevicePage> {
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let mut items = Vec::new();
        let (_, last) = scan(api, &reader, filters, after, page_size, |twin, seen| {
            audit.note(
                &twin.manufacturer,
                seen,
                twin.registered_at,
                Some(&twin.device),
            );
            items.push(visible_twin(api, &reader, twin)?.0);
            Ok(())
        })?;
        audit.write(&api.reads, &reader.who, ReadKind::List, None)?;
        let next_after = if items.len() >= page_size { last } else { None };
        Ok(DevicePage {
            devices: items,
            next_after,
            as_of: meta.size,
        })
    }

    /// How many devices `who` may see that match `filters`.
    pub fn count(
        &self,
        who: Option<StakeholderId>,
        filters: &[(String, String)],
    ) -> Res<DeviceCount> {
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let (n, more) = scan(api, &reader, filters, None, usize::MAX, |twin, seen| {
            audit.note(
                &twin.manufacturer,
                seen,
                twin.registered_at,
                Some(&twin.device),
            );
            Ok(())
        })?;
        let counted = audit.entries_noted();
        audit.write(&api.reads, &reader.who, ReadKind::Count, Some(counted))?;
        Ok(DeviceCount {
            count: n,
            complete: more.is_none(),
            as_of: meta.size,
        })
    }

    /// Up to `page_size` statements about device `id` after entry `after`
    /// that `who` may see, oldest first.
    pub fn timeline(
        &self,
        who: Option<StakeholderId>,
        id: &str,
        page_size: usize,
        after: Option<u64>,
    ) -> Res<TimelinePage> {
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let not_found =
            || ServiceError::not_found(format!("no device {id:?} (or not shared with you)"));
        let device = DeviceId::new(id.to_string()).map_err(|_| not_found())?;
        let store = api.projector.store();
        let twin = store
            .twin(&device)
            .map_err(ServiceError::internal)?
            .ok_or_else(not_found)?;
        reader.sees_device(&twin).ok_or_else(not_found)?;
        let mut audit = Audit::default();
        let mut items = Vec::new();
        let mut cursor = after;
        let mut more = true;
        while items.len() < page_size && more {
            let batch = store
                .history(&device, cursor, STORE_BATCH)
                .map_err(ServiceError::internal)?;
            more = batch.len() == STORE_BATCH;
            for (entry, kind, issuer) in batch {
                cursor = Some(entry);
                let Some(seen) = reader.decide(&twin, &issuer, &kind) else {
                    continue;
                };
                let claim = store.claim(entry).map_err(ServiceError::internal)?;
                let status = claim.as_ref().and_then(|c| status_of(&meta.policy, c));
                let signed_by = claim
                    .as_ref()
                    .and_then(|c| c.signed_by.as_ref())
                    .map(|s| s.0.clone());
                let shown =
                    claim.map(|c| twin::sharing::redact(&c.body.to_wire(), seen.fields.as_deref()));
                audit.note(&issuer, seen, entry, Some(&device));
                items.push(json!({
                    "entry": entry,
                    "type": kind,
                    "issuer": issuer.0,
                    "signed_by": signed_by,
                    "statement": shown,
                    "status": status,
                    "receipt": format!("/entries/{entry}"),
                }));
                if items.len() >= page_size {
                    more = true;
                    break;
                }
            }
        }
        audit.write(&api.reads, &reader.who, ReadKind::Timeline, None)?;
        Ok(TimelinePage {
            entries: items,
            next_after: if more { cursor } else { None },
            as_of: meta.size,
        })
    }

    /// The read records of `owner`'s data (default: the caller's own),
    /// after `after`: another owner's records are listed only as its
    /// transparency policy says.
    pub fn reads(
        &self,
        caller: &StakeholderId,
        owner: Option<&str>,
        after: Option<(u64, u64)>,
        page_size: usize,
    ) -> Res<ReadsPage> {
        let owner = match owner {
            Some(o) if o != caller.0 => {
                let admitted = self
                    .projector
                    .meta()
                    .published
                    .transparency(&StakeholderId(o.to_string()))
                    .is_some_and(|p| p.admits(Some(caller)));
                if !admitted {
                    return Err(ServiceError::forbidden(format!(
                        "the transparency policy of {o:?} does not let {} list its read records",
                        caller.0
                    )));
                }
                o.to_string()
            }
            _ => caller.0.clone(),
        };
        let side = self
            .projector
            .payloads()
            .ok_or_else(|| ServiceError::internal("this node keeps no read records"))?;
        let records = side
            .reads(&owner, after, page_size)
            .map_err(ServiceError::internal)?;
        let next_after = if records.len() >= page_size {
            records.last().map(|(key, _)| *key)
        } else {
            None
        };
        let reads = records
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect();
        Ok(ReadsPage { reads, next_after })
    }

    /// The statement at log entry `index` as `who` may see it: statements
    /// about devices follow the device's policies; registry and release
    /// statements (about stakeholders and models) are public records.
    pub fn statement(&self, who: Option<StakeholderId>, index: u64) -> Res<Value> {
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let not_found =
            || ServiceError::not_found(format!("no statement {index} (or not shared with you)"));
        if index >= meta.size {
            return Err(not_found());
        }
        let bytes = api
            .scitt
            .statement(LeafIndex::new(index))
            .map_err(|_| not_found())?;
        let st = scitt::SignedStatement::parse(&bytes).map_err(|_| not_found())?;
        let store = api.projector.store();
        let issuer = StakeholderId(st.issuer().to_string());
        let payload: Option<Value> = st.payload().and_then(|p| serde_json::from_slice(p).ok());
        let kind = payload
            .as_ref()
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let refused = store.refusal(index).map_err(ServiceError::internal)?;
        let mut audit = Audit::default();
        let mut shown = payload.clone();
        let mut status = None;
        let mut issuer = issuer;
        let mut signed_by = None;
        if let Some(device) = DeviceId::from_subject(st.subject()) {
            let twin = store
                .twin(&device)
                .map_err(ServiceError::internal)?
                .ok_or_else(not_found)?;
            let claim = store.claim(index).map_err(ServiceError::internal)?;
            // A statement signed by the service on a stakeholder's behalf is
            // that stakeholder's data.
            if let Some(c) = &claim {
                if c.signed_by.is_some() {
                    signed_by = c.signed_by.clone();
                    issuer = c.issuer.clone();
                }
            }
            let seen = reader.decide(&twin, &issuer, &kind).ok_or_else(not_found)?;
            shown = payload
                .as_ref()
                .map(|p| twin::sharing::redact(p, seen.fields.as_deref()));
            if let Some(c) = &claim {
                status = status_of(&meta.policy, c);
            }
            audit.note(&issuer, seen, index, Some(&device));
        }
        audit.write(&api.reads, &reader.who, ReadKind::Statement, None)?;
        Ok(json!({
            "entry": index,
            "issuer": issuer.0,
            "signed_by": signed_by.map(|s| s.0),
            "subject": st.subject(),
            "type": kind,
            "statement": shown,
            "status": status,
            "refused": refused,
            "receipt": format!("/entries/{index}"),
            "as_of": meta.size,
        }))
    }
}

fn stakeholder_json(s: &twin::registry::Stakeholder) -> Value {
    json!({
        "id": s.id.0,
        "name": s.name,
        "roles": s.roles,
        "registered_at": s.registered_at,
        "keys": s.keys.iter().map(|k| json!({
            "kid": k.kid, "alg": k.alg, "pem": k.pem,
            "not_before": k.not_before, "not_after": k.not_after,
            "added_at": k.added_at, "revoked_at": k.revoked_at,
        })).collect::<Vec<_>>(),
    })
}

/// The twin fields each attribute contributes: (twin field, statement
/// field). A twin field shows only if its attribute's statement is visible
/// to the reader and that statement field is among the fields shared.
fn contributed(class: &AttributeClass) -> &'static [(&'static str, &'static str)] {
    match class {
        AttributeClass::Identity => &[
            ("model", "model"),
            ("serial", "serial"),
            ("hardware_id", "hardware_id"),
            ("device_key", "device_key"),
        ],
        AttributeClass::Ownership => &[
            ("owner", "owner"),
            ("operator", "operator"),
            ("maintainer", "maintainer"),
            ("site", "site"),
            ("location", "location"),
            ("groups", "groups"),
        ],
        AttributeClass::Lifecycle => &[("lifecycle", "to")],
        AttributeClass::Firmware => &[("firmware", "version")],
        _ => &[],
    }
}

/// Nulls the twin fields of `class` the reader may not see (`seen`: `None`
/// when the attribute's statement is hidden altogether).
fn redact_summary(class: &AttributeClass, seen: Option<&Seen>, twin: &mut Value) {
    let Some(obj) = twin.as_object_mut() else {
        return;
    };
    for (field, statement_field) in contributed(class) {
        let shown = match seen {
            None => false,
            Some(s) => match &s.fields {
                None => true,
                Some(fields) => fields.iter().any(|f| f == statement_field),
            },
        };
        if !shown {
            obj.insert((*field).to_string(), Value::Null);
        }
    }
}

/// Fields of a twin summary that no attribute stands behind when it has no
/// claim for them (a device never transferred has no owner to hide), and
/// the twin-level counters, which reveal activity: shown only to readers
/// who see every attribute.
const ACTIVITY_FIELDS: &[&str] = &["statements", "updated_at"];

/// A current claim of a twin and what the reader may see of it.
type VisibleClaim = (AttributeClass, Claim, Option<Seen>);

/// The twin summary `reader` may see, with the claims behind it (class,
/// claim, what the reader may see of it).
fn visible_twin(
    api: &TwinViews,
    reader: &Reader<'_>,
    twin: &Twin,
) -> Res<(Value, Vec<VisibleClaim>)> {
    let mut summary = twin_summary(twin);
    let mut claims = Vec::new();
    let mut all_seen = true;
    for (class, entry) in &twin.current {
        let Some(claim) = api
            .projector
            .store()
            .claim(*entry)
            .map_err(ServiceError::internal)?
        else {
            continue;
        };
        let seen = reader.decide(twin, &claim.issuer, claim.body.type_name());
        all_seen &= seen.as_ref().is_some_and(|s| s.fields.is_none());
        redact_summary(class, seen.as_ref(), &mut summary);
        claims.push((class.clone(), claim, seen));
    }
    if !all_seen {
        if let Some(obj) = summary.as_object_mut() {
            for f in ACTIVITY_FIELDS {
                obj.insert((*f).to_string(), Value::Null);
            }
        }
    }
    Ok((summary, claims))
}

fn claim_json(claim: &Claim, seen: &Seen, meta: &Meta) -> Value {
    let body = claim.body.to_wire();
    let shown = twin::sharing::redact(&body, seen.fields.as_deref());
    json!({
        "entry": claim.entry,
        "issuer": claim.issuer.0,
        "signed_by": claim.signed_by.as_ref().map(|s| s.0.clone()),
        "statement": shown,
        "asserter_roles": claim.asserter_roles,
        "endorsements": claim.endorsements.iter().map(|(who, (e, roles))| json!({"by": who.0, "entry": e, "roles": roles})).collect::<Vec<_>>(),
        "disputes": claim.disputes.iter().map(|(who, (e, why))| json!({"by": who.0, "entry": e, "reason": why})).collect::<Vec<_>>(),
        "status": status_of(&meta.policy, claim),
        "receipt": format!("/entries/{}", claim.entry),
    })
}

fn twin_summary(twin: &Twin) -> Value {
    let mut v = serde_json::to_value(twin).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        // Bookkeeping of the projection: which claims are current is shown
        // per attribute (as the reader may see them), and the issuers'
        // clocks would name attributes the reader may not see.
        o.remove("current");
        o.remove("clocks");
    }
    v
}

/// The twin of one device as `reader` may see it.
fn twin_view(
    api: &TwinViews,
    reader: &Reader<'_>,
    twin: &Twin,
    audit: &mut Audit,
) -> Res<Option<Value>> {
    if reader.sees_device(twin).is_none() {
        return Ok(None);
    }
    let (summary, claims) = visible_twin(api, reader, twin)?;
    let mut attributes = Vec::new();
    for (class, claim, seen) in claims {
        if let Some(seen) = seen {
            let v = claim_json(&claim, &seen, reader.meta);
            audit.note(&claim.issuer, seen, claim.entry, Some(&twin.device));
            attributes.push(json!({"attribute": class, "claim": v}));
        }
    }
    let ai_use = ai_use_policies(reader.meta, twin);
    Ok(Some(
        json!({ "twin": summary, "attributes": attributes, "ai_use_policies": ai_use }),
    ))
}

/// The current AI-use policies covering a device, published by stakeholders
/// holding a role on it. Published policies are public (they are in the
/// log), so whoever sees the device sees them.
fn ai_use_policies(meta: &Meta, twin: &Twin) -> Vec<Value> {
    let facts = twin.facts();
    meta.published
        .ai_use()
        .filter(|(owner, _, p)| !roles_of(meta, owner, twin).is_empty() && p.covers(&facts))
        .map(|(owner, entry, p)| {
            json!({"owner": owner.0, "entry": entry, "receipt": format!("/entries/{entry}"), "policy": p})
        })
        .collect()
}

/// The attribute filter of a device list or count, from its query
/// (`page_size` and `page_token` are the edge's): at most one indexed
/// attribute drives the scan; every other one filters.
pub fn device_filters(q: &BTreeMap<String, String>) -> Res<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, v) in q {
        if k == "page_size" || k == "page_token" {
            continue;
        }
        if !SEARCH_ATTRIBUTES.contains(&k.as_str()) {
            return Err(ServiceError::invalid(format!(
                "unknown filter {k:?}; devices can be searched by {}",
                SEARCH_ATTRIBUTES.join(", ")
            )));
        }
        out.push((k.clone(), v.clone()));
    }
    Ok(out)
}

fn matches(twin: &Twin, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, v)| {
        twin_store::store::index_keys(twin).iter().any(|key| {
            let mut p = k.as_bytes().to_vec();
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
            key.starts_with(&p)
        })
    })
}

/// Whether the reader's view of a twin (`summary`) shows every filtered value.
fn visible_match(summary: &Value, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(k, v)| {
        let field = if k == "group" { "groups" } else { k.as_str() };
        match &summary[field] {
            Value::String(s) => s == v,
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some(v)),
            _ => false,
        }
    })
}

/// Scans devices in id order after `after`, applying filters and the
/// caller's visibility; stops after `limit` visible ones or the scan bound.
fn scan(
    api: &TwinViews,
    reader: &Reader<'_>,
    filters: &[(String, String)],
    mut after: Option<String>,
    limit: usize,
    mut visit: impl FnMut(&Twin, Seen) -> Res<()>,
) -> Res<(usize, Option<String>)> {
    let store = api.projector.store();
    let mut found = 0;
    let mut examined = 0;
    loop {
        let batch: Vec<Twin> = match filters.first() {
            Some((k, v)) => {
                let ids = store
                    .search(k, v, after.as_deref(), STORE_BATCH)
                    .map_err(ServiceError::internal)?;
                let mut twins = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(t) = store.twin(&id).map_err(ServiceError::internal)? {
                        twins.push(t);
                    }
                }
                twins
            }
            None => store
                .devices(after.as_deref(), STORE_BATCH)
                .map_err(ServiceError::internal)?,
        };
        if batch.is_empty() {
            return Ok((found, None));
        }
        for twin in &batch {
            examined += 1;
            after = Some(twin.device.to_string());
            if !matches(twin, filters) {
                continue;
            }
            if let Some(seen) = reader.sees_device(twin) {
                // A filter matches only on what the reader may see: a search
                // never reveals a hidden attribute.
                if !filters.is_empty() {
                    let (summary, _) = visible_twin(api, reader, twin)?;
                    if !visible_match(&summary, filters) {
                        continue;
                    }
                }
                visit(twin, seen)?;
                found += 1;
                if found >= limit {
                    return Ok((found, after));
                }
            }
            if examined >= SCAN_DEVICES_MAX {
                return Ok((found, after));
            }
        }
    }
}
