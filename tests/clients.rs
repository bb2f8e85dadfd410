//! The real-client tests: curl, npm (with pnpm and yarn; its proxy and group
//! repositories against Verdaccio and a second Wharf; publishing through a group), mvn,
//! NuGet.exe, cargo, twine and pip, skopeo, umoci and oras-py against a real server on
//! 127.0.0.1, and the web UI in headless chromium.
//!
//! A missing client skips its test with the reason printed; under `CI=true` it fails
//! the test instead (`wharf_tests::require_tool`, `wharf_tests::require_client`).
//! `cargo test -p wharf-tests --test clients maven::` runs one client's tests.

mod cargo;
mod cluster;
mod curl;
mod groups;
mod maven;
mod npm;
mod nuget;
mod oci;
mod proxy_npm;
mod pypi;
mod ui;
