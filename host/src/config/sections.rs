//! The fixed sections of `registry.toml` (`[limits]`, `[gc]`; `[server]` is in
//! `server.rs`, with its connection and sign-in limits, `[storage]` in `storage.rs`)
//! and their defaults, which the shipped `registry.toml` repeats.

use serde::Deserialize;

use super::ByteSize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_upload: ByteSize,
    pub plugin_memory: ByteSize,
    pub plugin_time_ms: u64,
}

/// Garbage collection of blobs nothing references any more (see `registry::gc`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Seconds between collections in the server; 0 leaves it to `wharf gc`.
    pub interval_secs: u64,
    /// How long a blob pushed to a repository but used by none of its versions (a layer
    /// whose manifest never came), and an untouched upload session, are kept.
    pub upload_grace_secs: u64,
    /// How long a blob stays after the last reference to it went, before its bytes go.
    pub orphan_grace_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_upload: ByteSize(2 << 30),
            plugin_memory: ByteSize(64 << 20),
            plugin_time_ms: 2000,
        }
    }
}

impl Default for GcConfig {
    fn default() -> Self {
        Self {
            interval_secs: 3600,
            upload_grace_secs: 86400,
            orphan_grace_secs: 3600,
        }
    }
}
