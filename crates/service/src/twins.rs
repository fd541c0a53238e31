//! The twins as each reader may see them: one device's twin, lists and
//! counts with attribute filters (matching only on what the reader may
//! see), a device's timeline, one statement, and the public records (the
//! stakeholder registry, published policies, the node's status). Every view
//! decides per statement with its owner's sharing policy, redacts field by
//! field, and writes the read records of other organizations' data before
//! it answers.
//!
//! Views are the wire types of `api_types::twins`, mapped here from the
//! domain's types field by field (the domain's serde is not the wire's);
//! page cursors are plain (`after`): the edge turns them into opaque tokens.

use std::sync::Arc;

use api_types::dashboard::{
    Breakdown, DigestLookup, DigestMatch, FleetView, ValueCount, DIGEST_MATCHES_MAX,
    FLEET_VALUES_MAX,
};
use api_types::twins::{
    AiUsePolicy, AssetAttribute, AttributeRef, AttributeView, ClaimView, ConsensusState,
    ConsensusStatus, DeviceFilter, DeviceView, Dispute, Endorsement, KeyView, Lifecycle,
    NodeStatus, PolicyKind as WirePolicyKind, PolicyList, PolicyQuery, PolicyVersion, ReadEntries,
    ReadKind as WireReadKind, ReadRecordView, Role as WireRole, StakeholderList, StakeholderRecord,
    StakeholderView, StatementView, TimelineEntry, TwinSummary, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX,
};
use serde_json::Value;
use tlog::LeafIndex;
use transparency::TransparencyService;
use twin::projection::{roles_of, status_of, Claim, Twin};
use twin::published::{PolicyKind, Published};
use twin::sharing::{ReadKind, ReadRecord};
use twin::{AttributeClass, DeviceId, Meta, Role, StakeholderId, Status};
use twin_store::Projector;

use crate::{Audit, ReadRecorder, Reader, Seen, ServiceError};

type Res<T> = Result<T, ServiceError>;

/// Devices examined at most to answer one list or count (policy filtering
/// happens after the index scan).
pub const SCAN_DEVICES_MAX: usize = 100_000;
/// Devices or history entries read from the store per batch.
const STORE_BATCH: usize = 256;
/// Statements naming a digest examined at most to answer one lookup (each
/// is read from the log and decided for the reader).
pub const DIGEST_ENTRIES_EXAMINED_MAX: usize = 2048;

/// A page of devices.
#[derive(Debug, Clone)]
pub struct DevicePage {
    /// The twin summaries the reader may see.
    pub devices: Vec<TwinSummary>,
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
    pub entries: Vec<TimelineEntry>,
    /// The last entry examined, when there may be more.
    pub next_after: Option<u64>,
    /// The log size the twins were read at.
    pub as_of: u64,
}

/// A page of read records.
#[derive(Debug, Clone)]
pub struct ReadsPage {
    /// The records, oldest first.
    pub reads: Vec<ReadRecordView>,
    /// The (time, sequence) of the last record, when there may be more.
    pub next_after: Option<(u64, u64)>,
}

/// The twin views.
#[derive(Clone)]
pub struct TwinViews {
    projector: Projector,
    scitt: Arc<TransparencyService>,
    reads: ReadRecorder,
    claim_owners: Arc<ClaimOwners>,
}

/// Who asserted the claim of a log entry, and its statement type: what a
/// sharing decision needs of a claim, kept for the fleet overview so that a
/// warm server decides on 100,000 twins without reading their claims. Both
/// are fixed by the entry's signed statement, so an entry's pair never
/// changes; the memo is emptied when it reaches [`CLAIM_OWNERS_MAX`].
#[derive(Default)]
struct ClaimOwners {
    by_entry: parking_lot::RwLock<std::collections::HashMap<u64, ClaimOwner>>,
}

/// A claim's issuer and statement type.
type ClaimOwner = Arc<(StakeholderId, Box<str>)>;

/// Claims whose owner [`ClaimOwners`] keeps at most (about 100 bytes each).
const CLAIM_OWNERS_MAX: usize = 1_000_000;

impl ClaimOwners {
    /// The issuer and statement type of the claim of `entry`, if the
    /// projection has that claim.
    fn get(&self, projector: &Projector, entry: u64) -> Res<Option<ClaimOwner>> {
        if let Some(owner) = self.by_entry.read().get(&entry) {
            return Ok(Some(owner.clone()));
        }
        let Some(claim) = projector
            .store()
            .claim(entry)
            .map_err(ServiceError::internal)?
        else {
            return Ok(None);
        };
        let owner = Arc::new((claim.issuer, Box::from(claim.body.type_name())));
        let mut memo = self.by_entry.write();
        if memo.len() >= CLAIM_OWNERS_MAX {
            memo.clear();
        }
        memo.insert(entry, owner.clone());
        Ok(Some(owner))
    }
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
            claim_owners: Arc::default(),
        }
    }

    /// The node's status: projection, log, faults (public).
    pub fn status(&self) -> NodeStatus {
        let meta = self.projector.meta();
        let published = self.scitt.log().published();
        let log_fault = self.scitt.log().fault();
        NodeStatus {
            projected_size: meta.size,
            published_size: published.size.get(),
            statements_applied: meta.applied,
            entries_refused: meta.refused,
            stakeholders: meta.registry.all().count() as u64,
            authority: meta.registry.authority().map(|a| a.0.clone()),
            projector_fault: self.projector.fault(),
            // The log stops writing on a storage error (a full disk): say so.
            // It writes again by itself once the cause is gone.
            read_only: log_fault.is_some(),
            log_fault,
            log_restarts: self.scitt.log().restarts(),
        }
    }

    /// The stakeholder registry. It is public: it is in the log, and
    /// relying parties need the keys to verify statements.
    pub fn stakeholders(&self) -> StakeholderList {
        let meta = self.projector.meta();
        StakeholderList {
            stakeholders: meta.registry.all().map(stakeholder_view).collect(),
            as_of: meta.size,
        }
    }

    /// One stakeholder of the registry.
    pub fn stakeholder(&self, id: &str) -> Res<StakeholderRecord> {
        let meta = self.projector.meta();
        let s = meta
            .registry
            .get(&StakeholderId(id.to_string()))
            .ok_or_else(|| ServiceError::not_found(format!("no stakeholder {id:?}")))?;
        Ok(StakeholderRecord {
            as_of: meta.size,
            stakeholder: stakeholder_view(s),
        })
    }

    /// Published policies (sharing, transparency, AI use) with their
    /// versions: public, like the log they come from. Filters: a
    /// stakeholder, a kind, a log position (`at`).
    pub fn policies(&self, q: &PolicyQuery) -> Res<PolicyList> {
        let meta = self.projector.meta();
        let owner = q.stakeholder.as_ref().map(|s| StakeholderId(s.clone()));
        let kind = q.kind.map(domain_policy_kind);
        if kind == Some(PolicyKind::ThreatModel) {
            return Err(ServiceError::invalid(
                "threat models are not public: GET /api/v1/threat-models (signed in) lists those that concern you",
            ));
        }
        let at = q.at;
        let policies = meta
            .published
            .versions(owner.as_ref())
            // A threat model says where a system is weak: shown only by
            // `service::threat_models`, to the stakeholders it concerns.
            .filter(|(_, v)| v.kind != PolicyKind::ThreatModel)
            .filter(|(_, v)| kind.is_none_or(|k| v.kind == k))
            .filter(|(_, v)| at.is_none_or(|at| Published::in_force(v, at)))
            .map(|(o, v)| PolicyVersion {
                owner: o.0.clone(),
                kind: wire_policy_kind(v.kind),
                id: v.id.clone(),
                entry: v.entry,
                receipt: format!("/entries/{}", v.entry),
                superseded_by: v.superseded_by,
                in_force: v.superseded_by.is_none(),
                policy: v.policy.clone(),
            })
            .collect();
        Ok(PolicyList {
            policies,
            as_of: meta.size,
        })
    }

    /// One device's twin as `who` may see it.
    pub fn device(&self, who: Option<StakeholderId>, id: &str) -> Res<DeviceView> {
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
        let view = twin_view(api, &reader, &twin, &mut audit)?.ok_or_else(not_found)?;
        audit.write(&api.reads, &reader.who, ReadKind::Twin, None)?;
        Ok(view)
    }

    /// Up to `page_size` devices (default [`PAGE_SIZE_DEFAULT`]) after
    /// `after` (in id order) that `who` may see and that match `filter`.
    pub fn devices(
        &self,
        who: Option<StakeholderId>,
        filter: &DeviceFilter,
        page_size: Option<usize>,
        after: Option<String>,
    ) -> Res<DevicePage> {
        let page_size = page_size_checked(page_size)?;
        let filters = &search_filters(filter);
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

    /// How many devices `who` may see that match `filter`.
    pub fn count(&self, who: Option<StakeholderId>, filter: &DeviceFilter) -> Res<DeviceCount> {
        let filters = &search_filters(filter);
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

    /// The devices `who` may see, counted by lifecycle, model, site,
    /// firmware and manufacturer as `who` sees them (a hidden value counts
    /// as `(hidden)`): the fleet overview's breakdown. Recorded as a count
    /// read of each owner's data, like [`TwinViews::count`].
    pub fn fleet(&self, who: Option<StakeholderId>) -> Res<FleetView> {
        use std::collections::HashMap;
        let api = self;
        let meta = api.projector.meta();
        let reader = api.reads.reader(who, &meta);
        let mut audit = Audit::default();
        let mut tallies: [HashMap<String, u64>; 5] = Default::default();
        // The claims of the twins read are looked up on every core, a
        // buffer of twins at a time.
        let mut buffer: Vec<Twin> = Vec::with_capacity(FLEET_BUFFER_TWINS);
        let (n, more) = scan(api, &reader, &[], None, usize::MAX, |twin, seen| {
            audit.note(
                &twin.manufacturer,
                seen,
                twin.registered_at,
                Some(&twin.device),
            );
            buffer.push(twin.clone());
            if buffer.len() >= FLEET_BUFFER_TWINS {
                tally_fleet(api, &reader, &buffer, &mut tallies)?;
                buffer.clear();
            }
            Ok(())
        })?;
        tally_fleet(api, &reader, &buffer, &mut tallies)?;
        let counted = audit.entries_noted();
        audit.write(&api.reads, &reader.who, ReadKind::Count, Some(counted))?;
        let [lifecycle, model, site, firmware, manufacturer] = tallies.map(breakdown);
        Ok(FleetView {
            as_of: meta.size,
            complete: more.is_none(),
            devices: n as u64,
            firmware,
            lifecycle,
            manufacturer,
            model,
            site,
        })
    }

    /// Up to `page_size` statements (default [`PAGE_SIZE_DEFAULT`]) about
    /// device `id` after entry `after` that `who` may see, oldest first.
    pub fn timeline(
        &self,
        who: Option<StakeholderId>,
        id: &str,
        page_size: Option<usize>,
        after: Option<u64>,
    ) -> Res<TimelinePage> {
        let page_size = page_size_checked(page_size)?;
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
                items.push(TimelineEntry {
                    entry,
                    kind,
                    issuer: issuer.0,
                    signed_by,
                    statement: shown,
                    status: status.as_ref().map(consensus_status),
                    receipt: format!("/entries/{entry}"),
                });
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

    /// Up to `page_size` (default [`PAGE_SIZE_DEFAULT`]) read records of
    /// `owner`'s data (default: the caller's own), after `after`: another
    /// owner's records are listed only as its transparency policy says.
    pub fn reads(
        &self,
        caller: &StakeholderId,
        owner: Option<&str>,
        after: Option<(u64, u64)>,
        page_size: Option<usize>,
    ) -> Res<ReadsPage> {
        let page_size = page_size_checked(page_size)?;
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
        // Records are read with the type that wrote them; one that does not
        // read is left out, as before.
        let reads = records
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<ReadRecord>(&v).ok())
            .map(read_record_view)
            .collect();
        Ok(ReadsPage { reads, next_after })
    }

    /// The statements naming the SHA-256 `sha256` (64 hex digits) that
    /// `who` may see with the digest shown, oldest first, a page of
    /// [`DIGEST_MATCHES_MAX`] after entry `after`; each recorded as a
    /// statement read.
    pub fn digest(
        &self,
        who: Option<StakeholderId>,
        sha256: &str,
        after: Option<u64>,
    ) -> Res<DigestLookup> {
        let digest = twin::statement::sha256_hex(sha256).ok_or_else(|| {
            ServiceError::invalid(format!(
                "{sha256:?} is not a SHA-256 digest: expected 64 hex digits"
            ))
        })?;
        let hex_digest = hex::encode(digest);
        let meta = self.projector.meta();
        let store = self.projector.store();
        let mut matches = Vec::new();
        let mut cursor = after;
        let mut exhausted = false;
        let mut examined = 0usize;
        // Entries hidden from the reader are skipped: read on until a page
        // is full, the index has no more, or the bound on entries examined
        // per request is reached (a digest thousands of devices report:
        // the page ends early and says where to go on).
        while matches.len() < DIGEST_MATCHES_MAX
            && examined < DIGEST_ENTRIES_EXAMINED_MAX
            && !exhausted
        {
            let batch = store
                .digest_entries(&digest, cursor, STORE_BATCH)
                .map_err(ServiceError::internal)?;
            exhausted = batch.len() < STORE_BATCH;
            for (entry, field) in batch {
                if matches.len() >= DIGEST_MATCHES_MAX || examined >= DIGEST_ENTRIES_EXAMINED_MAX {
                    exhausted = false;
                    break;
                }
                examined += 1;
                cursor = Some(entry);
                let view = match self.statement(who.clone(), entry) {
                    Ok(v) => v,
                    Err(e) if e.kind() == crate::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                // A digest in a field the owner's policy hides is not shown
                // as found: the caller would learn what it may not see.
                if !names_digest(view.statement.as_ref(), &hex_digest) {
                    continue;
                }
                matches.push(DigestMatch {
                    field,
                    statement: view,
                });
            }
        }
        Ok(DigestLookup {
            sha256: hex_digest,
            matches,
            next_after: if exhausted { None } else { cursor },
            indexed_from: meta.digests_from.unwrap_or(0),
            as_of: meta.size,
        })
    }

    /// The statement at log entry `index` as `who` may see it: statements
    /// about devices follow the device's policies; registry and release
    /// statements (about stakeholders and models) are public records.
    pub fn statement(&self, who: Option<StakeholderId>, index: u64) -> Res<StatementView> {
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
        Ok(StatementView {
            entry: index,
            issuer: issuer.0,
            signed_by: signed_by.map(|s| s.0),
            subject: st.subject().to_string(),
            kind,
            statement: shown,
            status: status.as_ref().map(consensus_status),
            refused,
            receipt: format!("/entries/{index}"),
            as_of: meta.size,
        })
    }
}

/// Whether a field of `statement` (as shown) is the digest `hex` (64
/// lower-case hex digits; the statement may write it in either case, with
/// a `sha256:` prefix).
fn names_digest(statement: Option<&Value>, hex: &str) -> bool {
    let Some(Value::Object(fields)) = statement else {
        return false;
    };
    fields.values().any(|v| {
        v.as_str().is_some_and(|s| {
            let s = s.strip_prefix("sha256:").unwrap_or(s);
            s.eq_ignore_ascii_case(hex)
        })
    })
}

fn stakeholder_view(s: &twin::registry::Stakeholder) -> StakeholderView {
    StakeholderView {
        id: s.id.0.clone(),
        name: s.name.clone(),
        roles: roles(&s.roles),
        registered_at: s.registered_at,
        keys: s
            .keys
            .iter()
            .map(|k| KeyView {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                pem: k.pem.clone(),
                not_before: k.not_before,
                not_after: k.not_after,
                added_at: k.added_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    }
}

/// A role on the wire.
pub fn wire_role(r: Role) -> WireRole {
    match r {
        Role::Manufacturer => WireRole::Manufacturer,
        Role::Operator => WireRole::Operator,
        Role::Maintainer => WireRole::Maintainer,
        Role::Auditor => WireRole::Auditor,
        Role::Owner => WireRole::Owner,
        Role::Device => WireRole::Device,
    }
}

/// Roles on the wire, in the set's order.
fn roles(set: &std::collections::BTreeSet<Role>) -> Vec<WireRole> {
    set.iter().copied().map(wire_role).collect()
}

fn wire_lifecycle(l: twin::Lifecycle) -> Lifecycle {
    match l {
        twin::Lifecycle::Manufactured => Lifecycle::Manufactured,
        twin::Lifecycle::Provisioned => Lifecycle::Provisioned,
        twin::Lifecycle::Deployed => Lifecycle::Deployed,
        twin::Lifecycle::InMaintenance => Lifecycle::InMaintenance,
        twin::Lifecycle::Decommissioned => Lifecycle::Decommissioned,
    }
}

fn wire_policy_kind(k: PolicyKind) -> WirePolicyKind {
    match k {
        PolicyKind::Sharing => WirePolicyKind::Sharing,
        PolicyKind::Transparency => WirePolicyKind::Transparency,
        PolicyKind::AiUse => WirePolicyKind::AiUse,
        PolicyKind::SecurityProfile => WirePolicyKind::SecurityProfile,
        PolicyKind::ThreatModel => WirePolicyKind::ThreatModel,
    }
}

fn domain_policy_kind(k: WirePolicyKind) -> PolicyKind {
    match k {
        WirePolicyKind::Sharing => PolicyKind::Sharing,
        WirePolicyKind::Transparency => PolicyKind::Transparency,
        WirePolicyKind::AiUse => PolicyKind::AiUse,
        WirePolicyKind::SecurityProfile => PolicyKind::SecurityProfile,
        WirePolicyKind::ThreatModel => PolicyKind::ThreatModel,
    }
}

/// A claim's consensus status on the wire.
fn consensus_status(s: &Status) -> ConsensusStatus {
    match s {
        Status::Agreed => ConsensusStatus {
            status: ConsensusState::Agreed,
            awaiting: None,
            by: None,
        },
        Status::Claimed { awaiting } => ConsensusStatus {
            status: ConsensusState::Claimed,
            awaiting: Some(roles(awaiting)),
            by: None,
        },
        Status::Disputed { by } => ConsensusStatus {
            status: ConsensusState::Disputed,
            awaiting: None,
            by: Some(by.iter().map(|s| s.0.clone()).collect()),
        },
    }
}

/// What a claim is about, on the wire: `{class}` or `{class, key}`.
fn attribute_ref(class: &AttributeClass) -> AttributeRef {
    use AttributeClass as C;
    let (class, key) = match class {
        C::Identity => ("identity", None),
        C::Ownership => ("ownership", None),
        C::Lifecycle => ("lifecycle", None),
        C::Firmware => ("firmware", None),
        C::Configuration => ("configuration", None),
        C::AiModel => ("ai_model", None),
        C::TestEvidence(k) => ("test_evidence", Some(k)),
        C::Vulnerability(k) => ("vulnerability", Some(k)),
        C::Maintenance => ("maintenance", None),
        C::Incident => ("incident", None),
        C::Access(k) => ("access", Some(k)),
        C::Risk(k) => ("risk", Some(k)),
        C::Custom(k) => ("custom", Some(k)),
    };
    AttributeRef {
        class: class.to_string(),
        key: key.cloned(),
    }
}

fn read_record_view(r: ReadRecord) -> ReadRecordView {
    use twin::sharing::ReadKind as K;
    let grants: Vec<usize> = r.grants.into();
    ReadRecordView {
        reader: r.reader.map(|s| s.0),
        owner: r.owner.0,
        device: r.device.map(|d| d.to_string()),
        what: match r.what {
            K::Twin => WireReadKind::Twin,
            K::List => WireReadKind::List,
            K::Timeline => WireReadKind::Timeline,
            K::Statement => WireReadKind::Statement,
            K::Search => WireReadKind::Search,
            K::Count => WireReadKind::Count,
            K::Receipt => WireReadKind::Receipt,
            K::Export => WireReadKind::Export,
        },
        entries: match r.entries {
            twin::sharing::ReadEntries::Listed(e) => ReadEntries::Listed(e),
            twin::sharing::ReadEntries::Counted(n) => ReadEntries::Counted(n),
        },
        policy: r.policy,
        policy_entry: r.policy_entry,
        grants: grants.into_iter().map(|g| g as u64).collect(),
        at_unix_ms: r.at_unix_ms,
    }
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
fn redact_summary(class: &AttributeClass, seen: Option<&Seen>, twin: &mut TwinSummary) {
    for (field, statement_field) in contributed(class) {
        let shown = match seen {
            None => false,
            Some(s) => match &s.fields {
                None => true,
                Some(fields) => fields.iter().any(|f| f == statement_field),
            },
        };
        if !shown {
            hide(twin, field);
        }
    }
}

/// Nulls the twin field named `field` (a name of [`contributed`]).
fn hide(twin: &mut TwinSummary, field: &str) {
    match field {
        "model" => twin.model = None,
        "serial" => twin.serial = None,
        "hardware_id" => twin.hardware_id = None,
        "device_key" => twin.device_key = None,
        "owner" => twin.owner = None,
        "operator" => twin.operator = None,
        "maintainer" => twin.maintainer = None,
        "site" => twin.site = None,
        "location" => twin.location = None,
        "groups" => twin.groups = None,
        "lifecycle" => twin.lifecycle = None,
        "firmware" => twin.firmware = None,
        // `contributed` names no other field: the table and this match
        // are checked against each other by a unit test.
        _ => {}
    }
}

/// The values of the summary's field a device filter `attribute` matches
/// (an attribute of `SEARCH_ATTRIBUTES`; `group` matches `groups`).
fn filtered_values<'a>(twin: &'a TwinSummary, attribute: &str) -> Vec<&'a str> {
    let one = |v: &'a Option<String>| v.as_deref().into_iter().collect();
    match attribute {
        "manufacturer" => vec![twin.manufacturer.as_str()],
        "model" => one(&twin.model),
        "serial" => one(&twin.serial),
        "hardware_id" => one(&twin.hardware_id),
        "site" => one(&twin.site),
        "location" => one(&twin.location),
        "group" | "groups" => twin.groups.iter().flatten().map(String::as_str).collect(),
        "lifecycle" => twin.lifecycle.map(Lifecycle::as_str).into_iter().collect(),
        "owner" => one(&twin.owner),
        "operator" => one(&twin.operator),
        "maintainer" => one(&twin.maintainer),
        "firmware" => one(&twin.firmware),
        _ => Vec::new(),
    }
}

/// Fields of a twin summary that no attribute stands behind when it has no
/// claim for them (a device never transferred has no owner to hide), and
/// the twin-level counters, which reveal activity: shown only to readers
/// who see every attribute.
fn hide_activity(twin: &mut TwinSummary) {
    twin.statements = None;
    twin.updated_at = None;
}

/// A current claim of a twin and what the reader may see of it.
type VisibleClaim = (AttributeClass, Claim, Option<Seen>);

/// The twin summary `reader` may see, with the claims behind it (class,
/// claim, what the reader may see of it).
/// Twins tallied together by [`TwinViews::fleet`], split across the cores.
const FLEET_BUFFER_TWINS: usize = 4096;

/// Adds `twins`' values (lifecycle, model, site, firmware, manufacturer, as
/// `reader` sees them) to `tallies`, on every core.
fn tally_fleet(
    api: &TwinViews,
    reader: &Reader<'_>,
    twins: &[Twin],
    tallies: &mut [std::collections::HashMap<String, u64>; 5],
) -> Res<()> {
    let values = |twin: &Twin| -> Res<[String; 5]> {
        let summary = visible_summary(api, reader, twin)?;
        let shown = |v: Option<&str>, hidden: bool| match (v, hidden) {
            (Some(v), _) => v.to_string(),
            (None, true) => "(hidden)".to_string(),
            (None, false) => "(none)".to_string(),
        };
        Ok([
            shown(
                summary.lifecycle.map(Lifecycle::as_str),
                summary.lifecycle.is_none(),
            ),
            shown(
                summary.model.as_deref(),
                summary.model.is_none() && !twin.model.is_empty(),
            ),
            shown(
                summary.site.as_deref(),
                summary.site.is_none() && twin.site.is_some(),
            ),
            shown(
                summary.firmware.as_deref(),
                summary.firmware.is_none() && twin.firmware.is_some(),
            ),
            summary.manufacturer.clone(),
        ])
    };
    if twins.is_empty() {
        return Ok(());
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = twins.len().div_ceil(threads);
    let parts: Vec<Res<Vec<[String; 5]>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = twins
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(values).collect::<Res<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ServiceError::internal("a fleet tally thread panicked"))
                })
            })
            .collect()
    });
    for part in parts {
        for row in part? {
            for (tally, value) in tallies.iter_mut().zip(row) {
                *tally.entry(value).or_default() += 1;
            }
        }
    }
    Ok(())
}

/// The summary of `twin` as `reader` may see it, for its attribute values
/// only: [`visible_twin`]'s summary without reading the claims that
/// contribute no field (the fleet overview reads 100,000 twins; the activity
/// fields are left as the twin has them, so only its values may be shown).
fn visible_summary(api: &TwinViews, reader: &Reader<'_>, twin: &Twin) -> Res<TwinSummary> {
    let mut summary = twin_summary(twin);
    for (class, entry) in &twin.current {
        if contributed(class).is_empty() {
            continue;
        }
        let Some(owner) = api.claim_owners.get(&api.projector, *entry)? else {
            continue;
        };
        let (issuer, kind) = &*owner;
        let seen = reader.decide(twin, issuer, kind);
        redact_summary(class, seen.as_ref(), &mut summary);
    }
    Ok(summary)
}

fn visible_twin(
    api: &TwinViews,
    reader: &Reader<'_>,
    twin: &Twin,
) -> Res<(TwinSummary, Vec<VisibleClaim>)> {
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
        hide_activity(&mut summary);
    }
    Ok((summary, claims))
}

fn claim_view(claim: &Claim, seen: &Seen, meta: &Meta) -> ClaimView {
    let body = claim.body.to_wire();
    let shown = twin::sharing::redact(&body, seen.fields.as_deref());
    ClaimView {
        entry: claim.entry,
        issuer: claim.issuer.0.clone(),
        signed_by: claim.signed_by.as_ref().map(|s| s.0.clone()),
        statement: shown,
        asserter_roles: roles(&claim.asserter_roles),
        endorsements: claim
            .endorsements
            .iter()
            .map(|(who, (e, r))| Endorsement {
                by: who.0.clone(),
                entry: *e,
                roles: roles(r),
            })
            .collect(),
        disputes: claim
            .disputes
            .iter()
            .map(|(who, (e, why))| Dispute {
                by: who.0.clone(),
                entry: *e,
                reason: why.clone(),
            })
            .collect(),
        status: status_of(&meta.policy, claim)
            .as_ref()
            .map(consensus_status),
        receipt: format!("/entries/{}", claim.entry),
    }
}

/// A twin's summary before redaction. Left out: the projection's
/// bookkeeping (which claims are current is shown per attribute, as the
/// reader may see them, and the issuers' clocks would name attributes the
/// reader may not see).
fn twin_summary(twin: &Twin) -> TwinSummary {
    TwinSummary {
        device: twin.device.to_string(),
        manufacturer: twin.manufacturer.0.clone(),
        model: Some(twin.model.clone()),
        serial: Some(twin.serial.clone()),
        hardware_id: twin.hardware_id.clone(),
        device_key: twin.device_key.clone(),
        lifecycle: Some(wire_lifecycle(twin.lifecycle)),
        owner: twin.owner.as_ref().map(|s| s.0.clone()),
        operator: twin.operator.as_ref().map(|s| s.0.clone()),
        maintainer: twin.maintainer.as_ref().map(|s| s.0.clone()),
        site: twin.site.clone(),
        location: twin.location.clone(),
        groups: Some(twin.groups.clone()),
        firmware: twin.firmware.clone(),
        registered_at: twin.registered_at,
        updated_at: Some(twin.updated_at),
        statements: Some(twin.statements),
        asset_attributes: twin
            .asset_attributes
            .iter()
            .map(|(name, a)| {
                (
                    name.clone(),
                    AssetAttribute {
                        value: a.value.clone(),
                        entry: a.entry,
                        issuer: a.issuer.0.clone(),
                    },
                )
            })
            .collect(),
    }
}

/// The twin of one device as `reader` may see it.
fn twin_view(
    api: &TwinViews,
    reader: &Reader<'_>,
    twin: &Twin,
    audit: &mut Audit,
) -> Res<Option<DeviceView>> {
    if reader.sees_device(twin).is_none() {
        return Ok(None);
    }
    let (summary, claims) = visible_twin(api, reader, twin)?;
    let mut attributes = Vec::new();
    for (class, claim, seen) in claims {
        if let Some(seen) = seen {
            let claim_view = claim_view(&claim, &seen, reader.meta);
            audit.note(&claim.issuer, seen, claim.entry, Some(&twin.device));
            attributes.push(AttributeView {
                attribute: attribute_ref(&class),
                claim: claim_view,
            });
        }
    }
    Ok(Some(DeviceView {
        twin: summary,
        attributes,
        ai_use_policies: ai_use_policies(reader.meta, twin),
        as_of: reader.meta.size,
    }))
}

/// The current AI-use policies covering a device, published by stakeholders
/// holding a role on it. Published policies are public (they are in the
/// log), so whoever sees the device sees them.
fn ai_use_policies(meta: &Meta, twin: &Twin) -> Vec<AiUsePolicy> {
    let facts = twin.facts();
    meta.published
        .ai_use()
        .filter(|(owner, _, p)| !roles_of(meta, owner, twin).is_empty() && p.covers(&facts))
        .map(|(owner, entry, p)| AiUsePolicy {
            owner: owner.0.clone(),
            entry,
            receipt: format!("/entries/{entry}"),
            policy: serde_json::to_value(p).unwrap_or(Value::Null),
        })
        .collect()
}

/// A page size asked for: [`PAGE_SIZE_DEFAULT`] when none is, refused
/// outside 1 to [`PAGE_SIZE_MAX`].
fn page_size_checked(asked: Option<usize>) -> Res<usize> {
    match asked {
        None => Ok(PAGE_SIZE_DEFAULT),
        Some(n) if (1..=PAGE_SIZE_MAX).contains(&n) => Ok(n),
        Some(n) => Err(ServiceError::invalid(format!(
            "page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {n}"
        ))),
    }
}

/// The filters of `filter` as (attribute of `SEARCH_ATTRIBUTES`, value):
/// what the store's index and [`visible_match`] take. At most one indexed
/// attribute drives the scan; every other one filters.
fn search_filters(filter: &DeviceFilter) -> Vec<(String, String)> {
    filter
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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
fn visible_match(summary: &TwinSummary, filters: &[(String, String)]) -> bool {
    filters
        .iter()
        .all(|(k, v)| filtered_values(summary, k).contains(&v.as_str()))
}

/// A tally as a [`Breakdown`]: most devices first (ties by value), at most
/// [`FLEET_VALUES_MAX`] values.
fn breakdown(tally: std::collections::HashMap<String, u64>) -> Breakdown {
    let mut values: Vec<ValueCount> = tally
        .into_iter()
        .map(|(value, devices)| ValueCount { value, devices })
        .collect();
    values.sort_by(|a, b| {
        b.devices
            .cmp(&a.devices)
            .then_with(|| a.value.cmp(&b.value))
    });
    let other = values
        .iter()
        .skip(FLEET_VALUES_MAX)
        .map(|v| v.devices)
        .sum();
    values.truncate(FLEET_VALUES_MAX);
    Breakdown { values, other }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use twin_store::store::SEARCH_ATTRIBUTES;

    use super::*;

    /// A summary with every field set.
    fn full() -> TwinSummary {
        let some = |s: &str| Some(s.to_string());
        TwinSummary {
            asset_attributes: BTreeMap::new(),
            device: "d1".into(),
            device_key: some("pem"),
            firmware: some("1.0"),
            groups: Some(vec!["g".into()]),
            hardware_id: some("hw"),
            lifecycle: Some(Lifecycle::Deployed),
            location: some("room"),
            maintainer: some("m"),
            manufacturer: "acme".into(),
            model: some("x"),
            operator: some("op"),
            owner: some("own"),
            registered_at: 1,
            serial: some("s"),
            site: some("HQ"),
            statements: Some(3),
            updated_at: Some(2),
        }
    }

    /// Every twin field of the redaction table is one `hide` nulls.
    #[test]
    fn hide_knows_every_field_the_redaction_table_names() {
        let classes = [
            AttributeClass::Identity,
            AttributeClass::Ownership,
            AttributeClass::Lifecycle,
            AttributeClass::Firmware,
        ];
        for class in &classes {
            for (field, _) in contributed(class) {
                let mut twin = full();
                hide(&mut twin, field);
                let wire = serde_json::to_value(&twin).expect("serializes");
                assert_eq!(wire[*field], Value::Null, "{field} is not hidden");
                let untouched = serde_json::to_value(full()).expect("serializes");
                let changed = wire
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| untouched[k.as_str()] != **v)
                    .count();
                assert_eq!(changed, 1, "hiding {field} changed another field");
            }
        }
    }

    /// The device filter of the wire has a field for every attribute the
    /// store can search, and no other.
    #[test]
    fn the_device_filter_is_the_searchable_attributes() {
        let some = |s: &str| Some(s.to_string());
        let every = DeviceFilter {
            manufacturer: some("a"),
            model: some("a"),
            serial: some("a"),
            hardware_id: some("a"),
            site: some("a"),
            location: some("a"),
            group: some("a"),
            lifecycle: Some(Lifecycle::Deployed),
            owner: some("a"),
            operator: some("a"),
            maintainer: some("a"),
            firmware: some("a"),
        };
        let names: Vec<String> = search_filters(&every).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, SEARCH_ATTRIBUTES);
        assert_eq!(
            search_filters(&DeviceFilter {
                lifecycle: Some(Lifecycle::InMaintenance),
                ..DeviceFilter::default()
            }),
            vec![("lifecycle".to_string(), "in_maintenance".to_string())]
        );
    }

    /// A page size is 1 to [`PAGE_SIZE_MAX`], [`PAGE_SIZE_DEFAULT`] when
    /// none is asked for.
    #[test]
    fn page_sizes_outside_the_range_are_refused() {
        assert_eq!(page_size_checked(None).ok(), Some(PAGE_SIZE_DEFAULT));
        assert_eq!(page_size_checked(Some(1)).ok(), Some(1));
        assert_eq!(
            page_size_checked(Some(PAGE_SIZE_MAX)).ok(),
            Some(PAGE_SIZE_MAX)
        );
        for n in [0, PAGE_SIZE_MAX + 1] {
            let e = page_size_checked(Some(n)).expect_err("refused");
            assert_eq!(e.kind(), crate::ErrorKind::Invalid);
            assert_eq!(
                e.message(),
                format!("page_size must be an integer from 1 to {PAGE_SIZE_MAX}, not {n}")
            );
        }
    }

    /// Every searchable attribute is matched against a field of the summary.
    #[test]
    fn every_searchable_attribute_matches_a_summary_field() {
        let twin = full();
        for attribute in SEARCH_ATTRIBUTES {
            assert!(
                !filtered_values(&twin, attribute).is_empty(),
                "{attribute} matches no field of the twin summary"
            );
        }
    }
}
