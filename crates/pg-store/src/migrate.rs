//! The schema's versioned migrations, run by `sectwin db migrate`.
//!
//! Each migration runs once, in version order, inside one transaction with
//! the others of the same run, under a transaction-scoped advisory lock (two
//! nodes migrating at once take turns; the second finds nothing to do). The
//! applied versions are recorded in `sectwin_migrations`. A schema that has
//! a version this build does not know is refused: it was made by a newer
//! sectwin, and an older one must not write to it.

use crate::{check_schema, connect, describe, PgError, PgOptions};

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its version (1, 2, …, no gaps).
    pub version: i32,
    /// What it adds.
    pub name: &'static str,
    /// Its statements.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "the log: entries, tiles, bundles, dedup index, checkpoint history, state",
    sql: r#"
CREATE TABLE log_entry (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    data BYTEA NOT NULL
);
CREATE TABLE log_tile (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    width SMALLINT NOT NULL CHECK (width BETWEEN 1 AND 256),
    data BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE log_bundle (
    idx BIGINT PRIMARY KEY,
    width SMALLINT NOT NULL CHECK (width BETWEEN 1 AND 256),
    data BYTEA NOT NULL
);
CREATE TABLE log_dedup (
    leaf BYTEA PRIMARY KEY CHECK (length(leaf) = 32),
    idx BIGINT NOT NULL
);
CREATE TABLE log_checkpoint (
    size BIGINT PRIMARY KEY,
    note BYTEA NOT NULL
);
CREATE TABLE log_state (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    durable_size BIGINT NOT NULL,
    synced_size BIGINT NOT NULL,
    checkpoint BYTEA,
    CHECK (synced_size <= durable_size)
);
INSERT INTO log_state (id, durable_size, synced_size) VALUES (1, 0, 0);
"#,
}, Migration {
    version: 2,
    name: "several nodes: the sequencer's lease with its fencing token; the dedup index by position",
    sql: r#"
CREATE TABLE log_lease (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    token BIGINT NOT NULL CHECK (token >= 0),
    holder TEXT,
    holder_url TEXT,
    holder_pid INT,
    holder_started TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    secret BYTEA
);
INSERT INTO log_lease (id, token) VALUES (1, 0);
CREATE INDEX log_dedup_by_idx ON log_dedup (idx);
"#,
}, Migration {
    version: 3,
    name: "notifications shared by the nodes: subscriptions, deliveries and their bodies",
    sql: r#"
CREATE TABLE notify_subscription (
    stakeholder TEXT NOT NULL,
    id TEXT NOT NULL,
    subscription JSONB NOT NULL,
    PRIMARY KEY (stakeholder, id)
);
CREATE TABLE notify_delivery (
    key BYTEA PRIMARY KEY,
    stakeholder TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    record JSONB NOT NULL,
    body BYTEA
);
CREATE INDEX notify_delivery_by_seq ON notify_delivery (seq);
CREATE TABLE notify_state (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    subscriptions_version BIGINT NOT NULL
);
INSERT INTO notify_state (id, subscriptions_version) VALUES (1, 0);
"#,
}, Migration {
    version: 4,
    name: "API credentials shared by the nodes",
    sql: r#"
CREATE TABLE credential (
    client_id TEXT PRIMARY KEY,
    record JSONB NOT NULL,
    revoked BOOLEAN NOT NULL
);
CREATE TABLE credential_state (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO credential_state (id, version) VALUES (1, 0);
"#,
}, Migration {
    version: 5,
    name: "the twin projection: twins, their search index, claims, histories, SBOM parts, refusals, digests, meta",
    sql: r#"
CREATE TABLE twin_meta (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL CHECK (size >= 0),
    meta BYTEA
);
INSERT INTO twin_meta (id, size, meta) VALUES (1, 0, NULL);
CREATE TABLE twin (
    device TEXT COLLATE "C" PRIMARY KEY,
    body BYTEA NOT NULL
);
CREATE TABLE twin_index (
    attribute TEXT NOT NULL,
    value BYTEA NOT NULL,
    device TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (attribute, value, device)
);
CREATE TABLE twin_claim (
    entry BIGINT PRIMARY KEY CHECK (entry >= 0),
    body BYTEA NOT NULL
);
CREATE TABLE twin_history (
    device TEXT COLLATE "C" NOT NULL,
    entry BIGINT NOT NULL CHECK (entry >= 0),
    kind BYTEA NOT NULL,
    issuer BYTEA NOT NULL,
    PRIMARY KEY (device, entry)
);
CREATE TABLE twin_sbom (
    entry BIGINT PRIMARY KEY CHECK (entry >= 0),
    components BYTEA NOT NULL
);
CREATE TABLE twin_refused (
    entry BIGINT PRIMARY KEY CHECK (entry >= 0),
    why BYTEA NOT NULL
);
CREATE TABLE twin_digest (
    digest BYTEA NOT NULL CHECK (length(digest) = 32),
    entry BIGINT NOT NULL CHECK (entry >= 0),
    field TEXT NOT NULL,
    PRIMARY KEY (digest, entry)
);
"#,
}, Migration {
    version: 6,
    name: "beside the log: hash envelopes' payloads with each stakeholder's usage, read records",
    sql: r#"
CREATE TABLE side_payload (
    leaf BYTEA PRIMARY KEY CHECK (length(leaf) = 32),
    payload BYTEA NOT NULL
);
CREATE TABLE side_payload_usage (
    stakeholder TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL CHECK (bytes >= 0)
);
CREATE TABLE read_record (
    owner TEXT COLLATE "C" NOT NULL,
    at_ms BIGINT NOT NULL CHECK (at_ms >= 0),
    seq BIGINT NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (owner, at_ms, seq)
);
CREATE SEQUENCE read_record_seq;
"#,
}];

/// The version this build writes and reads.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema.
    pub schema: String,
    /// The version before.
    pub from: i32,
    /// The versions applied by this run, in order.
    pub applied: Vec<i32>,
    /// The version after.
    pub to: i32,
}

/// The key of the advisory lock migrations take.
const MIGRATION_LOCK_KEY: i64 = 0x5EC7_0001;

/// Brings `options`'s schema to the latest version (creating it if needed).
pub fn migrate(options: &PgOptions) -> Result<MigrationReport, PgError> {
    check_schema(&options.schema)?;
    let mut client = connect(options)?;
    let schema = &options.schema;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])?;
    // The name was checked to be a plain identifier: no quoting needed.
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.sectwin_migrations (
             version INT PRIMARY KEY,
             name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );"
    ))?;
    let from = applied_version(&mut tx, schema)?;
    let latest = latest_version();
    if from > latest {
        return Err(newer(schema, from, latest));
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        tx.batch_execute(&format!("SET LOCAL search_path TO {schema}"))?;
        tx.batch_execute(m.sql).map_err(|e| {
            PgError::Sql(format!(
                "migration {} ({}): {}",
                m.version,
                m.name,
                describe(&e)
            ))
        })?;
        tx.execute(
            &format!("INSERT INTO {schema}.sectwin_migrations (version, name) VALUES ($1, $2)"),
            &[&m.version, &m.name],
        )?;
        applied.push(m.version);
    }
    tx.commit()?;
    Ok(MigrationReport {
        schema: schema.clone(),
        from,
        applied,
        to: latest,
    })
}

fn applied_version(
    client: &mut impl postgres::GenericClient,
    schema: &str,
) -> Result<i32, PgError> {
    let row = client.query_one(
        &format!("SELECT COALESCE(MAX(version), 0) FROM {schema}.sectwin_migrations"),
        &[],
    )?;
    Ok(row.get(0))
}

fn newer(schema: &str, found: i32, latest: i32) -> PgError {
    PgError::Schema(format!(
        "schema {schema} is at version {found}, newer than this sectwin knows ({latest}): run a newer sectwin"
    ))
}

/// Checks that `client`'s schema is at the version this build knows.
pub(crate) fn check_version(client: &mut postgres::Client, schema: &str) -> Result<(), PgError> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'sectwin_migrations')",
            &[&schema],
        )?
        .get(0);
    let found = if exists {
        applied_version(client, schema)?
    } else {
        0
    };
    let latest = latest_version();
    if found > latest {
        return Err(newer(schema, found, latest));
    }
    if found < latest {
        return Err(PgError::Schema(format!(
            "schema {schema} is at version {found}, this sectwin needs {latest}: run `sectwin db migrate --database <url>{}` first",
            if schema == crate::SCHEMA_DEFAULT {
                String::new()
            } else {
                format!(" --schema {schema}")
            }
        )));
    }
    Ok(())
}
