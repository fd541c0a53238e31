//! Every integration test of `log-store`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod conformance;
mod data_dir_lock;
