//! Access policies, DataTrails' way of sharing, turned into the one
//! authorization mechanism: the owner's signed sharing policy
//! (`twin::sharing`). Each change of an owner's access policies or subjects
//! derives its policy again and publishes it, signed on its behalf, when it
//! changed; reads then decide with it like every other read.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use twin::{Meta, StakeholderId};
use twin_store::archivist::{Collection, Item};

use super::query::{matches_filters, normalize_key};
use super::views::{asset_json, AssetContext, Scope, Viewer};
use super::{device_of, ArchivistService, Disclosure, ListQuery, Listing, Res, SCAN_DEVICES_MAX};
use crate::{Audit, ServiceError};

/// The id of the sharing policy derived from access policies.
pub const ACCESS_POLICIES_POLICY_ID: &str = "archivist-access-policies";

/// Whether an asset meets an access policy's filters: every entry of
/// `filters` is `{"or": ["attributes.k=v", ...]}`, and the asset must meet
/// one term of each.
pub fn policy_matches(policy: &Item, asset: &Value) -> bool {
    let Some(filters) = policy.get("filters").and_then(Value::as_array) else {
        return false;
    };
    filters.iter().all(|f| {
        f.get("or").and_then(Value::as_array).is_some_and(|terms| {
            terms.iter().filter_map(Value::as_str).any(|t| {
                t.split_once('=').is_some_and(|(k, v)| {
                    matches_filters(asset, &[(normalize_key(k.trim()), v.trim().to_string())])
                })
            })
        })
    })
}

/// The stakeholders an access permission names: its subjects, each a
/// `subjects/<uuid>` of the owner's (its `display_name` naming a registered
/// stakeholder) or a stakeholder id directly.
fn permission_readers(perm: &Value, subjects: &BTreeMap<String, Item>, meta: &Meta) -> Vec<String> {
    let mut out = Vec::new();
    for s in perm
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let name = match subjects.get(s) {
            Some(subject) => subject
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            None => s.to_string(),
        };
        if meta.registry.get(&StakeholderId(name.clone())).is_some() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The sharing policy derived from an owner's access policies: the default
/// grant (every role on a device reads everything about it), then one grant
/// per access permission: its subjects read the Archivist data
/// (registration and events) of the assets (`owned`, as seen by their
/// owner) that meet the policy's filters.
pub fn derive_sharing_policy(
    policies: &BTreeMap<String, Item>,
    subjects: &BTreeMap<String, Item>,
    owned: &[Value],
    meta: &Meta,
) -> Value {
    let mut grants = vec![json!({
        "readers": twin::Role::ALL.iter().map(|r| json!({"role": r})).collect::<Vec<_>>(),
        "devices": "all",
        "types": ["*"],
    })];
    'policies: for policy in policies.values() {
        let ids: Vec<&str> = owned
            .iter()
            .filter(|a| policy_matches(policy, a))
            .filter_map(|a| a.pointer("/sectwin/device").and_then(Value::as_str))
            .take(twin::sharing::CRITERION_VALUES_MAX)
            .collect();
        for perm in policy
            .get("access_permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let readers = permission_readers(perm, subjects, meta);
            if readers.is_empty() || ids.is_empty() {
                continue;
            }
            if grants.len() >= twin::sharing::GRANTS_MAX {
                break 'policies;
            }
            grants.push(json!({
                "readers": readers.iter().map(|r| json!({"stakeholder": r})).collect::<Vec<_>>(),
                "devices": {"matching": {"ids": ids}},
                "types": ["device-registered", super::EVENT_TYPE],
            }));
        }
    }
    json!({"id": ACCESS_POLICIES_POLICY_ID, "grants": grants})
}

impl ArchivistService {
    /// The assets `owner` manufactures, as it sees them (at most
    /// [`SCAN_DEVICES_MAX`]).
    fn owned_assets(&self, owner: &StakeholderId, meta: &Meta) -> Res<Vec<Value>> {
        let viewer = Viewer {
            reader: self.reads.reader(Some(owner.clone()), meta),
            public_only: false,
        };
        let now = self.now_rfc3339();
        let cx = AssetContext {
            published: self.published(),
            at_time: &now,
            public_base: None,
        };
        let store = self.projector.store();
        let mut owned = Vec::new();
        let mut cursor: Option<String> = None;
        'scan: loop {
            let batch = store
                .devices(cursor.as_deref(), 256)
                .map_err(ServiceError::internal)?;
            if batch.is_empty() {
                break;
            }
            for t in batch {
                cursor = Some(t.device.to_string());
                if owned.len() >= SCAN_DEVICES_MAX {
                    break 'scan;
                }
                if t.manufacturer != *owner {
                    continue;
                }
                if let Some(asset) = asset_json(&viewer, &t, &mut Audit::default(), &cx) {
                    owned.push(asset);
                }
            }
        }
        Ok(owned)
    }

    /// Derives `owner`'s sharing policy from its access policies and
    /// publishes it (signed by the service on its behalf) when it changed.
    /// An owner with no access policies and no derived policy in force
    /// publishes nothing.
    pub async fn republish_access_policies(&self, owner: &StakeholderId) -> Res<()> {
        let policies = self.config.items(Collection::AccessPolicies, &owner.0);
        let subjects = self.config.items(Collection::Subjects, &owner.0);
        let policy = {
            let meta = self.projector.meta();
            let current = meta.sharing.get(owner);
            if policies.is_empty()
                && current.is_none_or(|(_, p)| p.id() != ACCESS_POLICIES_POLICY_ID)
            {
                return Ok(());
            }
            let owned = self.owned_assets(owner, &meta)?;
            let policy = derive_sharing_policy(&policies, &subjects, &owned, &meta);
            let parsed = twin::sharing::SharingPolicy::parse(&policy)
                .map_err(|e| ServiceError::invalid(format!("access policies: {e}")))?;
            if current.is_some_and(|(_, p)| *p == parsed) {
                return Ok(());
            }
            policy
        };
        self.register_delegated(
            owner,
            &format!("stakeholder:{}", owner.0),
            json!({"type": "sharing-policy", "policy": policy}),
            // Policies are public, like every sharing policy: anyone can
            // check who was allowed to read what.
            Disclosure::Public,
        )
        .await
        .map(|_| ())
    }

    /// The assets of `caller` that its access policy `id` covers.
    pub fn policy_assets(
        &self,
        caller: &StakeholderId,
        id: &str,
        q: &ListQuery,
        public_base: Option<&str>,
    ) -> Res<Listing> {
        let policy = self.read_item(caller, Collection::AccessPolicies, id)?;
        self.list_assets_where(
            &Scope::Tenant(Some(caller.clone())),
            q,
            public_base,
            |t, asset| t.manufacturer == *caller && policy_matches(&policy, asset),
        )
    }

    /// `caller`'s access policies that cover asset `id`.
    pub fn asset_policies(&self, caller: &StakeholderId, id: &str) -> Res<Vec<Value>> {
        let (device, _) = device_of(id)?;
        let not_found = || ServiceError::not_found(format!("assets/{device} not found"));
        let twin = self.load_twin(&device)?.ok_or_else(not_found)?;
        let meta = self.projector.meta();
        let viewer = Viewer {
            reader: self.reads.reader(Some(caller.clone()), &meta),
            public_only: false,
        };
        let now = self.now_rfc3339();
        let cx = AssetContext {
            published: self.published(),
            at_time: &now,
            public_base: None,
        };
        let asset = asset_json(&viewer, &twin, &mut Audit::default(), &cx).ok_or_else(not_found)?;
        Ok(self
            .config
            .items(Collection::AccessPolicies, &caller.0)
            .into_values()
            .filter(|p| policy_matches(p, &asset))
            .map(Value::Object)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: Value) -> Item {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn access_policy_filters() {
        let p = item(json!({"filters": [
            {"or": ["attributes.arc_display_type=door", "attributes.arc_display_type=reader"]},
            {"or": ["attributes.site=hq"]}]}));
        assert!(policy_matches(
            &p,
            &json!({"attributes": {"arc_display_type": "door", "site": "hq"}})
        ));
        assert!(!policy_matches(
            &p,
            &json!({"attributes": {"arc_display_type": "door", "site": "annex"}})
        ));
        assert!(!policy_matches(
            &item(json!({})),
            &json!({"attributes": {}})
        ));
    }
}
