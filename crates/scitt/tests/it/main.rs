//! Every integration test of `scitt`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod statements_and_receipts;
