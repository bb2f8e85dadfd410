//! `[server]`: where to listen, and what one client may cost the server (issue 19):
//! password checks, failed sign-ins, and how long a connection may sit idle.

use std::net::SocketAddr;

use anyhow::bail;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub shutdown_grace_secs: u64,
    /// Password verifications (argon2, 19 MiB each) run at once; 0: one per two cores.
    pub password_checks: usize,
    /// How long a sign-in waits for a verification slot before a 503.
    pub password_wait_secs: u64,
    /// How long a verified password is remembered (0: never), so clients that send it
    /// with every request are not slowed down.
    pub password_cache_secs: u64,
    /// Failed sign-ins allowed per user name, and per client address, in each
    /// `login_window_secs`; more get 429 with `Retry-After`. 0 disables a limit.
    pub login_failures_per_user: u32,
    pub login_failures_per_address: u32,
    pub login_window_secs: u64,
    /// A request's head must arrive whole within this many seconds of its first byte
    /// (or of the connection's opening).
    pub header_timeout_secs: u64,
    /// A connection with no request in progress and no bytes moving is closed after
    /// this many seconds (idle keep-alive).
    pub idle_timeout_secs: u64,
    /// An upload that sends no bytes for this many seconds is cut (408).
    pub body_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            shutdown_grace_secs: 30,
            password_checks: 0,
            password_wait_secs: 5,
            password_cache_secs: 300,
            login_failures_per_user: 10,
            login_failures_per_address: 30,
            login_window_secs: 60,
            header_timeout_secs: 20,
            idle_timeout_secs: 60,
            body_timeout_secs: 60,
        }
    }
}

impl ServerConfig {
    /// Verification slots: as configured, else one per two cores (at least one), so
    /// that a flood of sign-ins leaves cores for everything else.
    pub fn password_checks(&self) -> usize {
        match self.password_checks {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2)),
            n => n,
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("server.public_url: must start with http:// or https://, got {url:?}");
        }
        for (key, secs) in [
            ("login_window_secs", self.login_window_secs),
            ("header_timeout_secs", self.header_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
        ] {
            if secs == 0 {
                bail!("server.{key}: must be greater than 0");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_toml_has_the_defaults() {
        let shipped = crate::config::Config::parse(include_str!("../../../registry.toml"))
            .unwrap()
            .server;
        let defaults = ServerConfig::default();
        assert_eq!(format!("{shipped:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn zero_timeouts_are_refused_and_slots_default_to_the_cores() {
        let zero = ServerConfig {
            header_timeout_secs: 0,
            ..ServerConfig::default()
        };
        let err = zero.validate().unwrap_err().to_string();
        assert!(err.contains("server.header_timeout_secs"), "{err}");
        assert!(ServerConfig::default().password_checks() >= 1);
        let two = ServerConfig {
            password_checks: 2,
            ..ServerConfig::default()
        };
        assert_eq!(two.password_checks(), 2);
    }
}
