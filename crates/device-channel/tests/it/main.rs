//! Every integration test of `device-channel`, in one binary.

mod broker_restart;
mod ingest;
mod simulate;
