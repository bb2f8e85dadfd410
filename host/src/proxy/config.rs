//! What the engine needs of a `[proxies.NAME]` table: the configuration's own types.

pub use crate::config::{ProxyConfig, UpstreamCredentials};

/// A proxy with the defaults for `upstreams` (the engine's tests).
#[cfg(test)]
pub fn with_upstreams(format: &str, upstreams: Vec<String>) -> ProxyConfig {
    ProxyConfig {
        format: format.to_string(),
        upstreams,
        metadata_ttl: crate::config::DEFAULT_METADATA_TTL,
        negative_ttl: crate::config::DEFAULT_NEGATIVE_TTL,
        offline: false,
        credentials: None,
        private: false,
        readers: Vec::new(),
        max_size: None,
    }
}
