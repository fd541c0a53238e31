//! Every integration test of `vuln-formats`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod documents;
mod exploitation;
mod kev;
mod roundtrip;
mod semantics;
mod vulnrichment;
