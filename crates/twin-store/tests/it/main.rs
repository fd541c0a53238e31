//! Every integration test of `twin-store`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod archivist_store;
mod format;
mod incremental_register;
mod projection_conformance;
mod side_conformance;
mod swap;
