//! What is kept beside the log, on PostgreSQL ([`twin_store::SideStore`],
//! migration 6), shared by the nodes of a cluster: a payload supplied to
//! one node is folded by every node, and a read served by one node is
//! listed by all.
//!
//! Tables:
//! - `side_payload leaf → payload` (the statement's leaf hash, 32 bytes);
//! - `side_payload_usage stakeholder → bytes`, raised in the transaction
//!   that keeps a payload, under the row's lock, so that two nodes keeping
//!   payloads of one stakeholder at once cannot both pass its quota;
//! - `read_record (owner, at_ms, seq) → record`: `seq` comes from the
//!   schema's sequence `read_record_seq`, not from the node, so that two
//!   nodes' records of one millisecond never collide.
//!
//! Every call is one transaction on a pooled connection, durable at commit.
//! The log's reserve of free space (`StorageLimits::log_reserve_bytes`) is
//! the data volume's, which this store does not write to: the server's
//! disk is the operator's to watch (`sectwin_store_bytes` does not see it).

use postgres::types::Type;
use twin_store::space::check_quota;
use twin_store::store::{NewReadRecord, PutError, ReadRow, StoreError};
use twin_store::{SideStore, StorageLimits};

use crate::readers::Readers;
use crate::{describe, PgError, PgOptions};

/// Payloads and read records in the schema of `options`.
pub struct PgSide {
    readers: Readers,
}

fn sql(e: postgres::Error) -> StoreError {
    StoreError::Db(format!("PostgreSQL: {}", describe(&e)))
}

fn big(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Db(format!("{n} is beyond PostgreSQL's BIGINT")))
}

fn unbig(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl PgSide {
    /// Opens the side store of a migrated schema.
    pub fn open(options: &PgOptions) -> Result<PgSide, PgError> {
        Ok(PgSide {
            readers: Readers::open(options, "payload store")?,
        })
    }

    fn with<T: Send, E: Send + From<StoreError>>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        self.readers.with(|m| E::from(StoreError::Db(m)), f)
    }
}

impl SideStore for PgSide {
    fn record_reads(&self, records: &[NewReadRecord<'_>]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let owners: Vec<&str> = records.iter().map(|r| r.owner).collect();
        let at: Vec<i64> = records
            .iter()
            .map(|r| big(r.at_ms))
            .collect::<Result<_, _>>()?;
        let bodies: Vec<&[u8]> = records.iter().map(|r| r.record).collect();
        self.with(|c| {
            c.execute(
                "INSERT INTO read_record (owner, at_ms, seq, record) \
                 SELECT o, t, nextval('read_record_seq'), r \
                 FROM UNNEST($1::text[], $2::bigint[], $3::bytea[]) AS u(o, t, r)",
                &[&owners, &at, &bodies],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn reads(
        &self,
        owner: &str,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<ReadRow>, StoreError> {
        let (t, s) = match after {
            Some((t, s)) => (big(t)?, big(s)?),
            None => (-1, -1),
        };
        let n = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT at_ms, seq, record FROM read_record \
                 WHERE owner = $1 AND (at_ms, seq) > ($2, $3) ORDER BY at_ms, seq LIMIT $4",
                &[
                    (&owner, Type::TEXT),
                    (&t, Type::INT8),
                    (&s, Type::INT8),
                    (&n, Type::INT8),
                ],
            )
            .map_err(sql)
        })?;
        Ok(rows
            .iter()
            .map(|r| ((unbig(r.get(0)), unbig(r.get(1))), r.get::<_, Vec<u8>>(2)))
            .collect())
    }

    fn put_for(
        &self,
        stakeholder: &str,
        leaf: &[u8; 32],
        payload: &[u8],
        limits: &StorageLimits,
    ) -> Result<(), PutError> {
        let adding = payload.len() as u64;
        let leaf = leaf.as_slice();
        self.with(|c| {
            let mut tx = c.transaction().map_err(sql)?;
            tx.execute(
                "INSERT INTO side_payload_usage (stakeholder, bytes) VALUES ($1, 0) \
                 ON CONFLICT DO NOTHING",
                &[&stakeholder],
            )
            .map_err(sql)?;
            // The usage row's lock serializes one stakeholder's writes.
            let used: i64 = tx
                .query_one(
                    "SELECT bytes FROM side_payload_usage WHERE stakeholder = $1 FOR UPDATE",
                    &[&stakeholder],
                )
                .map_err(sql)?
                .get(0);
            let kept = tx
                .query_opt("SELECT 1 FROM side_payload WHERE leaf = $1", &[&leaf])
                .map_err(sql)?;
            if kept.is_some() {
                return Ok(());
            }
            check_quota(
                stakeholder,
                "payloads",
                unbig(used),
                adding,
                limits.stakeholder_payload_bytes_max,
            )
            .map_err(PutError::Space)?;
            let inserted = tx
                .execute(
                    "INSERT INTO side_payload (leaf, payload) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&leaf, &payload],
                )
                .map_err(sql)?;
            if inserted == 1 {
                tx.execute(
                    "UPDATE side_payload_usage SET bytes = bytes + $2 WHERE stakeholder = $1",
                    &[&stakeholder, &big(adding)?],
                )
                .map_err(sql)?;
            }
            tx.commit().map_err(sql)?;
            Ok::<(), PutError>(())
        })
    }

    fn usage_bytes(&self, stakeholder: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            let rows = c
                .query_typed(
                    "SELECT bytes FROM side_payload_usage WHERE stakeholder = $1",
                    &[(&stakeholder, Type::TEXT)],
                )
                .map_err(sql)?;
            Ok(rows.first().map_or(0, |r| unbig(r.get(0))))
        })
    }

    fn get(&self, leaf: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let leaf = leaf.as_slice();
        self.with(|c| {
            let rows = c
                .query_typed(
                    "SELECT payload FROM side_payload WHERE leaf = $1",
                    &[(&leaf, Type::BYTEA)],
                )
                .map_err(sql)?;
            Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }
}
