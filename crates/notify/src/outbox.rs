//! The outbox: subscriptions, delivery records and bodies in one fjall keyspace.
//!
//! Partitions (values are JSON except bodies):
//! - `subscriptions`: `{stakeholder}\0{subscription id}` → [`Subscription`]
//!   (subscription ids are per stakeholder: two stakeholders may use the
//!   same id, and neither learns of the other's);
//! - `deliveries`: `{stakeholder}\0{subscription id}\0{notification id}` →
//!   [`DeliveryRecord`];
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
//! After a failed write (a full disk) the keyspace is reopened before the
//! next write, so the outbox recovers without a restart.
//!
//! The contract every outbox meets is [`OutboxStore`]; [`Outbox`] is the
//! embedded one, and `pg_store::PgOutbox` the one several nodes share.
//! `notify::conformance` (feature `testing`) checks both.
//!
//! Deliberately absent: scheduling, caching (the notifier keeps the records
//! in memory) and any knowledge of transports.

use std::path::{Path, PathBuf};

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use crate::model::{DeliveryRecord, Subscription};

/// A storage failure, as text (fjall and serde errors are not `Clone`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("outbox: {0}")]
pub struct OutboxError(pub String);

fn db<E: std::fmt::Display>(e: E) -> OutboxError {
    OutboxError(e.to_string())
}

/// Where the notifier keeps subscriptions, delivery records and bodies.
///
/// Durability: subscription writes and [`OutboxStore::insert_deliveries`]
/// are durable when they return; [`OutboxStore::update_delivery`] and
/// [`OutboxStore::remove_deliveries`] may be lost in a power cut (a lost
/// update makes a delivery pending again: a duplicate, never a loss).
/// Keys are [`subscription_key`] and [`record_key`].
pub trait OutboxStore: Send + Sync {
    /// Every stored subscription.
    fn subscriptions(&self) -> Result<Vec<Subscription>, OutboxError>;
    /// Every stored delivery record.
    fn deliveries(&self) -> Result<Vec<DeliveryRecord>, OutboxError>;
    /// Stores (or replaces) a subscription, durably.
    fn put_subscription(&self, s: &Subscription) -> Result<(), OutboxError>;
    /// Removes `stakeholder`'s subscription `id`, durably (absent: no-op).
    fn remove_subscription(&self, stakeholder: &str, id: &str) -> Result<(), OutboxError>;
    /// Writes new deliveries and their bodies, all or none, durably. A
    /// delivery whose key is already stored is left as it is.
    fn insert_deliveries(
        &self,
        new: &[(DeliveryRecord, std::sync::Arc<Vec<u8>>)],
    ) -> Result<(), OutboxError>;
    /// The body of a delivery, if it is still stored.
    fn body(&self, key: &str) -> Result<Option<Vec<u8>>, OutboxError>;
    /// Stores the new state of a delivery; drops its body when finished.
    fn update_delivery(&self, record: &DeliveryRecord, finished: bool) -> Result<(), OutboxError>;
    /// Forgets finished deliveries (pruning), with their bodies.
    fn remove_deliveries(&self, keys: &[String]) -> Result<(), OutboxError>;
    /// Makes everything written so far durable (at shutdown).
    fn sync(&self) -> Result<(), OutboxError>;
    /// Whether other nodes write to this store too. The notifier of a
    /// shared store starts passive ([`crate::Notifier::set_active`]) and
    /// reads the subscriptions again when [`OutboxStore::subscriptions_version`]
    /// moves.
    fn shared(&self) -> bool {
        false
    }
    /// A number that changes whenever a subscription is stored or removed
    /// (by any node). A store only this process writes may keep it at 0.
    fn subscriptions_version(&self) -> Result<u64, OutboxError> {
        Ok(0)
    }
}

/// The key of one subscription: `{stakeholder}\0{subscription id}`. Ids
/// never contain NUL (validated), so the pair is unambiguous.
pub fn subscription_key(stakeholder: &str, id: &str) -> String {
    format!("{stakeholder}\0{id}")
}

/// The key of one delivery:
/// `{stakeholder}\0{subscription id}\0{notification id}`.
pub fn delivery_key(stakeholder: &str, subscription: &str, notification: &str) -> String {
    format!("{stakeholder}\0{subscription}\0{notification}")
}

/// The key of `record`.
pub fn record_key(record: &DeliveryRecord) -> String {
    delivery_key(
        &record.stakeholder,
        &record.subscription,
        &record.notification,
    )
}

/// How long a reopen waits for reads in flight on the old keyspace.
const REOPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The open keyspace. A write that fails (a full disk) poisons a fjall
/// keyspace: every later write fails until it is reopened. So the outbox
/// drops its handles after a failed write and reopens the directory before
/// the next one; writes resume by themselves once space is back, without a
/// restart.
pub struct Outbox {
    dir: PathBuf,
    handles: reopen::Reopening<Handles>,
}

struct Handles {
    keyspace: Keyspace,
    subscriptions: PartitionHandle,
    deliveries: PartitionHandle,
    bodies: PartitionHandle,
}

impl Handles {
    fn open(dir: &Path) -> Result<Handles, OutboxError> {
        let keyspace = Config::new(dir)
            .manual_journal_persist(true)
            .open()
            .map_err(db)?;
        let open = |name: &str| {
            keyspace
                .open_partition(name, PartitionCreateOptions::default())
                .map_err(db)
        };
        Ok(Handles {
            subscriptions: open("subscriptions")?,
            deliveries: open("deliveries")?,
            bodies: open("bodies")?,
            keyspace,
        })
    }

    /// Moves subscriptions and deliveries stored under keys of an older
    /// layout (without the stakeholder) to their current keys, in one
    /// durable batch. A no-op on an outbox in the current layout.
    fn rekey(&self) -> Result<(), OutboxError> {
        let mut batch = self.keyspace.batch();
        let mut moved = 0usize;
        for kv in self.subscriptions.iter() {
            let (k, v) = kv.map_err(db)?;
            let s: Subscription = serde_json::from_slice(&v).map_err(db)?;
            let key = subscription_key(&s.stakeholder, &s.id);
            if *k != *key.as_bytes() {
                batch.remove(&self.subscriptions, k.to_vec());
                batch.insert(&self.subscriptions, key.as_bytes(), v.to_vec());
                moved += 1;
            }
        }
        for kv in self.deliveries.iter() {
            let (k, v) = kv.map_err(db)?;
            let r: DeliveryRecord = serde_json::from_slice(&v).map_err(db)?;
            let key = record_key(&r);
            if *k != *key.as_bytes() {
                batch.remove(&self.deliveries, k.to_vec());
                batch.insert(&self.deliveries, key.as_bytes(), v.to_vec());
                if let Some(body) = self.bodies.get(&k).map_err(db)? {
                    batch.remove(&self.bodies, k.to_vec());
                    batch.insert(&self.bodies, key.as_bytes(), body.to_vec());
                }
                moved += 1;
            }
        }
        if moved == 0 {
            return Ok(());
        }
        batch.commit().map_err(db)?;
        self.keyspace.persist(PersistMode::SyncAll).map_err(db)?;
        tracing::info!(
            moved,
            "outbox rekeyed: subscription ids are per stakeholder"
        );
        Ok(())
    }
}

/// The format the outbox (subscriptions, notifications, deliveries)
/// writes (its `FORMAT` marker; see `durable::format`).
pub const OUTBOX_FORMAT: u32 = 1;

impl Outbox {
    /// Opens or creates the keyspace under `dir`.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        durable::format::check_or_init(dir, "notify", OUTBOX_FORMAT)
            .map_err(|e| OutboxError(e.to_string()))?;
        let handles = Handles::open(dir)?;
        handles.rekey()?;
        Ok(Outbox {
            dir: dir.to_path_buf(),
            handles: reopen::Reopening::new(handles),
        })
    }

    /// Runs `write` on healthy handles: reopens the keyspace first if an
    /// earlier write failed, and marks it for reopening if this one fails.
    fn write(
        &self,
        write: impl Fn(&Handles) -> Result<(), OutboxError>,
    ) -> Result<(), OutboxError> {
        self.handles
            .reopen_if_broken(REOPEN_WAIT, || {
                let reopened = Handles::open(&self.dir)?;
                tracing::info!(dir = %self.dir.display(), "outbox reopened after a write error");
                Ok::<_, OutboxError>(reopened)
            })
            .map_err(|e| OutboxError(e.to_string()))?;
        let h = self.handles()?;
        let result = write(&h);
        if result.is_err() {
            self.handles.mark_broken();
        }
        result
    }

    fn handles(&self) -> Result<std::sync::Arc<Handles>, OutboxError> {
        self.handles.get().ok_or_else(|| {
            OutboxError("the outbox is not open (reopening after a write error failed)".into())
        })
    }

    fn read<T>(
        &self,
        read: impl FnOnce(&Handles) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let h = self.handles()?;
        read(&h)
    }
}

impl OutboxStore for Outbox {
    /// Every stored subscription.
    fn subscriptions(&self) -> Result<Vec<Subscription>, OutboxError> {
        self.read(|h| {
            let mut out = Vec::new();
            for kv in h.subscriptions.iter() {
                let (_, v) = kv.map_err(db)?;
                out.push(serde_json::from_slice(&v).map_err(db)?);
            }
            Ok(out)
        })
    }

    /// Every stored delivery record.
    fn deliveries(&self) -> Result<Vec<DeliveryRecord>, OutboxError> {
        self.read(|h| {
            let mut out = Vec::new();
            for kv in h.deliveries.iter() {
                let (_, v) = kv.map_err(db)?;
                out.push(serde_json::from_slice(&v).map_err(db)?);
            }
            Ok(out)
        })
    }

    /// Stores (or replaces) a subscription, durably.
    fn put_subscription(&self, s: &Subscription) -> Result<(), OutboxError> {
        let v = serde_json::to_vec(s).map_err(db)?;
        let key = subscription_key(&s.stakeholder, &s.id);
        self.write(|h| {
            h.subscriptions.insert(&key, &v).map_err(db)?;
            h.keyspace.persist(PersistMode::SyncAll).map_err(db)
        })
    }

    /// Removes `stakeholder`'s subscription `id`, durably.
    fn remove_subscription(&self, stakeholder: &str, id: &str) -> Result<(), OutboxError> {
        let key = subscription_key(stakeholder, id);
        self.write(|h| {
            h.subscriptions.remove(&key).map_err(db)?;
            h.keyspace.persist(PersistMode::SyncAll).map_err(db)
        })
    }

    /// Writes new deliveries and their bodies in one atomic batch, durably.
    fn insert_deliveries(
        &self,
        new: &[(DeliveryRecord, std::sync::Arc<Vec<u8>>)],
    ) -> Result<(), OutboxError> {
        let mut rows = Vec::with_capacity(new.len());
        for (record, body) in new {
            rows.push((
                record_key(record),
                serde_json::to_vec(record).map_err(db)?,
                body,
            ));
        }
        self.write(|h| {
            let mut batch = h.keyspace.batch();
            for (key, record, body) in &rows {
                if h.deliveries.contains_key(key.as_bytes()).map_err(db)? {
                    continue;
                }
                batch.insert(&h.deliveries, key.as_bytes(), record.as_slice());
                batch.insert(&h.bodies, key.as_bytes(), body.as_slice());
            }
            batch.commit().map_err(db)?;
            h.keyspace.persist(PersistMode::SyncAll).map_err(db)
        })
    }

    /// The body of a delivery, if it is still stored.
    fn body(&self, key: &str) -> Result<Option<Vec<u8>>, OutboxError> {
        self.read(|h| Ok(h.bodies.get(key).map_err(db)?.map(|v| v.to_vec())))
    }

    /// Stores the new state of a delivery; drops its body when finished.
    fn update_delivery(&self, record: &DeliveryRecord, finished: bool) -> Result<(), OutboxError> {
        let key = record_key(record);
        let value = serde_json::to_vec(record).map_err(db)?;
        self.write(|h| {
            let mut batch = h.keyspace.batch();
            batch.insert(&h.deliveries, key.as_bytes(), value.as_slice());
            if finished {
                batch.remove(&h.bodies, key.as_bytes());
            }
            batch.commit().map_err(db)?;
            h.keyspace.persist(PersistMode::Buffer).map_err(db)
        })
    }

    /// Forgets finished deliveries (pruning).
    fn remove_deliveries(&self, keys: &[String]) -> Result<(), OutboxError> {
        self.write(|h| {
            let mut batch = h.keyspace.batch();
            for key in keys {
                batch.remove(&h.deliveries, key.as_bytes());
                batch.remove(&h.bodies, key.as_bytes());
            }
            batch.commit().map_err(db)?;
            h.keyspace.persist(PersistMode::Buffer).map_err(db)
        })
    }

    /// Fsyncs everything written so far (at shutdown).
    fn sync(&self) -> Result<(), OutboxError> {
        self.write(|h| h.keyspace.persist(PersistMode::SyncAll).map_err(db))
    }
}
