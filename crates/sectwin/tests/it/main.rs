//! Every integration test of `sectwin`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod cluster;
mod cluster_devices;
mod common;
mod cra_e2e;
mod crash;
mod cvss_cli;
mod demo;
mod device_crash;
mod exploit_e2e;
mod log_verify_http;
mod operations;
mod postgres_log;
mod statement_cli;
mod storage;
mod suppress_cli;
mod threat_cli;
mod tidy;
mod twin_cli;
mod vuln_cli;
mod vuln_e2e;
