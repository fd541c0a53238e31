//! Every integration test of `notify`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod common;
mod mqtt;
mod outbox_conformance;
mod webhooks;
