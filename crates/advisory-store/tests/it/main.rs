//! Every integration test of `advisory-store`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod exploit;
mod store;
