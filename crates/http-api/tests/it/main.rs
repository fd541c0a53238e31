//! Every integration test of `http-api`, gathered in one binary: one link
//! instead of one per file (CI time), and one place to find them.

mod log_http;
mod oauth;
mod openapi;
mod query;
mod scrapi;
mod scrapi_common;
mod scrapi_interop;
mod serve;
