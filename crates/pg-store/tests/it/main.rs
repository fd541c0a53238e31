//! `pg-store`'s tests, against the real PostgreSQL server (see
//! [`support::database_url`]), each run in a schema of its own that is
//! dropped at the end.

mod credentials;
mod lease;
mod log_conformance;
mod migrations;
mod notifier;
mod outbox_conformance;
mod projection_conformance;
mod side_conformance;
mod side_import;
mod support;
