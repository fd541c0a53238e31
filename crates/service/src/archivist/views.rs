//! Twins as assets and claims as events, as a reader may see them: each
//! attribute and event decided by the sharing decision of the stakeholder
//! that set it (`twin::projection::decide_read`), reads noted for the
//! record.

use serde_json::{json, Map, Value};
use twin::projection::{Claim, Twin, PUBLIC_ATTRIBUTE};
use twin::{Meta, StakeholderId};

use crate::{Audit, Reader, Seen};

/// Which endpoints are asked: the tenant's (`assets`, as the caller, who
/// may be anonymous) or the public ones (`publicassets`: anonymous, public
/// assets only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// As this caller (`None`: anonymous).
    Tenant(Option<StakeholderId>),
    /// Anyone, public assets only.
    Public,
}

impl Scope {
    /// Who reads.
    pub fn who(&self) -> Option<StakeholderId> {
        match self {
            Scope::Tenant(who) => who.clone(),
            Scope::Public => None,
        }
    }
    /// The list's name in answers.
    pub fn assets_label(&self) -> &'static str {
        match self {
            Scope::Tenant(_) => "assets",
            Scope::Public => "publicassets",
        }
    }
}

/// Who reads, and whether only public assets are in view.
pub struct Viewer<'a> {
    /// The reader.
    pub reader: Reader<'a>,
    /// Only public assets.
    pub public_only: bool,
}

impl Viewer<'_> {
    /// What the viewer sees of `owner`'s statements of type `kind` about `twin`.
    pub fn decide(&self, twin: &Twin, owner: &StakeholderId, kind: &str) -> Option<Seen> {
        if self.public_only && twin.public_by().is_none() {
            return None;
        }
        self.reader.decide(twin, owner, kind)
    }

    /// Whether the viewer sees the asset at all.
    pub fn sees_device(&self, twin: &Twin) -> Option<Seen> {
        self.decide(twin, &twin.manufacturer, "device-registered")
    }
}

/// `CONFIRMED` once the entry is under a published checkpoint.
fn status_of_entry(entry: u64, published: u64) -> &'static str {
    if entry < published {
        "CONFIRMED"
    } else {
        "PENDING"
    }
}

fn principal(who: &StakeholderId, meta: &Meta) -> Value {
    let name = meta
        .registry
        .get(who)
        .map_or_else(|| who.0.clone(), |s| s.name.clone());
    json!({"issuer": "sectwin", "subject": who.0, "display_name": name, "email": ""})
}

/// What an asset view needs besides the twin.
pub struct AssetContext<'a> {
    /// The log size published (entries below it are confirmed).
    pub published: u64,
    /// The time of the read (RFC 3339), shown as `at_time`.
    pub at_time: &'a str,
    /// The node's base URL, for `publicurl`.
    pub public_base: Option<&'a str>,
}

/// The asset of `twin` as `viewer` may see it (attributes each decided by
/// the sharing policy of the stakeholder that set it), its reads noted in
/// `audit`; `None` when the viewer does not see it.
pub fn asset_json(
    viewer: &Viewer<'_>,
    twin: &Twin,
    audit: &mut Audit,
    cx: &AssetContext<'_>,
) -> Option<Value> {
    let seen = viewer.sees_device(twin)?;
    audit.note(
        &twin.manufacturer,
        seen,
        twin.registered_at,
        Some(&twin.device),
    );
    let mut attributes = Map::new();
    for (k, a) in &twin.asset_attributes {
        if k == PUBLIC_ATTRIBUTE {
            continue;
        }
        let Some(seen) = viewer.decide(twin, &a.issuer, super::EVENT_TYPE) else {
            continue;
        };
        if seen
            .fields
            .as_ref()
            .is_some_and(|f| !f.iter().any(|f| f == "asset_attributes"))
        {
            continue;
        }
        audit.note(&a.issuer, seen, a.entry, Some(&twin.device));
        attributes.insert(k.clone(), a.value.clone());
    }
    // Twins registered natively show their identity in Archivist terms.
    for (k, v) in [
        ("arc_display_type", &twin.model),
        ("arc_serial_number", &twin.serial),
    ] {
        attributes
            .entry(k.to_string())
            .or_insert_with(|| Value::String(v.clone()));
    }
    let public = twin.public_by().is_some();
    let mut v = json!({
        "identity": format!("assets/{}", twin.device),
        "behaviours": ["RecordEvidence"],
        "attributes": attributes,
        "confirmation_status": status_of_entry(twin.updated_at, cx.published),
        "tracked": if twin.lifecycle == twin::Lifecycle::Decommissioned { "NOT_TRACKED" } else { "TRACKED" },
        "owner": twin.owner.as_ref().unwrap_or(&twin.manufacturer).0,
        "at_time": cx.at_time,
        "storage_integrity": "TENANT_STORAGE",
        "proof_mechanism": "MERKLE_LOG",
        "chain_id": "sectwin",
        "public": public,
        "tenant_identity": format!("tenant/{}", twin.manufacturer.0),
        "sectwin": {
            "device": twin.device.to_string(),
            "subject": twin.device.subject(),
            "manufacturer": twin.manufacturer.0,
            "lifecycle": twin.lifecycle,
            "firmware": twin.firmware,
            "registered_at": twin.registered_at,
            "receipt": format!("/entries/{}", twin.registered_at),
            "twin": format!("/api/v1/devices/{}", twin.device),
        },
    });
    if let (true, Some(base)) = (public, cx.public_base) {
        v["publicurl"] = json!(format!(
            "{base}/archivist/v2/publicassets/{}",
            twin.device.as_str()
        ));
    }
    Some(v)
}

/// Statement types not shown as events: the registration is the asset
/// itself; endorsements and disputes are about other statements.
pub fn is_event_type(kind: &str) -> bool {
    !matches!(kind, "device-registered" | "endorse" | "dispute")
}

/// An event from a claim as `seen` allows.
pub fn event_json(twin: &Twin, claim: &Claim, seen: &Seen, meta: &Meta, published: u64) -> Value {
    let wire = twin::sharing::redact(&claim.body.to_wire(), seen.fields.as_deref());
    let get = |k: &str| wire.get(k).cloned();
    let (operation, behaviour, event_attributes, asset_attributes) =
        if claim.body.type_name() == super::EVENT_TYPE {
            (
                get("operation").unwrap_or(Value::Null),
                get("behaviour").unwrap_or(Value::Null),
                get("event_attributes").unwrap_or_else(|| json!({})),
                get("asset_attributes").unwrap_or_else(|| json!({})),
            )
        } else {
            let mut attrs = wire.as_object().cloned().unwrap_or_default();
            attrs.remove("type");
            attrs.insert("sectwin_type".into(), json!(claim.body.type_name()));
            (
                json!(claim.body.type_name()),
                json!("RecordEvidence"),
                Value::Object(attrs),
                json!({}),
            )
        };
    let accepted = principal(&claim.issuer, meta);
    let timestamp_accepted = get("timestamp_accepted").unwrap_or(Value::Null);
    json!({
        "identity": format!("assets/{}/events/{}", twin.device, claim.entry),
        "asset_identity": format!("assets/{}", twin.device),
        "operation": operation,
        "behaviour": behaviour,
        "event_attributes": event_attributes,
        "asset_attributes": asset_attributes,
        "timestamp_accepted": timestamp_accepted,
        "timestamp_declared": get("timestamp_declared").filter(|v| !v.is_null()).unwrap_or(timestamp_accepted.clone()),
        "timestamp_committed": timestamp_accepted,
        "principal_declared": get("principal_declared").filter(|v| !v.is_null()).unwrap_or(accepted.clone()),
        "principal_accepted": accepted,
        "confirmation_status": status_of_entry(claim.entry, published),
        "transaction_id": "",
        "block_number": 0,
        "transaction_index": 0,
        "from": claim.issuer.0,
        "tenant_identity": format!("tenant/{}", claim.issuer.0),
        "merklelog_entry": {"commit": {"index": claim.entry}},
        "signed_by_service": claim.signed_by.is_some(),
        "sectwin": {
            "entry": claim.entry,
            "type": claim.body.type_name(),
            "issuer": claim.issuer.0,
            "signed_by": claim.signed_by.as_ref().map(|s| s.0.clone()),
            "receipt": format!("/entries/{}", claim.entry),
        },
    })
}
