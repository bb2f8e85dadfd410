//! The real-client files run a second time with every test server on PostgreSQL + S3,
//! as `tests/on_pg.rs` does for the protocol files (the same module name, `on_pg`, so
//! `wharf_tests::postgres::ON_PG_MODULE` selects the backends in both binaries).
//!
//! Loading the files a second time is the point here, hence `duplicate_mod` allowed.

#[path = "cargo.rs"]
#[allow(clippy::duplicate_mod)]
mod cargo;
#[path = "helm.rs"]
#[allow(clippy::duplicate_mod)]
mod helm;
#[path = "maven.rs"]
#[allow(clippy::duplicate_mod)]
mod maven;
#[path = "npm.rs"]
#[allow(clippy::duplicate_mod)]
mod npm;
#[path = "nuget.rs"]
#[allow(clippy::duplicate_mod)]
mod nuget;
#[path = "oci.rs"]
#[allow(clippy::duplicate_mod)]
mod oci;
#[path = "pypi.rs"]
#[allow(clippy::duplicate_mod)]
mod pypi;
