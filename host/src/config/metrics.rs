//! `[metrics]`, and the paths the host keeps for operations (`/metrics`, `/healthz`,
//! `/readyz`), which no format's mount may cover.

use anyhow::bail;
use serde::Deserialize;

use super::{FormatConfig, Mount};

/// The host's own paths for operators; requests there never reach a format.
pub const RESERVED_PATHS: &[&str] = &["/metrics", "/healthz", "/readyz"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` and record what it shows.
    pub enabled: bool,
    /// A bearer token scrapers must send; `None` lets anyone who reaches the server
    /// read the metrics. `WHARF_METRICS_TOKEN` overrides it (keeps it out of the file).
    pub token: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token: None,
        }
    }
}

impl MetricsConfig {
    pub(super) fn apply_env(&mut self) {
        if let Ok(token) = std::env::var("WHARF_METRICS_TOKEN") {
            self.token = Some(token);
        }
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.token.as_ref().is_some_and(|t| t.trim().is_empty()) {
            bail!("metrics.token: must not be empty (leave it out to scrape without one)");
        }
        Ok(())
    }
}

/// Refuses an enabled format whose mount would take one of [`RESERVED_PATHS`]: the
/// host's route would win, and that format's clients would never reach it there.
pub(super) fn check_reserved_paths<'a>(
    formats: impl IntoIterator<Item = (&'a String, &'a FormatConfig)>,
) -> anyhow::Result<()> {
    for (name, format) in formats.into_iter().filter(|(_, f)| f.enabled) {
        let Ok(mount) = Mount::parse(&format.mount) else {
            continue;
        };
        if let Some(path) = RESERVED_PATHS
            .iter()
            .find(|path| mount.matches(path).is_some())
        {
            bail!(
                "formats.{name}.mount: {:?} covers {path}, which the host keeps for \
                 operations ({}); mount the format below a path of its own",
                format.mount,
                RESERVED_PATHS.join(", ")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    /// Validates a configuration whose only enabled format is mounted at `mount` (the
    /// bundled ones would overlap `/` first).
    fn with_mount(mount: &str) -> anyhow::Result<()> {
        let mut config = Config::parse(&format!("[formats.a]\nmount = \"{mount}\"\n"))?;
        for (name, format) in config.formats.iter_mut() {
            format.enabled = name == "a";
        }
        config.validate()
    }

    #[test]
    fn mounts_covering_operations_paths_are_refused() {
        for mount in ["/", "/{owner}", "/metrics", "/healthz"] {
            let err = format!("{:#}", with_mount(mount).unwrap_err());
            assert!(err.contains("formats.a.mount"), "{mount}: {err}");
            assert!(err.contains("keeps for operations"), "{mount}: {err}");
        }
        with_mount("/metricsx").unwrap();
        with_mount("/{owner}/generic").unwrap();
        let mut disabled = Config::parse("[formats.a]\nmount = \"/\"\n").unwrap();
        disabled.formats.get_mut("a").unwrap().enabled = false;
        disabled.validate().unwrap();
    }

    #[test]
    fn metrics_block_parses_and_an_empty_token_is_refused() {
        let config = Config::parse("[metrics]\nenabled = false\ntoken = \"t\"\n").unwrap();
        assert!(!config.metrics.enabled);
        assert_eq!(config.metrics.token.as_deref(), Some("t"));
        assert!(Config::default().metrics.enabled);
        let empty = Config::parse("[metrics]\ntoken = \"\"\n").unwrap();
        let err = format!("{:#}", empty.validate().unwrap_err());
        assert!(err.contains("metrics.token"), "{err}");
        assert!(Config::parse("[metrics]\ntokn = \"t\"\n").is_err());
    }
}
