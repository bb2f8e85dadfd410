//! Typed configuration: `registry.toml`, then `WHARF_*` environment variables, then
//! command-line flags. Everything is validated here, at startup, so the rest of the host
//! can trust a `Config` without re-checking it.

mod server;
mod size;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

pub use server::ServerConfig;
pub use size::ByteSize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub gc: GcConfig,
    pub formats: BTreeMap<String, FormatConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
}

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatConfig {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub mount: String,
    #[serde(default)]
    pub plugin: PluginSource,
    pub max_upload: Option<ByteSize>,
}

/// Where a format's component comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the `wharf` binary at build time.
    #[default]
    Bundled,
    /// A `.wasm` component file, as third parties ship them.
    Path(PathBuf),
}

impl<'de> Deserialize<'de> for PluginSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "bundled" {
            Self::Bundled
        } else {
            Self::Path(PathBuf::from(s))
        })
    }
}

fn enabled_by_default() -> bool {
    true
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
        }
    }
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

impl Default for Config {
    fn default() -> Self {
        // The bundled formats on Gitea's paths, as registry.toml ships them.
        let bundled = |mount: String| FormatConfig {
            enabled: true,
            mount,
            plugin: PluginSource::Bundled,
            max_upload: None,
        };
        let mut formats: BTreeMap<String, FormatConfig> = ["generic", "npm", "maven", "nuget"]
            .into_iter()
            .map(|name| {
                let mount = format!("/api/packages/{{owner}}/{name}");
                (name.to_string(), bundled(mount))
            })
            .collect();
        // Container clients only speak /v2; the owner is the first segment of the image name.
        formats.insert("oci".to_string(), bundled("/v2".to_string()));
        Self {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            gc: GcConfig::default(),
            formats,
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
        Self::parse(&text).with_context(|| format!("invalid config file {}", path.display()))
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
            let mount = Mount::parse(&format.mount).with_context(|| format!("{key}.mount"))?;
            if let PluginSource::Path(p) = &format.plugin
                && format.enabled
                && !p.is_file()
            {
                bail!("{key}.plugin: no component file at {}", p.display());
            }
            if !format.enabled {
                continue;
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
                         below {example} would reach both; give each format a mount of its own",
                        format.mount,
                        self.formats[*other].mount
                    );
                }
            }
            mounts.push((name.as_str(), mount));
        }
        Ok(())
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
}

/// Whether `name` can be a `[formats.NAME]` table (and so a plugin's declared name).
pub fn valid_format_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A parsed mount: the literal path before `{owner}`, whether an owner segment is
/// present, and the literal path after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub prefix: String,
    pub has_owner: bool,
    pub suffix: String,
}

impl Mount {
    pub fn parse(mount: &str) -> anyhow::Result<Self> {
        if !mount.starts_with('/') || mount.ends_with('/') && mount.len() > 1 {
            bail!("{mount:?}: a mount starts with '/' and does not end with one");
        }
        if mount.contains("..") || mount.contains("//") {
            bail!("{mount:?}: empty or dot segments are not allowed");
        }
        match mount.split_once("{owner}") {
            None if mount.contains('{') => bail!("{mount:?}: the only placeholder is {{owner}}"),
            None => Ok(Self {
                prefix: mount.to_string(),
                has_owner: false,
                suffix: String::new(),
            }),
            Some((prefix, suffix)) => {
                if !prefix.ends_with('/') || !(suffix.is_empty() || suffix.starts_with('/')) {
                    bail!("{mount:?}: {{owner}} must be a whole path segment");
                }
                if suffix.contains('{') {
                    bail!("{mount:?}: {{owner}} may appear once");
                }
                Ok(Self {
                    prefix: prefix.to_string(),
                    has_owner: true,
                    suffix: suffix.to_string(),
                })
            }
        }
    }

    /// Splits a request path into (owner, rest) if it lies below this mount. `rest` is
    /// empty or starts with `/`.
    pub fn matches<'a>(&self, path: &'a str) -> Option<(Option<&'a str>, &'a str)> {
        let after_prefix = path.strip_prefix(self.prefix.as_str())?;
        if !self.has_owner {
            return (after_prefix.is_empty()
                || after_prefix.starts_with('/')
                || self.prefix == "/")
                .then_some((None, after_prefix));
        }
        let (owner, rest) =
            after_prefix.split_at(after_prefix.find('/').unwrap_or(after_prefix.len()));
        if owner.is_empty() {
            return None;
        }
        let rest = rest.strip_prefix(self.suffix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some((Some(owner), rest))
    }

    /// The mount's path segments; `None` is the `{owner}` segment, which matches any.
    fn segments(&self) -> impl Iterator<Item = Option<&str>> {
        fn split(part: &str) -> impl Iterator<Item = Option<&str>> {
            part.split('/').filter(|s| !s.is_empty()).map(Some)
        }
        let owner = self.has_owner.then_some(None);
        split(&self.prefix).chain(owner).chain(split(&self.suffix))
    }

    /// If some request path lies below both mounts, the longer mount's path with the
    /// other's literals filled in (`{owner}` where any owner would do), else `None`.
    /// Mounts are compared segment by segment over the shorter one: two literals must be
    /// equal, `{owner}` matches any.
    pub fn overlap(&self, other: &Mount) -> Option<String> {
        let (mine, theirs): (Vec<_>, Vec<_>) =
            (self.segments().collect(), other.segments().collect());
        let (short, long) = if mine.len() <= theirs.len() {
            (&mine, &theirs)
        } else {
            (&theirs, &mine)
        };
        let mut path = String::new();
        for (i, segment) in long.iter().enumerate() {
            let shared = match (short.get(i), segment) {
                (None, s) => *s,
                (Some(a), b) if a.is_none() || b.is_none() || a == b => a.or(*b),
                _ => return None,
            };
            path.push('/');
            path.push_str(shared.unwrap_or("{owner}"));
        }
        Some(if path.is_empty() {
            "/".to_string()
        } else {
            path
        })
    }

    /// The absolute base URL of this mount for one owner.
    pub fn url(&self, public_url: &str, owner: Option<&str>) -> String {
        match owner {
            Some(owner) if self.has_owner => {
                format!("{public_url}{}{owner}{}", self.prefix, self.suffix)
            }
            _ => format!("{public_url}{}", self.prefix.trim_end_matches('/')),
        }
    }
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
        assert_eq!(shipped.limits.plugin_memory, defaults.limits.plugin_memory);
        assert_eq!(shipped.limits.max_upload, defaults.limits.max_upload);
        assert_eq!(shipped.gc.interval_secs, defaults.gc.interval_secs);
        assert_eq!(shipped.gc.upload_grace_secs, defaults.gc.upload_grace_secs);
        assert_eq!(shipped.gc.orphan_grace_secs, defaults.gc.orphan_grace_secs);
        for (name, format) in &defaults.formats {
            assert!(shipped.formats[name].enabled, "{name}");
            assert_eq!(shipped.formats[name].mount, format.mount, "{name}");
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
            Config::parse(&format!(
                "[formats.a]\nmount = \"{a}\"\n[formats.b]\nmount = \"{b}\"\n"
            ))
            .unwrap()
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
    fn mounts_split_owner_and_rest() {
        let m = Mount::parse("/api/packages/{owner}/generic").unwrap();
        assert_eq!(
            m.matches("/api/packages/alice/generic/a/1/f"),
            Some((Some("alice"), "/a/1/f"))
        );
        assert_eq!(
            m.matches("/api/packages/alice/generic"),
            Some((Some("alice"), ""))
        );
        assert_eq!(m.matches("/api/packages/alice/genericx/a"), None);
        assert_eq!(m.matches("/api/packages//generic/a"), None);
        let v2 = Mount::parse("/v2").unwrap();
        assert_eq!(
            v2.matches("/v2/alice/app/manifests/1"),
            Some((None, "/alice/app/manifests/1"))
        );
        assert_eq!(v2.matches("/v2x"), None);
        assert!(Mount::parse("/api/{owner}x").is_err());
        assert!(Mount::parse("relative").is_err());
    }
}
