//! What the engine needs of a `[proxies.NAME]` table.
//!
//! A stand-in with the shape of `crate::config::ProxyConfig`, which the config work of
//! issue 21 adds in parallel; when both are merged this file becomes
//! `pub use crate::config::{ProxyConfig, UpstreamCredentials};`.

use std::time::Duration;

/// One proxy's configuration.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub format: String,
    /// Upstream base URLs, tried in order.
    pub upstreams: Vec<String>,
    /// How long a fetched document is fresh.
    pub metadata_ttl: Duration,
    /// How long an upstream 404 is remembered.
    pub negative_ttl: Duration,
    /// Serve only what is cached; never contact an upstream.
    pub offline: bool,
    pub credentials: Option<UpstreamCredentials>,
    pub private: bool,
    pub readers: Vec<String>,
    pub max_size: Option<u64>,
}

/// Credentials sent to the configured upstreams (never to other hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCredentials {
    Basic { username: String, password: String },
    Bearer(String),
}

impl ProxyConfig {
    /// A configuration with the defaults for `upstreams` (tests and the glue).
    pub fn new(format: &str, upstreams: Vec<String>) -> Self {
        Self {
            format: format.to_string(),
            upstreams,
            metadata_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(60),
            offline: false,
            credentials: None,
            private: false,
            readers: Vec::new(),
            max_size: None,
        }
    }
}
