//! The protocol tests: a real server per test on 127.0.0.1, driven over HTTP the way
//! each format's clients speak to it (no client programs needed).
//!
//! One test binary for all of them, as each binary links the whole host; every file
//! below is a module, so `cargo test -p wharf-tests --test protocol npm_protocol::`
//! runs one file's tests.

mod auth;
mod cli_ops;
mod cluster_sessions;
mod connections;
mod contract_compat;
mod generic;
mod management;
mod npm_protocol;
mod nuget_protocol;
mod observability;
mod oci_protocol;
mod on_pg;
mod on_s3;
mod plugin_kit;
mod registry_tokens;
mod s3_blobs;
mod storage;
mod upload_sessions;
