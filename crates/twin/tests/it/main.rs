//! Every integration test of `twin`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod audit;
mod custom_types;
mod delegation;
mod device_id;
mod projection;
mod published;
mod registry;
mod sharing;
