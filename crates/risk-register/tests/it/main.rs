//! Every integration test of `risk-register`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod incremental;
mod register;
