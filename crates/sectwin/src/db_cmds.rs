//! `sectwin db`: the PostgreSQL database of a deployment past one machine.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DbCmd {
    /// Create or upgrade sectwin's schema (versioned and idempotent: what
    /// is applied already is skipped; two nodes migrating at once take
    /// turns). Stores refuse a schema not at their version.
    Migrate {
        /// The database: `postgres://user[:password]@host[:port]/database`
        /// (`?sslmode=disable|prefer|require|verify-full`).
        #[arg(long, env = "SECTWIN_DATABASE")]
        database: String,
        /// The schema holding sectwin's tables.
        #[arg(long, default_value = pg_store::SCHEMA_DEFAULT, env = "SECTWIN_DATABASE_SCHEMA")]
        schema: String,
    },
}

/// `sectwin migrate-store`: an embedded log moved into PostgreSQL.
#[derive(clap::Args)]
pub struct MigrateStoreArgs {
    /// The data directory whose embedded log moves (its server stopped).
    #[arg(long, env = "SECTWIN_DATA")]
    data: std::path::PathBuf,
    /// The database (`sectwin db migrate` prepared its schema; it holds no log yet).
    #[arg(long, env = "SECTWIN_DATABASE")]
    database: String,
    /// The schema holding sectwin's tables.
    #[arg(long, default_value = pg_store::SCHEMA_DEFAULT, env = "SECTWIN_DATABASE_SCHEMA")]
    database_schema: String,
}

/// Copies the embedded log of `args.data` into the database, proves the
/// copy is the same log (fsck of both, the same checkpoint history note for
/// note, the same root), and marks the data directory so that `serve`
/// opens it on the database from then on.
pub async fn migrate_store(args: MigrateStoreArgs) -> Result<ExitCode> {
    use std::sync::Arc;
    let data = args.data;
    let options = pg_store::PgOptions::new(&args.database).with_schema(&args.database_schema);
    node::check_embedded(&data)?;
    let vkey = std::fs::read_to_string(node::vkey_path(&data))
        .map_err(|e| anyhow::anyhow!("{}: {e}", node::vkey_path(&data).display()))?;
    let vkey = vkey.trim().to_string();
    // The old log, checked first: a broken log is not copied.
    let before = log_service::fsck::fsck(&data, &vkey)
        .await
        .map_err(|e| anyhow::anyhow!("fsck of {} before the move: {e}", data.display()))?;
    let started = std::time::Instant::now();
    let (source, report) = {
        let data = data.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let source: Arc<dyn log_store::LogStore> = Arc::new(log_store::EmbeddedStore::open(
                log_store::EmbeddedStoreOptions { dir: data },
            )?);
            let report = pg_store::import_log(&options, source.as_ref())?;
            Ok((source, report))
        })
        .await??
    };
    let copied_ms = started.elapsed().as_millis();
    let target: Arc<dyn log_store::LogStore> =
        Arc::new(pg_store::PgLogStore::open(options.clone())?);
    let after = log_service::fsck::fsck_store(target.clone(), &vkey)
        .await
        .map_err(|e| anyhow::anyhow!("fsck of the copy in PostgreSQL: {e}"))?;
    let (old_history, new_history, old_cp, new_cp) = {
        let (source, target) = (source.clone(), target.clone());
        tokio::task::spawn_blocking(move || -> Result<_> {
            Ok((
                source.checkpoint_history(tlog::TreeSize::new(0))?,
                target.checkpoint_history(tlog::TreeSize::new(0))?,
                source.checkpoint()?,
                target.checkpoint()?,
            ))
        })
        .await??
    };
    anyhow::ensure!(
        old_history == new_history,
        "the copy's checkpoint history differs from the original's ({} vs {} checkpoints)",
        new_history.len(),
        old_history.len()
    );
    anyhow::ensure!(old_cp == new_cp, "the copy serves another checkpoint");
    anyhow::ensure!(
        before.verify.size == after.verify.size && before.verify.root == after.verify.root,
        "the copy's tree differs: size {} root {} vs size {} root {}",
        after.verify.size,
        after.verify.root,
        before.verify.size,
        before.verify.root
    );
    drop(source);
    // What the node keeps beside the log: payloads and read records.
    let side = {
        let data = data.clone();
        let options = options.clone();
        tokio::task::spawn_blocking(move || -> Result<_> {
            let payloads = twin_store::PayloadStore::open(&data.join("payloads"))?;
            Ok(pg_store::import_side(&options, &payloads)?)
        })
        .await??
    };
    node::mark_log_backend(&data, &node::LogBackend::Postgres(options))?;
    println!(
        "moved the log of {} to PostgreSQL (schema {}) in {copied_ms} ms: {} entries, {} tiles, {} bundles, {} dedup keys, {} checkpoints",
        data.display(),
        args.database_schema,
        report.entries,
        report.tiles,
        report.bundles,
        report.dedup_keys,
        report.checkpoints
    );
    println!(
        "moved what is kept beside the log: {} payloads, {} stakeholders' payload usage, {} read records",
        side.payloads, side.usage, side.reads
    );
    println!(
        "identical: the same {} checkpoints, note for note; size {} with root {} in both (fsck of both passed)",
        new_history.len(),
        after.verify.size,
        after.verify.root
    );
    println!(
        "serve it with: sectwin serve --data {} --database <URL> --database-schema {} \
         (the embedded files stay in the data directory as a backup; serve no longer reads them)",
        data.display(),
        args.database_schema
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cmd: DbCmd) -> Result<ExitCode> {
    match cmd {
        DbCmd::Migrate { database, schema } => {
            let options = pg_store::PgOptions::new(&database).with_schema(&schema);
            let report = tokio::task::spawn_blocking(move || pg_store::migrate(&options)).await??;
            if report.applied.is_empty() {
                println!(
                    "schema {} is at version {}: nothing to do",
                    report.schema, report.to
                );
            } else {
                for v in &report.applied {
                    let name = pg_store::MIGRATIONS
                        .iter()
                        .find(|m| m.version == *v)
                        .map_or("", |m| m.name);
                    println!("applied {v}: {name}");
                }
                println!(
                    "schema {} migrated from version {} to {}",
                    report.schema, report.from, report.to
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
