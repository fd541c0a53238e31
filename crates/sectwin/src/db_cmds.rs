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
