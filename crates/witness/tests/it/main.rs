//! Every integration test of `witness`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod add_checkpoint;
mod client;
mod common;
mod interop;
