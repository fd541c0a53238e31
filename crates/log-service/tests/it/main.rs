//! Every integration test of `log-service`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod faults;
mod log_service;
mod verify_tools;
