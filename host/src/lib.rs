//! Wharf: a multi-format package registry whose formats are sandboxed WebAssembly
//! components. See `ARCHITECTURE.md` for the request flow and the invariants.
#![deny(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod pipeline;
pub mod plugins;
pub mod proxy;
pub mod registry;
pub mod store;

pub use config::Config;
pub use registry::Registry;
