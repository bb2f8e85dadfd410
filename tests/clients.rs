//! The real-client tests: curl, npm (with pnpm and yarn; its proxy and group
//! repositories against Verdaccio and a second Wharf; publishing through a group), mvn,
//! NuGet.exe, cargo, twine and pip, skopeo, umoci and oras-py, helm (3.17.3, with curl for
//! uploads) against a real server on 127.0.0.1, and the web UI in headless chromium.
//!
//! A missing client skips its test with the reason printed; under `CI=true` it fails
//! the test instead (`wharf_tests::require_tool`, `wharf_tests::require_client`).
//! `cargo test -p wharf-tests --test clients maven::` runs one client's tests.

mod cargo;
mod cluster;
mod curl;
mod groups;
mod helm;
mod maven;
mod npm;
mod nuget;
mod oci;
// The same client files once more on PostgreSQL + S3; `on_pg` is the module name
// `wharf_tests::postgres::ON_PG_MODULE` looks for in each test's thread name.
#[path = "on_pg_clients.rs"]
mod on_pg;
mod proxy_npm;
mod pypi;
mod ui;
