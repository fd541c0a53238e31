//! Every integration test of `threat`, gathered in one binary (its other
//! tests are unit tests beside the code).

mod atlas;
