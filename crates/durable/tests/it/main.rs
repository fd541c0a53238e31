//! Every integration test of `durable`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod format;
mod write;
