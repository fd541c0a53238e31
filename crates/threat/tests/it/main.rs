//! Every integration test of `threat`, gathered in one binary (its other
//! tests are unit tests beside the code).

mod atlas;
mod diagram;
mod mapping;
mod pytm_sample;
mod references;
mod report;
mod strict;
