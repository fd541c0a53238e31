//! The outbox: subscriptions, delivery records and bodies in one fjall keyspace.
//!
//! Partitions (values are JSON except bodies):
//! - `subscriptions`: subscription id → [`Subscription`];
//! - `deliveries`: `{subscription id}\0{notification id}` → [`DeliveryRecord`];
//! - `bodies`: same key → the exact body bytes to send (removed once the
//!   delivery is finished).
//!
//! Durability contract: [`Outbox::put_subscription`],
//! [`Outbox::remove_subscription`] and [`Outbox::insert_deliveries`] return
//! after an fsync of the journal (`PersistMode::SyncAll`); a delivery batch is
//! one atomic fjall batch. State updates after an attempt
//! ([`Outbox::update_delivery`]) are only flushed to the OS (they survive a
//! process crash, not a power cut); losing one makes the delivery pending
//! again, i.e. at worst a duplicate, which at-least-once allows.
//!
//! Deliberately absent: scheduling, caching (the notifier keeps the records
//! in memory) and any knowledge of transports.

use std::path::Path;

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use crate::model::{DeliveryRecord, Subscription};

/// A storage failure, as text (fjall and serde errors are not `Clone`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("outbox: {0}")]
pub struct OutboxError(pub String);

fn db<E: std::fmt::Display>(e: E) -> OutboxError {
    OutboxError(e.to_string())
}

/// The key of one delivery: `{subscription id}\0{notification id}`. Ids
/// never contain NUL (validated), so the pair is unambiguous.
pub fn delivery_key(subscription: &str, notification: &str) -> String {
    format!("{subscription}\0{notification}")
}

/// The open keyspace.
pub struct Outbox {
    keyspace: Keyspace,
    subscriptions: PartitionHandle,
    deliveries: PartitionHandle,
    bodies: PartitionHandle,
}

impl Outbox {
    /// Opens or creates the keyspace under `dir`.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        let keyspace = Config::new(dir)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let open = |name: &str| {
            keyspace
                .open_partition(name, PartitionCreateOptions::default())
                .map_err(db)
        };
        Ok(Outbox {
            subscriptions: open("subscriptions")?,
            deliveries: open("deliveries")?,
            bodies: open("bodies")?,
            keyspace,
        })
    }

    /// Every stored subscription.
    pub fn subscriptions(&self) -> Result<Vec<Subscription>, OutboxError> {
        let mut out = Vec::new();
        for kv in self.subscriptions.iter() {
            let (_, v) = kv.map_err(db)?;
            out.push(serde_json::from_slice(&v).map_err(db)?);
        }
        Ok(out)
    }

    /// Every stored delivery record.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRecord>, OutboxError> {
        let mut out = Vec::new();
        for kv in self.deliveries.iter() {
            let (_, v) = kv.map_err(db)?;
            out.push(serde_json::from_slice(&v).map_err(db)?);
        }
        Ok(out)
    }

    /// Stores (or replaces) a subscription, durably.
    pub fn put_subscription(&self, s: &Subscription) -> Result<(), OutboxError> {
        let v = serde_json::to_vec(s).map_err(db)?;
        self.subscriptions.insert(&s.id, v).map_err(db)?;
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }

    /// Removes a subscription, durably.
    pub fn remove_subscription(&self, id: &str) -> Result<(), OutboxError> {
        self.subscriptions.remove(id).map_err(db)?;
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }

    /// Writes new deliveries and their bodies in one atomic batch, durably.
    pub fn insert_deliveries(
        &self,
        new: &[(DeliveryRecord, std::sync::Arc<Vec<u8>>)],
    ) -> Result<(), OutboxError> {
        let mut batch = self.keyspace.batch();
        for (record, body) in new {
            let key = delivery_key(&record.subscription, &record.notification);
            batch.insert(
                &self.deliveries,
                key.as_bytes(),
                serde_json::to_vec(record).map_err(db)?,
            );
            batch.insert(&self.bodies, key.as_bytes(), body.as_slice());
        }
        batch.commit().map_err(db)?;
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }

    /// The body of a delivery, if it is still stored.
    pub fn body(&self, key: &str) -> Result<Option<Vec<u8>>, OutboxError> {
        Ok(self.bodies.get(key).map_err(db)?.map(|v| v.to_vec()))
    }

    /// Stores the new state of a delivery; drops its body when finished.
    pub fn update_delivery(
        &self,
        record: &DeliveryRecord,
        finished: bool,
    ) -> Result<(), OutboxError> {
        let key = delivery_key(&record.subscription, &record.notification);
        let mut batch = self.keyspace.batch();
        batch.insert(
            &self.deliveries,
            key.as_bytes(),
            serde_json::to_vec(record).map_err(db)?,
        );
        if finished {
            batch.remove(&self.bodies, key.as_bytes());
        }
        batch.commit().map_err(db)?;
        self.keyspace.persist(PersistMode::Buffer).map_err(db)
    }

    /// Forgets finished deliveries (pruning).
    pub fn remove_deliveries(&self, keys: &[String]) -> Result<(), OutboxError> {
        let mut batch = self.keyspace.batch();
        for key in keys {
            batch.remove(&self.deliveries, key.as_bytes());
            batch.remove(&self.bodies, key.as_bytes());
        }
        batch.commit().map_err(db)?;
        self.keyspace.persist(PersistMode::Buffer).map_err(db)
    }

    /// Fsyncs everything written so far (at shutdown).
    pub fn sync(&self) -> Result<(), OutboxError> {
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)
    }
}
