//! The injected wall clock: cosignature timestamps come from here, so tests
//! pin time instead of sleeping. It is the workspace's one clock seam
//! (`crates/clock`), re-exported so that the witness's users need not name
//! it; the witness reads whole seconds from it.
//!
//! Deliberately no monotonic time and no timers: the witness only needs
//! "seconds since the Epoch" to put in a cosignature.

pub use ::clock::{Clock, FixedClock, SystemClock};
