//! Every integration test of `posture`, gathered in one binary: parsing at
//! the boundary, the replay guard, each audit rule planted and not, the
//! suppressions, the behaviours and alarms, each incident rule, and the
//! device conditions of VEX statements checked against reports.

mod audit;
mod detect;
mod fixture;
mod incident;
mod replay;
mod report;
mod vex;
