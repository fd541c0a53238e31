//! Who reads what: [`Reader`] decides per statement with its owner's sharing
//! policy (`twin::sharing`), [`Audit`] notes every read of another
//! organization's data, and [`ReadRecorder`] writes one record per owner
//! *before* the data is answered: a read whose record cannot be written
//! fails ([`ServiceError::read_not_recorded`]) and returns nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use twin::projection::Twin;
use twin::sharing::{ReadEntries, ReadKind, ReadRecord};
use twin::{DeviceId, Meta, StakeholderId};
use twin_store::{NewReadRecord, Projector};

use crate::{Clock, ServiceError};

/// Who is reading, at what time, over which registry state.
pub struct Reader<'a> {
    /// The reader, or `None` for anonymous.
    pub who: Option<StakeholderId>,
    /// The registry, policies and grants in force.
    pub meta: &'a Meta,
    /// The time of the read (audit grants have windows), Unix seconds.
    pub at_s: i64,
}

/// What the reader may see of one statement.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The fields it may see (`None`: all).
    pub fields: Option<Vec<String>>,
    policy: String,
    policy_entry: Option<u64>,
    grants: twin::sharing::GrantSet,
    own: bool,
}

impl Seen {
    /// Whether the reader owns the data (no record is written).
    pub fn own(&self) -> bool {
        self.own
    }
}

impl<'a> Reader<'a> {
    /// `who` reading over `meta` at `at_s`.
    pub fn new(who: Option<StakeholderId>, meta: &'a Meta, at_s: i64) -> Reader<'a> {
        Reader { who, meta, at_s }
    }

    /// What the reader may see of `owner`'s statements of type `kind` about
    /// `twin`, or `None` when nothing.
    pub fn decide(&self, twin: &Twin, owner: &StakeholderId, kind: &str) -> Option<Seen> {
        let (decision, policy_entry) = twin::projection::decide_read(
            self.meta,
            self.who.as_ref(),
            twin,
            owner,
            kind,
            self.at_s,
        );
        match decision {
            twin::sharing::Decision::Own => Some(Seen {
                fields: None,
                policy: "own".into(),
                policy_entry: None,
                grants: twin::sharing::GrantSet::EMPTY,
                own: true,
            }),
            twin::sharing::Decision::Allowed {
                policy,
                grants,
                fields,
            } => Some(Seen {
                fields: fields.map(|f| f.into_owned()),
                policy: policy.to_string(),
                policy_entry,
                grants,
                own: false,
            }),
            twin::sharing::Decision::Denied => None,
        }
    }

    /// Whether the device itself (its identity, the manufacturer's data) is visible.
    pub fn sees_device(&self, twin: &Twin) -> Option<Seen> {
        self.decide(twin, &twin.manufacturer, "device-registered")
    }
}

/// Read records to write, one per owner.
#[derive(Default)]
pub struct Audit {
    by_owner: BTreeMap<String, (Seen, Vec<u64>, Option<DeviceId>)>,
}

impl Audit {
    /// Notes that entry `entry` of `owner` (about `device`) was read as `seen`.
    pub fn note(
        &mut self,
        owner: &StakeholderId,
        seen: Seen,
        entry: u64,
        device: Option<&DeviceId>,
    ) {
        if seen.own {
            return;
        }
        let slot = self
            .by_owner
            .entry(owner.0.clone())
            .or_insert_with(|| (seen, Vec::new(), device.cloned()));
        slot.1.push(entry);
        if slot.2.as_ref() != device {
            slot.2 = None;
        }
    }

    /// How many entries of other organizations were noted.
    pub fn entries_noted(&self) -> u64 {
        self.by_owner
            .values()
            .map(|(_, entries, _)| entries.len() as u64)
            .sum()
    }

    /// Adds the reads noted in `other`.
    pub fn merge(&mut self, other: Audit) {
        for (owner, (seen, entries, device)) in other.by_owner {
            let slot = self
                .by_owner
                .entry(owner)
                .or_insert_with(|| (seen, Vec::new(), device.clone()));
            slot.1.extend(entries);
            if slot.2 != device {
                slot.2 = None;
            }
        }
    }

    /// Writes one record per owner. Fails when a record cannot be written:
    /// the caller must then answer the error and not the data.
    pub fn write(
        self,
        recorder: &ReadRecorder,
        reader: &Option<StakeholderId>,
        what: ReadKind,
        counted: Option<u64>,
    ) -> Result<(), ServiceError> {
        if self.by_owner.is_empty() {
            return Ok(());
        }
        let side = recorder
            .projector
            .payloads()
            .ok_or_else(|| ServiceError::read_not_recorded("this node keeps no read records"))?;
        let at = recorder.clock.now_unix_ms();
        let mut encoded = Vec::with_capacity(self.by_owner.len());
        for (owner, (seen, entries, device)) in self.by_owner {
            let record = ReadRecord {
                reader: reader.clone(),
                owner: StakeholderId(owner.clone()),
                device,
                what,
                entries: match counted {
                    Some(n) => ReadEntries::Counted(n),
                    None => ReadEntries::Listed(entries),
                },
                policy: seen.policy,
                policy_entry: seen.policy_entry,
                grants: seen.grants,
                at_unix_ms: at,
            };
            let seq = recorder.seq.fetch_add(1, Ordering::Relaxed);
            let bytes = serde_json::to_vec(&record).map_err(ServiceError::read_not_recorded)?;
            encoded.push((owner, seq, bytes));
        }
        let records: Vec<NewReadRecord<'_>> = encoded
            .iter()
            .map(|(owner, seq, bytes)| NewReadRecord {
                owner,
                at_ms: at,
                seq: *seq,
                record: bytes,
            })
            .collect();
        side.record_reads(&records)
            .map_err(ServiceError::read_not_recorded)
    }
}

/// Writes read records into the projector's payload store, stamped by a
/// clock; clones share the sequence that orders records of one millisecond.
#[derive(Clone)]
pub struct ReadRecorder {
    projector: Projector,
    seq: Arc<AtomicU64>,
    clock: Arc<dyn Clock>,
}

impl ReadRecorder {
    /// Records into `projector`'s payload store at `clock`'s time.
    pub fn new(projector: Projector, clock: Arc<dyn Clock>) -> ReadRecorder {
        ReadRecorder {
            projector,
            seq: Arc::new(AtomicU64::new(0)),
            clock,
        }
    }

    /// The clock reads are stamped with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A reader for `who` over the registry state in force now.
    pub fn reader<'a>(&self, who: Option<StakeholderId>, meta: &'a Meta) -> Reader<'a> {
        Reader::new(who, meta, self.clock.now_unix_s())
    }
}
