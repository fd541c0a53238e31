//! Data-sharing policies: which stakeholders may read which of another
//! stakeholder's statements, and which of their fields.
//!
//! Every stakeholder *owns* the statements it signed. It publishes a
//! [`SharingPolicy`] (a statement in the log; the projection keeps each
//! owner's latest) made of [`Grant`]s: *these readers* may read *these
//! statement types* about *these devices*, showing *these payload fields*.
//! Every read path of the API (lists, searches, counts, timelines, receipts,
//! exports) asks [`decide`] once per (reader, owner, device, statement type)
//! and shows the payload through [`Decision::show`] (or [`redact`]).
//!
//! The rules, all of them:
//!
//! 1. The owner always reads its own statements, every field
//!    ([`Decision::Own`]), whatever its policy says.
//! 2. An owner that published no policy gets the *default policy*
//!    ([`SharingPolicy::default_policy`]): a stakeholder holding any role on
//!    the device reads every statement type about it, every field. Nobody
//!    else, and never an anonymous reader.
//! 3. A published policy replaces the default entirely: only its grants
//!    allow anything. A policy with no grants shares nothing.
//! 4. A grant allows a read when its types cover the statement type, one of
//!    its readers admits the reader, and its device filter matches the device.
//! 5. When several grants allow a read, the reader sees the *union* of their
//!    fields (all fields if any of them shows all), and [`Decision::Allowed`]
//!    names every one of them. The union adds nothing the reader could not
//!    obtain anyway, one grant at a time; choosing a single "widest" grant
//!    instead would let, say, an auditor see fewer fields of a statement than
//!    an anonymous reader does through a public grant.
//! 6. Anything else is [`Decision::Denied`].
//!
//! A device is no stakeholder: what it signs about itself (its reports) is
//! decided under the policy of its operator, else its owner, else its
//! manufacturer (`projection::data_holder`), who reads it as its own.
//!
//! A policy as JSON (field names in snake_case like the statements', statement
//! types and roles as on the wire):
//!
//! ```json
//! {
//!   "id": "acme-sharing-2025",
//!   "grants": [
//!     { "readers": [{ "stakeholder": "maint.example" }, { "role": "auditor" }],
//!       "devices": { "matching": { "groups": ["hvac"], "sites": ["hq"] } },
//!       "types": ["maintenance-performed", "acme/door-event"] },
//!     { "readers": ["authenticated"],
//!       "devices": "all",
//!       "types": ["incident-reported"],
//!       "fields": ["severity"] },
//!     { "readers": ["public"],
//!       "devices": { "matching": { "models": ["cam-2"] } },
//!       "types": ["*"],
//!       "fields": [] }
//!   ]
//! }
//! ```
//!
//! This module decides and redacts; it does not know where policies are
//! stored, which roles a reader holds (the caller passes them, from the
//! projection), nor how reads are recorded ([`ReadRecord`] is only the
//! record's shape). Deciding allocates nothing unless two or more grants with
//! field lists allow the same read (their union is then built).

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::model::{DeviceId, Role, StakeholderId};
use crate::statement::TYPES;

/// Most grants in one policy. A decision scans every grant, so this bounds
/// its cost; it is also the width of [`GrantSet`] (one bit per grant).
pub const GRANTS_MAX: usize = 64;

/// Longest policy id, in bytes.
pub const ID_BYTES_MAX: usize = 128;

/// Most readers in one grant.
pub const READERS_MAX: usize = 64;

/// Most statement types in one grant: every built-in type plus room for
/// custom ones.
pub const TYPES_MAX: usize = 64;

/// Most fields in one grant's field list.
pub const FIELDS_MAX: usize = 64;

/// Most values in one device criterion list (ids, groups, sites, models or
/// manufacturers). A fleet larger than this is named by a group, not listed.
pub const CRITERION_VALUES_MAX: usize = 256;

/// Longest name (stakeholder, device id, group, site, model, field or custom
/// statement type), in bytes.
pub const NAME_BYTES_MAX: usize = 256;

/// The id of the default policy; reserved: a published policy cannot use it,
/// so a [`ReadRecord`] naming it is never ambiguous.
pub const DEFAULT_POLICY_ID: &str = "default";

/// The statement type that stands for every type (built-in and custom); it
/// must be a grant's only type.
pub const ALL_TYPES: &str = "*";

/// Payload fields every allowed read shows: the type tag and the schema
/// version. A field list must not name them.
pub const ALWAYS_SHOWN_FIELDS: [&str; 2] = ["type", "v"];

// `GrantSet` has one bit per grant.
const _: () = assert!(GRANTS_MAX <= 64);

/// A stakeholder's data-sharing policy: its grants, in order. Built only by
/// [`SharingPolicy::parse`] (or deserializing, which validates the same way)
/// and [`SharingPolicy::default_policy`], so a policy in hand is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy")]
pub struct SharingPolicy {
    id: String,
    grants: Vec<Grant>,
}

/// One grant: `readers` may read statements of `types` about the devices
/// `devices` matches, showing `fields`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    readers: Vec<Reader>,
    devices: DeviceFilter,
    types: Vec<String>,
    #[serde(
        default,
        deserialize_with = "field_list",
        skip_serializing_if = "Option::is_none"
    )]
    fields: Option<Vec<String>>,
}

/// Who a grant is for. JSON: `{"stakeholder": "op.example"}`,
/// `{"role": "operator"}`, `"authenticated"`, `"public"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// This stakeholder.
    Stakeholder(StakeholderId),
    /// Any stakeholder holding this role on the device read about.
    Role(Role),
    /// Any authenticated stakeholder.
    Authenticated,
    /// Anyone, authenticated or not.
    Public,
}

/// Which devices a grant covers. JSON: `"all"` or
/// `{"matching": {"groups": ["hvac"], "sites": ["hq"]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFilter {
    /// Every device.
    All,
    /// The devices that meet the criteria.
    Matching(DeviceCriteria),
}

/// Device criteria: a device matches when it meets *every non-empty* list,
/// and it meets a list when its fact is *any* of the list's values (for
/// groups: when it belongs to any of the listed groups; a device without a
/// site never meets a site list). At least one list must be non-empty
/// (`"all"` says "every device"). Values are compared exactly: models are
/// not unique across manufacturers, so list both to mean one maker's model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCriteria {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ids: Vec<DeviceId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sites: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    models: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    manufacturers: Vec<StakeholderId>,
}

/// What the device filters look at, from the device's twin.
#[derive(Debug, Clone, Copy)]
pub struct DeviceFacts<'a> {
    /// The device.
    pub device: &'a DeviceId,
    /// The stakeholder that registered it.
    pub manufacturer: &'a StakeholderId,
    /// Its model, as registered.
    pub model: &'a str,
    /// Its site, if one was named.
    pub site: Option<&'a str>,
    /// The groups it belongs to.
    pub groups: &'a [String],
}

/// One read to decide: may `reader` read `owner`'s statement of
/// `statement_type` about `device`?
#[derive(Debug, Clone, Copy)]
pub struct ReadRequest<'a> {
    /// Who reads; `None` for an anonymous reader.
    pub reader: Option<&'a StakeholderId>,
    /// The reader's roles on this device (ignored for an anonymous reader:
    /// roles belong to stakeholders).
    pub reader_roles: &'a BTreeSet<Role>,
    /// Who signed the data.
    pub owner: &'a StakeholderId,
    /// The device the data is about.
    pub device: &'a DeviceFacts<'a>,
    /// The statement's type tag.
    pub statement_type: &'a str,
}

/// The answer to one [`ReadRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision<'p> {
    /// The reader is the owner: allowed, every field.
    Own,
    /// Allowed by the owner's policy (or the default policy).
    Allowed {
        /// The policy's id, or [`DEFAULT_POLICY_ID`].
        policy: &'p str,
        /// Every grant that allows the read (the default policy's is 0).
        grants: GrantSet,
        /// The payload fields shown besides [`ALWAYS_SHOWN_FIELDS`]: `None`
        /// for all of them, else the union of the grants' lists (in grant
        /// order, then list order, without repeats), possibly empty.
        fields: Option<Cow<'p, [String]>>,
    },
    /// Not allowed.
    Denied,
}

/// A set of grant indices (at most [`GRANTS_MAX`]), in increasing order.
/// JSON: an array of indices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<usize>", into = "Vec<usize>")]
pub struct GrantSet(u64);

/// Why a sharing policy is refused. Every variant is a client error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not the policy's shape: an unknown or missing field, a wrong type, an
    /// unknown role (the deserializer's message).
    #[error("invalid sharing policy: {0}")]
    Invalid(String),
    /// The id is longer than [`ID_BYTES_MAX`].
    #[error("sharing policy id of {bytes} bytes exceeds {max_bytes} bytes")]
    IdTooLong {
        /// Its size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// The id is empty or has characters other than `[A-Za-z0-9._-]`.
    #[error("sharing policy id {0:?} is not valid: expected [A-Za-z0-9._-]+")]
    BadId(String),
    /// The id is [`DEFAULT_POLICY_ID`].
    #[error("sharing policy id \"default\" is reserved for the default policy")]
    ReservedId,
    /// More than [`GRANTS_MAX`] grants.
    #[error("sharing policy has {grants} grants, more than {max}")]
    TooManyGrants {
        /// How many.
        grants: usize,
        /// The limit.
        max: usize,
    },
    /// A grant with no readers or no statement types: it would allow nothing.
    #[error("grant {grant}: no {what}")]
    Empty {
        /// The grant's index.
        grant: usize,
        /// "readers" or "statement types".
        what: &'static str,
    },
    /// A list longer than its limit.
    #[error("grant {grant}: {count} {what}, more than {max}")]
    TooMany {
        /// The grant's index.
        grant: usize,
        /// What the list holds (plural).
        what: &'static str,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A name longer than [`NAME_BYTES_MAX`].
    #[error("grant {grant}: {what} of {bytes} bytes exceeds {max_bytes} bytes")]
    NameTooLong {
        /// The grant's index.
        grant: usize,
        /// What the name names.
        what: &'static str,
        /// Its size.
        bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// An empty name, or one with surrounding whitespace or control
    /// characters (it could never match what it was meant to).
    #[error("grant {grant}: {what} {name:?} is not a valid name (empty, surrounding whitespace or control characters)")]
    BadName {
        /// The grant's index.
        grant: usize,
        /// What the name names.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A value listed twice.
    #[error("grant {grant}: {what} {value} is listed twice")]
    Duplicate {
        /// The grant's index.
        grant: usize,
        /// What the value is.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// Neither a built-in type, nor `"*"`, nor a custom type name.
    #[error("grant {grant}: unknown statement type {name:?} (expected a built-in type, \"*\", or a custom type such as \"acme.example/door-event\")")]
    UnknownType {
        /// The grant's index.
        grant: usize,
        /// The type.
        name: String,
    },
    /// `"*"` next to other types.
    #[error("grant {grant}: \"*\" must be the grant's only statement type")]
    AllTypesNotAlone {
        /// The grant's index.
        grant: usize,
    },
    /// A field list naming `type` or `v`, which are always shown.
    #[error("grant {grant}: field {field:?} is always shown and must not be listed")]
    AlwaysShownField {
        /// The grant's index.
        grant: usize,
        /// The field.
        field: String,
    },
    /// `{"matching": {}}` (or with only empty lists).
    #[error("grant {grant}: device filter has no criteria (write \"all\" for every device)")]
    NoCriteria {
        /// The grant's index.
        grant: usize,
    },
}

/// Decides one read. The owner reads everything ([`Decision::Own`]); without
/// a `policy` the default policy applies (see
/// [`SharingPolicy::default_policy`]); otherwise the read is allowed by the
/// policy's grants that allow it, all of them, showing the union of their
/// fields, or denied. Costs one scan of the grants; allocates only to build
/// a union of two or more field lists.
pub fn decide<'p>(policy: Option<&'p SharingPolicy>, req: &ReadRequest<'_>) -> Decision<'p> {
    if req.reader == Some(req.owner) {
        return Decision::Own;
    }
    let Some(policy) = policy else {
        // Same as deciding with `SharingPolicy::default_policy()`, without
        // building it (tested for equality over the whole matrix).
        return if req.reader.is_some() && !req.reader_roles.is_empty() {
            Decision::Allowed {
                policy: DEFAULT_POLICY_ID,
                grants: GrantSet::EMPTY.with(0),
                fields: None,
            }
        } else {
            Decision::Denied
        };
    };
    let mut grants = GrantSet::EMPTY;
    let mut all_fields = false;
    let mut first_list: Option<&'p [String]> = None;
    let mut lists = 0_usize;
    for (index, grant) in policy.grants.iter().enumerate() {
        if !grant.allows(req) {
            continue;
        }
        grants = grants.with(index);
        match grant.fields.as_deref() {
            None => all_fields = true,
            Some(fields) => {
                lists += 1;
                first_list.get_or_insert(fields);
            }
        }
    }
    // Fail closed: `grants` empty means no grant allowed (indices beyond the
    // set's width cannot occur: parsing caps grants at GRANTS_MAX).
    if grants.is_empty() {
        return Decision::Denied;
    }
    let fields = match (all_fields, first_list) {
        (true, _) | (false, None) => None,
        (false, Some(only)) if lists == 1 => Some(Cow::Borrowed(only)),
        (false, Some(_)) => Some(Cow::Owned(union_of_fields(policy, grants))),
    };
    Decision::Allowed {
        policy: &policy.id,
        grants,
        fields,
    }
}

/// The payload as a reader may see it: all of it for `fields` `None`;
/// otherwise only its top-level [`ALWAYS_SHOWN_FIELDS`] and the listed
/// fields present in it, in the payload's order. A payload that is not an
/// object has no fields to show: the result is an empty object.
pub fn redact(payload: &Value, fields: Option<&[String]>) -> Value {
    let Some(fields) = fields else {
        return payload.clone();
    };
    let Value::Object(map) = payload else {
        return Value::Object(Map::new());
    };
    Value::Object(
        map.iter()
            .filter(|(name, _)| {
                ALWAYS_SHOWN_FIELDS.contains(&name.as_str()) || fields.iter().any(|f| f == *name)
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    )
}

/// Whether `name` could name a deployment's built-in statement type
/// (`twin::BuiltinType`): non-empty `[a-z0-9-]+`. Whether it does is the
/// projection's check when a policy is published
/// ([`SharingPolicy::unknown_types`]); a stored policy passed it.
pub fn is_builtin_type_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_BYTES_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `name` is a custom statement type name: `<namespace>/<name>`,
/// the namespace non-empty `[a-z0-9.-]+` (a stakeholder id such as
/// `acme.example`: a namespace belongs to the stakeholder it names), the
/// name non-empty `[a-z0-9-]+`, e.g. `acme.example/door-event`. (Custom
/// types are registered elsewhere; a policy may name one before it exists.)
pub fn is_custom_type_name(name: &str) -> bool {
    let part = |s: &str, dots: bool| {
        !s.is_empty()
            && s.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
            })
    };
    name.len() <= NAME_BYTES_MAX
        && name
            .split_once('/')
            .is_some_and(|(ns, n)| part(ns, true) && part(n, false))
}

/// The record the server keeps of every read of one stakeholder's data by
/// another (reads by the owner itself are not recorded): what was shown, to
/// whom, under which policy and grants. Its storage is elsewhere; the clock
/// is the caller's. One read of several owners' data writes one record per
/// owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRecord {
    /// Who read; `None` for an anonymous reader.
    pub reader: Option<StakeholderId>,
    /// Whose data was read.
    pub owner: StakeholderId,
    /// The device, when the read was about one.
    pub device: Option<DeviceId>,
    /// Which read path.
    pub what: ReadKind,
    /// The owner's entries shown, or how many were counted.
    pub entries: ReadEntries,
    /// The id of the policy that allowed the read, or [`DEFAULT_POLICY_ID`].
    pub policy: String,
    /// The log entry of that policy's statement (`None` for the default
    /// policy): ids are the owner's choice and may be reused, entries not.
    pub policy_entry: Option<u64>,
    /// The grants that allowed the entries shown (the union over them).
    pub grants: GrantSet,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}

/// The read path of a [`ReadRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    /// A twin view.
    Twin,
    /// A list of statements.
    List,
    /// A device's timeline.
    Timeline,
    /// One statement.
    Statement,
    /// Search results.
    Search,
    /// A count (no contents shown).
    Count,
    /// A receipt.
    Receipt,
    /// An export.
    Export,
}

/// What a [`ReadRecord`] shows of the owner's entries. JSON:
/// `{"listed": [3, 9]}` or `{"counted": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadEntries {
    /// The log entries whose (possibly redacted) contents were shown.
    Listed(Vec<u64>),
    /// Only how many matched was shown.
    Counted(u64),
}

impl SharingPolicy {
    /// The first statement type a grant names that is neither in the core
    /// vocabulary, nor a custom type name, nor one of `builtin` (a typo such
    /// as `firmware-relased` would otherwise grant nothing, silently), with
    /// its grant's index.
    pub fn unknown_types(&self, builtin: impl Fn(&str) -> bool) -> Result<(), PolicyError> {
        for (grant, g) in self.grants.iter().enumerate() {
            for name in &g.types {
                let known = name == ALL_TYPES
                    || TYPES.contains(&name.as_str())
                    || is_custom_type_name(name)
                    || builtin(name);
                if !known {
                    return Err(PolicyError::UnknownType {
                        grant,
                        name: name.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Parses a policy strictly: the shape (unknown fields refused), the
    /// limits, and every name, type and list checked; the first problem is
    /// returned.
    pub fn parse(value: &Value) -> Result<SharingPolicy, PolicyError> {
        // Refuse an oversized policy before deserializing its grants.
        if let Some(grants) = value.get("grants").and_then(Value::as_array) {
            if grants.len() > GRANTS_MAX {
                return Err(PolicyError::TooManyGrants {
                    grants: grants.len(),
                    max: GRANTS_MAX,
                });
            }
        }
        let raw = RawPolicy::deserialize(value).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        SharingPolicy::try_from(raw)
    }

    /// The policy of an owner that published none: one grant (index 0)
    /// letting a stakeholder that holds any role on the device read every
    /// statement type about it, every field. Its id, [`DEFAULT_POLICY_ID`],
    /// is reserved, so it cannot be published (or parsed) as such.
    pub fn default_policy() -> SharingPolicy {
        SharingPolicy {
            id: DEFAULT_POLICY_ID.to_string(),
            grants: vec![Grant {
                readers: Role::ALL.into_iter().map(Reader::Role).collect(),
                devices: DeviceFilter::All,
                types: vec![ALL_TYPES.to_string()],
                fields: None,
            }],
        }
    }

    /// The policy's id (the owner's name for it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its grants, in order; a grant's index is its position here.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }
}

impl Grant {
    /// Who the grant is for.
    pub fn readers(&self) -> &[Reader] {
        &self.readers
    }

    /// Which devices it covers.
    pub fn devices(&self) -> &DeviceFilter {
        &self.devices
    }

    /// Which statement types it covers (`["*"]` for all).
    pub fn types(&self) -> &[String] {
        &self.types
    }

    /// The payload fields it shows besides [`ALWAYS_SHOWN_FIELDS`]: `None`
    /// for all.
    pub fn fields(&self) -> Option<&[String]> {
        self.fields.as_deref()
    }

    /// Whether the grant covers the statement type.
    pub fn covers_type(&self, statement_type: &str) -> bool {
        self.types
            .iter()
            .any(|t| t == ALL_TYPES || t == statement_type)
    }

    /// Whether this grant alone allows the read (who owns the data is
    /// [`decide`]'s concern).
    pub fn allows(&self, req: &ReadRequest<'_>) -> bool {
        self.covers_type(req.statement_type)
            && self
                .readers
                .iter()
                .any(|r| r.admits(req.reader, req.reader_roles))
            && self.devices.matches(req.device)
    }

    /// Checks one grant of a policy; `grant` is its index, for messages.
    fn check(&self, grant: usize) -> Result<(), PolicyError> {
        check_count(grant, "readers", self.readers.len(), READERS_MAX)?;
        for reader in &self.readers {
            if let Reader::Stakeholder(id) = reader {
                check_name(grant, "stakeholder", &id.0)?;
            }
        }
        check_unique(grant, "reader", &self.readers, Reader::to_string)?;

        if let DeviceFilter::Matching(criteria) = &self.devices {
            criteria.check(grant)?;
        }

        check_count(grant, "statement types", self.types.len(), TYPES_MAX)?;
        for name in &self.types {
            if name != ALL_TYPES
                && !TYPES.contains(&name.as_str())
                && !is_custom_type_name(name)
                && !is_builtin_type_name(name)
            {
                return Err(PolicyError::UnknownType {
                    grant,
                    name: name.clone(),
                });
            }
        }
        if self.types.len() > 1 && self.types.iter().any(|t| t == ALL_TYPES) {
            return Err(PolicyError::AllTypesNotAlone { grant });
        }
        check_unique(grant, "statement type", &self.types, |t| format!("{t:?}"))?;

        if let Some(fields) = &self.fields {
            // An empty list is allowed: the reader sees that statements of
            // these types exist (type, version, entry, time), not their
            // contents.
            if fields.len() > FIELDS_MAX {
                return Err(PolicyError::TooMany {
                    grant,
                    what: "fields",
                    count: fields.len(),
                    max: FIELDS_MAX,
                });
            }
            for field in fields {
                check_name(grant, "field", field)?;
                if ALWAYS_SHOWN_FIELDS.contains(&field.as_str()) {
                    return Err(PolicyError::AlwaysShownField {
                        grant,
                        field: field.clone(),
                    });
                }
            }
            check_unique(grant, "field", fields, |f| format!("{f:?}"))?;
        }
        Ok(())
    }
}

impl Reader {
    /// Whether this reader designation admits `reader` holding `roles` on
    /// the device. An anonymous reader (`None`) is admitted only by
    /// [`Reader::Public`], whatever `roles` says.
    pub fn admits(&self, reader: Option<&StakeholderId>, roles: &BTreeSet<Role>) -> bool {
        match self {
            Reader::Public => true,
            Reader::Authenticated => reader.is_some(),
            Reader::Stakeholder(id) => reader == Some(id),
            Reader::Role(role) => reader.is_some() && roles.contains(role),
        }
    }
}

impl fmt::Display for Reader {
    /// As in messages: `stakeholder op.example`, `role operator`,
    /// `authenticated`, `public`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reader::Stakeholder(id) => write!(f, "stakeholder {}", id.0),
            Reader::Role(role) => write!(f, "role {}", role_name(*role)),
            Reader::Authenticated => f.write_str("authenticated"),
            Reader::Public => f.write_str("public"),
        }
    }
}

impl DeviceFilter {
    /// Whether the device is covered.
    pub fn matches(&self, device: &DeviceFacts<'_>) -> bool {
        match self {
            DeviceFilter::All => true,
            DeviceFilter::Matching(criteria) => criteria.matches(device),
        }
    }
}

impl DeviceCriteria {
    /// Whether the device meets every non-empty list (see the type's
    /// docs). Criteria with no list at all match nothing (fail closed;
    /// parsing refuses them anyway).
    pub fn matches(&self, device: &DeviceFacts<'_>) -> bool {
        !self.is_empty()
            && (self.ids.is_empty() || self.ids.contains(device.device))
            && (self.groups.is_empty() || device.groups.iter().any(|g| self.groups.contains(g)))
            && (self.sites.is_empty()
                || device
                    .site
                    .is_some_and(|site| self.sites.iter().any(|s| s == site)))
            && (self.models.is_empty() || self.models.iter().any(|m| m == device.model))
            && (self.manufacturers.is_empty() || self.manufacturers.contains(device.manufacturer))
    }

    /// Device ids listed.
    pub fn ids(&self) -> &[DeviceId] {
        &self.ids
    }

    /// Groups listed.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Sites listed.
    pub fn sites(&self) -> &[String] {
        &self.sites
    }

    /// Models listed.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// Manufacturers listed.
    pub fn manufacturers(&self) -> &[StakeholderId] {
        &self.manufacturers
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.groups.is_empty()
            && self.sites.is_empty()
            && self.models.is_empty()
            && self.manufacturers.is_empty()
    }

    pub(crate) fn check(&self, grant: usize) -> Result<(), PolicyError> {
        if self.is_empty() {
            return Err(PolicyError::NoCriteria { grant });
        }
        check_criterion(grant, "device ids", "device id", &self.ids, |d| d.as_str())?;
        check_criterion(grant, "groups", "group", &self.groups, String::as_str)?;
        check_criterion(grant, "sites", "site", &self.sites, String::as_str)?;
        check_criterion(grant, "models", "model", &self.models, String::as_str)?;
        check_criterion(
            grant,
            "manufacturers",
            "manufacturer",
            &self.manufacturers,
            |m| &m.0,
        )
    }
}

impl<'p> Decision<'p> {
    /// Whether the reader may read the statement at all (own or allowed).
    pub fn permits_read(&self) -> bool {
        !matches!(self, Decision::Denied)
    }

    /// The payload as this decision lets the reader see it, or `None` when
    /// denied.
    pub fn show(&self, payload: &Value) -> Option<Value> {
        match self {
            Decision::Own => Some(payload.clone()),
            Decision::Allowed { fields, .. } => Some(redact(payload, fields.as_deref())),
            Decision::Denied => None,
        }
    }
}

impl GrantSet {
    /// No grant.
    pub const EMPTY: GrantSet = GrantSet(0);

    /// This set and grant `index`; an index beyond [`GRANTS_MAX`] is not
    /// representable and leaves the set unchanged.
    pub fn with(self, index: usize) -> GrantSet {
        let bit = u32::try_from(index)
            .ok()
            .and_then(|i| 1_u64.checked_shl(i))
            .unwrap_or(0);
        GrantSet(self.0 | bit)
    }

    /// Whether grant `index` is in the set.
    pub fn contains(self, index: usize) -> bool {
        index < GRANTS_MAX && self.with(index) == self
    }

    /// How many grants.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The lowest index, if any.
    pub fn first(self) -> Option<usize> {
        self.iter().next()
    }

    /// The indices, in increasing order.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..GRANTS_MAX).filter(move |&i| self.contains(i))
    }
}

impl From<GrantSet> for Vec<usize> {
    fn from(set: GrantSet) -> Vec<usize> {
        set.iter().collect()
    }
}

impl TryFrom<Vec<usize>> for GrantSet {
    type Error = String;

    fn try_from(indices: Vec<usize>) -> Result<GrantSet, String> {
        indices.into_iter().try_fold(GrantSet::EMPTY, |set, i| {
            if i < GRANTS_MAX {
                Ok(set.with(i))
            } else {
                Err(format!("grant index {i} is not below {GRANTS_MAX}"))
            }
        })
    }
}

/// The policy as deserialized, before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    id: String,
    grants: Vec<Grant>,
}

impl TryFrom<RawPolicy> for SharingPolicy {
    type Error = PolicyError;

    fn try_from(raw: RawPolicy) -> Result<SharingPolicy, PolicyError> {
        if raw.id.len() > ID_BYTES_MAX {
            return Err(PolicyError::IdTooLong {
                bytes: raw.id.len(),
                max_bytes: ID_BYTES_MAX,
            });
        }
        let id_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if raw.id.is_empty() || !raw.id.bytes().all(id_char) {
            return Err(PolicyError::BadId(raw.id));
        }
        if raw.id == DEFAULT_POLICY_ID {
            return Err(PolicyError::ReservedId);
        }
        if raw.grants.len() > GRANTS_MAX {
            return Err(PolicyError::TooManyGrants {
                grants: raw.grants.len(),
                max: GRANTS_MAX,
            });
        }
        for (index, grant) in raw.grants.iter().enumerate() {
            grant.check(index)?;
        }
        Ok(SharingPolicy {
            id: raw.id,
            grants: raw.grants,
        })
    }
}

/// `fields`: present means a list (`null` is refused rather than read as
/// "all fields"; leave the field out for that).
fn field_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(deserializer).map(Some)
}

/// A role as on the wire (for messages).
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manufacturer => "manufacturer",
        Role::Operator => "operator",
        Role::Maintainer => "maintainer",
        Role::Auditor => "auditor",
        Role::Owner => "owner",
        Role::Device => "device",
    }
}

/// The union of the field lists of `grants`, in grant order then list order,
/// without repeats.
fn union_of_fields(policy: &SharingPolicy, grants: GrantSet) -> Vec<String> {
    let mut union: Vec<String> = Vec::new();
    let lists = policy
        .grants
        .iter()
        .enumerate()
        .filter(|(index, _)| grants.contains(*index))
        .filter_map(|(_, grant)| grant.fields.as_deref());
    for field in lists.flatten() {
        if !union.contains(field) {
            union.push(field.clone());
        }
    }
    union
}

fn check_count(
    grant: usize,
    what: &'static str,
    count: usize,
    max: usize,
) -> Result<(), PolicyError> {
    if count == 0 {
        return Err(PolicyError::Empty { grant, what });
    }
    if count > max {
        return Err(PolicyError::TooMany {
            grant,
            what,
            count,
            max,
        });
    }
    Ok(())
}

fn check_name(grant: usize, what: &'static str, name: &str) -> Result<(), PolicyError> {
    if name.len() > NAME_BYTES_MAX {
        return Err(PolicyError::NameTooLong {
            grant,
            what,
            bytes: name.len(),
            max_bytes: NAME_BYTES_MAX,
        });
    }
    if name.is_empty() || name.trim() != name || name.chars().any(char::is_control) {
        return Err(PolicyError::BadName {
            grant,
            what,
            name: name.to_string(),
        });
    }
    Ok(())
}

fn check_unique<T: PartialEq>(
    grant: usize,
    what: &'static str,
    values: &[T],
    show: impl Fn(&T) -> String,
) -> Result<(), PolicyError> {
    for (index, value) in values.iter().enumerate() {
        if values.iter().take(index).any(|earlier| earlier == value) {
            return Err(PolicyError::Duplicate {
                grant,
                what,
                value: show(value),
            });
        }
    }
    Ok(())
}

/// One criterion list: within its limit, valid names, no repeats (an empty
/// list is simply not a criterion).
fn check_criterion<T: PartialEq>(
    grant: usize,
    plural: &'static str,
    singular: &'static str,
    values: &[T],
    name: fn(&T) -> &str,
) -> Result<(), PolicyError> {
    if values.len() > CRITERION_VALUES_MAX {
        return Err(PolicyError::TooMany {
            grant,
            what: plural,
            count: values.len(),
            max: CRITERION_VALUES_MAX,
        });
    }
    for value in values {
        check_name(grant, singular, name(value))?;
    }
    check_unique(grant, singular, values, |v| format!("{:?}", name(v)))
}
