//! Audit grants: an auditor holds the auditor role on a device only while a
//! grant from the device's owner covers it. Before these, the auditor role
//! was organization-wide, so an auditor read every organization's data
//! under the default sharing policies (issue 13, item 11).
//!
//! The rules, all of them:
//!
//! 1. A grant is an `audit-granted` statement about its grantor
//!    (`stakeholder:<grantor>`, signed by the grantor, or by the registry
//!    authority on its behalf): grant id, auditor (a registered stakeholder
//!    other than the grantor), devices (a [`DeviceFilter`], as in sharing
//!    policies: `"all"` or ids, groups, sites, models, manufacturers) and an
//!    optional window `not_before`..=`not_after` (unix seconds, both
//!    inclusive, like key validity). Granting again under the same id
//!    replaces the grant; `audit-revoked` removes it from its log position on.
//! 2. A grant covers a device when its grantor is the device's owner (or,
//!    while the device has no owner, its manufacturer: the stakeholder that
//!    decides who else holds a role on it) *now*, and the device matches the
//!    filter. So a grant never reaches devices its grantor does not own, and
//!    ownership passing to someone else ends it for that device.
//! 3. Reads ([`AuditClock::Now`]): the auditor role counts only within the
//!    window. Log-order checks of the fold ([`AuditClock::LogOrder`]) have no
//!    clock: there a grant counts from its entry to its revocation, window
//!    not consulted (the grantor ends an auditor's findings by revoking).
//! 4. Auditors are read-only: with the auditor role alone a stakeholder signs
//!    only its own findings about a device ([`AUDIT_FINDING_TYPES`]); it never
//!    endorses or disputes others' claims, never records risk decisions or
//!    custom or built-in statements (such as events setting asset attributes)
//!    ([`AuditError::ReadOnly`]).
//!
//! This module keeps the grants and answers coverage; the projection decides
//! when to ask and the HTTP layer supplies "now".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::StakeholderId;
use crate::projection::Twin;
use crate::sharing::DeviceFilter;

/// Longest grant id, in bytes.
pub const AUDIT_GRANT_ID_BYTES_MAX: usize = 128;
/// Most grants in force by one grantor: bounds a grantor's share of [`AuditGrants`].
pub const AUDIT_GRANTS_PER_GRANTOR_MAX: usize = 256;
/// Most grants in force in a log: the grants live in the projection's meta,
/// held in memory and persisted whole.
pub const AUDIT_GRANTS_MAX: usize = 65_536;
/// What an auditor may sign about a device it audits: its own findings.
pub const AUDIT_FINDING_TYPES: [&str; 3] = [
    "security-test-evidence",
    "incident-reported",
    "risk-recorded",
];

/// One grant in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditGrant {
    /// Who granted it (the owner of the devices it covers).
    pub grantor: StakeholderId,
    /// The grantor's id for it.
    pub id: String,
    /// Who may audit.
    pub auditor: StakeholderId,
    /// Which of the grantor's devices.
    pub devices: DeviceFilter,
    /// Not in force before (unix seconds), if bounded.
    pub not_before: Option<i64>,
    /// Not in force after (unix seconds), if bounded.
    pub not_after: Option<i64>,
    /// The entry that granted it.
    pub entry: u64,
}

/// When a coverage question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditClock {
    /// A read at this time (unix seconds): the grant's window must contain it.
    Now(i64),
    /// A check of the fold, in log order, without a clock: a grant counts
    /// from its entry until revoked, its window not consulted.
    LogOrder,
}

/// Why an audit statement is refused, or an auditor may not sign something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// An audit statement about a stakeholder other than its issuer.
    #[error("{issuer} may not grant or revoke audits for {grantor}: only the grantor itself may")]
    NotTheirs {
        /// The issuer.
        issuer: String,
        /// The subject's stakeholder.
        grantor: String,
    },
    /// A grant id that is empty, too long or has other characters.
    #[error("audit grant id {0:?} is not valid: 1 to 128 of [A-Za-z0-9._-]")]
    BadId(String),
    /// The auditor is not a registered stakeholder.
    #[error("auditor {0:?} is not a registered stakeholder")]
    UnknownAuditor(String),
    /// A grant to oneself.
    #[error("{0} cannot grant an audit to itself")]
    SelfGrant(String),
    /// A window that ends before it starts, or a negative time.
    #[error("audit window {not_before:?}..={not_after:?} is empty or negative (unix seconds, not_before <= not_after)")]
    BadWindow {
        /// Its start.
        not_before: Option<i64>,
        /// Its end.
        not_after: Option<i64>,
    },
    /// The device filter does not parse (the sharing policy's rules).
    #[error("audit devices: {0}")]
    Devices(String),
    /// Too many grants by one grantor.
    #[error("a stakeholder holds at most {max} audit grants; revoke one first")]
    TooManyOfGrantor {
        /// The limit.
        max: usize,
    },
    /// Too many grants in the log.
    #[error("the log holds at most {max} audit grants")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// Revoking a grant that is not in force.
    #[error("{grantor} has no audit grant {id:?} in force")]
    UnknownGrant {
        /// The grantor.
        grantor: String,
        /// The grant id.
        id: String,
    },
    /// An auditor signing something other than its own findings.
    #[error("{issuer} audits {device:?} and may not sign {kind} about it: an auditor reads, and signs only its own findings (security-test-evidence, incident-reported, risk-recorded)")]
    ReadOnly {
        /// The auditor.
        issuer: String,
        /// The device.
        device: String,
        /// The statement type.
        kind: String,
    },
}

/// What an audit statement changes.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditChange {
    /// A grant in force (replacing the grantor's grant with the same id).
    Grant(Box<AuditGrant>),
    /// The grantor's grant `id` revoked.
    Revoke {
        /// The grantor.
        grantor: StakeholderId,
        /// The grant id.
        id: String,
    },
}

impl AuditChange {
    /// The statement type.
    pub fn kind(&self) -> &'static str {
        match self {
            AuditChange::Grant(_) => "audit-granted",
            AuditChange::Revoke { .. } => "audit-revoked",
        }
    }
}

/// Whether `grantor` may grant audits of `twin` now: its owner, or its
/// manufacturer while it has none.
pub fn may_grant(grantor: &StakeholderId, twin: &Twin) -> bool {
    match &twin.owner {
        Some(owner) => owner == grantor,
        None => &twin.manufacturer == grantor,
    }
}

impl AuditGrant {
    /// Whether the window contains `now_unix_s`.
    pub fn in_window(&self, now_unix_s: i64) -> bool {
        self.not_before.is_none_or(|t| t <= now_unix_s)
            && self.not_after.is_none_or(|t| now_unix_s <= t)
    }

    /// Whether the grant covers `twin` under `clock` (rules 2 and 3).
    pub fn covers(&self, twin: &Twin, clock: AuditClock) -> bool {
        let in_time = match clock {
            AuditClock::Now(t) => self.in_window(t),
            AuditClock::LogOrder => true,
        };
        in_time && may_grant(&self.grantor, twin) && self.devices.matches(&twin.facts())
    }
}

/// The grants in force, by auditor (what a read asks about).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditGrants {
    by_auditor: BTreeMap<StakeholderId, Vec<AuditGrant>>,
}

impl AuditGrants {
    /// The grants naming `auditor`, in force by log position.
    pub fn of(&self, auditor: &StakeholderId) -> &[AuditGrant] {
        self.by_auditor
            .get(auditor)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether a grant gives `auditor` the auditor role on `twin` under `clock`.
    pub fn covers(&self, auditor: &StakeholderId, twin: &Twin, clock: AuditClock) -> bool {
        self.of(auditor).iter().any(|g| g.covers(twin, clock))
    }

    /// Every grant in force, by auditor.
    pub fn all(&self) -> impl Iterator<Item = &AuditGrant> {
        self.by_auditor.values().flatten()
    }

    fn find(&self, grantor: &StakeholderId, id: &str) -> Option<&AuditGrant> {
        self.all().find(|g| &g.grantor == grantor && g.id == id)
    }

    /// Checks a grant (rule 1); `registered` says whether a stakeholder is
    /// registered (always true in a log without a registry).
    pub(crate) fn check_grant(
        &self,
        grant: AuditGrant,
        registered: impl Fn(&StakeholderId) -> bool,
    ) -> Result<AuditChange, AuditError> {
        let id_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        if grant.id.is_empty()
            || grant.id.len() > AUDIT_GRANT_ID_BYTES_MAX
            || !grant.id.bytes().all(id_char)
        {
            return Err(AuditError::BadId(grant.id));
        }
        if grant.auditor == grant.grantor {
            return Err(AuditError::SelfGrant(grant.grantor.0));
        }
        if !registered(&grant.auditor) {
            return Err(AuditError::UnknownAuditor(grant.auditor.0));
        }
        let negative =
            grant.not_before.is_some_and(|t| t < 0) || grant.not_after.is_some_and(|t| t < 0);
        let empty = matches!((grant.not_before, grant.not_after), (Some(b), Some(a)) if a < b);
        if negative || empty {
            return Err(AuditError::BadWindow {
                not_before: grant.not_before,
                not_after: grant.not_after,
            });
        }
        if let DeviceFilter::Matching(criteria) = &grant.devices {
            criteria
                .check(0)
                .map_err(|e| AuditError::Devices(e.to_string()))?;
        }
        if self.find(&grant.grantor, &grant.id).is_none() {
            let of_grantor = self.all().filter(|g| g.grantor == grant.grantor).count();
            if of_grantor >= AUDIT_GRANTS_PER_GRANTOR_MAX {
                return Err(AuditError::TooManyOfGrantor {
                    max: AUDIT_GRANTS_PER_GRANTOR_MAX,
                });
            }
            if self.all().count() >= AUDIT_GRANTS_MAX {
                return Err(AuditError::TooMany {
                    max: AUDIT_GRANTS_MAX,
                });
            }
        }
        Ok(AuditChange::Grant(Box::new(grant)))
    }

    /// Checks a revocation.
    pub(crate) fn check_revoke(
        &self,
        grantor: StakeholderId,
        id: String,
    ) -> Result<AuditChange, AuditError> {
        if self.find(&grantor, &id).is_none() {
            return Err(AuditError::UnknownGrant {
                grantor: grantor.0,
                id,
            });
        }
        Ok(AuditChange::Revoke { grantor, id })
    }

    /// Applies a checked change.
    pub(crate) fn apply(&mut self, change: AuditChange) {
        let (grantor, id, added) = match change {
            AuditChange::Grant(g) => (g.grantor.clone(), g.id.clone(), Some(*g)),
            AuditChange::Revoke { grantor, id } => (grantor, id, None),
        };
        for grants in self.by_auditor.values_mut() {
            grants.retain(|g| !(g.grantor == grantor && g.id == id));
        }
        self.by_auditor.retain(|_, grants| !grants.is_empty());
        if let Some(g) = added {
            self.by_auditor
                .entry(g.auditor.clone())
                .or_default()
                .push(g);
        }
    }
}
