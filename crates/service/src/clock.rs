//! The clock, injected: services read the time only through a [`Clock`], so
//! that tests can set it and every decision of one request sees one time.
//! The workspace's one clock seam is the `clock` crate (the lower crates,
//! which cannot depend on this one, take the same trait); this module
//! re-exports it so that the services' callers need not name it.

pub use ::clock::{Clock, FixedClock, SystemClock};
