//! API credentials shared by the nodes of a cluster (migration 4).
//!
//! `credential client_id → record (JSON), revoked`, and `credential_state`'s
//! version, raised by every write that changed a row. The store knows
//! nothing of the record but its client id and whether it is revoked: the
//! node merges (`access::Credentials::merge`). A write is that merge in SQL:
//! a new client id is added, a revocation sticks, nothing else changes, so
//! two nodes writing at once lose nothing.

use crate::readers::Readers;
use crate::{PgError, PgOptions};

/// The credentials table of a schema.
pub struct PgCredentials {
    readers: Readers,
}

/// One stored credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    /// Its client id.
    pub client_id: String,
    /// Its record, as the node serializes it (JSON).
    pub record: String,
    /// Whether it is revoked.
    pub revoked: bool,
}

impl PgCredentials {
    /// Opens the credentials of a migrated schema.
    pub fn open(options: &PgOptions) -> Result<PgCredentials, PgError> {
        Ok(PgCredentials {
            readers: Readers::open(options, "credentials store")?,
        })
    }

    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, PgError> {
        self.readers.with_pg(f)
    }

    /// The version: it moves whenever a write changed a row.
    pub fn version(&self) -> Result<u64, PgError> {
        self.with(|c| {
            let v: i64 = c
                .query_one("SELECT version FROM credential_state WHERE id = 1", &[])?
                .get(0);
            Ok(u64::try_from(v).unwrap_or(0))
        })
    }

    /// Every stored credential, by client id, with the version they are of.
    pub fn rows(&self) -> Result<(u64, Vec<CredentialRow>), PgError> {
        self.with(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let v: i64 = tx
                .query_one("SELECT version FROM credential_state WHERE id = 1", &[])?
                .get(0);
            let rows = tx
                .query(
                    "SELECT client_id, record::text, revoked FROM credential ORDER BY client_id",
                    &[],
                )?
                .iter()
                .map(|r| CredentialRow {
                    client_id: r.get(0),
                    record: r.get(1),
                    revoked: r.get(2),
                })
                .collect();
            tx.commit()?;
            Ok((u64::try_from(v).unwrap_or(0), rows))
        })
    }

    /// Merges `rows` in: unknown client ids are added, revocations stick.
    /// Answers how many rows changed (the version moved if any did).
    pub fn merge(&self, rows: &[CredentialRow]) -> Result<u64, PgError> {
        let ids: Vec<&str> = rows.iter().map(|r| r.client_id.as_str()).collect();
        let records: Vec<&str> = rows.iter().map(|r| r.record.as_str()).collect();
        let revoked: Vec<bool> = rows.iter().map(|r| r.revoked).collect();
        self.with(|c| {
            let mut tx = c.transaction()?;
            let changed = tx.execute(
                "INSERT INTO credential (client_id, record, revoked) \
                 SELECT i, r::jsonb, v FROM UNNEST($1::text[], $2::text[], $3::bool[]) AS t(i, r, v) \
                 ON CONFLICT (client_id) DO UPDATE SET revoked = TRUE, record = EXCLUDED.record \
                   WHERE EXCLUDED.revoked AND NOT credential.revoked",
                &[&ids, &records, &revoked],
            )?;
            if changed > 0 {
                tx.execute(
                    "UPDATE credential_state SET version = version + 1 WHERE id = 1",
                    &[],
                )?;
            }
            tx.commit()?;
            Ok(changed)
        })
    }
}
