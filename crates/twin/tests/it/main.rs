//! Every integration test of `twin`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod audit;
mod custom_types;
mod delegation;
mod device_data;
mod device_id;
mod projection;
mod published;
mod registry;
mod sharing;
mod updates;

use std::sync::Arc;

use twin::{BuiltinType, BuiltinTypes, ConsensusPolicy, Projection, Role, Rule};

/// The built-in type of these tests: `asset-event`, events that set the
/// twin's asset attributes (the shape of the product's DataTrails events,
/// which the service layer defines), any role on the device but auditors.
pub fn asset_events() -> Arc<BuiltinTypes> {
    use Role::*;
    let event = BuiltinType {
        name: "asset-event".into(),
        schema: serde_json::json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string"},
                "behaviour": {"type": "string"},
                "event_attributes": {"type": "object"},
                "asset_attributes": {"type": "object"}
            },
            "required": ["operation", "behaviour"],
            "additionalProperties": false
        }),
        rule: Rule::new(&[Manufacturer, Owner, Operator, Maintainer, Device], &[]),
        sets_attributes: Some("asset_attributes".into()),
        update_field: None,
        description: "an event on an asset".into(),
    };
    Arc::new(BuiltinTypes::new([event]).expect("a valid built-in type"))
}

/// An empty projection under the default policy with [`asset_events`].
pub fn with_asset_events() -> Projection {
    Projection::new(ConsensusPolicy::default()).with_builtin_types(asset_events())
}
