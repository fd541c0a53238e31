//! The twin projection on PostgreSQL ([`twin::store::ProjectionStore`],
//! migration 5), which several nodes can read.
//!
//! Tables (bodies are the projection's JSON, kept as `BYTEA` so that any
//! string a statement held, NUL included, is stored as it came; convert
//! with `convert_from(body, 'UTF8')::jsonb` to query them in SQL):
//! - `twin_meta`: one row (made by the migration, so that a writer always
//!   has a row to lock), the log size the projection reflects and the meta
//!   (registry, releases, policies…; `NULL` until the first fold);
//! - `twin device → body`; `twin_index (attribute, value, device)` for
//!   search ([`twin::store::index_pairs`]);
//! - `twin_claim entry → body`; `twin_history (device, entry) → type,
//!   issuer`; `twin_sbom entry → components`; `twin_refused entry → why`;
//!   `twin_digest (digest, entry) → field`.
//!
//! Device ids are `COLLATE "C"`, so that pages come in the byte order of
//! ids, as from the embedded store. A write is one transaction that first
//! locks the meta row and checks the size the writer folded onto
//! ([`StoreError::Moved`] otherwise): two writers (a former projector
//! waking from a pause) never interleave batches. Rows go in as arrays
//! (`UNNEST`), one statement per table. Reads are single statements with
//! their parameter types given (one round trip each, no named statement to
//! prepare on each pooled connection).

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use twin::projection::{Claim, Twin};
use twin::statement::SbomComponent;
use twin::store::{index_pairs, Changes, ProjectionStore, StoreError};
use twin::{DeviceId, Meta, StakeholderId};

use crate::readers::Readers;
use crate::{describe, PgError, PgOptions};

/// The twin projection in the schema of `options`.
pub struct PgTwins {
    readers: Readers,
}

fn sql(e: postgres::Error) -> StoreError {
    StoreError::Db(format!("PostgreSQL: {}", describe(&e)))
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt {
        what,
        why: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Db(e.to_string()))
}

/// `n` as a `BIGINT`.
fn big(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Db(format!("{n} is beyond PostgreSQL's BIGINT")))
}

/// A stored `BIGINT` (checked non-negative by the schema).
fn unbig(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A page limit as a `BIGINT`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgTwins {
    /// Opens the projection of a migrated schema.
    pub fn open(options: &PgOptions) -> Result<PgTwins, PgError> {
        Ok(PgTwins {
            readers: Readers::open(options, "twin store")?,
        })
    }

    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.readers.with(StoreError::Db, f)
    }

    /// One row's first column, if there is a row.
    fn one(
        &self,
        query: &'static str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| {
            let rows = c.query_typed(query, params).map_err(sql)?;
            Ok(rows.first().map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }
}

/// History rows as arrays: devices, entries, types, issuers.
type HistoryArrays = (Vec<String>, Vec<i64>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// The rows of one write, as the arrays each statement takes.
#[derive(Default)]
struct Rows {
    twin_devices: Vec<String>,
    twin_bodies: Vec<Vec<u8>>,
    index_gone: (Vec<String>, Vec<Vec<u8>>, Vec<String>),
    index_new: (Vec<String>, Vec<Vec<u8>>, Vec<String>),
    claim_entries: Vec<i64>,
    claim_bodies: Vec<Vec<u8>>,
    history: HistoryArrays,
    sbom: (Vec<i64>, Vec<Vec<u8>>),
    refused: (Vec<i64>, Vec<Vec<u8>>),
    digests: (Vec<Vec<u8>>, Vec<i64>, Vec<String>),
}

impl Rows {
    fn of(changes: Changes) -> Result<Rows, StoreError> {
        let mut rows = Rows::default();
        for (device, (twin, before)) in &changes.twins {
            let new = index_pairs(twin);
            let old = before.as_ref().map(index_pairs).unwrap_or_default();
            for (a, v) in &old {
                if !new.contains(&(a, v)) {
                    rows.index_gone.0.push(a.to_string());
                    rows.index_gone.1.push(v.as_bytes().to_vec());
                    rows.index_gone.2.push(device.as_str().to_string());
                }
            }
            for (a, v) in &new {
                if !old.contains(&(a, v)) {
                    rows.index_new.0.push(a.to_string());
                    rows.index_new.1.push(v.as_bytes().to_vec());
                    rows.index_new.2.push(device.as_str().to_string());
                }
            }
            rows.twin_devices.push(device.as_str().to_string());
            rows.twin_bodies.push(encode(twin)?);
        }
        for (entry, claim) in &changes.claims {
            rows.claim_entries.push(big(*entry)?);
            rows.claim_bodies.push(encode(claim)?);
        }
        // One row per key: a later row replaces an earlier one, as in the
        // embedded store (and one statement may not touch a row twice).
        let mut history: HashMap<(&str, u64), usize> = HashMap::new();
        for (i, (device, entry, _, _)) in changes.history.iter().enumerate() {
            history.insert((device.as_str(), *entry), i);
        }
        let mut kept: Vec<usize> = history.into_values().collect();
        kept.sort_unstable();
        for i in kept {
            let (device, entry, kind, issuer) = &changes.history[i];
            rows.history.0.push(device.as_str().to_string());
            rows.history.1.push(big(*entry)?);
            rows.history.2.push(kind.as_bytes().to_vec());
            rows.history.3.push(issuer.0.as_bytes().to_vec());
        }
        for (entry, components) in &changes.sboms {
            rows.sbom.0.push(big(*entry)?);
            rows.sbom.1.push(encode(components)?);
        }
        let mut refused: HashMap<u64, &str> = HashMap::new();
        for (entry, why) in &changes.refused {
            refused.insert(*entry, why);
        }
        for (entry, why) in refused {
            rows.refused.0.push(big(entry)?);
            rows.refused.1.push(why.as_bytes().to_vec());
        }
        let mut digests: HashMap<([u8; 32], u64), &str> = HashMap::new();
        for (digest, entry, field) in &changes.digests {
            digests.insert((*digest, *entry), field);
        }
        for ((digest, entry), field) in digests {
            rows.digests.0.push(digest.to_vec());
            rows.digests.1.push(big(entry)?);
            rows.digests.2.push(field.to_string());
        }
        Ok(rows)
    }

    fn write(&self, tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
        if !self.index_gone.0.is_empty() {
            tx.execute(
                "DELETE FROM twin_index t USING UNNEST($1::text[], $2::bytea[], $3::text[]) AS g(a, v, d) \
                 WHERE t.attribute = g.a AND t.value = g.v AND t.device = g.d",
                &[&self.index_gone.0, &self.index_gone.1, &self.index_gone.2],
            )?;
        }
        if !self.index_new.0.is_empty() {
            tx.execute(
                "INSERT INTO twin_index (attribute, value, device) \
                 SELECT * FROM UNNEST($1::text[], $2::bytea[], $3::text[]) ON CONFLICT DO NOTHING",
                &[&self.index_new.0, &self.index_new.1, &self.index_new.2],
            )?;
        }
        if !self.twin_devices.is_empty() {
            tx.execute(
                "INSERT INTO twin (device, body) SELECT * FROM UNNEST($1::text[], $2::bytea[]) \
                 ON CONFLICT (device) DO UPDATE SET body = EXCLUDED.body",
                &[&self.twin_devices, &self.twin_bodies],
            )?;
        }
        if !self.claim_entries.is_empty() {
            tx.execute(
                "INSERT INTO twin_claim (entry, body) SELECT * FROM UNNEST($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (entry) DO UPDATE SET body = EXCLUDED.body",
                &[&self.claim_entries, &self.claim_bodies],
            )?;
        }
        if !self.history.0.is_empty() {
            tx.execute(
                "INSERT INTO twin_history (device, entry, kind, issuer) \
                 SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[], $4::bytea[]) \
                 ON CONFLICT (device, entry) DO UPDATE SET kind = EXCLUDED.kind, issuer = EXCLUDED.issuer",
                &[&self.history.0, &self.history.1, &self.history.2, &self.history.3],
            )?;
        }
        if !self.sbom.0.is_empty() {
            tx.execute(
                "INSERT INTO twin_sbom (entry, components) SELECT * FROM UNNEST($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (entry) DO UPDATE SET components = EXCLUDED.components",
                &[&self.sbom.0, &self.sbom.1],
            )?;
        }
        if !self.refused.0.is_empty() {
            tx.execute(
                "INSERT INTO twin_refused (entry, why) SELECT * FROM UNNEST($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (entry) DO UPDATE SET why = EXCLUDED.why",
                &[&self.refused.0, &self.refused.1],
            )?;
        }
        if !self.digests.0.is_empty() {
            tx.execute(
                "INSERT INTO twin_digest (digest, entry, field) \
                 SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::text[]) \
                 ON CONFLICT (digest, entry) DO UPDATE SET field = EXCLUDED.field",
                &[&self.digests.0, &self.digests.1, &self.digests.2],
            )?;
        }
        Ok(())
    }
}

impl ProjectionStore for PgTwins {
    fn load_meta(&self) -> Result<Option<Meta>, StoreError> {
        let b = self.with(|c| {
            let rows = c
                .query_typed("SELECT meta FROM twin_meta WHERE id = 1", &[])
                .map_err(sql)?;
            Ok(rows.first().and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })?;
        let Some(b) = b else {
            return Ok(None);
        };
        let mut m: Meta = decode("meta", &b)?;
        m.reload();
        Ok(Some(m))
    }

    fn size(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let rows = c
                .query_typed("SELECT size FROM twin_meta WHERE id = 1", &[])
                .map_err(sql)?;
            Ok(rows.first().map_or(0, |r| unbig(r.get(0))))
        })
    }

    fn twin(&self, device: &DeviceId) -> Result<Option<Twin>, StoreError> {
        self.one(
            "SELECT body FROM twin WHERE device = $1",
            &[(&device.as_str(), Type::TEXT)],
        )?
        .map(|b| decode("twin", &b))
        .transpose()
    }

    fn claim(&self, entry: u64) -> Result<Option<Claim>, StoreError> {
        self.one(
            "SELECT body FROM twin_claim WHERE entry = $1",
            &[(&big(entry)?, Type::INT8)],
        )?
        .map(|b| decode("claim", &b))
        .transpose()
    }

    fn sbom_part(&self, entry: u64) -> Result<Option<Vec<SbomComponent>>, StoreError> {
        self.one(
            "SELECT components FROM twin_sbom WHERE entry = $1",
            &[(&big(entry)?, Type::INT8)],
        )?
        .map(|b| decode("sbom part", &b))
        .transpose()
    }

    fn refusal(&self, entry: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .one(
                "SELECT why FROM twin_refused WHERE entry = $1",
                &[(&big(entry)?, Type::INT8)],
            )?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn devices(&self, after: Option<&str>, n: usize) -> Result<Vec<Twin>, StoreError> {
        let after = after.unwrap_or("");
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT body FROM twin WHERE device > $1 ORDER BY device LIMIT $2",
                &[(&after, Type::TEXT), (&limit(n), Type::INT8)],
            )
            .map_err(sql)
        })?;
        rows.iter()
            .map(|r| decode("twin", r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn device_count(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let rows = c
                .query_typed("SELECT count(*) FROM twin", &[])
                .map_err(sql)?;
            Ok(rows.first().map_or(0, |r| unbig(r.get(0))))
        })
    }

    fn search(
        &self,
        attribute: &str,
        value: &str,
        after: Option<&str>,
        n: usize,
    ) -> Result<Vec<DeviceId>, StoreError> {
        let after = after.unwrap_or("");
        let value = value.as_bytes();
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT device FROM twin_index WHERE attribute = $1 AND value = $2 AND device > $3 \
                 ORDER BY device LIMIT $4",
                &[
                    (&attribute, Type::TEXT),
                    (&value, Type::BYTEA),
                    (&after, Type::TEXT),
                    (&limit(n), Type::INT8),
                ],
            )
            .map_err(sql)
        })?;
        rows.iter()
            .map(|r| {
                DeviceId::new(r.get::<_, String>(0))
                    .map_err(|e| StoreError::Db(format!("device index: {e}")))
            })
            .collect()
    }

    fn history(
        &self,
        device: &DeviceId,
        after: Option<u64>,
        n: usize,
    ) -> Result<Vec<(u64, String, StakeholderId)>, StoreError> {
        let after = after.map(big).transpose()?.unwrap_or(-1);
        let device = device.as_str();
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT entry, kind, issuer FROM twin_history WHERE device = $1 AND entry > $2 \
                 ORDER BY entry LIMIT $3",
                &[
                    (&device, Type::TEXT),
                    (&after, Type::INT8),
                    (&limit(n), Type::INT8),
                ],
            )
            .map_err(sql)
        })?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    unbig(r.get(0)),
                    String::from_utf8_lossy(r.get::<_, &[u8]>(1)).into_owned(),
                    StakeholderId(String::from_utf8_lossy(r.get::<_, &[u8]>(2)).into_owned()),
                )
            })
            .collect())
    }

    fn digest_entries(
        &self,
        digest: &[u8; 32],
        after: Option<u64>,
        n: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let after = after.map(big).transpose()?.unwrap_or(-1);
        let digest = digest.as_slice();
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT entry, field FROM twin_digest WHERE digest = $1 AND entry > $2 \
                 ORDER BY entry LIMIT $3",
                &[
                    (&digest, Type::BYTEA),
                    (&after, Type::INT8),
                    (&limit(n), Type::INT8),
                ],
            )
            .map_err(sql)
        })?;
        Ok(rows
            .iter()
            .map(|r| (unbig(r.get(0)), r.get::<_, String>(1)))
            .collect())
    }

    fn write(
        &self,
        changes: Changes,
        meta: Option<&Meta>,
        from_size: u64,
    ) -> Result<(), StoreError> {
        let rows = Rows::of(changes)?;
        let meta = meta
            .map(|m| Ok::<_, StoreError>((big(m.size)?, encode(m)?)))
            .transpose()?;
        self.with(|c| {
            let mut tx = c.transaction().map_err(sql)?;
            let stored = tx
                .query_opt("SELECT size FROM twin_meta WHERE id = 1 FOR UPDATE", &[])
                .map_err(sql)?
                .map_or(0, |r| unbig(r.get(0)));
            if stored != from_size {
                return Err(StoreError::Moved {
                    expected: from_size,
                    stored,
                });
            }
            rows.write(&mut tx).map_err(sql)?;
            if let Some((size, body)) = &meta {
                tx.execute(
                    "INSERT INTO twin_meta (id, size, meta) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, meta = EXCLUDED.meta",
                    &[size, body],
                )
                .map_err(sql)?;
            }
            tx.commit().map_err(sql)
        })
    }
}
