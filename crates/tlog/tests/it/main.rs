//! Every integration test of `tlog`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod merkle_vectors;
mod notes;
mod tessera_log;
mod tiles;
mod vectors;
mod wire;
