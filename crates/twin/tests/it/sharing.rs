//! Sharing policies as an authorization matrix: one table of reads (the owner,
//! a named stakeholder, role holders, another organization, an anonymous
//! reader) × device filters (all, id, group, site, model, manufacturer, and
//! criteria combined) × statement types (listed, unlisted, `"*"`, custom) ×
//! field restrictions, each with the decision expected; properties over the
//! same reads (the default policy as data decides like the built-in one; more
//! roles or a name never show less than anonymity); strict parsing with the
//! exact message of every refusal; redaction; the read record's JSON form.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{json, Value};
use twin::model::{DeviceId, Role, StakeholderId};
use twin::sharing::{
    decide, is_custom_type_name, redact, Decision, DeviceFacts, DeviceFilter, GrantSet,
    PolicyError, ReadEntries, ReadKind, ReadRecord, ReadRequest, Reader, SharingPolicy,
    DEFAULT_POLICY_ID, GRANTS_MAX, ID_BYTES_MAX, NAME_BYTES_MAX, READERS_MAX,
};

/// Who signed the data read in the matrix.
const OWNER: &str = "op.example";
/// Named in grant 0 (device id filter).
const MAINT: &str = "maint.example";
/// Holds the auditor role where the matrix says so.
const AUDIT: &str = "audit.example";
/// Holds the maintainer role where the matrix says so.
const FIXER: &str = "fix.example";
/// Named in grant 4; manufacturer of dev-1, dev-2 and dev-5.
const VENDOR: &str = "vendor.example";
/// Named in grants 5 and 6.
const INSURER: &str = "insurer.example";
/// Another organization: authenticated, no role, never named.
const RIVAL: &str = "rival.example";

const MAINTENANCE: &str = "maintenance-performed";
const FIRMWARE: &str = "firmware-installed";
const INCIDENT: &str = "incident-reported";
const VULN: &str = "vulnerability-assessment";
const RISK: &str = "risk-recorded";
const CONFIG: &str = "configuration-reported";
const DOOR: &str = "acme/door-event";

/// The owner's policy: one grant per kind of device filter, overlapping on
/// purpose (grants 1+2, 1+3, 1+5, 2+6 and 5+6 allow some reads together).
fn main_policy_json() -> Value {
    json!({
        "id": "op-2025",
        "grants": [
            // 0: a named stakeholder, one device, two types, all fields.
            { "readers": [{ "stakeholder": MAINT }],
              "devices": { "matching": { "ids": ["dev-1"] } },
              "types": [MAINTENANCE, FIRMWARE] },
            // 1: a role, every device, every type, two fields.
            { "readers": [{ "role": "auditor" }],
              "devices": "all",
              "types": ["*"],
              "fields": ["severity", "status"] },
            // 2: any authenticated stakeholder, by site, metadata only.
            { "readers": ["authenticated"],
              "devices": { "matching": { "sites": ["hq"] } },
              "types": [INCIDENT],
              "fields": [] },
            // 3: anyone, by model, one field.
            { "readers": ["public"],
              "devices": { "matching": { "models": ["cam-2"] } },
              "types": [FIRMWARE],
              "fields": ["version"] },
            // 4: a named stakeholder, by manufacturer, a custom type too.
            { "readers": [{ "stakeholder": VENDOR }],
              "devices": { "matching": { "manufacturers": [VENDOR] } },
              "types": [VULN, DOOR] },
            // 5: a role or a name, group AND site, one field.
            { "readers": [{ "role": "maintainer" }, { "stakeholder": INSURER }],
              "devices": { "matching": { "groups": ["insured"], "sites": ["branch"] } },
              "types": [INCIDENT, RISK],
              "fields": ["severity"] },
            // 6: a named stakeholder, by group, all fields.
            { "readers": [{ "stakeholder": INSURER }],
              "devices": { "matching": { "groups": ["insured"] } },
              "types": [INCIDENT] }
        ]
    })
}

/// Which policy the owner published.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Published {
    /// [`main_policy_json`].
    Main,
    /// A policy with no grants: shares nothing.
    Nothing,
    /// None: the default policy applies.
    None,
}

/// The decision expected.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Own,
    Denied,
    /// Grants, and the fields shown (`None`: all).
    Allowed(&'static [usize], Option<&'static [&'static str]>),
}

use Expect::{Allowed, Denied, Own};

/// (policy, reader (`None`: anonymous), the reader's roles on the device,
/// device, statement type, expected).
type Case = (
    Published,
    Option<&'static str>,
    &'static [Role],
    &'static str,
    &'static str,
    Expect,
);

const AUDITOR: &[Role] = &[Role::Auditor];
const MAINTAINER: &[Role] = &[Role::Maintainer];
const NONE: &[Role] = &[];
const SEVERITY: Option<&[&str]> = Some(&["severity"]);
const SEVERITY_STATUS: Option<&[&str]> = Some(&["severity", "status"]);
const SEVERITY_STATUS_VERSION: Option<&[&str]> = Some(&["severity", "status", "version"]);
const VERSION: Option<&[&str]> = Some(&["version"]);
const METADATA: Option<&[&str]> = Some(&[]);

/// A device row: (id, manufacturer, model, site, groups).
type DeviceRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
);

/// The devices:
///
/// - dev-1: VENDOR's ctl-1 at hq, in hvac;
/// - dev-2: VENDOR's cam-2 at branch, insured;
/// - dev-3: another maker's cam-2, no site, no group;
/// - dev-4: another maker's ctl-1 at hq, in hvac and insured;
/// - dev-5: VENDOR's cam-2 at hq, insured.
const DEVICES: &[DeviceRow] = &[
    ("dev-1", VENDOR, "ctl-1", Some("hq"), &["hvac"]),
    ("dev-2", VENDOR, "cam-2", Some("branch"), &["insured"]),
    ("dev-3", "other.example", "cam-2", None, &[]),
    (
        "dev-4",
        "other.example",
        "ctl-1",
        Some("hq"),
        &["hvac", "insured"],
    ),
    ("dev-5", VENDOR, "cam-2", Some("hq"), &["insured"]),
];

#[rustfmt::skip]
const MATRIX: &[Case] = {
    use Published::{Main, Nothing};
    use Published::None as Default;
    &[
        // The owner: always its own data, whatever the policy.
        (Main, Some(OWNER), NONE, "dev-1", MAINTENANCE, Own),
        (Main, Some(OWNER), NONE, "dev-3", DOOR, Own),
        (Main, Some(OWNER), &[Role::Operator], "dev-4", CONFIG, Own),
        (Nothing, Some(OWNER), NONE, "dev-2", INCIDENT, Own),
        (Default, Some(OWNER), NONE, "dev-4", CONFIG, Own),
        // A named stakeholder, device id filter (grant 0).
        (Main, Some(MAINT), NONE, "dev-1", MAINTENANCE, Allowed(&[0], None)),
        (Main, Some(MAINT), NONE, "dev-1", FIRMWARE, Allowed(&[0], None)),
        (Main, Some(MAINT), NONE, "dev-4", MAINTENANCE, Denied), // other id
        (Main, Some(MAINT), NONE, "dev-1", CONFIG, Denied), // unlisted type
        (Main, Some(MAINT), NONE, "dev-1", DOOR, Denied), // unlisted custom type
        (Main, Some(MAINT), NONE, "dev-1", INCIDENT, Allowed(&[2], METADATA)), // as authenticated
        (Main, Some(MAINT), NONE, "dev-2", FIRMWARE, Allowed(&[3], VERSION)), // as public
        (Main, Some(MAINT), MAINTAINER, "dev-1", MAINTENANCE, Allowed(&[0], None)),
        (Main, Some(MAINT), &[Role::Operator], "dev-4", RISK, Denied),
        // A role holder, every device, "*" (grant 1), unions with others.
        (Main, Some(AUDIT), AUDITOR, "dev-1", CONFIG, Allowed(&[1], SEVERITY_STATUS)),
        (Main, Some(AUDIT), AUDITOR, "dev-3", DOOR, Allowed(&[1], SEVERITY_STATUS)),
        (Main, Some(AUDIT), AUDITOR, "dev-4", "sharing-policy", Allowed(&[1], SEVERITY_STATUS)),
        (Main, Some(AUDIT), AUDITOR, "dev-1", INCIDENT, Allowed(&[1, 2], SEVERITY_STATUS)),
        (Main, Some(AUDIT), AUDITOR, "dev-2", FIRMWARE, Allowed(&[1, 3], SEVERITY_STATUS_VERSION)),
        (Main, Some(AUDIT), AUDITOR, "dev-3", FIRMWARE, Allowed(&[1, 3], SEVERITY_STATUS_VERSION)),
        (Main, Some(AUDIT), NONE, "dev-1", CONFIG, Denied), // no role on this device
        (Main, Some(AUDIT), &[Role::Operator], "dev-1", CONFIG, Denied), // another role
        (Main, Some(AUDIT), NONE, "dev-1", INCIDENT, Allowed(&[2], METADATA)),
        // A role holder, group AND site (grant 5).
        (Main, Some(FIXER), MAINTAINER, "dev-2", RISK, Allowed(&[5], SEVERITY)),
        (Main, Some(FIXER), MAINTAINER, "dev-2", INCIDENT, Allowed(&[5], SEVERITY)),
        (Main, Some(FIXER), MAINTAINER, "dev-5", RISK, Denied), // insured, not at branch
        (Main, Some(FIXER), MAINTAINER, "dev-5", INCIDENT, Allowed(&[2], METADATA)),
        (Main, Some(FIXER), MAINTAINER, "dev-4", RISK, Denied),
        (Main, Some(FIXER), MAINTAINER, "dev-1", RISK, Denied), // not insured
        (Main, Some(FIXER), MAINTAINER, "dev-2", MAINTENANCE, Denied), // unlisted type
        (Main, Some(FIXER), NONE, "dev-2", RISK, Denied), // no role there
        (Main, Some(FIXER), &[Role::Maintainer, Role::Auditor], "dev-2", RISK, Allowed(&[1, 5], SEVERITY_STATUS)),
        // A named stakeholder, group (grant 6) and group AND site (grant 5).
        (Main, Some(INSURER), NONE, "dev-2", INCIDENT, Allowed(&[5, 6], None)),
        (Main, Some(INSURER), NONE, "dev-2", RISK, Allowed(&[5], SEVERITY)),
        (Main, Some(INSURER), NONE, "dev-4", INCIDENT, Allowed(&[2, 6], None)),
        (Main, Some(INSURER), NONE, "dev-4", RISK, Denied),
        (Main, Some(INSURER), NONE, "dev-5", INCIDENT, Allowed(&[2, 6], None)),
        (Main, Some(INSURER), NONE, "dev-1", INCIDENT, Allowed(&[2], METADATA)),
        (Main, Some(INSURER), NONE, "dev-3", INCIDENT, Denied),
        // A named stakeholder, manufacturer filter (grant 4).
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-1", VULN, Allowed(&[4], None)),
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-2", DOOR, Allowed(&[4], None)),
        (Main, Some(VENDOR), NONE, "dev-5", VULN, Allowed(&[4], None)),
        (Main, Some(VENDOR), NONE, "dev-3", VULN, Denied), // another maker's
        (Main, Some(VENDOR), NONE, "dev-4", DOOR, Denied),
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-1", "acme/other-event", Denied),
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-1", CONFIG, Denied),
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-5", FIRMWARE, Allowed(&[3], VERSION)),
        (Main, Some(VENDOR), &[Role::Manufacturer], "dev-1", FIRMWARE, Denied), // ctl-1
        // Another organization: only what authenticated and public grants show.
        (Main, Some(RIVAL), NONE, "dev-1", INCIDENT, Allowed(&[2], METADATA)),
        (Main, Some(RIVAL), NONE, "dev-2", INCIDENT, Denied), // at branch
        (Main, Some(RIVAL), NONE, "dev-3", INCIDENT, Denied), // no site
        (Main, Some(RIVAL), NONE, "dev-3", FIRMWARE, Allowed(&[3], VERSION)),
        (Main, Some(RIVAL), NONE, "dev-4", FIRMWARE, Denied), // ctl-1
        (Main, Some(RIVAL), NONE, "dev-1", MAINTENANCE, Denied),
        (Main, Some(RIVAL), NONE, "dev-2", VULN, Denied),
        (Main, Some(RIVAL), NONE, "dev-5", RISK, Denied),
        // Anonymous: public grants only, roles ignored.
        (Main, None, NONE, "dev-2", FIRMWARE, Allowed(&[3], VERSION)),
        (Main, None, NONE, "dev-3", FIRMWARE, Allowed(&[3], VERSION)),
        (Main, None, NONE, "dev-1", INCIDENT, Denied), // authenticated only
        (Main, None, AUDITOR, "dev-1", CONFIG, Denied),
        (Main, None, MAINTAINER, "dev-2", RISK, Denied),
        (Main, None, NONE, "dev-1", FIRMWARE, Denied),
        // No policy published: the default (any role on the device).
        (Default, Some(MAINT), MAINTAINER, "dev-1", MAINTENANCE, Allowed(&[0], None)),
        (Default, Some(AUDIT), AUDITOR, "dev-3", DOOR, Allowed(&[0], None)),
        (Default, Some(VENDOR), &[Role::Manufacturer], "dev-2", CONFIG, Allowed(&[0], None)),
        (Default, Some(FIXER), &[Role::Device], "dev-4", "acme/door-event", Allowed(&[0], None)),
        (Default, Some(INSURER), &[Role::Owner, Role::Operator], "dev-5", RISK, Allowed(&[0], None)),
        (Default, Some(RIVAL), NONE, "dev-1", INCIDENT, Denied),
        (Default, Some(INSURER), NONE, "dev-2", INCIDENT, Denied),
        (Default, None, NONE, "dev-2", FIRMWARE, Denied), // not public
        (Default, None, &[Role::Owner], "dev-2", FIRMWARE, Denied),
        // A policy with no grants replaces the default: nobody else reads.
        (Nothing, Some(AUDIT), AUDITOR, "dev-1", CONFIG, Denied),
        (Nothing, Some(VENDOR), &[Role::Manufacturer, Role::Owner], "dev-2", VULN, Denied),
        (Nothing, None, NONE, "dev-2", FIRMWARE, Denied),
    ]
};

/// A device of [`DEVICES`], owned, to borrow [`DeviceFacts`] from.
struct Device {
    id: DeviceId,
    manufacturer: StakeholderId,
    model: &'static str,
    site: Option<&'static str>,
    groups: Vec<String>,
}

impl Device {
    fn named(name: &str) -> Device {
        let (id, manufacturer, model, site, groups) = DEVICES
            .iter()
            .find(|d| d.0 == name)
            .copied()
            .unwrap_or_else(|| panic!("no device {name} in DEVICES"));
        Device {
            id: DeviceId::new(id.to_string()).expect("device id"),
            manufacturer: StakeholderId(manufacturer.to_string()),
            model,
            site,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn facts(&self) -> DeviceFacts<'_> {
        DeviceFacts {
            device: &self.id,
            manufacturer: &self.manufacturer,
            model: self.model,
            site: self.site,
            groups: &self.groups,
        }
    }
}

fn main_policy() -> SharingPolicy {
    SharingPolicy::parse(&main_policy_json()).unwrap_or_else(|e| panic!("main policy: {e}"))
}

fn nothing_policy() -> SharingPolicy {
    SharingPolicy::parse(&json!({ "id": "op-private", "grants": [] }))
        .unwrap_or_else(|e| panic!("empty policy: {e}"))
}

fn stakeholder(name: &str) -> StakeholderId {
    StakeholderId(name.to_string())
}

/// Decides one read of OWNER's data.
fn decide_read<'p>(
    policy: Option<&'p SharingPolicy>,
    reader: Option<&str>,
    roles: &[Role],
    device: &str,
    statement_type: &str,
) -> Decision<'p> {
    let reader = reader.map(stakeholder);
    let roles: BTreeSet<Role> = roles.iter().copied().collect();
    let owner = stakeholder(OWNER);
    let device = Device::named(device);
    let facts = device.facts();
    decide(
        policy,
        &ReadRequest {
            reader: reader.as_ref(),
            reader_roles: &roles,
            owner: &owner,
            device: &facts,
            statement_type,
        },
    )
}

fn grant_set(indices: &[usize]) -> GrantSet {
    GrantSet::try_from(indices.to_vec()).unwrap_or_else(|e| panic!("{e}"))
}

fn expected<'p>(policy_id: &'p str, expect: Expect) -> Decision<'p> {
    match expect {
        Own => Decision::Own,
        Denied => Decision::Denied,
        Allowed(grants, fields) => Decision::Allowed {
            policy: policy_id,
            grants: grant_set(grants),
            fields: fields.map(|f| Cow::Owned(f.iter().map(|s| s.to_string()).collect())),
        },
    }
}

#[test]
fn authorization_matrix() {
    let main = main_policy();
    let nothing = nothing_policy();
    let mut grants_seen = BTreeSet::new();
    let mut outcomes_seen = BTreeSet::new();
    let mut readers_seen = BTreeSet::new();
    let mut n = 0;
    for &(published, reader, roles, device, statement_type, expect) in MATRIX {
        let (policy, id) = match published {
            Published::Main => (Some(&main), "op-2025"),
            Published::Nothing => (Some(&nothing), "op-private"),
            Published::None => (None, DEFAULT_POLICY_ID),
        };
        let decision = decide_read(policy, reader, roles, device, statement_type);
        assert_eq!(
            decision,
            expected(id, expect),
            "{published:?} policy, reader {reader:?} with roles {roles:?}, {device}, {statement_type}"
        );
        if let (Published::Main, Allowed(grants, _)) = (published, expect) {
            grants_seen.extend(grants.iter().copied());
        }
        outcomes_seen.insert(match expect {
            Own => "own",
            Denied => "denied",
            Allowed(grants, _) if grants.len() > 1 => "allowed by several grants",
            Allowed(..) => "allowed",
        });
        readers_seen.insert(reader.unwrap_or("anonymous"));
        n += 1;
    }
    println!("sharing matrix: {n} cases");
    assert!(n >= 60, "only {n} cases");
    // The table exercises every grant of the main policy, every outcome and
    // every kind of reader, so a grant that stopped mattering shows here.
    assert_eq!(grants_seen, (0..7).collect::<BTreeSet<usize>>());
    assert_eq!(outcomes_seen.len(), 4, "{outcomes_seen:?}");
    assert_eq!(readers_seen.len(), 8, "{readers_seen:?}");
}

#[test]
fn the_default_policy_as_data_decides_like_no_policy() {
    let default = SharingPolicy::default_policy();
    let mut n = 0;
    for &(_, reader, roles, device, statement_type, _) in MATRIX {
        assert_eq!(
            decide_read(None, reader, roles, device, statement_type),
            decide_read(Some(&default), reader, roles, device, statement_type),
            "reader {reader:?} with roles {roles:?}, {device}, {statement_type}"
        );
        n += 1;
    }
    assert_eq!(n, MATRIX.len());
    assert_eq!(default.id(), DEFAULT_POLICY_ID);
    assert_eq!(
        serde_json::to_value(&default).unwrap_or_default(),
        json!({
            "id": "default",
            "grants": [{
                "readers": [
                    { "role": "manufacturer" }, { "role": "operator" }, { "role": "maintainer" },
                    { "role": "auditor" }, { "role": "owner" }, { "role": "device" }
                ],
                "devices": "all",
                "types": ["*"]
            }]
        })
    );
    // Its id is reserved: it cannot be published as such.
    let published = serde_json::to_value(&default).unwrap_or_default();
    assert_eq!(
        SharingPolicy::parse(&published),
        Err(PolicyError::ReservedId)
    );
}

/// What a decision shows: `None` when denied, `Some(None)` for every field.
fn shown(decision: &Decision<'_>) -> Option<Option<BTreeSet<String>>> {
    match decision {
        Decision::Denied => None,
        Decision::Own => Some(None),
        Decision::Allowed { fields, .. } => {
            Some(fields.as_ref().map(|f| f.iter().cloned().collect()))
        }
    }
}

/// Whether `more` shows at least what `less` does.
fn shows_at_least(more: &Decision<'_>, less: &Decision<'_>) -> bool {
    match (shown(more), shown(less)) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(None), Some(_)) => true,
        (Some(Some(_)), Some(None)) => false,
        (Some(Some(more)), Some(Some(less))) => more.is_superset(&less),
    }
}

#[test]
fn a_name_or_more_roles_never_show_less() {
    let main = main_policy();
    let mut n = 0;
    for &(_, reader, roles, device, statement_type, _) in MATRIX {
        let decision = decide_read(Some(&main), reader, roles, device, statement_type);
        let anonymous = decide_read(Some(&main), None, NONE, device, statement_type);
        assert!(
            shows_at_least(&decision, &anonymous),
            "{reader:?} sees less than anonymous: {decision:?} vs {anonymous:?}"
        );
        let mut more_roles = roles.to_vec();
        more_roles.extend([Role::Auditor, Role::Maintainer]);
        let with_more = decide_read(Some(&main), reader, &more_roles, device, statement_type);
        assert!(
            shows_at_least(&with_more, &decision),
            "{reader:?} with more roles sees less: {with_more:?} vs {decision:?}"
        );
        n += 1;
    }
    assert_eq!(n, MATRIX.len());
}

/// Regression for the "widest single grant" rule: an auditor (grant 1,
/// fields severity and status) reading a cam-2's firmware must see the
/// version that anyone sees (grant 3), not only its own grant's fields.
#[test]
fn overlapping_field_lists_show_their_union() {
    let main = main_policy();
    let decision = decide_read(Some(&main), Some(AUDIT), AUDITOR, "dev-2", FIRMWARE);
    let payload = json!({ "type": FIRMWARE, "version": "2.1", "image_sha256": "ab" });
    assert_eq!(
        decision.show(&payload),
        Some(json!({ "type": FIRMWARE, "version": "2.1" }))
    );
    // A single list is borrowed from the policy, a union is built.
    let single = decide_read(Some(&main), None, NONE, "dev-2", FIRMWARE);
    assert!(matches!(
        single,
        Decision::Allowed {
            fields: Some(Cow::Borrowed(_)),
            ..
        }
    ));
    assert!(matches!(
        decision,
        Decision::Allowed {
            fields: Some(Cow::Owned(_)),
            ..
        }
    ));
}

/// (policy JSON, the exact error).
type Refusal = (Value, PolicyError);

fn grant(readers: Value, devices: Value, types: Value) -> Value {
    json!({ "readers": readers, "devices": devices, "types": types })
}

fn policy_with(grant: Value) -> Value {
    json!({ "id": "p1", "grants": [grant] })
}

#[test]
fn bad_policies_are_refused_with_their_reason() {
    let auditors = json!([{ "role": "auditor" }]);
    let all = json!("all");
    let incidents = json!([INCIDENT]);
    let with_fields = |fields: Value| {
        let mut g = grant(auditors.clone(), all.clone(), incidents.clone());
        g["fields"] = fields;
        policy_with(g)
    };
    let long_name = "x".repeat(NAME_BYTES_MAX + 1);
    let cases: Vec<Refusal> = vec![
        (
            json!({ "id": "p1", "grants": [], "owner": "op.example" }),
            PolicyError::Invalid("unknown field `owner`, expected `id` or `grants`".into()),
        ),
        (
            policy_with(json!({ "readers": auditors, "devices": all, "types": incidents, "field": ["x"] })),
            PolicyError::Invalid(
                "unknown field `field`, expected one of `readers`, `devices`, `types`, `fields`"
                    .into(),
            ),
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": { "site": ["hq"] } }), incidents.clone())),
            PolicyError::Invalid(
                "unknown field `site`, expected one of `ids`, `groups`, `sites`, `models`, `manufacturers`"
                    .into(),
            ),
        ),
        (
            policy_with(json!({ "readers": auditors, "types": incidents })),
            PolicyError::Invalid("missing field `devices`".into()),
        ),
        (
            json!({ "grants": [] }),
            PolicyError::Invalid("missing field `id`".into()),
        ),
        (
            policy_with(grant(json!([{ "role": "janitor" }]), all.clone(), incidents.clone())),
            PolicyError::Invalid(
                "unknown variant `janitor`, expected one of `manufacturer`, `operator`, `maintainer`, `auditor`, `owner`, `device`"
                    .into(),
            ),
        ),
        (
            policy_with(grant(json!(["everyone"]), all.clone(), incidents.clone())),
            PolicyError::Invalid(
                "unknown variant `everyone`, expected one of `stakeholder`, `role`, `authenticated`, `public`"
                    .into(),
            ),
        ),
        (
            policy_with(grant(auditors.clone(), json!("some"), incidents.clone())),
            PolicyError::Invalid("unknown variant `some`, expected `all` or `matching`".into()),
        ),
        (
            with_fields(Value::Null),
            PolicyError::Invalid("invalid type: null, expected a sequence".into()),
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!(["Incident"]))),
            PolicyError::UnknownType { grant: 0, name: "Incident".into() },
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!(["Acme/Door"]))),
            PolicyError::UnknownType { grant: 0, name: "Acme/Door".into() },
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!(["acme/door/open"]))),
            PolicyError::UnknownType { grant: 0, name: "acme/door/open".into() },
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!(["*", INCIDENT]))),
            PolicyError::AllTypesNotAlone { grant: 0 },
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!([INCIDENT, RISK, INCIDENT]))),
            PolicyError::Duplicate { grant: 0, what: "statement type", value: "\"incident-reported\"".into() },
        ),
        (
            policy_with(grant(auditors.clone(), all.clone(), json!([]))),
            PolicyError::Empty { grant: 0, what: "statement types" },
        ),
        (
            policy_with(grant(json!([]), all.clone(), incidents.clone())),
            PolicyError::Empty { grant: 0, what: "readers" },
        ),
        (
            policy_with(grant(json!(["public", { "role": "auditor" }, "public"]), all.clone(), incidents.clone())),
            PolicyError::Duplicate { grant: 0, what: "reader", value: "public".into() },
        ),
        (
            policy_with(grant(json!([{ "stakeholder": "" }]), all.clone(), incidents.clone())),
            PolicyError::BadName { grant: 0, what: "stakeholder", name: String::new() },
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": {} }), incidents.clone())),
            PolicyError::NoCriteria { grant: 0 },
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": { "groups": [], "sites": [] } }), incidents.clone())),
            PolicyError::NoCriteria { grant: 0 },
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": { "sites": ["hq "] } }), incidents.clone())),
            PolicyError::BadName { grant: 0, what: "site", name: "hq ".into() },
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": { "groups": ["a", "b", "a"] } }), incidents.clone())),
            PolicyError::Duplicate { grant: 0, what: "group", value: "\"a\"".into() },
        ),
        (
            policy_with(grant(auditors.clone(), json!({ "matching": { "models": [long_name.clone()] } }), incidents.clone())),
            PolicyError::NameTooLong { grant: 0, what: "model", bytes: NAME_BYTES_MAX + 1, max_bytes: NAME_BYTES_MAX },
        ),
        (
            with_fields(json!(["type"])),
            PolicyError::AlwaysShownField { grant: 0, field: "type".into() },
        ),
        (
            with_fields(json!(["severity", ""])),
            PolicyError::BadName { grant: 0, what: "field", name: String::new() },
        ),
        (
            with_fields(json!(["severity", "severity"])),
            PolicyError::Duplicate { grant: 0, what: "field", value: "\"severity\"".into() },
        ),
        (
            json!({ "id": "default", "grants": [] }),
            PolicyError::ReservedId,
        ),
        (
            json!({ "id": "my policy", "grants": [] }),
            PolicyError::BadId("my policy".into()),
        ),
        (
            json!({ "id": "", "grants": [] }),
            PolicyError::BadId(String::new()),
        ),
        (
            json!({ "id": "p".repeat(ID_BYTES_MAX + 1), "grants": [] }),
            PolicyError::IdTooLong { bytes: ID_BYTES_MAX + 1, max_bytes: ID_BYTES_MAX },
        ),
    ];
    for (policy, error) in &cases {
        assert_eq!(
            SharingPolicy::parse(policy).as_ref(),
            Err(error),
            "{policy}"
        );
    }
    // A name shaped like a type but in no vocabulary (a typo of
    // `incident-reported`) parses, for a stored policy must load; the
    // projection refuses it when it is published, unless it is one of the
    // deployment's built-in types.
    let typo = SharingPolicy::parse(&policy_with(grant(
        auditors.clone(),
        all.clone(),
        json!(["incident"]),
    )))
    .expect("shaped like a type name");
    assert_eq!(
        typo.unknown_types(|_| false),
        Err(PolicyError::UnknownType {
            grant: 0,
            name: "incident".into()
        })
    );
    assert_eq!(typo.unknown_types(|name| name == "incident"), Ok(()));
    // The messages, as a client sees them.
    let messages: Vec<String> = [9, 12, 13, 16, 18, 23, 26, 29]
        .iter()
        .map(|&i| cases.get(i).map(|c| c.1.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(
        messages,
        [
            "grant 0: unknown statement type \"Incident\" (expected a built-in type, \"*\", or a custom type such as \"acme.example/door-event\")",
            "grant 0: \"*\" must be the grant's only statement type",
            "grant 0: statement type \"incident-reported\" is listed twice",
            "grant 0: reader public is listed twice",
            "grant 0: device filter has no criteria (write \"all\" for every device)",
            "grant 0: field \"type\" is always shown and must not be listed",
            "sharing policy id \"default\" is reserved for the default policy",
            "sharing policy id of 129 bytes exceeds 128 bytes",
        ]
    );
    assert_eq!(
        cases.first().map(|c| c.1.to_string()).unwrap_or_default(),
        "invalid sharing policy: unknown field `owner`, expected `id` or `grants`"
    );
}

#[test]
fn the_grant_and_reader_limits_hold_at_their_bound() {
    let one = grant(json!(["public"]), json!("all"), json!([FIRMWARE]));
    let at_max = json!({ "id": "p1", "grants": vec![one.clone(); GRANTS_MAX] });
    let over = json!({ "id": "p1", "grants": vec![one; GRANTS_MAX + 1] });
    assert_eq!(
        SharingPolicy::parse(&at_max).map(|p| p.grants().len()),
        Ok(GRANTS_MAX)
    );
    let error = SharingPolicy::parse(&over);
    assert_eq!(
        error,
        Err(PolicyError::TooManyGrants {
            grants: GRANTS_MAX + 1,
            max: GRANTS_MAX
        })
    );
    assert_eq!(
        error.map(|_| ()).unwrap_err().to_string(),
        "sharing policy has 65 grants, more than 64"
    );
    // Deserializing (as the projection's persisted state does) checks the
    // same way.
    assert!(serde_json::from_value::<SharingPolicy>(over).is_err());

    let readers = |n: usize| -> Value {
        (0..n)
            .map(|i| json!({ "stakeholder": format!("s{i}.example") }))
            .collect()
    };
    let policy = |n| policy_with(grant(readers(n), json!("all"), json!([FIRMWARE])));
    assert!(SharingPolicy::parse(&policy(READERS_MAX)).is_ok());
    assert_eq!(
        SharingPolicy::parse(&policy(READERS_MAX + 1)),
        Err(PolicyError::TooMany {
            grant: 0,
            what: "readers",
            count: READERS_MAX + 1,
            max: READERS_MAX
        })
    );
}

#[test]
fn a_policy_serializes_to_its_own_json_and_back() {
    let policy = main_policy();
    let json = serde_json::to_value(&policy).unwrap_or_default();
    assert_eq!(json, main_policy_json());
    assert_eq!(SharingPolicy::parse(&json).as_ref(), Ok(&policy));
    assert_eq!(
        serde_json::from_value::<SharingPolicy>(json).ok(),
        Some(policy.clone())
    );
    // What parsing kept, through the accessors.
    assert_eq!(policy.id(), "op-2025");
    let grants = policy.grants();
    assert_eq!(grants.len(), 7);
    let g5 = grants.get(5).unwrap_or_else(|| panic!("grant 5"));
    assert_eq!(
        g5.readers(),
        [
            Reader::Role(Role::Maintainer),
            Reader::Stakeholder(stakeholder(INSURER))
        ]
    );
    assert_eq!(g5.fields(), Some(&["severity".to_string()][..]));
    let DeviceFilter::Matching(criteria) = g5.devices() else {
        panic!("grant 5 filters devices")
    };
    assert_eq!(criteria.groups(), ["insured"]);
    assert_eq!(criteria.sites(), ["branch"]);
    assert!(criteria.ids().is_empty() && criteria.models().is_empty());
    assert_eq!(grants.get(1).map(|g| g.devices()), Some(&DeviceFilter::All));
    assert_eq!(grants.first().and_then(|g| g.fields()), None);
    // An empty policy is valid and shares nothing.
    assert!(nothing_policy().grants().is_empty());
}

#[test]
fn custom_type_names() {
    for name in [
        "acme/door-event",
        "acme.example/door-event",
        "a/b",
        "vendor-2/x-1",
    ] {
        assert!(is_custom_type_name(name), "{name}");
    }
    for name in [
        "acme",
        "acme/",
        "/door",
        "Acme/door",
        "acme/door_event",
        "acme/door.event",
        "Acme.example/door",
        "acme/door/open",
        "acme /door",
        "*",
    ] {
        assert!(!is_custom_type_name(name), "{name}");
    }
}

#[test]
fn redaction_keeps_type_version_and_listed_top_level_fields() {
    let incident = json!({
        "type": INCIDENT, "v": 1, "severity": "high", "summary": "door forced"
    });
    let fields = |f: &[&str]| -> Vec<String> { f.iter().map(|s| s.to_string()).collect() };
    assert_eq!(redact(&incident, None), incident);
    assert_eq!(
        redact(&incident, Some(&fields(&["severity"]))),
        json!({ "type": INCIDENT, "v": 1, "severity": "high" })
    );
    assert_eq!(
        redact(&incident, Some(&[])),
        json!({ "type": INCIDENT, "v": 1 })
    );
    // A listed field the payload lacks is not invented.
    assert_eq!(
        redact(&incident, Some(&fields(&["status", "summary"]))),
        json!({ "type": INCIDENT, "v": 1, "summary": "door forced" })
    );
    // Top-level names only: a nested key is not a field.
    let config = json!({ "type": CONFIG, "config_sha256": "ab", "settings": { "tls": true } });
    assert_eq!(
        redact(&config, Some(&fields(&["tls"]))),
        json!({ "type": CONFIG })
    );
    // Not an object: nothing to show.
    assert_eq!(
        redact(&json!(["severity"]), Some(&fields(&["severity"]))),
        json!({})
    );

    // Through decisions.
    let main = main_policy();
    let anonymous = decide_read(Some(&main), None, NONE, "dev-1", INCIDENT);
    assert!(!anonymous.permits_read());
    assert_eq!(anonymous.show(&incident), None);
    let rival = decide_read(Some(&main), Some(RIVAL), NONE, "dev-1", INCIDENT);
    assert!(rival.permits_read());
    assert_eq!(
        rival.show(&incident),
        Some(json!({ "type": INCIDENT, "v": 1 }))
    );
    let own = decide_read(Some(&main), Some(OWNER), NONE, "dev-1", INCIDENT);
    assert!(own.permits_read());
    assert_eq!(own.show(&incident), Some(incident.clone()));
    let insurer = decide_read(Some(&main), Some(INSURER), NONE, "dev-2", INCIDENT);
    assert_eq!(insurer.show(&incident), Some(incident));
}

#[test]
fn decisions_and_read_records_have_a_stable_json_form() {
    let main = main_policy();
    let decision = decide_read(Some(&main), Some(AUDIT), AUDITOR, "dev-2", FIRMWARE);
    assert_eq!(
        serde_json::to_value(&decision).unwrap_or_default(),
        json!({
            "decision": "allowed",
            "policy": "op-2025",
            "grants": [1, 3],
            "fields": ["severity", "status", "version"]
        })
    );
    assert_eq!(
        serde_json::to_value(Decision::Denied).unwrap_or_default(),
        json!({ "decision": "denied" })
    );

    let record = ReadRecord {
        reader: Some(stakeholder(AUDIT)),
        owner: stakeholder(OWNER),
        device: Some(DeviceId::new("dev-2").expect("device id")),
        what: ReadKind::Timeline,
        entries: ReadEntries::Listed(vec![3, 9]),
        policy: "op-2025".into(),
        policy_entry: Some(42),
        grants: grant_set(&[1, 3]),
        at_unix_ms: 1_750_000_000_000,
    };
    let json = json!({
        "reader": AUDIT,
        "owner": OWNER,
        "device": "dev-2",
        "what": "timeline",
        "entries": { "listed": [3, 9] },
        "policy": "op-2025",
        "policy_entry": 42,
        "grants": [1, 3],
        "at_unix_ms": 1_750_000_000_000_u64
    });
    assert_eq!(serde_json::to_value(&record).unwrap_or_default(), json);
    assert_eq!(
        serde_json::from_value::<ReadRecord>(json.clone()).ok(),
        Some(record)
    );

    let mut counted = json.clone();
    counted["reader"] = Value::Null;
    counted["what"] = json!("count");
    counted["entries"] = json!({ "counted": 12 });
    let parsed = serde_json::from_value::<ReadRecord>(counted).ok();
    assert_eq!(
        parsed.as_ref().map(|r| &r.entries),
        Some(&ReadEntries::Counted(12))
    );
    assert_eq!(parsed.map(|r| r.reader), Some(None));

    let mut bad_grant = json.clone();
    bad_grant["grants"] = json!([GRANTS_MAX]);
    assert!(serde_json::from_value::<ReadRecord>(bad_grant).is_err());
    let mut unknown = json;
    unknown["note"] = json!("x");
    assert!(serde_json::from_value::<ReadRecord>(unknown).is_err());
}

#[test]
fn grant_sets() {
    let set = grant_set(&[5, 0, 63, 5]);
    assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, 63]);
    assert_eq!(set.len(), 3);
    assert_eq!(set.first(), Some(0));
    assert!(set.contains(63) && !set.contains(1) && !set.contains(64));
    assert!(GrantSet::EMPTY.is_empty() && GrantSet::EMPTY.first().is_none());
    // Beyond the width: not representable, not silently another index.
    assert_eq!(GrantSet::EMPTY.with(GRANTS_MAX), GrantSet::EMPTY);
    assert!(GrantSet::try_from(vec![GRANTS_MAX]).is_err());
}
