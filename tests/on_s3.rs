//! The protocol files that store, range-read, session-upload and collect blobs, run a
//! second time with every test server's blobs in S3 (moto, `tests/src/s3.rs`), so plain
//! `cargo test` checks both blob backends. A test below this module gets an S3-backed
//! server because libtest names each test's thread after its path
//! (`wharf_tests::s3::ON_S3_MODULE`). Tests that move files in the local blob directory
//! by hand return early here (`TestServer::blobs_in_s3`); `s3_blobs` covers
//! objects S3 holds without a database row.
//!
//! Loading the files a second time is the point here, hence `duplicate_mod` allowed.

#[path = "generic.rs"]
#[allow(clippy::duplicate_mod)]
mod generic;
#[path = "oci_protocol.rs"]
#[allow(clippy::duplicate_mod)]
mod oci_protocol;
#[path = "upload_sessions.rs"]
#[allow(clippy::duplicate_mod)]
mod upload_sessions;
