//! What devices say about themselves, and what sectwin makes of it.
//!
//! A device signs a report with its own key (a SCITT signed statement,
//! `iss` = `sub` = `device:{id}`) and publishes it on
//! `sectwin/devices/{id}/reports`; this crate knows only the payload and
//! what follows from it:
//!
//! - [`report`]: the report payload ([`report::DeviceReport`],
//!   `{"type":"device-report","v":1,...}`), parsed strictly with a limit on
//!   everything; format for device vendors in `docs/device-reports.md`;
//! - [`replay`]: freshness and replay protection
//!   ([`replay::Freshness`], [`replay::ReplayGuard`]) and the one list of
//!   rejection reasons with their metric labels ([`replay::RejectReason`]);
//! - [`audit`]: posture audit rules as data (OWASP IoT Top 10, ETSI EN
//!   303 645, AWS IoT Device Defender audit checks), compiled once and run
//!   over a fleet ([`audit::Auditor`], [`audit::FleetIndex`]), giving
//!   findings with evidence, with suppressions that expire;
//! - [`detect`]: Device Defender-style behaviours (static and statistical
//!   thresholds, datapoints to alarm and to clear) and alarms with their
//!   verification state;
//! - [`incident`]: the built-in incident rules (unreleased firmware,
//!   substituted AI model, new port or destination, authentication-failure
//!   spike, downgrade, silence, split view of the log);
//! - [`vex`]: VEX checked against what a device reports: the device
//!   conditions a manufacturer writes into a `not_affected` statement's
//!   impact text (`device-condition: tcp port 23 not listening`), and the
//!   contradictions a report shows, with evidence;
//! - [`evidence`]: the facts each result rests on, with the report counter.
//!
//! Deliberately absent: I/O, a clock (time is always an argument, unix
//! seconds), randomness, async, COSE and signatures (`scitt`), MQTT, the
//! log, the stores and the twins (the caller passes plain values: device
//! ids as strings, releases as digests, the log's roots through a lookup).
//! Everything here reads bytes a device sent, so nothing panics on them.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod audit;
pub mod detect;
pub mod evidence;
pub mod incident;
pub mod replay;
pub mod report;
pub mod vex;
