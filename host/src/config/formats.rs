//! `[formats.NAME]` tables: which formats are served, where, and by which component.
//!
//! The bundled formats are always there with their shipped settings; a table in the
//! config file changes only the keys it names. So `[formats.npm]` with `enabled = false`
//! alone is a complete table, and naming one format never disables the others. A
//! format that is not bundled (a `.wasm` component) must name its `mount` and `plugin`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::ByteSize;

#[derive(Debug, Clone)]
pub struct FormatConfig {
    pub enabled: bool,
    pub mount: String,
    pub plugin: PluginSource,
    pub max_upload: Option<ByteSize>,
    /// Plugin calls of this format that may run at once; default: an equal share of
    /// [`PLUGIN_POOL`] among the enabled formats.
    pub max_concurrent: Option<u32>,
    /// `[formats.NAME.settings]`: checked against what the plugin declares when it loads.
    pub settings: toml::Table,
}

/// Plugin instances alive at once across all formats when their shares need no more
/// (each format's `max_concurrent` is reserved in the pool; see
/// `Config::plugin_instances`).
pub const PLUGIN_POOL: u32 = 256;

/// The most `max_concurrent` may be: each instance reserves address space for its
/// memories, and more calls than this at once would wait on the CPU anyway.
pub const MAX_CONCURRENT: u32 = 4096;

/// Where a format's component comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the `wharf` binary at build time.
    #[default]
    Bundled,
    /// A `.wasm` component file, as third parties ship them.
    Path(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bundled => f.write_str("bundled"),
            Self::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for PluginSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "bundled" {
            Self::Bundled
        } else {
            Self::Path(PathBuf::from(s))
        })
    }
}

/// A table as written in the file: every key optional, filled in from the bundled
/// format of the same name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatTable {
    enabled: Option<bool>,
    mount: Option<String>,
    plugin: Option<PluginSource>,
    max_upload: Option<ByteSize>,
    max_concurrent: Option<u32>,
    settings: Option<toml::Table>,
}

/// The bundled formats as `registry.toml` ships them: Gitea's paths, and upload limits
/// sized for what each format carries.
pub fn bundled() -> BTreeMap<String, FormatConfig> {
    let format = |mount: &str, max_upload: Option<u64>| FormatConfig {
        enabled: true,
        mount: mount.to_string(),
        plugin: PluginSource::Bundled,
        max_upload: max_upload.map(ByteSize),
        max_concurrent: None,
        settings: toml::Table::new(),
    };
    [
        (
            "generic",
            format("/api/packages/{owner}/generic", Some(4 << 30)),
        ),
        // A publish body carries the tarball in base64, a third larger than the tarball.
        ("npm", format("/api/packages/{owner}/npm", Some(512 << 20))),
        ("maven", format("/api/packages/{owner}/maven", None)),
        (
            "nuget",
            format("/api/packages/{owner}/nuget", Some(512 << 20)),
        ),
        // Container clients only speak /v2; the owner is the first segment of the image name.
        ("oci", format("/v2", Some(10 << 30))),
        // Charts are small; Helm itself refuses archives that inflate past 100 MiB.
        (
            "helm",
            format("/api/packages/{owner}/helm", Some(100 << 20)),
        ),
    ]
    .into_iter()
    .map(|(name, format)| (name.to_string(), format))
    .collect()
}

/// Deserializes `[formats]` onto the bundled formats (the `formats` field of `Config`).
pub fn merge_with_bundled<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, FormatConfig>, D::Error> {
    let tables = BTreeMap::<String, FormatTable>::deserialize(d)?;
    merge(bundled(), tables).map_err(serde::de::Error::custom)
}

fn merge(
    mut formats: BTreeMap<String, FormatConfig>,
    tables: BTreeMap<String, FormatTable>,
) -> Result<BTreeMap<String, FormatConfig>, String> {
    for (name, table) in tables {
        let merged = match formats.remove(&name) {
            Some(base) => FormatConfig {
                enabled: table.enabled.unwrap_or(base.enabled),
                mount: table.mount.unwrap_or(base.mount),
                plugin: table.plugin.unwrap_or(base.plugin),
                max_upload: table.max_upload.or(base.max_upload),
                max_concurrent: table.max_concurrent.or(base.max_concurrent),
                settings: table.settings.unwrap_or(base.settings),
            },
            None => {
                let enabled = table.enabled.unwrap_or(true);
                let mount = match table.mount {
                    Some(mount) => mount,
                    // A switched-off format of another configuration claims nothing.
                    None if !enabled => String::new(),
                    None => {
                        return Err(format!(
                            "formats.{name}.mount: required, since {name:?} is not a bundled format"
                        ));
                    }
                };
                FormatConfig {
                    enabled,
                    mount,
                    plugin: table.plugin.unwrap_or_default(),
                    max_upload: table.max_upload,
                    max_concurrent: table.max_concurrent,
                    settings: table.settings.unwrap_or_default(),
                }
            }
        };
        formats.insert(name, merged);
    }
    Ok(formats)
}

/// Whether the bundled plugin of `name` can serve `mount`: a bundled format reads its
/// owner either from the mount's `{owner}` segment or from the path below it (OCI), so
/// its mount must have `{owner}` exactly when the shipped one does. `None` when nothing
/// is known (not bundled); the contract (0.2) has no way for a `.wasm` plugin to say it.
pub fn bundled_owner_segment(name: &str) -> Option<bool> {
    bundled()
        .get(name)
        .and_then(|f| super::Mount::parse(&f.mount).ok())
        .map(|m| m.has_owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BTreeMap<String, FormatConfig>, String> {
        let tables: BTreeMap<String, FormatTable> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        merge(bundled(), tables)
    }

    #[test]
    fn a_table_with_only_enabled_false_is_complete() {
        let formats = parse("[npm]\nenabled = false\n").unwrap();
        assert!(!formats["npm"].enabled);
        assert_eq!(formats["npm"].mount, "/api/packages/{owner}/npm");
    }

    #[test]
    fn naming_one_format_keeps_the_other_bundled_ones() {
        let formats = parse("[maven]\nmax_upload = \"1 GiB\"\n").unwrap();
        assert_eq!(formats.len(), bundled().len());
        assert!(formats.values().all(|f| f.enabled));
        assert_eq!(formats["maven"].max_upload, Some(ByteSize(1 << 30)));
        assert_eq!(formats["maven"].mount, "/api/packages/{owner}/maven");
        assert_eq!(formats["npm"].max_upload, Some(ByteSize(512 << 20)));
    }

    #[test]
    fn a_plugin_file_needs_a_mount() {
        let err = parse("[cargo]\nplugin = \"cargo.wasm\"\n").unwrap_err();
        assert!(err.contains("formats.cargo.mount: required"), "{err}");
        let formats =
            parse("[cargo]\nplugin = \"cargo.wasm\"\nmount = \"/api/packages/{owner}/cargo\"\n")
                .unwrap();
        assert_eq!(
            formats["cargo"].plugin,
            PluginSource::Path("cargo.wasm".into())
        );
        assert!(parse("[cargo]\nenabled = false\n").is_ok());
    }

    #[test]
    fn bundled_formats_know_their_owner_segment() {
        assert_eq!(bundled_owner_segment("npm"), Some(true));
        assert_eq!(bundled_owner_segment("oci"), Some(false));
        assert_eq!(bundled_owner_segment("cargo"), None);
    }
}
