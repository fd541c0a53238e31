//! `locations`, `subjects` and `access_policies`: service configuration
//! kept per stakeholder beside the log; a change of access policies (or of
//! the subjects they name) republishes the owner's sharing policy
//! ([`super::access`]).

use serde_json::{json, Map, Value};
use twin::StakeholderId;
use twin_store::archivist::{Collection, Item};

use super::{new_uuid, side_error, ArchivistService, ListQuery, Listing, Res, SIDE_ITEMS_MAX};
use crate::ServiceError;

/// The filters the configuration lists understand.
pub const CONFIG_FILTERS: &[&str] = &["display_name"];

fn validate(c: Collection, body: &Map<String, Value>) -> Res<()> {
    if !body.get("display_name").is_some_and(Value::is_string) {
        return Err(ServiceError::invalid(format!(
            "a {} item needs a display_name string",
            c.label()
        )));
    }
    if c == Collection::AccessPolicies {
        for k in ["filters", "access_permissions"] {
            if !body.get(k).is_some_and(Value::is_array) {
                return Err(ServiceError::invalid(format!(
                    "an access policy needs {k} (a list)"
                )));
            }
        }
    }
    Ok(())
}

/// Whether a change to `c` changes the sharing policy its owner publishes.
fn shapes_sharing(c: Collection) -> bool {
    matches!(c, Collection::AccessPolicies | Collection::Subjects)
}

impl ArchivistService {
    /// Creates `caller`'s item of `c` from `body`; answers it.
    pub async fn create_item(
        &self,
        caller: &StakeholderId,
        c: Collection,
        mut body: Item,
    ) -> Res<Value> {
        validate(c, &body)?;
        let id = format!("{}/{}", c.label(), new_uuid());
        body.insert("identity".into(), json!(id));
        body.insert(
            "tenant_identity".into(),
            json!(format!("tenant/{}", caller.0)),
        );
        self.config
            .put_item(c, &caller.0, &id, body.clone(), SIDE_ITEMS_MAX)
            .map_err(side_error)?;
        if shapes_sharing(c) {
            self.republish_access_policies(caller).await?;
        }
        Ok(Value::Object(body))
    }

    /// `caller`'s item `<label>/<id>` of `c`.
    pub fn read_item(&self, caller: &StakeholderId, c: Collection, id: &str) -> Res<Item> {
        let key = format!("{}/{id}", c.label());
        self.config
            .items(c, &caller.0)
            .remove(&key)
            .ok_or_else(|| ServiceError::not_found(format!("{key} not found")))
    }

    /// Sets the fields of `patch` on `caller`'s item (its identity and
    /// tenant stay); answers the item.
    pub async fn update_item(
        &self,
        caller: &StakeholderId,
        c: Collection,
        id: &str,
        patch: Item,
    ) -> Res<Value> {
        let key = format!("{}/{id}", c.label());
        let updated = {
            let _g = self.config_updates.lock();
            let mut item = self.read_item(caller, c, id)?;
            for (k, v) in patch {
                if k != "identity" && k != "tenant_identity" {
                    item.insert(k, v);
                }
            }
            validate(c, &item)?;
            self.config
                .put_item(c, &caller.0, &key, item.clone(), SIDE_ITEMS_MAX)
                .map_err(side_error)?;
            item
        };
        if shapes_sharing(c) {
            self.republish_access_policies(caller).await?;
        }
        Ok(Value::Object(updated))
    }

    /// Removes `caller`'s item.
    pub async fn delete_item(&self, caller: &StakeholderId, c: Collection, id: &str) -> Res<()> {
        let key = format!("{}/{id}", c.label());
        if !self
            .config
            .remove_item(c, &caller.0, &key)
            .map_err(side_error)?
        {
            return Err(ServiceError::not_found(format!("{key} not found")));
        }
        if shapes_sharing(c) {
            self.republish_access_policies(caller).await?;
        }
        Ok(())
    }

    /// `caller`'s items of `c` that meet the query, one page or the count,
    /// in identity order.
    pub fn list_items(&self, caller: &StakeholderId, c: Collection, q: &ListQuery) -> Res<Listing> {
        let after = q.after.as_ref().and_then(Value::as_str).unwrap_or("");
        let all: Vec<Value> = self
            .config
            .items(c, &caller.0)
            .into_iter()
            .filter(|(k, _)| k.as_str() > after)
            .map(|(_, v)| Value::Object(v))
            .filter(|v| q.matches(v))
            .collect();
        if q.count_only {
            return Ok(Listing {
                items: Vec::new(),
                next_page_token: String::new(),
                total: Some(all.len() as u64),
            });
        }
        let more = all.len() > q.page_size;
        let items: Vec<Value> = all.into_iter().take(q.page_size).collect();
        let next_page_token = if more {
            items
                .last()
                .and_then(|v| v.get("identity"))
                .map(|id| q.next_token(id.clone()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Listing {
            items,
            next_page_token,
            total: None,
        })
    }
}
