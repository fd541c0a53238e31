//! Every integration test of `access`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod credentials;
mod tokens;
