//! Typed configuration: `registry.toml`, then `WHARF_*` environment variables, then
//! command-line flags. Everything is validated here, at startup, so the rest of the host
//! can trust a `Config` without re-checking it.

mod formats;
mod groups;
mod metrics;
mod mount;
mod proxies;
mod sections;
mod server;
mod size;
mod storage;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

pub use formats::{FormatConfig, PLUGIN_POOL, PluginSource};
pub use groups::GroupConfig;
pub use metrics::{MetricsConfig, RESERVED_PATHS};
pub use mount::Mount;
pub use proxies::{DEFAULT_METADATA_TTL, DEFAULT_NEGATIVE_TTL, ProxyConfig, UpstreamCredentials};
pub use sections::{GcConfig, LimitsConfig};
pub use server::ServerConfig;
pub use size::{ByteSize, MinFree};
pub use storage::{BlobBackend, DEFAULT_BLOB_CACHE, REDIRECT_MIN_SIZE, StorageConfig};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub gc: GcConfig,
    pub metrics: MetricsConfig,
    /// The bundled formats, changed by the file's `[formats.NAME]` tables.
    #[serde(deserialize_with = "formats::merge_with_bundled")]
    pub formats: BTreeMap<String, FormatConfig>,
    /// `[proxies.NAME]`: proxy (pull-through cache) owners, `env:` secrets resolved.
    #[serde(deserialize_with = "proxies::deserialize")]
    pub proxies: BTreeMap<String, ProxyConfig>,
    /// `[groups.NAME]`: group owners.
    pub groups: BTreeMap<String, GroupConfig>,
    /// The config file read, if any (for the startup log and error messages).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            gc: GcConfig::default(),
            metrics: MetricsConfig::default(),
            formats: formats::bundled(),
            proxies: BTreeMap::new(),
            groups: BTreeMap::new(),
            file: None,
        }
    }
}

/// Values given on the command line; they win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
}

impl Config {
    /// Loads `path`, or `./registry.toml` when it exists, or the defaults; applies the
    /// environment and `overrides`; validates.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut config = match path {
            Some(path) => Self::from_file(path)?,
            None if Path::new("registry.toml").exists() => {
                Self::from_file(Path::new("registry.toml"))?
            }
            None => Self::default(),
        };
        config.apply_env()?;
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config = Self::parse(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses TOML; an unknown key or invalid value yields an error naming it.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    fn apply_env(&mut self) -> anyhow::Result<()> {
        if let Ok(v) = std::env::var("WHARF_LISTEN") {
            self.server.listen = v
                .parse()
                .with_context(|| format!("WHARF_LISTEN: invalid address {v:?}"))?;
        }
        if let Ok(v) = std::env::var("WHARF_DATA_DIR") {
            self.storage.data_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var("WHARF_PUBLIC_URL") {
            self.server.public_url = Some(v);
        }
        self.metrics.apply_env();
        Ok(())
    }

    fn apply(&mut self, o: &Overrides) {
        if let Some(listen) = o.listen {
            self.server.listen = listen;
        }
        if let Some(dir) = &o.data_dir {
            self.storage.data_dir = dir.clone();
        }
        if let Some(url) = &o.public_url {
            self.server.public_url = Some(url.clone());
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.server.validate()?;
        self.storage.validate()?;
        if self.limits.plugin_memory.0 < (1 << 20) {
            bail!("limits.plugin_memory: must be at least 1 MiB");
        }
        if self.limits.plugin_time_ms == 0 {
            bail!("limits.plugin_time_ms: must be greater than 0");
        }
        // Enabled formats seen so far, to refuse a mount that overlaps one of theirs.
        let mut mounts: Vec<(&str, Mount)> = Vec::new();
        for (name, format) in &self.formats {
            let key = format!("formats.{name}");
            if !valid_format_name(name) {
                bail!("{key}: format names are lower-case letters, digits and '-'");
            }
            if format
                .max_concurrent
                .is_some_and(|n| n == 0 || n > formats::MAX_CONCURRENT)
            {
                bail!(
                    "{key}.max_concurrent: must be between 1 and {}",
                    formats::MAX_CONCURRENT
                );
            }
            if !format.enabled {
                // A switched-off table is checked only as far as it was written.
                if !format.mount.is_empty() {
                    Mount::parse(&format.mount).with_context(|| format!("{key}.mount"))?;
                }
                continue;
            }
            let mount = Mount::parse(&format.mount).with_context(|| format!("{key}.mount"))?;
            if let PluginSource::Path(p) = &format.plugin
                && !p.is_file()
            {
                bail!("{key}.plugin: no component file at {}", p.display());
            }
            if format.plugin == PluginSource::Bundled
                && let Some(wants_owner) = formats::bundled_owner_segment(name)
                && wants_owner != mount.has_owner
            {
                bail!(
                    "{key}.mount: the bundled {name} plugin {}, so its mount {}: {:?} cannot \
                     serve it",
                    if wants_owner {
                        "takes the owner from the mount"
                    } else {
                        "reads the owner from the path below its mount"
                    },
                    if wants_owner {
                        "needs an {owner} segment"
                    } else {
                        "must not have an {owner} segment"
                    },
                    format.mount
                );
            }
            // Longest-mount-first dispatch would hand one format's paths to the other.
            for (other, theirs) in &mounts {
                if *theirs == mount {
                    bail!(
                        "{key}.mount: {:?} is already the mount of formats.{other}",
                        format.mount
                    );
                }
                if let Some(example) = mount.overlap(theirs) {
                    bail!(
                        "{key}.mount: {:?} overlaps {:?}, the mount of formats.{other}: requests \
                         below {example} would reach both; give each format a mount of its own, or switch one off \
                         (`enabled = false`)",
                        format.mount,
                        self.formats[*other].mount
                    );
                }
            }
            mounts.push((name.as_str(), mount));
        }
        metrics::check_reserved_paths(&self.formats)?;
        groups::validate(self)?;
        self.metrics.validate()
    }

    /// The URL clients reach the server at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.server.listen),
        }
    }

    /// The upload limit for a format: its own, else the global one.
    pub fn max_upload(&self, format: &str) -> u64 {
        self.formats
            .get(format)
            .and_then(|f| f.max_upload)
            .unwrap_or(self.limits.max_upload)
            .0
    }

    /// Plugin calls of `format` that may run at once: its own `max_concurrent`, else an
    /// equal share of [`PLUGIN_POOL`] among the enabled formats, so that one format
    /// busy with slow calls cannot take the instances the others need.
    pub fn max_concurrent(&self, format: &str) -> u32 {
        let enabled = self.formats.values().filter(|f| f.enabled).count().max(1);
        self.formats
            .get(format)
            .and_then(|f| f.max_concurrent)
            .unwrap_or_else(|| (PLUGIN_POOL / enabled as u32).max(1))
    }

    /// Slots of the instance pool: room for every enabled format's share at once, and
    /// at least [`PLUGIN_POOL`].
    pub fn plugin_instances(&self) -> u32 {
        let shares: u32 = self
            .formats
            .iter()
            .filter(|(_, f)| f.enabled)
            .map(|(name, _)| self.max_concurrent(name))
            .sum();
        shares.max(PLUGIN_POOL)
    }
}

impl Config {
    /// Settings that work but are likely mistakes, for the startup log.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.server.public_url.is_none() && !self.server.listen.ip().is_loopback() {
            warnings.push(format!(
                "listening on {} without server.public_url: absolute URLs in indexes and auth \
                 challenges will name http://{}, which clients elsewhere cannot reach; set \
                 server.public_url (or WHARF_PUBLIC_URL) to the URL clients use",
                self.server.listen, self.server.listen
            ));
        }
        warnings
    }

    /// Where the configuration came from, for the startup log.
    pub fn source(&self) -> String {
        match &self.file {
            Some(file) => std::path::absolute(file)
                .unwrap_or_else(|_| file.clone())
                .display()
                .to_string(),
            None => "no config file found (looked for ./registry.toml); defaults apply".into(),
        }
    }
}

/// Whether `name` can be a `[formats.NAME]` table (and so a plugin's declared name).
pub fn valid_format_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_shipped_registry_toml() {
        let shipped = Config::parse(include_str!("../../../registry.toml")).unwrap();
        let defaults = Config::default();
        assert_eq!(shipped.server.listen, defaults.server.listen);
        assert_eq!(shipped.storage.data_dir, defaults.storage.data_dir);
        assert_eq!(shipped.storage.min_free, defaults.storage.min_free);
        assert_eq!(shipped.limits.plugin_memory, defaults.limits.plugin_memory);
        assert_eq!(shipped.limits.max_upload, defaults.limits.max_upload);
        assert_eq!(shipped.gc.interval_secs, defaults.gc.interval_secs);
        assert_eq!(shipped.gc.upload_grace_secs, defaults.gc.upload_grace_secs);
        assert_eq!(shipped.gc.orphan_grace_secs, defaults.gc.orphan_grace_secs);
        assert_eq!(shipped.formats.len(), defaults.formats.len());
        for (name, format) in &defaults.formats {
            assert!(shipped.formats[name].enabled, "{name}");
            assert_eq!(shipped.formats[name].mount, format.mount, "{name}");
            assert_eq!(
                shipped.formats[name].max_upload, format.max_upload,
                "{name}"
            );
        }
        shipped.validate().unwrap();
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nlistn = 3\n").unwrap_err();
        assert!(format!("{err:#}").contains("listn"), "{err:#}");
        let err = Config::parse("[limits]\nplugin_memory = \"lots\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("plugin_memory"), "{err:#}");
    }

    #[test]
    fn duplicate_mounts_are_refused() {
        let text = "[formats.a]\nmount = \"/x/{owner}/a\"\n[formats.b]\nmount = \"/x/{owner}/a\"\n";
        let err = Config::parse(text).unwrap().validate().unwrap_err();
        assert!(err.to_string().contains("already the mount"), "{err}");
    }

    #[test]
    fn overlapping_mounts_are_refused() {
        let config = |a: &str, b: &str| {
            let mut config = Config::parse(&format!(
                "[formats.a]\nmount = \"{a}\"\n[formats.b]\nmount = \"{b}\"\n"
            ))
            .unwrap();
            // Without the bundled formats, which would overlap some of these too.
            config.formats.retain(|name, _| name == "a" || name == "b");
            config
        };
        for (a, b, below) in [
            ("/v2", "/v2/{owner}/x", "/v2/{owner}/x"),
            (
                "/",
                "/api/packages/{owner}/npm",
                "/api/packages/{owner}/npm",
            ),
            (
                "/api/{owner}/npm",
                "/api/packages/{owner}",
                "/api/packages/npm",
            ),
            (
                "/api/packages/{owner}/npm",
                "/api/packages/npm/{owner}",
                "/api/packages/npm/npm",
            ),
        ] {
            let err = format!("{:#}", config(a, b).validate().unwrap_err());
            assert!(err.contains("formats.b.mount"), "{err}");
            assert!(
                err.contains(&format!("overlaps {a:?}, the mount of formats.a")),
                "{err}"
            );
            assert!(
                err.contains(&format!("requests below {below} would")),
                "{err}"
            );
        }
        for (a, b) in [
            ("/api/packages/{owner}/npm", "/api/packages/{owner}/generic"),
            ("/v2", "/v3"),
            ("/api/packages/{owner}/npm", "/api/packages/special/x"),
        ] {
            config(a, b).validate().unwrap();
        }
        // A disabled format claims nothing.
        let mut disabled = config("/v2", "/v2/{owner}/x");
        disabled.formats.get_mut("a").unwrap().enabled = false;
        disabled.validate().unwrap();
    }

    #[test]
    fn a_format_switched_off_alone_starts() {
        let config = Config::parse("[formats.npm]\nenabled = false\n").unwrap();
        config.validate().unwrap();
        assert!(!config.formats["npm"].enabled);
        // The others are still served.
        assert!(config.formats["maven"].enabled && config.formats["oci"].enabled);
    }

    #[test]
    fn a_mount_the_bundled_plugin_cannot_serve_is_refused() {
        let err = Config::parse("[formats.npm]\nmount = \"/npm\"\n")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(format!("{err:#}").contains("formats.npm.mount"), "{err:#}");
        assert!(
            format!("{err:#}").contains("needs an {owner} segment"),
            "{err:#}"
        );
        let err = Config::parse("[formats.oci]\nmount = \"/v2/{owner}\"\n")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(format!("{err:#}").contains("must not have"), "{err:#}");
        Config::parse("[formats.npm]\nmount = \"/npm/{owner}\"\n")
            .unwrap()
            .validate()
            .unwrap();
    }

    #[test]
    fn a_public_address_without_public_url_is_warned_about() {
        let mut config = Config::default();
        assert!(config.warnings().is_empty());
        config.server.listen = "0.0.0.0:8080".parse().unwrap();
        assert!(config.warnings()[0].contains("server.public_url"));
        config.server.public_url = Some("https://pkgs.example.com".into());
        assert!(config.warnings().is_empty());
    }

    #[test]
    fn each_format_has_its_share_of_plugin_instances() {
        let mut config = Config::default();
        let enabled = config.formats.len() as u32;
        assert_eq!(config.max_concurrent("npm"), PLUGIN_POOL / enabled);
        assert_eq!(config.plugin_instances(), PLUGIN_POOL);
        config.formats.get_mut("oci").unwrap().max_concurrent = Some(400);
        assert_eq!(config.max_concurrent("oci"), 400);
        assert_eq!(
            config.plugin_instances(),
            400 + (enabled - 1) * (PLUGIN_POOL / enabled),
            "every share fits in the pool"
        );
        config.formats.get_mut("oci").unwrap().max_concurrent = Some(0);
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("formats.oci.max_concurrent"), "{err}");
        let parsed = Config::parse("[formats.x]\nmount = \"/x\"\nmax_concurrent = 8\n").unwrap();
        assert_eq!(parsed.max_concurrent("x"), 8);
    }
}
