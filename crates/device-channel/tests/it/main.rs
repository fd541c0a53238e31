//! Every integration test of `device-channel`, in one binary.

mod ingest;
