//! The contract of what is kept beside the log and not derived from it:
//! the payloads of hash envelopes (supplied beside their statements, keyed
//! by the statement's leaf hash, counted against each stakeholder's quota)
//! and the read-transparency records. [`crate::PayloadStore`] keeps them in
//! the data directory; `pg_store::PgSide` in the schema several nodes
//! share, so that a payload supplied to one node is folded by every node,
//! and a read served by one node is listed by all. `side_conformance`
//! (feature `testing`) checks both.

use crate::store::{NewReadRecord, PutError, ReadRow, StoreError};
use crate::StorageLimits;

/// Where payloads and read records are kept.
///
/// Durability: [`SideStore::put_for`] is durable when it returns (the
/// statement is appended after it); [`SideStore::record_reads`] survives a
/// crash of the process once it returns (the read is answered after it).
pub trait SideStore: Send + Sync {
    /// Appends the read records of one read (one per owner whose data it
    /// returns), all or none. A store may order the records of one
    /// millisecond by a sequence of its own rather than the one given (a
    /// shared store does: several nodes number their reads apart); the
    /// cursor [`SideStore::reads`] answers is the stored one.
    fn record_reads(&self, records: &[NewReadRecord<'_>]) -> Result<(), StoreError>;
    /// Read records of `owner`'s data, oldest first, after the cursor
    /// `after` (time in ms, sequence), at most `limit`.
    fn reads(
        &self,
        owner: &str,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ReadRow>, StoreError>;
    /// Keeps `payload` for the statement with leaf hash `leaf`, counted
    /// against `stakeholder`'s quota (`limits`), durably. A payload already
    /// kept is kept once and not counted again; one over the quota is
    /// refused and nothing is kept.
    fn put_for(
        &self,
        stakeholder: &str,
        leaf: &[u8; 32],
        payload: &[u8],
        limits: &StorageLimits,
    ) -> Result<(), PutError>;
    /// Payload bytes counted for `stakeholder`.
    fn usage_bytes(&self, stakeholder: &str) -> Result<u64, StoreError>;
    /// The payload kept for the statement with leaf hash `leaf`.
    fn get(&self, leaf: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;
}

impl SideStore for crate::PayloadStore {
    fn record_reads(&self, records: &[NewReadRecord<'_>]) -> Result<(), StoreError> {
        crate::PayloadStore::record_reads(self, records)
    }
    fn reads(
        &self,
        owner: &str,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ReadRow>, StoreError> {
        crate::PayloadStore::reads(self, owner, after, limit)
    }
    fn put_for(
        &self,
        stakeholder: &str,
        leaf: &[u8; 32],
        payload: &[u8],
        limits: &StorageLimits,
    ) -> Result<(), PutError> {
        crate::PayloadStore::put_for(self, stakeholder, leaf, payload, limits)
    }
    fn usage_bytes(&self, stakeholder: &str) -> Result<u64, StoreError> {
        crate::PayloadStore::usage_bytes(self, stakeholder)
    }
    fn get(&self, leaf: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        crate::PayloadStore::get(self, leaf)
    }
}
