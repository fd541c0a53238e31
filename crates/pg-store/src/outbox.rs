//! The notification outbox on PostgreSQL ([`notify::OutboxStore`]), shared
//! by every node of a cluster (migration 3).
//!
//! Tables:
//! - `notify_subscription (stakeholder, id) → subscription` (JSON);
//! - `notify_delivery key → stakeholder, seq, status, record (JSON), body`
//!   (the key is `notify::outbox::record_key`, which holds NUL bytes, so it
//!   is `BYTEA`; the body is dropped once the delivery is finished);
//! - `notify_state`: the subscriptions' version, raised in the transaction of
//!   every subscription write, so that every node's notifier sees another's
//!   subscriptions without reading them all each time.
//!
//! Every call is one transaction on a pooled connection; every write is
//! durable at commit (the server's `synchronous_commit`), updates included.
//! A delivery inserted twice (two nodes enqueueing the same pair) is kept
//! once: `ON CONFLICT DO NOTHING`.

use std::sync::Arc;

use notify::outbox::{record_key, OutboxError, OutboxStore};
use notify::{DeliveryRecord, DeliveryStatus, Subscription};

use crate::readers::Readers;
use crate::{describe, PgError, PgOptions};

/// The outbox in the schema of `options`.
pub struct PgOutbox {
    readers: Readers,
}

fn sql(e: postgres::Error) -> OutboxError {
    OutboxError(format!("PostgreSQL: {}", describe(&e)))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, OutboxError> {
    serde_json::to_string(value).map_err(|e| OutboxError(e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, OutboxError> {
    serde_json::from_str(text).map_err(|e| OutboxError(format!("a stored row: {e}")))
}

fn status(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

impl PgOutbox {
    /// Opens the outbox of a migrated schema.
    pub fn open(options: &PgOptions) -> Result<PgOutbox, PgError> {
        Ok(PgOutbox {
            readers: Readers::open(options, "outbox")?,
        })
    }

    /// Runs `f` on a pooled connection, off the async runtime's way.
    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, OutboxError> + Send,
    ) -> Result<T, OutboxError> {
        self.readers.with(OutboxError, f)
    }

    /// Stores `write` with the subscriptions' version raised, in one transaction.
    fn subscription_write(
        &self,
        statement: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<(), OutboxError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(sql)?;
            tx.execute(statement, params).map_err(sql)?;
            tx.execute(
                "UPDATE notify_state SET subscriptions_version = subscriptions_version + 1 WHERE id = 1",
                &[],
            )
            .map_err(sql)?;
            tx.commit().map_err(sql)
        })
    }
}

impl OutboxStore for PgOutbox {
    fn subscriptions(&self) -> Result<Vec<Subscription>, OutboxError> {
        self.with(|c| {
            c.query(
                "SELECT subscription::text FROM notify_subscription ORDER BY stakeholder, id",
                &[],
            )
            .map_err(sql)?
            .iter()
            .map(|row| parse(row.get::<_, &str>(0)))
            .collect()
        })
    }

    fn deliveries(&self) -> Result<Vec<DeliveryRecord>, OutboxError> {
        self.with(|c| {
            c.query("SELECT record::text FROM notify_delivery ORDER BY seq", &[])
                .map_err(sql)?
                .iter()
                .map(|row| parse(row.get::<_, &str>(0)))
                .collect()
        })
    }

    fn put_subscription(&self, s: &Subscription) -> Result<(), OutboxError> {
        let body = json(s)?;
        self.subscription_write(
            "INSERT INTO notify_subscription (stakeholder, id, subscription) VALUES ($1, $2, $3::text::jsonb) \
             ON CONFLICT (stakeholder, id) DO UPDATE SET subscription = EXCLUDED.subscription",
            &[&s.stakeholder, &s.id, &body],
        )
    }

    fn remove_subscription(&self, stakeholder: &str, id: &str) -> Result<(), OutboxError> {
        self.subscription_write(
            "DELETE FROM notify_subscription WHERE stakeholder = $1 AND id = $2",
            &[&stakeholder, &id],
        )
    }

    fn insert_deliveries(&self, new: &[(DeliveryRecord, Arc<Vec<u8>>)]) -> Result<(), OutboxError> {
        let mut keys = Vec::with_capacity(new.len());
        let mut stakeholders = Vec::with_capacity(new.len());
        let mut seqs = Vec::with_capacity(new.len());
        let mut statuses = Vec::with_capacity(new.len());
        let mut records = Vec::with_capacity(new.len());
        let mut bodies = Vec::with_capacity(new.len());
        for (r, body) in new {
            keys.push(record_key(r).into_bytes());
            stakeholders.push(r.stakeholder.clone());
            seqs.push(i64::try_from(r.seq).map_err(|e| OutboxError(e.to_string()))?);
            statuses.push(status(r.status));
            records.push(json(r)?);
            bodies.push(body.as_slice());
        }
        self.with(|c| {
            c.execute(
                "INSERT INTO notify_delivery (key, stakeholder, seq, status, record, body) \
                 SELECT k, s, q, st, r::jsonb, b \
                 FROM UNNEST($1::bytea[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::bytea[]) \
                   AS t(k, s, q, st, r, b) \
                 ON CONFLICT (key) DO NOTHING",
                &[&keys, &stakeholders, &seqs, &statuses, &records, &bodies],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn body(&self, key: &str) -> Result<Option<Vec<u8>>, OutboxError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT body FROM notify_delivery WHERE key = $1",
                &[&key.as_bytes()],
            )
            .map_err(sql)?
            .and_then(|row| row.get::<_, Option<Vec<u8>>>(0)))
        })
    }

    fn update_delivery(&self, record: &DeliveryRecord, finished: bool) -> Result<(), OutboxError> {
        let key = record_key(record).into_bytes();
        let body = json(record)?;
        self.with(|c| {
            c.execute(
                "UPDATE notify_delivery SET status = $2, record = $3::text::jsonb, \
                   body = CASE WHEN $4 THEN NULL ELSE body END \
                 WHERE key = $1",
                &[&key, &status(record.status), &body, &finished],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn remove_deliveries(&self, keys: &[String]) -> Result<(), OutboxError> {
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
        self.with(|c| {
            c.execute(
                "DELETE FROM notify_delivery WHERE key = ANY($1::bytea[])",
                &[&keys],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn sync(&self) -> Result<(), OutboxError> {
        // Every write was durable at its commit.
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    fn subscriptions_version(&self) -> Result<u64, OutboxError> {
        self.with(|c| {
            let v: i64 = c
                .query_one(
                    "SELECT subscriptions_version FROM notify_state WHERE id = 1",
                    &[],
                )
                .map_err(sql)?
                .get(0);
            Ok(u64::try_from(v).unwrap_or(0))
        })
    }
}
