//! Every integration test of `node`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod app;
mod archivist;
mod cluster;
mod dashboard;
mod detection;
mod devices;
mod golden;
mod injected_clock;
mod openapi;
mod ops;
mod ota;
mod rollout;
mod suppressions;
mod twin_api;
mod vex_check;
