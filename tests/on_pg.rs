//! The protocol files run a second time with every test server on the scale-out
//! backends: metadata in a scratch PostgreSQL database of its own
//! (`wharf_tests::postgres`) and blobs in S3 (moto, `wharf_tests::s3`), so plain
//! `cargo test` checks the same requests on PostgreSQL + S3 as on SQLite + disk. A test
//! below this module gets those servers because libtest names each test's thread after
//! its path (`wharf_tests::postgres::ON_PG_MODULE`). Tests about the embedded SQLite
//! file or the local blob directory return early here (`TestServer::on_postgres`,
//! `TestServer::blobs_in_s3`), each saying why. `tests/on_pg_clients.rs` does the same
//! for the real clients.
//!
//! Loading the files a second time is the point here, hence `duplicate_mod` allowed.

#[path = "auth.rs"]
#[allow(clippy::duplicate_mod)]
mod auth;
#[path = "generic.rs"]
#[allow(clippy::duplicate_mod)]
mod generic;
#[path = "management.rs"]
#[allow(clippy::duplicate_mod)]
mod management;
#[path = "npm_protocol.rs"]
#[allow(clippy::duplicate_mod)]
mod npm_protocol;
#[path = "nuget_protocol.rs"]
#[allow(clippy::duplicate_mod)]
mod nuget_protocol;
#[path = "oci_protocol.rs"]
#[allow(clippy::duplicate_mod)]
mod oci_protocol;
#[path = "registry_tokens.rs"]
#[allow(clippy::duplicate_mod)]
mod registry_tokens;
#[path = "upload_sessions.rs"]
#[allow(clippy::duplicate_mod)]
mod upload_sessions;
