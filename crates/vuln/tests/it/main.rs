//! Every integration test of `vuln`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod cpe;
mod cvss;
mod exposure;
mod matching;
mod published_scores;
mod version;
